/*
 * itest_v1: the groupchat.v1 client of the resume tests (itest_v1.h).
 *
 * Who touches what: only the calling test thread; nothing kept.
 */
#include "itest_v1.h"

#include <check.h>
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
