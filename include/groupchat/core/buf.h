/*
 * buf: a growable byte buffer with a hard cap, for building responses and
 * reassembling messages. Growth doubles; an append that would pass the
 * cap fails with EMSGSIZE and leaves the buffer as it was.
 */
#ifndef GROUPCHAT_BUF_H
#define GROUPCHAT_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;   /* bytes allocated */
	size_t limit; /* most bytes the buffer may ever hold; 0: no limit */
};

/* An empty buffer that may hold at most limit bytes (0: no limit). */
void buf_init(struct buf *b, size_t limit);

/* Frees the storage; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);

/* Appends n bytes. 0, or -1 with EMSGSIZE (over the limit) or ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string (without the NUL). */
int buf_puts(struct buf *b, const char *s);

/* Appends printf output. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Makes room for n more bytes without changing len. */
int buf_reserve(struct buf *b, size_t n);

/* Empties the buffer, keeping its storage. */
#define buf_reset(b) ((b)->len = 0)

#endif
