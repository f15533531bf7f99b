/*
 * test_output_file: the file a spawned node's or redis-server's output
 * goes to (it_output_file, test/support/itest.c) keeps every line that
 * several threads write at once. A memfd is not opened by path, so the
 * kernel does not serialize its file position: without O_APPEND two
 * writers land on one offset and one line overwrites the other (a node's
 * start line was lost so, and its test failed for want of it).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/itest.h"
#include "support/test_main.h"

#define WRITERS 4
#define LINES 20000

struct writer {
	int fd;
	int index;
	int failed;
};

static void *
write_lines(void *arg)
{
	struct writer *w = arg;
	char line[64];
	int n = snprintf(line, sizeof(line), "writer %d: one whole line of a log\n", w->index);

	for (int i = 0; i < LINES; i++)
		if (write(w->fd, line, (size_t)n) != n)
			w->failed = 1;
	return NULL;
}

START_TEST(lines_written_at_once_by_several_threads_all_arrive_whole)
{
	struct writer w[WRITERS];
	pthread_t t[WRITERS];
	struct stat st;
	long lines = 0, whole = 0;
	char *text, *line, *save = NULL;
	int fd = it_output_file("test-output");

	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ fd, i, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, write_lines, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(w[i].failed, 0);
	}
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_ptr_nonnull(text = calloc(1, (size_t)st.st_size + 1));
	ck_assert_int_eq(pread(fd, text, (size_t)st.st_size, 0), st.st_size);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		int k;

		lines++;
		if (sscanf(line, "writer %d: one whole line of a log", &k) == 1 && k >= 0 &&
		    k < WRITERS && strlen(line) == strlen("writer 0: one whole line of a log"))
			whole++;
	}
	ck_assert_msg(lines == WRITERS * LINES && whole == lines,
	    "%ld lines (%ld whole) of %d written", lines, whole, WRITERS * LINES);
	free(text);
	close(fd);
}
END_TEST

static Suite *
output_file_suite(void)
{
	Suite *s = suite_create("output_file");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lines_written_at_once_by_several_threads_all_arrive_whole);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(output_file_suite());
}
