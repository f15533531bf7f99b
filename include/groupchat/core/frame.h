/*
 * frame: a reference-counted, immutable, ready-to-send WebSocket frame.
 *
 * A broadcast is framed once (unmasked, FIN set) and every receiver's send
 * queue holds a reference to the same bytes; the last frame_unref frees it.
 * The bytes never change after frame_new, so readers need no lock.
 */
#ifndef GROUPCHAT_FRAME_H
#define GROUPCHAT_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum frame_opcode {
	FRAME_CONT = 0x0,
	FRAME_TEXT = 0x1,
	FRAME_BINARY = 0x2,
	FRAME_CLOSE = 0x8,
	FRAME_PING = 0x9,
	FRAME_PONG = 0xA,
};

/* Largest header frame_header writes: 2 + 8 length bytes, no mask. */
#define FRAME_HEADER_MAX 10

struct frame;

/* Writes the header of an unmasked FIN frame carrying payload_len bytes
 * into out (FRAME_HEADER_MAX bytes); returns the header length (2, 4 or 10). */
size_t frame_header(uint8_t *out, enum frame_opcode op, uint64_t payload_len);

/* One frame whose payload is a followed by b (either may be empty), so
 * "<cid> - " and the message body are framed without an extra copy.
 * Reference count 1. NULL on ENOMEM. */
struct frame *frame_new(enum frame_opcode op, const void *a, size_t alen,
                    const void *b, size_t blen);

/* The longest payload of a control frame (RFC 6455 5.5). */
#define FRAME_CONTROL_MAX 125

/* The longest close frame: a 2-byte header and a 125-byte payload. */
#define FRAME_CLOSE_MAX 127

/* Writes a close frame into out: 2-byte big-endian code then reason (at
 * most 123 bytes, longer is cut between UTF-8 sequences). Code 0 gives an
 * empty close payload. Returns the frame length (2 to 127); it needs no
 * allocation, so it cannot fail. */
size_t frame_build_close(uint8_t out[FRAME_CLOSE_MAX], uint16_t code,
                         const char *reason);

/* Takes another reference; returns m. Safe from any thread. */
struct frame *frame_ref(struct frame *m);

/* Takes n more references in one atomic step: the fan-out takes one per
 * member at once instead of one cache-line bounce per member. */
struct frame *frame_ref_n(struct frame *m, size_t n);

/* Drops a reference; the last one frees the frame. NULL is ignored. */
void frame_unref(struct frame *m);

/* Drops n references in one atomic step (n may be 0), as frame_unref
 * does one: the fan-out gives back in one step those it took for
 * members that took the run's other spelling. */
void frame_unref_n(struct frame *m, size_t n);

/* The whole frame, header included. */
const uint8_t *frame_data(const struct frame *m);
size_t frame_len(const struct frame *m);

/* The payload length (frame minus header). */
size_t frame_payload_len(const struct frame *m);

/* The payload bytes and the frame's opcode. */
const uint8_t *frame_payload(const struct frame *m);
enum frame_opcode frame_opcode(const struct frame *m);

#endif
