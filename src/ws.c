/*
 * ws: the WebSocket side. CivetWeb runs these handlers on the worker that
 * owns the connection, in order: connect (admit and join the group),
 * ready (start the writer), data (once per frame, until it returns 0),
 * close (leave, join the writer, free).
 *
 * Who writes to the connection: the client's writer thread writes every
 * data frame and the close frame of a server-side close; this worker
 * writes only pongs and the reply to the peer's close. Both go through
 * mg_lock_connection, and close_sent (under that lock) makes sure nothing
 * follows a close frame.
 *
 * Who ends the read loop: the worker itself (its data handler returns 0,
 * or its ready handler failed) whenever it decides, and then it sets
 * worker_ends first; otherwise (group delete, slow consumer, ping timeout,
 * shutdown, a failed write) the writer calls
 * mg_disable_connection_keep_alive after its close frame, the one
 * cross-thread store CivetWeb 1.15 offers (docs/design.md, CivetWeb
 * quirks).
 *
 * A member is joined in the connect handler, before the 101 goes out, so
 * every broadcast queued after the client saw its upgrade reaches it.
 */
#include <civetweb.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/client.h"
#include "groupchat/group.h"
#include "groupchat/http.h"
#include "groupchat/log.h"
#include "groupchat/manager.h"
#include "groupchat/msg.h"
#include "groupchat/route.h"
#include "server_ctx.h"

/* Frames up to this size are gathered into one buffer of at most this
 * size per connection, so a batch of small frames leaves in one send;
 * bigger frames are written straight from the shared msg bytes. */
#define GATHER_MAX (64 * 1024)

/* mg_write takes and returns an int: longer runs go out in chunks. */
#define WRITE_CHUNK ((size_t)1 << 30)

static void
live_link(struct server *srv, struct ws *ws)
{
	pthread_mutex_lock(&srv->live_lock);
	ws->prev = NULL;
	ws->next = srv->live;
	if (srv->live != NULL)
		srv->live->prev = ws;
	srv->live = ws;
	pthread_mutex_unlock(&srv->live_lock);
}

static void
live_unlink(struct server *srv, struct ws *ws)
{
	pthread_mutex_lock(&srv->live_lock);
	if (ws->prev != NULL)
		ws->prev->next = ws->next;
	else if (srv->live == ws)
		srv->live = ws->next;
	if (ws->next != NULL)
		ws->next->prev = ws->prev;
	ws->prev = ws->next = NULL;
	pthread_mutex_unlock(&srv->live_lock);
}

/* Writes len bytes, in chunks mg_write can count; the connection lock is
 * held. 0, or -1 on any failure (a short write leaves half a frame). */
