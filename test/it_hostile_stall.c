/*
 * it_hostile_stall: clients that hold on to what they were given, over raw
 * sockets against the real server: frames stopped halfway, messages whose
 * fragments never finish, members closed while stuck mid-frame, and a few
 * hundred idle members. Each case says what the server must do, bounds
 * the time it may take (an allowance for a loaded machine on top of what
 * docs/protocol.md promises) and, where memory is at stake, how much the
 * process may grow; and each checks that the others are still served.
 * Each test starts its own server in its forked child.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "groupchat/config.h"
#include "groupchat/core/thread.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

/* What a loaded two-core machine may add to any bound below. */
#define LOAD_MS 1000

/* A binary frame header announcing 5 payload bytes, then one of them
 * (issue 19's seven bytes). */
static const unsigned char half_frame[7] = { 0x82, 0x85, 0, 0, 0, 0, 0x41 };

static int port;

static void
teardown(void)
{
	itf_down();
}

/* A server with cfg's max_clients and ping_interval, and group "ok". */
static void
up(long max_clients, long ping_interval)
{
	struct config cfg;

	it_config(&cfg);
	cfg.max_clients = max_clients;
	cfg.ping_interval = ping_interval;
	port = itf_up(&cfg);
	ck_assert_int_eq(itx_create(port, "ok"), 201);
}

/* it_wait_until's predicate: one join attempt; a member is kept in *arg. */
static int
try_join(void *arg)
{
	struct it_ws **ws = arg;
	int status;

	*ws = itx_join(port, "ok", &status);
	return *ws != NULL;
}

/* ws is served: what it sends comes back to it. */
static void
expect_served(struct it_ws *ws, const char *what)
{
	ck_assert_msg(it_ws_send_wait(ws, what, ws, NULL, IT_TIMEOUT_MS) == 0,
	    "%s: not served", what);
}

/*
 * Issue 19: with --max-clients 3 --ping-interval 1, three members stopped
 * in half frames with their TCP connections open cannot keep a fourth out
 * past twice the ping interval. docs/protocol.md: a frame's payload must
 * keep coming; a stall of one ping interval closes the connection.
 */
START_TEST(three_clients_stalled_in_half_frames_cannot_keep_a_fourth_out)
{
	struct it_ws *c[3], *fourth = NULL;
	int64_t t0, took;
	int status;

	up(3, 1);
	for (int i = 0; i < 3; i++) {
		c[i] = itf_join(port, "ok");
		ck_assert_int_eq(it_ws_send_raw(c[i], half_frame, sizeof(half_frame)), 0);
	}
	t0 = it_now_ms();
	fourth = itx_join(port, "ok", &status);
	ck_assert_msg(fourth == NULL && status == 503,
	    "the fourth join got %d while three slots were taken", status);
	ck_assert_msg(it_wait_until(try_join, &fourth, 2000 + LOAD_MS + 5000),
	    "the stalled members kept every slot");
	took = it_now_ms() - t0;
	fprintf(stderr, "fourth member admitted %lld ms after the stalls\n",
	    (long long)took);
	ck_assert_msg(took <= 2000 + LOAD_MS, "fourth member admitted after %lld ms",
	    (long long)took);
	/* The stalled connections were closed, not just forgotten. */
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(itx_read_to_eof(it_ws_fd(c[i]), NULL, 0, IT_TIMEOUT_MS) >= 0,
		    "stalled member %d still connected", i);
		it_ws_free(c[i]);
	}
	expect_served(fourth, "the fourth member");
	it_ws_free(fourth);
}
END_TEST

/*
 * Deleting a group closes a member stuck in a half frame with 1000, and
 * its slot is free within a second (the read loop's tick) even with the
 * keepalive off, which also turns the frame deadline off.
 */
