/*
 * it_cluster: cluster mode in one process: a real redis-server
 * (test/support/redis_fixture) and three in-process nodes on it
 * (server_start supports several per process: each has its own CivetWeb
 * context and actors). Cross-node relay in one order everywhere, one 201
 * among racing creates, delete on one node closing members on the others
 * with 1000, a recreated id receiving nothing old, a join of a group that
 * exists nowhere, Redis unreachable at start (503s, then recovery), Redis
 * killed and restarted empty under a conversation (members get 1013, the
 * group is registered again), a wrong password (a one-line 503 reason
 * without the password) and the right one from GROUPCHAT_REDIS_PASSWORD,
 * a join past --max-groups (503 too many groups) and the publisher's
 * counts in /stats (groupchat.v1 in cluster mode: it_cluster_resume).
 * Waits poll with deadlines, never sleep.
 */
#include "support/itest.h"
#include "support/itest_cluster.h"
#include "support/itest_inproc.h"
#include "support/itest_ws_extra.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/config.h"

#define NODES INPROC_NODES
#define WAIT_MS 10000

static struct inproc cl;

/* The payload of the next text frame, malloc'd, or NULL. */
static char *
next_text(struct it_ws *ws)
{
	struct it_frame f;
	char *s;

	if (it_ws_recv(ws, &f, WAIT_MS) != IT_FRAME)
		return NULL;
	if (f.opcode != IT_OP_TEXT) {
		it_frame_free(&f);
		return NULL;
	}
	s = strdup((const char *)f.payload);
	it_frame_free(&f);
	return s;
}

START_TEST(relay_one_order_on_every_node)
{
	enum { EACH = 20 };
	struct it_ws *ws[NODES];
	char msg[32], *seen[NODES][NODES * EACH];
	int i, k, n;

	inproc_up(&cl, NODES, NULL);
	ck_assert_int_eq(itx_create(cl.port[0], "g"), 201);
	for (i = 0; i < NODES; i++)
		ws[i] = inproc_join(&cl, i, "g");
	/* Everyone sends at once, interleaved. */
	for (k = 0; k < EACH; k++)
		for (i = 0; i < NODES; i++) {
			snprintf(msg, sizeof(msg), "n%d-%d", i, k);
			ck_assert_int_eq(it_ws_send_text(ws[i], msg), 0);
		}
	for (i = 0; i < NODES; i++)
		for (n = 0; n < NODES * EACH; n++)
			ck_assert_ptr_nonnull(seen[i][n] = next_text(ws[i]));
	for (n = 0; n < NODES * EACH; n++)
		for (i = 1; i < NODES; i++)
			ck_assert_str_eq(seen[i][n], seen[0][n]);
	/* Each node's publisher counts the messages its members sent (the
	 * count follows the replies, so it may trail the deliveries). */
	for (i = 0; i < NODES; i++) {
		long long published = -1, trips;

		ck_assert_msg(itx_wait_total(cl.port[i], "redis_published", EACH, WAIT_MS,
		    &published) == 0, "node %d: redis_published %lld, want %d", i,
		    published, EACH);
		ck_assert_int_eq(itx_stats_total(cl.port[i], "redis_round_trips", &trips), 0);
	}
	for (i = 0; i < NODES; i++) {
		for (n = 0; n < NODES * EACH; n++)
			free(seen[i][n]);
		ck_assert_int_eq(it_ws_close(ws[i]), 0);
	}
	inproc_down(&cl);
}
END_TEST

struct creator {
	int port;
	int status;
	const char *id;
};

static void *
create_main(void *arg)
{
	struct creator *c = arg;

	c->status = itx_create(c->port, c->id);
	return NULL;
}

START_TEST(racing_creates_one_201)
{
	struct creator c[NODES];
	pthread_t t[NODES];
	char id[16];
	int round, i, created, exists;

	inproc_up(&cl, NODES, NULL);
	for (round = 0; round < 30; round++) {
		snprintf(id, sizeof(id), "race%d", round);
		for (i = 0; i < NODES; i++) {
			c[i] = (struct creator){ cl.port[i], 0, id };
			ck_assert_int_eq(pthread_create(&t[i], NULL, create_main, &c[i]), 0);
		}
		created = exists = 0;
		for (i = 0; i < NODES; i++) {
			pthread_join(t[i], NULL);
			created += c[i].status == 201;
			exists += c[i].status == 400;
		}
		ck_assert_int_eq(created, 1);
		ck_assert_int_eq(exists, NODES - 1);
	}
	inproc_down(&cl);
}
END_TEST

