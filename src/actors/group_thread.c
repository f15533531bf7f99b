/*
 * group_thread: the group thread. It takes up to GROUP_BATCH requests
 * from the mailbox at once and handles them in order: joins and leaves
 * change the roster (roster.c), a run of broadcasts goes out as one
 * (fanout.c), a cluster group's messages go through its sequencer
 * (sequencer.c), and once the group is closed every member is closed and
 * the thread exits when the mailbox is drained. With no members, nothing
 * queued and no sender in flight it exits too, and the next request
 * starts a new one (group_enter, group.c). A cluster group's thread also
 * wakes every GROUP_TICK_MS to look whether a request for it was lost.
 *
 * A group of one node numbers what it fans out and keeps it in its
 * history (core/history.c); fan-out spells a run with its positions for
 * the members in groupchat.v1 mode, if any; a cluster group's positions
 * are its sequencer's (epoch and number), and what a member missed comes
 * from the history in Redis. A v1 member's join queues
 * its status and what it missed (spelled the same way) before it enters
 * the roster, on this thread, so between the replay and the live
 * messages nothing is lost or sent twice.
 *
 * Who touches what: everything here runs on the group thread. It alone
 * touches the roster, close_seen with its code and reason, lost_seen,
 * the sequencer and the history; it takes the lost flag
 * (atomic); it reads closed, its code and reason and whether a delete
 * event closed it, and decides to exit, under lock (group.c's note says why that strands nothing). The
 * counters are atomics it bumps for readers on any thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/group.h"
#include "groupchat/actors/member.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/history.h"
#include "groupchat/core/log.h"
#include "groupchat/core/position.h"
#include "groupchat/core/stats.h"
#include "fanout.h"
#include "group_private.h"
#include "roster.h"
#include "sequencer.h"

/* A join the member set has no memory for is refused this way. */
#define GROUP_NOMEM_CODE 1011
#define GROUP_NOMEM_REASON "out of memory"

/* Queues c ms[0..n) spelled for groupchat.v1, the first at *p, which
 * moves on past them. 0, or -1 with errno: ENOMEM, or EAGAIN or EPIPE
 * from member_enqueue (c is full or closed). */