START_TEST(a_member_stuck_mid_frame_is_released_by_a_delete)
{
	struct it_ws *c, *next = NULL;
	int64_t t0, took;

	up(1, 0);
	c = itf_join(port, "ok");
	ck_assert_int_eq(it_ws_send_raw(c, half_frame, sizeof(half_frame)), 0);
	ck_assert_int_eq(itx_delete(port, "ok", NULL, 0), 200);
	t0 = it_now_ms();
	ck_assert_int_eq(itx_create(port, "ok"), 201);
	ck_assert_msg(it_wait_until(try_join, &next, 1000 + LOAD_MS + 5000),
	    "the deleted member kept its slot");
	took = it_now_ms() - t0;
	fprintf(stderr, "slot free %lld ms after the delete\n", (long long)took);
	ck_assert_msg(took <= 1000 + LOAD_MS, "slot free after %lld ms", (long long)took);
	ck_assert_int_eq(it_ws_expect_close(c, 1000, IT_TIMEOUT_MS), 0);
	it_ws_free(c);
	expect_served(next, "the next member");
	it_ws_free(next);
}
END_TEST

/* it_wait_until's predicate: one more byte of the trickled frame, then a
 * join attempt. */
struct trickle {
	struct it_ws *c, *next;
};

static int
trickle_then_join(void *arg)
{
	struct trickle *t = arg;

	/* The server may have hung up already: the join tells. */
	(void)it_ws_send_raw(t->c, "t", 1);
	return try_join(&t->next);
}

/*
 * A frame trickled a byte at a time, each well inside the payload
 * deadline: the member cannot answer a ping from inside it, so the
 * keepalive closes it with 1001 within 2.5 ping intervals; and while the
 * bytes keep coming, its slot is free again at once.
 */
START_TEST(a_frame_trickled_byte_by_byte_is_closed_by_the_keepalive)
{
	/* 65535 bytes announced, a zero mask. */
	static const unsigned char header[8] = { 0x82, 0xFE, 0xFF, 0xFF, 0, 0, 0, 0 };
	struct trickle t = { NULL, NULL };
	struct it_frame f;
	enum it_recv r;
	int64_t t0, took;
	int code = -1;

	up(1, 1);
	t.c = itf_join(port, "ok");
	t0 = it_now_ms();
	ck_assert_int_eq(it_ws_send_raw(t.c, header, sizeof(header)), 0);
	/* A byte, then up to 300 ms for the close frame. */
	while (code == -1 && it_now_ms() - t0 <= 2500 + LOAD_MS + 1000) {
		ck_assert_int_eq(it_ws_send_raw(t.c, "t", 1), 0);
		if ((r = it_ws_recv(t.c, &f, 300)) == IT_TIMEOUT)
			continue;
		ck_assert_int_eq(r, IT_FRAME);
		if (f.opcode == IT_OP_CLOSE)
			code = it_frame_close_code(&f, NULL);
		it_frame_free(&f);
	}
	ck_assert_msg(code == 1001, "no ping timeout for a trickled frame");
	t0 = it_now_ms();
	ck_assert_msg(it_wait_until(trickle_then_join, &t, 1000 + LOAD_MS + 5000),
	    "the trickling member kept its slot");
	took = it_now_ms() - t0;
	ck_assert_msg(took <= 1000 + LOAD_MS, "slot free after %lld ms", (long long)took);
	it_ws_free(t.c);
	expect_served(t.next, "the next member");
	it_ws_free(t.next);
}
END_TEST

/* it_wait_until's predicate: the talker talks (so the keepalive leaves
 * it alone and its slot stays taken), then a join attempt. */
struct talk {
	struct it_ws *talker, *next;
};

static int
talk_then_join(void *arg)
{
	struct talk *t = arg;

	expect_served(t->talker, "the talker");
	return try_join(&t->next);
}

/*
 * A member that never reads again while the group talks: the slow-consumer
 * rule closes it (1008), and its slot is free within a ping interval and
 * a second of that, however full its socket is: a write that makes no
 * progress for a ping interval fails, and no close frame is then tried
 * behind it. With --ping-interval 1, a send queue of 8 and --max-clients
 * 2: a third member gets in once the slot is free. The slow member sends
 * a pong now and then, so the keepalive leaves it to the slow-consumer
 * rule.
 */
