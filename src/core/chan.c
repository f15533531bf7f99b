/*
 * chan: bounded MPMC FIFO. Elements live in a ring of cap * elem_size bytes
 * allocated with the channel header; head indexes the oldest element and
 * len counts the queued ones. Every field but cap and elem_size is guarded
 * by mu.
 *
 * Senders wait on not_full, receivers on not_empty, both against
 * CLOCK_MONOTONIC so that a wall-clock step cannot stretch or cut a
 * deadline. A waiter counts itself in sendw or recvw while it waits, so
 * the common uncontended send or receive pays for no signal at all.
 * After a timeout a waiter checks its condition once more: a slot or an
 * element that turned up at that moment is used rather than lost.
 *
 * The receiver wake rule: a receiver waits only on an empty ring, so a
 * send wakes one only when it makes the ring non-empty; a send into a
 * ring that already holds elements has nobody to wake who is not woken
 * already. A receiver that leaves elements behind while others wait
 * wakes the next one, so several consumers all get fed. The signal goes
 * out after the unlock, so the woken receiver does not run into the
 * mutex its waker still holds. That is safe because no thread frees a
 * channel while another still sends on it (chan.h).
 *
 * The byte bound: held counts the bytes of elements sent with a size
 * until chan_release, so it covers payloads a receiver took but still
 * works on (the publisher's batch on the wire). Room means a free slot
 * and the bytes fitting under max_bytes; a channel without a byte bound
 * has max_bytes SIZE_MAX and every unsized send counts 0, so its checks
 * are the entry bound's alone. A release broadcasts to the senders,
 * since the freed bytes may fit several; a receive in a byte-bounded
 * channel does too, since a sender woken for a slot may still lack
 * bytes while one waiting only for a slot stays asleep.
 */
#include "groupchat/core/chan.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct chan {
	pthread_mutex_t mu;
	pthread_cond_t not_full;  /* a slot freed, and sendw > 0 */
	pthread_cond_t not_empty; /* an element landed, and recvw > 0 */
	size_t cap;               /* elements the ring holds; fixed */
	size_t elem_size;         /* bytes per element; fixed */
	size_t head;              /* index of the oldest element */
	size_t len;               /* elements queued */
	size_t max_bytes;         /* byte bound; SIZE_MAX: none; fixed */
	size_t held;              /* bytes sent with a size, not released */
	unsigned sendw;           /* senders waiting on not_full */
	unsigned recvw;           /* receivers waiting on not_empty */
	int closed;
	unsigned char ring[];
};

struct chan *
chan_new(size_t cap, size_t elem_size)
{
	return chan_new_bytes(cap, elem_size, SIZE_MAX);
}

