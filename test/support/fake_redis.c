/*
 * fake_redis: the script (steps), the log of flushed commands and the
 * counters live in struct fake_redis under mu; cv wakes a reader waiting
 * for a step and a test waiting for a command. A link keeps its own
 * appended (unflushed) and sent (awaiting a reply) commands; only the
 * actor thread that opened it touches those. Replies are built by
 * hiredis's own reader from the RESP text, so they free like real ones.
 */
#include "fake_redis.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "groupchat/cluster/redis_keys.h"

#define MAX_STEPS 256
#define MAX_LOG 8192
#define MAX_PENDING 1024

struct step {
	char *resp;     /* NULL: drop */
};

struct fake_redis {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct step steps[MAX_STEPS];
	int head, nsteps;
	char *log[MAX_LOG];
	int flushof[MAX_LOG];   /* which flush sent the command */
	int nlog, nflush;
	int refuse;
	char refuse_why[128];
	char run_id[41];
	char lineage[17];       /* "": the settings cannot be told */
	int opens;
};

struct flink {
	struct redis_link l;
	struct fake_redis *f;
	char *pending[MAX_PENDING];     /* appended, then sent; oldest first */
	int npending, nsent;
	char why[64];
};

static void *
must(void *p)
{
	if (p == NULL)
		abort();
	return p;
}

static int
verb_is(const char *cmd, const char *verb)
{
	size_t n = strlen(verb);

	return strncasecmp(cmd, verb, n) == 0 && (cmd[n] == ' ' || cmd[n] == '\0');
}

static int
f_append(struct redis_link *l, int argc, const char **argv, const size_t *lens)
{
	struct flink *k = (struct flink *)l;
	size_t total = 1, at = 0;
	char *s;
	int i;

	if (k->npending == MAX_PENDING)
		return -1;
	for (i = 0; i < argc; i++)
		total += lens[i] + 1;
	s = must(malloc(total));
	for (i = 0; i < argc; i++) {
		memcpy(s + at, argv[i], lens[i]);
		at += lens[i];
		s[at++] = ' ';
	}
	s[at > 0 ? at - 1 : 0] = '\0';
	k->pending[k->npending++] = s;
	return 0;
}

static int
f_flush(struct redis_link *l)
{
	struct flink *k = (struct flink *)l;
	struct fake_redis *f = k->f;
	int i;

	if (k->nsent == k->npending)
		return 0;
	pthread_mutex_lock(&f->mu);
	for (i = k->nsent; i < k->npending && f->nlog < MAX_LOG; i++) {
		f->flushof[f->nlog] = f->nflush;
		f->log[f->nlog++] = must(strdup(k->pending[i]));
	}
	f->nflush++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	k->nsent = k->npending;
	return 0;
}

static redisReply *
parse(const char *resp)
{
	redisReader *rd = must(redisReaderCreate());
	void *r = NULL;

	if (redisReaderFeed(rd, resp, strlen(resp)) != REDIS_OK ||
	    redisReaderGetReply(rd, &r) != REDIS_OK || r == NULL)
		abort();
	redisReaderFree(rd);
	return r;
}

/* The automatic answer to cmd into buf, or NULL if cmd is scripted. */
static const char *
auto_reply(struct fake_redis *f, const char *cmd, char *buf, size_t n)
{
	if (verb_is(cmd, "SCRIPT"))
		return "$40\r\n5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e\r\n";
	if (verb_is(cmd, "PING"))
		return "+PONG\r\n";
	/* a link's epoch token (redis_lineage.c): the lineage script's
	 * answer, durable with the test's lineage, else not */
	if (verb_is(cmd, "CONFIG"))
		return "*0\r\n";
	if (verb_is(cmd, "EVAL") && strstr(cmd, " " RK_LINEAGE " ") != NULL) {
		snprintf(buf, n, "*2\r\n$16\r\n%s\r\n$1\r\n%c\r\n",
		    f->lineage[0] != '\0' ? f->lineage : "1111222233334444",
		    f->lineage[0] != '\0' ? '1' : '0');
		return buf;
	}
	if (verb_is(cmd, "INFO")) {
		char body[128];
		int len = snprintf(body, sizeof(body), "# Server\r\nrun_id:%s\r\n", f->run_id);

		snprintf(buf, n, "$%d\r\n%s\r\n", len, body);
		return buf;
	}
	return NULL;
}

static int
f_read(struct redis_link *l, redisReply **r, int timeout_ms)
{
	struct flink *k = (struct flink *)l;
	struct fake_redis *f = k->f;
	struct timespec dl;
	char buf[256];
	const char *resp;
	int rc = 1, i;

	if (k->nsent == 0) {
		snprintf(k->why, sizeof(k->why), "timed out");
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&f->mu);
	if ((resp = auto_reply(f, k->pending[0], buf, sizeof(buf))) != NULL) {
		*r = parse(resp);
	} else {
		while (f->nsteps == 0 && pthread_cond_timedwait(&f->cv, &f->mu, &dl) == 0)
			;
		if (f->nsteps == 0) {
			snprintf(k->why, sizeof(k->why), "timed out");
			rc = 0;
		} else {
			struct step *s = &f->steps[f->head];

			f->head = (f->head + 1) % MAX_STEPS;
			f->nsteps--;
			if (s->resp == NULL) {
				snprintf(k->why, sizeof(k->why), "fake: connection dropped");
				rc = -1;
			} else {
				*r = parse(s->resp);
				free(s->resp);
			}
		}
	}
	pthread_mutex_unlock(&f->mu);
	if (rc == 1) {
		free(k->pending[0]);
		for (i = 1; i < k->npending; i++)
			k->pending[i - 1] = k->pending[i];
		k->npending--;
		k->nsent--;
	}
	return rc;
}

