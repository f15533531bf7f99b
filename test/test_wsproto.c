/*
 * test_wsproto: the frame reader fed frames as CivetWeb delivers them
 * (first header byte, unmasked payload), checking exact verdicts and codes
 * for every rule: reassembly, control frames between fragments, size cap,
 * UTF-8, protocol errors, close codes, and the end state after a close.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/frame.h"
#include "groupchat/web/wsproto.h"
#include "support/test_main.h"

#define FIN 0x80

static struct wsproto_event
feed(struct wsproto *p, unsigned bits, const void *data, size_t len)
{
	struct wsproto_event ev;

	wsproto_feed(p, bits, data, len, &ev);
	return ev;
}

static struct wsproto_event
feeds(struct wsproto *p, unsigned bits, const char *s)
{
	return feed(p, bits, s, strlen(s));
}

static void
expect_none(struct wsproto_event ev)
{
	ck_assert_int_eq(ev.verdict, WSPROTO_NONE);
	ck_assert_ptr_null(ev.reason);
}

static void
expect_message(struct wsproto_event ev, unsigned op, const void *data,
    size_t len)
{
	ck_assert_int_eq(ev.verdict, WSPROTO_MESSAGE);
	ck_assert_uint_eq(ev.opcode, op);
	ck_assert_uint_eq(ev.len, len);
	ck_assert_ptr_nonnull(ev.data);
	ck_assert(memcmp(ev.data, data, len) == 0);
	ck_assert_ptr_null(ev.reason);
}

static void
expect_fail(struct wsproto_event ev, unsigned code)
{
	ck_assert_int_eq(ev.verdict, WSPROTO_FAIL);
	ck_assert_uint_eq(ev.code, code);
	ck_assert_ptr_nonnull(ev.reason);
	/* The reason must fit a close frame after the 2-byte code. */
	ck_assert_uint_gt(strlen(ev.reason), 0);
	ck_assert_uint_le(strlen(ev.reason), 123);
}

static void
expect_close(struct wsproto_event ev, unsigned code)
{
	ck_assert_int_eq(ev.verdict, WSPROTO_CLOSE);
	ck_assert_uint_eq(ev.code, code);
	ck_assert_ptr_nonnull(ev.data);
}

/* After CLOSE or FAIL nothing more is read, whatever arrives. */
static void
expect_ended(struct wsproto *p)
{
	static const uint8_t close1000[] = { 0x03, 0xe8 };

	expect_none(feeds(p, FIN | FRAME_TEXT, "hello"));
	expect_none(feeds(p, FRAME_TEXT, "hel"));
	expect_none(feeds(p, FIN | FRAME_CONT, "lo"));
	expect_none(feeds(p, FIN | FRAME_PING, "p"));
	expect_none(feed(p, FIN | FRAME_CLOSE, close1000, 2));
	expect_none(feeds(p, 0xFF, "x"));
}

static uint8_t *
filled(size_t n)
{
	uint8_t *b = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(b);
	memset(b, 'a', n);
	return b;
}

