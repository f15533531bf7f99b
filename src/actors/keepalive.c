/*
 * keepalive: one thread for all members. It wakes every half ping
 * interval and walks the tracked list. A member that has sent nothing for
 * an interval is sent a ping (queued like any frame, so its writer sends
 * it in order) and the time is noted; any frame from the peer afterwards
 * (the pong, or anything else) clears it. A ping still unanswered a full
 * interval later means the peer is gone: the member is closed with 1001
 * "ping timeout" and its read loop ends. So a member is never dropped
 * without a ping, and never while it answers. One thread instead of a
 * timer per member: O(members) work per sweep, no wake-ups in between.
 *
 * Who touches what:
 *  - the tracked list, each link's ping_sent_ms, and running: under lock.
 *    A link is tracked by the web side once its member has a writer and
 *    untracked before the member goes, so a tracked member is valid.
 *  - heard_ms: written by the connection's reader (keepalive_heard), read
 *    by the sweep; an atomic, no lock.
 *  - stop_cond: keepalive_stop wakes the thread with it.
 */
#include "groupchat/actors/keepalive.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "groupchat/actors/member.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/clock.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/log.h"
#include "groupchat/core/thread.h"

#define KEEPALIVE_STACK (64 * 1024)

struct keepalive {
	pthread_mutex_t lock;
	pthread_cond_t stop_cond;     /* running went false */
	struct keepalive_link *tracked;
	bool running;                 /* a thread runs and should go on */
	bool started;                 /* a thread was started: join it */
	pthread_t thread;
	int64_t interval_ms;
	struct frame *ping;           /* one shared empty ping frame */
};

static void
sweep(struct keepalive *ka, int64_t now)
{
	struct keepalive_link *l;
	int64_t rx;

	pthread_mutex_lock(&ka->lock);
	for (l = ka->tracked; l != NULL; l = l->next) {
		rx = atomic_load_explicit(&l->heard_ms, memory_order_relaxed);
		if (l->ping_sent_ms != 0 && rx >= l->ping_sent_ms)
			l->ping_sent_ms = 0; /* answered */
		if (l->ping_sent_ms != 0) {
			if (now - l->ping_sent_ms >= ka->interval_ms &&
			    member_close(l->member, 1001, "ping timeout"))
				log_event(LOG_INFO, "ping_timeout", "client",
				    member_id(l->member), NULL);
		} else if (now - rx >= ka->interval_ms) {
			/* A full queue means a slow member; the group deals with it. */
			if (member_enqueue(l->member, ka->ping) == 0)
				l->ping_sent_ms = now;
		}
	}
	pthread_mutex_unlock(&ka->lock);
}

static void *
keepalive_main(void *arg)
{
	struct keepalive *ka = arg;
	struct timespec deadline;

	pthread_mutex_lock(&ka->lock);
	while (ka->running) {
		chan_deadline(&deadline, (long)(ka->interval_ms / 2));
		while (ka->running &&
		    pthread_cond_timedwait(&ka->stop_cond, &ka->lock, &deadline) != ETIMEDOUT)
			;
		if (!ka->running)
			break;
		pthread_mutex_unlock(&ka->lock);
		sweep(ka, clock_now_ms());
		pthread_mutex_lock(&ka->lock);
	}
	pthread_mutex_unlock(&ka->lock);
	return NULL;
}

struct keepalive *
keepalive_start(unsigned interval_s, struct frame *ping)
{
	struct keepalive *ka;
	pthread_condattr_t ca;
	int err;

	if ((ka = calloc(1, sizeof(*ka))) == NULL)
		return NULL;
	ka->interval_ms = (int64_t)interval_s * 1000;
	ka->ping = frame_ref(ping);
	if ((err = pthread_mutex_init(&ka->lock, NULL)) != 0)
		goto err0;
	/* The thread waits with a monotonic deadline. */
	if ((err = pthread_condattr_init(&ca)) != 0)
		goto err1;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = pthread_cond_init(&ka->stop_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (err != 0)
		goto err1;
	if (interval_s == 0)
		return ka;
	ka->running = ka->started = true;
	if ((err = thread_start(&ka->thread, "gc-keepalive", KEEPALIVE_STACK,
	    keepalive_main, ka)) != 0)
		goto err2;
	return ka;

err2:
	pthread_cond_destroy(&ka->stop_cond);
err1:
	pthread_mutex_destroy(&ka->lock);
err0:
	frame_unref(ka->ping);
	free(ka);
	errno = err;
	return NULL;
}

void
keepalive_stop(struct keepalive *ka)
{
	pthread_mutex_lock(&ka->lock);
	ka->running = false;
	pthread_cond_signal(&ka->stop_cond);
	pthread_mutex_unlock(&ka->lock);
	if (ka->started)
		pthread_join(ka->thread, NULL);
	pthread_cond_destroy(&ka->stop_cond);
	pthread_mutex_destroy(&ka->lock);
	frame_unref(ka->ping);
	free(ka);
}

void
keepalive_track(struct keepalive *ka, struct keepalive_link *l, struct member *m)
{
	l->member = m;
	l->ping_sent_ms = 0;
	keepalive_heard(l);
	pthread_mutex_lock(&ka->lock);
	l->prev = NULL;
	l->next = ka->tracked;
	if (ka->tracked != NULL)
		ka->tracked->prev = l;
	ka->tracked = l;
	pthread_mutex_unlock(&ka->lock);
}

void
keepalive_untrack(struct keepalive *ka, struct keepalive_link *l)
{
	pthread_mutex_lock(&ka->lock);
	if (l->prev != NULL)
		l->prev->next = l->next;
	else if (ka->tracked == l)
		ka->tracked = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
	pthread_mutex_unlock(&ka->lock);
}

void
keepalive_heard(struct keepalive_link *l)
{
	atomic_store_explicit(&l->heard_ms, clock_now_ms(), memory_order_relaxed);
}
