/*
 * redis_calls: what cluster mode asks of Redis for a group (create,
 * delete, baseline, publish, reregister, history) and for a member id
 * (claim, refresh, release), each one script run or plain command over a
 * redis_link (docs/design.md, "Lua scripts").
 *
 * Every call blocks on its link (each reply bounded by the link's
 * timeout) and returns -1 with a reason in err when the link failed or
 * Redis answered an error. After a link failure (err names the read or
 * write that failed, or "timed out") the link is unusable: free it.
 */
#ifndef GROUPCHAT_REDIS_CALLS_H
#define GROUPCHAT_REDIS_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_keys.h"
#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_script.h"

/* ---- the group calls --------------------------------------------------- */

/* How long a deleted group's tombstone (gc:gone:<id>) tells a delete from
 * lost data: 1 hour. */
#define REDIS_GONE_TTL_MS 3600000u

/* The part of a Redis run_id (40 hex digits) that names its process
 * here: the first 16, enough to tell two processes apart. */
#define REDIS_RUN_LEN 16

/* Where a group stands in Redis: what a join starts from. */
struct redis_base {
	char inc[REDIS_INC_LEN + 1];    /* "" when the id holds no group */
	char ep[REDIS_EP_LEN + 1];      /* its epoch; "" with no group */
	uint64_t seq;                   /* the last number given (gone: the
	                                 * deleted group's last) */
	int gone;                       /* no group, and one deleted lately */
	char gone_inc[REDIS_INC_LEN + 1]; /* gone: the incarnation deleted */
};

/* Registers group id with incarnation inc if absent and Redis holds
 * fewer than max groups, in a fresh epoch under the epoch token token
 * (redis_lineage.h): 1 created, 0 the id exists, 2 Redis holds max groups
 * already, -1 error. */
int redis_group_create(struct redis_link *l, struct redis_scripts *s, const char *id,
                       size_t len, const char *inc, const char *token, size_t max,
                       char *err, size_t errlen);

/* Deletes group id (only if its incarnation is inc, when inc is not NULL),
 * leaves its tombstone and publishes the "d" event: 1 deleted, 0 no such
 * group, -1 error. */
int redis_group_delete(struct redis_link *l, struct redis_scripts *s, const char *id,
                       size_t len, const char *inc, char *err, size_t errlen);

/* Reads where group id stands into *b, beginning a new epoch first when
 * the group's epoch was begun under another epoch token than token (the
 * epoch check of docs/design.md, "Continuity"). 0 or -1. */
int redis_group_baseline(struct redis_link *l, struct redis_scripts *s, const char *id,
                         size_t len, const char *token, struct redis_base *b, char *err,
                         size_t errlen);

/* The history a group keeps in Redis: its last len messages at least
 * (up to a stream node, 100 entries, more: MAXLEN ~), and their frames
 * at most bytes (less than bytes / 8 more between two checks); oldest go
 * first. len 0 keeps none. */
struct redis_history {
	unsigned len;
	size_t bytes;
};

/* Queues one publish of frame to group id/inc, keeping hist of history;
 * token is l's epoch token (redis_lineage.h) and ep the epoch the
 * message begins if the check finds the group's epoch stale. Its reply:
 * an integer, the sequence number, or 0 if the group is gone. 0, or -1 if
 * out of memory. */
int redis_group_publish_append(struct redis_link *l, const struct redis_scripts *s,
                               const char *id, size_t len, const char *inc,
                               const void *frame, size_t flen,
                               const struct redis_history *hist, const char *token,
                               const char *ep);

/* Runs the publish at once: the sequence number, 0 if the group is gone,
 * -1 error. */
int64_t redis_group_publish(struct redis_link *l, struct redis_scripts *s, const char *id,
                            size_t len, const char *inc, const void *frame,
                            size_t flen, const struct redis_history *hist,
                            const char *token, const char *ep,
                            char *err, size_t errlen);

/* Registers group id/inc again after Redis lost it, in a fresh epoch
 * under token: 1 the group is there (again, or still), 0 the id holds
 * another incarnation or was deleted lately, -1 error. */
int redis_group_reregister(struct redis_link *l, struct redis_scripts *s, const char *id,
                           size_t len, const char *inc, const char *token, char *err,
                           size_t errlen);

/* One history entry: its number, the epoch it was written in, the frame. */
typedef void (*redis_hist_fn)(void *arg, uint64_t seq, const char *ep, const char *frame,
    size_t flen);

/* Reads history entries first..last (inclusive) of group id, calling fn
 * for each in order. Returns how many, or -1. */
long redis_group_history(struct redis_link *l, const char *id, size_t len,
                         uint64_t first, uint64_t last, redis_hist_fn fn, void *arg,
                         char *err, size_t errlen);

/* The run_id of the Redis process l talks to (INFO server), its first
 * REDIS_RUN_LEN hex digits. 0 or -1. */
int redis_run_id(struct redis_link *l, char run[REDIS_RUN_LEN + 1], char *err,
                 size_t errlen);

/* ---- connection ids ---------------------------------------------------- */

/* Claims cid for node for ttl_ms, for a join of group id, whose
 * incarnation in Redis goes into inc ("" if Redis holds none): 1 claimed,
 * 0 held elsewhere, -1 error. */
int redis_cid_claim(struct redis_link *l, struct redis_scripts *s, uint32_t cid,
                    const char *id, size_t len, const char *node, unsigned ttl_ms,
                    char inc[REDIS_INC_LEN + 1], char *err, size_t errlen);

/* Extends the n claims of node by ttl_ms, claiming again the ones that
 * expired or vanished; writes the cids another node holds into taken
 * (room for n) and returns how many, or -1. */
long redis_cid_refresh(struct redis_link *l, struct redis_scripts *s, const uint32_t *cids,
                       size_t n, const char *node, unsigned ttl_ms,
                       uint32_t *taken, char *err, size_t errlen);

/* Releases cid if node holds it: 1 released, 0 not held by node, -1. */
int redis_cid_release(struct redis_link *l, struct redis_scripts *s, uint32_t cid,
                      const char *node, char *err, size_t errlen);

#endif
