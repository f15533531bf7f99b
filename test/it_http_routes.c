/*
 * it_http_routes: protocol.md's HTTP rows against the real server over
 * loopback: the common headers, the shape of error and success bodies,
 * Go's JSON escaping of ids, 405 with Allow, HEAD on GET routes, 404 for
 * unknown paths, 301 for non-canonical ones, and /healthz. Each test
 * starts the server in its own forked child and stops it at the end.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "groupchat/config.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/test_main.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"

static int port;

static void
setup(void)
{
	port = itf_up(NULL);
}

static void
teardown(void)
{
	itf_down();
}

static struct it_response
expect(const char *method, const char *target, int status, const char *body,
    size_t blen)
{
	return itf_expect(port, method, target, status, body, blen);
}

static void
expect_free(const char *method, const char *target, int status, const char *body)
{
	struct it_response r = expect(method, target, status, body, 0);

	it_response_free(&r);
}

/* Content-Length is present and matches what came. */
static void
check_length(const struct it_response *r, const char *what)
{
	const char *cl = it_header(r, "Content-Length");
	char want[32];

	snprintf(want, sizeof(want), "%zu", r->body_len);
	ck_assert_msg(cl != NULL && strcmp(cl, want) == 0,
	    "%s: Content-Length %s, body %zu bytes", what, cl ? cl : "(none)", r->body_len);
}

/* protocol.md, common rules: error bodies are "msg\n", text/plain, nosniff. */
static void
check_error_shape(const struct it_response *r, const char *what)
{
	ck_assert_msg(r->body_len > 0 && r->body[r->body_len - 1] == '\n',
	    "%s: error body \"%s\" lacks its newline", what, r->body);
	ck_assert_msg(it_header_count(r, "Content-Type") == 1 &&
	    strcmp(it_header(r, "Content-Type"), TEXT_PLAIN) == 0,
	    "%s: Content-Type %s", what, it_header(r, "Content-Type"));
	ck_assert_msg(it_header(r, "X-Content-Type-Options") != NULL &&
	    strcmp(it_header(r, "X-Content-Type-Options"), "nosniff") == 0,
	    "%s: no nosniff", what);
	check_length(r, what);
}

/* A Date header in IMF-fixdate form, within a minute of now. */
static void
check_date(const struct it_response *r, const char *what)
{
	const char *d = it_header(r, "Date");
	struct tm tm;
	const char *end;
	time_t t;

	ck_assert_msg(it_header_count(r, "Date") == 1, "%s: %d Date headers", what,
	    it_header_count(r, "Date"));
	memset(&tm, 0, sizeof(tm));
	end = strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	ck_assert_msg(end != NULL && *end == '\0' && strlen(d) == 29,
	    "%s: Date \"%s\" is not an IMF-fixdate", what, d);
	t = timegm(&tm);
	ck_assert_msg(llabs((long long)(t - time(NULL))) <= 60, "%s: Date %s is off", what, d);
}

START_TEST(every_response_has_a_date_and_no_server_header)
{
	static const struct {
		const char *method, *target;
		int status;
	} reqs[] = {
		{ "POST", "/create?id=d", 201 },
		{ "POST", "/create?id=d", 400 },
		{ "POST", "/create", 400 },
		{ "GET", "/groups/d", 400 },
		{ "HEAD", "/groups/d", 400 },
		{ "GET", "/groups/unknown", 400 },
		{ "DELETE", "/groups/d", 200 },
		{ "DELETE", "/groups/d", 400 },
		{ "GET", "/nope", 404 },
		{ "GET", "/create", 405 },
		{ "GET", "//create", 301 },
		{ "POST", "//create", 301 },
		{ "GET", "/healthz", 200 },
	};
	struct it_response r;
	struct it_ws *ws;

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "%s %s", reqs[i].method, reqs[i].target);
		r = expect(reqs[i].method, reqs[i].target, reqs[i].status, NULL, 0);
		check_date(&r, what);
		ck_assert_msg(it_header(&r, "Server") == NULL, "%s: Server: %s", what,
		    it_header(&r, "Server"));
		it_response_free(&r);
	}
	/* The 101 of an upgrade carries no Server header either. */
	expect_free("POST", "/create?id=w", 201, NULL);
	ws = it_ws_connect_resp(port, "/groups/w", NULL, &r);
	ck_assert_ptr_nonnull(ws);
	ck_assert_int_eq(r.status, 101);
	ck_assert_ptr_null(it_header(&r, "Server"));
	it_response_free(&r);
	ck_assert_int_eq(it_ws_close(ws), 0);
	/* A rejected upgrade (a missing group) is an ordinary response. */
	ck_assert_ptr_null(it_ws_connect_resp(port, "/groups/none", NULL, &r));
	ck_assert_int_eq(r.status, 400);
	check_date(&r, "upgrade to a missing group");
	ck_assert_ptr_null(it_header(&r, "Server"));
	it_response_free(&r);
}
END_TEST

