/*
 * it_ws_messages: protocol.md "Messages" against the real server over
 * loopback: the relay "<cid> - <message>" to every member including the
 * sender, the cid's shape and life, empty messages, text and binary kept
 * apart, reassembly of fragments, ordering per sender and across senders,
 * the join that is complete before the 101, the message size cap and
 * frames with 16- and 64-bit lengths. Each test starts its own server in
 * its forked child.
 */
#include <check.h>
#include <ctype.h>
#include <pthread.h>
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

/* The next frame on ws, which must be an unmasked, unfragmented data frame
 * without RSV bits. */
static void
recv_data(struct it_ws *ws, struct it_frame *f, const char *what)
{
	enum it_recv r = it_ws_recv(ws, f, IT_TIMEOUT_MS);

	ck_assert_msg(r == IT_FRAME, "%s: no frame (%d)", what, r);
	ck_assert_msg(f->opcode == IT_OP_TEXT || f->opcode == IT_OP_BINARY,
	    "%s: opcode %d (payload \"%s\")", what, f->opcode, f->payload);
	ck_assert_msg(f->fin && f->rsv == 0 && !f->masked,
	    "%s: fin %d rsv %d masked %d", what, f->fin, f->rsv, f->masked);
}

static int
is_cid(const unsigned char *p)
{
	for (int i = 0; i < 6; i++)
		if (!isdigit(p[i]) && !(p[i] >= 'a' && p[i] <= 'f'))
			return 0;
	return 1;
}

/* The next frame on ws is the relay of body (blen bytes) as opcode op,
 * from the member whose cid is cid, or from anyone if cid is "" (then the
 * cid seen is stored there). */
static void
expect_relay(struct it_ws *ws, int op, const void *body, size_t blen,
    char cid[7], const char *what)
{
	struct it_frame f;

	recv_data(ws, &f, what);
	ck_assert_msg(f.opcode == op, "%s: opcode %d, want %d", what, f.opcode, op);
	ck_assert_msg(f.len == 9 + blen, "%s: payload %zu bytes, want %zu", what,
	    f.len, 9 + blen);
	ck_assert_msg(is_cid(f.payload) && memcmp(f.payload + 6, " - ", 3) == 0,
	    "%s: payload does not start with \"<cid> - \": %.12s", what, f.payload);
	ck_assert_msg(blen == 0 || memcmp(f.payload + 9, body, blen) == 0,
	    "%s: body differs", what);
	if (cid[0] == '\0') {
		memcpy(cid, f.payload, 6);
		cid[6] = '\0';
	} else {
		ck_assert_msg(memcmp(f.payload, cid, 6) == 0, "%s: cid %.6s, want %s",
		    what, f.payload, cid);
	}
	it_frame_free(&f);
}

/* Nothing but data frames may be queued on ws; the next relay must be the
 * text marker (proves that nothing else was relayed before it). */
static void
expect_text(struct it_ws *ws, const char *text, const char *what)
{
	char cid[7] = "";

	expect_relay(ws, IT_OP_TEXT, text, strlen(text), cid, what);
}

START_TEST(relay_reaches_every_member_including_the_sender)
{
	struct it_ws *m[3];
	char cid[3][7];

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	ck_assert_int_eq(itx_create(port, "other"), 201);
	for (int i = 0; i < 3; i++)
		m[i] = itf_join(port, "room");
	struct it_ws *outsider = itf_join(port, "other");
	for (int s = 0; s < 3; s++) {
		char text[32];
		snprintf(text, sizeof(text), "hello from %d", s);
		ck_assert_int_eq(it_ws_send_text(m[s], text), 0);
		cid[s][0] = '\0';
		expect_relay(m[s], IT_OP_TEXT, text, strlen(text), cid[s], "sender");
		for (int r = 0; r < 3; r++)
			if (r != s)
				expect_relay(m[r], IT_OP_TEXT, text, strlen(text), cid[s],
				    "receiver");
	}
	/* Another group hears nothing of it: its next relay is its own. */
	ck_assert_int_eq(it_ws_send_text(outsider, "elsewhere"), 0);
	expect_text(outsider, "elsewhere", "outsider");
	for (int i = 0; i < 3; i++)
		it_ws_free(m[i]);
	it_ws_free(outsider);
}
END_TEST

