/*
 * it_fault_redis: the Redis rows of protocol.md's cluster failure table,
 * black-box, with a real redis-server, groupchat processes reaching it
 * through fault proxies, and members talking all along; every scenario
 * ends with history_check judging every member's received sequence (no
 * duplicate, one order, no silent hole: contiguous to the end or closed
 * 1013). Redis paused (SIGSTOP); killed and restarted empty; restarted
 * with all its data (the members of the time get 1013 all the same: no
 * node can know nothing was lost); restarted from an older snapshot
 * (issue 18, 1); restarted empty while one node lagged behind and the
 * nodes came back 3 s apart (issue 18, 2); restarted empty while every
 * member was sending (issue 18, 3: the group must not vanish).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "support/fault_cluster.h"
#include "support/itest.h"
#include "support/itest_ws_extra.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

static struct fc c;
static struct fc_talk t;

/* Whoever joins now, on every node, can talk with those still there. */
static void
newcomers(const char *why)
{
	for (int i = 0; i < c.n; i++) {
		int k = fc_join(&t, &c, i, "talk", NULL);

		ck_assert_msg(k >= 0, "%s: a new join through node %d answered %d", why,
		    i, -k);
	}
}

START_TEST(redis_paused)
{
	fc_talk3_up(&c, &t);
	ck_assert_int_eq(rf_pause(c.rf), 0);
	fc_send(&t, 0, 2);
	fc_send(&t, 3, 2);
	fc_wait_health(&c, 503, "paused");
	ck_assert_int_eq(rf_resume(c.rf), 0);
	fc_wait_health(&c, 200, "resumed");
	newcomers("paused");
	fc_judge(&t, &c, "Redis paused", NULL);
	fc_talk3_down(&c, &t);
}
END_TEST

START_TEST(redis_killed_and_restarted_empty)
{
	fc_talk3_up(&c, &t);
	ck_assert_int_eq(rf_kill(c.rf), 0);
	fc_send(&t, 0, 2);
	fc_wait_health(&c, 503, "killed");
	ck_assert_int_eq(rf_restart(c.rf), 0);
	fc_wait_health(&c, 200, "restarted");
	newcomers("restarted empty");
	fc_judge(&t, &c, "Redis restarted empty", NULL);
	fc_talk3_down(&c, &t);
}
END_TEST

START_TEST(redis_restarted_with_all_its_data)
{
	fc_talk3_up(&c, &t);
	/* Quiet, then a snapshot of everything, then the restart. */
	ck_assert_int_eq(fc_save(&c), 0);
	ck_assert_int_eq(rf_kill(c.rf), 0);
	fc_wait_health(&c, 503, "killed");
	ck_assert_int_eq(rf_restart_saved(c.rf), 0);
	fc_wait_health(&c, 200, "restarted");
	newcomers("restarted with data");
	/* Nothing was lost, but a node cannot tell a snapshot that holds
	 * everything from an older one: closing members 1013 is allowed. */
	fc_judge(&t, &c, "Redis restarted with its data", NULL);
	/* Here every member of the time gets 1013 (docs/design.md,
	 * "Continuity"); the newcomers stay. */
	ck_assert_uint_eq(fc_open(&t), (size_t)c.n);
	ck_assert_uint_eq(fc_closed_with(&t, 1013), t.n - (size_t)c.n);
	fc_talk3_down(&c, &t);
}
END_TEST

START_TEST(redis_restarted_from_an_older_snapshot)
{
	/* Issue 18, 1: two nodes, four members, 5 messages, SAVE, 20 more,
	 * SIGKILL, restart on the same dump (the sequence goes back from 25
	 * to 5 under the same incarnation), then 20 more. */
	fc_up(&c, 2);
	ck_assert_int_eq(itx_create(c.node[0].port, "talk"), 201);
	for (int i = 0; i < 4; i++)
		fc_join_ok(&t, &c, i % 2, "talk");
	fc_send(&t, 0, 5);
	ck_assert(fc_settle(&t, FC_WAIT_MS));
	ck_assert_int_eq(fc_save(&c), 0);
	fc_send(&t, 1, 20);
	ck_assert(fc_settle(&t, FC_WAIT_MS));
	ck_assert_int_eq(rf_kill(c.rf), 0);
	fc_wait_health(&c, 503, "killed");
	ck_assert_int_eq(rf_restart_saved(c.rf), 0);
	fc_wait_health(&c, 200, "restored");
	fc_rounds(&t, 5);
	fc_settle(&t, FC_WAIT_MS);
	newcomers("restored");
	fc_judge(&t, &c, "Redis restored from an older snapshot", NULL);
	fc_talk3_down(&c, &t);
}
END_TEST