START_TEST(error_bodies_are_text_plain_nosniff_with_newline)
{
	static const struct {
		const char *method, *target;
		int status;
		const char *body;
	} reqs[] = {
		{ "GET", "/nope", 404, "404 page not found\n" },
		{ "PUT", "/create?id=x", 405, "Method Not Allowed\n" },
		{ "POST", "/create?id=", 400, "invalid id\n" },
		{ "POST", "/create?id=e", 201, NULL },
		{ "POST", "/create?id=e", 400, "id already exists\n" },
		{ "DELETE", "/groups/zz", 400, "found no group with the id: zz\n" },
		{ "GET", "/groups/zz", 400, "found no group with the id: zz\n" },
		{ "GET", "/groups/e", 400, "Bad Request\n" },
	};
	struct it_response r;

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "%s %s", reqs[i].method, reqs[i].target);
		r = expect(reqs[i].method, reqs[i].target, reqs[i].status, reqs[i].body, 0);
		if (reqs[i].body != NULL)
			check_error_shape(&r, what);
		it_response_free(&r);
	}
}
END_TEST

START_TEST(success_bodies_are_json_without_newline_labelled_text_plain)
{
	struct it_response r;

	r = expect("POST", "/create?id=ok", 201,
	    "{\"message\":\"created group with id: ok\"}", 0);
	ck_assert_str_eq(it_header(&r, "Content-Type"), TEXT_PLAIN);
	ck_assert_int_eq(it_header_count(&r, "Content-Type"), 1);
	ck_assert_ptr_null(it_header(&r, "X-Content-Type-Options"));
	check_length(&r, "201");
	it_response_free(&r);

	r = expect("DELETE", "/groups/ok", 200,
	    "{\"message\":\"deleted group with id: ok\"}", 0);
	ck_assert_str_eq(it_header(&r, "Content-Type"), TEXT_PLAIN);
	ck_assert_ptr_null(it_header(&r, "X-Content-Type-Options"));
	check_length(&r, "200");
	it_response_free(&r);
}
END_TEST

/* An id as raw bytes and as Go's encoding/json writes it. */
struct json_case {
	const char *raw;
	size_t rlen;
	const char *json;
};

#define J(raw, json) { raw, sizeof(raw) - 1, json }

