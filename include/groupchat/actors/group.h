/*
 * group: the actor that alone owns a group's member set.
 *
 * One mailbox (a bounded chan of tagged requests) carries join, leave
 * and broadcast in arrival order, so every member sees broadcasts in the
 * same order and a join is in effect before anything queued after it; a
 * close closes the mailbox itself (group_close). The group thread and its
 * mailbox start on the first join and go when the group has no members
 * and nothing is pending; the next join starts them again, so an idle
 * group costs little more than its id. The "start if not running" and
 * "exit if idle" decisions are made under one lock together with a count
 * of senders in flight, so no request is ever stranded in the mailbox.
 *
 * Fan-out never waits on slow members for long: a run of broadcasts
 * waits at most GROUP_SLOW_WAIT_MS in all, however many members are full;
 * a member still without room then is closed with 1008 "slow consumer"
 * and removed, and the others carry on. The short wait is for
 * a writer that is runnable but has not had a CPU yet (a burst on a busy
 * box), which is not a slow reader and must not be dropped as one.
 *
 * Lifetime: reference counted. The manager's registry holds one
 * reference, each member's connection one. The last unref joins the
 * thread and frees the group.
 */
#ifndef GROUPCHAT_GROUP_H
#define GROUPCHAT_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_msg.h"

struct cluster;
struct member;
struct frame;
struct position;
struct stats;

/* Default bound of a group's mailbox, in requests. */
#define GROUP_MAILBOX_DEFAULT 1024

/* Close code and reason given to members of a deleted group. */
#define GROUP_DELETED_CODE 1000
#define GROUP_DELETED_REASON "group deleted"
#define GROUP_SLOW_CODE 1008
#define GROUP_SLOW_REASON "slow consumer"
/* How long a member's queue may stay full before it counts as slow. */
#define GROUP_SLOW_WAIT_MS 200
#define GROUP_SHUTDOWN_CODE 1001
#define GROUP_SHUTDOWN_REASON "server shutting down"

struct group;

/* A group with a copy of the id (id_len bytes, may hold NUL). st may be
 * NULL. No thread runs yet. It numbers its messages in an epoch drawn
 * now and keeps a history of them (HISTORY_DEFAULT_COUNT messages,
 * HISTORY_DEFAULT_BYTES bytes), for members in groupchat.v1 mode.
 * Reference count 1. NULL with errno on failure. */
struct group *group_new(const char *id, size_t id_len, struct stats *st);

/* Bounds the history of a group of group_new (history.h), before the
 * group is shared. 0, or -1 with ENOMEM (the old bounds stay). */
int group_set_history(struct group *g, size_t max_count, size_t max_bytes);

/* A group of cluster mode: its members' messages go out through the
 * publisher (cluster_publish), and it fans out only what the subscriber
 * hands it (group_deliver), in sequence order, repairing gaps from the
 * history on its own thread. Otherwise as group_new. */
struct group *group_new_cluster(const char *id, size_t id_len, struct stats *st,
                                struct cluster *cl);

/* Cluster mode, on a joining worker: waits (at most ms) until the group
 * knows where it starts on this node (the subscription confirmed, then
 * the baseline read by the first joiner) and copies its incarnation into
 * inc. 0, or -1 with errno: ENOENT the group exists nowhere (or was
 * deleted meanwhile), ETIMEDOUT, or the command link's error (answer 503). */
int group_attach(struct group *g, int ms, char inc[REDIS_INC_LEN + 1]);

/* Cluster mode, on the manager thread, never blocking. Redis confirmed the
 * group's subscription (again, after a reconnect: the group then reads a
 * fresh baseline and repairs what it missed). */
void group_subscribed(struct group *g);

/* The same repair (after Redis restarted empty, it registers again). 1 if
 * queued; a counted one reports its end with cluster_resync_done. */
int group_resync(struct group *g, bool counted);

