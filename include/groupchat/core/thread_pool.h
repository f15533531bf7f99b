/*
 * thread_pool: threads that run one task at a time and, between tasks,
 * wait parked to be handed the next one, so that a short-lived job (a
 * member's writer) does not pay for a thread's creation and exit each
 * time: clone, stack mapping and guard page, first-touch faults, and the
 * TLB shootdowns that unmapping and mprotect send to every CPU running
 * one of our threads.
 *
 * A task runs on a thread of its own from thread_pool_run until the
 * thread_pool_wait that the caller of thread_pool_run must make for it;
 * no other task runs on that thread meanwhile. Then the thread is parked,
 * unless max_parked threads are parked already: then it ends and is
 * joined in thread_pool_wait. thread_pool_free ends and joins every
 * parked thread. So every thread the pool started is, at any moment,
 * running a task, parked, or being joined: none is detached or leaked.
 */
#ifndef GROUPCHAT_THREAD_POOL_H
#define GROUPCHAT_THREAD_POOL_H

#include <stddef.h>

struct thread_pool;

/* One thread of the pool, as its task's handle. */
struct pooled;

/* A pool whose threads get stack bytes of stack (rounded up to whole
 * pages) and the name name (at most 15 characters) and of which at most
 * max_parked wait parked. NULL with errno ENOMEM. */
struct thread_pool *thread_pool_new(const char *name, size_t stack,
                                    size_t max_parked);

/* Ends and joins every parked thread and frees the pool. Every task run
 * must have been waited for. */
void thread_pool_free(struct thread_pool *p);

/* Runs fn(arg) on a parked thread, the one parked last, or on a new
 * thread when none is parked. The handle to wait on, or NULL with errno
 * (EAGAIN, EINVAL, ENOMEM from the thread's start): fn was not run. */
struct pooled *thread_pool_run(struct thread_pool *p, void (*fn)(void *),
                               void *arg);

/* Waits for t's task to return, then parks t, or ends and joins it when
 * the pool is full. t is not to be used afterwards. */
void thread_pool_wait(struct thread_pool *p, struct pooled *t);

/* Threads parked now (a snapshot). */
size_t thread_pool_parked(struct thread_pool *p);

#endif
