/*
 * redis_pub: the publisher actor. The thread owns the link, the loaded
 * script SHAs, the batch array and the last reported reason; other
 * threads touch only the channel (redis_pub_send) and the counters, which
 * mu guards. The channel's close is the stop signal: a blocked receive,
 * including the backoff wait (a receive with a deadline), wakes at once.
 *
 * One round trip: chan_recv_batch takes everything queued (up to BATCH),
 * each is appended to the link, one flush writes them all, and the
 * replies are read in order, each within the timeout. Messages queued
 * meanwhile form the next batch, so the batch grows with the load.
 *
 * An item whose sender was told an earlier message failed (cb->stale) is
 * failed too before the batch goes out: a sender's later message never
 * overtakes its lost one. (Inside one round trip, a message that Redis
 * answers with an error while a later one of the same sender succeeds
 * is not caught: the errors that can happen, NOSCRIPT, OOM or READONLY,
 * hit every script of the round trip alike.)
 *
 * NOSCRIPT (an operator's SCRIPT FLUSH) fails that message (-1: its
 * sender is closed, never silently dropped) and the scripts are loaded
 * again after the batch. Resending it with EVAL inside the batch would
 * read the next message's reply as its own, and resending after the
 * batch would put it behind messages its sender queued later.
 */
#include "groupchat/cluster/redis_pub.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/chan.h"
#include "groupchat/core/thread.h"
#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_lineage.h"
#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_linkstate.h"

#define BATCH 256
#define STACK_SIZE (128 * 1024)
#define IDLE_PING_MS 1000

struct redis_pub {
	struct redis_connector conn;
	struct chan *ch;            /* struct redis_pub_item */
	struct redis_pub_cb cb;
	struct redis_history hist;
	int timeout_ms;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;         /* guards msgs, trips */
	uint64_t msgs;
	uint64_t trips;
	/* the actor thread's own */
	struct redis_link *l;
	struct redis_scripts sc;
	char run[REDIS_RUN_LEN + 1];    /* the run_id part of the process l talks to */
	char token[REDIS_RUN_LEN + 1];  /* l's epoch token (redis_lineage.h) */
	struct timespec token_due;      /* when to read it again */
	struct redis_linkstate ls;
	struct redis_pub_item *batch;
};

/* Reports an item's fate and gives its bytes back to the channel. */
static void
finish(struct redis_pub *p, struct redis_pub_item *it, int64_t seq)
{
	p->cb.result(p->cb.arg, it, seq);
	free(it->frame);
	chan_release(p->ch, it->flen + it->id_len);
}

/* Frees the link and reports err (or the link's own reason for what). */
static void
drop_link(struct redis_pub *p, const char *what, const char *err)
{
	redis_linkstate_drop(&p->ls, &p->l, what, err);
}

static int
connect_link(struct redis_pub *p)
{
	char err[256];

	if ((p->l = p->conn.open(p->conn.arg, p->timeout_ms, err, sizeof(err))) == NULL)
		goto err;
	if (redis_scripts_load(p->l, &p->sc, err, sizeof(err)) == -1 ||
	    redis_run_id(p->l, p->run, err, sizeof(err)) == -1 ||
	    redis_epoch_token(p->l, p->run, p->token, err, sizeof(err)) == -1) {
		redis_link_free(p->l);
		p->l = NULL;
		goto err;
	}
	chan_deadline(&p->token_due, REDIS_TOKEN_CHECK_MS);
	redis_linkstate_up(&p->ls);
	return 0;
err:
	redis_linkstate_down(&p->ls, err);
	return -1;
}

/* Fails batch items from..n-1: not known to be relayed. */
static void
fail_batch(struct redis_pub *p, size_t from, size_t n)
{
	size_t i;

	for (i = from; i < n; i++)
		finish(p, &p->batch[i], -1);
}

/* Waits ms while failing whatever is queued. -1 once the channel closed. */
static int
backoff(struct redis_pub *p, long ms)
{
	struct timespec dl;
	ssize_t n;

	chan_deadline(&dl, ms);
	for (;;) {
		n = chan_recv_batch(p->ch, p->batch, BATCH, &dl);
		if (n == -1)
			return errno == ETIMEDOUT ? 0 : -1;
		fail_batch(p, 0, (size_t)n);
	}
}

/* One round trip for n items. The batch carries one fresh epoch, which
 * the script takes only for a group whose epoch it finds stale. */
static void
publish_batch(struct redis_pub *p, size_t n)
{
	redisReply *r;
	size_t i, j = 0;
	int64_t seq;
	int noscript = 0;
	char err[256], ep[REDIS_EP_LEN + 1];

	if (redis_ep_new(ep) == -1) {
		fail_batch(p, 0, n);
		return;
	}
	for (i = j = 0; i < n; i++) {
		if (p->cb.stale != NULL && p->cb.stale(p->cb.arg, &p->batch[i]))
			finish(p, &p->batch[i], -1);
		else
			p->batch[j++] = p->batch[i];
	}
	n = j;
	j = 0;
	for (i = 0; i < n; i++) {
		struct redis_pub_item *it = &p->batch[i];

		if (redis_group_publish_append(p->l, &p->sc, it->id, it->id_len, it->inc,
		    it->frame, it->flen, &p->hist, p->token, ep) == -1)
			break;
	}
	if (i > 0 && redis_link_flush(p->l) == 0) {
		for (; j < i; j++) {
			if (redis_link_read(p->l, &r, p->timeout_ms) != 1)
				break;
			if (r->type == REDIS_REPLY_INTEGER) {
				seq = r->integer;
			} else {
				seq = -1;
				if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
					noscript = 1;
			}
			freeReplyObject(r);
			finish(p, &p->batch[j], seq);
		}
	}
	pthread_mutex_lock(&p->mu);
	p->msgs += j;
	p->trips++;
	pthread_mutex_unlock(&p->mu);
	if (j < n) {
		fail_batch(p, j, n);
		drop_link(p, "publish", NULL);
	} else if (noscript && redis_scripts_load(p->l, &p->sc, err, sizeof(err)) == -1) {
		drop_link(p, "publish", err);
	}
}

