/*
 * it_accept: a burst of connections larger than every worker, queue and
 * CivetWeb's default accept backlog together is held by the kernel and
 * served once workers come free, rather than having its SYNs dropped
 * (a dropped SYN is resent only after 1 s, then 3 s: the 1 s tail of
 * every join storm before the listen backlog and connection queue were
 * sized to the server). The server starts in-process with one member
 * slot, so 33 workers; every connection here is raw TCP on 127.0.0.1.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "groupchat/config.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/test_main.h"

/* More than 33 workers + CivetWeb's default queue (20) and backlog (200),
 * fewer than 1024 descriptors for both ends together. */
#define BURST 400

/* Every connection of the burst completes its handshake within this. A
 * dropped SYN's first retry comes 1 s later, and the workers stay taken
 * by silent connections for the request timeout (10 s). */
#define CONNECT_MS 3000

/* Starts a non-blocking connect to 127.0.0.1:port; the fd. */
static int
connect_start(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
	    errno == EINPROGRESS, "connect: %s", strerror(errno));
	return fd;
}

/* Waits until every fd in fds is connected or the deadline passes;
 * returns how many are. */
static int
connect_wait(const int *fds, int n, int timeout_ms)
{
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	int64_t deadline = it_deadline(timeout_ms);
	int done = 0, err;
	socklen_t len;

	ck_assert_ptr_nonnull(p);
	for (int i = 0; i < n; i++) {
		p[i].fd = fds[i];
		p[i].events = POLLOUT;
	}
	while (done < n && it_left_ms(deadline) > 0) {
		if (poll(p, (nfds_t)n, it_left_ms(deadline)) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			len = sizeof(err);
			ck_assert_int_eq(getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
			ck_assert_msg(err == 0, "connection %d: %s", i, strerror(err));
			p[i].fd = -1;
			done++;
		}
	}
	free(p);
	return done;
}

/* Sends a GET /healthz on fd and checks that a 200 comes back. */
static void
expect_served(int fd, int timeout_ms)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	int64_t deadline = it_deadline(timeout_ms);
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

START_TEST(a_burst_past_every_worker_waits_in_the_kernel_and_is_served)
{
	struct config cfg;
	int fds[BURST], port, connected;

	it_config(&cfg);
	cfg.max_clients = 1;
	port = itf_up(&cfg);
	/* All at once: the first 33 take every worker and say nothing. */
	for (int i = 0; i < BURST; i++)
		fds[i] = connect_start(port);
	connected = connect_wait(fds, BURST, CONNECT_MS);
	ck_assert_msg(connected == BURST, "%d of %d connections completed in %d ms",
	    connected, BURST, CONNECT_MS);
	/* Free the workers: each sees its peer go and takes the next. */
	for (int i = 0; i < BURST - 1; i++)
		close(fds[i]);
	expect_served(fds[BURST - 1], IT_TIMEOUT_MS);
	close(fds[BURST - 1]);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_accept");
	TCase *tc = tcase_create("accept");

	tcase_add_checked_fixture(tc, NULL, itf_down);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, a_burst_past_every_worker_waits_in_the_kernel_and_is_served);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
