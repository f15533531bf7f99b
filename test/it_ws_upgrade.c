/*
 * it_ws_upgrade: protocol.md "GET /groups/{id} (WebSocket)" against the
 * real server over loopback: the 400 for an unknown group before any
 * upgrade, the exact 101, no subprotocol and no extensions (also on a
 * worker that served a client offering one: CivetWeb 1.15 never resets
 * it), gorilla's answers to requests that are not valid upgrades, the
 * Origin check, and the member cap that keeps HTTP workers free. Each
 * test starts its own server, with the settings it needs, in its forked
 * child.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/config.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"

static int port;

static void
up(const struct config *cfg)
{
	port = itf_up(cfg);
}

static void
create(const char *id)
{
	ck_assert_int_eq(itx_create(port, id), 201);
}

/* A member that works: it hears its own message. */
static void
check_member_chats(struct it_ws *ws, const char *text)
{
	ck_assert_msg(it_ws_send_wait(ws, text, ws, NULL, IT_TIMEOUT_MS) == 0,
	    "member did not hear its own \"%s\"", text);
}

/* The server still answers HTTP and still admits members (whose request
 * carries extra, e.g. an Origin, unless it is NULL). */
static void
check_still_serving_with(const char *what, const char *extra)
{
	static int n;
	char id[32], path[48];
	struct it_ws *ws;
	int status;

	snprintf(id, sizeof(id), "alive-%d", n++);
	ck_assert_msg(itx_create(port, id) == 201, "after %s: create failed", what);
	snprintf(path, sizeof(path), "/groups/%s", id);
	ws = it_ws_connect(port, path, extra, &status);
	ck_assert_msg(ws != NULL, "after %s: join failed with %d", what, status);
	check_member_chats(ws, "still here");
	it_ws_free(ws);
}

static void
check_still_serving(const char *what)
{
	check_still_serving_with(what, NULL);
}

/* Go's http.Error shape: body text + "\n", text/plain, nosniff. */
static void
check_error(const struct it_response *r, int status, const char *body,
    const char *what)
{
	ck_assert_msg(r->status == status, "%s: status %d, want %d (body \"%s\")",
	    what, r->status, status, r->body);
	if (body != NULL)
		ck_assert_msg(r->body_len == strlen(body) && memcmp(r->body, body, r->body_len) == 0,
		    "%s: body \"%s\", want \"%s\"", what, r->body, body);
	ck_assert_msg(it_header(r, "Content-Type") != NULL &&
	    strcmp(it_header(r, "Content-Type"), TEXT_PLAIN) == 0,
	    "%s: Content-Type %s", what, it_header(r, "Content-Type"));
	ck_assert_msg(it_header(r, "X-Content-Type-Options") != NULL &&
	    strcmp(it_header(r, "X-Content-Type-Options"), "nosniff") == 0,
	    "%s: no nosniff", what);
	ck_assert_msg(it_header(r, "Sec-WebSocket-Accept") == NULL,
	    "%s: an error carries Sec-WebSocket-Accept", what);
}

/* gorilla's answer to a bad upgrade: status text, Sec-Websocket-Version. */
static void
check_bad_upgrade(const struct it_response *r, int status, const char *body,
    const char *what)
{
	const char *v = it_header(r, "Sec-WebSocket-Version");

	check_error(r, status, body, what);
	ck_assert_msg(v != NULL && strcmp(v, "13") == 0,
	    "%s: Sec-Websocket-Version %s, want 13", what, v ? v : "(none)");
}

START_TEST(unknown_id_is_400_found_no_group_before_any_upgrade)
{
	static const struct {
		const char *path, *body;
	} cases[] = {
		{ "/groups/nope", "found no group with the id: nope\n" },
		{ "/groups/a%20b", "found no group with the id: a b\n" },
		{ "/groups/%2E%2E", "found no group with the id: ..\n" },
	};
	struct it_response r;
	struct it_ws *ws;

	up(NULL);
	create("exists");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ws = it_ws_connect_resp(port, cases[i].path, NULL, &r);
		ck_assert_msg(ws == NULL, "%s: upgraded", cases[i].path);
		check_error(&r, 400, cases[i].body, cases[i].path);
		ck_assert_msg(it_header(&r, "Upgrade") == NULL,
		    "%s: a 400 with an Upgrade header", cases[i].path);
		it_response_free(&r);
	}
	check_still_serving("unknown ids");
}
END_TEST

