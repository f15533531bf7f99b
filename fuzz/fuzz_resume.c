/*
 * resume: on any query, resume_since finds no since (0), or a position
 * that the form decoding of the query's since gives exactly (1), or
 * refuses it with EINVAL and a one-line reason (-1); on any
 * Sec-WebSocket-Protocol value, resume_offer_lists says 1 only when one
 * comma-separated token, blanks trimmed, is exactly groupchat.v1. Input:
 * one byte b; if b is even the rest is a query, else a header value (up
 * to the first NUL, as CivetWeb hands it over).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/buf.h"
#include "groupchat/gocompat/form.h"
#include "groupchat/web/resume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The slow reading of resume_offer_lists' contract. */
static int
lists(const char *s)
{
	const char *want = RESUME_SUBPROTOCOL;
	size_t i, start, end, n = strlen(s);

	for (start = 0; start <= n; start = end + 1) {
		for (end = start; end < n && s[end] != ','; end++)
			;
		i = start;
		while (i < end && (s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t e = end;
		while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'))
			e--;
		if (e - i == strlen(want) && memcmp(s + i, want, e - i) == 0)
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct position p = { 7, 7 }, q;
	const char *why = NULL, *s;
	char *text;
	struct buf b;
	int rc, got, err;

	if (size == 0)
		return 0;
	if ((text = malloc(size)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] % 2 == 1) {
		if (resume_offer_lists(text) != lists(text))
			abort();
		free(text);
		return 0;
	}
	s = (const char *)data + 1;
	rc = resume_since(s, size - 1, &p, &why);
	err = errno;
	buf_init(&b, 0);
	got = form_query_get(s, size - 1, "since", &b);
	if (rc == 0 && got != 0)
		abort();
	if (rc == 1 && (got != 1 || position_parse((const char *)b.data, b.len, &q, &why) != 0 ||
	    q.epoch != p.epoch || q.offset != p.offset))
		abort();
	if (rc == -1 && err == EINVAL && (why == NULL || strchr(why, '\n') != NULL))
		abort();
	if (rc == -1 && p.epoch != 7)
		abort();
	buf_free(&b);
	free(text);
	return 0;
}
