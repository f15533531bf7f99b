/*
 * route against Go 1.22's net/http: each row is what the Go server
 * (ServeMux with our patterns, behind url.ParseRequestURI) does with the
 * request: refuse it, redirect it and where to, or which pattern it
 * reaches with which {id}, and whether the method is allowed there.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/buf.h"
#include "groupchat/gocompat/route.h"
#include "support/test_main.h"

#define DGH "DELETE, GET, HEAD"
#define GH "GET, HEAD"

struct rcase {
	const char *method;
	const char *path;
	size_t plen;       /* 0: strlen(path) */
	const char *query; /* NULL: none */
	enum route_kind kind;
	int method_ok;
	const char *allow; /* NULL for NOT_FOUND, BAD_REQUEST, REDIRECT */
	const char *id;    /* GROUP */
	size_t idlen;      /* 0: strlen(id) */
	const char *location; /* REDIRECT */
	const char *href;     /* REDIRECT; NULL: same as location */
};

#define OK(m, p, k, a) { m, p, 0, NULL, k, 1, a, NULL, 0, NULL, NULL }
#define NOTOK(m, p, k, a) { m, p, 0, NULL, k, 0, a, NULL, 0, NULL, NULL }
#define GROUP(m, p, id, ok) { m, p, 0, NULL, ROUTE_GROUP, ok, DGH, id, 0, NULL, NULL }
#define NF(m, p) { m, p, 0, NULL, ROUTE_NOT_FOUND, 0, NULL, NULL, 0, NULL, NULL }
#define BAD(m, p, q) { m, p, 0, q, ROUTE_BAD_REQUEST, 0, NULL, NULL, 0, NULL, NULL }
#define REDIR(m, p, q, loc, href) \
	{ m, p, 0, q, ROUTE_REDIRECT, 0, NULL, NULL, 0, loc, href }

