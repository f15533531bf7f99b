/*
 * redis_keys: the names cluster mode gives things in Redis (docs/design.md,
 * "Keys and channels"). A key or channel is a kind prefix followed by the
 * raw group id (or a member id in hex), so no id can forge another group's
 * key. An incarnation tells a group apart from an earlier group of the
 * same id; an epoch tells apart the stretches of one incarnation's history
 * between two losses of Redis data (docs/design.md, "Continuity"). Pure
 * functions but the random draws; nothing here touches a socket.
 */
#ifndef GROUPCHAT_REDIS_KEYS_H
#define GROUPCHAT_REDIS_KEYS_H

#include <stddef.h>

/* An incarnation: 32 lowercase hex digits and a NUL. */
#define REDIS_INC_LEN 32

/* An epoch: 16 lowercase hex digits and a NUL. */
#define REDIS_EP_LEN 16

/* Whether the n bytes at s are all lowercase hex digits (as every
 * incarnation, epoch, lineage and run_id is). */
int redis_is_hex(const char *s, size_t n);

/* Fills inc with a fresh random incarnation. 0, or -1 if getrandom failed. */
int redis_inc_new(char inc[REDIS_INC_LEN + 1]);

/* Fills ep with a fresh random epoch. 0, or -1 if getrandom failed. */
int redis_ep_new(char ep[REDIS_EP_LEN + 1]);

/* A lineage (the data set's, redis_lineage.h): 16 lowercase hex digits
 * and a NUL. */
#define REDIS_LINEAGE_LEN 16

/* Fills lineage with a fresh random one. 0, or -1 if getrandom failed. */
int redis_lineage_new(char lineage[REDIS_LINEAGE_LEN + 1]);

/* Writes prefix then the id bytes into out (n bytes); returns the length,
 * or 0 if it does not fit. Prefixes: */
#define RK_INC "gc:inc:"
#define RK_SEQ "gc:seq:"
#define RK_HIST "gc:hist:"
#define RK_HBYTES "gc:hbytes:"
#define RK_GONE "gc:gone:"
#define RK_CID "gc:cid:"
#define RK_MSG "gc:msg:"
/* and two keys, not prefixes: how many groups Redis holds, and the
 * lineage of the data set (redis_lineage.h) */
#define RK_GROUPS "gc:groups"
#define RK_LINEAGE "gc:lineage"
size_t redis_key(char *out, size_t n, const char *prefix, const char *id, size_t len);

#endif
