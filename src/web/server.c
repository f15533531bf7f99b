/*
 * server: CivetWeb's options and start. The HTTP callbacks live in
 * http_handlers.c, the WebSocket handlers in ws_handlers.c, the shutdown
 * sequence in shutdown.c; all share the context in server_ctx.h.
 *
 * Who touches what: server_start fills the context before CivetWeb's
 * workers exist; afterwards the workers read it (see server_ctx.h for
 * the fields they write).
 */
#include "groupchat/web/server.h"

#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/keepalive.h"
#include "groupchat/actors/manager.h"
#include "groupchat/actors/member.h"
#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_sentinel.h"
#include "groupchat/cluster/redis_sentinels.h"
#include "groupchat/cluster/redis_url.h"
#include "groupchat/core/cid.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/log.h"
#include "groupchat/core/thread.h"
#include "groupchat/core/thread_pool.h"
#include "server_ctx.h"

/* Connect, read and write bound of every call to a sentinel. */
#define SENTINEL_TIMEOUT_MS 1000

/* Writer threads kept parked for the next members, at most: a thread
 * parked costs its kernel stack (16 KiB) and the stack pages it touched
 * (about 8 KiB), so this bounds what the pool holds when members go. */
#define WRITERS_PARKED 256

/* CivetWeb workers started with the server, and kept idle for the next
 * connections at most (patch 0021): the rest of the max_clients +
 * HTTP_RESERVE allowed start as connections need them. An idle worker
 * costs its kernel stack (16 KiB), the stack pages it touched and the
 * first page of its request buffer. */
#define WORKERS_PRESPAWNED "32"
#define WORKERS_IDLE "256"

/* The kernel's accept queue at least: CivetWeb's default (200) drops the
 * SYNs of a join storm, which then wait out a 1 s retransmission. Linux
 * caps it at net.core.somaxconn (4096 by default). */
#define LISTEN_BACKLOG_MIN 4096

/* CivetWeb prints its own errors through this; route them to our log. */
static int
log_message(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	log_event(LOG_WARN, "civetweb", "message", message, NULL);
	return 1;
}

/* A context with no threads yet: the config copied, the counters started,
 * the slot lock and condvar made. NULL on ENOMEM. */
