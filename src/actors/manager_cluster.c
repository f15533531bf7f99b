/*
 * manager_cluster: the manager's part in cluster mode. The registry
 * holds the groups this node serves; a joining worker counts itself in
 * (manager_serve) and out (manager_unserve), and the subscriber's and
 * publisher's callbacks hand their events over (manager_cluster_event,
 * manager_cluster_refused), which the manager routes to the group by id.
 *
 * Who touches what:
 *  - serve, unserve, cluster_event and cluster_refused run on their
 *    callers' threads and only build and send requests; an EVENT request
 *    is a heap allocation the manager thread frees, since its sender
 *    does not wait for a reply.
 *  - manager_do_* and manager_unlist run on the manager thread, which
 *    alone changes the table, through manager_table_* (an entry's value
 *    is the group's users on this node, read and written by this thread
 *    alone). They call into groups only by their never-blocking
 *    calls (group_subscribed, group_resync, group_refused,
 *    group_deliver, group_close) and into the subscriber by its
 *    non-blocking (un)subscribe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/group.h"
#include "groupchat/actors/member.h"
#include "groupchat/cluster/redis_msg.h"
#include "groupchat/cluster/redis_sub.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/log.h"
#include "groupchat/core/stats.h"
#include "manager_private.h"

/* How long the subscriber may wait to hand over a control event. */
#define MANAGER_EVENT_WAIT_MS 1000

struct group *
manager_serve(struct manager *m, const char *id, size_t len)
{
	struct manager_req req = {
		.kind = MANAGER_REQ_SERVE, .id = id, .len = len,
	};

	if (manager_call(m, &req) == -1)
		return NULL;
	return req.g;
}

void
manager_unserve(struct manager *m, struct group *g, bool drop)
{
	struct manager_req req = { .kind = MANAGER_REQ_UNSERVE, .g = g, .drop = drop };

	req.id = group_id(g, &req.len);
	manager_call(m, &req);
}

/* A refused sender whose group is no longer listed here, or listed as
 * another incarnation, is being closed with its group (deleted; or its
 * connection is going). */
void
manager_event_free(struct manager_req *req)
{
	if (req->c != NULL)
		member_unref(req->c);
	free(req);
}