START_TEST(test_unfragmented_text_zero_copy)
{
	struct wsproto p;
	static const uint8_t in[] = "hello";
	struct wsproto_event ev;

	wsproto_init(&p, 1024);
	ev = feed(&p, FIN | FRAME_TEXT, in, 5);
	expect_message(ev, FRAME_TEXT, "hello", 5);
	ck_assert_ptr_eq(ev.data, in);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_unfragmented_binary_zero_copy)
{
	struct wsproto p;
	static const uint8_t in[] = { 0xff, 0x00, 0xfe };
	struct wsproto_event ev;

	wsproto_init(&p, 1024);
	ev = feed(&p, FIN | FRAME_BINARY, in, sizeof in);
	/* Binary is never checked as UTF-8. */
	expect_message(ev, FRAME_BINARY, in, sizeof in);
	ck_assert_ptr_eq(ev.data, in);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_fragments_reassembled)
{
	struct wsproto p;
	uint8_t a[] = "hel", b[] = "lo";
	struct wsproto_event ev;

	wsproto_init(&p, 1024);
	/* bits 0x01 then 0x80, as CivetWeb delivered "hel" + "lo". */
	expect_none(feed(&p, 0x01, a, 3));
	memset(a, 'x', 3);	/* the caller's buffer is reused at once */
	ev = feed(&p, 0x80, b, 2);
	memset(b, 'y', 2);
	expect_message(ev, FRAME_TEXT, "hello", 5);
	ck_assert_ptr_ne(ev.data, b);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_many_fragments)
{
	struct wsproto p;
	uint8_t want[1000];
	size_t i;

	wsproto_init(&p, sizeof want);
	for (i = 0; i < sizeof want; i++)
		want[i] = (uint8_t)('a' + i % 26);
	expect_none(feed(&p, FRAME_TEXT, want, 1));
	for (i = 1; i < sizeof want - 1; i++)
		expect_none(feed(&p, FRAME_CONT, want + i, 1));
	expect_none(feed(&p, FRAME_CONT, "", 0));
	expect_message(feed(&p, FIN | FRAME_CONT, want + i, 1), FRAME_TEXT,
	    want, sizeof want);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_binary_stays_binary)
{
	struct wsproto p;
	static const uint8_t a[] = { 0xff }, b[] = { 0xfe, 0x00 };
	static const uint8_t want[] = { 0xff, 0xfe, 0x00 };

	wsproto_init(&p, 1024);
	expect_none(feed(&p, FRAME_BINARY, a, sizeof a));
	expect_message(feed(&p, FIN | FRAME_CONT, b, sizeof b), FRAME_BINARY,
	    want, sizeof want);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_control_between_fragments)
{
	struct wsproto p;
	static const uint8_t ping[] = "ping!";
	struct wsproto_event ev;

	wsproto_init(&p, 1024);
	expect_none(feeds(&p, FRAME_TEXT, "hel"));
	ev = feed(&p, FIN | FRAME_PING, ping, 5);
	ck_assert_int_eq(ev.verdict, WSPROTO_PING);
	ck_assert_ptr_eq(ev.data, ping);
	ck_assert_uint_eq(ev.len, 5);
	expect_none(feeds(&p, FIN | FRAME_PONG, "x"));
	expect_none(feeds(&p, FRAME_CONT, "l"));
	ev = feed(&p, FIN | FRAME_PING, "", 0);
	ck_assert_int_eq(ev.verdict, WSPROTO_PING);
	ck_assert_uint_eq(ev.len, 0);
	expect_message(feeds(&p, FIN | FRAME_CONT, "o"), FRAME_TEXT, "hello", 5);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_close_between_fragments)
{
	struct wsproto p;
	static const uint8_t close1000[] = { 0x03, 0xe8 };

	wsproto_init(&p, 1024);
	expect_none(feeds(&p, FRAME_TEXT, "hel"));
	expect_close(feed(&p, FIN | FRAME_CLOSE, close1000, 2), 1000);
	expect_none(feeds(&p, FIN | FRAME_CONT, "lo"));
	expect_ended(&p);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_empty_message)
{
	struct wsproto p;
	static const uint8_t in[1];
	struct wsproto_event ev;

	wsproto_init(&p, 1024);
	ev = feed(&p, FIN | FRAME_TEXT, NULL, 0);
	expect_message(ev, FRAME_TEXT, "", 0);
	ev = feed(&p, FIN | FRAME_BINARY, in, 0);
	expect_message(ev, FRAME_BINARY, "", 0);
	ck_assert_ptr_eq(ev.data, in);
	expect_none(feed(&p, FRAME_TEXT, NULL, 0));
	expect_none(feed(&p, FRAME_CONT, NULL, 0));
	expect_message(feed(&p, FIN | FRAME_CONT, NULL, 0), FRAME_TEXT, "", 0);
	expect_none(feed(&p, FRAME_BINARY, NULL, 0));
	expect_message(feed(&p, FIN | FRAME_CONT, NULL, 0), FRAME_BINARY, "", 0);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_max_single_frame)
{
	struct wsproto p;
	uint8_t *b = filled(17);

	wsproto_init(&p, 16);
	expect_message(feed(&p, FIN | FRAME_TEXT, b, 16), FRAME_TEXT, b, 16);
	expect_message(feed(&p, FIN | FRAME_BINARY, b, 16), FRAME_BINARY, b, 16);
	expect_fail(feed(&p, FIN | FRAME_TEXT, b, 17), 1009);
	expect_ended(&p);
	wsproto_free(&p);

	wsproto_init(&p, 16);
	expect_fail(feed(&p, FIN | FRAME_BINARY, b, 17), 1009);
	wsproto_free(&p);

	/* A first fragment alone can be too big. */
	wsproto_init(&p, 16);
	expect_fail(feed(&p, FRAME_TEXT, b, 17), 1009);
	wsproto_free(&p);
	free(b);
}
END_TEST

