/*
 * redis_sentinel: the connector that asks the sentinels, the wrapped
 * links it hands out, and the +switch-master watcher.
 *
 * Who touches what:
 *  - list, master, pass, u, timeout_ms, evfd: set by new, then read-only.
 *  - links, known, cur, next: under lock. The actors' threads add and
 *    remove their links and move next; the watcher sets cur and known
 *    and shuts down links (shutdown(2) only: the descriptor stays open
 *    until its owner frees the link, which first takes it off the list
 *    under the same lock, so the watcher never touches a closed fd).
 *  - the watcher's sentinel context: the watcher thread's own.
 * A wrapped link is otherwise its actor's, as every link is.
 */
#include "groupchat/cluster/redis_sentinel.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "groupchat/cluster/redis_conn.h"
#include "groupchat/cluster/redis_linkstate.h"
#include "groupchat/cluster/redis_sentinels.h"
#include "groupchat/core/clock.h"
#include "groupchat/core/log.h"
#include "groupchat/core/thread.h"

/* poll and hiredis calls; hiredis's reader allocates on the heap. */
#define STACK_SIZE (64 * 1024)

/* A data link opened through the sentinels: the real link, and where it
 * is, for the watcher. */
struct slink {
	struct redis_link l;
	struct redis_link *in;
	struct redis_sentinel *s;
	struct redis_addr at;
	int fd;
	struct slink *prev, *next;
};

struct redis_sentinel {
	struct redis_sentinels list;
	char master[REDIS_MASTER_NAME_MAX + 1];
	char *pass;             /* NULL when the sentinels need none */
	size_t pass_len;
	const struct redis_url *u;
	int timeout_ms;
	int evfd;               /* the watcher's stop signal */
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	struct slink *links;
	int known;              /* cur is what the watcher's sentinel says now */
	struct redis_addr cur;
	size_t next;            /* the sentinel to ask first */
};

/* ---- asking a sentinel ------------------------------------------------ */

/* A context to sentinel a, authenticated. NULL with err. */
static redisContext *
sentinel_open(struct redis_sentinel *s, const struct redis_addr *a, char *err,
              size_t errlen)
{
	struct timeval tv = { s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000 };
	const char *argv[2] = { "AUTH", s->pass };
	size_t lens[2] = { 4, s->pass_len };
	char at[REDIS_URL_HOST_MAX + 16], why[200];
	redisContext *c;
	redisReply *r;

	redis_addr_text(a, at, sizeof(at));
	if ((c = redisConnectWithTimeout(a->host, a->port, tv)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
		redis_conn_error(c, "connect", why, sizeof(why));
		goto err;
	}
	if (s->pass != NULL) {
		if ((r = redisCommandArgv(c, 2, argv, lens)) == NULL) {
			redis_conn_error(c, "AUTH", why, sizeof(why));
			goto err;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(why, sizeof(why), "AUTH: %s", r->str);
			freeReplyObject(r);
			goto err;
		}
		freeReplyObject(r);
	}
	return c;
err:
	snprintf(err, errlen, "sentinel %s: %s", at, why);
	redisFree(c);
	return NULL;
}

/* Asks sentinel a for the master's address into *m. 0 or -1 with err. */
static int
ask_one(struct redis_sentinel *s, const struct redis_addr *a, struct redis_addr *m,
        char *err, size_t errlen)
{
	char at[REDIS_URL_HOST_MAX + 16];
	redisContext *c;
	redisReply *r;
	int rc = -1;

	if ((c = sentinel_open(s, a, err, errlen)) == NULL)
		return -1;
	redis_addr_text(a, at, sizeof(at));
	if ((r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", s->master)) == NULL) {
		snprintf(err, errlen, "sentinel %s: SENTINEL: %s", at,
		    c->errstr[0] != '\0' ? c->errstr : "failed");
	} else if (r->type == REDIS_REPLY_NIL) {
		snprintf(err, errlen, "sentinel %s: no master named %s", at, s->master);
	} else if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "sentinel %s: SENTINEL: %s", at, r->str);
	} else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    redis_addr_set(m, r->element[0]->str, r->element[0]->len, r->element[1]->str,
	    r->element[1]->len) == -1) {
		snprintf(err, errlen, "sentinel %s: unexpected reply to SENTINEL", at);
	} else {
		rc = 0;
	}
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return rc;
}

/* Asks the sentinels in order from the last that answered. 0 or -1 with
 * the last sentinel's reason in err. */