static int
f_fd(struct redis_link *l)
{
	(void)l;
	return -1;
}

static const char *
f_error(struct redis_link *l)
{
	return ((struct flink *)l)->why;
}

static void
f_free(struct redis_link *l)
{
	struct flink *k = (struct flink *)l;
	int i;

	for (i = 0; i < k->npending; i++)
		free(k->pending[i]);
	free(k);
}

static const struct redis_link_ops fake_ops = {
	f_append, f_flush, f_read, f_fd, f_error, f_free,
};

static struct redis_link *
f_open(void *arg, int timeout_ms, char *err, size_t errlen)
{
	struct fake_redis *f = arg;
	struct flink *k;

	pthread_mutex_lock(&f->mu);
	if (f->refuse > 0) {
		f->refuse--;
		snprintf(err, errlen, "%s", f->refuse_why);
		pthread_mutex_unlock(&f->mu);
		return NULL;
	}
	f->opens++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	k = must(calloc(1, sizeof(*k)));
	k->l.ops = &fake_ops;
	k->l.timeout_ms = timeout_ms;
	k->f = f;
	return &k->l;
}

struct fake_redis *
fake_redis_new(void)
{
	struct fake_redis *f = must(calloc(1, sizeof(*f)));
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(f->run_id, sizeof(f->run_id), "%040d", 1);
	return f;
}

void
fake_redis_free(struct fake_redis *f)
{
	int i;

	for (i = 0; i < f->nsteps; i++)
		free(f->steps[(f->head + i) % MAX_STEPS].resp);
	for (i = 0; i < f->nlog; i++)
		free(f->log[i]);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

struct redis_connector
fake_redis_connector(struct fake_redis *f)
{
	struct redis_connector c = { f_open, f };

	return c;
}

void
fake_redis_refuse(struct fake_redis *f, int n, const char *reason)
{
	pthread_mutex_lock(&f->mu);
	f->refuse = n;
	snprintf(f->refuse_why, sizeof(f->refuse_why), "%s", reason);
	pthread_mutex_unlock(&f->mu);
}

static void
push(struct fake_redis *f, char *resp)
{
	pthread_mutex_lock(&f->mu);
	if (f->nsteps == MAX_STEPS)
		abort();
	f->steps[(f->head + f->nsteps) % MAX_STEPS].resp = resp;
	f->nsteps++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void
fake_redis_reply(struct fake_redis *f, const char *resp)
{
	push(f, must(strdup(resp)));
}

void
fake_redis_drop(struct fake_redis *f)
{
	push(f, NULL);
}

void
fake_redis_lineage(struct fake_redis *f, const char *lineage)
{
	pthread_mutex_lock(&f->mu);
	snprintf(f->lineage, sizeof(f->lineage), "%s", lineage != NULL ? lineage : "");
	pthread_mutex_unlock(&f->mu);
}

void
fake_redis_run_id(struct fake_redis *f, const char *run_id)
{
	pthread_mutex_lock(&f->mu);
	snprintf(f->run_id, sizeof(f->run_id), "%s", run_id);
	pthread_mutex_unlock(&f->mu);
}

int
fake_redis_opens(struct fake_redis *f)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = f->opens;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* mu held. */
static int
count_locked(struct fake_redis *f, const char *verb, int *flushes)
{
	int i, n = 0, last = -1, fl = 0;

	for (i = 0; i < f->nlog; i++) {
		if (verb != NULL && !verb_is(f->log[i], verb))
			continue;
		n++;
		if (f->flushof[i] != last) {
			fl++;
			last = f->flushof[i];
		}
	}
	if (flushes != NULL)
		*flushes = fl;
	return n;
}

int
fake_redis_count(struct fake_redis *f, const char *verb, int *flushes)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = count_locked(f, verb, flushes);
	pthread_mutex_unlock(&f->mu);
	return n;
}

int
fake_redis_command(struct fake_redis *f, int i, char *out, size_t n)
{
	int rc = -1;

	pthread_mutex_lock(&f->mu);
	if (i >= 0 && i < f->nlog) {
		snprintf(out, n, "%s", f->log[i]);
		rc = 0;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

int
fake_redis_last(struct fake_redis *f, const char *verb, char *out, size_t n)
{
	int rc = -1, i;

	pthread_mutex_lock(&f->mu);
	for (i = f->nlog - 1; i >= 0 && rc == -1; i--)
		if (verb_is(f->log[i], verb)) {
			snprintf(out, n, "%s", f->log[i]);
			rc = 0;
		}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

int
fake_redis_last_carries(struct fake_redis *f, const char *verb, const char *arg)
{
	char cmd[512], want[64];

	snprintf(want, sizeof(want), " %s ", arg);
	return fake_redis_last(f, verb, cmd, sizeof(cmd)) == 0 && strstr(cmd, want) != NULL;
}

int
fake_redis_wait(struct fake_redis *f, const char *verb, int want, int ms)
{
	struct timespec dl;
	int ok;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&f->mu);
	while (count_locked(f, verb, NULL) < want &&
	    pthread_cond_timedwait(&f->cv, &f->mu, &dl) == 0)
		;
	ok = count_locked(f, verb, NULL) >= want;
	pthread_mutex_unlock(&f->mu);
	return ok;
}
