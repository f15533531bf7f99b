/*
 * route: Go 1.22's request routing for our handful of patterns, in the
 * order Go applies it:
 *   1. url.ParseRequestURI and the request-line checks refuse the request
 *      (a control byte or space, a bad %-escape in the path, a method that
 *      is not a token);
 *   2. ServeMux takes URL.EscapedPath(): the raw path if every byte may
 *      stand raw in a path, else escape(unescape(raw));
 *   3. cleanPath() that; if it changed, redirect to
 *      url.URL{Path: cleaned, RawQuery: q}.String(), which escapes the
 *      already escaped path again (a '%' becomes "%25": Go's behaviour,
 *      kept); http.Redirect then hex-escapes non-ASCII for the header;
 *   4. the routing tree splits the path on '/' and decodes each segment
 *      before comparing it, so "%2F" inside a segment never splits it, and
 *      a first segment "%2F" decodes to "/", which is what "/{$}" matches.
 * Only "/{$}" ends in a slash and no path plus "/" is "/", so Go's
 * "/tree" -> "/tree/" redirect never applies; and a path matches at most
 * one pattern whatever the method, so the method only chooses between the
 * handler and a 405.
 */
#include "groupchat/gocompat/route.h"

#include <stdint.h>
#include <string.h>

#include "groupchat/gocompat/form.h"

struct route_entry {
	const char *seg; /* the first segment, decoded; "/" stands for {$} */
	int has_id;      /* a second segment, {id}, follows */
	enum route_kind kind;
	const char *allow;
};

static const struct route_entry route_table[] = {
	{ "create", 0, ROUTE_CREATE, "POST" },
	{ "groups", 1, ROUTE_GROUP, "DELETE, GET, HEAD" },
	{ "healthz", 0, ROUTE_HEALTHZ, "GET, HEAD" },
	{ "stats", 0, ROUTE_STATS, "GET, HEAD" },
	{ "metrics", 0, ROUTE_METRICS, "GET, HEAD" },
	{ "/", 0, ROUTE_INDEX, "GET, HEAD" },
};

static const char route_hexup[] = "0123456789ABCDEF";

/* Is c one of set's characters? (strchr alone would find the NUL.) */
static int
route_in(const char *set, uint8_t c)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static int
route_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* url.shouldEscape(c, encodePath). */
static int
route_path_escapes(uint8_t c)
{
	return !route_alnum(c) && !route_in("-_.~$&+,/:;=@", c);
}

/* May c stand raw in an escaped path (url.validEncoded, encodePath)? */
static int
route_path_raw_ok(uint8_t c)
{
	return route_in("!$&'()*+,;=:@[]%", c) || !route_path_escapes(c);
}

/* httpguts.IsTokenRune for every byte: what Go's validMethod asks. */
static int
route_valid_method(const char *m)
{
	const uint8_t *p = (const uint8_t *)m;

	if (*p == '\0')
		return 0;
	for (; *p; p++)
		if (!route_alnum(*p) && !route_in("!#$%&'*+-.^_`|~", *p))
			return 0;
	return 1;
}

/* A control byte ends url.Parse; a space ends the request-target. */
static int
route_has_ctl_or_space(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] == 0x7f)
			return 1;
	return 0;
}

/* Checks the path's escapes: 0, with *reencode set if some byte may not
 * stand raw (EscapedPath then re-encodes), or -1 on a bad escape. */
static int
route_scan_path(const uint8_t *s, size_t n, int *reencode)
{
	size_t i;

	*reencode = 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (n - i < 3 || form_hexval(s[i + 1]) < 0 ||
			    form_hexval(s[i + 2]) < 0)
				return -1;
			i += 2;
		} else if (!route_path_raw_ok(s[i])) {
			*reencode = 1;
		}
	}
	return 0;
}

