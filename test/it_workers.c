/*
 * it_workers: CivetWeb's workers as patches 0020 and 0021 make them. A
 * server with room for 10,000 members starts a few dozen threads, not a
 * worker per member, and members past the workers it started still join
 * and hear each other; a trickle of connections, one after the other, is
 * served by the worker that went idle last rather than by every idle
 * worker in turn; workers left idle beyond the bound (256) end, and their
 * slots take new workers when connections need them again. The server runs in-process, so its threads are this
 * process's: CivetWeb names its workers "civetweb-worker", and a worker
 * serving a WebSocket "civetweb-wsock".
 *
 * Who touches what: each test's forked child alone (its server, its
 * sockets, its reads of /proc/self/task).
 */
#include <check.h>
#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "groupchat/config.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

/* What an idle server may hold in threads at most (issue 20), with room
 * for the test's own. */
#define THREADS_IDLE_MAX 64

/* Members joined in the first test: more than the workers prespawned
 * (32, src/web/server.c), fewer than 1024 descriptors for both ends. */
#define MEMBERS 48

/* Connections made one after the other in the second test, and the
 * workers they may wake between them: the worker back from a
 * connection is on top of the idle stack unless the next connection came
 * before it got there, so a few at most (1 or 2 on a quiet machine, 5
 * seen under ThreadSanitizer on a machine kept busy); handed out in
 * arrival order, every one of the 33 idle workers would serve in turn. */
#define TRICKLE 40
#define TRICKLE_WORKERS_MAX 8

/* Idle workers kept (WORKERS_IDLE, src/web/server.c), and the connections
 * held at once in the third test: more than that, fewer than 1024
 * descriptors for both ends. */
#define IDLE_KEPT 256
#define HELD 300

/* One thread of this process: its id and voluntary context switches. */
struct task {
	long tid;
	long switches;
};

/* Reads /proc/self/task/TID/FILE into buf (NUL-terminated); 0 or -1. */
static int
task_read(long tid, const char *file, char *buf, size_t len)
{
	char path[64];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/%s", tid, file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

/* Lists this process's threads into out (at most max; all of them when
 * workers is 0, CivetWeb's workers only otherwise); returns how many
 * there are, which may exceed max. */
static int
tasks(struct task *out, int max, int workers)
{
	char buf[2048], *p;
	struct dirent *e;
	int n = 0;
	DIR *d;
	long tid;

	ck_assert_ptr_nonnull(d = opendir("/proc/self/task"));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		tid = strtol(e->d_name, NULL, 10);
		/* A thread may end between readdir and the read. */
		if (workers && (task_read(tid, "comm", buf, sizeof(buf)) == -1 ||
		    (strcmp(buf, "civetweb-worker\n") != 0 &&
		    strcmp(buf, "civetweb-wsock\n") != 0)))
			continue;
		if (n < max) {
			out[n].tid = tid;
			out[n].switches = -1;
			if (task_read(tid, "status", buf, sizeof(buf)) == 0 &&
			    (p = strstr(buf, "voluntary_ctxt_switches:")) != NULL)
				out[n].switches = strtol(p + 24, NULL, 10);
		}
		n++;
	}
	closedir(d);
	return n;
}

/* it_wait_until's predicate: at least *arg CivetWeb workers exist. */
static int
workers_at_least(void *arg)
{
	return tasks(NULL, 0, 1) >= *(const int *)arg;
}

/* it_wait_until's predicate: at most *arg CivetWeb workers exist. */
static int
workers_at_most(void *arg)
{
	return tasks(NULL, 0, 1) <= *(const int *)arg;
}

/* Sends a GET /healthz on fd, an open connection, and checks that a 200
 * comes back. */
static void
expect_served(int fd)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	int64_t deadline = it_deadline(IT_TIMEOUT_MS);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[512];
	size_t got = 0;
	ssize_t n;

	ck_assert_int_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	while (got < 12 && it_left_ms(deadline) > 0) {
		if (poll(&p, 1, it_left_ms(deadline)) <= 0)
			continue;
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		ck_assert_msg(n > 0, "connection ended unanswered");
		got += (size_t)n;
	}
	buf[got] = '\0';
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "got \"%s\"", buf);
}

/* Sends one GET /healthz on a connection of its own and reads the reply
 * to the end (the server closes). */
static void
one_request(int port)
{
	struct it_response r;

	ck_assert_int_eq(it_request(port, "GET", "/healthz", &r), 0);
	ck_assert_int_eq(r.status, 200);
	it_response_free(&r);
}

