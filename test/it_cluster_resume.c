/*
 * it_cluster_resume: groupchat.v1 in cluster mode (protocol.md,
 * "Resuming", Cluster mode) against a real redis-server
 * (test/support/redis_fixture) and in-process nodes on it, over real
 * WebSocket. A malformed since is a 400; a member resumes on another
 * node with exactly what it missed; a since of the epoch before a Redis
 * restart that lost the data gets reset, and so does a member the
 * restart closed 1013 coming back with its last position; a since
 * trimmed from the history in Redis (by --history, by --history-bytes)
 * gets reset and one still held gets exactly the rest; a since past the
 * last message gets reset, as on one node, but one a lagging node has not
 * fanned out yet (behind a fault proxy, test/support/fault_proxy) gets
 * ok once that node caught up from Redis; the seam between replay and
 * live stream has no gap and no duplicate while about 1,000 messages a
 * second flow from another node and the member resumes alternately on
 * both; /stats and /metrics of each node count its recoveries, resets
 * and replayed messages. Waits poll with deadlines, never sleep.
 */
#include "support/fault_proxy.h"
#include "support/itest.h"
#include "support/itest_cluster.h"
#include "support/itest_inproc.h"
#include "support/itest_v1.h"
#include "support/itest_ws_extra.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/config.h"
#include "groupchat/core/position.h"

#define NODES INPROC_NODES
#define WAIT_MS 10000

static struct inproc cl;

/* Redis, then n nodes on it with history bounds count and bytes (0: the
 * defaults). */
static void
up_history(int n, unsigned count, size_t bytes)
{
	struct config cfg;

	it_config(&cfg);
	if (count != 0)
		cfg.history = count;
	if (bytes != 0)
		cfg.history_bytes = bytes;
	inproc_up(&cl, n, &cfg);
}

/* Kills Redis and starts it again empty; waits until every node of n is
 * healthy again. */
