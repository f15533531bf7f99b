/*
 * test_redis_url: the --redis URL parser: every component, its defaults,
 * the password override, and that no view of a parsed URL (redacted text,
 * error reason) ever contains the password.
 */
#include "groupchat/cluster/redis_url.h"
#include "support/test_main.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static struct redis_url *
parse(const char *s, const char *env, const char **why)
{
	return redis_url_parse(s, strlen(s), env, why);
}

START_TEST(defaults)
{
	const char *why;
	struct redis_url *u = parse("redis://localhost", NULL, &why);
	char text[128];

	ck_assert_ptr_nonnull(u);
	ck_assert_ptr_null(why);
	ck_assert_str_eq(redis_url_host(u), "localhost");
	ck_assert_int_eq(redis_url_port(u), 6379);
	ck_assert_int_eq(redis_url_db(u), 0);
	ck_assert_int_eq(redis_url_has_password(u), 0);
	ck_assert_uint_eq(redis_url_redacted(u, text, sizeof(text)), strlen(text));
	ck_assert_str_eq(text, "redis://localhost:6379/0");
	redis_url_free(u);
}
END_TEST

START_TEST(all_parts)
{
	const char *why, *pw;
	struct redis_url *u = parse("REDIS://:s%40cret%2f@10.0.0.7:6380/12", NULL, &why);
	char text[128];
	size_t n;

	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(redis_url_host(u), "10.0.0.7");
	ck_assert_int_eq(redis_url_port(u), 6380);
	ck_assert_int_eq(redis_url_db(u), 12);
	pw = redis_url_password(u, &n);
	ck_assert_uint_eq(n, 7);
	ck_assert_mem_eq(pw, "s@cret/", 7);
	redis_url_redacted(u, text, sizeof(text));
	ck_assert_str_eq(text, "redis://:***@10.0.0.7:6380/12");
	ck_assert_ptr_null(strstr(text, "cret"));
	redis_url_free(u);
}
END_TEST

START_TEST(ipv6_and_empty_path)
{
	const char *why;
	struct redis_url *u = parse("redis://[::1]:7000/", NULL, &why);
	char text[64];

	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(redis_url_host(u), "::1");
	ck_assert_int_eq(redis_url_port(u), 7000);
	ck_assert_int_eq(redis_url_db(u), 0);
	redis_url_redacted(u, text, sizeof(text));
	ck_assert_str_eq(text, "redis://[::1]:7000/0");
	redis_url_free(u);
}
END_TEST

START_TEST(password_in_at_sign)
{
	const char *why, *pw;
	size_t n;
	/* the last '@' ends the userinfo, so an unescaped '@' still works */
	struct redis_url *u = parse("redis://:a@b@host", NULL, &why);

	ck_assert_ptr_nonnull(u);
	pw = redis_url_password(u, &n);
	ck_assert_str_eq(pw, "a@b");
	ck_assert_str_eq(redis_url_host(u), "host");
	redis_url_free(u);
}
END_TEST

START_TEST(env_password_overrides)
{
	const char *why;
	size_t n;
	struct redis_url *u = parse("redis://:fromurl@h", "fromenv", &why);

	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(redis_url_password(u, &n), "fromenv");
	ck_assert_uint_eq(n, 7);
	redis_url_free(u);

	u = parse("redis://h", "fromenv", &why);
	ck_assert_int_eq(redis_url_has_password(u), 1);
	redis_url_free(u);

	u = parse("redis://:fromurl@h", "", &why); /* empty: not set */
	ck_assert_str_eq(redis_url_password(u, &n), "fromurl");
	redis_url_free(u);
}
END_TEST

static const char *const bad[] = {
	"", "redis:/h", "http://h", "rediss://h", "redis://", "redis://:pw@",
	"redis://user:pw@h", "redis://h:", "redis://h:0", "redis://h:65536",
	"redis://h:-1", "redis://h:+5", "redis://h:12x", "redis://h/x",
	"redis://h/100000", "redis://h/-1", "redis://h/1/2", "redis://h?db=1",
	"redis://h#f", "redis://[::1", "redis://[]", "redis://[::1]x",
	"redis://h o", "redis://:%zz@h", "redis://:%4@h",
};

START_TEST(refused)
{
	const char *why = NULL;
	struct redis_url *u;

	errno = 0;
	u = parse(bad[_i], NULL, &why);
	ck_assert_msg(u == NULL, "accepted \"%s\"", bad[_i]);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(error_never_quotes_password)
{
	const char *why;
	struct redis_url *u = parse("redis://:hunter2@h:99999", NULL, &why);

	ck_assert_ptr_null(u);
	ck_assert_ptr_null(strstr(why, "hunter2"));
	ck_assert_str_eq(why, "bad port in redis URL");
}
END_TEST

START_TEST(host_too_long)
{
	char s[300] = "redis://";
	const char *why;

	memset(s + 8, 'a', 256);
	s[8 + 256] = '\0';
	ck_assert_ptr_null(parse(s, NULL, &why));
	s[8 + 255] = '\0';
	struct redis_url *u = parse(s, NULL, &why);
	ck_assert_ptr_nonnull(u);
	ck_assert_uint_eq(strlen(redis_url_host(u)), 255);
	redis_url_free(u);
}
END_TEST

START_TEST(length_bounds_input)
{
	const char *why;
	/* only the first 16 bytes are the URL: "/5" is outside */
	struct redis_url *u = redis_url_parse("redis://h:6390/5", 14, NULL, &why);

	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(redis_url_port(u), 6390);
	ck_assert_int_eq(redis_url_db(u), 0);
	redis_url_free(u);
}
END_TEST

/* The text's password masked in place, where the parser finds it. */
static void
masked(const char *url, const char *want, int had)
{
	char s[256];

	snprintf(s, sizeof(s), "%s", url);
	ck_assert_int_eq(redis_url_mask_password(s, strlen(s)), had);
	ck_assert_str_eq(s, want);
}

START_TEST(mask_password_in_place)
{
	masked("redis://:s3cret@h:1/2", "redis://:******@h:1/2", 1);
	masked("REDIS://:p%40ss@w@h", "REDIS://:********@h", 1);
	masked("redis://:p@[::1]:6380", "redis://:*@[::1]:6380", 1);
	masked("redis://h:1/2", "redis://h:1/2", 0);
	masked("redis://:@h", "redis://:@h", 0);
	masked("redis://user:pw@h", "redis://user:pw@h", 0);
	masked("redis://h/a@b", "redis://h/a@b", 0);
	masked("http://:pw@h", "http://:pw@h", 0);
	/* The length bounds it, as the parser's. */
	char s[] = "redis://:pw@h";
	ck_assert_int_eq(redis_url_mask_password(s, 10), 0);
	ck_assert_str_eq(s, "redis://:pw@h");
}
END_TEST

START_TEST(redacted_truncates)
{
	const char *why;
	struct redis_url *u = parse("redis://:pw@example.org:6379/3", NULL, &why);
	char small[10];
	size_t need = redis_url_redacted(u, small, sizeof(small));

	ck_assert_uint_eq(need, strlen("redis://:***@example.org:6379/3"));
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	redis_url_free(u);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("redis_url");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, all_parts);
	tcase_add_test(tc, ipv6_and_empty_path);
	tcase_add_test(tc, password_in_at_sign);
	tcase_add_test(tc, env_password_overrides);
	tcase_add_loop_test(tc, refused, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, error_never_quotes_password);
	tcase_add_test(tc, host_too_long);
	tcase_add_test(tc, length_bounds_input);
	tcase_add_test(tc, redacted_truncates);
	tcase_add_test(tc, mask_password_in_place);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
