/*
 * redis_conn: opens a blocking hiredis connection for one of the Redis
 * actors: connect with a timeout, AUTH when the URL has a password,
 * SELECT the database, set the socket's read/write timeout and keepalive.
 * A connection belongs to the one thread that uses it (hiredis contexts
 * are not thread-safe).
 *
 * Errors: NULL, with a one-line reason in err that never contains the
 * password: "connect: Connection refused", "AUTH: WRONGPASS invalid
 * username-password pair or user is disabled.", "SELECT: ...", or
 * "out of memory".
 */
#ifndef GROUPCHAT_REDIS_CONN_H
#define GROUPCHAT_REDIS_CONN_H

#include <stddef.h>

#include <hiredis/hiredis.h>

struct redis_url;

/* Connects to u; timeout_ms bounds the connect and, after it, every read
 * and write on the socket. The context, or NULL with err set. */
redisContext *redis_conn_open(const struct redis_url *u, int timeout_ms,
                              char *err, size_t errlen);

/* The context's error as "what: errstr" into err. */
void redis_conn_error(const redisContext *c, const char *what, char *err,
                      size_t errlen);

#endif
