/*
 * test_redis_pub: the publisher actor against a real redis-server: order
 * and numbering of many messages, pipelining (messages per round trip),
 * the link reported down and up when Redis is killed and restarted, and a
 * wrong password. Then the actor's own logic against the scripted fake
 * (test/support/fake_redis): an error reply inside a batch, a link that
 * drops mid-batch, a failed sender's later message not sent, a reply that never comes, NOSCRIPT, refused connects.
 * Callbacks record into struct rec; the test waits on its condition
 * variable with a deadline, never sleeps.
 */
#include "groupchat/cluster/redis_pub.h"
#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_lineage.h"
#include "groupchat/cluster/redis_msg.h"
#include "groupchat/cluster/redis_url.h"
#include "support/fake_redis.h"
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

#define N 2000
/* The publish channel's byte bound in these tests, and the history kept. */
#define PUB_BYTES (1 << 20)
static const struct redis_history hist = { .len = 100, .bytes = 1 << 20 };

struct rec {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t seq[N];     /* by tag */
	uint64_t order[N];  /* tags in callback order */
	int nres, ups, downs;
	char reason[256];
};

static struct rec rec;
static struct redis_fixture *rf;
static struct redis_url *url;
static struct redis_connector rconn;
static char inc[REDIS_INC_LEN + 1];

static void
on_result(void *arg, const struct redis_pub_item *it, int64_t seq)
{
	struct rec *r = arg;

	pthread_mutex_lock(&r->mu);
	r->seq[it->tag] = seq;
	r->order[r->nres++] = it->tag;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void
on_link(void *arg, int up, const char *reason)
{
	struct rec *r = arg;

	pthread_mutex_lock(&r->mu);
	if (up) {
		r->ups++;
	} else {
		r->downs++;
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static const struct redis_pub_cb cb = { on_result, on_link, NULL, &rec };

/* A sender is tag / 100; one whose message failed is stale from then on,
 * as cluster_pub_stale says of a closed member. */
static int
on_stale(void *arg, const struct redis_pub_item *it)
{
	struct rec *r = arg;
	int stale = 0;

	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < r->nres; i++)
		stale |= r->order[i] / 100 == it->tag / 100 && r->seq[r->order[i]] == -1;
	pthread_mutex_unlock(&r->mu);
	return stale;
}

static const struct redis_pub_cb stale_cb = { on_result, on_link, on_stale, &rec };

/* Waits until *field >= want, up to 10 s. 1 if reached. */
static int
wait_for(int *field, int want)
{
	return ras_wait_int(&rec.mu, &rec.cv, field, want, 10000);
}

static void
rec_init(void)
{
	memset(&rec, 0, sizeof(rec));
	ras_sync_init(&rec.mu, &rec.cv);
}

static void
create_group(void)
{
	struct redis_scripts sc;
	char err[256];
	struct redis_link *l = redis_link_open(url, 5000, err, sizeof(err));

	ck_assert_msg(l != NULL, "%s", err);
	ck_assert_int_eq(redis_scripts_load(l, &sc, err, sizeof(err)), 0);
	redis_inc_new(inc);
	ck_assert_int_eq(redis_group_create(l, &sc, "g", 1, inc, "r", 100, err, sizeof(err)), 1);
	redis_link_free(l);
}

static void
up(void)
{
	rec_init();
	ras_up(&rf, &url, &rconn);
	create_group();
}

static void
down(void)
{
	ras_down(rf, url);
}

static int
send_one(struct redis_pub *p, uint64_t tag)
{
	struct redis_pub_item it = { .id_len = 1, .tag = tag };
	char f[32];
	int n = snprintf(f, sizeof(f), "t%llu", (unsigned long long)tag);

	/* The frame with the id after it, as cluster_publish builds it. */
	it.flen = (size_t)n;
	it.frame = malloc(it.flen + it.id_len);
	ck_assert_ptr_nonnull(it.frame);
	memcpy(it.frame, f, it.flen);
	it.id = it.frame + it.flen;
	it.id[0] = 'g';
	memcpy(it.inc, inc, sizeof(inc));
	if (redis_pub_send(p, &it) == -1) {
		free(it.frame);
		return -1;
	}
	return 0;
}

START_TEST(order_and_pipelining)
{
	struct redis_pub *p = redis_pub_new(&rconn, N, PUB_BYTES, &hist, 2000, &cb);
	redisContext *sub = ras_raw(url);
	redisReply *r;
	struct redis_msg m;
	uint64_t msgs, trips, i;
	char want[32];

	ck_assert_ptr_nonnull(p);
	r = redisCommand(sub, "SUBSCRIBE " RK_MSG "g");
	freeReplyObject(r);
	/* saturation: all queued before the actor runs */
	for (i = 0; i < N; i++)
		ck_assert_int_eq(send_one(p, i), 0);
	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.nres, N));
	for (i = 0; i < N; i++) {
		ck_assert_uint_eq(rec.order[i], i);      /* answered in order */
		ck_assert_int_eq(rec.seq[i], (int64_t)i + 1); /* numbered in order */
	}
	for (i = 0; i < N; i++) {   /* delivered in order */
		ck_assert_int_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
		ck_assert_int_eq(redis_msg_parse(r->element[2]->str, r->element[2]->len, &m), 0);
		snprintf(want, sizeof(want), "t%llu", (unsigned long long)i);
		ck_assert_uint_eq(m.seq, i + 1);
		ck_assert_uint_eq(m.flen, strlen(want));
		ck_assert_mem_eq(m.frame, want, m.flen);
		freeReplyObject(r);
	}
	redis_pub_counts(p, &msgs, &trips);
	ck_assert_uint_eq(msgs, N);
	ck_assert_msg(msgs > 10 * trips, "%llu messages in %llu round trips",
	    (unsigned long long)msgs, (unsigned long long)trips);
	ck_assert_int_eq(rec.ups, 1);
	ck_assert_int_eq(rec.downs, 0);
	redis_pub_stop(p);
	redisFree(sub);
}
END_TEST

