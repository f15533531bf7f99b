/*
 * it_ws_protocol: the frame-level rows of protocol.md "Messages" and the
 * close rules, against the real server over loopback: pings and pongs,
 * the answer to a client's close, 1007 for text that is not UTF-8 (never
 * relayed), 1002 for each protocol violation CivetWeb lets through, and
 * the keepalive: an idle member is pinged, one that never answers is
 * dropped, one that answers stays. Each test starts its own server in its
 * forked child.
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/config.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

static int port;

static void
up(const struct config *cfg)
{
	port = itf_up(cfg);
}

/* The next frame on ws must be a server frame (unmasked, FIN, no RSV) with
 * opcode op. */
static void
recv_op(struct it_ws *ws, int op, struct it_frame *f, const char *what)
{
	enum it_recv r = it_ws_recv(ws, f, IT_TIMEOUT_MS);

	ck_assert_msg(r == IT_FRAME, "%s: no frame (%d)", what, r);
	ck_assert_msg(f->opcode == op, "%s: opcode %d, want %d", what, f->opcode, op);
	ck_assert_msg(f->fin && f->rsv == 0 && !f->masked,
	    "%s: fin %d rsv %d masked %d", what, f->fin, f->rsv, f->masked);
}

/* After the server's close frame nothing but the end of the stream. */
static void
expect_eof(struct it_ws *ws, const char *what)
{
	struct it_frame f;
	enum it_recv r = it_ws_recv(ws, &f, IT_TIMEOUT_MS);

	if (r == IT_FRAME) {
		ck_assert_msg(0, "%s: opcode %d after the close frame", what, f.opcode);
		it_frame_free(&f);
	}
	ck_assert_msg(r == IT_CLOSED, "%s: connection not closed (%d)", what, r);
}

/* The next frame on ws must be the relay of marker: nothing else was
 * relayed to it before. */
static void
expect_relay_of(struct it_ws *ws, const char *marker, const char *what)
{
	struct it_frame f;
	size_t n = strlen(marker);

	recv_op(ws, IT_OP_TEXT, &f, what);
	ck_assert_msg(f.len == 9 + n && memcmp(f.payload + 9, marker, n) == 0,
	    "%s: relayed \"%s\" before \"%s\"", what, f.payload, marker);
	it_frame_free(&f);
}

/* Sends marker from one member; the very next relay each of it and the
 * observer get must be it. */
static void
expect_next_relay_is(struct it_ws *from, struct it_ws *observer,
    const char *marker, const char *what)
{
	ck_assert_int_eq(it_ws_send_text(from, marker), 0);
	expect_relay_of(observer, marker, what);
	expect_relay_of(from, marker, what);
}

START_TEST(ping_is_answered_with_a_pong_carrying_the_same_payload)
{
	unsigned char p125[125];
	struct it_ws *a;
	struct it_frame f;
	static const struct {
		const void *p;
		size_t len;
	} pings[] = {
		{ "", 0 },
		{ "hello", 5 },
		{ "\x00\xff\x80 binary", 10 },
	};

	for (int i = 0; i < 125; i++)
		p125[i] = (unsigned char)(i * 13);
	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	a = itf_join(port, "room");
	for (size_t i = 0; i < sizeof(pings) / sizeof(pings[0]); i++) {
		ck_assert_int_eq(it_ws_send(a, IT_OP_PING, 1, pings[i].p, pings[i].len), 0);
		recv_op(a, IT_OP_PONG, &f, "pong");
		ck_assert_msg(f.len == pings[i].len &&
		    memcmp(f.payload, pings[i].p, f.len) == 0, "pong %zu: payload differs", i);
		it_frame_free(&f);
	}
	ck_assert_int_eq(it_ws_send(a, IT_OP_PING, 1, p125, sizeof(p125)), 0);
	recv_op(a, IT_OP_PONG, &f, "pong of 125 bytes");
	ck_assert_msg(f.len == 125 && memcmp(f.payload, p125, 125) == 0,
	    "pong of 125 bytes: payload differs");
	it_frame_free(&f);
	/* A burst of pings, each answered in order. */
	for (int i = 0; i < 50; i++) {
		char p[16];
		snprintf(p, sizeof(p), "p%d", i);
		ck_assert_int_eq(it_ws_send(a, IT_OP_PING, 1, p, strlen(p)), 0);
	}
	for (int i = 0; i < 50; i++) {
		char p[16];
		snprintf(p, sizeof(p), "p%d", i);
		recv_op(a, IT_OP_PONG, &f, "burst pong");
		ck_assert_msg(f.len == strlen(p) && memcmp(f.payload, p, f.len) == 0,
		    "pong %d: \"%s\"", i, f.payload);
		it_frame_free(&f);
	}
	/* An unsolicited pong needs no answer; the member still chats. */
	ck_assert_int_eq(it_ws_send(a, IT_OP_PONG, 1, "x", 1), 0);
	ck_assert_int_eq(it_ws_send_wait(a, "after pongs", a, NULL, IT_TIMEOUT_MS), 0);
	it_ws_free(a);
}
END_TEST

