/*
 * access: which request needs which credential, and the 401 when it is
 * missing. Called by begin_request (http_handlers.c) after routing and before
 * any handler, so the order of answers is: Go's router (400, 301, 404,
 * 405) first, then 401, then everything a handler says ("invalid id",
 * "found no group", a bad upgrade). Unknown paths and wrong methods thus
 * answer as they always did, and a client without a credential learns
 * nothing about which groups exist.
 *
 *   POST /create, DELETE /groups/G, GET|HEAD /stats, /metrics:
 *       the admin token, when cfg.admin_token is set;
 *   GET|HEAD /groups/G (a join, or an attempt at one):
 *       a join token for G, when cfg.join_secret is set;
 *   /healthz and /: open.
 *
 * Every refusal is logged with the client's address (access_addr: the
 * peer, or what a trusted proxy says in X-Forwarded-For).
 *
 * Who touches what: reads srv->cfg only (written before CivetWeb starts);
 * runs on the CivetWeb worker of the request. Never logs a credential.
 */
#include <civetweb.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "groupchat/core/buf.h"
#include "groupchat/core/log.h"
#include "groupchat/gocompat/http.h"
#include "groupchat/gocompat/route.h"
#include "groupchat/web/auth.h"
#include "server_ctx.h"

void
access_addr(const struct server *srv, const struct mg_connection *conn,
    char out[CLIENT_ADDR_MAX])
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct buf xff;
	int found = 0;

	if (srv->cfg.trusted_proxies.n == 0) {
		client_addr(ri->remote_addr, NULL, &srv->cfg.trusted_proxies, out);
		return;
	}
	/* Every X-Forwarded-For header in order, as one list: a proxy may
	 * add its own header line after the client's. */
	buf_init(&xff, 0);
	for (int i = 0; i < ri->num_headers; i++) {
		const char *v = ri->http_headers[i].value;
		if (strcasecmp(ri->http_headers[i].name, "X-Forwarded-For") != 0)
			continue;
		if ((found && buf_puts(&xff, ",") == -1) || buf_puts(&xff, v) == -1) {
			found = 0; /* out of memory: the peer it is */
			break;
		}
		found = 1;
	}
	if (found && buf_append(&xff, "", 1) == -1)
		found = 0;
	client_addr(ri->remote_addr, found ? (const char *)xff.data : NULL,
	    &srv->cfg.trusted_proxies, out);
	buf_free(&xff);
}

static int
send_401(struct mg_connection *conn, const char *body, int head)
{
	http_send(conn, &(struct http_response){ .status = 401,
	    .content_type = "text/plain; charset=utf-8", .nosniff = 1,
	    .extra = "WWW-Authenticate: Bearer realm=\"groupchat\"\r\n",
	    .body = body, .body_len = strlen(body), .head = head });
	return 401;
}

static int
check_admin(const struct server *srv, struct mg_connection *conn,
    const char *what, int head)
{
	const char *h = mg_get_header(conn, "Authorization");
	char addr[CLIENT_ADDR_MAX];

	if (auth_admin_ok(&srv->cfg.admin_token, h))
		return 0;
	access_addr(srv, conn, addr);
	log_event(LOG_INFO, "auth_refused", "need", "admin", "route", what,
	    "reason", h == NULL ? "missing" : "wrong", "addr", addr, NULL);
	return send_401(conn, "invalid or missing admin token\n", head);
}

static int
check_join(const struct server *srv, struct mg_connection *conn,
    const struct buf *id, const char *query, int head)
{
	struct buf tok;
	enum auth_verdict v;
	char addr[CLIENT_ADDR_MAX];

	buf_init(&tok, 0);
	switch (auth_join_token(query, mg_get_header(conn, "Authorization"), &tok)) {
	case -1:
		v = errno == EMSGSIZE ? AUTH_TOO_LONG : AUTH_NO_MEMORY;
		break;
	case 0:
		v = AUTH_MISSING;
		break;
	default:
		v = auth_join_verify(&srv->cfg.join_secret, tok.data, tok.len, id->data,
		    id->len, (int64_t)time(NULL));
	}
	buf_free(&tok);
	if (v == AUTH_OK)
		return 0;
	if (v == AUTH_NO_MEMORY) {
		http_error(conn, 500, "out of memory", 13, head, 1);
		return 500;
	}
	access_addr(srv, conn, addr);
	log_event_id(LOG_INFO, "auth_refused", "group", (const char *)id->data, id->len,
	    "need", "join", "reason", auth_verdict_text(v), "addr", addr, NULL);
	return send_401(conn, "invalid or missing join token\n", head);
}

int
access_check(const struct server *srv, struct mg_connection *conn,
    const char *method, const struct route *r, const char *query)
{
	int head = strcmp(method, "HEAD") == 0;
	int admin = srv->cfg.admin_token.len > 0, join = srv->cfg.join_secret.len > 0;

	switch (r->kind) {
	case ROUTE_CREATE:
		return admin ? check_admin(srv, conn, "create", head) : 0;
	case ROUTE_STATS:
		return admin ? check_admin(srv, conn, "stats", head) : 0;
	case ROUTE_METRICS:
		return admin ? check_admin(srv, conn, "metrics", head) : 0;
	case ROUTE_GROUP:
		if (strcmp(method, "DELETE") == 0)
			return admin ? check_admin(srv, conn, "delete", head) : 0;
		return join ? check_join(srv, conn, &r->id, query, head) : 0;
	default:
		return 0;
	}
}