struct chan *
chan_new_bytes(size_t cap, size_t elem_size, size_t max_bytes)
{
	struct chan *ch;
	pthread_condattr_t ca;

	if (cap == 0 || elem_size == 0 || max_bytes == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (cap > (SIZE_MAX - sizeof(*ch)) / elem_size) {
		errno = ENOMEM;
		return NULL;
	}
	if ((ch = malloc(sizeof(*ch) + cap * elem_size)) == NULL)
		return NULL;
	ch->cap = cap;
	ch->elem_size = elem_size;
	ch->head = 0;
	ch->len = 0;
	ch->max_bytes = max_bytes;
	ch->held = 0;
	ch->sendw = 0;
	ch->recvw = 0;
	ch->closed = 0;

	if ((errno = pthread_condattr_init(&ca)) != 0)
		goto err_free;
	if ((errno = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0)
		goto err_attr;
	if ((errno = pthread_mutex_init(&ch->mu, NULL)) != 0)
		goto err_attr;
	if ((errno = pthread_cond_init(&ch->not_full, &ca)) != 0)
		goto err_mu;
	if ((errno = pthread_cond_init(&ch->not_empty, &ca)) != 0)
		goto err_full;
	pthread_condattr_destroy(&ca);
	return ch;

err_full:
	pthread_cond_destroy(&ch->not_full);
err_mu:
	pthread_mutex_destroy(&ch->mu);
err_attr:
	pthread_condattr_destroy(&ca);
err_free:
	free(ch);
	return NULL;
}

void
chan_free(struct chan *ch)
{
	if (ch == NULL)
		return;
	pthread_cond_destroy(&ch->not_empty);
	pthread_cond_destroy(&ch->not_full);
	pthread_mutex_destroy(&ch->mu);
	free(ch);
}

void
chan_close(struct chan *ch)
{
	pthread_mutex_lock(&ch->mu);
	ch->closed = 1;
	pthread_cond_broadcast(&ch->not_full);
	pthread_cond_broadcast(&ch->not_empty);
	pthread_mutex_unlock(&ch->mu);
}

/* Waits once on cv (mu held), counted in *waiters; returns 0 or ETIMEDOUT. */
static int
chan_wait(struct chan *ch, pthread_cond_t *cv, unsigned *waiters,
    const struct timespec *deadline)
{
	int rc = 0;

	(*waiters)++;
	if (deadline == NULL)
		pthread_cond_wait(cv, &ch->mu);
	else
		rc = pthread_cond_timedwait(cv, &ch->mu, deadline);
	(*waiters)--;
	return rc;
}

/* Appends *elem (mu held, room checked). Returns 1 if a receiver is to
 * be woken once mu is released: the ring was empty and somebody waits. */
static int
chan_push(struct chan *ch, const void *elem)
{
	size_t tail = (ch->head + ch->len) % ch->cap;

	memcpy(ch->ring + tail * ch->elem_size, elem, ch->elem_size);
	return ch->len++ == 0 && ch->recvw > 0;
}

/* 1 if an element of bytes fits now (mu held). */
static int
chan_room(const struct chan *ch, size_t bytes)
{
	return ch->len < ch->cap && bytes <= ch->max_bytes - ch->held;
}

/* Puts elem, holding bytes, if it fits now (mu held): 0, with *wake set
 * when a receiver waits; or -1 with errno EPIPE (closed), EMSGSIZE (over
 * the whole byte bound) or full_errno (no room now). */
static int
chan_put(struct chan *ch, const void *elem, size_t bytes, int full_errno, int *wake)
{
	if (ch->closed) {
		errno = EPIPE;
		return -1;
	}
	if (bytes > ch->max_bytes) {
		errno = EMSGSIZE;
		return -1;
	}
	if (!chan_room(ch, bytes)) {
		errno = full_errno;
		return -1;
	}
	ch->held += bytes;
	*wake = chan_push(ch, elem);
	return 0;
}

int
chan_send_bytes(struct chan *ch, const void *elem, size_t bytes,
    const struct timespec *deadline)
{
	int rc, wake = 0;

	pthread_mutex_lock(&ch->mu);
	while (!ch->closed && bytes <= ch->max_bytes && !chan_room(ch, bytes)) {
		if (chan_wait(ch, &ch->not_full, &ch->sendw, deadline) ==
		    ETIMEDOUT)
			break;
	}
	rc = chan_put(ch, elem, bytes, ETIMEDOUT, &wake);
	pthread_mutex_unlock(&ch->mu);
	if (wake)
		pthread_cond_signal(&ch->not_empty);
	return rc;
}

int
chan_send(struct chan *ch, const void *elem, const struct timespec *deadline)
{
	return chan_send_bytes(ch, elem, 0, deadline);
}

int
chan_try_send_bytes(struct chan *ch, const void *elem, size_t bytes)
{
	int rc, wake = 0;

	pthread_mutex_lock(&ch->mu);
	rc = chan_put(ch, elem, bytes, EAGAIN, &wake);
	pthread_mutex_unlock(&ch->mu);
	if (wake)
		pthread_cond_signal(&ch->not_empty);
	return rc;
}

int
chan_try_send(struct chan *ch, const void *elem)
{
	ssize_t n = chan_try_send_many(ch, elem, 1);

	if (n == 0)
		errno = EAGAIN;
	return n == 1 ? 0 : -1;
}

void
chan_release(struct chan *ch, size_t bytes)
{
	pthread_mutex_lock(&ch->mu);
	ch->held -= bytes;
	if (ch->sendw > 0)
		pthread_cond_broadcast(&ch->not_full);
	pthread_mutex_unlock(&ch->mu);
}

ssize_t
chan_try_send_many(struct chan *ch, const void *elems, size_t n)
{
	int wake;
	ssize_t rc = chan_try_send_many_defer(ch, elems, n, &wake);

	if (wake)
		chan_wake(ch);
	return rc;
}

void
chan_wake(struct chan *ch)
{
	pthread_cond_signal(&ch->not_empty);
}

ssize_t
chan_try_send_many_defer(struct chan *ch, const void *elems, size_t n,
    int *wake)
{
	const unsigned char *p = elems;
	size_t tail, first;

	*wake = 0;
	pthread_mutex_lock(&ch->mu);
	if (ch->closed) {
		pthread_mutex_unlock(&ch->mu);
		errno = EPIPE;
		return -1;
	}
	if (n > ch->cap - ch->len)
		n = ch->cap - ch->len;
	if (n > 0) {
		/* At most two copies, before and after the ring wraps. */
		tail = (ch->head + ch->len) % ch->cap;
		first = ch->cap - tail < n ? ch->cap - tail : n;
		memcpy(ch->ring + tail * ch->elem_size, p, first * ch->elem_size);
		memcpy(ch->ring, p + first * ch->elem_size, (n - first) * ch->elem_size);
		/* One wake for the run; a receiver that leaves some of it
		 * behind wakes the next (chan_recv_batch). */
		*wake = ch->len == 0 && ch->recvw > 0;
		ch->len += n;
	}
	pthread_mutex_unlock(&ch->mu);
	return (ssize_t)n;
}

/*
 * Moves n of the oldest elements out (mu held, n <= len): at most two
 * copies, before and after the ring wraps. Each freed slot can take one
 * waiting sender, so wake up to that many.
 */
static void
chan_pop(struct chan *ch, unsigned char *out, size_t n)
{
	size_t first = ch->cap - ch->head, wake;

	if (first > n)
		first = n;
	memcpy(out, ch->ring + ch->head * ch->elem_size, first * ch->elem_size);
	memcpy(out + first * ch->elem_size, ch->ring,
	    (n - first) * ch->elem_size);
	ch->head = (ch->head + n) % ch->cap;
	ch->len -= n;
	if (ch->max_bytes != SIZE_MAX && ch->sendw > 0) {
		pthread_cond_broadcast(&ch->not_full);
		return;
	}
	wake = n < ch->sendw ? n : ch->sendw;
	while (wake-- > 0)
		pthread_cond_signal(&ch->not_full);
}

ssize_t
chan_recv_batch(struct chan *ch, void *elems, size_t max,
    const struct timespec *deadline)
{
	ssize_t n = -1;
	int wake = 0;

	if (max == 0) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&ch->mu);
	while (!ch->closed && ch->len == 0) {
		if (chan_wait(ch, &ch->not_empty, &ch->recvw, deadline) ==
		    ETIMEDOUT)
			break;
	}
	if (ch->len > 0) {
		n = ch->len < max ? ch->len : max;
		chan_pop(ch, elems, n);
		/* Left some behind: the next waiting receiver takes them. */
		wake = ch->len > 0 && ch->recvw > 0;
	} else if (ch->closed)
		errno = EPIPE;
	else
		errno = ETIMEDOUT;
	pthread_mutex_unlock(&ch->mu);
	if (wake)
		pthread_cond_signal(&ch->not_empty);
	return n;
}

int
chan_recv(struct chan *ch, void *elem, const struct timespec *deadline)
{
	return chan_recv_batch(ch, elem, 1, deadline) == 1 ? 0 : -1;
}

size_t
chan_len(struct chan *ch)
{
	size_t n;

	pthread_mutex_lock(&ch->mu);
	n = ch->len;
	pthread_mutex_unlock(&ch->mu);
	return n;
}

size_t
chan_bytes(struct chan *ch)
{
	size_t n;

	pthread_mutex_lock(&ch->mu);
	n = ch->held;
	pthread_mutex_unlock(&ch->mu);
	return n;
}

size_t
chan_cap(const struct chan *ch)
{
	return ch->cap;
}

int
chan_closed(struct chan *ch)
{
	int closed;

	pthread_mutex_lock(&ch->mu);
	closed = ch->closed;
	pthread_mutex_unlock(&ch->mu);
	return closed;
}

int
chan_deadline_passed(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > ts->tv_sec ||
	    (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

void
chan_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	} else if (ts->tv_nsec < 0) {
		ts->tv_sec--;
		ts->tv_nsec += 1000000000L;
	}
}
