/*
 * redis_pub: the publisher actor of cluster mode. One thread
 * (gc-redis-pub) owns one Redis connection and drains a bounded channel of
 * messages to publish, sending every message queued at that moment in one
 * write (pipelined EVALSHA of the publish script) and reading the replies
 * in order: under load a round trip carries many messages.
 *
 * It reports each message's fate through cb->result, and its link through
 * cb->link (up after connect, AUTH, SELECT and SCRIPT LOAD; down with a
 * one-line reason, never the password). While down it reconnects with
 * capped backoff (50 ms doubling to 2 s) and fails what is queued at once.
 * While idle it PINGs every second, so a dead or paused Redis is noticed.
 * Callbacks run on the actor's thread and must not block.
 */
#ifndef GROUPCHAT_REDIS_PUB_H
#define GROUPCHAT_REDIS_PUB_H

#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_keys.h"

struct redis_connector;
struct redis_pub;

/* One message to publish. frame is malloc'd with the id right after its
 * flen bytes (id points there: one allocation per message); the actor
 * frees frame after cb->result. tag is the sender's, passed back
 * untouched. */
struct redis_pub_item {
	char *id;
	size_t id_len;
	char inc[REDIS_INC_LEN + 1];
	char *frame;
	size_t flen;
	uint64_t tag;
};

struct redis_pub_cb {
	/* seq > 0: relayed with that number; 0: the group is gone; -1: not
	 * known to be relayed (link lost, error, stopped): close the sender. */
	void (*result)(void *arg, const struct redis_pub_item *it, int64_t seq);
	/* up 1, or 0 with a reason. */
	void (*link)(void *arg, int up, const char *reason);
	/* Optional: whether an item is not to go out any more (its sender was
	 * already told an earlier message of its failed): it gets result -1
	 * without being sent, so nobody sees a sender's m3 without its m2. */
	int (*stale)(void *arg, const struct redis_pub_item *it);
	void *arg;
};

/* A publisher opening its link with conn (copied; its arg must outlive
 * the publisher) with a channel of cap items holding at most max_bytes
 * of frames and ids (queued or on the wire, until their result),
 * keeping *hist (copied) of history per group, and timeout_ms as the
 * bound of every connect, read and write. Not started. NULL with errno. */
struct redis_pub *redis_pub_new(const struct redis_connector *conn, size_t cap,
                                size_t max_bytes, const struct redis_history *hist,
                                int timeout_ms, const struct redis_pub_cb *cb);

/* Starts the thread. 0, or -1 with errno. */
int redis_pub_start(struct redis_pub *p);

/* Queues *it without blocking; on success the actor owns frame (and the
 * id in it).
 * -1 with EAGAIN when full (cap items, or max_bytes), EPIPE once stopping. */
int redis_pub_send(struct redis_pub *p, const struct redis_pub_item *it);

/* Messages answered and round trips made so far (a snapshot). */
void redis_pub_counts(struct redis_pub *p, uint64_t *msgs, uint64_t *round_trips);

/* Closes the channel, fails what is still queued (-1), joins the thread
 * if started, frees p. */
void redis_pub_stop(struct redis_pub *p);

#endif
