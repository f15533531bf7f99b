/*
 * group: the group actor's object and its requests. Its mailbox, its
 * (intermittent) thread's start, and join, leave, broadcast, close and
 * the snapshots. The thread itself is group_thread.c's; cluster mode's
 * requests are group_cluster.c's; the struct is in group_private.h.
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
 *  - roster, close_seen and its code and reason, the sequencer and the
 *    history: the group thread's alone (group_thread.c, and roster.c,
 *    fanout.c, sequencer.c and core/history.c, which it calls);
 *    group_unref frees them once no thread runs. group_set_history
 *    replaces the history before the group is shared.
 *  - epoch: drawn at creation, read-only after.
 *  - the roster's published size and the counters: atomics, written by
 *    the group thread (msgs_in also by group_broadcast, on the caller's
 *    thread, for a message to a group with no members), read by anyone.
 *    msgs_in is bumped last, with release, so a reader that sees a
 *    broadcast counted in it also sees that broadcast's other counts.
 *  - everything in this file runs on the caller's thread.
 */
#include "groupchat/actors/group.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/member.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/fault.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/history.h"
#include "groupchat/core/log.h"
#include "groupchat/core/stats.h"
#include "groupchat/core/thread.h"
#include "group_private.h"
#include "roster.h"
#include "sequencer.h"

/* Fan-out and bookkeeping only; no big locals anywhere below. */
#define GROUP_STACK (128 * 1024)

/* cl is NULL outside cluster mode. */
static struct group *
group_create(const char *id, size_t id_len, struct stats *st, struct cluster *cl)
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
	/* One node: a history of positions, in an epoch of its own. */
	if (cl == NULL) {
		if (getrandom(&g->epoch, sizeof(g->epoch), 0) != sizeof(g->epoch)) {
			err = errno;
			goto err1;
		}
		if ((g->history = history_new(HISTORY_DEFAULT_COUNT,
		    HISTORY_DEFAULT_BYTES)) == NULL) {
			err = errno;
			goto err1;
		}
	}
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
	atomic_init(&g->lost, false);
	roster_init(&g->roster, st);
	seq_init(&g->seq, g, cl, g->id, g->id_len);
	g->lost_seen = cl != NULL ? cluster_lost(cl) : 0;
	g->st = st;
	g->cl = cl;
	return g;

err2:
	pthread_mutex_destroy(&g->lock);
err1:
	history_free(g->history);
	free(g->id);
err0:
	free(g);
	errno = err;
	return NULL;
}

struct group *
group_new(const char *id, size_t id_len, struct stats *st)
{
	return group_create(id, id_len, st, NULL);
}

int
group_set_history(struct group *g, size_t max_count, size_t max_bytes)
{
	struct history *h;

	if ((h = history_new(max_count, max_bytes)) == NULL)
		return -1;
	history_free(g->history);
	g->history = h;
	return 0;
}

struct group *
group_new_cluster(const char *id, size_t id_len, struct stats *st, struct cluster *cl)
{
	return group_create(id, id_len, st, cl);
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
	seq_fini(&g->seq);
	history_free(g->history);
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
int
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
/* Leaves the senders group_enter counted the caller among. */
static void
group_sender_done(struct group *g)
{
	pthread_mutex_lock(&g->lock);
	g->senders--;
	pthread_cond_signal(&g->sent);
	pthread_mutex_unlock(&g->lock);
}

int
group_post(struct group *g, const struct group_req *req)
{
	int rc = chan_send(g->mailbox, req, NULL);

	group_sender_done(g);
	if (rc == -1)
		errno = EPIPE;
	return rc;
}

/* group_post without blocking, starting the thread if none runs: for the
 * manager thread, which must never wait on a group. 0, or -1 (closed,
 * full, or the thread cannot start): the request was not queued. */
int
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
	group_sender_done(g);
	return rc;
}

/* Queues req, a join of req->c. */
static int
group_post_join(struct group *g, struct group_req *req)
{
	struct member *c = req->c;
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
		errno = err;
		return -1;
	}
	pthread_mutex_unlock(&g->lock);
	member_ref(c);
	if (group_post(g, req) == -1) {
		member_unref(c);
		return -1;
	}
	return 0;
}

int
group_join(struct group *g, struct member *c)
{
	struct group_req req = { .kind = GROUP_JOIN, .c = c };

	return group_post_join(g, &req);
}

int
group_join_since(struct group *g, struct member *c, const struct position *since)
{
	struct group_req req = { .kind = GROUP_JOIN, .c = c };

	if (since != NULL) {
		req.since.pos = *since;
		req.since.given = true;
	}
	return group_post_join(g, &req);
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
 * join with the recorded code, and exits (a cluster group closed by its
 * delete event fans out what was queued first: group_thread.c). With no
 * thread running there are no members to close.
 */
void
group_close(struct group *g, uint16_t code, const char *reason)
{
	pthread_mutex_lock(&g->lock);
	group_close_locked(g, code, reason);
	pthread_mutex_unlock(&g->lock);
}

void
group_close_locked(struct group *g, uint16_t code, const char *reason)
{
	if (!g->closed) {
		g->closed = true;
		g->closed_code = code;
		g->closed_reason = reason;
		if (g->running)
			chan_close(g->mailbox);
		pthread_cond_broadcast(&g->attached);   /* joiners waiting on it */
	}
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
