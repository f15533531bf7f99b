/*
 * resume: a join's groupchat.v1 request read from its request line and
 * headers. CivetWeb 1.15 picks a subprotocol itself before our connect
 * handler runs, and leaves a stale pick on the worker (docs/design.md,
 * CivetWeb quirks); ws_connect overwrites it with what resume_offered
 * says, so the 101 names groupchat.v1 exactly when it was offered and
 * the node serves it.
 *
 * Who touches what: pure functions, on the request's CivetWeb worker.
 */
#include "groupchat/web/resume.h"

#include <civetweb.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "groupchat/core/buf.h"
#include "groupchat/gocompat/form.h"

/* A since longer than any position is malformed all the same. */
#define SINCE_MAX 64

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

int
resume_offer_lists(const char *s)
{
	const size_t want = sizeof(RESUME_SUBPROTOCOL) - 1;
	const char *end;
	size_t n;

	if (s == NULL)
		return 0;
	for (;;) {
		while (blank(*s))
			s++;
		end = strchr(s, ',');
		n = end != NULL ? (size_t)(end - s) : strlen(s);
		while (n > 0 && blank(s[n - 1]))
			n--;
		if (n == want && memcmp(s, RESUME_SUBPROTOCOL, want) == 0)
			return 1;
		if (end == NULL)
			return 0;
		s = end + 1;
	}
}

int
resume_offered(const struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	int i;

	for (i = 0; i < ri->num_headers; i++)
		if (strcasecmp(ri->http_headers[i].name, "Sec-WebSocket-Protocol") == 0 &&
		    resume_offer_lists(ri->http_headers[i].value))
			return 1;
	return 0;
}

int
resume_since(const char *query, size_t len, struct position *out,
    const char **why)
{
	struct buf b;
	int rc, err = 0;

	buf_init(&b, SINCE_MAX);
	rc = form_query_get(query, len, "since", &b);
	if (rc == -1 && errno == EMSGSIZE) {
		*why = "not <epoch>:<offset>";
		err = EINVAL;
	} else if (rc == -1) {
		err = errno;
	} else if (rc == 1 &&
	    position_parse((const char *)b.data, b.len, out, why) == -1) {
		rc = -1;
		err = EINVAL;
	}
	buf_free(&b);
	errno = err;
	return rc;
}
