/*
 * cidr and client_addr: on any input, cidr_ipv4_parse takes exactly the
 * canonical dotted quads (what it takes prints back the same); a parsed
 * network list holds 1 to CIDR_SET_MAX networks, each with its host bits
 * clear and containing its own address; and client_addr returns the peer
 * or a piece of X-Forwarded-For made of hex digits, ':' and '.' only.
 * Input: one byte b, then text. b even: the text is a dotted quad and a
 * network list. b odd: the text up to a NUL is a list of trusted
 * proxies, the rest an X-Forwarded-For value from 127.0.0.1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/cidr.h"
#include "groupchat/web/client_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_parsers(const char *s, size_t n)
{
	struct cidr_set set;
	const char *why = NULL;
	uint32_t a;
	char text[16];

	if (cidr_ipv4_parse(s, n, &a) == 0) {
		snprintf(text, sizeof(text), "%u.%u.%u.%u", a >> 24, a >> 16 & 255,
		    a >> 8 & 255, a & 255);
		if (strlen(text) != n || memcmp(text, s, n) != 0)
			abort();
	}
	if (cidr_set_parse(&set, s, n, &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (set.n < 1 || set.n > CIDR_SET_MAX)
		abort();
	for (size_t i = 0; i < set.n; i++)
		if ((set.v[i].net & ~set.v[i].mask) != 0 || !cidr_set_has(&set, set.v[i].net))
			abort();
}

static void
check_client_addr(const char *list, size_t llen, const char *xff)
{
	static const char fallback[] = "10.0.0.0/8,127.0.0.1";
	struct cidr_set trusted;
	const char *why;
	char out[CLIENT_ADDR_MAX];

	if (cidr_set_parse(&trusted, list, llen, &why) == -1 &&
	    cidr_set_parse(&trusted, fallback, sizeof(fallback) - 1, &why) == -1)
		abort();
	client_addr("127.0.0.1", xff, &trusted, out);
	if (strlen(out) >= CLIENT_ADDR_MAX)
		abort();
	if (strcmp(out, "127.0.0.1") == 0)
		return;
	if (strspn(out, "0123456789abcdefABCDEF:.") != strlen(out) || strstr(xff, out) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1, *nul;
	char *xff;
	size_t n;

	if (size == 0)
		return 0;
	n = size - 1;
	if ((data[0] & 1) == 0) {
		check_parsers(s, n);
		return 0;
	}
	if ((nul = memchr(s, '\0', n)) == NULL)
		return 0;
	/* The header value as CivetWeb hands it over: NUL-terminated. */
	if ((xff = malloc(n - (size_t)(nul - s))) == NULL)
		return 0;
	memcpy(xff, nul + 1, n - (size_t)(nul - s) - 1);
	xff[n - (size_t)(nul - s) - 1] = '\0';
	check_client_addr(s, (size_t)(nul - s), xff);
	free(xff);
	return 0;
}
