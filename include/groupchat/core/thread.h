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

/* The stack to give thread_start_on for size bytes of the thread's own
 * use: ThreadSanitizer keeps 128 KiB and its TLS of a thread's stack for
 * itself and, unlike with thread_start, cannot enlarge a stack it is
 * handed, so its builds give at least 1 MiB. */
#if defined(__SANITIZE_THREAD__)
#define THREAD_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define THREAD_TSAN 1
#endif
#endif
#if defined(THREAD_TSAN)
#define THREAD_STACK_OWN(size) \
	((size_t)(size) > ((size_t)1 << 20) ? (size_t)(size) : ((size_t)1 << 20))
#else
#define THREAD_STACK_OWN(size) ((size_t)(size))
#endif

/* As thread_start, on the caller's stack of stack bytes at base (the
 * lowest address; glibc puts the thread's descriptor and TLS at its top
 * and adds no guard page), with no name. The stack is the caller's to
 * reuse once the thread is joined. */
int thread_start_on(pthread_t *t, void *base, size_t stack,
    void *(*fn)(void *), void *arg);

/* Sizes this process's futex hash for about threads threads sleeping at
 * once (Linux 6.16 and later give each process its own hash, sized for
 * the CPU count, not the thread count). 0; or -1 with errno EINVAL where
 * the kernel has no per-process hash (nothing to size), or ENOMEM. */
int thread_plan(size_t threads);

#endif
