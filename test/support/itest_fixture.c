/*
 * itest_fixture: the one server a Check test process runs, started and
 * stopped with assertions so that every test file shares one copy.
 */
#include "itest_fixture.h"

#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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

struct it_response
itf_expect(int port, const char *method, const char *target, int status,
    const char *body, size_t blen)
{
	struct it_response r;

	ck_assert_msg(it_request(port, method, target, &r) == 0,
	    "%s %s: no response", method, target);
	ck_assert_msg(r.status == status, "%s %s: status %d, want %d (body %s)",
	    method, target, r.status, status, r.body);
	if (body != NULL) {
		if (blen == 0)
			blen = strlen(body);
		ck_assert_msg(r.body_len == blen && memcmp(r.body, body, blen) == 0,
		    "%s %s: body \"%s\" (%zu bytes), want \"%s\"", method, target,
		    r.body, r.body_len, body);
	}
	ck_assert_msg(r.trailing_len == 0, "%s %s: %zu bytes after the body",
	    method, target, r.trailing_len);
	return r;
}

void
itf_wire(int port, const char *req, const char *want)
{
	size_t len;
	char *got = it_http_wire(port, req, &len, IT_TIMEOUT_MS);
	char *d;

	ck_assert_msg(got != NULL, "%s: no answer", req);
	/* "Date: " then an IMF-fixdate of 29 bytes, masked as "*". */
	if ((d = strstr(got, "\r\nDate: ")) != NULL && strlen(d + 8) >= 31 &&
	    memcmp(d + 8 + 29, "\r\n", 2) == 0) {
		memmove(d + 9, d + 8 + 29, strlen(d + 8 + 29) + 1);
		d[8] = '*';
		len -= 28;
	}
	ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0,
	    "request:\n%s\nanswer:\n%s\nwant:\n%s", req, got, want);
	free(got);
}
