/*
 * manager: the registry of groups and the one thread that owns it.
 *
 * Who touches what:
 *  - mailbox: a chan of pointers to requests that live on their callers'
 *    stacks. A caller sends one and sleeps on the request's semaphore
 *    until the manager thread has filled in the reply and posted it, so
 *    the request outlives its use. Closing the mailbox (manager_free)
 *    refuses new requests with EPIPE; queued ones are still answered.
 *  - table, cap, count: the manager thread's alone, and manager_free's
 *    once that thread is joined. max_groups is set once in manager_new.
 *
 * The table is open addressing with linear probing, at most half full,
 * keyed by the id bytes. The id's storage is the group's own copy
 * (group_id), so an entry is just a hash and a group reference. Ids come
 * from the network, so the hash is SipHash-2-4 with a random key: nobody
 * outside can pick ids that all land in one probe run.
 *
 * Listing for /stats and /metrics is one pass over the table on this
 * thread: one relaxed atomic load (group_members) per registered group
 * and a reference to each group listed, at most the caller's max; groups
 * past max are only counted. With 100,000 registered groups that pass is
 * a few milliseconds during which creates and lookups queue behind it;
 * nothing is allocated per registered group.
 *
 * Nothing here waits on a group: group_close records the code, sets the
 * flag and closes the group's mailbox, all without blocking, and when the
 * registry holds the last reference, group_unref joins a thread that has
 * no members (each member's connection holds a reference).
 */
#include "groupchat/manager.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "groupchat/chan.h"
#include "groupchat/group.h"
#include "groupchat/stats.h"

/* Hashing, probing and the calls into group: no big locals. */
#define MANAGER_STACK (128 * 1024)

/* Requests queued for the manager thread before senders block. */
#define MANAGER_MAILBOX 256

enum manager_kind {
	MANAGER_REQ_CREATE,
	MANAGER_REQ_DELETE,
	MANAGER_REQ_LOOKUP,
	MANAGER_REQ_LIST,
	MANAGER_REQ_CLOSE_ALL,
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
};

struct manager_entry {
	uint64_t hash;
	struct group *g;        /* NULL: a free slot */
};

struct manager {
	struct stats *st;
	struct chan *mailbox;
	pthread_t thread;
	uint64_t key[2];
	struct manager_entry *table;
	size_t cap;             /* a power of two, at least twice count */
	size_t count;
	size_t max_groups;      /* creates past it: MANAGER_FULL */
};

static void	*manager_main(void *arg);

