/*
 * redis_cmd_req: the command actor's request kinds (create, delete,
 * baseline, history, reregister, claim, release, check) and its
 * heartbeat. The caller's side builds a request, queues it and waits on
 * rcv until the actor marks it done or the caller's deadline passes
 * (then it marks it abandoned and leaves); the actor's side runs it on
 * the link (cmd_exec) and hands the result back (cmd_finish).
 *
 * Who touches what: cmd_exec and cmd_heartbeat run on the actor's thread
 * only; the redis_cmd_* calls run on any caller's thread and touch a
 * queued request's fields only under rmu, or after it is done.
 */
#include "groupchat/cluster/redis_cmd.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupchat/core/chan.h"
#include "groupchat/core/log.h"
#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_lineage.h"
#include "redis_cmd_ctx.h"

void
cmd_req_free(struct creq *q)
{
	size_t i;

	for (i = 0; i < q->nhist; i++)
		free(q->hist[i].frame);
	free(q->hist);
	free(q->id);
	free(q);
}

void
cmd_finish(struct redis_cmd *c, struct creq *q, int64_t rv, int err)
{
	int gone;

	pthread_mutex_lock(&c->rmu);
	q->rv = rv;
	q->err = err;
	q->done = 1;
	gone = q->abandoned;
	pthread_cond_broadcast(&c->rcv);
	pthread_mutex_unlock(&c->rmu);
	if (gone)
		cmd_req_free(q);
}

static void
hist_add(void *arg, uint64_t seq, const char *ep, const char *frame, size_t flen)
{
	struct creq *q = arg;
	struct hent *h;

	if (q->nhist == q->caphist) {
		size_t cap = q->caphist ? q->caphist * 2 : 16;

		if ((h = realloc(q->hist, cap * sizeof(*h))) == NULL)
			return;     /* the count check in exec reports it */
		q->hist = h;
		q->caphist = cap;
	}
	h = &q->hist[q->nhist];
	if ((h->frame = malloc(flen > 0 ? flen : 1)) == NULL)
		return;
	memcpy(h->frame, frame, flen);
	h->flen = flen;
	h->seq = seq;
	memcpy(h->ep, ep, sizeof(h->ep));
	q->nhist++;
}

int64_t
cmd_exec(struct redis_cmd *c, struct creq *q)
{
	char err[256];
	int64_t rv = -1;

	switch (q->op) {
	case OP_CREATE:
		rv = redis_group_create(c->l, &c->sc, q->id, q->len, q->inc, c->token,
		    (size_t)q->a, err,
		    sizeof(err));
		break;
	case OP_DELETE:
		rv = redis_group_delete(c->l, &c->sc, q->id, q->len,
		    q->inc[0] != '\0' ? q->inc : NULL, err, sizeof(err));
		break;
	case OP_BASELINE:
		rv = redis_group_baseline(c->l, &c->sc, q->id, q->len, c->token, &q->base, err,
		    sizeof(err));
		break;
	case OP_HISTORY:
		rv = redis_group_history(c->l, q->id, q->len, q->a, q->b, hist_add, q, err,
		    sizeof(err));
		if (rv >= 0 && (size_t)rv != q->nhist) {
			snprintf(err, sizeof(err), "XRANGE: out of memory");
			rv = -1;
		}
		break;
	case OP_REREGISTER:
		rv = redis_group_reregister(c->l, &c->sc, q->id, q->len, q->inc, c->token, err,
		    sizeof(err));
		break;
	case OP_CLAIM:
		rv = redis_cid_claim(c->l, &c->sc, (uint32_t)q->a, q->id, q->len, c->node,
		    c->ttl_ms, q->inc, err, sizeof(err));
		break;
	case OP_RELEASE:
		rv = redis_cid_release(c->l, &c->sc, (uint32_t)q->a, c->node, err, sizeof(err));
		break;
	case OP_CHECK:
		cmd_heartbeat(c);       /* drops the link itself if it fails */
		return 0;
	}
	if (rv == -1)
		cmd_drop_link(c, err);
	return rv;
}

int
cmd_read_token(struct redis_cmd *c, const char *run, char *err, size_t errlen)
{
	char was[sizeof(c->token)];

	memcpy(was, c->token, sizeof(was));
	if (redis_epoch_token(c->l, run, c->token, err, errlen) == -1)
		return -1;
	if (strcmp(was, c->token) != 0)
		log_event(LOG_INFO, "redis_epoch_token", "kind",
		    strcmp(c->token, run) == 0 ? "run_id" : "lineage", "token", c->token, NULL);
	return 0;
}

void
cmd_heartbeat(struct redis_cmd *c)
{
	char err[256];
	size_t n = c->cb.held(c->cb.arg, c->held, HELD_MAX);
	long t;

	/* the token read again: a lineage a FLUSHALL took and a later link
	 * wrote anew is taken up here (redis_lineage.h) */
	if (cmd_read_token(c, c->run_id, err, sizeof(err)) == -1) {
		cmd_drop_link(c, err);
		return;
	}
	if (n == 0)
		return;
	t = redis_cid_refresh(c->l, &c->sc, c->held, n, c->node, c->ttl_ms, c->taken, err,
	    sizeof(err));
	if (t == -1)
		cmd_drop_link(c, err);
	else if (t > 0)
		c->cb.taken(c->cb.arg, c->taken, (size_t)t);
}

