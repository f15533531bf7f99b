/*
 * thread: start a named thread with an explicit stack size.
 *
 * Every long-lived thread of the server (manager, group, member writer,
 * keepalive, the stop waker) starts here, so each has a name in ps/top/gdb
 * ("gc-..."), and a stack sized for what it does rather than the 8 MiB
 * default: thousands of writers must not reserve gigabytes.
 *
 * thread_plan tells the kernel how many threads the process means to run,
 * before it starts them.
 */
#ifndef GROUPCHAT_THREAD_H
#define GROUPCHAT_THREAD_H

#include <pthread.h>
#include <stddef.h>

/* Starts fn(arg) on a joinable thread with a stack of stack bytes, named
 * name (at most 15 characters; the name is cosmetic, failing to set it is
 * not an error; NULL: the thread names itself). Stores its id in *t. 0,
 * or an errno value (EAGAIN, EINVAL, ENOMEM) and errno set to it; nothing
 * started then. */
int thread_start(pthread_t *t, const char *name, size_t stack,
    void *(*fn)(void *), void *arg);

/* Sizes this process's futex hash for about threads threads sleeping at
 * once (Linux 6.16 and later give each process its own hash, sized for
 * the CPU count, not the thread count). 0; or -1 with errno EINVAL where
 * the kernel has no per-process hash (nothing to size), or ENOMEM. */
int thread_plan(size_t threads);

#endif