struct manager *
manager_new(struct stats *st, size_t max_groups)
{
	struct manager *m;
	pthread_attr_t attr;
	int err;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->st = st;
	m->max_groups = max_groups;
	if (getrandom(m->key, sizeof(m->key), 0) != sizeof(m->key)) {
		err = errno != 0 ? errno : EIO;
		goto err0;
	}
	if ((m->mailbox = chan_new(MANAGER_MAILBOX,
	    sizeof(struct manager_req *))) == NULL) {
		err = errno;
		goto err0;
	}
	if ((err = pthread_attr_init(&attr)) != 0)
		goto err1;
	if ((err = pthread_attr_setstacksize(&attr, MANAGER_STACK)) == 0)
		err = pthread_create(&m->thread, &attr, manager_main, m);
	pthread_attr_destroy(&attr);
	if (err != 0)
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
	size_t i;

	chan_close(m->mailbox);
	pthread_join(m->thread, NULL);
	for (i = 0; i < m->cap; i++) {
		if (m->table[i].g == NULL)
			continue;
		group_close(m->table[i].g, GROUP_SHUTDOWN_CODE,
		    GROUP_SHUTDOWN_REASON);
		group_unref(m->table[i].g);
		if (m->st != NULL)
			stats_sub(m->st, groups, 1);
	}
	free(m->table);
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

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

/* SipHash-2-4 of the id under the manager's key. */
static uint64_t
manager_hash(const struct manager *m, const char *id, size_t len)
{
	const unsigned char *p = (const unsigned char *)id;
	const unsigned char *end = p + (len & ~(size_t)7);
	uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ m->key[0];
	uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ m->key[1];
	uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ m->key[0];
	uint64_t v3 = UINT64_C(0x7465646279746573) ^ m->key[1];
	uint64_t w;
	size_t i, left;

	for (; p != end; p += 8) {
		for (w = 0, i = 0; i < 8; i++)
			w |= (uint64_t)p[i] << (8 * i);
		v3 ^= w;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= w;
	}
	left = len & 7;
	for (w = (uint64_t)len << 56, i = 0; i < left; i++)
		w |= (uint64_t)p[i] << (8 * i);
	v3 ^= w;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= w;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * The slot holding id, or the free slot that ends its probe run; *found
 * says which. The table must have at least one slot.
 */
static size_t
manager_probe(const struct manager *m, uint64_t h, const char *id,
    size_t len, bool *found)
{
	size_t mask = m->cap - 1, i, glen;
	const char *gid;

	for (i = h & mask; m->table[i].g != NULL; i = (i + 1) & mask) {
		if (m->table[i].hash != h)
			continue;
		gid = group_id(m->table[i].g, &glen);
		if (glen == len && memcmp(gid, id, len) == 0) {
			*found = true;
			return i;
		}
	}
	*found = false;
	return i;
}

/* Keeps the table at most half full once one more entry is in. */
static int
manager_reserve(struct manager *m)
{
	struct manager_entry *old = m->table, *table;
	size_t oldcap = m->cap, cap, i, j;

	if ((m->count + 1) * 2 <= m->cap)
		return 0;
	cap = m->cap ? m->cap * 2 : 16;
	if ((table = calloc(cap, sizeof(*table))) == NULL)
		return -1;
	for (i = 0; i < oldcap; i++) {
		if (old[i].g == NULL)
			continue;
		for (j = old[i].hash & (cap - 1); table[j].g != NULL;
		    j = (j + 1) & (cap - 1))
			;
		table[j] = old[i];
	}
	m->table = table;
	m->cap = cap;
	free(old);
	return 0;
}

/*
 * Backward-shift deletion: later entries of the probe run move into the
 * hole unless their home lies cyclically in (hole, their position], so
 * lookups never need tombstones.
 */
static void
manager_remove(struct manager *m, size_t hole)
{
	size_t mask = m->cap - 1, j, k;

	for (j = (hole + 1) & mask; m->table[j].g != NULL; j = (j + 1) & mask) {
		k = m->table[j].hash & mask;
		if (hole <= j ? hole < k && k <= j : hole < k || k <= j)
			continue;
		m->table[hole] = m->table[j];
		hole = j;
	}
	m->table[hole].g = NULL;
	m->count--;
}

static void
manager_do_create(struct manager *m, struct manager_req *req)
{
	uint64_t h = manager_hash(m, req->id, req->len);
	struct group *g;
	bool found = false;
	size_t i;

	if (m->count > 0)
		manager_probe(m, h, req->id, req->len, &found);
	if (found) {
		req->result = MANAGER_EXISTS;
		return;
	}
	if (m->count >= m->max_groups) {
		if (m->st != NULL)
			stats_add(m->st, creates_refused, 1);
		req->result = MANAGER_FULL;
		return;
	}
	if (manager_reserve(m) == -1 ||
	    (g = group_new(req->id, req->len, m->st)) == NULL) {
		req->err = errno;
		req->result = -1;
		return;
	}
	i = manager_probe(m, h, req->id, req->len, &found);
	m->table[i].hash = h;
	m->table[i].g = g;
	m->count++;
	if (m->st != NULL)
		stats_add(m->st, groups, 1);
	req->result = MANAGER_CREATED;
}

static void
manager_do_delete(struct manager *m, struct manager_req *req)
{
	uint64_t h = manager_hash(m, req->id, req->len);
	struct group *g;
	bool found;
	size_t i;

	req->result = MANAGER_NOT_FOUND;
	if (m->count == 0)
		return;
	i = manager_probe(m, h, req->id, req->len, &found);
	if (!found)
		return;
	g = m->table[i].g;
	manager_remove(m, i);
	group_close(g, GROUP_DELETED_CODE, GROUP_DELETED_REASON);
	group_unref(g);
	if (m->st != NULL)
		stats_sub(m->st, groups, 1);
	req->result = MANAGER_DELETED;
}

static void
manager_do_lookup(struct manager *m, struct manager_req *req)
{
	bool found = false;
	size_t i = 0;

	if (m->count > 0)
		i = manager_probe(m, manager_hash(m, req->id, req->len),
		    req->id, req->len, &found);
	if (!found) {
		req->err = ENOENT;
		req->result = -1;
		return;
	}
	req->g = group_ref(m->table[i].g);
	req->result = 0;
}

static void
manager_do_list(struct manager *m, struct manager_req *req)
{
	size_t room = m->count < req->max ? m->count : req->max;
	size_t i, n = 0;
	struct group *g;

	req->list = NULL;
	req->omitted = 0;
	if (room > 0 && (req->list = calloc(room, sizeof(*req->list))) == NULL) {
		req->err = errno;
		req->result = -1;
		return;
	}
	for (i = 0; i < m->cap; i++) {
		if ((g = m->table[i].g) == NULL ||
		    (req->active_only && group_members(g) == 0))
			continue;
		if (n < room)
			req->list[n++] = group_ref(g);
		else
			req->omitted++;
	}
	req->result = (long)n;
}

static void
manager_do_close_all(struct manager *m, struct manager_req *req)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		if (m->table[i].g != NULL)
			group_close(m->table[i].g, req->code, req->reason);
	req->result = 0;
}

static void *
manager_main(void *arg)
{
	struct manager *m = arg;
	struct manager_req *req;

	pthread_setname_np(pthread_self(), "gc-manager");
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
		}
		sem_post(&req->done);
	}
	return NULL;
}
