/*
 * it_auth: access control against the real server over loopback, with
 * raw sockets. With an admin token set, POST /create, DELETE, /stats and
 * /metrics answer 401 (WWW-Authenticate: Bearer realm="groupchat", a
 * one-line body) without it or with a wrong one, change nothing, and work
 * with it; /healthz and / stay open, and the router's 404 and 405 come
 * before the 401. With a join secret set, every bad join token gets 401
 * before the upgrade and no member joins; a good one, in the query or in
 * Authorization, joins.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupchat/config.h"
#include "groupchat/web/auth.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/test_main.h"

/* 32 bytes each, the shortest the server takes. */
#define ADMIN "adm1n-t0ken-adm1n-t0ken-adm1n-t0"
#define SECRET "join-s3cret-join-s3cret-join-s3c"

static int port;

static void
setup_admin(void)
{
	struct config cfg;
	char err[128];

	it_config(&cfg);
	ck_assert_int_eq(auth_key_set(&cfg.admin_token, AUTH_ADMIN_TOKEN, ADMIN,
	    strlen(ADMIN), err, sizeof(err)), 0);
	port = itf_up(&cfg);
}

static void
setup_join(void)
{
	struct config cfg;
	char err[128];

	it_config(&cfg);
	ck_assert_int_eq(auth_key_set(&cfg.join_secret, AUTH_JOIN_SECRET, SECRET,
	    strlen(SECRET), err, sizeof(err)), 0);
	port = itf_up(&cfg);
}

static void
teardown(void)
{
	itf_down();
}

/* method target with an optional Authorization value; checks the status,
 * and for a 401 the header and the body (none after HEAD). */
static void
expect_auth(const char *method, const char *target, const char *authz, int status,
    const char *body)
{
	char req[8192];
	struct it_response r;

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n",
	    method, target, authz ? "Authorization: " : "", authz ? authz : "",
	    authz ? "\r\n" : "");
	ck_assert_int_eq(it_http(port, req, &r, IT_TIMEOUT_MS), 0);
	ck_assert_msg(r.status == status, "%s %s (%s): %d %s, want %d", method, target,
	    authz ? authz : "no token", r.status, r.body, status);
	if (status == 401) {
		ck_assert_str_eq(it_header(&r, "WWW-Authenticate"), "Bearer realm=\"groupchat\"");
		ck_assert_int_eq(it_header_count(&r, "WWW-Authenticate"), 1);
		ck_assert_str_eq(it_header(&r, "Content-Type"), "text/plain; charset=utf-8");
		ck_assert_str_eq(r.body, strcmp(method, "HEAD") == 0 ? "" : body);
	} else {
		ck_assert_ptr_null(it_header(&r, "WWW-Authenticate"));
		if (body != NULL)
			ck_assert_str_eq(r.body, body);
	}
	ck_assert_uint_eq(r.trailing_len, 0);
	it_response_free(&r);
}

#define ADMIN_401 "invalid or missing admin token\n"
#define JOIN_401 "invalid or missing join token\n"
#define RIGHT "Bearer " ADMIN

static const char *const wrong[] = {
	NULL, "Bearer", "Bearer wrong", "Bearer " ADMIN "x", "Bearer adm1n-t0ken-adm1n-t0ken-adm1n-T0",
	"Basic " ADMIN, ADMIN,
};
#define NWRONG (sizeof(wrong) / sizeof(wrong[0]))

START_TEST(create_needs_the_admin_token)
{
	for (size_t i = 0; i < NWRONG; i++)
		expect_auth("POST", "/create?id=room", wrong[i], 401, ADMIN_401);
	/* Nothing was created: the first create with the token succeeds. */
	expect_auth("POST", "/create?id=room", RIGHT, 201,
	    "{\"message\":\"created group with id: room\"}");
	expect_auth("POST", "/create?id=room", "bearer   " ADMIN " ", 400, "id already exists\n");
	/* Auth comes before the handler's own checks. */
	expect_auth("POST", "/create", NULL, 401, ADMIN_401);
	expect_auth("POST", "/create", RIGHT, 400, "invalid id\n");
}
END_TEST

