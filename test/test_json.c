/*
 * json_escape against Go's encoding/json (HTML escaping on, Go 1.22):
 * every row is what json.Marshal(string(in)) writes between the quotes.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/buf.h"
#include "groupchat/core/json.h"
#include "support/test_main.h"

struct jcase {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *out;
};

#define N(s) s, sizeof(s) - 1

static const struct jcase jcases[] = {
	{ "", 0, "" },
	{ "abc-123 XYZ", 0, "abc-123 XYZ" },
	{ "\"", 0, "\\\"" },
	{ "\\", 0, "\\\\" },
	{ "/", 0, "/" },
	{ "'", 0, "'" },
	{ "\b\f\n\r\t", 0, "\\b\\f\\n\\r\\t" },
	{ N("\0"), "\\u0000" },
	{ N("a\0b"), "a\\u0000b" },
	{ "\x01\x1f", 0, "\\u0001\\u001f" },
	{ "\x0b\x0e\x1a", 0, "\\u000b\\u000e\\u001a" },
	{ "\x7f", 0, "\x7f" },
	{ " ~", 0, " ~" },
	{ "<>&", 0, "\\u003c\\u003e\\u0026" },
	{ "<script>alert(\"x\")</script>", 0,
	  "\\u003cscript\\u003ealert(\\\"x\\\")\\u003c/script\\u003e" },
	{ "\xe2\x80\xa8\xe2\x80\xa9", 0, "\\u2028\\u2029" },
	{ "\xe2\x80\xa7\xe2\x80\xaa", 0, "\xe2\x80\xa7\xe2\x80\xaa" },
	{ "caf\xc3\xa9", 0, "caf\xc3\xa9" },
	{ "\xe4\xb8\xad", 0, "\xe4\xb8\xad" },
	{ "\xf0\x9f\x98\x80", 0, "\xf0\x9f\x98\x80" },
	{ "\xef\xbf\xbd", 0, "\xef\xbf\xbd" },
	{ "\xf4\x8f\xbf\xbf", 0, "\xf4\x8f\xbf\xbf" },
	{ "\xff", 0, "\\ufffd" },
	{ "a\xfe" "b", 0, "a\\ufffdb" },
	{ "\xc3", 0, "\\ufffd" },
	{ "\xe2\x82", 0, "\\ufffd\\ufffd" },
	{ "\xe2\x82" "A", 0, "\\ufffd\\ufffdA" },
	{ "\xc0\xaf", 0, "\\ufffd\\ufffd" },
	{ "\xe0\x80\xaf", 0, "\\ufffd\\ufffd\\ufffd" },
	{ "\xed\xa0\x80", 0, "\\ufffd\\ufffd\\ufffd" },
	{ "\xf4\x90\x80\x80", 0, "\\ufffd\\ufffd\\ufffd\\ufffd" },
	{ "\x80\xbf", 0, "\\ufffd\\ufffd" },
	{ "\xe2\x80\xa8\xff<", 0, "\\u2028\\ufffd\\u003c" },
	{ "id: a b/c", 0, "id: a b/c" },
};

START_TEST(test_escape_table)
{
	const struct jcase *c = &jcases[_i];
	size_t len = c->len ? c->len : strlen(c->in);
	struct buf out;

	buf_init(&out, 0);
	ck_assert_int_eq(json_escape(&out, c->in, len), 0);
	ck_assert_msg(out.len == strlen(c->out) &&
	    (out.len == 0 || memcmp(out.data, c->out, out.len) == 0),
	    "row %d: got \"%.*s\", want \"%s\"", _i, (int)out.len,
	    (const char *)out.data, c->out);
	buf_free(&out);
}
END_TEST

START_TEST(test_escape_appends)
{
	struct buf out;

	buf_init(&out, 0);
	ck_assert_int_eq(buf_puts(&out, "{\"message\":\"created group with id: "), 0);
	ck_assert_int_eq(json_escape(&out, "a<\"b\"", 5), 0);
	ck_assert_int_eq(buf_puts(&out, "\"}"), 0);
	ck_assert_uint_eq(out.len, strlen("{\"message\":\"created group with id: "
	    "a\\u003c\\\"b\\\"\"}"));
	ck_assert(memcmp(out.data, "{\"message\":\"created group with id: "
	    "a\\u003c\\\"b\\\"\"}", out.len) == 0);
	buf_free(&out);
}
END_TEST

/* A long input with escapes scattered through it: the run copying and
 * the per-byte escapes must stitch together exactly. */
START_TEST(test_escape_long)
{
	struct buf out, want;
	char in[3000];
	size_t i;

	buf_init(&out, 0);
	buf_init(&want, 0);
	for (i = 0; i < sizeof(in); i++) {
		in[i] = (char)(i % 97 == 0 ? '<' : 'a' + i % 26);
		ck_assert_int_eq(in[i] == '<' ? buf_puts(&want, "\\u003c") :
		    buf_append(&want, &in[i], 1), 0);
	}
	ck_assert_int_eq(json_escape(&out, in, sizeof(in)), 0);
	ck_assert_uint_eq(out.len, want.len);
	ck_assert(memcmp(out.data, want.data, want.len) == 0);
	buf_free(&out);
	buf_free(&want);
}
END_TEST

START_TEST(test_escape_limit_restores)
{
	struct buf out;

	/* Fits "ab" and part of the escape, then hits the cap. */
	buf_init(&out, 8);
	ck_assert_int_eq(buf_puts(&out, "ab"), 0);
	errno = 0;
	ck_assert_int_eq(json_escape(&out, "cd<efgh", 7), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(out.len, 2);
	ck_assert(memcmp(out.data, "ab", 2) == 0);
	/* An input whose escaping fills the cap exactly passes. */
	ck_assert_int_eq(json_escape(&out, "cdef\"", 5), 0);
	ck_assert_uint_eq(out.len, 8);
	ck_assert(memcmp(out.data, "abcdef\\\"", 8) == 0);
	buf_free(&out);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("escape");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_escape_table, 0,
	    (int)(sizeof(jcases) / sizeof(jcases[0])));
	tcase_add_test(tc, test_escape_appends);
	tcase_add_test(tc, test_escape_long);
	tcase_add_test(tc, test_escape_limit_restores);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(json_suite());
}