START_TEST(cid_is_6_lowercase_hex_fixed_per_connection_distinct_among_open)
{
	enum { N = 32 };
	struct it_ws *m[N];
	char cid[N][7];

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	for (int i = 0; i < N; i++) {
		char text[32];
		m[i] = itf_join(port, "room");
		snprintf(text, sizeof(text), "join %d", i);
		/* it_ws_send_wait matches 6 lowercase hex, " - ", the text. */
		ck_assert_int_eq(it_ws_send_wait(m[i], text, m[i], cid[i], IT_TIMEOUT_MS), 0);
		ck_assert_msg(is_cid((unsigned char *)cid[i]), "cid %s", cid[i]);
		for (int j = 0; j < i; j++)
			ck_assert_msg(strcmp(cid[i], cid[j]) != 0,
			    "members %d and %d share cid %s", j, i, cid[i]);
	}
	/* Fixed for the connection's life. */
	for (int k = 0; k < 5; k++) {
		char again[7];
		ck_assert_int_eq(it_ws_send_wait(m[0], "again", m[0], again, IT_TIMEOUT_MS), 0);
		ck_assert_str_eq(again, cid[0]);
	}
	for (int i = 0; i < N; i++)
		it_ws_free(m[i]);
}
END_TEST

START_TEST(empty_message_relays_as_cid_dash_space)
{
	struct it_ws *a, *b;
	char cid[7] = "";

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	a = itf_join(port, "room");
	b = itf_join(port, "room");
	ck_assert_int_eq(it_ws_send(a, IT_OP_TEXT, 1, "", 0), 0);
	expect_relay(b, IT_OP_TEXT, "", 0, cid, "empty text");
	expect_relay(a, IT_OP_TEXT, "", 0, cid, "empty text to sender");
	ck_assert_int_eq(it_ws_send(a, IT_OP_BINARY, 1, "", 0), 0);
	expect_relay(b, IT_OP_BINARY, "", 0, cid, "empty binary");
	/* An empty message in fragments too. */
	ck_assert_int_eq(it_ws_send(a, IT_OP_TEXT, 0, "", 0), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_CONT, 1, "", 0), 0);
	expect_relay(b, IT_OP_TEXT, "", 0, cid, "empty fragments");
	it_ws_free(a);
	it_ws_free(b);
}
END_TEST

START_TEST(text_stays_text_and_binary_stays_binary)
{
	struct it_ws *a, *b;
	unsigned char bin[256];
	char cid[7] = "";
	const char *utf8 = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80";

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	a = itf_join(port, "room");
	b = itf_join(port, "room");
	for (int i = 0; i < 256; i++)
		bin[i] = (unsigned char)(255 - i);
	/* Every byte value, invalid UTF-8 included: binary is not checked. */
	ck_assert_int_eq(it_ws_send(a, IT_OP_BINARY, 1, bin, sizeof(bin)), 0);
	expect_relay(b, IT_OP_BINARY, bin, sizeof(bin), cid, "binary");
	ck_assert_int_eq(it_ws_send_text(a, utf8), 0);
	expect_relay(b, IT_OP_TEXT, utf8, strlen(utf8), cid, "text");
	ck_assert_int_eq(it_ws_send(a, IT_OP_BINARY, 1, "plain ascii", 11), 0);
	expect_relay(b, IT_OP_BINARY, "plain ascii", 11, cid, "ascii as binary");
	expect_relay(a, IT_OP_BINARY, bin, sizeof(bin), cid, "binary to sender");
	expect_relay(a, IT_OP_TEXT, utf8, strlen(utf8), cid, "text to sender");
	expect_relay(a, IT_OP_BINARY, "plain ascii", 11, cid, "ascii to sender");
	it_ws_free(a);
	it_ws_free(b);
}
END_TEST

