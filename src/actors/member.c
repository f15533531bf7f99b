/*
 * member: one member's id, send queue and writer thread.
 *
 * Who touches what:
 *  - queue: a chan of struct frame pointers, each one a counted reference.
 *    Anyone enqueues (member_enqueue and _many try and never block;
 *    member_enqueue_wait, the group thread's, waits up to its deadline
 *    for room); only the writer dequeues
 *    while it runs, and the last member_unref drains what is left.
 *  - closing, code, reason: written under lock. The first member_close
 *    records code and reason and closes the queue under that lock, so
 *    whoever sees the queue closed also sees why. code is an atomic as
 *    well, so that member_close_code reads it without locking a const
 *    member.
 *  - v1: set by the connection before the member joins a group, read
 *    only after (the join's mailbox hands it to the group thread).
 *  - started, joined, pool, writer: guarded by join_lock, which is held
 *    across the wait for the writer so that a second joiner waits for the
 *    first to finish. The writer never takes join_lock.
 *
 * The writer owns the sink: it alone calls write, and calls end exactly
 * once, after the queue is closed and drained (or the sink broke). It
 * runs as a task on a thread of the writer pool (thread_pool.h), so the
 * thread is parked and handed to a later member rather than ended; the
 * member has that thread to itself from member_start_writer until
 * member_join_writer returns.
 */
#include "groupchat/actors/member.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "groupchat/core/chan.h"
#include "groupchat/core/fault.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/thread_pool.h"

/* A writer only batches and calls the sink, which must be frugal too
 * (CivetWeb writes without big locals). */
#define MEMBER_WRITER_STACK (64 * 1024)

/* Frames handed to the sink in one write, at most. */
#define MEMBER_BATCH 64

struct member {
	atomic_uint refs;
	char id[CID_LEN + 1];
	struct cid_set *ids;
	struct chan *queue;
	bool v1;                /* groupchat.v1 mode */

	pthread_mutex_t lock;
	bool closing;
	const char *reason;
	atomic_uint code;

	pthread_mutex_t join_lock;
	bool started;
	bool joined;
	struct thread_pool *pool;
	struct pooled *writer;
	struct member_sink sink;
};

static void	 member_writer(void *arg);
static void	 member_drain(struct member *c);

struct member *
member_new(struct cid_set *ids, size_t queue_cap)
{
	struct member *c;
	int err;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (cid_acquire(ids, c->id) == -1) {
		err = errno;
		goto err0;
	}
	if ((c->queue = chan_new(queue_cap, sizeof(struct frame *))) == NULL) {
		err = errno;
		goto err1;
	}
	if ((err = pthread_mutex_init(&c->lock, NULL)) != 0)
		goto err2;
	if ((err = pthread_mutex_init(&c->join_lock, NULL)) != 0)
		goto err3;
	atomic_init(&c->refs, 1);
	atomic_init(&c->code, MEMBER_CLOSE_SILENT);
	c->ids = ids;
	c->reason = "";
	return c;

err3:
	pthread_mutex_destroy(&c->lock);
err2:
	chan_free(c->queue);
err1:
	cid_release(ids, c->id);
err0:
	free(c);
	errno = err;
	return NULL;
}

