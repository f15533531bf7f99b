/*
 * route_match on arbitrary targets. Input: one byte choosing the method,
 * then the target: the path up to the first '?', the query after it.
 * Invariants: the call succeeds; a REDIRECT's Location is an ASCII path
 * that, matched again, is neither redirected nor refused; a GROUP id is
 * never empty; method_ok says whether the method is one of allow's; the
 * method never changes where a path goes (CONNECT aside, which is not
 * cleaned).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/buf.h"
#include "groupchat/gocompat/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = {
	"GET", "HEAD", "POST", "DELETE", "CONNECT", "PUT", "get", "G(ET",
};

static int
in_allow(const char *allow, const char *m)
{
	char list[32], *tok, *save;

	strcpy(list, allow);
	for (tok = strtok_r(list, ", ", &save); tok;
	    tok = strtok_r(NULL, ", ", &save))
		if (strcmp(tok, m) == 0)
			return 1;
	return 0;
}

static void
check(const struct route *r, const char *m, size_t path_len)
{
	int routed = r->kind >= ROUTE_CREATE && r->kind <= ROUTE_INDEX;

	if (routed ? r->allow == NULL ||
	    r->method_ok != in_allow(r->allow, m) :
	    r->allow != NULL || r->method_ok != 0)
		abort();
	if ((r->kind == ROUTE_GROUP) != (r->id.len > 0) || r->id.len > path_len)
		abort();
	if ((r->kind == ROUTE_REDIRECT) != (r->location.len > 0) ||
	    (r->kind == ROUTE_REDIRECT) != (r->href.len > 0))
		abort();
}

static void
rematch_location(const struct route *r, const char *m)
{
	struct route again;
	char *loc, *q;
	size_t i;

	if (r->location.data[0] != '/')
		abort();
	for (i = 0; i < r->location.len; i++)
		if (r->location.data[i] <= ' ' || r->location.data[i] >= 0x7f)
			abort();
	if ((loc = strndup((const char *)r->location.data,
	    r->location.len)) == NULL)
		abort();
	q = strchr(loc, '?');
	if (q)
		*q++ = '\0';
	route_init(&again);
	if (route_match(&again, m, loc, strlen(loc), q) == -1)
		abort();
	check(&again, m, strlen(loc));
	if (again.kind == ROUTE_REDIRECT || again.kind == ROUTE_BAD_REQUEST)
		abort();
	route_free(&again);
	free(loc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *m, *path;
	const uint8_t *qm;
	struct route r, g;
	char *query = NULL;
	size_t plen;

	if (size == 0)
		return 0;
	m = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	path = (const char *)data + 1;
	qm = memchr(data + 1, '?', size - 1);
	plen = qm ? (size_t)(qm - (data + 1)) : size - 1;
	if (qm && (query = strndup((const char *)qm + 1,
	    size - 1 - plen - 1)) == NULL)
		abort();

	route_init(&r);
	route_init(&g);
	if (route_match(&r, m, path, plen, query) == -1)
		abort();
	check(&r, m, plen);
	if (r.kind == ROUTE_REDIRECT)
		rematch_location(&r, m);
	if (strcmp(m, "CONNECT") != 0 && r.kind != ROUTE_BAD_REQUEST) {
		if (route_match(&g, "GET", path, plen, query) == -1 ||
		    g.kind != r.kind || g.id.len != r.id.len ||
		    (g.id.len && memcmp(g.id.data, r.id.data, g.id.len) != 0))
			abort();
	}
	route_free(&g);
	route_free(&r);
	free(query);
	return 0;
}
