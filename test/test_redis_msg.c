/*
 * test_redis_msg: the channel payload parser alone: what the publish and
 * delete scripts send is taken apart exactly, and anything else, an
 * incarnation that is not REDIS_INC_LEN lowercase hex digits above all,
 * is refused with EINVAL.
 */
#include "groupchat/cluster/redis_msg.h"
#include "support/test_main.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#define INC "0123456789abcdef0123456789abcdef"
#define EP "00000000000000e1"

static int
parse(const char *p, size_t n, struct redis_msg *m)
{
	errno = 0;
	return redis_msg_parse(p, n, m);
}

START_TEST(message_and_delete)
{
	static const char msg[] = "m " INC " " EP " 42 tab12cd - hi there";
	static const char del[] = "d " INC " 17";
	struct redis_msg m;

	ck_assert_int_eq(parse(msg, sizeof(msg) - 1, &m), 0);
	ck_assert_int_eq(m.kind, RE_MESSAGE);
	ck_assert_str_eq(m.inc, INC);
	ck_assert_str_eq(m.ep, EP);
	ck_assert_uint_eq(m.seq, 42);
	ck_assert_uint_eq(m.flen, strlen("tab12cd - hi there"));
	ck_assert(memcmp(m.frame, "tab12cd - hi there", m.flen) == 0);
	ck_assert_int_eq(parse(del, sizeof(del) - 1, &m), 0);
	ck_assert_int_eq(m.kind, RE_DELETED);
	ck_assert_str_eq(m.inc, INC);
	ck_assert_uint_eq(m.seq, 17);
}
END_TEST

static const char *const bad[] = {
	"",
	"m",
	"x " INC " 1 tf",
	"m " INC " " EP " 0 tf",                                /* no sequence 0 */
	"m " INC " " EP " 1",                                   /* no space before the frame */
	"m " INC " " EP " 99999999999999999999 tf",             /* past 64 bits */
	"m " INC " " EP " 1x tf",
	"d " INC,                                        /* no last number */
	"d " INC " ",
	"d " INC " 4x",
	"d " INC " 4 ",                                  /* nothing after it */
	"m 0123456789ABCDEF0123456789abcdef " EP " 1 tf", /* upper case */
	"m 0123456789abcdeg0123456789abcdef " EP " 1 tf", /* not hex */
	"m 0123456789abcde 0123456789abcdef " EP " 1 tf", /* a space inside */
	"m " INC " 1 tf",                                /* no epoch */
	"m " INC " 00000000000000E1 1 tf",               /* an upper-case epoch */
	"m " INC " 0000000000000e1 1 tf",                /* one digit short */
	"d 0123456789abcdef0123456789abcde 1",           /* one digit short */
};

START_TEST(refused)
{
	struct redis_msg m;

	ck_assert_int_eq(parse(bad[_i], strlen(bad[_i]), &m), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* A NUL in the incarnation would compare equal to an empty one. */
START_TEST(nul_in_incarnation_refused)
{
	char p[sizeof("m " INC " " EP " 1 tf")];
	struct redis_msg m;

	memcpy(p, "m " INC " " EP " 1 tf", sizeof(p));
	p[2] = '\0';
	ck_assert_int_eq(parse(p, sizeof(p) - 1, &m), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("redis_msg");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, message_and_delete);
	tcase_add_loop_test(tc, refused, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, nul_in_incarnation_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