int
manager_cluster_refused(struct manager *m, const char *id, size_t len,
    const char inc[REDIS_INC_LEN + 1], struct member *c)
{
	struct manager_req *req;
	struct timespec deadline;
	char *p;

	if ((req = calloc(1, sizeof(*req) + len + REDIS_INC_LEN + 1)) == NULL) {
		member_close(c, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
		member_unref(c);
		return -1;
	}
	p = (char *)(req + 1);
	req->kind = MANAGER_REQ_EVENT;
	req->ev = MANAGER_EV_REFUSED;
	if (len > 0)
		memcpy(p, id, len);
	req->id = p;
	req->len = len;
	memcpy(p + len, inc, REDIS_INC_LEN);
	req->payload = p + len;
	req->plen = REDIS_INC_LEN;
	req->c = c;
	req->bytes = sizeof(*req) + len + REDIS_INC_LEN + 1;
	chan_deadline(&deadline, MANAGER_EVENT_WAIT_MS);
	if (chan_send_bytes(m->mailbox, &req, req->bytes, &deadline) == -1) {
		member_close(c, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
		manager_event_free(req);
		return -1;
	}
	return 0;
}

/*
 * The request and copies of the id and payload in one allocation, freed
 * by the manager thread, which holds its size in the mailbox's byte
 * bound until then. A message is handed over only if there is room, in
 * entries and in bytes (a lost one is a gap its group repairs); a
 * confirmation or a delete event waits a little for room, since nothing
 * would repair its loss.
 */
int
manager_cluster_event(struct manager *m, enum manager_event ev, const char *id, size_t len,
    const char *payload, size_t plen)
{
	struct manager_req *req;
	struct timespec deadline;
	char *p;
	int rc;

	/* Once per message received: only the header needs zeroing. */
	if ((req = malloc(sizeof(*req) + len + plen + 1)) == NULL)
		return -1;
	*req = (struct manager_req){ 0 };
	req->bytes = sizeof(*req) + len + plen + 1;
	p = (char *)(req + 1);
	req->kind = MANAGER_REQ_EVENT;
	req->ev = ev;
	if (len > 0)
		memcpy(p, id, len);
	req->id = p;
	req->len = len;
	if (plen > 0)
		memcpy(p + len, payload, plen);
	req->payload = p + len;
	req->plen = plen;
	if (ev == MANAGER_EV_MESSAGE && plen > 0 && payload[0] == 'm') {
		rc = chan_try_send_bytes(m->mailbox, &req, req->bytes);
	} else {
		chan_deadline(&deadline, MANAGER_EVENT_WAIT_MS);
		rc = chan_send_bytes(m->mailbox, &req, req->bytes, &deadline);
	}
	if (rc == -1)
		free(req);
	return rc;
}

/* Removes entry e of a cluster group: no longer served here. One whose
 * last member left (keep), not deleted, is kept in mind a while, so that
 * Redis losing it meanwhile does not make it vanish (cluster_keep). */
static void
manager_unlist(struct manager *m, struct hashtab_entry *e, bool keep)
{
	struct group *g = e->item;
	char inc[REDIS_INC_LEN + 1];
	size_t len;
	const char *id = group_id(g, &len);

	if (keep && !group_closed(g) && group_incarnation(g, inc))
		cluster_keep(m->cl, id, len, inc);
	manager_table_del(m, e);
	redis_sub_unsubscribe(cluster_sub(m->cl), id, len);
	group_close(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
	group_unref(g);
	if (m->st != NULL)
		stats_sub(m->st, groups, 1);
}

/*
 * A join of a cluster group counts itself in the entry's value (the
 * group's users on this node: joins under way and members) until
 * manager_unserve. The first one creates the entry and asks for the
 * subscription; the group learns of its confirmation by group_subscribed.
 */
void
manager_do_serve(struct manager *m, struct manager_req *req)
{
	struct hashtab_entry *e;
	struct group *g;
	uint64_t h;

	if ((e = manager_find(m, req, &h)) != NULL) {
		e->value++;
		req->g = group_ref(e->item);
		req->result = 0;
		return;
	}
	if (m->table.count >= m->max_groups) {
		req->err = ENOSPC;
		req->result = -1;
		return;
	}
	if (manager_table_reserve(m) == -1 ||
	    (g = group_new_cluster(req->id, req->len, m->st, m->cl)) == NULL) {
		req->err = errno;
		req->result = -1;
		return;
	}
	if (redis_sub_subscribe(cluster_sub(m->cl), req->id, req->len) == -1) {
		req->err = errno;
		req->result = -1;
		group_unref(g);
		return;
	}
	manager_table_put(m, h, g, 1);
	if (m->st != NULL)
		stats_add(m->st, groups, 1);
	req->g = group_ref(g);
	req->result = 0;
}

void
manager_do_unserve(struct manager *m, struct manager_req *req)
{
	struct hashtab_entry *e;
	uint64_t h;

	req->result = 0;
	if ((e = manager_find(m, req, &h)) == NULL || e->item != req->g)
		return;
	if (req->drop || --e->value == 0)
		manager_unlist(m, e, !req->drop);
}

void
manager_do_event(struct manager *m, struct manager_req *req)
{
	char inc[REDIS_INC_LEN + 1];
	struct hashtab_entry *e;
	struct redis_msg msg;
	size_t i = 0;
	uint64_t h;

	if (req->ev == MANAGER_EV_RESYNC || req->ev == MANAGER_EV_SETTLE) {
		long n = 0;

		while ((e = hashtab_next(&m->table, &i)) != NULL)
			n += group_resync(e->item, req->ev == MANAGER_EV_SETTLE);
		if (req->ev == MANAGER_EV_SETTLE)
			cluster_settle(m->cl, n);
		return;
	}
	if ((e = manager_find(m, req, &h)) == NULL)
		return;
	if (req->ev == MANAGER_EV_SUBSCRIBED) {
		group_subscribed(e->item);
		return;
	}
	if (req->ev == MANAGER_EV_REFUSED) {
		/* Only to the incarnation c published to: one served under
		 * the id since is another group, and c's own closes c. */
		if (group_incarnation(e->item, inc) &&
		    memcmp(inc, req->payload, REDIS_INC_LEN) == 0) {
			group_refused(e->item, req->c);
			req->c = NULL;
		}
		return;
	}
	if (redis_msg_parse(req->payload, req->plen, &msg) == 0 &&
	    group_deliver(e->item, &msg) == 1) {
		log_event_id(LOG_INFO, "group_deleted", "group", req->id, req->len, NULL);
		manager_unlist(m, e, false);
	}
}
