/*
 * cluster: the node's side of cluster mode, its lifecycle. It builds the
 * three Redis actors on one connector (a Redis URL or the sentinels), keeps the "Redis is
 * usable" state their link callbacks report (/healthz), forwards the
 * subscriber's and the command link's events to the manager, and stops
 * the actors in the order shutdown needs. The calls on the caller's
 * thread are in cluster_calls.c, the claimed ids in cluster_claims.c,
 * the groups kept in mind in cluster_keep.c; the struct they share is in
 * cluster_private.h.
 *
 * Who touches what:
 *  - up[], reason[], stale, pending: written by the actors' threads in
 *    their link callbacks, the manager (settle) and group threads
 *    (resync done), read by CivetWeb workers (/healthz); guarded by lock.
 *  - lost: atomic, bumped by whichever thread failed to hand an event
 *    over, read by group threads.
 *  - m: set before the actors start; their callbacks use it under
 *    m_lock, and cluster_detach clears it before the manager goes.
 *  - node, pub, sub, cmd, started: set by new and start on the thread
 *    that owns the cluster, before any worker or actor reads them.
 *  - the actors: the calls into them are theirs to make thread-safe.
 */
#include "groupchat/actors/cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "groupchat/actors/manager.h"
#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_cmd.h"
#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_pub.h"
#include "groupchat/cluster/redis_sub.h"
#include "groupchat/core/log.h"
#include "groupchat/core/stats.h"
#include "cluster_private.h"

/* Bounds of the actors' channels (docs/design.md, "Cluster mode"). */
#define PUB_CAP 4096
#define SUB_CAP 1024
#define CMD_CAP 256
/* Connect, read and write bound of every link. */
#define LINK_TIMEOUT_MS 1000
/* A claim's lifetime. */
#define CLAIM_TTL_MS 15000
/* The queues' byte bound: at least this, and room for this many
 * messages of the largest size (the frame and event headers, the id). */
#define QUEUE_BYTES_MIN ((size_t)64 << 20)
#define QUEUE_BYTES_MESSAGES 8
#define QUEUE_BYTES_SLACK ((size_t)64 << 10)

static const char *const link_name[LINK_COUNT] = { "pub", "sub", "cmd" };

/* The link state of one actor: logged once per change. */
static void
cluster_link(struct cluster *cl, int which, int up, const char *reason)
{
	int changed;

	pthread_mutex_lock(&cl->lock);
	changed = cl->up[which] != up ||
	    (!up && strcmp(cl->reason[which], reason != NULL ? reason : "down") != 0);
	cl->up[which] = up;
	snprintf(cl->reason[which], sizeof(cl->reason[which]), "%s",
	    up ? "" : reason != NULL ? reason : "down");
	pthread_mutex_unlock(&cl->lock);
	if (!changed)
		return;
	if (up)
		log_event(LOG_INFO, "redis_up", "link", link_name[which], NULL);
	else
		log_event(LOG_WARN, "redis_down", "link", link_name[which],
		    "reason", reason != NULL ? reason : "down", NULL);
}

static void
pub_link(void *arg, int up, const char *reason)
{
	cluster_link(arg, LINK_PUB, up, reason);
}

/*
 * While the subscriber was away, Redis may have lost data (restarted,
 * empty or from a snapshot) or messages: the node is not usable until
 * every group it serves has read its baseline again (whose epoch check
 * tells a break, and which registers a lost group again). So the node is "stale" from
 * the subscriber's loss until the manager has queued those resyncs and
 * they are done.
 */
static void
sub_link(void *arg, int up, const char *reason)
{
	struct cluster *cl = arg;
	int sent = 0, lost = 0;

	if (!up) {
		pthread_mutex_lock(&cl->lock);
		cl->stale = true;
		pthread_mutex_unlock(&cl->lock);
	}
	cluster_link(cl, LINK_SUB, up, reason);
	if (!up)
		return;
	/* Redis may have restarted meanwhile: the command link, idle, would
	 * notice (and claim the node's ids again) only at its next heartbeat,
	 * while another node could hand out one of them. */
	redis_cmd_check(cl->cmd);
	pthread_mutex_lock(&cl->m_lock);
	if (cl->m != NULL) {
		sent = manager_cluster_event(cl->m, MANAGER_EV_SETTLE, NULL, 0, NULL, 0) == 0;
		lost = !sent;
	}
	pthread_mutex_unlock(&cl->m_lock);
	if (!sent)
		cluster_settle(cl, 0);
	if (lost)
		cluster_note_lost(cl);
}