START_TEST(test_max_fragmented)
{
	struct wsproto p;
	uint8_t *b = filled(17);

	wsproto_init(&p, 16);
	expect_none(feed(&p, FRAME_TEXT, b, 10));
	expect_none(feed(&p, FRAME_CONT, b, 0));
	expect_message(feed(&p, FIN | FRAME_CONT, b, 6), FRAME_TEXT, b, 16);
	expect_none(feed(&p, FRAME_BINARY, b, 10));
	expect_fail(feed(&p, FIN | FRAME_CONT, b, 7), 1009);
	expect_ended(&p);
	wsproto_free(&p);

	/* The running total passes the cap on a middle fragment. */
	wsproto_init(&p, 16);
	expect_none(feed(&p, FRAME_TEXT, b, 8));
	expect_none(feed(&p, FRAME_CONT, b, 8));
	expect_fail(feed(&p, FRAME_CONT, b, 1), 1009);
	wsproto_free(&p);
	free(b);
}
END_TEST

START_TEST(test_max_zero)
{
	struct wsproto p;

	wsproto_init(&p, 0);
	expect_message(feed(&p, FIN | FRAME_TEXT, "", 0), FRAME_TEXT, "", 0);
	expect_none(feed(&p, FRAME_BINARY, "", 0));
	expect_message(feed(&p, FIN | FRAME_CONT, "", 0), FRAME_BINARY, "", 0);
	expect_fail(feeds(&p, FIN | FRAME_TEXT, "a"), 1009);
	wsproto_free(&p);

	wsproto_init(&p, 0);
	expect_none(feed(&p, FRAME_TEXT, "", 0));
	expect_fail(feeds(&p, FIN | FRAME_CONT, "a"), 1009);
	wsproto_free(&p);
}
END_TEST

/* "a", U+20AC, U+1D11E, U+00E9: sequences of 1, 3, 4 and 2 bytes. */
static const uint8_t mixed[] = {
	0x61, 0xe2, 0x82, 0xac, 0xf0, 0x9d, 0x84, 0x9e, 0xc3, 0xa9,
};

START_TEST(test_utf8_split_two_fragments)
{
	struct wsproto p;
	size_t i, n = sizeof mixed;

	for (i = 0; i <= n; i++) {
		wsproto_init(&p, 64);
		expect_none(feed(&p, FRAME_TEXT, mixed, i));
		expect_message(feed(&p, FIN | FRAME_CONT, mixed + i, n - i),
		    FRAME_TEXT, mixed, n);
		wsproto_free(&p);
	}
}
END_TEST

START_TEST(test_utf8_split_three_fragments)
{
	struct wsproto p;
	size_t i, j, n = sizeof mixed;

	for (i = 0; i <= n; i++) {
		for (j = i; j <= n; j++) {
			wsproto_init(&p, 64);
			expect_none(feed(&p, FRAME_TEXT, mixed, i));
			expect_none(feed(&p, FRAME_CONT, mixed + i, j - i));
			expect_message(feed(&p, FIN | FRAME_CONT, mixed + j,
			    n - j), FRAME_TEXT, mixed, n);
			wsproto_free(&p);
		}
	}
}
END_TEST

