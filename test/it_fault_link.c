/*
 * it_fault_link: faults between one node and Redis, and faults of a
 * node itself, black-box: three groupchat processes, each reaching a
 * real redis-server through its own fault proxy, members talking all
 * along, and history_check judging every member's received sequence at
 * the end. One node's link cut (three times, mid-conversation, while its
 * members listen; then again while they send); its
 * requests black-holed (node to Redis), then its replies and messages
 * black-holed (Redis to node), each long enough for the node to call
 * the link down; its link stalled both ways, then released at once; a
 * slow link (every byte late, under the link timeouts); a node killed
 * (SIGKILL) and started again; a node stopped (SIGTERM).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "support/fault_cluster.h"
#include "support/history_check.h"
#include "support/itest.h"
#include "support/itest_ws_extra.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

static struct fc c;
static struct fc_talk t;

/* The members on nodes 1 and 2 send count messages each. */
static void
others_send(int count)
{
	for (size_t i = 0; i < t.n; i++)
		if (t.ps[i].node != 0)
			fc_send(&t, i, count);
}

/* The members on nodes 0 and 1 send count messages each. */
static void
survivors_send(int count)
{
	for (size_t i = 0; i < t.n; i++)
		if (t.ps[i].node != 2)
			fc_send(&t, i, count);
}

/* Members on node 0 send one message each. */
static void
node0_sends(void)
{
	for (size_t i = 0; i < t.n; i++)
		if (t.ps[i].node == 0)
			fc_send(&t, i, 1);
}

/* dirs of node 0's link black-holed until the node says 503, while
 * everyone talks; then relayed again. */
static void
blackhole(int dirs, const char *why)
{
	fc_talk3_up(&c, &t);
	fp_blackhole(c.fp[0], dirs, 1);
	node0_sends();
	others_send(5);
	ck_assert_msg(cl_wait_healthz(c.node[0].port, 503, FC_WAIT_MS) == 0,
	    "%s: node 0 never called its link down", why);
	others_send(5);
	cl_pump(t.ps, t.n, NULL, NULL, 0);
	fp_reset(c.fp[0]);
	fc_wait_health(&c, 200, why);
	fc_judge(&t, &c, why, NULL);
	fc_talk3_down(&c, &t);
}

START_TEST(link_cut_three_times_under_listeners)
{
	/* Node 0's members listen while their link is cut: whatever they
	 * missed is in the history. (Their sending through the cut is
	 * link_cut_three_times below.) */
	fc_talk3_up(&c, &t);
	for (int k = 0; k < 3; k++) {
		others_send(3);
		fp_cut(c.fp[0]);
		others_send(3);
		cl_pump(t.ps, t.n, NULL, NULL, 0);
	}
	fc_wait_health(&c, 200, "after the cuts");
	fc_judge(&t, &c, "node 0's link cut three times under listeners", NULL);
	ck_assert_uint_eq(fc_open(&t), t.n);
	fc_talk3_down(&c, &t);
}
END_TEST

START_TEST(link_blackholed_node_to_redis)
{
	blackhole(FP_UP, "node 0's requests black-holed");
}
END_TEST

START_TEST(link_blackholed_redis_to_node)
{
	blackhole(FP_DOWN, "node 0's replies and messages black-holed");
}
END_TEST

START_TEST(link_stalled_then_released)
{
	fc_talk3_up(&c, &t);
	fp_pause(c.fp[0], FP_BOTH);
	node0_sends();
	others_send(5);
	ck_assert_int_eq(cl_wait_healthz(c.node[0].port, 503, FC_WAIT_MS), 0);
	others_send(5);
	/* Everything held goes at once, to connections the node gave up. */
	fp_resume(c.fp[0], FP_BOTH);
	fc_wait_health(&c, 200, "released");
	fc_judge(&t, &c, "node 0's link stalled, then released", NULL);
	fc_talk3_down(&c, &t);
}
END_TEST

START_TEST(slow_link)
{
	fc_talk3_up(&c, &t);
	/* Late, but within every link timeout (1 s): nothing may break. */
	fp_delay(c.fp[0], FP_BOTH, 300);
	for (int k = 0; k < 5; k++) {
		fc_rounds(&t, 2);
		cl_pump(t.ps, t.n, NULL, NULL, 0);
	}
	ck_assert(fc_settle(&t, FC_WAIT_MS));
	ck_assert_int_eq(cl_healthz(c.node[0].port, NULL, 0), 200);
	fc_judge(&t, &c, "node 0's link slow", NULL);
	ck_assert_uint_eq(fc_open(&t), t.n);
	fc_talk3_down(&c, &t);
}
END_TEST

START_TEST(node_killed_and_started_again)
{
	fc_talk3_up(&c, &t);
	fc_rounds(&t, 2);
	cl_node_kill(&c.node[2]);
	survivors_send(3);
	cl_pump(t.ps, t.n, NULL, NULL, 0);
	fc_node_start(&c, 2);
	fc_wait_health(&c, 200, "node 2 back");
	fc_join_ok(&t, &c, 2, "talk");
	fc_judge(&t, &c, "node 2 killed and started again", (const int[]){ HC_EOF, 0 });
	/* Its members lost their connection, and knew it. */
	for (size_t i = 0; i < 6; i++)
		if (i % 3 == 2)
			ck_assert_int_eq(t.ps[i].close_code, HC_EOF);
	fc_talk3_down(&c, &t);
}
END_TEST

START_TEST(node_stopped)
{
	fc_talk3_up(&c, &t);
	fc_rounds(&t, 2);
	cl_node_term(&c.node[2]);
	survivors_send(3);
	fc_judge(&t, &c, "node 2 stopped", (const int[]){ 1001, 0 });
	for (size_t i = 0; i < 6; i++)
		if (i % 3 == 2)
			ck_assert_int_eq(t.ps[i].close_code, 1001);
	fc_talk3_down(&c, &t);
}
END_TEST

START_TEST(link_cut_three_times)
{
	fc_talk3_up(&c, &t);
	for (int k = 0; k < 3; k++) {
		fc_rounds(&t, 3);
		fp_cut(c.fp[0]);
		fc_rounds(&t, 3);
		cl_pump(t.ps, t.n, NULL, NULL, 0);
	}
	fc_wait_health(&c, 200, "after the cuts");
	fc_judge(&t, &c, "node 0's link cut three times", NULL);
	fc_talk3_down(&c, &t);
}
END_TEST

static Suite *
fault_link_suite(void)
{
	Suite *s = suite_create("it_fault_link");
	TCase *tc = tcase_create("link");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, link_cut_three_times_under_listeners);
	tcase_add_test(tc, link_blackholed_node_to_redis);
	tcase_add_test(tc, link_blackholed_redis_to_node);
	tcase_add_test(tc, link_stalled_then_released);
	tcase_add_test(tc, slow_link);
	tcase_add_test(tc, node_killed_and_started_again);
	tcase_add_test(tc, node_stopped);
	tcase_add_test(tc, link_cut_three_times);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(fault_link_suite());
}
