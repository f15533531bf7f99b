/*
 * fuzz_wsproto: feeds wsproto a sequence of frames decoded from the input
 * and checks every verdict against a plain model of RFC 6455 written
 * without wsproto's tricks: it reassembles into its own buffer and judges
 * UTF-8 on the whole message. Where wsproto may legitimately differ (it
 * fails a text stream as soon as no continuation could make it valid, the
 * model only at the end) the model checks that the early failure is right.
 *
 * Input: two bytes of little-endian maximum message size (taken modulo
 * 4097), then frames: one byte of bits, two bytes of little-endian payload
 * length (clipped to what is left), the payload. Each payload is copied
 * into an allocation of its exact size, so reading past it is caught.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/frame.h"
#include "groupchat/core/utf8.h"
#include "groupchat/web/wsproto.h"

#define MAX_LIMIT 4096

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

struct model {
	size_t max;
	unsigned op;		/* message in progress, 0 if none */
	bool ended;
	size_t len;		/* bytes reassembled so far */
	uint8_t acc[MAX_LIMIT + 3];	/* + room to pad for valid_prefix */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True if some continuation makes s valid UTF-8. Each second-byte range
 * of a multi-byte sequence holds 0x80 or 0xBF and later bytes take any
 * continuation byte, so padding with up to three of either decides it. */
static bool
valid_prefix(uint8_t *s, size_t n)
{
	static const uint8_t pads[] = { 0x80, 0xBF };
	size_t k, i;

	for (i = 0; i < sizeof pads; i++) {
		for (k = 0; k <= 3; k++) {
			memset(s + n, pads[i], k);
			if (utf8_valid(s, n + k))
				return true;
		}
	}
	return false;
}

static bool
close_code_ok(unsigned code)
{
	switch (code) {
	case 1000: case 1001: case 1002: case 1003:
	case 1007: case 1008: case 1009: case 1010: case 1011:
	case 1012: case 1013: case 1014:
		return true;
	default:
		return code >= 3000 && code <= 4999;
	}
}

static bool
protocol_error(const struct model *m, unsigned bits, const uint8_t *d,
    size_t len)
{
	unsigned op = bits & 0x0F;
	bool fin = bits & 0x80;

	if (bits & 0x70)
		return true;
	if (op >= FRAME_CLOSE) {
		if (op > FRAME_PONG || !fin || len > 125)
			return true;
		if (op != FRAME_CLOSE || len == 0)
			return false;
		return len == 1 || !close_code_ok((unsigned)d[0] << 8 | d[1]) ||
		    !utf8_valid(d + 2, len - 2);
	}
	if (op > FRAME_BINARY)
		return true;
	return op == FRAME_CONT ? m->op == 0 : m->op != 0;
}

static void
check_event(const struct wsproto_event *ev)
{
	CHECK(ev->data != NULL);
	if (ev->verdict == WSPROTO_FAIL) {
		CHECK(ev->reason != NULL);
		CHECK(strlen(ev->reason) > 0 && strlen(ev->reason) <= 123);
	} else {
		CHECK(ev->reason == NULL);
	}
}

static void
check_control(struct model *m, unsigned op, const uint8_t *d, size_t len,
    const struct wsproto_event *ev)
{
	switch (op) {
	case FRAME_PING:
		CHECK(ev->verdict == WSPROTO_PING);
		CHECK(ev->len == len && (len == 0 || ev->data == d));
		break;
	case FRAME_PONG:
		CHECK(ev->verdict == WSPROTO_NONE);
		break;
	default:
		CHECK(ev->verdict == WSPROTO_CLOSE);
		CHECK(ev->code == (len ? (unsigned)d[0] << 8 | d[1] : 0u));
		m->ended = true;
		break;
	}
}

static void
check_data(struct model *m, unsigned op, bool fin, const uint8_t *d,
    size_t len, const struct wsproto_event *ev)
{
	unsigned msgop = op ? op : m->op;
	bool text = msgop == FRAME_TEXT;

	if (op != FRAME_CONT)
		m->len = 0;
	if (len > m->max - m->len) {
		CHECK(ev->verdict == WSPROTO_FAIL && ev->code == 1009);
		m->ended = true;
		return;
	}
	if (len > 0)
		memcpy(m->acc + m->len, d, len);
	m->len += len;
	if (!fin) {
		if (ev->verdict == WSPROTO_FAIL) {
			CHECK(ev->code == 1007 && text);
			CHECK(!valid_prefix(m->acc, m->len));
			m->ended = true;
			return;
		}
		CHECK(ev->verdict == WSPROTO_NONE);
		m->op = msgop;
		return;
	}
	m->op = 0;
	if (text && !utf8_valid(m->acc, m->len)) {
		CHECK(ev->verdict == WSPROTO_FAIL && ev->code == 1007);
		m->ended = true;
		return;
	}
	CHECK(ev->verdict == WSPROTO_MESSAGE);
	CHECK(ev->opcode == msgop);
	CHECK(ev->len == m->len && ev->len <= m->max);
	CHECK(memcmp(ev->data, m->acc, m->len) == 0);
	CHECK(!text || utf8_valid(ev->data, ev->len));
	if (op != FRAME_CONT && len > 0)
		CHECK(ev->data == d);	/* unfragmented: never copied */
}

static void
check(struct model *m, unsigned bits, const uint8_t *d, size_t len,
    const struct wsproto_event *ev)
{
	unsigned op = bits & 0x0F;

	check_event(ev);
	if (m->ended) {
		CHECK(ev->verdict == WSPROTO_NONE);
	} else if (protocol_error(m, bits, d, len)) {
		CHECK(ev->verdict == WSPROTO_FAIL && ev->code == 1002);
		m->ended = true;
	} else if (op >= FRAME_CLOSE) {
		check_control(m, op, d, len, ev);
	} else {
		check_data(m, op, (bits & 0x80) != 0, d, len, ev);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct wsproto p;
	struct wsproto_event ev;
	unsigned bits;
	size_t len;
	uint8_t *frame;

	if (size < 2)
		return 0;
	m.max = ((size_t)data[0] | (size_t)data[1] << 8) % (MAX_LIMIT + 1);
	m.op = 0;
	m.ended = false;
	m.len = 0;
	data += 2;
	size -= 2;
	wsproto_init(&p, m.max);
	while (size >= 3) {
		bits = data[0];
		len = (size_t)data[1] | (size_t)data[2] << 8;
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		frame = NULL;
		if (len > 0) {
			CHECK((frame = malloc(len)) != NULL);
			memcpy(frame, data, len);
		}
		wsproto_feed(&p, bits, frame, len, &ev);
		check(&m, bits, frame, len, &ev);
		free(frame);
		data += len;
		size -= len;
	}
	wsproto_free(&p);
	return 0;
}
