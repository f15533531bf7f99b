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

/* Registers group id with incarnation inc if absent and Redis holds
 * fewer than max groups: 1 created, 0 the id exists, 2 Redis holds max
 * groups already, -1 error. */
int redis_group_create(struct redis_link *l, struct redis_scripts *s, const char *id,
                       size_t len, const char *inc, size_t max, char *err,
                       size_t errlen);

/* Deletes group id (only if its incarnation is inc, when inc is not NULL)
 * and publishes the "d" event: 1 deleted, 0 no such group, -1 error. */
int redis_group_delete(struct redis_link *l, struct redis_scripts *s, const char *id,
                       size_t len, const char *inc, char *err, size_t errlen);

/* Reads the group's incarnation (into inc, "" when absent) and sequence
 * (*seq, 0 when absent) in one MULTI: the baseline a join starts from.
 * 0 or -1. */
int redis_group_baseline(struct redis_link *l, const char *id, size_t len,
                         char inc[REDIS_INC_LEN + 1], uint64_t *seq,
                         char *err, size_t errlen);

/* The history a group keeps in Redis: its last len messages at least
 * (up to a stream node, 100 entries, more: MAXLEN ~), and their frames
 * at most bytes (less than bytes / 8 more between two checks); oldest go
 * first. len 0 keeps none. */
struct redis_history {
	unsigned len;
	size_t bytes;
};

/* Queues one publish of frame to group id/inc, keeping hist of history.
 * Its reply: an integer, the sequence number, or 0 if the group is gone.
 * 0, or -1 if out of memory. */
int redis_group_publish_append(struct redis_link *l, const struct redis_scripts *s,
                               const char *id, size_t len, const char *inc,
                               const void *frame, size_t flen,
                               const struct redis_history *hist);

/* Runs the publish at once: the sequence number, 0 if the group is gone,
 * -1 error. */
int64_t redis_group_publish(struct redis_link *l, struct redis_scripts *s, const char *id,
                            size_t len, const char *inc, const void *frame,
                            size_t flen, const struct redis_history *hist,
                            char *err, size_t errlen);

/* Re-registers a group after Redis came back empty: the group's sequence
 * (raised to at least last), or -2 if the id now holds another
 * incarnation, or -1 on error. */
int64_t redis_group_reregister(struct redis_link *l, struct redis_scripts *s,
                               const char *id, size_t len, const char *inc,
                               uint64_t last, char *err, size_t errlen);

/* Reads history entries first..last (inclusive) of group id, calling
 * fn(arg, seq, frame, flen) for each in order. Returns how many, or -1. */
long redis_group_history(struct redis_link *l, const char *id, size_t len,
                         uint64_t first, uint64_t last,
                         void (*fn)(void *arg, uint64_t seq, const char *frame, size_t flen),
                         void *arg, char *err, size_t errlen);

/* ---- connection ids ---------------------------------------------------- */

/* Claims cid for node for ttl_ms: 1 claimed, 0 held elsewhere, -1 error. */
int redis_cid_claim(struct redis_link *l, uint32_t cid, const char *node,
                    unsigned ttl_ms, char *err, size_t errlen);

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
