/*
 * redis_keys: key and channel names, and fresh incarnations, epochs and
 * lineages. Keys are
 * "prefix + raw id": the prefix names the kind, so no id can forge
 * another group's key (docs/design.md, "Keys and channels").
 *
 * Who touches what: stateless; any thread.
 */
#include "groupchat/cluster/redis_keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

int
redis_is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* ndigits (even, at most REDIS_INC_LEN) random hex digits and a NUL. */
static int
hex_new(char *out, size_t ndigits)
{
	unsigned char raw[REDIS_INC_LEN / 2];
	size_t got = 0;
	ssize_t n;
	int i;

	while (got < ndigits / 2) {
		n = getrandom(raw + got, ndigits / 2 - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	for (i = 0; i < (int)(ndigits / 2); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int
redis_inc_new(char inc[REDIS_INC_LEN + 1])
{
	return hex_new(inc, REDIS_INC_LEN);
}

int
redis_ep_new(char ep[REDIS_EP_LEN + 1])
{
	return hex_new(ep, REDIS_EP_LEN);
}

size_t
redis_key(char *out, size_t n, const char *prefix, const char *id, size_t len)
{
	size_t plen = strlen(prefix);

	if (plen + len > n)
		return 0;
	memcpy(out, prefix, plen);
	if (len > 0)
		memcpy(out + plen, id, len);
	return plen + len;
}

int
redis_lineage_new(char lineage[REDIS_LINEAGE_LEN + 1])
{
	return hex_new(lineage, REDIS_LINEAGE_LEN);
}