START_TEST(client_close_is_answered_with_the_same_code_and_empty_reason)
{
	static const struct {
		int code;
		const char *reason;
	} closes[] = {
		{ 1000, "" },
		{ 1000, "bye now" },
		{ 1001, "going away" },
		{ 1003, "" },
		{ 1011, "oops" },
		{ 3000, "" },
		{ 4999, "private" },
	};
	struct it_ws *a, *b;
	struct it_frame f;

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	b = itf_join(port, "room");
	for (size_t i = 0; i < sizeof(closes) / sizeof(closes[0]); i++) {
		unsigned char p[64];
		size_t n = strlen(closes[i].reason);
		char what[64];

		snprintf(what, sizeof(what), "close %d \"%s\"", closes[i].code,
		    closes[i].reason);
		a = itf_join(port, "room");
		p[0] = (unsigned char)(closes[i].code >> 8);
		p[1] = (unsigned char)closes[i].code;
		memcpy(p + 2, closes[i].reason, n);
		ck_assert_int_eq(it_ws_send(a, IT_OP_CLOSE, 1, p, 2 + n), 0);
		recv_op(a, IT_OP_CLOSE, &f, what);
		ck_assert_msg(f.len == 2 && it_frame_close_code(&f, NULL) == closes[i].code,
		    "%s: answered with %zu bytes, code %d", what, f.len,
		    it_frame_close_code(&f, NULL));
		it_frame_free(&f);
		expect_eof(a, what);
		it_ws_free(a);
	}
	/* The others are untouched. */
	ck_assert_int_eq(it_ws_send_wait(b, "still", b, NULL, IT_TIMEOUT_MS), 0);
	it_ws_free(b);
}
END_TEST

START_TEST(empty_close_is_answered_with_an_empty_close)
{
	struct it_ws *a;
	struct it_frame f;

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	a = itf_join(port, "room");
	ck_assert_int_eq(it_ws_send(a, IT_OP_CLOSE, 1, "", 0), 0);
	recv_op(a, IT_OP_CLOSE, &f, "empty close");
	ck_assert_msg(f.len == 0, "empty close answered with %zu bytes", f.len);
	it_frame_free(&f);
	expect_eof(a, "empty close");
	it_ws_free(a);
}
END_TEST