START_TEST(fragments_are_reassembled_with_a_ping_between_them)
{
	struct it_ws *a, *b;
	struct it_frame f;
	unsigned char bin[3000];
	char cid[7] = "";

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	a = itf_join(port, "room");
	b = itf_join(port, "room");

	ck_assert_int_eq(it_ws_send(a, IT_OP_TEXT, 0, "hel", 3), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_CONT, 0, "lo w", 4), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_CONT, 0, "", 0), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_CONT, 1, "orld", 4), 0);
	expect_relay(b, IT_OP_TEXT, "hello world", 11, cid, "text fragments");
	expect_relay(a, IT_OP_TEXT, "hello world", 11, cid, "text fragments to sender");

	/* A code point split across fragments is still one code point. */
	ck_assert_int_eq(it_ws_send(a, IT_OP_TEXT, 0, "caf\xc3", 4), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_CONT, 1, "\xa9", 1), 0);
	expect_relay(b, IT_OP_TEXT, "caf\xc3\xa9", 5, cid, "split code point");
	expect_relay(a, IT_OP_TEXT, "caf\xc3\xa9", 5, cid, "split code point to sender");

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 7 + 3);
	ck_assert_int_eq(it_ws_send(a, IT_OP_BINARY, 0, bin, 1000), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_PING, 1, "between", 7), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_CONT, 0, bin + 1000, 1500), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_PONG, 1, "unasked", 7), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_CONT, 1, bin + 2500, 500), 0);
	/* The ping is answered at once, ahead of the message it interrupted. */
	ck_assert_int_eq(it_ws_recv(a, &f, IT_TIMEOUT_MS), IT_FRAME);
	ck_assert_msg(f.opcode == IT_OP_PONG && f.len == 7 &&
	    memcmp(f.payload, "between", 7) == 0, "opcode %d payload %s", f.opcode,
	    f.payload);
	it_frame_free(&f);
	expect_relay(b, IT_OP_BINARY, bin, sizeof(bin), cid, "binary fragments");
	expect_relay(a, IT_OP_BINARY, bin, sizeof(bin), cid, "binary fragments to sender");
	it_ws_free(a);
	it_ws_free(b);
}
END_TEST

/* ---- ordering ---------------------------------------------------------- */

enum { SENDERS = 4, PER_SENDER = 200, TOTAL = SENDERS * PER_SENDER };

/* One member: a thread sends its PER_SENDER messages as fast as it can
 * while another reads every relay, so no member is ever a slow reader. */
struct member {
	struct it_ws *ws;
	int k;                   /* sender number */
	char *seen[TOTAL];       /* payloads in arrival order */
	int nseen;
	char err[128];           /* the reader's complaint, if any */
	char serr[64];           /* the sender's */
};

/* No assertion in these threads (Check asserts on the main thread):
 * failures are written to err and serr. */
static void *
member_send(void *arg)
{
	struct member *m = arg;
	char text[32];

	for (int i = 0; i < PER_SENDER; i++) {
		snprintf(text, sizeof(text), "s%d-%d", m->k, i);
		if (it_ws_send_text(m->ws, text) == -1) {
			snprintf(m->serr, sizeof(m->serr), "send %s failed", text);
			break;
		}
	}
	return NULL;
}

static void *
member_read(void *arg)
{
	struct member *m = arg;
	struct it_frame f;

	while (m->nseen < TOTAL) {
		enum it_recv r = it_ws_recv(m->ws, &f, IT_TIMEOUT_MS);
		if (r != IT_FRAME || f.opcode != IT_OP_TEXT) {
			const char *why = "";
			int code = r == IT_FRAME && f.opcode == IT_OP_CLOSE ?
			    it_frame_close_code(&f, &why) : -1;
			snprintf(m->err, sizeof(m->err), "after %d of %d relays: %s "
			    "(opcode %d, close %d \"%s\")", m->nseen, TOTAL,
			    r != IT_FRAME ? "no frame" : "not a text frame",
			    r == IT_FRAME ? f.opcode : -1, code, why);
			if (r == IT_FRAME)
				it_frame_free(&f);
			break;
		}
		m->seen[m->nseen++] = (char *)f.payload;
	}
	return NULL;
}