static const struct rcase rcases[] = {
	/* The routes and their methods. */
	OK("POST", "/create", ROUTE_CREATE, "POST"),
	NOTOK("GET", "/create", ROUTE_CREATE, "POST"),
	NOTOK("HEAD", "/create", ROUTE_CREATE, "POST"),
	NOTOK("post", "/create", ROUTE_CREATE, "POST"),
	NOTOK("PUT", "/create", ROUTE_CREATE, "POST"),
	GROUP("DELETE", "/groups/abc", "abc", 1),
	GROUP("GET", "/groups/abc", "abc", 1),
	GROUP("HEAD", "/groups/abc", "abc", 1),
	GROUP("POST", "/groups/abc", "abc", 0),
	GROUP("PUT", "/groups/abc", "abc", 0),
	GROUP("get", "/groups/abc", "abc", 0),
	GROUP("Delete", "/groups/abc", "abc", 0),
	GROUP("OPTIONS", "/groups/abc", "abc", 0),
	OK("GET", "/healthz", ROUTE_HEALTHZ, GH),
	OK("HEAD", "/healthz", ROUTE_HEALTHZ, GH),
	NOTOK("POST", "/healthz", ROUTE_HEALTHZ, GH),
	OK("GET", "/stats", ROUTE_STATS, GH),
	NOTOK("DELETE", "/stats", ROUTE_STATS, GH),
	OK("GET", "/metrics", ROUTE_METRICS, GH),
	OK("HEAD", "/metrics", ROUTE_METRICS, GH),
	OK("GET", "/", ROUTE_INDEX, GH),
	OK("HEAD", "/", ROUTE_INDEX, GH),
	NOTOK("POST", "/", ROUTE_INDEX, GH),
	/* Unknown paths (protocol.md's list first). */
	NF("POST", "/create/"),
	NF("POST", "/CREATE"),
	NF("GET", "/groups"),
	NF("DELETE", "/groups"),
	NF("GET", "/groups/"),
	NF("GET", "/groups/a/b"),
	NF("GET", "/groups/a/"),
	NF("GET", "/nope"),
	NF("GET", "/index.html"),
	NF("GET", "/healthz/"),
	NF("GET", "/Healthz"),
	NF("GET", "/groups/%2F"),
	NF("GET", "/groups/%2f"),
	NF("GET", "/%2F/x"),
	NF("POST", "/create%2F"),
	NF("POST", "/create%20"),
	NF("GET", "/groups/%2E%2E/x"),
	NF("DELETE", "/groups/a/%2E%2E"),
	NF("GET", "/x"),
	/* {id}: one segment, split before decoding, then decoded. */
	GROUP("DELETE", "/groups/a%2Fb", "a/b", 1),
	GROUP("DELETE", "/groups/a%2fb", "a/b", 1),
	GROUP("DELETE", "/groups/%2E%2E", "..", 1),
	GROUP("DELETE", "/groups/%2e", ".", 1),
	GROUP("DELETE", "/groups/..%2F", "../", 1),
	GROUP("DELETE", "/groups/a+b", "a+b", 1),
	GROUP("DELETE", "/groups/a%2Bb", "a+b", 1),
	GROUP("DELETE", "/groups/a%20b", "a b", 1),
	GROUP("DELETE", "/groups/a%25b", "a%b", 1),
	GROUP("DELETE", "/groups/%25", "%", 1),
	{ "DELETE", "/groups/%00", 0, NULL, ROUTE_GROUP, 1, DGH, "\0", 1, NULL, NULL },
	{ "DELETE", "/groups/a%00b", 0, NULL, ROUTE_GROUP, 1, DGH, "a\0b", 3, NULL, NULL },
	GROUP("DELETE", "/groups/caf%C3%A9", "caf\xc3\xa9", 1),
	GROUP("DELETE", "/groups/%ff", "\xff", 1),
	GROUP("DELETE", "/groups/a:b@c$d&e=f;g,h", "a:b@c$d&e=f;g,h", 1),
	GROUP("DELETE", "/groups/!'()*[]~", "!'()*[]~", 1),
	/* Raw bytes a path may not carry: Go re-encodes from the decoded
	 * path, so the id is the same, but a %2F beside them splits. */
	GROUP("DELETE", "/groups/caf\xc3\xa9", "caf\xc3\xa9", 1),
	GROUP("DELETE", "/groups/{x}", "{x}", 1),
	GROUP("DELETE", "/groups/%7Bx%7D", "{x}", 1),
	GROUP("DELETE", "/groups/a\"b<c>|\\^`", "a\"b<c>|\\^`", 1),
	GROUP("DELETE", "/groups/a#b", "a#b", 1),
	GROUP("DELETE", "/groups/%2E%2E\xff", "..\xff", 1),
	NF("DELETE", "/groups/a%2F\xc3\xa9"),
	NF("DELETE", "/groups/a%2Fb{"),
	/* Literal segments are decoded before they are compared. */
	OK("POST", "/%63reate", ROUTE_CREATE, "POST"),
	OK("POST", "/cr%65ate", ROUTE_CREATE, "POST"),
	GROUP("GET", "/%67roups/x", "x", 1),
	OK("GET", "/%2F", ROUTE_INDEX, GH),
	NOTOK("POST", "/%2f", ROUTE_INDEX, GH),
	OK("GET", "/stat%73", ROUTE_STATS, GH),
	/* Go refuses these request lines (bare 400). */
	BAD("GET", "/groups/%zz", NULL),
	BAD("GET", "/groups/%", NULL),
	BAD("GET", "/groups/%4", NULL),
	BAD("GET", "/groups/%4g", NULL),
	BAD("POST", "/%", NULL),
	BAD("POST", "/create%", NULL),
	BAD("POST", "/a%2", NULL),
	BAD("GET", "//%zz/../x", NULL),
	BAD("GET", "", NULL),
	BAD("GET", "groups/x", NULL),
	/* Not quite Go: it accepts absolute-form targets and answers "*"
	 * itself (400 without a body, or 200 for OPTIONS); our contract
	 * sends every target without a leading '/' to the bare 400. */
	BAD("GET", "*", NULL),
	BAD("OPTIONS", "*", NULL),
	BAD("GET", "http://host/create", NULL),
	BAD("GET", "/a b", NULL),
	BAD("GET", "/a\tb", NULL),
	BAD("GET", "/a\x7f", NULL),
	BAD("GET", "/a\x1b", NULL),
	{ "GET", "/groups/a\0b", 10, NULL, ROUTE_BAD_REQUEST, 0, NULL, NULL, 0, NULL, NULL },
	BAD("POST", "/create", "id=\x01"),
	BAD("POST", "/create", "id=a b"),
	BAD("POST", "/create", "id=\x7f"),
	BAD("", "/create", NULL),
	BAD("PO ST", "/create", NULL),
	BAD("GET\x01", "/", NULL),
	BAD("G(ET", "/", NULL),
	BAD("G\xc3\x89T", "/", NULL),
	BAD("GET:", "/", NULL),
	/* Query escapes are not the request line's business. */
	{ "POST", "/create", 0, "id=%zz", ROUTE_CREATE, 1, "POST", NULL, 0, NULL, NULL },
	{ "POST", "/create", 0, "id=\xc3\xa9;%", ROUTE_CREATE, 1, "POST", NULL, 0, NULL, NULL },
	/* Non-canonical paths: 301 to the cleaned path, for any method. */
	REDIR("GET", "//create", NULL, "/create", NULL),
	REDIR("POST", "//create", NULL, "/create", NULL),
	REDIR("POST", "/x/../create", NULL, "/create", NULL),
	REDIR("GET", "/groups/./a", NULL, "/groups/a", NULL),
	REDIR("DELETE", "/groups//a", NULL, "/groups/a", NULL),
	REDIR("GET", "/./", NULL, "/", NULL),
	REDIR("GET", "/.", NULL, "/", NULL),
	REDIR("GET", "/..", NULL, "/", NULL),
	REDIR("GET", "//", NULL, "/", NULL),
	REDIR("GET", "///", NULL, "/", NULL),
	REDIR("GET", "/groups/a/..", NULL, "/groups", NULL),
	REDIR("GET", "/groups/a/../", NULL, "/groups/", NULL),
	REDIR("GET", "/a/b/../../..", NULL, "/", NULL),
	REDIR("GET", "/../../create", NULL, "/create", NULL),
	REDIR("POST", "/create/.", NULL, "/create", NULL),
	REDIR("POST", "/create/./", NULL, "/create/", NULL),
	REDIR("POST", "/create//", NULL, "/create/", NULL),
	REDIR("PUT", "/nope/../nope2//", NULL, "/nope2/", NULL),
	REDIR("get", "/a/./b", NULL, "/a/b", NULL),
	/* The query is kept, raw; an empty one is dropped with its '?'. */
	REDIR("POST", "/x/../create", "id=abc", "/create?id=abc", NULL),
	REDIR("POST", "//create", "id=a+b%20c&x", "/create?id=a+b%20c&x",
	    "/create?id=a+b%20c&amp;x"),
	REDIR("POST", "//create", "", "/create", NULL),
	REDIR("POST", "//create", "a?b", "/create?a?b", NULL),
	REDIR("POST", "//create", "id=%zz", "/create?id=%zz", NULL),
	/* Location hex-escapes non-ASCII (lowercase); the body does not. */
	REDIR("POST", "/x/../create", "id=\xc3\xa9", "/create?id=%c3%a9",
	    "/create?id=\xc3\xa9"),
	REDIR("GET", "//", "\xff\x80", "/?%ff%80", "/?\xff\x80"),
	REDIR("GET", "//", "id=<a>&b=\"'", "/?id=<a>&b=\"'",
	    "/?id=&lt;a&gt;&amp;b=&#34;&#39;"),
	/* Go escapes the already escaped path again: '%' becomes %25. */
	REDIR("GET", "//a%20b", NULL, "/a%2520b", NULL),
	REDIR("DELETE", "/groups/./a%2Fb", NULL, "/groups/a%252Fb", NULL),
	REDIR("GET", "/x/../groups/{a}", NULL, "/groups/%257Ba%257D", NULL),
	REDIR("GET", "/x/../groups/\xc3\xa9", "q=\xc3\xa9",
	    "/groups/%25C3%25A9?q=%c3%a9", "/groups/%25C3%25A9?q=\xc3\xa9"),
	REDIR("GET", "/groups/%2E%2E/\xff", NULL, "/%25FF", NULL),
	REDIR("GET", "/x/../a'b", NULL, "/a%27b", NULL),
	REDIR("GET", "/x/../a!(*)[]", NULL, "/a%21%28%2A%29%5B%5D", NULL),
	REDIR("GET", "/a&b/../c&d", NULL, "/c&d", "/c&amp;d"),
	REDIR("GET", "/x/../a:b", NULL, "/a:b", NULL),
	/* CONNECT paths are not cleaned: no redirect, plain matching. */
	NOTOK("CONNECT", "/create", ROUTE_CREATE, "POST"),
	NF("CONNECT", "//create"),
	NF("CONNECT", "/x/../create"),
	GROUP("CONNECT", "/groups/.", ".", 0),
	GROUP("CONNECT", "/groups/..", "..", 0),
	NF("CONNECT", "/groups//"),
	NF("CONNECT", "/groups//x"),
};

