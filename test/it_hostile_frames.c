/*
 * it_hostile_frames: frame headers and frames a hostile client sends, over
 * raw sockets against the real server: declared lengths from 126 to
 * 2^63-1 and the 64-bit length RFC 6455 forbids, unmasked frames, control
 * frames over 125 bytes, reserved bits, UTF-8 broken across fragments, and
 * ping floods. Each case says what the server must do (the close code it
 * sends, or that it serves on), bounds the time it may take, and where
 * memory is at stake how much the process may grow: the server runs in
 * this process, so /proc/self/status is its memory. After each, a pair of
 * members must still chat. Each test starts its own server in its forked
 * child.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "groupchat/config.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

/* What a loaded two-core machine may add to any bound below. */
#define LOAD_MS 500

/* --max-message in these tests: small, so that lengths on both sides of
 * it are cheap to send. */
#define MAX_MESSAGE 65536

static int port;
static struct it_ws *pa, *pb;   /* the pair that must keep chatting */
static int marker;

/* A server with --max-message MAX_MESSAGE and --ping-interval ping, group
 * "ok" and the pair in it. */
static void
up_ping(long ping)
{
	struct config cfg;

	it_config(&cfg);
	cfg.max_message = MAX_MESSAGE;
	cfg.ping_interval = ping;
	port = itf_up(&cfg);
	ck_assert_int_eq(itx_create(port, "ok"), 201);
	pa = itf_join(port, "ok");
	pb = itf_join(port, "ok");
}

static void
up(void)
{
	up_ping(30);
}

static void
teardown(void)
{
	it_ws_free(pa);
	it_ws_free(pb);
	pa = pb = NULL;
	itf_down();
}

/* The pair still chats. */
static void
pair_chats(const char *what)
{
	char text[64];

	snprintf(text, sizeof(text), "marker %d", marker++);
	ck_assert_msg(it_ws_send_wait(pa, text, pb, NULL, IT_TIMEOUT_MS) == 0,
	    "%s: the pair no longer chats", what);
	ck_assert_msg(it_ws_send_wait(pb, text, pa, NULL, IT_TIMEOUT_MS) == 0,
	    "%s: the pair no longer chats", what);
}

/* The pair still chats, and only the pair is left. */
static void
check_pair(const char *what)
{
	long long last;

	pair_chats(what);
	ck_assert_msg(itx_wait_total(port, "members", 2, IT_TIMEOUT_MS, &last) == 0,
	    "%s: %lld members, want the pair alone", what, last);
}

/* The server closes ws with code within ms (and a loaded machine's
 * allowance): the close frame, then EOF. */
static void
expect_close_within(struct it_ws *ws, int code, int ms, const char *what)
{
	int64_t t0 = it_now_ms(), took;

	ck_assert_msg(it_ws_expect_close(ws, code, ms + LOAD_MS + 5000) == 0,
	    "%s: no close %d", what, code);
	took = it_now_ms() - t0;
	ck_assert_msg(took <= ms + LOAD_MS, "%s: closed after %lld ms", what,
	    (long long)took);
	it_ws_free(ws);
}

/* ---- declared lengths --------------------------------------------------- */

/*
 * Issue 19: a header declaring 0x7FFF0000 bytes made CivetWeb malloc that
 * much before groupchat saw anything. Now each such header is answered
 * with 1009 at once, and eight of them leave the virtual size where it
 * was (it would grow by 16 GiB).
 */
#define BIG 8
START_TEST(a_2_gib_declaration_costs_no_allocation)
{
	struct it_ws *c[BIG];
	long vm0, vm1;

	up();
	vm0 = itx_status_kib("VmSize");
	for (int i = 0; i < BIG; i++) {
		struct it_frame_spec f = { 1, 0, IT_OP_BINARY, 1, 0x7FFF0000, "", 0 };

		c[i] = itf_join(port, "ok");
		ck_assert_int_eq(it_ws_send_frame(c[i], &f), 0);
	}
	for (int i = 0; i < BIG; i++)
		expect_close_within(c[i], 1009, 1000, "0x7FFF0000 declared");
	vm1 = itx_status_kib("VmSize");
	fprintf(stderr, "%d headers of 0x7FFF0000 bytes: VmSize %+ld KiB\n", BIG,
	    vm1 - vm0);
	ck_assert_msg(vm1 - vm0 < 1024L * 1024,
	    "VmSize grew by %ld KiB for %d headers", vm1 - vm0, BIG);
	/* Counted as the closes they are. */
	ck_assert_int_eq(itx_wait_total(port, "1009", BIG, IT_TIMEOUT_MS, NULL), 0);
	check_pair("2 GiB declared");
}
END_TEST

