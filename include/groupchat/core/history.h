/*
 * history: a group's recent messages, numbered. Every message a group
 * fans out gets the next offset (from 1); the history keeps references
 * to the newest of them, at most max_count messages and max_bytes frame
 * bytes, so that a member coming back with a position can be sent what
 * it missed. What it holds is always a run without holes ending at the
 * newest message: a message it cannot keep (bigger than max_bytes, or no
 * memory) empties it, and the offsets go on.
 *
 * Not thread-safe: its group's thread alone uses it. Gone with the group.
 */
#ifndef GROUPCHAT_HISTORY_H
#define GROUPCHAT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct frame;

/* The defaults of --history and --history-bytes. */
#define HISTORY_DEFAULT_COUNT 100
#define HISTORY_DEFAULT_BYTES ((size_t)1 << 20)

struct history;

/* An empty history (no message yet, offset 0) bounded by max_count
 * messages (0: it keeps none) and max_bytes bytes of frames. Its storage
 * grows with use, up to the bounds. NULL with ENOMEM. */
struct history *history_new(size_t max_count, size_t max_bytes);

/* Drops every reference held and frees h. NULL is ignored. */
void history_free(struct history *h);

/* Numbers m as the next message and returns its offset. Keeps a
 * reference to m if it fits the bounds, dropping the oldest messages
 * until it does; cannot fail (see above). */
uint64_t history_append(struct history *h, struct frame *m);

/* The offset of the newest message (0 before the first). */
uint64_t history_last(const struct history *h);

/* Whether h holds every message after offset: offset is at most the
 * newest and no message after it was dropped. A history that keeps
 * nothing (max_count 0) covers nothing. */
bool history_covers(const struct history *h, uint64_t offset);

/* The messages after offset, oldest first, as two runs in place:
 * (*a)[0..*na) then (*b)[0..*nb). Only when history_covers(h, offset);
 * the runs stay valid until the next append or clear. */
void history_after(const struct history *h, uint64_t offset,
                   struct frame *const **a, size_t *na,
                   struct frame *const **b, size_t *nb);

/* Drops every message held; the offsets go on. */
void history_clear(struct history *h);

/* Messages and frame bytes held now. */
size_t history_count(const struct history *h);
size_t history_bytes(const struct history *h);

#endif
