/*
 * it_cluster_continuity: protocol.md's cluster guarantee 7 when Redis
 * loses or rewinds data, black-box, with a redis-server and two groupchat
 * processes: Redis restarted from an older snapshot (its sequence numbers
 * go back while the group's incarnation survives), Redis restarted empty
 * while the two nodes had read different amounts of the group (the first
 * to come back registers the group again), and a group whose members were
 * all closed when Redis died (it must not vanish). In each, every member
 * who saw what Redis lost is closed 1013, what each member received is
 * one gap-free order (cl_check_no_gap), and new members on both nodes
 * talk afterwards in one order; /stats counts the 1013s as such.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/itest.h"
#include "support/itest_cluster.h"
#include "support/itest_ws_extra.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#define WAIT_MS (3 * IT_TIMEOUT_MS)
/* Two members per node, two nodes: peer i on node i / 2. */
#define N 4

static struct cl_cluster cl;

/* Group id with N members, peer i on node i / 2, and rounds rounds. */
static void
conversation(const char *id, struct cl_peer *ps, int *sent, int rounds)
{
	cl_up(&cl, 2, NULL);
	ck_assert_int_eq(itx_create(cl.node[0].port, id), 201);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(cl_peer_join(&ps[i], cl.node[i / 2].port, id, i / 2), 101);
	ck_assert_int_eq(cl_peers_hello(ps, N, WAIT_MS), 0);
	for (int r = 0; r < rounds; r++)
		cl_send_round(ps, N, sent);
	cl_expect_round(ps, N, sent, WAIT_MS, "%s: before", id);
}

/* Every one of the n peers is closed 1013 "try again later" (its history
 * broke), and what each received before is one gap-free order. */
static void
expect_all_broke(struct cl_peer *ps, size_t n, const int *sent, const char *why)
{
	struct cl_peers all = { ps, n };
	char *breach;

	cl_pump(ps, n, cl_all_closed, &all, WAIT_MS);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(ps[i].close_code == 1013 &&
		    strcmp(ps[i].close_reason, "try again later") == 0,
		    "%s: peer %zu on node %d: close %d \"%s\", want 1013: it saw messages "
		    "the group's history in Redis no longer has", why, i, ps[i].node,
		    ps[i].close_code, ps[i].close_reason);
	breach = cl_check_no_gap(ps, n, sent);
	ck_assert_msg(breach == NULL, "%s: %s", why, breach);
}

/* New members, two per node, join id and talk rounds rounds in one order. */
static void
expect_new_members_talk(const char *id, int rounds, const char *why)
{
	struct cl_peer fresh[N];
	int fsent[N] = { 0 }, st;

	for (int i = 0; i < N; i++) {
		st = cl_peer_join(&fresh[i], cl.node[i / 2].port, id, i / 2);
		ck_assert_msg(st == 101, "%s: a new member's join on node %d answered %d",
		    why, i / 2, st);
	}
	ck_assert_int_eq(cl_peers_hello(fresh, N, WAIT_MS), 0);
	for (int r = 0; r < rounds; r++)
		cl_send_round(fresh, N, fsent);
	cl_expect_round(fresh, N, fsent, WAIT_MS, "%s: new members", why);
	for (int i = 0; i < N; i++) {
		ck_assert_msg(fresh[i].close_code == 0, "%s: new member %d closed %d", why, i,
		    fresh[i].close_code);
		cl_peer_free(&fresh[i]);
	}
}

static void
node_signal(int node, int sig)
{
	ck_assert_int_eq(kill(it_proc_pid(cl.node[node].p), sig), 0);
}

/*
 * Issue 18, scenario 1: 8 messages, SAVE, 20 more, Redis SIGKILLed and
 * started again on the saved file. The group's incarnation survives and
 * its numbers go back to 8; members saw 9..28, which the group's history
 * no longer has: 1013 for all. New members then talk (before the fix, no
 * member received anything: every node dropped 9..28 as already seen).
 */
START_TEST(restart_from_an_older_snapshot)
{
	struct cl_peer ps[N];
	int sent[N] = { 0 };
	char reply[64];

	conversation("snap", ps, sent, 2);
	ck_assert_int_eq(rf_command(cl.rf, "SAVE", reply, sizeof(reply)), 0);
	ck_assert_str_eq(reply, "+OK");
	for (int r = 0; r < 5; r++)
		cl_send_round(ps, N, sent);
	cl_expect_round(ps, N, sent, WAIT_MS, "after the SAVE");
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	ck_assert_int_eq(rf_restart_saved(cl.rf), 0);
	cl_expect_up(&cl, 0, "restarted from the snapshot");
	cl_expect_up(&cl, 1, "restarted from the snapshot");
	expect_all_broke(ps, N, sent, "restarted from the snapshot");
	/* /stats counts them in their own bucket */
	for (int i = 0; i < 2; i++) {
		long long last = -1;

		ck_assert_msg(itx_wait_total(cl.node[i].port, "1013", 2, WAIT_MS, &last) == 0,
		    "node %d: /stats counts %lld closes 1013, want 2", i, last);
	}
	ck_assert_int_eq(itx_create(cl.node[1].port, "snap"), 400);
	expect_new_members_talk("snap", 5, "restarted from the snapshot");
	for (int i = 0; i < N; i++)
		cl_peer_free(&ps[i]);
	cl_down(&cl);
}
END_TEST