static const struct json_case json_cases[] = {
	J("q\"b", "q\\\"b"),
	J("b\\s", "b\\\\s"),
	J("\b\f\n\r\t", "\\b\\f\\n\\r\\t"),
	J("c\x01\x1f", "c\\u0001\\u001f"),
	J("n\0ul", "n\\u0000ul"),
	J("del\x7f", "del\x7f"),
	J("<a>&", "\\u003ca\\u003e\\u0026"),
	J("ls\xe2\x80\xa8ps\xe2\x80\xa9", "ls\\u2028ps\\u2029"),
	J("ff\xff", "ff\\ufffd"),
	J("\xc3x", "\\ufffdx"),
	J("ov\xc0\xaf", "ov\\ufffd\\ufffd"),
	J("sur\xed\xa0\x80", "sur\\ufffd\\ufffd\\ufffd"),
	J("cut\xe2\x80", "cut\\ufffd\\ufffd"),
	J("big\xf4\x90\x80\x80", "big\\ufffd\\ufffd\\ufffd\\ufffd"),
	J("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd",
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd"),
	J("sl/as h'", "sl/as h'"),
};

START_TEST(json_bodies_escape_ids_as_go)
{
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		const struct json_case *c = &json_cases[i];
		char *enc = it_pct_encode(c->raw, c->rlen), target[512], body[512];
		char err[512];
		size_t elen;

		ck_assert_ptr_nonnull(enc);
		snprintf(target, sizeof(target), "/create?id=%s", enc);
		snprintf(body, sizeof(body), "{\"message\":\"created group with id: %s\"}", c->json);
		expect_free("POST", target, 201, body);
		/* Error bodies carry the id raw, as Go prints it. */
		snprintf(target, sizeof(target), "/groups/%s", enc);
		elen = (size_t)snprintf(err, sizeof(err), "found no group with the id: ");
		memcpy(err + elen, c->raw, c->rlen);
		elen += c->rlen;
		err[elen++] = '\n';
		snprintf(body, sizeof(body), "{\"message\":\"deleted group with id: %s\"}", c->json);
		expect_free("DELETE", target, 200, body);
		struct it_response r = expect("DELETE", target, 400, err, elen);
		it_response_free(&r);
		free(enc);
	}
}
END_TEST

START_TEST(wrong_method_is_405_with_exact_allow)
{
	static const struct {
		const char *method, *path, *allow;
	} reqs[] = {
		{ "GET", "/create?id=m", "POST" },
		{ "PUT", "/create?id=m", "POST" },
		{ "DELETE", "/create?id=m", "POST" },
		{ "PATCH", "/create?id=m", "POST" },
		{ "OPTIONS", "/create?id=m", "POST" },
		{ "post", "/create?id=m", "POST" },
		{ "Post", "/create?id=m", "POST" },
		{ "POST", "/groups/m", "DELETE, GET, HEAD" },
		{ "PUT", "/groups/m", "DELETE, GET, HEAD" },
		{ "PATCH", "/groups/m", "DELETE, GET, HEAD" },
		{ "OPTIONS", "/groups/m", "DELETE, GET, HEAD" },
		{ "delete", "/groups/m", "DELETE, GET, HEAD" },
		{ "get", "/groups/m", "DELETE, GET, HEAD" },
		{ "POST", "/healthz", "GET, HEAD" },
		{ "DELETE", "/healthz", "GET, HEAD" },
	};
	struct it_response r;

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "%s %s", reqs[i].method, reqs[i].path);
		r = expect(reqs[i].method, reqs[i].path, 405, "Method Not Allowed\n", 0);
		ck_assert_msg(it_header_count(&r, "Allow") == 1 &&
		    strcmp(it_header(&r, "Allow"), reqs[i].allow) == 0,
		    "%s: Allow \"%s\", want \"%s\"", what, it_header(&r, "Allow"),
		    reqs[i].allow);
		check_error_shape(&r, what);
		it_response_free(&r);
	}
	/* HEAD is no method of /create: 405, headers only. */
	r = expect("HEAD", "/create?id=m", 405, "", 0);
	ck_assert_str_eq(it_header(&r, "Allow"), "POST");
	it_response_free(&r);
	/* None of those created or deleted anything. */
	expect_free("DELETE", "/groups/m", 400, "found no group with the id: m\n");
}
END_TEST

/* HEAD answers as GET does: same status, same headers (Date aside), and
 * not one byte of body. */