static void
redis_restart_empty(int n)
{
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	ck_assert_int_eq(cl_wait_healthz(cl.port[0], 503, WAIT_MS), 0);
	ck_assert_int_eq(rf_restart(cl.rf), 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(cl_wait_healthz(cl.port[i], 200, WAIT_MS), 0);
}

/* A groupchat.v1 join on node i of id, with since unless NULL: the 101
 * must select groupchat.v1, and its first frame be a text status, copied
 * into status (POSITION_MAX + 8 bytes). */
#define STATUS_MAX (POSITION_MAX + 8)
static struct it_ws *
v1_join(int i, const char *id, const char *since, char *status)
{
	char path[128];

	snprintf(path, sizeof(path), "/groups/%s%s%s", id, since != NULL ? "?since=" : "",
	    since != NULL ? since : "");
	return itv1_join(cl.port[i], path, status, STATUS_MAX);
}

/* The next message on a v1 member must be at offset off of epoch ep and
 * say body. */
static void
expect_msg(struct it_ws *ws, uint64_t ep, uint64_t off, const char *want)
{
	struct position p;
	char body[256];

	p = itv1_recv(ws, IT_OP_TEXT, body, sizeof(body));
	ck_assert_msg(p.epoch == ep && p.offset == off, "got %016" PRIx64 ":%" PRIu64
	    ", want %016" PRIx64 ":%" PRIu64, p.epoch, p.offset, ep, off);
	ck_assert_str_eq(body, want);
}

/* The next frame on a plain member must be "<cid> - <want>". */
static void
expect_plain(struct it_ws *ws, const char *want)
{
	struct it_frame f;

	ck_assert_int_eq(it_ws_recv(ws, &f, WAIT_MS), IT_FRAME);
	ck_assert_int_eq(f.opcode, IT_OP_TEXT);
	ck_assert_msg(f.len == 9 + strlen(want) && memcmp(f.payload + 6, " - ", 3) == 0 &&
	    memcmp(f.payload + 9, want, strlen(want)) == 0, "got \"%s\", want %s",
	    f.payload, want);
	it_frame_free(&f);
}

/* Sends texts "<prefix><i>" (i from first, n of them, each padded with
 * pad dots after a space when pad > 0) from a plain member and waits for
 * its own relay of the last, so that its node has fanned them all out. */
static void
send_n(struct it_ws *from, const char *prefix, int first, int n, int pad)
{
	char text[1100];
	int len = 0;

	for (int i = first; i < first + n; i++) {
		len = snprintf(text, sizeof(text), "%s%d", prefix, i);
		if (pad > 0) {
			text[len++] = ' ';
			memset(text + len, '.', (size_t)pad);
			len += pad;
			text[len] = '\0';
		}
		ck_assert_int_eq(it_ws_send_text(from, text), 0);
	}
	ck_assert_int_eq(it_ws_expect_suffix(from, IT_OP_TEXT, text, (size_t)len, NULL,
	    WAIT_MS), 0);
}

/* The since of epoch ep at offset off, into out (POSITION_MAX). */
static void
since_of(char *out, uint64_t ep, uint64_t off)
{
	struct position p = { ep, off };

	position_format(&p, out);
}

static long long
total(int i, const char *name)
{
	long long v = -1;

	ck_assert_int_eq(itx_stats_total(cl.port[i], name, &v), 0);
	return v;
}

/* The value of the metric name (a line "name value") in node i's
 * /metrics. */
static long long
metric(int i, const char *name)
{
	struct it_response r;
	const char *at;
	size_t n = strlen(name);
	long long v;

	ck_assert_int_eq(it_request(cl.port[i], "GET", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 200);
	for (at = r.body; (at = strstr(at, name)) != NULL; at += n)
		if ((at == r.body || at[-1] == '\n') && at[n] == ' ')
			break;
	ck_assert_msg(at != NULL, "no %s in /metrics", name);
	v = strtoll(at + n + 1, NULL, 10);
	it_response_free(&r);
	return v;
}

/* Node i counted exactly these since joins, in /stats and in /metrics. */
static void
expect_counts(int i, long long recoveries, long long resets, long long replayed)
{
	ck_assert_int_eq(total(i, "recoveries"), recoveries);
	ck_assert_int_eq(total(i, "resets"), resets);
	ck_assert_int_eq(total(i, "replayed_messages"), replayed);
	ck_assert_int_eq(metric(i, "groupchat_recoveries_total"), recoveries);
	ck_assert_int_eq(metric(i, "groupchat_resets_total"), resets);
	ck_assert_int_eq(metric(i, "groupchat_replayed_messages_total"), replayed);
}

/* A malformed since is a 400 in cluster mode as on one node. */
START_TEST(malformed_since_is_400)
{
	int st = 0;

	up_history(NODES, 0, 0);
	ck_assert_int_eq(itx_create(cl.port[0], "g"), 201);
	ck_assert_ptr_null(it_ws_connect(cl.port[1], "/groups/g?since=garbage", ITV1_OFFER, &st));
	ck_assert_int_eq(st, 400);
	inproc_down(&cl);
}
END_TEST

/* A groupchat.v1 member leaves node 0, messages flow, it resumes on node
 * 1 with since: "ok", exactly what it missed, then the live stream. */
START_TEST(resumes_on_another_node)
{
	struct it_ws *p, *v;
	struct position at;
	char status[STATUS_MAX], since[POSITION_MAX];

	up_history(NODES, 0, 0);
	ck_assert_int_eq(itx_create(cl.port[0], "g"), 201);
	p = inproc_join(&cl, 2, "g");
	v = v1_join(0, "g", NULL, status);
	at = itv1_status(status, "ok");
	ck_assert_uint_eq(at.offset, 0);
	send_n(p, "one", 1, 1, 0);
	expect_msg(v, at.epoch, 1, "one1");
	ck_assert_int_eq(it_ws_close(v), 0);
	send_n(p, "two", 2, 1, 0);
	send_n(p, "three", 3, 1, 0);
	since_of(since, at.epoch, 1);
	v = v1_join(1, "g", since, status);
	ck_assert_uint_eq(itv1_status(status, "ok").offset, 3);
	expect_msg(v, at.epoch, 2, "two2");
	expect_msg(v, at.epoch, 3, "three3");
	ck_assert_int_eq(it_ws_send_text(p, "four"), 0);
	expect_msg(v, at.epoch, 4, "four");
	ck_assert_int_eq(it_ws_close(v), 0);
	ck_assert_int_eq(it_ws_close(p), 0);
	inproc_down(&cl);
}
END_TEST

/* After Redis restarted empty the group goes on in another epoch: a
 * since of the old one gets "reset" with the new position. */
START_TEST(since_of_another_epoch_resets)
{
	struct it_ws *p, *v;
	struct position at, now;
	char status[STATUS_MAX], since[POSITION_MAX];

	up_history(NODES, 0, 0);
	ck_assert_int_eq(itx_create(cl.port[0], "r"), 201);
	p = inproc_join(&cl, 1, "r");
	v = v1_join(0, "r", NULL, status);
	at = itv1_status(status, "ok");
	send_n(p, "one", 1, 1, 0);
	since_of(since, at.epoch, 1);
	redis_restart_empty(NODES);
	ck_assert_int_eq(it_ws_expect_close_reason(p, 1013, "try again later", WAIT_MS), 0);
	ck_assert(inproc_wait_redis_has(&cl, "EXISTS gc:inc:r", WAIT_MS));
	it_ws_free(v);
	v = v1_join(1, "r", since, status);
	now = itv1_status(status, "reset");
	ck_assert_uint_ne(now.epoch, at.epoch);
	it_ws_free(p);
	ck_assert_int_eq(it_ws_close(v), 0);
	inproc_down(&cl);
}
END_TEST

/* Members closed 1013 because Redis restarted empty come back with the
 * last position each had, on the other node: reset with the group's new
 * position (never ok, which would hide what they missed), then the live
 * stream numbered on from it. */
START_TEST(closed_1013_resumes_with_reset)
{
	struct it_ws *a, *b, *p;
	struct position at, now;
	char status[STATUS_MAX], since[POSITION_MAX], body[64];

	up_history(2, 0, 0);
	ck_assert_int_eq(itx_create(cl.port[0], "c"), 201);
	a = v1_join(0, "c", NULL, status);
	at = itv1_status(status, "ok");
	b = v1_join(1, "c", NULL, status);
	ck_assert_uint_eq(itv1_status(status, "ok").epoch, at.epoch);
	ck_assert_int_eq(it_ws_send_text(a, "m1"), 0);
	ck_assert_int_eq(it_ws_send_text(b, "m2"), 0);
	for (int k = 1; k <= 2; k++) {
		ck_assert_uint_eq(itv1_recv(a, IT_OP_TEXT, body, sizeof(body)).offset, (uint64_t)k);
		ck_assert_uint_eq(itv1_recv(b, IT_OP_TEXT, body, sizeof(body)).offset, (uint64_t)k);
	}
	redis_restart_empty(2);
	ck_assert_int_eq(it_ws_expect_close_reason(a, 1013, "try again later", WAIT_MS), 0);
	ck_assert_int_eq(it_ws_expect_close_reason(b, 1013, "try again later", WAIT_MS), 0);
	it_ws_free(a);
	it_ws_free(b);
	ck_assert(inproc_wait_redis_has(&cl, "EXISTS gc:inc:c", WAIT_MS));
	since_of(since, at.epoch, 2);
	a = v1_join(1, "c", since, status);
	now = itv1_status(status, "reset");
	ck_assert_uint_ne(now.epoch, at.epoch);
	b = v1_join(0, "c", since, status);
	at = itv1_status(status, "reset");
	ck_assert_uint_eq(at.epoch, now.epoch);
	ck_assert_uint_eq(at.offset, now.offset);
	p = inproc_join(&cl, 0, "c");
	send_n(p, "after", 1, 1, 0);
	expect_msg(a, now.epoch, now.offset + 1, "after1");
	expect_msg(b, now.epoch, now.offset + 1, "after1");
	expect_counts(0, 0, 1, 0);
	expect_counts(1, 0, 1, 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_int_eq(it_ws_close(b), 0);
	ck_assert_int_eq(it_ws_close(p), 0);
	inproc_down(&cl);
}
END_TEST

/*
 * The history in Redis trimmed, by count or by bytes (count and bytes are
 * the nodes' --history and --history-bytes, pad the dots of each
 * message): 250 messages sent on node 0; a since of offset 1, long
 * trimmed away, gets reset with the last position on node 1, then the
 * live stream; a since 5 behind the last gets ok and exactly the 5 on
 * node 0 (and then the one sent after the reset).
 */
static void
trim_case(unsigned count, size_t bytes, int pad)
{
	struct it_ws *p, *v;
	struct position at, now;
	char status[STATUS_MAX], since[POSITION_MAX], want[1100];

	up_history(2, count, bytes);
	ck_assert_int_eq(itx_create(cl.port[0], "t"), 201);
	v = v1_join(1, "t", NULL, status);
	at = itv1_status(status, "ok");
	it_ws_free(v);
	p = inproc_join(&cl, 0, "t");
	send_n(p, "m", 1, 250, pad);
	since_of(since, at.epoch, 1);
	v = v1_join(1, "t", since, status);
	now = itv1_status(status, "reset");
	ck_assert_uint_eq(now.epoch, at.epoch);
	ck_assert_uint_eq(now.offset, 250);
	itv1_expect_quiet(v);
	send_n(p, "m", 251, 1, 0);
	expect_msg(v, at.epoch, 251, "m251");
	it_ws_free(v);
	since_of(since, at.epoch, 246);
	v = v1_join(0, "t", since, status);
	now = itv1_status(status, "ok");
	ck_assert_uint_eq(now.offset, 251);
	for (int k = 247; k <= 251; k++) {
		int len = snprintf(want, sizeof(want), "m%d", k);

		if (pad > 0 && k < 251) {
			want[len++] = ' ';
			memset(want + len, '.', (size_t)pad);
			want[len + pad] = '\0';
		}
		expect_msg(v, at.epoch, (uint64_t)k, want);
	}
	itv1_expect_quiet(v);
	expect_counts(0, 1, 0, 5);
	expect_counts(1, 0, 1, 0);
	ck_assert_int_eq(it_ws_close(v), 0);
	ck_assert_int_eq(it_ws_close(p), 0);
	inproc_down(&cl);
}

/* --history 5: Redis keeps the last 5 and at most a stream node more
 * (100 entries), so offset 1 is gone after 250. */
START_TEST(reset_after_trim_by_count)
{
	trim_case(5, 0, 0);
}
END_TEST

/* --history-bytes 4096 with messages of about 200 bytes: Redis keeps
 * about 20 of them, at most an eighth more. */
START_TEST(reset_after_trim_by_bytes)
{
	trim_case(1000, 4096, 190);
}
END_TEST

/* A since past the last message of the current epoch (what no node has
 * fanned out yet) gets reset with the last position on every node, as
 * on one node; the last position itself gets ok with nothing. */
START_TEST(since_from_the_future_resets)
{
	struct it_ws *p, *v;
	struct position at, now;
	char status[STATUS_MAX], since[POSITION_MAX];

	up_history(2, 0, 0);
	ck_assert_int_eq(itx_create(cl.port[0], "f"), 201);
	p = inproc_join(&cl, 0, "f");
	v = v1_join(1, "f", NULL, status);
	at = itv1_status(status, "ok");
	send_n(p, "m", 1, 3, 0);
	for (int k = 1; k <= 3; k++)
		expect_msg(v, at.epoch, (uint64_t)k, k == 1 ? "m1" : k == 2 ? "m2" : "m3");
	it_ws_free(v);
	for (int i = 0; i < 2; i++) {
		since_of(since, at.epoch, 4);
		v = v1_join(i, "f", since, status);
		now = itv1_status(status, "reset");
		ck_assert_uint_eq(now.epoch, at.epoch);
		ck_assert_uint_eq(now.offset, 3);
		itv1_expect_quiet(v);
		it_ws_free(v);
		since_of(since, at.epoch, UINT64_MAX);
		v = v1_join(i, "f", since, status);
		ck_assert_uint_eq(itv1_status(status, "reset").offset, 3);
		it_ws_free(v);
		since_of(since, at.epoch, 3);
		v = v1_join(i, "f", since, status);
		ck_assert_uint_eq(itv1_status(status, "ok").offset, 3);
		itv1_expect_quiet(v);
		it_ws_free(v);
	}
	expect_counts(0, 1, 2, 0);
	expect_counts(1, 1, 2, 0);
	ck_assert_int_eq(it_ws_close(p), 0);
	inproc_down(&cl);
}
END_TEST

/* /stats and /metrics of each node count what its own joins did: a join
 * without since counts nothing; ok with 3 replayed on node 1; ok with
 * none on node 0; reset (another epoch) on node 1; ok with 2 on node 0. */
START_TEST(counts_per_node)
{
	struct it_ws *p, *v;
	struct position at;
	char status[STATUS_MAX], since[POSITION_MAX];

	up_history(2, 0, 0);
	ck_assert_int_eq(itx_create(cl.port[0], "s"), 201);
	p = inproc_join(&cl, 0, "s");
	v = v1_join(0, "s", NULL, status);
	at = itv1_status(status, "ok");
	it_ws_free(v);
	expect_counts(0, 0, 0, 0);
	send_n(p, "m", 1, 3, 0);
	since_of(since, at.epoch, 0);
	v = v1_join(1, "s", since, status);
	ck_assert_uint_eq(itv1_status(status, "ok").offset, 3);
	it_ws_free(v);
	since_of(since, at.epoch, 3);
	v = v1_join(0, "s", since, status);
	ck_assert_uint_eq(itv1_status(status, "ok").offset, 3);
	it_ws_free(v);
	since_of(since, at.epoch ^ 1, 3);
	v = v1_join(1, "s", since, status);
	ck_assert_uint_eq(itv1_status(status, "reset").offset, 3);
	it_ws_free(v);
	send_n(p, "m", 4, 2, 0);
	since_of(since, at.epoch, 3);
	v = v1_join(0, "s", since, status);
	ck_assert_uint_eq(itv1_status(status, "ok").offset, 5);
	expect_msg(v, at.epoch, 4, "m4");
	expect_msg(v, at.epoch, 5, "m5");
	it_ws_free(v);
	expect_counts(0, 2, 0, 2);
	expect_counts(1, 1, 1, 3);
	ck_assert_int_eq(it_ws_close(p), 0);
	inproc_down(&cl);
}
END_TEST

/*
 * A member may resume on a node that has not fanned out yet what it saw
 * on another: node 1 (behind a fault proxy) misses the pubsub copy of
 * "x1", which node 0's v1 member receives at offset 1. Resuming on node
 * 1 with that since is ok, not reset: node 1 reads what it lacks from
 * the history in Redis and fans it out first (its plain member gets x1
 * once), and the live stream goes on at offset 2 for everyone.
 */
START_TEST(since_ahead_of_a_lagging_node_is_ok)
{
	struct fault_proxy *fp;
	struct it_ws *p, *q, *v;
	struct position at;
	char status[STATUS_MAX], since[POSITION_MAX];

	ck_assert_ptr_nonnull(cl.rf = rf_start(NULL));
	ck_assert_ptr_nonnull(fp = fp_start(rf_port(cl.rf)));
	inproc_start(&cl, 0, rf_port(cl.rf), NULL);
	inproc_start(&cl, 1, fp_port(fp), NULL);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(cl_wait_healthz(cl.port[i], 200, WAIT_MS), 0);
	ck_assert_int_eq(itx_create(cl.port[0], "g"), 201);
	p = inproc_join(&cl, 1, "g");
	q = inproc_join(&cl, 0, "g");
	v = v1_join(0, "g", NULL, status);
	at = itv1_status(status, "ok");
	fp_blackhole(fp, FP_DOWN, 1);
	send_n(q, "x", 1, 1, 0);
	expect_msg(v, at.epoch, 1, "x1");
	fp_blackhole(fp, FP_DOWN, 0);
	it_ws_free(v);
	since_of(since, at.epoch, 1);
	v = v1_join(1, "g", since, status);
	ck_assert_uint_eq(itv1_status(status, "ok").offset, 1);
	expect_plain(p, "x1");
	send_n(q, "y", 2, 1, 0);
	expect_msg(v, at.epoch, 2, "y2");
	expect_plain(p, "y2");
	itv1_expect_quiet(v);
	itv1_expect_quiet(p);
	expect_counts(1, 1, 0, 0);
	ck_assert_int_eq(it_ws_close(v), 0);
	ck_assert_int_eq(it_ws_close(p), 0);
	ck_assert_int_eq(it_ws_close(q), 0);
	inproc_down(&cl);
	fp_stop(fp);
}
END_TEST

/*
 * The seam under load across nodes. A plain member on node 0 sends
 * "n<i>" at about 1,000 a second, paced by the clock; a v1 member drops
 * and resumes with since every SEAM_EVERY messages it receives,
 * alternately on node 1 and node 0; a reference v1 member on node 1
 * never drops. Over all its connections the resumer must see every
 * offset exactly once, in order, each with the message sent i-th, as the
 * reference does: no gap and no duplicate at any seam.
 */
#define SEAM_N 3000
#define SEAM_EVERY 300

/* The resumer's rejoin: on node 1, 0, 1, ... in turn. */
static struct it_ws *
seam_rejoin(void *arg, int drop, const char *since, char *status, size_t slen)
{
	(void)arg;
	ck_assert_uint_ge(slen, STATUS_MAX);
	return v1_join(drop % 2, "g", since, status);
}

START_TEST(seam_under_load_across_nodes)
{
	static const struct itv1_seam seam = { SEAM_N, SEAM_EVERY, 90000, seam_rejoin, NULL };
	struct it_ws *plain, *ref, *res;
	char status[STATUS_MAX];
	uint64_t epoch;
	int drops;

	up_history(2, 1000, 0);
	ck_assert_int_eq(itx_create(cl.port[0], "g"), 201);
	plain = inproc_join(&cl, 0, "g");
	ref = v1_join(1, "g", NULL, status);
	epoch = itv1_status(status, "ok").epoch;
	res = v1_join(0, "g", NULL, status);
	drops = itv1_seam_run(&seam, plain, ref, &res, epoch);
	ck_assert_int_eq(drops, SEAM_N / SEAM_EVERY - 1);
	ck_assert_int_eq(total(0, "resets") + total(1, "resets"), 0);
	ck_assert_int_eq(total(0, "recoveries") + total(1, "recoveries"), drops);
	it_ws_free(ref);
	it_ws_free(res);
	it_ws_free(plain);
	inproc_down(&cl);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_cluster_resume");
	TCase *tc = tcase_create("groupchat.v1");

	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, malformed_since_is_400);
	tcase_add_test(tc, resumes_on_another_node);
	tcase_add_test(tc, since_of_another_epoch_resets);
	tcase_add_test(tc, closed_1013_resumes_with_reset);
	tcase_add_test(tc, reset_after_trim_by_count);
	tcase_add_test(tc, reset_after_trim_by_bytes);
	tcase_add_test(tc, since_from_the_future_resets);
	tcase_add_test(tc, counts_per_node);
	tcase_add_test(tc, since_ahead_of_a_lagging_node_is_ok);
	tcase_add_test(tc, seam_under_load_across_nodes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
