/*
 * group: the group actor. Its mailbox, its (intermittent) thread and
 * the requests (join, leave, broadcast, close) and their handling. The
 * member set is roster.c's, fan-out of a run of broadcasts fanout.c's;
 * both are called only from this file's thread.
 *
 * Who touches what:
 *  - mailbox: any thread sends requests; only the group thread receives.
 *    Each request carries its own counted reference (member or frame),
 *    so the sender may drop its own as soon as the send returns.
 *  - running, joinable, thread, senders, closed and its code and reason:
 *    guarded by lock. A sender counts itself in senders, starting the
 *    thread if none runs, before it sends; the thread exits only when it
 *    has no members, the mailbox is empty and no sender is in flight,
 *    and it decides that under the same lock. Hence a request is never
 *    stranded, and when running is false the roster is empty and nothing
 *    is pending.
 *  - roster, close_seen and its code and reason: the group thread's
 *    alone (so are roster.c and fanout.c, which it calls). Successive
 *    threads hand them over through lock (one exits under it before the
 *    next is created under it).
 *  - the roster's published size and the counters: atomics, written by
 *    the group thread, read by anyone. msgs_in is bumped last, with release, so a reader
 *    that sees a broadcast counted in it also sees that broadcast's
 *    other counts.
 *  - everything else in this file runs on the caller's thread: new, ref,
 *    unref, id, join, leave, broadcast, close and the snapshots.
 */
#include "groupchat/actors/group.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/member.h"
#include "groupchat/cluster/redis_cmd.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/fault.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/log.h"
#include "groupchat/core/stats.h"
#include "groupchat/core/thread.h"
#include "fanout.h"
#include "roster.h"

/* Fan-out and bookkeeping only; no big locals anywhere below. */
#define GROUP_STACK (128 * 1024)

/* Requests taken from the mailbox at once. */
#define GROUP_BATCH 64

/* A join the member set has no memory for is refused this way. */
#define GROUP_NOMEM_CODE 1011
#define GROUP_NOMEM_REASON "out of memory"

enum group_kind {
	GROUP_JOIN,
	GROUP_LEAVE,
	GROUP_BROADCAST,
	GROUP_BASE,             /* cluster: the baseline is known */
	GROUP_DELIVER,          /* cluster: a message from the subscriber */
	GROUP_RESYNC,           /* cluster: read the baseline again, repair */
	GROUP_REFUSED,          /* cluster: Redis found no group for c's message */
};

/* A message of the group's channel on its way to the group thread. */
struct group_msg {
	uint64_t seq;
	char inc[REDIS_INC_LEN + 1];
	struct frame *m;        /* a reference */
};

struct group_req {
	enum group_kind kind;
	struct member *c;       /* GROUP_JOIN, GROUP_LEAVE, GROUP_REFUSED: a reference */
	union {
		struct frame *m;        /* GROUP_BROADCAST: a reference */
		struct group_msg *gm;   /* GROUP_DELIVER: owned */
		uint64_t seq;           /* GROUP_BASE */
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
	unsigned senders;
	pthread_t thread;

	struct roster roster;
	bool close_seen;
	uint16_t close_code;
	const char *close_reason;

	/* Cluster mode (cl != NULL). Under lock: */
	struct cluster *cl;
	pthread_cond_t attached;        /* attach state or subscribed changed */
	bool subscribed;
	enum group_attach_state att;
	char inc[REDIS_INC_LEN + 1];    /* set once, on ATT_READY */
	char dead_inc[REDIS_INC_LEN + 1]; /* a delete seen before ATT_READY */
	/* The group thread's alone, handed over like the roster: */
	bool have_base;
	uint64_t last;                  /* the last number fanned out */
	char t_inc[REDIS_INC_LEN + 1];
	unsigned t_epoch;               /* Redis restarts seen at the baseline */
	struct group_msg **parked;      /* numbers above last + 1, ascending */
	size_t nparked, parked_cap;
	struct frame *out[GROUP_BATCH]; /* frames in order, not fanned out yet */
	size_t nout;

