/*
 * it_resume: groupchat.v1 on one node (protocol.md, "Resuming") over real
 * WebSocket. The 101 selects the subprotocol only when it is offered,
 * exactly spelled; the first frame is the status; every message carries
 * its position, text as text and binary as binary. A member that drops
 * and comes back with since gets what it missed exactly once, in order,
 * then the live stream; reset after trimming, on another epoch, after a
 * delete and re-create, past the newest message and with --history 0;
 * a malformed since is a 400 before any upgrade; the seam between replay
 * and live messages has no gap and no duplicate while about 1,000
 * messages a second flow; /stats and /metrics count it all; a client
 * that does not opt in sees today's bytes, since or not.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/config.h"
#include "groupchat/core/position.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/itest_v1.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

static int port;

static void
up(const struct config *cfg)
{
	port = itf_up(cfg);
}

/* A server with history bounds of its own. */
static void
up_history(size_t count, size_t send_queue)
{
	struct config cfg;

	it_config(&cfg);
	cfg.history = count;
	cfg.send_queue = send_queue;
	up(&cfg);
}

/* The path of group id with since (NULL: none). */
static void
path_since(char *out, size_t len, const char *id, const char *since)
{
	char *p = itx_group_path(id);

	snprintf(out, len, "%s%s%s", p, since != NULL ? "?since=" : "",
	    since != NULL ? since : "");
	free(p);
}

/* Joins id in groupchat.v1 mode (with since unless NULL): the 101 must
 * select it, and its first frame be a text status, copied into status. */
static struct it_ws *
v1_join(const char *id, const char *since, char *status, size_t slen)
{
	char path[256];

	path_since(path, sizeof(path), id, since);
	return itv1_join(port, path, status, slen);
}

/* Sends n texts "<prefix><i>" (i from first) from a plain member and
 * waits for its own relay of the last, so the group has fanned them all
 * out. */
static void
send_n(struct it_ws *from, const char *prefix, int first, int n)
{
	char text[64];

	for (int i = first; i < first + n; i++) {
		snprintf(text, sizeof(text), "%s%d", prefix, i);
		ck_assert_int_eq(it_ws_send_text(from, text), 0);
	}
	ck_assert_int_eq(it_ws_expect_suffix(from, IT_OP_TEXT, text, strlen(text),
	    NULL, IT_TIMEOUT_MS), 0);
}

static long long
total(const char *name)
{
	long long v = -1;

	ck_assert_int_eq(itx_stats_total(port, name, &v), 0);
	return v;
}

/* Offered among others, the 101 selects groupchat.v1; the status of a
 * first join to an empty group is "ok <epoch>:0"; messages carry their
 * positions from 1, text as text and binary as binary; a second group has
 * another epoch. A first join counts neither as recovery nor as reset. */
