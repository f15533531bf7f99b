/*
 * itest_inproc: in-process cluster nodes on a redis_fixture
 * (itest_inproc.h).
 *
 * Who touches what: only the calling test thread.
 */
#include "itest.h"
#include "itest_inproc.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "itest_cluster.h"
#include "itest_ws_extra.h"
#include "redis_fixture.h"

void
inproc_start(struct inproc *c, int i, int rport, const struct config *cfg)
{
	struct config own;

	if (cfg != NULL)
		own = *cfg;
	else
		it_config(&own);
	snprintf(own.redis, sizeof(own.redis), "redis://127.0.0.1:%d", rport);
	ck_assert_ptr_nonnull(c->node[i] = it_server_start(&own));
	c->port[i] = it_server_port(c->node[i]);
}

void
inproc_up(struct inproc *c, int n, const struct config *cfg)
{
	int i;

	ck_assert_ptr_nonnull(c->rf = rf_start(NULL));
	for (i = 0; i < n; i++)
		inproc_start(c, i, rf_port(c->rf), cfg);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(cl_wait_healthz(c->port[i], 200, INPROC_UP_MS), 0);
}

void
inproc_down(struct inproc *c)
{
	for (int i = 0; i < INPROC_NODES; i++)
		if (c->node[i] != NULL) {
			it_server_stop(c->node[i]);
			c->node[i] = NULL;
		}
	rf_stop(c->rf);
	c->rf = NULL;
}

struct it_ws *
inproc_join(struct inproc *c, int i, const char *id)
{
	int st = 0;
	struct it_ws *ws = itx_join(c->port[i], id, &st);

	ck_assert_msg(ws != NULL, "join %s on node %d: status %d", id, i, st);
	return ws;
}

struct redis_cmd_wait {
	struct inproc *c;
	const char *cmd;
};

static int
redis_has(void *arg)
{
	struct redis_cmd_wait *w = arg;
	char out[64];

	return rf_command(w->c->rf, w->cmd, out, sizeof(out)) == 0 && strcmp(out, ":1") == 0;
}

int
inproc_wait_redis_has(struct inproc *c, const char *cmd, int ms)
{
	struct redis_cmd_wait w = { c, cmd };

	return it_wait_until(redis_has, &w, ms);
}