static void
free_members(struct member *m)
{
	for (int k = 0; k < SENDERS; k++) {
		for (int i = 0; i < m[k].nseen; i++)
			free(m[k].seen[i]);
		it_ws_free(m[k].ws);
	}
}

/* SENDERS members each send PER_SENDER messages at once and read all
 * TOTAL relays; every member must see every relay, in one common order
 * that keeps each sender's order. */
static void
check_order(const struct config *cfg)
{
	static struct member m[SENDERS];
	pthread_t ts[SENDERS], tr[SENDERS];
	char cids[SENDERS][7], errs[SENDERS * 200] = "";
	int next[SENDERS] = { 0 };

	up(cfg);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	for (int k = 0; k < SENDERS; k++) {
		memset(&m[k], 0, sizeof(m[k]));
		m[k].ws = itf_join(port, "room");
		m[k].k = k;
		cids[k][0] = '\0';
	}
	for (int k = 0; k < SENDERS; k++)
		ck_assert_int_eq(pthread_create(&tr[k], NULL, member_read, &m[k]), 0);
	for (int k = 0; k < SENDERS; k++)
		ck_assert_int_eq(pthread_create(&ts[k], NULL, member_send, &m[k]), 0);
	for (int k = 0; k < SENDERS; k++) {
		pthread_join(ts[k], NULL);
		pthread_join(tr[k], NULL);
	}
	for (int k = 0; k < SENDERS; k++)
		if (m[k].serr[0] != '\0' || m[k].err[0] != '\0')
			snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs),
			    "; member %d: %s%s%s", k, m[k].serr, m[k].serr[0] ? ", " : "",
			    m[k].err);
	if (errs[0] != '\0') {
		/* Check's forked child exits at once on a failed assertion:
		 * stop the server first, or the sanitizers report its threads
		 * as leaked on top of the real failure. */
		free_members(m);
		itf_down();
		ck_abort_msg("%s", errs + 2);
	}

	/* Everyone saw the same sequence. */
	for (int k = 1; k < SENDERS; k++)
		for (int i = 0; i < TOTAL; i++)
			ck_assert_msg(strcmp(m[k].seen[i], m[0].seen[i]) == 0,
			    "member %d relay %d is \"%s\", member 0 saw \"%s\"", k, i,
			    m[k].seen[i], m[0].seen[i]);
	/* Each sender's messages in its order, under one cid of its own. */
	for (int i = 0; i < TOTAL; i++) {
		const char *p = m[0].seen[i];
		int s, n;
		ck_assert_msg(strlen(p) > 9 && sscanf(p + 9, "s%d-%d", &s, &n) == 2 &&
		    s >= 0 && s < SENDERS, "relay \"%s\"", p);
		ck_assert_msg(n == next[s], "sender %d: message %d arrived when %d was due",
		    s, n, next[s]);
		next[s]++;
		if (cids[s][0] == '\0') {
			memcpy(cids[s], p, 6);
			cids[s][6] = '\0';
		}
		ck_assert_msg(memcmp(p, cids[s], 6) == 0, "sender %d changed cid", s);
	}
	for (int s = 0; s < SENDERS; s++) {
		ck_assert_int_eq(next[s], PER_SENDER);
		for (int o = 0; o < s; o++)
			ck_assert_str_ne(cids[s], cids[o]);
	}
	free_members(m);
}

/* The ordering rows on their own: a send queue that holds the whole burst,
 * so that nobody can be dropped whatever the scheduler does. */
START_TEST(order_per_sender_and_one_total_order_with_concurrent_senders)
{
	struct config cfg;

	it_config(&cfg);
	cfg.send_queue = 2 * TOTAL;
	check_order(&cfg);
}
END_TEST

/*
 * The same with the default send queue (256). Every member reads all the
 * time on a thread of its own, so none is a slow consumer, and each must
 * get all 800 relays. On a 2-core machine the group thread fans a burst
 * out faster than the members' writer threads get scheduled, so the
 * queues fill before a writer has run: a full queue must mean a slow
 * reader only after a wait, not a writer that has not had a CPU yet.
 */
