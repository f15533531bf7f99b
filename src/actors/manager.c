/*
 * manager: the registry of groups and the one thread that owns it.
 *
 * Who touches what:
 *  - mailbox: a chan of pointers to requests that live on their callers'
 *    stacks. A caller sends one and sleeps on the request's semaphore
 *    until the manager thread has filled in the reply and posted it, so
 *    the request outlives its use. Closing the mailbox (manager_free)
 *    refuses new requests with EPIPE; queued ones are still answered.
 *  - table: the manager thread's alone, and manager_free's once that
 *    thread is joined. max_groups is set once in manager_new.
 *
 * The table is a hashtab keyed by the id bytes. The id's storage is the
 * group's own copy (group_id), so an entry is just a hash and a group
 * reference. Ids come from the network, so the hash is SipHash-2-4 with a
 * random key: nobody outside can pick ids that all land in one probe run.
 *
 * Listing for /stats and /metrics is one pass over the table on this
 * thread: one relaxed atomic load (group_members) per registered group
 * and a reference to each group listed, at most the caller's max; groups
 * past max are only counted. With 100,000 registered groups that pass is
 * a few milliseconds during which creates and lookups queue behind it;
 * nothing is allocated per registered group.
 *
 * The manager never waits on a group's mailbox or members: group_close
 * records the code, sets the flag and closes the group's mailbox, all
 * without blocking. It does wait in one place: when the registry holds
 * the last reference, group_unref joins the group's thread, which has no
 * members then (each member's connection holds a reference), so it exits
 * after draining what is queued: a short wait.
 */
#include "groupchat/actors/manager.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/group.h"
#include "groupchat/actors/member.h"
#include "groupchat/cluster/redis_script.h"
#include "groupchat/cluster/redis_sub.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/hashtab.h"
#include "groupchat/core/log.h"
#include "groupchat/core/stats.h"
#include "groupchat/core/thread.h"

/* Hashing, probing and the calls into group: no big locals. */
#define MANAGER_STACK (128 * 1024)

/* Requests queued for the manager thread before senders block; in
 * cluster mode every message from the subscriber passes through too. */
#define MANAGER_MAILBOX 256
#define MANAGER_MAILBOX_CLUSTER 4096
/* How long the subscriber may wait to hand over a control event. */
#define MANAGER_EVENT_WAIT_MS 1000

enum manager_kind {
	MANAGER_REQ_CREATE,
	MANAGER_REQ_DELETE,
	MANAGER_REQ_LOOKUP,
	MANAGER_REQ_LIST,
	MANAGER_REQ_CLOSE_ALL,
	MANAGER_REQ_SERVE,
	MANAGER_REQ_UNSERVE,
	MANAGER_REQ_EVENT,
};

struct manager_req {
	enum manager_kind kind;
	const char *id;         /* CREATE, DELETE, LOOKUP */
	size_t len;
	uint16_t code;          /* CLOSE_ALL */
	const char *reason;
	sem_t done;             /* posted once the reply is filled in */
	long result;            /* a manager_result, a count, or -1 */
	int err;                /* errno when result is -1 */
	struct group *g;        /* LOOKUP: a reference, or NULL */
	size_t max;             /* LIST: at most this many listed */
	bool active_only;       /* LIST: only groups with members */
	size_t omitted;         /* LIST: matched past max */
	struct group **list;    /* LIST: references */
	bool drop;              /* UNSERVE: leave the registry now */
	struct member *c;       /* EVENT REFUSED: a reference */
	enum manager_event ev;  /* EVENT: heap-allocated, freed by the manager */
	const char *payload;    /* EVENT: points into the same allocation */
	size_t plen;
};

/* An id being looked up in the table. */
struct manager_key {
	const char *id;
	size_t len;
};

struct manager {
	struct stats *st;
	struct chan *mailbox;
	pthread_t thread;
	uint64_t key[2];
	struct hashtab table;   /* items: group references */
	size_t max_groups;      /* creates past it: MANAGER_FULL */
	struct cluster *cl;     /* cluster mode, or NULL */
};

static void	*manager_main(void *arg);

struct manager *
manager_new(struct stats *st, size_t max_groups)
{
	return manager_new_cluster(st, max_groups, NULL);
}

struct manager *
manager_new_cluster(struct stats *st, size_t max_groups, struct cluster *cl)
{
	struct manager *m;
	int err;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->st = st;
	m->max_groups = max_groups;
	m->cl = cl;
	if (getrandom(m->key, sizeof(m->key), 0) != sizeof(m->key)) {
		err = errno != 0 ? errno : EIO;
		goto err0;
	}
	if ((m->mailbox = chan_new(cl != NULL ? MANAGER_MAILBOX_CLUSTER : MANAGER_MAILBOX,
	    sizeof(struct manager_req *))) == NULL) {
		err = errno;
		goto err0;
	}
	hashtab_init(&m->table);
	if ((err = thread_start(&m->thread, "gc-manager", MANAGER_STACK,
	    manager_main, m)) != 0)
		goto err1;
	return m;

err1:
	chan_free(m->mailbox);
err0:
	free(m);
	errno = err;
	return NULL;
}

