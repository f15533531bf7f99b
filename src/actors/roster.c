/*
 * roster: a group's member set, an array plus a hashtab index (see
 * roster.h for the contract).
 *
 * Who touches what: everything here runs on the group thread that owns
 * the roster (group_thread.c and fanout.c call it), but for init and
 * fini, which group.c calls while no thread runs; nothing is locked. The
 * invariant kept by every call: index holds exactly members[0..n), each
 * entry's value its slot.
 */
#include "roster.h"

#include <errno.h>
#include <stdlib.h>

#include "groupchat/actors/member.h"
#include "groupchat/core/stats.h"

/* The array's first capacity; it doubles after. */
#define ROSTER_FIRST_CAP 8

void
roster_init(struct roster *r, struct stats *st)
{
	r->members = NULL;
	r->n = r->cap = 0;
	hashtab_init(&r->index);
	atomic_init(&r->size, 0);
	r->st = st;
}

/* Publishes n after a change: size, and the gauge by the difference. */
static void
roster_publish(struct roster *r)
{
	size_t was = atomic_load_explicit(&r->size, memory_order_relaxed);

	atomic_store_explicit(&r->size, r->n, memory_order_relaxed);
	if (r->st == NULL || r->n == was)
		return;
	if (r->n > was)
		stats_add(r->st, members, r->n - was);
	else
		stats_sub(r->st, members, was - r->n);
}

void
roster_fini(struct roster *r)
{
	roster_clear(r);
	hashtab_fini(&r->index);
	free(r->members);
	r->members = NULL;
	r->cap = 0;
}

static struct hashtab_entry *
roster_entry(const struct roster *r, const struct member *m)
{
	return hashtab_find(&r->index, hashtab_ptr(m), m, NULL);
}

bool
roster_find(const struct roster *r, const struct member *m, size_t *i)
{
	struct hashtab_entry *e = roster_entry(r, m);

	if (e != NULL && i != NULL)
		*i = e->value;
	return e != NULL;
}

/* Makes room for one more member in the array and the index. */
static int
roster_reserve(struct roster *r)
{
	struct member **members;
	size_t cap;

	if (r->n == r->cap) {
		cap = r->cap ? r->cap * 2 : ROSTER_FIRST_CAP;
		if ((members = reallocarray(r->members, cap,
		    sizeof(*members))) == NULL)
			return -1;
		r->members = members;
		r->cap = cap;
	}
	return hashtab_reserve(&r->index);
}

int
roster_add(struct roster *r, struct member *m)
{
	if (roster_entry(r, m) != NULL) {
		errno = EEXIST;
		return -1;
	}
	if (roster_reserve(r) == -1)
		return -1;
	hashtab_put(&r->index, hashtab_ptr(m), m, r->n);
	r->members[r->n++] = m;
	roster_publish(r);
	return 0;
}

void
roster_remove_at(struct roster *r, size_t i)
{
	struct member *m = r->members[i], *last;

	hashtab_del(&r->index, roster_entry(r, m));
	last = r->members[--r->n];
	if (i != r->n) {
		r->members[i] = last;
		roster_entry(r, last)->value = i;
	}
	roster_publish(r);
	member_unref(m);
}

bool
roster_remove(struct roster *r, const struct member *m)
{
	size_t i;

	if (!roster_find(r, m, &i))
		return false;
	roster_remove_at(r, i);
	return true;
}

void
roster_clear(struct roster *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		member_unref(r->members[i]);
	r->n = 0;
	hashtab_clear(&r->index);
	roster_publish(r);
}
