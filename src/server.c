/*
 * server: CivetWeb set-up and the HTTP side. Every request passes through
 * begin_request, which routes the raw path exactly as Go's ServeMux does
 * and answers it with a response written whole (http.c). Only a valid
 * WebSocket upgrade to an existing group is handed back to CivetWeb
 * (return 0), which then runs the handlers in ws.c.
 *
 * CivetWeb runs with decode_url=no so that local_uri_raw is the path as
 * sent: Go splits /groups/{id} on '/' before unescaping, and so must we.
 * Requests CivetWeb refuses reach http_error_cb; the two it drops without
 * a word ('*', absolute-form naming another port) reach connection_closed.
 * All three callbacks run on the connection's CivetWeb worker.
 */
#include "groupchat/server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "groupchat/buf.h"
#include "groupchat/chan.h"
#include "groupchat/cid.h"
#include "groupchat/form.h"
#include "groupchat/group.h"
#include "groupchat/http.h"
#include "groupchat/json.h"
#include "groupchat/log.h"
#include "groupchat/manager.h"
#include "groupchat/msg.h"
#include "groupchat/report.h"
#include "groupchat/route.h"
#include "groupchat/webui.h"
#include "server_ctx.h"

/* Workers kept for plain HTTP beyond one per WebSocket member, so that a
 * full house of members never starves POST /create or DELETE. */
#define HTTP_RESERVE 32

/* CivetWeb's WebSocket read loop wakes this often when its peer is silent,
 * and only then sees that we closed the member: a member that never
 * answers its close frame keeps its connection this long. */
#define WS_TICK_MS 1000
#define WS_TICK_MS_STR "1000"

/* Longest wait at shutdown for members to take their 1001 and go: the
 * tick, so that a member that never answers is gone when it ends. */
#define STOP_GRACE_MS WS_TICK_MS

int64_t
server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Go's json.Marshal(map[string]string{"message": prefix + id}). */
static int
send_json_message(struct mg_connection *conn, int status, const char *prefix,
    const struct buf *id, int head)
{
	struct buf b;
	int rc = -1;

	buf_init(&b, 0);
	if (buf_puts(&b, "{\"message\":\"") == 0 && json_escape(&b, prefix, strlen(prefix)) == 0 &&
	    json_escape(&b, id->data, id->len) == 0 && buf_puts(&b, "\"}") == 0) {
		struct http_response r = {
			.status = status,
			.content_type = "text/plain; charset=utf-8",
			.body = b.data,
			.body_len = b.len,
			.head = head,
		};
		rc = http_send(conn, &r);
	}
	buf_free(&b);
	return rc;
}

/* "found no group with the id: ID\n", the id raw as Go prints it. */
int
server_send_no_group(struct mg_connection *conn, const struct buf *id, int head,
    int close)
{
	static const char prefix[] = "found no group with the id: ";
	struct buf b;
	int rc = -1;

	buf_init(&b, 0);
	if (buf_puts(&b, prefix) == 0 && buf_append(&b, id->data, id->len) == 0)
		rc = http_error(conn, 400, (const char *)b.data, b.len, head, close);
	buf_free(&b);
	return rc;
}

/* Go's http.Redirect with 301: Location, and for GET a tiny HTML body
 * whose link route.c has already HTML-escaped the way Go does. */
static int
send_redirect(struct mg_connection *conn, const char *method, const struct route *r,
    int close)
{
	struct buf hdr, body;
	int rc = -1, get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
	struct http_response resp = { .status = 301, .head = head, .close = close };

	buf_init(&hdr, 0);
	buf_init(&body, 0);
	if (buf_puts(&hdr, "Location: ") == -1 ||
	    buf_append(&hdr, r->location.data, r->location.len) == -1 ||
	    buf_puts(&hdr, "\r\n") == -1 || buf_append(&hdr, "", 1) == -1)
		goto out;
	if (get || head)
		resp.content_type = "text/html; charset=utf-8";
	/* Go's http.Redirect writes no body for HEAD, so Go sends no length. */
	resp.no_length = head;
	if (get && (buf_puts(&body, "<a href=\"") == -1 ||
	    buf_append(&body, r->href.data, r->href.len) == -1 ||
	    buf_puts(&body, "\">Moved Permanently</a>.\n\n") == -1))
		goto out;
	resp.extra = (const char *)hdr.data;
	resp.body = body.data;
	resp.body_len = body.len;
	rc = http_send(conn, &resp);
out:
	buf_free(&hdr);
	buf_free(&body);
	return rc;
}