START_TEST(delete_closes_everywhere_recreate_gets_nothing_old)
{
	struct it_ws *a, *b, *c;
	char *s;

	inproc_up(&cl, NODES, NULL);
	ck_assert_int_eq(itx_create(cl.port[0], "d"), 201);
	a = inproc_join(&cl, 0, "d");
	b = inproc_join(&cl, 1, "d");
	ck_assert_int_eq(it_ws_send_wait(a, "before", b, NULL, WAIT_MS), 0);
	ck_assert_int_eq(itx_delete(cl.port[2], "d", NULL, 0), 200);
	ck_assert_int_eq(it_ws_expect_close_reason(a, 1000, "group deleted", WAIT_MS), 0);
	ck_assert_int_eq(it_ws_expect_close_reason(b, 1000, "group deleted", WAIT_MS), 0);
	it_ws_free(a);
	it_ws_free(b);
	ck_assert_int_eq(itx_delete(cl.port[2], "d", NULL, 0), 400);
	/* The id at once again: the new group starts empty. */
	ck_assert_int_eq(itx_create(cl.port[1], "d"), 201);
	c = inproc_join(&cl, 1, "d");
	ck_assert_int_eq(it_ws_send_text(c, "fresh"), 0);
	ck_assert_ptr_nonnull(s = next_text(c));
	ck_assert_msg(strstr(s, " - fresh") != NULL, "got %s", s);
	free(s);
	ck_assert_int_eq(it_ws_close(c), 0);
	inproc_down(&cl);
}
END_TEST

START_TEST(redis_unreachable_at_start_then_recovers)
{
	struct it_ws *a;

	ck_assert_ptr_nonnull(cl.rf = rf_start(NULL));
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	inproc_start(&cl, 0, rf_port(cl.rf), NULL);
	ck_assert_int_eq(cl_wait_healthz(cl.port[0], 503, WAIT_MS), 0);
	ck_assert_int_eq(itx_create(cl.port[0], "u"), 503);
	ck_assert_int_eq(itx_delete(cl.port[0], "u", NULL, 0), 503);
	ck_assert_int_eq(rf_restart(cl.rf), 0);
	ck_assert_int_eq(cl_wait_healthz(cl.port[0], 200, WAIT_MS), 0);
	ck_assert_int_eq(itx_create(cl.port[0], "u"), 201);
	a = inproc_join(&cl, 0, "u");
	ck_assert_int_eq(it_ws_send_wait(a, "hi", a, NULL, WAIT_MS), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	inproc_down(&cl);
}
END_TEST

/* Redis restarted empty: no node can vouch for what it lost, so the
 * members are closed 1013 (even with nothing in flight: a node cannot
 * know that); the group itself stays, registered again by the nodes that
 * serve it, and a node that served nothing can join it. */
START_TEST(redis_restarted_empty_group_stays)
{
	struct it_ws *a, *b, *c, *d;

	inproc_up(&cl, NODES, NULL);
	ck_assert_int_eq(itx_create(cl.port[0], "r"), 201);
	a = inproc_join(&cl, 0, "r");
	b = inproc_join(&cl, 1, "r");
	ck_assert_int_eq(it_ws_send_wait(a, "one", b, NULL, WAIT_MS), 0);
	ck_assert_int_eq(it_ws_expect_suffix(a, IT_OP_TEXT, " - one", 6, NULL, WAIT_MS), 0);
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	ck_assert_int_eq(cl_wait_healthz(cl.port[0], 503, WAIT_MS), 0);
	ck_assert_int_eq(rf_restart(cl.rf), 0);
	for (int i = 0; i < NODES; i++)
		ck_assert_int_eq(cl_wait_healthz(cl.port[i], 200, WAIT_MS), 0);
	ck_assert_int_eq(it_ws_expect_close_reason(a, 1013, "try again later", WAIT_MS), 0);
	ck_assert_int_eq(it_ws_expect_close_reason(b, 1013, "try again later", WAIT_MS), 0);
	ck_assert(inproc_wait_redis_has(&cl, "EXISTS gc:inc:r", WAIT_MS));
	c = inproc_join(&cl, 2, "r");
	d = inproc_join(&cl, 0, "r");
	ck_assert_int_eq(it_ws_send_wait(c, "zero", d, NULL, WAIT_MS), 0);
	ck_assert_int_eq(it_ws_send_wait(d, "two", c, NULL, WAIT_MS), 0);
	it_ws_free(a);
	it_ws_free(b);
	ck_assert_int_eq(it_ws_close(c), 0);
	ck_assert_int_eq(it_ws_close(d), 0);
	inproc_down(&cl);
}
END_TEST

START_TEST(join_of_a_group_nowhere_is_400)
{
	int st = 0;

	inproc_up(&cl, NODES, NULL);
	ck_assert_ptr_null(it_ws_connect(cl.port[1], "/groups/none", NULL, &st));
	ck_assert_int_eq(st, 400);
	inproc_down(&cl);
}
END_TEST

/* Tries to join group b on node 0 as *arg; a refusal must be the 503 of
 * a full node. */
static int
joined_b(void *arg)
{
	struct it_ws **b = arg;
	int st = 0;

	*b = itx_join(cl.port[0], "b", &st);
	ck_assert(*b != NULL || st == 503);
	return *b != NULL;
}

/* A join that would list a group past --max-groups on its node answers
 * as a create past the cap does, not as if Redis were away; a group the
 * node already serves still takes joins, and one leaving makes room. */
START_TEST(join_past_max_groups_is_too_many_groups)
{
	struct config cfg;
	struct it_response r;
	struct it_ws *a, *a2, *b = NULL;

	ck_assert_ptr_nonnull(cl.rf = rf_start(NULL));
	it_config(&cfg);
	cfg.max_groups = 1;
	inproc_start(&cl, 0, rf_port(cl.rf), &cfg);
	ck_assert_int_eq(cl_wait_healthz(cl.port[0], 200, WAIT_MS), 0);
	ck_assert_int_eq(itx_create(cl.port[0], "a"), 201);
	ck_assert_int_eq(itx_create(cl.port[0], "b"), 201);
	a = inproc_join(&cl, 0, "a");
	ck_assert_ptr_null(it_ws_connect_resp(cl.port[0], "/groups/b", NULL, &r));
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "too many groups\n");
	it_response_free(&r);
	a2 = inproc_join(&cl, 0, "a");
	ck_assert_int_eq(it_ws_close(a2), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	/* The last member of a gone, b can be served once a's entry goes. */
	it_wait_until(joined_b, &b, WAIT_MS);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(it_ws_close(b), 0);
	inproc_down(&cl);
}
END_TEST

/* Redis holds at most --max-cluster-groups groups, counted across the
 * nodes: a create past it on any node answers 503 too many groups, and a
 * delete on another makes room. */
START_TEST(create_past_max_cluster_groups_is_too_many_groups)
{
	struct config cfg;
	struct it_response r;
	int i;

	ck_assert_ptr_nonnull(cl.rf = rf_start(NULL));
	it_config(&cfg);
	cfg.max_cluster_groups = 2;
	for (i = 0; i < 2; i++) {
		inproc_start(&cl, i, rf_port(cl.rf), &cfg);
		ck_assert_int_eq(cl_wait_healthz(cl.port[i], 200, WAIT_MS), 0);
	}
	ck_assert_int_eq(itx_create(cl.port[0], "a"), 201);
	ck_assert_int_eq(itx_create(cl.port[1], "b"), 201);
	ck_assert_int_eq(it_request(cl.port[1], "POST", "/create?id=c", &r), 0);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "too many groups\n");
	it_response_free(&r);
	ck_assert_int_eq(itx_delete(cl.port[1], "a", NULL, 0), 200);
	ck_assert_int_eq(itx_create(cl.port[0], "c"), 201);
	inproc_down(&cl);
}
END_TEST

