/*
 * redis_sub: the subscriber actor. The thread owns the link, the set of
 * channels it holds (chanset.c) and the keepalive clock; other threads
 * touch only the request channel and the eventfd. A sender queues, then
 * writes the eventfd; the thread reads the eventfd, then drains the
 * channel until empty, so no request waits for the next wake-up. The
 * channel's close, followed by an eventfd write, is the stop signal.
 *
 * The link is polled, never read blind: poll(2) on the eventfd and the
 * link's fd, then redis_link_read with a zero timeout until it has no
 * whole reply left. (Un)subscribe commands are written in request order,
 * so Redis's confirmations and messages come back in that order too.
 */
#include "groupchat/cluster/redis_sub.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "groupchat/core/chan.h"
#include "groupchat/core/clock.h"
#include "groupchat/core/thread.h"
#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_linkstate.h"
#include "groupchat/cluster/redis_keys.h"
#include "chanset.h"

/* poll, a few small arrays; hiredis's reader allocates on the heap. */
#define STACK_SIZE (64 * 1024)
#define DRAIN 64
#define PREFIX_LEN (sizeof(RK_MSG) - 1)

enum { OP_SUB, OP_UNSUB };

struct req {
	int op;
	char *id;       /* the channel name, RK_MSG + id, malloc'd */
	size_t len;
};

struct redis_sub {
	struct redis_connector conn;
	struct chan *ch;        /* struct req */
	int evfd;
	struct redis_sub_cb cb;
	int timeout_ms;
	pthread_t thread;
	int started;
	/* the actor thread's own */
	struct redis_link *l;
	struct chanset set;     /* the channels held, subscribed again on reconnect */
	struct redis_linkstate ls;
	int64_t last_rx;        /* ms: last reply from Redis */
	int64_t ping_at;        /* ms: keepalive PING outstanding since, or 0 */
};

static void
drop_link(struct redis_sub *s, const char *what, const char *err)
{
	redis_linkstate_drop(&s->ls, &s->l, what, err);
}

/* Opens the link, checks Redis answers, reports up, subscribes the set. */
static int
connect_link(struct redis_sub *s)
{
	const char *argv[1] = { "PING" };
	const size_t lens[1] = { 4 };
	char err[256];
	redisReply *r;

	if ((s->l = s->conn.open(s->conn.arg, s->timeout_ms, err, sizeof(err))) == NULL)
		goto fail;
	if ((r = redis_link_command(s->l, "PING", 1, argv, lens, err, sizeof(err))) == NULL)
		goto fail_link;
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, sizeof(err), "PING: %s", r->str);
		freeReplyObject(r);
		goto fail_link;
	}
	freeReplyObject(r);
	s->last_rx = clock_now_ms();
	s->ping_at = 0;
	redis_linkstate_up(&s->ls);
	if (chanset_subscribe_all(&s->set, s->l) == -1 || redis_link_flush(s->l) == -1) {
		drop_link(s, "SUBSCRIBE", NULL);
		return -1;
	}
	return 0;
fail_link:
	redis_link_free(s->l);
	s->l = NULL;
fail:
	redis_linkstate_down(&s->ls, err);
	return -1;
}

/* Applies one request to the set and, when up, queues its command. */
static int
apply(struct redis_sub *s, struct req *q)
{
	const char *argv[2] = { q->op == OP_SUB ? "SUBSCRIBE" : "UNSUBSCRIBE", q->id };
	size_t lens[2] = { strlen(argv[0]), q->len };

	if (q->op == OP_SUB && chanset_add(&s->set, q->id, q->len) == -1)
		return -1;
	if (q->op == OP_UNSUB && chanset_remove(&s->set, q->id, q->len) == 0)
		return 0;
	if (s->l != NULL)
		return redis_link_append(s->l, 2, argv, lens);
	return 0;
}