static void
check_buf(int row, const char *what, const struct buf *b, const char *want,
          size_t wlen)
{
	ck_assert_msg(b->len == wlen &&
	    (wlen == 0 || memcmp(b->data, want, wlen) == 0),
	    "row %d: %s is \"%.*s\", want \"%.*s\"", row, what, (int)b->len,
	    b->len ? (const char *)b->data : "", (int)wlen, want);
}

START_TEST(test_route_table)
{
	const struct rcase *c = &rcases[_i];
	size_t plen = c->plen ? c->plen : strlen(c->path);
	struct route r;

	route_init(&r);
	ck_assert_int_eq(route_match(&r, c->method, c->path, plen, c->query), 0);
	ck_assert_msg(r.kind == c->kind, "row %d (%s %s): kind %d, want %d",
	    _i, c->method, c->path, r.kind, c->kind);
	ck_assert_msg(r.method_ok == c->method_ok, "row %d: method_ok %d", _i,
	    r.method_ok);
	if (c->allow == NULL)
		ck_assert_ptr_null(r.allow);
	else
		ck_assert_str_eq(r.allow, c->allow);
	check_buf(_i, "id", &r.id, c->id ? c->id : "",
	    c->idlen ? c->idlen : c->id ? strlen(c->id) : 0);
	check_buf(_i, "location", &r.location, c->location ? c->location : "",
	    c->location ? strlen(c->location) : 0);
	if (c->location)
		check_buf(_i, "href", &r.href, c->href ? c->href : c->location,
		    strlen(c->href ? c->href : c->location));
	else
		ck_assert_uint_eq(r.href.len, 0);
	route_free(&r);
}
END_TEST

