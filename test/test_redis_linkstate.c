/*
 * test_redis_linkstate: the link state the Redis actors share: down is
 * reported once per reason, up clears the reason so the same failure is
 * reported again, a drop frees the link and reports its own reason, and
 * the reconnect backoff doubles up to its cap.
 */
#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_linkstate.h"
#include "support/test_main.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

struct seen {
	int n;
	int up[8];
	char reason[8][64];
};

static void
on_link(void *arg, int up, const char *reason)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 8);
	s->up[s->n] = up;
	snprintf(s->reason[s->n], sizeof(s->reason[0]), "%s", reason ? reason : "(null)");
	s->n++;
}

static int freed;

static const char *
t_error(struct redis_link *l)
{
	(void)l;
	return "Connection reset by peer";
}

static void
t_free(struct redis_link *l)
{
	(void)l;
	freed++;
}

static const struct redis_link_ops t_ops = { NULL, NULL, NULL, NULL, t_error, t_free };

START_TEST(down_once_per_reason)
{
	struct seen s = { 0 };
	struct redis_linkstate ls = { on_link, &s, 0, "" };

	redis_linkstate_down(&ls, "connect: Connection refused");
	redis_linkstate_down(&ls, "connect: Connection refused");
	redis_linkstate_down(&ls, "AUTH: WRONGPASS");
	ck_assert_int_eq(s.n, 2);
	ck_assert_int_eq(s.up[0], 0);
	ck_assert_str_eq(s.reason[0], "connect: Connection refused");
	ck_assert_str_eq(s.reason[1], "AUTH: WRONGPASS");
	redis_linkstate_up(&ls);
	redis_linkstate_down(&ls, "AUTH: WRONGPASS");
	ck_assert_int_eq(s.n, 4);
	ck_assert_int_eq(s.up[2], 1);
	ck_assert_str_eq(s.reason[2], "(null)");
	ck_assert_int_eq(s.up[3], 0);
	ck_assert_str_eq(s.reason[3], "AUTH: WRONGPASS");
}
END_TEST

START_TEST(drop_frees_and_reports)
{
	struct seen s = { 0 };
	struct redis_linkstate ls = { on_link, &s, 0, "" };
	struct redis_link link = { &t_ops, 100 }, *l = &link;

	redis_linkstate_up(&ls);
	freed = 0;
	redis_linkstate_drop(&ls, &l, "publish", NULL);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(freed, 1);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.reason[1], "publish: Connection reset by peer");
	l = &link;
	redis_linkstate_drop(&ls, &l, NULL, "PING: timed out");
	ck_assert_int_eq(freed, 2);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.reason[2], "PING: timed out");
}
END_TEST

START_TEST(backoff_doubles_to_cap)
{
	long ms = REDIS_BACKOFF_MIN_MS;
	int steps = 0;

	while (ms < REDIS_BACKOFF_MAX_MS) {
		ck_assert_int_eq(redis_backoff_next(ms), ms * 2 > REDIS_BACKOFF_MAX_MS ?
		    REDIS_BACKOFF_MAX_MS : ms * 2);
		ms = redis_backoff_next(ms);
		steps++;
	}
	ck_assert_int_eq(steps, 6);     /* 50 100 200 400 800 1600 2000 */
	ck_assert_int_eq(redis_backoff_next(REDIS_BACKOFF_MAX_MS), REDIS_BACKOFF_MAX_MS);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("redis_linkstate");
	TCase *tc = tcase_create("state");

	tcase_add_test(tc, down_once_per_reason);
	tcase_add_test(tc, drop_frees_and_reports);
	tcase_add_test(tc, backoff_doubles_to_cap);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
