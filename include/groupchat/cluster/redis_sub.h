/*
 * redis_sub: the subscriber actor of cluster mode. One thread
 * (gc-redis-sub) owns one Redis link in subscribe mode and the set of
 * groups this node serves. Other threads ask it to subscribe to a group's
 * channel (gc:msg:<id>) or to unsubscribe, through a bounded channel and
 * an eventfd that wakes its poll loop.
 *
 * Callbacks run on the actor's thread and must not block:
 *  - subscribed(id): Redis confirmed the subscription. Every message
 *    published after this point reaches message(); a join waits for it
 *    before its 101 (docs/design.md, "Joining without a gap"). It comes
 *    again for every group after each reconnect.
 *  - message(id, payload): a payload on the group's channel, in the order
 *    Redis ran the publishes (redis_msg_parse reads it). Only for groups
 *    still in the set.
 *  - link(up, reason): up after connect (and PONG); down with a one-line
 *    reason (never the password) when the link failed, Redis answered an
 *    error, or a keepalive PING (sent after timeout_ms without traffic)
 *    got no answer within timeout_ms. While down it reconnects with capped
 *    backoff (50 ms doubling to 2 s) and subscribes again to every group
 *    in the set; messages published meanwhile are lost to this node (the
 *    groups repair them from the history).
 */
#ifndef GROUPCHAT_REDIS_SUB_H
#define GROUPCHAT_REDIS_SUB_H

#include <stddef.h>

struct redis_connector;
struct redis_sub;

struct redis_sub_cb {
	void (*subscribed)(void *arg, const char *id, size_t len);
	void (*message)(void *arg, const char *id, size_t len, const char *payload,
	                size_t plen);
	void (*link)(void *arg, int up, const char *reason);
	void *arg;
};

/* A subscriber opening its link with conn (copied; its arg must outlive
 * the subscriber), with a request channel of cap and timeout_ms as the
 * bound of connect, writes and the keepalive. Not started. NULL with errno. */
struct redis_sub *redis_sub_new(const struct redis_connector *conn, size_t cap,
                                int timeout_ms, const struct redis_sub_cb *cb);

/* Starts the thread. 0, or -1 with errno. */
int redis_sub_start(struct redis_sub *s);

/* Adds group id to the set and subscribes (now, or when the link is up).
 * Never blocks: -1 with EAGAIN when the channel is full, EPIPE once
 * stopping, ENOMEM. */
int redis_sub_subscribe(struct redis_sub *s, const char *id, size_t len);

/* Removes group id from the set and unsubscribes; errors as above. */
int redis_sub_unsubscribe(struct redis_sub *s, const char *id, size_t len);

/* Stops the thread (joins it if started) and frees s. */
void redis_sub_stop(struct redis_sub *s);

#endif
