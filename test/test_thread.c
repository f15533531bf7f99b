/*
 * test_thread: thread_start runs the function on a new thread with the
 * name and (at least) the stack size asked for, and reports a bad stack
 * size as an error with nothing started; thread_plan sizes the futex
 * hash.
 */
#include "groupchat/core/thread.h"
#include "support/test_main.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>

struct probe {
	void *arg_seen;
	char name[16];
	size_t stack;
};

static void *
probe_main(void *arg)
{
	struct probe *p = arg;
	pthread_attr_t attr;

	p->arg_seen = arg;
	pthread_getname_np(pthread_self(), p->name, sizeof(p->name));
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstacksize(&attr, &p->stack);
		pthread_attr_destroy(&attr);
	}
	return arg;
}

START_TEST(test_named_with_stack)
{
	struct probe p = { 0 };
	pthread_t t;
	void *ret;

	ck_assert_int_eq(thread_start(&t, "gc-probe", 256 * 1024, probe_main, &p), 0);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_ptr_eq(ret, &p);
	ck_assert_ptr_eq(p.arg_seen, &p);
	ck_assert_uint_ge(p.stack, 256 * 1024);
	ck_assert_uint_lt(p.stack, 1024 * 1024);
}
END_TEST

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

/* Blocks on gate, so the creator has named it before the name is read. */
static void *
gated_main(void *arg)
{
	struct probe *p = arg;

	pthread_mutex_lock(&gate);
	pthread_getname_np(pthread_self(), p->name, sizeof(p->name));
	pthread_mutex_unlock(&gate);
	return NULL;
}

START_TEST(test_name)
{
	struct probe p = { 0 };
	pthread_t t;

	pthread_mutex_lock(&gate);
	ck_assert_int_eq(thread_start(&t, "gc-named", 64 * 1024, gated_main, &p), 0);
	pthread_mutex_unlock(&gate);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_str_eq(p.name, "gc-named");
}
END_TEST

START_TEST(test_bad_stack)
{
	pthread_t t;

	errno = 0;
	/* Below PTHREAD_STACK_MIN: pthread_attr_setstacksize refuses it. */
	ck_assert_int_eq(thread_start(&t, "gc-tiny", 1, probe_main, NULL), EINVAL);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* The kernel reports the hash's size back (PR_FUTEX_HASH_GET_SLOTS, 2):
 * one bucket per planned thread, rounded up to a power of two. Where it
 * has no per-process hash the plan says EINVAL, and the size reads as
 * unknown (-1, before Linux 6.16) or none (0, a kernel built without
 * private hashes). */
START_TEST(test_plan)
{
	int slots;

	if (thread_plan(5000) == -1) {
		ck_assert_int_eq(errno, EINVAL);
		slots = prctl(78, 2, 0UL, 0UL, 0UL);
		ck_assert(slots == -1 || slots == 0);
		return;
	}
	ck_assert_int_eq(prctl(78, 2, 0UL, 0UL, 0UL), 8192);
	ck_assert_int_eq(thread_plan(3), 0);
	ck_assert_int_eq(prctl(78, 2, 0UL, 0UL, 0UL), 16);
}
END_TEST

static Suite *
thread_suite(void)
{
	Suite *s = suite_create("thread");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_named_with_stack);
	tcase_add_test(tc, test_name);
	tcase_add_test(tc, test_bad_stack);
	tcase_add_test(tc, test_plan);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(thread_suite());
}