/* Redis found no group when it ran the publish of c's message (the
 * group takes over the reference to c): the group checks, on its thread,
 * whether it was deleted (left to the delete event, which closes
 * everyone) or Redis lost it by restarting empty (c gets 1013: its
 * message was not relayed). */
void group_refused(struct group *g, struct member *c);

/* A joining worker's claim found another incarnation of the group in
 * Redis: the group checks, on its thread, as for a refused publish
 * without a sender (a delete is left to its event; Redis lost it and the
 * id was created again: the group closes). */
void group_recheck(struct group *g);

/* One payload of the group's channel. 1 if it was this incarnation's
 * delete: the group is closed and is to leave the registry (its members
 * get 1000 "group deleted", or 1013 if this node had not fanned out
 * every message before the delete, once what was queued went out);
 * else 0. */
int group_deliver(struct group *g, const struct redis_msg *msg);

struct group *group_ref(struct group *g);

/* Drops a reference. The last one closes the group if needed, waits for
 * its thread and frees it. */
void group_unref(struct group *g);

/* The id bytes (NUL-terminated for convenience) and their length. */
const char *group_id(const struct group *g, size_t *len);

/* Queues a join of c (the group takes a reference to c). Once this
 * returns, every broadcast queued later reaches c. Blocks while the
 * mailbox is full. -1 with EPIPE if the group is closed, or with the
 * errno of the failed start (EAGAIN, ENOMEM) if its thread cannot start
 * (c not joined either way). */
int group_join(struct group *g, struct member *c);

/* group_join of a member in groupchat.v1 mode (member_set_v1), coming
 * back from since (NULL: a first join). On the group thread, before c
 * takes part in any fan-out, c is queued its status frame, "ok
 * <position>" or "reset <position>" (the position of the group's last
 * message), and after "ok" the messages after since: "ok" when since is
 * NULL, or when it is of this group's epoch and the history holds every
 * message after it and they fit in c's send queue with the status;
 * otherwise "reset". In cluster mode the positions are the sequencer's
 * and the history is the one in Redis; a since ahead of what this node
 * has fanned out, in its epoch, is caught up with from that history
 * first (seq_catch_up). Errors as group_join. */
int group_join_since(struct group *g, struct member *c,
                     const struct position *since);

/* Queues a leave of c. A leave of a client that is no longer a member
 * (dropped, or the group closed) is a no-op, never an error or a block. */
void group_leave(struct group *g, struct member *c);

/* Queues m for every member (the group takes its own reference). Blocks
 * while the mailbox is full: backpressure on the sender's reader.
 * -1 with EPIPE if the group is closed. */
int group_broadcast(struct group *g, struct frame *m);

/* Closes the group without blocking: joins and broadcasts fail with EPIPE
 * from now on (those blocked on a full mailbox at once), and the group
 * thread closes every member's queue with code and reason (a literal),
 * drops the broadcasts still in its mailbox and empties the member set.
 * Idempotent: the first code and reason win. (A cluster group's delete
 * event closes it otherwise: group_deliver.) */
void group_close(struct group *g, uint16_t code, const char *reason);

/* Snapshots, for /stats and tests. */
bool group_running(struct group *g);    /* its thread is alive */
size_t group_members(struct group *g);  /* members now */
bool group_closed(struct group *g);

/* Cluster mode, on a joining worker that found another incarnation of
 * the group in Redis: waits (at most ms) until the group (an older one)
 * is closed, by its delete event or a resync. 0 closed, -1 still open. */
int group_wait_closed(struct group *g, int ms);

/* Cluster mode: the incarnation the group follows into inc, once its
 * first join read it; false before. */
bool group_incarnation(struct group *g, char inc[REDIS_INC_LEN + 1]);
uint64_t group_msgs_in(struct group *g);  /* broadcasts fanned out */
uint64_t group_msgs_out(struct group *g); /* frames queued to members */

/* Thread starts since creation (tests observe restarts with it). */
uint64_t group_thread_starts(struct group *g);

#endif
