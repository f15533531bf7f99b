/*
 * http_handlers: CivetWeb's request callbacks. Every request passes
 * through begin_request, which checks the request line, routes the raw
 * path exactly as Go's ServeMux does, gives the mux's own answers and
 * access control their turn, and hands the rest to the route's handler
 * (http_control.c). Only a valid WebSocket upgrade to an existing group
 * is handed back to CivetWeb (return 0), which then runs the handlers in
 * ws_handlers.c.
 *
 * CivetWeb runs with decode_url=no so that local_uri_raw is the path as
 * sent: Go splits /groups/{id} on '/' before unescaping, and so must we.
 * Requests CivetWeb refuses reach http_error_cb; the two it drops without
 * a word ('*', absolute-form naming another port) reach connection_closed.
 *
 * Who touches what: all three callbacks run on the connection's CivetWeb
 * worker; they read the server context, and the handlers they reach
 * (http_control.c) call the manager or the cluster, never a group's
 * members.
 */
#include <civetweb.h>
#include <stdio.h>
#include <string.h>

#include "groupchat/gocompat/answers.h"
#include "groupchat/gocompat/http.h"
#include "groupchat/gocompat/route.h"
#include "server_ctx.h"

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
		status = http_control_answer(srv, conn, method, &r, ri->query_string);
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
