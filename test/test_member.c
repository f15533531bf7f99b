/*
 * Unit tests for client: ids, the writer's FIFO and batching, the queue
 * bound, close ordering, and the broken-sink path. The writer talks to a
 * recording fake sink; tests wait on its condition variable with a
 * deadline, never sleep.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/member.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/cid.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/stats.h"
#include "groupchat/core/thread_pool.h"
#include "support/fake_sink.h"
#include "support/test_main.h"

static struct cid_set *ids;
static struct thread_pool *writers;
static struct stats st;

static void
setup(void)
{
	ids = cid_set_new();
	ck_assert_ptr_nonnull(ids);
	writers = member_writer_pool_new(4);
	ck_assert_ptr_nonnull(writers);
	stats_init(&st);
}

static void
teardown(void)
{
	ck_assert_uint_eq(cid_count(ids), 0);
	cid_set_free(ids);
	thread_pool_free(writers);
}

static struct member *
new_client(size_t cap)
{
	struct member *c;

	c = member_new(ids, cap);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Queues text as a frame and appends its wire bytes to want. */
static void
enqueue_text(struct member *c, const char *text, unsigned char *want,
    size_t *wlen)
{
	struct frame *m = fake_frame(text);

	ck_assert_int_eq(member_enqueue(c, m), 0);
	if (want != NULL) {
		memcpy(want + *wlen, frame_data(m), frame_len(m));
		*wlen += frame_len(m);
	}
	frame_unref(m);
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_ids_hex_and_unique)
{
	enum { N = 300 };
	struct member *c[N];
	const char *sorted[N];
	const char *id;
	int i, k;

	for (i = 0; i < N; i++) {
		c[i] = new_client(4);
		id = member_id(c[i]);
		ck_assert_uint_eq(strlen(id), CID_LEN);
		for (k = 0; k < CID_LEN; k++)
			ck_assert_msg(strchr("0123456789abcdef", id[k]) != NULL,
			    "id %s has a non lowercase hex character", id);
		sorted[i] = id;
	}
	ck_assert_uint_eq(cid_count(ids), N);
	qsort(sorted, N, sizeof(sorted[0]), cmp_id);
	for (i = 1; i < N; i++)
		ck_assert_str_ne(sorted[i - 1], sorted[i]);
	for (i = 0; i < N; i++) {
		member_join_writer(c[i]);
		member_unref(c[i]);
	}
}
END_TEST

START_TEST(test_fifo_reaches_sink)
{
	enum { N = 200 };
	struct fake f;
	struct member_sink s;
	struct member *c;
	unsigned char want[N * 32];
	char text[16];
	size_t wlen = 0;
	int i;

	fake_init(&f);
	c = new_client(N);
	s = fake_sink(&f);
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	for (i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		enqueue_text(c, text, want, &wlen);
	}
	ck_assert_uint_eq(fake_wait_frames(&f, N), N);
	pthread_mutex_lock(&f.mu);
	ck_assert_uint_eq(f.len, wlen);
	ck_assert_mem_eq(f.bytes, want, wlen);
	ck_assert_uint_eq(f.closes, 0);
	pthread_mutex_unlock(&f.mu);
	member_join_writer(c);
	ck_assert_uint_eq(f.closes, 1);
	ck_assert_uint_eq(f.code, MEMBER_CLOSE_SILENT);
	member_unref(c);
	fake_fini(&f);
}
END_TEST

START_TEST(test_batch_in_one_write)
{
	struct fake f;
	struct member_sink s;
	struct member *c;
	unsigned char want[256];
	size_t wlen = 0;

	fake_init(&f);
	c = new_client(16);
	enqueue_text(c, "one", want, &wlen);
	enqueue_text(c, "two", want, &wlen);
	enqueue_text(c, "three", want, &wlen);
	enqueue_text(c, "four", want, &wlen);
	enqueue_text(c, "five", want, &wlen);
	ck_assert_uint_eq(member_queued(c), 5);
	s = fake_sink(&f);
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	ck_assert_uint_eq(fake_wait_frames(&f, 5), 5);
	pthread_mutex_lock(&f.mu);
	ck_assert_uint_eq(f.writes, 1);
	ck_assert_uint_eq(f.len, wlen);
	ck_assert_mem_eq(f.bytes, want, wlen);
	pthread_mutex_unlock(&f.mu);
	ck_assert_uint_eq(member_queued(c), 0);
	member_join_writer(c);
	member_unref(c);
	fake_fini(&f);
}
END_TEST