/* A close a client may not send (protocol.md "Closing"): 1002. */
START_TEST(close_with_a_code_clients_may_not_send_is_answered_1002)
{
	static const unsigned char bad[][3] = {
		{ 2, 0x03, 0xED },      /* 1005 */
		{ 2, 0x03, 0xEE },      /* 1006 */
		{ 2, 0x03, 0xF7 },      /* 1015 */
		{ 2, 0x03, 0xE7 },      /* 999 */
		{ 2, 0x00, 0x00 },      /* 0 */
		{ 2, 0x13, 0x88 },      /* 5000 */
		{ 1, 0x03, 0x00 },      /* one byte */
	};
	struct it_ws *a;

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = itf_join(port, "room");
		ck_assert_int_eq(it_ws_send(a, IT_OP_CLOSE, 1, bad[i] + 1, bad[i][0]), 0);
		ck_assert_msg(it_ws_expect_close(a, 1002, IT_TIMEOUT_MS) == 0,
		    "close payload %zu: no 1002", i);
		it_ws_free(a);
	}
	/* A reason that is not UTF-8 too. */
	a = itf_join(port, "room");
	ck_assert_int_eq(it_ws_send(a, IT_OP_CLOSE, 1, "\x03\xe8\xff", 3), 0);
	ck_assert_int_eq(it_ws_expect_close(a, 1002, IT_TIMEOUT_MS), 0);
	it_ws_free(a);
}
END_TEST

START_TEST(invalid_utf8_text_closes_the_sender_1007_and_is_not_relayed)
{
	static const struct {
		const char *what;
		const char *frags[3];  /* NULL-terminated */
		size_t lens[3];
	} cases[] = {
		{ "lone continuation byte", { "\x80", NULL }, { 1 } },
		{ "bad second byte", { "ok \xc3\x28", NULL }, { 5 } },
		{ "overlong encoding", { "\xc0\xaf", NULL }, { 2 } },
		{ "surrogate", { "\xed\xa0\x80", NULL }, { 3 } },
		{ "beyond U+10FFFF", { "\xf4\x90\x80\x80", NULL }, { 4 } },
		{ "truncated at the end", { "abc\xe2\x82", NULL }, { 5 } },
		{ "bad in the first fragment", { "\xff", "fine", NULL }, { 1, 4 } },
		{ "bad across fragments", { "ok\xe2\x82", "\x28", NULL }, { 4, 1 } },
		{ "truncated in the last fragment", { "ok", "\xe2\x82", NULL }, { 2, 2 } },
	};
	struct it_ws *a, *b, *c;

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	b = itf_join(port, "room");
	c = itf_join(port, "room");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = 0;

		a = itf_join(port, "room");
		while (cases[i].frags[n] != NULL)
			n++;
		for (int k = 0; k < n; k++)
			ck_assert_int_eq(it_ws_send(a, k == 0 ? IT_OP_TEXT : IT_OP_CONT,
			    k == n - 1, cases[i].frags[k], cases[i].lens[k]), 0);
		ck_assert_msg(it_ws_expect_close(a, 1007, IT_TIMEOUT_MS) == 0,
		    "%s: sender not closed with 1007", cases[i].what);
		it_ws_free(a);
		expect_next_relay_is(c, b, cases[i].what, cases[i].what);
	}
	it_ws_free(b);
	it_ws_free(c);
}
END_TEST

