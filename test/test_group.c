/*
 * Unit tests for group: the thread's start/exit/restart cycle, joins
 * racing the last leave, one order for every member, slow members,
 * close, and the counters. Members are real clients whose writers talk
 * to a recording fake sink; tests wait on conditions with deadlines.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/group.h"
#include "groupchat/actors/member.h"
#include "groupchat/core/cid.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/position.h"
#include "groupchat/core/stats.h"
#include "groupchat/core/thread_pool.h"
#include "support/fake_sink.h"
#include "support/itest.h"
#include "support/test_main.h"

#define WAIT_MS 5000

struct test_member {
	struct member *c;
	struct fake f;
};

static struct cid_set *ids;
static struct thread_pool *writers;
static struct stats st;

static void
test_member_start(struct test_member *m, size_t cap, int hold)
{
	struct member_sink s = fake_sink(&m->f);

	fake_init(&m->f);
	m->f.hold = hold;
	m->c = member_new(ids, cap);
	ck_assert_ptr_nonnull(m->c);
	ck_assert_int_eq(member_start_writer(m->c, writers, &s), 0);
}

static void
test_member_end(struct test_member *m)
{
	fake_release(&m->f);
	member_join_writer(m->c);
	ck_assert_uint_eq(m->f.closes, 1);
	member_unref(m->c);
	fake_fini(&m->f);
}

static int
bcast(struct group *g, const char *text)
{
	struct frame *m;
	int rc;

	m = frame_new(FRAME_TEXT, text, strlen(text), NULL, 0);
	ck_assert_ptr_nonnull(m);
	rc = group_broadcast(g, m);
	frame_unref(m);
	return rc;
}

static int
pred_stopped(void *g)
{
	return !group_running(g);
}

struct want_msgs_in {
	struct group *g;
	uint64_t n;
};

static int
pred_msgs_in(void *arg)
{
	struct want_msgs_in *w = arg;

	return group_msgs_in(w->g) >= w->n;
}

static int
pred_queued(void *c)
{
	return member_queued(c) >= 1;
}

static int
pred_slow_closed(void *c)
{
	return member_close_code(c) == GROUP_SLOW_CODE;
}

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
	ck_assert_uint_eq(stats_get(&st, members), 0);
	ck_assert_uint_eq(stats_get(&st, group_threads), 0);
}

static struct group *
new_group(const char *id)
{
	struct group *g;

	g = group_new(id, strlen(id), &st);
	ck_assert_ptr_nonnull(g);
	return g;
}

START_TEST(test_id_copied)
{
	static const char raw[] = "a\0b";
	struct group *g;
	const char *id;
	size_t len;

	g = group_new(raw, 3, NULL);
	ck_assert_ptr_nonnull(g);
	id = group_id(g, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(id, raw, 4);
	ck_assert_ptr_ne(id, raw);
	group_unref(g);
}
END_TEST

START_TEST(test_thread_stops_and_restarts)
{
	struct test_member a, b;
	struct group *g;
	struct want_msgs_in w;

	g = new_group("life");
	ck_assert(!group_running(g));
	ck_assert_uint_eq(group_thread_starts(g), 0);
	test_member_start(&a, 16, 0);
	test_member_start(&b, 16, 0);

	ck_assert_int_eq(group_join(g, a.c), 0);
	ck_assert(group_running(g));
	ck_assert_uint_eq(group_thread_starts(g), 1);
	ck_assert_int_eq(bcast(g, "one"), 0);
	ck_assert_uint_eq(fake_wait_frames(&a.f, 1), 1);
	ck_assert_uint_eq(group_members(g), 1);
	ck_assert_uint_eq(stats_get(&st, members), 1);

	group_leave(g, a.c);
	ck_assert(it_wait_until(pred_stopped, g, WAIT_MS));
	ck_assert_uint_eq(group_members(g), 0);
	ck_assert_uint_eq(stats_get(&st, group_threads), 0);
	ck_assert_uint_eq(stats_get(&st, members), 0);
	ck_assert_uint_eq(group_thread_starts(g), 1);

	ck_assert_int_eq(group_join(g, b.c), 0);
	ck_assert_uint_eq(group_thread_starts(g), 2);
	ck_assert_uint_eq(stats_get(&st, group_threads), 1);
	ck_assert_int_eq(bcast(g, "two"), 0);
	w.g = g;
	w.n = 2;
	ck_assert(it_wait_until(pred_msgs_in, &w, WAIT_MS));
	ck_assert_uint_eq(group_msgs_out(g), 2);
	ck_assert_uint_eq(fake_wait_frames(&b.f, 1), 1);

	group_leave(g, b.c);
	ck_assert(it_wait_until(pred_stopped, g, WAIT_MS));
	ck_assert_uint_eq(a.f.nframes, 1);
	test_member_end(&a);
	test_member_end(&b);
	group_unref(g);
}
END_TEST

START_TEST(test_leave_of_non_member)
{
	struct test_member a, b;
	struct group *g;

	g = new_group("nm");
	test_member_start(&a, 16, 0);
	test_member_start(&b, 16, 0);
	group_leave(g, b.c);
	ck_assert(!group_running(g));
	ck_assert_int_eq(group_join(g, a.c), 0);
	group_leave(g, b.c);
	group_leave(g, b.c);
	ck_assert_int_eq(bcast(g, "still here"), 0);
	ck_assert_uint_eq(fake_wait_frames(&a.f, 1), 1);
	ck_assert_uint_eq(group_members(g), 1);
	group_leave(g, a.c);
	group_leave(g, a.c);
	ck_assert(it_wait_until(pred_stopped, g, WAIT_MS));
	test_member_end(&a);
	test_member_end(&b);
	group_unref(g);
}
END_TEST

START_TEST(test_broadcast_to_nobody)
{
	struct group *g;

	g = new_group("empty");
	ck_assert_int_eq(bcast(g, "anyone?"), 0);
	ck_assert_uint_eq(group_msgs_in(g), 1);
	ck_assert_uint_eq(group_msgs_out(g), 0);
	ck_assert_uint_eq(group_thread_starts(g), 0);
	group_unref(g);
}
END_TEST

struct leaver {
	struct group *g;
	struct member *old;
	pthread_barrier_t go, done;
	int iters;
};

static void *
leaver_run(void *arg)
{
	struct leaver *l = arg;
	int i;

	for (i = 0; i < l->iters; i++) {
		pthread_barrier_wait(&l->go);
		group_leave(l->g, l->old);
		pthread_barrier_wait(&l->done);
	}
	return NULL;
}

/*
 * The newcomer's join races the last member's leave, which may stop the
 * thread; whatever the interleaving, a broadcast queued after the join
 * must reach the newcomer.
 */
