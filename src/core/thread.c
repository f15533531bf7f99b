/*
 * thread: pthread_create with an explicit stack size and a name.
 *
 * Who touches what: nothing shared; the attribute object lives on the
 * caller's stack for the duration of the call. The name is set by the
 * creator once the thread exists, so thread bodies need not name
 * themselves; naming another thread costs glibc an open, a write and a
 * close of /proc/self/task/TID/comm, so a pool that starts threads in
 * bursts passes no name and has its threads name themselves (one prctl).
 *
 * Why thread_plan: every pthread mutex, condition variable and semaphore
 * a thread sleeps on is a futex, and the kernel finds a futex's sleepers
 * by walking one bucket of a hash table under that bucket's spinlock.
 * Since Linux 6.16 a process with threads gets a private table of
 * 4 x min(threads, CPUs) buckets, at least 16: 16 on this 2-core machine.
 * With thousands of sleeping threads (a CivetWeb worker per member slot,
 * a writer per member) each bucket holds hundreds of them, and every
 * wake walks its bucket's chain: in a 4,000-member join storm the walk
 * in futex_wake was a quarter of the server's CPU. One bucket per
 * planned thread keeps chains short; a bucket is 64 bytes of kernel
 * memory. PR_FUTEX_HASH is spelled out because glibc 2.36's
 * headers predate it.
 */
#include "groupchat/core/thread.h"

#include <errno.h>
#include <sys/prctl.h>

#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_SET_SLOTS 1
#endif

/* The kernel takes a power of two; this many is 16 MiB of buckets. */
#define FUTEX_SLOTS_MAX ((size_t)1 << 18)

int
thread_start(pthread_t *t, const char *name, size_t stack,
    void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int err;

	if ((err = pthread_attr_init(&attr)) != 0)
		goto out;
	if ((err = pthread_attr_setstacksize(&attr, stack)) == 0)
		err = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (err == 0 && name != NULL)
		pthread_setname_np(*t, name);
out:
	if (err != 0)
		errno = err;
	return err;
}

int
thread_start_on(pthread_t *t, void *base, size_t stack,
    void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int err;

	if ((err = pthread_attr_init(&attr)) != 0)
		goto out;
	if ((err = pthread_attr_setstack(&attr, base, stack)) == 0)
		err = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
out:
	if (err != 0)
		errno = err;
	return err;
}

int
thread_plan(size_t threads)
{
	size_t slots = 16;

	while (slots < threads && slots < FUTEX_SLOTS_MAX)
		slots <<= 1;
	return prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, (unsigned long)slots, 0UL, 0UL) == 0 ? 0 : -1;
}
