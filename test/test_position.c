/*
 * test_position: "<epoch>:<offset>" read strictly and written back. The
 * spellings the server writes parse to what was written; everything
 * else is refused with a reason: a missing or misplaced colon, an epoch
 * not 16 lowercase hex digits, an empty, signed, spaced, leading-zero or
 * overflowing offset, trailing bytes, a NUL inside.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "groupchat/core/frame.h"
#include "groupchat/core/position.h"
#include "support/test_main.h"

static int
parse(const char *s, struct position *p, const char **why)
{
	return position_parse(s, strlen(s), p, why);
}

START_TEST(test_round_trip)
{
	static const struct position ps[] = {
		{ 0, 0 }, { 0x0123456789abcdefULL, 1 }, { UINT64_MAX, UINT64_MAX },
		{ 0xfedcba9876543210ULL, 1000000 },
	};
	char buf[POSITION_MAX];
	struct position got;
	const char *why = NULL;

	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		size_t n = position_format(&ps[i], buf);
		ck_assert_uint_eq(n, strlen(buf));
		ck_assert_int_eq(position_parse(buf, n, &got, &why), 0);
		ck_assert_uint_eq(got.epoch, ps[i].epoch);
		ck_assert_uint_eq(got.offset, ps[i].offset);
	}
	position_format(&ps[0], buf);
	ck_assert_str_eq(buf, "0000000000000000:0");
	position_format(&ps[2], buf);
	ck_assert_str_eq(buf, "ffffffffffffffff:18446744073709551615");
	ck_assert_uint_eq(strlen(buf) + 1, POSITION_MAX);
}
END_TEST

START_TEST(test_refused)
{
	static const struct {
		const char *s;
		const char *why;
	} bad[] = {
		{ "", "not <epoch>:<offset>" },
		{ "0123456789abcdef", "not <epoch>:<offset>" },
		{ "0123456789abcdef:", "not <epoch>:<offset>" },
		{ "0123456789abcde:1", "not <epoch>:<offset>" },
		{ "0123456789abcdef0:1", "not <epoch>:<offset>" },
		{ "0123456789ABCDEF:1", "epoch is not 16 lowercase hex digits" },
		{ "0123456789abcdeg:1", "epoch is not 16 lowercase hex digits" },
		{ " 123456789abcdef:1", "epoch is not 16 lowercase hex digits" },
		{ "0123456789abcdef:01", "offset has a leading zero" },
		{ "0123456789abcdef:00", "offset has a leading zero" },
		{ "0123456789abcdef:-1", "offset is not a decimal number" },
		{ "0123456789abcdef:+1", "offset is not a decimal number" },
		{ "0123456789abcdef:1 ", "offset is not a decimal number" },
		{ "0123456789abcdef:1:2", "offset is not a decimal number" },
		{ "0123456789abcdef:0x1", "offset has a leading zero" },
		{ "0123456789abcdef:1x", "offset is not a decimal number" },
		{ "0123456789abcdef:18446744073709551616", "offset is too large" },
		{ "0123456789abcdef:99999999999999999999", "offset is too large" },
	};
	struct position p = { 7, 7 };
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(parse(bad[i].s, &p, &why) == -1, "accepted '%s'", bad[i].s);
		ck_assert_str_eq(why, bad[i].why);
		ck_assert_uint_eq(p.epoch, 7); /* untouched on failure */
	}
	/* A NUL inside is a byte like any other: refused, not cut short. */
	ck_assert_int_eq(position_parse("0123456789abcdef:1\0", 19, &p, &why), -1);
	ck_assert_int_eq(position_parse("0123456789abcdef:1", 18, &p, &why), 0);
	ck_assert_uint_eq(p.epoch, 0x0123456789abcdefULL);
	ck_assert_uint_eq(p.offset, 1);
}
END_TEST

/* A message spelled at a position: same opcode, "<p>\n" then its payload. */
START_TEST(test_stamp)
{
	struct position p = { 0xabcULL, 42 };
	struct frame *m = frame_new(FRAME_BINARY, "ab", 2, "\0c", 2), *v;
	static const char want[] = "0000000000000abc:42\nab\0c";

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(v = position_stamp(&p, m));
	ck_assert_int_eq(frame_opcode(v), FRAME_BINARY);
	ck_assert_uint_eq(frame_payload_len(v), sizeof(want) - 1);
	ck_assert_mem_eq(frame_payload(v), want, sizeof(want) - 1);
	frame_unref(v);
	frame_unref(m);
}
END_TEST

static Suite *
position_suite(void)
{
	Suite *s = suite_create("position");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_stamp);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(position_suite());
}