START_TEST(test_join_races_last_leave)
{
	enum { ITERS = 2000 };
	struct leaver l;
	struct member *c;
	pthread_t t;
	char text[16];
	int i;

	l.g = new_group("race");
	l.iters = ITERS;
	pthread_barrier_init(&l.go, NULL, 2);
	pthread_barrier_init(&l.done, NULL, 2);
	l.old = member_new(ids, 4);
	ck_assert_ptr_nonnull(l.old);
	ck_assert_int_eq(group_join(l.g, l.old), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, leaver_run, &l), 0);
	for (i = 0; i < ITERS; i++) {
		c = member_new(ids, 4);
		ck_assert_ptr_nonnull(c);
		pthread_barrier_wait(&l.go);
		ck_assert_int_eq(group_join(l.g, c), 0);
		pthread_barrier_wait(&l.done);
		snprintf(text, sizeof(text), "%d", i);
		ck_assert_int_eq(bcast(l.g, text), 0);
		ck_assert_msg(it_wait_until(pred_queued, c, WAIT_MS),
		    "iteration %d: the newcomer is deaf", i);
		ck_assert_uint_eq(group_members(l.g), 1);
		member_join_writer(l.old);
		member_unref(l.old);
		l.old = c;
	}
	pthread_join(t, NULL);
	group_leave(l.g, l.old);
	ck_assert(it_wait_until(pred_stopped, l.g, WAIT_MS));
	ck_assert_uint_ge(group_thread_starts(l.g), 1);
	member_join_writer(l.old);
	member_unref(l.old);
	pthread_barrier_destroy(&l.go);
	pthread_barrier_destroy(&l.done);
	ck_assert_uint_eq(group_msgs_out(l.g), ITERS);
	group_unref(l.g);
}
END_TEST