/* Appends url.escape(s, encodePath). */
static int
route_escape(struct buf *out, const uint8_t *s, size_t n)
{
	char e[3];
	size_t i;

	for (i = 0; i < n; i++) {
		if (!route_path_escapes(s[i])) {
			if (buf_append(out, s + i, 1) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = route_hexup[s[i] >> 4];
		e[2] = route_hexup[s[i] & 0xF];
		if (buf_append(out, e, 3) == -1)
			return -1;
	}
	return 0;
}

/* Appends escape(unescape(s)) in one pass (escapes already checked). */
static int
route_reencode(struct buf *out, const uint8_t *s, size_t n)
{
	size_t i;
	uint8_t c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '%') {
			c = (uint8_t)(form_hexval(s[i + 1]) << 4 |
			    form_hexval(s[i + 2]));
			i += 2;
		}
		if (route_escape(out, &c, 1) == -1)
			return -1;
	}
	return 0;
}

/* Appends net/http's cleanPath(p) for a p starting with '/': path.Clean,
 * then the trailing slash put back unless the result is "/". The result
 * is never longer than p: each element kept brings at most the '/' that
 * preceded it, and a trailing '/' comes back only where p had one. */
static int
route_clean(struct buf *out, const uint8_t *p, size_t n)
{
	size_t r = 1, e;

	if (buf_reserve(out, n) == -1)
		return -1;
	out->data[out->len++] = '/';
	while (r < n) {
		for (e = r; e < n && p[e] != '/'; e++)
			;
		if (e == r || (e - r == 1 && p[r] == '.')) {
			/* empty or "." element: dropped */
		} else if (e - r == 2 && p[r] == '.' && p[r + 1] == '.') {
			/* ".." drops the element before it; at the root, itself */
			while (out->len > 1 && out->data[--out->len] != '/')
				;
		} else {
			if (out->len > 1)
				out->data[out->len++] = '/';
			memcpy(out->data + out->len, p + r, e - r);
			out->len += e - r;
		}
		r = e + 1;
	}
	if (p[n - 1] == '/' && out->len > 1)
		out->data[out->len++] = '/';
	return 0;
}

/* Appends s with '&' '<' '>' '"' '\'' replaced as Go's htmlEscape does. */
static int
route_html_escape(struct buf *out, const uint8_t *s, size_t n)
{
	const char *rep;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&#34;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			rep = NULL;
			break;
		}
		rc = rep ? buf_puts(out, rep) : buf_append(out, s + i, 1);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* Appends s with each byte >= 0x80 as %xx, lowercase: Go's
 * hexEscapeNonASCII (strconv.AppendInt base 16). */
static int
route_hex_non_ascii(struct buf *out, const uint8_t *s, size_t n)
{
	static const char hexlo[] = "0123456789abcdef";
	char e[3];
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < 0x80) {
			if (buf_append(out, s + i, 1) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hexlo[s[i] >> 4];
		e[2] = hexlo[s[i] & 0xF];
		if (buf_append(out, e, 3) == -1)
			return -1;
	}
	return 0;
}

/* Fills in the redirect to the cleaned path. The escaped path is ASCII
 * and holds none of " < > ', so only '&' and the query differ between the
 * Location header and the HTML body. */
static int
route_redirect(struct route *r, const struct buf *clean, const char *query)
{
	size_t qlen = query ? strlen(query) : 0;

	r->kind = ROUTE_REDIRECT;
	if (route_escape(&r->location, clean->data, clean->len) == -1 ||
	    route_html_escape(&r->href, r->location.data, r->location.len) == -1)
		return -1;
	if (qlen == 0)
		return 0;
	if (buf_append(&r->location, "?", 1) == -1 ||
	    buf_append(&r->href, "?", 1) == -1 ||
	    route_hex_non_ascii(&r->location, (const uint8_t *)query, qlen) == -1 ||
	    route_html_escape(&r->href, (const uint8_t *)query, qlen) == -1)
		return -1;
	return 0;
}

/* Is method one of the ", "-separated names in allow? */
static int
route_allows(const char *allow, const char *method)
{
	size_t n = strlen(method);
	const char *p = allow;

	for (;;) {
		if (strncmp(p, method, n) == 0 && (p[n] == '\0' || p[n] == ','))
			return 1;
		if ((p = strchr(p, ',')) == NULL)
			return 0;
		p += 2;
	}
}

/* Decodes the segment after the '/' at p[0] into seg (reset first) and
 * stores in *rest the length of what follows it; 0 or -1. A lone "/" is
 * the segment "/", as Go's firstSegment has it. */
