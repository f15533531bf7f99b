/*
 * msg: a reference-counted, immutable, ready-to-send WebSocket frame.
 *
 * A broadcast is framed once (unmasked, FIN set) and every receiver's send
 * queue holds a reference to the same bytes; the last msg_unref frees it.
 * The bytes never change after msg_new*, so readers need no lock.
 */
#ifndef GROUPCHAT_MSG_H
#define GROUPCHAT_MSG_H

#include <stddef.h>
#include <stdint.h>

enum msg_opcode {
	MSG_CONT = 0x0,
	MSG_TEXT = 0x1,
	MSG_BINARY = 0x2,
	MSG_CLOSE = 0x8,
	MSG_PING = 0x9,
	MSG_PONG = 0xA,
};

/* Largest header msg_frame_header writes: 2 + 8 length bytes, no mask. */
#define MSG_HEADER_MAX 10

struct msg;

/* Writes the header of an unmasked FIN frame carrying payload_len bytes
 * into out (MSG_HEADER_MAX bytes); returns the header length (2, 4 or 10). */
size_t msg_frame_header(uint8_t *out, enum msg_opcode op, uint64_t payload_len);

/* One frame whose payload is a followed by b (either may be empty), so
 * "<cid> - " and the message body are framed without an extra copy.
 * Reference count 1. NULL on ENOMEM. */
struct msg *msg_new(enum msg_opcode op, const void *a, size_t alen,
                    const void *b, size_t blen);

/* The longest close frame: a 2-byte header and a 125-byte payload. */
#define MSG_CLOSE_FRAME_MAX 127

/* Writes a close frame into out: 2-byte big-endian code then reason (at
 * most 123 bytes, longer is cut between UTF-8 sequences). Code 0 gives an
 * empty close payload. Returns the frame length (2 to 127); it needs no
 * allocation, so it cannot fail. */
size_t msg_close_frame(uint8_t out[MSG_CLOSE_FRAME_MAX], uint16_t code,
                       const char *reason);

/* Takes another reference; returns m. Safe from any thread. */
struct msg *msg_ref(struct msg *m);

/* Takes n more references in one atomic step: the fan-out takes one per
 * member at once instead of one cache-line bounce per member. */
struct msg *msg_ref_n(struct msg *m, size_t n);

/* Drops a reference; the last one frees the frame. NULL is ignored. */
void msg_unref(struct msg *m);

/* The whole frame, header included. */
const uint8_t *msg_data(const struct msg *m);
size_t msg_len(const struct msg *m);

/* The payload length (frame minus header). */
size_t msg_payload_len(const struct msg *m);

#endif