struct sender {
	struct group *g;
	int who, count;
};

static void *
sender_run(void *arg)
{
	struct sender *s = arg;
	char text[32];
	int i;

	for (i = 0; i < s->count; i++) {
		snprintf(text, sizeof(text), "%d:%d", s->who, i);
		ck_assert_int_eq(bcast(s->g, text), 0);
	}
	return NULL;
}

START_TEST(test_one_order_for_all)
{
	enum { M = 4, S = 3, K = 200 };
	struct test_member m[M];
	struct sender s[S];
	pthread_t t[S];
	struct group *g;
	int i, k, who, seq, next[S];
	size_t j, len, bytes = 0;
	const char *p;
	char text[32];

	g = new_group("order");
	for (i = 0; i < M; i++) {
		test_member_start(&m[i], S * K, 0);
		ck_assert_int_eq(group_join(g, m[i].c), 0);
	}
	for (i = 0; i < S; i++) {
		s[i].g = g;
		s[i].who = i;
		s[i].count = K;
		ck_assert_int_eq(pthread_create(&t[i], NULL, sender_run, &s[i]),
		    0);
	}
	for (i = 0; i < S; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < M; i++)
		ck_assert_uint_eq(fake_wait_frames(&m[i].f, S * K), S * K);

	memset(next, 0, sizeof(next));
	for (j = 0; j < S * K; j++) {
		p = fake_text(&m[0].f, j, &len);
		ck_assert_uint_lt(len, sizeof(text));
		memcpy(text, p, len);
		text[len] = '\0';
		ck_assert_int_eq(sscanf(text, "%d:%d", &who, &seq), 2);
		ck_assert_int_eq(seq, next[who]);
		next[who]++;
		bytes += m[0].f.lens[j];
		for (k = 1; k < M; k++) {
			ck_assert_uint_eq(m[k].f.lens[j], m[0].f.lens[j]);
			ck_assert_mem_eq(m[k].f.frames[j], m[0].f.frames[j],
			    m[0].f.lens[j]);
		}
	}
	ck_assert_uint_eq(group_msgs_in(g), S * K);
	ck_assert_uint_eq(group_msgs_out(g), M * S * K);
	ck_assert_uint_eq(stats_get(&st, msgs_out), M * S * K);
	ck_assert_uint_eq(stats_get(&st, bytes_out), M * bytes);
	ck_assert_uint_eq(stats_get(&st, slow_drops), 0);
	for (i = 0; i < M; i++)
		group_leave(g, m[i].c);
	ck_assert(it_wait_until(pred_stopped, g, WAIT_MS));
	for (i = 0; i < M; i++)
		test_member_end(&m[i]);
	group_unref(g);
}
END_TEST

START_TEST(test_slow_member_dropped)
{
	enum { N = 50 };
	struct test_member fast[2], slow;
	struct group *g;
	char text[16];
	int i;

	g = new_group("slow");
	test_member_start(&fast[0], 256, 0);
	test_member_start(&fast[1], 256, 0);
	test_member_start(&slow, 4, 1);
	ck_assert_int_eq(group_join(g, fast[0].c), 0);
	ck_assert_int_eq(group_join(g, slow.c), 0);
	ck_assert_int_eq(group_join(g, fast[1].c), 0);
	for (i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		ck_assert_int_eq(bcast(g, text), 0);
	}
	ck_assert_uint_eq(fake_wait_frames(&fast[0].f, N), N);
	ck_assert_uint_eq(fake_wait_frames(&fast[1].f, N), N);
	ck_assert(it_wait_until(pred_slow_closed, slow.c, WAIT_MS));
	ck_assert_uint_eq(stats_get(&st, slow_drops), 1);
	ck_assert_uint_eq(group_members(g), 2);
	ck_assert_uint_eq(slow.f.closes, 0);

	fake_release(&slow.f);
	ck_assert_uint_eq(fake_wait_closed(&slow.f), 1);
	ck_assert_uint_eq(slow.f.code, 1008);
	ck_assert_str_eq(slow.f.reason, "slow consumer");
	ck_assert_uint_lt(slow.f.nframes, N);
	ck_assert_uint_eq(fast[0].f.closes, 0);

	group_leave(g, slow.c);
	group_leave(g, fast[0].c);
	group_leave(g, fast[1].c);
	ck_assert(it_wait_until(pred_stopped, g, WAIT_MS));
	test_member_end(&fast[0]);
	test_member_end(&fast[1]);
	test_member_end(&slow);
	group_unref(g);
}
END_TEST

