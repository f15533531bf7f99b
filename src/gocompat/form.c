/*
 * form: Go's url.QueryUnescape / url.PathUnescape and the pair splitting
 * of url.ParseQuery. Nothing is allocated but the caller's output: keys
 * are compared while they decode, and a value is decoded only once its
 * pair has matched. Decoding never lengthens a string, so an output needs
 * at most as many bytes as its input.
 */
#include "groupchat/gocompat/form.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int
form_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* True if every '%' in s is followed by two hex digits. */
static int
form_escapes_ok(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] != '%')
			continue;
		if (n - i < 3 || form_hexval(s[i + 1]) < 0 ||
		    form_hexval(s[i + 2]) < 0)
			return 0;
		i += 2;
	}
	return 1;
}

/* Decodes the byte at s[*i] (escapes already checked) and advances *i. */
static uint8_t
form_next(const uint8_t *s, size_t *i, int plus_is_space)
{
	uint8_t c = s[*i];

	if (c == '%') {
		c = (uint8_t)(form_hexval(s[*i + 1]) << 4 | form_hexval(s[*i + 2]));
		*i += 3;
		return c;
	}
	(*i)++;
	return plus_is_space && c == '+' ? ' ' : c;
}

/* Appends the decoding of s (escapes already checked). */
static int
form_decode(struct buf *out, const uint8_t *s, size_t n, int plus_is_space)
{
	size_t i = 0;

	if (buf_reserve(out, n) == -1)
		return -1;
	while (i < n)
		out->data[out->len++] = form_next(s, &i, plus_is_space);
	return 0;
}

/* True if s (escapes already checked) decodes, '+' as space, to key. */
static int
form_key_equals(const uint8_t *s, size_t n, const char *key)
{
	size_t i = 0, k = 0, klen = strlen(key);

	while (i < n) {
		if (k == klen || form_next(s, &i, 1) != (uint8_t)key[k])
			return 0;
		k++;
	}
	return k == klen;
}

int
form_query_get(const char *query, size_t len, const char *key,
               struct buf *out)
{
	const uint8_t *q = (const uint8_t *)query, *pair, *amp, *eq, *val;
	size_t rest = len, plen, klen, vlen;

	while (rest > 0) {
		pair = q;
		amp = memchr(pair, '&', rest);
		plen = amp ? (size_t)(amp - pair) : rest;
		q += amp ? plen + 1 : plen;
		rest -= amp ? plen + 1 : plen;
		if (plen == 0 || memchr(pair, ';', plen) != NULL)
			continue;
		eq = memchr(pair, '=', plen);
		klen = eq ? (size_t)(eq - pair) : plen;
		val = eq ? eq + 1 : pair + plen;
		vlen = plen - (size_t)(val - pair);
		/* Go drops a pair with a bad escape in either half before it
		 * looks at the key, so a later pair may still match. */
		if (!form_escapes_ok(pair, klen) || !form_escapes_ok(val, vlen))
			continue;
		if (!form_key_equals(pair, klen, key))
			continue;
		return form_decode(out, val, vlen, 1) == -1 ? -1 : 1;
	}
	return 0;
}

int
form_path_unescape(const char *s, size_t len, struct buf *out)
{
	if (!form_escapes_ok((const uint8_t *)s, len)) {
		errno = EINVAL;
		return -1;
	}
	return form_decode(out, (const uint8_t *)s, len, 0);
}