static int
ask(struct redis_sentinel *s, struct redis_addr *m, char *err, size_t errlen)
{
	size_t first, k, i;

	pthread_mutex_lock(&s->lock);
	first = s->next;
	pthread_mutex_unlock(&s->lock);
	for (k = 0; k < s->list.n; k++) {
		i = (first + k) % s->list.n;
		if (ask_one(s, &s->list.at[i], m, err, errlen) == 0) {
			pthread_mutex_lock(&s->lock);
			s->next = i;
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
	}
	return -1;
}

/* ---- the wrapped links ------------------------------------------------ */

static int
w_append(struct redis_link *l, int argc, const char **argv, const size_t *lens)
{
	return redis_link_append(((struct slink *)l)->in, argc, argv, lens);
}

static int
w_flush(struct redis_link *l)
{
	return redis_link_flush(((struct slink *)l)->in);
}

static int
w_read(struct redis_link *l, redisReply **r, int timeout_ms)
{
	return redis_link_read(((struct slink *)l)->in, r, timeout_ms);
}

static int
w_fd(struct redis_link *l)
{
	return ((struct slink *)l)->fd;
}

static const char *
w_error(struct redis_link *l)
{
	struct redis_link *in = ((struct slink *)l)->in;

	return in->ops->error(in);
}

static void
w_free(struct redis_link *l)
{
	struct slink *k = (struct slink *)l;
	struct redis_sentinel *s = k->s;

	pthread_mutex_lock(&s->lock);
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		s->links = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&s->lock);
	redis_link_free(k->in);
	free(k);
}

static const struct redis_link_ops wrapped_ops = {
	w_append, w_flush, w_read, w_fd, w_error, w_free,
};

static struct redis_link *
s_open(void *arg, int timeout_ms, char *err, size_t errlen)
{
	struct redis_sentinel *s = arg;
	char at[REDIS_URL_HOST_MAX + 16], why[200];
	struct redis_addr m;
	struct slink *k;
	int moved;

	if (ask(s, &m, err, errlen) == -1)
		return NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((k->in = redis_link_open_at(s->u, m.host, m.port, timeout_ms, why,
	    sizeof(why))) == NULL) {
		redis_addr_text(&m, at, sizeof(at));
		snprintf(err, errlen, "master %s: %s", at, why);
		free(k);
		return NULL;
	}
	k->l.ops = &wrapped_ops;
	k->l.timeout_ms = timeout_ms;
	k->s = s;
	k->at = m;
	k->fd = redis_link_fd(k->in);
	pthread_mutex_lock(&s->lock);
	moved = s->known && !redis_addr_eq(&s->cur, &m);
	if (!moved) {
		k->next = s->links;
		if (s->links != NULL)
			s->links->prev = k;
		s->links = k;
	}
	pthread_mutex_unlock(&s->lock);
	if (moved) {
		redis_link_free(k->in);
		free(k);
		snprintf(err, errlen, "the master changed while connecting");
		return NULL;
	}
	return &k->l;
}

struct redis_connector
redis_sentinel_connector(struct redis_sentinel *s)
{
	struct redis_connector c = { s_open, s };

	return c;
}

/* ---- the watcher ------------------------------------------------------ */

/* The watcher's sentinel says the master is m: links elsewhere go. */
static void
switch_to(struct redis_sentinel *s, const struct redis_addr *m)
{
	char was[REDIS_URL_HOST_MAX + 16], now[REDIS_URL_HOST_MAX + 16];
	int changed;
	struct slink *k;

	pthread_mutex_lock(&s->lock);
	changed = s->known && !redis_addr_eq(&s->cur, m);
	redis_addr_text(&s->cur, was, sizeof(was));
	s->cur = *m;
	s->known = 1;
	for (k = s->links; k != NULL; k = k->next)
		if (!redis_addr_eq(&k->at, m))
			shutdown(k->fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->lock);
	if (changed) {
		redis_addr_text(m, now, sizeof(now));
		log_event(LOG_WARN, "redis_master_switched", "master", s->master,
		    "from", was, "to", now, NULL);
	}
}

/* Waits ms on the stop signal. -1 if it came. */
static int
pause_ms(struct redis_sentinel *s, long ms)
{
	struct pollfd p = { .fd = s->evfd, .events = POLLIN };
	int64_t end = clock_now_ms() + ms, left;

	while ((left = end - clock_now_ms()) > 0)
		if (poll(&p, 1, (int)left) > 0)
			return -1;
	return 0;
}

/* One reply pushed by the sentinel. */
static void
handle(struct redis_sentinel *s, const redisReply *r)
{
	struct redis_addr m;

	if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "message") == 0 &&
	    r->element[2]->type == REDIS_REPLY_STRING &&
	    redis_sentinels_switch(r->element[2]->str, r->element[2]->len, s->master,
	    &m) == 1)
		switch_to(s, &m);
}

/* Subscribes on sentinel a and follows it until its link fails (0, with
 * err; *subscribed says whether it got that far) or the stop signal
 * (-1). */
