/*
 * http_handlers: the HTTP side. Every request passes through
 * begin_request, which routes the raw path exactly as Go's ServeMux does
 * and answers it with a response written whole (gocompat/http.c,
 * gocompat/answers.c). Only a valid WebSocket upgrade to an existing
 * group is handed back to CivetWeb (return 0), which then runs the
 * handlers in ws_handlers.c.
 *
 * CivetWeb runs with decode_url=no so that local_uri_raw is the path as
 * sent: Go splits /groups/{id} on '/' before unescaping, and so must we.
 * Requests CivetWeb refuses reach http_error_cb; the two it drops without
 * a word ('*', absolute-form naming another port) reach connection_closed.
 *
 * Who touches what: all three callbacks run on the connection's CivetWeb
 * worker; they read the server context and call the manager, never a
 * group's members.
 */
#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/group.h"
#include "groupchat/actors/manager.h"
#include "groupchat/core/buf.h"
#include "groupchat/core/log.h"
#include "groupchat/gocompat/answers.h"
#include "groupchat/gocompat/form.h"
#include "groupchat/gocompat/http.h"
#include "groupchat/gocompat/route.h"
#include "groupchat/web/report.h"
#include "groupchat/web/webui.h"
#include "server_ctx.h"

/* gorilla's isValidChallengeKey: base64 of exactly 16 bytes. */
static int
valid_ws_key(const char *k)
{
	size_t n;

	if (k == NULL || strlen(k) != 24 || k[22] != '=' || k[23] != '=')
		return 0;
	for (n = 0; n < 22; n++) {
		char c = k[n];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return 0;
	}
	/* The last character before the padding carries 2 bits only. */
	return strchr("AQgw", k[21]) != NULL;
}

/* The checks gorilla's Upgrader makes, in its order. 0 if the request is
 * a valid upgrade, else the status to answer with. */
static int
upgrade_status(const struct server *srv, const struct mg_connection *conn,
    const char *method)
{
	if (!http_header_has_token(mg_get_header(conn, "Connection"), "upgrade") ||
	    !http_header_has_token(mg_get_header(conn, "Upgrade"), "websocket"))
		return 400;
	if (strcmp(method, "GET") != 0)
		return 405;
	const char *v = mg_get_header(conn, "Sec-WebSocket-Version");
	if (v == NULL || strcmp(v, "13") != 0)
		return 400;
	if (!config_origin_allowed(&srv->cfg, mg_get_header(conn, "Origin")))
		return 403;
	if (!valid_ws_key(mg_get_header(conn, "Sec-WebSocket-Key")))
		return 400;
	return 0;
}

/* The manager refused a request: it is stopping (EPIPE), or out of memory. */
static int
send_registry_error(struct mg_connection *conn)
{
	if (errno == EPIPE) {
		http_error(conn, 503, "server shutting down", 20, 0, 1);
		return 503;
	}
	http_error(conn, 500, "Internal Server Error", 21, 0, 1);
	return 500;
}

/* Cluster mode: Redis did not answer (down, slow, or an error). */
static int
send_redis_error(struct mg_connection *conn)
{
	http_error(conn, 503, "redis unavailable", 17, 0, 1);
	return 503;
}

/* Cluster mode: exactly one of many racing creates, on any node, gets 201. */
static int
create_cluster(struct server *srv, struct mg_connection *conn, const struct buf *id)
{
	switch (cluster_create(srv->cluster, (const char *)id->data, id->len)) {
	case 1:
		log_event_id(LOG_INFO, "group_created", "group", (const char *)id->data, id->len, NULL);
		answer_json_message(conn, 201, "created group with id: ", id, 0);
		return 201;
	case 0:
		http_error(conn, 400, "id already exists", 17, 0, 0);
		return 400;
	default:
		return send_redis_error(conn);
	}
}

/* Cluster mode: 200 once Redis deleted the group; its members here and on
 * every other node are closed when the delete event comes back. */
