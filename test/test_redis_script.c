/*
 * test_redis_script: the Lua scripts against a real redis-server (started
 * per test by redis_fixture): create once among racing creators, delete
 * and its event, publish's sequence, history and PUBLISH as one step, the
 * NOSCRIPT fallback, re-registration, connection-id claims and expiry,
 * and redis_conn's AUTH. Also the channel payload parser.
 */
#include "groupchat/cluster/redis_conn.h"
#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_msg.h"
#include "groupchat/cluster/redis_url.h"
#include "support/itest.h"
#include "support/redis_actor_support.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct redis_fixture *rf;
/* History bounds: entries, with bytes to spare. */
static const struct redis_history h10 = { 10, 1 << 20 };
static const struct redis_history h50 = { 50, 1 << 20 };
static const struct redis_history h1000 = { 1000, 1 << 20 };
static struct redis_url *srv_url; /* rf's, parsed once by up() */

/* Two run_ids, as two Redis processes would give, and an epoch offered. */
#define RUN "1111111111111111"
#define RUN2 "2222222222222222"
#define EP "00000000000000e1"
#define EP3 "00000000000000e3"
/* An incarnation, as a create draws one. */
#define INC_A "0123456789abcdef0123456789abcdef"

/* The link the scripts run over. */
static struct redis_link *
conn(void)
{
	char err[256];
	struct redis_link *c = redis_link_open(srv_url, 5000, err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

/* One command over a link, for the checks below. */
static redisReply *
cmd(struct redis_link *c, int argc, const char **argv)
{
	size_t lens[8];
	char err[256];
	redisReply *r;
	int i;

	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	r = redis_link_command(c, "test", argc, argv, lens, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	return r;
}

static void
up(void)
{
	char s[64];
	const char *why;

	rf = rf_start(NULL);
	ck_assert_ptr_nonnull(rf);
	snprintf(s, sizeof(s), "redis://127.0.0.1:%d", rf_port(rf));
	srv_url = redis_url_parse(s, strlen(s), NULL, &why);
	ck_assert_ptr_nonnull(srv_url);
}

static void
down(void)
{
	ras_down(rf, srv_url);
	rf = NULL;
	srv_url = NULL;
}

/* ---- create among racing creators ------------------------------------ */

#define RACERS 4
#define ROUNDS 25

struct racer {
	pthread_barrier_t *bar;
	int wins[ROUNDS];
	int port;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	struct redis_scripts sc;
	char err[256], inc[REDIS_INC_LEN + 1];
	struct redis_link *c = conn();
	int i;

	if (redis_scripts_load(c, &sc, err, sizeof(err)) == -1)
		abort();
	for (i = 0; i < ROUNDS; i++) {
		redis_inc_new(inc);
		pthread_barrier_wait(r->bar); /* all start the round together */
		r->wins[i] = redis_group_create(c, &sc, "race", 4, inc, RUN, 100, err, sizeof(err));
		pthread_barrier_wait(r->bar); /* the main thread deletes */
		pthread_barrier_wait(r->bar);
	}
	redis_link_free(c);
	return NULL;
}

START_TEST(create_once_among_racers)
{
	pthread_barrier_t bar;
	struct racer r[RACERS];
	pthread_t t[RACERS];
	struct redis_scripts sc;
	char err[256];
	struct redis_link *c = conn();
	int i, j, won;

	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	pthread_barrier_init(&bar, NULL, RACERS + 1);
	for (i = 0; i < RACERS; i++) {
		r[i].bar = &bar;
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	for (j = 0; j < ROUNDS; j++) {
		pthread_barrier_wait(&bar);
		pthread_barrier_wait(&bar);
		ck_assert_int_eq(redis_group_delete(c, &sc, "race", 4, NULL, err, sizeof(err)), 1);
		pthread_barrier_wait(&bar);
	}
	for (i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	for (j = 0; j < ROUNDS; j++) {
		for (won = 0, i = 0; i < RACERS; i++) {
			ck_assert_int_ge(r[i].wins[j], 0);
			won += r[i].wins[j];
		}
		ck_assert_msg(won == 1, "round %d: %d creators won", j, won);
	}
	pthread_barrier_destroy(&bar);
	redis_link_free(c);
}
END_TEST

/* ---- delete and its event -------------------------------------------- */

/* Reads one pub/sub message on sub and parses it. */
static void
next_msg(redisContext *sub, struct redis_msg *m, redisReply **keep)
{
	redisReply *r;

	ck_assert_int_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_str_eq(r->element[0]->str, "message");
	ck_assert_int_eq(redis_msg_parse(r->element[2]->str, r->element[2]->len, m), 0);
	*keep = r;
}

static redisContext *
subscribe(const char *id)
{
	redisContext *sub = ras_raw(srv_url);
	redisReply *r = redisCommand(sub, "SUBSCRIBE " RK_MSG "%s", id);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_str_eq(r->element[0]->str, "subscribe");
	freeReplyObject(r);
	return sub;
}

START_TEST(delete_publishes_event)
{
	struct redis_scripts sc;
	char err[256], inc[REDIS_INC_LEN + 1], other[REDIS_INC_LEN + 1];
	struct redis_link *c = conn();
	redisContext *sub = subscribe("g");
	struct redis_msg m;
	struct redis_base b;
	redisReply *keep;

	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	redis_inc_new(inc);
	redis_inc_new(other);
	ck_assert_int_eq(redis_group_create(c, &sc, "g", 1, inc, RUN, 100, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_create(c, &sc, "g", 1, other, RUN, 100, err, sizeof(err)), 0);
	ck_assert_int_eq(redis_group_publish(c, &sc, "g", 1, inc, "tx", 2, &h10, RUN, EP, err, sizeof(err)), 1);
	/* the wrong incarnation deletes nothing */
	ck_assert_int_eq(redis_group_delete(c, &sc, "g", 1, other, err, sizeof(err)), 0);
	ck_assert_int_eq(redis_group_delete(c, &sc, "g", 1, inc, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_delete(c, &sc, "g", 1, NULL, err, sizeof(err)), 0);

	next_msg(sub, &m, &keep);
	ck_assert_int_eq(m.kind, RE_MESSAGE);
	freeReplyObject(keep);
	next_msg(sub, &m, &keep);
	ck_assert_int_eq(m.kind, RE_DELETED);
	ck_assert_str_eq(m.inc, inc);
	ck_assert_uint_eq(m.seq, 1);
	freeReplyObject(keep);

	/* every key went: a new incarnation starts at sequence 1 */
	ck_assert_int_eq(redis_group_baseline(c, &sc, "g", 1, RUN, &b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.inc, "");
	ck_assert_uint_eq(b.seq, 1);    /* the deleted group's last number */
	ck_assert_int_eq(b.gone, 1);    /* the delete left its tombstone */
	ck_assert_int_eq(redis_group_create(c, &sc, "g", 1, other, RUN, 100, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_publish(c, &sc, "g", 1, other, "ty", 2, &h10, RUN, EP, err, sizeof(err)), 1);
	/* a publish to the old incarnation is refused and leaves no trace */
	ck_assert_int_eq(redis_group_publish(c, &sc, "g", 1, inc, "tz", 2, &h10, RUN, EP, err, sizeof(err)), 0);
	ck_assert_int_eq(redis_group_baseline(c, &sc, "g", 1, RUN, &b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.inc, other);
	ck_assert_uint_eq(b.seq, 1);
	ck_assert_int_eq(b.gone, 0);
	redisFree(sub);
	redis_link_free(c);
}
END_TEST

/* ---- publish: sequence, history and delivery as one step --------------- */

#define PUBLISHERS 2
#define PER_PUB 300

struct pubarg {
	const char *inc;
	int fails;
};

static void *
publisher(void *arg)
{
	struct pubarg *a = arg;
	struct redis_scripts sc;
	char err[256], frame[32];
	struct redis_link *c = conn();
	int i, n;

	if (redis_scripts_load(c, &sc, err, sizeof(err)) == -1)
		abort();
	for (i = 0; i < PER_PUB; i++) {
		n = snprintf(frame, sizeof(frame), "t%p %d", (void *)a, i);
		if (redis_group_publish(c, &sc, "p q", 3, a->inc, frame, (size_t)n, &h1000, RUN, EP,
		    err, sizeof(err)) <= 0)
			a->fails++;
	}
	redis_link_free(c);
	return NULL;
}

struct hist {
	uint64_t next;
	int bad;
	char frames[PUBLISHERS * PER_PUB][32];
};

static void
hist_cb(void *arg, uint64_t seq, const char *ep, const char *frame, size_t flen)
{
	struct hist *h = arg;

	if (seq != h->next || flen >= 32 || memcmp(h->frames[seq - 1], frame, flen) != 0 ||
	    strlen(ep) != REDIS_EP_LEN)
		h->bad++;
	h->next++;
}

START_TEST(publish_sequence_history_delivery)
{
	struct redis_scripts sc;
	char err[256], inc[REDIS_INC_LEN + 1];
	struct redis_link *c = conn();
	redisContext *sub = subscribe("p q");
	struct pubarg a[PUBLISHERS];
	pthread_t t[PUBLISHERS];
	static struct hist h;
	struct redis_msg m;
	redisReply *keep;
	uint64_t i;

	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	redis_inc_new(inc);
	ck_assert_int_eq(redis_group_create(c, &sc, "p q", 3, inc, RUN, 100, err, sizeof(err)), 1);
	for (i = 0; i < PUBLISHERS; i++) {
		a[i].inc = inc;
		a[i].fails = 0;
		pthread_create(&t[i], NULL, publisher, &a[i]);
	}
	/* delivery order is sequence order, with no hole, across publishers */
	for (i = 1; i <= PUBLISHERS * PER_PUB; i++) {
		next_msg(sub, &m, &keep);
		ck_assert_int_eq(m.kind, RE_MESSAGE);
		ck_assert_str_eq(m.inc, inc);
		ck_assert_uint_eq(m.seq, i);
		ck_assert_uint_lt(m.flen, 32);
		memcpy(h.frames[i - 1], m.frame, m.flen);
		freeReplyObject(keep);
	}
	for (i = 0; i < PUBLISHERS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(a[i].fails, 0);
	}
	/* the history holds the same frames under the same numbers */
	h.next = 1;
	ck_assert_int_eq(redis_group_history(c, "p q", 3, 1, PUBLISHERS * PER_PUB, hist_cb,
	    &h, err, sizeof(err)), PUBLISHERS * PER_PUB);
	ck_assert_int_eq(h.bad, 0);
	redisFree(sub);
	redis_link_free(c);
}
END_TEST

static void
count_cb(void *arg, uint64_t seq, const char *ep, const char *frame, size_t flen)
{
	uint64_t *last = arg;

	(void)ep;
	(void)frame;
	(void)flen;
	ck_assert_uint_gt(seq, *last);
	*last = seq;
}

START_TEST(history_is_capped_and_binary_safe)
{
	struct redis_scripts sc;
	char err[256], inc[REDIS_INC_LEN + 1];
	static const char bin[] = { 'b', 0, ' ', 'm', ' ', '\r', '\n', (char)0xff };
	struct redis_link *c = conn();
	redisContext *sub = subscribe("cap");
	struct redis_msg m;
	redisReply *keep;
	uint64_t last = 0;
	long n;
	int i;

	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	redis_inc_new(inc);
	ck_assert_int_eq(redis_group_create(c, &sc, "cap", 3, inc, RUN, 100, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_publish(c, &sc, "cap", 3, inc, bin, sizeof(bin), &h50, RUN, EP,
	    err, sizeof(err)), 1);
	next_msg(sub, &m, &keep);
	ck_assert_uint_eq(m.flen, sizeof(bin));
	ck_assert_mem_eq(m.frame, bin, sizeof(bin));
	freeReplyObject(keep);
	for (i = 2; i <= 400; i++)
		ck_assert_int_eq(redis_group_publish(c, &sc, "cap", 3, inc, "tx", 2, &h50, RUN, EP,
		    err, sizeof(err)), i);
	/* MAXLEN ~ drops whole stream nodes (100 entries): 50 to 150 stay */
	n = redis_group_history(c, "cap", 3, 1, 400, count_cb, &last, err, sizeof(err));
	ck_assert_int_ge(n, 50);
	ck_assert_int_le(n, 150);
	ck_assert_uint_eq(last, 400);
	/* a range that was trimmed away comes back empty, not as an error */
	last = 0;
	ck_assert_int_eq(redis_group_history(c, "cap", 3, 1, 2, count_cb, &last, err,
	    sizeof(err)), 0);
	redisFree(sub);
	redis_link_free(c);
}
END_TEST

/* The integer reply of a command sent raw (rf_command), or -1. */
static long long
rf_int(const char *command)
{
	char reply[64];

	ck_assert_int_eq(rf_command(rf, command, reply, sizeof(reply)), 0);
	return reply[0] == ':' ? strtoll(reply + 1, NULL, 10) : -1;
}

/* The history is bounded in bytes as well as entries: checked each time
 * another eighth of the budget came in (here 125 bytes), the oldest go
 * first, a frame larger than the whole budget leaves it empty (never
 * holed), and a delete takes the byte count away with it. */
START_TEST(history_bytes_bound)
{
	static const struct redis_history hb = { 1000, 1000 };
	static const struct redis_history none = { 0, 1000 };
	struct redis_scripts sc;
	char err[256], inc[REDIS_INC_LEN + 1], frame[1001];
	struct redis_link *c = conn();
	uint64_t last = 0;
	int i;

	memset(frame, 't', sizeof(frame));
	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	redis_inc_new(inc);
	ck_assert_int_eq(redis_group_create(c, &sc, "b", 1, inc, RUN, 100, err, sizeof(err)), 1);
	for (i = 1; i <= 30; i++)
		ck_assert_int_eq(redis_group_publish(c, &sc, "b", 1, inc, frame, 100, &hb, RUN, EP,
		    err, sizeof(err)), i);
	ck_assert_int_eq(rf_int("XLEN gc:hist:b"), 10);   /* checked at 30: 1,000 */
	ck_assert_int_eq(redis_group_history(c, "b", 1, 1, 30, count_cb, &last, err,
	    sizeof(err)), 10);
	ck_assert_uint_eq(last, 30);
	ck_assert_int_eq(redis_group_publish(c, &sc, "b", 1, inc, frame, 250, &hb, RUN, EP,
	    err, sizeof(err)), 31);
	/* 250 more: the three oldest of 100 go */
	ck_assert_int_eq(rf_int("XLEN gc:hist:b"), 8);
	ck_assert_int_eq(redis_group_publish(c, &sc, "b", 1, inc, frame, 1001, &hb, RUN, EP,
	    err, sizeof(err)), 32);
	ck_assert_int_eq(rf_int("XLEN gc:hist:b"), 0);
	ck_assert_int_eq(redis_group_publish(c, &sc, "b", 1, inc, frame, 10, &hb, RUN, EP,
	    err, sizeof(err)), 33);
	ck_assert_int_eq(rf_int("XLEN gc:hist:b"), 1);
	ck_assert_int_eq(rf_int("INCRBY gc:hbytes:b 0"), 30 * 100 + 250 + 1001 + 10);
	/* len 0: no history at all */
	ck_assert_int_eq(redis_group_publish(c, &sc, "b", 1, inc, frame, 10, &none, RUN, EP,
	    err, sizeof(err)), 34);
	ck_assert_int_eq(rf_int("EXISTS gc:hist:b gc:hbytes:b"), 0);
	ck_assert_int_eq(redis_group_publish(c, &sc, "b", 1, inc, frame, 10, &hb, RUN, EP,
	    err, sizeof(err)), 35);
	ck_assert_int_eq(rf_int("EXISTS gc:hist:b gc:hbytes:b"), 2);
	ck_assert_int_eq(redis_group_delete(c, &sc, "b", 1, inc, err, sizeof(err)), 1);
	ck_assert_int_eq(rf_int("EXISTS gc:inc:b gc:seq:b gc:hist:b gc:hbytes:b"), 0);
	ck_assert_int_eq(rf_int("EXISTS gc:gone:b"), 1);
	redis_link_free(c);
}
END_TEST

/* Redis holds at most max groups: a create past it answers 2 and writes
 * nothing, a delete makes room, and a live group registering again after
 * Redis lost it is counted but never refused. */
START_TEST(groups_counted_and_capped)
{
	struct redis_scripts sc;
	char err[256], inc[3][REDIS_INC_LEN + 1];
	struct redis_link *c = conn();
	int i;

	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	for (i = 0; i < 3; i++)
		redis_inc_new(inc[i]);
	ck_assert_int_eq(redis_group_create(c, &sc, "a", 1, inc[0], RUN, 2, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_create(c, &sc, "b", 1, inc[1], RUN, 2, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_create(c, &sc, "a", 1, inc[2], RUN, 2, err, sizeof(err)), 0);
	ck_assert_int_eq(redis_group_create(c, &sc, "c", 1, inc[2], RUN, 2, err, sizeof(err)), 2);
	ck_assert_int_eq(rf_int("EXISTS gc:inc:c"), 0);
	ck_assert_int_eq(redis_group_delete(c, &sc, "b", 1, NULL, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_delete(c, &sc, "b", 1, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(redis_group_create(c, &sc, "c", 1, inc[2], RUN, 2, err, sizeof(err)), 1);
	ck_assert_int_eq(rf_int("INCRBY gc:groups 0"), 2);
	/* Redis lost b's keys, its tombstone too (not the count): b, live on
	 * a node, comes back past the cap */
	ck_assert_int_eq(rf_int("DEL gc:gone:b"), 1);
	ck_assert_int_eq(redis_group_reregister(c, &sc, "b", 1, inc[1], RUN, err, sizeof(err)), 1);
	ck_assert_int_eq(rf_int("INCRBY gc:groups 0"), 3);
	ck_assert_int_eq(redis_group_create(c, &sc, "d", 1, inc[2], RUN, 3, err, sizeof(err)), 2);
	ck_assert_int_eq(redis_group_delete(c, &sc, "a", 1, NULL, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_create(c, &sc, "d", 1, inc[2], RUN, 3, err, sizeof(err)), 1);
	redis_link_free(c);
}
END_TEST

/* Every XRANGE a history read sends carries COUNT: a long range is read
 * in pages (seen in Redis's slow log, which logs every command here). */
START_TEST(history_read_in_pages)
{
	struct redis_scripts sc;
	char err[256], inc[REDIS_INC_LEN + 1];
	struct redis_link *c = conn();
	redisReply *r, *args;
	uint64_t last = 0;
	size_t i, j, xranges = 0;
	int k, counted;

	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	redis_inc_new(inc);
	ck_assert_int_eq(redis_group_create(c, &sc, "pg", 2, inc, RUN, 100, err, sizeof(err)), 1);
	for (k = 1; k <= 300; k++)
		ck_assert_int_eq(redis_group_publish(c, &sc, "pg", 2, inc, "tx", 2, &h1000, RUN, EP,
		    err, sizeof(err)), k);
	freeReplyObject(cmd(c, 4, (const char *[]){ "CONFIG", "SET",
	    "slowlog-log-slower-than", "0" }));
	freeReplyObject(cmd(c, 2, (const char *[]){ "SLOWLOG", "RESET" }));
	ck_assert_int_eq(redis_group_history(c, "pg", 2, 2, 300, count_cb, &last, err,
	    sizeof(err)), 299);
	ck_assert_uint_eq(last, 300);
	r = cmd(c, 3, (const char *[]){ "SLOWLOG", "GET", "100" });
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	for (i = 0; i < r->elements; i++) {
		args = r->element[i]->element[3];
		if (strcmp(args->element[0]->str, "XRANGE") != 0)
			continue;
		xranges++;
		counted = 0;
		for (j = 1; j < args->elements; j++)
			counted |= strcmp(args->element[j]->str, "COUNT") == 0;
		ck_assert_msg(counted, "an XRANGE without COUNT");
	}
	ck_assert_uint_eq(xranges, 3); /* 128 + 128 + 43 */
	freeReplyObject(r);
	redis_link_free(c);
}
END_TEST

START_TEST(noscript_falls_back_to_eval)
{
	struct redis_scripts sc;
	char err[256], inc[REDIS_INC_LEN + 1], reply[64];
	struct redis_link *c = conn();
	redisReply *r;

	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	redis_inc_new(inc);
	ck_assert_int_eq(rf_command(rf, "SCRIPT FLUSH", reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, "+OK");
	/* Redis really forgot it */
	r = cmd(c, 5, (const char *[]){ "EVALSHA", sc.sha[RS_CREATE], "1", "x", "y" });
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	ck_assert_int_eq(strncmp(r->str, "NOSCRIPT", 8), 0);
	freeReplyObject(r);
	ck_assert_int_eq(redis_group_create(c, &sc, "n", 1, inc, RUN, 100, err, sizeof(err)), 1);
	/* and the fallback loaded everything again */
	r = cmd(c, 4, (const char *[]){ "SCRIPT", "EXISTS", sc.sha[RS_CREATE], sc.sha[RS_PUBLISH] });
	ck_assert_int_eq(r->element[0]->integer, 1);
	ck_assert_int_eq(r->element[1]->integer, 1);
	freeReplyObject(r);
	redis_link_free(c);
}
END_TEST

/* The epoch check: a group whose data another Redis process wrote (here:
 * another run_id) begins a new epoch, above the hash's and the history's
 * last number, and every message and history entry names its epoch. */
START_TEST(epoch_follows_the_redis_process)
{
	struct redis_scripts sc;
	char err[256], inc[REDIS_INC_LEN + 1], ep1[REDIS_EP_LEN + 1];
	struct redis_link *c = conn();
	redisContext *sub = subscribe("e");
	struct redis_base b;
	struct redis_msg m;
	redisReply *keep;

	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	redis_inc_new(inc);
	ck_assert_int_eq(redis_group_create(c, &sc, "e", 1, inc, RUN, 100, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_baseline(c, &sc, "e", 1, RUN, &b, err, sizeof(err)), 0);
	memcpy(ep1, b.ep, sizeof(ep1));
	ck_assert_str_ne(ep1, EP);
	/* same process: the epoch the create drew, whatever the caller offers */
	ck_assert_int_eq(redis_group_publish(c, &sc, "e", 1, inc, "ta", 2, &h10, RUN, EP, err,
	    sizeof(err)), 1);
	next_msg(sub, &m, &keep);
	ck_assert_str_eq(m.ep, ep1);
	freeReplyObject(keep);
	/* another process: a new epoch, the numbers go on */
	ck_assert_int_eq(redis_group_publish(c, &sc, "e", 1, inc, "tb", 2, &h10, RUN2, EP, err,
	    sizeof(err)), 2);
	next_msg(sub, &m, &keep);
	ck_assert_str_eq(m.ep, EP);
	ck_assert_uint_eq(m.seq, 2);
	freeReplyObject(keep);
	ck_assert_int_eq(redis_group_baseline(c, &sc, "e", 1, RUN2, &b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.ep, EP);
	ck_assert_uint_eq(b.seq, 2);
	/* the counter lost (evicted) while the history stayed: a new epoch,
	 * numbered on above the history's last entry */
	ck_assert_int_eq(rf_command(rf, "DEL gc:seq:e", err, sizeof(err)), 0);
	ck_assert_int_eq(redis_group_publish(c, &sc, "e", 1, inc, "tc", 2, &h10, RUN2, EP3, err,
	    sizeof(err)), 3);
	next_msg(sub, &m, &keep);
	ck_assert_str_eq(m.ep, EP3);
	ck_assert_uint_eq(m.seq, 3);
	freeReplyObject(keep);
	redisFree(sub);
	redis_link_free(c);
}
END_TEST

START_TEST(reregister_after_data_loss)
{
	struct redis_scripts sc;
	char err[256], inc[REDIS_INC_LEN + 1], other[REDIS_INC_LEN + 1], reply[64];
	struct redis_link *c = conn();
	struct redis_base b;

	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	redis_inc_new(inc);
	redis_inc_new(other);
	ck_assert_int_eq(redis_group_create(c, &sc, "r", 1, inc, RUN, 100, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_publish(c, &sc, "r", 1, inc, "t", 1, &h10, RUN, EP, err,
	    sizeof(err)), 1);
	ck_assert_int_eq(rf_command(rf, "FLUSHALL", reply, sizeof(reply)), 0);
	ck_assert_int_eq(redis_group_publish(c, &sc, "r", 1, inc, "t", 1, &h10, RUN, EP, err,
	    sizeof(err)), 0);
	/* no tombstone: lost, not deleted */
	ck_assert_int_eq(redis_group_baseline(c, &sc, "r", 1, RUN, &b, err, sizeof(err)), 0);
	ck_assert_int_eq(b.gone, 0);
	ck_assert_int_eq(redis_group_reregister(c, &sc, "r", 1, inc, RUN, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_reregister(c, &sc, "r", 1, inc, RUN, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_publish(c, &sc, "r", 1, inc, "t", 1, &h10, RUN, EP, err,
	    sizeof(err)), 1);
	ck_assert_int_eq(redis_group_reregister(c, &sc, "r", 1, other, RUN, err, sizeof(err)), 0);
	/* deleted: the tombstone keeps it from coming back */
	ck_assert_int_eq(redis_group_delete(c, &sc, "r", 1, inc, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_reregister(c, &sc, "r", 1, inc, RUN, err, sizeof(err)), 0);
	ck_assert_int_eq(redis_group_baseline(c, &sc, "r", 1, RUN, &b, err, sizeof(err)), 0);
	ck_assert_int_eq(b.gone, 1);
	ck_assert_str_eq(b.gone_inc, inc);
	/* a later group of the same id, lost with the earlier one's tombstone
	 * still there (a snapshot taken between the delete and the create):
	 * the tombstone names the earlier group, so this one comes back */
	ck_assert_int_eq(redis_group_create(c, &sc, "r", 1, other, RUN, 100, err, sizeof(err)), 1);
	ck_assert_int_eq(rf_int("DEL gc:inc:r"), 1);
	ck_assert_int_eq(redis_group_baseline(c, &sc, "r", 1, RUN, &b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.inc, "");
	ck_assert_str_eq(b.gone_inc, inc);
	ck_assert_int_eq(redis_group_reregister(c, &sc, "r", 1, other, RUN, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_group_reregister(c, &sc, "r", 1, inc, RUN, err, sizeof(err)), 0);
	redis_link_free(c);
}
END_TEST

/* ---- connection ids ---------------------------------------------------- */

struct claim_wait {
	struct redis_link *c;
	struct redis_scripts *sc;
	uint32_t cid;
};

static int
claimable(void *arg)
{
	struct claim_wait *w = arg;
	char err[256], inc[REDIS_INC_LEN + 1];

	return redis_cid_claim(w->c, w->sc, w->cid, "g", 1, "nodeB", 60000, inc, err,
	    sizeof(err)) == 1;
}

START_TEST(cid_claim_refresh_expiry)
{
	struct redis_scripts sc;
	char err[256], reply[64], inc[REDIS_INC_LEN + 1];
	struct redis_link *c = conn();
	uint32_t cids[3] = { 0xabc123, 0x000001, 0xffffff }, taken[3];
	struct claim_wait w = { c, &sc, 0x000001 };
	int64_t t0;

	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	ck_assert_int_eq(redis_cid_claim(c, &sc, 0xabc123, "g", 1, "nodeA", 60000, inc, err, sizeof(err)), 1);
	ck_assert_int_eq(redis_cid_claim(c, &sc, 0xabc123, "g", 1, "nodeB", 60000, inc, err, sizeof(err)), 0);
	ck_assert_int_eq(rf_command(rf, "GET gc:cid:abc123", reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, "$5"); /* "nodeA" */
	ck_assert_str_eq(inc, "");      /* no group g */
	/* the claim reads the group's incarnation on the way */
	ck_assert_int_eq(rf_command(rf, "SET gc:inc:g \"" INC_A " " RUN " " EP "\"",
	    reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, "+OK");
	ck_assert_int_eq(redis_cid_claim(c, &sc, 0xabc124, "g", 1, "nodeA", 60000, inc, err,
	    sizeof(err)), 1);
	ck_assert_str_eq(inc, INC_A);
	ck_assert_int_eq(redis_cid_claim(c, &sc, 0xabc124, "g", 1, "nodeB", 60000, inc, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(inc, INC_A);

	/* a short claim of a dead node expires by itself */
	ck_assert_int_eq(redis_cid_claim(c, &sc, 0x000001, "g", 1, "nodeA", 200, inc, err, sizeof(err)), 1);
	t0 = it_now_ms();
	ck_assert_int_eq(redis_cid_claim(c, &sc, 0x000001, "g", 1, "nodeB", 60000, inc, err, sizeof(err)), 0);
	ck_assert(it_wait_until(claimable, &w, 5000));
	ck_assert_int_ge(it_now_ms() - t0, 150);

	/* refresh: extends A's own, re-claims the vanished one, reports B's */
	ck_assert_int_eq(redis_cid_refresh(c, &sc, cids, 3, "nodeA", 60000, taken, err,
	    sizeof(err)), 1);
	ck_assert_uint_eq(taken[0], 0x000001);
	ck_assert_int_eq(rf_command(rf, "PTTL gc:cid:ffffff", reply, sizeof(reply)), 0);
	ck_assert_int_gt(atoi(reply + 1), 50000);

	ck_assert_int_eq(redis_cid_release(c, &sc, 0x000001, "nodeA", err, sizeof(err)), 0);
	ck_assert_int_eq(redis_cid_release(c, &sc, 0xabc123, "nodeA", err, sizeof(err)), 1);
	ck_assert_int_eq(redis_cid_claim(c, &sc, 0xabc123, "g", 1, "nodeB", 60000, inc, err, sizeof(err)), 1);
	redis_link_free(c);
}
END_TEST

/* ---- AUTH ------------------------------------------------------------- */

START_TEST(password_right_and_wrong)
{
	char url[128], err[256];
	const char *why;
	struct redis_url *u;
	struct redis_link *c;

	rf = rf_start("s3cret-pw");
	ck_assert_ptr_nonnull(rf);
	snprintf(url, sizeof(url), "redis://:wrong-pw@127.0.0.1:%d/2", rf_port(rf));
	u = redis_url_parse(url, strlen(url), NULL, &why);
	ck_assert_ptr_null(redis_conn_open(u, 5000, err, sizeof(err)));
	ck_assert_msg(strncmp(err, "AUTH: WRONGPASS", 15) == 0, "%s", err);
	ck_assert_ptr_null(strstr(err, "wrong-pw"));
	redis_url_free(u);

	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", rf_port(rf));
	u = redis_url_parse(url, strlen(url), NULL, &why);
	/* no AUTH sent: the first command of the open, ROLE, says NOAUTH */
	ck_assert_ptr_null(redis_link_open(u, 5000, err, sizeof(err)));
	ck_assert_msg(strncmp(err, "ROLE: NOAUTH", 12) == 0, "%s", err);
	redis_url_free(u);

	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/2", rf_port(rf));
	u = redis_url_parse(url, strlen(url), "s3cret-pw", &why);
	c = redis_link_open(u, 5000, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	struct redis_scripts sc;
	ck_assert_int_eq(redis_scripts_load(c, &sc, err, sizeof(err)), 0);
	redis_link_free(c);
	redis_url_free(u);

	/* nobody listening: a clear reason */
	rf_kill(rf);
	c = redis_link_open(u = redis_url_parse(url, strlen(url), NULL, &why), 5000, err,
	    sizeof(err));
	ck_assert_ptr_null(c);
	ck_assert_msg(strncmp(err, "connect: ", 9) == 0, "%s", err);
	redis_url_free(u);
	rf_stop(rf);
	rf = NULL;
}
END_TEST

/* ---- the channel payload ----------------------------------------------- */

START_TEST(msg_parse)
{
	static const char inc[] = "0123456789abcdef0123456789abcdef";
	char buf[128];
	struct redis_msg m;
	int n;

	n = snprintf(buf, sizeof(buf), "m %s %s 42 t123456 - hi there", inc, EP);
	ck_assert_int_eq(redis_msg_parse(buf, (size_t)n, &m), 0);
	ck_assert_int_eq(m.kind, RE_MESSAGE);
	ck_assert_str_eq(m.inc, inc);
	ck_assert_str_eq(m.ep, EP);
	ck_assert_uint_eq(m.seq, 42);
	ck_assert_uint_eq(m.flen, strlen("t123456 - hi there"));
	ck_assert_mem_eq(m.frame, "t123456 - hi there", m.flen);
	n = snprintf(buf, sizeof(buf), "d %s 0", inc);
	ck_assert_int_eq(redis_msg_parse(buf, (size_t)n, &m), 0);
	ck_assert_int_eq(m.kind, RE_DELETED);

	static const char *const bad[] = {
		"", "m", "x 0123456789abcdef0123456789abcdef 00000000000000e1 1 t",
		"m 0123456789abcdef0123456789abcdef 00000000000000e1 0 t", /* seq 0 */
		"m 0123456789abcdef0123456789abcdef 00000000000000e1 x t",
		"m 0123456789abcdef0123456789abcdef 00000000000000e1 1", /* no frame separator */
		"m 0123456789abcdef0123456789abcdef 00000000000000e1 99999999999999999999 t",
		"m 0123456789abcdef0123456789abcdef 1 t",       /* no epoch */
		"d 0123456789abcdef0123456789abcdef ", "d 0123456789abcdef 1",
		"d 0123456789abcdef0123456789abcdef", /* no last number */
		"m 0123456789abcdef 123456789abcdef 1 t",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(redis_msg_parse(bad[i], strlen(bad[i]), &m) == -1, "%s", bad[i]);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("redis_script");
	TCase *tc = tcase_create("redis");
	TCase *tp = tcase_create("parse");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, up, down);
	tcase_add_test(tc, create_once_among_racers);
	tcase_add_test(tc, delete_publishes_event);
	tcase_add_test(tc, publish_sequence_history_delivery);
	tcase_add_test(tc, history_is_capped_and_binary_safe);
	tcase_add_test(tc, history_bytes_bound);
	tcase_add_test(tc, groups_counted_and_capped);
	tcase_add_test(tc, history_read_in_pages);
	tcase_add_test(tc, noscript_falls_back_to_eval);
	tcase_add_test(tc, epoch_follows_the_redis_process);
	tcase_add_test(tc, reregister_after_data_loss);
	tcase_add_test(tc, cid_claim_refresh_expiry);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, msg_parse);
	tcase_set_timeout(tp, 30);
	tcase_add_test(tp, password_right_and_wrong);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