static int
watch_one(struct redis_sentinel *s, const struct redis_addr *a, int *subscribed,
          char *err, size_t errlen)
{
	struct pollfd p[2] = { { .fd = s->evfd, .events = POLLIN }, { .events = POLLIN } };
	char at[REDIS_URL_HOST_MAX + 16];
	int64_t last_rx, ping_at = 0, t;
	struct redis_addr m;
	redisContext *c;
	void *r;
	int rc = 0, done = 0, ms;

	*subscribed = 0;
	if ((c = sentinel_open(s, a, err, errlen)) == NULL)
		return 0;
	redis_addr_text(a, at, sizeof(at));
	if ((r = redisCommand(c, "SUBSCRIBE +switch-master")) == NULL) {
		snprintf(err, errlen, "sentinel %s: SUBSCRIBE: %s", at,
		    c->errstr[0] != '\0' ? c->errstr : "failed");
		goto out;
	}
	freeReplyObject(r);
	if (ask_one(s, a, &m, err, errlen) == -1)
		goto out;
	*subscribed = 1;
	switch_to(s, &m);
	log_event(LOG_INFO, "sentinel_up", "sentinel", at, "master", s->master, NULL);
	p[1].fd = c->fd;
	last_rx = clock_now_ms();
	for (;;) {
		t = clock_now_ms();
		if (ping_at != 0 && t - ping_at >= s->timeout_ms) {
			snprintf(err, errlen, "sentinel %s: PING: timed out", at);
			goto out;
		}
		if (ping_at == 0 && t - last_rx >= s->timeout_ms) {
			if (redisAppendCommand(c, "PING") != REDIS_OK)
				goto io;
			do {
				if (redisBufferWrite(c, &done) != REDIS_OK)
					goto io;
			} while (!done);
			ping_at = t;
		}
		ms = (int)(ping_at != 0 ? ping_at + s->timeout_ms - t : last_rx + s->timeout_ms - t);
		if (poll(p, 2, ms > 0 ? ms : 0) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "sentinel %s: poll: %s", at, strerror(errno));
			goto out;
		}
		if (p[0].revents & POLLIN) {
			rc = -1;
			goto out;
		}
		if (!(p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (redisBufferRead(c) != REDIS_OK)
			goto io;
		for (;;) {
			if (redisGetReplyFromReader(c, &r) != REDIS_OK)
				goto io;
			if (r == NULL)
				break;
			last_rx = clock_now_ms();
			ping_at = 0;
			handle(s, r);
			freeReplyObject(r);
		}
	}
io:
	snprintf(err, errlen, "sentinel %s: %s", at, c->errstr[0] != '\0' ? c->errstr : "failed");
out:
	redisFree(c);
	return rc;
}

static void *
watch(void *arg)
{
	struct redis_sentinel *s = arg;
	char err[512], last[512] = "";
	long wait = REDIS_BACKOFF_MIN_MS;
	size_t i;
	int subscribed;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		i = s->next;
		pthread_mutex_unlock(&s->lock);
		if (watch_one(s, &s->list.at[i], &subscribed, err, sizeof(err)) == -1)
			break;
		/* Until another sentinel is followed, the connector alone decides. */
		pthread_mutex_lock(&s->lock);
		s->known = 0;
		if (s->next == i)
			s->next = (i + 1) % s->list.n;
		pthread_mutex_unlock(&s->lock);
		if (subscribed)
			wait = REDIS_BACKOFF_MIN_MS;
		if (subscribed || strcmp(err, last) != 0)
			log_event(LOG_WARN, "sentinel_down", "reason", err, NULL);
		snprintf(last, sizeof(last), "%s", err);
		if (pause_ms(s, wait) == -1)
			break;
		wait = redis_backoff_next(wait);
	}
	return NULL;
}

/* ---- lifecycle -------------------------------------------------------- */

struct redis_sentinel *
redis_sentinel_new(const struct redis_sentinels *list, const char *master,
                   const char *password, const struct redis_url *u, int timeout_ms)
{
	struct redis_sentinel *s;
	int err;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->list = *list;
	snprintf(s->master, sizeof(s->master), "%s", master);
	s->u = u;
	s->timeout_ms = timeout_ms;
	if (password != NULL && password[0] != '\0') {
		s->pass_len = strlen(password);
		if ((s->pass = malloc(s->pass_len + 1)) == NULL)
			goto err_s;
		memcpy(s->pass, password, s->pass_len + 1);
	}
	if ((s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto err_pass;
	pthread_mutex_init(&s->lock, NULL);
	return s;
err_pass:
	err = errno;
	free(s->pass);
	errno = err;
err_s:
	free(s);
	return NULL;
}

int
redis_sentinel_start(struct redis_sentinel *s)
{
	/* thread_start sets errno. */
	if (thread_start(&s->thread, "gc-sentinel", STACK_SIZE, watch, s) != 0)
		return -1;
	s->started = 1;
	return 0;
}

void
redis_sentinel_free(struct redis_sentinel *s)
{
	uint64_t one = 1;

	if (s == NULL)
		return;
	if (s->started) {
		if (write(s->evfd, &one, sizeof(one)) == -1) {
			/* EAGAIN only: a full counter means the signal is there */
		}
		pthread_join(s->thread, NULL);
	}
	close(s->evfd);
	pthread_mutex_destroy(&s->lock);
	if (s->pass != NULL) {
		explicit_bzero(s->pass, s->pass_len);
		free(s->pass);
	}
	free(s);
}