START_TEST(test_v1_frames)
{
	struct it_response resp;
	struct it_ws *a, *b;
	struct position p, q;
	char status[64], body[64];

	up(NULL);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	ck_assert_int_eq(itx_create(port, "h"), 201);
	a = it_ws_connect_resp(port, "/groups/g",
	    "Sec-WebSocket-Protocol: chat, groupchat.v1 ,x\r\n", &resp);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(it_header(&resp, "Sec-WebSocket-Protocol"), "groupchat.v1");
	it_response_free(&resp);
	it_ws_free(a);
	a = v1_join("g", NULL, status, sizeof(status));
	p = itv1_status(status, "ok");
	ck_assert_uint_eq(p.offset, 0);
	ck_assert_int_eq(it_ws_send_text(a, "hello"), 0);
	q = itv1_recv(a, IT_OP_TEXT, body, sizeof(body));
	ck_assert_str_eq(body, "hello");
	ck_assert_uint_eq(q.epoch, p.epoch);
	ck_assert_uint_eq(q.offset, 1);
	ck_assert_int_eq(it_ws_send(a, IT_OP_BINARY, 1, "bin", 3), 0);
	q = itv1_recv(a, IT_OP_BINARY, body, sizeof(body));
	ck_assert_str_eq(body, "bin");
	ck_assert_uint_eq(q.offset, 2);
	b = v1_join("h", NULL, status, sizeof(status));
	ck_assert_uint_ne(itv1_status(status, "ok").epoch, p.epoch);
	ck_assert_int_eq(total("recoveries"), 0);
	ck_assert_int_eq(total("resets"), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_int_eq(it_ws_close(b), 0);
}
END_TEST

/* A client that does not offer groupchat.v1 (or offers it in another
 * case, or only other subprotocols) gets a 101 without a subprotocol and
 * today's frames, with or without a since, well-formed or not. */
START_TEST(test_not_opted_in)
{
	static const char *const offers[] = {
		NULL,
		"Sec-WebSocket-Protocol: chat\r\n",
		"Sec-WebSocket-Protocol: GROUPCHAT.V1\r\n",
		"Sec-WebSocket-Protocol: groupchat.v1x, xgroupchat.v1\r\n",
	};
	static const char *const paths[] = {
		"/groups/g", "/groups/g?since=garbage", "/groups/g?since=0123456789abcdef:0",
	};
	struct it_response resp;
	struct it_frame f;
	struct it_ws *ws;

	up(NULL);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++) {
		ws = it_ws_connect_resp(port, paths[i % 3], offers[i], &resp);
		ck_assert_msg(ws != NULL, "offer %zu: status %d", i, resp.status);
		ck_assert_int_eq(it_header_count(&resp, "Sec-WebSocket-Protocol"), 0);
		it_response_free(&resp);
		ck_assert_int_eq(it_ws_send_text(ws, "plain"), 0);
		ck_assert_int_eq(it_ws_recv(ws, &f, IT_TIMEOUT_MS), IT_FRAME);
		ck_assert_int_eq(f.opcode, IT_OP_TEXT);
		ck_assert_uint_eq(f.len, 14);
		ck_assert_mem_eq(f.payload + 6, " - plain", 8);
		it_frame_free(&f);
		ck_assert_int_eq(it_ws_close(ws), 0);
	}
}
END_TEST

/* A malformed since, with the subprotocol offered, is a 400 with a
 * one-line reason, before any upgrade; the group is untouched. */
START_TEST(test_malformed_since)
{
	static const struct {
		const char *since, *body;
	} bad[] = {
		{ "", "invalid since: not <epoch>:<offset>\n" },
		{ "12", "invalid since: not <epoch>:<offset>\n" },
		{ "0123456789ABCDEF:1", "invalid since: epoch is not 16 lowercase hex digits\n" },
		{ "0123456789abcdef:x", "invalid since: offset is not a decimal number\n" },
		{ "0123456789abcdef:01", "invalid since: offset has a leading zero\n" },
		{ "0123456789abcdef:99999999999999999999", "invalid since: offset is too large\n" },
	};
	struct it_response resp;
	char path[256];

	up(NULL);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		path_since(path, sizeof(path), "g", bad[i].since);
		ck_assert_ptr_null(it_ws_connect_resp(port, path, ITV1_OFFER, &resp));
		ck_assert_int_eq(resp.status, 400);
		ck_assert_str_eq(resp.body, bad[i].body);
		ck_assert_str_eq(it_header(&resp, "Content-Type"), "text/plain; charset=utf-8");
		ck_assert_int_eq(it_header_count(&resp, "Sec-WebSocket-Protocol"), 0);
		it_response_free(&resp);
	}
	/* The first since wins, as for every query parameter. */
	ck_assert_ptr_null(it_ws_connect_resp(port,
	    "/groups/g?since=bad&since=0123456789abcdef:1", ITV1_OFFER, &resp));
	ck_assert_int_eq(resp.status, 400);
	it_response_free(&resp);
	ck_assert_int_eq(total("members"), 0);
}
END_TEST

/* A member drops; what is sent while it is away arrives exactly once, in
 * order, after "ok" naming the newest, then the live stream goes on. */