START_TEST(killed_and_restarted)
{
	struct redis_pub *p = redis_pub_new(&rconn, 64, PUB_BYTES, &hist, 1000, &cb);

	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.ups, 1));
	ck_assert_int_eq(send_one(p, 0), 0);
	ck_assert(wait_for(&rec.nres, 1));
	ck_assert_int_eq(rec.seq[0], 1);

	ck_assert_int_eq(rf_kill(rf), 0);
	/* the idle PING, or this publish, finds the link gone */
	ck_assert_int_eq(send_one(p, 1), 0);
	ck_assert(wait_for(&rec.nres, 2));
	ck_assert_int_eq(rec.seq[1], -1);
	ck_assert(wait_for(&rec.downs, 1));

	ck_assert_int_eq(rf_restart(rf), 0);
	ck_assert(wait_for(&rec.ups, 2));
	/* Redis came back empty: the group is gone until registered again */
	ck_assert_int_eq(send_one(p, 2), 0);
	ck_assert(wait_for(&rec.nres, 3));
	ck_assert_int_eq(rec.seq[2], 0);
	create_group();
	ck_assert_int_eq(send_one(p, 3), 0);
	ck_assert(wait_for(&rec.nres, 4));
	ck_assert_int_eq(rec.seq[3], 1);
	redis_pub_stop(p);
}
END_TEST

START_TEST(paused_then_resumed)
{
	struct redis_pub *p = redis_pub_new(&rconn, 64, PUB_BYTES, &hist, 300, &cb);

	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.ups, 1));
	ck_assert_int_eq(rf_pause(rf), 0);
	ck_assert_int_eq(send_one(p, 0), 0);
	ck_assert(wait_for(&rec.nres, 1));   /* the read timed out */
	ck_assert_int_eq(rec.seq[0], -1);
	ck_assert(wait_for(&rec.downs, 1));
	ck_assert_int_eq(rf_resume(rf), 0);
	ck_assert(wait_for(&rec.ups, 2));
	ck_assert_int_eq(send_one(p, 1), 0);
	ck_assert(wait_for(&rec.nres, 2));
	/* the paused publish may or may not have run: 1 or 2, never a hole */
	ck_assert_int_ge(rec.seq[1], 1);
	ck_assert_int_le(rec.seq[1], 2);
	redis_pub_stop(p);
}
END_TEST

