/*
 * redis_conn: opens a blocking hiredis connection for one of the Redis
 * actors: connect with a timeout, AUTH when the URL has a password,
 * SELECT the database, set the socket's read/write timeout and keepalive,
 * then check the server is one groupchat may write to: its ROLE is master
 * and its maxmemory-policy is noeviction (from CONFIG GET, or INFO when
 * CONFIG is renamed or disabled).
 * A connection belongs to the one thread that uses it (hiredis contexts
 * are not thread-safe).
 *
 * Errors: NULL, with a one-line reason in err that never contains the
 * password: "connect: Connection refused", "AUTH: WRONGPASS invalid
 * username-password pair or user is disabled.", "SELECT: ...",
 * "ROLE: this Redis is a slave, not the master", "maxmemory-policy is
 * allkeys-lru, which evicts keys; groupchat needs noeviction", or "out of
 * memory".
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

/* The same to host:port in place of the URL's (Sentinel mode): the URL
 * gives the password and the database. */
redisContext *redis_conn_open_at(const struct redis_url *u, const char *host, int port,
                                 int timeout_ms, char *err, size_t errlen);

/* The context's error as "what: errstr" into err. */
void redis_conn_error(const redisContext *c, const char *what, char *err,
                      size_t errlen);

#endif