/* Each is invalid on its own and after valid text, however it is split. */
static const struct {
	uint8_t b[4];
	size_t n;
} bad_utf8[] = {
	{ { 0xff }, 1 },			/* never valid */
	{ { 0x80 }, 1 },			/* stray continuation */
	{ { 0xc0, 0x80 }, 2 },			/* overlong NUL */
	{ { 0xe0, 0x80, 0x80 }, 3 },		/* overlong */
	{ { 0xed, 0xa0, 0x80 }, 3 },		/* surrogate U+D800 */
	{ { 0xf4, 0x90, 0x80, 0x80 }, 4 },	/* past U+10FFFF */
	{ { 0xe2, 0x82 }, 2 },			/* cut short at the end */
	{ { 0xf0, 0x9d, 0x84 }, 3 },		/* cut short at the end */
	{ { 0xe2, 0x41, 0x41 }, 3 },		/* lead without continuations */
};

START_TEST(test_utf8_invalid_unfragmented)
{
	struct wsproto p;
	size_t i;

	for (i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
		wsproto_init(&p, 64);
		expect_fail(feed(&p, FIN | FRAME_TEXT, bad_utf8[i].b,
		    bad_utf8[i].n), 1007);
		expect_ended(&p);
		wsproto_free(&p);
	}
}
END_TEST

START_TEST(test_utf8_invalid_fragmented)
{
	struct wsproto p;
	struct wsproto_event ev;
	uint8_t s[8];
	size_t i, cut, n;

	for (i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
		n = 2 + bad_utf8[i].n;
		memcpy(s, "ok", 2);
		memcpy(s + 2, bad_utf8[i].b, bad_utf8[i].n);
		for (cut = 0; cut <= n; cut++) {
			wsproto_init(&p, 64);
			ev = feed(&p, FRAME_TEXT, s, cut);
			/* It may fail early, and must at the last fragment. */
			if (ev.verdict == WSPROTO_NONE)
				ev = feed(&p, FIN | FRAME_CONT, s + cut, n - cut);
			expect_fail(ev, 1007);
			wsproto_free(&p);
		}
	}
}
END_TEST

START_TEST(test_utf8_fails_early)
{
	struct wsproto p;
	static const uint8_t bad[] = { 'a', 0xff, 'b' };
	static const uint8_t cut[] = { 'a', 0xe2, 0x82 };
	static const uint8_t stray[] = { 0x80 };
	static const uint8_t surrogate[] = { 'a', 0xed, 0xa0, 0x80 };

	/* Bad bytes fail the fragment that carries them, not the last. */
	wsproto_init(&p, 64);
	expect_fail(feed(&p, FRAME_TEXT, bad, sizeof bad), 1007);
	wsproto_free(&p);

	wsproto_init(&p, 64);
	expect_none(feeds(&p, FRAME_TEXT, "abc"));
	expect_fail(feed(&p, FRAME_CONT, bad, sizeof bad), 1007);
	wsproto_free(&p);

	/* A complete but invalid sequence ending a fragment fails there. */
	wsproto_init(&p, 64);
	expect_fail(feed(&p, FRAME_TEXT, surrogate, sizeof surrogate), 1007);
	wsproto_free(&p);

	/* A sequence cut short waits for the next fragment, which breaks it. */
	wsproto_init(&p, 64);
	expect_none(feed(&p, FRAME_TEXT, cut, sizeof cut));
	expect_fail(feeds(&p, FRAME_CONT, "A"), 1007);
	wsproto_free(&p);

	/* An empty fragment leaves the cut sequence pending. */
	wsproto_init(&p, 64);
	expect_none(feed(&p, FRAME_TEXT, cut, sizeof cut));
	expect_none(feed(&p, FRAME_CONT, "", 0));
	expect_fail(feed(&p, FIN | FRAME_CONT, "", 0), 1007);
	wsproto_free(&p);

	/* Too many continuation bytes after a complete sequence. */
	wsproto_init(&p, 64);
	expect_none(feed(&p, FRAME_TEXT, mixed, 4));
	expect_fail(feed(&p, FRAME_CONT, stray, 1), 1007);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_rsv_bits)
{
	static const unsigned rsv[] = { 0x40, 0x20, 0x10, 0x70 };
	struct wsproto p;
	size_t i;

	for (i = 0; i < sizeof rsv / sizeof rsv[0]; i++) {
		wsproto_init(&p, 64);
		expect_fail(feeds(&p, FIN | rsv[i] | FRAME_TEXT, "a"), 1002);
		expect_ended(&p);
		wsproto_free(&p);

		wsproto_init(&p, 64);
		expect_fail(feeds(&p, FIN | rsv[i] | FRAME_PING, "a"), 1002);
		wsproto_free(&p);

		wsproto_init(&p, 64);
		expect_none(feeds(&p, FRAME_BINARY, "a"));
		expect_fail(feeds(&p, FIN | rsv[i] | FRAME_CONT, "a"), 1002);
		wsproto_free(&p);
	}
}
END_TEST

