/*
 * form against Go's net/url: each query row is what
 * url.ParseQuery(query) then .Get(key) gives (found: the key is present),
 * each path row what url.PathUnescape gives.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/buf.h"
#include "groupchat/gocompat/form.h"
#include "support/test_main.h"

struct qcase {
	const char *query;
	const char *key;
	int found;
	const char *value;
	size_t vlen; /* 0: strlen(value) */
};

static const struct qcase qcases[] = {
	{ "id=abc", "id", 1, "abc", 0 },
	{ "", "id", 0, "", 0 },
	{ "id=", "id", 1, "", 0 },
	{ "id", "id", 1, "", 0 },
	{ "idx=1", "id", 0, "", 0 },
	{ "x=1&id=2", "id", 1, "2", 0 },
	{ "id=1&id=2", "id", 1, "1", 0 },
	{ "id=&id=2", "id", 1, "", 0 },
	{ "ID=1", "id", 0, "", 0 },
	{ "Id=1&id=2", "id", 1, "2", 0 },
	{ "%69d=x", "id", 1, "x", 0 },
	{ "i%64=x", "id", 1, "x", 0 },
	{ "%49D=x", "ID", 1, "x", 0 },
	{ "id=a+b", "id", 1, "a b", 0 },
	{ "id=a%2Bb", "id", 1, "a+b", 0 },
	{ "id=a%2bb", "id", 1, "a+b", 0 },
	{ "id=a%20b", "id", 1, "a b", 0 },
	{ "id=%00", "id", 1, "\0", 1 },
	{ "id=a%00b", "id", 1, "a\0b", 3 },
	{ "id=%C3%A9", "id", 1, "\xc3\xa9", 0 },
	{ "id=%c3%a9", "id", 1, "\xc3\xa9", 0 },
	{ "id=\xc3\xa9", "id", 1, "\xc3\xa9", 0 },
	{ "id=%ff%FE", "id", 1, "\xff\xfe", 0 },
	{ "id=%e2%80%a8", "id", 1, "\xe2\x80\xa8", 0 },
	{ "id=a/b", "id", 1, "a/b", 0 },
	{ "id=a%2Fb", "id", 1, "a/b", 0 },
	{ "id=x%26y", "id", 1, "x&y", 0 },
	{ "id=x%3By", "id", 1, "x;y", 0 },
	{ "id=a=b", "id", 1, "a=b", 0 },
	{ "id==", "id", 1, "=", 0 },
	{ "id=abc#frag", "id", 1, "abc#frag", 0 },
	{ "id=%zz", "id", 0, "", 0 },
	{ "id=%zz&id=ok", "id", 1, "ok", 0 },
	{ "id=%", "id", 0, "", 0 },
	{ "id=%4", "id", 0, "", 0 },
	{ "id=a%&id=b", "id", 1, "b", 0 },
	{ "id=%4g&id=b", "id", 1, "b", 0 },
	{ "id=%%41", "id", 0, "", 0 },
	{ "%=x&id=y", "id", 1, "y", 0 },
	{ "%zz=1&id=2", "id", 1, "2", 0 },
	{ "id=a;b", "id", 0, "", 0 },
	{ "id=a;b&id=c", "id", 1, "c", 0 },
	{ "a=1;id=2", "id", 0, "", 0 },
	{ "id;=1&id=3", "id", 1, "3", 0 },
	{ "&&id=x&&", "id", 1, "x", 0 },
	{ "&", "id", 0, "", 0 },
	{ "id=1&", "id", 1, "1", 0 },
	{ "id%3D1=2", "id", 0, "", 0 },
	{ "id%3D1=2", "id=1", 1, "2", 0 },
	{ "id+=x", "id", 0, "", 0 },
	{ "id+=x", "id ", 1, "x", 0 },
	{ "id%20=x", "id ", 1, "x", 0 },
	{ "=x", "", 1, "x", 0 },
	{ "id=1&=x", "", 1, "x", 0 },
	{ "id=1", "", 0, "", 0 },
	{ "a=%00&%00=b", "a", 1, "\0", 1 },
	{ "i=1&d=2", "id", 0, "", 0 },
};

START_TEST(test_query_table)
{
	const struct qcase *c = &qcases[_i];
	size_t vlen = c->vlen ? c->vlen : strlen(c->value);
	struct buf out;
	int rc;

	buf_init(&out, 0);
	rc = form_query_get(c->query, strlen(c->query), c->key, &out);
	ck_assert_msg(rc == c->found, "row %d (%s): got %d, want %d", _i,
	    c->query, rc, c->found);
	ck_assert_msg(out.len == vlen &&
	    (vlen == 0 || memcmp(out.data, c->value, vlen) == 0),
	    "row %d (%s): got \"%.*s\"", _i, c->query, (int)out.len,
	    (const char *)out.data);
	buf_free(&out);
}
END_TEST

