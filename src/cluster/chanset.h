/*
 * chanset: the subscriber's set of channel names, the channels it holds
 * and subscribes again after every reconnect. A glibc search tree ordered
 * by length then bytes: no hash an outsider could flood. Part of the
 * subscriber actor, not a module of its own: only redis_sub.c includes
 * it, and only the subscriber's thread touches a set.
 */
#ifndef GROUPCHAT_CHANSET_H
#define GROUPCHAT_CHANSET_H

#include <stddef.h>

struct redis_link;

/* Channels per SUBSCRIBE when subscribing the whole set. */
#define CHANSET_BATCH 256

struct chanset {
	void *root;             /* tsearch tree of struct chname * */
	/* chanset_subscribe_all: the batch being built by twalk_r */
	const char *argv[CHANSET_BATCH + 1];
	size_t lens[CHANSET_BATCH + 1];
	int n, fail;
};

/* Whether name/len is in the set (0 also when out of memory). */
int chanset_has(struct chanset *cs, const char *name, size_t len);

/* Adds name/len: 1 added, 0 already there, -1 out of memory. */
int chanset_add(struct chanset *cs, const char *name, size_t len);

/* Removes name/len: 1 removed, 0 not there. */
int chanset_remove(struct chanset *cs, const char *name, size_t len);

/* Queues SUBSCRIBE commands for every channel of the set on l, up to
 * CHANSET_BATCH channels each, for l's next flush. 0, or -1 if out of
 * memory. */
int chanset_subscribe_all(struct chanset *cs, struct redis_link *l);

/* Frees every name; the set is then empty. */
void chanset_clear(struct chanset *cs);

#endif
