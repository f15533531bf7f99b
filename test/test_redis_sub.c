/*
 * test_redis_sub: the subscriber actor against a real redis-server: the
 * subscription is confirmed before any message that reaches it; 2,000
 * publishes arrive in order with none missing after the confirmation;
 * subscribe and unsubscribe while messages flow; Redis killed and
 * restarted (down, up, subscribed again, messages again); Redis paused
 * (down within a bound, by the keepalive); a wrong password. Also the
 * Redis fact the keepalive relies on: PING in RESP2 subscribe mode.
 * Callbacks append to one event log under a mutex; the test waits on its
 * condition variable with a deadline, never sleeps.
 */
#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_keys.h"
#include "groupchat/cluster/redis_sub.h"
#include "groupchat/cluster/redis_url.h"
#include "support/itest.h"
#include "support/redis_actor_support.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupchat/core/chan.h"

#define MAXEV 16384
#define N 2000

struct ev {
	char kind;      /* 's' subscribed, 'm' message, 'u' up, 'd' down */
	char id[16];
	long n;         /* 'm': the payload as a number */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ev ev[MAXEV];
	int nev;
	char reason[256];
} log_;

static struct redis_fixture *rf;
static struct redis_url *url;
static struct redis_connector rconn;

static void
add(char kind, const char *id, size_t len, long n, const char *reason)
{
	pthread_mutex_lock(&log_.mu);
	if (log_.nev < MAXEV) {
		struct ev *e = &log_.ev[log_.nev++];

		e->kind = kind;
		snprintf(e->id, sizeof(e->id), "%.*s", (int)len, id);
		e->n = n;
	}
	if (reason != NULL)
		snprintf(log_.reason, sizeof(log_.reason), "%s", reason);
	pthread_cond_broadcast(&log_.cv);
	pthread_mutex_unlock(&log_.mu);
}

static void
on_subscribed(void *arg, const char *id, size_t len)
{
	(void)arg;
	add('s', id, len, 0, NULL);
}

static void
on_message(void *arg, const char *id, size_t len, const char *p, size_t plen)
{
	char num[32];

	(void)arg;
	snprintf(num, sizeof(num), "%.*s", (int)plen, p);
	add('m', id, len, atol(num), NULL);
}

static void
on_link(void *arg, int up, const char *reason)
{
	(void)arg;
	add(up ? 'u' : 'd', "", 0, 0, reason);
}

static const struct redis_sub_cb cb = { on_subscribed, on_message, on_link, NULL };

/* Events of kind for id ("" any) so far; mu held. */
static int
count_locked(char kind, const char *id)
{
	int i, n = 0;

	for (i = 0; i < log_.nev; i++)
		n += log_.ev[i].kind == kind && (id[0] == '\0' || strcmp(log_.ev[i].id, id) == 0);
	return n;
}

/* Waits until count(kind, id) >= want, up to ms. 1 if reached. */
static int
wait_ev(char kind, const char *id, int want, long ms)
{
	struct timespec dl;
	int ok;

	chan_deadline(&dl, ms);
	pthread_mutex_lock(&log_.mu);
	while (count_locked(kind, id) < want &&
	    pthread_cond_timedwait(&log_.cv, &log_.mu, &dl) == 0)
		;
	ok = count_locked(kind, id) >= want;
	pthread_mutex_unlock(&log_.mu);
	return ok;
}

static int
count(char kind, const char *id)
{
	int n;

	pthread_mutex_lock(&log_.mu);
	n = count_locked(kind, id);
	pthread_mutex_unlock(&log_.mu);
	return n;
}

static void
up(void)
{
	memset(&log_, 0, sizeof(log_));
	ras_sync_init(&log_.mu, &log_.cv);
	ras_up(&rf, &url, &rconn);
}

static void
down(void)
{
	ras_down(rf, url);
}

/* PUBLISH n on group id's channel: how many subscribers got it, or -1. */
static long long
publish(redisContext *c, const char *id, long n)
{
	redisReply *r = redisCommand(c, "PUBLISH " RK_MSG "%s %ld", id, n);
	long long got = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;

	freeReplyObject(r);
	return got;
}

