/*
 * hashtab: an open-addressing hash table of pointers, the one used by the
 * manager's registry (group ids) and a group's roster (member pointers).
 *
 * Linear probing, backward-shift deletion (no tombstones), a power-of-two
 * capacity kept at most half full. Each entry stores the item, its hash
 * and one size_t of the caller's (the roster keeps an array index there);
 * growing rehashes from the stored hashes, so the table never calls back
 * into the caller except to compare keys on lookup. The caller supplies
 * the hash: hashtab_siphash for keys an outsider picks (ids from the
 * network), hashtab_ptr for pointers.
 *
 * Not thread-safe: one owner thread per table, or readers calling only
 * hashtab_find while nobody changes it (the caller's lock). Only
 * hashtab_reserve allocates; it fails with -1 and errno ENOMEM, and
 * nothing else fails.
 */
#ifndef GROUPCHAT_HASHTAB_H
#define GROUPCHAT_HASHTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashtab_entry {
	void *item;             /* NULL: a free slot */
	uint64_t hash;
	size_t value;           /* the caller's */
};

struct hashtab {
	struct hashtab_entry *slots;
	size_t cap;             /* 0, or a power of two at least twice count */
	size_t count;
};

/* Whether item has the key being looked up. */
typedef bool (*hashtab_eq_fn)(const void *item, const void *key);

/* An empty table; it allocates on the first reserve. */
void hashtab_init(struct hashtab *t);

/* Frees the slots (not the items); the table is empty again after. */
void hashtab_fini(struct hashtab *t);

/* Makes room for one more entry. 0, or -1 with errno ENOMEM (the table
 * is unchanged then). */
int hashtab_reserve(struct hashtab *t);

/* The entry whose item matches key (eq(item, key) on equal hashes), or
 * NULL. eq NULL compares the item pointer with key itself. */
struct hashtab_entry *hashtab_find(const struct hashtab *t, uint64_t hash,
    const void *key, hashtab_eq_fn eq);

/* Adds item (not NULL, not already in) after a successful reserve. */
struct hashtab_entry *hashtab_put(struct hashtab *t, uint64_t hash,
    void *item, size_t value);

/* Removes an entry returned by find; other entries may move. */
void hashtab_del(struct hashtab *t, struct hashtab_entry *e);

/* Removes every entry, keeping the slots. */
void hashtab_clear(struct hashtab *t);

/* Iteration: the next used slot at or after *i, advancing *i past it, or
 * NULL at the end. Start with *i = 0; do not put or del meanwhile. */
struct hashtab_entry *hashtab_next(const struct hashtab *t, size_t *i);

/* SipHash-2-4 of len bytes at p under a 128-bit key. */
uint64_t hashtab_siphash(const uint64_t key[2], const void *p, size_t len);

/* A well-mixed hash of a pointer (the MurmurHash3 finaliser steps). */
uint64_t hashtab_ptr(const void *p);

#endif
