/*
 * cid: client ids, 6 lowercase hex characters, random, and unique among
 * the ids currently held. The set is shared by every connection, so it
 * has its own lock; it is touched once at connect and once at close.
 */
#ifndef GROUPCHAT_CID_H
#define GROUPCHAT_CID_H

#include <stddef.h>

#define CID_LEN 6

struct cid_set;

struct cid_set *cid_set_new(void);

/* Frees the set; every id should have been released. */
void cid_set_free(struct cid_set *s);

/* Draws a fresh random id not currently held, stores it NUL-terminated in
 * out, and holds it. -1 with ENOMEM, or EAGAIN if the id space is full. */
int cid_acquire(struct cid_set *s, char out[CID_LEN + 1]);

/* Gives back an id taken by cid_acquire. */
void cid_release(struct cid_set *s, const char *id);

/* Ids held now. */
size_t cid_count(struct cid_set *s);

#endif