void
manager_free(struct manager *m)
{
	struct hashtab_entry *e;
	size_t i = 0;

	chan_close(m->mailbox);
	pthread_join(m->thread, NULL);
	while ((e = hashtab_next(&m->table, &i)) != NULL) {
		group_close(e->item, GROUP_SHUTDOWN_CODE, GROUP_SHUTDOWN_REASON);
		group_unref(e->item);
		if (m->st != NULL)
			stats_sub(m->st, groups, 1);
	}
	hashtab_fini(&m->table);
	chan_free(m->mailbox);
	free(m);
}

/* Sends req to the manager thread and waits for its reply. */
static long
manager_call(struct manager *m, struct manager_req *req)
{
	int err;

	if (sem_init(&req->done, 0, 0) == -1)
		return -1;
	if (chan_send(m->mailbox, &req, NULL) == -1) {
		err = errno;
		sem_destroy(&req->done);
		errno = err;
		return -1;
	}
	while (sem_wait(&req->done) == -1)
		;
	sem_destroy(&req->done);
	if (req->result == -1)
		errno = req->err;
	return req->result;
}

int
manager_create(struct manager *m, const char *id, size_t len)
{
	struct manager_req req = {
		.kind = MANAGER_REQ_CREATE, .id = id, .len = len,
	};

	return (int)manager_call(m, &req);
}

int
manager_delete(struct manager *m, const char *id, size_t len)
{
	struct manager_req req = {
		.kind = MANAGER_REQ_DELETE, .id = id, .len = len,
	};

	return (int)manager_call(m, &req);
}

struct group *
manager_lookup(struct manager *m, const char *id, size_t len)
{
	struct manager_req req = {
		.kind = MANAGER_REQ_LOOKUP, .id = id, .len = len,
	};

	if (manager_call(m, &req) == -1)
		return NULL;
	return req.g;
}

long
manager_list(struct manager *m, size_t max, bool active_only,
    struct group ***out, size_t *omitted)
{
	struct manager_req req = {
		.kind = MANAGER_REQ_LIST, .max = max, .active_only = active_only,
	};
	long n;

	if ((n = manager_call(m, &req)) == -1)
		return -1;
	*out = req.list;
	if (omitted != NULL)
		*omitted = req.omitted;
	return n;
}

void
manager_close_all(struct manager *m, uint16_t code, const char *reason)
{
	struct manager_req req = {
		.kind = MANAGER_REQ_CLOSE_ALL, .code = code, .reason = reason,
	};

	manager_call(m, &req);
}

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

/* A refused sender whose group is no longer listed here is being closed
 * with its group (deleted: 1000; or its connection is going). */
static void
manager_event_free(struct manager_req *req)
{
	if (req->c != NULL)
		member_unref(req->c);
	free(req);
}