START_TEST(success_is_101_with_accept_and_no_subprotocol_or_extensions)
{
	static const char *offers[] = {
		NULL,
		"Sec-WebSocket-Protocol: chat\r\n",
		"Sec-WebSocket-Protocol: chat, superchat\r\n",
		"Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: other\r\n",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
		"Sec-WebSocket-Protocol: x\r\n"
		"Sec-WebSocket-Extensions: permessage-deflate, x-webkit-deflate-frame\r\n",
	};
	struct it_response r;
	struct it_ws *ws;

	up(NULL);
	create("room");
	for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++) {
		const char *what = offers[i] ? offers[i] : "no offer";
		/* it_ws_connect_resp checks Upgrade, Connection and the Accept
		 * value derived from the key. */
		ws = it_ws_connect_resp(port, "/groups/room", offers[i], &r);
		ck_assert_msg(ws != NULL, "%s: status %d", what, r.status);
		ck_assert_int_eq(r.status, 101);
		ck_assert_msg(strcmp(r.reason, "Switching Protocols") == 0,
		    "%s: reason \"%s\"", what, r.reason);
		ck_assert_msg(it_header_count(&r, "Sec-WebSocket-Accept") == 1, "%s", what);
		ck_assert_msg(it_header_count(&r, "Sec-WebSocket-Protocol") == 0,
		    "%s: server picked subprotocol \"%s\"", what,
		    it_header(&r, "Sec-WebSocket-Protocol"));
		ck_assert_msg(it_header_count(&r, "Sec-WebSocket-Extensions") == 0,
		    "%s: server accepted extensions \"%s\"", what,
		    it_header(&r, "Sec-WebSocket-Extensions"));
		it_response_free(&r);
		check_member_chats(ws, "upgraded");
		ck_assert_int_eq(it_ws_close(ws), 0);
	}
}
END_TEST

/*
 * CivetWeb 1.15 keeps a worker's accepted subprotocol from one connection
 * to the next. The worker a connection lands on cannot be chosen, so
 * alternate offering and plain clients many times over the whole pool
 * (max_clients 1: 33 workers): every worker serves both kinds.
 */
START_TEST(no_subprotocol_on_a_worker_that_served_an_offer_before)
{
	struct config cfg;
	struct it_response r;
	struct it_ws *ws;
	int rounds = itx_sanitized() ? 60 : 120, offered = 0, stale = 0;
	char first[96] = "";

	it_config(&cfg);
	cfg.max_clients = 1;
	up(&cfg);
	create("room");
	for (int i = 0; i < rounds; i++) {
		ws = it_ws_connect_resp(port, "/groups/room",
		    "Sec-WebSocket-Protocol: chat, superchat, cket-Version\r\n", &r);
		ck_assert_msg(ws != NULL, "round %d: offer: status %d", i, r.status);
		offered += it_header(&r, "Sec-WebSocket-Protocol") != NULL;
		it_response_free(&r);
		ck_assert_int_eq(it_ws_close(ws), 0);

		ws = it_ws_connect_resp(port, "/groups/room", NULL, &r);
		ck_assert_msg(ws != NULL, "round %d: plain: status %d", i, r.status);
		if (it_header(&r, "Sec-WebSocket-Protocol") != NULL && stale++ == 0)
			snprintf(first, sizeof(first), "%s", it_header(&r, "Sec-WebSocket-Protocol"));
		it_response_free(&r);
		ck_assert_int_eq(it_ws_close(ws), 0);
	}
	ck_assert_msg(offered == 0 && stale == 0, "of %d rounds: %d offers answered "
	    "with a subprotocol, %d plain clients given a stale one (first \"%s\")",
	    rounds, offered, stale, first);
}
END_TEST

