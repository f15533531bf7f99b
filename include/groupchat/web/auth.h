/*
 * auth: opt-in access control. An admin token guards the control plane
 * (POST /create, DELETE /groups/G, /stats, /metrics) as a bearer token;
 * join tokens are HS256 JWTs naming the group they admit (claim "grp")
 * and when they expire ("exp", optionally "nbf"), verified with libjwt.
 * Pure functions over bytes: no sockets, no logging, no global state.
 * The HTTP side (who needs which credential, the 401) is src/access.c.
 */
#ifndef GROUPCHAT_AUTH_H
#define GROUPCHAT_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "groupchat/core/buf.h"

/* Longest admin token or join secret, in bytes. */
#define AUTH_KEY_MAX 1024
/* Shortest, in bytes: RFC 7518 (3.2) wants an HS256 key of at least the
 * hash's 256 bits, and a token as long is as hard to guess. */
#define AUTH_KEY_MIN 32
/* Seconds of clock skew allowed between the minter and the server: a
 * join token is taken until exp + AUTH_CLOCK_LEEWAY, and from
 * nbf - AUTH_CLOCK_LEEWAY. */
#define AUTH_CLOCK_LEEWAY 5
/* Longest join token looked at; a longer one is refused unread. */
#define AUTH_TOKEN_MAX 4096

/* A secret: the admin token or the join secret. len 0: not set (off). */
struct auth_key {
	size_t len;
	unsigned char v[AUTH_KEY_MAX];
};

enum auth_key_kind {
	AUTH_ADMIN_TOKEN, /* visible ASCII, no spaces: it travels in a header */
	AUTH_JOIN_SECRET, /* any bytes */
};

/* Sets *k to the len bytes at val. 0, or -1 with a one-line reason in err
 * (empty, shorter than AUTH_KEY_MIN, longer than AUTH_KEY_MAX, or an admin token with a byte that
 * cannot travel in a header); *k is then unchanged. */
int auth_key_set(struct auth_key *k, enum auth_key_kind kind, const void *val,
                 size_t len, char *err, size_t errlen);

/* auth_key_set with the contents of the file at path, minus one trailing
 * newline ("\n" or "\r\n"). 0, or -1 with a one-line reason in err (the
 * file cannot be read, or auth_key_set refuses its contents). */
int auth_key_load(struct auth_key *k, enum auth_key_kind kind, const char *path,
                  char *err, size_t errlen);

/* The credential of an "Authorization: Bearer <token>" header value (the
 * scheme case-insensitive, then spaces, then the token up to trailing
 * blanks). 1 with *tok and *len set, 0 if h is NULL, another scheme, or
 * has no token. */
int auth_bearer(const char *h, const char **tok, size_t *len);

/* 1 if the Authorization header value h carries exactly admin's token as
 * a bearer token. The comparison takes time that depends only on the
 * length of what was presented, never on where it differs. */
int auth_admin_ok(const struct auth_key *admin, const char *h);

/* The join token of a request: the "token" query parameter (decoded as
 * form_query_get does) if present, else the bearer token of the
 * Authorization header value h. 1 with the token appended to out, 0 if
 * the request carries none, -1 with errno ENOMEM, or EMSGSIZE if it is
 * longer than AUTH_TOKEN_MAX. query and h may be NULL. */
int auth_join_token(const char *query, const char *h, struct buf *out);

enum auth_verdict {
	AUTH_OK,
	AUTH_MISSING,     /* no token presented */
	AUTH_TOO_LONG,    /* over AUTH_TOKEN_MAX bytes */
	AUTH_MALFORMED,   /* not a JWT libjwt can decode, or a bad signature */
	AUTH_BAD_ALG,     /* signed, but not with HS256 */
	AUTH_BAD_CLAIMS,  /* grp missing or not a string, exp missing, exp or
	                     nbf not an integer */
	AUTH_EXPIRED,     /* now >= exp + AUTH_CLOCK_LEEWAY */
	AUTH_NOT_YET,     /* now < nbf - AUTH_CLOCK_LEEWAY */
	AUTH_OTHER_GROUP, /* grp is not the group asked for */
	AUTH_NO_MEMORY,
};

/* Verifies the join token tok (len bytes) for group grp (grp_len bytes,
 * decoded as the path is) at Unix time now, with secret. Never blocks. */
enum auth_verdict auth_join_verify(const struct auth_key *secret, const void *tok,
                                   size_t len, const void *grp, size_t grp_len,
                                   int64_t now);

/* A short word naming v for logs, e.g. "expired". */
const char *auth_verdict_text(enum auth_verdict v);

/* Mints an HS256 join token for group grp (grp_len bytes, valid UTF-8
 * without NUL, as JSON strings must be) expiring at Unix time exp, with
 * nbf unless it is 0. malloc'd and NUL-terminated, or NULL with errno
 * EINVAL (grp cannot be put in a JSON string) or ENOMEM. */
char *auth_join_mint(const struct auth_key *secret, const void *grp,
                     size_t grp_len, int64_t exp, int64_t nbf);

/* "groupchat token": parses --group G, --ttl DURATION (N, Ns, Nm, Nh or
 * Nd; default 1h) and --join-secret-file PATH (else GROUPCHAT_JOIN_SECRET)
 * from argv (argv[0] is "token") and prints a join token and a newline on
 * out. 0, or 2 after a one-line error on err. --help prints usage, 0. */
int auth_token_command(int argc, char **argv, FILE *out, FILE *err);

#endif
