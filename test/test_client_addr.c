/*
 * client_addr: the peer unless it is a trusted proxy; then
 * X-Forwarded-For from the right, stopping at the first hop not trusted,
 * never believing what a client put in front, never copying a byte that
 * is not part of an address.
 */
#include <check.h>
#include <string.h>

#include "groupchat/web/client_addr.h"
#include "support/test_main.h"

static struct cidr_set trusted;

static void
setup(void)
{
	const char *why;
	const char *list = "10.0.0.0/8,127.0.0.1";

	ck_assert_int_eq(cidr_set_parse(&trusted, list, strlen(list), &why), 0);
}

static const char *
addr(const char *peer, const char *xff)
{
	static char out[CLIENT_ADDR_MAX];

	memset(out, 'Z', sizeof(out));
	client_addr(peer, xff, &trusted, out);
	return out;
}

START_TEST(an_untrusted_peer_is_the_client_whatever_it_says)
{
	ck_assert_str_eq(addr("203.0.113.9", NULL), "203.0.113.9");
	ck_assert_str_eq(addr("203.0.113.9", "1.2.3.4"), "203.0.113.9");
	ck_assert_str_eq(addr("11.0.0.1", "1.2.3.4"), "11.0.0.1");
	/* With no proxy trusted, nobody is believed. */
	struct cidr_set none = { .n = 0 };
	char out[CLIENT_ADDR_MAX];
	client_addr("127.0.0.1", "1.2.3.4", &none, out);
	ck_assert_str_eq(out, "127.0.0.1");
}
END_TEST

START_TEST(a_trusted_peer_is_read_from_the_right)
{
	ck_assert_str_eq(addr("127.0.0.1", NULL), "127.0.0.1");
	ck_assert_str_eq(addr("127.0.0.1", "198.51.100.7"), "198.51.100.7");
	ck_assert_str_eq(addr("127.0.0.1", " 198.51.100.7 "), "198.51.100.7");
	/* A client's own header in front is not believed. */
	ck_assert_str_eq(addr("127.0.0.1", "6.6.6.6, 198.51.100.7"), "198.51.100.7");
	/* Trusted hops are skipped. */
	ck_assert_str_eq(addr("127.0.0.1", "6.6.6.6,198.51.100.7, 10.1.2.3,10.9.9.9"),
	    "198.51.100.7");
	/* All trusted: the leftmost. */
	ck_assert_str_eq(addr("10.0.0.5", "10.0.0.7, 127.0.0.1"), "10.0.0.7");
	/* An IPv6 client of a dual-stack proxy. */
	ck_assert_str_eq(addr("127.0.0.1", "2001:db8::1"), "2001:db8::1");
}
END_TEST

START_TEST(what_is_not_an_address_ends_the_walk)
{
	ck_assert_str_eq(addr("127.0.0.1", ""), "127.0.0.1");
	ck_assert_str_eq(addr("127.0.0.1", "unknown"), "127.0.0.1");
	ck_assert_str_eq(addr("127.0.0.1", "1.2.3.4, "), "127.0.0.1");
	ck_assert_str_eq(addr("127.0.0.1", "1.2.3.4,,10.0.0.1"), "10.0.0.1");
	ck_assert_str_eq(addr("127.0.0.1", "evil\nlog=1, 10.0.0.1"), "10.0.0.1");
	ck_assert_str_eq(addr("127.0.0.1", "x\"y"), "127.0.0.1");
	char big[CLIENT_ADDR_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_str_eq(addr("127.0.0.1", big), "127.0.0.1");
	big[CLIENT_ADDR_MAX - 1] = '\0';
	ck_assert_str_eq(addr("127.0.0.1", big), big);
}
END_TEST

static Suite *
client_addr_suite(void)
{
	Suite *s = suite_create("client_addr");
	TCase *tc = tcase_create("client_addr");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, an_untrusted_peer_is_the_client_whatever_it_says);
	tcase_add_test(tc, a_trusted_peer_is_read_from_the_right);
	tcase_add_test(tc, what_is_not_an_address_ends_the_walk);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(client_addr_suite());
}
