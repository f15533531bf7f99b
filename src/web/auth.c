/*
 * auth: admin tokens and join tokens as bytes. libjwt 1.10 (Debian's
 * libjwt-dev) decodes a join token and checks its signature; it checks
 * nothing else, so this file checks the rest:
 *
 *  - the algorithm. jwt_decode with a key refuses alg "none" (EINVAL),
 *    but it accepts HS384 and HS512 signed with the same key, so a token
 *    must say HS256 explicitly;
 *  - the claims. 1.10 has no jwt_valid_* API and never looks at exp or
 *    nbf. jwt_get_grant_int returns -1 with errno ENOENT for a missing
 *    claim, and 0 with errno untouched for one that is not an integer, so
 *    exp and nbf are read back as JSON to tell 0 from "not a number".
 *
 * Our own code touches a raw token only to find it: the "token" query
 * parameter (form.c decodes it) or the bearer credential of an
 * Authorization header (auth_bearer). fuzz/fuzz_auth.c covers both and
 * the verifier behind them.
 *
 * Who touches what: nothing here is shared or mutable; any thread may
 * call anything. A struct auth_key is written once, by config at start-up.
 */
#include "groupchat/web/auth.h"

#include <errno.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "groupchat/core/utf8.h"
#include "groupchat/gocompat/form.h"

int
auth_key_set(struct auth_key *k, enum auth_key_kind kind, const void *val,
    size_t len, char *err, size_t errlen)
{
	const unsigned char *p = val;
	const char *what = kind == AUTH_ADMIN_TOKEN ? "admin token" : "join secret";

	if (len == 0) {
		snprintf(err, errlen, "the %s is empty", what);
		return -1;
	}
	if (len < AUTH_KEY_MIN) {
		snprintf(err, errlen, "the %s is shorter than %d bytes", what, AUTH_KEY_MIN);
		return -1;
	}
	if (len > AUTH_KEY_MAX) {
		snprintf(err, errlen, "the %s is longer than %d bytes", what, AUTH_KEY_MAX);
		return -1;
	}
	for (size_t i = 0; kind == AUTH_ADMIN_TOKEN && i < len; i++)
		if (p[i] <= ' ' || p[i] >= 0x7f) {
			snprintf(err, errlen, "the %s may hold only visible ASCII "
			    "characters, no spaces", what);
			return -1;
		}
	memcpy(k->v, p, len);
	k->len = len;
	return 0;
}

int
auth_key_load(struct auth_key *k, enum auth_key_kind kind, const char *path,
    char *err, size_t errlen)
{
	/* Room for the longest key, "\r\n", and one byte to see it is over. */
	unsigned char data[AUTH_KEY_MAX + 3];
	size_t n;
	FILE *f;
	int rc;

	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(data, 1, sizeof(data), f);
	rc = ferror(f);
	fclose(f);
	if (rc) {
		snprintf(err, errlen, "cannot read %s", path);
		return -1;
	}
	if (n > 0 && data[n - 1] == '\n') {
		n--;
		if (n > 0 && data[n - 1] == '\r')
			n--;
	}
	rc = auth_key_set(k, kind, data, n, err, errlen);
	memset(data, 0, sizeof(data));
	return rc;
}

