/*
 * test_redis_sentinels: the --redis-sentinel list parser (entries, the
 * default port, IPv6, every refusal and its bound), the --redis-master
 * name check, and the +switch-master payload: ours, another master's,
 * and malformed ones.
 */
#include "groupchat/cluster/redis_sentinels.h"
#include "support/test_main.h"

#include <check.h>
#include <errno.h>
#include <string.h>

static int
parse(const char *s, struct redis_sentinels *l, const char **why)
{
	return redis_sentinels_parse(s, strlen(s), l, why);
}

START_TEST(one_entry_with_and_without_port)
{
	struct redis_sentinels l;
	const char *why;

	ck_assert_int_eq(parse("10.0.0.5:26380", &l, &why), 0);
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.at[0].host, "10.0.0.5");
	ck_assert_int_eq(l.at[0].port, 26380);
	ck_assert_int_eq(parse("sentinel-a.example", &l, &why), 0);
	ck_assert_str_eq(l.at[0].host, "sentinel-a.example");
	ck_assert_int_eq(l.at[0].port, REDIS_SENTINEL_PORT);
}
END_TEST

START_TEST(several_entries_in_order_with_ipv6)
{
	struct redis_sentinels l;
	const char *why;
	char text[64];

	ck_assert_int_eq(parse("a:1,[::1]:2,b,[fe80::1]", &l, &why), 0);
	ck_assert_uint_eq(l.n, 4);
	ck_assert_str_eq(l.at[0].host, "a");
	ck_assert_int_eq(l.at[0].port, 1);
	ck_assert_str_eq(l.at[1].host, "::1");
	ck_assert_int_eq(l.at[1].port, 2);
	ck_assert_str_eq(l.at[2].host, "b");
	ck_assert_int_eq(l.at[2].port, REDIS_SENTINEL_PORT);
	ck_assert_str_eq(l.at[3].host, "fe80::1");
	redis_addr_text(&l.at[1], text, sizeof(text));
	ck_assert_str_eq(text, "[::1]:2");
	redis_addr_text(&l.at[0], text, sizeof(text));
	ck_assert_str_eq(text, "a:1");
	ck_assert(redis_addr_eq(&l.at[0], &l.at[0]));
	ck_assert(!redis_addr_eq(&l.at[0], &l.at[2]));
}
END_TEST

START_TEST(refusals_say_why_without_quoting)
{
	static const char *const bad[] = {
		"", ",", "a:1,", ",a:1", "a:1,,b:2", "a:0", "a:65536", "a:123456", "a:",
		"a:-1", "a:1x", ":26379", "[::1", "[]:1", "[zz]:1", "a b:1", "a:1 ",
		"user@a:1", "redis://a:1", "a:1/0", "[::1]x",
	};
	struct redis_sentinels l;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_msg(parse(bad[i], &l, &why) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_ptr_nonnull(why);
		ck_assert_uint_eq(l.n, 0);
		ck_assert_msg(bad[i][0] == '\0' || strstr(why, bad[i]) == NULL,
		    "reason quotes the input: %s", why);
	}
}
END_TEST

