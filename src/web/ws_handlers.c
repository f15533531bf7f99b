/*
 * ws_handlers: the WebSocket side. CivetWeb runs these handlers on the
 * worker that owns the connection, in order: connect (admit and join the
 * group), ready (start the writer), data (once per frame, until it
 * returns 0), ws_on_close (the connection is gone: leave, join the
 * writer, free).
 *
 * Who touches what: the struct conn is its worker's from connect to
 * close, except what ws_sink.c says the writer thread writes and the
 * keepalive link (keepalive.c). The slot count is atomic; its last
 * release signals slots_empty under slots_lock.
 *
 * A member is joined in the connect handler, before the 101 goes out, so
 * every broadcast queued after the peer saw its upgrade reaches it.
 */
#include <civetweb.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/group.h"
#include "groupchat/actors/keepalive.h"
#include "groupchat/actors/manager.h"
#include "groupchat/actors/member.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/log.h"
#include "groupchat/gocompat/answers.h"
#include "groupchat/gocompat/http.h"
#include "groupchat/gocompat/route.h"
#include "groupchat/web/resume.h"
#include "server_ctx.h"

/* Gives back a member slot; server_stop waits for the last one. */
static void
ws_slot_free(struct server *srv)
{
	pthread_mutex_lock(&srv->slots_lock);
	if (atomic_fetch_sub(&srv->slots, 1) == 1)
		pthread_cond_broadcast(&srv->slots_empty);
	pthread_mutex_unlock(&srv->slots_lock);
}

static void
reject(struct mg_connection *conn, int status, const char *msg)
{
	http_error(conn, status, msg, strlen(msg), 0, 1);
}

/* Claims times a new member may draw its id again when another node
 * holds the one drawn. */
#define CLAIM_DRAWS 8

/* How long a join that found its group's incarnation replaced waits for
 * the old one's delete event before it asks the group to check. */
#define STALE_EVENT_MS 1000

/* Cluster mode: the group this node serves under id, counted in; NULL
 * after answering. */
static struct group *
ws_serve(struct server *srv, struct mg_connection *conn, const struct buf *id)
{
	struct group *g = manager_serve(srv->manager, (const char *)id->data, id->len);

	if (g == NULL) {
		if (errno == ENOMEM)
			reject(conn, 500, "Internal Server Error");
		else if (errno == ENOSPC)
			reject(conn, 503, "too many groups");
		else
			answer_redis_unavailable(conn);
	}
	return g;
}

/* Cluster mode: *gp, closed, is let go (and unlisted, if its delete
 * event has not done so: a resync that found it gone closes it but
 * leaves it listed) and the group now served under id taken instead (a
 * new one if the id was created again). 0, or -1 after answering (*gp is
 * then NULL). */
static int
ws_serve_again(struct server *srv, struct mg_connection *conn, const struct buf *id,
    struct group **gp)
{
	manager_unserve(srv->manager, *gp, true);
	group_unref(*gp);
	*gp = ws_serve(srv, conn, id);
	return *gp != NULL ? 0 : -1;
}

/*
 * Cluster mode: a member whose id no other node holds (drawn again when
 * one does, at most CLAIM_DRAWS times), in group *gp once the group knows
 * where it starts here. The claim also reads which incarnation of the
 * group Redis holds: if the group served here follows an older one (the
 * id was deleted and created again, and the delete event is not here
 * yet), the join waits for that event (or the group's check) to close it
 * and takes the new group instead; so does a join that finds its group
 * closed under it. Once each. 0; or -1 after answering (400 when the
 * group exists nowhere, else 503), with *gone set when *gp is to leave the
 * registry at once.
 */
