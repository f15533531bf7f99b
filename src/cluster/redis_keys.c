/*
 * redis_keys: key and channel names, and fresh incarnations. Keys are
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
redis_inc_new(char inc[REDIS_INC_LEN + 1])
{
	unsigned char raw[REDIS_INC_LEN / 2];
	size_t got = 0;
	ssize_t n;
	int i;

	while (got < sizeof(raw)) {
		n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	for (i = 0; i < (int)sizeof(raw); i++)
		snprintf(inc + 2 * i, 3, "%02x", raw[i]);
	return 0;
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