/*
 * Every length encoding at and around --max-message: a frame up to it is
 * read and relayed; one byte more is closed with 1009 at its header,
 * before any payload is sent; the 64-bit form with its most significant
 * bit set (RFC 6455 5.2 forbids it) is closed with 1002.
 */
START_TEST(declared_lengths_are_judged_at_the_header)
{
	static const struct {
		int64_t declared;
		int code;         /* 0: a whole frame, relayed */
	} cases[] = {
		{ 125, 0 }, { 126, 0 }, { 65535, 0 }, { MAX_MESSAGE, 0 },
		{ MAX_MESSAGE + 1, 1009 }, { 0x7FFF0000, 1009 },
		{ INT64_C(0x7FFFFFFFFFFFFFFF), 1009 },
	};
	static const unsigned char msb[14] = {
		0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4
	};
	static unsigned char payload[MAX_MESSAGE];
	struct it_frame got;
	struct it_ws *c;
	char what[64];
	long vm0 = itx_status_kib("VmSize");

	memset(payload, 'L', sizeof(payload));
	up();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct it_frame_spec f = { 1, 0, IT_OP_BINARY, 1, cases[i].declared,
		    payload, cases[i].code == 0 ? (size_t)cases[i].declared : 0 };

		snprintf(what, sizeof(what), "declared %lld", (long long)cases[i].declared);
		c = itf_join(port, "ok");
		ck_assert_int_eq(it_ws_send_frame(c, &f), 0);
		if (cases[i].code != 0) {
			expect_close_within(c, cases[i].code, 1000, what);
		} else {
			ck_assert_msg(it_ws_expect_suffix(c, IT_OP_BINARY, payload,
			    (size_t)cases[i].declared, &got, IT_TIMEOUT_MS) == 0,
			    "%s: not relayed", what);
			ck_assert_uint_eq(got.len, 9 + (size_t)cases[i].declared);
			it_frame_free(&got);
			ck_assert_int_eq(it_ws_close(c), 0);
		}
		check_pair(what);
	}
	c = itf_join(port, "ok");
	ck_assert_int_eq(it_ws_send_raw(c, msb, sizeof(msb)), 0);
	expect_close_within(c, 1002, 1000, "64-bit length with its top bit set");
	check_pair("64-bit length with its top bit set");
	ck_assert_msg(itx_status_kib("VmSize") - vm0 < 1024L * 1024,
	    "VmSize grew by %ld KiB", itx_status_kib("VmSize") - vm0);
}
END_TEST

/* ---- frames a server must refuse ---------------------------------------- */

/*
 * RFC 6455 5.1: a server closes a connection on a frame its client did not
 * mask. 1002 at the header, and the frame is not relayed.
 */
START_TEST(an_unmasked_client_frame_is_closed_1002)
{
	static const struct it_frame_spec naked[] = {
		{ 1, 0, IT_OP_TEXT, 0, -1, "naked", 5 },
		{ 1, 0, IT_OP_PING, 0, -1, "p", 1 },
		{ 1, 0, IT_OP_BINARY, 0, 100000, "", 0 },
	};
	struct it_ws *c;

	up();
	for (size_t i = 0; i < sizeof(naked) / sizeof(naked[0]); i++) {
		c = itf_join(port, "ok");
		ck_assert_int_eq(it_ws_send_frame(c, &naked[i]), 0);
		expect_close_within(c, 1002, 1000, "unmasked");
		/* check_pair would fail on a relay of "naked": only markers
		 * may come. */
		check_pair("unmasked frame");
	}
	ck_assert_int_eq(itx_wait_total(port, "1002", 3, IT_TIMEOUT_MS, NULL), 0);
}
END_TEST