static struct server *
server_new(const struct config *cfg)
{
	struct server *srv;
	pthread_condattr_t ca;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return NULL;
	srv->cfg = *cfg;
	stats_init(&srv->stats);
	pthread_mutex_init(&srv->slots_lock, NULL);
	/* server_stop waits on it with a monotonic deadline. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->slots_empty, &ca);
	pthread_condattr_destroy(&ca);
	return srv;
}

/* Sentinel mode: the watcher, and the connector that asks the sentinels
 * (the list was checked by config). The URL's host and port are unused. */
static int
start_sentinel(struct server *srv, struct redis_connector *conn)
{
	struct redis_sentinels list;
	const char *why;

	if (redis_sentinels_parse(srv->cfg.redis_sentinel, strlen(srv->cfg.redis_sentinel),
	    &list, &why) == -1 ||
	    (srv->sentinel = redis_sentinel_new(&list, srv->cfg.redis_master,
	    getenv("GROUPCHAT_REDIS_SENTINEL_PASSWORD"), srv->redis_url,
	    SENTINEL_TIMEOUT_MS)) == NULL ||
	    redis_sentinel_start(srv->sentinel) == -1)
		return -1;
	*conn = redis_sentinel_connector(srv->sentinel);
	return 0;
}

/* Cluster mode: the Redis actors and the manager that gets their events.
 * They connect in the background: a node starts without Redis and
 * answers 503 until its links are up. With --redis-sentinel, --redis is
 * optional and gives only the password and database. */
static int
start_cluster(struct server *srv, char *err, size_t errlen)
{
	const char *url = srv->cfg.redis[0] != '\0' ? srv->cfg.redis : "redis://sentinel";
	const char *why = "invalid";
	struct cluster_limits lim = {
		.max_groups = srv->cfg.max_cluster_groups,
		.history = { srv->cfg.history, srv->cfg.history_bytes },
		.queue_bytes = cluster_queue_bytes(srv->cfg.max_message),
	};
	struct redis_connector conn;

	if ((srv->redis_url = redis_url_parse(url, strlen(url),
	    getenv("GROUPCHAT_REDIS_PASSWORD"), &why)) == NULL) {
		snprintf(err, errlen, "invalid --redis: %s",
		    errno == ENOMEM ? "out of memory" : why);
		return -1;
	}
	/* The parsed URL keeps the password for the links; the text's goes. */
	redis_url_mask_password(srv->cfg.redis, strlen(srv->cfg.redis));
	conn = redis_link_hiredis(srv->redis_url);
	if ((srv->cfg.redis_sentinel[0] != '\0' && start_sentinel(srv, &conn) == -1) ||
	    (srv->cluster = cluster_new_on(&conn, &lim)) == NULL ||
	    (srv->manager = manager_new_cluster(&srv->stats, srv->cfg.max_groups,
	    srv->cluster)) == NULL ||
	    cluster_start(srv->cluster, srv->manager) == -1) {
		snprintf(err, errlen, "cannot start the Redis links: %s", strerror(errno));
		return -1;
	}
	srv->stats.cluster = 1;
	log_event(LOG_INFO, "cluster_node", "node", cluster_node(srv->cluster), NULL);
	return 0;
}

/* What CivetWeb's workers use: the id set, the manager and the keepalive.
 * 0, or -1 with a one-line reason in err (what started stays for
 * server_discard). */
static int
start_actors(struct server *srv, char *err, size_t errlen)
{
	struct frame *ping;

	if ((srv->ids = cid_set_new()) == NULL ||
	    (srv->writers = member_writer_pool_new(WRITERS_PARKED)) == NULL) {
		snprintf(err, errlen, "cannot start: %s", strerror(errno));
		return -1;
	}
	if ((srv->cfg.redis[0] != '\0' || srv->cfg.redis_sentinel[0] != '\0') &&
	    start_cluster(srv, err, errlen) == -1)
		return -1;
	if (srv->cluster == NULL &&
	    (srv->manager = manager_new(&srv->stats, srv->cfg.max_groups)) == NULL) {
		snprintf(err, errlen, "cannot start: %s", strerror(errno));
		return -1;
	}
	if (srv->cluster == NULL)
		manager_set_history(srv->manager, srv->cfg.history,
		    srv->cfg.history_bytes);
	if ((ping = frame_new(FRAME_PING, NULL, 0, NULL, 0)) == NULL) {
		snprintf(err, errlen, "cannot start: %s", strerror(errno));
		return -1;
	}
	/* The keepalive takes its own reference to the ping frame. */
	srv->keepalive = keepalive_start(srv->cfg.ping_interval, ping);
	frame_unref(ping);
	if (srv->keepalive == NULL) {
		snprintf(err, errlen, "cannot start the keepalive thread: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Starts CivetWeb on the configured address with our callbacks and
 * WebSocket handlers, and records the port bound. 0, or -1 with a
 * one-line reason in err. */
static int
start_civetweb(struct server *srv, char *err, size_t errlen)
{
	const struct config *cfg = &srv->cfg;
	struct mg_callbacks cb;
	char ports[96], threads[24], backlog[24], header_deadline[24], payload_ms[24];
	char max_frame[24], err_text[256] = "";
	long nthreads = cfg->max_clients + SERVER_HTTP_RESERVE;
	struct mg_server_port sp[4];
	struct mg_error_data ed = { .text = err_text, .text_buffer_size = sizeof(err_text) };
	struct mg_init_data init;
	int n;

	snprintf(ports, sizeof(ports), "%s:%d", cfg->listen, cfg->port);
	snprintf(threads, sizeof(threads), "%ld", nthreads);
	snprintf(header_deadline, sizeof(header_deadline), "%d", SERVER_HEADER_DEADLINE_MS);
	snprintf(backlog, sizeof(backlog), "%ld",
	    nthreads > LISTEN_BACKLOG_MIN ? nthreads : LISTEN_BACKLOG_MIN);
	snprintf(payload_ms, sizeof(payload_ms), "%ld", cfg->ping_interval * 1000);
	/* A control frame may carry 125 bytes whatever --max-message says
	 * (RFC 6455 5.5): CivetWeb's frame limit never goes below that, and
	 * wsproto judges a message's length. */
	snprintf(max_frame, sizeof(max_frame), "%zu",
	    cfg->max_message > FRAME_CONTROL_MAX ? cfg->max_message :
	    FRAME_CONTROL_MAX);
	const char *options[] = {
		"listening_ports", ports,
		"num_threads", threads,
		"prespawn_threads", WORKERS_PRESPAWNED,
		"max_idle_threads", WORKERS_IDLE,
		/* Accepted sockets waiting for a worker: one slot per worker,
		 * so the master never stops accepting while a worker may still
		 * come free (the default, 20, stalled it in every join storm).
		 * 40 bytes a slot, touched as the queue wraps round. */
		"connection_queue", threads,
		"listen_backlog", backlog,
		"decode_url", "no",
		"tcp_nodelay", "1",
		"enable_keep_alive", "yes",
		/* An absolute-form target naming our port is routed by its
		 * path, whatever the host, as Go routes it. */
		"enable_auth_domain_check", "no",
		"keep_alive_timeout_ms", "2000",
		"request_timeout_ms", "10000",
		/* Slow headers: the whole head within the deadline, however
		 * it trickles in (patch 0010-request-header-deadline). */
		"request_header_timeout_ms", header_deadline,
		/* The read loop wakes this often to notice a forced close; our
		 * keepalive thread does the pinging (ping-pong stays off so
		 * that every control frame reaches our checks). */
		"websocket_timeout_ms", WS_TICK_MS_STR,
		"enable_websocket_ping_pong", "no",
		/* A frame's payload that stops coming for a ping interval ends
		 * its connection (our patch 0001): the peer cannot answer a
		 * ping from inside a frame either. 0 (--ping-interval 0): never,
		 * as the keepalive. */
		"websocket_payload_timeout_ms", payload_ms,
		/* No frame is longer than its message: a frame declared over
		 * --max-message (or 125 bytes, if more) is closed with 1009 at
		 * its header, before CivetWeb allocates anything (our patch
		 * 0002). */
		"websocket_max_frame_size", max_frame,
		/* A member whose connection takes no byte for a ping interval
		 * fails its write (our patch 0004), as it would fail to answer
		 * a ping: its writer, and the close handler that joins it, are
		 * held that long at most. 0: request_timeout_ms. */
		"websocket_write_timeout_ms", payload_ms,
		NULL,
	};
	memset(&cb, 0, sizeof(cb));
	http_handlers_set(&cb);
	cb.log_message = log_message;
	init.callbacks = &cb;
	init.user_data = srv;
	init.configuration_options = options;
	if ((srv->mg = mg_start2(&init, &ed)) == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", ports,
		    err_text[0] ? err_text : "unknown error");
		return -1;
	}
	ws_register(srv);
	n = mg_get_server_ports(srv->mg, 4, sp);
	srv->port = n > 0 ? sp[0].port : cfg->port;
	return 0;
}

/* Undoes what server_start did before a step failed. */
static void
server_discard(struct server *srv)
{
	if (srv->keepalive != NULL)
		keepalive_stop(srv->keepalive);
	if (srv->cluster != NULL)
		cluster_detach(srv->cluster);
	if (srv->manager != NULL)
		manager_free(srv->manager);
	if (srv->cluster != NULL)
		cluster_free(srv->cluster);
	redis_sentinel_free(srv->sentinel);
	redis_url_free(srv->redis_url);
	if (srv->ids != NULL)
		cid_set_free(srv->ids);
	thread_pool_free(srv->writers);
	pthread_mutex_destroy(&srv->slots_lock);
	pthread_cond_destroy(&srv->slots_empty);
	free(srv);
	mg_exit_library();
}

struct server *
server_start(const struct config *cfg, char *err, size_t errlen)
{
	struct server *srv;

	if ((srv = server_new(cfg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mg_init_library(0);
	/* At most a CivetWeb worker per slot, a writer and a group thread
	 * per member, and the fixed few. Where the kernel has nothing to
	 * size (EINVAL) there is nothing to say. */
	if (thread_plan(3 * (size_t)cfg->max_clients + SERVER_HTTP_RESERVE + 16) == -1 &&
	    errno != EINVAL)
		log_event(LOG_WARN, "futex_hash", "error", strerror(errno), NULL);
	/* The actors before CivetWeb: its workers read srv->keepalive and
	 * srv->manager unlocked. */
	if (start_actors(srv, err, errlen) == -1 ||
	    start_civetweb(srv, err, errlen) == -1) {
		server_discard(srv);
		return NULL;
	}
	return srv;
}

int
server_port(const struct server *s)
{
	return s->port;
}
