/*
 * auth: keys from values and files, bearer parsing, the constant-time
 * admin check, finding a join token, and the join-token verifier against
 * every refusal and acceptance: tokens are minted here with libjwt (for
 * claims and algorithms auth_join_mint would never produce) or written
 * out by hand (alg "none", garbage).
 */
#include <check.h>
#include <errno.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "groupchat/core/buf.h"
#include "groupchat/web/auth.h"
#include "support/test_main.h"

#define NOW 1800000000LL

/* 32 bytes each: the shortest secret and token auth_key_set takes. */
#define SECRET "s3cret-s3cret-s3cret-s3cret-s3cr"
#define TOKEN "t0ken-t0ken-t0ken-t0ken-t0ken-t0"

static struct auth_key secret;

static void
setup(void)
{
	char err[128];

	ck_assert_int_eq(auth_key_set(&secret, AUTH_JOIN_SECRET, SECRET, strlen(SECRET), err,
	    sizeof(err)), 0);
}

/* A token with exactly these claims (exp, nbf or grp absent when 0/NULL),
 * signed with alg under key. */
static char *
mint_raw(jwt_alg_t alg, const char *key, const char *grp, long exp, long nbf)
{
	jwt_t *j;
	char *t;

	ck_assert_int_eq(jwt_new(&j), 0);
	if (grp != NULL)
		ck_assert_int_eq(jwt_add_grant(j, "grp", grp), 0);
	if (exp != 0)
		ck_assert_int_eq(jwt_add_grant_int(j, "exp", exp), 0);
	if (nbf != 0)
		ck_assert_int_eq(jwt_add_grant_int(j, "nbf", nbf), 0);
	/* libjwt takes alg "none" only without a key. */
	ck_assert_int_eq(jwt_set_alg(j, alg, alg == JWT_ALG_NONE ? NULL :
	    (const unsigned char *)key, alg == JWT_ALG_NONE ? 0 : (int)strlen(key)), 0);
	t = jwt_encode_str(j);
	ck_assert_ptr_nonnull(t);
	jwt_free(j);
	return t;
}

/* A token with a hand-written payload (JSON), signed HS256 with SECRET. */
static char *
mint_json(const char *payload)
{
	jwt_t *j;
	char *t;

	ck_assert_int_eq(jwt_new(&j), 0);
	ck_assert_int_eq(jwt_add_grants_json(j, payload), 0);
	ck_assert_int_eq(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)SECRET,
	    (int)strlen(SECRET)), 0);
	t = jwt_encode_str(j);
	ck_assert_ptr_nonnull(t);
	jwt_free(j);
	return t;
}

static enum auth_verdict
verify(const char *tok, const char *grp)
{
	return auth_join_verify(&secret, tok, strlen(tok), grp, strlen(grp), NOW);
}

START_TEST(minted_token_is_accepted_for_its_group_only)
{
	char *t = auth_join_mint(&secret, "room", 4, NOW + 60, 0);

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(verify(t, "room"), AUTH_OK);
	ck_assert_int_eq(verify(t, "room2"), AUTH_OTHER_GROUP);
	ck_assert_int_eq(verify(t, "roo"), AUTH_OTHER_GROUP);
	ck_assert_int_eq(verify(t, "Room"), AUTH_OTHER_GROUP);
	free(t);
}
END_TEST

START_TEST(group_is_compared_as_exact_bytes)
{
	char *t = auth_join_mint(&secret, "a/b \xc3\xbc", 6, NOW + 60, 0);

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(auth_join_verify(&secret, t, strlen(t), "a/b \xc3\xbc", 6, NOW), AUTH_OK);
	ck_assert_int_eq(auth_join_verify(&secret, t, strlen(t), "a/b \xc3\xbc\0", 7, NOW),
	    AUTH_OTHER_GROUP);
	ck_assert_int_eq(verify(t, "a%2Fb \xc3\xbc"), AUTH_OTHER_GROUP);
	free(t);
}
END_TEST

