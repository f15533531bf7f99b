/*
 * The server context shared by the HTTP side (server.c), the WebSocket
 * side (ws.c) and the keepalive thread (keepalive.c). Private to src/.
 */
#ifndef GROUPCHAT_SERVER_CTX_H
#define GROUPCHAT_SERVER_CTX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "groupchat/buf.h"
#include "groupchat/config.h"
#include "groupchat/stats.h"
#include "groupchat/wsproto.h"

struct mg_connection;
struct mg_context;
struct manager;
struct cid_set;
struct msg;
struct client;
struct group;

/* One WebSocket connection: CivetWeb's worker reads it (ws.c), the
 * client's writer thread writes it, the keepalive thread pings it. */
struct ws {
	struct server *srv;
	struct mg_connection *conn;   /* valid until the close handler returns */
	struct client *client;
	struct group *group;
	struct wsproto proto;         /* reader state: worker thread only */
	struct buf gather;            /* writer thread only: batch gather buffer */
	int close_sent;               /* guarded by mg_lock_connection */
	uint16_t peer_code;           /* worker only: the code the peer closed with */
	atomic_bool worker_ends;      /* set by the worker when it ends the read
	                               * loop itself: the writer then leaves
	                               * CivetWeb's keep-alive flag alone */
	atomic_llong last_rx_ms;      /* when the peer last sent a frame */
	int64_t ping_sent_ms;         /* keepalive's unanswered ping, 0: none;
	                               * under srv->live_lock */
	struct ws *prev, *next;       /* the live list, under srv->live_lock */
};

struct server {
	struct config cfg;
	struct mg_context *mg;
	struct manager *manager;
	struct cid_set *ids;
	struct stats stats;
	int port;
	atomic_int stopping;     /* set first at shutdown: joins are refused */
	atomic_long members;     /* WebSocket slots taken, against cfg.max_clients */

	/* Live WebSockets, for the keepalive thread. Guarded by live_lock;
	 * a ws is linked in its ready handler and unlinked in its close
	 * handler, so a linked ws (and its client) is always valid. */
	pthread_mutex_t live_lock;
	pthread_cond_t live_cond; /* keepalive: stop; server_stop: last member left */
	struct ws *live;
	int keepalive_running;
	pthread_t keepalive;
	struct msg *ping;         /* one shared empty ping frame */
};

/* ws.c: registers the WebSocket handlers on "/groups". */
void ws_register(struct server *srv);

/* keepalive.c: pings silent members and drops dead ones. */
int keepalive_start(struct server *srv);
void keepalive_stop(struct server *srv);

/* server.c: Go's 400 "found no group with the id: ID\n" (ws.c answers a
 * join to a group deleted since begin_request with it too). */
int server_send_no_group(struct mg_connection *conn, const struct buf *id,
                         int head, int close);

struct route;

/* access.c: after routing, before the handler: 0 if the request may go on
 * (no credential needed, or the right one given), else the status it was
 * answered with (401, or 500 out of memory). */
int access_check(const struct server *srv, struct mg_connection *conn,
                 const char *method, const struct route *r, const char *query);

/* CLOCK_MONOTONIC milliseconds. */
int64_t server_now_ms(void);

#endif