START_TEST(delete_needs_the_admin_token)
{
	expect_auth("POST", "/create?id=room", RIGHT, 201, NULL);
	for (size_t i = 0; i < NWRONG; i++)
		expect_auth("DELETE", "/groups/room", wrong[i], 401, ADMIN_401);
	expect_auth("DELETE", "/groups/nosuch", NULL, 401, ADMIN_401);
	/* The group is still there, and its members too. */
	struct it_ws *m = itf_join(port, "room");
	expect_auth("DELETE", "/groups/room", RIGHT, 200,
	    "{\"message\":\"deleted group with id: room\"}");
	ck_assert_int_eq(it_ws_expect_close(m, 1000, IT_TIMEOUT_MS), 0);
	it_ws_free(m);
	expect_auth("DELETE", "/groups/room", RIGHT, 400, "found no group with the id: room\n");
}
END_TEST

START_TEST(stats_and_metrics_need_the_admin_token)
{
	static const char *const paths[] = { "/stats", "/metrics" };

	for (size_t p = 0; p < 2; p++) {
		for (size_t i = 0; i < NWRONG; i++) {
			expect_auth("GET", paths[p], wrong[i], 401, ADMIN_401);
			expect_auth("HEAD", paths[p], wrong[i], 401, ADMIN_401);
		}
		expect_auth("GET", paths[p], RIGHT, 200, NULL);
		expect_auth("HEAD", paths[p], RIGHT, 200, NULL);
	}
}
END_TEST

START_TEST(healthz_index_and_router_answers_stay_open)
{
	expect_auth("GET", "/healthz", NULL, 200, "ok\n");
	expect_auth("GET", "/", NULL, 200, NULL);
	expect_auth("GET", "/nope", NULL, 404, "404 page not found\n");
	expect_auth("GET", "/create", NULL, 405, "Method Not Allowed\n");
	expect_auth("PUT", "/stats", NULL, 405, "Method Not Allowed\n");
	expect_auth("GET", "/groups/../stats", NULL, 301, NULL);
	/* Joins need no admin token. */
	expect_auth("POST", "/create?id=room", RIGHT, 201, NULL);
	struct it_ws *m = itf_join(port, "room");
	ck_assert_int_eq(it_ws_close(m), 0);
}
END_TEST

/* A 401 is written as Go writes an http.Error with one more header: the
 * handler's headers sorted by name, then Date and Content-Length. */
#define WIRE_401(body_len, body) "HTTP/1.1 401 Unauthorized\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"WWW-Authenticate: Bearer realm=\"groupchat\"\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Date: *\r\nContent-Length: " body_len "\r\nConnection: close\r\n\r\n" body