START_TEST(wrong_password)
{
	struct redis_url *bad = ras_wrong_password(&rf, &rconn);
	struct redis_pub *p;

	p = redis_pub_new(&rconn, 64, PUB_BYTES, &hist, 1000, &cb);
	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.downs, 1));
	ras_assert_wrongpass(&rec.mu, rec.reason);
	/* queued while down: failed at once, not held */
	ck_assert_int_eq(send_one(p, 0), 0);
	ck_assert(wait_for(&rec.nres, 1));
	ck_assert_int_eq(rec.seq[0], -1);
	ck_assert_int_eq(rec.ups, 0);
	redis_pub_stop(p);
	redis_url_free(bad);
}
END_TEST

START_TEST(stop_fails_queued)
{
	struct redis_pub *p = redis_pub_new(&rconn, 8, PUB_BYTES, &hist, 1000, &cb);
	int i;

	for (i = 0; i < 8; i++)
		ck_assert_int_eq(send_one(p, (uint64_t)i), 0);
	ck_assert_int_eq(send_one(p, 8), -1);  /* full */
	redis_pub_stop(p);                     /* never started */
	ck_assert_int_eq(rec.nres, 8);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(rec.seq[i], -1);
}
END_TEST

/* Sends one message of flen frame bytes (and the id "g") tagged tag. */
static int
send_sized(struct redis_pub *p, uint64_t tag, size_t flen)
{
	struct redis_pub_item it = { .id_len = 1, .flen = flen, .tag = tag };

	ck_assert_ptr_nonnull(it.frame = malloc(flen + 1));
	memset(it.frame, 't', flen);
	it.id = it.frame + flen;
	it.id[0] = 'g';
	memcpy(it.inc, inc, sizeof(inc));
	if (redis_pub_send(p, &it) == -1) {
		free(it.frame);
		return -1;
	}
	return 0;
}

/* The channel is bounded in bytes (frame and id) as well as entries:
 * past the byte bound a send fails as on a full channel (EAGAIN: the
 * sender is closed 1013), long before the 4096 entries. */
START_TEST(bytes_bound)
{
	struct redis_pub *p = redis_pub_new(&rconn, 4096, 10000, &hist, 1000, &cb);
	int i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 9; i++)
		ck_assert_int_eq(send_sized(p, (uint64_t)i, 1000), 0);
	errno = 0;
	ck_assert_int_eq(send_sized(p, 9, 1000), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(send_sized(p, 9, 990), 0);  /* 10,000 bytes exactly */
	redis_pub_stop(p);                           /* never started */
	ck_assert_int_eq(rec.nres, 10);
}
END_TEST

/* ---- against the fake ------------------------------------------------ */

static struct fake_redis *fake;

static void
fake_up(void)
{
	rec_init();
	fake = fake_redis_new();
	rconn = fake_redis_connector(fake);
	memset(inc, 'a', REDIS_INC_LEN);
	inc[REDIS_INC_LEN] = '\0';
}

static void
fake_down(void)
{
	fake_redis_free(fake);
}