/* Following a redirect lands on a canonical path: matching its Location
 * again never redirects (nor is refused). */
START_TEST(test_redirect_is_final)
{
	const struct rcase *c = &rcases[_i];
	struct route r, again;
	const char *loc, *q;
	char *copy;

	if (c->kind != ROUTE_REDIRECT)
		return;
	route_init(&r);
	route_init(&again);
	ck_assert_int_eq(route_match(&r, c->method, c->path, strlen(c->path),
	    c->query), 0);
	copy = strndup((const char *)r.location.data, r.location.len);
	ck_assert_ptr_nonnull(copy);
	loc = copy;
	q = strchr(loc, '?');
	ck_assert_int_eq(route_match(&again, c->method, loc,
	    q ? (size_t)(q - loc) : strlen(loc), q ? q + 1 : NULL), 0);
	ck_assert_msg(again.kind != ROUTE_REDIRECT &&
	    again.kind != ROUTE_BAD_REQUEST, "row %d: %s -> %s -> kind %d", _i,
	    c->path, loc, again.kind);
	free(copy);
	route_free(&again);
	route_free(&r);
}
END_TEST

/* One struct serves many requests: each match starts from empty. */
START_TEST(test_route_reuse)
{
	struct route r;

	route_init(&r);
	ck_assert_int_eq(route_match(&r, "GET", "//x", 3, "q=1"), 0);
	ck_assert_int_eq(r.kind, ROUTE_REDIRECT);
	ck_assert_int_eq(route_match(&r, "GET", "/groups/abc", 11, NULL), 0);
	ck_assert_int_eq(r.kind, ROUTE_GROUP);
	ck_assert_uint_eq(r.location.len, 0);
	ck_assert_uint_eq(r.href.len, 0);
	ck_assert_uint_eq(r.id.len, 3);
	ck_assert_int_eq(route_match(&r, "POST", "/groups/abcd", 12, NULL), 0);
	ck_assert_int_eq(r.method_ok, 0);
	ck_assert_uint_eq(r.id.len, 4);
	ck_assert_int_eq(route_match(&r, "POST", "/create", 7, NULL), 0);
	ck_assert_int_eq(r.kind, ROUTE_CREATE);
	ck_assert_int_eq(r.method_ok, 1);
	ck_assert_uint_eq(r.id.len, 0);
	ck_assert_int_eq(route_match(&r, "GET", "/%zz", 4, NULL), 0);
	ck_assert_int_eq(r.kind, ROUTE_BAD_REQUEST);
	ck_assert_ptr_null(r.allow);
	route_free(&r);
	/* Free, then use again. */
	route_init(&r);
	ck_assert_int_eq(route_match(&r, "GET", "/", 1, NULL), 0);
	ck_assert_int_eq(r.kind, ROUTE_INDEX);
	route_free(&r);
}
END_TEST

