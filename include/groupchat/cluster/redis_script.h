/*
 * redis_script: the Lua scripts of cluster mode (docs/design.md, "Lua
 * scripts") and how they run over a redis_link: loaded once per
 * connection with SCRIPT LOAD (one round trip), called with EVALSHA,
 * resent with EVAL when Redis answers NOSCRIPT. The calls that give each
 * script its keys and arguments are redis_calls.h.
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

enum redis_script_id {
	RS_CREATE,
	RS_DELETE,
	RS_PUBLISH,
	RS_BASELINE,
	RS_REREGISTER,
	RS_REFRESH,
	RS_RELEASE,
	RS_CLAIM,
	RS_COUNT
};

/* The most keys and arguments together one script call takes; a call
 * with more fails. */
#define REDIS_SCRIPT_ARGS_MAX 517

/* The SHA1 of every script on one connection, as SCRIPT LOAD gave it. */
struct redis_scripts {
	char sha[RS_COUNT][41];
};

/* SCRIPT LOADs every script into s. 0 or -1. */
int redis_scripts_load(struct redis_link *l, struct redis_scripts *s, char *err, size_t errlen);

/* Runs script id with nkeys keys then the rest of argv as ARGV. The reply
 * (caller frees) or NULL with err; an error reply other than NOSCRIPT is
 * returned as a reply. */
redisReply *redis_script_run(struct redis_link *l, struct redis_scripts *s,
                             enum redis_script_id id, int nkeys, int argc,
                             const char **argv, const size_t *lens,
                             char *err, size_t errlen);

/* Takes reply r (NULL: a failure already said in err) and frees it: its
 * integer, or -1 with "what: reason" in err for anything else. */
int64_t redis_reply_int(redisReply *r, const char *what, char *err, size_t errlen);

/* Runs script id as redis_script_run does and expects an integer: its
 * value, or -1 with "what: reason" in err for anything else. */
int64_t redis_script_run_int(struct redis_link *l, struct redis_scripts *s,
                             enum redis_script_id id, int nkeys, int argc,
                             const char **argv, const size_t *lens,
                             const char *what, char *err, size_t errlen);

/* Queues script id on l for its next flush (pipelining); its reply comes
 * with redis_link_read in turn. 0, or -1 if out of memory or too many
 * arguments. */
int redis_script_append(struct redis_link *l, const struct redis_scripts *s,
                        enum redis_script_id id, int nkeys, int argc,
                        const char **argv, const size_t *lens);

#endif
