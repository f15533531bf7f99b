/*
 * redis_lineage: the epoch token a link's group calls carry (the token
 * the scripts' epoch check compares; docs/design.md, "Continuity").
 *
 * A Redis that writes every change to disk before it answers (appendonly
 * yes, appendfsync always) keeps, across a restart, everything any client
 * saw; its data set then has a *lineage*, a random value kept in the key
 * gc:lineage, and the token is that lineage. Any other Redis (snapshots,
 * an AOF fsynced every second, no persistence) may lose what a client saw
 * when it restarts; the token is then the first digits of its run_id, so
 * every new Redis process begins new epochs. A replica promoted to master
 * (it may lack the old master's last writes) renews the lineage, once.
 */
#ifndef GROUPCHAT_REDIS_LINEAGE_H
#define GROUPCHAT_REDIS_LINEAGE_H

#include <stddef.h>

#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_link.h"

_Static_assert(REDIS_LINEAGE_LEN == REDIS_RUN_LEN, "a token is a lineage or a run_id part");

/* How often the publisher reads its token again (the command link does
 * at each heartbeat): a lineage a FLUSHALL took, which a link connecting
 * later wrote anew, is taken up by every link within about this long
 * (until then two tokens alternate, and each change begins an epoch). */
#define REDIS_TOKEN_CHECK_MS 5000

/* What a link found out about the Redis process it talks to. */
struct redis_durability {
	int durable;    /* appendonly yes, appendfsync always, no AOF rewrite under way */
	int promoted;   /* a replica promoted to master (or cannot tell) */
};

/* Judges the replies to CONFIG GET appendonly, CONFIG GET appendfsync and
 * INFO replication persistence (any of them may be an error or NULL: what
 * cannot be told counts as not durable, and as promoted). Also copies the
 * first REDIS_RUN_LEN characters of master_replid into replid ("" when
 * absent). Never fails. */
struct redis_durability redis_durability_judge(const redisReply *appendonly,
                                               const redisReply *appendfsync,
                                               const redisReply *info,
                                               char replid[REDIS_RUN_LEN + 1]);

/* The epoch token for the link l to the process whose run_id (its first
 * REDIS_RUN_LEN hex digits) is run: asks l for the persistence settings
 * and INFO, then reads (creating or renewing it when needed, in one
 * script) the lineage. Writes the token (the lineage when the process
 * was judged durable by its first link, else run) into token. 0, or -1 with err (a link or
 * script failure: free the link). */
int redis_epoch_token(struct redis_link *l, const char *run,
                      char token[REDIS_RUN_LEN + 1], char *err, size_t errlen);

#endif