struct member *
member_ref(struct member *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void
member_unref(struct member *c)
{
	if (c == NULL ||
	    atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* A no-op when the owner joined the writer as it should have. */
	member_join_writer(c);
	member_drain(c);
	chan_free(c->queue);
	cid_release(c->ids, c->id);
	pthread_mutex_destroy(&c->join_lock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const char *
member_id(const struct member *c)
{
	return c->id;
}

void
member_set_v1(struct member *c)
{
	c->v1 = true;
}

bool
member_v1(const struct member *c)
{
	return c->v1;
}

size_t
member_capacity(const struct member *c)
{
	return chan_cap(c->queue);
}

struct thread_pool *
member_writer_pool_new(size_t max_parked)
{
	return thread_pool_new("gc-writer", MEMBER_WRITER_STACK, max_parked);
}

int
member_start_writer(struct member *c, struct thread_pool *pool,
    const struct member_sink *sink)
{
	int err;

	pthread_mutex_lock(&c->join_lock);
	if (c->started || c->joined) {
		err = EINVAL;
		goto out;
	}
	c->sink = *sink;
	if (fault_hit(FAULT_WRITER_START)) {
		err = EAGAIN;
		goto out;
	}
	if ((c->writer = thread_pool_run(pool, member_writer, c)) == NULL) {
		err = errno;
		goto out;
	}
	c->pool = pool;
	c->started = true;
	err = 0;
out:
	pthread_mutex_unlock(&c->join_lock);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int
member_enqueue(struct member *c, struct frame *m)
{
	frame_ref(m);
	if (chan_try_send(c->queue, &m) == -1) {
		int err = errno;
		frame_unref(m);
		errno = err;
		return -1;
	}
	return 0;
}

ssize_t
member_enqueue_many(struct member *c, struct frame *const *ms, size_t n,
    bool *wake)
{
	int w;
	ssize_t rc = chan_try_send_many_defer(c->queue, ms, n, &w);

	if (wake != NULL)
		*wake = w;
	else if (w)
		chan_wake(c->queue);
	return rc;
}

void
member_wake(struct member *c)
{
	chan_wake(c->queue);
}

ssize_t
member_enqueue_wait(struct member *c, struct frame *const *ms, size_t n,
    const struct timespec *deadline)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (chan_send(c->queue, &ms[i], deadline) == -1)
			return i > 0 || errno != EPIPE ? (ssize_t)i : -1;
	return (ssize_t)n;
}

int
member_close(struct member *c, uint16_t code, const char *reason)
{
	int won;

	pthread_mutex_lock(&c->lock);
	won = !c->closing;
	if (won) {
		c->closing = true;
		c->reason = reason != NULL ? reason : "";
		atomic_store_explicit(&c->code, code, memory_order_relaxed);
		chan_close(c->queue);
	}
	pthread_mutex_unlock(&c->lock);
	return won;
}

uint16_t
member_close_code(const struct member *c)
{
	return (uint16_t)atomic_load_explicit(&c->code, memory_order_relaxed);
}

void
member_join_writer(struct member *c)
{
	member_close(c, MEMBER_CLOSE_SILENT, "");
	pthread_mutex_lock(&c->join_lock);
	if (c->started && !c->joined)
		thread_pool_wait(c->pool, c->writer);
	c->joined = true;
	pthread_mutex_unlock(&c->join_lock);
}

size_t
member_queued(const struct member *c)
{
	return chan_len(c->queue);
}

/*
 * One write per batch. After a failed write the queue is closed (silently
 * unless someone closed it first) and the loop goes on only to drop the
 * references left in it: chan_recv_batch fails once it is drained.
 */
static void
member_writer(void *arg)
{
	struct member *c = arg;
	struct frame *batch[MEMBER_BATCH];
	struct iovec iov[MEMBER_BATCH];
	const char *reason;
	uint16_t code;
	bool broken = false;
	ssize_t n, i;


	while ((n = chan_recv_batch(c->queue, batch, MEMBER_BATCH, NULL)) > 0) {
		for (i = 0; i < n; i++) {
			iov[i].iov_base = (void *)frame_data(batch[i]);
			iov[i].iov_len = frame_len(batch[i]);
		}
		if (!broken && c->sink.write(c->sink.ctx, iov, (int)n) == -1) {
			broken = true;
			member_close(c, MEMBER_CLOSE_SILENT, "");
		}
		for (i = 0; i < n; i++)
			frame_unref(batch[i]);
	}

	pthread_mutex_lock(&c->lock);
	code = (uint16_t)atomic_load_explicit(&c->code, memory_order_relaxed);
	reason = c->reason;
	pthread_mutex_unlock(&c->lock);
	c->sink.end(c->sink.ctx, code, reason);
}

/* Drops the references still queued; the queue is closed. */
static void
member_drain(struct member *c)
{
	struct frame *batch[MEMBER_BATCH];
	ssize_t n, i;

	while ((n = chan_recv_batch(c->queue, batch, MEMBER_BATCH, NULL)) > 0)
		for (i = 0; i < n; i++)
			frame_unref(batch[i]);
}