START_TEST(a_slow_consumer_that_never_reads_frees_its_slot)
{
	static const unsigned char pong[6] = { 0x8A, 0x80, 0, 0, 0, 0 };
	static char msg[60000];
	struct config cfg;
	struct itx_raw slow;
	struct talk t = { NULL, NULL };
	char *path = itx_group_path("ok");
	long long drops = 0;
	int64_t t0, took;
	int sent = 0;

	it_config(&cfg);
	cfg.ping_interval = 1;
	cfg.send_queue = 8;
	cfg.max_clients = 2;
	port = itf_up(&cfg);
	ck_assert_int_eq(itx_create(port, "ok"), 201);
	ck_assert_int_eq(itx_raw_connect(&slow, port, path, 4096), 0);
	t.talker = itf_join(port, "ok");
	memset(msg, 's', sizeof(msg) - 1);
	/* The talker reads its own relays; the slow member reads nothing. A
	 * bounded number: the kernel's buffers take a few MB. */
	while (drops == 0 && sent < 1000) {
		ck_assert_int_eq(it_ws_send_wait(t.talker, msg, t.talker, NULL, IT_TIMEOUT_MS), 0);
		ck_assert_int_eq(send(slow.fd, pong, sizeof(pong), MSG_NOSIGNAL),
		    (ssize_t)sizeof(pong));
		if (++sent % 8 == 0)
			ck_assert_int_eq(itx_stats_total(port, "slow_consumer_drops", &drops), 0);
	}
	ck_assert_msg(drops == 1, "no drop after %d messages", sent);
	t0 = it_now_ms();
	ck_assert_msg(it_wait_until(talk_then_join, &t, 1000 + 1000 + LOAD_MS + 25000),
	    "the slow member kept its slot");
	took = it_now_ms() - t0;
	fprintf(stderr, "slow consumer's slot free %lld ms after its drop (%d messages)\n",
	    (long long)took, sent);
	ck_assert_msg(took <= 1000 + 1000 + LOAD_MS, "slot free after %lld ms",
	    (long long)took);
	expect_served(t.next, "the next member");
	it_ws_free(t.next);
	it_ws_free(t.talker);
	itx_raw_free(&slow);
	free(path);
}
END_TEST

/*
 * A frame header cut short (one byte of it) is no frame yet: the member
 * is silent, so the keepalive closes it with 1001 after 2 to 2.5 ping
 * intervals, and its slot is free a tick later.
 */
START_TEST(a_member_stuck_mid_header_is_closed_by_the_keepalive)
{
	struct it_ws *c, *next = NULL;
	int64_t t0, took;

	up(1, 1);
	c = itf_join(port, "ok");
	t0 = it_now_ms();
	ck_assert_int_eq(it_ws_send_raw(c, "\x82\xfe\x01", 3), 0);
	ck_assert_int_eq(it_ws_expect_close_reason(c, 1001, "ping timeout",
	    2500 + LOAD_MS + 1000), 0);
	ck_assert_msg(it_wait_until(try_join, &next, 1000 + LOAD_MS + 5000),
	    "the closed member kept its slot");
	took = it_now_ms() - t0;
	ck_assert_msg(took <= 2500 + 1000 + LOAD_MS, "slot free after %lld ms",
	    (long long)took);
	it_ws_free(c);
	expect_served(next, "the next member");
	it_ws_free(next);
}
END_TEST

/*
 * A fragmented message that never finishes: the first fragments, then
 * silence. The member is silent after them, so the keepalive closes it
 * with 1001 within 2.5 intervals; the group is served meanwhile.
 */