/* exp and nbf allow AUTH_CLOCK_LEEWAY seconds of skew either way: a token
 * is refused from exp + leeway on, and before nbf - leeway. */
static enum auth_verdict
verify_at(const char *tok, int64_t now)
{
	return auth_join_verify(&secret, tok, strlen(tok), "room", 4, now);
}

START_TEST(expiry_and_nbf_allow_the_clock_leeway)
{
	const int64_t L = AUTH_CLOCK_LEEWAY;
	char *t = auth_join_mint(&secret, "room", 4, NOW, 0);
	char *n = auth_join_mint(&secret, "room", 4, NOW + 60, NOW + L + 1);
	char *ok = auth_join_mint(&secret, "room", 4, NOW + 60, NOW + L);

	ck_assert_int_ge(L, 1);
	ck_assert_int_eq(verify_at(t, NOW - 1), AUTH_OK);
	ck_assert_int_eq(verify_at(t, NOW), AUTH_OK);
	ck_assert_int_eq(verify_at(t, NOW + L - 1), AUTH_OK);
	ck_assert_int_eq(verify_at(t, NOW + L), AUTH_EXPIRED);
	ck_assert_int_eq(verify_at(n, NOW), AUTH_NOT_YET);
	ck_assert_int_eq(verify_at(n, NOW + 1), AUTH_OK);
	ck_assert_int_eq(verify_at(ok, NOW), AUTH_OK);
	free(t);
	free(n);
	free(ok);
}
END_TEST

START_TEST(other_algorithms_are_refused)
{
	char *h384 = mint_raw(JWT_ALG_HS384, SECRET, "room", NOW + 60, 0);
	char *h512 = mint_raw(JWT_ALG_HS512, SECRET, "room", NOW + 60, 0);
	char *none = mint_raw(JWT_ALG_NONE, "", "room", NOW + 60, 0);
	/* alg "none" written out, with and without a signature part. */
	const char *none1 = "eyJhbGciOiJub25lIn0.eyJncnAiOiJyb29tIiwiZXhwIjoxOTAwMDAwMDAwfQ.";
	const char *none2 = "eyJhbGciOiJub25lIn0.eyJncnAiOiJyb29tIiwiZXhwIjoxOTAwMDAwMDAwfQ.eA";

	ck_assert_int_eq(verify(h384, "room"), AUTH_BAD_ALG);
	ck_assert_int_eq(verify(h512, "room"), AUTH_BAD_ALG);
	ck_assert_int_eq(verify(none, "room"), AUTH_MALFORMED);
	ck_assert_int_eq(verify(none1, "room"), AUTH_MALFORMED);
	ck_assert_int_eq(verify(none2, "room"), AUTH_MALFORMED);
	free(h384);
	free(h512);
	free(none);
}
END_TEST

START_TEST(wrong_key_and_tampering_are_refused)
{
	char *t = mint_raw(JWT_ALG_HS256, "other", "room", NOW + 60, 0);
	char *good = auth_join_mint(&secret, "room", 4, NOW + 60, 0);
	size_t n = strlen(good);

	ck_assert_int_eq(verify(t, "room"), AUTH_MALFORMED);
	good[n - 2] = good[n - 2] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify(good, "room"), AUTH_MALFORMED);
	free(t);
	free(good);
}
END_TEST

