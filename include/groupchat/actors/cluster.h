/*
 * cluster: this node's part in cluster mode (docs/design.md, "Cluster
 * mode"). It owns the node id, the three Redis actors (publisher,
 * subscriber, command link; src/cluster/) and what the rest of the server
 * asks of them: whether Redis is usable (all three links up), the group
 * calls that run on the caller's thread (create, delete, baseline), a
 * member's message handed to the publisher, and the connection ids this
 * node has claimed. Without --redis there is no cluster object at all.
 *
 * The subscriber's and the command link's callbacks are turned into
 * events for the manager (manager_cluster_event), which alone maps a
 * group id to its local group; the publisher's result callback closes a
 * sender whose message is not known to be relayed (1013).
 *
 * Errors of the calls that wait: -1 with errno as redis_cmd.h lists them
 * (ENOTCONN while the link is down, ETIMEDOUT, EIO, EAGAIN, EPIPE): the
 * HTTP side answers each with 503.
 */
#ifndef GROUPCHAT_CLUSTER_H
#define GROUPCHAT_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_keys.h"

struct cluster;
struct manager;
struct member;
struct redis_connector;
struct redis_cmd;
struct redis_sub;
struct stats;

/* Close code and reason of a member whose message or group history Redis
 * could not vouch for: its client reconnects. */
#define CLUSTER_RETRY_CODE 1013
#define CLUSTER_RETRY_REASON "try again later"

/* How long a control request (create, delete, a join's subscription and
 * baseline) waits for Redis before it is answered 503. */
#define CLUSTER_WAIT_MS 2000

/* What the cluster keeps for its groups: at most max_groups groups in
 * Redis (creates past it are refused), the history each keeps there,
 * and on each node the byte bound of each of the two queues every
 * message passes, the publish channel and the manager's mailbox
 * (payloads queued or on their way, beside their entry bounds). */
struct cluster_limits {
	size_t max_groups;
	struct redis_history history;
	size_t queue_bytes;
};

/* The queue byte bound a node with --max-message max_message uses:
 * room for many messages of the largest size, at least 64 MiB. */
size_t cluster_queue_bytes(size_t max_message);

/* A cluster node with limits lim (copied) whose three actors open their
 * links through conn (one Redis URL, the sentinels, or the unit tests'
 * fake), built but not started; conn's arg must outlive the cluster.
 * NULL with errno. */
struct cluster *cluster_new_on(const struct redis_connector *conn,
                               const struct cluster_limits *lim);

/* The byte bound of the manager's mailbox (lim->queue_bytes). */
size_t cluster_mailbox_bytes(const struct cluster *cl);

/* Starts the actors; their events go to m. 0, or -1 with errno (what
 * started is stopped by cluster_free). */
int cluster_start(struct cluster *cl, struct manager *m);

/* No more events for the manager: before manager_free. */
void cluster_detach(struct cluster *cl);

/* Stops the actors (releasing nothing more in Redis: claims expire) and
 * frees cl. The manager and every group must be gone. */
void cluster_free(struct cluster *cl);

/* 1 if every link is up and, since the subscriber last came back, every
 * group served here has read its baseline again (and registered again if
 * Redis lost it): so a message sent once /healthz says 200 finds
 * its group in Redis. Else 0 and the reason in why ("redis: <reason>",
 * never the password). */
int cluster_up(struct cluster *cl, char *why, size_t n);

/* Copies the publisher's counts (messages answered, round trips) into
 * st's redis_published and redis_round_trips. */
void cluster_counts(struct cluster *cl, struct stats *st);

/* The manager queued n counted resyncs after the subscriber came back;
 * the node reads as usable again once each has called
 * cluster_resync_done. */
void cluster_settle(struct cluster *cl, long n);
void cluster_resync_done(struct cluster *cl);

/* An event of the subscriber (a message, a confirmation, a delete, a
 * resync) could not be handed over: which group it concerned is unknown,
 * so every group served here resyncs within GROUP_TICK_MS
 * (cluster_lost tells them: a count that changed). */
void cluster_note_lost(struct cluster *cl);
unsigned cluster_lost(struct cluster *cl);

/* The node id, 16 hex digits. */
const char *cluster_node(const struct cluster *cl);

/* Where group id stands in Redis (redis_cmd_baseline), read again once
 * when the link broke under it (an idle link may be stale after Redis
 * restarted). 0, or -1 with errno. */
struct redis_base;
int cluster_baseline(struct cluster *cl, const char *id, size_t len, struct redis_base *b,
                     int ms);

struct redis_cmd *cluster_cmd(struct cluster *cl);
struct redis_sub *cluster_sub(struct cluster *cl);

/* Group id (incarnation inc) is no longer served here, but not deleted
 * either: for CLUSTER_KEEP_MS the node registers it again if Redis loses
 * it (a restart seen by the command link, or at once when Redis is not
 * usable now), so a group with members moments ago never vanishes. */
#define CLUSTER_KEEP_MS 60000
void cluster_keep(struct cluster *cl, const char *id, size_t len, const char *inc);

/* Registers group id with a fresh incarnation: 1 created, 0 exists, 2
 * Redis holds lim->max_groups groups already, -1. */
int cluster_create(struct cluster *cl, const char *id, size_t len);

/* Deletes group id everywhere: 1 deleted, 0 none, -1. */
int cluster_delete(struct cluster *cl, const char *id, size_t len);

/* 1 if group id exists in Redis, 0 if not, -1. */
int cluster_exists(struct cluster *cl, const char *id, size_t len);

/* Publishes sender's message to group id/inc: kind is the frame's
 * opcode, body the "<cid> - <message>" bytes (copied). Never blocks; a
 * message the publisher cannot take, or whose publish fails, closes the
 * sender with 1013. */
void cluster_publish(struct cluster *cl, const char *id, size_t len, const char *inc,
                     struct member *sender, int opcode, const void *prefix, size_t plen,
                     const void *body, size_t blen);

/* Claims c's id for this node before its 101 into group id, whose
 * incarnation in Redis it copies into inc ("" none) on the way: 1 claimed
 * (c is then closed with 1013 if another node ever takes the id over), 0
 * held by another node, -1. */
int cluster_claim(struct cluster *cl, struct member *c, const char *id, size_t len,
                  char inc[REDIS_INC_LEN + 1]);

/* Releases c's claimed id as c goes (without waiting); c must still be
 * referenced by the caller. */
void cluster_release(struct cluster *cl, struct member *c);

#endif
