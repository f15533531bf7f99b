/*
 * test_redis_cmd: the command actor. Against a real redis-server: every
 * request kind end to end, the heartbeat keeping a claim alive past its
 * ttl and reporting one another node took, Redis killed and restarted
 * (requests fail fast while down; the changed run_id is reported), a
 * wrong password. Against the fake: a caller's deadline passing while
 * the actor waits (the late reply is dropped safely), a link dropping
 * under a request, and run_id change detection by itself. Waits are on
 * condition variables with deadlines, never sleeps.
 */
#include "groupchat/cluster/redis_cmd.h"
#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_url.h"
#include "support/fake_redis.h"
#include "support/itest.h"
#include "support/redis_actor_support.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The history the publishes below keep. */
static const struct redis_history hist100 = { 100, 1 << 20 };

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ups, downs, restarts, helds, ntaken;
	int ups_at_restart;     /* ups when restarted was last reported */
	uint32_t held[4], taken[4];
	size_t nheld;
	char reason[256];
} rec;

static struct redis_fixture *rf;
static struct redis_url *url;
static struct redis_connector rconn;
static struct fake_redis *fake;
/* The incarnation a claim read. */
static char got[REDIS_INC_LEN + 1];

static void
on_link(void *arg, int up, const char *reason)
{
	(void)arg;
	pthread_mutex_lock(&rec.mu);
	if (up) {
		rec.ups++;
	} else {
		rec.downs++;
		snprintf(rec.reason, sizeof(rec.reason), "%s", reason);
	}
	pthread_cond_broadcast(&rec.cv);
	pthread_mutex_unlock(&rec.mu);
}

static void
on_restarted(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&rec.mu);
	rec.restarts++;
	rec.ups_at_restart = rec.ups;
	pthread_cond_broadcast(&rec.cv);
	pthread_mutex_unlock(&rec.mu);
}

static size_t
on_held(void *arg, uint32_t *out, size_t max)
{
	size_t n;

	(void)arg;
	pthread_mutex_lock(&rec.mu);
	n = rec.nheld < max ? rec.nheld : max;
	memcpy(out, rec.held, n * sizeof(*out));
	rec.helds++;
	pthread_cond_broadcast(&rec.cv);
	pthread_mutex_unlock(&rec.mu);
	return n;
}

static void
on_taken(void *arg, const uint32_t *cids, size_t n)
{
	(void)arg;
	pthread_mutex_lock(&rec.mu);
	while (n-- > 0 && rec.ntaken < 4)
		rec.taken[rec.ntaken++] = *cids++;
	pthread_cond_broadcast(&rec.cv);
	pthread_mutex_unlock(&rec.mu);
}

static const struct redis_cmd_cb cb = { on_link, on_restarted, on_held, on_taken, NULL };

static int
wait_for(int *field, int want, long ms)
{
	return ras_wait_int(&rec.mu, &rec.cv, field, want, ms);
}

static void
rec_init(void)
{
	memset(&rec, 0, sizeof(rec));
	ras_sync_init(&rec.mu, &rec.cv);
}

static void
up(void)
{
	rec_init();
	ras_up(&rf, &url, &rconn);
}

static void
down(void)
{
	ras_down(rf, url);
}

struct hist {
	int n;
	uint64_t seq[8];
	char frame[8][8];
};

static void
hist_cb(void *arg, uint64_t seq, const char *ep, const char *frame, size_t flen)
{
	struct hist *h = arg;

	ck_assert_uint_eq(strlen(ep), REDIS_EP_LEN);
	if (h->n < 8) {
		h->seq[h->n] = seq;
		snprintf(h->frame[h->n], sizeof(h->frame[0]), "%.*s", (int)flen, frame);
		h->n++;
	}
}

