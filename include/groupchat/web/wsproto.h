/*
 * wsproto: the reader side of RFC 6455 for one connection, without sockets.
 *
 * CivetWeb 1.15 hands its data handler one frame at a time (first header
 * byte, unmasked payload) and checks nothing. wsproto turns that stream of
 * frames into verdicts: a whole message, a ping to answer, the peer's close,
 * or a protocol violation to close with. It reassembles fragments, caps the
 * message size, validates text as UTF-8 and enforces the frame rules that
 * CivetWeb lets through. It never blocks and never writes; the caller sends
 * whatever the verdict asks for.
 */
#ifndef GROUPCHAT_WSPROTO_H
#define GROUPCHAT_WSPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "groupchat/core/buf.h"

/* Per connection. The fields are private to wsproto.c. */
struct wsproto {
	struct buf msg;  /* reassembly buffer, limit = max message */
	uint8_t opcode;  /* opcode of the message in progress, 0 if none;
	                    0xFF once ended (CLOSE, FAIL or wsproto_free) */
	size_t max;      /* max message size in bytes */
};

enum wsproto_verdict {
	WSPROTO_NONE,    /* nothing to do (a fragment was buffered, or a pong) */
	WSPROTO_MESSAGE, /* a whole message: opcode (FRAME_TEXT or FRAME_BINARY),
	                    data, len */
	WSPROTO_PING,    /* answer with a pong carrying data/len */
	WSPROTO_CLOSE,   /* the peer closed: reply a close frame with code
	                    (0 = empty payload), then end */
	WSPROTO_FAIL,    /* protocol violation: send close code with reason,
	                    then end */
};

struct wsproto_event {
	enum wsproto_verdict verdict;
	uint8_t opcode;      /* MESSAGE: FRAME_TEXT or FRAME_BINARY */
	const uint8_t *data; /* MESSAGE, PING; CLOSE: the peer's reason.
	                        Never NULL; valid until the next
	                        wsproto_feed or wsproto_free */
	size_t len;
	uint16_t code;       /* CLOSE: the peer's code (0 if none); FAIL: ours */
	const char *reason;  /* FAIL: a short static string; NULL otherwise */
};

/* An idle reader accepting messages of at most max_message bytes. */
void wsproto_init(struct wsproto *p, size_t max_message);

/* Releases the reassembly buffer and ends the reader: further feeds give
 * NONE until the next wsproto_init. */
void wsproto_free(struct wsproto *p);

/* Feeds one frame as CivetWeb delivers it: bits is the first header byte
 * (FIN 0x80, RSV 0x70, opcode 0x0F), data the unmasked payload, which
 * wsproto copies if it must keep it. Fills *ev with what to do. An
 * unfragmented data frame is returned without copying (ev->data == data).
 * After a CLOSE or FAIL verdict every further frame gives NONE. Never
 * blocks; allocates only to reassemble fragments. */
void wsproto_feed(struct wsproto *p, unsigned bits, const uint8_t *data,
                  size_t len, struct wsproto_event *ev);

#endif