static int
ws_connect_cluster(struct server *srv, struct mg_connection *conn, struct conn *cn,
    const struct buf *id, struct group **gp, int *gone)
{
	char now[REDIS_INC_LEN + 1];
	bool again = true;
	int i, rc = 0;

	while (group_attach(*gp, CLUSTER_WAIT_MS, cn->inc) == -1) {
		if (errno != ENOENT)
			goto unavailable;
		if (!again || !group_closed(*gp))
			goto gone;
		if (ws_serve_again(srv, conn, id, gp) == -1)
			return -1;
		again = false;
	}
	for (i = 0; i < CLAIM_DRAWS; i++) {
		if ((cn->member = member_new(srv->ids, srv->cfg.send_queue)) == NULL) {
			reject(conn, 500, "Internal Server Error");
			return -1;
		}
		if ((rc = cluster_claim(srv->cluster, cn->member, (const char *)id->data, id->len,
		    now)) == 1)
			break;
		member_unref(cn->member);
		cn->member = NULL;
		if (rc == -1)
			break;
	}
	if (cn->member == NULL)
		goto unavailable;
	if (!again || now[0] == '\0' || strcmp(now, cn->inc) == 0)
		return 0;
	/* Its delete event is on its way; if Redis lost it instead (no
	 * tombstone, no event), the group's check finds it gone. */
	if (group_wait_closed(*gp, STALE_EVENT_MS) == -1) {
		group_recheck(*gp);
		if (group_wait_closed(*gp, CLUSTER_WAIT_MS) == -1)
			goto unavailable;
	}
	if (ws_serve_again(srv, conn, id, gp) == -1)
		return -1;
	if (group_attach(*gp, CLUSTER_WAIT_MS, cn->inc) == 0)
		return 0;
	if (errno == ENOENT)
		goto gone;
unavailable:
	answer_redis_unavailable(conn);
	return -1;
gone:
	*gone = 1;
	answer_no_group(conn, id, 0, 1);
	return -1;
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
	struct position since;
	const char *why;
	int gone = 0, v1, rc = 0;
	char addr[CLIENT_ADDR_MAX];

	/* CivetWeb 1.15 never resets the accepted subprotocol between
	 * connections on a worker and accepts whatever is offered when no
	 * list is registered: the 101 names groupchat.v1 when it was offered
	 * (resume.c), and nothing otherwise, as the Go server. */
	v1 = resume_offered(conn);
	((struct mg_request_info *)ri)->acceptedWebSocketSubprotocol =
	    v1 ? RESUME_SUBPROTOCOL : NULL;

	if (atomic_load(&srv->stopping)) {
		reject(conn, 503, "server shutting down");
		return 1;
	}
	if (atomic_fetch_add(&srv->slots, 1) >= srv->cfg.max_clients) {
		atomic_fetch_sub(&srv->slots, 1);
		stats_add(&srv->stats, joins_refused, 1);
		access_addr(srv, conn, addr);
		log_event(LOG_WARN, "join_refused", "reason", "server full", "addr", addr, NULL);
		reject(conn, 503, "server full");
		return 1;
	}
	route_init(&r);
	if (route_match(&r, ri->request_method, ri->local_uri_raw,
	    strlen(ri->local_uri_raw), NULL) == -1 || r.kind != ROUTE_GROUP) {
		reject(conn, 400, "Bad Request");
		goto fail;
	}
	if (srv->cluster != NULL) {
		if ((g = ws_serve(srv, conn, &r.id)) == NULL)
			goto fail;
	} else if ((g = manager_lookup(srv->manager, (const char *)r.id.data, r.id.len)) == NULL) {
		goto gone;
	}
	if ((cn = calloc(1, sizeof(*cn))) == NULL)
		goto oom;
	cn->srv = srv;
	cn->mgc = conn;
	wsproto_init(&cn->proto, srv->cfg.max_message);
	buf_init(&cn->gather, WS_GATHER_MAX);
	if (srv->cluster != NULL) {
		if (ws_connect_cluster(srv, conn, cn, &r.id, &g, &gone) == -1)
			goto fail;
	} else if ((cn->member = member_new(srv->ids, srv->cfg.send_queue)) == NULL) {
		goto oom;
	}
	/* http_control.c refused a malformed since before the upgrade. */
	if (v1 && (rc = resume_since(ri->query_string, ri->query_string != NULL ?
	    strlen(ri->query_string) : 0, &since, &why)) == -1)
		goto oom;
	if (v1)
		member_set_v1(cn->member);
	if ((v1 ? group_join_since(g, cn->member, rc == 1 ? &since : NULL) :
	    group_join(g, cn->member)) == -1) {
		if (errno == EPIPE) {
			gone = 1;
			goto gone; /* deleted since the lookup */
		}
		/* The group thread cannot start: the server is short of
		 * threads or memory, which a retry may find again. */
		reject(conn, 503, "server overloaded");
		goto fail;
	}
	cn->group = g;  /* the one served now: a cluster join may have taken another */
	mg_set_user_connection_data(conn, cn);
	log_event_id(LOG_INFO, "join", "group", (const char *)r.id.data, r.id.len,
	    "client", member_id(cn->member), NULL);
	route_free(&r);
	return 0;
gone:
	answer_no_group(conn, &r.id, 0, 1);
	goto fail;
oom:
	reject(conn, 500, "Internal Server Error");
fail:
	if (cn != NULL) {
		if (cn->member != NULL && srv->cluster != NULL)
			cluster_release(srv->cluster, cn->member);
		if (cn->member != NULL)
			member_unref(cn->member);
		wsproto_free(&cn->proto);
		buf_free(&cn->gather);
		free(cn);
	}
	if (g != NULL && srv->cluster != NULL)
		manager_unserve(srv->manager, g, gone);
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
	struct member_sink sink = ws_sink(cn);

	(void)cbdata;
	if (member_start_writer(cn->member, cn->srv->writers, &sink) == -1) {
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
	keepalive_track(cn->srv->keepalive, &cn->ka, cn->member);
}

static int
ws_pong(struct conn *cn, const uint8_t *data, size_t len)
{
	uint8_t frame[FRAME_HEADER_MAX + 125];
	size_t h = frame_header(frame, FRAME_PONG, len);

	memcpy(frame + h, data, len);
	return ws_send_locked(cn, frame, h + len);
}

/* The worker ends the read loop: the data handler returns this. */
static int
ws_end(struct conn *cn, uint16_t code, const char *reason)
{
	atomic_store(&cn->worker_ends, true);
	member_close(cn->member, code, reason);
	return 0;
}

static void
log_protocol_error(const struct conn *cn, const char *reason)
{
	char addr[CLIENT_ADDR_MAX];

	access_addr(cn->srv, cn->mgc, addr);
	log_event(LOG_INFO, "protocol_error", "client", member_id(cn->member),
	    "reason", reason, "addr", addr, NULL);
}

static int
ws_data(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata)
{
	struct conn *cn = mg_get_user_connection_data(conn);
	struct wsproto_event ev;
	char prefix[CID_LEN + 4];
	struct frame *m;
	size_t idlen;

	(void)cbdata;
	keepalive_heard(&cn->ka);
	wsproto_feed(&cn->proto, (unsigned)bits, (const uint8_t *)data, len, &ev);
	switch (ev.verdict) {
	case WSPROTO_NONE:
		return 1;
	case WSPROTO_PING:
		/* A failed pong: the connection is broken or closing. */
		if (ws_pong(cn, ev.data, ev.len) == -1)
			return ws_end(cn, MEMBER_CLOSE_SILENT, "");
		return 1;
	case WSPROTO_MESSAGE:
		memcpy(prefix, member_id(cn->member), CID_LEN);
		memcpy(prefix + CID_LEN, " - ", 3);
		stats_add(&cn->srv->stats, msgs_in, 1);
		stats_add(&cn->srv->stats, bytes_in, ev.len);
		if (cn->srv->cluster != NULL) {
			/* Relayed through Redis, back to every node, this one
			 * included; or the sender is closed with 1013. */
			const char *gid = group_id(cn->group, &idlen);
			cluster_publish(cn->srv->cluster, gid, idlen, cn->inc, cn->member,
			    ev.opcode, prefix, CID_LEN + 3, ev.data, ev.len);
			return 1;
		}
		if ((m = frame_new(ev.opcode, prefix, CID_LEN + 3, ev.data, ev.len)) == NULL)
			return ws_end(cn, 1011, "out of memory");
		/* EPIPE: the group was deleted and our close is on its way. */
		group_broadcast(cn->group, m);
		frame_unref(m);
		return 1;
	case WSPROTO_CLOSE:
		/* Answer with the same code and no reason; if our own close went
		 * out first, this frame is the peer's answer and needs none. */
		cn->peer_code = ev.code != 0 ? ev.code : 1005;
		ws_send_close(cn, ev.code, "");
		return ws_end(cn, MEMBER_CLOSE_SILENT, "");
	case WSPROTO_FAIL:
		log_protocol_error(cn, ev.reason);
		return ws_end(cn, ev.code, ev.reason);
	}
	return 0;
}

static void
ws_on_close(const struct mg_connection *cconn, void *cbdata)
{
	struct conn *cn = mg_get_user_connection_data(cconn);
	struct server *srv = cbdata;
	uint16_t code, civetweb_code;
	size_t idlen;
	const char *id, *reason;
	char codestr[8];

	/* The read loop is over: the writer's close needs no flag. */
	atomic_store(&cn->worker_ends, true);
	/* CivetWeb ended it with a close frame of its own, at the header of
	 * a frame over --max-message (1009) or unmasked or with a length RFC
	 * 6455 forbids (1002): the member closes with that code, and the
	 * writer sends nothing more (ws_sink.c). */
	if ((civetweb_code = (uint16_t)mg_get_websocket_close_code(cconn)) != 0) {
		reason = civetweb_code == 1009 ? "message too big" : "bad frame header";
		log_event(LOG_INFO, "protocol_error", "client", member_id(cn->member),
		    "reason", reason, NULL);
		member_close(cn->member, civetweb_code, reason);
	}
	keepalive_untrack(srv->keepalive, &cn->ka);
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
	if (srv->cluster != NULL) {
		cluster_release(srv->cluster, cn->member);
		manager_unserve(srv->manager, cn->group, false);
	}
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
	    ws_data, ws_on_close, srv);
}