static int
delete_cluster(struct server *srv, struct mg_connection *conn, const struct buf *id)
{
	switch (cluster_delete(srv->cluster, (const char *)id->data, id->len)) {
	case 1:
		log_event_id(LOG_INFO, "group_deleted", "group", (const char *)id->data, id->len, NULL);
		answer_json_message(conn, 200, "deleted group with id: ", id, 0);
		return 200;
	case 0:
		answer_no_group(conn, id, 0, 0);
		return 400;
	default:
		return send_redis_error(conn);
	}
}

static int
handle_create(struct server *srv, struct mg_connection *conn, const char *query)
{
	struct buf id;
	int rc;

	buf_init(&id, 0);
	rc = query == NULL ? 0 : form_query_get(query, strlen(query), "id", &id);
	if (rc == -1) {
		http_error(conn, 500, "out of memory", 13, 0, 1);
		rc = 500;
	} else if (id.len == 0) {
		http_error(conn, 400, "invalid id", 10, 0, 0);
		rc = 400;
	} else if (srv->cluster != NULL) {
		rc = create_cluster(srv, conn, &id);
	} else {
		switch (manager_create(srv->manager, (const char *)id.data, id.len)) {
		case MANAGER_CREATED:
			log_event_id(LOG_INFO, "group_created", "group", (const char *)id.data, id.len, NULL);
			answer_json_message(conn, 201, "created group with id: ", &id, 0);
			rc = 201;
			break;
		case MANAGER_EXISTS:
			http_error(conn, 400, "id already exists", 17, 0, 0);
			rc = 400;
			break;
		case MANAGER_FULL:
			http_error(conn, 503, "too many groups", 15, 0, 0);
			rc = 503;
			break;
		default:
			rc = send_registry_error(conn);
		}
	}
	buf_free(&id);
	return rc;
}

static int
handle_group(struct server *srv, struct mg_connection *conn, const char *method,
    const struct buf *id)
{
	int head = strcmp(method, "HEAD") == 0, status;
	struct group *g;

	if (strcmp(method, "DELETE") == 0 && srv->cluster != NULL)
		return delete_cluster(srv, conn, id);
	if (strcmp(method, "DELETE") == 0) {
		switch (manager_delete(srv->manager, (const char *)id->data, id->len)) {
		case MANAGER_DELETED:
			log_event_id(LOG_INFO, "group_deleted", "group", (const char *)id->data, id->len, NULL);
			answer_json_message(conn, 200, "deleted group with id: ", id, 0);
			return 200;
		case MANAGER_NOT_FOUND:
			answer_no_group(conn, id, 0, 0);
			return 400;
		default:
			return send_registry_error(conn);
		}
	}
	/* GET or HEAD: Go looks the group up before it tries to upgrade. */
	if (srv->cluster != NULL) {
		switch (cluster_exists(srv->cluster, (const char *)id->data, id->len)) {
		case 1:
			break;
		case 0:
			answer_no_group(conn, id, head, 0);
			return 400;
		default:
			return send_redis_error(conn);
		}
	} else if ((g = manager_lookup(srv->manager, (const char *)id->data, id->len)) == NULL) {
		answer_no_group(conn, id, head, 0);
		return 400;
	} else {
		group_unref(g);
	}
	if ((status = upgrade_status(srv, conn, method)) != 0) {
		answer_bad_upgrade(conn, status, head);
		return status;
	}
	return 0; /* CivetWeb upgrades; ws_handlers.c takes over. */
}

/* In cluster mode 503 with one line, "redis: <reason>", while any link
 * to Redis is down. */
static int
handle_healthz(struct server *srv, struct mg_connection *conn, int head)
{
	char why[200];
	struct http_response r = {
		.status = 200,
		.content_type = "text/plain; charset=utf-8",
		.body = "ok\n",
		.body_len = 3,
		.head = head,
	};

	if (srv->cluster != NULL && !cluster_up(srv->cluster, why, sizeof(why) - 1)) {
		strcat(why, "\n");
		r.status = 503;
		r.body = why;
		r.body_len = strlen(why);
	}

	http_send(conn, &r);
	return r.status;
}