/* The query need not be NUL-terminated: only len bytes count. */
START_TEST(test_query_length_bounds)
{
	struct buf out;

	buf_init(&out, 0);
	ck_assert_int_eq(form_query_get("id=abc&id=zzz", 5, "id", &out), 1);
	ck_assert_uint_eq(out.len, 2);
	ck_assert(memcmp(out.data, "ab", 2) == 0);
	buf_reset(&out);
	/* A truncated escape at the cut is a bad escape. */
	ck_assert_int_eq(form_query_get("id=%41", 5, "id", &out), 0);
	ck_assert_uint_eq(out.len, 0);
	buf_reset(&out);
	/* A NUL inside the length is an ordinary byte. */
	ck_assert_int_eq(form_query_get("id=a\0b", 6, "id", &out), 1);
	ck_assert_uint_eq(out.len, 3);
	ck_assert(memcmp(out.data, "a\0b", 3) == 0);
	buf_reset(&out);
	ck_assert_int_eq(form_query_get(NULL, 0, "id", &out), 0);
	buf_free(&out);
}
END_TEST

START_TEST(test_query_appends_and_limit)
{
	struct buf out;

	buf_init(&out, 6);
	ck_assert_int_eq(buf_puts(&out, "x:"), 0);
	ck_assert_int_eq(form_query_get("id=a+b", 6, "id", &out), 1);
	ck_assert_uint_eq(out.len, 5);
	ck_assert(memcmp(out.data, "x:a b", 5) == 0);
	errno = 0;
	ck_assert_int_eq(form_query_get("id=cd", 5, "id", &out), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(out.len, 5);
	buf_free(&out);
}
END_TEST

struct pcase {
	const char *in;
	int ok;
	const char *out;
	size_t olen; /* 0: strlen(out) */
};

static const struct pcase pcases[] = {
	{ "", 1, "", 0 },
	{ "abc", 1, "abc", 0 },
	{ "a%2Fb", 1, "a/b", 0 },
	{ "a%2fb", 1, "a/b", 0 },
	{ "a+b", 1, "a+b", 0 },
	{ "%2B", 1, "+", 0 },
	{ "%20", 1, " ", 0 },
	{ "%2E%2E", 1, "..", 0 },
	{ "%00", 1, "\0", 1 },
	{ "%e2%80%a8", 1, "\xe2\x80\xa8", 0 },
	{ "%C3%A9x", 1, "\xc3\xa9x", 0 },
	{ "%25", 1, "%", 0 },
	{ "%2525", 1, "%25", 0 },
	{ "%", 0, "", 0 },
	{ "%4", 0, "", 0 },
	{ "a%", 0, "", 0 },
	{ "%4g", 0, "", 0 },
	{ "%g4", 0, "", 0 },
	{ "%%41", 0, "", 0 },
	{ "ok%41%zz", 0, "", 0 },
};

START_TEST(test_path_table)
{
	const struct pcase *c = &pcases[_i];
	size_t olen = c->olen ? c->olen : strlen(c->out);
	struct buf out;
	int rc;

	buf_init(&out, 0);
	ck_assert_int_eq(buf_puts(&out, "pre"), 0);
	errno = 0;
	rc = form_path_unescape(c->in, strlen(c->in), &out);
	if (!c->ok) {
		ck_assert_msg(rc == -1 && errno == EINVAL, "row %d (%s)", _i, c->in);
		ck_assert_uint_eq(out.len, 3);
	} else {
		ck_assert_msg(rc == 0, "row %d (%s)", _i, c->in);
		ck_assert_msg(out.len == 3 + olen &&
		    memcmp(out.data + 3, c->out, olen) == 0,
		    "row %d (%s): got \"%.*s\"", _i, c->in, (int)out.len - 3,
		    (const char *)out.data + 3);
	}
	ck_assert(memcmp(out.data, "pre", 3) == 0);
	buf_free(&out);
}
END_TEST

static Suite *
form_suite(void)
{
	Suite *s = suite_create("form");
	TCase *tq = tcase_create("query");
	TCase *tp = tcase_create("path");

	tcase_set_timeout(tq, 30);
	tcase_add_loop_test(tq, test_query_table, 0,
	    (int)(sizeof(qcases) / sizeof(qcases[0])));
	tcase_add_test(tq, test_query_length_bounds);
	tcase_add_test(tq, test_query_appends_and_limit);
	suite_add_tcase(s, tq);
	tcase_set_timeout(tp, 30);
	tcase_add_loop_test(tp, test_path_table, 0,
	    (int)(sizeof(pcases) / sizeof(pcases[0])));
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	return test_run(form_suite());
}