	atomic_ullong msgs_in;
	atomic_ullong msgs_out;
	atomic_ullong starts;
};

static void	*group_main(void *arg);

struct group *
group_new(const char *id, size_t id_len, struct stats *st)
{
	struct group *g;
	pthread_condattr_t ca;
	int err;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if ((g->id = malloc(id_len + 1)) == NULL) {
		err = errno;
		goto err0;
	}
	if (id_len > 0)
		memcpy(g->id, id, id_len);
	g->id[id_len] = '\0';
	g->id_len = id_len;
	if ((err = pthread_mutex_init(&g->lock, NULL)) != 0)
		goto err1;
	if ((err = pthread_cond_init(&g->sent, NULL)) != 0)
		goto err2;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = pthread_cond_init(&g->attached, &ca);
	pthread_condattr_destroy(&ca);
	if (err != 0) {
		pthread_cond_destroy(&g->sent);
		goto err2;
	}
	atomic_init(&g->refs, 1);
	atomic_init(&g->msgs_in, 0);
	atomic_init(&g->msgs_out, 0);
	atomic_init(&g->starts, 0);
	roster_init(&g->roster, st);
	g->st = st;
	return g;

err2:
	pthread_mutex_destroy(&g->lock);
err1:
	free(g->id);
err0:
	free(g);
	errno = err;
	return NULL;
}

struct group *
group_new_cluster(const char *id, size_t id_len, struct stats *st, struct cluster *cl)
{
	struct group *g = group_new(id, id_len, st);

	if (g != NULL)
		g->cl = cl;
	return g;
}

struct group *
group_ref(struct group *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	return g;
}

/*
 * Nobody else can send now, so once the close (if any) is processed the
 * thread finds itself idle and exits; joining it is a short wait.
 */
void
group_unref(struct group *g)
{
	pthread_t t;
	bool join;

	if (g == NULL ||
	    atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
		return;
	group_close(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
	pthread_mutex_lock(&g->lock);
	join = g->joinable;
	t = g->thread;
	g->joinable = false;
	pthread_mutex_unlock(&g->lock);
	if (join)
		pthread_join(t, NULL);
	chan_free(g->mailbox);
	pthread_cond_destroy(&g->attached);
	pthread_cond_destroy(&g->sent);
	pthread_mutex_destroy(&g->lock);
	roster_fini(&g->roster);
	while (g->nparked > 0) {
		struct group_msg *gm = g->parked[--g->nparked];
		frame_unref(gm->m);
		free(gm);
	}
	free(g->parked);
	free(g->id);
	free(g);
}

const char *
group_id(const struct group *g, size_t *len)
{
	if (len != NULL)
		*len = g->id_len;
	return g->id;
}

/*
 * Counts the caller among the senders, first starting the thread if none
 * runs (and joining the one that exited last). The mailbox exists only
 * while a thread runs: an idle group costs its id and this struct.
 * Called with lock held. -1 with errno if the thread cannot start.
 */
static int
group_enter(struct group *g)
{
	int err;

	if (!g->running) {
		if (g->joinable) {
			pthread_join(g->thread, NULL);
			g->joinable = false;
		}
		if ((g->mailbox = chan_new(GROUP_MAILBOX_DEFAULT,
		    sizeof(struct group_req))) == NULL)
			return -1;
		if (fault_hit(FAULT_GROUP_START))
			err = EAGAIN;
		else
			err = thread_start(&g->thread, "gc-group", GROUP_STACK,
			    group_main, g);
		if (err != 0) {
			chan_free(g->mailbox);
			g->mailbox = NULL;
			errno = err;
			return -1;
		}
		g->running = true;
		g->joinable = true;
		atomic_fetch_add_explicit(&g->starts, 1, memory_order_relaxed);
		if (g->st != NULL)
			stats_add(g->st, group_threads, 1);
		log_event_id(LOG_INFO, "group_thread_started", "group", g->id, g->id_len, NULL);
	}
	g->senders++;
	return 0;
}

/*
 * Sends a request after group_enter and leaves the senders. The wait has
 * no deadline: a full mailbox is backpressure on the sender's reader. It
 * ends at once when group_close closes the mailbox; then the request was
 * not queued (-1, EPIPE) and its reference is the caller's to drop. The
 * thread does not free the mailbox while a sender is counted in.
 */
static int
group_post(struct group *g, const struct group_req *req)
{
	int rc = chan_send(g->mailbox, req, NULL);

	pthread_mutex_lock(&g->lock);
	g->senders--;
	pthread_cond_signal(&g->sent);
	pthread_mutex_unlock(&g->lock);
	if (rc == -1)
		errno = EPIPE;
	return rc;
}

/* group_post without blocking, starting the thread if none runs: for the
 * manager thread, which must never wait on a group. 0, or -1 (closed,
 * full, or the thread cannot start): the request was not queued. */
static int
group_try_post(struct group *g, const struct group_req *req)
{
	int rc;

	pthread_mutex_lock(&g->lock);
	if (g->closed || group_enter(g) == -1) {
		pthread_mutex_unlock(&g->lock);
		return -1;
	}
	pthread_mutex_unlock(&g->lock);
	rc = chan_try_send(g->mailbox, req);
	pthread_mutex_lock(&g->lock);
	g->senders--;
	pthread_cond_signal(&g->sent);
	pthread_mutex_unlock(&g->lock);
	return rc;
}

/*
 * The first join of a cluster group on this node reads the baseline once
 * the subscription is confirmed (docs/design.md, "Joining without a
 * gap"); later joins find the group ready. The baseline goes to the
 * thread as GROUP_BASE, queued before this caller's join.
 */
int
group_attach(struct group *g, int ms, char inc[REDIS_INC_LEN + 1])
{
	struct group_req req = { .kind = GROUP_BASE };
	struct timespec deadline;
	char got[REDIS_INC_LEN + 1];
	uint64_t seq;
	int rc, err;

	chan_deadline(&deadline, ms);
	pthread_mutex_lock(&g->lock);
	for (;;) {
		if (g->att == ATT_READY) {
			memcpy(inc, g->inc, sizeof(g->inc));
			pthread_mutex_unlock(&g->lock);
			return 0;
		}
		if (g->att == ATT_GONE || g->closed) {
			pthread_mutex_unlock(&g->lock);
			errno = ENOENT;
			return -1;
		}
		if (g->subscribed && g->att == ATT_NONE)
			break;
		if (pthread_cond_timedwait(&g->attached, &g->lock, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&g->lock);
			errno = ETIMEDOUT;
			return -1;
		}
	}
	g->att = ATT_BUSY;
	pthread_mutex_unlock(&g->lock);
	rc = redis_cmd_baseline(cluster_cmd(g->cl), g->id, g->id_len, got, &seq, ms);
	if (rc == -1 && errno == EIO) /* a stale link: a read may be sent again */
		rc = redis_cmd_baseline(cluster_cmd(g->cl), g->id, g->id_len, got, &seq, ms);
	err = errno;
	pthread_mutex_lock(&g->lock);
	if (rc == -1)
		g->att = ATT_NONE;
	else if (got[0] == '\0' || strcmp(got, g->dead_inc) == 0)
		g->att = ATT_GONE;
	else {
		memcpy(g->inc, got, sizeof(got));
		g->att = ATT_READY;
	}
	pthread_cond_broadcast(&g->attached);
	if (g->att != ATT_READY) {
		pthread_mutex_unlock(&g->lock);
		errno = rc == -1 ? err : ENOENT;
		return -1;
	}
	if (group_enter(g) == -1) {
		/* The start fails for whoever joins next as well. */
		pthread_mutex_unlock(&g->lock);
		return -1;
	}
	pthread_mutex_unlock(&g->lock);
	req.seq = seq;
	if (group_post(g, &req) == -1) {
		/* Closed since: its delete event came right after the baseline. */
		errno = ENOENT;
		return -1;
	}
	memcpy(inc, got, sizeof(got));
	return 0;
}

void
group_subscribed(struct group *g)
{
	struct group_req req = { .kind = GROUP_RESYNC };
	bool ready;

	pthread_mutex_lock(&g->lock);
	g->subscribed = true;
	ready = g->att == ATT_READY;
	pthread_cond_broadcast(&g->attached);
	pthread_mutex_unlock(&g->lock);
	/* Again, after the subscriber reconnected: what was published
	 * meanwhile is repaired from the history. */
	if (ready)
		group_try_post(g, &req);
}

int
group_resync(struct group *g, bool counted)
{
	struct group_req req = { .kind = GROUP_RESYNC, .seq = counted };
	bool ready;

	pthread_mutex_lock(&g->lock);
	ready = g->att == ATT_READY;
	pthread_mutex_unlock(&g->lock);
	return ready && group_try_post(g, &req) == 0;
}

void
group_refused(struct group *g, struct member *c)
{
	struct group_req req = { .kind = GROUP_REFUSED, .c = c };

	/* A closed group closes c with its own code: that one must win. */
	if (group_try_post(g, &req) == -1) {
		if (!group_closed(g))
			member_close(c, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
		member_unref(c);
	}
}

int
group_deliver(struct group *g, const struct redis_msg *msg)
{
	struct group_req req = { .kind = GROUP_DELIVER };
	struct group_msg *gm;
	bool mine, ready;

	pthread_mutex_lock(&g->lock);
	ready = g->att == ATT_READY;
	mine = ready && strcmp(g->inc, msg->inc) == 0;
	if (msg->kind == RE_DELETED && g->att != ATT_READY)
		memcpy(g->dead_inc, msg->inc, sizeof(g->dead_inc));
	pthread_mutex_unlock(&g->lock);
	if (msg->kind == RE_DELETED) {
		if (!mine)
			return 0;
		group_close(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
		return 1;
	}
	/* A message of another incarnation is dropped here once the group
	 * knows its own; before, the thread parks it with its incarnation. */
	if (msg->flen < 1 || (ready && !mine))
		return 0;
	if ((gm = malloc(sizeof(*gm))) == NULL)
		return 0;
	gm->seq = msg->seq;
	memcpy(gm->inc, msg->inc, sizeof(gm->inc));
	if ((gm->m = frame_new(msg->frame[0] == 'b' ? FRAME_BINARY : FRAME_TEXT, NULL, 0,
	    msg->frame + 1, msg->flen - 1)) == NULL) {
		free(gm);
		return 0;
	}
	req.gm = gm;
	/* Full: the message is lost here and its number is a gap the next
	 * one shows; the thread repairs it from the history. */
	if (group_try_post(g, &req) == -1) {
		frame_unref(gm->m);
		free(gm);
	}
	return 0;
}

int
group_join(struct group *g, struct member *c)
{
	struct group_req req = { .kind = GROUP_JOIN, .c = c };
	int err;

	pthread_mutex_lock(&g->lock);
	if (g->closed) {
		pthread_mutex_unlock(&g->lock);
		errno = EPIPE;
		return -1;
	}
	if (group_enter(g) == -1) {
		err = errno;
		pthread_mutex_unlock(&g->lock);
		log_event_id(LOG_ERROR, "group_thread_failed", "group", g->id, g->id_len,
		    "error", strerror(err), NULL);
		errno = err == EPIPE ? EAGAIN : err;
		return -1;
	}
	pthread_mutex_unlock(&g->lock);
	member_ref(c);
	if (group_post(g, &req) == -1) {
		member_unref(c);
		return -1;
	}
	return 0;
}

/* With no thread running there are no members, so there is no one to leave. */
void
group_leave(struct group *g, struct member *c)
{
	struct group_req req = { .kind = GROUP_LEAVE, .c = c };

	pthread_mutex_lock(&g->lock);
	if (g->closed || !g->running) {
		pthread_mutex_unlock(&g->lock);
		return;
	}
	g->senders++;
	pthread_mutex_unlock(&g->lock);
	member_ref(c);
	if (group_post(g, &req) == -1)
		member_unref(c);
}

/* With no thread running there are no members: the message reaches nobody. */
int
group_broadcast(struct group *g, struct frame *m)
{
	struct group_req req = { .kind = GROUP_BROADCAST, .m = m };

	pthread_mutex_lock(&g->lock);
	if (g->closed) {
		pthread_mutex_unlock(&g->lock);
		errno = EPIPE;
		return -1;
	}
	if (!g->running) {
		pthread_mutex_unlock(&g->lock);
		atomic_fetch_add_explicit(&g->msgs_in, 1, memory_order_release);
		return 0;
	}
	g->senders++;
	pthread_mutex_unlock(&g->lock);
	frame_ref(m);
	if (group_post(g, &req) == -1) {
		frame_unref(m);
		return -1;
	}
	return 0;
}

/*
 * Never blocks: the code and reason are recorded under the lock and the
 * mailbox is closed, which wakes every sender blocked on it (they get
 * EPIPE) and tells the thread. The thread drains what was queued before
 * the close, discarding broadcasts, closes every member and every queued
 * join with the recorded code, and exits. With no thread running there
 * are no members to close.
 */
void
group_close(struct group *g, uint16_t code, const char *reason)
{
	pthread_mutex_lock(&g->lock);
	if (!g->closed) {
		g->closed = true;
		g->closed_code = code;
		g->closed_reason = reason;
		if (g->running)
			chan_close(g->mailbox);
	}
	pthread_mutex_unlock(&g->lock);
}

bool
group_running(struct group *g)
{
	bool r;

	pthread_mutex_lock(&g->lock);
	r = g->running;
	pthread_mutex_unlock(&g->lock);
	return r;
}

size_t
group_members(struct group *g)
{
	return atomic_load_explicit(&g->roster.size, memory_order_relaxed);
}

bool
group_closed(struct group *g)
{
	bool r;

	pthread_mutex_lock(&g->lock);
	r = g->closed;
	pthread_mutex_unlock(&g->lock);
	return r;
}

uint64_t
group_msgs_in(struct group *g)
{
	return atomic_load_explicit(&g->msgs_in, memory_order_acquire);
}

uint64_t
group_msgs_out(struct group *g)
{
	return atomic_load_explicit(&g->msgs_out, memory_order_relaxed);
}

uint64_t
group_thread_starts(struct group *g)
{
	return atomic_load_explicit(&g->starts, memory_order_relaxed);
}

/* Takes over the request's reference to c as the roster's. */
static void
group_add(struct group *g, struct member *c)
{
	if (g->close_seen) {
		member_close(c, g->close_code, g->close_reason);
		member_unref(c);
		return;
	}
	if (roster_add(&g->roster, c) == -1) {
		if (errno == ENOMEM)
			member_close(c, GROUP_NOMEM_CODE, GROUP_NOMEM_REASON);
		member_unref(c);
		return;
	}
}

/* Fans the run out (fanout.c), then publishes the counts. */
static void
group_fanout(struct group *g, struct frame *const *run, size_t k)
{
	size_t frames = fanout_run(&g->roster, run, k, g->st);

	atomic_fetch_add_explicit(&g->msgs_out, frames, memory_order_relaxed);
	/* Last and releasing: whoever sees this count sees the others. */
	atomic_fetch_add_explicit(&g->msgs_in, k, memory_order_release);
}

/* Closes every member; joins that were already queued meet the same fate. */
static void
group_close_members(struct group *g, uint16_t code, const char *reason)
{
	size_t i;

	g->close_seen = true;
	g->close_code = code;
	g->close_reason = reason;
	for (i = 0; i < g->roster.n; i++)
		member_close(g->roster.members[i], code, reason);
	roster_clear(&g->roster);
}

/*
 * Once the group is closed (the thread looks at the start of each batch),
 * every member is closed with the recorded code, and from then on queued
 * joins are closed the same way and queued broadcasts are dropped, as Go
 * drops them: a deleted group's members go within one fan-out deadline.
 */
static void
group_check_closed(struct group *g)
{
	uint16_t code;
	const char *reason;
	bool closed;

	if (g->close_seen)
		return;
	pthread_mutex_lock(&g->lock);
	closed = g->closed;
	code = g->closed_code;
	reason = g->closed_reason;
	pthread_mutex_unlock(&g->lock);
	if (closed)
		group_close_members(g, code, reason);
}

/* ---- cluster mode: the group thread's side ----------------------------- */

/* Fans out the frames gathered in order so far. */
static void
cl_flush(struct group *g)
{
	size_t j;

	if (g->nout == 0)
		return;
	if (!g->close_seen)
		group_fanout(g, g->out, g->nout);
	for (j = 0; j < g->nout; j++)
		frame_unref(g->out[j]);
	g->nout = 0;
}

/* Takes over a reference to m as the next frame in order. */
static void
cl_emit(struct group *g, struct frame *m)
{
	g->out[g->nout++] = m;
	g->last++;
	if (g->nout == GROUP_BATCH)
		cl_flush(g);
}

/* Closes every member but keeps the group open for later joins: they
 * start from the number the group has reached. */
static void
cl_close_members(struct group *g, uint16_t code, const char *reason)
{
	size_t i;

	cl_flush(g);
	for (i = 0; i < g->roster.n; i++)
		member_close(g->roster.members[i], code, reason);
	roster_clear(&g->roster);
}

static void
cl_free_msg(struct group_msg *gm)
{
	frame_unref(gm->m);
	free(gm);
}

/* Keeps gm (a number above last + 1) in order; on no memory it is lost
 * and becomes a gap like any other. */
static void
cl_park(struct group *g, struct group_msg *gm)
{
	struct group_msg **grown;
	size_t i;

	if (g->nparked == g->parked_cap) {
		size_t cap = g->parked_cap == 0 ? 16 : g->parked_cap * 2;
		if ((grown = realloc(g->parked, cap * sizeof(*grown))) == NULL) {
			cl_free_msg(gm);
			return;
		}
		g->parked = grown;
		g->parked_cap = cap;
	}
	for (i = g->nparked; i > 0 && g->parked[i - 1]->seq > gm->seq; i--)
		g->parked[i] = g->parked[i - 1];
	g->parked[i] = gm;
	g->nparked++;
}

/* Fans out parked messages that are next in order, drops the old ones. */
static void
cl_unpark(struct group *g)
{
	size_t i = 0;

	while (i < g->nparked && g->parked[i]->seq <= g->last + 1) {
		struct group_msg *gm = g->parked[i++];
		if (gm->seq == g->last + 1 && strcmp(gm->inc, g->t_inc) == 0) {
			cl_emit(g, gm->m);
			free(gm);
		} else {
			cl_free_msg(gm);
		}
	}
	if (i == 0)
		return;
	memmove(g->parked, g->parked + i, (g->nparked - i) * sizeof(*g->parked));
	g->nparked -= i;
}

static void
cl_hist_entry(void *arg, uint64_t seq, const char *frame, size_t flen)
{
	struct group *g = arg;
	struct frame *m;

	if (seq != g->last + 1 || flen < 1)
		return;
	if ((m = frame_new(frame[0] == 'b' ? FRAME_BINARY : FRAME_TEXT, NULL, 0,
	    frame + 1, flen - 1)) != NULL)
		cl_emit(g, m);
}

/*
 * Fans out last + 1 .. upto from the history. What the history no longer
 * holds (trimmed, Redis restarted empty, or unreachable) cannot be given
 * to the members: they are closed with 1013 and the group goes on from
 * upto, so nobody is left with a silent gap.
 */
static void
cl_repair(struct group *g, uint64_t upto)
{
	cl_flush(g);
	if (upto > g->last)
		redis_cmd_history(cluster_cmd(g->cl), g->id, g->id_len, g->last + 1, upto,
		    cl_hist_entry, g, CLUSTER_WAIT_MS);
	if (g->last < upto) {
		log_event_id(LOG_WARN, "group_gap_lost", "group", g->id, g->id_len, NULL);
		cl_close_members(g, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
		g->last = upto;
	}
	cl_unpark(g);
}

/* One message from the subscriber, in the group's order. */
static void
cl_accept(struct group *g, struct group_msg *gm)
{
	if (!g->have_base) {
		cl_park(g, gm);
		return;
	}
	if (strcmp(gm->inc, g->t_inc) != 0 || gm->seq <= g->last) {
		cl_free_msg(gm);
		return;
	}
	if (gm->seq == g->last + 1) {
		cl_emit(g, gm->m);
		free(gm);
		cl_unpark(g);
		return;
	}
	cl_park(g, gm);
	cl_repair(g, g->parked[0]->seq - 1);
}

static void
cl_base(struct group *g, uint64_t seq)
{
	pthread_mutex_lock(&g->lock);
	memcpy(g->t_inc, g->inc, sizeof(g->t_inc));
	pthread_mutex_unlock(&g->lock);
	g->have_base = true;
	g->last = seq;
	g->t_epoch = cluster_epoch(g->cl);
	cl_unpark(g);
	if (g->nparked > 0)
		cl_repair(g, g->parked[0]->seq - 1);
}

/* The group is gone from Redis: as a delete event would. */
static void
cl_gone(struct group *g)
{
	cl_flush(g);
	group_close(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
	group_close_members(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
}

/*
 * Redis ran c's publish but found no such group. Deleted: everyone gets
 * 1000, as the delete event would say (it may have been missed). Still
 * there (Redis restarted empty and the group registered again since), or
 * not known: the message was not relayed, so c is closed with 1013.
 */
static void
cl_refused(struct group *g, struct member *c)
{
	char inc[REDIS_INC_LEN + 1];
	uint64_t seq;

	cl_flush(g);
	if (redis_cmd_baseline(cluster_cmd(g->cl), g->id, g->id_len, inc, &seq,
	    CLUSTER_WAIT_MS) == 0 && strcmp(inc, g->t_inc) != 0 &&
	    (inc[0] != '\0' || cluster_epoch(g->cl) == g->t_epoch))
		cl_gone(g);
	else
		member_close(c, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
	member_unref(c);
}

/*
 * After the subscriber reconnected (or Redis restarted): a fresh baseline
 * and the repair of everything published meanwhile. The command link may
 * itself be reconnecting, so the baseline is tried for a few seconds
 * before the members are told (1013). An absent incarnation after Redis
 * restarted empty registers the group again; absent otherwise, or another
 * one, means it was deleted meanwhile.
 */
static void
cl_resync(struct group *g)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	char inc[REDIS_INC_LEN + 1];
	uint64_t seq = 0;
	int64_t r;
	int tries;

	if (!g->have_base)
		return;
	cl_flush(g);
	for (tries = 0; tries < 50; tries++) {
		if (redis_cmd_baseline(cluster_cmd(g->cl), g->id, g->id_len, inc, &seq,
		    CLUSTER_WAIT_MS) == 0)
			break;
		nanosleep(&pause, NULL);
	}
	if (tries == 50) {
		cl_close_members(g, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
		return;
	}
	if (inc[0] == '\0' && cluster_epoch(g->cl) != g->t_epoch) {
		g->t_epoch = cluster_epoch(g->cl);
		r = redis_cmd_reregister(cluster_cmd(g->cl), g->id, g->id_len, g->t_inc,
		    g->last, CLUSTER_WAIT_MS);
		if (r == -2) {
			cl_gone(g);
			return;
		}
		if (r == -1) {
			cl_close_members(g, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
			return;
		}
		log_event_id(LOG_INFO, "group_reregistered", "group", g->id, g->id_len, NULL);
		memcpy(inc, g->t_inc, sizeof(inc));
		seq = (uint64_t)r;
	}
	if (strcmp(inc, g->t_inc) != 0) {
		cl_gone(g);
		return;
	}
	if (seq > g->last)
		cl_repair(g, seq);
}

/*
 * Handles a batch in arrival order. A run of consecutive broadcasts is
 * fanned out as one, which keeps the order every member sees and costs
 * each member one queue lock per run instead of one per message.
 */
static void
group_handle(struct group *g, struct group_req *batch, size_t n)
{
	struct frame *run[GROUP_BATCH];
	size_t i = 0, j, k;

	group_check_closed(g);
	while (i < n) {
		struct group_req *req = &batch[i];

		switch (req->kind) {
		case GROUP_JOIN:
			cl_flush(g);
			group_add(g, req->c);
			break;
		case GROUP_LEAVE:
			cl_flush(g);
			roster_remove(&g->roster, req->c);
			member_unref(req->c);
			break;
		case GROUP_BROADCAST:
			for (k = 0; i + k < n && batch[i + k].kind == GROUP_BROADCAST; k++)
				run[k] = batch[i + k].m;
			if (!g->close_seen)
				group_fanout(g, run, k);
			for (j = 0; j < k; j++)
				frame_unref(run[j]);
			i += k;
			continue;
		case GROUP_BASE:
			cl_base(g, req->seq);
			break;
		case GROUP_DELIVER:
			if (g->close_seen)
				cl_free_msg(req->gm);
			else
				cl_accept(g, req->gm);
			break;
		case GROUP_RESYNC:
			if (!g->close_seen)
				cl_resync(g);
			if (req->seq)
				cluster_resync_done(g->cl);
			break;
		case GROUP_REFUSED:
			if (g->close_seen || !g->have_base)
				member_unref(req->c);
			else
				cl_refused(g, req->c);
			break;
		}
		i++;
	}
	cl_flush(g);
}

/* Leaves running under lock; the mailbox goes with the thread. */
static void
group_exit(struct group *g)
{
	if (g->st != NULL)
		stats_sub(g->st, group_threads, 1);
	/* Go logs: cleared the group's "Manage" goroutine with id: ID */
	log_event_id(LOG_INFO, "group_thread_exited", "group", g->id, g->id_len, NULL);
	chan_free(g->mailbox);
	g->mailbox = NULL;
	g->running = false;
}

/*
 * With no members, exits if nothing is queued and no sender is in flight.
 * A sender counted in senders is about to queue (the mailbox has room, or
 * it would not be empty) or has just failed on a closed mailbox, so
 * waiting for it is short.
 */
static bool
group_idle(struct group *g)
{
	bool idle;

	pthread_mutex_lock(&g->lock);
	while (g->senders > 0 && chan_len(g->mailbox) == 0)
		pthread_cond_wait(&g->sent, &g->lock);
	idle = chan_len(g->mailbox) == 0;
	if (idle)
		group_exit(g);
	pthread_mutex_unlock(&g->lock);
	return idle;
}

/*
 * The mailbox was closed and is drained: close whatever members are left
 * and exit once the senders caught by the close have left the mailbox.
 */
static void
group_finish(struct group *g)
{
	group_check_closed(g);
	pthread_mutex_lock(&g->lock);
	while (g->senders > 0)
		pthread_cond_wait(&g->sent, &g->lock);
	group_exit(g);
	pthread_mutex_unlock(&g->lock);
}

static void *
group_main(void *arg)
{
	struct group *g = arg;
	struct group_req batch[GROUP_BATCH];
	ssize_t n;

	for (;;) {
		if ((n = chan_recv_batch(g->mailbox, batch, GROUP_BATCH, NULL)) == -1) {
			group_finish(g);
			return NULL;
		}
		group_handle(g, batch, (size_t)n);
		if (g->roster.n == 0 && group_idle(g))
			return NULL;
	}
}