/* GET /stats, /metrics and / : a body rendered into a buffer. */
static int
handle_document(struct server *srv, struct mg_connection *conn,
    enum route_kind kind, int head)
{
	struct http_response r = { .status = 200, .head = head };
	struct buf b;
	int rc = 0;

	buf_init(&b, 0);
	switch (kind) {
	case ROUTE_STATS:
		if (srv->cluster != NULL)
			cluster_counts(srv->cluster, &srv->stats);
		r.content_type = "application/json";
		rc = report_json(&srv->stats, srv->manager, srv->cfg.stats_groups, &b);
		break;
	case ROUTE_METRICS:
		if (srv->cluster != NULL)
			cluster_counts(srv->cluster, &srv->stats);
		r.content_type = "text/plain; version=0.0.4; charset=utf-8";
		rc = report_prometheus(&srv->stats, srv->manager,
		    srv->cfg.stats_groups, &b);
		break;
	default:
		r.content_type = "text/html; charset=utf-8";
		r.body = webui_page(&r.body_len);
	}
	if (rc == -1) {
		http_error(conn, 500, "Internal Server Error", 21, head, 0);
		buf_free(&b);
		return 500;
	}
	if (r.body == NULL) {
		r.body = b.data;
		r.body_len = b.len;
	}
	http_send(conn, &r);
	buf_free(&b);
	return 200;
}

/*
 * Go's parseRequestLine cuts the line at its first two spaces and refuses
 * a version that is not "HTTP/1.x", so any other space (two between the
 * words, one inside the target) gets the bare 400. CivetWeb skips runs of
 * spaces and ends the target at its first space, so "GET /a b HTTP/1.1"
 * reaches us as the target "/a" with a mangled version. 1 if the line was
 * METHOD SP TARGET SP HTTP/1.x: the three words lie in CivetWeb's copy of
 * the head one byte apart. uri_end: where the target ended on the wire.
 */
static int
request_line_exact(const struct mg_request_info *ri, const char *uri_end)
{
	const char *v = ri->http_version;

	return ri->request_uri == ri->request_method + strlen(ri->request_method) + 1 &&
	    v == uri_end + 1 + strlen("HTTP/") &&
	    (strcmp(v, "1.1") == 0 || strcmp(v, "1.0") == 0);
}

/* Set when http_error_cb answered the connection's last request, which
 * CivetWeb then ends; see connection_closed. A connection's requests, its
 * error callback and its close callback all run on one worker thread. */
static _Thread_local int error_answered;

/* Where the request target ended on the wire: CivetWeb has cut the query
 * out of it by now. */
static const char *
target_end(const struct mg_request_info *ri)
{
	if (ri->query_string != NULL)
		return ri->query_string + strlen(ri->query_string);
	return ri->request_uri + strlen(ri->request_uri);
}

/* Answers a request its route takes, past the refusal and access checks.
 * The status answered, or 0 for an upgrade handed back to CivetWeb. */
static int
dispatch(struct server *srv, struct mg_connection *conn, const char *method,
    const struct route *r, const char *query)
{
	int head = strcmp(method, "HEAD") == 0;

	switch (r->kind) {
	case ROUTE_CREATE:
		return handle_create(srv, conn, query);
	case ROUTE_GROUP:
		return handle_group(srv, conn, method, &r->id);
	case ROUTE_HEALTHZ:
		return handle_healthz(srv, conn, head);
	default:
		return handle_document(srv, conn, r->kind, head);
	}
}

/* Every request, in Go's order: the request line, the mux's routing of
 * the raw path and its own answers (answer_refusal), then access control
 * and the route's handler. */
