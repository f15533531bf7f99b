/*
 * The server context shared by the web side: server.c (start),
 * shutdown.c (stop), http_handlers.c, http_control.c, access.c,
 * ws_handlers.c and ws_sink.c. Private to src/web/.
 */
#ifndef GROUPCHAT_SERVER_CTX_H
#define GROUPCHAT_SERVER_CTX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "groupchat/actors/keepalive.h"
#include "groupchat/cluster/redis_keys.h"
#include "groupchat/config.h"
#include "groupchat/core/buf.h"
#include "groupchat/core/stats.h"
#include "groupchat/web/client_addr.h"
#include "groupchat/web/wsproto.h"

struct mg_callbacks;
struct mg_connection;
struct mg_context;
struct manager;
struct cid_set;
struct thread_pool;
struct member;
struct member_sink;
struct group;
struct route;
struct cluster;
struct redis_url;
struct redis_sentinel;

/* CivetWeb's WebSocket read loop wakes this often when its peer is silent,
 * and only then sees that we closed the member: a member that never
 * answers its close frame keeps its connection this long. */
#define WS_TICK_MS 1000
#define WS_TICK_MS_STR "1000"

/* Frames up to this size are gathered into one buffer of at most this
 * size per connection, so a batch of small frames leaves in one send;
 * bigger frames, and a batch of one, are written straight from the
 * shared frame bytes. */
#define WS_GATHER_MAX (64 * 1024)

/* One WebSocket connection: CivetWeb's worker reads it (ws_handlers.c),
 * the member's writer thread writes it (ws_sink.c), the keepalive thread
 * pings its member through ka. */
struct conn {
	struct server *srv;
	struct mg_connection *mgc;    /* valid until the close handler returns */
	struct member *member;
	struct group *group;
	struct wsproto proto;         /* reader state: worker thread only */
	struct buf gather;            /* writer thread only: batch gather buffer */
	int close_sent;               /* guarded by mg_lock_connection */
	int write_failed;             /* guarded by mg_lock_connection: a write
	                               * failed, half a frame may be out */
	uint16_t peer_code;           /* worker only: the code the peer closed with */
	atomic_bool worker_ends;      /* set by the worker when it ends the read
	                               * loop itself: the writer then leaves
	                               * CivetWeb's keep-alive flag alone */
	struct keepalive_link ka;     /* tracked from ready to close */
	char inc[REDIS_INC_LEN + 1];  /* cluster: the group's incarnation */
};

struct server {
	struct config cfg;
	struct mg_context *mg;
	struct manager *manager;
	struct keepalive *keepalive;
	struct cid_set *ids;
	struct thread_pool *writers; /* members' writer threads, parked between members */
	struct cluster *cluster;      /* cluster mode (--redis), or NULL */
	struct redis_url *redis_url;  /* with the password: for the links only */
	struct redis_sentinel *sentinel; /* --redis-sentinel, or NULL */
	struct stats stats;
	int port;
	atomic_int stopping;     /* set first at shutdown: joins are refused */
	atomic_long slots;       /* WebSocket slots taken, against cfg.max_clients */

	/* server_stop waits on slots_empty, under slots_lock, for the last
	 * slot to be given back (ws_handlers.c signals it). */
	pthread_mutex_t slots_lock;
	pthread_cond_t slots_empty;
};

/* http_handlers.c: sets CivetWeb's request callbacks (begin_request,
 * http_error, connection_close) in cb. */
void http_handlers_set(struct mg_callbacks *cb);

/* http_control.c: answers a request its route takes, past the refusal and
 * access checks. The status answered, or 0 for an upgrade handed back to
 * CivetWeb. */
int http_control_answer(struct server *srv, struct mg_connection *conn,
                        const char *method, const struct route *r, const char *query);

/* ws_handlers.c: registers the WebSocket handlers on every path. */
void ws_register(struct server *srv);

/* ws_sink.c: the member sink writing to cn's connection. */
struct member_sink ws_sink(struct conn *cn);

/* ws_sink.c: sends a close frame unless one went out already; 1 if one
 * is on the wire (now or before), 0 if it could not be written (the caller
 * ends the connection without one). */
int ws_send_close(struct conn *cn, uint16_t code, const char *reason);

/* ws_sink.c: writes whole frames under the connection lock; the worker's
 * call (pongs). After a close frame nothing more may go out: -1. A short
 * write would leave half a frame on the wire, so the caller ends the
 * connection on any failure. */
int ws_send_locked(struct conn *cn, const void *p, size_t len);

/* access.c: the client's address for log lines ("addr"): the TCP peer,
 * or what a proxy of cfg.trusted_proxies reports in X-Forwarded-For
 * (client_addr.h). */
void access_addr(const struct server *srv, const struct mg_connection *conn,
                 char out[CLIENT_ADDR_MAX]);

/* access.c: after routing, before the handler: 0 if the request may go on
 * (no credential needed, or the right one given), else the status it was
 * answered with (401, or 500 out of memory). */
int access_check(const struct server *srv, struct mg_connection *conn,
                 const char *method, const struct route *r, const char *query);

#endif
