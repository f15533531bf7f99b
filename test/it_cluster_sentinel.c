/*
 * it_cluster_sentinel: cluster mode behind Redis Sentinel, black-box,
 * with real processes on 127.0.0.1: a master, a replica and one sentinel
 * (quorum 1) or three (quorum 2), with their own password, listed after a
 * sentinel address where nothing listens, so the nodes rotate past it,
 * and two groupchat nodes given only the sentinels and the master's name. A failover, asked
 * for (SENTINEL FAILOVER) or forced by killing the master, is followed:
 * within 5 s of the sentinel naming the new master every node has its
 * links there, none left on the old one, /healthz answers 200, and the
 * members either keep talking with no gap or are closed 1013. Also what
 * every connect checks, with or without Sentinel: a node pointed at a
 * replica, or at a Redis whose maxmemory-policy evicts keys, answers 503
 * with the reason and writes nothing.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "support/itest.h"
#include "support/itest_cluster.h"
#include "support/itest_ws_extra.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#define WAIT_MS (3 * IT_TIMEOUT_MS)
/* How long a failover may take, from SENTINEL FAILOVER or the master's
 * death to the sentinel naming the new master (down-after 1000 ms). */
#define FAILOVER_MS 30000
/* The bound this test holds the nodes to, from that moment. */
#define FOLLOW_MS 5000
#define MASTER "gm"
#define SENTINEL_PW "sentinel-pw-7"
#define NODES 2
#define N 4

/* The killed-master test runs three sentinels (quorum 2). */
#define SENTINELS 3

struct setup {
	struct redis_fixture *m, *r, *s, *more[SENTINELS - 1];
	struct cl_node node[NODES];
};

static struct setup t;

/* One command to 127.0.0.1:port (AUTH pw first unless NULL). The reply,
 * or NULL if the server did not answer. */