START_TEST(protocol_violations_close_the_sender_1002)
{
	unsigned char big[126];
	static struct it_frame_spec rsv1 = { 1, 4, IT_OP_TEXT, 1, -1, "x", 1 };
	static struct it_frame_spec rsv2 = { 1, 2, IT_OP_TEXT, 1, -1, "x", 1 };
	static struct it_frame_spec rsv3 = { 1, 1, IT_OP_BINARY, 1, -1, "x", 1 };
	static struct it_frame_spec rsv_ping = { 1, 4, IT_OP_PING, 1, -1, "x", 1 };
	static struct it_frame_spec op3 = { 1, 0, 0x3, 1, -1, "x", 1 };
	static struct it_frame_spec op7 = { 1, 0, 0x7, 1, -1, "", 0 };
	static struct it_frame_spec opb = { 1, 0, 0xB, 1, -1, "x", 1 };
	static struct it_frame_spec opf = { 1, 0, 0xF, 1, -1, "", 0 };
	struct it_frame_spec ping126 = { 1, 0, IT_OP_PING, 1, -1, big, 126 };
	struct it_frame_spec close126 = { 1, 0, IT_OP_CLOSE, 1, -1, big, 126 };
	static struct it_frame_spec ping_frag = { 0, 0, IT_OP_PING, 1, -1, "x", 1 };
	static struct it_frame_spec pong_frag = { 0, 0, IT_OP_PONG, 1, -1, "", 0 };
	static struct it_frame_spec cont = { 1, 0, IT_OP_CONT, 1, -1, "orphan", 6 };
	static struct it_frame_spec cont_nofin = { 0, 0, IT_OP_CONT, 1, -1, "orphan", 6 };
	static struct it_frame_spec start = { 0, 0, IT_OP_TEXT, 1, -1, "begun", 5 };
	static struct it_frame_spec again = { 1, 0, IT_OP_TEXT, 1, -1, "anew", 4 };
	static struct it_frame_spec again_bin = { 0, 0, IT_OP_BINARY, 1, -1, "anew", 4 };
	static struct it_frame_spec rsv_cont = { 1, 4, IT_OP_CONT, 1, -1, "x", 1 };
	const struct {
		const char *what;
		const struct it_frame_spec *f[3];  /* NULL-terminated */
	} cases[] = {
		{ "RSV1 on text", { &rsv1, NULL } },
		{ "RSV2 on text", { &rsv2, NULL } },
		{ "RSV3 on binary", { &rsv3, NULL } },
		{ "RSV1 on ping", { &rsv_ping, NULL } },
		{ "RSV1 on a continuation", { &start, &rsv_cont, NULL } },
		{ "opcode 3", { &op3, NULL } },
		{ "opcode 7", { &op7, NULL } },
		{ "opcode 0xB", { &opb, NULL } },
		{ "opcode 0xF", { &opf, NULL } },
		{ "ping of 126 bytes", { &ping126, NULL } },
		{ "close of 126 bytes", { &close126, NULL } },
		{ "fragmented ping", { &ping_frag, NULL } },
		{ "fragmented pong", { &pong_frag, NULL } },
		{ "continuation with nothing to continue", { &cont, NULL } },
		{ "unfinished continuation with nothing to continue", { &cont_nofin, NULL } },
		{ "text inside a fragmented message", { &start, &again, NULL } },
		{ "binary inside a fragmented message", { &start, &again_bin, NULL } },
	};
	struct it_ws *a, *b, *c;

	memset(big, 'p', sizeof(big));
	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	b = itf_join(port, "room");
	c = itf_join(port, "room");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		a = itf_join(port, "room");
		for (int k = 0; cases[i].f[k] != NULL; k++)
			ck_assert_int_eq(it_ws_send_frame(a, cases[i].f[k]), 0);
		ck_assert_msg(it_ws_expect_close(a, 1002, IT_TIMEOUT_MS) == 0,
		    "%s: sender not closed with 1002", cases[i].what);
		it_ws_free(a);
		/* Nothing of it reached the others. */
		expect_next_relay_is(c, b, cases[i].what, cases[i].what);
	}
	it_ws_free(b);
	it_ws_free(c);
}
END_TEST

/* ---- keepalive ----------------------------------------------------------- */

static void
keepalive_server(void)
{
	struct config cfg;

	it_config(&cfg);
	cfg.ping_interval = 1;
	up(&cfg);
	ck_assert_int_eq(itx_create(port, "room"), 201);
}

/*
 * This member joins within a millisecond of the server's start, so its
 * silence is in phase with the keepalive sweeps: it must be pinged before
 * anything else happens to it, never closed unpinged.
 */
