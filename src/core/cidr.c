/*
 * cidr: a left-to-right parser over (pointer, length) for dotted quads and
 * lists of networks. Strict on purpose: no octal or hex parts, no leading
 * zeros, no missing parts, so that "010.1.1.1" cannot mean two things.
 *
 * Who touches what: nothing shared; a cidr_set is written by the parse
 * and read by any thread after.
 */
#include "groupchat/core/cidr.h"

#include <string.h>

int
cidr_ipv4_parse(const char *s, size_t len, uint32_t *addr)
{
	uint32_t a = 0;
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t start = i;

		if (part > 0) {
			if (i == len || s[i] != '.')
				return -1;
			start = ++i;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return -1;
		a = a << 8 | v;
	}
	if (i != len)
		return -1;
	*addr = a;
	return 0;
}

/* One entry, blanks trimmed: A.B.C.D or A.B.C.D/N. */
static int
parse_entry(const char *s, size_t len, struct cidr *c)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	unsigned bits = 32;
	uint32_t a;

	if (cidr_ipv4_parse(s, alen, &a) == -1)
		return -1;
	if (slash != NULL) {
		const char *p = slash + 1, *end = s + len;
		if (p == end || end - p > 2 || (*p == '0' && end - p > 1))
			return -1;
		for (bits = 0; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			bits = bits * 10 + (unsigned)(*p - '0');
		}
		if (bits > 32)
			return -1;
	}
	/* A shift by 32 is undefined: /0 is the empty mask. */
	c->mask = bits == 0 ? 0 : UINT32_MAX << (32 - bits);
	c->net = a & c->mask;
	return 0;
}

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

int
cidr_set_parse(struct cidr_set *set, const char *s, size_t len, const char **why)
{
	struct cidr_set out = { .n = 0 };
	const char *p = s, *end = s + len;

	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma != NULL ? comma : end;
		const char *b = p;

		while (b < e && blank(*b))
			b++;
		while (e > b && blank(e[-1]))
			e--;
		if (out.n == CIDR_SET_MAX) {
			*why = "more than 32 networks";
			return -1;
		}
		if (parse_entry(b, (size_t)(e - b), &out.v[out.n]) == -1) {
			*why = b == e ? "an empty entry" :
			    "an entry that is not an IPv4 address or A.B.C.D/N network";
			return -1;
		}
		out.n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*set = out;
	return 0;
}

int
cidr_set_has(const struct cidr_set *set, uint32_t addr)
{
	for (size_t i = 0; i < set->n; i++)
		if ((addr & set->v[i].mask) == set->v[i].net)
			return 1;
	return 0;
}
