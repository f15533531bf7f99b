/*
 * it_fault_sentinel: a Sentinel failover that loses writes (issue 18),
 * black-box: a master, a replica whose replication link runs through a
 * fault proxy, three sentinels (quorum 2) and two groupchat nodes given
 * only the sentinels. Members talk; the replication link is stalled, so
 * the next messages reach the members through the master but never the
 * replica; the master is killed with them. The sentinels promote the
 * replica, which lacks the last writes: a break of continuity. The
 * nodes follow, and history_check judges every member: each either goes
 * on without a hole or was closed 1013, never a silent gap, and the
 * group goes on for whoever joins next.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "support/fault_cluster.h"
#include "support/itest.h"
#include "support/itest_ws_extra.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

/* From the master's death to the sentinels naming the replica
 * (down-after 1000 ms). */
#define FAILOVER_MS 30000
#define MASTER "gm"
#define SENTINEL_PW "sentinel-pw-7"
#define SENTINELS 3

static struct {
	struct redis_fixture *m, *r, *s[SENTINELS];
	struct fault_proxy *repl; /* the replica's link to the master */
} x;
static struct fc c;
static struct fc_talk t;

/* One command to 127.0.0.1:port (AUTH pw first unless NULL). The reply,
 * or NULL if the server did not answer. */
static redisReply *
query(int port, const char *pw, const char *cmd)
{
	struct timeval tv = { IT_TIMEOUT_MS / 1000, 0 };
	redisContext *rc = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r = NULL;

	if (rc == NULL || rc->err || redisSetTimeout(rc, tv) != REDIS_OK)
		goto out;
	if (pw != NULL) {
		if ((r = redisCommand(rc, "AUTH %s", pw)) == NULL)
			goto out;
		freeReplyObject(r);
	}
	r = redisCommand(rc, cmd);
out:
	if (rc != NULL)
		redisFree(rc);
	return r;
}

/* The number after "name" in INFO replication of port, or -1. */
static long long
info_field(int port, const char *name)
{
	redisReply *r = query(port, NULL, "INFO replication");
	long long v = -1;
	const char *at;

	if (r != NULL && r->type == REDIS_REPLY_STRING && (at = strstr(r->str, name)) != NULL)
		v = atoll(at + strlen(name));
	if (r != NULL)
		freeReplyObject(r);
	return v;
}