/* Pumps until the peers from..to-1 hold the last message each of them sent. */
static int
got_own_last(struct cl_peer *ps, int from, int to, const int *sent)
{
	char body[32];
	int64_t end = it_deadline(WAIT_MS);

	for (;;) {
		int ok = 1;

		for (int i = from; i < to && ok; i++)
			for (int j = from; j < to && ok; j++) {
				snprintf(body, sizeof(body), "m-%d-%d", j, sent[j] - 1);
				ok = cl_peer_find(&ps[i], body) >= 0;
			}
		if (ok)
			return 1;
		if (it_left_ms(end) <= 0)
			return 0;
		cl_pump(ps, N, NULL, NULL, 50);
	}
}

/*
 * Issue 18, scenario 2: node 0 is stopped and its subscription dropped,
 * so it misses the last 30 messages node 1's members send. Redis is
 * killed and restarted empty while node 1 is stopped in turn; node 0
 * comes back first and registers the group again at its lower number;
 * node 1 follows. Before the fix node 1 dropped the next 30 numbers as
 * already seen (its members silently missed them) and members on the two
 * nodes disagreed on the order. Neither node can know what Redis lost:
 * all old members get 1013, and 40 messages of new members agree.
 */
START_TEST(staggered_restart_empty)
{
	struct cl_peer ps[N];
	int sent[N] = { 0 };
	char reply[64], body[32];

	conversation("stag", ps, sent, 2);
	node_signal(0, SIGSTOP);
	ck_assert_int_eq(rf_command(cl.rf, "CLIENT KILL TYPE pubsub", reply, sizeof(reply)), 0);
	cl_expect_up(&cl, 1, "node 1 subscribed again");
	for (int k = 0; k < 15; k++)
		for (int i = 2; i < N; i++) {
			snprintf(body, sizeof(body), "m-%d-%d", i, sent[i]++);
			ck_assert_int_eq(it_ws_send_text(ps[i].ws, body), 0);
		}
	ck_assert_msg(got_own_last(ps, 2, N, sent), "node 1's members lack their burst");
	node_signal(1, SIGSTOP);
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	ck_assert_int_eq(rf_restart(cl.rf), 0);
	node_signal(0, SIGCONT);
	cl_expect_up(&cl, 0, "node 0 back first");
	node_signal(1, SIGCONT);
	cl_expect_up(&cl, 1, "node 1 back second");
	expect_all_broke(ps, N, sent, "restarted empty, staggered");
	expect_new_members_talk("stag", 10, "restarted empty, staggered");
	for (int i = 0; i < N; i++)
		cl_peer_free(&ps[i]);
	cl_down(&cl);
}
END_TEST

/*
 * Issue 18, scenario 3: one member per node, both talking; Redis
 * SIGKILLed: both senders are closed 1013 (their publishes failed), so
 * no node has a member left in the group. Redis restarted empty: the
 * group had members moments ago, nobody deleted it, so it is still there
 * (before the fix every join answered 400 found no group).
 */
START_TEST(group_without_members_survives_restart_empty)
{
	struct cl_peer ps[2];
	struct cl_peers all = { ps, 2 };
	int sent[2] = { 0 };

	cl_up(&cl, 2, NULL);
	ck_assert_int_eq(itx_create(cl.node[0].port, "keep"), 201);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(cl_peer_join(&ps[i], cl.node[i].port, "keep", i), 101);
	ck_assert_int_eq(cl_peers_hello(ps, 2, WAIT_MS), 0);
	cl_send_round(ps, 2, sent);
	cl_expect_round(ps, 2, sent, WAIT_MS, "before");
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	cl_send_round(ps, 2, sent);
	cl_pump(ps, 2, cl_all_closed, &all, WAIT_MS);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(ps[i].close_code == 1013, "sender %d closed %d, want 1013", i,
		    ps[i].close_code);
	ck_assert_int_eq(rf_restart(cl.rf), 0);
	cl_expect_up(&cl, 0, "restarted empty");
	cl_expect_up(&cl, 1, "restarted empty");
	ck_assert_int_eq(itx_create(cl.node[1].port, "keep"), 400);
	expect_new_members_talk("keep", 3, "the group that lost its members");
	for (int i = 0; i < 2; i++)
		cl_peer_free(&ps[i]);
	cl_down(&cl);
}
END_TEST

static Suite *
cluster_continuity_suite(void)
{
	Suite *s = suite_create("it_cluster_continuity");
	TCase *tc = tcase_create("continuity");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, restart_from_an_older_snapshot);
	tcase_add_test(tc, staggered_restart_empty);
	tcase_add_test(tc, group_without_members_survives_restart_empty);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(cluster_continuity_suite());
}