START_TEST(an_idle_member_is_pinged)
{
	struct it_ws *a;
	struct it_frame f;
	const char *why = "";
	int64_t t0;

	keepalive_server();
	a = itf_join(port, "room");
	t0 = it_now_ms();
	/* protocol.md: the ping goes out after one to two intervals. */
	ck_assert_int_eq(it_ws_recv(a, &f, 3000), IT_FRAME);
	if (f.opcode == IT_OP_CLOSE) {
		int code = it_frame_close_code(&f, &why);
		char err[128];
		snprintf(err, sizeof(err), "closed with %d \"%s\" after %lld ms without a ping",
		    code, why, (long long)(it_now_ms() - t0));
		/* Check's forked child exits at once on a failed assertion:
		 * stop the server first, or the sanitizers report its threads
		 * as leaked on top of the real failure. */
		it_frame_free(&f);
		it_ws_free(a);
		itf_down();
		ck_abort_msg("%s", err);
	}
	ck_assert_msg(f.opcode == IT_OP_PING && f.len == 0 && f.fin && !f.masked,
	    "opcode %d, %zu bytes", f.opcode, f.len);
	ck_assert_msg(it_now_ms() - t0 >= 900, "pinged after %lld ms of silence",
	    (long long)(it_now_ms() - t0));
	ck_assert_int_eq(it_ws_send(a, IT_OP_PONG, 1, f.payload, f.len), 0);
	it_frame_free(&f);
	ck_assert_int_eq(it_ws_send_wait(a, "pinged", a, NULL, IT_TIMEOUT_MS), 0);
	it_ws_free(a);
}
END_TEST

/*
 * dead never reads nor answers; LIVE members answer every ping at once and
 * say nothing else. dead must be closed with 1001 "ping timeout" after two
 * to three intervals (plus up to CivetWeb's one-second read-loop tick for
 * the TCP close); every live member must still be there three intervals
 * after dead is gone. The wait for dead's FIN does not read its socket
 * (POLLRDHUP), so dead stays a member that never read a byte.
 *
 * A member is closed only for a ping left unanswered a full interval:
 * pongs that land just after a sweep, and members that join just after
 * one, must not be mistaken for silence. Many live members joined right
 * after the server's start make those moments likely.
 */
enum { LIVE = 24 };

/* Answers a ping on live member i. 0, or -1 with what came instead in
 * err. */
static int
answer_ping(struct it_ws *ws, int i, int64_t t0, int *pings, char *err,
    size_t errlen)
{
	struct it_frame f;
	enum it_recv r = it_ws_recv(ws, &f, IT_TIMEOUT_MS);
	const char *why = "";
	int rc = -1;

	if (r != IT_FRAME) {
		snprintf(err, errlen, "live %d: connection ended (%d) after %lld ms",
		    i, r, (long long)(it_now_ms() - t0));
		return -1;
	}
	if (f.opcode == IT_OP_CLOSE) {
		int code = it_frame_close_code(&f, &why);
		snprintf(err, errlen, "live %d was closed with %d \"%s\" after %lld ms "
		    "and %d pings, each answered at once", i, code, why,
		    (long long)(it_now_ms() - t0), *pings);
	} else if (f.opcode != IT_OP_PING) {
		snprintf(err, errlen, "live %d: opcode %d", i, f.opcode);
	} else if (it_ws_send(ws, IT_OP_PONG, 1, f.payload, f.len) == -1) {
		snprintf(err, errlen, "live %d: pong failed", i);
	} else {
		(*pings)++;
		rc = 0;
	}
	it_frame_free(&f);
	return rc;
}

