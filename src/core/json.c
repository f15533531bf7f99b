/*
 * json: Go's encoding/json string escaping. The output is a pure function of
 * the input bytes, so the server's JSON bodies match the Go server's.
 * Runs of bytes that need no escaping are copied with one append; only the
 * bytes Go rewrites cost a call each. On failure the partial output is
 * taken back, so a caller never sends half an escaped string.
 */
#include "groupchat/core/json.h"

#include <stdint.h>

#include "groupchat/core/utf8.h"

static const char json_hex[] = "0123456789abcdef";

/* The escape Go writes for an ASCII byte, or NULL if it is written as is.
 * \u00xx forms are built in buf (7 bytes with the NUL). */
static const char *
json_ascii_escape(uint8_t c, char buf[7])
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '<':
	case '>':
	case '&':
		break;
	default:
		if (c >= 0x20)
			return NULL;
		break;
	}
	buf[0] = '\\';
	buf[1] = 'u';
	buf[2] = '0';
	buf[3] = '0';
	buf[4] = json_hex[c >> 4];
	buf[5] = json_hex[c & 0xF];
	buf[6] = '\0';
	return buf;
}

int
json_escape(struct buf *out, const void *s, size_t len)
{
	const uint8_t *p = s;
	size_t mark = out->len, start = 0, i = 0, n;
	const char *esc;
	char tmp[7];
	uint32_t cp;

	while (i < len) {
		if (p[i] < 0x80) {
			if ((esc = json_ascii_escape(p[i], tmp)) == NULL) {
				i++;
				continue;
			}
			n = 1;
		} else {
			n = utf8_decode(p + i, len - i, &cp);
			if (n == 0) {
				esc = "\\ufffd";
				n = 1;
			} else if (cp == 0x2028) {
				esc = "\\u2028";
			} else if (cp == 0x2029) {
				esc = "\\u2029";
			} else {
				i += n;
				continue;
			}
		}
		if (buf_append(out, p + start, i - start) == -1 ||
		    buf_puts(out, esc) == -1)
			goto fail;
		i += n;
		start = i;
	}
	if (buf_append(out, p + start, len - start) == -1)
		goto fail;
	return 0;
fail:
	out->len = mark;
	return -1;
}