START_TEST(test_close_closes_every_member)
{
	enum { M = 3 };
	struct test_member m[M];
	struct group *g;
	struct frame *msg;
	int i;

	g = new_group("doomed");
	for (i = 0; i < M; i++) {
		test_member_start(&m[i], 16, 0);
		ck_assert_int_eq(group_join(g, m[i].c), 0);
	}
	ck_assert_int_eq(bcast(g, "before"), 0);
	ck_assert_int_eq(bcast(g, "close"), 0);
	group_close(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
	ck_assert(group_closed(g));
	for (i = 0; i < M; i++) {
		ck_assert_uint_eq(fake_wait_closed(&m[i].f), 1);
		ck_assert_uint_eq(m[i].f.code, 1000);
		ck_assert_str_eq(m[i].f.reason, "group deleted");
		/* Broadcasts still queued when the thread sees the close are
		 * dropped, as Go drops them: a member gets none, one or both. */
		ck_assert_uint_le(m[i].f.nframes, 2);
	}
	ck_assert(it_wait_until(pred_stopped, g, WAIT_MS));
	ck_assert_uint_eq(group_members(g), 0);

	for (i = 0; i < M; i++)
		group_leave(g, m[i].c);
	group_close(g, GROUP_SHUTDOWN_CODE, GROUP_SHUTDOWN_REASON);
	errno = 0;
	ck_assert_int_eq(group_join(g, m[0].c), -1);
	ck_assert_int_eq(errno, EPIPE);
	msg = frame_new(FRAME_TEXT, "after", 5, NULL, 0);
	ck_assert_ptr_nonnull(msg);
	errno = 0;
	ck_assert_int_eq(group_broadcast(g, msg), -1);
	ck_assert_int_eq(errno, EPIPE);
	frame_unref(msg);
	ck_assert(!group_running(g));
	for (i = 0; i < M; i++) {
		ck_assert_uint_eq(member_close_code(m[i].c), 1000);
		test_member_end(&m[i]);
	}
	group_unref(g);
}
END_TEST

START_TEST(test_close_idle_group)
{
	struct group *g;
	struct member *c;

	g = new_group("idle");
	c = member_new(ids, 4);
	ck_assert_ptr_nonnull(c);
	group_close(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
	ck_assert(group_closed(g));
	ck_assert(!group_running(g));
	ck_assert_int_eq(group_join(g, c), -1);
	ck_assert_int_eq(errno, EPIPE);
	group_leave(g, c);
	ck_assert_uint_eq(group_thread_starts(g), 0);
	member_join_writer(c);
	member_unref(c);
	group_unref(g);
}
END_TEST

START_TEST(test_last_unref_closes_members)
{
	struct test_member a, b;
	struct group *g;

	g = new_group("dropped");
	test_member_start(&a, 16, 0);
	test_member_start(&b, 16, 0);
	ck_assert_int_eq(group_join(g, a.c), 0);
	ck_assert_int_eq(group_join(g, b.c), 0);
	ck_assert_ptr_eq(group_ref(g), g);
	group_unref(g);
	ck_assert(!group_closed(g));
	group_unref(g);
	ck_assert_uint_eq(fake_wait_closed(&a.f), 1);
	ck_assert_uint_eq(fake_wait_closed(&b.f), 1);
	ck_assert_uint_eq(a.f.code, GROUP_DELETED_CODE);
	ck_assert_uint_eq(b.f.code, GROUP_DELETED_CODE);
	test_member_end(&a);
	test_member_end(&b);
}
END_TEST

/* Frame i of m's sink as a NUL-terminated string in out. */
static const char *
frame_str(struct test_member *m, size_t i, char *out, size_t outlen)
{
	size_t len;
	const char *p = fake_text(&m->f, i, &len);

	ck_assert_uint_lt(len, outlen);
	memcpy(out, p, len);
	out[len] = '\0';
	return out;
}

/* One run, two spellings: plain members get the frames as broadcast, a
 * groupchat.v1 member (between them in the roster, so the spelling is
 * made mid-pass) its status first and then each with its position;
 * bytes_out counts each member's own spelling. ASan checks that every
 * reference of both spellings is given back. */
START_TEST(test_v1_two_spellings)
{
	struct test_member plain, v1, plain2;
	struct position p;
	struct group *g;
	char buf[64], want[64], pos[POSITION_MAX];
	const char *why;
	size_t bytes = 0;

	g = new_group("v1");
	test_member_start(&plain, 16, 0);
	test_member_start(&v1, 16, 0);
	member_set_v1(v1.c);
	ck_assert_int_eq(group_join(g, plain.c), 0);
	ck_assert_int_eq(group_join_since(g, v1.c, NULL), 0);
	test_member_start(&plain2, 16, 0);
	ck_assert_int_eq(group_join(g, plain2.c), 0);
	ck_assert_int_eq(bcast(g, "one"), 0);
	ck_assert_int_eq(bcast(g, "two"), 0);
	ck_assert_uint_eq(fake_wait_frames(&plain.f, 2), 2);
	ck_assert_uint_eq(fake_wait_frames(&v1.f, 3), 3);
	ck_assert_str_eq(frame_str(&plain, 0, buf, sizeof(buf)), "one");
	ck_assert_str_eq(frame_str(&plain, 1, buf, sizeof(buf)), "two");
	frame_str(&v1, 0, buf, sizeof(buf));
	ck_assert_mem_eq(buf, "ok ", 3);
	ck_assert_int_eq(position_parse(buf + 3, strlen(buf + 3), &p, &why), 0);
	ck_assert_uint_eq(p.offset, 0);
	for (int i = 1; i <= 2; i++) {
		p.offset = (uint64_t)i;
		position_format(&p, pos);
		snprintf(want, sizeof(want), "%s\n%s", pos, i == 1 ? "one" : "two");
		ck_assert_str_eq(frame_str(&v1, (size_t)i, buf, sizeof(buf)), want);
		bytes += v1.f.lens[i];
	}
	ck_assert_uint_eq(fake_wait_frames(&plain2.f, 2), 2);
	ck_assert_str_eq(frame_str(&plain2, 1, buf, sizeof(buf)), "two");
	bytes += 2 * (plain.f.lens[0] + plain.f.lens[1]);
	ck_assert_uint_eq(stats_get(&st, bytes_out), bytes);
	ck_assert_uint_eq(group_msgs_out(g), 6);
	group_leave(g, plain.c);
	group_leave(g, v1.c);
	group_leave(g, plain2.c);
	ck_assert(it_wait_until(pred_stopped, g, WAIT_MS));
	test_member_end(&plain);
	test_member_end(&v1);
	test_member_end(&plain2);
	group_unref(g);
}
END_TEST

struct v1_sender {
	struct group *g;
	int count;
};

static void *
v1_sender_run(void *arg)
{
	struct v1_sender *s = arg;
	char text[16];

	for (int i = 1; i <= s->count; i++) {
		snprintf(text, sizeof(text), "%d", i);
		ck_assert_int_eq(bcast(s->g, text), 0);
	}
	return NULL;
}

/* The seam, at the group: while a thread broadcasts, members join with
 * since at the offset the previous one had reached. Each gets "ok P",
 * then every message after since and the live ones, each offset once and
 * in order, the i-th message at offset i. */
START_TEST(test_v1_seam)
{
	enum { K = 3000, J = 6 };
	struct test_member anchor, m[J];
	struct v1_sender snd;
	struct position p, since;
	struct group *g;
	pthread_t t;
	char buf[64], want[16];
	const char *why, *nl;
	uint64_t from[J];
	size_t n, i;
	int j;

	g = new_group("seam");
	ck_assert_int_eq(group_set_history(g, K, (size_t)1 << 24), 0);
	test_member_start(&anchor, K + 1, 0);
	member_set_v1(anchor.c);
	ck_assert_int_eq(group_join_since(g, anchor.c, NULL), 0);
	snd.g = g;
	snd.count = K;
	ck_assert_int_eq(pthread_create(&t, NULL, v1_sender_run, &snd), 0);
	ck_assert_uint_ge(fake_wait_frames(&anchor.f, 1), 1);
	frame_str(&anchor, 0, buf, sizeof(buf));
	ck_assert_int_eq(position_parse(buf + 3, strlen(buf + 3), &since, &why), 0);
	for (j = 0; j < J; j++) {
		/* Somewhere in the stream: what the anchor has seen so far. */
		n = fake_wait_frames(&anchor.f, (size_t)(j + 1) * K / (J + 1));
		since.offset = from[j] = n - 1;
		test_member_start(&m[j], K + 1, 0);
		member_set_v1(m[j].c);
		ck_assert_int_eq(group_join_since(g, m[j].c, &since), 0);
	}
	pthread_join(t, NULL);
	for (j = 0; j < J; j++) {
		/* The status, then offsets from[j] + 1 to K: once each. */
		n = 1 + K - from[j];
		ck_assert_uint_eq(fake_wait_frames(&m[j].f, n), n);
		frame_str(&m[j], 0, buf, sizeof(buf));
		ck_assert_msg(strncmp(buf, "ok ", 3) == 0, "member %d: %s", j, buf);
		ck_assert_int_eq(position_parse(buf + 3, strlen(buf + 3), &p, &why), 0);
		ck_assert_uint_eq(p.epoch, since.epoch);
		ck_assert_uint_ge(p.offset, from[j]);
		for (i = 1; i < n; i++) {
			frame_str(&m[j], i, buf, sizeof(buf));
			nl = strchr(buf, '\n');
			ck_assert_ptr_nonnull(nl);
			ck_assert_int_eq(position_parse(buf, (size_t)(nl - buf), &p, &why), 0);
			ck_assert_uint_eq(p.offset, from[j] + i);
			snprintf(want, sizeof(want), "%" PRIu64, p.offset);
			ck_assert_str_eq(nl + 1, want);
		}
	}
	ck_assert_uint_eq(stats_get(&st, recoveries), J);
	ck_assert_uint_eq(stats_get(&st, resets), 0);
	group_leave(g, anchor.c);
	for (j = 0; j < J; j++)
		group_leave(g, m[j].c);
	ck_assert(it_wait_until(pred_stopped, g, WAIT_MS));
	test_member_end(&anchor);
	for (j = 0; j < J; j++)
		test_member_end(&m[j]);
	group_unref(g);
}
END_TEST

static Suite *
group_suite(void)
{
	Suite *s = suite_create("group");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_id_copied);
	tcase_add_test(tc, test_thread_stops_and_restarts);
	tcase_add_test(tc, test_leave_of_non_member);
	tcase_add_test(tc, test_broadcast_to_nobody);
	tcase_add_test(tc, test_join_races_last_leave);
	tcase_add_test(tc, test_one_order_for_all);
	tcase_add_test(tc, test_slow_member_dropped);
	tcase_add_test(tc, test_close_closes_every_member);
	tcase_add_test(tc, test_close_idle_group);
	tcase_add_test(tc, test_last_unref_closes_members);
	tcase_add_test(tc, test_v1_two_spellings);
	tcase_add_test(tc, test_v1_seam);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(group_suite());
}