START_TEST(test_unknown_opcodes)
{
	static const unsigned ops[] = {
		0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf,
	};
	struct wsproto p;
	size_t i;

	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		wsproto_init(&p, 64);
		expect_fail(feeds(&p, FIN | ops[i], "a"), 1002);
		expect_ended(&p);
		wsproto_free(&p);

		wsproto_init(&p, 64);
		expect_fail(feed(&p, ops[i], "", 0), 1002);
		wsproto_free(&p);

		/* Also between fragments. */
		wsproto_init(&p, 64);
		expect_none(feeds(&p, FRAME_TEXT, "a"));
		expect_fail(feeds(&p, FIN | ops[i], "a"), 1002);
		wsproto_free(&p);
	}
}
END_TEST

START_TEST(test_control_frame_limits)
{
	static const unsigned ops[] = { FRAME_PING, FRAME_PONG, FRAME_CLOSE };
	struct wsproto p;
	struct wsproto_event ev;
	uint8_t *b = filled(126);
	size_t i;

	b[0] = 0x03;	/* a close payload starting with code 1000 */
	b[1] = 0xe8;
	wsproto_init(&p, 1024);
	ev = feed(&p, FIN | FRAME_PING, b, 125);
	ck_assert_int_eq(ev.verdict, WSPROTO_PING);
	ck_assert_uint_eq(ev.len, 125);
	expect_none(feed(&p, FIN | FRAME_PONG, b, 125));
	expect_close(feed(&p, FIN | FRAME_CLOSE, b, 125), 1000);
	wsproto_free(&p);

	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		wsproto_init(&p, 1024);
		expect_fail(feed(&p, FIN | ops[i], b, 126), 1002);
		expect_ended(&p);
		wsproto_free(&p);

		/* Control frames must not be fragmented. */
		wsproto_init(&p, 1024);
		expect_fail(feed(&p, ops[i], b, 2), 1002);
		wsproto_free(&p);
	}
	free(b);
}
END_TEST

START_TEST(test_continuation_without_start)
{
	struct wsproto p;

	wsproto_init(&p, 64);
	expect_fail(feeds(&p, FIN | FRAME_CONT, "x"), 1002);
	expect_ended(&p);
	wsproto_free(&p);

	wsproto_init(&p, 64);
	expect_fail(feeds(&p, FRAME_CONT, "x"), 1002);
	wsproto_free(&p);

	/* Nothing is in progress after a message completed either. */
	wsproto_init(&p, 64);
	expect_none(feeds(&p, FRAME_TEXT, "a"));
	expect_message(feeds(&p, FIN | FRAME_CONT, "b"), FRAME_TEXT, "ab", 2);
	expect_fail(feeds(&p, FIN | FRAME_CONT, "c"), 1002);
	wsproto_free(&p);

	wsproto_init(&p, 64);
	expect_message(feeds(&p, FIN | FRAME_TEXT, "a"), FRAME_TEXT, "a", 1);
	expect_fail(feed(&p, FRAME_CONT, "", 0), 1002);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_data_frame_during_message)
{
	static const unsigned pairs[][2] = {
		{ FRAME_TEXT, FIN | FRAME_TEXT },
		{ FRAME_TEXT, FRAME_TEXT },
		{ FRAME_TEXT, FIN | FRAME_BINARY },
		{ FRAME_BINARY, FRAME_TEXT },
		{ FRAME_BINARY, FIN | FRAME_BINARY },
	};
	struct wsproto p;
	size_t i;

	for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		wsproto_init(&p, 64);
		expect_none(feeds(&p, pairs[i][0], "a"));
		expect_fail(feeds(&p, pairs[i][1], "b"), 1002);
		expect_ended(&p);
		wsproto_free(&p);
	}
}
END_TEST