/* Control frames over 125 bytes, and frames with reserved bits set: 1002. */
START_TEST(control_frames_over_125_bytes_and_rsv_bits_are_closed_1002)
{
	static unsigned char big[126];
	const struct it_frame_spec bad[] = {
		{ 1, 0, IT_OP_PING, 1, -1, big, 126 },
		{ 1, 0, IT_OP_PONG, 1, -1, big, 126 },
		{ 1, 0, IT_OP_CLOSE, 1, -1, big, 126 },
		{ 1, 4, IT_OP_TEXT, 1, -1, "rsv1", 4 },
		{ 1, 2, IT_OP_TEXT, 1, -1, "rsv2", 4 },
		{ 1, 1, IT_OP_BINARY, 1, -1, "rsv3", 4 },
		{ 1, 4, IT_OP_PING, 1, -1, "rsv1", 4 },
	};
	struct it_ws *c;

	memset(big, 0x03, sizeof(big));
	up();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = itf_join(port, "ok");
		ck_assert_int_eq(it_ws_send_frame(c, &bad[i]), 0);
		expect_close_within(c, 1002, 1000, "bad control frame or RSV");
		check_pair("bad control frame or RSV");
	}
	/* RSV on a continuation of a message in progress. */
	c = itf_join(port, "ok");
	ck_assert_int_eq(it_ws_send(c, IT_OP_TEXT, 0, "part", 4), 0);
	{
		struct it_frame_spec cont = { 1, 4, IT_OP_CONT, 1, -1, "rest", 4 };
		ck_assert_int_eq(it_ws_send_frame(c, &cont), 0);
	}
	expect_close_within(c, 1002, 1000, "RSV on a continuation");
	check_pair("RSV on a continuation");
}
END_TEST

/*
 * RFC 6455 5.5: a control frame may carry 125 bytes whatever the message
 * limit. Under a --max-message of 16 a 100-byte ping is answered with
 * its pong, while a 17-byte message still closes 1009.
 */
#define SMALL_MAX 16
START_TEST(control_frames_pass_a_max_message_under_125)
{
	static unsigned char pay[100];
	const struct it_frame_spec ping = { 1, 0, IT_OP_PING, 1, -1, pay, sizeof(pay) };
	const struct it_frame_spec text = { 1, 0, IT_OP_TEXT, 1, -1, "seventeen bytes!!",
		SMALL_MAX + 1 };
	struct config cfg;
	struct it_frame f;
	struct it_ws *c;

	memset(pay, 'p', sizeof(pay));
	it_config(&cfg);
	cfg.max_message = SMALL_MAX;
	port = itf_up(&cfg);
	ck_assert_int_eq(itx_create(port, "ok"), 201);
	c = itf_join(port, "ok");
	ck_assert_int_eq(it_ws_send_frame(c, &ping), 0);
	ck_assert_int_eq(it_ws_recv(c, &f, IT_TIMEOUT_MS), IT_FRAME);
	ck_assert_int_eq(f.opcode, IT_OP_PONG);
	ck_assert_uint_eq(f.len, sizeof(pay));
	it_frame_free(&f);
	ck_assert_int_eq(it_ws_send_frame(c, &text), 0);
	expect_close_within(c, 1009, 1000, "a message over --max-message");
}
END_TEST

/*
 * A code point split across fragments is fine; a sequence broken across
 * them is closed with 1007 at the fragment that breaks it, before the
 * message ends, and nothing of it is relayed.
 */
START_TEST(utf8_split_across_fragments)
{
	struct it_frame got;
	struct it_ws *c;

	up();
	c = itf_join(port, "ok");
	ck_assert_int_eq(it_ws_send(c, IT_OP_TEXT, 0, "euro \xe2\x82", 7), 0);
	ck_assert_int_eq(it_ws_send(c, IT_OP_CONT, 1, "\xac!", 2), 0);
	ck_assert_int_eq(it_ws_expect_suffix(c, IT_OP_TEXT, "euro \xe2\x82\xac!", 9,
	    &got, IT_TIMEOUT_MS), 0);
	it_frame_free(&got);
	ck_assert_int_eq(it_ws_close(c), 0);
	check_pair("a code point split across fragments");

	c = itf_join(port, "ok");
	ck_assert_int_eq(it_ws_send(c, IT_OP_TEXT, 0, "bad \xe2\x82", 6), 0);
	ck_assert_int_eq(it_ws_send(c, IT_OP_CONT, 0, "(", 1), 0);
	expect_close_within(c, 1007, 1000, "a sequence broken across fragments");
	check_pair("a sequence broken across fragments");
}
END_TEST

/* ---- ping floods -------------------------------------------------------- */

/* A masked ping of 125 bytes, built once. */
static size_t
ping_frame(unsigned char *p)
{
	p[0] = 0x89;
	p[1] = 0x80 | 125;
	memset(p + 2, 0, 4);      /* a zero mask: the payload goes as is */
	memset(p + 6, 'p', 125);
	return 131;
}

/*
 * A client that floods pings and reads its pongs gets every one back, and
 * the pair is served throughout.
 */
