/*
 * redis_link: the narrow interface the Redis actors talk through, as a
 * member talks to its socket through a sink. One link is one connection
 * to Redis, used by one thread: queue commands, write them in one go,
 * take the replies in order. The real link runs on hiredis; the unit
 * tests' fake (test/support/fake_redis) answers from a script.
 *
 * Replies are hiredis redisReply trees; the caller frees each with
 * freeReplyObject. A link whose write or read failed, or whose expected
 * reply did not come in time, is out of step with Redis: free it and open
 * a new one.
 *
 * Errors: -1 (or NULL) with a one-line reason from redis_link_error or in
 * err, never containing the password: "connect: Connection refused",
 * "AUTH: WRONGPASS ...", "read: timed out", "read: Server closed the
 * connection", "out of memory".
 */
#ifndef GROUPCHAT_REDIS_LINK_H
#define GROUPCHAT_REDIS_LINK_H

#include <stddef.h>

#include <hiredis/hiredis.h>

struct redis_url;
struct redis_link;

struct redis_link_ops {
	/* Queues one command (argv binary-safe) for the next flush. 0, or -1
	 * when out of memory. */
	int (*append)(struct redis_link *l, int argc, const char **argv,
	              const size_t *lens);
	/* Writes everything queued, blocking at most the link's timeout. 0 or -1. */
	int (*flush)(struct redis_link *l);
	/* The next reply into *r: 1; 0 if none came within timeout_ms (0 takes
	 * only what has arrived already); -1 if the link failed. */
	int (*read)(struct redis_link *l, redisReply **r, int timeout_ms);
	/* The descriptor that polls readable when a read may make progress,
	 * or -1 if there is none to poll. */
	int (*fd)(struct redis_link *l);
	/* Why the last call failed. */
	const char *(*error)(struct redis_link *l);
	void (*free)(struct redis_link *l);
};

/* The common head of every link implementation. */
struct redis_link {
	const struct redis_link_ops *ops;
	int timeout_ms;     /* the bound redis_link_command waits for a reply */
};

/* How an actor opens (and, after a failure, reopens) its link: a link
 * ready for commands (connected, authenticated, database selected), or
 * NULL with err. */
struct redis_connector {
	struct redis_link *(*open)(void *arg, int timeout_ms, char *err, size_t errlen);
	void *arg;
};

/* The real connector: hiredis to u, which must outlive every link. */
struct redis_connector redis_link_hiredis(const struct redis_url *u);

/* Opens a real link to u (redis_conn_open); NULL with err. */
struct redis_link *redis_link_open(const struct redis_url *u, int timeout_ms,
                                   char *err, size_t errlen);

/* The same to host:port in place of the URL's (redis_conn_open_at). */
struct redis_link *redis_link_open_at(const struct redis_url *u, const char *host,
                                      int port, int timeout_ms, char *err, size_t errlen);

int redis_link_append(struct redis_link *l, int argc, const char **argv,
                      const size_t *lens);
int redis_link_flush(struct redis_link *l);
int redis_link_read(struct redis_link *l, redisReply **r, int timeout_ms);
int redis_link_fd(struct redis_link *l);
void redis_link_free(struct redis_link *l);

/* Writes "what: reason" into err. */
void redis_link_error(struct redis_link *l, const char *what, char *err, size_t errlen);

/* One command, one reply: append, flush, read within l->timeout_ms. The
 * reply (an error reply is a reply), or NULL with "what: reason" in err
 * (then the link is unusable). */
redisReply *redis_link_command(struct redis_link *l, const char *what, int argc,
                               const char **argv, const size_t *lens,
                               char *err, size_t errlen);

/* Flushes what is queued and reads the n replies of that pipeline into
 * r[], each within l->timeout_ms: 0, or -1 with "what: reason" in err and
 * no reply kept (then the link is unusable). */
int redis_link_read_n(struct redis_link *l, redisReply **r, int n, const char *what,
                      char *err, size_t errlen);

/* Writes "what: <error text>" for an error reply r, or "what: unexpected
 * reply type N" for any other reply that was not the one expected. */
void redis_reply_error(const redisReply *r, const char *what, char *err, size_t errlen);

#endif
