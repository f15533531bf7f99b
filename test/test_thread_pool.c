/*
 * test_thread_pool: parked threads reused one task at a time. A task
 * records the thread it ran on (its kernel id) and can be held until the
 * test releases it, so "runs concurrently" and "reused" are observed
 * through what the tasks saw; that a thread ended is read from
 * /proc/self/task, waited for with a deadline; which stack a thread ran
 * on, from the address of the task's frame.
 */
#include "groupchat/core/chan.h"
#include "groupchat/core/thread_pool.h"
#include "groupchat/core/thread.h"
#include "support/itest.h"
#include "support/test_main.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 5000

/* What the tasks share with the test, under mu. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static bool hold;        /* tasks wait while set */
static int running;      /* tasks that started */

struct task {
	pid_t tid;           /* the thread it ran on */
	char name[16];       /* that thread's name */
	uintptr_t frame;     /* where on that thread's stack it ran */
};

static void
setup(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	hold = false;
	running = 0;
}

static void
teardown(void)
{
	pthread_cond_destroy(&cv);
}

static void
task_main(void *arg)
{
	struct task *t = arg;

	pthread_getname_np(pthread_self(), t->name, sizeof(t->name));
	t->frame = (uintptr_t)__builtin_frame_address(0);
	pthread_mutex_lock(&mu);
	t->tid = gettid();
	running++;
	pthread_cond_broadcast(&cv);
	while (hold)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

/* 1 if running reaches n within WAIT_MS. */
static int
wait_running(int n)
{
	struct timespec dl;
	int ok;

	chan_deadline(&dl, WAIT_MS);
	pthread_mutex_lock(&mu);
	while (running < n)
		if (pthread_cond_timedwait(&cv, &mu, &dl) == ETIMEDOUT)
			break;
	ok = running >= n;
	pthread_mutex_unlock(&mu);
	return ok;
}

static void
release(void)
{
	pthread_mutex_lock(&mu);
	hold = false;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static bool
thread_alive(pid_t tid)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	return stat(path, &sb) == 0;
}

static int
thread_gone(void *arg)
{
	const pid_t *tid = arg;

	return !thread_alive(*tid);
}

/* 1 if thread tid is gone within WAIT_MS. A joined thread has exited,
 * but its /proc entry may outlive the join by a moment. */
static int
wait_gone(pid_t tid)
{
	return it_wait_until(thread_gone, &tid, WAIT_MS);
}

/* The parked thread is reused, under the pool's name. */
START_TEST(a_parked_thread_runs_the_next_task)
{
	struct thread_pool *p = thread_pool_new("t-pool", 64 * 1024, 4);
	struct task a = { 0 }, b = { 0 };
	struct pooled *t;

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(t = thread_pool_run(p, task_main, &a));
	thread_pool_wait(p, t);
	ck_assert_uint_eq(thread_pool_parked(p), 1);
	ck_assert_ptr_nonnull(t = thread_pool_run(p, task_main, &b));
	thread_pool_wait(p, t);
	ck_assert_int_ne(a.tid, 0);
	ck_assert_int_eq(a.tid, b.tid);
	/* The pool's threads name themselves. */
	ck_assert_str_eq(a.name, "t-pool");
	ck_assert_uint_eq(thread_pool_parked(p), 1);
	thread_pool_free(p);
	ck_assert(wait_gone(a.tid));
}
END_TEST

/* Tasks not yet waited for never share a thread, even when threads are
 * parked; and a parked thread is taken before a new one is started. */
START_TEST(each_task_has_a_thread_of_its_own_until_waited_for)
{
	struct thread_pool *p = thread_pool_new("t-pool", 64 * 1024, 8);
	struct task k[4] = { { 0 } }, again = { 0 };
	struct pooled *t[4], *u;
	int i, j;

	ck_assert_ptr_nonnull(p);
	hold = true;
	for (i = 0; i < 4; i++)
		ck_assert_ptr_nonnull(t[i] = thread_pool_run(p, task_main, &k[i]));
	ck_assert(wait_running(4));
	for (i = 0; i < 4; i++)
		for (j = i + 1; j < 4; j++)
			ck_assert_int_ne(k[i].tid, k[j].tid);
	release();
	thread_pool_wait(p, t[1]);
	ck_assert_uint_eq(thread_pool_parked(p), 1);
	/* The one parked is the one handed out. */
	ck_assert_ptr_nonnull(u = thread_pool_run(p, task_main, &again));
	thread_pool_wait(p, u);
	ck_assert_int_eq(again.tid, k[1].tid);
	thread_pool_wait(p, t[0]);
	thread_pool_wait(p, t[2]);
	thread_pool_wait(p, t[3]);
	ck_assert_uint_eq(thread_pool_parked(p), 4);
	thread_pool_free(p);
	for (i = 0; i < 4; i++)
		ck_assert_msg(wait_gone(k[i].tid), "thread %d outlived the pool", i);
}
END_TEST

/* Past max_parked, a thread whose task returned is ended and joined in
 * thread_pool_wait; free ends and joins every parked one. */
START_TEST(at_most_max_parked_wait_and_free_joins_them_all)
{
	struct thread_pool *p = thread_pool_new("t-pool", 64 * 1024, 2);
	struct task k[5] = { { 0 } };
	struct pooled *t[5];
	int i;

	ck_assert_ptr_nonnull(p);
	hold = true;
	for (i = 0; i < 5; i++)
		ck_assert_ptr_nonnull(t[i] = thread_pool_run(p, task_main, &k[i]));
	ck_assert(wait_running(5));
	release();
	for (i = 0; i < 5; i++)
		thread_pool_wait(p, t[i]);
	ck_assert_uint_eq(thread_pool_parked(p), 2);
	/* The first two parked; the other three ended when waited for. */
	for (i = 2; i < 5; i++)
		ck_assert_msg(wait_gone(k[i].tid), "thread %d past the bound lives on", i);
	ck_assert(thread_alive(k[0].tid) && thread_alive(k[1].tid));
	thread_pool_free(p);
	ck_assert(wait_gone(k[0].tid) && wait_gone(k[1].tid));
}
END_TEST

#if !defined(THREAD_TSAN)
/* A thread that cannot start leaves the task unrun and the pool as it
 * was (a stack of one page, below PTHREAD_STACK_MIN, makes every start
 * fail). */
START_TEST(a_thread_that_cannot_start_runs_nothing)
{
	struct thread_pool *p = thread_pool_new("t-pool", 1, 2);
	struct task a = { 0 };

	ck_assert_ptr_nonnull(p);
	errno = 0;
	ck_assert_ptr_null(thread_pool_run(p, task_main, &a));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(running, 0);
	ck_assert_uint_eq(thread_pool_parked(p), 0);
	thread_pool_free(p);
}
END_TEST
#endif

static uintptr_t
distance(uintptr_t x, uintptr_t y)
{
	return x > y ? x - y : y - x;
}

/* With nothing parked a waited-for thread ends and is joined, and its
 * stack goes back to its own pool: another pool's next thread starts
 * elsewhere (glibc's stack cache, process-wide, would hand it over),
 * the same pool's next thread on it. Stacks lie a stack size apart at
 * least, so a frame within that distance is on the same stack. */
START_TEST(an_ended_threads_stack_serves_its_pools_next)
{
	size_t size = 64 * 1024;
	struct thread_pool *p = thread_pool_new("t-pool", size, 0);
	struct thread_pool *q = thread_pool_new("t-other", size, 0);
	struct task a = { 0 }, b = { 0 }, c = { 0 };

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(q);
	thread_pool_wait(p, thread_pool_run(p, task_main, &a));
	ck_assert(wait_gone(a.tid));
	thread_pool_wait(q, thread_pool_run(q, task_main, &b));
	ck_assert(wait_gone(b.tid));
	ck_assert_msg(distance(a.frame, b.frame) >= size,
	    "frames %#lx and %#lx: another pool's stack", (unsigned long)a.frame,
	    (unsigned long)b.frame);
	thread_pool_wait(p, thread_pool_run(p, task_main, &c));
	ck_assert_int_ne(a.tid, c.tid);
	ck_assert_msg(distance(a.frame, c.frame) < size,
	    "frames %#lx and %#lx: not the stack left", (unsigned long)a.frame,
	    (unsigned long)c.frame);
	thread_pool_free(q);
	thread_pool_free(p);
}
END_TEST

/* A stack size of part pages is rounded up: the pool works. */
START_TEST(a_stack_of_part_pages_is_rounded_up)
{
	struct thread_pool *p = thread_pool_new("t-pool", 64 * 1024 + 1, 1);
	struct task a = { 0 };

	ck_assert_ptr_nonnull(p);
	thread_pool_wait(p, thread_pool_run(p, task_main, &a));
	ck_assert_int_eq(running, 1);
	thread_pool_free(p);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("thread_pool");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, a_parked_thread_runs_the_next_task);
	tcase_add_test(tc, each_task_has_a_thread_of_its_own_until_waited_for);
	tcase_add_test(tc, at_most_max_parked_wait_and_free_joins_them_all);
#if !defined(THREAD_TSAN)
	/* ThreadSanitizer builds round every pool stack up to 1 MiB
	 * (THREAD_STACK_OWN), so a one-page stack cannot make them fail. */
	tcase_add_test(tc, a_thread_that_cannot_start_runs_nothing);
#endif
	tcase_add_test(tc, an_ended_threads_stack_serves_its_pools_next);
	tcase_add_test(tc, a_stack_of_part_pages_is_rounded_up);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