START_TEST(redis_restarted_empty_while_a_node_lagged)
{
	/* Issue 18, 2: node 0's link lags, so it has not read the last
	 * burst of 30 that node 1 has; Redis dies and comes back empty;
	 * node 0 reconnects first, node 1 three seconds later; then 40
	 * messages. */
	fc_up(&c, 2);
	ck_assert_int_eq(itx_create(c.node[0].port, "talk"), 201);
	for (int i = 0; i < 4; i++)
		fc_join_ok(&t, &c, i % 2, "talk");
	fc_rounds(&t, 2);
	ck_assert(fc_settle(&t, FC_WAIT_MS));
	fp_delay(c.fp[0], FP_DOWN, 60000);
	fc_send(&t, 1, 30);
	/* Node 1's members have the burst; node 0's proxy holds it. */
	ck_assert(fc_wait_has(&t, 1, "m-1-29", FC_WAIT_MS));
	fp_pause(c.fp[1], FP_BOTH);
	fp_cut(c.fp[1]);
	fp_cut(c.fp[0]);
	ck_assert_int_eq(rf_kill(c.rf), 0);
	ck_assert_int_eq(rf_restart(c.rf), 0);
	fp_reset(c.fp[0]);
	ck_assert_int_eq(cl_wait_healthz(c.node[0].port, 200, FC_WAIT_MS), 0);
	/* The three seconds: read what comes meanwhile. */
	cl_pump(t.ps, t.n, NULL, NULL, 3000);
	fp_resume(c.fp[1], FP_BOTH);
	fc_wait_health(&c, 200, "both back");
	fc_rounds(&t, 10);
	fc_settle(&t, FC_WAIT_MS);
	newcomers("staggered restart");
	fc_judge(&t, &c, "Redis restarted empty, nodes back 3 s apart", NULL);
	fc_talk3_down(&c, &t);
}
END_TEST

START_TEST(redis_restarted_empty_while_everyone_sent)
{
	/* Issue 18, 3: two members on two nodes, both talking; Redis dies
	 * and comes back empty; their publishes failed, so both get 1013 and
	 * no node has a member left to register the group again. Following
	 * 1013's advice they join again: the group must still be there. */
	fc_up(&c, 2);
	ck_assert_int_eq(itx_create(c.node[0].port, "talk"), 201);
	fc_join_ok(&t, &c, 0, "talk");
	fc_join_ok(&t, &c, 1, "talk");
	fc_rounds(&t, 3);
	ck_assert(fc_settle(&t, FC_WAIT_MS));
	ck_assert_int_eq(rf_kill(c.rf), 0);
	fc_rounds(&t, 1);
	ck_assert(cl_pump(t.ps, t.n, cl_all_closed, &(struct cl_peers){ t.ps, t.n },
	    FC_WAIT_MS));
	ck_assert_uint_eq(fc_closed_with(&t, 1013), 2);
	ck_assert_int_eq(rf_restart(c.rf), 0);
	fc_wait_health(&c, 200, "restarted");
	newcomers("rejoin after 1013");
	fc_judge(&t, &c, "Redis restarted empty under two senders", NULL);
	fc_talk3_down(&c, &t);
}
END_TEST

static Suite *
fault_redis_suite(void)
{
	Suite *s = suite_create("it_fault_redis");
	TCase *tc = tcase_create("redis");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, redis_paused);
	tcase_add_test(tc, redis_killed_and_restarted_empty);
	tcase_add_test(tc, redis_restarted_with_all_its_data);
	tcase_add_test(tc, redis_restarted_from_an_older_snapshot);
	tcase_add_test(tc, redis_restarted_empty_while_a_node_lagged);
	tcase_add_test(tc, redis_restarted_empty_while_everyone_sent);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(fault_redis_suite());
}
