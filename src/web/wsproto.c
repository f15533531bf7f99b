/*
 * wsproto: RFC 6455 frame rules and reassembly for one connection.
 *
 * State: opcode is the message in progress (0: none; ENDED: a CLOSE or
 * FAIL verdict was given, or wsproto_free ran, and nothing more is read).
 * msg holds the fragments of the message in progress, or the last
 * reassembled message until the next feed releases it: an idle member
 * pins no storage, and fragmented messages are rare (browsers never
 * fragment) so the allocation per fragmented message is cheap overall.
 * An unfragmented data frame is never copied, which is the path every
 * chat message takes.
 *
 * Invariant: msg.len <= max, checked before every append.
 *
 * Fragmented text is checked as fragments arrive, so a bad stream fails at
 * the fragment that breaks it instead of after up to max bytes. A code
 * point may straddle two fragments: the incomplete sequence at the end of
 * the buffer (at most 3 bytes) is left unchecked and the next check starts
 * at it, so each byte is checked about once.
 */
#include "groupchat/web/wsproto.h"

#include <stdbool.h>

#include "groupchat/core/frame.h"
#include "groupchat/core/utf8.h"

#define WS_FIN		0x80
#define WS_RSV		0x70
#define WS_OPCODE	0x0F
#define ENDED		0xFF

/* Close codes, RFC 6455 section 7.4.1. */
#define CLOSE_PROTOCOL	1002
#define CLOSE_BAD_DATA	1007
#define CLOSE_TOO_BIG	1009
#define CLOSE_INTERNAL	1011

/* What ev->data points at for an empty payload, so it is never NULL. */
static const uint8_t empty[1];

void
wsproto_init(struct wsproto *p, size_t max_message)
{
	buf_init(&p->msg, max_message);
	p->opcode = 0;
	p->max = max_message;
}

void
wsproto_free(struct wsproto *p)
{
	buf_free(&p->msg);
	p->opcode = ENDED;
}

static void
fail(struct wsproto *p, struct wsproto_event *ev, uint16_t code,
    const char *reason)
{
	wsproto_free(p);
	ev->verdict = WSPROTO_FAIL;
	ev->code = code;
	ev->reason = reason;
}

/* Registered close codes a peer may send (RFC 6455 7.4.1 and the IANA
 * registry: 1012-1014 were added later; 1004-1006 and 1015 are reserved
 * for use outside close frames) plus the library and private ranges. */
static bool
close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) ||
	    (code >= 1007 && code <= 1014) ||
	    (code >= 3000 && code <= 4999);
}

static void
peer_close(struct wsproto *p, const uint8_t *data, size_t len,
    struct wsproto_event *ev)
{
	unsigned code = 0;

	if (len == 1) {
		fail(p, ev, CLOSE_PROTOCOL, "bad close payload");
		return;
	}
	if (len >= 2) {
		code = (unsigned)data[0] << 8 | data[1];
		if (!close_code_valid(code)) {
			fail(p, ev, CLOSE_PROTOCOL, "bad close code");
			return;
		}
		if (!utf8_valid(data + 2, len - 2)) {
			fail(p, ev, CLOSE_PROTOCOL, "close reason not utf-8");
			return;
		}
		data += 2;
		len -= 2;
	}
	wsproto_free(p);
	ev->verdict = WSPROTO_CLOSE;
	ev->code = (uint16_t)code;
	ev->data = data;
	ev->len = len;
}

/* Control frames may sit between the fragments of a message; nothing here
 * touches the message in progress except a close, which ends it all. */
static void
control(struct wsproto *p, unsigned op, bool fin, const uint8_t *data,
    size_t len, struct wsproto_event *ev)
{
	if (!fin || len > FRAME_CONTROL_MAX) {
		fail(p, ev, CLOSE_PROTOCOL, "bad control frame");
		return;
	}
	switch (op) {
	case FRAME_PING:
		ev->verdict = WSPROTO_PING;
		ev->data = data;
		ev->len = len;
		break;
	case FRAME_CLOSE:
		peer_close(p, data, len, ev);
		break;
	default:
		/* A pong needs no answer: our keepalive counts any frame
		 * received as life (keepalive_heard), so there is nothing
		 * to match. CivetWeb's own ping-pong is off. */
		break;
	}
}