static int
replica_synced(void *arg)
{
	redisReply *r = query(rf_port(x.r), NULL, "INFO replication");
	int ok = r != NULL && r->type == REDIS_REPLY_STRING &&
	    strstr(r->str, "master_link_status:up") != NULL;

	(void)arg;
	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

/* Every sentinel lists the replica and the other two sentinels. */
static int
sentinels_ready(void *arg)
{
	int ok = 1;

	(void)arg;
	for (int i = 0; i < SENTINELS && ok; i++) {
		redisReply *r = query(rf_port(x.s[i]), SENTINEL_PW, "SENTINEL sentinels " MASTER);
		redisReply *q = query(rf_port(x.s[i]), SENTINEL_PW, "SENTINEL replicas " MASTER);

		ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == SENTINELS - 1 &&
		    q != NULL && q->type == REDIS_REPLY_ARRAY && q->elements == 1;
		if (r != NULL)
			freeReplyObject(r);
		if (q != NULL)
			freeReplyObject(q);
	}
	return ok;
}

static int
replica_is_master(void *arg)
{
	redisReply *r = query(rf_port(x.s[0]), SENTINEL_PW,
	    "SENTINEL get-master-addr-by-name " MASTER);
	int ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    atoi(r->element[1]->str) == rf_port(x.r);

	(void)arg;
	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

/* A node given the sentinels and the master's name. */
static void
node_start(int i)
{
	char sentinels[160], pw[64];
	const char *env[] = { sentinels, "GROUPCHAT_REDIS_MASTER=" MASTER, pw, NULL };

	snprintf(sentinels, sizeof(sentinels), "GROUPCHAT_REDIS_SENTINEL="
	    "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", rf_port(x.s[0]), rf_port(x.s[1]),
	    rf_port(x.s[2]));
	snprintf(pw, sizeof(pw), "GROUPCHAT_REDIS_SENTINEL_PASSWORD=%s", SENTINEL_PW);
	cl_node_start(&c.node[i], NULL, env);
}

static void
up(void)
{
	char pport[16];
	const char *margs[] = { "--repl-diskless-sync-delay", "0", NULL };
	const char *rargs[] = { "--replicaof", "127.0.0.1", pport, "--repl-diskless-load",
		"on-empty-db", NULL };

	memset(&x, 0, sizeof(x));
	memset(&c, 0, sizeof(c));
	ck_assert_ptr_nonnull(x.m = rf_start_args(NULL, margs));
	ck_assert_ptr_nonnull(x.repl = fp_start(rf_port(x.m)));
	snprintf(pport, sizeof(pport), "%d", fp_port(x.repl));
	ck_assert_ptr_nonnull(x.r = rf_start_args(NULL, rargs));
	ck_assert_msg(it_wait_until(replica_synced, NULL, FC_WAIT_MS) == 1,
	    "the replica never synchronised");
	for (int i = 0; i < SENTINELS; i++)
		ck_assert_ptr_nonnull(x.s[i] = rf_start_sentinel(MASTER, rf_port(x.m), 2,
		    SENTINEL_PW));
	ck_assert_msg(it_wait_until(sentinels_ready, NULL, FC_WAIT_MS) == 1,
	    "the sentinels never knew the replica and each other");
	c.n = 2;
	for (int i = 0; i < c.n; i++)
		node_start(i);
	fc_wait_health(&c, 200, "start");
}

static void
down(void)
{
	fc_talk_free(&t);
	for (int i = 0; i < c.n; i++)
		cl_node_free(&c.node[i]);
	for (int i = 0; i < SENTINELS; i++)
		rf_stop(x.s[i]);
	rf_stop(x.r);
	fp_stop(x.repl);
	rf_stop(x.m);
}

START_TEST(failover_that_loses_writes)
{
	long long master_off, replica_off;

	up();
	ck_assert_int_eq(itx_create(c.node[0].port, "talk"), 201);
	for (int i = 0; i < 4; i++)
		fc_join_ok(&t, &c, i % 2, "talk");
	fc_rounds(&t, 3);
	ck_assert(fc_settle(&t, FC_WAIT_MS));

	/* The replica stops hearing; the members go on and get it all. */
	fp_pause(x.repl, FP_BOTH);
	fc_rounds(&t, 10);
	ck_assert(fc_settle(&t, FC_WAIT_MS));
	master_off = info_field(rf_port(x.m), "master_repl_offset:");
	replica_off = info_field(rf_port(x.r), "slave_repl_offset:");
	ck_assert_msg(master_off > replica_off, "nothing to lose: master at %lld, "
	    "replica at %lld", master_off, replica_off);

	/* The master dies with the last writes; what the proxy held too. */
	ck_assert_int_eq(rf_kill(x.m), 0);
	fp_cut(x.repl);
	ck_assert_msg(it_wait_until(replica_is_master, NULL, FAILOVER_MS) == 1,
	    "the sentinels never promoted the replica");
	fc_wait_health(&c, 200, "after the failover");
	fc_rounds(&t, 5);
	fc_settle(&t, FC_WAIT_MS);
	for (int i = 0; i < c.n; i++)
		fc_join_ok(&t, &c, i, "talk");
	fc_judge(&t, &c, "a failover that lost writes", NULL);
	fprintf(stderr, "it_fault_sentinel: %lld bytes of replication lost; of %zu "
	    "members %zu open, %zu closed 1013\n", master_off - replica_off, t.n,
	    fc_open(&t), fc_closed_with(&t, 1013));
	down();
}
END_TEST

static Suite *
fault_sentinel_suite(void)
{
	Suite *s = suite_create("it_fault_sentinel");
	TCase *tc = tcase_create("sentinel");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, failover_that_loses_writes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(fault_sentinel_suite());
}
