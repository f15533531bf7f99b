/*
 * manager: the actor that alone owns the registry of groups (id -> group).
 *
 * Callers never change the registry: each change (create, delete) and
 * each list or close-all is a message with a reply slot, sent to the
 * manager thread, and the caller waits for the reply. So "create unless
 * it exists" is atomic. A lookup only reads: it runs on the caller's
 * thread under the registry's read lock, which the manager thread takes
 * for writing around each change.
 *
 * Ids are byte strings of any length that may contain NUL.
 */
#ifndef GROUPCHAT_MANAGER_H
#define GROUPCHAT_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_keys.h"

struct cluster;
struct group;
struct member;
struct stats;

enum manager_result {
	MANAGER_CREATED,
	MANAGER_EXISTS,
	MANAGER_DELETED,
	MANAGER_NOT_FOUND,
	MANAGER_FULL,      /* max_groups are registered: nothing created */
};

/* The default cap on registered groups (--max-groups). */
#define MANAGER_MAX_GROUPS_DEFAULT 100000

struct manager;

/* Starts the manager thread; at most max_groups groups may be registered
 * at once. st may be NULL. NULL with errno on failure. */
struct manager *manager_new(struct stats *st, size_t max_groups);

/* The history bounds of the groups created from now on (group_set_history;
 * by default HISTORY_DEFAULT_COUNT and _BYTES). Before the first create. */
void manager_set_history(struct manager *m, size_t max_count, size_t max_bytes);

/* The manager of a cluster node: its registry holds the groups this node
 * serves (those with joins or members here), each subscribed to through
 * cl while it is listed. Creates and deletes go to Redis (cluster.h), not
 * through it. Its mailbox is bounded in bytes too (cluster_mailbox_bytes). */
struct manager *manager_new_cluster(struct stats *st, size_t max_groups,
                                    struct cluster *cl);

/* Stops the manager thread, closes every group still registered (code
 * 1001 "server shutting down"), drops the registry's references and frees
 * the manager. Requests must have stopped. */
void manager_free(struct manager *m);

/* Creates group id unless it exists. MANAGER_CREATED, MANAGER_EXISTS, or
 * MANAGER_FULL when max_groups are registered (counted in creates_refused);
 * -1 with errno (ENOMEM, or EPIPE once the manager is stopping). */
int manager_create(struct manager *m, const char *id, size_t len);

/* Removes group id and closes it (members get 1000 "group deleted").
 * MANAGER_DELETED or MANAGER_NOT_FOUND; -1 with errno. */
int manager_delete(struct manager *m, const char *id, size_t len);

/* A counted reference to group id (release with group_unref), or NULL
 * if there is none (errno ENOENT). Read on the caller's thread, without
 * a round trip to the manager thread. */
struct group *manager_lookup(struct manager *m, const char *id, size_t len);

/* References to at most max registered groups, in no order; with
 * active_only, only groups that have members now. *out is a malloc'd array
 * (NULL if the count is 0) the caller frees after group_unref on each;
 * *omitted (omitted may be NULL) gets how many more groups matched past
 * max. One pass over the registry on the manager thread, one atomic load
 * per group, nothing allocated per group not listed. Returns the count, or
 * -1 with errno. */
long manager_list(struct manager *m, size_t max, bool active_only,
                  struct group ***out, size_t *omitted);

/* Cluster mode: a reference to the local group id, listing (and
 * subscribing to) it if this is its first user here, and counting the
 * caller among its users until manager_unserve. NULL with errno: ENOSPC
 * (max_groups are listed and id is not among them), EAGAIN (the
 * subscriber's channel is full), ENOMEM, EPIPE. */
struct group *manager_serve(struct manager *m, const char *id, size_t len);

/* The caller no longer uses g (its member left, or its join failed). The
 * last user, or drop (the group is gone from Redis), unlists it and
 * unsubscribes. The caller still drops its own reference. */
void manager_unserve(struct manager *m, struct group *g, bool drop);

enum manager_event {
	MANAGER_EV_SUBSCRIBED,  /* Redis confirmed the subscription to id */
	MANAGER_EV_MESSAGE,     /* a payload of id's channel */
	MANAGER_EV_RESYNC,      /* Redis restarted empty: every group */
	MANAGER_EV_REFUSED,     /* see manager_cluster_refused */
	MANAGER_EV_SETTLE,      /* the subscriber is back: every group resyncs,
	                         * counted, and the node is usable once done */
};

/* From the Redis actors' threads: hands an event to the manager thread
 * (id and payload copied). Never waits for a message; a confirmation or
 * a delete waits at most a second for room. Room is an entry and the
 * event's bytes under the mailbox's byte bound. 0, or -1 (lost). */
int manager_cluster_event(struct manager *m, enum manager_event ev, const char *id,
                          size_t len, const char *payload, size_t plen);

/* From the publisher's thread: Redis found no incarnation inc of group
 * id when it ran c's publish. Takes over the reference to c; the group
 * serving that incarnation here, if any, decides (deleted: its delete
 * event closes everyone; lost and registered again: 1013 for c, not
 * relayed). A group served under the id since (deleted and created
 * again) is not c's and is left alone. Waits at most a second for room;
 * c is closed with 1013 if it cannot be handed over. 0 or -1. */
int manager_cluster_refused(struct manager *m, const char *id, size_t len,
                            const char inc[REDIS_INC_LEN + 1], struct member *c);

/* Closes every registered group with code and reason (a literal) but
 * keeps them registered: used at shutdown. */
void manager_close_all(struct manager *m, uint16_t code, const char *reason);

#endif
