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
 * A member is joined in the connect handler, before the 101 goes out, so
 * every broadcast queued after the client saw its upgrade reaches it.
 */
#include <civetweb.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/group.h"
#include "groupchat/actors/manager.h"
#include "groupchat/actors/member.h"
#include "groupchat/core/fault.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/log.h"
#include "groupchat/gocompat/http.h"
#include "groupchat/gocompat/route.h"
#include "server_ctx.h"

/* Frames up to this size are gathered into one buffer of at most this
 * size per connection, so a batch of small frames leaves in one send;
 * bigger frames are written straight from the shared msg bytes. */
#define GATHER_MAX (64 * 1024)

/* mg_write takes and returns an int: longer runs go out in chunks. */
#define WRITE_CHUNK ((size_t)1 << 30)

static void
live_link(struct server *srv, struct conn *cn)
{
	pthread_mutex_lock(&srv->live_lock);
	cn->prev = NULL;
	cn->next = srv->live;
	if (srv->live != NULL)
		srv->live->prev = cn;
	srv->live = cn;
	pthread_mutex_unlock(&srv->live_lock);
}

static void
live_unlink(struct server *srv, struct conn *cn)
{
	pthread_mutex_lock(&srv->live_lock);
	if (cn->prev != NULL)
		cn->prev->next = cn->next;
	else if (srv->live == cn)
		srv->live = cn->next;
	if (cn->next != NULL)
		cn->next->prev = cn->prev;
	cn->prev = cn->next = NULL;
	pthread_mutex_unlock(&srv->live_lock);
}

/* Writes len bytes, in chunks mg_write can count; the connection lock is
 * held. 0, or -1 on any failure (a short write leaves half a frame). */
