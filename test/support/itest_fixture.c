/*
 * itest_fixture: the one server a Check test process runs, started and
 * stopped with assertions so that every test file shares one copy.
 */
#include "itest_fixture.h"

#include <check.h>
#include <stddef.h>

#include "itest.h"
#include "itest_ws_extra.h"

static struct itest_server *fixture_srv;

int
itf_up(const struct config *cfg)
{
	int port;

	fixture_srv = it_server_start(cfg);
	ck_assert_ptr_nonnull(fixture_srv);
	port = it_server_port(fixture_srv);
	ck_assert_int_gt(port, 0);
	return port;
}

void
itf_down(void)
{
	if (fixture_srv != NULL)
		it_server_stop(fixture_srv);
	fixture_srv = NULL;
}

struct it_ws *
itf_join(int port, const char *id)
{
	int status;
	struct it_ws *ws = itx_join(port, id, &status);

	ck_assert_msg(ws != NULL, "join %s: status %d", id, status);
	return ws;
}
