/*
 * group_cluster: a cluster group's requests, on the caller's thread.
 * A joining worker attaches (group_attach: the subscription's
 * confirmation, then the baseline, read once per group on this node);
 * the manager thread hands over the subscriber's events (subscribed,
 * resync, refused, deliver) without ever blocking on the group. What the
 * group thread does with them is the sequencer's (sequencer.c).
 *
 * Who touches what:
 *  - subscribed, att, inc, ep and dead_inc: guarded by the group's lock;
 *    attached is signalled on every change, and on the group's close, for
 *    joiners waiting to attach or for the close. inc and ep are written
 *    once, when att becomes ATT_READY, and the group thread copies them
 *    from there (GROUP_BASE).
 *  - the requests go through the mailbox as group.c's do (group_enter,
 *    group_post, group_try_post), so the senders count holds for them;
 *    one that finds the mailbox full sets lost (atomic), which the
 *    group thread takes at its next tick.
 *  - the command link (cluster_baseline) is thread-safe; a joiner
 *    reads the baseline with the lock released (att is ATT_BUSY then, so
 *    the others wait).
 */
#include "groupchat/actors/group.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/member.h"
#include "groupchat/cluster/redis_cmd.h"
#include "groupchat/core/chan.h"
#include "group_private.h"
#include "sequencer.h"

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
	struct redis_base b;
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
	rc = cluster_baseline(g->cl, g->id, g->id_len, &b, ms);
	err = errno;
	pthread_mutex_lock(&g->lock);
	if (rc == -1)
		g->att = ATT_NONE;
	else if (b.inc[0] == '\0' || strcmp(b.inc, g->dead_inc) == 0)
		g->att = ATT_GONE;
	else {
		memcpy(g->inc, b.inc, sizeof(b.inc));
		memcpy(g->ep, b.ep, sizeof(b.ep));
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
	req.seq = b.seq;
	if (group_post(g, &req) == -1) {
		/* Closed since: its delete event came right after the baseline. */
		errno = ENOENT;
		return -1;
	}
	memcpy(inc, b.inc, sizeof(b.inc));
	return 0;
}

int
group_wait_closed(struct group *g, int ms)
{
	struct timespec deadline;
	bool closed;

	chan_deadline(&deadline, ms);
	pthread_mutex_lock(&g->lock);
	while (!g->closed &&
	    pthread_cond_timedwait(&g->attached, &g->lock, &deadline) != ETIMEDOUT)
		;
	closed = g->closed;
	pthread_mutex_unlock(&g->lock);
	return closed ? 0 : -1;
}

void
group_close_deleted(struct group *g, uint64_t last)
{
	pthread_mutex_lock(&g->lock);
	if (!g->closed) {
		g->closed_deleted = true;
		g->closed_last = last;
	}
	group_close_locked(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
	pthread_mutex_unlock(&g->lock);
}

bool
group_incarnation(struct group *g, char inc[REDIS_INC_LEN + 1])
{
	bool ready;

	pthread_mutex_lock(&g->lock);
	ready = g->att == ATT_READY;
	if (ready)
		memcpy(inc, g->inc, sizeof(g->inc));
	pthread_mutex_unlock(&g->lock);
	return ready;
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
	if (ready && group_try_post(g, &req) == -1)
		atomic_store(&g->lost, true);
}

int
group_resync(struct group *g, bool counted)
{
	struct group_req req = { .kind = GROUP_RESYNC, .counted = counted };
	bool ready;

	pthread_mutex_lock(&g->lock);
	ready = g->att == ATT_READY;
	pthread_mutex_unlock(&g->lock);
	if (!ready)
		return 0;
	if (group_try_post(g, &req) == 0)
		return 1;
	atomic_store(&g->lost, true);   /* uncounted, at the next tick */
	return 0;
}

void
group_recheck(struct group *g)
{
	struct group_req req = { .kind = GROUP_REFUSED };

	if (group_try_post(g, &req) == -1)
		atomic_store(&g->lost, true);   /* a plain resync, at the next tick */
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
	struct seq_msg *gm;
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
		group_close_deleted(g, msg->seq);
		return 1;
	}
	/* A message of another incarnation is dropped here once the group
	 * knows its own; before, the thread parks it with its incarnation. */
	if (msg->flen < 1 || (ready && !mine))
		return 0;
	if ((gm = seq_msg_new(msg->seq, msg->inc, msg->ep, msg->frame, msg->flen)) == NULL)
		return 0;
	req.gm = gm;
	/* Full: the message is lost here and its number is a gap the next
	 * one shows, or, if none comes, the thread's next tick (a resync);
	 * either way it is repaired from the history. */
	if (group_try_post(g, &req) == -1) {
		seq_msg_free(gm);
		atomic_store(&g->lost, true);
	}
	return 0;
}