int
auth_bearer(const char *h, const char **tok, size_t *len)
{
	const char *t, *e;

	if (h == NULL || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return 0;
	for (t = h + 7; *t == ' ' || *t == '\t'; t++)
		;
	for (e = t + strlen(t); e > t && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	if (e == t)
		return 0;
	*tok = t;
	*len = (size_t)(e - t);
	return 1;
}

int
auth_admin_ok(const struct auth_key *admin, const char *h)
{
	const char *t;
	size_t n;
	volatile unsigned diff;

	if (admin->len == 0 || !auth_bearer(h, &t, &n))
		return 0;
	/* Every presented byte is compared, whatever the lengths. */
	diff = n != admin->len;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)t[i] ^ admin->v[i % admin->len];
	return diff == 0;
}

int
auth_join_token(const char *query, const char *h, struct buf *out)
{
	size_t start = out->len, n;
	const char *t;
	int rc;

	if (query != NULL) {
		if ((rc = form_query_get(query, strlen(query), "token", out)) == -1)
			return -1;
		if (rc == 1) {
			if (out->len - start > AUTH_TOKEN_MAX) {
				errno = EMSGSIZE;
				return -1;
			}
			return 1;
		}
	}
	if (!auth_bearer(h, &t, &n))
		return 0;
	if (n > AUTH_TOKEN_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	return buf_append(out, t, n) == -1 ? -1 : 1;
}

/*
 * An integer claim: 1 with *v set, 0 if absent, -1 if present but not a
 * JSON integer (a string, a fraction, ...), -2 out of memory. jansson
 * prints an integer as an optional '-' and digits, anything else with
 * other characters.
 */
static int
int_claim(jwt_t *j, const char *name, long *v)
{
	char *js;
	const char *p;
	int rc;

	errno = 0;
	*v = jwt_get_grant_int(j, name);
	if (errno == ENOENT)
		return 0;
	if ((js = jwt_get_grants_json(j, name)) == NULL)
		return -2;
	p = js[0] == '-' ? js + 1 : js;
	rc = *p != '\0' && strspn(p, "0123456789") == strlen(p) ? 1 : -1;
	free(js);
	return rc;
}

static enum auth_verdict
check_claims(jwt_t *j, const void *grp, size_t grp_len, int64_t now)
{
	const char *g = jwt_get_grant(j, "grp");
	long exp, nbf;
	int has_exp = int_claim(j, "exp", &exp), has_nbf;

	if (has_exp == -2)
		return AUTH_NO_MEMORY;
	if (g == NULL || has_exp != 1)
		return AUTH_BAD_CLAIMS;
	if ((has_nbf = int_claim(j, "nbf", &nbf)) == -2)
		return AUTH_NO_MEMORY;
	if (has_nbf == -1)
		return AUTH_BAD_CLAIMS;
	/* exp and nbf are longs from JSON: compared without adding to them. */
	if (now - AUTH_CLOCK_LEEWAY >= exp)
		return AUTH_EXPIRED;
	if (has_nbf == 1 && now + AUTH_CLOCK_LEEWAY < nbf)
		return AUTH_NOT_YET;
	if (strlen(g) != grp_len || memcmp(g, grp, grp_len) != 0)
		return AUTH_OTHER_GROUP;
	return AUTH_OK;
}

enum auth_verdict
auth_join_verify(const struct auth_key *secret, const void *tok, size_t len,
    const void *grp, size_t grp_len, int64_t now)
{
	enum auth_verdict v;
	jwt_t *j = NULL;
	char *s;
	int rc;

	if (len == 0)
		return AUTH_MISSING;
	if (len > AUTH_TOKEN_MAX)
		return AUTH_TOO_LONG;
	/* libjwt takes a C string: a token with a NUL in it is not one. */
	if (memchr(tok, '\0', len) != NULL || secret->len == 0)
		return AUTH_MALFORMED;
	if ((s = malloc(len + 1)) == NULL)
		return AUTH_NO_MEMORY;
	memcpy(s, tok, len);
	s[len] = '\0';
	rc = jwt_decode(&j, s, secret->v, (int)secret->len);
	free(s);
	if (rc == ENOMEM)
		return AUTH_NO_MEMORY;
	if (rc != 0)
		return AUTH_MALFORMED;
	if (jwt_get_alg(j) != JWT_ALG_HS256)
		v = AUTH_BAD_ALG;
	else
		v = check_claims(j, grp, grp_len, now);
	jwt_free(j);
	return v;
}

const char *
auth_verdict_text(enum auth_verdict v)
{
	switch (v) {
	case AUTH_OK: return "ok";
	case AUTH_MISSING: return "missing";
	case AUTH_TOO_LONG: return "too_long";
	case AUTH_MALFORMED: return "malformed_or_bad_signature";
	case AUTH_BAD_ALG: return "not_hs256";
	case AUTH_BAD_CLAIMS: return "bad_claims";
	case AUTH_EXPIRED: return "expired";
	case AUTH_NOT_YET: return "not_yet_valid";
	case AUTH_OTHER_GROUP: return "other_group";
	case AUTH_NO_MEMORY: return "out_of_memory";
	}
	return "unknown";
}

char *
auth_join_mint(const struct auth_key *secret, const void *grp, size_t grp_len,
    int64_t exp, int64_t nbf)
{
	jwt_t *j = NULL;
	char *g = NULL, *out = NULL;
	int rc;

	if (grp_len == 0 || memchr(grp, '\0', grp_len) != NULL ||
	    !utf8_valid(grp, grp_len) || secret->len == 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((g = malloc(grp_len + 1)) == NULL)
		return NULL;
	memcpy(g, grp, grp_len);
	g[grp_len] = '\0';
	if ((rc = jwt_new(&j)) != 0 ||
	    (rc = jwt_add_grant(j, "grp", g)) != 0 ||
	    (rc = jwt_add_grant_int(j, "exp", (long)exp)) != 0 ||
	    (nbf != 0 && (rc = jwt_add_grant_int(j, "nbf", (long)nbf)) != 0) ||
	    (rc = jwt_set_alg(j, JWT_ALG_HS256, secret->v, (int)secret->len)) != 0) {
		errno = rc;
		goto out;
	}
	if ((out = jwt_encode_str(j)) == NULL && errno == 0)
		errno = ENOMEM;
out:
	jwt_free(j);
	free(g);
	return out;
}

/* A duration: N seconds, or N followed by s, m, h or d; at most 10 years. */
static int
parse_ttl(const char *s, int64_t *out)
{
	int64_t v = 0, unit = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > 10LL * 366 * 86400)
			return -1;
	}
	switch (*p) {
	case '\0': break;
	case 's': p++; break;
	case 'm': unit = 60; p++; break;
	case 'h': unit = 3600; p++; break;
	case 'd': unit = 86400; p++; break;
	default: return -1;
	}
	if (*p != '\0' || v == 0 || v > 10LL * 366 * 86400 / unit)
		return -1;
	*out = v * unit;
	return 0;
}

static void
token_usage(FILE *out)
{
	fprintf(out,
	    "usage: groupchat token --group G [--ttl DURATION] [--join-secret-file PATH]\n"
	    "\n"
	    "Prints an HS256 join token for group G, signed with the join secret\n"
	    "read from PATH (else from GROUPCHAT_JOIN_SECRET), valid for DURATION:\n"
	    "N seconds, or N with a suffix s, m, h or d (default 1h).\n");
}

int
auth_token_command(int argc, char **argv, FILE *out, FILE *err)
{
	const char *group = NULL, *ttl = "1h", *file = NULL, *env;
	struct auth_key secret = { .len = 0 };
	char why[256];
	int64_t secs;
	char *tok;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val, *eq = strchr(a, '=');
		size_t nlen = eq != NULL ? (size_t)(eq - a) : strlen(a);
		const char **dst;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			token_usage(out);
			return 0;
		}
		if (nlen == 7 && strncmp(a, "--group", 7) == 0)
			dst = &group;
		else if (nlen == 5 && strncmp(a, "--ttl", 5) == 0)
			dst = &ttl;
		else if (nlen == 18 && strncmp(a, "--join-secret-file", 18) == 0)
			dst = &file;
		else {
			fprintf(err, "groupchat token: unknown argument '%s' (see --help)\n", a);
			return 2;
		}
		if (eq != NULL) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(err, "groupchat token: %.*s needs a value (see --help)\n",
			    (int)nlen, a);
			return 2;
		}
		*dst = val;
	}
	if (group == NULL || *group == '\0') {
		fprintf(err, "groupchat token: --group G is required (see --help)\n");
		return 2;
	}
	if (parse_ttl(ttl, &secs) == -1) {
		fprintf(err, "groupchat token: invalid value '%s' for --ttl "
		    "(N, Ns, Nm, Nh or Nd, at most 10 years)\n", ttl);
		return 2;
	}
	if (file != NULL) {
		if (auth_key_load(&secret, AUTH_JOIN_SECRET, file, why, sizeof(why)) == -1) {
			fprintf(err, "groupchat token: --join-secret-file: %s\n", why);
			return 2;
		}
	} else if ((env = getenv("GROUPCHAT_JOIN_SECRET")) != NULL) {
		if (auth_key_set(&secret, AUTH_JOIN_SECRET, env, strlen(env), why,
		    sizeof(why)) == -1) {
			fprintf(err, "groupchat token: GROUPCHAT_JOIN_SECRET: %s\n", why);
			return 2;
		}
	} else {
		fprintf(err, "groupchat token: no join secret: give --join-secret-file "
		    "PATH or set GROUPCHAT_JOIN_SECRET\n");
		return 2;
	}
	tok = auth_join_mint(&secret, group, strlen(group), (int64_t)time(NULL) + secs, 0);
	memset(&secret, 0, sizeof(secret));
	if (tok == NULL) {
		fprintf(err, "groupchat token: cannot mint a token for this group: %s\n",
		    errno == EINVAL ? "its id is not UTF-8 text" : strerror(errno));
		return 2;
	}
	fprintf(out, "%s\n", tok);
	free(tok);
	return 0;
}
