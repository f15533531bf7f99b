/*
 * hashtab: open addressing with linear probing on caller-given hashes.
 *
 * Who touches what: the table's owner alone (the manager thread for the
 * registry, a group's thread for its roster); no locks here. hashtab_find
 * only reads, so several may run at once while nobody changes the table
 * (the registry's lookups, under its read lock).
 *
 * An entry's home is hash & (cap - 1). At most half full, so probe runs
 * stay short and a free slot always ends one. Deletion shifts later
 * entries of the run back instead of leaving tombstones: an entry moves
 * into the hole unless its home lies cyclically in (hole, its position].
 */
#include "groupchat/core/hashtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HASHTAB_MIN_CAP 16

void
hashtab_init(struct hashtab *t)
{
	t->slots = NULL;
	t->cap = 0;
	t->count = 0;
}

void
hashtab_fini(struct hashtab *t)
{
	free(t->slots);
	hashtab_init(t);
}

/* The free slot ending hash's probe run. */
static struct hashtab_entry *
hashtab_free_slot(struct hashtab_entry *slots, size_t cap, uint64_t hash)
{
	size_t i;

	for (i = hash & (cap - 1); slots[i].item != NULL; i = (i + 1) & (cap - 1))
		;
	return &slots[i];
}

int
hashtab_reserve(struct hashtab *t)
{
	struct hashtab_entry *slots;
	size_t cap, i;

	if ((t->count + 1) * 2 <= t->cap)
		return 0;
	cap = t->cap ? t->cap * 2 : HASHTAB_MIN_CAP;
	if ((slots = calloc(cap, sizeof(*slots))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < t->cap; i++)
		if (t->slots[i].item != NULL)
			*hashtab_free_slot(slots, cap, t->slots[i].hash) = t->slots[i];
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

struct hashtab_entry *
hashtab_find(const struct hashtab *t, uint64_t hash, const void *key,
    hashtab_eq_fn eq)
{
	size_t mask = t->cap - 1, i;
	struct hashtab_entry *e;

	if (t->count == 0)
		return NULL;
	for (i = hash & mask; (e = &t->slots[i])->item != NULL; i = (i + 1) & mask) {
		if (e->hash != hash)
			continue;
		if (eq == NULL ? e->item == key : eq(e->item, key))
			return e;
	}
	return NULL;
}

struct hashtab_entry *
hashtab_put(struct hashtab *t, uint64_t hash, void *item, size_t value)
{
	struct hashtab_entry *e = hashtab_free_slot(t->slots, t->cap, hash);

	e->item = item;
	e->hash = hash;
	e->value = value;
	t->count++;
	return e;
}

void
hashtab_del(struct hashtab *t, struct hashtab_entry *e)
{
	size_t mask = t->cap - 1, hole, j, k;

	hole = (size_t)(e - t->slots);
	for (j = (hole + 1) & mask; t->slots[j].item != NULL; j = (j + 1) & mask) {
		k = t->slots[j].hash & mask;
		if (hole <= j ? hole < k && k <= j : hole < k || k <= j)
			continue;
		t->slots[hole] = t->slots[j];
		hole = j;
	}
	t->slots[hole].item = NULL;
	t->count--;
}

void
hashtab_clear(struct hashtab *t)
{
	if (t->cap > 0)
		memset(t->slots, 0, t->cap * sizeof(*t->slots));
	t->count = 0;
}

struct hashtab_entry *
hashtab_next(const struct hashtab *t, size_t *i)
{
	while (*i < t->cap) {
		if (t->slots[(*i)++].item != NULL)
			return &t->slots[*i - 1];
	}
	return NULL;
}

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

uint64_t
hashtab_siphash(const uint64_t key[2], const void *data, size_t len)
{
	const unsigned char *p = data;
	const unsigned char *end = p + (len & ~(size_t)7);
	uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ key[0];
	uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ key[1];
	uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ key[0];
	uint64_t v3 = UINT64_C(0x7465646279746573) ^ key[1];
	uint64_t w;
	size_t i, left;

	for (; p != end; p += 8) {
		for (w = 0, i = 0; i < 8; i++)
			w |= (uint64_t)p[i] << (8 * i);
		v3 ^= w;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= w;
	}
	left = len & 7;
	for (w = (uint64_t)len << 56, i = 0; i < left; i++)
		w |= (uint64_t)p[i] << (8 * i);
	v3 ^= w;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= w;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
hashtab_ptr(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p;

	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return h;
}