START_TEST(bounds)
{
	struct redis_sentinels l;
	const char *why;
	char s[4096], host[REDIS_URL_HOST_MAX + 2];
	size_t i;

	s[0] = '\0';
	for (i = 0; i < REDIS_SENTINELS_MAX; i++)
		strcat(s, i == 0 ? "h:1" : ",h:1");
	ck_assert_int_eq(parse(s, &l, &why), 0);
	ck_assert_uint_eq(l.n, REDIS_SENTINELS_MAX);
	strcat(s, ",h:1");
	ck_assert_int_eq(parse(s, &l, &why), -1);
	ck_assert_str_eq(why, "too many sentinels (at most 16)");

	memset(host, 'h', REDIS_URL_HOST_MAX);
	host[REDIS_URL_HOST_MAX] = '\0';
	ck_assert_int_eq(parse(host, &l, &why), 0);
	ck_assert_uint_eq(strlen(l.at[0].host), REDIS_URL_HOST_MAX);
	strcat(host, "h");
	ck_assert_int_eq(parse(host, &l, &why), -1);
	ck_assert_str_eq(why, "sentinel host is too long");
	/* Only len bytes are read: the rest of the buffer is not the list. */
	ck_assert_int_eq(redis_sentinels_parse("a:12,junk", 4, &l, &why), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(l.at[0].port, 12);
}
END_TEST

START_TEST(master_names)
{
	char longest[REDIS_MASTER_NAME_MAX + 2];

	ck_assert(redis_master_name_valid("mymaster"));
	ck_assert(redis_master_name_valid("gc-prod_1.a"));
	ck_assert(!redis_master_name_valid(""));
	ck_assert(!redis_master_name_valid("my master"));
	ck_assert(!redis_master_name_valid("tab\there"));
	ck_assert(!redis_master_name_valid("caf\xc3\xa9"));
	memset(longest, 'm', REDIS_MASTER_NAME_MAX);
	longest[REDIS_MASTER_NAME_MAX] = '\0';
	ck_assert(redis_master_name_valid(longest));
	strcat(longest, "m");
	ck_assert(!redis_master_name_valid(longest));
}
END_TEST

static int
sw(const char *p, const char *master, struct redis_addr *to)
{
	return redis_sentinels_switch(p, strlen(p), master, to);
}

START_TEST(switch_master_payloads)
{
	static const char *const bad[] = {
		"", "gm", "gm 10.0.0.1 6379 10.0.0.2", "gm 10.0.0.1 6379 10.0.0.2 6380 x",
		"gm 10.0.0.1 6379 10.0.0.2 0", "gm 10.0.0.1 x 10.0.0.2 6380",
		"gm  10.0.0.1 6379 10.0.0.2 6380", "gm 10.0.0.1 6379 10.0.0.2 6380 ",
		"gm 10.0.0.1 6379 10.0.0.2 65536", "gm 10.0.0.1 6379 \x7f 6380",
	};
	/* found by fuzz_redis_sentinels: NUL bytes where the new host goes */
	static const char nul_host[] = "gm J 2 \0\0\0\0; 2";
	struct redis_addr to = { "unchanged", 1 };

	ck_assert_int_eq(sw("gm 10.0.0.1 6379 10.0.0.2 6380", "gm", &to), 1);
	ck_assert_str_eq(to.host, "10.0.0.2");
	ck_assert_int_eq(to.port, 6380);
	ck_assert_int_eq(sw("gm 10.0.0.1 6379 ::1 6381", "gm", &to), 1);
	ck_assert_str_eq(to.host, "::1");
	ck_assert_int_eq(to.port, 6381);
	ck_assert_int_eq(sw("other 10.0.0.1 6379 10.0.0.9 7000", "gm", &to), 0);
	ck_assert_int_eq(sw("gmx 10.0.0.1 6379 10.0.0.9 7000", "gm", &to), 0);
	ck_assert_int_eq(sw("g 10.0.0.1 6379 10.0.0.9 7000", "gm", &to), 0);
	ck_assert_str_eq(to.host, "::1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_msg(sw(bad[i], "gm", &to) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
	}
	errno = 0;
	ck_assert_int_eq(redis_sentinels_switch(nul_host, sizeof(nul_host) - 1, "gm", &to), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(to.host, "::1");
}
END_TEST

START_TEST(addresses_from_a_sentinel)
{
	struct redis_addr a = { "kept", 9 };

	ck_assert_int_eq(redis_addr_set(&a, "10.0.0.3", 8, "6390", 4), 0);
	ck_assert_str_eq(a.host, "10.0.0.3");
	ck_assert_int_eq(a.port, 6390);
	ck_assert_int_eq(redis_addr_set(&a, "", 0, "6390", 4), -1);
	ck_assert_int_eq(redis_addr_set(&a, "a\0b", 3, "6390", 4), -1);
	ck_assert_int_eq(redis_addr_set(&a, "a b", 3, "6390", 4), -1);
	ck_assert_int_eq(redis_addr_set(&a, "h", 1, "0", 1), -1);
	ck_assert_int_eq(redis_addr_set(&a, "h", 1, "", 0), -1);
	ck_assert_str_eq(a.host, "10.0.0.3");
	ck_assert_int_eq(a.port, 6390);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("redis_sentinels");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, one_entry_with_and_without_port);
	tcase_add_test(tc, several_entries_in_order_with_ipv6);
	tcase_add_test(tc, refusals_say_why_without_quoting);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, master_names);
	tcase_add_test(tc, switch_master_payloads);
	tcase_add_test(tc, addresses_from_a_sentinel);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
