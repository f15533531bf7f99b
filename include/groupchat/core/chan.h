/*
 * chan: a bounded multi-producer multi-consumer FIFO of fixed-size
 * elements, built on one mutex and two condition variables.
 *
 * Elements are copied in and out (elem_size bytes each), so a channel of
 * small tagged structs needs no allocation per item. Blocking calls take an
 * absolute CLOCK_MONOTONIC deadline; NULL means wait forever.
 *
 * A channel may also bound the bytes its elements stand for (the
 * payloads they point to): a send that names its size counts it in until
 * the receiver, done with the payload, releases it. Such a channel is
 * full when either bound would be passed; a send waits or fails at the
 * byte bound exactly as at the entry bound.
 *
 * Errors are returned as -1 with errno set:
 *   EPIPE      send after close; receive on a closed and drained channel
 *   ETIMEDOUT  the deadline passed first
 *   EAGAIN     a non-blocking call would have blocked
 *   EMSGSIZE   a send names more bytes than the whole byte bound
 */
#ifndef GROUPCHAT_CHAN_H
#define GROUPCHAT_CHAN_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct chan;

/* A channel holding at most cap elements of elem_size bytes (both > 0).
 * NULL with errno ENOMEM or EINVAL. */
struct chan *chan_new(size_t cap, size_t elem_size);

/* As chan_new, and the elements sent with a size (chan_send_bytes,
 * chan_try_send_bytes) hold at most max_bytes (> 0) between them until
 * released. NULL with errno ENOMEM or EINVAL. */
struct chan *chan_new_bytes(size_t cap, size_t elem_size, size_t max_bytes);

/* Releases the channel. No thread may still use it: close it and join
 * its users first. Elements still queued are discarded unseen. */
void chan_free(struct chan *ch);

/* Refuses further sends and wakes every blocked sender and receiver.
 * Receivers still get what is queued. Idempotent. */
void chan_close(struct chan *ch);

/* Copies *elem in, blocking while the channel is full. */
int chan_send(struct chan *ch, const void *elem, const struct timespec *deadline);

/* Copies *elem in if there is room now; EAGAIN if full. */
int chan_try_send(struct chan *ch, const void *elem);

/* As chan_send and chan_try_send, holding bytes of the byte bound until
 * chan_release; EMSGSIZE if bytes exceed the bound. The calls without a
 * size count 0 bytes. */
int chan_send_bytes(struct chan *ch, const void *elem, size_t bytes,
                    const struct timespec *deadline);
int chan_try_send_bytes(struct chan *ch, const void *elem, size_t bytes);

/* Gives back bytes a send held (the receiver is done with the payload)
 * and wakes the senders waiting for room. */
void chan_release(struct chan *ch, size_t bytes);

/* Copies as many of the n elements (an array) in, in order, as there is
 * room for now, under one lock; returns how many (0 when full), or -1
 * with EPIPE if closed. */
ssize_t chan_try_send_many(struct chan *ch, const void *elems, size_t n);

/* As chan_try_send_many, but the receiver the run has to wake (one was
 * waiting on the empty channel) is not woken: *wake is set to 1 instead
 * (else 0), and the caller must call chan_wake before it lets go of the
 * channel. The group thread queues a run to every member so and wakes
 * the writers after the last, outside every queue's lock. */
ssize_t chan_try_send_many_defer(struct chan *ch, const void *elems, size_t n,
                                 int *wake);

/* Wakes one receiver waiting on ch: the wake chan_try_send_many_defer
 * left to its caller. */
void chan_wake(struct chan *ch);

/* Copies the oldest element into *elem, blocking while empty. */
int chan_recv(struct chan *ch, void *elem, const struct timespec *deadline);

/* Copies up to max of the oldest elements into elems (an array of max
 * elements), blocking until at least one is there. Returns how many. */
ssize_t chan_recv_batch(struct chan *ch, void *elems, size_t max,
                        const struct timespec *deadline);

/* Elements queued now (a snapshot). */
size_t chan_len(struct chan *ch);

/* Bytes held now: sent with a size and not yet released (a snapshot). */
size_t chan_bytes(struct chan *ch);

/* The bound given at creation. */
size_t chan_cap(const struct chan *ch);

/* Non-zero once chan_close has been called. */
int chan_closed(struct chan *ch);

/* Sets *ts to now + ms on CLOCK_MONOTONIC: the deadline form the calls above take. */
void chan_deadline(struct timespec *ts, long ms);

/* Non-zero once CLOCK_MONOTONIC has reached the deadline ts. */
int chan_deadline_passed(const struct timespec *ts);

#endif
