/*
 * answers: the Go server's standard answers, byte for byte: the bare 400
 * of a request it cannot parse, the mux's 301/404/405, the handlers'
 * "found no group" 400 and {"message": ...} bodies, gorilla/websocket's
 * answer to a bad upgrade. Each is one whole response (http.c).
 *
 * Who touches what: nothing shared; each call writes one response on the
 * CivetWeb worker that owns the connection.
 */
#include "groupchat/gocompat/answers.h"

#include <stdio.h>
#include <string.h>

#include "groupchat/core/buf.h"
#include "groupchat/core/json.h"
#include "groupchat/gocompat/http.h"
#include "groupchat/gocompat/route.h"

/* Go's json.Marshal(map[string]string{"message": prefix + id}), written
 * without a Content-Type: Go sniffs one from the body. */
int
answer_json_message(struct mg_connection *conn, int status, const char *prefix,
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
			.sniffed = 1,
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
answer_no_group(struct mg_connection *conn, const struct buf *id, int head,
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
answer_redirect(struct mg_connection *conn, const char *method, const struct route *r,
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
int
answer_bad_upgrade(struct mg_connection *conn, int status, int head)
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

/* Go's bare answer to a request it cannot parse. */
void
answer_bare_400(struct mg_connection *conn)
{
	http_send(conn, &(struct http_response){ .status = 400,
	    .content_type = "text/plain; charset=utf-8",
	    .body = "400 Bad Request", .body_len = 15, .close = 1 });
}

int
answer_redis_unavailable(struct mg_connection *conn)
{
	http_error(conn, 503, "redis unavailable", 17, 0, 1);
	return 503;
}

/* Go's 405: the path exists, the method does not. */
static void
answer_405(struct mg_connection *conn, const char *allow, int head, int close)
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
int
answer_refusal(struct mg_connection *conn, const char *method, const struct route *r,
    int close)
{
	switch (r->kind) {
	case ROUTE_BAD_REQUEST:
		answer_bare_400(conn);
		return 400;
	case ROUTE_REDIRECT:
		answer_redirect(conn, method, r, close);
		return 301;
	case ROUTE_NOT_FOUND:
		http_error(conn, 404, "404 page not found", 18, 0, close);
		return 404;
	default:
		if (r->method_ok)
			return 0;
		answer_405(conn, r->allow, strcmp(method, "HEAD") == 0, close);
		return 405;
	}
}
