/*
 * syscount.c: counts the write-family system calls (write, writev, the
 * pwrite calls, sendto, sendmsg, sendmmsg) the server makes. The kernel's
 * own per-process counter, syscw in /proc/PID/io, only counts the vfs
 * write paths, so a server that writes sockets with send() shows none
 * there. Instead a perf counter on the raw_syscalls:sys_enter tracepoint,
 * filtered on those syscall numbers, is opened on every thread of the
 * server with inherit set, so threads created later count too. This needs
 * root (or CAP_PERFMON) and tracefs mounted, for the tracepoint's id, and
 * one descriptor per thread.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

static const char *const tp_paths[] = {
	"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
	"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
};

static const long write_calls[] = {
	SYS_write, SYS_writev, SYS_pwrite64, SYS_pwritev, SYS_pwritev2,
	SYS_sendto, SYS_sendmsg, SYS_sendmmsg,
};

static long
sys_tracepoint(void)
{
	FILE *f;
	long id = -1;
	size_t i;

	for (i = 0; i < sizeof(tp_paths) / sizeof(tp_paths[0]); i++) {
		f = fopen(tp_paths[i], "re");
		if (f == NULL)
			continue;
		if (fscanf(f, "%ld", &id) != 1)
			id = -1;
		fclose(f);
		if (id >= 0)
			return id;
	}
	errno = ENOENT;
	return -1;
}

static int
sys_open(int tid, long tp, const char *filter)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = (unsigned long long)tp;
	attr.inherit = 1;
	fd = (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1,
	    PERF_FLAG_FD_CLOEXEC);
	if (fd == -1)
		return -1;
	if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
bench_sys_attach(struct bench_sys *s, int pid, int maxfd)
{
	char path[64], filter[256];
	struct dirent *d;
	size_t i, len = 0;
	long tp;
	DIR *dir;
	int fd, err = 0;

	memset(s, 0, sizeof(*s));
	tp = sys_tracepoint();
	if (tp < 0 || maxfd < 1)
		return -1;
	for (i = 0; i < sizeof(write_calls) / sizeof(write_calls[0]); i++)
		len += (size_t)snprintf(filter + len, sizeof(filter) - len,
		    "%sid == %ld", i > 0 ? " || " : "", write_calls[i]);
	s->fd = calloc((size_t)maxfd, sizeof(*s->fd));
	if (s->fd == NULL)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (dir == NULL)
		goto fail;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (s->n == maxfd) {
			err = EMFILE;
			break;
		}
		fd = sys_open(atoi(d->d_name), tp, filter);
		/* A thread may exit between readdir and the open. */
		if (fd == -1 && errno == ESRCH)
			continue;
		if (fd == -1) {
			err = errno;
			break;
		}
		s->fd[s->n++] = fd;
	}
	closedir(dir);
	if (err == 0 && s->n > 0)
		return 0;
	errno = err != 0 ? err : ESRCH;
fail:
	err = errno;
	bench_sys_detach(s);
	errno = err;
	return -1;
}

long long
bench_sys_read(const struct bench_sys *s)
{
	unsigned long long v;
	long long sum = 0;
	int i;

	if (s->n == 0)
		return -1;
	for (i = 0; i < s->n; i++) {
		if (read(s->fd[i], &v, sizeof(v)) != sizeof(v))
			return -1;
		sum += (long long)v;
	}
	return sum;
}

void
bench_sys_detach(struct bench_sys *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		close(s->fd[i]);
	free(s->fd);
	memset(s, 0, sizeof(*s));
}