static void
check_head_like_get(const char *target, int status)
{
	struct it_response g = expect("GET", target, status, NULL, 0);
	struct it_response h = expect("HEAD", target, status, "", 0);

	ck_assert_msg(g.body_len > 0, "GET %s: empty body", target);
	ck_assert_msg(h.eof, "HEAD %s: connection not closed", target);
	ck_assert_uint_eq(g.nheaders, h.nheaders);
	for (size_t i = 0; i < g.nheaders; i++) {
		if (strcasecmp(g.headers[i].name, "Date") == 0)
			continue;
		const char *v = it_header(&h, g.headers[i].name);
		ck_assert_msg(v != NULL && strcmp(v, g.headers[i].value) == 0,
		    "HEAD %s: %s is \"%s\", GET has \"%s\"", target, g.headers[i].name,
		    v ? v : "(none)", g.headers[i].value);
	}
	ck_assert_ptr_nonnull(it_header(&h, "Date"));
	it_response_free(&g);
	it_response_free(&h);
}

START_TEST(head_on_get_routes_answers_like_get_without_body)
{
	check_head_like_get("/healthz", 200);
	check_head_like_get("/groups/missing", 400);
	expect_free("POST", "/create?id=h", 201, NULL);
	/* An existing group without an upgrade: gorilla's 400. */
	check_head_like_get("/groups/h", 400);
}
END_TEST

START_TEST(unknown_paths_are_404)
{
	static const char *const paths[] = {
		"/create/", "/CREATE", "/groups", "/groups/", "/groups/a/b", "/nope",
		"/create/?id=x", "/Groups/a",
	};
	static const char *const methods[] = { "GET", "POST", "DELETE" };
	struct it_response r;

	/* Groups that the wrong routing could reach. */
	expect_free("POST", "/create?id=a", 201, NULL);
	expect_free("POST", "/create?id=a%2Fb", 201, NULL);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (size_t m = 0; m < 3; m++) {
			char what[64];
			snprintf(what, sizeof(what), "%s %s", methods[m], paths[i]);
			r = expect(methods[m], paths[i], 404, "404 page not found\n", 0);
			check_error_shape(&r, what);
			it_response_free(&r);
		}
	}
	/* Both groups are still there, and /create/ made none. */
	expect_free("DELETE", "/groups/a", 200, "{\"message\":\"deleted group with id: a\"}");
	expect_free("DELETE", "/groups/a%2Fb", 200,
	    "{\"message\":\"deleted group with id: a/b\"}");
	expect_free("DELETE", "/groups/x", 400, "found no group with the id: x\n");
}
END_TEST

START_TEST(non_canonical_paths_redirect_301_keeping_the_query)
{
	static const struct {
		const char *target, *location;
	} reqs[] = {
		{ "//create", "/create" },
		{ "/x/../create", "/create" },
		{ "/groups/./a", "/groups/a" },
		{ "//create?id=q", "/create?id=q" },
		{ "/groups/../groups/./g?x=1", "/groups/g?x=1" },
	};
	static const char *const others[] = { "HEAD", "POST", "DELETE", "PUT" };
	struct it_response r;

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), "<a href=\"%s\">Moved Permanently</a>.\n\n",
		    reqs[i].location);
		r = expect("GET", reqs[i].target, 301, body, 0);
		ck_assert_str_eq(it_header(&r, "Location"), reqs[i].location);
		ck_assert_str_eq(it_header(&r, "Content-Type"), "text/html; charset=utf-8");
		check_length(&r, reqs[i].target);
		it_response_free(&r);
		for (size_t m = 0; m < 4; m++) {
			r = expect(others[m], reqs[i].target, 301, "", 0);
			ck_assert_msg(it_header(&r, "Location") != NULL &&
			    strcmp(it_header(&r, "Location"), reqs[i].location) == 0,
			    "%s %s: Location %s", others[m], reqs[i].target,
			    it_header(&r, "Location"));
			it_response_free(&r);
		}
	}
	/* A redirected POST created nothing. */
	expect_free("POST", "/create?id=q", 201, NULL);
}
END_TEST

START_TEST(get_healthz_is_200_ok)
{
	struct it_response r = expect("GET", "/healthz", 200, "ok\n", 0);

	ck_assert_str_eq(it_header(&r, "Content-Type"), TEXT_PLAIN);
	check_length(&r, "healthz");
	check_date(&r, "healthz");
	it_response_free(&r);
}
END_TEST