START_TEST(a_message_that_never_finishes_is_closed_by_the_keepalive)
{
	struct it_ws *c, *other;

	up(8, 1);
	c = itf_join(port, "ok");
	ck_assert_int_eq(it_ws_send(c, IT_OP_TEXT, 0, "never", 5), 0);
	ck_assert_int_eq(it_ws_send(c, IT_OP_CONT, 0, " ends", 5), 0);
	/* Before the first ping (1 to 1.5 s), which this client would not
	 * skip. */
	other = itf_join(port, "ok");
	expect_served(other, "a member joining meanwhile");
	it_ws_free(other);
	ck_assert_int_eq(it_ws_expect_close_reason(c, 1001, "ping timeout",
	    2500 + LOAD_MS + 1000), 0);
	ck_assert_int_eq(itx_wait_total(port, "members", 0, IT_TIMEOUT_MS, NULL), 0);
	other = itf_join(port, "ok");
	expect_served(other, "a member joining after");
	it_ws_free(c);
	it_ws_free(other);
}
END_TEST

/*
 * Two thousand members (200 under a sanitizer) that join and say nothing
 * cost each a few hundred KiB at most (their threads' stacks, touched
 * little), are all admitted quickly, and a chatting pair among them is
 * served as before.
 */
#define IDLE 2000
START_TEST(thousands_of_idle_members_cost_little_and_block_no_one)
{
	static struct it_ws *idle[IDLE];
	struct it_ws *a, *b;
	long rss0, rss1;
	int64_t t0, took;
	int n = itx_sanitized() ? IDLE / 10 : IDLE;
#if defined(THREAD_TSAN)
	const long tsan = 1;
#else
	const long tsan = 0;
#endif

	up(IDLE + 2, 30);
	a = itf_join(port, "ok");
	b = itf_join(port, "ok");
	ck_assert_int_eq(it_ws_send_wait(a, "before", b, NULL, IT_TIMEOUT_MS), 0);
	rss0 = itx_status_kib("VmRSS");
	t0 = it_now_ms();
	for (int i = 0; i < n; i++)
		idle[i] = itf_join(port, "ok");
	took = it_now_ms() - t0;
	ck_assert_int_eq(itx_wait_total(port, "members", n + 2, IT_TIMEOUT_MS, NULL), 0);
	rss1 = itx_status_kib("VmRSS");
	fprintf(stderr, "%d idle members: joined in %lld ms, RSS +%ld KiB\n", n,
	    (long long)took, rss1 - rss0);
	ck_assert_msg(took <= 20 * n, "%d joins took %lld ms", n, (long long)took);
	/* Each member's client side lives in this process too (a socket
	 * and a small buffer): the bound is for both. A sanitizer adds its
	 * shadow of each thread's stack; TSan also gives each new thread
	 * (the member's worker starts on demand, its writer from the pool)
	 * a 1 MiB stack and state of its own: about 2.1 MiB a member. */
	ck_assert_msg(rss1 - rss0 <= 256L * n * (tsan ? 16 : itx_sanitized() ? 8 : 1),
	    "RSS grew by %ld KiB for %d idle members", rss1 - rss0, n);
	ck_assert_int_eq(it_ws_send_wait(a, "among them", b, NULL, IT_TIMEOUT_MS), 0);
	for (int i = 0; i < n; i++)
		it_ws_free(idle[i]);
	ck_assert_int_eq(itx_wait_total(port, "members", 2, IT_TIMEOUT_MS, NULL), 0);
	ck_assert_int_eq(it_ws_send_wait(b, "after", a, NULL, IT_TIMEOUT_MS), 0);
	it_ws_free(a);
	it_ws_free(b);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_hostile_stall");
	TCase *tc = tcase_create("stall");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, three_clients_stalled_in_half_frames_cannot_keep_a_fourth_out);
	tcase_add_test(tc, a_member_stuck_mid_frame_is_released_by_a_delete);
	tcase_add_test(tc, a_frame_trickled_byte_by_byte_is_closed_by_the_keepalive);
	tcase_add_test(tc, a_slow_consumer_that_never_reads_frees_its_slot);
	tcase_add_test(tc, a_member_stuck_mid_header_is_closed_by_the_keepalive);
	tcase_add_test(tc, a_message_that_never_finishes_is_closed_by_the_keepalive);
	tcase_add_test(tc, thousands_of_idle_members_cost_little_and_block_no_one);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
