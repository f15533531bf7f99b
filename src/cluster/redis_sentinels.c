/*
 * redis_sentinels: hand-written parsers over (pointer, length), left to
 * right, like redis_url's. Nothing is allocated; results go into the
 * caller's fixed-size structs, so every bound is checked before a copy.
 *
 * Who touches what: pure functions; the caller owns what they write.
 */
#include "groupchat/cluster/redis_sentinels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
redis_port_parse(const char *p, size_t len, int *port)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* One entry, s/n, into *a. 0 or -1 with *why. */
static int
parse_entry(const char *s, size_t n, struct redis_addr *a, const char **why)
{
	const char *p = s, *end = s + n;
	char host[sizeof(a->host)];

	if (n == 0) {
		*why = "empty entry in the sentinel list";
		return -1;
	}
	switch (redis_url_scan_host(&p, end, host)) {
	case REDIS_HOST_OK:
		break;
	case REDIS_HOST_BAD_V6:
		*why = "bad IPv6 address in the sentinel list";
		return -1;
	case REDIS_HOST_NONE:
		*why = "sentinel list entry has no host";
		return -1;
	case REDIS_HOST_TOO_LONG:
		*why = "sentinel host is too long";
		return -1;
	}
	a->port = REDIS_SENTINEL_PORT;
	if (p < end && *p == ':') {
		p++;
		if (redis_port_parse(p, (size_t)(end - p), &a->port) == -1) {
			*why = "bad port in the sentinel list";
			return -1;
		}
		p = end;
	}
	if (p != end) {
		*why = "unexpected characters after a sentinel host";
		return -1;
	}
	memcpy(a->host, host, sizeof(host));
	return 0;
}

int
redis_sentinels_parse(const char *s, size_t len, struct redis_sentinels *out,
                      const char **why)
{
	const char *p = s, *end = s + len, *comma;

	out->n = 0;
	*why = NULL;
	if (len == 0) {
		*why = "the sentinel list is empty";
		goto err;
	}
	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (out->n == REDIS_SENTINELS_MAX) {
			*why = "too many sentinels (at most 16)";
			goto err;
		}
		if (parse_entry(p, (size_t)((comma != NULL ? comma : end) - p),
		    &out->at[out->n], why) == -1)
			goto err;
		out->n++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
err:
	out->n = 0;
	errno = EINVAL;
	return -1;
}

int
redis_master_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > REDIS_MASTER_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] >= 0x7f)
			return 0;
	return 1;
}

/* The next space-separated word of [*p, end) into w/wn; 0, or -1 if none. */
static int
word(const char **p, const char *end, const char **w, size_t *wn)
{
	const char *s = *p;

	while (s < end && *s != ' ')
		s++;
	if (s == *p)
		return -1;
	*w = *p;
	*wn = (size_t)(s - *p);
	*p = s < end ? s + 1 : s;
	return 0;
}

int
redis_addr_set(struct redis_addr *a, const char *host, size_t hlen, const char *port,
               size_t plen)
{
	size_t i;
	int p;

	if (hlen == 0 || hlen > REDIS_URL_HOST_MAX || redis_port_parse(port, plen, &p) == -1)
		return -1;
	for (i = 0; i < hlen; i++)
		if ((unsigned char)host[i] <= ' ' || (unsigned char)host[i] >= 0x7f)
			return -1;
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	a->port = p;
	return 0;
}

int
redis_sentinels_switch(const char *p, size_t len, const char *master,
                       struct redis_addr *to)
{
	const char *end = p + len, *w[5];
	size_t wn[5], i;
	struct redis_addr old, a;

	for (i = 0; i < 5; i++)
		if (word(&p, end, &w[i], &wn[i]) == -1)
			goto bad;
	if (w[4] + wn[4] != end || redis_addr_set(&old, w[1], wn[1], w[2], wn[2]) == -1 ||
	    redis_addr_set(&a, w[3], wn[3], w[4], wn[4]) == -1)
		goto bad;
	if (wn[0] != strlen(master) || memcmp(w[0], master, wn[0]) != 0)
		return 0;
	*to = a;
	return 1;
bad:
	errno = EINVAL;
	return -1;
}

int
redis_addr_eq(const struct redis_addr *a, const struct redis_addr *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

void
redis_addr_text(const struct redis_addr *a, char *out, size_t n)
{
	int v6 = strchr(a->host, ':') != NULL;

	snprintf(out, n, "%s%s%s:%d", v6 ? "[" : "", a->host, v6 ? "]" : "", a->port);
}