/* A run is queued as far as it fits; the caller keeps the rest's refs. */
START_TEST(test_enqueue_many_partial)
{
	struct fake f;
	struct member_sink s;
	struct member *c;
	struct frame *ms[6];
	unsigned char want[256];
	size_t wlen = 0;
	int i;

	fake_init(&f);
	c = new_client(4);
	for (i = 0; i < 6; i++) {
		char text[16];
		snprintf(text, sizeof(text), "m%d", i);
		ms[i] = fake_frame(text);
		frame_ref_n(ms[i], 1);
		if (i < 4) {
			memcpy(want + wlen, frame_data(ms[i]), frame_len(ms[i]));
			wlen += frame_len(ms[i]);
		}
	}
	ck_assert_int_eq(member_enqueue_many(c, ms, 6, NULL), 4);
	ck_assert_uint_eq(member_queued(c), 4);
	ck_assert_int_eq(member_enqueue_many(c, ms + 4, 2, NULL), 0);
	for (i = 4; i < 6; i++)
		frame_unref(ms[i]);
	s = fake_sink(&f);
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	ck_assert_uint_eq(fake_wait_frames(&f, 4), 4);
	pthread_mutex_lock(&f.mu);
	ck_assert_uint_eq(f.len, wlen);
	ck_assert_mem_eq(f.bytes, want, wlen);
	pthread_mutex_unlock(&f.mu);
	ck_assert_int_eq(member_close(c, 1000, "bye"), 1);
	errno = 0;
	ck_assert_int_eq(member_enqueue_many(c, ms, 1, NULL), -1);
	ck_assert_int_eq(errno, EPIPE);
	for (i = 0; i < 6; i++)
		frame_unref(ms[i]);
	member_join_writer(c);
	member_unref(c);
	fake_fini(&f);
}
END_TEST

/* With a wake flag, a run into the empty queue of a waiting writer wakes
 * nobody: the flag is set, the frame stays queued until member_wake. A
 * run into a non-empty queue never asks for a wake. */
START_TEST(test_enqueue_many_defers_the_wake)
{
	struct fake f;
	struct member_sink s;
	struct member *c;
	struct frame *m[2];
	bool wake = false;
	size_t written = 0;
	int tries;

	fake_init(&f);
	c = new_client(8);
	s = fake_sink(&f);
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	m[0] = fake_frame("a");
	m[1] = fake_frame("b");
	/* Until the writer is found waiting: before that a run needs no wake,
	 * and the writer finds it by itself. */
	for (tries = 0; tries < 100 && !wake; tries++) {
		frame_ref_n(m[0], 1);
		ck_assert_int_eq(member_enqueue_many(c, m, 1, &wake), 1);
		if (!wake) {
			written++;
			ck_assert_uint_eq(fake_wait_frames(&f, written), written);
		}
	}
	ck_assert_msg(wake, "the writer was never found waiting");
	frame_ref_n(m[1], 1);
	ck_assert_int_eq(member_enqueue_many(c, m + 1, 1, &wake), 1);
	ck_assert_msg(!wake, "a run into a non-empty queue asked for a wake");
	ck_assert_uint_eq(fake_wait_frames_ms(&f, written + 1, 100), written);
	ck_assert_uint_eq(member_queued(c), 2);
	member_wake(c);
	ck_assert_uint_eq(fake_wait_frames(&f, written + 2), written + 2);
	frame_unref(m[0]);
	frame_unref(m[1]);
	member_join_writer(c);
	member_unref(c);
	fake_fini(&f);
}
END_TEST

/* A full queue waits for room until the deadline, then reports a short count. */
START_TEST(test_enqueue_wait)
{
	struct fake f;
	struct member_sink s;
	struct member *c;
	struct frame *ms[3];
	struct timespec deadline;
	int i;

	fake_init(&f);
	c = new_client(2);
	for (i = 0; i < 3; i++)
		ms[i] = frame_ref_n(fake_frame("w"), 2);
	/* No writer: room for two, the third times out. */
	chan_deadline(&deadline, 50);
	ck_assert_int_eq(member_enqueue_wait(c, ms, 3, &deadline), 2);
	/* A running writer makes room, so all three go in. */
	s = fake_sink(&f);
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	chan_deadline(&deadline, 10000);
	ck_assert_int_eq(member_enqueue_wait(c, ms, 3, &deadline), 3);
	ck_assert_uint_eq(fake_wait_frames(&f, 5), 5);
	frame_unref(ms[2]);
	ck_assert_int_eq(member_close(c, 1000, "bye"), 1);
	chan_deadline(&deadline, 10000);
	errno = 0;
	ck_assert_int_eq(member_enqueue_wait(c, ms, 1, &deadline), -1);
	ck_assert_int_eq(errno, EPIPE);
	for (i = 0; i < 3; i++)
		frame_unref(ms[i]);
	member_join_writer(c);
	member_unref(c);
	fake_fini(&f);
}
END_TEST

