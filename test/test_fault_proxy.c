/*
 * test_fault_proxy: the fault proxy over loopback, between a client
 * socket and a listening socket of the test's own (the "target"): plain
 * relay both ways, delay per direction, black-hole per direction with
 * the connection kept, pause and resume with nothing lost, cut (both
 * sides see the end, new connections work), reset, and a refused target.
 */
#include "support/fault_proxy.h"
#include "support/itest.h"
#include "support/test_main.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS IT_TIMEOUT_MS
/* How long "nothing arrives" is watched: a bound on a negative, not a
 * synchronisation. */
#define QUIET_MS 300

struct pair {
	struct fault_proxy *fp;
	int lfd;  /* the target's listening socket */
	int cfd;  /* the client's end, through the proxy */
	int tfd;  /* the target's end */
};

static int
listen_any(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A new client connection through the proxy and the target's end of it. */
static void
connect_pair(struct pair *p)
{
	struct pollfd pl = { .fd = p->lfd, .events = POLLIN };

	ck_assert_int_ge(p->cfd = it_connect(fp_port(p->fp)), 0);
	ck_assert_int_eq(poll(&pl, 1, WAIT_MS), 1);
	ck_assert_int_ge(p->tfd = accept(p->lfd, NULL, NULL), 0);
}

static void
up(struct pair *p)
{
	int port;

	p->lfd = listen_any(&port);
	ck_assert_ptr_nonnull(p->fp = fp_start(port));
	ck_assert_int_gt(fp_port(p->fp), 0);
	connect_pair(p);
}

static void
down(struct pair *p)
{
	fp_stop(p->fp);
	close(p->cfd);
	close(p->tfd);
	close(p->lfd);
}

static void
put(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads exactly strlen(want) bytes within timeout_ms and compares.
 * 0 if they came and match, -1 on EOF or timeout, 1 on other bytes. */
static int
get(int fd, const char *want, int timeout_ms)
{
	size_t n = strlen(want), got = 0;
	char buf[4096];
	int64_t deadline = it_deadline(timeout_ms);

	ck_assert_uint_lt(n, sizeof(buf));
	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, it_left_ms(deadline)) != 1)
			return -1;
		if ((r = read(fd, buf + got, n - got)) <= 0)
			return -1;
		got += (size_t)r;
	}
	return memcmp(buf, want, n) == 0 ? 0 : 1;
}

/* Whether fd stays silent (no byte, no EOF) for ms. */
static int
quiet(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 0;
}

/* Whether fd reaches EOF (or a reset) within timeout_ms. */
static int
ends(int fd, int timeout_ms)
{
	int64_t deadline = it_deadline(timeout_ms);
	char buf[256];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, it_left_ms(deadline)) != 1)
			return 0;
		if (read(fd, buf, sizeof(buf)) <= 0)
			return 1;
	}
}

struct conns_want {
	struct fault_proxy *fp;
	size_t n;
};

static int
conns_are(void *arg)
{
	struct conns_want *w = arg;

	return fp_conns(w->fp) == w->n;
}

static int
wait_conns(struct fault_proxy *fp, size_t n)
{
	struct conns_want w = { fp, n };

	return it_wait_until(conns_are, &w, WAIT_MS);
}

struct bytes_want {
	struct fault_proxy *fp;
	int dirs;
	size_t n;
};

static int
bytes_are(void *arg)
{
	struct bytes_want *w = arg;

	return fp_bytes(w->fp, w->dirs) == w->n;
}

/* The proxy counts a write after it returns, maybe after the reader
 * woke: wait for the count. */
static int
wait_bytes(struct fault_proxy *fp, int dirs, size_t n)
{
	struct bytes_want w = { fp, dirs, n };

	return it_wait_until(bytes_are, &w, WAIT_MS);
}

START_TEST(relays_both_ways)
{
	struct pair p;

	up(&p);
	put(p.cfd, "PING\r\n");
	ck_assert_int_eq(get(p.tfd, "PING\r\n", WAIT_MS), 0);
	put(p.tfd, "+PONG\r\n");
	ck_assert_int_eq(get(p.cfd, "+PONG\r\n", WAIT_MS), 0);
	ck_assert(wait_bytes(p.fp, FP_UP, 6));
	ck_assert(wait_bytes(p.fp, FP_DOWN, 7));
	ck_assert_uint_eq(fp_bytes(p.fp, FP_BOTH), 13);
	ck_assert_uint_eq(fp_conns(p.fp), 1);
	down(&p);
}
END_TEST

START_TEST(delay_holds_one_direction_only)
{
	struct pair p;
	int64_t t0;

	up(&p);
	fp_delay(p.fp, FP_UP, 400);
	t0 = it_now_ms();
	put(p.cfd, "late");
	put(p.tfd, "prompt");
	ck_assert_int_eq(get(p.cfd, "prompt", WAIT_MS), 0);
	ck_assert_int_eq(get(p.tfd, "late", WAIT_MS), 0);
	ck_assert_int_ge(it_now_ms() - t0, 400);
	/* Order holds across a change of delay. */
	put(p.cfd, "a");
	fp_delay(p.fp, FP_UP, 0);
	put(p.cfd, "b");
	ck_assert_int_eq(get(p.tfd, "ab", WAIT_MS), 0);
	down(&p);
}
END_TEST