START_TEST(missing_or_mistyped_claims_are_refused)
{
	static const char *payloads[] = {
		"{\"exp\":1900000000}",
		"{\"grp\":\"room\"}",
		"{\"grp\":5,\"exp\":1900000000}",
		"{\"grp\":[\"room\"],\"exp\":1900000000}",
		"{\"grp\":\"room\",\"exp\":\"1900000000\"}",
		"{\"grp\":\"room\",\"exp\":1900000000.5}",
		"{\"grp\":\"room\",\"exp\":null}",
		"{\"grp\":\"room\",\"exp\":1900000000,\"nbf\":\"0\"}",
		"{\"grp\":\"room\",\"exp\":1900000000,\"nbf\":1.5}",
	};

	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		char *t = mint_json(payloads[i]);
		ck_assert_msg(verify(t, "room") == AUTH_BAD_CLAIMS, "%s accepted", payloads[i]);
		free(t);
	}
	/* exp 0 is a number, and long past. */
	char *t = mint_json("{\"grp\":\"room\",\"exp\":0}");
	ck_assert_int_eq(verify(t, "room"), AUTH_EXPIRED);
	free(t);
	t = mint_json("{\"grp\":\"room\",\"exp\":1900000000,\"nbf\":-5,\"x\":[1]}");
	ck_assert_int_eq(verify(t, "room"), AUTH_OK);
	free(t);
}
END_TEST

START_TEST(garbage_empty_huge_and_nul_are_refused)
{
	char *good = auth_join_mint(&secret, "room", 4, NOW + 60, 0);
	size_t n = strlen(good);
	char *huge = malloc(AUTH_TOKEN_MAX + 2);
	struct auth_key none = { .len = 0 };

	ck_assert_int_eq(verify("", "room"), AUTH_MISSING);
	ck_assert_int_eq(verify("abc", "room"), AUTH_MALFORMED);
	ck_assert_int_eq(verify("a.b.c", "room"), AUTH_MALFORMED);
	ck_assert_int_eq(verify("a.b.c.d", "room"), AUTH_MALFORMED);
	ck_assert_int_eq(verify("..", "room"), AUTH_MALFORMED);
	ck_assert_ptr_nonnull(huge);
	memset(huge, 'A', AUTH_TOKEN_MAX + 1);
	huge[AUTH_TOKEN_MAX + 1] = '\0';
	ck_assert_int_eq(verify(huge, "room"), AUTH_TOO_LONG);
	/* A NUL inside: libjwt would see only the part before it. */
	memcpy(huge, good, n);
	huge[n] = '\0';
	huge[n + 1] = 'x';
	ck_assert_int_eq(auth_join_verify(&secret, huge, n + 2, "room", 4, NOW), AUTH_MALFORMED);
	ck_assert_int_eq(auth_join_verify(&secret, huge, n, "room", 4, NOW), AUTH_OK);
	/* Trailing bytes after a good token. */
	huge[n] = '=';
	ck_assert_int_eq(auth_join_verify(&secret, huge, n + 1, "room", 4, NOW), AUTH_MALFORMED);
	ck_assert_int_eq(auth_join_verify(&none, good, n, "room", 4, NOW), AUTH_MALFORMED);
	free(huge);
	free(good);
}
END_TEST

