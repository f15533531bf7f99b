/*
 * cluster_private: the cluster object's struct and the callbacks its
 * files share. Private to the node's side of cluster mode (cluster.c,
 * cluster_calls.c, cluster_claims.c and cluster_keep.c include it;
 * nothing else may).
 *
 * cluster.c holds the node's lifecycle (new, start, detach, free), the
 * actors' link and event callbacks, up/healthz and settle;
 * cluster_calls.c the calls on the caller's thread (create, delete,
 * exists, publish with its 1013 rule, and the publisher's result);
 * cluster_claims.c the claimed connection ids (claim, release and the
 * command link's held/taken callbacks); cluster_keep.c the groups kept in
 * mind after their last member here left. Which thread may touch which
 * field, and under which lock, is said at the field.
 */
#ifndef GROUPCHAT_CLUSTER_PRIVATE_H
#define GROUPCHAT_CLUSTER_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_cmd.h"
#include "groupchat/cluster/redis_keys.h"
#include "groupchat/cluster/redis_link.h"

struct manager;
struct member;
struct redis_pub;
struct redis_pub_item;
struct redis_sub;

enum { LINK_PUB, LINK_SUB, LINK_CMD, LINK_COUNT };

/* A group no longer served here, kept in mind until until (ms). */
struct kept {
	char *id;
	size_t len;
	char inc[REDIS_INC_LEN + 1];
	int64_t until;
};

/* A connection id this node holds in Redis, with its member. */
struct claim {
	uint32_t cid;
	struct member *member;
};

struct cluster {
	struct redis_connector conn;
	char node[REDIS_NODE_LEN + 1];  /* set by cluster_new_on, then read-only */
	struct cluster_limits lim;      /* likewise */
	pthread_mutex_t m_lock;
	struct manager *m;      /* under m_lock; NULL once detached */
	struct redis_pub *pub;
	struct redis_sub *sub;
	struct redis_cmd *cmd;

	pthread_mutex_t lock;   /* guards up, reason, stale, pending */
	int up[LINK_COUNT];
	char reason[LINK_COUNT][160];
	bool stale;             /* the subscriber was down; not settled since */
	long pending;           /* counted resyncs not finished */

	pthread_mutex_t claims_lock;    /* guards claims, nclaims, cap */
	struct claim *claims;
	size_t nclaims, cap;

	atomic_uint lost;       /* events the manager could not take, so far */
	bool started;           /* cluster_start ran; the freeing thread's */
	atomic_bool released;   /* a release was queued since the start */

	pthread_mutex_t kept_lock;      /* guards kept, nkept */
	struct kept *kept;              /* at most KEPT_MAX, oldest first */
	size_t nkept;
};

/* ---- cluster_calls.c ---------------------------------------------------- */

/* Whether a call failed because the link broke under it (EIO): an idle
 * link may be stale after Redis restarted, so a call that may run twice
 * (a baseline, a SET NX claim, a create with the same incarnation) is
 * sent once more. The one place that decides it. */
int cluster_link_broke(int rc);

/* ---- cluster_calls.c: the publisher's thread ---------------------------- */

/* The publisher's result for one message: relayed (seq > 0) drops the
 * sender's reference; refused (0) goes to the manager; failed (-1)
 * closes the sender with 1013. */
void cluster_pub_result(void *arg, const struct redis_pub_item *it, int64_t seq);

/* Whether the message's sender was closed: then it does not go out. */
int cluster_pub_stale(void *arg, const struct redis_pub_item *it);

/* ---- cluster_keep.c --------------------------------------------------- */

/* The most groups kept in mind at once; the oldest go first. */
#define KEPT_MAX 1024

/* The command thread's restart callback: registers every kept group
 * again on its own link (redis_cmd_reregister_here). */
void cluster_keep_restarted(struct cluster *cl);

/* Frees the kept groups (cluster_free). */
void cluster_keep_free(struct cluster *cl);

/* ---- cluster_claims.c: the command thread ------------------------------- */

/* The ids held, at most max of them, into out; their count. */
size_t cluster_claims_held(void *arg, uint32_t *out, size_t max);

/* Another node holds these ids now: their members here are closed 1013. */
void cluster_claims_taken(void *arg, const uint32_t *cids, size_t n);

#endif
