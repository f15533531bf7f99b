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

/* 1 if c may stand in a host name (letters, digits, "-", ".", "_"), or in
 * a bracketed IPv6 address (hex digits, ":", "."); the sentinel list's
 * parser shares them. */
int redis_url_hostchar(char c);
int redis_url_v6char(char c);

#endif