START_TEST(mint_refuses_what_json_cannot_carry)
{
	errno = 0;
	ck_assert_ptr_null(auth_join_mint(&secret, "a\0b", 3, NOW, 0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(auth_join_mint(&secret, "\xff", 1, NOW, 0));
	ck_assert_ptr_null(auth_join_mint(&secret, "", 0, NOW, 0));
	ck_assert_int_eq(auth_verdict_text(AUTH_EXPIRED)[0], 'e');
}
END_TEST

START_TEST(bearer_parsing)
{
	const char *t;
	size_t n;

	ck_assert_int_eq(auth_bearer("Bearer abc", &t, &n), 1);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(t, "abc", 3) == 0);
	ck_assert_int_eq(auth_bearer("bEARER \t abc \t", &t, &n), 1);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(auth_bearer(NULL, &t, &n), 0);
	ck_assert_int_eq(auth_bearer("", &t, &n), 0);
	ck_assert_int_eq(auth_bearer("Bearer", &t, &n), 0);
	ck_assert_int_eq(auth_bearer("Bearer   ", &t, &n), 0);
	ck_assert_int_eq(auth_bearer("Bearerabc", &t, &n), 0);
	ck_assert_int_eq(auth_bearer("Basic YTpi", &t, &n), 0);
}
END_TEST

START_TEST(admin_token_compare)
{
	struct auth_key k = { .len = 0 };
	char err[128];

	ck_assert_int_eq(auth_admin_ok(&k, "Bearer x"), 0);
	ck_assert_int_eq(auth_key_set(&k, AUTH_ADMIN_TOKEN, TOKEN, strlen(TOKEN), err,
	    sizeof(err)), 0);
	ck_assert_int_eq(auth_admin_ok(&k, "Bearer " TOKEN), 1);
	ck_assert_int_eq(auth_admin_ok(&k, "bearer  " TOKEN " "), 1);
	ck_assert_int_eq(auth_admin_ok(&k, "Bearer t0ken-t0ken-t0ken-t0ken-t0ken-t"), 0);
	ck_assert_int_eq(auth_admin_ok(&k, "Bearer " TOKEN "n"), 0);
	ck_assert_int_eq(auth_admin_ok(&k, "Bearer " TOKEN TOKEN), 0);
	ck_assert_int_eq(auth_admin_ok(&k, "Bearer T0ken-t0ken-t0ken-t0ken-t0ken-t0"), 0);
	ck_assert_int_eq(auth_admin_ok(&k, TOKEN), 0);
	ck_assert_int_eq(auth_admin_ok(&k, "Basic " TOKEN), 0);
	ck_assert_int_eq(auth_admin_ok(&k, NULL), 0);
}
END_TEST

START_TEST(join_token_from_query_or_header)
{
	struct buf b;
	char *big = malloc(AUTH_TOKEN_MAX + 16);

	buf_init(&b, 0);
	ck_assert_int_eq(auth_join_token("token=a.b%2Ec", "Bearer x.y.z", &b), 1);
	ck_assert_uint_eq(b.len, 5);
	ck_assert(memcmp(b.data, "a.b.c", 5) == 0);
	buf_reset(&b);
	ck_assert_int_eq(auth_join_token("x=1", "Bearer x.y.z", &b), 1);
	ck_assert(b.len == 5 && memcmp(b.data, "x.y.z", 5) == 0);
	buf_reset(&b);
	ck_assert_int_eq(auth_join_token(NULL, "Bearer x.y.z", &b), 1);
	buf_reset(&b);
	ck_assert_int_eq(auth_join_token("tok=1", NULL, &b), 0);
	ck_assert_int_eq(auth_join_token(NULL, "Basic abc", &b), 0);
	ck_assert_int_eq(auth_join_token("token=", NULL, &b), 1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "token=", 6);
	memset(big + 6, 'a', AUTH_TOKEN_MAX + 1);
	big[AUTH_TOKEN_MAX + 7] = '\0';
	ck_assert_int_eq(auth_join_token(big, NULL, &b), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	memcpy(big, "Bearer ", 7);
	memset(big + 7, 'a', AUTH_TOKEN_MAX + 1);
	big[AUTH_TOKEN_MAX + 8] = '\0';
	buf_reset(&b);
	ck_assert_int_eq(auth_join_token(NULL, big, &b), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	free(big);
	buf_free(&b);
}
END_TEST

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(keys_from_values_and_files)
{
	struct auth_key k = { .len = 0 };
	char err[512], path[] = "/tmp/test_auth_XXXXXX";
	char big[AUTH_KEY_MAX + 1];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(auth_key_set(&k, AUTH_ADMIN_TOKEN, "", 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	ck_assert_int_eq(auth_key_set(&k, AUTH_ADMIN_TOKEN, TOKEN " b", strlen(TOKEN) + 2,
	    err, sizeof(err)), -1);
	ck_assert_int_eq(auth_key_set(&k, AUTH_ADMIN_TOKEN, TOKEN "\n", strlen(TOKEN) + 1,
	    err, sizeof(err)), -1);
	/* A join secret is any bytes, 32 of them at least (RFC 7518, 3.2). */
	ck_assert_int_eq(auth_key_set(&k, AUTH_JOIN_SECRET, SECRET " b\n\0", strlen(SECRET) + 4,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(k.len, strlen(SECRET) + 4);
	ck_assert_int_eq(auth_key_set(&k, AUTH_JOIN_SECRET, SECRET, 31, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "shorter than 32 bytes"));
	ck_assert_int_eq(auth_key_set(&k, AUTH_ADMIN_TOKEN, TOKEN, 31, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "shorter than 32 bytes"));
	ck_assert_uint_eq(k.len, strlen(SECRET) + 4);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(auth_key_set(&k, AUTH_JOIN_SECRET, big, AUTH_KEY_MAX, err, sizeof(err)), 0);
	ck_assert_int_eq(auth_key_set(&k, AUTH_JOIN_SECRET, big, AUTH_KEY_MAX + 1, err, sizeof(err)), -1);
	ck_assert_uint_eq(k.len, AUTH_KEY_MAX);

	write_file(path, TOKEN "\n", strlen(TOKEN) + 1);
	ck_assert_int_eq(auth_key_load(&k, AUTH_ADMIN_TOKEN, path, err, sizeof(err)), 0);
	ck_assert(k.len == strlen(TOKEN) && memcmp(k.v, TOKEN, strlen(TOKEN)) == 0);
	write_file(path, TOKEN "\r\n", strlen(TOKEN) + 2);
	ck_assert_int_eq(auth_key_load(&k, AUTH_ADMIN_TOKEN, path, err, sizeof(err)), 0);
	ck_assert_uint_eq(k.len, strlen(TOKEN));
	write_file(path, SECRET "\n\n", strlen(SECRET) + 2);
	ck_assert_int_eq(auth_key_load(&k, AUTH_JOIN_SECRET, path, err, sizeof(err)), 0);
	ck_assert(k.len == strlen(SECRET) + 1 && memcmp(k.v, SECRET "\n", k.len) == 0);
	write_file(path, "short\n", 6);
	ck_assert_int_eq(auth_key_load(&k, AUTH_JOIN_SECRET, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "shorter than 32 bytes"));
	write_file(path, "\n", 1);
	ck_assert_int_eq(auth_key_load(&k, AUTH_JOIN_SECRET, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	write_file(path, big, sizeof(big));
	ck_assert_int_eq(auth_key_load(&k, AUTH_JOIN_SECRET, path, err, sizeof(err)), -1);
	unlink(path);
	ck_assert_int_eq(auth_key_load(&k, AUTH_JOIN_SECRET, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));
	/* Refusals leave the key as it was. */
	ck_assert(k.len == strlen(SECRET) + 1 && memcmp(k.v, SECRET "\n", k.len) == 0);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tv = tcase_create("verify");
	TCase *tk = tcase_create("credentials");

	tcase_add_checked_fixture(tv, setup, NULL);
	tcase_add_test(tv, minted_token_is_accepted_for_its_group_only);
	tcase_add_test(tv, group_is_compared_as_exact_bytes);
	tcase_add_test(tv, expiry_and_nbf_allow_the_clock_leeway);
	tcase_add_test(tv, other_algorithms_are_refused);
	tcase_add_test(tv, wrong_key_and_tampering_are_refused);
	tcase_add_test(tv, missing_or_mistyped_claims_are_refused);
	tcase_add_test(tv, garbage_empty_huge_and_nul_are_refused);
	tcase_add_test(tv, mint_refuses_what_json_cannot_carry);
	suite_add_tcase(s, tv);
	tcase_add_test(tk, bearer_parsing);
	tcase_add_test(tk, admin_token_compare);
	tcase_add_test(tk, join_token_from_query_or_header);
	tcase_add_test(tk, keys_from_values_and_files);
	suite_add_tcase(s, tk);
	return s;
}

int
main(void)
{
	return test_run(auth_suite());
}
