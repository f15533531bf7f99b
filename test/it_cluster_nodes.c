/*
 * it_cluster_nodes: the failure rows of protocol.md's cluster guarantees
 * that concern a node, black-box, with a redis-server and three
 * groupchat processes: a node killed with SIGKILL leaves the other nodes
 * and their members talking, and its connection ids are free again
 * within the claim's lifetime; SIGTERM on one node closes its members
 * with 1001 as on a single node, releases its ids at once, and the rest
 * of the cluster carries on; a node started afterwards joins the group.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support/itest.h"
#include "support/itest_cluster.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

#define WAIT_MS (3 * IT_TIMEOUT_MS)
/* protocol.md: a dead node's ids are free again within 15 s. */
#define CID_TTL_MS 15000
#define TTL_SLACK_MS 5000
/* protocol.md, Lifecycle: shutdown completes within this. */
#define SHUTDOWN_MS 3000
/* An id released on leave is gone well before a claim could expire (a
 * claim refreshed every 5 s lives at least 10 s more). */
#define RELEASE_MS IT_TIMEOUT_MS
#define N 6

static struct cl_cluster cl;

static void
up_and_talking(struct cl_peer *ps, int *sent)
{
	cl_up(&cl, 3, NULL);
	ck_assert_int_eq(itx_create(cl.node[1].port, "crew"), 201);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(cl_peer_join(&ps[i], cl.node[i % 3].port, "crew", i % 3), 101);
	ck_assert_int_eq(cl_peers_hello(ps, N, WAIT_MS), 0);
	for (int r = 0; r < 3; r++)
		cl_send_round(ps, N, sent);
	ck_assert(cl_wait_round(ps, N, sent, WAIT_MS));
}

/* The members of nodes 0 and 1 keep talking, and one gap-free order
 * holds over everyone. */
static void
survivors_talk(struct cl_peer *ps, int *sent)
{
	for (int r = 0; r < 5; r++)
		cl_send_round(ps, N, sent);
	cl_expect_round(ps, N, sent, WAIT_MS, "the surviving nodes' members");
	for (int i = 0; i < N; i++)
		if (ps[i].node != 2)
			ck_assert_msg(ps[i].close_code == 0, "peer %d on node %d closed %d \"%s\"",
			    i, ps[i].node, ps[i].close_code, ps[i].close_reason);
}

/* A node started now serves the group too. */
static void
newcomer_joins(struct cl_peer *ps, int *sent)
{
	struct cl_node fresh;
	struct it_ws *ws;
	char body[48];

	cl_node_start(&fresh, cl.url, NULL);
	ck_assert_int_eq(cl_wait_healthz(fresh.port, 200, WAIT_MS), 0);
	ck_assert_ptr_nonnull(ws = itx_join(fresh.port, "crew", NULL));
	snprintf(body, sizeof(body), "m-0-%d", sent[0]);
	ck_assert_int_eq(it_ws_send_text(ps[0].ws, body), 0);
	sent[0]++;
	ck_assert_int_eq(it_ws_expect_suffix(ws, IT_OP_TEXT, body, strlen(body), NULL,
	    WAIT_MS), 0);
	ck_assert_int_eq(it_ws_close(ws), 0);
	cl_node_term(&fresh);
	cl_node_free(&fresh);
}

START_TEST(a_node_killed_leaves_the_rest_talking_and_frees_its_ids_in_time)
{
	struct cl_peer ps[N];
	int sent[N] = { 0 };
	int64_t t0;

	up_and_talking(ps, sent);
	for (int i = 2; i < N; i += 3)
		ck_assert_int_eq(cl_cid_claimed(cl.rf, ps[i].cid), 1);
	cl_node_kill(&cl.node[2]);
	t0 = it_now_ms();
	survivors_talk(ps, sent);
	for (int i = 2; i < N; i += 3)
		ck_assert_msg(ps[i].close_code == -1, "peer %d of the killed node: close %d", i,
		    ps[i].close_code);
	newcomer_joins(ps, sent);
	for (int i = 2; i < N; i += 3)
		ck_assert_msg(cl_wait_unclaimed(cl.rf, ps[i].cid, (int)(CID_TTL_MS +
		    TTL_SLACK_MS - (it_now_ms() - t0))) == 0,
		    "cid %s of the killed node still claimed %d ms after the kill", ps[i].cid,
		    CID_TTL_MS + TTL_SLACK_MS);
	for (int i = 0; i < N; i++)
		cl_peer_free(&ps[i]);
	cl_down(&cl);
}
END_TEST

struct node2_closed {
	struct cl_peer *ps;
};

static int
node2_closed(void *arg)
{
	struct node2_closed *a = arg;

	for (int i = 2; i < N; i += 3)
		if (a->ps[i].close_code == 0)
			return 0;
	return 1;
}

START_TEST(sigterm_on_one_node_closes_its_members_1001_and_spares_the_rest)
{
	struct cl_peer ps[N];
	struct node2_closed a = { ps };
	int sent[N] = { 0 }, status;
	int64_t t0;

	up_and_talking(ps, sent);
	t0 = it_now_ms();
	ck_assert_int_eq(kill(it_proc_pid(cl.node[2].p), SIGTERM), 0);
	ck_assert_msg(cl_pump(ps, N, node2_closed, &a, SHUTDOWN_MS), "node 2's members "
	    "were not closed within %d ms", SHUTDOWN_MS);
	for (int i = 2; i < N; i += 3)
		ck_assert_msg(ps[i].close_code == 1001 &&
		    strcmp(ps[i].close_reason, "server shutting down") == 0,
		    "peer %d: close %d \"%s\", want 1001 \"server shutting down\"", i,
		    ps[i].close_code, ps[i].close_reason);
	ck_assert_msg(it_proc_wait(cl.node[2].p, (int)(SHUTDOWN_MS - (it_now_ms() - t0) +
	    1000), &status) == 0, "node 2 still running after SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "node 2: status %#x; "
	    "stderr: %s", status, it_proc_stderr(cl.node[2].p));
	survivors_talk(ps, sent);
	for (int i = 2; i < N; i += 3)
		ck_assert_msg(cl_wait_unclaimed(cl.rf, ps[i].cid, RELEASE_MS) == 0,
		    "cid %s still claimed %d ms after its node stopped cleanly (released "
		    "on leave, not left to expire)", ps[i].cid, RELEASE_MS);
	newcomer_joins(ps, sent);
	for (int i = 0; i < N; i++)
		cl_peer_free(&ps[i]);
	cl_down(&cl);
}
END_TEST

static Suite *
cluster_nodes_suite(void)
{
	Suite *s = suite_create("it_cluster_nodes");
	TCase *tc = tcase_create("nodes");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_node_killed_leaves_the_rest_talking_and_frees_its_ids_in_time);
	tcase_add_test(tc, sigterm_on_one_node_closes_its_members_1001_and_spares_the_rest);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(cluster_nodes_suite());
}