START_TEST(blackhole_drops_silently_and_keeps_the_connection)
{
	struct pair p;

	up(&p);
	fp_blackhole(p.fp, FP_DOWN, 1);
	put(p.tfd, "+lost\r\n");
	put(p.cfd, "still-up");
	ck_assert_int_eq(get(p.tfd, "still-up", WAIT_MS), 0);
	ck_assert(quiet(p.cfd, QUIET_MS));
	ck_assert_uint_eq(fp_conns(p.fp), 1);
	ck_assert_uint_eq(fp_bytes(p.fp, FP_DOWN), 0);
	fp_reset(p.fp);
	put(p.tfd, "+back");
	/* What was dropped stays dropped. */
	ck_assert_int_eq(get(p.cfd, "+back", WAIT_MS), 0);

	fp_blackhole(p.fp, FP_UP, 1);
	put(p.cfd, "nowhere");
	put(p.tfd, "here");
	ck_assert_int_eq(get(p.cfd, "here", WAIT_MS), 0);
	ck_assert(quiet(p.tfd, QUIET_MS));
	fp_blackhole(p.fp, FP_UP, 0);
	put(p.cfd, "again");
	ck_assert_int_eq(get(p.tfd, "again", WAIT_MS), 0);
	down(&p);
}
END_TEST

START_TEST(pause_holds_everything_and_resume_delivers_it_in_order)
{
	struct pair p;
	struct pollfd pl;
	int cfd2;

	up(&p);
	fp_pause(p.fp, FP_BOTH);
	put(p.cfd, "one,");
	put(p.tfd, "back,");
	put(p.cfd, "two");
	ck_assert(quiet(p.tfd, QUIET_MS));
	ck_assert(quiet(p.cfd, 0));
	/* A new connection waits in the backlog while paused. */
	ck_assert_int_ge(cfd2 = it_connect(fp_port(p.fp)), 0);
	pl = (struct pollfd){ .fd = p.lfd, .events = POLLIN };
	ck_assert_int_eq(poll(&pl, 1, QUIET_MS), 0);
	fp_resume(p.fp, FP_BOTH);
	ck_assert_int_eq(get(p.tfd, "one,two", WAIT_MS), 0);
	ck_assert_int_eq(get(p.cfd, "back,", WAIT_MS), 0);
	ck_assert_int_eq(poll(&pl, 1, WAIT_MS), 1);
	ck_assert(wait_conns(p.fp, 2));
	close(cfd2);
	ck_assert(wait_conns(p.fp, 1));
	down(&p);
}
END_TEST

START_TEST(cut_ends_both_sides_and_new_connections_work)
{
	struct pair p;

	up(&p);
	fp_delay(p.fp, FP_DOWN, 10000);
	put(p.tfd, "never");
	fp_cut(p.fp);
	ck_assert_uint_eq(fp_conns(p.fp), 0);
	ck_assert(ends(p.cfd, WAIT_MS));
	ck_assert(ends(p.tfd, WAIT_MS));
	close(p.cfd);
	close(p.tfd);
	fp_reset(p.fp);
	connect_pair(&p);
	ck_assert(wait_conns(p.fp, 1));
	put(p.cfd, "fresh");
	ck_assert_int_eq(get(p.tfd, "fresh", WAIT_MS), 0);
	/* A side that closes ends the pair. */
	close(p.tfd);
	ck_assert(ends(p.cfd, WAIT_MS));
	ck_assert(wait_conns(p.fp, 0));
	p.tfd = -1;
	down(&p);
}
END_TEST

START_TEST(a_refused_target_closes_the_client)
{
	struct fault_proxy *fp;
	int lfd, port, fd;

	lfd = listen_any(&port);
	close(lfd);
	ck_assert_ptr_nonnull(fp = fp_start(port));
	ck_assert_int_ge(fd = it_connect(fp_port(fp)), 0);
	ck_assert(ends(fd, WAIT_MS));
	close(fd);
	ck_assert_uint_eq(fp_conns(fp), 0);
	fp_stop(fp);
}
END_TEST

static Suite *
fault_proxy_suite(void)
{
	Suite *s = suite_create("fault_proxy");
	TCase *tc = tcase_create("proxy");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, relays_both_ways);
	tcase_add_test(tc, delay_holds_one_direction_only);
	tcase_add_test(tc, blackhole_drops_silently_and_keeps_the_connection);
	tcase_add_test(tc, pause_holds_everything_and_resume_delivers_it_in_order);
	tcase_add_test(tc, cut_ends_both_sides_and_new_connections_work);
	tcase_add_test(tc, a_refused_target_closes_the_client);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(fault_proxy_suite());
}