/* ---- a publisher thread ------------------------------------------------ */

struct pubber {
	pthread_t t;
	const char *ids[2];
	int nids;
	long delivered_want;    /* stop after this many deliveries to ids[0] */
	pthread_mutex_t mu;
	long sent, delivered;   /* to ids[0] */
	long first_delivered;   /* the first n that reached a subscriber */
	int stop, failed;
	long got[N + 1];        /* deliveries to ids[0], in order */
};

static void *
pub_run(void *arg)
{
	struct pubber *p = arg;
	redisContext *c = ras_raw(url);
	struct timespec dl;
	long n = 0, k;
	int stop = 0, i;

	chan_deadline(&dl, 20000);
	while (!stop) {
		n++;
		for (i = 0; i < p->nids; i++) {
			k = publish(c, p->ids[i], n);
			pthread_mutex_lock(&p->mu);
			if (k < 0)
				p->failed = 1;
			if (i == 0) {
				p->sent = n;
				if (k == 1 && p->delivered <= N) {
					if (p->delivered == 0)
						p->first_delivered = n;
					p->got[p->delivered] = n;
					p->delivered++;
				}
			}
			stop = p->stop || p->failed ||
			    (p->delivered_want > 0 && p->delivered >= p->delivered_want);
			pthread_mutex_unlock(&p->mu);
		}
		if (n % 64 == 0) {
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > dl.tv_sec)
				break;
		}
	}
	redisFree(c);
	return NULL;
}

static long
pub_get(struct pubber *p, long *field)
{
	long v;

	pthread_mutex_lock(&p->mu);
	v = *field;
	pthread_mutex_unlock(&p->mu);
	return v;
}

struct sent_want {
	struct pubber *p;
	long n;
};

static int
pub_sent(void *arg)
{
	struct sent_want *w = arg;

	return pub_get(w->p, &w->p->sent) >= w->n;
}

/* Waits until the publisher has sent at least n (polls its counter: the
 * publisher only moves forward). */
static int
pub_wait_sent(struct pubber *p, long n)
{
	struct sent_want w = { p, n };

	return it_wait_until(pub_sent, &w, 10000);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(confirmed_before_messages_and_in_order)
{
	struct redis_sub *s = redis_sub_new(&rconn, 64, 1000, &cb);
	static struct pubber p;
	int i, first_msg = -1, sub_at = -1;
	long k = 0;

	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.mu, NULL);
	p.ids[0] = "g";
	p.nids = 1;
	p.delivered_want = N;
	ck_assert_int_eq(redis_sub_start(s), 0);
	ck_assert(wait_ev('u', "", 1, 5000));
	ck_assert_int_eq(pthread_create(&p.t, NULL, pub_run, &p), 0);
	ck_assert(pub_wait_sent(&p, 50));         /* subscribe while messages flow */
	ck_assert_int_eq(redis_sub_subscribe(s, "g", 1), 0);
	ck_assert(wait_ev('s', "g", 1, 5000));
	pthread_join(p.t, NULL);
	ck_assert_int_eq(p.failed, 0);
	ck_assert_int_eq(p.delivered, N);
	ck_assert_int_gt(p.first_delivered, 1);   /* some went out before it */
	ck_assert(wait_ev('m', "g", N, 10000));
	pthread_mutex_lock(&log_.mu);
	for (i = 0; i < log_.nev; i++) {
		if (log_.ev[i].kind == 's' && sub_at == -1)
			sub_at = i;
		if (log_.ev[i].kind != 'm')
			continue;
		if (first_msg == -1)
			first_msg = i;
		/* exactly the publishes Redis delivered, in publish order */
		ck_assert_int_eq(log_.ev[i].n, p.got[k]);
		k++;
	}
	pthread_mutex_unlock(&log_.mu);
	ck_assert_int_eq(k, N);
	ck_assert_int_lt(sub_at, first_msg);      /* confirmation first */
	/* and no hole after the first: every publish from then on reached us */
	ck_assert_int_eq(p.got[N - 1] - p.got[0], N - 1);
	redis_sub_stop(s);
}
END_TEST