static redisReply *
query(int port, const char *pw, const char *fmt, ...)
{
	struct timeval tv = { IT_TIMEOUT_MS / 1000, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r = NULL;
	va_list ap;

	if (c == NULL || c->err || redisSetTimeout(c, tv) != REDIS_OK)
		goto out;
	if (pw != NULL) {
		if ((r = redisCommand(c, "AUTH %s", pw)) == NULL)
			goto out;
		freeReplyObject(r);
	}
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
out:
	if (c != NULL)
		redisFree(c);
	return r;
}

/* Whether the reply to fmt on port is a string or status containing want. */
static int
answers(int port, const char *pw, const char *want, const char *fmt)
{
	redisReply *r = query(port, pw, fmt);
	int ok = r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
	    strstr(r->str, want) != NULL;

	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

static int
replica_synced(void *arg)
{
	(void)arg;
	return answers(rf_port(t.r), NULL, "master_link_status:up", "INFO replication");
}

/* The sentinel lists the replica, and knows it healthy. */
static int
sentinel_knows_replica(void *arg)
{
	redisReply *r = query(rf_port(t.s), SENTINEL_PW, "SENTINEL replicas " MASTER), *e;
	int ok = 0;

	(void)arg;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    (e = r->element[0])->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i + 1 < e->elements; i += 2)
			if (strcmp(e->element[i]->str, "flags") == 0)
				ok = strcmp(e->element[i + 1]->str, "slave") == 0;
	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

/* The port the sentinel names for the master, or -1. */
static int
master_port(void)
{
	redisReply *r = query(rf_port(t.s), SENTINEL_PW,
	    "SENTINEL get-master-addr-by-name " MASTER);
	int port = -1;

	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
		port = atoi(r->element[1]->str);
	if (r != NULL)
		freeReplyObject(r);
	return port;
}

static int
replica_is_master(void *arg)
{
	(void)arg;
	return master_port() == rf_port(t.r);
}

static int
failover_accepted(void *arg)
{
	(void)arg;
	return answers(rf_port(t.s), SENTINEL_PW, "OK", "SENTINEL FAILOVER " MASTER);
}

/* Clients of the Redis at port that are groupchat's links: not the
 * sentinel's (named sentinel-...), not a replica's, not this query. -1 if
 * it does not answer. */
static int
node_links(int port)
{
	redisReply *r = query(port, NULL, "CLIENT LIST");
	const char *line, *end;
	int n = 0;

	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		if (r != NULL)
			freeReplyObject(r);
		return -1;
	}
	for (line = r->str; *line != '\0'; line = *end != '\0' ? end + 1 : end) {
		char l[1024];

		end = line + strcspn(line, "\n");
		snprintf(l, sizeof(l), "%.*s", (int)(end - line), line);
		/* flags=N a plain client, P one that subscribed */
		if (strstr(l, " name= ") != NULL && (strstr(l, " flags=N ") != NULL ||
		    strstr(l, " flags=P ") != NULL) && strstr(l, "cmd=client|list") == NULL)
			n++;
	}
	freeReplyObject(r);
	return n;
}

/* Every node has its three links on the new master and none on the old
 * one (which, demoted by Sentinel only seconds later, still takes
 * writes), and answers /healthz 200. */
static int
followed(void *arg)
{
	int old = *(int *)arg;

	if (node_links(old) > 0 || node_links(rf_port(t.r)) != 3 * NODES)
		return 0;
	for (int i = 0; i < NODES; i++)
		if (cl_healthz(t.node[i].port, NULL, 0) != 200)
			return 0;
	return 1;
}

/* A node given the sentinels (a dead address first) and the master's name. */
static void
node_start(struct cl_node *n)
{
	char sentinels[160], pw[64];
	const char *env[] = { sentinels, "GROUPCHAT_REDIS_MASTER=" MASTER, pw, NULL };
	int len;

	len = snprintf(sentinels, sizeof(sentinels), "GROUPCHAT_REDIS_SENTINEL="
	    "127.0.0.1:%d,127.0.0.1:%d", it_free_port(), rf_port(t.s));
	for (int i = 0; i < SENTINELS - 1 && t.more[i] != NULL; i++)
		len += snprintf(sentinels + len, sizeof(sentinels) - (size_t)len,
		    ",127.0.0.1:%d", rf_port(t.more[i]));
	snprintf(pw, sizeof(pw), "GROUPCHAT_REDIS_SENTINEL_PASSWORD=%s", SENTINEL_PW);
	cl_node_start(n, NULL, env);
}

/* Every sentinel knows the other two. */
static int
sentinels_met(void *arg)
{
	struct redis_fixture *all[SENTINELS] = { t.s, t.more[0], t.more[1] };
	int ok = 1;

	(void)arg;
	for (int i = 0; i < SENTINELS && ok; i++) {
		redisReply *r = query(rf_port(all[i]), SENTINEL_PW, "SENTINEL sentinels " MASTER);
		ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == SENTINELS - 1;
		if (r != NULL)
			freeReplyObject(r);
	}
	return ok;
}

/* A master and its replica, in sync; nothing else. */
static void
pair_up(void)
{
	char mport[16];
	const char *margs[] = { "--repl-diskless-sync-delay", "0", NULL };
	const char *rargs[] = { "--replicaof", "127.0.0.1", mport, "--repl-diskless-load",
		"on-empty-db", NULL };

	memset(&t, 0, sizeof(t));
	ck_assert_ptr_nonnull(t.m = rf_start_args(NULL, margs));
	snprintf(mport, sizeof(mport), "%d", rf_port(t.m));
	ck_assert_ptr_nonnull(t.r = rf_start_args(NULL, rargs));
	ck_assert_msg(it_wait_until(replica_synced, NULL, WAIT_MS) == 1,
	    "the replica never synchronised");
}

/* The pair, one sentinel (quorum 1) or three (quorum 2) that know it,
 * and the nodes on them, healthy. */
static void
sentinel_up(int sentinels)
{
	int quorum = sentinels / 2 + 1;

	pair_up();
	ck_assert_ptr_nonnull(t.s = rf_start_sentinel(MASTER, rf_port(t.m), quorum,
	    SENTINEL_PW));
	for (int i = 0; i < sentinels - 1; i++)
		ck_assert_ptr_nonnull(t.more[i] = rf_start_sentinel(MASTER, rf_port(t.m),
		    quorum, SENTINEL_PW));
	ck_assert_msg(it_wait_until(sentinel_knows_replica, NULL, WAIT_MS) == 1,
	    "the sentinel never saw the replica");
	if (sentinels > 1)
		ck_assert_msg(it_wait_until(sentinels_met, NULL, WAIT_MS) == 1,
		    "the sentinels never found each other");
	for (int i = 0; i < NODES; i++)
		node_start(&t.node[i]);
	for (int i = 0; i < NODES; i++)
		ck_assert_msg(cl_wait_healthz(t.node[i].port, 200, WAIT_MS) == 0,
		    "node %d never healthy: %s", i, cl_node_log_tail(&t.node[i]));
}

static void
down(void)
{
	for (int i = 0; i < NODES; i++)
		cl_node_free(&t.node[i]);
	rf_stop(t.s);
	for (int i = 0; i < SENTINELS - 1; i++)
		rf_stop(t.more[i]);
	rf_stop(t.r);
	rf_stop(t.m);
}

/* Group "talk" with two members per node, a few rounds delivered. */
static void
conversation(struct cl_peer *ps, int *sent)
{
	ck_assert_int_eq(itx_create(t.node[0].port, "talk"), 201);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(cl_peer_join(&ps[i], t.node[i % NODES].port, "talk",
		    i % NODES), 101);
	ck_assert_int_eq(cl_peers_hello(ps, N, WAIT_MS), 0);
	for (int r = 0; r < 3; r++)
		cl_send_round(ps, N, sent);
	cl_expect_round(ps, N, sent, WAIT_MS, "before the failover");
}

/* From the sentinel naming the replica: every node follows within
 * FOLLOW_MS; then the members talk again (or were closed 1013), a new
 * group works across the nodes, and each node logged the switch and took
 * the new master as a new Redis (redis_restarted). */
static void
expect_followed(struct cl_peer *ps, int *sent, int old, const char *why)
{
	int64_t t0, took;
	struct it_ws *a, *b;

	ck_assert_msg(it_wait_until(replica_is_master, NULL, FAILOVER_MS) == 1,
	    "%s: the sentinel never named the replica", why);
	t0 = it_now_ms();
	ck_assert_msg(it_wait_until(followed, &old, FOLLOW_MS) == 1, "%s: not followed "
	    "within %d ms: links on the old master %d, on the new %d (want 0 and %d); "
	    "node 0: %s", why, FOLLOW_MS, node_links(old), node_links(rf_port(t.r)),
	    3 * NODES, cl_node_log_tail(&t.node[0]));
	took = it_now_ms() - t0;
	fprintf(stderr, "it_cluster_sentinel: %s: nodes followed in %lld ms\n", why,
	    (long long)took);

	cl_send_round(ps, N, sent);
	ck_assert_msg(cl_wait_round(ps, N, sent, WAIT_MS), "%s: a round after the "
	    "failover did not reach every open member: %s", why,
	    cl_round_missing(ps, N, sent));
	cl_send_round(ps, N, sent);
	cl_expect_round(ps, N, sent, WAIT_MS, "%s: the closing round", why);
	for (int i = 0; i < N; i++)
		ck_assert_msg(ps[i].close_code == 0 || (ps[i].close_code == 1013 &&
		    strcmp(ps[i].close_reason, "try again later") == 0),
		    "%s: peer %d closed %d \"%s\"; only 1013 is allowed", why, i,
		    ps[i].close_code, ps[i].close_reason);
	for (int i = 0; i < N; i++)
		cl_peer_free(&ps[i]);

	ck_assert_int_eq(itx_create(t.node[1].port, "after"), 201);
	ck_assert_ptr_nonnull(a = itx_join(t.node[0].port, "after", NULL));
	ck_assert_ptr_nonnull(b = itx_join(t.node[1].port, "after", NULL));
	ck_assert_int_eq(it_ws_send_wait(a, "across", b, NULL, WAIT_MS), 0);
	it_ws_free(a);
	it_ws_free(b);

	for (int i = 0; i < NODES; i++) {
		cl_node_term(&t.node[i]);
		ck_assert_msg(strstr(it_proc_stderr(t.node[i].p), "redis_master_switched") !=
		    NULL && strstr(it_proc_stderr(t.node[i].p), "redis_restarted") != NULL,
		    "%s: node %d logged no switch or no new Redis: %s", why, i,
		    it_proc_stderr(t.node[i].p));
		ck_assert_msg(strstr(it_proc_stderr(t.node[i].p), SENTINEL_PW) == NULL,
		    "node %d logged the sentinel password", i);
	}
}

START_TEST(sentinel_failover_is_followed_within_5s)
{
	struct cl_peer ps[N];
	int sent[N] = { 0 };

	sentinel_up(1);
	conversation(ps, sent);
	ck_assert_msg(it_wait_until(failover_accepted, NULL, FAILOVER_MS) == 1,
	    "SENTINEL FAILOVER never accepted");
	expect_followed(ps, sent, rf_port(t.m), "SENTINEL FAILOVER");
	down();
}
END_TEST

START_TEST(master_killed_is_failed_over_by_three_sentinels_and_followed_within_5s)
{
	struct cl_peer ps[N];
	int sent[N] = { 0 }, old;

	sentinel_up(SENTINELS);
	conversation(ps, sent);
	old = rf_port(t.m);
	ck_assert_int_eq(rf_kill(t.m), 0);
	expect_followed(ps, sent, old, "master killed");
	down();
}
END_TEST

/* A node's /healthz and the reason it should come to say. */
struct reason {
	int port;
	const char *want;
	char body[256];
};

static int
says(void *arg)
{
	struct reason *r = arg;

	return cl_healthz(r->port, r->body, sizeof(r->body)) == 503 &&
	    strstr(r->body, r->want) != NULL;
}

/* Waits until the node at port answers /healthz 503 with want in its
 * reason (it starts at "connecting"), and refuses a create. */
static void
expect_refused(int port, const char *want)
{
	struct reason r = { port, want, "" };

	ck_assert_msg(it_wait_until(says, &r, WAIT_MS) == 1, "/healthz \"%s\", want 503 "
	    "with \"%s\"", r.body, want);
	ck_assert_int_eq(itx_create(port, "never"), 503);
}

START_TEST(a_node_pointed_at_a_replica_refuses_to_write)
{
	char url[96];

	pair_up();
	cl_url(url, sizeof(url), rf_port(t.r), NULL);
	cl_node_start(&t.node[0], url, NULL);
	expect_refused(t.node[0].port, "redis: ROLE: this Redis is a slave, not the master");
	cl_node_term(&t.node[0]);
	ck_assert_msg(strstr(it_proc_stderr(t.node[0].p), "not the master") != NULL,
	    "no log line says why: %s", it_proc_stderr(t.node[0].p));
	down();
}
END_TEST

static int
node0_healthy(void *arg)
{
	(void)arg;
	return cl_healthz(t.node[0].port, NULL, 0) == 200;
}

/* allkeys-lru through CONFIG GET, volatile-lru through INFO memory where
 * CONFIG is renamed away; noeviction set at run time is taken at the
 * next reconnect. */
START_TEST(an_evicting_maxmemory_policy_is_a_503_with_the_reason)
{
	const char *lru[] = { "--maxmemory-policy", "allkeys-lru", NULL };
	const char *hidden[] = { "--maxmemory-policy", "volatile-lru", "--rename-command",
		"CONFIG", "", NULL };
	char url[96];

	memset(&t, 0, sizeof(t));
	ck_assert_ptr_nonnull(t.m = rf_start_args(NULL, lru));
	ck_assert_ptr_nonnull(t.r = rf_start_args(NULL, hidden));
	cl_url(url, sizeof(url), rf_port(t.m), NULL);
	cl_node_start(&t.node[0], url, NULL);
	cl_url(url, sizeof(url), rf_port(t.r), NULL);
	cl_node_start(&t.node[1], url, NULL);
	expect_refused(t.node[0].port, "redis: maxmemory-policy is allkeys-lru, which "
	    "evicts keys; groupchat needs noeviction");
	expect_refused(t.node[1].port, "redis: maxmemory-policy is volatile-lru");
	ck_assert_msg(answers(rf_port(t.m), NULL, "OK",
	    "CONFIG SET maxmemory-policy noeviction"), "CONFIG SET refused");
	ck_assert_msg(it_wait_until(node0_healthy, NULL, WAIT_MS) == 1,
	    "noeviction set, node 0 still not healthy: %s", cl_node_log_tail(&t.node[0]));
	ck_assert_int_eq(itx_create(t.node[0].port, "now"), 201);
	cl_node_term(&t.node[1]);
	ck_assert_msg(strstr(it_proc_stderr(t.node[1].p), "groupchat needs noeviction") != NULL,
	    "no log line says why: %s", it_proc_stderr(t.node[1].p));
	down();
}
END_TEST

static Suite *
cluster_sentinel_suite(void)
{
	Suite *s = suite_create("it_cluster_sentinel");
	TCase *tc = tcase_create("sentinel");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, sentinel_failover_is_followed_within_5s);
	tcase_add_test(tc, master_killed_is_failed_over_by_three_sentinels_and_followed_within_5s);
	tcase_add_test(tc, a_node_pointed_at_a_replica_refuses_to_write);
	tcase_add_test(tc, an_evicting_maxmemory_policy_is_a_503_with_the_reason);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(cluster_sentinel_suite());
}
