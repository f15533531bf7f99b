/*
 * redis_sentinels: on any input, redis_sentinels_parse either refuses it
 * (EINVAL, a reason, no entries) or returns 1..REDIS_SENTINELS_MAX
 * entries, each a non-empty host within bounds and a port in range,
 * whose text form parses back to the same entry; redis_sentinels_switch
 * either refuses the same bytes (EINVAL), or names another master, or
 * gives a host within bounds and a port in range. Input: the bytes, as
 * the list and as a +switch-master payload for master "gm".
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/cluster/redis_sentinels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct redis_sentinels l, back;
	struct redis_addr to;
	const char *why;
	char text[REDIS_URL_HOST_MAX + 16];
	size_t i;
	int rc;

	errno = 0;
	if (redis_sentinels_parse((const char *)data, size, &l, &why) == -1) {
		if (errno != EINVAL || why == NULL || l.n != 0)
			abort();
	} else {
		if (why != NULL || l.n == 0 || l.n > REDIS_SENTINELS_MAX)
			abort();
		for (i = 0; i < l.n; i++) {
			if (l.at[i].host[0] == '\0' ||
			    strlen(l.at[i].host) > REDIS_URL_HOST_MAX ||
			    l.at[i].port < 1 || l.at[i].port > 65535)
				abort();
			redis_addr_text(&l.at[i], text, sizeof(text));
			if (redis_sentinels_parse(text, strlen(text), &back, &why) == -1 ||
			    back.n != 1 || !redis_addr_eq(&back.at[0], &l.at[i]))
				abort();
		}
	}

	errno = 0;
	rc = redis_sentinels_switch((const char *)data, size, "gm", &to);
	if ((rc == -1 && errno != EINVAL) || rc < -1 || rc > 1)
		abort();
	if (rc == 1 && (to.host[0] == '\0' || strlen(to.host) > REDIS_URL_HOST_MAX ||
	    to.port < 1 || to.port > 65535))
		abort();
	return 0;
}