START_TEST(not_an_upgrade_is_400_bad_request_with_version_13)
{
	static const struct {
		const char *what, *method, *headers;
	} cases[] = {
		{ "plain GET", "GET", "" },
		{ "plain HEAD", "HEAD", "" },
		{ "Upgrade only", "GET", "Upgrade: websocket\r\n" },
		{ "Connection only", "GET", "Connection: Upgrade\r\n" },
		{ "Upgrade not websocket", "GET",
		  "Upgrade: h2c\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		  "Sec-WebSocket-Version: 13\r\n" },
		{ "missing key", "GET",
		  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Version: 13\r\n" },
		{ "empty key", "GET",
		  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: \r\nSec-WebSocket-Version: 13\r\n" },
		{ "short key", "GET",
		  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n" },
		{ "key not base64", "GET",
		  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n"
		  "Sec-WebSocket-Version: 13\r\n" },
		{ "key of 17 bytes", "GET",
		  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n"
		  "Sec-WebSocket-Version: 13\r\n" },
		{ "version 12", "GET",
		  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		  "Sec-WebSocket-Version: 12\r\n" },
		{ "missing version", "GET",
		  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" },
	};
	char req[1024];
	struct it_response r;

	up(NULL);
	create("room");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int head = strcmp(cases[i].method, "HEAD") == 0;

		snprintf(req, sizeof(req), "%s /groups/room HTTP/1.1\r\n"
		    "Host: 127.0.0.1:%d\r\n%s\r\n", cases[i].method, port,
		    cases[i].headers);
		ck_assert_msg(it_http(port, req, &r, IT_TIMEOUT_MS) == 0,
		    "%s: no response", cases[i].what);
		check_bad_upgrade(&r, 400, head ? "" : "Bad Request\n", cases[i].what);
		if (head)
			ck_assert_msg(it_header(&r, "Content-Length") != NULL &&
			    strcmp(it_header(&r, "Content-Length"), "12") == 0,
			    "HEAD: Content-Length %s", it_header(&r, "Content-Length"));
		it_response_free(&r);
		check_still_serving(cases[i].what);
	}
}
END_TEST

START_TEST(head_with_every_upgrade_header_is_405)
{
	char req[512];
	struct it_response r;

	up(NULL);
	create("room");
	snprintf(req, sizeof(req), "HEAD /groups/room HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n", port);
	ck_assert_int_eq(it_http(port, req, &r, IT_TIMEOUT_MS), 0);
	check_bad_upgrade(&r, 405, "", "HEAD upgrade");
	ck_assert_msg(it_header(&r, "Content-Length") != NULL &&
	    strcmp(it_header(&r, "Content-Length"), "19") == 0,
	    "Content-Length %s, want 19 (\"Method Not Allowed\\n\")",
	    it_header(&r, "Content-Length"));
	it_response_free(&r);
	check_still_serving("HEAD upgrade");
}
END_TEST

START_TEST(allowed_origins_admit_listed_and_refuse_others_with_403)
{
	static const char *refused[] = {
		"Origin: http://evil.example\r\n",
		"Origin: http://a.example.evil\r\n",
		"Origin: null\r\n",
	};
	struct config cfg;
	struct it_response r;
	struct it_ws *ws;

	it_config(&cfg);
	snprintf(cfg.allowed_origins, sizeof(cfg.allowed_origins), "%s",
	    "http://a.example, https://b.example:8443");
	up(&cfg);
	create("room");
	ws = it_ws_connect_resp(port, "/groups/room", "Origin: http://a.example\r\n", &r);
	ck_assert_msg(ws != NULL, "listed origin: status %d", r.status);
	it_response_free(&r);
	check_member_chats(ws, "from a");
	it_ws_free(ws);
	ws = it_ws_connect_resp(port, "/groups/room",
	    "Origin: https://b.example:8443\r\n", &r);
	ck_assert_msg(ws != NULL, "second listed origin: status %d", r.status);
	it_response_free(&r);
	it_ws_free(ws);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ws = it_ws_connect_resp(port, "/groups/room", refused[i], &r);
		ck_assert_msg(ws == NULL, "%s: admitted", refused[i]);
		check_bad_upgrade(&r, 403, "Forbidden\n", refused[i]);
		it_response_free(&r);
	}
	/* docs/protocol.md: with a list set, a missing Origin is refused too. */
	ws = it_ws_connect_resp(port, "/groups/room", NULL, &r);
	ck_assert_msg(ws == NULL, "no Origin: admitted");
	check_bad_upgrade(&r, 403, "Forbidden\n", "no Origin");
	it_response_free(&r);
	/* Whole, in Go's header order: gorilla's http.Error with its
	 * Sec-Websocket-Version, sorted by name, then Date and length. */
	itf_wire(port, "GET /groups/room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n\r\n",
	    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Sec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\n"
	    "Date: *\r\nContent-Length: 10\r\nConnection: close\r\n\r\nForbidden\n");
	check_still_serving_with("refused origins", "Origin: http://a.example\r\n");
}
END_TEST

START_TEST(any_origin_is_admitted_by_default)
{
	static const char *origins[] = {
		NULL,
		"Origin: http://evil.example\r\n",
		"Origin: null\r\n",
		"Origin: https://127.0.0.1:1\r\n",
	};
	struct it_response r;
	struct it_ws *ws;

	up(NULL);
	create("room");
	for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
		ws = it_ws_connect_resp(port, "/groups/room", origins[i], &r);
		ck_assert_msg(ws != NULL, "%s: status %d",
		    origins[i] ? origins[i] : "no Origin", r.status);
		it_response_free(&r);
		check_member_chats(ws, "welcome");
		it_ws_free(ws);
	}
}
END_TEST

START_TEST(joins_past_max_clients_get_503_and_http_is_still_served)
{
	struct config cfg;
	struct it_response r;
	struct it_ws *m[4], *ws;
	long long refused;
	char id[32];

	it_config(&cfg);
	cfg.max_clients = 4;
	up(&cfg);
	create("room");
	for (int i = 0; i < 4; i++) {
		m[i] = itx_join(port, "room", NULL);
		ck_assert_msg(m[i] != NULL, "member %d refused", i);
	}
	for (int k = 0; k < 3; k++) {
		ws = it_ws_connect_resp(port, "/groups/room", NULL, &r);
		ck_assert_msg(ws == NULL, "join %d past the cap admitted", 5 + k);
		check_error(&r, 503, "server full\n", "join past the cap");
		it_response_free(&r);
	}
	/* Every member slot is held: HTTP must still get a worker at once. */
	for (int k = 0; k < 8; k++) {
		int64_t t0 = it_now_ms();
		snprintf(id, sizeof(id), "more-%d", k);
		ck_assert_int_eq(itx_create(port, id), 201);
		ck_assert_msg(it_now_ms() - t0 < 2000, "POST /create took %lld ms",
		    (long long)(it_now_ms() - t0));
		ck_assert_int_eq(itx_delete(port, id, NULL, 0), 200);
	}
	ck_assert_int_eq(it_request(port, "GET", "/healthz", &r), 0);
	ck_assert_int_eq(r.status, 200);
	it_response_free(&r);
	ck_assert_int_eq(itx_stats_total(port, "joins_refused", &refused), 0);
	ck_assert_int_eq(refused, 3);
	/* Whole, in Go's header order: http.Error's headers, Date, length. */
	itf_wire(port, "GET /groups/room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n",
	    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "X-Content-Type-Options: nosniff\r\nDate: *\r\nContent-Length: 12\r\n"
	    "Connection: close\r\n\r\nserver full\n");
	/* The members hold their slots and still chat. */
	ck_assert_int_eq(it_ws_send_wait(m[0], "full house", m[3], NULL, IT_TIMEOUT_MS), 0);
	/* A slot freed is a slot to take. */
	ck_assert_int_eq(it_ws_close(m[1]), 0);
	ws = itx_join(port, "room", NULL);
	ck_assert_msg(ws != NULL, "join after a leave refused");
	ck_assert_int_eq(it_ws_send_wait(ws, "took the slot", m[2], NULL, IT_TIMEOUT_MS), 0);
	it_ws_free(ws);
	it_ws_free(m[0]);
	it_ws_free(m[2]);
	it_ws_free(m[3]);
}
END_TEST

/* Go answers a refused join without Connection: close and keeps the
 * connection; CivetWeb ends any connection whose request's Connection
 * header lacks keep-alive (a join's says Upgrade), so groupchat says so.
 * A request with no Connection header is kept, as Go keeps it. */
START_TEST(refused_joins_say_connection_close_when_the_connection_ends)
{
	static const char ws_hdrs[] = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
	static const struct {
		const char *method, *path, *version;
		int status;
	} cases[] = {
		{ "GET", "/groups/nope", "13", 400 },
		{ "GET", "/groups/room", "12", 400 },
		{ "POST", "/groups/room", "13", 405 },
		{ "PUT", "/groups/room", "13", 405 },
	};
	char req[512];
	struct it_response r;

	up(NULL);
	create("room");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n%s"
		    "Sec-WebSocket-Version: %s\r\n\r\n", cases[i].method, cases[i].path,
		    ws_hdrs, cases[i].version);
		ck_assert_int_eq(it_http(port, req, &r, IT_TIMEOUT_MS), 0);
		ck_assert_int_eq(r.status, cases[i].status);
		ck_assert_msg(it_header(&r, "Connection") != NULL &&
		    strcmp(it_header(&r, "Connection"), "close") == 0,
		    "%s %s: Connection %s", cases[i].method, cases[i].path,
		    it_header(&r, "Connection"));
		it_response_free(&r);
	}
	ck_assert_int_eq(it_http(port, "GET /groups/room HTTP/1.1\r\nHost: x\r\n\r\n",
	    &r, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_null(it_header(&r, "Connection"));
	it_response_free(&r);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_ws_upgrade");
	TCase *tc = tcase_create("upgrade");

	tcase_add_checked_fixture(tc, NULL, itf_down);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, unknown_id_is_400_found_no_group_before_any_upgrade);
	tcase_add_test(tc, success_is_101_with_accept_and_no_subprotocol_or_extensions);
	tcase_add_test(tc, no_subprotocol_on_a_worker_that_served_an_offer_before);
	tcase_add_test(tc, not_an_upgrade_is_400_bad_request_with_version_13);
	tcase_add_test(tc, head_with_every_upgrade_header_is_405);
	tcase_add_test(tc, allowed_origins_admit_listed_and_refuse_others_with_403);
	tcase_add_test(tc, any_origin_is_admitted_by_default);
	tcase_add_test(tc, joins_past_max_clients_get_503_and_http_is_still_served);
	tcase_add_test(tc, refused_joins_say_connection_close_when_the_connection_ends);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