START_TEST(a_silent_member_is_dropped_and_an_answering_one_stays)
{
	struct it_ws *live[LIVE], *dead;
	struct it_frame f;
	int64_t t0, dead_at = -1, end;
	int pings[LIVE] = { 0 }, pings_dead = 0, code;
	enum it_recv r;
	const char *why = "";
	char err[160] = "";

	keepalive_server();
	dead = itf_join(port, "room");
	for (int i = 0; i < LIVE; i++)
		live[i] = itf_join(port, "room");
	t0 = it_now_ms();
	end = t0 + 8000;
	while (it_now_ms() < end && err[0] == '\0') {
		struct pollfd pfd[LIVE + 1];
		int n;

		for (int i = 0; i < LIVE; i++)
			pfd[i] = (struct pollfd){ .fd = it_ws_fd(live[i]), .events = POLLIN };
		pfd[LIVE] = (struct pollfd){ .fd = it_ws_fd(dead), .events = POLLRDHUP };
		n = poll(pfd, dead_at < 0 ? LIVE + 1 : LIVE, it_left_ms(end));
		ck_assert_int_ge(n, 0);
		if (dead_at < 0 && (pfd[LIVE].revents & (POLLRDHUP | POLLHUP))) {
			dead_at = it_now_ms();
			end = dead_at + 3000;
		}
		for (int i = 0; i < LIVE && err[0] == '\0'; i++)
			if (pfd[i].revents & POLLIN)
				answer_ping(live[i], i, t0, &pings[i], err, sizeof(err));
	}
	if (err[0] != '\0') {
		/* The server stopped first, as in an_idle_member_is_pinged. */
		for (int i = 0; i < LIVE; i++)
			it_ws_free(live[i]);
		it_ws_free(dead);
		itf_down();
		ck_abort_msg("%s", err);
	}
	ck_assert_msg(dead_at >= 0, "the silent member was not closed within 8 s");
	ck_assert_msg(dead_at - t0 >= 1900 && dead_at - t0 <= 3000 + 1500,
	    "the silent member was closed after %lld ms (ping interval 1 s)",
	    (long long)(dead_at - t0));
	for (int i = 0; i < LIVE; i++)
		ck_assert_msg(pings[i] >= 2, "live %d: %d pings in %lld ms", i, pings[i],
		    (long long)(it_now_ms() - t0));

	/* What dead was sent, read only now: pings, then the close. */
	while ((r = it_ws_recv(dead, &f, IT_TIMEOUT_MS)) == IT_FRAME &&
	    f.opcode == IT_OP_PING) {
		pings_dead++;
		it_frame_free(&f);
	}
	ck_assert_msg(r == IT_FRAME, "dead: no close frame before the end (%d)", r);
	ck_assert_int_eq(f.opcode, IT_OP_CLOSE);
	code = it_frame_close_code(&f, &why);
	ck_assert_msg(code == 1001 && strcmp(why, "ping timeout") == 0,
	    "dead: closed with %d \"%s\"", code, why);
	it_frame_free(&f);
	ck_assert_int_ge(pings_dead, 1);
	ck_assert_int_eq(it_ws_recv(dead, &f, IT_TIMEOUT_MS), IT_CLOSED);
	it_ws_free(dead);

	/* Each live member still chats. */
	for (int i = 0; i < LIVE; i++) {
		ck_assert_int_eq(it_ws_send_text(live[i], "still alive"), 0);
		for (;;) {
			r = it_ws_recv(live[i], &f, IT_TIMEOUT_MS);
			ck_assert_msg(r == IT_FRAME, "live %d: no relay (%d)", i, r);
			if (f.opcode != IT_OP_PING)
				break;
			ck_assert_int_eq(it_ws_send(live[i], IT_OP_PONG, 1, f.payload, f.len), 0);
			it_frame_free(&f);
		}
		ck_assert_msg(f.opcode == IT_OP_TEXT && f.len == 9 + 11 &&
		    memcmp(f.payload + 9, "still alive", 11) == 0,
		    "live %d: got opcode %d \"%s\"", i, f.opcode, f.payload);
		it_frame_free(&f);
	}
	for (int i = 0; i < LIVE; i++)
		it_ws_free(live[i]);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_ws_protocol");
	TCase *tc = tcase_create("protocol");

	tcase_add_checked_fixture(tc, NULL, itf_down);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ping_is_answered_with_a_pong_carrying_the_same_payload);
	tcase_add_test(tc, client_close_is_answered_with_the_same_code_and_empty_reason);
	tcase_add_test(tc, empty_close_is_answered_with_an_empty_close);
	tcase_add_test(tc, close_with_a_code_clients_may_not_send_is_answered_1002);
	tcase_add_test(tc, invalid_utf8_text_closes_the_sender_1007_and_is_not_relayed);
	tcase_add_test(tc, protocol_violations_close_the_sender_1002);
	tcase_add_test(tc, an_idle_member_is_pinged);
	tcase_add_test(tc, a_silent_member_is_dropped_and_an_answering_one_stays);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