START_TEST(subscribe_unsubscribe_while_flowing)
{
	struct redis_sub *s = redis_sub_new(&rconn, 64, 1000, &cb);
	static struct pubber p;
	int i, fence = -1, b_first = -1, b_last = -1, after_resub;
	long prev_a = 0, prev_b = 0;

	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.mu, NULL);
	p.ids[0] = "a";
	p.ids[1] = "b";
	p.nids = 2;
	ck_assert_int_eq(redis_sub_start(s), 0);
	ck_assert_int_eq(redis_sub_subscribe(s, "a", 1), 0);
	ck_assert_int_eq(redis_sub_subscribe(s, "b", 1), 0);
	ck_assert(wait_ev('s', "a", 1, 5000));
	ck_assert(wait_ev('s', "b", 1, 5000));
	ck_assert_int_eq(pthread_create(&p.t, NULL, pub_run, &p), 0);
	ck_assert(wait_ev('m', "a", 100, 5000));
	ck_assert_int_eq(redis_sub_unsubscribe(s, "a", 1), 0);
	/* a fence: Redis ran the UNSUBSCRIBE before this SUBSCRIBE */
	ck_assert_int_eq(redis_sub_subscribe(s, "fence", 5), 0);
	ck_assert(wait_ev('s', "fence", 1, 5000));
	ck_assert(wait_ev('m', "b", count('m', "b") + 100, 5000));
	after_resub = count('m', "a");
	ck_assert_int_eq(redis_sub_subscribe(s, "a", 1), 0);
	ck_assert(wait_ev('s', "a", 2, 5000));
	ck_assert(wait_ev('m', "a", after_resub + 100, 5000)); /* flowing again */
	pthread_mutex_lock(&p.mu);
	p.stop = 1;
	pthread_mutex_unlock(&p.mu);
	pthread_join(p.t, NULL);
	ck_assert_int_eq(p.failed, 0);

	pthread_mutex_lock(&log_.mu);
	for (i = 0; i < log_.nev; i++) {
		struct ev *e = &log_.ev[i];

		if (e->kind == 's' && strcmp(e->id, "fence") == 0)
			fence = i;
		if (e->kind == 's' && strcmp(e->id, "a") == 0 && fence != -1)
			fence = -2;     /* a subscribed again: a's messages may come */
		if (e->kind != 'm')
			continue;
		if (strcmp(e->id, "a") == 0) {
			ck_assert_msg(fence == -1 || fence == -2,
			    "a message of a after the fence (event %d)", i);
			ck_assert_int_gt(e->n, prev_a);   /* in order */
			prev_a = e->n;
		} else {
			ck_assert_str_eq(e->id, "b");
			if (b_first == -1)
				b_first = (int)e->n;
			else    /* b never lost one while a churned */
				ck_assert_int_eq(e->n, prev_b + 1);
			prev_b = e->n;
			b_last = (int)e->n;
		}
	}
	pthread_mutex_unlock(&log_.mu);
	ck_assert_int_gt(b_last, b_first);
	redis_sub_stop(s);
}
END_TEST

