/*
 * redis_cmd: the command actor. The thread owns the link, the script
 * SHAs, the last run_id and the heartbeat buffers. A request is a heap
 * object shared by its caller and the actor: the caller queues a pointer
 * and waits on rcv (under rmu) until the actor marks it done; a caller
 * whose deadline passes marks it abandoned instead and leaves, and the
 * actor frees it when it gets there (skipping it if not begun). done,
 * abandoned and the results are guarded by rmu once queued. A release
 * is queued abandoned from the start: nobody waits for it.
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
#include "groupchat/cluster/redis_link.h"

/* redis_calls' and redis_script's argv arrays (refresh: 512 keys) live on this stack. */
#define STACK_SIZE (128 * 1024)
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
/* The most cids one heartbeat refreshes (a node holds far fewer). */
#define HELD_MAX 65536

enum op { OP_CREATE, OP_DELETE, OP_BASELINE, OP_HISTORY, OP_REREGISTER, OP_CLAIM,
	OP_RELEASE };

struct hent {
	uint64_t seq;
	char *frame;
	size_t flen;
};

struct creq {
	enum op op;
	char *id;
	size_t len;
	char inc[REDIS_INC_LEN + 1];    /* in: create, delete ("" any), reregister; out: baseline */
	uint64_t a, b;                  /* seq range, last, or cid */
	/* under rmu once queued */
	int done, abandoned;
	int64_t rv;
	int err;                        /* errno when rv == -1 */
	struct hent *hist;
	size_t nhist, caphist;
};

struct redis_cmd {
	struct redis_connector conn;
	char node[REDIS_NODE_LEN + 1];
	struct chan *ch;                /* struct creq * */
	struct redis_cmd_cb cb;
	int timeout_ms;
	unsigned ttl_ms;
	pthread_t thread;
	int started;
	pthread_mutex_t rmu;
	pthread_cond_t rcv;
	/* the actor thread's own */
	struct redis_link *l;
	struct redis_scripts sc;
	char run_id[64];
	int up;
	char reason[256];
	uint32_t *held, *taken;
};

static void
req_free(struct creq *q)
{
	size_t i;

	for (i = 0; i < q->nhist; i++)
		free(q->hist[i].frame);
	free(q->hist);
	free(q->id);
	free(q);
}

/* Hands q's result back: to its waiter, or to free() if nobody waits. */
static void
finish(struct redis_cmd *c, struct creq *q, int64_t rv, int err)
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
		req_free(q);
}

static void
report_down(struct redis_cmd *c, const char *reason)
{
	if (!c->up && strcmp(reason, c->reason) == 0)
		return;
	c->up = 0;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	c->cb.link(c->cb.arg, 0, c->reason);
}

static void
drop_link(struct redis_cmd *c, const char *err)
{
	redis_link_free(c->l);
	c->l = NULL;
	report_down(c, err);
}

/* The run_id out of an INFO server reply into out. 0 or -1. */
static int
run_id_of(const redisReply *r, char *out, size_t n)
{
	const char *p, *e;

	if (r->type != REDIS_REPLY_STRING || (p = strstr(r->str, "run_id:")) == NULL)
		return -1;
	p += 7;
	e = p + strcspn(p, "\r\n");
	snprintf(out, n, "%.*s", (int)(e - p), p);
	return 0;
}

static int
connect_link(struct redis_cmd *c)
{
	const char *argv[2] = { "INFO", "server" };
	const size_t lens[2] = { 4, 6 };
	char err[256], id[64];
	redisReply *r;
	int restarted;

	if ((c->l = c->conn.open(c->conn.arg, c->timeout_ms, err, sizeof(err))) == NULL)
		goto fail;
	if (redis_scripts_load(c->l, &c->sc, err, sizeof(err)) == -1)
		goto fail_link;
	if ((r = redis_link_command(c->l, "INFO", 2, argv, lens, err, sizeof(err))) == NULL)
		goto fail_link;
	if (run_id_of(r, id, sizeof(id)) == -1) {
		snprintf(err, sizeof(err), "INFO: no run_id");
		freeReplyObject(r);
		goto fail_link;
	}
	freeReplyObject(r);
	restarted = c->run_id[0] != '\0' && strcmp(id, c->run_id) != 0;
	snprintf(c->run_id, sizeof(c->run_id), "%s", id);
	c->up = 1;
	c->reason[0] = '\0';
	c->cb.link(c->cb.arg, 1, NULL);
	if (restarted)
		c->cb.restarted(c->cb.arg);
	return 0;
fail_link:
	redis_link_free(c->l);
	c->l = NULL;
fail:
	report_down(c, err);
	return -1;
}

static void
hist_add(void *arg, uint64_t seq, const char *frame, size_t flen)
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
	q->nhist++;
}

