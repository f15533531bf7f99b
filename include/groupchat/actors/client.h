/*
 * client: one WebSocket member. It owns an id, a bounded send queue of
 * frames (struct msg references) and a writer thread, the only code that
 * writes data frames to the connection.
 *
 * The writer blocks on the queue, takes everything queued at once and
 * hands it to the sink in one call (one syscall per batch, not per frame).
 * When the queue is closed it writes what was queued before the close,
 * then asks the sink to send one close frame with the close reason and
 * exits. The sink is the only thing the client knows of the network: the
 * server implements it with CivetWeb, the tests with a recording fake.
 *
 * Lifetime: reference counted. The connection holds one reference, the
 * group one while the client is a member.
 */
#ifndef GROUPCHAT_CLIENT_H
#define GROUPCHAT_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "groupchat/core/cid.h"

struct msg;

/* Default bound of a member's send queue, in messages. */
#define CLIENT_QUEUE_DEFAULT 256

/* Close code meaning "send no close frame": the peer already closed, or
 * the connection is broken. */
#define CLIENT_CLOSE_SILENT 0

struct client_sink {
	/* Writes iovcnt whole frames, in order, as one write. 0 on success, -1
	 * if the connection is unusable (the writer then stops writing). */
	int (*write)(void *ctx, const struct iovec *iov, int iovcnt);
	/* Called once, last: send a close frame with code and reason unless
	 * code is CLIENT_CLOSE_SILENT or a close frame was already sent, then
	 * make the connection end. */
	void (*close)(void *ctx, uint16_t code, const char *reason);
	void *ctx;
};

struct client;

/* A client with a fresh id from ids and a send queue of queue_cap frames.
 * Reference count 1; the writer is not started yet. NULL with errno set
 * on failure. */
struct client *client_new(struct cid_set *ids, size_t queue_cap);

struct client *client_ref(struct client *c);

/* Drops a reference; the last one releases the id and frees the client.
 * The writer must have been joined (client_join_writer) by then. */
void client_unref(struct client *c);

/* The NUL-terminated 6-hex id. */
const char *client_id(const struct client *c);

/* Starts the writer thread on a small explicit stack. *sink is copied.
 * 0, or -1 with errno. */
int client_start_writer(struct client *c, const struct client_sink *sink);

/* Queues a reference to m without blocking. 0 on success; -1 with EAGAIN
 * if the queue is full, EPIPE if the client is closed. The caller keeps
 * its own reference either way. */
int client_enqueue(struct client *c, struct msg *m);

/* Queues as many of ms[0..n), in order, as there is room for, without
 * blocking, handing over one reference to each queued frame that the
 * caller has already taken (msg_ref_n); the caller keeps the references
 * of the rest. Returns how many were queued (fewer than n: the client is
 * too slow), or -1 with EPIPE if the client is closed. */
ssize_t client_enqueue_many(struct client *c, struct msg *const *ms, size_t n);

/* Like client_enqueue_many, but waits for room until deadline (absolute,
 * CLOCK_MONOTONIC). Returns how many were queued (fewer than n: the
 * deadline passed), or -1 with EPIPE if the client closed before any. */
ssize_t client_enqueue_wait(struct client *c, struct msg *const *ms, size_t n,
                            const struct timespec *deadline);

/* Closes the send queue with a reason: the first close wins and later
 * ones are ignored. reason must be a string that outlives the client
 * (a literal). Returns 1 if this call closed the queue, 0 if it was
 * closed already. Never blocks. */
int client_close(struct client *c, uint16_t code, const char *reason);

/* The code the queue was closed with (CLIENT_CLOSE_SILENT if not closed). */
uint16_t client_close_code(const struct client *c);

/* Closes the queue (silently, if not closed yet) and waits for the writer
 * to exit. Safe to call when the writer never started, and more than once. */
void client_join_writer(struct client *c);

/* Frames queued now. */
size_t client_queued(const struct client *c);

#endif