static struct creq *
req_new(enum op op, const char *id, size_t len, const char *inc)
{
	struct creq *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->op = op;
	if (len > 0) {
		if ((q->id = malloc(len)) == NULL) {
			free(q);
			return NULL;
		}
		memcpy(q->id, id, len);
		q->len = len;
	}
	if (inc != NULL)
		snprintf(q->inc, sizeof(q->inc), "%s", inc);
	return q;
}

/* Queues q and waits up to ms. The result, or -1 with errno; on success
 * q is the caller's to read and req_free. *out_q is NULL when q is gone. */
static int64_t
call(struct redis_cmd *c, struct creq *q, int ms, struct creq **out_q)
{
	struct timespec dl;
	int64_t rv;

	*out_q = NULL;
	if (q == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (chan_try_send(c->ch, &q) == -1) {
		cmd_req_free(q);
		return -1;
	}
	chan_deadline(&dl, ms);
	pthread_mutex_lock(&c->rmu);
	while (!q->done && pthread_cond_timedwait(&c->rcv, &c->rmu, &dl) == 0)
		;
	if (!q->done) {
		q->abandoned = 1;
		pthread_mutex_unlock(&c->rmu);
		errno = ETIMEDOUT;
		return -1;
	}
	pthread_mutex_unlock(&c->rmu);
	rv = q->rv;
	if (rv == -1 && q->err != 0) {
		errno = q->err;
		cmd_req_free(q);
		return -1;
	}
	*out_q = q;
	return rv;
}

/* call() for requests whose result is all there is. */
static int64_t
call_simple(struct redis_cmd *c, struct creq *q, int ms)
{
	struct creq *done;
	int64_t rv = call(c, q, ms, &done);

	if (done != NULL)
		cmd_req_free(done);
	return rv;
}

int
redis_cmd_create(struct redis_cmd *c, const char *id, size_t len, const char *inc,
                 size_t max, int ms)
{
	struct creq *q = req_new(OP_CREATE, id, len, inc);

	if (q != NULL)
		q->a = max;
	return (int)call_simple(c, q, ms);
}

int
redis_cmd_delete(struct redis_cmd *c, const char *id, size_t len, const char *inc, int ms)
{
	return (int)call_simple(c, req_new(OP_DELETE, id, len, inc), ms);
}

int
redis_cmd_baseline(struct redis_cmd *c, const char *id, size_t len, struct redis_base *b,
                   int ms)
{
	struct creq *q;

	if (call(c, req_new(OP_BASELINE, id, len, NULL), ms, &q) == -1)
		return -1;
	*b = q->base;
	cmd_req_free(q);
	return 0;
}

long
redis_cmd_history(struct redis_cmd *c, const char *id, size_t len, uint64_t first,
                  uint64_t last, redis_hist_fn fn, void *arg, int ms)
{
	struct creq *q = req_new(OP_HISTORY, id, len, NULL), *done;
	size_t i;
	long n;

	if (q != NULL) {
		q->a = first;
		q->b = last;
	}
	if ((n = (long)call(c, q, ms, &done)) == -1)
		return -1;
	for (i = 0; i < done->nhist; i++)
		fn(arg, done->hist[i].seq, done->hist[i].ep, done->hist[i].frame,
		    done->hist[i].flen);
	cmd_req_free(done);
	return n;
}

int
redis_cmd_reregister(struct redis_cmd *c, const char *id, size_t len, const char *inc,
                     int ms)
{
	return (int)call_simple(c, req_new(OP_REREGISTER, id, len, inc), ms);
}

int
redis_cmd_reregister_here(struct redis_cmd *c, const char *id, size_t len, const char *inc)
{
	char err[256];
	int rv = redis_group_reregister(c->l, &c->sc, id, len, inc, c->token, err,
	    sizeof(err));

	if (rv == -1)
		cmd_drop_link(c, err);
	return rv;
}

/* Posts q to run with nobody waiting for it: 0, or -1 with errno (ENOMEM
 * when q is NULL, or the channel's error when it cannot take it now). */
static int
post_later(struct redis_cmd *c, struct creq *q)
{
	if (q == NULL) {
		errno = ENOMEM;
		return -1;
	}
	q->abandoned = q->later = 1;
	if (chan_try_send(c->ch, &q) == -1) {
		cmd_req_free(q);
		return -1;
	}
	return 0;
}

int
redis_cmd_reregister_later(struct redis_cmd *c, const char *id, size_t len, const char *inc)
{
	return post_later(c, req_new(OP_REREGISTER, id, len, inc));
}

int
redis_cmd_claim(struct redis_cmd *c, uint32_t cid, const char *id, size_t len,
                char inc[REDIS_INC_LEN + 1], int ms)
{
	struct creq *q = req_new(OP_CLAIM, id, len, NULL), *done;
	int rv;

	if (q != NULL)
		q->a = cid;
	if ((rv = (int)call(c, q, ms, &done)) != -1)
		memcpy(inc, done->inc, sizeof(done->inc));
	if (done != NULL)
		cmd_req_free(done);
	return rv;
}

int
redis_cmd_check(struct redis_cmd *c)
{
	return post_later(c, req_new(OP_CHECK, NULL, 0, NULL));
}

int
redis_cmd_release(struct redis_cmd *c, uint32_t cid)
{
	struct creq *q = req_new(OP_RELEASE, NULL, 0, NULL);

	if (q == NULL) {
		errno = ENOMEM;
		return -1;
	}
	q->a = cid;
	q->abandoned = q->later = 1;
	if (chan_try_send(c->ch, &q) == -1) {
		cmd_req_free(q);
		return -1;
	}
	return 0;
}
