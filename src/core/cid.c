/*
 * cid: the set of held client ids as a bitmap over the whole 24-bit id
 * space (2 MiB, one bit per id), so membership is one bit test and no
 * hashing or resizing can fail. mu guards the bitmap, the count and the
 * generator state.
 *
 * An id is drawn from a xorshift64* generator seeded from getrandom. Ids
 * are printed in every relayed message, so they are names, not secrets; a
 * fast generator is enough. If the draw is held, the next free id after it
 * is taken, a word of the bitmap at a time: that ends in one pass however
 * full the set is, where redrawing would spin ever longer as it fills.
 */
#include "groupchat/core/cid.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#define CID_SPACE (UINT32_C(1) << 24)
#define CID_WORDS (CID_SPACE / 64)

struct cid_set {
	pthread_mutex_t mu;
	uint64_t rng;             /* xorshift64* state, never 0 */
	size_t count;             /* bits set in held */
	uint64_t held[CID_WORDS]; /* bit id % 64 of word id / 64 */
};

struct cid_set *
cid_set_new(void)
{
	struct cid_set *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng))
		goto err_free;
	if (s->rng == 0)
		s->rng = UINT64_C(0x9E3779B97F4A7C15);
	if ((errno = pthread_mutex_init(&s->mu, NULL)) != 0)
		goto err_free;
	return s;

err_free:
	free(s);
	return NULL;
}

void
cid_set_free(struct cid_set *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static uint32_t
cid_draw(struct cid_set *s)
{
	uint64_t x = s->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	/* The high bits of xorshift64* are its best ones. */
	return (uint32_t)((x * UINT64_C(0x2545F4914F6CDD1D)) >> 40);
}

/* The first free id at or after id, wrapping once (mu held, set not full). */
static uint32_t
cid_next_free(const struct cid_set *s, uint32_t id)
{
	uint32_t w = id / 64;
	uint64_t free_bits = ~s->held[w] & (~UINT64_C(0) << (id % 64));

	while (free_bits == 0) {
		w = (w + 1) % CID_WORDS;
		free_bits = ~s->held[w];
	}
	return w * 64 + (uint32_t)__builtin_ctzll(free_bits);
}

int
cid_acquire(struct cid_set *s, char out[CID_LEN + 1])
{
	uint32_t id;

	pthread_mutex_lock(&s->mu);
	if (s->count == CID_SPACE) {
		pthread_mutex_unlock(&s->mu);
		errno = EAGAIN;
		return -1;
	}
	id = cid_next_free(s, cid_draw(s));
	s->held[id / 64] |= UINT64_C(1) << (id % 64);
	s->count++;
	pthread_mutex_unlock(&s->mu);
	snprintf(out, CID_LEN + 1, "%06x", (unsigned)id);
	return 0;
}

/* The value of a 6-hex-digit id; -1 if id is not one. */
static long
cid_parse(const char *id)
{
	long v = 0;
	int i, d;

	for (i = 0; i < CID_LEN; i++) {
		if (id[i] >= '0' && id[i] <= '9')
			d = id[i] - '0';
		else if (id[i] >= 'a' && id[i] <= 'f')
			d = id[i] - 'a' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return id[CID_LEN] == '\0' ? v : -1;
}

void
cid_release(struct cid_set *s, const char *id)
{
	long v = cid_parse(id);
	uint64_t bit;

	if (v < 0)
		return;
	bit = UINT64_C(1) << (v % 64);
	pthread_mutex_lock(&s->mu);
	if (s->held[v / 64] & bit) {
		s->held[v / 64] &= ~bit;
		s->count--;
	}
	pthread_mutex_unlock(&s->mu);
}

size_t
cid_count(struct cid_set *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->count;
	pthread_mutex_unlock(&s->mu);
	return n;
}