START_TEST(burst_of_4_senders_x_200_reaches_every_fast_reader)
{
	check_order(NULL);
}
END_TEST

/* ---- the join is complete before the 101 ------------------------------- */

START_TEST(a_member_hears_every_message_sent_after_its_upgrade)
{
	struct it_ws *a, *b;
	char text[32], cid[7] = "";
	int rounds = itx_sanitized() ? 200 : 1000;

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	a = itf_join(port, "room");
	for (int i = 0; i < rounds; i++) {
		b = itf_join(port, "room");
		/* No wait of any kind between the 101 and the send. */
		snprintf(text, sizeof(text), "right after %d", i);
		ck_assert_int_eq(it_ws_send_text(a, text), 0);
		expect_relay(b, IT_OP_TEXT, text, strlen(text), cid, "newcomer");
		expect_relay(a, IT_OP_TEXT, text, strlen(text), cid, "sender");
		if (i % 2 == 0)
			ck_assert_int_eq(it_ws_close(b), 0);
		else
			it_ws_free(b);
	}
	it_ws_free(a);
}
END_TEST

/*
 * The Go server's other hole: a join racing with the last member's leave
 * can land in a group whose goroutine is exiting, and the newcomer never
 * hears anything. Here the only member drops its connection and a new one
 * joins at once, again and again; the newcomer must hear itself.
 */
START_TEST(a_join_racing_the_last_leave_is_never_deaf)
{
	struct it_ws *a, *b;
	char text[32];
	int rounds = itx_sanitized() ? 100 : 400;

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	a = itf_join(port, "room");
	for (int i = 0; i < rounds; i++) {
		it_ws_free(a);
		b = itf_join(port, "room");
		snprintf(text, sizeof(text), "am I heard %d", i);
		ck_assert_msg(it_ws_send_wait(b, text, b, NULL, IT_TIMEOUT_MS) == 0,
		    "round %d: the newcomer did not hear itself", i);
		a = b;
	}
	it_ws_free(a);
}
END_TEST

/* ---- sizes ------------------------------------------------------------- */

#define CAP 70000

START_TEST(message_of_max_message_passes_one_more_byte_closes_1009)
{
	struct config cfg;
	struct it_ws *a, *b, *c, *d;
	unsigned char *big = malloc(CAP + 1);
	char cid[7] = "";

	ck_assert_ptr_nonnull(big);
	for (int i = 0; i <= CAP; i++)
		big[i] = (unsigned char)('a' + i % 26);
	it_config(&cfg);
	cfg.max_message = CAP;
	up(&cfg);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	a = itf_join(port, "room");
	b = itf_join(port, "room");
	c = itf_join(port, "room");
	d = itf_join(port, "room");

	/* Exactly the cap, whole and in fragments: relayed. */
	ck_assert_int_eq(it_ws_send(a, IT_OP_TEXT, 1, big, CAP), 0);
	expect_relay(b, IT_OP_TEXT, big, CAP, cid, "max-message");
	ck_assert_int_eq(it_ws_send(a, IT_OP_BINARY, 0, big, CAP / 2), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_CONT, 1, big + CAP / 2, CAP - CAP / 2), 0);
	expect_relay(b, IT_OP_BINARY, big, CAP, cid, "max-message in fragments");
	expect_relay(a, IT_OP_TEXT, big, CAP, cid, "max-message to sender");
	expect_relay(a, IT_OP_BINARY, big, CAP, cid, "fragments to sender");
	expect_relay(c, IT_OP_TEXT, big, CAP, cid, "max-message to c");
	expect_relay(c, IT_OP_BINARY, big, CAP, cid, "fragments to c");
	expect_relay(d, IT_OP_TEXT, big, CAP, cid, "max-message to d");
	expect_relay(d, IT_OP_BINARY, big, CAP, cid, "fragments to d");

	/* One byte more: the sender is closed with 1009. */
	ck_assert_int_eq(it_ws_send(a, IT_OP_TEXT, 1, big, CAP + 1), 0);
	ck_assert_msg(it_ws_expect_close(a, 1009, IT_TIMEOUT_MS) == 0,
	    "whole message of max-message + 1 bytes: no 1009");
	/* ... also when fragments add up to it. */
	ck_assert_int_eq(it_ws_send(d, IT_OP_BINARY, 0, big, CAP), 0);
	ck_assert_int_eq(it_ws_send(d, IT_OP_CONT, 1, big, 1), 0);
	ck_assert_msg(it_ws_expect_close(d, 1009, IT_TIMEOUT_MS) == 0,
	    "fragments of max-message + 1 bytes: no 1009");

	/* The others never saw the oversize messages and keep chatting. */
	ck_assert_int_eq(it_ws_send_text(b, "still here"), 0);
	expect_text(c, "still here", "after the oversize messages");
	expect_text(b, "still here", "after the oversize messages, to b");
	ck_assert_int_eq(it_ws_send_text(c, "me too"), 0);
	expect_text(b, "me too", "c to b");
	expect_text(c, "me too", "c to c");
	it_ws_free(b);
	it_ws_free(c);
	it_ws_free(a);
	it_ws_free(d);
	free(big);
}
END_TEST