static int
group_replay(struct member *c, struct position *p, struct frame *const *ms,
    size_t n)
{
	struct frame *v;
	size_t j;
	int rc;

	for (j = 0; j < n; j++, p->offset++) {
		if ((v = position_stamp(p, ms[j])) == NULL)
			return -1;
		rc = member_enqueue(c, v);
		frame_unref(v);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/*
 * What a cluster group's member missed after since, read from the
 * history in Redis into *got (allocated; NULL when nothing is kept):
 * their count, or -1 when the history cannot give them all (another
 * epoch, trimmed, Redis unreachable, more than the member's queue holds).
 */
static long
group_missed(struct group *g, struct member *c, const struct position *since,
    const struct position *now, struct frame ***got)
{
	size_t max = member_capacity(c) - 1;
	long n;

	*got = NULL;
	if (since->epoch != now->epoch || since->offset > now->offset ||
	    now->offset - since->offset > max)
		return -1;
	if (since->offset == now->offset)
		return 0;
	if ((*got = calloc(now->offset - since->offset, sizeof(**got))) == NULL)
		return -1;
	if ((n = seq_history(&g->seq, since->offset, *got,
	    now->offset - since->offset)) == -1) {
		free(*got);
		*got = NULL;
	}
	return n;
}

/*
 * A groupchat.v1 member's status and, after "ok" with a since, what it
 * missed (group.h, group_join_since), spelled with its positions from
 * the history's frames: the group's own on one node, the one in Redis in
 * cluster mode, up to the number the sequencer has fanned out (the
 * caller flushed it; a since ahead of it is caught up with first,
 * seq_catch_up), so the live stream goes on from the next. 0, or -1
 * with c closed: it could not be queued whole (no memory, or its queue
 * was not empty and is now full: a slow consumer).
 */
static int
group_greet(struct group *g, struct member *c, const struct group_req *req)
{
	struct position now, p;
	struct frame *const *a = NULL, *const *b = NULL;
	struct frame **got = NULL;
	struct frame *status;
	char pos[POSITION_MAX];
	size_t na = 0, nb = 0, n, j;
	long k;
	bool ok = true;
	int rc = -1;

	if (g->history != NULL) {
		now = (struct position){ g->epoch, history_last(g->history) };
	} else {
		if (req->since.given)
			seq_catch_up(&g->seq, &req->since.pos, member_capacity(c) - 1);
		seq_position(&g->seq, &now);
	}
	if (req->since.given) {
		if (g->history != NULL) {
			ok = req->since.pos.epoch == g->epoch &&
			    history_covers(g->history, req->since.pos.offset);
			if (ok) {
				history_after(g->history, req->since.pos.offset, &a, &na, &b,
				    &nb);
				ok = na + nb < member_capacity(c);
			}
		} else if ((k = group_missed(g, c, &req->since.pos, &now, &got)) >= 0) {
			a = got;
			na = (size_t)k;
		} else {
			ok = false;
		}
		if (g->st != NULL && ok) {
			stats_add(g->st, recoveries, 1);
			stats_add(g->st, replayed, na + nb);
		} else if (g->st != NULL) {
			stats_add(g->st, resets, 1);
		}
		if (!ok)
			na = nb = 0;
	}
	n = position_format(&now, pos);
	if ((status = frame_new(FRAME_TEXT, ok ? "ok " : "reset ", ok ? 3 : 6,
	    pos, n)) == NULL) {
		member_close(c, GROUP_NOMEM_CODE, GROUP_NOMEM_REASON);
		goto out;
	}
	if (member_enqueue_many(c, &status, 1, NULL) != 1) {
		frame_unref(status);
		goto slow;
	}
	p = (struct position){ now.epoch, req->since.pos.offset + 1 };
	if (group_replay(c, &p, a, na) == 0 && group_replay(c, &p, b, nb) == 0) {
		rc = 0;
		goto out;
	}
	if (errno == ENOMEM) {
		member_close(c, GROUP_NOMEM_CODE, GROUP_NOMEM_REASON);
		goto out;
	}
slow:
	member_close(c, GROUP_SLOW_CODE, GROUP_SLOW_REASON);
out:
	if (got != NULL) {
		for (j = 0; j < na; j++)
			frame_unref(got[j]);
		free(got);
	}
	return rc;
}

/* Takes over the request's reference to c as the roster's. */
static void
group_add(struct group *g, struct group_req *req)
{
	struct member *c = req->c;

	if (g->close_seen) {
		member_close(c, g->close_code, g->close_reason);
		member_unref(c);
		return;
	}
	if (member_v1(c) && (g->history != NULL || g->cl != NULL) &&
	    group_greet(g, c, req) == -1) {
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

/* Fans the run out (fanout.c), then publishes the counts. A group of one
 * node numbers it first: the history keeps it, and fan-out spells it
 * with its positions for the members in groupchat.v1 mode. */
void
group_fanout(struct group *g, struct frame *const *ms, size_t k,
    const struct position *at)
{
	struct position first;
	size_t frames, j;

	if (g->close_seen)
		return;
	if (g->history != NULL) {
		first.epoch = g->epoch;
		first.offset = history_last(g->history) + 1;
		for (j = 0; j < k; j++)
			history_append(g->history, ms[j]);
		at = &first;
	}
	frames = fanout_run(&g->roster, ms, k, at, g->st);
	atomic_fetch_add_explicit(&g->msgs_out, frames, memory_order_relaxed);
	/* Last and releasing: whoever sees this count sees the others. */
	atomic_fetch_add_explicit(&g->msgs_in, k, memory_order_release);
}

void
group_close_current(struct group *g, uint16_t code, const char *reason)
{
	size_t i;

	for (i = 0; i < g->roster.n; i++)
		member_close(g->roster.members[i], code, reason);
	roster_clear(&g->roster);
}

/* Joins that were already queued meet the same fate. */
void
group_close_for_good(struct group *g, uint16_t code, const char *reason)
{
	g->close_seen = true;
	g->close_code = code;
	g->close_reason = reason;
	group_close_current(g, code, reason);
}

/*
 * Once the group is closed (the thread looks at the start of each batch),
 * every member is closed with the recorded code, and from then on queued
 * joins are closed the same way and queued broadcasts are dropped, as Go
 * drops them: a deleted group's members go within one fan-out deadline.
 * That is every close but one:
 *
 * A cluster group closed by its delete event waits for its mailbox to
 * drain first (group_finish calls with no batch): the mailbox closed with
 * the event, so whatever is still queued came before the delete and goes
 * out first; then whoever has not reached the group's last number missed
 * something and is told so (1013), the others get 1000.
 */
static void
group_check_closed(struct group *g, bool drained)
{
	uint16_t code;
	const char *reason;
	bool closed, deleted;
	uint64_t last;

	if (g->close_seen || (g->seq.deleted && !drained))
		return;
	pthread_mutex_lock(&g->lock);
	closed = g->closed;
	code = g->closed_code;
	reason = g->closed_reason;
	deleted = g->closed_deleted;
	last = g->closed_last;
	pthread_mutex_unlock(&g->lock);
	if (!closed)
		return;
	if (deleted) {
		g->seq.deleted = true;
		if (!drained)
			return;
		seq_flush(&g->seq);
		if (g->seq.have_base && g->seq.last < last) {
			log_event_id(LOG_WARN, "group_deleted_gap", "group", g->id, g->id_len,
			    NULL);
			code = CLUSTER_RETRY_CODE;
			reason = CLUSTER_RETRY_REASON;
		}
	}
	group_close_for_good(g, code, reason);
}

/* The baseline is known: the sequencer follows its incarnation. */
static void
group_base(struct group *g, uint64_t seq)
{
	char inc[REDIS_INC_LEN + 1], ep[REDIS_EP_LEN + 1];

	pthread_mutex_lock(&g->lock);
	memcpy(inc, g->inc, sizeof(inc));
	memcpy(ep, g->ep, sizeof(ep));
	pthread_mutex_unlock(&g->lock);
	seq_base(&g->seq, inc, ep, seq);
}

/* A request of cluster mode; once the members were closed for good
 * there is nobody to deliver to, resync or tell (once the delete event
 * came, the sequencer resyncs nothing: the drain judges). */
static void
group_handle_cluster(struct group *g, struct group_req *req)
{
	switch (req->kind) {
	case GROUP_BASE:
		group_base(g, req->seq);
		break;
	case GROUP_DELIVER:
		if (g->close_seen)
			seq_msg_free(req->gm);
		else
			seq_accept(&g->seq, req->gm);
		break;
	case GROUP_RESYNC:
		if (!g->close_seen)
			seq_resync(&g->seq);
		if (req->counted)
			cluster_resync_done(g->cl);
		break;
	case GROUP_REFUSED:
		if (g->close_seen)
			member_unref(req->c);
		else
			seq_refused(&g->seq, req->c);
		break;
	case GROUP_JOIN:
	case GROUP_LEAVE:
	case GROUP_BROADCAST:
		break;          /* group_handle's */
	}
}

/*
 * Handles a batch in arrival order. A run of consecutive broadcasts is
 * fanned out as one, which keeps the order every member sees and costs
 * each member one queue lock per run instead of one per message. The
 * sequencer's frames go out before a join or leave changes the roster.
 */
static void
group_handle(struct group *g, struct group_req *batch, size_t n)
{
	struct frame *run[GROUP_BATCH];
	size_t i = 0, j, k;

	group_check_closed(g, false);
	while (i < n) {
		struct group_req *req = &batch[i];

		switch (req->kind) {
		case GROUP_JOIN:
			seq_flush(&g->seq);
			group_add(g, req);
			break;
		case GROUP_LEAVE:
			seq_flush(&g->seq);
			roster_remove(&g->roster, req->c);
			member_unref(req->c);
			break;
		case GROUP_BROADCAST:
			for (k = 0; i + k < n && batch[i + k].kind == GROUP_BROADCAST; k++)
				run[k] = batch[i + k].m;
			group_fanout(g, run, k, NULL);
			for (j = 0; j < k; j++)
				frame_unref(run[j]);
			i += k;
			continue;
		case GROUP_BASE:
		case GROUP_DELIVER:
		case GROUP_RESYNC:
		case GROUP_REFUSED:
			group_handle_cluster(g, req);
			break;
		}
		i++;
	}
	seq_flush(&g->seq);
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
	group_check_closed(g, true);
	pthread_mutex_lock(&g->lock);
	while (g->senders > 0)
		pthread_cond_wait(&g->sent, &g->lock);
	group_exit(g);
	pthread_mutex_unlock(&g->lock);
}

/*
 * A cluster group's tick, after each batch and at least every
 * GROUP_TICK_MS: a request for this group was lost (its mailbox was
 * full), or an event for some group (the manager's mailbox was full), so
 * the group resyncs: a lost tail is repaired from the history or closes
 * the members 1013, a lost delete is found and closes them 1000.
 */
static void
group_tick(struct group *g)
{
	unsigned lost = cluster_lost(g->cl);

	if (!atomic_exchange(&g->lost, false) && lost == g->lost_seen)
		return;
	g->lost_seen = lost;
	if (!g->close_seen && !g->seq.deleted) {
		log_event_id(LOG_INFO, "group_resync_lost", "group", g->id, g->id_len, NULL);
		seq_resync(&g->seq);
		seq_flush(&g->seq);
	}
}

void *
group_main(void *arg)
{
	struct group *g = arg;
	struct group_req batch[GROUP_BATCH];
	struct timespec tick, *dl = g->cl != NULL ? &tick : NULL;
	ssize_t n;

	for (;;) {
		if (dl != NULL)
			chan_deadline(dl, GROUP_TICK_MS);
		n = chan_recv_batch(g->mailbox, batch, GROUP_BATCH, dl);
		if (n == -1 && errno != ETIMEDOUT) {
			group_finish(g);
			return NULL;
		}
		if (n > 0)
			group_handle(g, batch, (size_t)n);
		if (dl != NULL)
			group_tick(g);
		if (g->roster.n == 0 && group_idle(g))
			return NULL;
	}
}
