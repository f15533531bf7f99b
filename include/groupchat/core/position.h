/*
 * position: where a message stands in its group's history, written
 * "<epoch>:<offset>" (docs/protocol.md, groupchat.v1). The epoch names one
 * unbroken history of the group, 16 lowercase hex digits; the offset
 * counts that history's messages from 1 (0: before the first), in
 * decimal without leading zeros.
 *
 * The parser reads bytes a client sent and never touches a socket; it is
 * fuzzed (fuzz/fuzz_position.c). Formatting cannot fail.
 */
#ifndef GROUPCHAT_POSITION_H
#define GROUPCHAT_POSITION_H

#include <stddef.h>
#include <stdint.h>

/* Hex digits of an epoch. */
#define POSITION_EPOCH_LEN 16
/* Longest position written, with its NUL: epoch, ':', 20 digits. */
#define POSITION_MAX (POSITION_EPOCH_LEN + 1 + 20 + 1)

struct frame;

struct position {
	uint64_t epoch;
	uint64_t offset;
};

/* Parses the len bytes at s (not NUL-terminated). 0 with *out set, or -1
 * with *why set to a one-line reason (a literal) when s is not exactly
 * "<16 lowercase hex digits>:<decimal offset>". */
int position_parse(const char *s, size_t len, struct position *out,
                   const char **why);

/* Writes p as "<epoch>:<offset>" and a NUL into out; returns the length
 * without the NUL. */
size_t position_format(const struct position *p, char out[POSITION_MAX]);

/* m spelled for groupchat.v1 at position p: a frame of m's opcode whose
 * payload is "<p>\n" followed by m's payload. Reference count 1. NULL
 * with ENOMEM. */
struct frame *position_stamp(const struct position *p, const struct frame *m);

#endif
