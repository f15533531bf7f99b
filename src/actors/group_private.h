/*
 * group_private: the group actor's struct and the calls its files share.
 * Private to the group actor (its files include it; nothing else may).
 *
 * The actor is six files: group.c (the object and the requests, on the
 * caller's thread), group_cluster.c (cluster mode's requests, on the
 * caller's thread), group_thread.c (the group thread: the loop and the
 * handling of each request), and on the group thread roster.c (the
 * member set), fanout.c (a run of broadcasts into every queue) and
 * sequencer.c (a cluster group's order). Which thread may touch which field is said at
 * the field.
 */
#ifndef GROUPCHAT_GROUP_PRIVATE_H
#define GROUPCHAT_GROUP_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_keys.h"
#include "groupchat/core/position.h"
#include "fanout.h"
#include "roster.h"
#include "sequencer.h"

struct chan;
struct cluster;
struct frame;
struct history;
struct member;
struct stats;

/* Requests taken from the mailbox at once. */
#define GROUP_BATCH 64

/* How often a cluster group's thread, idle or not, looks whether a
 * request for it was lost (its tail would otherwise go unnoticed until a
 * later message shows the gap). */
#define GROUP_TICK_MS 1000
_Static_assert(SEQ_RUN == GROUP_BATCH, "a sequencer run is a broadcast run");
_Static_assert(FANOUT_RUN_MAX == GROUP_BATCH, "a fan-out run is a broadcast run");

enum group_kind {
	GROUP_JOIN,
	GROUP_LEAVE,
	GROUP_BROADCAST,
	GROUP_BASE,             /* cluster: the baseline is known */
	GROUP_DELIVER,          /* cluster: a message from the subscriber */
	GROUP_RESYNC,           /* cluster: read the baseline again, repair */
	GROUP_REFUSED,          /* cluster: Redis found no group for c's message */
};

struct group_req {
	enum group_kind kind;
	struct member *c;       /* GROUP_JOIN, GROUP_LEAVE, GROUP_REFUSED (NULL
	                         * for group_recheck): a reference */
	union {
		struct {                /* GROUP_JOIN of a groupchat.v1 member */
			struct position pos;
			bool given;
		} since;
		struct frame *m;        /* GROUP_BROADCAST: a reference */
		struct seq_msg *gm;     /* GROUP_DELIVER: owned */
		uint64_t seq;           /* GROUP_BASE: the last number */
		bool counted;           /* GROUP_RESYNC: reports its end */
	};
};

/* How a cluster group's first join learns where the group starts. */
enum group_attach_state { ATT_NONE, ATT_BUSY, ATT_READY, ATT_GONE };

struct group {
	atomic_uint refs;
	char *id;
	size_t id_len;
	struct stats *st;
	struct chan *mailbox;   /* NULL while no thread runs */

	pthread_mutex_t lock;
	pthread_cond_t sent;    /* senders went down */
	bool running;
	bool joinable;          /* thread exited or runs, not joined yet */
	bool closed;
	uint16_t closed_code;   /* what group_close recorded */
	const char *closed_reason;
	bool closed_deleted;    /* cluster: by its delete event, whose */
	uint64_t closed_last;   /* last number is this */
	unsigned senders;
	pthread_t thread;

	/* The group thread's alone; successive threads hand them over
	 * through lock (one exits under it before the next starts under it). */
	struct roster roster;
	bool close_seen;
	uint16_t close_code;
	const char *close_reason;
	struct sequencer seq;           /* cluster mode only */
	unsigned lost_seen;             /* cluster_lost at the last resync */
	struct history *history;        /* one node only; NULL in cluster mode */

	/* Drawn at creation, then read-only: the one history a group of a
	 * single node ever has (a re-created id is a new group). */
	uint64_t epoch;

	/* Cluster mode (cl != NULL). Under lock: */
	struct cluster *cl;
	pthread_cond_t attached;        /* attach state, subscribed or closed changed */
	bool subscribed;
	enum group_attach_state att;
	char inc[REDIS_INC_LEN + 1];    /* set once, on ATT_READY */
	char ep[REDIS_EP_LEN + 1];      /* the baseline's epoch, with inc */
	char dead_inc[REDIS_INC_LEN + 1]; /* a delete seen before ATT_READY */

	/* Cluster mode: a request for the thread was lost (mailbox full); set
	 * by any thread, taken by the group thread, which then resyncs. */
	atomic_bool lost;

	atomic_ullong msgs_in;
	atomic_ullong msgs_out;
	atomic_ullong starts;
};

/* ---- group.c: the way into the mailbox, on the caller's thread -------- */

/* Counts the caller among the senders, starting the thread if none runs.
 * Called with lock held. 0, or -1 with errno if the thread cannot start. */
int group_enter(struct group *g);

/* Sends req after group_enter and leaves the senders; blocks while the
 * mailbox is full. 0, or -1 with EPIPE if the group was closed (req was
 * not queued and its reference is the caller's). */
int group_post(struct group *g, const struct group_req *req);

/* group_post without blocking, entering first: for the manager thread,
 * which must never wait on a group. 0, or -1 (closed, full, or the
 * thread cannot start): req was not queued. */
int group_try_post(struct group *g, const struct group_req *req);

/* group_close with lock held: the first close wins. */
void group_close_locked(struct group *g, uint16_t code, const char *reason);

/* Cluster mode: closes the group as its delete event says (1000 "group
 * deleted"), with the group's last number, so the thread can tell
 * members who missed messages before it (they get 1013 instead). */
void group_close_deleted(struct group *g, uint64_t last);

/* ---- group_thread.c: the group thread -------------------------------- */

/* The thread's body; arg is the group. */
void *group_main(void *arg);

/* Fans ms[0..k) out to the roster and counts them, unless the members
 * were closed for good (close_seen). at is the position of ms[0] in a
 * cluster group (the sequencer's), NULL in a group of one node, which
 * numbers them itself. The caller keeps its references. */
void group_fanout(struct group *g, struct frame *const *ms, size_t k,
    const struct position *at);

/* The members it has now: each is closed with code and reason and the
 * roster emptied; the group stays open and later joins are taken. */
void group_close_current(struct group *g, uint16_t code, const char *reason);

/* As group_close_current, for good: queued and later joins are closed the
 * same way, and broadcasts are dropped (the group itself closed). */
void group_close_for_good(struct group *g, uint16_t code, const char *reason);

#endif
