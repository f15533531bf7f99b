/*
 * roster: a group's member set, an array plus a hashtab index (see
 * roster.h for the contract).
 *
 * Who touches what: everything here runs on the group thread that owns
 * the roster (group.c and fanout.c call it); nothing is locked. The
 * invariant kept by every call: index holds exactly members[0..n), each
 * entry's value its slot.
 */
#include "roster.h"

#include <errno.h>
#include <stdlib.h>

#include "groupchat/actors/member.h"

/* The array's first capacity; it doubles after. */
#define ROSTER_FIRST_CAP 8

void
roster_init(struct roster *r)
{
	r->members = NULL;
	r->n = r->cap = 0;
	hashtab_init(&r->index);
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
}