static int
ws_write_all(struct ws *ws, const uint8_t *p, size_t len)
{
	size_t n;

	while (len > 0) {
		n = len < WRITE_CHUNK ? len : WRITE_CHUNK;
		if (mg_write(ws->conn, p, n) != (int)n)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Writes one or more whole frames under the connection lock; the worker's
 * call. After a close frame nothing more may go out: -1. A short write
 * would leave half a frame on the wire, so the caller ends the connection
 * on any failure. */
static int
ws_send_locked(struct ws *ws, const void *p, size_t len)
{
	int rc = -1;

	mg_lock_connection(ws->conn);
	if (!ws->close_sent)
		rc = ws_write_all(ws, p, len);
	mg_unlock_connection(ws->conn);
	return rc;
}

/* Sends what is gathered (connection lock held). */
static int
ws_flush_gather(struct ws *ws)
{
	int rc = ws_write_all(ws, ws->gather.data, ws->gather.len);

	ws->gather.len = 0;
	return rc;
}

/*
 * CivetWeb has no writev. Small frames are gathered (at most GATHER_MAX
 * bytes, a buffer kept per connection) so a batch leaves in few sends;
 * a frame bigger than that is written from the shared msg itself, never
 * copied. One lock for the whole batch keeps frames whole and in order.
 */
static int
sink_write(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct ws *ws = ctx;
	int rc = 0, i;

	mg_lock_connection(ws->conn);
	if (ws->close_sent)
		rc = -1;
	ws->gather.len = 0;
	for (i = 0; i < iovcnt && rc == 0; i++) {
		if (iov[i].iov_len > GATHER_MAX) {
			if ((rc = ws_flush_gather(ws)) == 0)
				rc = ws_write_all(ws, iov[i].iov_base, iov[i].iov_len);
			continue;
		}
		if (ws->gather.len + iov[i].iov_len > GATHER_MAX)
			rc = ws_flush_gather(ws);
		if (rc == 0)
			rc = buf_append(&ws->gather, iov[i].iov_base, iov[i].iov_len);
	}
	if (rc == 0)
		rc = ws_flush_gather(ws);
	mg_unlock_connection(ws->conn);
	/* On -1 the writer closes the client; sink_close ends the loop. */
	return rc;
}

/* Sends a close frame unless one went out already. The frame is built on
 * the stack (at most 127 bytes), so only the write can fail: close_sent is
 * set only when the frame went out whole, and on 0 the caller ends the
 * connection without one. */
static int
ws_send_close(struct ws *ws, uint16_t code, const char *reason)
{
	uint8_t frame[MSG_CLOSE_FRAME_MAX];
	size_t len = msg_close_frame(frame, code, reason);
	int sent = 1;

	mg_lock_connection(ws->conn);
	if (!ws->close_sent) {
		sent = ws_write_all(ws, frame, len) == 0;
		ws->close_sent = sent;
	}
	mg_unlock_connection(ws->conn);
	return sent;
}

static void
sink_close(void *ctx, uint16_t code, const char *reason)
{
	struct ws *ws = ctx;

	if (code != CLIENT_CLOSE_SILENT && !ws_send_close(ws, code, reason))
		log_event(LOG_WARN, "close_frame_failed", "client",
		    client_id(ws->client), NULL);
	/* Unless the worker is ending the loop itself, it notices this flag
	 * within websocket_timeout_ms and ends; a peer that answers our close
	 * frame ends it sooner. */
	if (!atomic_load(&ws->worker_ends))
		mg_disable_connection_keep_alive(ws->conn);
}

/* Gives back a member slot; server_stop waits for the last one. */
static void
ws_slot_free(struct server *srv)
{
	pthread_mutex_lock(&srv->live_lock);
	if (atomic_fetch_sub(&srv->members, 1) == 1)
		pthread_cond_broadcast(&srv->live_cond);
	pthread_mutex_unlock(&srv->live_lock);
}

static void
reject(struct mg_connection *conn, int status, const char *msg)
{
	http_error(conn, status, msg, strlen(msg), 0, 1);
}

static int
ws_connect(const struct mg_connection *cconn, void *cbdata)
{
	struct mg_connection *conn = (struct mg_connection *)cconn;
	struct server *srv = cbdata;
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct route r;
	struct ws *ws = NULL;
	struct group *g = NULL;

	/* CivetWeb 1.15 never resets the accepted subprotocol between
	 * connections on a worker; we accept none, as the Go server. */
	((struct mg_request_info *)ri)->acceptedWebSocketSubprotocol = NULL;

	if (atomic_load(&srv->stopping)) {
		reject(conn, 503, "server shutting down");
		return 1;
	}
	if (atomic_fetch_add(&srv->members, 1) >= srv->cfg.max_clients) {
		atomic_fetch_sub(&srv->members, 1);
		stats_add(&srv->stats, joins_refused, 1);
		log_event(LOG_WARN, "join_refused", "reason", "server full", NULL);
		reject(conn, 503, "server full");
		return 1;
	}
	route_init(&r);
	if (route_match(&r, ri->request_method, ri->local_uri_raw,
	    strlen(ri->local_uri_raw), NULL) == -1 || r.kind != ROUTE_GROUP) {
		reject(conn, 400, "Bad Request");
		goto fail;
	}
	if ((g = manager_lookup(srv->manager, (const char *)r.id.data, r.id.len)) == NULL)
		goto gone;
	if ((ws = calloc(1, sizeof(*ws))) == NULL)
		goto oom;
	ws->srv = srv;
	ws->conn = conn;
	ws->group = g;
	wsproto_init(&ws->proto, srv->cfg.max_message);
	buf_init(&ws->gather, GATHER_MAX);
	atomic_store(&ws->last_rx_ms, server_now_ms());
	if ((ws->client = client_new(srv->ids, srv->cfg.send_queue)) == NULL)
		goto oom;
	if (group_join(g, ws->client) == -1) {
		if (errno == EPIPE)
			goto gone; /* deleted since the lookup */
		/* The group thread cannot start: the server is short of
		 * threads or memory, which a retry may find again. */
		reject(conn, 503, "server overloaded");
		goto fail;
	}
	mg_set_user_connection_data(conn, ws);
	log_event_id(LOG_INFO, "join", "group", (const char *)r.id.data, r.id.len,
	    "client", client_id(ws->client), NULL);
	route_free(&r);
	return 0;
gone:
	server_send_no_group(conn, &r.id, 0, 1);
	goto fail;
oom:
	reject(conn, 500, "Internal Server Error");
fail:
	if (ws != NULL) {
		if (ws->client != NULL)
			client_unref(ws->client);
		wsproto_free(&ws->proto);
		buf_free(&ws->gather);
		free(ws);
	}
	if (g != NULL)
		group_unref(g);
	route_free(&r);
	ws_slot_free(srv);
	return 1;
}

static void
ws_ready(struct mg_connection *conn, void *cbdata)
{
	struct ws *ws = mg_get_user_connection_data(conn);
	struct client_sink sink = { sink_write, sink_close, ws };

	(void)cbdata;
	if (client_start_writer(ws->client, &sink) == -1) {
		log_event(LOG_ERROR, "writer_failed", "client", client_id(ws->client),
		    "error", strerror(errno), NULL);
		/* Out of the group at once: a member with no writer would
		 * stall every fan-out, then be dropped as slow. */
		client_close(ws->client, 1011, "server overloaded");
		group_leave(ws->group, ws->client);
		ws_send_close(ws, 1011, "server overloaded");
		mg_disable_connection_keep_alive(conn);
		return;
	}
	live_link(ws->srv, ws);
}

static int
ws_pong(struct ws *ws, const uint8_t *data, size_t len)
{
	uint8_t frame[MSG_HEADER_MAX + 125];
	size_t h = msg_frame_header(frame, MSG_PONG, len);

	memcpy(frame + h, data, len);
	return ws_send_locked(ws, frame, h + len);
}

/* The worker ends the read loop: the data handler returns this. */
static int
ws_end(struct ws *ws, uint16_t code, const char *reason)
{
	atomic_store(&ws->worker_ends, true);
	client_close(ws->client, code, reason);
	return 0;
}

static int
ws_data(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata)
{
	struct ws *ws = mg_get_user_connection_data(conn);
	struct wsproto_event ev;
	char prefix[CID_LEN + 4];
	struct msg *m;

	(void)cbdata;
	atomic_store_explicit(&ws->last_rx_ms, server_now_ms(), memory_order_relaxed);
	wsproto_feed(&ws->proto, (unsigned)bits, (const uint8_t *)data, len, &ev);
	switch (ev.verdict) {
	case WSPROTO_NONE:
		return 1;
	case WSPROTO_PING:
		/* A failed pong: the connection is broken or closing. */
		if (ws_pong(ws, ev.data, ev.len) == -1)
			return ws_end(ws, CLIENT_CLOSE_SILENT, "");
		return 1;
	case WSPROTO_MESSAGE:
		memcpy(prefix, client_id(ws->client), CID_LEN);
		memcpy(prefix + CID_LEN, " - ", 3);
		if ((m = msg_new(ev.opcode, prefix, CID_LEN + 3, ev.data, ev.len)) == NULL)
			return ws_end(ws, 1011, "out of memory");
		stats_add(&ws->srv->stats, msgs_in, 1);
		stats_add(&ws->srv->stats, bytes_in, ev.len);
		/* EPIPE: the group was deleted and our close is on its way. */
		group_broadcast(ws->group, m);
		msg_unref(m);
		return 1;
	case WSPROTO_CLOSE:
		/* Answer with the same code and no reason; if our own close went
		 * out first, this frame is the peer's answer and needs none. */
		ws->peer_code = ev.code != 0 ? ev.code : 1005;
		ws_send_close(ws, ev.code, "");
		return ws_end(ws, CLIENT_CLOSE_SILENT, "");
	case WSPROTO_FAIL:
		log_event(LOG_INFO, "protocol_error", "client", client_id(ws->client),
		    "reason", ev.reason, NULL);
		return ws_end(ws, ev.code, ev.reason);
	}
	return 0;
}

static void
ws_close(const struct mg_connection *cconn, void *cbdata)
{
	struct ws *ws = mg_get_user_connection_data(cconn);
	struct server *srv = cbdata;
	uint16_t code;
	size_t idlen;
	const char *id;
	char codestr[8];

	/* The read loop is over: the writer's close needs no flag. */
	atomic_store(&ws->worker_ends, true);
	live_unlink(srv, ws);
	group_leave(ws->group, ws->client);
	client_join_writer(ws->client);
	code = client_close_code(ws->client);
	if (code == CLIENT_CLOSE_SILENT)
		code = ws->peer_code != 0 ? ws->peer_code : 1006;
	stats_count_close(&srv->stats, code);
	snprintf(codestr, sizeof(codestr), "%u", code);
	id = group_id(ws->group, &idlen);
	log_event_id(LOG_INFO, "leave", "group", id, idlen, "client",
	    client_id(ws->client), "code", codestr, NULL);
	mg_set_user_connection_data(cconn, NULL);
	client_unref(ws->client);
	group_unref(ws->group);
	wsproto_free(&ws->proto);
	buf_free(&ws->gather);
	free(ws);
	ws_slot_free(srv);
}

void
ws_register(struct server *srv)
{
	/* "**" matches every path (CivetWeb 1.15 match_prefix on local_uri):
	 * begin_request has already routed the raw path as Go does and let
	 * through only upgrades to a group, escaped spellings such as
	 * /%67roups/x included, and ws_connect routes it the same way. */
	mg_set_websocket_handler(srv->mg, "**", ws_connect, ws_ready,
	    ws_data, ws_close, srv);
}
