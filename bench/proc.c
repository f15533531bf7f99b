/*
 * proc.c: what the kernel says about the server under test. CPU time comes
 * from /proc/PID/stat (utime + stime, in clock ticks), RSS, page tables and
 * the thread count from /proc/PID/status, write-family system calls from
 * /proc/PID/io (readable by root or the process's owner only). The whole
 * system's memory comes from /proc/meminfo: what a member costs beyond RSS
 * (kernel stacks, page tables, socket buffers) shows only there. The
 * generator samples at the edges of a measured window and reports
 * differences.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* Reads a small file into buf (NUL terminated); -1 with errno. */
static int
file_read(const char *path, char *buf, size_t cap)
{
	FILE *f;
	size_t n;

	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n > 0 ? 0 : -1;
}

/* Reads /proc/pid/name into buf; -1 with errno. */
static int
proc_read(int pid, const char *name, char *buf, size_t cap)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return file_read(path, buf, cap);
}

/* The number after "key" at the start of a line of buf, or -1. */
static long long
proc_field(const char *buf, const char *key)
{
	const char *p = buf;
	size_t klen = strlen(key);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0)
			return strtoll(p + klen, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

int
bench_proc_sample(int pid, struct bench_proc *s)
{
	char buf[4096], *p;
	unsigned long long utime, stime;
	long tck = sysconf(_SC_CLK_TCK);

	memset(s, 0, sizeof(*s));
	if (proc_read(pid, "stat", buf, sizeof(buf)) == -1)
		return -1;
	/* The command name may hold spaces and parentheses: fields are
	 * counted from the last ')'. utime and stime are fields 14, 15. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %llu %llu", &utime, &stime) != 2) {
		errno = EINVAL;
		return -1;
	}
	s->cpu_s = (double)(utime + stime) / (double)(tck > 0 ? tck : 100);
	if (proc_read(pid, "status", buf, sizeof(buf)) == -1)
		return -1;
	s->rss_kb = (long)proc_field(buf, "VmRSS:");
	s->threads = (long)proc_field(buf, "Threads:");
	s->pte_kb = (long)proc_field(buf, "VmPTE:");
	s->ok = 1;
	if (proc_read(pid, "io", buf, sizeof(buf)) == 0) {
		s->syscw = proc_field(buf, "syscw:");
		s->io_ok = s->syscw >= 0;
	}
	return 0;
}

int
bench_mem_sample(const char *path, struct bench_mem *m)
{
	char buf[8192];

	memset(m, 0, sizeof(*m));
	if (file_read(path != NULL ? path : "/proc/meminfo", buf,
	    sizeof(buf)) == -1)
		return -1;
	m->avail_kb = (long)proc_field(buf, "MemAvailable:");
	m->kstack_kb = (long)proc_field(buf, "KernelStack:");
	m->pte_kb = (long)proc_field(buf, "PageTables:");
	if (m->avail_kb < 0 || m->kstack_kb < 0 || m->pte_kb < 0) {
		errno = EINVAL;
		return -1;
	}
	m->ok = 1;
	return 0;
}

double
bench_loadavg(void)
{
	char buf[128];

	if (file_read("/proc/loadavg", buf, sizeof(buf)) == -1)
		return -1;
	return strtod(buf, NULL);
}