/* Feeds a close frame built in b, which must outlive the event. */
static struct wsproto_event
close_frame(struct wsproto *p, uint8_t b[125], unsigned code,
    const void *reason, size_t rlen)
{
	b[0] = (uint8_t)(code >> 8);
	b[1] = (uint8_t)code;
	memcpy(b + 2, reason, rlen);
	return feed(p, FIN | FRAME_CLOSE, b, 2 + rlen);
}

START_TEST(test_close_empty)
{
	struct wsproto p;
	struct wsproto_event ev;

	wsproto_init(&p, 64);
	ev = feed(&p, FIN | FRAME_CLOSE, NULL, 0);
	expect_close(ev, 0);
	ck_assert_uint_eq(ev.len, 0);
	expect_ended(&p);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_close_codes_valid)
{
	static const unsigned codes[] = {
		1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
		1012, 1013, 1014, 3000, 3999, 4000, 4999,
	};
	struct wsproto p;
	uint8_t frame[125];
	struct wsproto_event ev;
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		wsproto_init(&p, 64);
		ev = close_frame(&p, frame, codes[i], "", 0);
		expect_close(ev, codes[i]);
		ck_assert_uint_eq(ev.len, 0);
		expect_ended(&p);
		wsproto_free(&p);
	}
}
END_TEST

START_TEST(test_close_codes_invalid)
{
	static const unsigned codes[] = {
		0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
		5000, 65535,
	};
	struct wsproto p;
	uint8_t frame[125];
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		wsproto_init(&p, 64);
		expect_fail(close_frame(&p, frame, codes[i], "bye", 3), 1002);
		expect_ended(&p);
		wsproto_free(&p);
	}
}
END_TEST

START_TEST(test_close_one_byte)
{
	struct wsproto p;
	static const uint8_t one[] = { 0x03 };

	wsproto_init(&p, 64);
	expect_fail(feed(&p, FIN | FRAME_CLOSE, one, 1), 1002);
	expect_ended(&p);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_close_reason)
{
	struct wsproto p;
	uint8_t frame[125];
	struct wsproto_event ev;
	static const uint8_t bad[] = { 'b', 0xff };
	static const uint8_t cut[] = { 'b', 0xc3 };
	uint8_t *longest = filled(123);

	wsproto_init(&p, 64);
	ev = close_frame(&p, frame, 1001, "bye \xc3\xa9", 6);
	expect_close(ev, 1001);
	ck_assert_uint_eq(ev.len, 6);
	ck_assert(memcmp(ev.data, "bye \xc3\xa9", 6) == 0);
	wsproto_free(&p);

	wsproto_init(&p, 64);
	ev = close_frame(&p, frame, 4000, longest, 123);
	expect_close(ev, 4000);
	ck_assert_uint_eq(ev.len, 123);
	wsproto_free(&p);

	wsproto_init(&p, 64);
	expect_fail(close_frame(&p, frame, 1000, bad, sizeof bad), 1002);
	expect_ended(&p);
	wsproto_free(&p);

	wsproto_init(&p, 64);
	expect_fail(close_frame(&p, frame, 1000, cut, sizeof cut), 1002);
	wsproto_free(&p);
	free(longest);
}
END_TEST

START_TEST(test_ping_pong)
{
	struct wsproto p;
	static const uint8_t ping[] = { 0x00, 0xff, 0x10 };
	struct wsproto_event ev;

	wsproto_init(&p, 64);
	ev = feed(&p, FIN | FRAME_PING, ping, sizeof ping);
	ck_assert_int_eq(ev.verdict, WSPROTO_PING);
	ck_assert_ptr_eq(ev.data, ping);
	ck_assert_uint_eq(ev.len, sizeof ping);
	ev = feed(&p, FIN | FRAME_PING, NULL, 0);
	ck_assert_int_eq(ev.verdict, WSPROTO_PING);
	ck_assert_ptr_nonnull(ev.data);
	ck_assert_uint_eq(ev.len, 0);
	expect_none(feed(&p, FIN | FRAME_PONG, ping, sizeof ping));
	expect_none(feed(&p, FIN | FRAME_PONG, NULL, 0));
	/* Neither changed the state. */
	expect_message(feeds(&p, FIN | FRAME_TEXT, "hi"), FRAME_TEXT, "hi", 2);
	wsproto_free(&p);
}
END_TEST