int
manager_cluster_refused(struct manager *m, const char *id, size_t len, struct member *c)
{
	struct manager_req *req;
	struct timespec deadline;

	if ((req = calloc(1, sizeof(*req) + len + 1)) == NULL) {
		member_close(c, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
		member_unref(c);
		return -1;
	}
	req->kind = MANAGER_REQ_EVENT;
	req->ev = MANAGER_EV_REFUSED;
	req->id = (char *)(req + 1);
	if (len > 0)
		memcpy(req + 1, id, len);
	req->len = len;
	req->c = c;
	chan_deadline(&deadline, MANAGER_EVENT_WAIT_MS);
	if (chan_send(m->mailbox, &req, &deadline) == -1) {
		member_close(c, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
		manager_event_free(req);
		return -1;
	}
	return 0;
}

/*
 * The request and copies of the id and payload in one allocation, freed
 * by the manager thread. A message is handed over only if there is room
 * (a lost one is a gap its group repairs); a confirmation or a delete
 * event waits a little for room, since nothing would repair its loss.
 */
int
manager_cluster_event(struct manager *m, enum manager_event ev, const char *id, size_t len,
    const char *payload, size_t plen)
{
	struct manager_req *req;
	struct timespec deadline;
	char *p;
	int rc;

	if ((req = calloc(1, sizeof(*req) + len + plen + 1)) == NULL)
		return -1;
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
		rc = chan_try_send(m->mailbox, &req);
	} else {
		chan_deadline(&deadline, MANAGER_EVENT_WAIT_MS);
		rc = chan_send(m->mailbox, &req, &deadline);
	}
	if (rc == -1)
		free(req);
	return rc;
}

static bool
manager_id_eq(const void *item, const void *key)
{
	const struct manager_key *k = key;
	size_t len;
	const char *id = group_id(item, &len);

	return len == k->len && memcmp(id, k->id, len) == 0;
}

/* The entry of the request's id, or NULL; its hash in *h. */
static struct hashtab_entry *
manager_find(struct manager *m, const struct manager_req *req, uint64_t *h)
{
	struct manager_key k = { .id = req->id, .len = req->len };

	*h = hashtab_siphash(m->key, req->id, req->len);
	return hashtab_find(&m->table, *h, &k, manager_id_eq);
}

static void
manager_do_create(struct manager *m, struct manager_req *req)
{
	struct group *g;
	uint64_t h;

	if (manager_find(m, req, &h) != NULL) {
		req->result = MANAGER_EXISTS;
		return;
	}
	if (m->table.count >= m->max_groups) {
		if (m->st != NULL)
			stats_add(m->st, creates_refused, 1);
		req->result = MANAGER_FULL;
		return;
	}
	if (hashtab_reserve(&m->table) == -1 ||
	    (g = group_new(req->id, req->len, m->st)) == NULL) {
		req->err = errno;
		req->result = -1;
		return;
	}
	hashtab_put(&m->table, h, g, 0);
	if (m->st != NULL)
		stats_add(m->st, groups, 1);
	req->result = MANAGER_CREATED;
}

static void
manager_do_delete(struct manager *m, struct manager_req *req)
{
	struct hashtab_entry *e;
	struct group *g;
	uint64_t h;

	req->result = MANAGER_NOT_FOUND;
	if ((e = manager_find(m, req, &h)) == NULL)
		return;
	g = e->item;
	hashtab_del(&m->table, e);
	group_close(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
	group_unref(g);
	if (m->st != NULL)
		stats_sub(m->st, groups, 1);
	req->result = MANAGER_DELETED;
}

static void
manager_do_lookup(struct manager *m, struct manager_req *req)
{
	struct hashtab_entry *e;
	uint64_t h;

	if ((e = manager_find(m, req, &h)) == NULL) {
		req->err = ENOENT;
		req->result = -1;
		return;
	}
	req->g = group_ref(e->item);
	req->result = 0;
}

static void
manager_do_list(struct manager *m, struct manager_req *req)
{
	size_t count = m->table.count;
	size_t room = count < req->max ? count : req->max;
	struct hashtab_entry *e;
	size_t i = 0, n = 0;

	req->list = NULL;
	req->omitted = 0;
	if (room > 0 && (req->list = calloc(room, sizeof(*req->list))) == NULL) {
		req->err = errno;
		req->result = -1;
		return;
	}
	while ((e = hashtab_next(&m->table, &i)) != NULL) {
		if (req->active_only && group_members(e->item) == 0)
			continue;
		if (n < room)
			req->list[n++] = group_ref(e->item);
		else
			req->omitted++;
	}
	req->result = (long)n;
}

static void
manager_do_close_all(struct manager *m, struct manager_req *req)
{
	struct hashtab_entry *e;
	size_t i = 0;

	while ((e = hashtab_next(&m->table, &i)) != NULL)
		group_close(e->item, req->code, req->reason);
	req->result = 0;
}

/* Removes entry e of a cluster group: no longer served here. */
static void
manager_unlist(struct manager *m, struct hashtab_entry *e)
{
	struct group *g = e->item;
	size_t len;
	const char *id = group_id(g, &len);

	hashtab_del(&m->table, e);
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
static void
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
		req->err = EAGAIN;
		req->result = -1;
		return;
	}
	if (hashtab_reserve(&m->table) == -1 ||
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
	hashtab_put(&m->table, h, g, 1);
	if (m->st != NULL)
		stats_add(m->st, groups, 1);
	req->g = group_ref(g);
	req->result = 0;
}

static void
manager_do_unserve(struct manager *m, struct manager_req *req)
{
	struct hashtab_entry *e;
	uint64_t h;

	req->result = 0;
	if ((e = manager_find(m, req, &h)) == NULL || e->item != req->g)
		return;
	if (req->drop || --e->value == 0)
		manager_unlist(m, e);
}

static void
manager_do_event(struct manager *m, struct manager_req *req)
{
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
		group_refused(e->item, req->c);
		req->c = NULL;
		return;
	}
	if (redis_msg_parse(req->payload, req->plen, &msg) == 0 &&
	    group_deliver(e->item, &msg) == 1) {
		log_event_id(LOG_INFO, "group_deleted", "group", req->id, req->len, NULL);
		manager_unlist(m, e);
	}
}

static void *
manager_main(void *arg)
{
	struct manager *m = arg;
	struct manager_req *req;

	while (chan_recv(m->mailbox, &req, NULL) == 0) {
		switch (req->kind) {
		case MANAGER_REQ_CREATE:
			manager_do_create(m, req);
			break;
		case MANAGER_REQ_DELETE:
			manager_do_delete(m, req);
			break;
		case MANAGER_REQ_LOOKUP:
			manager_do_lookup(m, req);
			break;
		case MANAGER_REQ_LIST:
			manager_do_list(m, req);
			break;
		case MANAGER_REQ_CLOSE_ALL:
			manager_do_close_all(m, req);
			break;
		case MANAGER_REQ_SERVE:
			manager_do_serve(m, req);
			break;
		case MANAGER_REQ_UNSERVE:
			manager_do_unserve(m, req);
			break;
		case MANAGER_REQ_EVENT:
			manager_do_event(m, req);
			manager_event_free(req);
			continue;
		}
		sem_post(&req->done);
	}
	return NULL;
}
