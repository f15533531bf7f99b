/*
 * it_cluster_haproxy: the cluster end to end behind HAProxy, as README's
 * "Running a cluster" sets it up: a redis-server, three groupchat
 * processes and haproxy running docs/haproxy.cfg with its ports (8080
 * in front, 8081-8083 for the nodes) replaced by free loopback ports.
 * Create, joins, messages and delete all go through HAProxy's one port;
 * round-robin spreads the members over all three nodes; a node stopped
 * behind it costs no request.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/itest.h"
#include "support/itest_cluster.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

#define WAIT_MS (3 * IT_TIMEOUT_MS)
#define N 6
#define CLOSE_BOUND_MS 1000
#define CLOSE_BOUND_SANITIZED_MS 3000

static struct cl_cluster cl;

/* A loopback port nothing listens on (it_free_port); none fails the test. */
static int
free_port(void)
{
	int port = it_free_port();

	ck_assert_int_gt(port, 0);
	return port;
}

/* Replaces every "127.0.0.1:<from>" in s (in place, room permitting). */
static void
port_swap(char *s, size_t cap, int from, int to)
{
	char needle[32], repl[32], *at;

	snprintf(needle, sizeof(needle), "127.0.0.1:%d", from);
	snprintf(repl, sizeof(repl), "127.0.0.1:%d", to);
	while ((at = strstr(s, needle)) != NULL) {
		size_t tail = strlen(at + strlen(needle));
		ck_assert_uint_lt(strlen(s) + strlen(repl), cap);
		memmove(at + strlen(repl), at + strlen(needle), tail + 1);
		memcpy(at, repl, strlen(repl));
	}
}

/* docs/haproxy.cfg, found beside the build tree (the tests run from the
 * repository root), with the ports replaced; written to a temporary file
 * whose path goes to out. */
static void
write_config(char *out, size_t n, int front)
{
	static char cfg[16384];
	FILE *f = fopen("docs/haproxy.cfg", "r");
	size_t len;
	int fd;

	ck_assert_msg(f != NULL, "docs/haproxy.cfg not found (run from the repository root)");
	len = fread(cfg, 1, sizeof(cfg) - 1, f);
	fclose(f);
	cfg[len] = '\0';
	ck_assert_ptr_nonnull(strstr(cfg, "127.0.0.1:8080"));
	port_swap(cfg, sizeof(cfg), 8080, front);
	for (int i = 0; i < 3; i++) {
		char needle[32];
		snprintf(needle, sizeof(needle), "127.0.0.1:%d", 8081 + i);
		ck_assert_msg(strstr(cfg, needle) != NULL, "docs/haproxy.cfg lacks %s", needle);
		port_swap(cfg, sizeof(cfg), 8081 + i, cl.node[i].port);
	}
	snprintf(out, n, "/tmp/groupchat-haproxy-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(out), 0);
	ck_assert_int_eq(write(fd, cfg, strlen(cfg)), (ssize_t)strlen(cfg));
	close(fd);
}

/* haproxy -db -f cfg, dying with the test; its output goes to log. */
static pid_t
haproxy_start(const char *cfg, const char *log)
{
	pid_t parent = getpid(), pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || fd == -1)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("haproxy", "haproxy", "-db", "-f", cfg, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int
members_on(int port)
{
	long long v = -1;

	ck_assert_int_eq(itx_stats_total(port, "members", &v), 0);
	return (int)v;
}

START_TEST(create_join_talk_delete_through_haproxy_round_robin)
{
	struct cl_peer ps[N];
	struct cl_peers a = { ps, N };
	int sent[N] = { 0 }, front, st, bound;
	char cfg[64], log[80], body[128];
	pid_t hp;
	int64_t t200;

	cl_up(&cl, 3, NULL);
	front = free_port();
	write_config(cfg, sizeof(cfg), front);
	snprintf(log, sizeof(log), "%s.log", cfg);
	hp = haproxy_start(cfg, log);
	if (cl_wait_healthz(front, 200, WAIT_MS) != 0) {
		char said[2048] = "";
		FILE *f = fopen(log, "r");
		if (f != NULL) {
			said[fread(said, 1, sizeof(said) - 1, f)] = '\0';
			fclose(f);
		}
		unlink(cfg);
		unlink(log);
		ck_abort_msg("no /healthz 200 through haproxy on port %d; haproxy said: %s",
		    front, said);
	}

	ck_assert_int_eq(itx_create(front, "lobby"), 201);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(itx_create(front, "lobby"), 400);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(cl_peer_join(&ps[i], front, "lobby", -1), 101);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(members_on(cl.node[i].port) >= 1, "round-robin left node %d "
		    "without a member", i);
	ck_assert_int_eq(cl_peers_hello(ps, N, WAIT_MS), 0);
	for (int r = 0; r < 10; r++)
		cl_send_round(ps, N, sent);
	cl_expect_round(ps, N, sent, WAIT_MS, "through haproxy");

	/* A node stopped behind the balancer costs no request. */
	cl_node_term(&cl.node[2]);
	for (int i = 0; i < 6; i++) {
		char id[24];
		snprintf(id, sizeof(id), "more-%d", i);
		ck_assert_msg((st = itx_create(front, id)) == 201, "create %s with node 3 "
		    "stopped: %d", id, st);
	}

	ck_assert_int_eq(itx_delete(front, "lobby", body, sizeof(body)), 200);
	t200 = it_now_ms();
	ck_assert(cl_pump(ps, N, cl_all_closed, &a, WAIT_MS));
	bound = itx_sanitized() ? CLOSE_BOUND_SANITIZED_MS : CLOSE_BOUND_MS;
	for (int i = 0; i < N; i++) {
		/* Node 3's members got 1001 when it stopped. */
		int want = ps[i].close_code == 1001 ? 1001 : 1000;
		ck_assert_msg(ps[i].close_code == want, "peer %d: close %d \"%s\"", i,
		    ps[i].close_code, ps[i].close_reason);
		if (want == 1000)
			ck_assert_msg(ps[i].closed_at - t200 <= bound, "peer %d closed %lld ms "
			    "after the 200", i, (long long)(ps[i].closed_at - t200));
		cl_peer_free(&ps[i]);
	}
	ck_assert_ptr_null(itx_join(front, "lobby", &st));
	ck_assert_int_eq(st, 400);

	ck_assert_int_eq(kill(hp, SIGTERM), 0);
	ck_assert_int_eq(waitpid(hp, &st, 0), hp);
	unlink(cfg);
	unlink(log);
	cl_down(&cl);
}
END_TEST

static Suite *
cluster_haproxy_suite(void)
{
	Suite *s = suite_create("it_cluster_haproxy");
	TCase *tc = tcase_create("haproxy");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, create_join_talk_delete_through_haproxy_round_robin);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(cluster_haproxy_suite());
}
