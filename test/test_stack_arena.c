/*
 * test_stack_arena: stacks handed out are writable, page-aligned, apart
 * and guarded (a child process that writes to the page below one dies
 * of it, whichever way the kernel guards it); a stack put back is handed out next with its pages
 * given back (it reads as zeros); the arena grows past a chunk; a thread
 * runs on an arena stack; sizes that are not whole pages are refused.
 */
#include "groupchat/core/stack_arena.h"
#include "groupchat/core/thread.h"
#include "support/test_main.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE (64 * 1024)

/* The permissions of the mapping holding addr ("rw-p"), from
 * /proc/self/maps; 0 if found. */
static int
perms_at(const void *addr, char perms[5])
{
	uintptr_t a = (uintptr_t)addr;
	unsigned long lo, hi;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	int rc = -1;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* Whether writing a byte at addr kills a child process (a signal, or a
 * sanitizer's report and exit status, which goes to /dev/null). */
static bool
write_faults(char *addr)
{
	int status, null;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if ((null = open("/dev/null", O_WRONLY)) >= 0)
			dup2(null, STDERR_FILENO);
		*(volatile char *)addr = 1;
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

START_TEST(stacks_are_writable_apart_and_guarded)
{
	struct stack_arena *a = stack_arena_new(SIZE, 4);
	long page = sysconf(_SC_PAGESIZE);
	char *s[3], perms[5];
	int i, j;

	ck_assert_ptr_nonnull(a);
	for (i = 0; i < 3; i++) {
		ck_assert_ptr_nonnull(s[i] = stack_arena_get(a));
		ck_assert_uint_eq((uintptr_t)s[i] % (uintptr_t)page, 0);
		memset(s[i], 0xa5, SIZE);
		ck_assert_int_eq(perms_at(s[i], perms), 0);
		ck_assert_str_eq(perms, "rw-p");
		ck_assert(!write_faults(s[i]));
		ck_assert(write_faults(s[i] - 1));
	}
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			if (i != j)
				ck_assert(s[i] + SIZE <= s[j] || s[j] + SIZE <= s[i]);
	ck_assert_uint_eq(stack_arena_used(a), 3);
	for (i = 0; i < 3; i++)
		stack_arena_put(a, s[i]);
	ck_assert_uint_eq(stack_arena_used(a), 0);
	stack_arena_free(a);
}
END_TEST

START_TEST(a_stack_put_back_comes_next_with_its_pages_given_back)
{
	struct stack_arena *a = stack_arena_new(SIZE, 4);
	char *s, *again, zero[SIZE];

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(s = stack_arena_get(a));
	memset(s, 0x5a, SIZE);
	stack_arena_put(a, s);
	ck_assert_ptr_eq(again = stack_arena_get(a), s);
	memset(zero, 0, sizeof(zero));
	ck_assert_mem_eq(again, zero, SIZE);
	stack_arena_put(a, again);
	stack_arena_free(a);
}
END_TEST

START_TEST(the_arena_grows_past_a_chunk)
{
	enum { N = 10 };
	struct stack_arena *a = stack_arena_new(SIZE, 3);
	char *s[N];
	int i;

	ck_assert_ptr_nonnull(a);
	for (i = 0; i < N; i++) {
		ck_assert_ptr_nonnull(s[i] = stack_arena_get(a));
		s[i][0] = (char)i;
		s[i][SIZE - 1] = (char)i;
	}
	for (i = 0; i < N; i++)
		ck_assert(s[i][0] == (char)i && s[i][SIZE - 1] == (char)i);
	ck_assert_uint_eq(stack_arena_used(a), N);
	for (i = N - 1; i >= 0; i--)
		stack_arena_put(a, s[i]);
	stack_arena_free(a);
}
END_TEST

static void *
frame_main(void *arg)
{
	*(uintptr_t *)arg = (uintptr_t)__builtin_frame_address(0);
	return NULL;
}

START_TEST(a_thread_runs_on_an_arena_stack)
{
	size_t size = THREAD_STACK_OWN(SIZE);
	struct stack_arena *a = stack_arena_new(size, 4);
	uintptr_t frame = 0;
	pthread_t t;
	char *s;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(s = stack_arena_get(a));
	ck_assert_int_eq(thread_start_on(&t, s, size, frame_main, &frame), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(frame > (uintptr_t)s && frame < (uintptr_t)s + size);
	stack_arena_put(a, s);
	stack_arena_free(a);
}
END_TEST

START_TEST(part_pages_are_refused)
{
	errno = 0;
	ck_assert_ptr_null(stack_arena_new(SIZE + 1, 4));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(stack_arena_new(0, 4));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("stack_arena");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, stacks_are_writable_apart_and_guarded);
	tcase_add_test(tc, a_stack_put_back_comes_next_with_its_pages_given_back);
	tcase_add_test(tc, the_arena_grows_past_a_chunk);
	tcase_add_test(tc, a_thread_runs_on_an_arena_stack);
	tcase_add_test(tc, part_pages_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