static int
begin_request(struct mg_connection *conn)
{
	struct server *srv = mg_get_user_data(mg_get_context(conn));
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *method = ri->request_method, *path = ri->local_uri_raw;
	struct route r;
	int status;

	error_answered = 0;
	if (path == NULL || !request_line_exact(ri, target_end(ri))) {
		answer_bare_400(conn);
		return 400;
	}
	route_init(&r);
	if (route_match(&r, method, path, strlen(path), ri->query_string) == -1) {
		http_error(conn, 500, "out of memory", 13, 0, 1);
		route_free(&r);
		return 500;
	}
	if ((status = answer_refusal(conn, method, &r, 0)) == 0 &&
	    (status = access_check(srv, conn, method, &r, ri->query_string)) == 0)
		status = dispatch(srv, conn, method, &r, ri->query_string);
	route_free(&r);
	return status;
}

/*
 * CivetWeb answers requests it refuses before begin_request (a method it
 * does not know, such as "post" or "FOO"; bad headers; an unsupported
 * HTTP version) with its own error page. Go routes an unknown method like
 * any other, so when the request line parsed we route it too; otherwise
 * we give Go's bare status answer. Returning 0 tells CivetWeb we replied.
 */
static int
http_error_cb(struct mg_connection *conn, int status, const char *msg)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	char text[64];
	int n;

	(void)msg;
	error_answered = 1;
	/* A request line CivetWeb could not parse to its end leaves the
	 * version unset or mangled: Go's bare 400 (request_line_exact). */
	if (status == 400 && ri->request_method != NULL && ri->request_uri != NULL &&
	    ri->http_version != NULL && ri->request_uri[0] == '/' &&
	    request_line_exact(ri, ri->request_uri + strlen(ri->request_uri))) {
		const char *uri = ri->request_uri, *q = strchr(uri, '?');
		size_t plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
		struct route r;

		route_init(&r);
		/* A route that takes the method means a header was refused. */
		if (route_match(&r, ri->request_method, uri, plen, q != NULL ? q + 1 : NULL) == -1 ||
		    answer_refusal(conn, ri->request_method, &r, 1) == 0)
			answer_bare_400(conn);
		route_free(&r);
		mg_disable_connection_keep_alive(conn);
		return 0;
	}
	/* Go answers a bad Content-Length with its bare 400. */
	if (status == 411) {
		answer_bare_400(conn);
		return 0;
	}
	n = snprintf(text, sizeof(text), "%d %s", status, http_status_text(status));
	http_send(conn, &(struct http_response){ .status = status,
	    .content_type = "text/plain; charset=utf-8",
	    .body = text, .body_len = (size_t)n, .close = 1 });
	return 0;
}

/*
 * CivetWeb drops two forms of parsed request without a callback and without
 * a byte of answer: the target "*", and an absolute-form target it does not
 * take as naming this server (another port; with the domain check off it
 * maps the rest to their path). Its close callback still sees the request,
 * with no local URI, on the same worker, before the socket closes, so we
 * answer there as Go does: OPTIONS * gets 200 with Content-Length: 0, any
 * other "*" a 400 with no body (ServeMux), the rest the bare 400.
 */
static void
connection_closed(const struct mg_connection *cconn)
{
	struct mg_connection *conn = (struct mg_connection *)cconn;
	const struct mg_request_info *ri = mg_get_request_info(cconn);
	int answered = error_answered;

	error_answered = 0;
	if (answered || ri->local_uri != NULL || ri->request_method == NULL ||
	    ri->request_uri == NULL || ri->http_version == NULL)
		return;
	if (!request_line_exact(ri, ri->request_uri + strlen(ri->request_uri)) ||
	    strcmp(ri->request_uri, "*") != 0)
		answer_bare_400(conn);
	else
		http_send(conn, &(struct http_response){ .close = 1,
		    .status = strcmp(ri->request_method, "OPTIONS") == 0 ? 200 : 400 });
}

void
http_handlers_set(struct mg_callbacks *cb)
{
	cb->begin_request = begin_request;
	cb->http_error = http_error_cb;
	cb->connection_close = connection_closed;
}