START_TEST(requests_end_to_end)
{
	struct redis_cmd *c = redis_cmd_new(&rconn, "00000000000000aa", 16, 2000, 15000, &cb);
	struct redis_scripts sc;
	struct redis_link *l;
	char inc[REDIS_INC_LEN + 1], err[256], run[REDIS_RUN_LEN + 1];
	char ep[REDIS_EP_LEN + 1] = "00000000000000e1";
	struct redis_base b, b2;
	struct hist h = { 0 };
	int i;

	ck_assert_int_eq(redis_cmd_start(c), 0);
	redis_inc_new(inc);
	ck_assert_int_eq(redis_cmd_create(c, "g 1", 3, inc, 100, 2000), 1);
	ck_assert_int_eq(redis_cmd_create(c, "g 1", 3, inc, 100, 2000), 0);
	ck_assert_int_eq(redis_cmd_baseline(c, "g 1", 3, &b, 2000), 0);
	ck_assert_str_eq(b.inc, inc);
	ck_assert_uint_eq(strlen(b.ep), REDIS_EP_LEN);
	ck_assert_uint_eq(b.seq, 0);
	ck_assert_int_eq(redis_cmd_baseline(c, "nope", 4, &b2, 2000), 0);
	ck_assert_str_eq(b2.inc, "");
	ck_assert_int_eq(b2.gone, 0);

	l = redis_link_open(url, 2000, err, sizeof(err));
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(redis_scripts_load(l, &sc, err, sizeof(err)), 0);
	ck_assert_int_eq(redis_run_id(l, run, err, sizeof(err)), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(redis_group_publish(l, &sc, "g 1", 3, inc, i == 1 ? "t\0b" : "tx",
		    i == 1 ? 3 : 2, &hist100, run, ep, err, sizeof(err)), i + 1);
	redis_link_free(l);
	/* the same Redis process: the epoch the create began goes on */
	ck_assert_int_eq(redis_cmd_baseline(c, "g 1", 3, &b2, 2000), 0);
	ck_assert_str_eq(b2.inc, inc);
	ck_assert_str_eq(b2.ep, b.ep);
	ck_assert_uint_eq(b2.seq, 3);
	ck_assert_int_eq(redis_cmd_history(c, "g 1", 3, 2, 3, hist_cb, &h, 2000), 2);
	ck_assert_int_eq(h.n, 2);
	ck_assert_uint_eq(h.seq[0], 2);
	ck_assert_uint_eq(h.seq[1], 3);
	ck_assert_str_eq(h.frame[1], "tx");
	ck_assert_int_eq(redis_cmd_reregister(c, "g 1", 3, inc, 2000), 1); /* there */

	ck_assert_int_eq(redis_cmd_claim(c, 0xabc, "g 1", 3, got, 2000), 1);
	ck_assert_str_eq(got, inc);     /* the group's incarnation, on the way */
	ck_assert_int_eq(redis_cmd_claim(c, 0xabc, "g 1", 3, got, 2000), 0); /* NX: even ours */
	ck_assert_int_eq(redis_cmd_release(c, 0xabc), 0);
	ck_assert_int_eq(redis_cmd_delete(c, "g 1", 3, NULL, 2000), 1); /* after the release */
	ck_assert_int_eq(redis_cmd_claim(c, 0xabc, "g 1", 3, got, 2000), 1);  /* released */
	ck_assert_str_eq(got, "");      /* deleted */
	ck_assert_int_eq(redis_cmd_delete(c, "g 1", 3, NULL, 2000), 0);
	ck_assert_int_eq(redis_cmd_baseline(c, "g 1", 3, &b2, 2000), 0);
	ck_assert_str_eq(b2.inc, "");
	ck_assert_int_eq(b2.gone, 1);   /* its tombstone */
	ck_assert_int_eq(redis_cmd_reregister(c, "g 1", 3, inc, 2000), 0);
	redis_cmd_stop(c);
	ck_assert_int_eq(rec.ups, 1);
	ck_assert_int_eq(rec.downs, 0);
	ck_assert_int_eq(rec.restarts, 0);
}
END_TEST

START_TEST(heartbeat_keeps_claims_and_reports_taken)
{
	struct redis_cmd *c = redis_cmd_new(&rconn, "00000000000000aa", 16, 2000, 600, &cb);
	char reply[64];

	ck_assert_int_eq(redis_cmd_start(c), 0);
	ck_assert_int_eq(redis_cmd_claim(c, 0x000abc, "g", 1, got, 2000), 1);
	pthread_mutex_lock(&rec.mu);
	rec.held[0] = 0x000abc;
	rec.nheld = 1;
	rec.helds = 0;
	pthread_mutex_unlock(&rec.mu);
	/* 6 heartbeats of ttl/3 = 1.2 s: twice the ttl */
	ck_assert(wait_for(&rec.helds, 7, 10000));
	ck_assert_int_eq(rf_command(rf, "GET gc:cid:000abc", reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, "$16");     /* still ours */

	/* another node holds one we think is ours (Redis lost our claim) */
	ck_assert_int_eq(rf_command(rf, "SET gc:cid:000def 00000000000000bb PX 60000", reply,
	    sizeof(reply)), 0);
	pthread_mutex_lock(&rec.mu);
	rec.held[1] = 0x000def;
	rec.nheld = 2;
	pthread_mutex_unlock(&rec.mu);
	ck_assert(wait_for(&rec.ntaken, 1, 5000));
	ck_assert_uint_eq(rec.taken[0], 0x000def);
	redis_cmd_stop(c);
}
END_TEST

/* it_wait_until's predicate: the command arg answers :1. */
static int
claimed(void *arg)
{
	char reply[64];

	return rf_command(rf, arg, reply, sizeof(reply)) == 0 && strcmp(reply, ":1") == 0;
}

/* Redis restarted empty forgot the claims; a check (what the node sends
 * when its subscriber is back) makes the idle link notice and claim them
 * again at once, not at the next heartbeat (ttl/3 = 5 s here). */
START_TEST(check_claims_again_after_restart)
{
	struct redis_cmd *c = redis_cmd_new(&rconn, "00000000000000aa", 16, 1000, 15000, &cb);
	char reply[64];

	ck_assert_int_eq(redis_cmd_start(c), 0);
	ck_assert_int_eq(redis_cmd_claim(c, 0x000abc, "g", 1, got, 2000), 1);
	pthread_mutex_lock(&rec.mu);
	rec.held[0] = 0x000abc;
	rec.nheld = 1;
	pthread_mutex_unlock(&rec.mu);
	ck_assert_int_eq(rf_kill(rf), 0);
	ck_assert_int_eq(rf_restart(rf), 0);
	ck_assert_int_eq(rf_command(rf, "EXISTS gc:cid:000abc", reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, ":0");
	ck_assert_int_eq(redis_cmd_check(c), 0);
	ck_assert(wait_for(&rec.restarts, 1, 2000));
	ck_assert(it_wait_until(claimed, "EXISTS gc:cid:000abc", 2000));
	redis_cmd_stop(c);
}
END_TEST

START_TEST(killed_restarted_empty)
{
	struct redis_cmd *c = redis_cmd_new(&rconn, "00000000000000aa", 16, 1000, 15000, &cb);
	char inc[REDIS_INC_LEN + 1];
	struct timespec t0, t1;
	long ms;
	int rc;

	ck_assert_int_eq(redis_cmd_start(c), 0);
	redis_inc_new(inc);
	ck_assert_int_eq(redis_cmd_create(c, "g", 1, inc, 100, 2000), 1);
	ck_assert_int_eq(rf_kill(rf), 0);
	/* the first request finds the link broken; then it is down */
	rc = redis_cmd_create(c, "h", 1, inc, 100, 2000);
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(errno == EIO || errno == ENOTCONN, "%d", errno);
	ck_assert(wait_for(&rec.downs, 1, 5000));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(redis_cmd_create(c, "h", 1, inc, 100, 5000), -1);
	ck_assert_int_eq(errno, ENOTCONN);      /* fails fast while down */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_le(ms, 2500);             /* within one backoff step */
	ck_assert_int_eq(rf_restart(rf), 0);
	ck_assert(wait_for(&rec.ups, 2, 10000));
	ck_assert(wait_for(&rec.restarts, 1, 5000));
	ck_assert_int_eq(redis_cmd_create(c, "g", 1, inc, 100, 2000), 1);  /* empty indeed */
	redis_cmd_stop(c);
	ck_assert_int_eq(rec.restarts, 1);
}
END_TEST

START_TEST(wrong_password)
{
	struct redis_url *bad = ras_wrong_password(&rf, &rconn);
	struct redis_cmd *c;

	c = redis_cmd_new(&rconn, "00000000000000aa", 16, 1000, 15000, &cb);
	ck_assert_int_eq(redis_cmd_start(c), 0);
	ck_assert(wait_for(&rec.downs, 1, 5000));
	ras_assert_wrongpass(&rec.mu, rec.reason);
	ck_assert_int_eq(redis_cmd_claim(c, 1, "g", 1, got, 3000), -1);
	ck_assert_int_eq(errno, ENOTCONN);
	redis_cmd_stop(c);
	ck_assert_int_eq(rec.ups, 0);
	redis_url_free(bad);
}
END_TEST

/* ---- against the fake ------------------------------------------------ */

static void
fake_up(void)
{
	rec_init();
	fake = fake_redis_new();
	rconn = fake_redis_connector(fake);
}

static void
fake_down(void)
{
	fake_redis_free(fake);
}

START_TEST(fake_deadline_passes)
{
	struct redis_cmd *c = redis_cmd_new(&rconn, "00000000000000aa", 4, 5000, 60000, &cb);

	ck_assert_int_eq(redis_cmd_start(c), 0);
	ck_assert(wait_for(&rec.ups, 1, 5000));
	ck_assert_int_eq(redis_cmd_claim(c, 7, "g", 1, got, 100), -1);     /* no reply yet */
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert(fake_redis_wait(fake, "EVALSHA", 1, 5000)); /* it was sent */
	fake_redis_reply(fake, "*2\r\n:1\r\n$0\r\n\r\n");    /* the late reply */
	fake_redis_reply(fake, "*2\r\n:0\r\n$0\r\n\r\n");
	ck_assert_int_eq(redis_cmd_claim(c, 8, "g", 1, got, 5000), 0);     /* the next gets its own */
	redis_cmd_stop(c);
	ck_assert_int_eq(rec.downs, 0);
}
END_TEST

START_TEST(fake_drop_under_request)
{
	struct redis_cmd *c = redis_cmd_new(&rconn, "00000000000000aa", 4, 5000, 60000, &cb);
	char inc[REDIS_INC_LEN + 1];

	memset(inc, 'a', REDIS_INC_LEN);
	inc[REDIS_INC_LEN] = '\0';
	ck_assert_int_eq(redis_cmd_start(c), 0);
	fake_redis_drop(fake);
	ck_assert_int_eq(redis_cmd_create(c, "g", 1, inc, 100, 5000), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert(wait_for(&rec.downs, 1, 5000));
	ck_assert(wait_for(&rec.ups, 2, 5000));
	fake_redis_reply(fake, ":1\r\n");
	ck_assert_int_eq(redis_cmd_create(c, "g", 1, inc, 100, 5000), 1);
	ck_assert_int_eq(fake_redis_opens(fake), 2);
	redis_cmd_stop(c);
	ck_assert_int_eq(rec.restarts, 0);   /* same run_id: not a restart */
}
END_TEST

START_TEST(fake_run_id_change)
{
	struct redis_cmd *c = redis_cmd_new(&rconn, "00000000000000aa", 4, 5000, 60000, &cb);

	ck_assert_int_eq(redis_cmd_start(c), 0);
	ck_assert(wait_for(&rec.ups, 1, 5000));
	fake_redis_run_id(fake, "ffffffffffffffffffffffffffffffffffffffff");
	fake_redis_drop(fake);
	ck_assert_int_eq(redis_cmd_claim(c, 7, "g", 1, got, 5000), -1);
	ck_assert(wait_for(&rec.restarts, 1, 5000));
	ck_assert(wait_for(&rec.ups, 2, 5000));
	/* restarted comes before up: what it registers again is there first */
	ck_assert_int_eq(rec.ups_at_restart, 1);
	redis_cmd_stop(c);
}
END_TEST

/* A durable Redis's lineage changed under the link (a FLUSHALL, then
 * another node's link wrote a new one): the next heartbeat takes it up,
 * without a reconnect, and the next baseline carries it. */
START_TEST(fake_token_read_again)
{
	struct redis_cmd *c = redis_cmd_new(&rconn, "00000000000000aa", 4, 5000, 60000, &cb);
	static const char none[] = "*5\r\n$0\r\n\r\n$0\r\n\r\n:0\r\n:0\r\n$0\r\n\r\n";
	struct redis_base b;
	int evals;

	fake_redis_lineage(fake, "aaaaaaaaaaaaaaaa");
	ck_assert_int_eq(redis_cmd_start(c), 0);
	ck_assert(wait_for(&rec.ups, 1, 5000));
	fake_redis_reply(fake, none);
	ck_assert_int_eq(redis_cmd_baseline(c, "g", 1, &b, 5000), 0);
	ck_assert(fake_redis_last_carries(fake, "EVALSHA", "aaaaaaaaaaaaaaaa"));
	evals = fake_redis_count(fake, "EVAL", NULL);
	fake_redis_lineage(fake, "bbbbbbbbbbbbbbbb");
	ck_assert_int_eq(redis_cmd_check(c), 0);
	ck_assert(fake_redis_wait(fake, "EVAL", evals + 1, 5000));
	fake_redis_reply(fake, none);
	ck_assert_int_eq(redis_cmd_baseline(c, "g", 1, &b, 5000), 0);
	ck_assert(fake_redis_last_carries(fake, "EVALSHA", "bbbbbbbbbbbbbbbb"));
	ck_assert_int_eq(fake_redis_opens(fake), 1);
	redis_cmd_stop(c);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("redis_cmd");
	TCase *tc = tcase_create("redis");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, up, down);
	tcase_add_test(tc, requests_end_to_end);
	tcase_add_test(tc, heartbeat_keeps_claims_and_reports_taken);
	tcase_add_test(tc, killed_restarted_empty);
	tcase_add_test(tc, check_claims_again_after_restart);
	tcase_add_test(tc, wrong_password);
	suite_add_tcase(s, tc);
	tc = tcase_create("fake");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fake_up, fake_down);
	tcase_add_test(tc, fake_deadline_passes);
	tcase_add_test(tc, fake_drop_under_request);
	tcase_add_test(tc, fake_run_id_change);
	tcase_add_test(tc, fake_token_read_again);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
