/*
 * manager_private: the manager's struct, its requests and the calls its
 * two files share. Private to the manager actor (manager.c and
 * manager_cluster.c include it; nothing else may).
 *
 * manager.c holds the actor (its thread, the mailbox, the registry table
 * and the single-node requests); manager_cluster.c the requests and
 * events only cluster mode sends. The table and every manager_do_* are
 * the manager thread's alone; the requests live where manager.c's note
 * says.
 */
#ifndef GROUPCHAT_MANAGER_PRIVATE_H
#define GROUPCHAT_MANAGER_PRIVATE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "groupchat/actors/manager.h"
#include "groupchat/core/hashtab.h"

struct chan;
struct cluster;
struct group;
struct member;
struct stats;

enum manager_kind {
	MANAGER_REQ_CREATE,
	MANAGER_REQ_DELETE,
	MANAGER_REQ_LIST,
	MANAGER_REQ_CLOSE_ALL,
	MANAGER_REQ_SERVE,
	MANAGER_REQ_UNSERVE,
	MANAGER_REQ_EVENT,
};

struct manager_req {
	enum manager_kind kind;
	const char *id;         /* CREATE, DELETE, SERVE, UNSERVE, EVENT */
	size_t len;
	uint16_t code;          /* CLOSE_ALL */
	const char *reason;
	sem_t done;             /* posted once the reply is filled in */
	long result;            /* a manager_result, a count, or -1 */
	int err;                /* errno when result is -1 */
	struct group *g;        /* SERVE: a reference; UNSERVE: the group */
	size_t max;             /* LIST: at most this many listed */
	bool active_only;       /* LIST: only groups with members */
	size_t omitted;         /* LIST: matched past max */
	struct group **list;    /* LIST: references */
	bool drop;              /* UNSERVE: leave the registry now */
	struct member *c;       /* EVENT REFUSED: a reference */
	enum manager_event ev;  /* EVENT: heap-allocated, freed by the manager */
	const char *payload;    /* EVENT: points into the same allocation */
	size_t plen;
	size_t bytes;           /* EVENT: the allocation, held in the mailbox's
	                         * byte bound until the manager frees it */
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
	pthread_rwlock_t table_lock;
	struct hashtab table;   /* items: group references */
	size_t max_groups;      /* creates past it: MANAGER_FULL */
	size_t history_count;   /* each new group's history bounds, set */
	size_t history_bytes;   /* before the first create */
	struct cluster *cl;     /* cluster mode, or NULL */
};

/* ---- manager.c --------------------------------------------------------- */

/* Sends req to the manager thread and waits for its reply: req->result,
 * with errno set from req->err when it is -1 (or -1 with EPIPE once the
 * mailbox is closed). */
long manager_call(struct manager *m, struct manager_req *req);

/* The entry of the request's id, or NULL; its hash in *h. The manager
 * thread, or any thread holding table_lock for reading. */
struct hashtab_entry *manager_find(struct manager *m, const struct manager_req *req,
    uint64_t *h);

/* The table's changes, each under the write lock; manager thread. Only
 * reserve fails: -1 with errno ENOMEM. */
int manager_table_reserve(struct manager *m);
void manager_table_put(struct manager *m, uint64_t h, struct group *g, size_t value);
void manager_table_del(struct manager *m, struct hashtab_entry *e);

/* ---- manager_cluster.c: on the manager thread ------------------------- */

void manager_do_serve(struct manager *m, struct manager_req *req);
void manager_do_unserve(struct manager *m, struct manager_req *req);
void manager_do_event(struct manager *m, struct manager_req *req);

/* Frees an EVENT request, dropping the refused sender it may hold. */
void manager_event_free(struct manager_req *req);

#endif
