/*
 * frame: one allocation per frame, the header struct followed by the wire
 * bytes (frame header then payload). Only refs changes after frame_new
 * returns; everything else is read-only, so any thread holding a
 * reference may read the bytes without a lock.
 */
#include "groupchat/core/frame.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A close payload is a 2-byte code plus at most this much reason, so that
 * the whole stays within the 125 bytes a control frame may carry. */
#define FRAME_CLOSE_REASON_MAX 123

struct frame {
	atomic_size_t refs;
	size_t len;      /* bytes in data: header + payload */
	size_t hlen;     /* header bytes at the start of data */
	uint8_t data[];
};

size_t
frame_header(uint8_t *out, enum frame_opcode op, uint64_t payload_len)
{
	int i;

	out[0] = 0x80 | (uint8_t)op;
	if (payload_len <= 125) {
		out[1] = (uint8_t)payload_len;
		return 2;
	}
	if (payload_len <= 0xFFFF) {
		out[1] = 126;
		out[2] = (uint8_t)(payload_len >> 8);
		out[3] = (uint8_t)payload_len;
		return 4;
	}
	out[1] = 127;
	for (i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
	return 10;
}

struct frame *
frame_new(enum frame_opcode op, const void *a, size_t alen, const void *b,
    size_t blen)
{
	struct frame *m;
	uint8_t hdr[FRAME_HEADER_MAX];
	size_t hlen, plen;

	if (alen > SIZE_MAX - blen) {
		errno = ENOMEM;
		return NULL;
	}
	plen = alen + blen;
	hlen = frame_header(hdr, op, plen);
	if (plen > SIZE_MAX - sizeof(*m) - hlen) {
		errno = ENOMEM;
		return NULL;
	}
	if ((m = malloc(sizeof(*m) + hlen + plen)) == NULL)
		return NULL;
	atomic_init(&m->refs, 1);
	m->len = hlen + plen;
	m->hlen = hlen;
	memcpy(m->data, hdr, hlen);
	/* memcpy from NULL is undefined even for zero bytes. */
	if (alen > 0)
		memcpy(m->data + hlen, a, alen);
	if (blen > 0)
		memcpy(m->data + hlen + alen, b, blen);
	return m;
}

size_t
frame_build_close(uint8_t out[FRAME_CLOSE_MAX], uint16_t code,
    const char *reason)
{
	size_t n, back;

	if (code == 0)
		return frame_header(out, FRAME_CLOSE, 0);
	n = reason != NULL ? strlen(reason) : 0;
	if (n > FRAME_CLOSE_REASON_MAX) {
		/*
		 * The peer must see valid UTF-8, so never cut inside a
		 * sequence: while the first byte dropped is a continuation
		 * byte, drop the one before it too. A sequence has at most
		 * three continuation bytes; beyond that the input was not
		 * UTF-8 and backing up further would not help.
		 */
		n = FRAME_CLOSE_REASON_MAX;
		for (back = 0; back < 3 && ((uint8_t)reason[n] & 0xC0) == 0x80;
		    back++)
			n--;
	}
	frame_header(out, FRAME_CLOSE, 2 + n);
	out[2] = (uint8_t)(code >> 8);
	out[3] = (uint8_t)code;
	if (n > 0)
		memcpy(out + 4, reason, n);
	return 4 + n;
}

struct frame *
frame_ref(struct frame *m)
{
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

struct frame *
frame_ref_n(struct frame *m, size_t n)
{
	atomic_fetch_add_explicit(&m->refs, n, memory_order_relaxed);
	return m;
}

void
frame_unref(struct frame *m)
{
	if (m == NULL ||
	    atomic_fetch_sub_explicit(&m->refs, 1, memory_order_release) != 1)
		return;
	/*
	 * Every holder's reads happen before its release decrement; this
	 * acquire load of the final count synchronises with all of them
	 * before the free. (An acquire fence would do, but ThreadSanitizer
	 * does not model fences.)
	 */
	(void)atomic_load_explicit(&m->refs, memory_order_acquire);
	free(m);
}

void
frame_unref_n(struct frame *m, size_t n)
{
	if (n == 0 ||
	    atomic_fetch_sub_explicit(&m->refs, n, memory_order_release) != n)
		return;
	(void)atomic_load_explicit(&m->refs, memory_order_acquire);
	free(m);
}

const uint8_t *
frame_data(const struct frame *m)
{
	return m->data;
}

size_t
frame_len(const struct frame *m)
{
	return m->len;
}

size_t
frame_payload_len(const struct frame *m)
{
	return m->len - m->hlen;
}

const uint8_t *
frame_payload(const struct frame *m)
{
	return m->data + m->hlen;
}

enum frame_opcode
frame_opcode(const struct frame *m)
{
	return (enum frame_opcode)(m->data[0] & 0x0F);
}