#define HEALTHZ_LEN 256

/* Reads node 0's /healthz into body (HEALTHZ_LEN bytes): whether it names
 * WRONGPASS. */
static int
healthz_wrongpass(void *body)
{
	ck_assert_int_ne(cl_healthz(cl.port[0], body, HEALTHZ_LEN), -1);
	return strstr(body, "WRONGPASS") != NULL;
}

START_TEST(password_wrong_then_right)
{
	struct config cfg;
	char body[HEALTHZ_LEN];

	ck_assert_ptr_nonnull(cl.rf = rf_start("s3cret"));
	it_config(&cfg);
	snprintf(cfg.redis, sizeof(cfg.redis), "redis://:wrong@127.0.0.1:%d", rf_port(cl.rf));
	ck_assert_ptr_nonnull(cl.node[0] = it_server_start(&cfg));
	cl.port[0] = it_server_port(cl.node[0]);
	/* 503 at once ("connecting"), then with the reason Redis gave. */
	it_wait_until(healthz_wrongpass, body, WAIT_MS);
	/* One line, the reason Redis gave, never the password. */
	ck_assert_msg(strncmp(body, "redis: ", 7) == 0 && strstr(body, "WRONGPASS") != NULL &&
	    strchr(body, '\n') == body + strlen(body) - 1 && strstr(body, "wrong") == NULL,
	    "healthz said %s", body);
	ck_assert_int_eq(itx_create(cl.port[0], "p"), 503);
	it_server_stop(cl.node[0]);
	/* GROUPCHAT_REDIS_PASSWORD wins over the URL's. */
	ck_assert_int_eq(setenv("GROUPCHAT_REDIS_PASSWORD", "s3cret", 1), 0);
	ck_assert_ptr_nonnull(cl.node[0] = it_server_start(&cfg));
	cl.port[0] = it_server_port(cl.node[0]);
	ck_assert_int_eq(cl_wait_healthz(cl.port[0], 200, WAIT_MS), 0);
	ck_assert_int_eq(itx_create(cl.port[0], "p"), 201);
	inproc_down(&cl);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_cluster");
	TCase *tc = tcase_create("cluster");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, relay_one_order_on_every_node);
	tcase_add_test(tc, racing_creates_one_201);
	tcase_add_test(tc, delete_closes_everywhere_recreate_gets_nothing_old);
	tcase_add_test(tc, redis_unreachable_at_start_then_recovers);
	tcase_add_test(tc, redis_restarted_empty_group_stays);
	tcase_add_test(tc, join_of_a_group_nowhere_is_400);
	tcase_add_test(tc, password_wrong_then_right);
	tcase_add_test(tc, join_past_max_groups_is_too_many_groups);
	tcase_add_test(tc, create_past_max_cluster_groups_is_too_many_groups);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
