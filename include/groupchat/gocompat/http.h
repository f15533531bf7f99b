/*
 * http: whole HTTP/1.1 responses written with one mg_write, byte for byte
 * as the Go server writes them. We write responses ourselves rather than
 * through CivetWeb's helpers because those add headers Go does not send
 * and cannot answer a WebSocket upgrade request at all (CivetWeb 1.15:
 * once the Upgrade headers are seen its response-header calls fail and
 * mg_send_http_error writes only a body, with no status line).
 */
#ifndef GROUPCHAT_HTTP_H
#define GROUPCHAT_HTTP_H

#include <stddef.h>

struct mg_connection;

struct http_response {
	int status;
	const char *content_type;  /* NULL: no Content-Type */
	int sniffed;               /* Go sniffed content_type from the body */
	int nosniff;               /* X-Content-Type-Options: nosniff */
	const char *extra;         /* one more header line ending "\r\n", or NULL */
	const void *body;
	size_t body_len;
	int head;                  /* a HEAD request: headers only */
	int no_length;             /* no Content-Length (Go's HEAD redirect) */
	int close;                 /* Connection: close, and end the connection */
};

/* Writes the response, headers in Go's order: the handler's (content_type
 * unless sniffed, nosniff, extra) sorted by name, then Date,
 * Content-Length, a sniffed content_type, Connection. 0, or -1 if the
 * connection failed. It also says Connection: close when the request's
 * Connection header lacks the token keep-alive (a WebSocket join's says
 * Upgrade): CivetWeb ends such a connection after the answer, where Go
 * would keep it. */
int http_send(struct mg_connection *conn, const struct http_response *r);

/* Go's http.Error: status, "msg\n", text/plain with nosniff. */
int http_error(struct mg_connection *conn, int status, const char *msg,
               size_t msg_len, int head, int close);

/* 1 if header h's comma-separated tokens include tok (case-insensitive);
 * 0 if not, or if h is NULL. */
int http_header_has_token(const char *h, const char *tok);

/* The reason phrase Go uses for status. */
const char *http_status_text(int status);

#endif
