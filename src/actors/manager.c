/*
 * manager: the registry of groups and the one thread that owns it, with
 * the requests of a single node (create, delete, list, close-all) and
 * the lookup that reads the registry on its caller's thread. Cluster mode's requests and events are manager_cluster.c's;
 * the struct and the requests are in manager_private.h.
 *
 * Who touches what:
 *  - mailbox: a chan of pointers to requests that live on their callers'
 *    stacks. A caller sends one and sleeps on the request's semaphore
 *    until the manager thread has filled in the reply and posted it, so
 *    the request outlives its use. Closing the mailbox (manager_free)
 *    refuses new requests with EPIPE; queued ones are still answered.
 *  - table: changed by the manager thread alone (manager_free's once
 *    that thread is joined), each change under table_lock held for
 *    writing. manager_lookup reads it on the caller's thread under the
 *    read lock and takes its group reference there, so a lookup (two per
 *    join: the upgrade check and the join) never waits for the manager
 *    thread, only for a change in progress; a writer waiting for the
 *    lock goes before new readers. key and max_groups are set once in
 *    manager_new.
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
 * a few milliseconds during which creates and deletes queue behind it
 * (lookups do not: the pass only reads); nothing is allocated per
 * registered group.
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
#include "groupchat/core/chan.h"
#include "groupchat/core/hashtab.h"
#include "groupchat/core/history.h"
#include "groupchat/core/log.h"
#include "groupchat/core/stats.h"
#include "groupchat/core/thread.h"
#include "manager_private.h"

/* Hashing, probing and the calls into group: no big locals. */
#define MANAGER_STACK (128 * 1024)

/* Requests queued for the manager thread before senders block; in
 * cluster mode every message from the subscriber passes through too,
 * and the events' allocations are bounded in bytes as well
 * (cluster_mailbox_bytes): past either bound a message is dropped (a gap
 * its group repairs) and a control event waits as for a slot. */
#define MANAGER_MAILBOX 256
#define MANAGER_MAILBOX_CLUSTER 4096

static void	*manager_main(void *arg);

struct manager *
manager_new(struct stats *st, size_t max_groups)
{
	return manager_new_cluster(st, max_groups, NULL);
}

void
manager_set_history(struct manager *m, size_t max_count, size_t max_bytes)
{
	m->history_count = max_count;
	m->history_bytes = max_bytes;
}

struct manager *
manager_new_cluster(struct stats *st, size_t max_groups, struct cluster *cl)
{
	pthread_rwlockattr_t attr;
	struct manager *m;
	int err;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->st = st;
	m->max_groups = max_groups;
	m->history_count = HISTORY_DEFAULT_COUNT;
	m->history_bytes = HISTORY_DEFAULT_BYTES;
	m->cl = cl;
	if (getrandom(m->key, sizeof(m->key), 0) != sizeof(m->key)) {
		err = errno != 0 ? errno : EIO;
		goto err0;
	}
	if ((m->mailbox = cl != NULL ?
	    chan_new_bytes(MANAGER_MAILBOX_CLUSTER, sizeof(struct manager_req *),
	    cluster_mailbox_bytes(cl)) :
	    chan_new(MANAGER_MAILBOX, sizeof(struct manager_req *))) == NULL) {
		err = errno;
		goto err0;
	}
	if ((err = pthread_rwlockattr_init(&attr)) != 0)
		goto err1;
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	err = pthread_rwlock_init(&m->table_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (err != 0)
		goto err1;
	hashtab_init(&m->table);
	if ((err = thread_start(&m->thread, "gc-manager", MANAGER_STACK,
	    manager_main, m)) != 0)
		goto err2;
	return m;

err2:
	pthread_rwlock_destroy(&m->table_lock);
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
	pthread_rwlock_destroy(&m->table_lock);
	chan_free(m->mailbox);
	free(m);
}

/* Sends req to the manager thread and waits for its reply. */
long
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
	struct manager_req req = { .id = id, .len = len };
	struct hashtab_entry *e;
	struct group *g = NULL;
	uint64_t h;

	pthread_rwlock_rdlock(&m->table_lock);
	if ((e = manager_find(m, &req, &h)) != NULL)
		g = group_ref(e->item);
	pthread_rwlock_unlock(&m->table_lock);
	if (g == NULL)
		errno = ENOENT;
	return g;
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

static bool
manager_id_eq(const void *item, const void *key)
{
	const struct manager_key *k = key;
	size_t len;
	const char *id = group_id(item, &len);

	return len == k->len && memcmp(id, k->id, len) == 0;
}

struct hashtab_entry *
manager_find(struct manager *m, const struct manager_req *req, uint64_t *h)
{
	struct manager_key k = { .id = req->id, .len = req->len };

	*h = hashtab_siphash(m->key, req->id, req->len);
	return hashtab_find(&m->table, *h, &k, manager_id_eq);
}

int
manager_table_reserve(struct manager *m)
{
	int rc;

	pthread_rwlock_wrlock(&m->table_lock);
	rc = hashtab_reserve(&m->table);
	pthread_rwlock_unlock(&m->table_lock);
	return rc;
}

void
manager_table_put(struct manager *m, uint64_t h, struct group *g, size_t value)
{
	pthread_rwlock_wrlock(&m->table_lock);
	hashtab_put(&m->table, h, g, value);
	pthread_rwlock_unlock(&m->table_lock);
}

void
manager_table_del(struct manager *m, struct hashtab_entry *e)
{
	pthread_rwlock_wrlock(&m->table_lock);
	hashtab_del(&m->table, e);
	pthread_rwlock_unlock(&m->table_lock);
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
	if (manager_table_reserve(m) == -1 ||
	    (g = group_new(req->id, req->len, m->st)) == NULL) {
		req->err = errno;
		req->result = -1;
		return;
	}
	if (group_set_history(g, m->history_count, m->history_bytes) == -1) {
		req->err = errno;
		req->result = -1;
		group_unref(g);
		return;
	}
	manager_table_put(m, h, g, 0);
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
	manager_table_del(m, e);
	group_close(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
	group_unref(g);
	if (m->st != NULL)
		stats_sub(m->st, groups, 1);
	req->result = MANAGER_DELETED;
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
		case MANAGER_REQ_EVENT: {
			size_t bytes = req->bytes;

			manager_do_event(m, req);
			manager_event_free(req);
			chan_release(m->mailbox, bytes);
			continue;
		}
		}
		sem_post(&req->done);
	}
	return NULL;
}
