/*
 * redis_link: the dispatch to a link's ops, and the real link on hiredis.
 * The real link keeps a blocking hiredis context (socket timeouts set by
 * redis_conn_open) and drives it with the non-blocking pieces: replies are
 * taken from hiredis's reader without I/O, and the socket is read once
 * (redisBufferRead) only after poll(2) said it is readable, so a read
 * waits exactly as long as the caller allows and no longer. Who touches
 * what: a link belongs to the thread that opened it.
 */
#include "groupchat/cluster/redis_link.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupchat/cluster/redis_conn.h"
#include "groupchat/cluster/redis_url.h"
#include "groupchat/core/clock.h"

struct hlink {
	struct redis_link l;
	redisContext *c;
	char why[128];      /* a failure hiredis did not record (timeout, poll) */
};

static int
h_append(struct redis_link *l, int argc, const char **argv, const size_t *lens)
{
	struct hlink *h = (struct hlink *)l;

	return redisAppendCommandArgv(h->c, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

static int
h_flush(struct redis_link *l)
{
	struct hlink *h = (struct hlink *)l;
	int done = 0;

	while (!done) {
		if (redisBufferWrite(h->c, &done) != REDIS_OK)
			return -1;
	}
	return 0;
}

static int
h_read(struct redis_link *l, redisReply **r, int timeout_ms)
{
	struct hlink *h = (struct hlink *)l;
	int64_t deadline = clock_now_ms() + timeout_ms, left;
	struct pollfd p = { .fd = h->c->fd, .events = POLLIN };
	void *rep;
	int n;

	for (;;) {
		if (redisGetReplyFromReader(h->c, &rep) != REDIS_OK)
			return -1;
		if (rep != NULL) {
			*r = rep;
			return 1;
		}
		left = deadline - clock_now_ms();
		n = poll(&p, 1, left > 0 ? (int)left : 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(h->why, sizeof(h->why), "poll: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			snprintf(h->why, sizeof(h->why), "timed out");
			return 0;
		}
		if (redisBufferRead(h->c) != REDIS_OK)
			return -1;
	}
}

static int
h_fd(struct redis_link *l)
{
	return ((struct hlink *)l)->c->fd;
}

static const char *
h_error(struct redis_link *l)
{
	struct hlink *h = (struct hlink *)l;

	if (h->c->err)
		return h->c->errstr;
	return h->why[0] != '\0' ? h->why : "failed";
}

static void
h_free(struct redis_link *l)
{
	struct hlink *h = (struct hlink *)l;

	redisFree(h->c);
	free(h);
}

static const struct redis_link_ops hiredis_ops = {
	h_append, h_flush, h_read, h_fd, h_error, h_free,
};

struct redis_link *
redis_link_open(const struct redis_url *u, int timeout_ms, char *err, size_t errlen)
{
	return redis_link_open_at(u, redis_url_host(u), redis_url_port(u), timeout_ms,
	    err, errlen);
}

struct redis_link *
redis_link_open_at(const struct redis_url *u, const char *host, int port, int timeout_ms,
                   char *err, size_t errlen)
{
	struct hlink *h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((h->c = redis_conn_open_at(u, host, port, timeout_ms, err, errlen)) == NULL) {
		free(h);
		return NULL;
	}
	h->l.ops = &hiredis_ops;
	h->l.timeout_ms = timeout_ms;
	return &h->l;
}

static struct redis_link *
hiredis_open(void *arg, int timeout_ms, char *err, size_t errlen)
{
	return redis_link_open(arg, timeout_ms, err, errlen);
}

struct redis_connector
redis_link_hiredis(const struct redis_url *u)
{
	struct redis_connector c = { hiredis_open, (void *)u };

	return c;
}

int
redis_link_append(struct redis_link *l, int argc, const char **argv, const size_t *lens)
{
	return l->ops->append(l, argc, argv, lens);
}

int
redis_link_flush(struct redis_link *l)
{
	return l->ops->flush(l);
}

int
redis_link_read(struct redis_link *l, redisReply **r, int timeout_ms)
{
	return l->ops->read(l, r, timeout_ms);
}

int
redis_link_fd(struct redis_link *l)
{
	return l->ops->fd(l);
}

void
redis_link_free(struct redis_link *l)
{
	if (l != NULL)
		l->ops->free(l);
}

void
redis_link_error(struct redis_link *l, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, l->ops->error(l));
}

redisReply *
redis_link_command(struct redis_link *l, const char *what, int argc, const char **argv,
                   const size_t *lens, char *err, size_t errlen)
{
	redisReply *r;

	if (l->ops->append(l, argc, argv, lens) == -1) {
		snprintf(err, errlen, "%s: out of memory", what);
		return NULL;
	}
	if (l->ops->flush(l) == -1 || l->ops->read(l, &r, l->timeout_ms) != 1) {
		redis_link_error(l, what, err, errlen);
		return NULL;
	}
	return r;
}

int
redis_link_read_n(struct redis_link *l, redisReply **r, int n, const char *what,
                  char *err, size_t errlen)
{
	int i;

	if (redis_link_flush(l) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if (redis_link_read(l, &r[i], l->timeout_ms) != 1) {
			while (i-- > 0)
				freeReplyObject(r[i]);
			goto fail;
		}
	}
	return 0;
fail:
	redis_link_error(l, what, err, errlen);
	return -1;
}

void
redis_reply_error(const redisReply *r, const char *what, char *err, size_t errlen)
{
	if (r->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "%s: %s", what, r->str);
	else
		snprintf(err, errlen, "%s: unexpected reply type %d", what, r->type);
}