START_TEST(fake_error_inside_batch)
{
	struct redis_pub *p = redis_pub_new(&rconn, 8, PUB_BYTES, &hist, 2000, &cb);
	int flushes;

	fake_redis_reply(fake, ":1\r\n");
	fake_redis_reply(fake, "-ERR boom\r\n");
	fake_redis_reply(fake, ":2\r\n");
	ck_assert_int_eq(send_one(p, 0), 0);
	ck_assert_int_eq(send_one(p, 1), 0);
	ck_assert_int_eq(send_one(p, 2), 0);
	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.nres, 3));
	ck_assert_int_eq(rec.seq[0], 1);
	ck_assert_int_eq(rec.seq[1], -1);  /* its sender is closed, not dropped silently */
	ck_assert_int_eq(rec.seq[2], 2);   /* the rest of the batch is unaffected */
	ck_assert_int_eq(fake_redis_count(fake, "EVALSHA", &flushes), 3);
	ck_assert_int_eq(flushes, 1);      /* one write for the batch */
	ck_assert_int_eq(fake_redis_count(fake, "SCRIPT", NULL), RS_COUNT);
	redis_pub_stop(p);
	ck_assert_int_eq(rec.ups, 1);
	ck_assert_int_eq(rec.downs, 0);    /* an error reply is not a lost link */
}
END_TEST

START_TEST(fake_drop_mid_batch)
{
	struct redis_pub *p = redis_pub_new(&rconn, 8, PUB_BYTES, &hist, 2000, &cb);

	fake_redis_reply(fake, ":1\r\n");
	fake_redis_drop(fake);
	ck_assert_int_eq(send_one(p, 0), 0);
	ck_assert_int_eq(send_one(p, 1), 0);
	ck_assert_int_eq(send_one(p, 2), 0);
	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.nres, 3));
	ck_assert_int_eq(rec.seq[0], 1);
	ck_assert_int_eq(rec.seq[1], -1);
	ck_assert_int_eq(rec.seq[2], -1);  /* unanswered: fate unknown, sender closed */
	ck_assert(wait_for(&rec.downs, 1));
	pthread_mutex_lock(&rec.mu);
	ck_assert_str_eq(rec.reason, "publish: fake: connection dropped");
	pthread_mutex_unlock(&rec.mu);
	ck_assert(wait_for(&rec.ups, 2)); /* reconnected by itself */
	fake_redis_reply(fake, ":3\r\n");
	ck_assert_int_eq(send_one(p, 3), 0);
	ck_assert(wait_for(&rec.nres, 4));
	ck_assert_int_eq(rec.seq[3], 3);
	ck_assert_int_eq(fake_redis_opens(fake), 2);
	redis_pub_stop(p);
}
END_TEST

/* Sender 1's message 100 fails (the link drops): its later message 101
 * must not go out, while sender 2's does. */
START_TEST(fake_failed_sender_sends_no_more)
{
	struct redis_pub *p = redis_pub_new(&rconn, 8, PUB_BYTES, &hist, 2000, &stale_cb);

	fake_redis_drop(fake);
	ck_assert_int_eq(send_one(p, 100), 0);
	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.nres, 1));
	ck_assert_int_eq(rec.seq[100], -1);
	ck_assert(wait_for(&rec.ups, 2));
	fake_redis_reply(fake, ":2\r\n");
	ck_assert_int_eq(send_one(p, 101), 0);
	ck_assert_int_eq(send_one(p, 200), 0);
	ck_assert(wait_for(&rec.nres, 3));
	ck_assert_int_eq(rec.seq[101], -1);
	ck_assert_int_eq(rec.seq[200], 2);
	ck_assert_int_eq(fake_redis_count(fake, "EVALSHA", NULL), 2); /* 100 and 200 */
	redis_pub_stop(p);
}
END_TEST

START_TEST(fake_reply_never_comes)
{
	struct redis_pub *p = redis_pub_new(&rconn, 8, PUB_BYTES, &hist, 200, &cb);

	ck_assert_int_eq(send_one(p, 0), 0);
	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.nres, 1));
	ck_assert_int_eq(rec.seq[0], -1);
	ck_assert(wait_for(&rec.downs, 1));
	pthread_mutex_lock(&rec.mu);
	ck_assert_str_eq(rec.reason, "publish: timed out");
	pthread_mutex_unlock(&rec.mu);
	ck_assert(wait_for(&rec.ups, 2));
	redis_pub_stop(p);
}
END_TEST

