/*
 * chanset: a set of channel names in a glibc search tree (tsearch), keyed
 * by length then bytes. A member's name points into its own allocation;
 * a lookup's key lives on the stack and points at the caller's bytes, so
 * looking up a channel (once per message received) allocates nothing.
 *
 * Who touches what: a set belongs to the subscriber's thread; nothing
 * here locks.
 */
#include "chanset.h"

#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/cluster/redis_link.h"

/* A set member, or a lookup's key: a channel name. */
struct chname {
	size_t len;
	const char *name;       /* a member's: bytes right after the struct */
};

static int
cmp(const void *a, const void *b)
{
	const struct chname *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->name, y->name, x->len);
}

static struct chname *
chname_new(const char *name, size_t len)
{
	struct chname *c = malloc(sizeof(*c) + len);

	if (c == NULL)
		return NULL;
	c->len = len;
	memcpy(c + 1, name, len);
	c->name = (const char *)(c + 1);
	return c;
}

/* The set member equal to name/len, or NULL. */
static struct chname *
find(struct chanset *cs, const char *name, size_t len)
{
	struct chname key = { .len = len, .name = name };
	void **hit = tfind(&key, &cs->root, cmp);

	return hit != NULL ? *hit : NULL;
}

int
chanset_has(struct chanset *cs, const char *name, size_t len)
{
	return find(cs, name, len) != NULL;
}

int
chanset_add(struct chanset *cs, const char *name, size_t len)
{
	struct chname *c;

	if (find(cs, name, len) != NULL)
		return 0;
	if ((c = chname_new(name, len)) == NULL)
		return -1;
	if (tsearch(c, &cs->root, cmp) == NULL) {
		free(c);
		return -1;
	}
	return 1;
}

int
chanset_remove(struct chanset *cs, const char *name, size_t len)
{
	struct chname *c = find(cs, name, len);

	if (c == NULL)
		return 0;
	tdelete(c, &cs->root, cmp);
	free(c);
	return 1;
}

static void
flush_batch(struct chanset *cs, struct redis_link *l)
{
	if (cs->n > 0 && redis_link_append(l, cs->n + 1, cs->argv, cs->lens) == -1)
		cs->fail = 1;
	cs->n = 0;
}

struct walk {
	struct chanset *cs;
	struct redis_link *l;
};

static void
visit(const void *node, VISIT v, void *arg)
{
	struct walk *w = arg;
	const struct chname *c = *(struct chname *const *)node;

	if (v != postorder && v != leaf)
		return;
	w->cs->argv[1 + w->cs->n] = c->name;
	w->cs->lens[1 + w->cs->n] = c->len;
	if (++w->cs->n == CHANSET_BATCH)
		flush_batch(w->cs, w->l);
}

int
chanset_subscribe_all(struct chanset *cs, struct redis_link *l)
{
	struct walk w = { cs, l };

	cs->argv[0] = "SUBSCRIBE";
	cs->lens[0] = 9;
	cs->n = 0;
	cs->fail = 0;
	twalk_r(cs->root, visit, &w);
	flush_batch(cs, l);
	return cs->fail ? -1 : 0;
}

void
chanset_clear(struct chanset *cs)
{
	tdestroy(cs->root, free);
	cs->root = NULL;
}
