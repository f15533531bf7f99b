/*
 * answers: the Go server's standard answers, each written as one whole
 * response with http_send. Every function returns what http_send returns
 * (0, or -1 when the connection could not take the bytes) unless it says
 * otherwise; none keeps the connection or any argument.
 */
#ifndef GROUPCHAT_ANSWERS_H
#define GROUPCHAT_ANSWERS_H

struct buf;
struct mg_connection;
struct route;

/* Go's json.Marshal(map[string]string{"message": prefix + id}) with
 * status; head: no body on the wire. */
int answer_json_message(struct mg_connection *conn, int status,
    const char *prefix, const struct buf *id, int head);

/* 400 "found no group with the id: ID\n", the id raw as Go prints it;
 * close: the connection ends after it. */
int answer_no_group(struct mg_connection *conn, const struct buf *id,
    int head, int close);

/* gorilla/websocket's answer to a bad upgrade with status. */
int answer_bad_upgrade(struct mg_connection *conn, int status, int head);

/* Go's bare "400 Bad Request" to a request it cannot parse; closes. */
void answer_bare_400(struct mg_connection *conn);

/* Cluster mode's 503 "redis unavailable" (Redis down, slow, or in error),
 * as http.Error writes it; closes. Returns 503. */
int answer_redis_unavailable(struct mg_connection *conn);

/* The mux's own answers before any handler (bad request line,
 * non-canonical path, unknown path, wrong method): the status sent, or 0
 * when the route takes the request and nothing was sent. */
int answer_refusal(struct mg_connection *conn, const char *method,
    const struct route *r, int close);

#endif