START_TEST(test_enqueue_full_is_eagain)
{
	struct member *c;
	struct frame *m;
	int i;

	c = new_client(4);
	m = fake_frame("x");
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(member_enqueue(c, m), 0);
	errno = 0;
	ck_assert_int_eq(member_enqueue(c, m), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(member_queued(c), 4);
	ck_assert_int_eq(member_close(c, 1000, "bye"), 1);
	errno = 0;
	ck_assert_int_eq(member_enqueue(c, m), -1);
	ck_assert_int_eq(errno, EPIPE);
	frame_unref(m);
	member_join_writer(c);
	member_unref(c);
}
END_TEST

START_TEST(test_close_flushes_then_closes_once)
{
	struct fake f;
	struct member_sink s;
	struct member *c;
	unsigned char want[256];
	size_t wlen = 0;
	struct frame *m;

	fake_init(&f);
	c = new_client(16);
	enqueue_text(c, "a", want, &wlen);
	enqueue_text(c, "b", want, &wlen);
	enqueue_text(c, "c", want, &wlen);
	ck_assert_int_eq(member_close(c, 1001, "going away"), 1);
	ck_assert_uint_eq(member_close_code(c), 1001);
	m = fake_frame("late");
	ck_assert_int_eq(member_enqueue(c, m), -1);
	ck_assert_int_eq(errno, EPIPE);
	frame_unref(m);
	s = fake_sink(&f);
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	ck_assert_uint_eq(fake_wait_closed(&f), 1);
	member_join_writer(c);
	member_join_writer(c);
	ck_assert_uint_eq(f.closes, 1);
	ck_assert_uint_eq(f.code, 1001);
	ck_assert_str_eq(f.reason, "going away");
	ck_assert_uint_eq(f.nframes, 3);
	ck_assert_uint_eq(f.len, wlen);
	ck_assert_mem_eq(f.bytes, want, wlen);
	member_unref(c);
	fake_fini(&f);
}
END_TEST

START_TEST(test_close_wakes_idle_writer)
{
	struct fake f;
	struct member_sink s;
	struct member *c;

	fake_init(&f);
	c = new_client(16);
	s = fake_sink(&f);
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	ck_assert_int_eq(member_start_writer(c, writers, &s), -1);
	ck_assert_int_eq(member_close(c, 1008, "slow consumer"), 1);
	ck_assert_uint_eq(fake_wait_closed(&f), 1);
	ck_assert_uint_eq(f.code, 1008);
	ck_assert_str_eq(f.reason, "slow consumer");
	ck_assert_uint_eq(f.writes, 0);
	member_join_writer(c);
	ck_assert_uint_eq(f.closes, 1);
	member_unref(c);
	fake_fini(&f);
}
END_TEST

struct racer {
	struct member *c;
	pthread_barrier_t *go;
	uint16_t code;
	int won;
};

static void *
racer_close(void *arg)
{
	static const char *const reasons[] = {
		"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7",
	};
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	r->won = member_close(r->c, r->code, reasons[r->code - 4000]);
	return NULL;
}

START_TEST(test_first_close_wins)
{
	enum { R = 8 };
	struct fake f;
	struct member_sink s;
	struct member *c;
	pthread_barrier_t go;
	pthread_t t[R];
	struct racer r[R];
	char want[16];
	int i, winners = 0, w = -1;

	fake_init(&f);
	c = new_client(16);
	s = fake_sink(&f);
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	pthread_barrier_init(&go, NULL, R);
	for (i = 0; i < R; i++) {
		r[i].c = c;
		r[i].go = &go;
		r[i].code = (uint16_t)(4000 + i);
		ck_assert_int_eq(pthread_create(&t[i], NULL, racer_close, &r[i]),
		    0);
	}
	for (i = 0; i < R; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < R; i++) {
		if (r[i].won) {
			winners++;
			w = i;
		}
	}
	ck_assert_int_eq(winners, 1);
	ck_assert_int_eq(member_close(c, 1000, "later"), 0);
	ck_assert_uint_eq(member_close_code(c), r[w].code);
	ck_assert_uint_eq(fake_wait_closed(&f), 1);
	member_join_writer(c);
	ck_assert_uint_eq(f.closes, 1);
	ck_assert_uint_eq(f.code, r[w].code);
	snprintf(want, sizeof(want), "r%d", w);
	ck_assert_str_eq(f.reason, want);
	member_unref(c);
	fake_fini(&f);
}
END_TEST

START_TEST(test_join_without_writer)
{
	struct fake f;
	struct member_sink s;
	struct member *c;

	fake_init(&f);
	s = fake_sink(&f);
	c = new_client(8);
	enqueue_text(c, "never sent", NULL, NULL);
	enqueue_text(c, "nor this", NULL, NULL);
	member_join_writer(c);
	member_join_writer(c);
	ck_assert_uint_eq(member_close_code(c), MEMBER_CLOSE_SILENT);
	ck_assert_int_eq(member_close(c, 1000, "too late"), 0);
	ck_assert_uint_eq(member_close_code(c), MEMBER_CLOSE_SILENT);
	ck_assert_int_eq(member_start_writer(c, writers, &s), -1);
	member_unref(c);
	fake_fini(&f);
}
END_TEST

START_TEST(test_unref_after_ref)
{
	struct member *c;
	char id[CID_LEN + 1];

	c = new_client(8);
	ck_assert_ptr_eq(member_ref(c), c);
	memcpy(id, member_id(c), sizeof(id));
	member_join_writer(c);
	member_unref(c);
	ck_assert_uint_eq(cid_count(ids), 1);
	ck_assert_str_eq(member_id(c), id);
	member_unref(c);
}
END_TEST

START_TEST(test_write_failure_stops_writer)
{
	struct fake f;
	struct member_sink s;
	struct member *c;
	struct frame *m;

	fake_init(&f);
	c = new_client(64);
	f.fail_at = 2;
	f.refill = 10;
	f.member = c;
	s = fake_sink(&f);
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	enqueue_text(c, "first", NULL, NULL);
	ck_assert_uint_eq(fake_wait_frames(&f, 1), 1);
	enqueue_text(c, "second", NULL, NULL);
	ck_assert_uint_eq(fake_wait_closed(&f), 1);
	m = fake_frame("after");
	errno = 0;
	ck_assert_int_eq(member_enqueue(c, m), -1);
	ck_assert_int_eq(errno, EPIPE);
	frame_unref(m);
	member_join_writer(c);
	ck_assert_uint_eq(f.writes, 2);
	ck_assert_uint_eq(f.nframes, 1);
	ck_assert_uint_eq(f.closes, 1);
	ck_assert_uint_eq(f.code, MEMBER_CLOSE_SILENT);
	ck_assert_uint_eq(member_close_code(c), MEMBER_CLOSE_SILENT);
	ck_assert_uint_eq(member_queued(c), 0);
	member_unref(c);
	fake_fini(&f);
}
END_TEST

START_TEST(test_write_failure_keeps_recorded_close)
{
	struct fake f;
	struct member_sink s;
	struct member *c;

	fake_init(&f);
	c = new_client(16);
	f.fail_at = 1;
	enqueue_text(c, "a", NULL, NULL);
	enqueue_text(c, "b", NULL, NULL);
	ck_assert_int_eq(member_close(c, 1000, "group deleted"), 1);
	s = fake_sink(&f);
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	ck_assert_uint_eq(fake_wait_closed(&f), 1);
	member_join_writer(c);
	ck_assert_uint_eq(f.writes, 1);
	ck_assert_uint_eq(f.nframes, 0);
	ck_assert_uint_eq(f.code, 1000);
	ck_assert_str_eq(f.reason, "group deleted");
	member_unref(c);
	fake_fini(&f);
}
END_TEST

static Suite *
member_suite(void)
{
	Suite *s = suite_create("member");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ids_hex_and_unique);
	tcase_add_test(tc, test_fifo_reaches_sink);
	tcase_add_test(tc, test_batch_in_one_write);
	tcase_add_test(tc, test_enqueue_many_partial);
	tcase_add_test(tc, test_enqueue_many_defers_the_wake);
	tcase_add_test(tc, test_enqueue_wait);
	tcase_add_test(tc, test_enqueue_full_is_eagain);
	tcase_add_test(tc, test_close_flushes_then_closes_once);
	tcase_add_test(tc, test_close_wakes_idle_writer);
	tcase_add_test(tc, test_first_close_wins);
	tcase_add_test(tc, test_join_without_writer);
	tcase_add_test(tc, test_unref_after_ref);
	tcase_add_test(tc, test_write_failure_stops_writer);
	tcase_add_test(tc, test_write_failure_keeps_recorded_close);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(member_suite());
}