static int
ws_write_all(struct conn *cn, const uint8_t *p, size_t len)
{
	size_t n;

	while (len > 0) {
		n = len < WRITE_CHUNK ? len : WRITE_CHUNK;
		if (mg_write(cn->mgc, p, n) != (int)n)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Writes one or more whole frames under the connection lock. After a close
 * frame nothing more may go out. A short write would leave half a frame on
 * the wire, so any failure ends the connection. */
static int
ws_send_locked(struct conn *cn, const void *p, size_t len)
{
	int rc = -1;

	mg_lock_connection(cn->mgc);
	if (!cn->close_sent)
		rc = ws_write_all(cn, p, len);
	mg_unlock_connection(cn->mgc);
	if (rc == -1)
		mg_disable_connection_keep_alive(cn->mgc);
	return rc;
}

/* Sends what is gathered (connection lock held). */
static int
ws_flush_gather(struct conn *cn)
{
	int rc = ws_write_all(cn, cn->gather.data, cn->gather.len);

	cn->gather.len = 0;
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
	struct conn *cn = ctx;
	int rc = 0, i;

	mg_lock_connection(cn->mgc);
	if (cn->close_sent)
		rc = -1;
	cn->gather.len = 0;
	for (i = 0; i < iovcnt && rc == 0; i++) {
		if (iov[i].iov_len > GATHER_MAX) {
			if ((rc = ws_flush_gather(cn)) == 0)
				rc = ws_write_all(cn, iov[i].iov_base, iov[i].iov_len);
			continue;
		}
		if (cn->gather.len + iov[i].iov_len > GATHER_MAX)
			rc = ws_flush_gather(cn);
		if (rc == 0)
			rc = buf_append(&cn->gather, iov[i].iov_base, iov[i].iov_len);
	}
	if (rc == 0)
		rc = ws_flush_gather(cn);
	mg_unlock_connection(cn->mgc);
	if (rc == -1)
		mg_disable_connection_keep_alive(cn->mgc);
	return rc;
}

/* Sends a close frame unless one went out already. close_sent is set only
 * when the frame was written whole; if it cannot be built or written, 0
 * is returned and the caller ends the connection without one. */
static int
ws_send_close(struct conn *cn, uint16_t code, const char *reason)
{
	struct frame *m = fault_hit(FAULT_CLOSE_FRAME) ? NULL : frame_new_close(code, reason);
	int sent = 0;

	mg_lock_connection(cn->mgc);
	if (cn->close_sent)
		sent = 1;
	else if (m != NULL && ws_write_all(cn, frame_data(m), frame_len(m)) == 0)
		sent = cn->close_sent = 1;
	mg_unlock_connection(cn->mgc);
	frame_unref(m);
	return sent;
}

static void
sink_close(void *ctx, uint16_t code, const char *reason)
{
	struct conn *cn = ctx;

	if (code != MEMBER_CLOSE_SILENT && !ws_send_close(cn, code, reason))
		log_event(LOG_WARN, "close_frame_failed", "client",
		    member_id(cn->member), NULL);
	/* The read loop notices within websocket_timeout_ms and ends; a peer
	 * that answers our close frame ends it sooner. */
	mg_disable_connection_keep_alive(cn->mgc);
}

/* Gives back a member slot; server_stop waits for the last one. */
static void
ws_slot_free(struct server *srv)
{
	pthread_mutex_lock(&srv->live_lock);
	if (atomic_fetch_sub(&srv->slots, 1) == 1)
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
	struct conn *cn = NULL;
	struct group *g = NULL;

	/* CivetWeb 1.15 never resets the accepted subprotocol between
	 * connections on a worker; we accept none, as the Go server. */
	((struct mg_request_info *)ri)->acceptedWebSocketSubprotocol = NULL;

	if (atomic_load(&srv->stopping)) {
		reject(conn, 503, "server shutting down");
		return 1;
	}
	if (atomic_fetch_add(&srv->slots, 1) >= srv->cfg.max_clients) {
		atomic_fetch_sub(&srv->slots, 1);
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
	if ((cn = calloc(1, sizeof(*cn))) == NULL)
		goto oom;
	cn->srv = srv;
	cn->mgc = conn;
	cn->group = g;
	wsproto_init(&cn->proto, srv->cfg.max_message);
	buf_init(&cn->gather, GATHER_MAX);
	atomic_store(&cn->last_rx_ms, server_now_ms());
	if ((cn->member = member_new(srv->ids, srv->cfg.send_queue)) == NULL)
		goto oom;
	if (group_join(g, cn->member) == -1) {
		if (errno == EPIPE)
			goto gone; /* deleted since the lookup */
		/* The group thread cannot start: the server is short of
		 * threads or memory, which a retry may find again. */
		reject(conn, 503, "server overloaded");
		goto fail;
	}
	mg_set_user_connection_data(conn, cn);
	log_event_id(LOG_INFO, "join", "group", (const char *)r.id.data, r.id.len,
	    "client", member_id(cn->member), NULL);
	route_free(&r);
	return 0;
gone:
	server_send_no_group(conn, &r.id, 0, 1);
	goto fail;
oom:
	reject(conn, 500, "Internal Server Error");
fail:
	if (cn != NULL) {
		if (cn->member != NULL)
			member_unref(cn->member);
		wsproto_free(&cn->proto);
		buf_free(&cn->gather);
		free(cn);
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
	struct conn *cn = mg_get_user_connection_data(conn);
	struct member_sink sink = { sink_write, sink_close, cn };

	(void)cbdata;
	if (member_start_writer(cn->member, &sink) == -1) {
		log_event(LOG_ERROR, "writer_failed", "client", member_id(cn->member),
		    "error", strerror(errno), NULL);
		/* Out of the group at once: a member with no writer would
		 * stall every fan-out, then be dropped as slow. */
		member_close(cn->member, 1011, "server overloaded");
		group_leave(cn->group, cn->member);
		ws_send_close(cn, 1011, "server overloaded");
		mg_disable_connection_keep_alive(conn);
		return;
	}
	live_link(cn->srv, cn);
}

static void
ws_pong(struct conn *cn, const uint8_t *data, size_t len)
{
	uint8_t frame[FRAME_HEADER_MAX + 125];
	size_t h = frame_header(frame, FRAME_PONG, len);

	memcpy(frame + h, data, len);
	ws_send_locked(cn, frame, h + len);
}

static int
ws_data(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata)
{
	struct conn *cn = mg_get_user_connection_data(conn);
	struct wsproto_event ev;
	char prefix[CID_LEN + 4];
	struct frame *m;

	(void)cbdata;
	atomic_store_explicit(&cn->last_rx_ms, server_now_ms(), memory_order_relaxed);
	wsproto_feed(&cn->proto, (unsigned)bits, (const uint8_t *)data, len, &ev);
	switch (ev.verdict) {
	case WSPROTO_NONE:
		return 1;
	case WSPROTO_PING:
		ws_pong(cn, ev.data, ev.len);
		return 1;
	case WSPROTO_MESSAGE:
		memcpy(prefix, member_id(cn->member), CID_LEN);
		memcpy(prefix + CID_LEN, " - ", 3);
		if ((m = frame_new(ev.opcode, prefix, CID_LEN + 3, ev.data, ev.len)) == NULL) {
			member_close(cn->member, 1011, "out of memory");
			return 0;
		}
		stats_add(&cn->srv->stats, msgs_in, 1);
		stats_add(&cn->srv->stats, bytes_in, ev.len);
		/* EPIPE: the group was deleted and our close is on its way. */
		group_broadcast(cn->group, m);
		frame_unref(m);
		return 1;
	case WSPROTO_CLOSE:
		/* Answer with the same code and no reason; if our own close went
		 * out first, this frame is the peer's answer and needs none. */
		cn->peer_code = ev.code != 0 ? ev.code : 1005;
		ws_send_close(cn, ev.code, "");
		member_close(cn->member, MEMBER_CLOSE_SILENT, "");
		return 0;
	case WSPROTO_FAIL:
		log_event(LOG_INFO, "protocol_error", "client", member_id(cn->member),
		    "reason", ev.reason, NULL);
		member_close(cn->member, ev.code, ev.reason);
		return 0;
	}
	return 0;
}

static void
ws_close(const struct mg_connection *cconn, void *cbdata)
{
	struct conn *cn = mg_get_user_connection_data(cconn);
	struct server *srv = cbdata;
	uint16_t code;
	size_t idlen;
	const char *id;
	char codestr[8];

	live_unlink(srv, cn);
	group_leave(cn->group, cn->member);
	member_join_writer(cn->member);
	code = member_close_code(cn->member);
	if (code == MEMBER_CLOSE_SILENT)
		code = cn->peer_code != 0 ? cn->peer_code : 1006;
	stats_count_close(&srv->stats, code);
	snprintf(codestr, sizeof(codestr), "%u", code);
	id = group_id(cn->group, &idlen);
	log_event_id(LOG_INFO, "leave", "group", id, idlen, "client",
	    member_id(cn->member), "code", codestr, NULL);
	mg_set_user_connection_data(cconn, NULL);
	member_unref(cn->member);
	group_unref(cn->group);
	wsproto_free(&cn->proto);
	buf_free(&cn->gather);
	free(cn);
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