START_TEST(messages_of_64_kib_and_more_relay_intact)
{
	/* Inbound 7/16/64-bit lengths, and relays (9 bytes longer) that
	 * cross the same boundaries. */
	static const size_t sizes[] = {
		116, 117, 125, 126, 65526, 65527, 65535, 65536, 65537, 300000, 1 << 20,
	};
	struct it_ws *a, *b;
	unsigned char *p = malloc(1 << 20);
	char cid[7] = "";

	ck_assert_ptr_nonnull(p);
	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	a = itf_join(port, "room");
	b = itf_join(port, "room");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		char what[48];
		for (size_t i = 0; i < sizes[k]; i++)
			p[i] = (unsigned char)((i * 31 + k) & 0xFF);
		snprintf(what, sizeof(what), "binary of %zu bytes", sizes[k]);
		ck_assert_int_eq(it_ws_send(a, IT_OP_BINARY, 1, p, sizes[k]), 0);
		expect_relay(b, IT_OP_BINARY, p, sizes[k], cid, what);
		expect_relay(a, IT_OP_BINARY, p, sizes[k], cid, what);
		for (size_t i = 0; i < sizes[k]; i++)
			p[i] = (unsigned char)('A' + (i * 7 + k) % 58 % 26);
		snprintf(what, sizeof(what), "text of %zu bytes", sizes[k]);
		ck_assert_int_eq(it_ws_send(a, IT_OP_TEXT, 1, p, sizes[k]), 0);
		expect_relay(b, IT_OP_TEXT, p, sizes[k], cid, what);
		expect_relay(a, IT_OP_TEXT, p, sizes[k], cid, what);
	}
	it_ws_free(a);
	it_ws_free(b);
	free(p);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_ws_messages");
	TCase *tc = tcase_create("messages");

	tcase_add_checked_fixture(tc, NULL, itf_down);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, relay_reaches_every_member_including_the_sender);
	tcase_add_test(tc, cid_is_6_lowercase_hex_fixed_per_connection_distinct_among_open);
	tcase_add_test(tc, empty_message_relays_as_cid_dash_space);
	tcase_add_test(tc, text_stays_text_and_binary_stays_binary);
	tcase_add_test(tc, fragments_are_reassembled_with_a_ping_between_them);
	tcase_add_test(tc, order_per_sender_and_one_total_order_with_concurrent_senders);
	tcase_add_test(tc, burst_of_4_senders_x_200_reaches_every_fast_reader);
	tcase_add_test(tc, a_member_hears_every_message_sent_after_its_upgrade);
	tcase_add_test(tc, a_join_racing_the_last_leave_is_never_deaf);
	tcase_add_test(tc, message_of_max_message_passes_one_more_byte_closes_1009);
	tcase_add_test(tc, messages_of_64_kib_and_more_relay_intact);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