START_TEST(fake_noscript_fails_and_reloads)
{
	struct redis_pub *p = redis_pub_new(&rconn, 8, PUB_BYTES, &hist, 2000, &cb);

	fake_redis_reply(fake, "-NOSCRIPT No matching script.\r\n");
	fake_redis_reply(fake, ":7\r\n");
	ck_assert_int_eq(send_one(p, 0), 0);
	ck_assert_int_eq(send_one(p, 1), 0);
	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.nres, 2));
	ck_assert_int_eq(rec.seq[0], -1);
	ck_assert_int_eq(rec.seq[1], 7);   /* its own reply, not the EVAL's */
	ck_assert(fake_redis_wait(fake, "SCRIPT", 2 * RS_COUNT, 5000));
	/* no EVAL but the lineage script's, one per link opened */
	ck_assert_int_eq(fake_redis_count(fake, "EVAL", NULL), fake_redis_opens(fake));
	redis_pub_stop(p);
	ck_assert_int_eq(rec.downs, 0);
}
END_TEST

/* A durable Redis's lineage changed under the link (a FLUSHALL, then
 * another node's link wrote a new one): the publisher takes it up at its
 * next check, idle as here or at a batch, without a reconnect. */
START_TEST(fake_token_read_again)
{
	struct redis_pub *p = redis_pub_new(&rconn, 8, PUB_BYTES, &hist, 2000, &cb);

	fake_redis_lineage(fake, "aaaaaaaaaaaaaaaa");
	fake_redis_reply(fake, ":1\r\n");
	ck_assert_int_eq(send_one(p, 0), 0);
	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.nres, 1));
	ck_assert(fake_redis_last_carries(fake, "EVALSHA", "aaaaaaaaaaaaaaaa"));
	fake_redis_lineage(fake, "bbbbbbbbbbbbbbbb");
	ck_assert(fake_redis_wait(fake, "EVAL", 2, 3 * REDIS_TOKEN_CHECK_MS));
	fake_redis_reply(fake, ":2\r\n");
	ck_assert_int_eq(send_one(p, 1), 0);
	ck_assert(wait_for(&rec.nres, 2));
	ck_assert_int_eq(rec.seq[1], 2);
	ck_assert(fake_redis_last_carries(fake, "EVALSHA", "bbbbbbbbbbbbbbbb"));
	ck_assert_int_eq(fake_redis_opens(fake), 1);
	redis_pub_stop(p);
}
END_TEST

START_TEST(fake_refused_then_up)
{
	struct redis_pub *p = redis_pub_new(&rconn, 8, PUB_BYTES, &hist, 2000, &cb);

	fake_redis_refuse(fake, 3, "connect: Connection refused");
	ck_assert_int_eq(redis_pub_start(p), 0);
	ck_assert(wait_for(&rec.ups, 1));   /* 50 + 100 + 200 ms of backoff */
	ck_assert_int_eq(rec.downs, 1);     /* reported once, not per attempt */
	ck_assert_str_eq(rec.reason, "connect: Connection refused");
	redis_pub_stop(p);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("redis_pub");
	TCase *tc = tcase_create("actor");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, up, down);
	tcase_add_test(tc, order_and_pipelining);
	tcase_add_test(tc, killed_and_restarted);
	tcase_add_test(tc, paused_then_resumed);
	tcase_add_test(tc, wrong_password);
	tcase_add_test(tc, stop_fails_queued);
	suite_add_tcase(s, tc);
	tc = tcase_create("fake");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fake_up, fake_down);
	tcase_add_test(tc, bytes_bound);
	tcase_add_test(tc, fake_error_inside_batch);
	tcase_add_test(tc, fake_drop_mid_batch);
	tcase_add_test(tc, fake_failed_sender_sends_no_more);
	tcase_add_test(tc, fake_reply_never_comes);
	tcase_add_test(tc, fake_noscript_fails_and_reloads);
	tcase_add_test(tc, fake_refused_then_up);
	tcase_add_test(tc, fake_token_read_again);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