START_TEST(test_state_reuse)
{
	struct wsproto p;
	static const uint8_t in[] = "zero-copy";
	static const uint8_t bin[] = { 0x00, 0xff };
	struct wsproto_event ev;
	int round;

	wsproto_init(&p, 64);
	for (round = 0; round < 3; round++) {
		expect_none(feeds(&p, FRAME_TEXT, "hel"));
		expect_message(feeds(&p, FIN | FRAME_CONT, "lo"), FRAME_TEXT,
		    "hello", 5);
		ev = feed(&p, FIN | FRAME_TEXT, in, 9);
		expect_message(ev, FRAME_TEXT, in, 9);
		ck_assert_ptr_eq(ev.data, in);
		expect_none(feed(&p, FRAME_BINARY, bin, 1));
		expect_message(feed(&p, FIN | FRAME_CONT, bin + 1, 1),
		    FRAME_BINARY, bin, 2);
		/* The last message must not leak into the next. */
		expect_none(feeds(&p, FRAME_TEXT, "a"));
		expect_message(feeds(&p, FIN | FRAME_CONT, "b"), FRAME_TEXT,
		    "ab", 2);
		expect_message(feed(&p, FIN | FRAME_BINARY, bin, 2), FRAME_BINARY,
		    bin, 2);
	}
	wsproto_free(&p);
}
END_TEST

START_TEST(test_free_with_message_in_progress)
{
	struct wsproto p;

	/* LeakSanitizer fails this test if free leaves the fragments. */
	wsproto_init(&p, 64);
	expect_none(feeds(&p, FRAME_TEXT, "abc"));
	wsproto_free(&p);
	expect_none(feeds(&p, FIN | FRAME_CONT, "d"));
	expect_none(feeds(&p, FIN | FRAME_TEXT, "d"));
	wsproto_free(&p);

	wsproto_init(&p, 64);
	expect_message(feeds(&p, FIN | FRAME_TEXT, "e"), FRAME_TEXT, "e", 1);
	wsproto_free(&p);
}
END_TEST

static Suite *
wsproto_suite(void)
{
	Suite *s = suite_create("wsproto");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_unfragmented_text_zero_copy);
	tcase_add_test(tc, test_unfragmented_binary_zero_copy);
	tcase_add_test(tc, test_fragments_reassembled);
	tcase_add_test(tc, test_many_fragments);
	tcase_add_test(tc, test_binary_stays_binary);
	tcase_add_test(tc, test_control_between_fragments);
	tcase_add_test(tc, test_close_between_fragments);
	tcase_add_test(tc, test_empty_message);
	tcase_add_test(tc, test_max_single_frame);
	tcase_add_test(tc, test_max_fragmented);
	tcase_add_test(tc, test_max_zero);
	tcase_add_test(tc, test_utf8_split_two_fragments);
	tcase_add_test(tc, test_utf8_split_three_fragments);
	tcase_add_test(tc, test_utf8_invalid_unfragmented);
	tcase_add_test(tc, test_utf8_invalid_fragmented);
	tcase_add_test(tc, test_utf8_fails_early);
	tcase_add_test(tc, test_rsv_bits);
	tcase_add_test(tc, test_unknown_opcodes);
	tcase_add_test(tc, test_control_frame_limits);
	tcase_add_test(tc, test_continuation_without_start);
	tcase_add_test(tc, test_data_frame_during_message);
	tcase_add_test(tc, test_close_empty);
	tcase_add_test(tc, test_close_codes_valid);
	tcase_add_test(tc, test_close_codes_invalid);
	tcase_add_test(tc, test_close_one_byte);
	tcase_add_test(tc, test_close_reason);
	tcase_add_test(tc, test_ping_pong);
	tcase_add_test(tc, test_state_reuse);
	tcase_add_test(tc, test_free_with_message_in_progress);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(wsproto_suite());
}
