/*
 * json_escape: the output, read back by a small JSON string decoder that
 * accepts only the forms Go writes, must give the input with each byte of
 * invalid UTF-8 replaced by U+FFFD. The decoder and the UTF-8 check here
 * are written independently of src/ so that they cross-check it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/buf.h"
#include "groupchat/core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of the valid UTF-8 sequence at s and its code point, or 0. */
static size_t
ref_utf8(const uint8_t *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2;
		c = s[0] & 0x1F;
		min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3;
		c = s[0] & 0x0F;
		min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

static void
put_utf8(struct buf *b, uint32_t c)
{
	uint8_t u[4];
	size_t n;

	if (c < 0x80) {
		u[0] = (uint8_t)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (uint8_t)(0xC0 | c >> 6);
		u[1] = (uint8_t)(0x80 | (c & 0x3F));
		n = 2;
	} else {
		u[0] = (uint8_t)(0xE0 | c >> 12);
		u[1] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
		u[2] = (uint8_t)(0x80 | (c & 0x3F));
		n = 3;
	}
	if (buf_append(b, u, n) == -1)
		abort();
}

/* Does Go write code point c as \u followed by four hex digits? */
static int
go_u_escapes(uint32_t c)
{
	if (c < 0x20)
		return c != '\b' && c != '\f' && c != '\n' && c != '\r' &&
		    c != '\t';
	return c == '<' || c == '>' || c == '&' || c == 0x2028 ||
	    c == 0x2029 || c == 0xFFFD;
}

static int
lowhex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes JSON string content as Go writes it; 0, or -1 on anything Go
 * would not have written. */
static int
decode(const uint8_t *s, size_t n, struct buf *out)
{
	static const char shorts[] = "\"\"\\\\b\bf\fn\nr\rt\t";
	const char *sh;
	size_t i = 0, k, len;
	uint32_t c;
	int h;

	while (i < n) {
		if (s[i] == '\\') {
			if (i + 1 >= n)
				return -1;
			if (s[i + 1] == 'u') {
				if (n - i < 6)
					return -1;
				for (c = 0, k = 2; k < 6; k++) {
					if ((h = lowhex(s[i + k])) < 0)
						return -1;
					c = c << 4 | (uint32_t)h;
				}
				if (!go_u_escapes(c))
					return -1;
				put_utf8(out, c);
				i += 6;
				continue;
			}
			for (sh = shorts; *sh && *sh != (char)s[i + 1]; sh += 2)
				;
			if (*sh == '\0')
				return -1;
			put_utf8(out, (uint8_t)sh[1]);
			i += 2;
			continue;
		}
		if (s[i] < 0x20 || s[i] == '"' || s[i] == '<' || s[i] == '>' ||
		    s[i] == '&')
			return -1;
		if ((len = ref_utf8(s + i, n - i, &c)) == 0 || c == 0x2028 ||
		    c == 0x2029)
			return -1;
		if (buf_append(out, s + i, len) == -1)
			abort();
		i += len;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out, back, want, capped;
	size_t i = 0, len;
	uint32_t c;

	buf_init(&out, 0);
	buf_init(&back, 0);
	buf_init(&want, 0);
	while (i < size) {
		if ((len = ref_utf8(data + i, size - i, &c)) == 0) {
			put_utf8(&want, 0xFFFD);
			i++;
		} else {
			if (buf_append(&want, data + i, len) == -1)
				abort();
			i += len;
		}
	}
	if (buf_puts(&out, "x") == -1 || json_escape(&out, data, size) == -1)
		abort();
	if (out.data[0] != 'x' ||
	    decode(out.data + 1, out.len - 1, &back) == -1 ||
	    back.len != want.len ||
	    (want.len && memcmp(back.data, want.data, want.len) != 0))
		abort();
	/* One byte short of room: fails whole, leaves the prefix alone. */
	if (out.len > 1) {
		buf_init(&capped, out.len - 1);
		if (buf_puts(&capped, "x") == -1 ||
		    json_escape(&capped, data, size) != -1 ||
		    errno != EMSGSIZE || capped.len != 1)
			abort();
		buf_free(&capped);
	}
	buf_free(&out);
	buf_free(&back);
	buf_free(&want);
	return 0;
}
