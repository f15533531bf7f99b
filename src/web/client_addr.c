/*
 * client_addr: X-Forwarded-For read from the right, trusting only the
 * hops --trusted-proxies names. Entries are never copied unless they look
 * like addresses, so a log line cannot carry a client's bytes.
 *
 * Who touches what: nothing shared; any thread may call it.
 */
#include "groupchat/web/client_addr.h"

#include <string.h>

/* 1 if the len bytes at s can be an IPv4 or IPv6 address in text. */
static int
addr_text(const char *s, size_t len)
{
	if (len == 0 || len >= CLIENT_ADDR_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return 0;
	}
	return 1;
}

static int
trusted_ipv4(const char *s, size_t len, const struct cidr_set *trusted)
{
	uint32_t a;

	return cidr_ipv4_parse(s, len, &a) == 0 && cidr_set_has(trusted, a);
}

static void
copy(char out[CLIENT_ADDR_MAX], const char *s, size_t len)
{
	if (len >= CLIENT_ADDR_MAX)
		len = CLIENT_ADDR_MAX - 1;
	memcpy(out, s, len);
	out[len] = '\0';
}

void
client_addr(const char *peer, const char *xff, const struct cidr_set *trusted,
    char out[CLIENT_ADDR_MAX])
{
	const char *known = peer, *end;
	size_t known_len = strlen(peer);

	if (xff == NULL || !trusted_ipv4(peer, known_len, trusted)) {
		copy(out, known, known_len);
		return;
	}
	end = xff + strlen(xff);
	for (;;) {
		const char *start = end, *b, *e = end;

		while (start > xff && start[-1] != ',')
			start--;
		b = start;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (!addr_text(b, (size_t)(e - b)))
			break;
		known = b;
		known_len = (size_t)(e - b);
		if (!trusted_ipv4(b, known_len, trusted) || start == xff)
			break;
		end = start - 1;
	}
	copy(out, known, known_len);
}