START_TEST(an_idle_server_for_10000_members_has_few_threads_and_joins_past_them)
{
	struct it_ws *m[MEMBERS];
	struct config cfg;
	char cid[8];
	int port, n;

	it_config(&cfg);
	cfg.max_clients = 10000;
	port = itf_up(&cfg);
	/* Before anyone joins: no worker per member (1.15 started 10,032). */
	n = tasks(NULL, 0, 0);
	ck_assert_msg(n <= THREADS_IDLE_MAX, "%d threads idle", n);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	for (int i = 0; i < MEMBERS; i++)
		m[i] = itf_join(port, "room");
	/* Each member holds a worker, so workers were started on demand. */
	n = tasks(NULL, 0, 1);
	ck_assert_msg(n >= MEMBERS, "%d workers for %d members", n, MEMBERS);
	/* The last to join hears itself and the first hears it. */
	ck_assert_int_eq(it_ws_send_wait(m[MEMBERS - 1], "hello", m[MEMBERS - 1], cid,
	    IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_send_wait(m[MEMBERS - 1], "again", m[0], NULL,
	    IT_TIMEOUT_MS), 0);
	for (int i = 0; i < MEMBERS; i++)
		ck_assert_int_eq(it_ws_close(m[i]), 0);
}
END_TEST

START_TEST(a_trickle_of_connections_is_served_by_the_worker_idle_last)
{
	struct task before[64], after[64];
	struct config cfg;
	int port, nb, na, want = 32, woken = 0;

	it_config(&cfg);
	cfg.max_clients = 1;
	port = itf_up(&cfg);
	ck_assert_int_eq(it_wait_until(workers_at_least, &want, IT_TIMEOUT_MS), 1);
	/* One request first, so that the worker serving it (the 33rd,
	 * started for it, or one of the 32) has settled. */
	one_request(port);
	nb = tasks(before, 64, 1);
	ck_assert_int_le(nb, 64);
	for (int i = 0; i < TRICKLE; i++)
		one_request(port);
	na = tasks(after, 64, 1);
	ck_assert_int_le(na, 64);
	/* A worker that served a connection blocked (and so switched) at
	 * least once more; one that stayed idle never woke. */
	for (int i = 0; i < na; i++) {
		int j = 0;

		while (j < nb && before[j].tid != after[i].tid)
			j++;
		if (j == nb || after[i].switches != before[j].switches)
			woken++;
	}
	ck_assert_msg(woken >= 1 && woken <= TRICKLE_WORKERS_MAX,
	    "%d of %d workers woke for %d connections in a row", woken, na, TRICKLE);
}
END_TEST

START_TEST(workers_idle_past_the_bound_end_and_their_slots_serve_again)
{
	struct config cfg;
	int fds[HELD], port, want;

	it_config(&cfg);
	cfg.max_clients = 400;
	port = itf_up(&cfg);
	/* Each connection that says nothing holds a worker (for the request
	 * timeout, 10 s), so HELD of them need HELD workers. */
	for (int i = 0; i < HELD; i++)
		ck_assert_int_ge(fds[i] = it_connect(port), 0);
	want = HELD;
	ck_assert_msg(it_wait_until(workers_at_least, &want, IT_TIMEOUT_MS),
	    "%d workers for %d connections", tasks(NULL, 0, 1), HELD);
	/* They all come back; those beyond the bound end. */
	for (int i = 0; i < HELD; i++)
		close(fds[i]);
	want = IDLE_KEPT;
	ck_assert_msg(it_wait_until(workers_at_most, &want, IT_TIMEOUT_MS),
	    "%d workers left idle", tasks(NULL, 0, 1));
	/* Again: the kept workers and new ones on the ended slots serve. */
	for (int i = 0; i < HELD; i++)
		ck_assert_int_ge(fds[i] = it_connect(port), 0);
	for (int i = 0; i < HELD; i++) {
		expect_served(fds[i]);
		close(fds[i]);
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_workers");
	TCase *tc = tcase_create("workers");

	tcase_add_checked_fixture(tc, NULL, itf_down);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, an_idle_server_for_10000_members_has_few_threads_and_joins_past_them);
	tcase_add_test(tc, a_trickle_of_connections_is_served_by_the_worker_idle_last);
	tcase_add_test(tc, workers_idle_past_the_bound_end_and_their_slots_serve_again);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
