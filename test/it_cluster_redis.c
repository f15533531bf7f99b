/*
 * it_cluster_redis: the failure rows of protocol.md's cluster guarantees
 * that concern Redis, black-box, with a redis-server (test/support/
 * redis_fixture) and groupchat processes: Redis paused (SIGSTOP), killed
 * and restarted empty, and its subscriber connections dropped, each in
 * the middle of a conversation, with the no-silent-gap rule checked
 * message by message; control requests and /healthz answer 503 while it
 * is down and everything works again afterwards without a restart;
 * Redis unreachable at start, then appearing; a wrong password; the URL
 * from GROUPCHAT_REDIS and the password from GROUPCHAT_REDIS_PASSWORD,
 * never shown.
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
#include "support/redis_fixture.h"
#include "support/test_main.h"

#define WAIT_MS (3 * IT_TIMEOUT_MS)
/* Two members per node, three nodes. */
#define N 6

static struct cl_cluster cl;

/* Every node: /healthz 503 "redis: <reason>", and 503 for create,
 * delete and join. */
static void
expect_503_everywhere(const char *why)
{
	for (int i = 0; i < cl.n; i++) {
		char body[256];
		int fd, st;

		ck_assert_msg(cl_wait_healthz(cl.node[i].port, 503, WAIT_MS) == 0,
		    "%s: node %d: /healthz never answered 503", why, i);
		st = cl_healthz(cl.node[i].port, body, sizeof(body));
		ck_assert_msg(st == 503 && strncmp(body, "redis: ", 7) == 0 &&
		    strchr(body, '\n') == body + strlen(body) - 1,
		    "%s: node %d: /healthz %d \"%s\", want 503 \"redis: <reason>\\n\"", why,
		    i, st, body);
		ck_assert_int_ge(fd = cl_send_request(cl.node[i].port, "POST",
		    "/create?id=while-down"), 0);
		st = cl_read_status(fd, body, sizeof(body), WAIT_MS);
		ck_assert_msg(st == 503 && strcmp(body, "redis unavailable\n") == 0,
		    "%s: node %d: create answered %d \"%s\"", why, i, st, body);
		/* Not "talk": a delete sent to a paused Redis may still run
		 * when it wakes up. */
		ck_assert_int_ge(fd = cl_send_request(cl.node[i].port, "DELETE",
		    "/groups/never-made"), 0);
		st = cl_read_status(fd, body, sizeof(body), WAIT_MS);
		ck_assert_msg(st == 503 && strcmp(body, "redis unavailable\n") == 0,
		    "%s: node %d: DELETE answered %d \"%s\"", why, i, st, body);
		ck_assert_ptr_null(itx_join(cl.node[i].port, "talk", &st));
		ck_assert_msg(st == 503, "%s: node %d: join answered %d", why, i, st);
	}
}

static void
expect_up_everywhere(const char *why)
{
	for (int i = 0; i < cl.n; i++)
		cl_expect_up(&cl, i, why);
}

/* Everything works again: every surviving member talks, a new group is
 * created and joined through every node. */
static void
expect_working(struct cl_peer *ps, int *sent, const char *why)
{
	struct cl_peer fresh[3];
	int fsent[3] = { 0 };
	char id[32];

	cl_send_round(ps, N, sent);
	ck_assert_msg(cl_wait_round(ps, N, sent, WAIT_MS), "%s: a round after recovery "
	    "did not reach every open member: %s", why, cl_round_missing(ps, N, sent));
	/* One more: a total order puts anything late before it. */
	cl_send_round(ps, N, sent);
	cl_expect_round(ps, N, sent, WAIT_MS, "%s: the closing round", why);
	for (int i = 0; i < N; i++)
		ck_assert_msg(ps[i].close_code == 0 || (ps[i].close_code == 1013 &&
		    strcmp(ps[i].close_reason, "try again later") == 0),
		    "%s: peer %d closed %d \"%s\"; only 1013 \"try again later\" is allowed",
		    why, i, ps[i].close_code, ps[i].close_reason);

	snprintf(id, sizeof(id), "after-%d", sent[0]);
	ck_assert_int_eq(itx_create(cl.node[1].port, id), 201);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cl_peer_join(&fresh[i], cl.node[i].port, id, i), 101);
	ck_assert_int_eq(cl_peers_hello(fresh, 3, WAIT_MS), 0);
	cl_send_round(fresh, 3, fsent);
	cl_expect_round(fresh, 3, fsent, WAIT_MS, "%s, new group", why);
	for (int i = 0; i < 3; i++)
		cl_peer_free(&fresh[i]);
}

