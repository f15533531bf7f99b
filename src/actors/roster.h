/*
 * roster: a group's member set. Private to the group actor (group.c,
 * group_thread.c, group_private.h and fanout.c include it, and
 * test_roster.c to test it alone; nothing else may).
 *
 * An array that fan-out walks, plus a core/hashtab index from member
 * pointer to array slot, so find and remove cost O(1) however big the
 * group: removal moves the last member into the hole, so the array
 * order is not the join order.
 *
 * The roster holds one reference to each member: roster_add takes over
 * the caller's, removal and clear drop it. It never looks inside a
 * member. Not thread-safe: the group thread's alone. Read n and
 * members[0..n) directly; change them only through these calls.
 *
 * Every change is published at once for other threads: size (an atomic
 * copy of n, for group_members) and the stats members gauge, so a member
 * removed mid fan-out is uncounted before the run ends.
 */
#ifndef GROUPCHAT_ROSTER_H
#define GROUPCHAT_ROSTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "groupchat/core/hashtab.h"

struct member;
struct stats;

struct roster {
	struct member **members;        /* members[0..n) */
	size_t n, cap;
	struct hashtab index;           /* item m, value i: m == members[i] */
	atomic_size_t size;             /* n, for readers on other threads */
	struct stats *st;               /* its members gauge follows n; or NULL */
};

/* An empty roster counted in st's members gauge (st may be NULL); it
 * allocates on the first add. */
void roster_init(struct roster *r, struct stats *st);

/* Drops every reference and frees the storage. */
void roster_fini(struct roster *r);

/* Adds m, taking over the caller's reference. 0, or -1 with EEXIST if m
 * is in already, ENOMEM if there is no room (the caller keeps its
 * reference then, and the roster is unchanged). */
int roster_add(struct roster *r, struct member *m);

/* Whether m is in; if so and i is not NULL, *i is its slot. */
bool roster_find(const struct roster *r, const struct member *m, size_t *i);

/* Removes members[i] (i < n), moving the last member into slot i, and
 * drops its reference. */
void roster_remove_at(struct roster *r, size_t i);

/* Removes m and drops its reference if m is in; false if it is not. */
bool roster_remove(struct roster *r, const struct member *m);

/* Drops every reference; n is 0 after, the storage stays. */
void roster_clear(struct roster *r);

#endif