START_TEST(killed_and_restarted)
{
	struct redis_sub *s = redis_sub_new(&rconn, 64, 1000, &cb);
	redisContext *c;
	int i, d = -1, u2 = -1, s2 = -1, seen = 0;

	ck_assert_int_eq(redis_sub_start(s), 0);
	ck_assert_int_eq(redis_sub_subscribe(s, "g", 1), 0);
	ck_assert(wait_ev('s', "g", 1, 5000));
	c = ras_raw(url);
	ck_assert_int_eq(publish(c, "g", 1), 1);
	redisFree(c);
	ck_assert(wait_ev('m', "g", 1, 5000));

	ck_assert_int_eq(rf_kill(rf), 0);
	ck_assert(wait_ev('d', "", 1, 5000));
	ck_assert_int_eq(rf_restart(rf), 0);
	ck_assert(wait_ev('u', "", 2, 10000));
	ck_assert(wait_ev('s', "g", 2, 5000));   /* subscribed again by itself */
	c = ras_raw(url);
	ck_assert_int_eq(publish(c, "g", 2), 1);
	redisFree(c);
	ck_assert(wait_ev('m', "g", 2, 5000));
	pthread_mutex_lock(&log_.mu);
	for (i = 0; i < log_.nev; i++) {
		if (log_.ev[i].kind == 'd' && d == -1)
			d = i;
		if (log_.ev[i].kind == 'u' && d != -1 && u2 == -1)
			u2 = i;
		if (log_.ev[i].kind == 's' && u2 != -1 && s2 == -1)
			s2 = i;
		if (log_.ev[i].kind == 'm' && s2 != -1) {
			ck_assert_int_eq(log_.ev[i].n, 2);
			seen = 1;
		}
	}
	pthread_mutex_unlock(&log_.mu);
	ck_assert(d != -1 && u2 > d && s2 > u2 && seen);   /* down, up, subscribed, flowing */
	redis_sub_stop(s);
}
END_TEST

START_TEST(paused_goes_down_in_bounded_time)
{
	struct redis_sub *s = redis_sub_new(&rconn, 64, 300, &cb);
	struct timespec t0, t1;
	long ms;

	ck_assert_int_eq(redis_sub_start(s), 0);
	ck_assert_int_eq(redis_sub_subscribe(s, "g", 1), 0);
	ck_assert(wait_ev('s', "g", 1, 5000));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(rf_pause(rf), 0);
	ck_assert(wait_ev('d', "", 1, 5000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	/* idle 300 ms, then the PING's 300 ms: well within 2 s even under load */
	ck_assert_int_le(ms, 2000);
	pthread_mutex_lock(&log_.mu);
	ck_assert_str_eq(log_.reason, "PING: timed out");
	pthread_mutex_unlock(&log_.mu);
	ck_assert_int_eq(rf_resume(rf), 0);
	ck_assert(wait_ev('u', "", 2, 10000));
	ck_assert(wait_ev('s', "g", 2, 5000));
	redis_sub_stop(s);
}
END_TEST

START_TEST(wrong_password)
{
	struct redis_url *bad = ras_wrong_password(&rf, &rconn);
	struct redis_sub *s;

	s = redis_sub_new(&rconn, 64, 1000, &cb);
	ck_assert_int_eq(redis_sub_start(s), 0);
	ck_assert_int_eq(redis_sub_subscribe(s, "g", 1), 0);
	ck_assert(wait_ev('d', "", 1, 5000));
	ras_assert_wrongpass(&log_.mu, log_.reason);
	redis_sub_stop(s);     /* at once, from the backoff */
	ck_assert_int_eq(count('u', ""), 0);
	ck_assert_int_eq(count('d', ""), 1);   /* one line per change of reason */
	redis_url_free(bad);
}
END_TEST

START_TEST(ping_in_subscribe_mode)
{
	redisContext *c = ras_raw(url);
	redisReply *r = redisCommand(c, "SUBSCRIBE " RK_MSG "x");

	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	freeReplyObject(r);
	r = redisCommand(c, "PING");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(r->elements, 2);
	ck_assert_str_eq(r->element[0]->str, "pong");
	ck_assert_uint_eq(r->element[1]->len, 0);
	freeReplyObject(r);
	/* and other commands are refused there */
	r = redisCommand(c, "GET k");
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	redisFree(c);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("redis_sub");
	TCase *tc = tcase_create("actor");

	tcase_set_timeout(tc, 40);
	tcase_add_checked_fixture(tc, up, down);
	tcase_add_test(tc, confirmed_before_messages_and_in_order);
	tcase_add_test(tc, subscribe_unsubscribe_while_flowing);
	tcase_add_test(tc, killed_and_restarted);
	tcase_add_test(tc, paused_goes_down_in_bounded_time);
	tcase_add_test(tc, wrong_password);
	tcase_add_test(tc, ping_in_subscribe_mode);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