/* The history every node keeps here: more than the 180 messages the
 * longest test sends, so that what a node missed is always in it. */
static const char *const node_env[] = { "GROUPCHAT_HISTORY=1000", NULL };

/* The cluster with group "talk", two members per node, a few rounds. */
static void
conversation(struct cl_peer *ps, int *sent)
{
	cl_up_env(&cl, 3, NULL, node_env);
	ck_assert_int_eq(itx_create(cl.node[0].port, "talk"), 201);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(cl_peer_join(&ps[i], cl.node[i % 3].port, "talk", i % 3), 101);
	ck_assert_int_eq(cl_peers_hello(ps, N, WAIT_MS), 0);
	for (int r = 0; r < 3; r++)
		cl_send_round(ps, N, sent);
	ck_assert(cl_wait_round(ps, N, sent, WAIT_MS));
}

/* Only the members on node 0 send while Redis is away. */
static void
node0_sends(struct cl_peer *ps, int *sent)
{
	char body[48];

	for (int i = 0; i < N; i += 3) {
		snprintf(body, sizeof(body), "m-%d-%d", i, sent[i]++);
		ck_assert_int_eq(it_ws_send_text(ps[i].ws, body), 0);
	}
}

/* Members that sent nothing while Redis was away have no reason to be
 * closed: the history covers whatever they may have missed. */
static void
bystanders_stayed(const struct cl_peer *ps, const char *why)
{
	for (int i = 0; i < N; i++)
		if (i % 3 != 0)
			ck_assert_msg(ps[i].close_code == 0, "%s: peer %d on node %d, which "
			    "sent nothing meanwhile, was closed %d \"%s\"", why, i, ps[i].node,
			    ps[i].close_code, ps[i].close_reason);
}

static void
free_peers(struct cl_peer *ps)
{
	for (int i = 0; i < N; i++)
		cl_peer_free(&ps[i]);
}

START_TEST(redis_paused_mid_conversation_then_resumed)
{
	struct cl_peer ps[N];
	int sent[N] = { 0 };

	conversation(ps, sent);
	ck_assert_int_eq(rf_pause(cl.rf), 0);
	node0_sends(ps, sent);
	expect_503_everywhere("paused");
	cl_pump(ps, N, NULL, NULL, 0);
	ck_assert_int_eq(rf_resume(cl.rf), 0);
	expect_up_everywhere("resumed");
	expect_working(ps, sent, "paused");
	bystanders_stayed(ps, "paused");
	free_peers(ps);
	cl_down(&cl);
}
END_TEST

/* Redis restarted empty lost what the nodes may not all have read, so no
 * node can vouch for its members' history: every member is closed 1013,
 * and what each received is one gap-free order. The group is not lost:
 * it is registered again, and new members talk through every node. */
START_TEST(redis_killed_mid_conversation_and_restarted_empty)
{
	struct cl_peer ps[N];
	struct cl_peers all = { ps, N };
	int sent[N] = { 0 }, fsent[3] = { 0 };
	struct cl_peer fresh[3];
	char *breach;

	conversation(ps, sent);
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	node0_sends(ps, sent);
	expect_503_everywhere("killed");
	cl_pump(ps, N, NULL, NULL, 0);
	ck_assert_int_eq(rf_restart(cl.rf), 0);
	expect_up_everywhere("restarted");
	cl_pump(ps, N, cl_all_closed, &all, WAIT_MS);
	for (int i = 0; i < N; i++)
		ck_assert_msg(ps[i].close_code == 1013, "restarted empty: peer %d on node %d "
		    "closed %d \"%s\", want 1013", i, ps[i].node, ps[i].close_code,
		    ps[i].close_reason);
	breach = cl_check_no_gap(ps, N, sent);
	ck_assert_msg(breach == NULL, "restarted empty: %s", breach);
	/* The group was registered again. */
	ck_assert_int_eq(itx_create(cl.node[2].port, "talk"), 400);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cl_peer_join(&fresh[i], cl.node[i].port, "talk", i), 101);
	ck_assert_int_eq(cl_peers_hello(fresh, 3, WAIT_MS), 0);
	cl_send_round(fresh, 3, fsent);
	cl_expect_round(fresh, 3, fsent, WAIT_MS, "restarted empty, new members");
	for (int i = 0; i < 3; i++)
		cl_peer_free(&fresh[i]);
	free_peers(ps);
	cl_down(&cl);
}
END_TEST

