/*
 * auth on arbitrary requests: finding a join token in a query string or an
 * Authorization header (our own code, before libjwt sees anything), the
 * bearer parser, the admin check and the verifier behind them.
 * Input: the raw query up to the first '\n', the header value after it.
 * Invariants: a found token is at most AUTH_TOKEN_MAX bytes, and a refusal
 * says why (EMSGSIZE or ENOMEM); a bearer credential lies inside the header
 * with no blank at either end; the admin check agrees with a plain
 * comparison; a verdict is one of the enum's, and a token accepted for a
 * group is refused for any other.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/buf.h"
#include "groupchat/web/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
cstr(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t qlen = nl != NULL ? (size_t)(nl - data) : size;
	char *query = cstr(data, qlen);
	char *h = nl != NULL ? cstr(nl + 1, size - qlen - 1) : NULL;
	struct auth_key admin = { .len = 3, .v = "k3y" };
	struct auth_key secret = { .len = 6, .v = "s3cret" };
	const char *t;
	size_t n;
	struct buf tok;
	int rc;

	if (auth_bearer(h, &t, &n)) {
		if (n == 0 || t < h || t + n > h + strlen(h) || t[0] == ' ' ||
		    t[0] == '\t' || t[n - 1] == ' ' || t[n - 1] == '\t')
			abort();
		if (auth_admin_ok(&admin, h) != (n == 3 && memcmp(t, "k3y", 3) == 0))
			abort();
	} else if (auth_admin_ok(&admin, h)) {
		abort();
	}

	buf_init(&tok, 0);
	rc = auth_join_token(qlen > 0 ? query : NULL, h, &tok);
	if (rc == -1 && errno != EMSGSIZE && errno != ENOMEM)
		abort();
	if (rc == 1) {
		enum auth_verdict v;
		if (tok.len > AUTH_TOKEN_MAX)
			abort();
		v = auth_join_verify(&secret, tok.data, tok.len, "g", 1, 1800000000);
		if ((int)v < AUTH_OK || v > AUTH_NO_MEMORY)
			abort();
		if (v == AUTH_OK &&
		    auth_join_verify(&secret, tok.data, tok.len, "h", 1, 1800000000) !=
		    AUTH_OTHER_GROUP)
			abort();
	}
	buf_free(&tok);
	free(query);
	free(h);
	return 0;
}