/* Requests CivetWeb refuses before routing get Go's answers, not its own
 * error page: an unknown method is routed (405 or 404), a bad
 * Content-Length is Go's bare 400, HTTP/2.0 over HTTP/1 is refused. */
START_TEST(requests_civetweb_refuses_get_go_answers)
{
	static const struct {
		const char *req;
		int status;
		const char *body;
	} cases[] = {
		{ "post /create?id=m HTTP/1.1\r\nHost: x\r\n\r\n", 405, "Method Not Allowed\n" },
		{ "FOO /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404, "404 page not found\n" },
		{ "POST /create?id=m HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
		    400, "400 Bad Request" },
		{ "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "505 HTTP Version Not Supported" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct it_response r;

		ck_assert_int_eq(it_http(port, cases[i].req, &r, 5000), 0);
		ck_assert_msg(r.status == cases[i].status, "case %zu: status %d, want %d",
		    i, r.status, cases[i].status);
		ck_assert_str_eq(r.body, cases[i].body);
		ck_assert_int_eq(it_header_count(&r, "Server"), 0);
		check_date(&r, "refused request");
		it_response_free(&r);
	}
}
END_TEST

/* Go cuts the request line at its first two spaces and refuses the rest
 * as a bad version: a space inside the target, or two between words, gets
 * the bare 400 (CivetWeb would route the part before the space). */
START_TEST(request_line_with_a_stray_space_is_the_bare_400)
{
	static const char *const lines[] = {
		"GET /heal thz HTTP/1.1", "GET //create x HTTP/1.1",
		"GET  /healthz HTTP/1.1", "GET /healthz  HTTP/1.1",
		"FOO  /healthz HTTP/1.1", "POST /create?id=a b HTTP/1.1",
	};
	char req[256];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct it_response r;

		snprintf(req, sizeof(req), "%s\r\nHost: x\r\n\r\n", lines[i]);
		ck_assert_int_eq(it_http(port, req, &r, 5000), 0);
		ck_assert_msg(r.status == 400 && strcmp(r.body, "400 Bad Request") == 0,
		    "%s: %d %s", lines[i], r.status, r.body);
		ck_assert_str_eq(it_header(&r, "Connection"), "close");
		it_response_free(&r);
	}
	/* Nothing was created by the last one. */
	expect_free("POST", "/create?id=a", 201, NULL);
}
END_TEST

/* "*" and absolute-form targets, which CivetWeb drops without a byte:
 * OPTIONS * is Go's 200 with Content-Length: 0, another "*" ServeMux's
 * empty 400, an absolute target naming our port is routed by its path,
 * one naming another port the bare 400 (protocol.md's limits). */
START_TEST(star_and_absolute_form_targets_get_go_answers)
{
	char req[256];
	struct it_response r;

	ck_assert_int_eq(it_http(port, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(it_header(&r, "Content-Length"), "0");
	ck_assert_ptr_null(it_header(&r, "Content-Type"));
	it_response_free(&r);

	ck_assert_int_eq(it_http(port, "GET * HTTP/1.1\r\nHost: x\r\n\r\n", &r, 5000), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(it_header(&r, "Content-Length"), "0");
	ck_assert_str_eq(it_header(&r, "Connection"), "close");
	ck_assert_ptr_null(it_header(&r, "Content-Type"));
	it_response_free(&r);

	snprintf(req, sizeof(req), "GET http://anyhost:%d/healthz?q=1 HTTP/1.1\r\n"
	    "Host: x\r\n\r\n", port);
	ck_assert_int_eq(it_http(port, req, &r, 5000), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok\n");
	it_response_free(&r);

	snprintf(req, sizeof(req), "POST http://127.0.0.1:%d/create?id=abs HTTP/1.1\r\n"
	    "Host: x\r\n\r\n", port);
	ck_assert_int_eq(it_http(port, req, &r, 5000), 0);
	ck_assert_int_eq(r.status, 201);
	it_response_free(&r);

	ck_assert_int_eq(it_http(port, "GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
	    &r, 5000), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(r.body, "400 Bad Request");
	it_response_free(&r);
}
END_TEST

/* Go's http.Redirect writes no body for HEAD, so no Content-Length. */
START_TEST(head_redirect_has_no_content_length)
{
	struct it_response r;

	ck_assert_int_eq(it_http(port, "HEAD //create HTTP/1.1\r\nHost: x\r\n\r\n", &r, 5000), 0);
	ck_assert_int_eq(r.status, 301);
	ck_assert_str_eq(it_header(&r, "Location"), "/create");
	ck_assert_str_eq(it_header(&r, "Content-Type"), "text/html; charset=utf-8");
	ck_assert_ptr_null(it_header(&r, "Content-Length"));
	ck_assert_int_eq(r.body_len, 0);
	it_response_free(&r);
}
END_TEST

/*
 * Whole answers, header order included, as Go 1.22+ net/http writes them
 * (chunkWriter.writeHeader): the status line, the headers the handler set
 * sorted by name, then Date, Content-Length, a sniffed Content-Type and
 * Connection. The Date value is masked.
 */
#define REQ(line) line " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
#define UPGRADE(path, version) "GET " path " HTTP/1.1\r\nHost: x\r\n" \
	"Upgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
	"Sec-WebSocket-Version: " version "\r\n\r\n"
#define CT "Content-Type: text/plain; charset=utf-8\r\n"
#define NOSNIFF "X-Content-Type-Options: nosniff\r\n"
#define DATE "Date: *\r\n"
#define CLOSE "Connection: close\r\n\r\n"
#define ERR(status, len, body) "HTTP/1.1 " status "\r\n" CT NOSNIFF DATE \
	"Content-Length: " len "\r\n" CLOSE body

static const struct {
	const char *req, *want;
} wire_cases[] = {
	{ REQ("POST /create?id=w"), "HTTP/1.1 201 Created\r\n" DATE
	    "Content-Length: 38\r\n" CT CLOSE "{\"message\":\"created group with id: w\"}" },
	{ REQ("POST /create?id=w"), ERR("400 Bad Request", "18", "id already exists\n") },
	{ REQ("POST /create?id="), ERR("400 Bad Request", "11", "invalid id\n") },
	{ REQ("GET /groups/w"), "HTTP/1.1 400 Bad Request\r\n" CT
	    "Sec-Websocket-Version: 13\r\n" NOSNIFF DATE "Content-Length: 12\r\n" CLOSE
	    "Bad Request\n" },
	{ UPGRADE("/groups/w", "8"), "HTTP/1.1 400 Bad Request\r\n" CT
	    "Sec-Websocket-Version: 13\r\n" NOSNIFF DATE "Content-Length: 12\r\n" CLOSE
	    "Bad Request\n" },
	{ UPGRADE("/groups/none", "13"),
	    ERR("400 Bad Request", "33", "found no group with the id: none\n") },
	{ REQ("HEAD /groups/none"),
	    ERR("400 Bad Request", "33", "") },
	{ REQ("DELETE /groups/w"), "HTTP/1.1 200 OK\r\n" DATE
	    "Content-Length: 38\r\n" CT CLOSE "{\"message\":\"deleted group with id: w\"}" },
	{ REQ("DELETE /groups/w"), ERR("400 Bad Request", "30", "found no group with the id: w\n") },
	{ REQ("GET /nope"), ERR("404 Not Found", "19", "404 page not found\n") },
	{ REQ("GET /create"), "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\n" CT
	    NOSNIFF DATE "Content-Length: 19\r\n" CLOSE "Method Not Allowed\n" },
	{ REQ("HEAD /create"), "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\n" CT
	    NOSNIFF DATE "Content-Length: 19\r\n" CLOSE },
	{ REQ("PUT /groups/w"), "HTTP/1.1 405 Method Not Allowed\r\n"
	    "Allow: DELETE, GET, HEAD\r\n" CT NOSNIFF DATE "Content-Length: 19\r\n" CLOSE
	    "Method Not Allowed\n" },
	{ REQ("GET //create?id=q"), "HTTP/1.1 301 Moved Permanently\r\n"
	    "Content-Type: text/html; charset=utf-8\r\nLocation: /create?id=q\r\n" DATE
	    "Content-Length: 47\r\n" CLOSE "<a href=\"/create?id=q\">Moved Permanently</a>.\n\n" },
	{ REQ("HEAD //create"), "HTTP/1.1 301 Moved Permanently\r\n"
	    "Content-Type: text/html; charset=utf-8\r\nLocation: /create\r\n" DATE CLOSE },
	{ REQ("POST //create"), "HTTP/1.1 301 Moved Permanently\r\n"
	    "Location: /create\r\n" DATE "Content-Length: 0\r\n" CLOSE },
	{ REQ("GET /healthz"), "HTTP/1.1 200 OK\r\n" CT DATE "Content-Length: 3\r\n"
	    CLOSE "ok\n" },
	{ REQ("GET /a b"), "HTTP/1.1 400 Bad Request\r\n" CT DATE
	    "Content-Length: 15\r\n" CLOSE "400 Bad Request" },
	{ REQ("OPTIONS *"), "HTTP/1.1 200 OK\r\n" DATE "Content-Length: 0\r\n" CLOSE },
	{ REQ("GET *"), "HTTP/1.1 400 Bad Request\r\n" DATE "Content-Length: 0\r\n" CLOSE },
	{ "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"
	    CT DATE "Content-Length: 30\r\n" CLOSE "505 HTTP Version Not Supported" },
};

START_TEST(whole_answers_are_go_byte_for_byte)
{
	for (size_t i = 0; i < sizeof(wire_cases) / sizeof(wire_cases[0]); i++)
		itf_wire(port, wire_cases[i].req, wire_cases[i].want);
}
END_TEST

/* The pages whose bodies change (/stats, /metrics) or are long (/): their
 * headers, in the order of the rule above. */
START_TEST(document_headers_are_in_go_order)
{
	static const char *const paths[] = { "/stats", "/metrics", "/" };
	static const char *const order[] = { "Content-Type", "Date", "Content-Length",
		"Connection" };
	struct it_response r;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		r = expect("GET", paths[i], 200, NULL, 0);
		ck_assert_uint_eq(r.nheaders, 4);
		for (size_t k = 0; k < 4; k++)
			ck_assert_msg(strcmp(r.headers[k].name, order[k]) == 0,
			    "%s: header %zu is %s, want %s", paths[i], k, r.headers[k].name,
			    order[k]);
		it_response_free(&r);
	}
}
END_TEST

static Suite *
routes_suite(void)
{
	Suite *s = suite_create("it_http_routes");
	TCase *tc = tcase_create("routes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, every_response_has_a_date_and_no_server_header);
	tcase_add_test(tc, error_bodies_are_text_plain_nosniff_with_newline);
	tcase_add_test(tc, success_bodies_are_json_without_newline_labelled_text_plain);
	tcase_add_test(tc, json_bodies_escape_ids_as_go);
	tcase_add_test(tc, wrong_method_is_405_with_exact_allow);
	tcase_add_test(tc, head_on_get_routes_answers_like_get_without_body);
	tcase_add_test(tc, unknown_paths_are_404);
	tcase_add_test(tc, non_canonical_paths_redirect_301_keeping_the_query);
	tcase_add_test(tc, get_healthz_is_200_ok);
	tcase_add_test(tc, requests_civetweb_refuses_get_go_answers);
	tcase_add_test(tc, request_line_with_a_stray_space_is_the_bare_400);
	tcase_add_test(tc, star_and_absolute_form_targets_get_go_answers);
	tcase_add_test(tc, head_redirect_has_no_content_length);
	tcase_add_test(tc, whole_answers_are_go_byte_for_byte);
	tcase_add_test(tc, document_headers_are_in_go_order);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(routes_suite());
}
