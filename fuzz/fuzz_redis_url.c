/*
 * redis_url: on any input, redis_url_parse either refuses it (EINVAL and
 * a reason) or returns a URL whose parts are in range, whose password is
 * the environment's when one is given, and whose redacted text is built
 * from host, port and db alone, so it cannot carry a password byte. And
 * redis_url_mask_password changes only '*'-filled bytes, and masks a
 * password wherever the parser took one from the URL. Input: one byte b;
 * if b is odd, the rest up to the first NUL is the environment password
 * and the bytes after it the URL.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/cluster/redis_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char env[64], text[600], want[600], masked[1024];
	int had;
	const char *why, *pw, *url;
	struct redis_url *u;
	size_t n, need, plen;
	const uint8_t *nul;

	if (size == 0)
		return 0;
	env[0] = '\0';
	url = (const char *)data + 1;
	n = size - 1;
	if (data[0] & 1) {
		nul = memchr(url, '\0', n);
		if (nul == NULL || (size_t)(nul - (const uint8_t *)url) >= sizeof(env))
			return 0;
		memcpy(env, url, (size_t)(nul - (const uint8_t *)url) + 1);
		n -= (size_t)(nul - (const uint8_t *)url) + 1;
		url = (const char *)nul + 1;
	}

	if (n > sizeof(masked))
		return 0;
	memcpy(masked, url, n);
	had = redis_url_mask_password(masked, n);
	for (size_t i = 0; i < n; i++)
		if (masked[i] != url[i] && masked[i] != '*')
			abort();
	errno = 0;
	u = redis_url_parse(url, n, data[0] & 1 ? env : NULL, &why);
	if (u == NULL) {
		if (errno != EINVAL || why == NULL)
			abort();
		return 0;
	}
	if (!(data[0] & 1) && redis_url_has_password(u) &&
	    redis_url_password(u, &plen)[0] != '\0' && !had)
		abort();
	if (why != NULL || redis_url_port(u) < 1 || redis_url_port(u) > 65535 ||
	    redis_url_db(u) < 0 || redis_url_host(u)[0] == '\0' ||
	    strlen(redis_url_host(u)) > REDIS_URL_HOST_MAX)
		abort();
	pw = redis_url_password(u, &plen);
	if ((plen > 0 && !redis_url_has_password(u)) ||
	    (env[0] != '\0' && strcmp(pw, env) != 0))
		abort();
	need = redis_url_redacted(u, text, sizeof(text));
	if (need >= sizeof(text) || strlen(text) != need)
		abort();
	/* the redacted text is built from the parts alone: no password byte */
	snprintf(want, sizeof(want), "redis://%s%s%s%s:%d/%d",
	    redis_url_has_password(u) ? ":***@" : "",
	    strchr(redis_url_host(u), ':') ? "[" : "", redis_url_host(u),
	    strchr(redis_url_host(u), ':') ? "]" : "", redis_url_port(u),
	    redis_url_db(u));
	if (strcmp(text, want) != 0)
		abort();
	redis_url_free(u);
	return 0;
}
