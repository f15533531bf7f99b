/*
 * test_chan: the bounded channel. Blocking is observed, never assumed:
 * a thread reports through a counter (struct flag) when it starts and
 * when its call returns, and the test waits on that counter with a
 * deadline; "still blocked" means "not returned within a bounded wait".
 */
#include "groupchat/core/chan.h"
#include "support/test_main.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A counter threads bump and the test waits on, with a deadline. */
struct flag {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
};

static void
flag_init(struct flag *f)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	f->n = 0;
}

static void
flag_destroy(struct flag *f)
{
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
}

static void
flag_add(struct flag *f)
{
	pthread_mutex_lock(&f->mu);
	f->n++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* 1 if the counter reaches n within ms milliseconds. */
static int
flag_wait(struct flag *f, int n, long ms)
{
	struct timespec dl;
	int reached;

	chan_deadline(&dl, ms);
	pthread_mutex_lock(&f->mu);
	while (f->n < n) {
		if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) == ETIMEDOUT)
			break;
	}
	reached = f->n >= n;
	pthread_mutex_unlock(&f->mu);
	return reached;
}

/* 1 if now on CLOCK_MONOTONIC is at or past ts. */
static int
passed(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > ts->tv_sec ||
	    (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

/* One blocking call made on a thread of its own. */
struct call {
	pthread_t tid;
	struct chan *ch;
	int batch;          /* receive with chan_recv_batch (max 4) */
	int val;            /* sent, or first received */
	ssize_t rc;
	int err;
	struct flag *started;
	struct flag *done;
};

static void *
send_main(void *arg)
{
	struct call *c = arg;

	flag_add(c->started);
	c->rc = chan_send(c->ch, &c->val, NULL);
	c->err = errno;
	flag_add(c->done);
	return NULL;
}

static void *
recv_main(void *arg)
{
	struct call *c = arg;
	int got[4];

	flag_add(c->started);
	if (c->batch)
		c->rc = chan_recv_batch(c->ch, got, 4, NULL);
	else
		c->rc = chan_recv(c->ch, got, NULL);
	c->err = errno;
	if (c->rc >= 0)
		c->val = got[0];
	flag_add(c->done);
	return NULL;
}

static void
call_start(struct call *c, struct chan *ch, void *(*fn)(void *), int val,
    int batch, struct flag *started, struct flag *done)
{
	memset(c, 0, sizeof(*c));
	c->ch = ch;
	c->val = val;
	c->batch = batch;
	c->started = started;
	c->done = done;
	ck_assert_int_eq(pthread_create(&c->tid, NULL, fn, c), 0);
}

START_TEST(test_new_invalid)
{
	struct chan *ch;

	errno = 0;
	ck_assert_ptr_null(chan_new(0, 4));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(chan_new(4, 0));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(chan_new(SIZE_MAX / 2, 16));
	ck_assert_int_eq(errno, ENOMEM);

	ch = chan_new(7, sizeof(int));
	ck_assert_ptr_nonnull(ch);
	ck_assert_uint_eq(chan_cap(ch), 7);
	ck_assert_uint_eq(chan_len(ch), 0);
	ck_assert_int_eq(chan_closed(ch), 0);
	chan_free(ch);
}
END_TEST

START_TEST(test_fifo_order)
{
	struct chan *ch = chan_new(5, sizeof(int));
	int in = 0, out = 0, v, k;

	/* Uneven send and receive runs walk head and tail round the ring. */
	while (in < 1000) {
		for (k = in % 4 + 1; k > 0 && chan_len(ch) < 5; k--, in++)
			ck_assert_int_eq(chan_send(ch, &in, NULL), 0);
		for (k = out % 3 + 1; k > 0 && chan_len(ch) > 0; k--, out++) {
			ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
			ck_assert_int_eq(v, out);
		}
	}
	while (out < in) {
		ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
		ck_assert_int_eq(v, out);
		out++;
	}
	ck_assert_uint_eq(chan_len(ch), 0);
	chan_free(ch);
}
END_TEST

START_TEST(test_try_send_bound)
{
	struct chan *ch = chan_new(3, sizeof(int));
	int i, v;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(chan_try_send(ch, &i), 0);
	errno = 0;
	ck_assert_int_eq(chan_try_send(ch, &i), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(chan_len(ch), 3);

	ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
	ck_assert_int_eq(v, 0);
	i = 42;
	ck_assert_int_eq(chan_try_send(ch, &i), 0);
	for (i = 1; i < 3; i++) {
		ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
		ck_assert_int_eq(v, i);
	}
	ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
	ck_assert_int_eq(v, 42);

	chan_close(ch);
	errno = 0;
	ck_assert_int_eq(chan_try_send(ch, &i), -1);
	ck_assert_int_eq(errno, EPIPE);
	chan_free(ch);
}
END_TEST

START_TEST(test_sender_blocks_until_recv)
{
	struct chan *ch = chan_new(2, sizeof(int));
	struct flag started, done;
	struct call c;
	int i, v;

	flag_init(&started);
	flag_init(&done);
	for (i = 1; i <= 2; i++)
		ck_assert_int_eq(chan_send(ch, &i, NULL), 0);
	call_start(&c, ch, send_main, 3, 0, &started, &done);
	ck_assert(flag_wait(&started, 1, 5000));
	ck_assert_msg(!flag_wait(&done, 1, 100), "send returned on a full channel");
	ck_assert_uint_eq(chan_len(ch), 2);

	ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_msg(flag_wait(&done, 1, 5000), "send not woken by a receive");
	pthread_join(c.tid, NULL);
	ck_assert_int_eq(c.rc, 0);
	for (i = 2; i <= 3; i++) {
		ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
		ck_assert_int_eq(v, i);
	}
	chan_free(ch);
	flag_destroy(&started);
	flag_destroy(&done);
}
END_TEST

START_TEST(test_receiver_blocks_until_send)
{
	struct chan *ch = chan_new(4, sizeof(int));
	struct flag started, done;
	struct call c;
	int v = 7;

	flag_init(&started);
	flag_init(&done);
	call_start(&c, ch, recv_main, 0, 1, &started, &done);
	ck_assert(flag_wait(&started, 1, 5000));
	ck_assert_msg(!flag_wait(&done, 1, 100), "recv returned on an empty channel");

	ck_assert_int_eq(chan_send(ch, &v, NULL), 0);
	ck_assert_msg(flag_wait(&done, 1, 5000), "recv not woken by a send");
	pthread_join(c.tid, NULL);
	ck_assert_int_eq(c.rc, 1);
	ck_assert_int_eq(c.val, 7);
	ck_assert_uint_eq(chan_len(ch), 0);
	chan_free(ch);
	flag_destroy(&started);
	flag_destroy(&done);
}
END_TEST

START_TEST(test_close_wakes_senders)
{
	struct chan *ch = chan_new(1, sizeof(int));
	struct flag started, done;
	struct call c[3];
	int i, v = 100;

	flag_init(&started);
	flag_init(&done);
	ck_assert_int_eq(chan_send(ch, &v, NULL), 0);
	for (i = 0; i < 3; i++)
		call_start(&c[i], ch, send_main, i, 0, &started, &done);
	ck_assert(flag_wait(&started, 3, 5000));
	ck_assert_msg(!flag_wait(&done, 1, 100), "send returned on a full channel");

	chan_close(ch);
	ck_assert_msg(flag_wait(&done, 3, 5000), "close left a sender blocked");
	for (i = 0; i < 3; i++) {
		pthread_join(c[i].tid, NULL);
		ck_assert_int_eq(c[i].rc, -1);
		ck_assert_int_eq(c[i].err, EPIPE);
	}
	/* What was queued before the close is still delivered. */
	ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
	ck_assert_int_eq(v, 100);
	chan_free(ch);
	flag_destroy(&started);
	flag_destroy(&done);
}
END_TEST

START_TEST(test_close_wakes_receivers)
{
	struct chan *ch = chan_new(4, sizeof(int));
	struct flag started, done;
	struct call c[4];
	int i;

	flag_init(&started);
	flag_init(&done);
	for (i = 0; i < 4; i++)
		call_start(&c[i], ch, recv_main, 0, i % 2, &started, &done);
	ck_assert(flag_wait(&started, 4, 5000));
	ck_assert_msg(!flag_wait(&done, 1, 100), "recv returned on an empty channel");

	chan_close(ch);
	ck_assert_msg(flag_wait(&done, 4, 5000), "close left a receiver blocked");
	for (i = 0; i < 4; i++) {
		pthread_join(c[i].tid, NULL);
		ck_assert_int_eq(c[i].rc, -1);
		ck_assert_int_eq(c[i].err, EPIPE);
	}
	chan_free(ch);
	flag_destroy(&started);
	flag_destroy(&done);
}
END_TEST

/* chan.h promises several consumers: a run of n elements feeds as many
 * waiting receivers as it can (one wake, then each receiver that leaves
 * some behind wakes the next). */
START_TEST(test_try_send_many_wakes_a_receiver_per_element)
{
	struct chan *ch = chan_new(8, sizeof(int));
	struct flag started, done;
	struct call c[3];
	int vals[3] = { 1, 2, 3 }, i, sum = 0;

	flag_init(&started);
	flag_init(&done);
	for (i = 0; i < 3; i++)
		call_start(&c[i], ch, recv_main, 0, 0, &started, &done);
	ck_assert(flag_wait(&started, 3, 5000));
	ck_assert_msg(!flag_wait(&done, 1, 100), "recv returned on an empty channel");

	ck_assert_int_eq(chan_try_send_many(ch, vals, 3), 3);
	ck_assert_msg(flag_wait(&done, 3, 5000), "only %d of 3 receivers woke", done.n);
	for (i = 0; i < 3; i++) {
		pthread_join(c[i].tid, NULL);
		ck_assert_int_eq(c[i].rc, 0);
		sum += c[i].val;
	}
	ck_assert_int_eq(sum, 6);
	chan_free(ch);
	flag_destroy(&started);
	flag_destroy(&done);
}
END_TEST

/* Only a send into an empty ring wakes a receiver; the receiver that
 * leaves elements behind wakes the next. Three separate sends, made
 * before the first woken receiver has run, must still feed all three
 * receivers, each of which takes one element. */
START_TEST(test_sends_into_a_non_empty_ring_feed_every_waiter)
{
	struct chan *ch = chan_new(8, sizeof(int));
	struct flag started, done;
	struct call c[3];
	int i, sum = 0;

	flag_init(&started);
	flag_init(&done);
	for (i = 0; i < 3; i++)
		call_start(&c[i], ch, recv_main, 0, 0, &started, &done);
	ck_assert(flag_wait(&started, 3, 5000));
	ck_assert_msg(!flag_wait(&done, 1, 100), "recv returned on an empty channel");

	for (i = 1; i <= 3; i++)
		ck_assert_int_eq(chan_send(ch, &i, NULL), 0);
	ck_assert_msg(flag_wait(&done, 3, 5000), "only %d of 3 receivers woke", done.n);
	for (i = 0; i < 3; i++) {
		pthread_join(c[i].tid, NULL);
		ck_assert_int_eq(c[i].rc, 0);
		sum += c[i].val;
	}
	ck_assert_int_eq(sum, 6);
	ck_assert_uint_eq(chan_len(ch), 0);
	chan_free(ch);
	flag_destroy(&started);
	flag_destroy(&done);
}
END_TEST

START_TEST(test_drain_after_close)
{
	struct chan *ch = chan_new(4, sizeof(int));
	int i, v, got[4];

	for (i = 1; i <= 3; i++)
		ck_assert_int_eq(chan_send(ch, &i, NULL), 0);
	chan_close(ch);
	chan_close(ch);
	ck_assert_int_ne(chan_closed(ch), 0);
	errno = 0;
	ck_assert_int_eq(chan_send(ch, &i, NULL), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_eq(chan_len(ch), 3);

	ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(chan_recv_batch(ch, got, 4, NULL), 2);
	ck_assert_int_eq(got[0], 2);
	ck_assert_int_eq(got[1], 3);

	errno = 0;
	ck_assert_int_eq(chan_recv(ch, &v, NULL), -1);
	ck_assert_int_eq(errno, EPIPE);
	errno = 0;
	ck_assert_int_eq(chan_recv_batch(ch, got, 4, NULL), -1);
	ck_assert_int_eq(errno, EPIPE);
	chan_free(ch);
}
END_TEST

START_TEST(test_send_deadline)
{
	struct chan *ch = chan_new(1, sizeof(int));
	struct timespec dl;
	int v = 1, w;

	ck_assert_int_eq(chan_send(ch, &v, NULL), 0);
	chan_deadline(&dl, 50);
	errno = 0;
	ck_assert_int_eq(chan_send(ch, &v, &dl), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_msg(passed(&dl), "send gave up before its deadline");

	/* A deadline already past fails at once. */
	chan_deadline(&dl, -10);
	errno = 0;
	ck_assert_int_eq(chan_send(ch, &v, &dl), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_uint_eq(chan_len(ch), 1);

	/* With room, a deadline changes nothing. */
	ck_assert_int_eq(chan_recv(ch, &w, NULL), 0);
	chan_deadline(&dl, -10);
	v = 2;
	ck_assert_int_eq(chan_send(ch, &v, &dl), 0);
	ck_assert_int_eq(chan_recv(ch, &w, NULL), 0);
	ck_assert_int_eq(w, 2);
	chan_free(ch);
}
END_TEST

START_TEST(test_recv_deadline)
{
	struct chan *ch = chan_new(2, sizeof(int));
	struct timespec dl;
	int v, got[2];

	chan_deadline(&dl, 50);
	errno = 0;
	ck_assert_int_eq(chan_recv(ch, &v, &dl), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_msg(passed(&dl), "recv gave up before its deadline");

	chan_deadline(&dl, 30);
	errno = 0;
	ck_assert_int_eq(chan_recv_batch(ch, got, 2, &dl), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_msg(passed(&dl), "recv_batch gave up before its deadline");

	v = 5;
	ck_assert_int_eq(chan_send(ch, &v, NULL), 0);
	chan_deadline(&dl, -10);
	v = 0;
	ck_assert_int_eq(chan_recv(ch, &v, &dl), 0);
	ck_assert_int_eq(v, 5);
	chan_free(ch);
}
END_TEST

/* A receiver with a far deadline is woken by a send, not by the clock. */
struct timed_recv {
	struct chan *ch;
	int val;
	int rc;
	struct flag started;
};

static void *
timed_recv_main(void *arg)
{
	struct timed_recv *t = arg;
	struct timespec dl;

	chan_deadline(&dl, 10000);
	flag_add(&t->started);
	t->rc = chan_recv(t->ch, &t->val, &dl);
	return NULL;
}

START_TEST(test_deadline_woken_early)
{
	struct timed_recv t = { .ch = chan_new(1, sizeof(int)) };
	struct timespec early;
	pthread_t tid;
	int v = 9;

	flag_init(&t.started);
	ck_assert_int_eq(pthread_create(&tid, NULL, timed_recv_main, &t), 0);
	ck_assert(flag_wait(&t.started, 1, 5000));
	/* The receive must end well before its 10 s deadline could fire. */
	chan_deadline(&early, 5000);
	ck_assert_int_eq(chan_send(t.ch, &v, NULL), 0);
	pthread_join(tid, NULL);
	ck_assert_msg(!passed(&early), "receiver waited for its deadline");
	ck_assert_int_eq(t.rc, 0);
	ck_assert_int_eq(t.val, 9);
	chan_free(t.ch);
	flag_destroy(&t.started);
}
END_TEST

START_TEST(test_recv_batch)
{
	struct chan *ch = chan_new(8, sizeof(int));
	int i, got[10];

	for (i = 0; i < 6; i++)
		ck_assert_int_eq(chan_send(ch, &i, NULL), 0);
	ck_assert_int_eq(chan_recv_batch(ch, got, 4, NULL), 4);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(got[i], i);
	ck_assert_int_eq(chan_recv_batch(ch, got, 4, NULL), 2);
	ck_assert_int_eq(got[0], 4);
	ck_assert_int_eq(got[1], 5);
	chan_free(ch);

	/* A batch that spans the end of the ring comes out in order. */
	ch = chan_new(4, sizeof(int));
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(chan_send(ch, &i, NULL), 0);
	ck_assert_int_eq(chan_recv_batch(ch, got, 2, NULL), 2);
	for (i = 3; i < 6; i++)
		ck_assert_int_eq(chan_send(ch, &i, NULL), 0);
	ck_assert_uint_eq(chan_len(ch), 4);
	ck_assert_int_eq(chan_recv_batch(ch, got, 10, NULL), 4);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(got[i], i + 2);
	ck_assert_uint_eq(chan_len(ch), 0);

	errno = 0;
	ck_assert_int_eq(chan_recv_batch(ch, got, 0, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	chan_free(ch);
}
END_TEST

START_TEST(test_batch_wakes_senders)
{
	struct chan *ch = chan_new(2, sizeof(int));
	struct flag started, done;
	struct call c[2];
	int i, got[4], sum;

	flag_init(&started);
	flag_init(&done);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(chan_send(ch, &i, NULL), 0);
	for (i = 0; i < 2; i++)
		call_start(&c[i], ch, send_main, 10 + i, 0, &started, &done);
	ck_assert(flag_wait(&started, 2, 5000));
	ck_assert(!flag_wait(&done, 1, 100));

	/* One batch frees two slots: both blocked senders must get in. */
	ck_assert_int_eq(chan_recv_batch(ch, got, 4, NULL), 2);
	ck_assert_msg(flag_wait(&done, 2, 5000), "a sender missed a freed slot");
	for (i = 0; i < 2; i++) {
		pthread_join(c[i].tid, NULL);
		ck_assert_int_eq(c[i].rc, 0);
	}
	ck_assert_int_eq(chan_recv_batch(ch, got, 4, NULL), 2);
	sum = got[0] + got[1];
	ck_assert_int_eq(sum, 21);
	chan_free(ch);
	flag_destroy(&started);
	flag_destroy(&done);
}
END_TEST

/* A run goes in under one lock, in order, as much as fits; across the wrap. */
START_TEST(test_try_send_many)
{
	struct chan *ch = chan_new(5, sizeof(int));
	int in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8], v;

	ck_assert_ptr_nonnull(ch);
	/* Move head to 3 so the next run wraps round the ring. */
	ck_assert_int_eq(chan_try_send_many(ch, in, 3), 3);
	ck_assert_int_eq(chan_recv_batch(ch, out, 3, NULL), 3);
	ck_assert_int_eq(chan_try_send_many(ch, in, 0), 0);
	ck_assert_int_eq(chan_try_send_many(ch, in, 4), 4);
	/* One slot left: only the first of the next run fits. */
	ck_assert_int_eq(chan_try_send_many(ch, in + 4, 4), 1);
	ck_assert_int_eq(chan_try_send_many(ch, in, 1), 0);
	ck_assert_int_eq(chan_try_send(ch, &in[0]), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(chan_recv_batch(ch, out, 8, NULL), 5);
	for (v = 0; v < 5; v++)
		ck_assert_int_eq(out[v], in[v]);
	chan_close(ch);
	ck_assert_int_eq(chan_try_send_many(ch, in, 2), -1);
	ck_assert_int_eq(errno, EPIPE);
	chan_free(ch);
}
END_TEST

START_TEST(test_len)
{
	struct chan *ch = chan_new(4, sizeof(int));
	int i, got[4];

	ck_assert_uint_eq(chan_len(ch), 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(chan_send(ch, &i, NULL), 0);
		ck_assert_uint_eq(chan_len(ch), (size_t)i + 1);
	}
	ck_assert_int_eq(chan_recv(ch, got, NULL), 0);
	ck_assert_uint_eq(chan_len(ch), 3);
	ck_assert_int_eq(chan_recv_batch(ch, got, 2, NULL), 2);
	ck_assert_uint_eq(chan_len(ch), 1);
	chan_close(ch);
	ck_assert_uint_eq(chan_len(ch), 1);
	chan_free(ch);
}
END_TEST

struct wide {
	uint64_t a;
	char name[21];
	void *p;
	uint32_t c;
};

START_TEST(test_wide_elements)
{
	struct chan *ch = chan_new(3, sizeof(struct wide));
	struct wide in[7], out[7];
	int i;

	memset(in, 0, sizeof(in));
	for (i = 0; i < 7; i++) {
		in[i].a = UINT64_C(0x0102030405060708) * (uint64_t)(i + 1);
		memset(in[i].name, 'a' + i, sizeof(in[i].name) - 1);
		in[i].p = &in[i];
		in[i].c = 0xdeadbeefU ^ (uint32_t)i;
	}
	/* Through the wrap: 2 in, 1 out, then keep one in flight. */
	ck_assert_int_eq(chan_send(ch, &in[0], NULL), 0);
	ck_assert_int_eq(chan_send(ch, &in[1], NULL), 0);
	ck_assert_int_eq(chan_recv(ch, &out[0], NULL), 0);
	for (i = 2; i < 7; i++) {
		ck_assert_int_eq(chan_send(ch, &in[i], NULL), 0);
		ck_assert_int_eq(chan_recv(ch, &out[i - 1], NULL), 0);
	}
	ck_assert_int_eq(chan_recv(ch, &out[6], NULL), 0);
	ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);
	chan_free(ch);
}
END_TEST

/*
 * Many producers and consumers: every item is (producer << 32 | seq).
 * Each consumer marks what it got in a private table; merged after the
 * joins, every item must be marked exactly once. A consumer must also see
 * each producer's items in increasing seq order (FIFO per producer).
 */
#define NPROD 4
#define NCONS 4
#define PER_PROD 25000
#define NITEMS (NPROD * PER_PROD)

struct producer {
	pthread_t tid;
	struct chan *ch;
	uint64_t id;
	uint64_t sum;
};

struct consumer {
	pthread_t tid;
	struct chan *ch;
	int batch;
	unsigned char *seen;
	long count;
	uint64_t sum;
	int order_ok;
};

static void *
producer_main(void *arg)
{
	struct producer *p = arg;
	uint64_t seq, v;

	for (seq = 0; seq < PER_PROD; seq++) {
		v = p->id << 32 | seq;
		if (chan_send(p->ch, &v, NULL) == -1)
			break;
		p->sum += v;
	}
	return NULL;
}

static void
consume(struct consumer *c, uint64_t v, long last[NPROD])
{
	uint64_t prod = v >> 32, seq = v & 0xffffffffU;

	if (prod >= NPROD || seq >= PER_PROD || (long)seq <= last[prod]) {
		c->order_ok = 0;
		return;
	}
	last[prod] = (long)seq;
	c->seen[prod * PER_PROD + seq]++;
	c->count++;
	c->sum += v;
}

static void *
consumer_main(void *arg)
{
	struct consumer *c = arg;
	long last[NPROD];
	uint64_t v[8];
	ssize_t n, i;

	for (i = 0; i < NPROD; i++)
		last[i] = -1;
	c->order_ok = 1;
	for (;;) {
		if (c->batch)
			n = chan_recv_batch(c->ch, v, 8, NULL);
		else
			n = chan_recv(c->ch, v, NULL) == 0 ? 1 : -1;
		if (n == -1)
			break;
		for (i = 0; i < n; i++)
			consume(c, v[i], last);
	}
	return NULL;
}

START_TEST(test_many_producers_consumers)
{
	struct chan *ch = chan_new(16, sizeof(uint64_t));
	struct producer p[NPROD];
	struct consumer c[NCONS];
	uint64_t in_sum = 0, out_sum = 0;
	long out_count = 0;
	int i, j, marks, wrong = 0;

	for (i = 0; i < NCONS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].ch = ch;
		c[i].batch = i % 2;
		c[i].seen = calloc(NITEMS, 1);
		ck_assert_ptr_nonnull(c[i].seen);
		ck_assert_int_eq(pthread_create(&c[i].tid, NULL, consumer_main,
		    &c[i]), 0);
	}
	for (i = 0; i < NPROD; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].ch = ch;
		p[i].id = (uint64_t)i;
		ck_assert_int_eq(pthread_create(&p[i].tid, NULL, producer_main,
		    &p[i]), 0);
	}
	for (i = 0; i < NPROD; i++) {
		pthread_join(p[i].tid, NULL);
		in_sum += p[i].sum;
	}
	chan_close(ch);
	for (i = 0; i < NCONS; i++) {
		pthread_join(c[i].tid, NULL);
		ck_assert_msg(c[i].order_ok, "consumer %d saw a producer out of order", i);
		out_count += c[i].count;
		out_sum += c[i].sum;
	}
	ck_assert_int_eq(out_count, NITEMS);
	ck_assert(in_sum == out_sum);
	for (j = 0; j < NITEMS; j++) {
		marks = 0;
		for (i = 0; i < NCONS; i++)
			marks += c[i].seen[j];
		wrong += marks != 1;
	}
	ck_assert_msg(wrong == 0, "%d items not received exactly once", wrong);
	for (i = 0; i < NCONS; i++)
		free(c[i].seen);
	ck_assert_uint_eq(chan_len(ch), 0);
	chan_free(ch);
}
END_TEST

START_TEST(test_deadline_normalised)
{
	struct timespec a, b;

	chan_deadline(&a, 0);
	chan_deadline(&b, 1999);
	ck_assert(b.tv_nsec >= 0 && b.tv_nsec < 1000000000L);
	ck_assert(b.tv_sec >= a.tv_sec + 1);
	chan_deadline(&b, -1999);
	ck_assert(b.tv_nsec >= 0 && b.tv_nsec < 1000000000L);
	ck_assert(b.tv_sec <= a.tv_sec - 1);
}
END_TEST

/* A byte-bounded channel: the bytes held (sent, not yet released) are a
 * bound beside the entries; a receive alone does not free them. */
START_TEST(test_bytes_bound)
{
	struct chan *ch = chan_new_bytes(10, sizeof(int), 100);
	int i = 1, v;

	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(chan_try_send_bytes(ch, &i, 60), 0);
	errno = 0;
	ck_assert_int_eq(chan_try_send_bytes(ch, &i, 50), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(chan_try_send_bytes(ch, &i, 40), 0);
	ck_assert_uint_eq(chan_bytes(ch), 100);
	/* Elements that name no size pass while entries are free. */
	ck_assert_int_eq(chan_try_send(ch, &i), 0);
	ck_assert_uint_eq(chan_len(ch), 3);

	ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
	errno = 0;
	ck_assert_int_eq(chan_try_send_bytes(ch, &i, 10), -1);
	ck_assert_int_eq(errno, EAGAIN);
	chan_release(ch, 60);
	ck_assert_uint_eq(chan_bytes(ch), 40);
	ck_assert_int_eq(chan_try_send_bytes(ch, &i, 60), 0);

	errno = 0;
	ck_assert_int_eq(chan_try_send_bytes(ch, &i, 101), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	errno = 0;
	ck_assert_int_eq(chan_send_bytes(ch, &i, 101, NULL), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	chan_close(ch);
	errno = 0;
	ck_assert_int_eq(chan_try_send_bytes(ch, &i, 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	chan_free(ch);
}
END_TEST

struct bytes_call {
	struct chan *ch;
	size_t bytes;
	int rc;
	struct flag *started;
	struct flag *done;
};

static void *
send_bytes_main(void *arg)
{
	struct bytes_call *c = arg;
	int v = 7;

	flag_add(c->started);
	c->rc = chan_send_bytes(c->ch, &v, c->bytes, NULL);
	flag_add(c->done);
	return NULL;
}

/* A blocking send waits for bytes as for a slot: a release wakes it,
 * a receive alone does not; and its deadline holds. */
START_TEST(test_bytes_send_waits_for_release)
{
	struct chan *ch = chan_new_bytes(10, sizeof(int), 100);
	struct flag started, done;
	struct bytes_call c = { .ch = ch, .bytes = 50, .started = &started, .done = &done };
	struct timespec dl;
	pthread_t tid;
	int i = 1, v;

	flag_init(&started);
	flag_init(&done);
	ck_assert_int_eq(chan_send_bytes(ch, &i, 80, NULL), 0);
	chan_deadline(&dl, 50);
	errno = 0;
	ck_assert_int_eq(chan_send_bytes(ch, &i, 30, &dl), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);

	ck_assert_int_eq(pthread_create(&tid, NULL, send_bytes_main, &c), 0);
	ck_assert(flag_wait(&started, 1, 5000));
	ck_assert_int_eq(chan_recv(ch, &v, NULL), 0);
	ck_assert_msg(!flag_wait(&done, 1, 100), "send returned with the bytes still held");
	chan_release(ch, 80);
	ck_assert_msg(flag_wait(&done, 1, 5000), "send not woken by a release");
	pthread_join(tid, NULL);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_uint_eq(chan_bytes(ch), 50);
	chan_free(ch);
	flag_destroy(&started);
	flag_destroy(&done);
}
END_TEST

static Suite *
chan_suite(void)
{
	Suite *s = suite_create("chan");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_new_invalid);
	tcase_add_test(tc, test_fifo_order);
	tcase_add_test(tc, test_try_send_bound);
	tcase_add_test(tc, test_sender_blocks_until_recv);
	tcase_add_test(tc, test_receiver_blocks_until_send);
	tcase_add_test(tc, test_close_wakes_senders);
	tcase_add_test(tc, test_close_wakes_receivers);
	tcase_add_test(tc, test_try_send_many_wakes_a_receiver_per_element);
	tcase_add_test(tc, test_sends_into_a_non_empty_ring_feed_every_waiter);
	tcase_add_test(tc, test_drain_after_close);
	tcase_add_test(tc, test_send_deadline);
	tcase_add_test(tc, test_recv_deadline);
	tcase_add_test(tc, test_deadline_woken_early);
	tcase_add_test(tc, test_deadline_normalised);
	tcase_add_test(tc, test_recv_batch);
	tcase_add_test(tc, test_batch_wakes_senders);
	tcase_add_test(tc, test_try_send_many);
	tcase_add_test(tc, test_len);
	tcase_add_test(tc, test_wide_elements);
	tcase_add_test(tc, test_many_producers_consumers);
	tcase_add_test(tc, test_bytes_bound);
	tcase_add_test(tc, test_bytes_send_waits_for_release);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(chan_suite());
}