/*
 * Redis sends nothing unasked, so an idle link whose socket polls
 * readable was closed under us (Redis restarted, or dropped the client).
 * Checked before each batch, so that a batch is not written into a dead
 * connection and failed (its senders closed) when a new link would take it.
 */
static int
link_stale(struct redis_pub *p)
{
	struct pollfd pf = { .fd = redis_link_fd(p->l), .events = POLLIN };

	return pf.fd >= 0 && poll(&pf, 1, 0) > 0;
}

/* Reads the token again once it is due (REDIS_TOKEN_CHECK_MS): 1 read,
 * 0 not due, -1 failed (the link dropped). */
static int
token_check(struct redis_pub *p)
{
	char err[256];

	if (!chan_deadline_passed(&p->token_due))
		return 0;
	if (redis_epoch_token(p->l, p->run, p->token, err, sizeof(err)) == -1) {
		drop_link(p, "lineage", err);
		return -1;
	}
	chan_deadline(&p->token_due, REDIS_TOKEN_CHECK_MS);
	return 1;
}

/* An idle link is checked so that loss shows without traffic: by reading
 * its token again when that is due, else with a PING. */
static void
ping(struct redis_pub *p)
{
	const char *argv[1] = { "PING" };
	const size_t lens[1] = { 4 };
	char err[256];
	redisReply *r;

	if (token_check(p) != 0)
		return;
	if ((r = redis_link_command(p->l, "PING", 1, argv, lens, err, sizeof(err))) == NULL) {
		drop_link(p, "PING", err);
		return;
	}
	freeReplyObject(r);
}

static void *
run(void *arg)
{
	struct redis_pub *p = arg;
	struct timespec dl;
	long wait = REDIS_BACKOFF_MIN_MS;
	ssize_t n;

	for (;;) {
		if (p->l == NULL) {
			if (connect_link(p) == -1) {
				if (backoff(p, wait) == -1)
					break;
				wait = redis_backoff_next(wait);
				continue;
			}
			wait = REDIS_BACKOFF_MIN_MS;
		}
		chan_deadline(&dl, IDLE_PING_MS);
		n = chan_recv_batch(p->ch, p->batch, BATCH, &dl);
		if (n == -1 && errno == ETIMEDOUT)
			ping(p);
		else if (n == -1)
			break;
		else {
			if (link_stale(p))
				drop_link(p, "read", "read: Server closed the connection");
			else
				token_check(p);     /* drops the link if it fails */
			if (p->l == NULL && connect_link(p) == -1)
				fail_batch(p, 0, (size_t)n);
			else
				publish_batch(p, (size_t)n);
		}
	}
	redis_link_free(p->l);
	p->l = NULL;
	return NULL;
}

struct redis_pub *
redis_pub_new(const struct redis_connector *conn, size_t cap, size_t max_bytes,
              const struct redis_history *hist, int timeout_ms,
              const struct redis_pub_cb *cb)
{
	struct redis_pub *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->conn = *conn;
	p->cb = *cb;
	p->hist = *hist;
	p->timeout_ms = timeout_ms;
	p->ls.link = cb->link;
	p->ls.arg = cb->arg;
	if ((p->batch = calloc(BATCH, sizeof(*p->batch))) == NULL)
		goto err_p;
	if ((p->ch = chan_new_bytes(cap, sizeof(struct redis_pub_item), max_bytes)) == NULL)
		goto err_batch;
	if ((errno = pthread_mutex_init(&p->mu, NULL)) != 0)
		goto err_ch;
	return p;

err_ch:
	chan_free(p->ch);
err_batch:
	free(p->batch);
err_p:
	free(p);
	return NULL;
}

int
redis_pub_start(struct redis_pub *p)
{
	/* thread_start sets errno. */
	if (thread_start(&p->thread, "gc-redis-pub", STACK_SIZE, run, p) != 0)
		return -1;
	p->started = 1;
	return 0;
}

/* An item too large for the whole byte bound fails as a full channel. */
int
redis_pub_send(struct redis_pub *p, const struct redis_pub_item *it)
{
	if (chan_try_send_bytes(p->ch, it, it->flen + it->id_len) == 0)
		return 0;
	if (errno == EMSGSIZE)
		errno = EAGAIN;
	return -1;
}

void
redis_pub_counts(struct redis_pub *p, uint64_t *msgs, uint64_t *round_trips)
{
	pthread_mutex_lock(&p->mu);
	*msgs = p->msgs;
	*round_trips = p->trips;
	pthread_mutex_unlock(&p->mu);
}

void
redis_pub_stop(struct redis_pub *p)
{
	struct redis_pub_item it;

	chan_close(p->ch);
	if (p->started)
		pthread_join(p->thread, NULL);
	while (chan_recv(p->ch, &it, NULL) == 0)
		finish(p, &it, -1);
	chan_free(p->ch);
	pthread_mutex_destroy(&p->mu);
	free(p->batch);
	free(p);
}
