/*
 * redis_cmd: the command actor of cluster mode. One thread
 * (gc-redis-cmd) owns one Redis link for everything that is not a publish
 * or a subscription: create, delete, the baseline (of a join, a resync or
 * a control request), history reads for gap repair, re-registration after
 * Redis lost a group, and connection-id claims. Callers queue a request on a bounded channel and
 * wait for its reply until their own deadline, as with the manager.
 *
 * Every few seconds (ttl/3) it reads its epoch token again
 * (redis_lineage.h), refreshes the claims of every cid the node holds
 * (asking cb->held for them) and reports through cb->taken the ones
 * another node holds now. At every (re)connect it reads Redis's run_id;
 * a changed one means another Redis process answers (a restart, empty or
 * from a snapshot, or a promoted replica), reported by cb->restarted
 * before cb->link(up). While down it reconnects with capped backoff (50 ms
 * doubling to 2 s) and fails requests at once. Callbacks run on the
 * actor's thread and must not block.
 *
 * Errors of the request calls: -1 with errno
 *   ENOTCONN   the link is down; nothing was sent (answer 503)
 *   EIO        Redis failed the request or the link broke during it; the
 *              link is reopened (the outcome of a write is unknown)
 *   ETIMEDOUT  the caller's deadline passed; the request may still run
 *   EAGAIN     the request channel is full
 *   EPIPE      stopping; ENOMEM
 */
#ifndef GROUPCHAT_REDIS_CMD_H
#define GROUPCHAT_REDIS_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_keys.h"

struct redis_connector;
struct redis_cmd;

/* A node id: 16 hex digits and a NUL. */
#define REDIS_NODE_LEN 16

struct redis_cmd_cb {
	void (*link)(void *arg, int up, const char *reason);
	void (*restarted)(void *arg);
	/* Writes up to max cids the node holds into out; returns how many. */
	size_t (*held)(void *arg, uint32_t *out, size_t max);
	void (*taken)(void *arg, const uint32_t *cids, size_t n);
	void *arg;
};

/* A command actor for node, opening its link with conn (copied; its arg
 * must outlive the actor), with a channel of cap requests, timeout_ms as
 * the bound of connect and of every reply, and ttl_ms as the lifetime of
 * a cid claim. Not started. NULL with errno. */
struct redis_cmd *redis_cmd_new(const struct redis_connector *conn, const char *node,
                                size_t cap, int timeout_ms, unsigned ttl_ms,
                                const struct redis_cmd_cb *cb);

/* Starts the thread. 0, or -1 with errno. */
int redis_cmd_start(struct redis_cmd *c);

/* Each call below waits at most ms for its reply. */

/* Registers group id with incarnation inc unless Redis holds max groups:
 * 1 created, 0 exists, 2 full, -1. */
int redis_cmd_create(struct redis_cmd *c, const char *id, size_t len,
                     const char *inc, size_t max, int ms);

/* Deletes group id (only incarnation inc, unless inc is NULL) and
 * publishes its "d" event: 1 deleted, 0 no such group, -1. */
int redis_cmd_delete(struct redis_cmd *c, const char *id, size_t len,
                     const char *inc, int ms);

/* Where group id stands (redis_group_baseline: the epoch check first). 0 or -1. */
int redis_cmd_baseline(struct redis_cmd *c, const char *id, size_t len,
                       struct redis_base *b, int ms);

/* History entries first..last of group id, passed to fn on the caller's
 * thread in order after the reply came. How many, or -1. */
long redis_cmd_history(struct redis_cmd *c, const char *id, size_t len, uint64_t first,
                       uint64_t last, redis_hist_fn fn, void *arg, int ms);

/* Registers group id/inc again after Redis lost it (a fresh epoch): 1 the
 * group is there, 0 the id holds another incarnation or was deleted, -1. */
int redis_cmd_reregister(struct redis_cmd *c, const char *id, size_t len,
                         const char *inc, int ms);

/* The same without waiting: queued, run in turn, its result unseen. 0, or
 * -1 with EAGAIN / EPIPE / ENOMEM. */
int redis_cmd_reregister_later(struct redis_cmd *c, const char *id, size_t len,
                               const char *inc);

/* The same at once on the actor's own link: only from cb->restarted,
 * which runs on the actor's thread. 1, 0, or -1 (the link is dropped and
 * the restart reported again at the next connect). */
int redis_cmd_reregister_here(struct redis_cmd *c, const char *id, size_t len,
                              const char *inc);

/* Claims cid for this node for the ttl, for a join of group id, whose
 * incarnation in Redis goes into inc ("" none): 1 claimed, 0 held
 * elsewhere, -1. */
int redis_cmd_claim(struct redis_cmd *c, uint32_t cid, const char *id, size_t len,
                    char inc[REDIS_INC_LEN + 1], int ms);

/* Queues a heartbeat now, without waiting: an idle link that went stale
 * (Redis restarted) is found broken and reopened at once, and the claims
 * are made again, instead of at the next heartbeat. 0, or -1 with EAGAIN
 * / EPIPE / ENOMEM. */
int redis_cmd_check(struct redis_cmd *c);

/* Queues the release of cid (if this node holds it) without waiting:
 * 0, or -1 with EAGAIN / EPIPE / ENOMEM. A release that is lost expires
 * with the ttl, since cb->held no longer lists it. */
int redis_cmd_release(struct redis_cmd *c, uint32_t cid);

/* Closes the channel, fails what is queued (EPIPE), joins the thread if
 * started, frees c. No call may be in progress or follow. */
void redis_cmd_stop(struct redis_cmd *c);

#endif
