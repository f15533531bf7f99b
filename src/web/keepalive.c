/*
 * keepalive: one thread for all members. It wakes every half ping
 * interval and walks the live list. A member that has sent nothing for an
 * interval is sent a ping (queued like any frame, so its writer sends it
 * in order) and the time is noted; any frame from the peer afterwards
 * (the pong, or anything else) clears it. A ping still unanswered a full
 * interval later means the peer is gone: the member is closed with 1001
 * "ping timeout" and its read loop ends. So a member is never dropped
 * without a ping, and never while it answers. One thread instead of a
 * timer per member: O(members) work per sweep, no wake-ups in between.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "groupchat/actors/member.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/log.h"
#include "groupchat/core/thread.h"
#include "server_ctx.h"

#define KEEPALIVE_STACK (64 * 1024)

static void
sweep(struct server *srv, int64_t now, int64_t interval_ms)
{
	pthread_mutex_lock(&srv->live_lock);
	for (struct conn *cn = srv->live; cn != NULL; cn = cn->next) {
		int64_t rx = atomic_load_explicit(&cn->last_rx_ms, memory_order_relaxed);
		if (cn->ping_sent_ms != 0 && rx >= cn->ping_sent_ms)
			cn->ping_sent_ms = 0; /* answered */
		if (cn->ping_sent_ms != 0) {
			if (now - cn->ping_sent_ms >= interval_ms &&
			    member_close(cn->member, 1001, "ping timeout"))
				log_event(LOG_INFO, "ping_timeout", "client",
				    member_id(cn->member), NULL);
		} else if (now - rx >= interval_ms) {
			/* A full queue means a slow member; the group deals with it. */
			if (member_enqueue(cn->member, srv->ping) == 0)
				cn->ping_sent_ms = now;
		}
	}
	pthread_mutex_unlock(&srv->live_lock);
}

static void *
keepalive_main(void *arg)
{
	struct server *srv = arg;
	int64_t interval_ms = (int64_t)srv->cfg.ping_interval * 1000;
	struct timespec deadline;


	pthread_mutex_lock(&srv->live_lock);
	while (srv->keepalive_running) {
		chan_deadline(&deadline, (long)(interval_ms / 2));
		while (srv->keepalive_running &&
		    pthread_cond_timedwait(&srv->live_cond, &srv->live_lock, &deadline) != ETIMEDOUT)
			;
		if (!srv->keepalive_running)
			break;
		pthread_mutex_unlock(&srv->live_lock);
		sweep(srv, server_now_ms(), interval_ms);
		pthread_mutex_lock(&srv->live_lock);
	}
	pthread_mutex_unlock(&srv->live_lock);
	return NULL;
}

int
keepalive_start(struct server *srv)
{
	if (srv->cfg.ping_interval == 0)
		return 0;
	srv->keepalive_running = 1;
	if (thread_start(&srv->keepalive, "gc-keepalive", KEEPALIVE_STACK,
	    keepalive_main, srv) != 0) {
		srv->keepalive_running = 0;
		return -1;
	}
	return 0;
}

void
keepalive_stop(struct server *srv)
{
	pthread_mutex_lock(&srv->live_lock);
	if (!srv->keepalive_running) {
		pthread_mutex_unlock(&srv->live_lock);
		return;
	}
	srv->keepalive_running = 0;
	pthread_cond_signal(&srv->live_cond);
	pthread_mutex_unlock(&srv->live_lock);
	pthread_join(srv->keepalive, NULL);
}
