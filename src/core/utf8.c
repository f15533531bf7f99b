/*
 * utf8: strict decoding. The second byte's allowed range depends on the
 * first (that is what rules out overlongs, surrogates and > U+10FFFF), the
 * rest are plain continuation bytes.
 */
#include "groupchat/core/utf8.h"

#include <string.h>

size_t
utf8_decode(const uint8_t *s, size_t len, uint32_t *cp)
{
	uint8_t b0 = s[0], lo = 0x80, hi = 0xBF;
	size_t n, i;
	uint32_t c;

	if (b0 < 0x80) {
		*cp = b0;
		return 1;
	}
	if (b0 < 0xC2 || b0 > 0xF4)
		return 0;
	if (b0 < 0xE0) {
		n = 2;
		c = b0 & 0x1F;
	} else if (b0 < 0xF0) {
		n = 3;
		c = b0 & 0x0F;
		if (b0 == 0xE0)
			lo = 0xA0; /* overlong */
		else if (b0 == 0xED)
			hi = 0x9F; /* surrogates */
	} else {
		n = 4;
		c = b0 & 0x07;
		if (b0 == 0xF0)
			lo = 0x90; /* overlong */
		else if (b0 == 0xF4)
			hi = 0x8F; /* past U+10FFFF */
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	c = (c << 6) | (s[1] & 0x3F);
	for (i = 2; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	*cp = c;
	return n;
}

bool
utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0, n;
	uint64_t w;
	uint32_t cp;

	while (i < len) {
		/* Skip ASCII eight bytes at a time. */
		while (i + 8 <= len) {
			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_decode(s + i, len - i, &cp)) == 0)
			return false;
		i += n;
	}
	return true;
}
