/*
 * http_control: the handlers of the routes a request may take once
 * begin_request (http_handlers.c) has routed it and passed its refusal
 * and access checks: POST /create, DELETE and GET /groups/{id} (the
 * lookup, then the checks gorilla's Upgrader makes, in its order),
 * /healthz, and the documents /stats, /metrics and the page at /. Each
 * answers with a response written whole (gocompat/http.c,
 * gocompat/answers.c), or hands a valid upgrade back to CivetWeb.
 * Without --redis a group request goes to the manager; with it, to the
 * cluster (Redis decides, the node's registry follows its events).
 *
 * Who touches what: runs on the request's CivetWeb worker; reads the
 * server context and calls the manager or the cluster, never a group's
 * members.
 */
#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
#include "groupchat/web/resume.h"
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
	case 2:
		http_error(conn, 503, "too many groups", 15, 0, 0);
		return 503;
	default:
		return answer_redis_unavailable(conn);
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
		return answer_redis_unavailable(conn);
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
    const struct buf *id, const char *query)
{
	int head = strcmp(method, "HEAD") == 0, status;
	struct group *g;
	struct position since;
	const char *why;
	char msg[80];

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
			return answer_redis_unavailable(conn);
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
	/* A groupchat.v1 join's since must be a position, or the join ends
	 * here. */
	if (resume_offered(conn) &&
	    resume_since(query, query != NULL ? strlen(query) : 0, &since, &why) == -1) {
		if (errno == ENOMEM) {
			http_error(conn, 500, "Internal Server Error", 21, 0, 1);
			return 500;
		}
		snprintf(msg, sizeof(msg), "invalid since: %s", why);
		http_error(conn, 400, msg, strlen(msg), 0, 0);
		return 400;
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

int
http_control_answer(struct server *srv, struct mg_connection *conn, const char *method,
    const struct route *r, const char *query)
{
	int head = strcmp(method, "HEAD") == 0;

	switch (r->kind) {
	case ROUTE_CREATE:
		return handle_create(srv, conn, query);
	case ROUTE_GROUP:
		return handle_group(srv, conn, method, &r->id, query);
	case ROUTE_HEALTHZ:
		return handle_healthz(srv, conn, head);
	default:
		return handle_document(srv, conn, r->kind, head);
	}
}
