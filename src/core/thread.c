/*
 * thread: pthread_create with an explicit stack size and a name.
 *
 * Who touches what: nothing shared; the attribute object lives on the
 * caller's stack for the duration of the call. The name is set by the
 * creator once the thread exists, so thread bodies need not name
 * themselves; naming another thread costs glibc an open, a write and a
 * close of /proc/self/task/TID/comm, so a pool that starts threads in
 * bursts passes no name and has its threads name themselves (one prctl).
 */
#include "groupchat/core/thread.h"

#include <errno.h>

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
