/*
 * it_header_deadline: a request's head must be whole within
 * SERVER_HEADER_DEADLINE_MS of the moment a worker starts reading it, in
 * total, however the bytes trickle in; after that the connection ends and
 * the worker is free. So slow headers cannot keep /healthz and the
 * control routes from the workers reserved for HTTP, even when every
 * member slot is taken by a WebSocket member.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "groupchat/config.h"
#include "groupchat/web/server.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

/* What a loaded box may add to the deadline before the close is seen. */
#define MARGIN_MS 2500

/* Between two bytes of a dribbled head: well under the 2 s and 10 s that
 * CivetWeb allows a single read. */
#define DRIBBLE_MS 500

#define PARTIAL "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "

static int port;

static void
teardown(void)
{
	itf_down();
}

/* 1 once fd is at EOF or reset (what the server wrote is dropped). */
static int
closed_by_server(int fd)
{
	char buf[512];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR);
}

/* Sends one byte of header every DRIBBLE_MS until the server closes the
 * connection; the milliseconds from connect to the close, or -1 if it
 * stays open for timeout_ms. */
static int64_t
dribble_until_closed(int timeout_ms)
{
	int64_t t0 = it_now_ms(), deadline = it_deadline(timeout_ms), next;
	int fd = it_connect(port);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(send(fd, PARTIAL, strlen(PARTIAL), MSG_NOSIGNAL), (ssize_t)strlen(PARTIAL));
	next = it_now_ms() + DRIBBLE_MS;
	while (it_left_ms(deadline) > 0) {
		int wait = (int)(next - it_now_ms());
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, wait > 0 ? wait : 0) > 0 && closed_by_server(fd)) {
			close(fd);
			return it_now_ms() - t0;
		}
		if (it_now_ms() >= next) {
			/* The peer may be gone between the poll and the send. */
			if (send(fd, "a", 1, MSG_NOSIGNAL) != 1) {
				close(fd);
				return it_now_ms() - t0;
			}
			next += DRIBBLE_MS;
		}
	}
	close(fd);
	return -1;
}

START_TEST(a_dribbled_head_is_closed_at_the_deadline)
{
	int64_t ms;

	port = itf_up(NULL);
	ms = dribble_until_closed(SERVER_HEADER_DEADLINE_MS + 15000);
	ck_assert_msg(ms >= 0, "a head dribbled for 18 s still holds its worker");
	ck_assert_msg(ms <= SERVER_HEADER_DEADLINE_MS + MARGIN_MS,
	    "closed after %lld ms, deadline %d ms", (long long)ms, SERVER_HEADER_DEADLINE_MS);
	ck_assert_msg(ms >= SERVER_HEADER_DEADLINE_MS - 100,
	    "closed after %lld ms, before the deadline", (long long)ms);
}
END_TEST

/* Opens n connections that each send part of a head and then nothing. */
static void
open_stalled(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		fds[i] = it_connect(port);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(send(fds[i], PARTIAL, strlen(PARTIAL), MSG_NOSIGNAL),
		    (ssize_t)strlen(PARTIAL));
	}
}

/* More stalled heads than workers kept for HTTP. */
#define STALLED (SERVER_HTTP_RESERVE + 8)

#define MEMBERS 4

START_TEST(full_house_and_stalled_heads_still_leave_http_answered)
{
	struct config cfg;
	struct it_ws *m[MEMBERS];
	struct it_response r;
	int fds[STALLED];
	int64_t t0, ms;

	it_config(&cfg);
	cfg.max_clients = MEMBERS;
	port = itf_up(&cfg);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	for (int i = 0; i < MEMBERS; i++)
		m[i] = itf_join(port, "room");
	/* Every member slot taken: the control routes answer at once. */
	ck_assert_ptr_null(itx_join(port, "room", NULL));
	ck_assert_int_eq(it_request(port, "GET", "/healthz", &r), 0);
	ck_assert_int_eq(r.status, 200);
	it_response_free(&r);
	ck_assert_int_eq(itx_create(port, "other"), 201);
	ck_assert_int_eq(itx_delete(port, "other", NULL, 0), 200);
	/* Then every HTTP worker takes a head that never ends, and more
	 * wait behind them: /healthz waits its turn, but only until the
	 * deadline frees the workers. */
	t0 = it_now_ms();
	open_stalled(fds, STALLED);
	ck_assert_int_eq(it_http(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", &r, 2 * SERVER_HEADER_DEADLINE_MS + 15000), 0);
	ms = it_now_ms() - t0;
	ck_assert_int_eq(r.status, 200);
	it_response_free(&r);
	ck_assert_msg(ms <= SERVER_HEADER_DEADLINE_MS + MARGIN_MS,
	    "/healthz answered after %lld ms behind %d stalled heads", (long long)ms, STALLED);
	ck_assert_msg(ms >= SERVER_HEADER_DEADLINE_MS - 100,
	    "/healthz answered after %lld ms: the stalled heads held no worker",
	    (long long)ms);
	ck_assert_int_eq(itx_create(port, "late"), 201);
	ck_assert_int_eq(itx_delete(port, "late", NULL, 0), 200);
	/* The members kept their slots and still chat. */
	ck_assert_int_eq(it_ws_send_wait(m[0], "still here", m[MEMBERS - 1], NULL,
	    IT_TIMEOUT_MS), 0);
	for (int i = 0; i < STALLED; i++)
		close(fds[i]);
	for (int i = 0; i < MEMBERS; i++)
		ck_assert_int_eq(it_ws_close(m[i]), 0);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_header_deadline");
	TCase *tc = tcase_create("deadline");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_dribbled_head_is_closed_at_the_deadline);
	tcase_add_test(tc, full_house_and_stalled_heads_still_leave_http_answered);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
