/*
 * redis_url: the --redis URL, redis://[:password@]host[:port][/db], parsed
 * without touching a socket. The password is kept inside the opaque
 * struct and only redis_conn reads it back (redis_url_password); every
 * other view of a URL, for logs, /stats and --help, is redis_url_redacted,
 * which shows "***" in its place.
 *
 * Accepted: scheme "redis://" (any case); an optional userinfo that is a
 * colon and a percent-encoded password (a user name is refused: Redis
 * ACL users are not supported); a host name, IPv4 address or bracketed
 * IPv6 address; a port 1..65535 (6379 when absent); a database 0..99999
 * (0 when absent). Nothing may follow the database.
 */
#ifndef GROUPCHAT_REDIS_URL_H
#define GROUPCHAT_REDIS_URL_H

#include <stddef.h>

struct redis_url;

#define REDIS_URL_HOST_MAX 255

/* Parses the len bytes at s. When env_password (GROUPCHAT_REDIS_PASSWORD,
 * read by the caller) is non-NULL and non-empty it replaces the URL's
 * password. NULL with errno EINVAL and *why set to a constant reason that
 * never quotes the input, or NULL with errno ENOMEM. */
struct redis_url *redis_url_parse(const char *s, size_t len,
                                  const char *env_password, const char **why);

/* Overwrites, in place, the password of the URL text s (len bytes) with
 * as many '*' as it has bytes, where redis_url_parse would find it. For
 * the copies of the text a process no longer needs (argv, which
 * /proc/PID/cmdline shows to every user, and the configuration's).
 * 1 if there was a password, else 0. */
int redis_url_mask_password(char *s, size_t len);

/* Wipes the password and frees u. NULL is a no-op. */
void redis_url_free(struct redis_url *u);

/* The host, NUL-terminated, without brackets for IPv6. */
const char *redis_url_host(const struct redis_url *u);

int redis_url_port(const struct redis_url *u);
int redis_url_db(const struct redis_url *u);

/* 1 if a password is set. */
int redis_url_has_password(const struct redis_url *u);

/* The password and its length (*len 0 and "" when none). For redis_conn's
 * AUTH only: never log it. */
const char *redis_url_password(const struct redis_url *u, size_t *len);

/* Writes "redis://[:***@]host:port/db" into out (n bytes, NUL-terminated,
 * truncated to fit). Returns the length the full text needs. */
size_t redis_url_redacted(const struct redis_url *u, char *out, size_t n);

/* What redis_url_scan_host found at the start of a host. */
enum redis_host {
	REDIS_HOST_OK,
	REDIS_HOST_BAD_V6,      /* "[" without hex digits, ":", "." then "]" */
	REDIS_HOST_NONE,        /* no host character at all */
	REDIS_HOST_TOO_LONG     /* over REDIS_URL_HOST_MAX */
};

/* Reads the host at *p (end: one past the text): a name of letters,
 * digits, "-", ".", "_", or a bracketed IPv6 address of hex digits, ":"
 * and "." (copied without its brackets), NUL-terminated into host; *p
 * moves past it. The URL's and the sentinel list's parsers share it. */
enum redis_host redis_url_scan_host(const char **p, const char *end,
                                    char host[REDIS_URL_HOST_MAX + 1]);

#endif
