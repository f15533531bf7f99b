/*
 * cluster_calls: the node's cluster calls that run on the caller's
 * thread, and the publisher's answer to them. A control request's round
 * trip to Redis (create, delete, a baseline) runs on the HTTP worker that
 * asked, through the command actor, with a deadline (CLUSTER_WAIT_MS); a
 * member's message is handed to the publisher without waiting, and the
 * 1013 rule holds for it: a message not known to be relayed closes its
 * sender, never a silent drop.
 *
 * Who touches what:
 *  - create, delete, exists and publish run on CivetWeb workers; they
 *    read only cl->cmd and cl->pub, set before any worker runs, and the
 *    actors make their own calls thread-safe.
 *  - cluster_pub_result and cluster_pub_stale run on the publisher's
 *    thread; the first reads cl->m under m_lock only (the manager may be
 *    detached meanwhile), the second a sender's close code (atomic).
 *  - a published item's tag holds a reference to its sender from
 *    cluster_publish until cluster_pub_result drops it or hands it on.
 */
#include "groupchat/actors/cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/manager.h"
#include "groupchat/actors/member.h"
#include "groupchat/cluster/redis_cmd.h"
#include "groupchat/cluster/redis_pub.h"
#include "groupchat/core/frame.h"
#include "cluster_private.h"

/*
 * A publish not known to be relayed closes its sender: never a silent
 * drop. One Redis ran but found no group for (0) goes to the group, which
 * tells a delete (its tombstone: the delete event closes everyone) from a
 * Redis that lost the group (registered again; 1013 for the sender).
 */
void
cluster_pub_result(void *arg, const struct redis_pub_item *it, int64_t seq)
{
	struct cluster *cl = arg;
	struct member *c = (struct member *)(uintptr_t)it->tag;

	if (seq > 0) {
		member_unref(c);
		return;
	}
	if (seq == 0) {
		pthread_mutex_lock(&cl->m_lock);
		if (cl->m != NULL) {
			manager_cluster_refused(cl->m, it->id, it->id_len, it->inc, c);
			c = NULL;
		}
		pthread_mutex_unlock(&cl->m_lock);
		if (c == NULL)
			return;
	}
	member_close(c, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
	member_unref(c);
}

/* A message whose sender is closed (an earlier one of its failed and it
 * was told 1013, or it is going) is not sent: nobody sees its m3
 * without its m2. */
int
cluster_pub_stale(void *arg, const struct redis_pub_item *it)
{
	struct member *c = (struct member *)(uintptr_t)it->tag;

	(void)arg;
	return member_close_code(c) != MEMBER_CLOSE_SILENT;
}

int
cluster_link_broke(int rc)
{
	return rc == -1 && errno == EIO;
}

/* A baseline may be read twice (its epoch check writes at most once). */
int
cluster_baseline(struct cluster *cl, const char *id, size_t len, struct redis_base *b, int ms)
{
	int rc = redis_cmd_baseline(cl->cmd, id, len, b, ms);

	if (cluster_link_broke(rc))
		rc = redis_cmd_baseline(cl->cmd, id, len, b, ms);
	return rc;
}

/* The group's incarnation into inc: 1 there, 0 none, -1. */
static int
cluster_lookup(struct cluster *cl, const char *id, size_t len, char inc[REDIS_INC_LEN + 1])
{
	struct redis_base b;

	if (cluster_baseline(cl, id, len, &b, CLUSTER_WAIT_MS) == -1)
		return -1;
	memcpy(inc, b.inc, sizeof(b.inc));
	return inc[0] != '\0';
}

/*
 * A create whose link broke under it is sent again with the same
 * incarnation: if the first one ran, the id now holds that incarnation,
 * and it was ours. One whose reply did not come in time may still run:
 * the delete of exactly that incarnation follows it, so no group is left
 * that nobody was told about.
 */
int
cluster_create(struct cluster *cl, const char *id, size_t len)
{
	char inc[REDIS_INC_LEN + 1], now[REDIS_INC_LEN + 1];
	int rc, err;

	if (redis_inc_new(inc) == -1)
		return -1;
	rc = redis_cmd_create(cl->cmd, id, len, inc, cl->lim.max_groups, CLUSTER_WAIT_MS);
	if (cluster_link_broke(rc) &&
	    (rc = redis_cmd_create(cl->cmd, id, len, inc, cl->lim.max_groups, CLUSTER_WAIT_MS)) == 0 &&
	    cluster_lookup(cl, id, len, now) == 1 && strcmp(now, inc) == 0)
		rc = 1;
	if (rc == -1 && (errno == ETIMEDOUT || errno == EIO)) {
		err = errno;
		redis_cmd_delete(cl->cmd, id, len, inc, CLUSTER_WAIT_MS);
		errno = err;
	}
	return rc;
}

/* The delete names the incarnation it read: a read first, which also
 * proves the link, then the delete of exactly that group. */
int
cluster_delete(struct cluster *cl, const char *id, size_t len)
{
	char inc[REDIS_INC_LEN + 1];
	int rc;

	if ((rc = cluster_lookup(cl, id, len, inc)) != 1)
		return rc;
	return redis_cmd_delete(cl->cmd, id, len, inc, CLUSTER_WAIT_MS);
}

int
cluster_exists(struct cluster *cl, const char *id, size_t len)
{
	char inc[REDIS_INC_LEN + 1];

	return cluster_lookup(cl, id, len, inc);
}

void
cluster_publish(struct cluster *cl, const char *id, size_t len, const char *inc,
                struct member *sender, int opcode, const void *prefix, size_t plen,
                const void *body, size_t blen)
{
	struct redis_pub_item it = { .id_len = len, .flen = 1 + plen + blen };

	memcpy(it.inc, inc, sizeof(it.inc));
	if ((it.frame = malloc(it.flen + len)) == NULL) {
		member_close(sender, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
		return;
	}
	it.id = it.frame + it.flen;
	memcpy(it.id, id, len);
	it.frame[0] = opcode == FRAME_BINARY ? 'b' : 't';
	memcpy(it.frame + 1, prefix, plen);
	if (blen > 0)
		memcpy(it.frame + 1 + plen, body, blen);
	it.tag = (uint64_t)(uintptr_t)member_ref(sender);
	if (redis_pub_send(cl->pub, &it) == -1) {
		free(it.frame);
		member_close(sender, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
		member_unref(sender);
	}
}