/* gorilla/websocket's answer to a bad upgrade: status text as the body and
 * the version it speaks. */
static int
send_bad_upgrade(struct mg_connection *conn, int status, int head)
{
	const char *text = http_status_text(status);
	char body[64];
	struct http_response r = {
		.status = status,
		.content_type = "text/plain; charset=utf-8",
		.nosniff = 1,
		.extra = "Sec-Websocket-Version: 13\r\n",
		.head = head,
	};

	r.body_len = (size_t)snprintf(body, sizeof(body), "%s\n", text);
	r.body = body;
	return http_send(conn, &r);
}

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
	} else {
		switch (manager_create(srv->manager, (const char *)id.data, id.len)) {
		case MANAGER_CREATED:
			log_event_id(LOG_INFO, "group_created", "group", (const char *)id.data, id.len, NULL);
			send_json_message(conn, 201, "created group with id: ", &id, 0);
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

	if (strcmp(method, "DELETE") == 0) {
		switch (manager_delete(srv->manager, (const char *)id->data, id->len)) {
		case MANAGER_DELETED:
			log_event_id(LOG_INFO, "group_deleted", "group", (const char *)id->data, id->len, NULL);
			send_json_message(conn, 200, "deleted group with id: ", id, 0);
			return 200;
		case MANAGER_NOT_FOUND:
			server_send_no_group(conn, id, 0, 0);
			return 400;
		default:
			return send_registry_error(conn);
		}
	}
	/* GET or HEAD: Go looks the group up before it tries to upgrade. */
	if ((g = manager_lookup(srv->manager, (const char *)id->data, id->len)) == NULL) {
		server_send_no_group(conn, id, head, 0);
		return 400;
	}
	group_unref(g);
	if ((status = upgrade_status(srv, conn, method)) != 0) {
		send_bad_upgrade(conn, status, head);
		return status;
	}
	return 0; /* CivetWeb upgrades; ws.c takes over. */
}

static int
handle_healthz(struct mg_connection *conn, int head)
{
	struct http_response r = {
		.status = 200,
		.content_type = "text/plain; charset=utf-8",
		.body = "ok\n",
		.body_len = 3,
		.head = head,
	};

	http_send(conn, &r);
	return 200;
}

/* Go's bare answer to a request it cannot parse. */
static void
send_bare_400(struct mg_connection *conn)
{
	http_send(conn, &(struct http_response){ .status = 400,
	    .content_type = "text/plain; charset=utf-8",
	    .body = "400 Bad Request", .body_len = 15, .close = 1 });
}

/* Go's 405: the path exists, the method does not. */
static void
send_405(struct mg_connection *conn, const char *allow, int head, int close)
{
	char hdr[64];

	snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
	http_send(conn, &(struct http_response){ .status = 405,
	    .content_type = "text/plain; charset=utf-8", .nosniff = 1,
	    .extra = hdr, .body = "Method Not Allowed\n", .body_len = 19,
	    .head = head, .close = close });
}

/*
 * The router's own answers, as Go's mux gives them before any handler:
 * a bad request line, a non-canonical path, an unknown path, a method
 * the path does not take. Returns the status sent, or 0 when the route
 * takes the request. close: the connection ends after the answer.
 */
static int
send_refusal(struct mg_connection *conn, const char *method, const struct route *r,
    int close)
{
	switch (r->kind) {
	case ROUTE_BAD_REQUEST:
		send_bare_400(conn);
		return 400;
	case ROUTE_REDIRECT:
		send_redirect(conn, method, r, close);
		return 301;
	case ROUTE_NOT_FOUND:
		http_error(conn, 404, "404 page not found", 18, 0, close);
		return 404;
	default:
		if (r->method_ok)
			return 0;
		send_405(conn, r->allow, strcmp(method, "HEAD") == 0, close);
		return 405;
	}
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
		r.content_type = "application/json";
		rc = report_json(&srv->stats, srv->manager, srv->cfg.stats_groups, &b);
		break;
	case ROUTE_METRICS:
		r.content_type = "text/plain; version=0.0.4; charset=utf-8";
		rc = report_prometheus(&srv->stats, srv->manager, srv->cfg.stats_groups, &b);
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

static int
begin_request(struct mg_connection *conn)
{
	struct server *srv = mg_get_user_data(mg_get_context(conn));
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *method = ri->request_method, *path = ri->local_uri_raw;
	/* CivetWeb has cut the query out of the target by now. */
	const char *uri_end = ri->query_string != NULL ?
	    ri->query_string + strlen(ri->query_string) :
	    ri->request_uri + strlen(ri->request_uri);
	struct route r;
	int status;

	error_answered = 0;
	if (path == NULL || !request_line_exact(ri, uri_end)) {
		send_bare_400(conn);
		return 400;
	}
	route_init(&r);
	if (route_match(&r, method, path, strlen(path), ri->query_string) == -1) {
		http_error(conn, 500, "out of memory", 13, 0, 1);
		route_free(&r);
		return 500;
	}
	if ((status = send_refusal(conn, method, &r, 0)) == 0 &&
	    (status = access_check(srv, conn, method, &r, ri->query_string)) == 0) {
		switch (r.kind) {
		case ROUTE_CREATE:
			status = handle_create(srv, conn, ri->query_string);
			break;
		case ROUTE_GROUP:
			status = handle_group(srv, conn, method, &r.id);
			break;
		case ROUTE_HEALTHZ:
			status = handle_healthz(conn, strcmp(method, "HEAD") == 0);
			break;
		default:
			status = handle_document(srv, conn, r.kind, strcmp(method, "HEAD") == 0);
		}
	}
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
		    send_refusal(conn, ri->request_method, &r, 1) == 0)
			send_bare_400(conn);
		route_free(&r);
		mg_disable_connection_keep_alive(conn);
		return 0;
	}
	/* Go answers a bad Content-Length with its bare 400. */
	if (status == 411) {
		send_bare_400(conn);
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
		send_bare_400(conn);
	else
		http_send(conn, &(struct http_response){ .close = 1,
		    .status = strcmp(ri->request_method, "OPTIONS") == 0 ? 200 : 400 });
}

/* CivetWeb prints its own errors through this; route them to our log. */
static int
log_message(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	log_event(LOG_WARN, "civetweb", "message", message, NULL);
	return 1;
}

struct server *
server_start(const struct config *cfg, char *err, size_t errlen)
{
	struct server *srv;
	struct mg_callbacks cb;
	char ports[96], threads[24], err_text[256] = "";
	struct mg_server_port sp[4];
	struct mg_error_data ed = { .text = err_text, .text_buffer_size = sizeof(err_text) };
	struct mg_init_data init;
	pthread_condattr_t ca;
	int n;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->cfg = *cfg;
	stats_init(&srv->stats);
	pthread_mutex_init(&srv->live_lock, NULL);
	/* The keepalive thread waits on it with a monotonic deadline. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->live_cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((srv->ids = cid_set_new()) == NULL ||
	    (srv->ping = msg_new(MSG_PING, NULL, 0, NULL, 0)) == NULL ||
	    (srv->manager = manager_new(&srv->stats, srv->cfg.max_groups)) == NULL) {
		snprintf(err, errlen, "cannot start: %s", strerror(errno));
		goto fail;
	}

	snprintf(ports, sizeof(ports), "%s:%d", cfg->listen, cfg->port);
	snprintf(threads, sizeof(threads), "%ld", cfg->max_clients + HTTP_RESERVE);
	const char *options[] = {
		"listening_ports", ports,
		"num_threads", threads,
		"decode_url", "no",
		"tcp_nodelay", "1",
		"enable_keep_alive", "yes",
		/* An absolute-form target naming our port is routed by its
		 * path, whatever the host, as Go routes it. */
		"enable_auth_domain_check", "no",
		"keep_alive_timeout_ms", "2000",
		"request_timeout_ms", "10000",
		/* The read loop wakes this often to notice a forced close; our
		 * keepalive thread does the pinging (ping-pong stays off so
		 * that every control frame reaches our checks). */
		"websocket_timeout_ms", WS_TICK_MS_STR,
		"enable_websocket_ping_pong", "no",
		NULL,
	};
	memset(&cb, 0, sizeof(cb));
	cb.begin_request = begin_request;
	cb.log_message = log_message;
	cb.http_error = http_error_cb;
	cb.connection_close = connection_closed;
	init.callbacks = &cb;
	init.user_data = srv;
	init.configuration_options = options;
	mg_init_library(0);
	if ((srv->mg = mg_start2(&init, &ed)) == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", ports,
		    err_text[0] ? err_text : "unknown error");
		goto fail;
	}
	ws_register(srv);
	n = mg_get_server_ports(srv->mg, 4, sp);
	srv->port = n > 0 ? sp[0].port : cfg->port;
	if (keepalive_start(srv) == -1) {
		snprintf(err, errlen, "cannot start the keepalive thread: %s", strerror(errno));
		goto fail;
	}
	return srv;