START_TEST(admin_401_is_written_in_go_header_order)
{
	itf_wire(port, "POST /create?id=r HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    WIRE_401("31", ADMIN_401));
	itf_wire(port, "HEAD /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    WIRE_401("31", ""));
}
END_TEST

/* A join token for grp expiring in ttl seconds (nbf: not before now+nbf). */
static char *
token(const char *grp, long ttl, long nbf)
{
	struct auth_key k;
	char err[128];
	long now = (long)time(NULL);
	char *t;

	ck_assert_int_eq(auth_key_set(&k, AUTH_JOIN_SECRET, SECRET, strlen(SECRET), err,
	    sizeof(err)), 0);
	t = auth_join_mint(&k, grp, strlen(grp), now + ttl, nbf != 0 ? now + nbf : 0);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* A join that must be refused with 401 before the upgrade. */
static void
expect_join_401(const char *path, const char *extra)
{
	struct it_response r;
	struct it_ws *ws = it_ws_connect_resp(port, path, extra, &r);

	ck_assert_msg(ws == NULL, "%s joined", path);
	ck_assert_int_eq(r.status, 401);
	ck_assert_str_eq(it_header(&r, "WWW-Authenticate"), "Bearer realm=\"groupchat\"");
	ck_assert_str_eq(r.body, JOIN_401);
	it_response_free(&r);
}

static int
no_members(void *arg)
{
	struct it_response r;
	int ok;

	(void)arg;
	if (it_request(port, "GET", "/stats", &r) != 0)
		return 0;
	ok = r.status == 200 && strstr(r.body, "\"members\":0") != NULL &&
	    strstr(r.body, "\"members\":1") == NULL;
	it_response_free(&r);
	return ok;
}

START_TEST(bad_join_tokens_get_401_before_the_upgrade)
{
	char *other = token("room2", 60, 0), *expired = token("room", -(AUTH_CLOCK_LEEWAY + 2), 0);
	char *early = token("room", 120, 60), *good = token("room", 60, 0);
	char path[4096], hdr[4096];
	struct auth_key wrongkey;
	char err[64], *wk;
	const char *none = "eyJhbGciOiJub25lIn0.eyJncnAiOiJyb29tIiwiZXhwIjo0MDAwMDAwMDAwfQ.";

	ck_assert_int_eq(auth_key_set(&wrongkey, AUTH_JOIN_SECRET, SECRET "x", strlen(SECRET) + 1,
	    err, sizeof(err)), 0);
	wk = auth_join_mint(&wrongkey, "room", 4, (long)time(NULL) + 60, 0);
	ck_assert_ptr_nonnull(wk);
	expect_auth("POST", "/create?id=room", NULL, 201, NULL);
	expect_join_401("/groups/room", NULL);
	expect_join_401("/groups/room?token=", NULL);
	expect_join_401("/groups/room?token=garbage", NULL);
	const char *bad[] = { other, expired, early, wk, none };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/groups/room?token=%s", bad[i]);
		expect_join_401(path, NULL);
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", bad[i]);
		expect_join_401("/groups/room", hdr);
	}
	/* The query wins over the header. */
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", good);
	snprintf(path, sizeof(path), "/groups/room?token=%s", other);
	expect_join_401(path, hdr);
	/* A plain GET is a join attempt too; HEAD has no body. */
	expect_auth("GET", "/groups/room", NULL, 401, JOIN_401);
	expect_auth("HEAD", "/groups/room", NULL, 401, JOIN_401);
	itf_wire(port, "GET /groups/room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n", WIRE_401("30", JOIN_401));
	/* Nobody joined. */
	ck_assert(it_wait_until(no_members, NULL, IT_TIMEOUT_MS));
	free(other);
	free(expired);
	free(early);
	free(good);
	free(wk);
}
END_TEST

START_TEST(good_join_tokens_join_from_query_or_header)
{
	char *good = token("a/b", 60, 0), *tok2 = token("room", 60, -5);
	char path[4096], hdr[4096];
	struct it_ws *a, *b;

	expect_auth("POST", "/create?id=a%2Fb", NULL, 201, NULL);
	snprintf(path, sizeof(path), "/groups/a%%2Fb?token=%s", good);
	a = it_ws_connect(port, path, NULL, NULL);
	ck_assert_ptr_nonnull(a);
	snprintf(hdr, sizeof(hdr), "Authorization: bearer %s\r\n", good);
	b = it_ws_connect(port, "/groups/a%2Fb", hdr, NULL);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(it_ws_send_wait(a, "hi", b, NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_send_wait(b, "yo", a, NULL, IT_TIMEOUT_MS), 0);
	/* A token for a group that does not exist: the handler's answer. */
	snprintf(path, sizeof(path), "/groups/room?token=%s", tok2);
	expect_auth("GET", path, NULL, 400, "found no group with the id: room\n");
	/* Deletes need no token when only the join secret is set. */
	expect_auth("DELETE", "/groups/a%2Fb", NULL, 200, NULL);
	ck_assert_int_eq(it_ws_expect_close(a, 1000, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_expect_close(b, 1000, IT_TIMEOUT_MS), 0);
	it_ws_free(a);
	it_ws_free(b);
	free(good);
	free(tok2);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("it_auth");
	TCase *ta = tcase_create("admin");
	TCase *tj = tcase_create("join");

	tcase_add_checked_fixture(ta, setup_admin, teardown);
	tcase_set_timeout(ta, 60);
	tcase_add_test(ta, create_needs_the_admin_token);
	tcase_add_test(ta, delete_needs_the_admin_token);
	tcase_add_test(ta, stats_and_metrics_need_the_admin_token);
	tcase_add_test(ta, healthz_index_and_router_answers_stay_open);
	tcase_add_test(ta, admin_401_is_written_in_go_header_order);
	suite_add_tcase(s, ta);
	tcase_add_checked_fixture(tj, setup_join, teardown);
	tcase_set_timeout(tj, 60);
	tcase_add_test(tj, bad_join_tokens_get_401_before_the_upgrade);
	tcase_add_test(tj, good_join_tokens_join_from_query_or_header);
	suite_add_tcase(s, tj);
	return s;
}

int
main(void)
{
	return test_run(auth_suite());
}
