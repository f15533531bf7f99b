/*
 * history: a ring of frame references. ring[head] is the oldest message
 * held, ring[(head + n - 1) % cap] the newest, whose offset is last; so
 * the oldest held is last - n + 1. The ring starts empty and doubles
 * when full, up to max_count slots: a group that never speaks costs no
 * ring, and one that speaks a little costs a little.
 *
 * Who touches what: the group thread alone (see history.h).
 */
#include "groupchat/core/history.h"

#include <stdlib.h>
#include <string.h>

#include "groupchat/core/frame.h"

/* Slots of the first ring. */
#define HISTORY_FIRST_CAP 8

struct history {
	struct frame **ring;
	size_t cap, head, n;
	size_t bytes;
	size_t max_count, max_bytes;
	uint64_t last;
};

struct history *
history_new(size_t max_count, size_t max_bytes)
{
	struct history *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->max_count = max_count;
	h->max_bytes = max_bytes;
	return h;
}

void
history_free(struct history *h)
{
	if (h == NULL)
		return;
	history_clear(h);
	free(h->ring);
	free(h);
}

/* Drops the oldest message held. */
static void
history_drop_oldest(struct history *h)
{
	struct frame *m = h->ring[h->head];

	h->bytes -= frame_len(m);
	frame_unref(m);
	h->head = (h->head + 1) % h->cap;
	h->n--;
}

void
history_clear(struct history *h)
{
	while (h->n > 0)
		history_drop_oldest(h);
	h->head = 0;
}

/* A ring twice as big (at most max_count), the messages moved to its
 * start in order. 0, or -1 when there is no memory. */
static int
history_grow(struct history *h)
{
	size_t cap = h->cap == 0 ? HISTORY_FIRST_CAP : h->cap * 2, i;
	struct frame **ring;

	if (cap > h->max_count)
		cap = h->max_count;
	if ((ring = malloc(cap * sizeof(*ring))) == NULL)
		return -1;
	for (i = 0; i < h->n; i++)
		ring[i] = h->ring[(h->head + i) % h->cap];
	free(h->ring);
	h->ring = ring;
	h->cap = cap;
	h->head = 0;
	return 0;
}

uint64_t
history_append(struct history *h, struct frame *m)
{
	size_t len = frame_len(m);

	h->last++;
	if (len > h->max_bytes || h->max_count == 0) {
		history_clear(h);
		return h->last;
	}
	while (h->n > 0 && (h->n == h->max_count || h->bytes + len > h->max_bytes))
		history_drop_oldest(h);
	if (h->n == h->cap && history_grow(h) == -1) {
		/* Keeping the older ones without this one would leave a hole. */
		history_clear(h);
		return h->last;
	}
	h->ring[(h->head + h->n) % h->cap] = frame_ref(m);
	h->n++;
	h->bytes += len;
	return h->last;
}

uint64_t
history_last(const struct history *h)
{
	return h->last;
}

bool
history_covers(const struct history *h, uint64_t offset)
{
	return h->max_count > 0 && offset <= h->last && h->last - offset <= h->n;
}

void
history_after(const struct history *h, uint64_t offset,
    struct frame *const **a, size_t *na, struct frame *const **b, size_t *nb)
{
	size_t want = (size_t)(h->last - offset), start;

	*a = *b = h->ring;
	*na = *nb = 0;
	if (want == 0)
		return;
	start = (h->head + (h->n - want)) % h->cap;
	*a = h->ring + start;
	if (start + want <= h->cap) {
		*na = want;
		*nb = 0;
	} else {
		*na = h->cap - start;
		*nb = want - *na;
	}
}

size_t
history_count(const struct history *h)
{
	return h->n;
}

size_t
history_bytes(const struct history *h)
{
	return h->bytes;
}