fail:
	if (srv->mg != NULL)
		mg_stop(srv->mg);
	if (srv->manager != NULL)
		manager_free(srv->manager);
	msg_unref(srv->ping);
	if (srv->ids != NULL)
		cid_set_free(srv->ids);
	pthread_mutex_destroy(&srv->live_lock);
	pthread_cond_destroy(&srv->live_cond);
	free(srv);
	mg_exit_library();
	return NULL;
}

int
server_port(const struct server *s)
{
	return s->port;
}

/* Connects to our own listener and hangs up: wakes CivetWeb's master. */
static void
poke_listener(const struct server *srv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port) };
	int fd;

	if (inet_pton(AF_INET, srv->cfg.listen, &sa.sin_addr) != 1 ||
	    sa.sin_addr.s_addr == htonl(INADDR_ANY))
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return;
	(void)connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
}

struct stop_waker {
	const struct server *srv;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
};

static void *
stop_waker_main(void *arg)
{
	struct stop_waker *w = arg;
	struct timespec deadline;

	pthread_mutex_lock(&w->lock);
	while (!w->done) {
		poke_listener(w->srv);
		chan_deadline(&deadline, 20);
		pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/*
 * mg_stop: CivetWeb's master thread polls its listener in 2 s slices and
 * sees the stop flag only between them, so a plain mg_stop takes up to
 * 2 s even with nothing connected. A helper thread pokes the listener
 * every 20 ms while mg_stop runs; the first poke after the flag is set
 * ends the master's poll at once.
 */
static void
stop_civetweb(struct server *srv)
{
	struct stop_waker w = { .srv = srv, .done = 0 };
	pthread_condattr_t ca;
	pthread_attr_t attr;
	pthread_t tid;
	int started;

	pthread_mutex_init(&w.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	started = pthread_create(&tid, &attr, stop_waker_main, &w) == 0;
	pthread_attr_destroy(&attr);
	mg_stop(srv->mg);
	if (started) {
		pthread_mutex_lock(&w.lock);
		w.done = 1;
		pthread_cond_signal(&w.cond);
		pthread_mutex_unlock(&w.lock);
		pthread_join(tid, NULL);
	}
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
}

void
server_stop(struct server *srv)
{
	struct timespec deadline;

	atomic_store(&srv->stopping, 1);
	manager_close_all(srv->manager, GROUP_SHUTDOWN_CODE, GROUP_SHUTDOWN_REASON);
	/* Give the writers time to put their 1001 on the wire and the peers
	 * time to answer it: mg_stop makes every later write fail at once.
	 * Bounded, so that a peer that never answers cannot hold us past 3 s. */
	chan_deadline(&deadline, STOP_GRACE_MS);
	pthread_mutex_lock(&srv->live_lock);
	while (atomic_load(&srv->members) > 0 &&
	    pthread_cond_timedwait(&srv->live_cond, &srv->live_lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&srv->live_lock);
	/* The groups and the manager still run: close handlers need them. */
	stop_civetweb(srv);
	keepalive_stop(srv);
	manager_free(srv->manager);
	msg_unref(srv->ping);
	cid_set_free(srv->ids);
	pthread_mutex_destroy(&srv->live_lock);
	pthread_cond_destroy(&srv->live_cond);
	free(srv);
	mg_exit_library();
}