START_TEST(test_resume_after_drop)
{
	struct it_ws *plain, *a;
	struct position p, q;
	char status[64], body[64], since[POSITION_MAX], want[16];

	up(NULL);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	plain = itf_join(port, "g");
	a = v1_join("g", NULL, status, sizeof(status));
	send_n(plain, "m", 1, 3);
	for (int i = 1; i <= 3; i++) {
		p = itv1_recv(a, IT_OP_TEXT, body, sizeof(body));
		snprintf(want, sizeof(want), "m%d", i);
		ck_assert_str_eq(body, want);
		ck_assert_uint_eq(p.offset, (uint64_t)i);
	}
	it_ws_free(a);
	send_n(plain, "m", 4, 5);
	position_format(&p, since);
	a = v1_join("g", since, status, sizeof(status));
	q = itv1_status(status, "ok");
	ck_assert_uint_eq(q.epoch, p.epoch);
	ck_assert_uint_eq(q.offset, 8);
	for (int i = 4; i <= 8; i++) {
		q = itv1_recv(a, IT_OP_TEXT, body, sizeof(body));
		snprintf(want, sizeof(want), "m%d", i);
		ck_assert_str_eq(body, want);
		ck_assert_uint_eq(q.offset, (uint64_t)i);
	}
	itv1_expect_quiet(a);
	send_n(plain, "m", 9, 1);
	q = itv1_recv(a, IT_OP_TEXT, body, sizeof(body));
	ck_assert_str_eq(body, "m9");
	ck_assert_uint_eq(q.offset, 9);
	/* Nothing missed: ok, and nothing replayed. */
	position_format(&q, since);
	it_ws_free(a);
	a = v1_join("g", since, status, sizeof(status));
	ck_assert_uint_eq(itv1_status(status, "ok").offset, 9);
	itv1_expect_quiet(a);
	ck_assert_int_eq(total("recoveries"), 2);
	ck_assert_int_eq(total("replayed_messages"), 5);
	ck_assert_int_eq(total("resets"), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_int_eq(it_ws_close(plain), 0);
}
END_TEST

/* With --history 3, a member 5 behind gets reset naming the newest, and
 * then the live stream only; 3 behind is still ok. */
START_TEST(test_reset_after_trim)
{
	struct it_ws *plain, *a;
	struct position p = { 0, 0 };
	char status[64], body[64], since[POSITION_MAX];

	up_history(3, 256);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	plain = itf_join(port, "g");
	a = v1_join("g", NULL, status, sizeof(status));
	p.epoch = itv1_status(status, "ok").epoch;
	it_ws_free(a);
	send_n(plain, "m", 1, 10);
	p.offset = 5;
	position_format(&p, since);
	a = v1_join("g", since, status, sizeof(status));
	ck_assert_uint_eq(itv1_status(status, "reset").offset, 10);
	itv1_expect_quiet(a);
	send_n(plain, "m", 11, 1);
	ck_assert_uint_eq(itv1_recv(a, IT_OP_TEXT, body, sizeof(body)).offset, 11);
	ck_assert_str_eq(body, "m11");
	it_ws_free(a);
	p.offset = 8;
	position_format(&p, since);
	a = v1_join("g", since, status, sizeof(status));
	ck_assert_uint_eq(itv1_status(status, "ok").offset, 11);
	for (int i = 9; i <= 11; i++)
		ck_assert_uint_eq(itv1_recv(a, IT_OP_TEXT, body, sizeof(body)).offset,
		    (uint64_t)i);
	itv1_expect_quiet(a);
	ck_assert_int_eq(total("resets"), 1);
	ck_assert_int_eq(total("recoveries"), 1);
	ck_assert_int_eq(total("replayed_messages"), 3);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_int_eq(it_ws_close(plain), 0);
}
END_TEST

/* Another epoch, a position past the newest, and a replay that would not
 * fit the send queue with the status: reset, each. */
START_TEST(test_reset_unknown)
{
	struct it_ws *plain, *a;
	struct position p, q;
	char status[64], since[POSITION_MAX];

	up_history(100, 4);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	plain = itf_join(port, "g");
	a = v1_join("g", NULL, status, sizeof(status));
	p = itv1_status(status, "ok");
	it_ws_free(a);
	send_n(plain, "m", 1, 4);

	q = (struct position){ p.epoch ^ 1, 1 };
	position_format(&q, since);
	a = v1_join("g", since, status, sizeof(status));
	q = itv1_status(status, "reset");
	ck_assert_uint_eq(q.epoch, p.epoch);
	ck_assert_uint_eq(q.offset, 4);
	it_ws_free(a);

	q = (struct position){ p.epoch, 5 };
	position_format(&q, since);
	a = v1_join("g", since, status, sizeof(status));
	ck_assert_uint_eq(itv1_status(status, "reset").offset, 4);
	it_ws_free(a);

	/* 4 to replay and the status do not fit a queue of 4; 3 do. */
	q = (struct position){ p.epoch, 0 };
	position_format(&q, since);
	a = v1_join("g", since, status, sizeof(status));
	ck_assert_uint_eq(itv1_status(status, "reset").offset, 4);
	it_ws_free(a);
	q.offset = 1;
	position_format(&q, since);
	a = v1_join("g", since, status, sizeof(status));
	ck_assert_uint_eq(itv1_status(status, "ok").offset, 4);
	ck_assert_int_eq(total("resets"), 3);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_int_eq(it_ws_close(plain), 0);
}
END_TEST

/* A deleted group's history goes with it: the re-created id starts a new
 * epoch at 0, and a since of the old one gets reset. */
START_TEST(test_reset_after_recreate)
{
	struct it_ws *a;
	struct position p, q;
	char status[64], body[64], since[POSITION_MAX];

	up(NULL);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	a = v1_join("g", NULL, status, sizeof(status));
	ck_assert_int_eq(it_ws_send_text(a, "old"), 0);
	p = itv1_recv(a, IT_OP_TEXT, body, sizeof(body));
	ck_assert_int_eq(itx_delete(port, "g", NULL, 0), 200);
	ck_assert_int_eq(it_ws_expect_close(a, 1000, IT_TIMEOUT_MS), 0);
	it_ws_free(a);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	position_format(&p, since);
	a = v1_join("g", since, status, sizeof(status));
	q = itv1_status(status, "reset");
	ck_assert_uint_ne(q.epoch, p.epoch);
	ck_assert_uint_eq(q.offset, 0);
	itv1_expect_quiet(a);
	ck_assert_int_eq(it_ws_close(a), 0);
}
END_TEST

/* --history 0: positions without recovery; since always answers reset,
 * even when nothing was missed. */
START_TEST(test_history_off)
{
	struct it_ws *a;
	struct position p;
	char status[64], body[64], since[POSITION_MAX];

	up_history(0, 256);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	a = v1_join("g", NULL, status, sizeof(status));
	ck_assert_int_eq(it_ws_send_text(a, "x"), 0);
	p = itv1_recv(a, IT_OP_TEXT, body, sizeof(body));
	ck_assert_uint_eq(p.offset, 1);
	it_ws_free(a);
	position_format(&p, since);
	a = v1_join("g", since, status, sizeof(status));
	ck_assert_uint_eq(itv1_status(status, "reset").offset, 1);
	ck_assert_int_eq(it_ws_close(a), 0);
}
END_TEST

/* The seam under load. A plain member sends "n<i>" at about 1,000 a
 * second while a v1 member drops and resumes every 400 messages it
 * receives. Over all its connections it must see every offset once, in
 * order, each with the message sent i-th; a reference v1 member that
 * never drops sees the same. */
#define SEAM_N 4000
#define SEAM_EVERY 400

/* The resumer's rejoin: on the one node. */
static struct it_ws *
seam_rejoin(void *arg, int drop, const char *since, char *status, size_t slen)
{
	(void)arg;
	(void)drop;
	return v1_join("g", since, status, slen);
}

START_TEST(test_seam_under_load)
{
	static const struct itv1_seam seam = { SEAM_N, SEAM_EVERY, 60000, seam_rejoin, NULL };
	struct it_ws *plain, *ref, *res;
	char status[64];
	uint64_t epoch;
	int drops;

	up_history(1000, 2048);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	plain = itf_join(port, "g");
	ref = v1_join("g", NULL, status, sizeof(status));
	epoch = itv1_status(status, "ok").epoch;
	res = v1_join("g", NULL, status, sizeof(status));
	drops = itv1_seam_run(&seam, plain, ref, &res, epoch);
	ck_assert_int_eq(drops, SEAM_N / SEAM_EVERY - 1);
	ck_assert_int_eq(total("resets"), 0);
	ck_assert_int_eq(total("recoveries"), drops);
	it_ws_free(ref);
	it_ws_free(res);
	it_ws_free(plain);
}
END_TEST

static Suite *
resume_suite(void)
{
	Suite *s = suite_create("resume");
	TCase *tc = tcase_create("v1");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, itf_down);
	tcase_add_test(tc, test_v1_frames);
	tcase_add_test(tc, test_not_opted_in);
	tcase_add_test(tc, test_malformed_since);
	tcase_add_test(tc, test_resume_after_drop);
	tcase_add_test(tc, test_reset_after_trim);
	tcase_add_test(tc, test_reset_unknown);
	tcase_add_test(tc, test_reset_after_recreate);
	tcase_add_test(tc, test_history_off);
	tcase_add_test(tc, test_seam_under_load);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(resume_suite());
}