static int
route_segment(struct buf *seg, const uint8_t *p, size_t n, size_t *rest)
{
	const uint8_t *end;
	size_t len;

	buf_reset(seg);
	if (n == 1) {
		*rest = 0;
		return buf_append(seg, "/", 1);
	}
	end = memchr(p + 1, '/', n - 1);
	len = end ? (size_t)(end - (p + 1)) : n - 1;
	*rest = n - 1 - len;
	return form_path_unescape((const char *)p + 1, len, seg);
}

/* The entry whose first segment is the decoded seg, or NULL. */
static const struct route_entry *
route_find(const struct buf *seg)
{
	size_t i;

	for (i = 0; i < sizeof(route_table) / sizeof(route_table[0]); i++)
		if (seg->len == strlen(route_table[i].seg) &&
		    memcmp(seg->data, route_table[i].seg, seg->len) == 0)
			return &route_table[i];
	return NULL;
}

/* Matches a canonical escaped path against the table (ROUTE_NOT_FOUND if
 * nothing matches); seg is scratch. */
static int
route_lookup(struct route *r, const char *method, const uint8_t *p,
             size_t n, struct buf *seg)
{
	const struct route_entry *e;
	size_t rest, rest2;

	r->kind = ROUTE_NOT_FOUND;
	if (route_segment(seg, p, n, &rest) == -1)
		return -1;
	if ((e = route_find(seg)) == NULL)
		return 0;
	if (e->has_id) {
		/* {id} takes one segment, but never a trailing slash or "%2F"
		 * (both decode to "/"), and nothing may follow it. */
		if (rest == 0)
			return 0;
		if (route_segment(&r->id, p + n - rest, rest, &rest2) == -1)
			return -1;
		if (rest2 != 0 || (r->id.len == 1 && r->id.data[0] == '/')) {
			buf_reset(&r->id);
			return 0;
		}
	} else if (rest != 0) {
		return 0;
	}
	r->kind = e->kind;
	r->allow = e->allow;
	r->method_ok = route_allows(e->allow, method);
	return 0;
}

void
route_init(struct route *r)
{
	r->kind = ROUTE_NOT_FOUND;
	r->method_ok = 0;
	r->allow = NULL;
	buf_init(&r->id, 0);
	buf_init(&r->location, 0);
	buf_init(&r->href, 0);
}

void
route_free(struct route *r)
{
	buf_free(&r->id);
	buf_free(&r->location);
	buf_free(&r->href);
}

int
route_match(struct route *r, const char *method, const char *raw_path,
            size_t path_len, const char *raw_query)
{
	const uint8_t *raw = (const uint8_t *)raw_path, *p = raw;
	struct buf esc, clean, seg;
	size_t n = path_len;
	int reencode, rc = -1;

	buf_reset(&r->id);
	buf_reset(&r->location);
	buf_reset(&r->href);
	r->kind = ROUTE_BAD_REQUEST;
	r->method_ok = 0;
	r->allow = NULL;
	if (!route_valid_method(method) || n == 0 || raw[0] != '/' ||
	    route_has_ctl_or_space(raw, n) ||
	    (raw_query && route_has_ctl_or_space((const uint8_t *)raw_query,
	    strlen(raw_query))) ||
	    route_scan_path(raw, n, &reencode) == -1)
		return 0;

	buf_init(&esc, 0);
	buf_init(&clean, 0);
	buf_init(&seg, 0);
	if (reencode) {
		if (route_reencode(&esc, raw, n) == -1)
			goto out;
		p = esc.data;
		n = esc.len;
	}
	if (strcmp(method, "CONNECT") != 0) {
		if (route_clean(&clean, p, n) == -1)
			goto out;
		if (clean.len != n || memcmp(clean.data, p, n) != 0) {
			rc = route_redirect(r, &clean, raw_query);
			goto out;
		}
	}
	rc = route_lookup(r, method, p, n, &seg);
out:
	if (rc == -1) {
		buf_reset(&r->id);
		buf_reset(&r->location);
		buf_reset(&r->href);
		r->kind = ROUTE_NOT_FOUND;
		r->method_ok = 0;
		r->allow = NULL;
	}
	buf_free(&seg);
	buf_free(&clean);
	buf_free(&esc);
	return rc;
}