/* The path is taken by length: bytes past path_len do not count. */
START_TEST(test_route_path_length)
{
	struct route r;

	route_init(&r);
	ck_assert_int_eq(route_match(&r, "POST", "/create?id=x", 7, NULL), 0);
	ck_assert_int_eq(r.kind, ROUTE_CREATE);
	ck_assert_int_eq(route_match(&r, "GET", "/groups/ab/c", 10, NULL), 0);
	ck_assert_int_eq(r.kind, ROUTE_GROUP);
	ck_assert_uint_eq(r.id.len, 2);
	ck_assert_int_eq(route_match(&r, "GET", "/groups/%41", 10, NULL), 0);
	ck_assert_int_eq(r.kind, ROUTE_BAD_REQUEST);
	route_free(&r);
}
END_TEST

/* An allocation failure is reported, not half a route. */
START_TEST(test_route_buf_error)
{
	struct route r;

	route_init(&r);
	r.id.limit = 2;
	errno = 0;
	ck_assert_int_eq(route_match(&r, "GET", "/groups/abc", 11, NULL), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(r.kind, ROUTE_NOT_FOUND);
	ck_assert_uint_eq(r.id.len, 0);
	ck_assert_ptr_null(r.allow);
	ck_assert_int_eq(route_match(&r, "GET", "/groups/ab", 10, NULL), 0);
	ck_assert_int_eq(r.kind, ROUTE_GROUP);
	r.location.limit = 4;
	errno = 0;
	ck_assert_int_eq(route_match(&r, "GET", "//create", 8, NULL), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(r.kind, ROUTE_NOT_FOUND);
	ck_assert_uint_eq(r.location.len, 0);
	ck_assert_uint_eq(r.href.len, 0);
	ck_assert_uint_eq(r.id.len, 0);
	route_free(&r);
}
END_TEST

static Suite *
route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("match");
	int n = (int)(sizeof(rcases) / sizeof(rcases[0]));

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_route_table, 0, n);
	tcase_add_loop_test(tc, test_redirect_is_final, 0, n);
	tcase_add_test(tc, test_route_reuse);
	tcase_add_test(tc, test_route_path_length);
	tcase_add_test(tc, test_route_buf_error);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(route_suite());
}
