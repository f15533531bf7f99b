/*
 * member: one WebSocket member. It owns an id, a bounded send queue of
 * frames (struct frame references) and a writer thread, the only code that
 * writes data frames to the connection.
 *
 * The writer blocks on the queue, takes everything queued at once and
 * hands it to the sink in one call (one syscall per batch, not per frame).
 * When the queue is closed it writes what was queued before the close,
 * then asks the sink to send one close frame with the close reason and
 * exits. The sink is the only thing the member knows of the network: the
 * server implements it with CivetWeb, the tests with a recording fake.
 *
 * Lifetime: reference counted. The connection holds one reference, the
 * group one while it is a member, and in cluster mode a message in
 * flight to Redis one for its sender (cluster_publish).
 */
#ifndef GROUPCHAT_MEMBER_H
#define GROUPCHAT_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "groupchat/core/cid.h"

struct frame;
struct thread_pool;

/* Default bound of a member's send queue, in messages. */
#define MEMBER_QUEUE_DEFAULT 256

/* Close code meaning "send no close frame": the peer already closed, or
 * the connection is broken. */
#define MEMBER_CLOSE_SILENT 0

struct member_sink {
	/* Writes iovcnt whole frames, in order, as one write. 0 on success, -1
	 * if the connection is unusable (the writer then stops writing). */
	int (*write)(void *ctx, const struct iovec *iov, int iovcnt);
	/* Called once, last: send a close frame with code and reason unless
	 * code is MEMBER_CLOSE_SILENT or a close frame was already sent, then
	 * make the connection end. */
	void (*end)(void *ctx, uint16_t code, const char *reason);
	void *ctx;
};

struct member;

/* A member with a fresh id from ids and a send queue of queue_cap frames.
 * Reference count 1; the writer is not started yet. NULL with errno set
 * on failure. */
struct member *member_new(struct cid_set *ids, size_t queue_cap);

struct member *member_ref(struct member *c);

/* Drops a reference; the last one releases the id and frees the member.
 * The writer must have been joined (member_join_writer) by then. */
void member_unref(struct member *c);

/* The NUL-terminated 6-hex id. */
const char *member_id(const struct member *c);

/* Puts c in groupchat.v1 mode (docs/protocol.md): its group sends it a
 * status frame at its join and every message with its position. Before
 * c joins a group, never after. */
void member_set_v1(struct member *c);

/* Whether c is in groupchat.v1 mode. */
bool member_v1(const struct member *c);

/* The frames c's send queue holds at most (its queue_cap). */
size_t member_capacity(const struct member *c);

/* A pool for writers (thread_pool.h): threads named gc-writer on a small
 * explicit stack, at most max_parked of them parked. NULL with errno. */
struct thread_pool *member_writer_pool_new(size_t max_parked);

/* Starts the writer on a thread of pool (a parked one, or a new one on
 * the pool's small explicit stack); it is the member's alone until
 * member_join_writer. *sink is copied. 0, or -1 with errno (EINVAL if
 * started before; EAGAIN, ENOMEM if no thread could be started). */
int member_start_writer(struct member *c, struct thread_pool *pool,
                        const struct member_sink *sink);

/* Queues a reference to m without blocking. 0 on success; -1 with EAGAIN
 * if the queue is full, EPIPE if the member is closed. The caller keeps
 * its own reference either way. */
int member_enqueue(struct member *c, struct frame *m);

/* Queues as many of ms[0..n), in order, as there is room for, without
 * blocking, handing over one reference to each queued frame that the
 * caller has already taken (frame_ref_n); the caller keeps the references
 * of the rest. Returns how many were queued (fewer than n: the member is
 * too slow), or -1 with EPIPE if the member is closed. */
ssize_t member_enqueue_many(struct member *c, struct frame *const *ms, size_t n,
                            bool *wake);

/* The writer's wake that member_enqueue_many left to its caller: with
 * wake not NULL, a writer waiting on the empty queue is not woken but
 * *wake set to true, and the caller, still holding its reference to c,
 * calls member_wake (the group thread does, once the run is queued to
 * every member). With wake NULL the writer is woken at once. */
void member_wake(struct member *c);

/* Like member_enqueue_many, but waits for room until deadline (absolute,
 * CLOCK_MONOTONIC). Returns how many were queued (fewer than n: the
 * deadline passed), or -1 with EPIPE if the member closed before any. */
ssize_t member_enqueue_wait(struct member *c, struct frame *const *ms, size_t n,
                            const struct timespec *deadline);

/* Closes the send queue with a reason: the first close wins and later
 * ones are ignored. reason must be a string that outlives the member
 * (a literal). Returns 1 if this call closed the queue, 0 if it was
 * closed already. Never blocks. */
int member_close(struct member *c, uint16_t code, const char *reason);

/* The code the queue was closed with (MEMBER_CLOSE_SILENT if not closed). */
uint16_t member_close_code(const struct member *c);

/* Closes the queue (silently, if not closed yet) and waits for the writer
 * to return (its thread goes back to the pool). Safe to call when the
 * writer never started, and more than once. */
void member_join_writer(struct member *c);

/* Frames queued now. */
size_t member_queued(const struct member *c);

#endif