#define FLOOD 2000
START_TEST(a_ping_flood_is_answered_and_slows_no_one)
{
	unsigned char frame[131];
	size_t n = ping_frame(frame);
	struct it_frame f;
	struct it_ws *c;
	int pongs = 0;
	int64_t t0;

	up();
	c = itf_join(port, "ok");
	t0 = it_now_ms();
	for (int i = 0; i < FLOOD; i++) {
		ck_assert_int_eq(it_ws_send_raw(c, frame, n), 0);
		if (i % 500 == 0)
			pair_chats("during a ping flood");
	}
	/* The pair's markers reach c too: only pongs are counted. */
	while (pongs < FLOOD && it_ws_recv(c, &f, IT_TIMEOUT_MS) == IT_FRAME) {
		ck_assert(f.opcode == IT_OP_PONG || f.opcode == IT_OP_TEXT);
		if (f.opcode == IT_OP_PONG) {
			ck_assert_uint_eq(f.len, 125);
			pongs++;
		}
		it_frame_free(&f);
	}
	ck_assert_int_eq(pongs, FLOOD);
	fprintf(stderr, "%d pings answered in %lld ms\n", FLOOD,
	    (long long)(it_now_ms() - t0));
	ck_assert_int_eq(it_ws_close(c), 0);
	check_pair("after a ping flood");
}
END_TEST

/* it_wait_until's predicate: the pair chats (so neither is ever pinged),
 * and only the pair is left. */
static int
pair_alone(void *arg)
{
	long long n = 0;

	pair_chats(arg);
	return itx_stats_total(port, "members", &n) == 0 && n == 2;
}

/*
 * A client that floods pings and never reads its pongs: the server stops
 * reading it when its pongs no longer fit (TCP pushes back; nothing piles
 * up in the server), serves the pair meanwhile, and drops the flooder
 * once a pong has waited a ping interval (2 s here) to be written, and a
 * tick.
 */
START_TEST(a_ping_flood_that_never_reads_costs_nothing_and_is_dropped)
{
	unsigned char frame[131];
	size_t n = ping_frame(frame);
	struct itx_raw flooder;
	char *path = itx_group_path("ok");
	long rss0, rss1;
	int64_t t0, took;
	int sent = 0;
	ssize_t w;

	up_ping(2);
	rss0 = itx_status_kib("VmRSS");
	ck_assert_int_eq(itx_raw_connect(&flooder, port, path, 4096), 0);
	/* Until the server stops taking them (bounded, in case it never
	 * does): 26 MB of pings. */
	while (sent < 200000 &&
	    (w = send(flooder.fd, frame, n, MSG_DONTWAIT | MSG_NOSIGNAL)) == (ssize_t)n)
		sent++;
	ck_assert_msg(sent < 200000, "the server read 200000 pings it could not answer");
	rss1 = itx_status_kib("VmRSS");
	fprintf(stderr, "ping flood, never read: %d pings taken, RSS %+ld KiB\n",
	    sent, rss1 - rss0);
	ck_assert_msg(rss1 - rss0 < 16 * 1024, "RSS grew by %ld KiB", rss1 - rss0);
	t0 = it_now_ms();
	ck_assert_msg(it_wait_until(pair_alone, "while the flooder waits",
	    2000 + 1000 + LOAD_MS + 5000), "the flooder was not dropped");
	took = it_now_ms() - t0;
	fprintf(stderr, "ping flooder dropped after %lld ms\n", (long long)took);
	ck_assert_msg(took <= 2000 + 1000 + LOAD_MS, "flooder dropped after %lld ms",
	    (long long)took);
	itx_raw_free(&flooder);
	free(path);
	check_pair("after a ping flood that never reads");
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_hostile_frames");
	TCase *tc = tcase_create("frames");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_2_gib_declaration_costs_no_allocation);
	tcase_add_test(tc, declared_lengths_are_judged_at_the_header);
	tcase_add_test(tc, an_unmasked_client_frame_is_closed_1002);
	tcase_add_test(tc, control_frames_over_125_bytes_and_rsv_bits_are_closed_1002);
	tcase_add_test(tc, control_frames_pass_a_max_message_under_125);
	tcase_add_test(tc, utf8_split_across_fragments);
	tcase_add_test(tc, a_ping_flood_is_answered_and_slows_no_one);
	tcase_add_test(tc, a_ping_flood_that_never_reads_costs_nothing_and_is_dropped);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
