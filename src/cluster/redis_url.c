/*
 * redis_url: a hand-written parser over (pointer, length), left to right,
 * one component at a time. It allocates once, the result, and copies the
 * host and the decoded password into it; the input is never quoted in an
 * error, so a password cannot leak through one.
 *
 * Who touches what: a redis_url is immutable after parse and may be read
 * by any thread; only redis_url_free writes it (wiping the password).
 */
#include "groupchat/cluster/redis_url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REDIS_DEFAULT_PORT 6379
#define REDIS_DB_MAX 99999

struct redis_url {
	char host[REDIS_URL_HOST_MAX + 1];
	int port;
	int db;
	size_t pass_len;
	char *pass;          /* pass_len bytes and a NUL; NULL when none */
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static int
hostchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int
v6char(char c)
{
	return hexval(c) >= 0 || c == ':' || c == '.';
}

enum redis_host
redis_url_scan_host(const char **pp, const char *end, char host[REDIS_URL_HOST_MAX + 1])
{
	const char *p = *pp, *hs, *he;

	if (p < end && *p == '[') {
		hs = ++p;
		while (p < end && v6char(*p))
			p++;
		if (p == end || *p != ']' || p == hs)
			return REDIS_HOST_BAD_V6;
		he = p++;
	} else {
		hs = p;
		while (p < end && hostchar(*p))
			p++;
		he = p;
	}
	if (he == hs)
		return REDIS_HOST_NONE;
	if ((size_t)(he - hs) > REDIS_URL_HOST_MAX)
		return REDIS_HOST_TOO_LONG;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*pp = p;
	return REDIS_HOST_OK;
}

/* Decodes the percent-encoded s/n into a new NUL-terminated string. */
static char *
decode_password(const char *s, size_t n, size_t *outlen, const char **why)
{
	char *out;
	size_t i, o = 0;
	int hi, lo;

	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 ||
		    (lo = hexval(s[i + 2])) < 0) {
			*why = "bad percent escape in password";
			free(out);
			errno = EINVAL;
			return NULL;
		}
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* Parses a decimal in s/n into *v, refusing empty, signs and > max. */
static int
parse_uint(const char *s, size_t n, long max, long *v)
{
	size_t i;

	*v = 0;
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
		if (*v > max)
			return -1;
	}
	return 0;
}

static char *
copy_password(const char *s, size_t *len)
{
	char *p;

	*len = strlen(s);
	if ((p = malloc(*len + 1)) != NULL)
		memcpy(p, s, *len + 1);
	return p;
}

struct redis_url *
redis_url_parse(const char *s, size_t len, const char *env_password,
                const char **why)
{
	static const char scheme[] = "redis://";
	const size_t slen = sizeof(scheme) - 1;
	struct redis_url *u;
	const char *p, *end = s + len, *at, *hs, *he;
	long v;
	int e = EINVAL;

	*why = "invalid redis URL";
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->port = REDIS_DEFAULT_PORT;
	if (len < slen || strncasecmp(s, scheme, slen) != 0) {
		*why = "redis URL must start with redis://";
		goto err;
	}
	p = s + slen;

	/* userinfo: everything before the last '@' of the authority */
	at = NULL;
	for (he = p; he < end && *he != '/'; he++)
		if (*he == '@')
			at = he;
	if (at != NULL) {
		if (*p != ':') {
			*why = "redis URL user names are not supported, use :password@";
			goto err;
		}
		u->pass = decode_password(p + 1, (size_t)(at - p - 1), &u->pass_len, why);
		if (u->pass == NULL) {
			e = errno;
			goto err;
		}
		p = at + 1;
	}

	/* host */
	switch (redis_url_scan_host(&p, end, u->host)) {
	case REDIS_HOST_OK:
		break;
	case REDIS_HOST_BAD_V6:
		*why = "bad IPv6 address in redis URL";
		goto err;
	case REDIS_HOST_NONE:
		*why = "redis URL has no host";
		goto err;
	case REDIS_HOST_TOO_LONG:
		*why = "redis URL host is too long";
		goto err;
	}

	/* port */
	if (p < end && *p == ':') {
		hs = ++p;
		while (p < end && *p != '/')
			p++;
		if (parse_uint(hs, (size_t)(p - hs), 65535, &v) == -1 || v == 0) {
			*why = "bad port in redis URL";
			goto err;
		}
		u->port = (int)v;
	}

	/* database */
	if (p < end && *p == '/') {
		p++;
		if (p < end) {
			if (parse_uint(p, (size_t)(end - p), REDIS_DB_MAX, &v) == -1) {
				*why = "bad database number in redis URL";
				goto err;
			}
			u->db = (int)v;
			p = end;
		}
	}
	if (p != end) {
		*why = "unexpected characters after the host in redis URL";
		goto err;
	}

	if (env_password != NULL && env_password[0] != '\0') {
		if (u->pass != NULL) {
			explicit_bzero(u->pass, u->pass_len);
			free(u->pass);
		}
		if ((u->pass = copy_password(env_password, &u->pass_len)) == NULL) {
			redis_url_free(u);
			return NULL; /* ENOMEM */
		}
	}
	*why = NULL;
	return u;

err:
	redis_url_free(u);
	errno = e;
	return NULL;
}

int
redis_url_mask_password(char *s, size_t len)
{
	static const char scheme[] = "redis://";
	const size_t slen = sizeof(scheme) - 1;
	char *p, *at = NULL, *end = s + len;

	if (len < slen || strncasecmp(s, scheme, slen) != 0)
		return 0;
	/* The userinfo as redis_url_parse finds it: up to the last '@' of
	 * the authority, a password when it starts with ':'. */
	for (p = s + slen; p < end && *p != '/'; p++)
		if (*p == '@')
			at = p;
	p = s + slen;
	if (at == NULL || *p != ':' || at == p + 1)
		return 0;
	memset(p + 1, '*', (size_t)(at - p - 1));
	return 1;
}

void
redis_url_free(struct redis_url *u)
{
	if (u == NULL)
		return;
	if (u->pass != NULL) {
		explicit_bzero(u->pass, u->pass_len);
		free(u->pass);
	}
	free(u);
}

const char *
redis_url_host(const struct redis_url *u)
{
	return u->host;
}

int
redis_url_port(const struct redis_url *u)
{
	return u->port;
}

int
redis_url_db(const struct redis_url *u)
{
	return u->db;
}

int
redis_url_has_password(const struct redis_url *u)
{
	return u->pass != NULL;
}

const char *
redis_url_password(const struct redis_url *u, size_t *len)
{
	*len = u->pass_len;
	return u->pass != NULL ? u->pass : "";
}

size_t
redis_url_redacted(const struct redis_url *u, char *out, size_t n)
{
	int v6 = strchr(u->host, ':') != NULL;
	int w;

	w = snprintf(out, n, "redis://%s%s%s%s:%d/%d", u->pass != NULL ? ":***@" : "",
	    v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, u->db);
	return w < 0 ? 0 : (size_t)w;
}
