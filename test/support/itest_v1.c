/*
 * itest_v1: the groupchat.v1 client of the resume tests (itest_v1.h).
 *
 * Who touches what: only the calling test thread; nothing kept.
 */
#include "itest_v1.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct it_ws *
itv1_join(int port, const char *path, char *status, size_t slen)
{
	struct it_response resp;
	struct it_frame f;
	struct it_ws *ws;

	ws = it_ws_connect_resp(port, path, ITV1_OFFER, &resp);
	ck_assert_msg(ws != NULL, "join %s on port %d: status %d", path, port, resp.status);
	ck_assert_str_eq(it_header(&resp, "Sec-WebSocket-Protocol"), "groupchat.v1");
	ck_assert_int_eq(it_header_count(&resp, "Sec-WebSocket-Protocol"), 1);
	it_response_free(&resp);
	ck_assert_int_eq(it_ws_recv(ws, &f, ITV1_WAIT_MS), IT_FRAME);
	ck_assert_int_eq(f.opcode, IT_OP_TEXT);
	ck_assert_uint_lt(f.len, slen);
	memcpy(status, f.payload, f.len + 1);
	it_frame_free(&f);
	return ws;
}

struct position
itv1_status(const char *status, const char *word)
{
	size_t w = strlen(word);
	struct position p;
	const char *why;

	ck_assert_msg(strncmp(status, word, w) == 0 && status[w] == ' ',
	    "status \"%s\", want %s", status, word);
	ck_assert_msg(position_parse(status + w + 1, strlen(status + w + 1), &p,
	    &why) == 0, "status \"%s\": %s", status, why);
	return p;
}

struct position
itv1_recv(struct it_ws *ws, int op, char *body, size_t blen)
{
	struct position p;
	struct it_frame f;
	const char *why;
	char *nl;

	ck_assert_int_eq(it_ws_recv(ws, &f, ITV1_WAIT_MS), IT_FRAME);
	ck_assert_msg(f.opcode == op, "opcode %d, want %d", f.opcode, op);
	nl = memchr(f.payload, '\n', f.len);
	ck_assert_ptr_nonnull(nl);
	ck_assert_msg(position_parse((char *)f.payload, (size_t)(nl - (char *)f.payload),
	    &p, &why) == 0, "position of \"%s\": %s", f.payload, why);
	/* "<6 hex> - " and at least nothing after it */
	ck_assert_uint_ge(f.len - (size_t)(nl + 1 - (char *)f.payload), 9);
	ck_assert_mem_eq(nl + 7, " - ", 3);
	ck_assert_uint_lt(f.len, blen + POSITION_MAX + 10);
	snprintf(body, blen, "%s", nl + 10);
	it_frame_free(&f);
	return p;
}

void
itv1_expect_quiet(struct it_ws *ws)
{
	struct it_frame f;
	enum it_recv r = it_ws_recv(ws, &f, ITV1_QUIET_MS);

	ck_assert_msg(r != IT_FRAME, "unexpected frame: \"%s\"", f.payload);
	ck_assert_int_eq(r, IT_TIMEOUT);
}

/* One v1 member of the seam: its connection, and the last offset seen. */
struct seam_reader {
	struct it_ws *ws;
	uint64_t epoch, last;
	int drops;
};

/* Reads what is there on r (waiting at most ms for the first frame) and
 * checks each message against the rule; the resumer (s not NULL) drops
 * and resumes. */
static void
seam_drain(struct seam_reader *r, int ms, const struct itv1_seam *s)
{
	struct it_frame f;
	struct position p;
	const char *why;
	char want[32], since[POSITION_MAX], status[64];
	char *nl;

	while (it_ws_recv(r->ws, &f, ms) == IT_FRAME) {
		ms = 0;
		ck_assert_int_eq(f.opcode, IT_OP_TEXT);
		nl = memchr(f.payload, '\n', f.len);
		ck_assert_ptr_nonnull(nl);
		ck_assert_int_eq(position_parse((char *)f.payload,
		    (size_t)(nl - (char *)f.payload), &p, &why), 0);
		ck_assert_uint_eq(p.epoch, r->epoch);
		ck_assert_msg(p.offset == r->last + 1, "offset %" PRIu64 " after %" PRIu64
		    " (drops %d)", p.offset, r->last, r->drops);
		snprintf(want, sizeof(want), "n%" PRIu64, p.offset);
		ck_assert_str_eq(nl + 10, want);
		r->last = p.offset;
		it_frame_free(&f);
		if (s != NULL && r->last % (uint64_t)s->every == 0 && r->last < (uint64_t)s->n) {
			it_ws_free(r->ws);
			position_format(&p, since);
			r->drops++;
			r->ws = s->rejoin(s->arg, r->drops, since, status, sizeof(status));
			ck_assert_msg(strncmp(status, "ok ", 3) == 0, "resume %d at %s: %s",
			    r->drops, since, status);
			ck_assert_uint_ge(itv1_status(status, "ok").offset, r->last);
		}
	}
}

int
itv1_seam_run(const struct itv1_seam *s, struct it_ws *plain, struct it_ws *ref,
    struct it_ws **res, uint64_t epoch)
{
	struct seam_reader a = { ref, epoch, 0, 0 }, b = { *res, epoch, 0, 0 };
	uint64_t n = (uint64_t)s->n;
	int64_t start = it_now_ms();
	int sent = 0, got = 0;
	char text[32];

	while (a.last < n || b.last < n) {
		/* About one message a millisecond, paced by the clock. */
		while (sent < s->n && sent <= it_now_ms() - start) {
			snprintf(text, sizeof(text), "n%d", ++sent);
			ck_assert_int_eq(it_ws_send_text(plain, text), 0);
		}
		while (got < sent && it_ws_expect_suffix(plain, IT_OP_TEXT, "", 0,
		    NULL, 0) == 0)
			got++;
		seam_drain(&a, 1, NULL);
		seam_drain(&b, 1, s);
		*res = b.ws;
		ck_assert_msg(it_now_ms() - start < s->stall_ms, "stalled: ref %" PRIu64
		    ", resumer %" PRIu64, a.last, b.last);
	}
	fprintf(stderr, "seam: %d messages in %" PRId64 " ms, %d resumes\n", s->n,
	    it_now_ms() - start, b.drops);
	return b.drops;
}
