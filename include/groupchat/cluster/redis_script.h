/*
 * redis_script: the Lua scripts of cluster mode (docs/design.md, "Lua
 * scripts"), the key and channel names they work on, and the calls that
 * run them over a redis_link: loaded once per connection with SCRIPT
 * LOAD (one round trip), called with EVALSHA, resent with EVAL when Redis
 * answers NOSCRIPT. Also the parser of what the group channel carries; it
 * touches no socket.
 *
 * Every call blocks on its link (each reply bounded by the link's
 * timeout) and returns -1 with a reason in err when the link failed or
 * Redis answered an error. After a link failure (err names the read or
 * write that failed, or "timed out") the link is unusable: free it.
 */
#ifndef GROUPCHAT_REDIS_SCRIPT_H
#define GROUPCHAT_REDIS_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_link.h"

/* An incarnation: 32 lowercase hex digits and a NUL. */
#define REDIS_INC_LEN 32

enum redis_script_id {
	RS_CREATE,
	RS_DELETE,
	RS_PUBLISH,
	RS_REREGISTER,
	RS_REFRESH,
	RS_RELEASE,
	RS_COUNT
};

/* The SHA1 of every script on one connection, as SCRIPT LOAD gave it. */
struct redis_scripts {
	char sha[RS_COUNT][41];
};

/* The Lua text of a script. */
const char *redis_script_source(enum redis_script_id id);

/* SCRIPT LOADs every script into s. 0 or -1. */
int redis_scripts_load(struct redis_link *l, struct redis_scripts *s, char *err, size_t errlen);

/* Runs script id with nkeys keys then the rest of argv as ARGV. The reply
 * (caller frees) or NULL with err; an error reply other than NOSCRIPT is
 * returned as a reply. */
redisReply *redis_script_run(struct redis_link *l, struct redis_scripts *s,
                             enum redis_script_id id, int nkeys, int argc,
                             const char **argv, const size_t *lens,
                             char *err, size_t errlen);

/* Queues script id on l for its next flush (pipelining); its reply comes
 * with redis_link_read in turn. 0, or -1 if out of memory. */
int redis_script_append(struct redis_link *l, const struct redis_scripts *s,
                        enum redis_script_id id, int nkeys, int argc,
                        const char **argv, const size_t *lens);

/* Fills inc with a fresh random incarnation. 0, or -1 if getrandom failed. */
int redis_inc_new(char inc[REDIS_INC_LEN + 1]);

/* ---- keys ------------------------------------------------------------ */

/* Writes prefix then the id bytes into out (n bytes); returns the length,
 * or 0 if it does not fit. Prefixes: */
#define RK_INC "gc:inc:"
#define RK_SEQ "gc:seq:"
#define RK_HIST "gc:hist:"
#define RK_CID "gc:cid:"
#define RK_MSG "gc:msg:"
size_t redis_key(char *out, size_t n, const char *prefix, const char *id, size_t len);

/* ---- the group calls --------------------------------------------------- */

/* Registers group id with incarnation inc if absent: 1 created, 0 the id
 * exists, -1 error. */
int redis_group_create(struct redis_link *l, struct redis_scripts *s, const char *id,
                       size_t len, const char *inc, char *err, size_t errlen);

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

/* Queues one publish of frame to group id/inc, keeping hist entries of
 * history. Its reply: an integer, the sequence number, or 0 if the group
 * is gone. 0, or -1 if out of memory. */
int redis_group_publish_append(struct redis_link *l, const struct redis_scripts *s,
                               const char *id, size_t len, const char *inc,
                               const void *frame, size_t flen, unsigned hist);

/* Runs the publish at once: the sequence number, 0 if the group is gone,
 * -1 error. */
int64_t redis_group_publish(struct redis_link *l, struct redis_scripts *s, const char *id,
                            size_t len, const char *inc, const void *frame,
                            size_t flen, unsigned hist, char *err, size_t errlen);

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

/* ---- what the group channel carries ------------------------------------ */

enum redis_event { RE_MESSAGE, RE_DELETED };

struct redis_msg {
	enum redis_event kind;
	char inc[REDIS_INC_LEN + 1];
	uint64_t seq;        /* RE_MESSAGE: > 0 */
	const char *frame;   /* RE_MESSAGE: points into the payload */
	size_t flen;
};

/* Parses "m <inc> <seq> <frame>" or "d <inc>". 0, or -1 with EINVAL. */
int redis_msg_parse(const char *p, size_t n, struct redis_msg *m);

#endif
