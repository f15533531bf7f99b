/*
 * keepalive: one thread for all members. Every ping interval it walks the
 * live list: a member silent for one interval is sent a ping (queued like
 * any frame, so its writer sends it in order), a member silent for two is
 * closed with 1001 "ping timeout" and its read loop ends. One thread
 * instead of a timer per member: O(members) work per interval, no wake-ups
 * in between.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "groupchat/client.h"
#include "groupchat/log.h"
#include "server_ctx.h"

#define KEEPALIVE_STACK (64 * 1024)

static void
sweep(struct server *srv, int64_t now, int64_t interval_ms)
{
	pthread_mutex_lock(&srv->live_lock);
	for (struct ws *ws = srv->live; ws != NULL; ws = ws->next) {
		int64_t idle = now - atomic_load_explicit(&ws->last_rx_ms, memory_order_relaxed);
		if (idle >= 2 * interval_ms) {
			if (client_close(ws->client, 1001, "ping timeout"))
				log_event(LOG_INFO, "ping_timeout", "client",
				    client_id(ws->client), NULL);
		} else if (idle >= interval_ms) {
			/* A full queue means a slow member; the group deals with it. */
			client_enqueue(ws->client, srv->ping);
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
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += srv->cfg.ping_interval;
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
	pthread_attr_t attr;
	int rc;

	if (srv->cfg.ping_interval == 0)
		return 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, KEEPALIVE_STACK);
	srv->keepalive_running = 1;
	rc = pthread_create(&srv->keepalive, &attr, keepalive_main, srv);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		srv->keepalive_running = 0;
		errno = rc;
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
