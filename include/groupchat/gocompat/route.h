/*
 * route: maps a request's method and raw target to one of the server's
 * routes exactly as the Go server's net/http (Go 1.22 ServeMux, patterns
 * "POST /create", "GET /groups/{id}", "DELETE /groups/{id}", plus our
 * "GET /healthz", "GET /stats", "GET /metrics", "GET /{$}") decides it:
 * which requests Go refuses outright, which it redirects to a canonical
 * path and where, and what {id} decodes to. No sockets, no blocking.
 */
#ifndef GROUPCHAT_ROUTE_H
#define GROUPCHAT_ROUTE_H

#include <stddef.h>

#include "groupchat/core/buf.h"

enum route_kind {
	ROUTE_NOT_FOUND,   /* 404 "404 page not found\n" */
	ROUTE_BAD_REQUEST, /* Go rejects the request line: its bare 400 */
	ROUTE_REDIRECT,    /* 301 to location */
	ROUTE_CREATE,      /* POST /create */
	ROUTE_GROUP,       /* DELETE, GET, HEAD /groups/{id} */
	ROUTE_HEALTHZ,     /* GET, HEAD /healthz */
	ROUTE_STATS,       /* GET, HEAD /stats */
	ROUTE_METRICS,     /* GET, HEAD /metrics */
	ROUTE_INDEX,       /* GET, HEAD / */
};

struct route {
	enum route_kind kind;
	/* ROUTE_CREATE to ROUTE_INDEX: 1 if the method is one of allow's (a
	 * GET route also takes HEAD), else the answer is 405 with an Allow
	 * header. 0 for the other kinds. */
	int method_ok;
	/* ROUTE_CREATE to ROUTE_INDEX: the Allow value for a 405, the route's
	 * methods sorted: "POST", "DELETE, GET, HEAD" or "GET, HEAD". NULL for
	 * the other kinds. Static storage. */
	const char *allow;
	/* ROUTE_GROUP: the {id} segment, percent-decoded; never empty. */
	struct buf id;
	/* ROUTE_REDIRECT: the Location header value: the cleaned path, then
	 * "?" and the raw query if the query is not empty, with every byte
	 * >= 0x80 written as %xx (lowercase hex), as Go's Redirect does. */
	struct buf location;
	/* ROUTE_REDIRECT: the same target as the body of a GET answer shows
	 * it, <a href="HREF">Moved Permanently</a>.\n\n: not hex-escaped, but
	 * HTML-escaped (& < > " ' as &amp; &lt; &gt; &#34; &#39;). */
	struct buf href;
};

/* Makes r empty; route_match may then be called on it any number of times. */
void route_init(struct route *r);

/* Frees r's buffers; r may be initialised again. */
void route_free(struct route *r);

/* Routes a request. method is NUL-terminated and case-sensitive; raw_path
 * is the target's path as it came on the request line (path_len bytes,
 * not decoded, without the '?' and query); raw_query is the raw query
 * after the first '?', NUL-terminated, or NULL if there is none.
 *
 * ROUTE_BAD_REQUEST: the method is not an HTTP token, the path does not
 * start with '/', the path or query holds a control byte or a space, or a
 * '%' in the path is not followed by two hex digits.
 * Otherwise the path is put in Go's escaped form (itself if it holds only
 * bytes a path may carry raw, else decoded and re-encoded, so a %2F next
 * to a raw non-ASCII byte becomes a '/'), and cleaned as path.Clean does,
 * keeping a trailing slash. If the cleaned path differs: ROUTE_REDIRECT,
 * for any method but CONNECT (Go never cleans CONNECT paths). Else each
 * '/'-separated segment is decoded on its own and matched literally, case-
 * sensitively: /%63reate is /create, /groups/a%2Fb is the group "a/b", a
 * trailing slash or a second segment after the id is ROUTE_NOT_FOUND.
 * 0, or -1 with errno from buf (ENOMEM, or EMSGSIZE past a limit the
 * caller set on r's buffers) and r as empty as after route_init. */
int route_match(struct route *r, const char *method, const char *raw_path,
                size_t path_len, const char *raw_query);

#endif