/* Runs q on the link. The result, or -1 (link dropped). */
static int64_t
exec(struct redis_cmd *c, struct creq *q)
{
	char err[256];
	int64_t rv = -1;
	uint64_t seq;

	switch (q->op) {
	case OP_CREATE:
		rv = redis_group_create(c->l, &c->sc, q->id, q->len, q->inc, err, sizeof(err));
		break;
	case OP_DELETE:
		rv = redis_group_delete(c->l, &c->sc, q->id, q->len,
		    q->inc[0] != '\0' ? q->inc : NULL, err, sizeof(err));
		break;
	case OP_BASELINE:
		rv = redis_group_baseline(c->l, q->id, q->len, q->inc, &seq, err, sizeof(err));
		q->a = seq;
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
		rv = redis_group_reregister(c->l, &c->sc, q->id, q->len, q->inc, q->a, err,
		    sizeof(err));
		break;
	case OP_CLAIM:
		rv = redis_cid_claim(c->l, (uint32_t)q->a, c->node, c->ttl_ms, err, sizeof(err));
		break;
	case OP_RELEASE:
		rv = redis_cid_release(c->l, &c->sc, (uint32_t)q->a, c->node, err, sizeof(err));
		break;
	}
	if (rv == -1)
		drop_link(c, err);
	return rv;
}

/* Refreshes the node's claims, or PINGs when it holds none. */
static void
heartbeat(struct redis_cmd *c)
{
	const char *argv[1] = { "PING" };
	const size_t lens[1] = { 4 };
	char err[256];
	redisReply *r;
	size_t n = c->cb.held(c->cb.arg, c->held, HELD_MAX);
	long t;

	if (n == 0) {
		if ((r = redis_link_command(c->l, "PING", 1, argv, lens, err, sizeof(err))) == NULL)
			drop_link(c, err);
		freeReplyObject(r);
		return;
	}
	t = redis_cid_refresh(c->l, &c->sc, c->held, n, c->node, c->ttl_ms, c->taken, err,
	    sizeof(err));
	if (t == -1)
		drop_link(c, err);
	else if (t > 0)
		c->cb.taken(c->cb.arg, c->taken, (size_t)t);
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
		skip = (*q)->abandoned && (*q)->op != OP_RELEASE;
		pthread_mutex_unlock(&c->rmu);
		if (!skip)
			return 0;
		req_free(*q);   /* its caller gave up before it began */
	}
}

static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *
run(void *arg)
{
	struct redis_cmd *c = arg;
	struct timespec dl, hb = { 0, 0 }, now;
	struct creq *q;
	long wait = BACKOFF_MIN_MS;
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
					finish(c, q, -1, ENOTCONN);
				}
				if (stop)
					break;
				wait = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
				continue;
			}
			wait = BACKOFF_MIN_MS;
			chan_deadline(&hb, 0);  /* claims may have lapsed meanwhile */
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!ts_before(&now, &hb)) {
			heartbeat(c);
			chan_deadline(&hb, (long)(c->ttl_ms / 3));
			continue;
		}
		if (next(c, &q, &hb) == -1) {
			if (errno == ETIMEDOUT)
				continue;
			break;
		}
		finish(c, q, exec(c, q), EIO);
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
		req_free(q);
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
		req_free(q);
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
		req_free(done);
	return rv;
}

int
redis_cmd_create(struct redis_cmd *c, const char *id, size_t len, const char *inc, int ms)
{
	return (int)call_simple(c, req_new(OP_CREATE, id, len, inc), ms);
}

int
redis_cmd_delete(struct redis_cmd *c, const char *id, size_t len, const char *inc, int ms)
{
	return (int)call_simple(c, req_new(OP_DELETE, id, len, inc), ms);
}

int
redis_cmd_baseline(struct redis_cmd *c, const char *id, size_t len,
                   char inc[REDIS_INC_LEN + 1], uint64_t *seq, int ms)
{
	struct creq *q;

	if (call(c, req_new(OP_BASELINE, id, len, NULL), ms, &q) == -1)
		return -1;
	memcpy(inc, q->inc, REDIS_INC_LEN + 1);
	*seq = q->a;
	req_free(q);
	return 0;
}

int
redis_cmd_lookup(struct redis_cmd *c, const char *id, size_t len,
                 char inc[REDIS_INC_LEN + 1], int ms)
{
	uint64_t seq;

	if (redis_cmd_baseline(c, id, len, inc, &seq, ms) == -1)
		return -1;
	return inc[0] != '\0';
}

long
redis_cmd_history(struct redis_cmd *c, const char *id, size_t len, uint64_t first,
                  uint64_t last,
                  void (*fn)(void *arg, uint64_t seq, const char *frame, size_t flen),
                  void *arg, int ms)
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
		fn(arg, done->hist[i].seq, done->hist[i].frame, done->hist[i].flen);
	req_free(done);
	return n;
}

int64_t
redis_cmd_reregister(struct redis_cmd *c, const char *id, size_t len, const char *inc,
                     uint64_t last, int ms)
{
	struct creq *q = req_new(OP_REREGISTER, id, len, inc);

	if (q != NULL)
		q->a = last;
	return call_simple(c, q, ms);
}

int
redis_cmd_claim(struct redis_cmd *c, uint32_t cid, int ms)
{
	struct creq *q = req_new(OP_CLAIM, NULL, 0, NULL);

	if (q != NULL)
		q->a = cid;
	return (int)call_simple(c, q, ms);
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
	q->abandoned = 1;
	if (chan_try_send(c->ch, &q) == -1) {
		req_free(q);
		return -1;
	}
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
		finish(c, q, -1, EPIPE);
	pthread_cond_destroy(&c->rcv);
	pthread_mutex_destroy(&c->rmu);
	chan_free(c->ch);
	free(c->taken);
	free(c->held);
	free(c);
}
