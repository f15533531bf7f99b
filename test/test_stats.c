/*
 * test_stats: initialisation, the close-code slots, and uptime measured
 * against CLOCK_MONOTONIC readings taken around it.
 */
#include "groupchat/core/stats.h"
#include "support/test_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const uint16_t listed[STATS_NCLOSE - 1] = STATS_CLOSE_CODES;

static double
since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	    (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

START_TEST(test_init_zeroes)
{
	struct stats st;
	unsigned i;

	memset(&st, 0xff, sizeof(st));
	stats_init(&st);
	ck_assert_uint_eq(stats_get(&st, groups), 0);
	ck_assert_uint_eq(stats_get(&st, members), 0);
	ck_assert_uint_eq(stats_get(&st, group_threads), 0);
	ck_assert_uint_eq(stats_get(&st, msgs_in), 0);
	ck_assert_uint_eq(stats_get(&st, msgs_out), 0);
	ck_assert_uint_eq(stats_get(&st, bytes_in), 0);
	ck_assert_uint_eq(stats_get(&st, bytes_out), 0);
	ck_assert_uint_eq(stats_get(&st, slow_drops), 0);
	ck_assert_uint_eq(stats_get(&st, joins_refused), 0);
	for (i = 0; i < STATS_NCLOSE; i++)
		ck_assert_uint_eq(stats_get(&st, closes[i]), 0);

	stats_add(&st, members, 3);
	stats_sub(&st, members, 1);
	ck_assert_uint_eq(stats_get(&st, members), 2);
}
END_TEST

START_TEST(test_close_code_slots)
{
	unsigned i;

	ck_assert_uint_eq(stats_close_code(0), 0);
	for (i = 1; i < STATS_NCLOSE; i++)
		ck_assert_uint_eq(stats_close_code(i), listed[i - 1]);
	ck_assert_uint_eq(stats_close_code(1), 1000);
	ck_assert_uint_eq(stats_close_code(STATS_NCLOSE - 1), 1013);
}
END_TEST

START_TEST(test_count_close)
{
	static const uint16_t unlisted[] = { 0, 999, 1003, 1005, 1010, 3000, 4000, 65535 };
	struct stats st;
	unsigned i, j;

	stats_init(&st);
	/* Listed code i gets i + 1 counts, in its own slot only. */
	for (i = 1; i < STATS_NCLOSE; i++) {
		for (j = 0; j <= i; j++)
			stats_count_close(&st, stats_close_code(i));
	}
	for (i = 0; i < sizeof(unlisted) / sizeof(unlisted[0]); i++)
		stats_count_close(&st, unlisted[i]);

	ck_assert_uint_eq(stats_get(&st, closes[0]),
	    sizeof(unlisted) / sizeof(unlisted[0]));
	for (i = 1; i < STATS_NCLOSE; i++)
		ck_assert_uint_eq(stats_get(&st, closes[i]), i + 1);
}
END_TEST

START_TEST(test_uptime)
{
	struct stats st;
	struct timespec before;
	double up, hi, prev;
	int rises = 0, falls = 0, i;

	clock_gettime(CLOCK_MONOTONIC, &before);
	stats_init(&st);
	/* Uptime lies between 0 and a reading taken before stats_init. */
	up = stats_uptime(&st);
	hi = since(&before);
	ck_assert(up >= 0 && up <= hi);

	/* It grows: keep reading until it has risen past 10 ms. */
	prev = up;
	for (i = 0; i < 100000000 && prev < 0.010; i++) {
		up = stats_uptime(&st);
		rises += up > prev;
		falls += up < prev;
		prev = up;
	}
	ck_assert(prev >= 0.010);
	ck_assert_int_eq(falls, 0);
	ck_assert_int_gt(rises, 0);
	hi = since(&st.started);
	ck_assert(stats_uptime(&st) >= hi);
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_init_zeroes);
	tcase_add_test(tc, test_close_code_slots);
	tcase_add_test(tc, test_count_close);
	tcase_add_test(tc, test_uptime);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(stats_suite());
}