START_TEST(subscriber_connections_dropped_by_redis_leave_no_gap)
{
	struct cl_peer ps[N];
	int sent[N] = { 0 };
	char reply[64];

	conversation(ps, sent);
	for (int k = 0; k < 3; k++) {
		for (int r = 0; r < 5; r++)
			cl_send_round(ps, N, sent);
		ck_assert_int_eq(rf_command(cl.rf, "CLIENT KILL TYPE pubsub", reply,
		    sizeof(reply)), 0);
		ck_assert_msg(reply[0] == ':', "CLIENT KILL answered %s", reply);
		for (int r = 0; r < 5; r++)
			cl_send_round(ps, N, sent);
		cl_pump(ps, N, NULL, NULL, 0);
	}
	cl_expect_round(ps, N, sent, WAIT_MS, "after three pubsub kills");
	for (int i = 0; i < N; i++)
		ck_assert_msg(ps[i].close_code == 0, "peer %d closed %d \"%s\"; the history "
		    "holds everything it missed", i, ps[i].close_code, ps[i].close_reason);
	free_peers(ps);
	cl_down(&cl);
}
END_TEST

START_TEST(redis_unreachable_at_start_then_appearing)
{
	struct it_ws *a, *b;
	char body[256];
	int st;

	memset(&cl, 0, sizeof(cl));
	ck_assert_ptr_nonnull(cl.rf = rf_start(NULL));
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	cl_url(cl.url, sizeof(cl.url), rf_port(cl.rf), NULL);
	cl.n = 2;
	for (int i = 0; i < cl.n; i++)
		cl_node_start(&cl.node[i], cl.url, NULL);
	st = cl_healthz(cl.node[0].port, body, sizeof(body));
	ck_assert_msg(st == 503 && strncmp(body, "redis: ", 7) == 0, "/healthz %d \"%s\"",
	    st, body);
	expect_503_everywhere("unreachable at start");
	ck_assert_int_eq(rf_restart(cl.rf), 0);
	expect_up_everywhere("appeared");
	ck_assert_int_eq(itx_create(cl.node[0].port, "late"), 201);
	ck_assert_ptr_nonnull(a = itx_join(cl.node[0].port, "late", NULL));
	ck_assert_ptr_nonnull(b = itx_join(cl.node[1].port, "late", NULL));
	ck_assert_int_eq(it_ws_send_wait(a, "across", b, NULL, WAIT_MS), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_int_eq(it_ws_close(b), 0);
	cl_down(&cl);
}
END_TEST

static void
expect_not_in_stats(int port, const char *secret)
{
	struct it_response r;

	ck_assert_int_eq(it_request(port, "GET", "/stats", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.body, secret) == NULL, "/stats shows the password");
	it_response_free(&r);
}

START_TEST(wrong_password_is_a_clear_503_and_the_right_one_works)
{
	static const char pw[] = "s3cret-pw-91";
	static const char bad[] = "not-the-pw-42";
	char url[160], body[256];
	char envurl[200], envpw[64];
	const char *env_both[] = { envurl, envpw, NULL };
	struct cl_node wrong, right, fromenv;
	int st;

	memset(&cl, 0, sizeof(cl));
	ck_assert_ptr_nonnull(cl.rf = rf_start(pw));

	cl_url(url, sizeof(url), rf_port(cl.rf), bad);
	cl_node_start(&wrong, url, NULL);
	ck_assert_msg(cl_wait_healthz(wrong.port, 503, WAIT_MS) == 0, "wrong password: "
	    "/healthz never 503");
	st = cl_healthz(wrong.port, body, sizeof(body));
	ck_assert_msg(st == 503 && strncmp(body, "redis: ", 7) == 0 &&
	    strstr(body, bad) == NULL, "/healthz %d \"%s\"", st, body);
	ck_assert_int_eq(itx_create(wrong.port, "x"), 503);
	expect_not_in_stats(wrong.port, bad);

	/* The password in the URL, and (with the URL from the environment)
	 * from GROUPCHAT_REDIS_PASSWORD. */
	cl_url(url, sizeof(url), rf_port(cl.rf), pw);
	cl_node_start(&right, url, NULL);
	snprintf(envurl, sizeof(envurl), "GROUPCHAT_REDIS=redis://127.0.0.1:%d",
	    rf_port(cl.rf));
	snprintf(envpw, sizeof(envpw), "GROUPCHAT_REDIS_PASSWORD=%s", pw);
	cl_node_start(&fromenv, NULL, env_both);
	ck_assert_int_eq(cl_wait_healthz(right.port, 200, WAIT_MS), 0);
	ck_assert_int_eq(cl_wait_healthz(fromenv.port, 200, WAIT_MS), 0);
	ck_assert_int_eq(itx_create(right.port, "x"), 201);
	ck_assert_int_eq(itx_create(fromenv.port, "x"), 400);
	expect_not_in_stats(right.port, pw);
	expect_not_in_stats(fromenv.port, pw);

	/* Still 503, still alive, and it says why in its log. */
	ck_assert_int_eq(cl_healthz(wrong.port, NULL, 0), 503);
	cl_node_term(&wrong);
	ck_assert_msg(strstr(it_proc_stderr(wrong.p), "WRONGPASS") != NULL,
	    "no log line naming WRONGPASS; stderr: %s", it_proc_stderr(wrong.p));
	ck_assert_msg(strstr(it_proc_stderr(wrong.p), bad) == NULL, "the log shows the password");
	cl_node_term(&right);
	cl_node_term(&fromenv);
	ck_assert_msg(strstr(it_proc_stderr(right.p), pw) == NULL &&
	    strstr(it_proc_stderr(fromenv.p), pw) == NULL, "the log shows the password");
	cl_node_free(&wrong);
	cl_node_free(&right);
	cl_node_free(&fromenv);
	rf_stop(cl.rf);
}
END_TEST

/*
 * The fixture's redis-server logs to a file nobody has to read: one that
 * logged into a pipe the test no longer read (after its ready line)
 * blocked in write(2) once the pipe held 64 KiB, and answered nothing.
 */
START_TEST(a_chatty_redis_is_never_blocked_by_its_unread_log)
{
	static const char *const debug[] = { "--enable-debug-command", "yes", NULL };
	struct redis_fixture *rf = rf_start_args(NULL, debug);
	char cmd[480], out[64];
	int i;

	ck_assert_ptr_nonnull(rf);
	snprintf(cmd, sizeof(cmd), "DEBUG LOG %0400d", 0);
	for (i = 0; i < 400; i++)               /* about 180 KB of log */
		ck_assert_msg(rf_command(rf, cmd, out, sizeof(out)) == 0 &&
		    strcmp(out, "+OK") == 0, "log line %d not answered: \"%s\"", i, out);
	rf_stop(rf);
}
END_TEST

static Suite *
cluster_redis_suite(void)
{
	Suite *s = suite_create("it_cluster_redis");
	TCase *tc = tcase_create("redis");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, redis_paused_mid_conversation_then_resumed);
	tcase_add_test(tc, redis_killed_mid_conversation_and_restarted_empty);
	tcase_add_test(tc, subscriber_connections_dropped_by_redis_leave_no_gap);
	tcase_add_test(tc, redis_unreachable_at_start_then_appearing);
	tcase_add_test(tc, wrong_password_is_a_clear_503_and_the_right_one_works);
	tcase_add_test(tc, a_chatty_redis_is_never_blocked_by_its_unread_log);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(cluster_redis_suite());
}
