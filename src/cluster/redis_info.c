/*
 * redis_info: one field of an INFO reply's text. A line matches when it
 * begins with the field's name followed by a colon, so "role" never
 * matches "master_role" or "roles:". The value runs to the line's end
 * (CR or LF) or the text's end.
 *
 * Who touches what: stateless; the text stays the caller's.
 */
#include "groupchat/cluster/redis_info.h"

#include <string.h>

const char *
redis_info_field(const char *s, size_t len, const char *field, size_t *n)
{
	size_t flen = strlen(field), at = 0, end, v;

	while (at < len) {
		for (end = at; end < len && s[end] != '\n'; end++)
			;
		if (end - at > flen && memcmp(s + at, field, flen) == 0 && s[at + flen] == ':') {
			for (v = at + flen + 1; v < end && s[v] != '\r'; v++)
				;
			*n = v - (at + flen + 1);
			return s + at + flen + 1;
		}
		at = end + 1;
	}
	return NULL;
}
