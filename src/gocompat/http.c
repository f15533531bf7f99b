/*
 * http: response writing. Header order and spelling follow what the Go
 * server puts on the wire; a client cannot tell the two apart.
 */
#include "groupchat/gocompat/http.h"

#include <civetweb.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "groupchat/core/buf.h"

const char *
http_status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Request Entity Too Large";
	case 414: return "Request URI Too Long";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* An RFC 7231 IMF-fixdate for now, e.g. "Fri, 27 Nov 2026 18:30:00 GMT". */
static void
http_date(char out[32])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int
http_header_has_token(const char *h, const char *tok)
{
	size_t n = strlen(tok);

	while (h != NULL && *h != '\0') {
		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		const char *end = h + strcspn(h, ",");
		const char *e = end;
		while (e > h && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - h) == n && strncasecmp(h, tok, n) == 0)
			return 1;
		h = end;
	}
	return 0;
}

/* 1 if the header line "Name: ...\r\n" at line sorts before name, as
 * Go's Header.WriteSubset sorts keys: byte order of the names. */
static int
name_before(const char *line, const char *name)
{
	size_t n = strcspn(line, ":"), m = strlen(name);
	int c = memcmp(line, name, n < m ? n : m);

	return c < 0 || (c == 0 && n < m);
}

/*
 * The headers a Go handler sets, in the order Go's Header.WriteSubset
 * writes them: sorted by name. Content-Type (unless Go sniffed it) and
 * X-Content-Type-Options are already in that order; the extra line goes
 * where its name sorts.
 */
static int
put_handler_headers(struct buf *b, const struct http_response *r)
{
	const char *extra = r->extra;

	if (extra != NULL && name_before(extra, "Content-Type")) {
		if (buf_puts(b, extra) == -1)
			return -1;
		extra = NULL;
	}
	if (r->content_type != NULL && !r->sniffed &&
	    buf_printf(b, "Content-Type: %s\r\n", r->content_type) == -1)
		return -1;
	if (extra != NULL && name_before(extra, "X-Content-Type-Options")) {
		if (buf_puts(b, extra) == -1)
			return -1;
		extra = NULL;
	}
	if (r->nosniff && buf_puts(b, "X-Content-Type-Options: nosniff\r\n") == -1)
		return -1;
	if (extra != NULL && buf_puts(b, extra) == -1)
		return -1;
	return 0;
}

/*
 * Go's chunkWriter.writeHeader: the status line, the handler's headers
 * sorted by name, then the ones the server adds, in extraHeader.Write's
 * order: Date, Content-Length, a sniffed Content-Type, Connection.
 */
int
http_send(struct mg_connection *conn, const struct http_response *r)
{
	struct buf b;
	const char *conn_hdr = mg_get_header(conn, "Connection");
	int closing = r->close || (conn_hdr != NULL && !http_header_has_token(conn_hdr, "keep-alive"));
	char date[32];
	int rc = -1;

	buf_init(&b, 0);
	http_date(date);
	if (buf_printf(&b, "HTTP/1.1 %d %s\r\n", r->status,
	    http_status_text(r->status)) == -1)
		goto out;
	if (put_handler_headers(&b, r) == -1)
		goto out;
	if (buf_printf(&b, "Date: %s\r\n", date) == -1 ||
	    (!r->no_length && buf_printf(&b, "Content-Length: %zu\r\n", r->body_len) == -1))
		goto out;
	if (r->content_type != NULL && r->sniffed &&
	    buf_printf(&b, "Content-Type: %s\r\n", r->content_type) == -1)
		goto out;
	if (buf_printf(&b, "%s\r\n", closing ? "Connection: close\r\n" : "") == -1)
		goto out;
	if (!r->head && buf_append(&b, r->body, r->body_len) == -1)
		goto out;
	if (closing)
		mg_disable_connection_keep_alive(conn);
	rc = mg_write(conn, b.data, b.len) == (int)b.len ? 0 : -1;
out:
	buf_free(&b);
	return rc;
}

int
http_error(struct mg_connection *conn, int status, const char *msg,
    size_t msg_len, int head, int close)
{
	struct buf body;
	struct http_response r = {
		.status = status,
		.content_type = "text/plain; charset=utf-8",
		.nosniff = 1,
		.head = head,
		.close = close,
	};
	int rc = -1;

	buf_init(&body, 0);
	if (buf_append(&body, msg, msg_len) == 0 && buf_append(&body, "\n", 1) == 0) {
		r.body = body.data;
		r.body_len = body.len;
		rc = http_send(conn, &r);
	}
	buf_free(&body);
	return rc;
}
