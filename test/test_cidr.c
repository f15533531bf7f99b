/*
 * cidr: dotted quads parsed strictly, network lists as --trusted-proxies
 * takes them, and membership at the edges of a network.
 */
#include <check.h>
#include <string.h>

#include "groupchat/core/cidr.h"
#include "support/test_main.h"

static int
ip(const char *s, uint32_t *a)
{
	return cidr_ipv4_parse(s, strlen(s), a);
}

START_TEST(dotted_quads_parse_strictly)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.04", "01.2.3.4", "1..3.4",
		"1.2.3.4 ", " 1.2.3.4", "1.2.3.-4", "0x1.2.3.4", "1.2.3.4/8", "1234.1.1.1",
		"1.2.3.", ".1.2.3",
	};
	uint32_t a = 7;

	ck_assert_int_eq(ip("1.2.3.4", &a), 0);
	ck_assert_uint_eq(a, 0x01020304u);
	ck_assert_int_eq(ip("255.255.255.255", &a), 0);
	ck_assert_uint_eq(a, 0xFFFFFFFFu);
	ck_assert_int_eq(ip("0.0.0.0", &a), 0);
	ck_assert_uint_eq(a, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = 7;
		ck_assert_msg(ip(bad[i], &a) == -1, "\"%s\" parsed", bad[i]);
		ck_assert_uint_eq(a, 7);
	}
	/* The length bounds the parse, not a NUL. */
	ck_assert_int_eq(cidr_ipv4_parse("10.0.0.1junk", 8, &a), 0);
	ck_assert_uint_eq(a, 0x0A000001u);
}
END_TEST

static int
set(struct cidr_set *s, const char *text, const char **why)
{
	return cidr_set_parse(s, text, strlen(text), why);
}

static int
has(const struct cidr_set *s, const char *addr)
{
	uint32_t a;

	ck_assert_int_eq(ip(addr, &a), 0);
	return cidr_set_has(s, a);
}

START_TEST(network_lists_and_membership)
{
	struct cidr_set s;
	const char *why = NULL;

	ck_assert_int_eq(set(&s, "10.0.0.0/8, 192.168.1.7 ,\t172.16.0.0/12", &why), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert(has(&s, "10.0.0.0") && has(&s, "10.255.255.255"));
	ck_assert(!has(&s, "11.0.0.0") && !has(&s, "9.255.255.255"));
	ck_assert(has(&s, "192.168.1.7") && !has(&s, "192.168.1.8"));
	ck_assert(has(&s, "172.31.255.255") && !has(&s, "172.32.0.0"));
	/* Host bits are ignored; /0 holds everything, /32 one address. */
	ck_assert_int_eq(set(&s, "127.0.0.1/8", &why), 0);
	ck_assert(has(&s, "127.9.9.9"));
	ck_assert_int_eq(set(&s, "0.0.0.0/0", &why), 0);
	ck_assert(has(&s, "8.8.8.8") && has(&s, "255.255.255.255"));
	ck_assert_int_eq(set(&s, "8.8.8.8/32", &why), 0);
	ck_assert(has(&s, "8.8.8.8") && !has(&s, "8.8.8.9"));
}
END_TEST

START_TEST(bad_lists_are_refused_and_leave_the_set)
{
	static const char *const bad[] = {
		"", " ", "10.0.0.0/8,", ",10.0.0.1", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08",
		"10.0.0.0/8/8", "10.0.0.0/x", "fe80::1", "localhost", "10.0.0.1;10.0.0.2",
		"10.0.0.0 /8",
	};
	struct cidr_set s;
	const char *why;
	char many[32 * 9 + 16] = "";

	ck_assert_int_eq(set(&s, "1.1.1.1", &why), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(set(&s, bad[i], &why) == -1, "\"%s\" parsed", bad[i]);
		ck_assert_ptr_nonnull(why);
		ck_assert(s.n == 1 && has(&s, "1.1.1.1"));
	}
	for (int i = 0; i < CIDR_SET_MAX; i++)
		strcat(many, i == 0 ? "10.0.0.1" : ",10.0.0.1");
	ck_assert_int_eq(set(&s, many, &why), 0);
	ck_assert_uint_eq(s.n, CIDR_SET_MAX);
	strcat(many, ",10.0.0.1");
	ck_assert_int_eq(set(&s, many, &why), -1);
	ck_assert_str_eq(why, "more than 32 networks");
}
END_TEST

static Suite *
cidr_suite(void)
{
	Suite *s = suite_create("cidr");
	TCase *tc = tcase_create("cidr");

	tcase_add_test(tc, dotted_quads_parse_strictly);
	tcase_add_test(tc, network_lists_and_membership);
	tcase_add_test(tc, bad_lists_are_refused_and_leave_the_set);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(cidr_suite());
}
