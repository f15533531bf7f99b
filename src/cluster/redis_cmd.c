/*
 * redis_cmd: the command actor's thread. It owns the link, the script
 * SHAs, the last run_id, the epoch token and the heartbeat buffers; it
 * connects (SCRIPT LOAD, INFO server for the run_id, the epoch token of
 * redis_lineage.h), reconnects with capped backoff while
 * failing queued requests with ENOTCONN, runs each request it takes and
 * the heartbeat every ttl/3. The request kinds, the heartbeat and the
 * caller's side live in redis_cmd_req.c; the state both share is
 * redis_cmd_ctx.h.
 *
 * Who touches what: a request is a heap object shared by its caller and
 * the actor: the caller queues a pointer and waits on rcv (under rmu)
 * until the actor marks it done; a caller whose deadline passes marks it
 * abandoned instead and leaves, and the actor frees it when it gets there
 * (skipping it if not begun). done, abandoned and the results are guarded
 * by rmu once queued. A release or a later re-registration is queued
 * abandoned and later from the start: nobody waits for it, and it runs.
 *
 * Any failed call drops the link: after a timeout the link is out of step
 * with Redis, and telling a refused command from a broken link is not
 * worth a second path; the next request or heartbeat reconnects.
 */
#include "groupchat/cluster/redis_cmd.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupchat/core/chan.h"
#include "groupchat/core/thread.h"
#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_lineage.h"
#include "groupchat/cluster/redis_link.h"
#include "redis_cmd_ctx.h"

/* redis_calls' and redis_script's argv arrays (refresh: 512 keys) live on this stack. */
#define STACK_SIZE (128 * 1024)

void
cmd_drop_link(struct redis_cmd *c, const char *err)
{
	redis_linkstate_drop(&c->ls, &c->l, NULL, err);
}

static int
connect_link(struct redis_cmd *c)
{
	char err[256], id[REDIS_RUN_LEN + 1], was[REDIS_RUN_LEN + 1];
	int restarted;

	if ((c->l = c->conn.open(c->conn.arg, c->timeout_ms, err, sizeof(err))) == NULL)
		goto fail;
	if (redis_scripts_load(c->l, &c->sc, err, sizeof(err)) == -1)
		goto fail_link;
	if (redis_run_id(c->l, id, err, sizeof(err)) == -1 ||
	    cmd_read_token(c, id, err, sizeof(err)) == -1)
		goto fail_link;
	restarted = c->run_id[0] != '\0' && strcmp(id, c->run_id) != 0;
	memcpy(was, c->run_id, sizeof(was));
	snprintf(c->run_id, sizeof(c->run_id), "%s", id);
	/* Before the link counts as up: what the callback registers again
	 * (redis_cmd_reregister_here) is there before /healthz says 200. If
	 * that broke the link, the next connect reports the restart again. */
	if (restarted)
		c->cb.restarted(c->cb.arg);
	if (c->l == NULL) {
		memcpy(c->run_id, was, sizeof(was));
		return -1;
	}
	redis_linkstate_up(&c->ls);
	return 0;
fail_link:
	redis_link_free(c->l);
	c->l = NULL;
fail:
	redis_linkstate_down(&c->ls, err);
	return -1;
}

/* Takes the next request until deadline dl; -1 with errno as chan_recv. */
static int
next(struct redis_cmd *c, struct creq **q, const struct timespec *dl)
{
	int skip;

	for (;;) {
		if (chan_recv(c->ch, q, dl) == -1)
			return -1;
		pthread_mutex_lock(&c->rmu);
		skip = (*q)->abandoned && !(*q)->later;
		pthread_mutex_unlock(&c->rmu);
		if (!skip)
			return 0;
		cmd_req_free(*q);   /* its caller gave up before it began */
	}
}

static void *
run(void *arg)
{
	struct redis_cmd *c = arg;
	struct timespec dl, hb = { 0, 0 };
	struct creq *q;
	long wait = REDIS_BACKOFF_MIN_MS;
	int stop = 0;

	for (;;) {
		if (c->l == NULL) {
			if (connect_link(c) == -1) {
				chan_deadline(&dl, wait);
				for (;;) {
					if (next(c, &q, &dl) == -1) {
						stop = errno != ETIMEDOUT;
						break;
					}
					cmd_finish(c, q, -1, ENOTCONN);
				}
				if (stop)
					break;
				wait = redis_backoff_next(wait);
				continue;
			}
			wait = REDIS_BACKOFF_MIN_MS;
			chan_deadline(&hb, 0);  /* claims may have lapsed meanwhile */
		}
		if (chan_deadline_passed(&hb)) {
			cmd_heartbeat(c);
			chan_deadline(&hb, (long)(c->ttl_ms / 3));
			continue;
		}
		if (next(c, &q, &hb) == -1) {
			if (errno == ETIMEDOUT)
				continue;
			break;
		}
		cmd_finish(c, q, cmd_exec(c, q), EIO);
	}
	redis_link_free(c->l);
	c->l = NULL;
	return NULL;
}

struct redis_cmd *
redis_cmd_new(const struct redis_connector *conn, const char *node, size_t cap,
              int timeout_ms, unsigned ttl_ms, const struct redis_cmd_cb *cb)
{
	struct redis_cmd *c;
	pthread_condattr_t ca;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->conn = *conn;
	c->cb = *cb;
	c->timeout_ms = timeout_ms;
	c->ttl_ms = ttl_ms;
	c->ls.link = cb->link;
	c->ls.arg = cb->arg;
	snprintf(c->node, sizeof(c->node), "%s", node);
	if ((c->held = malloc(HELD_MAX * sizeof(*c->held))) == NULL)
		goto err_c;
	if ((c->taken = malloc(HELD_MAX * sizeof(*c->taken))) == NULL)
		goto err_held;
	if ((c->ch = chan_new(cap, sizeof(struct creq *))) == NULL)
		goto err_taken;
	if ((errno = pthread_mutex_init(&c->rmu, NULL)) != 0)
		goto err_ch;
	if ((errno = pthread_condattr_init(&ca)) != 0)
		goto err_mu;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	errno = pthread_cond_init(&c->rcv, &ca);
	pthread_condattr_destroy(&ca);
	if (errno != 0)
		goto err_mu;
	return c;
err_mu:
	pthread_mutex_destroy(&c->rmu);
err_ch:
	chan_free(c->ch);
err_taken:
	free(c->taken);
err_held:
	free(c->held);
err_c:
	free(c);
	return NULL;
}

int
redis_cmd_start(struct redis_cmd *c)
{
	/* thread_start sets errno. */
	if (thread_start(&c->thread, "gc-redis-cmd", STACK_SIZE, run, c) != 0)
		return -1;
	c->started = 1;
	return 0;
}

void
redis_cmd_stop(struct redis_cmd *c)
{
	struct creq *q;

	chan_close(c->ch);
	if (c->started)
		pthread_join(c->thread, NULL);
	while (chan_recv(c->ch, &q, NULL) == 0)
		cmd_finish(c, q, -1, EPIPE);
	pthread_cond_destroy(&c->rcv);
	pthread_mutex_destroy(&c->rmu);
	chan_free(c->ch);
	free(c->taken);
	free(c->held);
	free(c);
}