/* Drains the request channel. -1 once it is closed (stop). */
static int
drain(struct redis_sub *s)
{
	struct req q[DRAIN];
	struct timespec now;
	uint64_t v;
	ssize_t n, i;
	int failed = 0;

	if (read(s->evfd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		return -1;
	for (;;) {
		chan_deadline(&now, 0);
		n = chan_recv_batch(s->ch, q, DRAIN, &now);
		if (n == -1 && errno == EPIPE)
			return -1;
		if (n == -1)
			break;
		for (i = 0; i < n; i++) {
			if (apply(s, &q[i]) == -1)
				failed = 1;
			free(q[i].id);
		}
	}
	if (s->l != NULL && (failed || redis_link_flush(s->l) == -1))
		drop_link(s, "SUBSCRIBE", failed ? "SUBSCRIBE: out of memory" : NULL);
	return 0;
}

static void
handle(struct redis_sub *s, redisReply *r)
{
	const char *kind;
	char err[256];

	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, sizeof(err), "subscribe: %s", r->str);
		drop_link(s, "subscribe", err);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return;
	kind = r->element[0]->str;
	if (strcmp(kind, "pong") == 0 || r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[1]->len < PREFIX_LEN ||
	    !chanset_has(&s->set, r->element[1]->str, r->element[1]->len))
		return;
	if (strcmp(kind, "subscribe") == 0) {
		s->cb.subscribed(s->cb.arg, r->element[1]->str + PREFIX_LEN,
		    r->element[1]->len - PREFIX_LEN);
	} else if (strcmp(kind, "message") == 0 && r->elements == 3 &&
	    r->element[2]->type == REDIS_REPLY_STRING) {
		s->cb.message(s->cb.arg, r->element[1]->str + PREFIX_LEN,
		    r->element[1]->len - PREFIX_LEN, r->element[2]->str, r->element[2]->len);
	}
}

/* Takes every whole reply that has arrived. */
static void
receive(struct redis_sub *s)
{
	redisReply *r;
	int rc;

	while (s->l != NULL && (rc = redis_link_read(s->l, &r, 0)) != 0) {
		if (rc == -1) {
			drop_link(s, "read", NULL);
			return;
		}
		s->last_rx = clock_now_ms();
		s->ping_at = 0;
		handle(s, r);
		freeReplyObject(r);
	}
}

/* Sends the keepalive PING or gives up on an unanswered one; returns how
 * long poll may wait. */
static int
keepalive(struct redis_sub *s)
{
	const char *argv[1] = { "PING" };
	const size_t lens[1] = { 4 };
	int64_t t = clock_now_ms();

	if (s->ping_at != 0 && t - s->ping_at >= s->timeout_ms) {
		drop_link(s, "PING", "PING: timed out");
		return 0;
	}
	if (s->ping_at == 0 && t - s->last_rx >= s->timeout_ms) {
		if (redis_link_append(s->l, 1, argv, lens) == -1 || redis_link_flush(s->l) == -1) {
			drop_link(s, "PING", NULL);
			return 0;
		}
		s->ping_at = t;
	}
	return (int)(s->ping_at != 0 ? s->ping_at + s->timeout_ms - t :
	    s->last_rx + s->timeout_ms - t);
}

/* Waits ms on the eventfd while down. -1 on stop. */
static int
backoff(struct redis_sub *s, int ms)
{
	int64_t end = clock_now_ms() + ms, left;
	struct pollfd p = { .fd = s->evfd, .events = POLLIN };

	while ((left = end - clock_now_ms()) > 0) {
		if (poll(&p, 1, (int)left) > 0 && drain(s) == -1)
			return -1;
	}
	return 0;
}

static void *
run(void *arg)
{
	struct redis_sub *s = arg;
	struct pollfd p[2];
	int wait = REDIS_BACKOFF_MIN_MS, ms;

	for (;;) {
		if (s->l == NULL) {
			if (connect_link(s) == -1) {
				if (backoff(s, wait) == -1)
					break;
				wait = (int)redis_backoff_next(wait);
				continue;
			}
			wait = REDIS_BACKOFF_MIN_MS;
		}
		if ((ms = keepalive(s)) == 0 && s->l == NULL)
			continue;
		p[0].fd = s->evfd;
		p[0].events = POLLIN;
		p[1].fd = redis_link_fd(s->l);
		p[1].events = POLLIN;
		if (poll(p, 2, ms) == -1 && errno != EINTR)
			break;
		if ((p[0].revents & POLLIN) && drain(s) == -1)
			break;
		if (s->l != NULL && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			receive(s);
	}
	redis_link_free(s->l);
	s->l = NULL;
	return NULL;
}

struct redis_sub *
redis_sub_new(const struct redis_connector *conn, size_t cap, int timeout_ms,
              const struct redis_sub_cb *cb)
{
	struct redis_sub *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->conn = *conn;
	s->cb = *cb;
	s->timeout_ms = timeout_ms;
	s->ls.link = cb->link;
	s->ls.arg = cb->arg;
	if ((s->ch = chan_new(cap, sizeof(struct req))) == NULL)
		goto err_s;
	if ((s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto err_ch;
	return s;
err_ch:
	chan_free(s->ch);
err_s:
	free(s);
	return NULL;
}

int
redis_sub_start(struct redis_sub *s)
{
	/* thread_start sets errno. */
	if (thread_start(&s->thread, "gc-redis-sub", STACK_SIZE, run, s) != 0)
		return -1;
	s->started = 1;
	return 0;
}

static void
wake(struct redis_sub *s)
{
	uint64_t one = 1;

	if (write(s->evfd, &one, sizeof(one)) == -1) {
		/* EAGAIN only: a full counter means a wake-up is pending */
	}
}

static int
request(struct redis_sub *s, int op, const char *id, size_t len)
{
	struct req q = { op, malloc(PREFIX_LEN + len), PREFIX_LEN + len };

	if (q.id == NULL) {
		errno = ENOMEM;
		return -1;
	}
	redis_key(q.id, q.len, RK_MSG, id, len);
	if (chan_try_send(s->ch, &q) == -1) {
		free(q.id);
		return -1;
	}
	wake(s);
	return 0;
}

int
redis_sub_subscribe(struct redis_sub *s, const char *id, size_t len)
{
	return request(s, OP_SUB, id, len);
}

int
redis_sub_unsubscribe(struct redis_sub *s, const char *id, size_t len)
{
	return request(s, OP_UNSUB, id, len);
}

void
redis_sub_stop(struct redis_sub *s)
{
	struct req q;

	chan_close(s->ch);
	wake(s);
	if (s->started)
		pthread_join(s->thread, NULL);
	while (chan_recv(s->ch, &q, NULL) == 0)
		free(q.id);
	chanset_clear(&s->set);
	close(s->evfd);
	chan_free(s->ch);
	free(s);
}