void
cluster_settle(struct cluster *cl, long n)
{
	pthread_mutex_lock(&cl->lock);
	cl->pending += n;
	cl->stale = false;
	pthread_mutex_unlock(&cl->lock);
}

void
cluster_resync_done(struct cluster *cl)
{
	pthread_mutex_lock(&cl->lock);
	cl->pending--;
	pthread_mutex_unlock(&cl->lock);
}

static void
cmd_link(void *arg, int up, const char *reason)
{
	cluster_link(arg, LINK_CMD, up, reason);
}

/* Hands an event to the manager unless it is going; one it cannot take
 * is counted as lost, and every group resyncs (cluster_note_lost). */
static void
cluster_event(struct cluster *cl, enum manager_event ev, const char *id, size_t len,
    const char *payload, size_t plen)
{
	int lost = 0;

	pthread_mutex_lock(&cl->m_lock);
	if (cl->m != NULL)
		lost = manager_cluster_event(cl->m, ev, id, len, payload, plen) == -1;
	pthread_mutex_unlock(&cl->m_lock);
	if (lost)
		cluster_note_lost(cl);
}

void
cluster_note_lost(struct cluster *cl)
{
	atomic_fetch_add(&cl->lost, 1);
}

unsigned
cluster_lost(struct cluster *cl)
{
	return atomic_load(&cl->lost);
}

static void
sub_subscribed(void *arg, const char *id, size_t len)
{
	cluster_event(arg, MANAGER_EV_SUBSCRIBED, id, len, NULL, 0);
}

static void
sub_message(void *arg, const char *id, size_t len, const char *payload, size_t plen)
{
	cluster_event(arg, MANAGER_EV_MESSAGE, id, len, payload, plen);
}

/* Another Redis process answers (restarted, empty or from a snapshot, or
 * a promoted replica): every group served here reads its baseline again,
 * whose epoch check tells whether its history went on unbroken. */
static void
cmd_restarted(void *arg)
{
	struct cluster *cl = arg;

	log_event(LOG_WARN, "redis_restarted", NULL);
	cluster_keep_restarted(cl);
	cluster_event(cl, MANAGER_EV_RESYNC, NULL, 0, NULL, 0);
}

size_t
cluster_queue_bytes(size_t max_message)
{
	size_t per = max_message + QUEUE_BYTES_SLACK;

	if (per > QUEUE_BYTES_MIN / QUEUE_BYTES_MESSAGES)
		return per * QUEUE_BYTES_MESSAGES;
	return QUEUE_BYTES_MIN;
}

size_t
cluster_mailbox_bytes(const struct cluster *cl)
{
	return cl->lim.queue_bytes;
}

