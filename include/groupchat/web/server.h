/*
 * server: the running groupchat server. CivetWeb accepts connections and
 * runs our request and WebSocket handlers on its workers; the manager and
 * group threads, the writer threads and the keepalive thread are ours.
 * Everything mutable lives in one struct server.
 */
#ifndef GROUPCHAT_SERVER_H
#define GROUPCHAT_SERVER_H

#include <stddef.h>

struct config;
struct server;

/* Workers kept for plain HTTP beyond one per WebSocket member, so that a
 * full house of members never starves POST /create or DELETE. */
#define SERVER_HTTP_RESERVE 32

/* A request's head (request line and headers) must be whole within this
 * many milliseconds of a worker starting to read it, in total however its
 * bytes trickle in; then the connection ends and the worker is free. */
#define SERVER_HEADER_DEADLINE_MS 3000

/* Starts serving with *cfg (copied). With port 0 an ephemeral port is
 * bound: ask server_port. NULL on failure, with a one-line reason in err. */
struct server *server_start(const struct config *cfg, char *err, size_t errlen);

/* The TCP port actually bound. */
int server_port(const struct server *s);

/* Stops: refuses new joins, closes every member with 1001 "server shutting
 * down", stops CivetWeb (its close handlers still reach the groups), then
 * stops the keepalive, group and manager threads and joins them all, and
 * frees everything. */
void server_stop(struct server *s);

#endif