static void
deliver(struct wsproto_event *ev, unsigned op, const uint8_t *data,
    size_t len)
{
	ev->verdict = WSPROTO_MESSAGE;
	ev->opcode = (uint8_t)op;
	ev->data = data;
	ev->len = len;
}

static void
whole(struct wsproto *p, unsigned op, const uint8_t *data, size_t len,
    struct wsproto_event *ev)
{
	if (len > p->max)
		fail(p, ev, CLOSE_TOO_BIG, "message too big");
	else if (op == FRAME_TEXT && !utf8_valid(data, len))
		fail(p, ev, CLOSE_BAD_DATA, "invalid utf-8");
	else
		deliver(ev, op, data, len);
}

/* How many bytes the sequence that lead byte b starts needs; 1 for bytes
 * that cannot start one, so that utf8_valid judges them at once. */
static size_t
utf8_need(uint8_t b)
{
	if (b >= 0xC2 && b <= 0xDF)
		return 2;
	if (b >= 0xE0 && b <= 0xEF)
		return 3;
	if (b >= 0xF0 && b <= 0xF4)
		return 4;
	return 1;
}

/* Where the incomplete sequence at the end of s[0..len) starts, or len if
 * none is cut short. Only the lead byte is judged; the sequence itself is
 * checked once the next fragment completes it. */
static size_t
utf8_tail(const uint8_t *s, size_t len)
{
	size_t k;

	for (k = 1; k <= 3 && k <= len; k++) {
		if ((s[len - k] & 0xC0) == 0x80)
			continue;
		return utf8_need(s[len - k]) > k ? len - k : len;
	}
	return len;
}

/* Checks the text appended to msg since it held old bytes: the bytes from
 * the sequence cut short at old up to the end, or, before the last
 * fragment, up to the sequence now cut short at the end. */
static bool
text_ok(const struct buf *msg, size_t old, bool fin)
{
	size_t from, to;

	from = utf8_tail(msg->data, old);
	to = fin ? msg->len : utf8_tail(msg->data, msg->len);
	return to == from || utf8_valid(msg->data + from, to - from);
}

static void
fragment(struct wsproto *p, bool fin, const uint8_t *data, size_t len,
    struct wsproto_event *ev)
{
	size_t old = p->msg.len;

	if (len > p->max - old) {
		fail(p, ev, CLOSE_TOO_BIG, "message too big");
		return;
	}
	/* With the limit checked above, only ENOMEM is left. */
	if (buf_append(&p->msg, data, len) == -1) {
		fail(p, ev, CLOSE_INTERNAL, "out of memory");
		return;
	}
	if (p->opcode == FRAME_TEXT && !text_ok(&p->msg, old, fin)) {
		fail(p, ev, CLOSE_BAD_DATA, "invalid utf-8");
		return;
	}
	if (!fin)
		return;
	deliver(ev, p->opcode, p->msg.len ? p->msg.data : empty, p->msg.len);
	p->opcode = 0;
}

void
wsproto_feed(struct wsproto *p, unsigned bits, const uint8_t *data,
    size_t len, struct wsproto_event *ev)
{
	unsigned op = bits & WS_OPCODE;
	bool fin = (bits & WS_FIN) != 0;

	*ev = (struct wsproto_event){ .verdict = WSPROTO_NONE, .data = empty };
	if (p->opcode == ENDED)
		return;
	if (p->opcode == 0)
		buf_free(&p->msg);	/* the last message was delivered */
	if (data == NULL)
		data = empty;
	if (bits & WS_RSV) {
		fail(p, ev, CLOSE_PROTOCOL, "reserved bits set");
		return;
	}
	switch (op) {
	case FRAME_CONT:
		if (p->opcode == 0)
			fail(p, ev, CLOSE_PROTOCOL, "nothing to continue");
		else
			fragment(p, fin, data, len, ev);
		break;
	case FRAME_TEXT:
	case FRAME_BINARY:
		if (p->opcode != 0) {
			fail(p, ev, CLOSE_PROTOCOL, "expected a continuation");
		} else if (fin) {
			whole(p, op, data, len, ev);
		} else {
			p->opcode = (uint8_t)op;
			fragment(p, fin, data, len, ev);
		}
		break;
	case FRAME_CLOSE:
	case FRAME_PING:
	case FRAME_PONG:
		control(p, op, fin, data, len, ev);
		break;
	default:
		fail(p, ev, CLOSE_PROTOCOL, "unknown opcode");
		break;
	}
}