struct cluster *
cluster_new_on(const struct redis_connector *conn, const struct cluster_limits *lim)
{
	struct cluster *cl;
	uint8_t raw[REDIS_NODE_LEN / 2];
	struct redis_pub_cb pcb;
	struct redis_sub_cb scb;
	struct redis_cmd_cb ccb;
	size_t i;
	int err;

	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return NULL;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		err = errno != 0 ? errno : EIO;
		free(cl);
		errno = err;
		return NULL;
	}
	for (i = 0; i < sizeof(raw); i++)
		snprintf(cl->node + 2 * i, 3, "%02x", raw[i]);
	pthread_mutex_init(&cl->lock, NULL);
	pthread_mutex_init(&cl->m_lock, NULL);
	pthread_mutex_init(&cl->claims_lock, NULL);
	pthread_mutex_init(&cl->kept_lock, NULL);
	atomic_init(&cl->lost, 0);
	cl->stale = true;
	for (i = 0; i < LINK_COUNT; i++)
		snprintf(cl->reason[i], sizeof(cl->reason[i]), "connecting");
	cl->conn = *conn;
	cl->lim = *lim;
	pcb = (struct redis_pub_cb){ .result = cluster_pub_result, .link = pub_link,
	    .stale = cluster_pub_stale, .arg = cl };
	scb = (struct redis_sub_cb){ .subscribed = sub_subscribed, .message = sub_message,
	    .link = sub_link, .arg = cl };
	ccb = (struct redis_cmd_cb){ .link = cmd_link, .restarted = cmd_restarted,
	    .held = cluster_claims_held,
	    .taken = cluster_claims_taken, .arg = cl };
	if ((cl->pub = redis_pub_new(&cl->conn, PUB_CAP, lim->queue_bytes,
	    &lim->history, LINK_TIMEOUT_MS, &pcb)) == NULL ||
	    (cl->sub = redis_sub_new(&cl->conn, SUB_CAP, LINK_TIMEOUT_MS, &scb)) == NULL ||
	    (cl->cmd = redis_cmd_new(&cl->conn, cl->node, CMD_CAP, LINK_TIMEOUT_MS,
	    CLAIM_TTL_MS, &ccb)) == NULL) {
		err = errno;
		cluster_free(cl);
		errno = err;
		return NULL;
	}
	return cl;
}

int
cluster_start(struct cluster *cl, struct manager *m)
{
	pthread_mutex_lock(&cl->m_lock);
	cl->m = m;
	pthread_mutex_unlock(&cl->m_lock);
	cl->started = true;
	if (redis_pub_start(cl->pub) == -1 || redis_sub_start(cl->sub) == -1 ||
	    redis_cmd_start(cl->cmd) == -1)
		return -1;
	return 0;
}

/* The subscriber first. The releases of the members that just left go out
 * before the command link stops: a baseline read queued behind them is
 * answered only after them. The publisher fails what is queued, which closes and
 * releases those senders. */
void
cluster_free(struct cluster *cl)
{
	struct redis_base b;
	char why[8];

	if (cl->started && atomic_load(&cl->released) && cluster_up(cl, why, sizeof(why)))
		redis_cmd_baseline(cl->cmd, "", 0, &b, LINK_TIMEOUT_MS);
	if (cl->sub != NULL)
		redis_sub_stop(cl->sub);
	if (cl->cmd != NULL)
		redis_cmd_stop(cl->cmd);
	if (cl->pub != NULL)
		redis_pub_stop(cl->pub);
	free(cl->claims);
	cluster_keep_free(cl);
	pthread_mutex_destroy(&cl->claims_lock);
	pthread_mutex_destroy(&cl->m_lock);
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

void
cluster_detach(struct cluster *cl)
{
	pthread_mutex_lock(&cl->m_lock);
	cl->m = NULL;
	pthread_mutex_unlock(&cl->m_lock);
}

int
cluster_up(struct cluster *cl, char *why, size_t n)
{
	int i, up = 1;

	pthread_mutex_lock(&cl->lock);
	for (i = 0; i < LINK_COUNT && up; i++)
		if (!cl->up[i]) {
			snprintf(why, n, "redis: %s", cl->reason[i]);
			up = 0;
		}
	if (up && (cl->stale || cl->pending > 0)) {
		snprintf(why, n, "redis: resynchronizing groups");
		up = 0;
	}
	pthread_mutex_unlock(&cl->lock);
	return up;
}

void
cluster_counts(struct cluster *cl, struct stats *st)
{
	uint64_t msgs, trips;

	redis_pub_counts(cl->pub, &msgs, &trips);
	atomic_store_explicit(&st->redis_published, msgs, memory_order_relaxed);
	atomic_store_explicit(&st->redis_round_trips, trips, memory_order_relaxed);
}

const char *
cluster_node(const struct cluster *cl)
{
	return cl->node;
}

struct redis_cmd *
cluster_cmd(struct cluster *cl)
{
	return cl->cmd;
}

struct redis_sub *
cluster_sub(struct cluster *cl)
{
	return cl->sub;
}
