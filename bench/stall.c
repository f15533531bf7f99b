/*
 * stall: the memory-bound scenario (issue 9). Members that stop reading
 * (a 4 KiB receive buffer, never read) and one sender that sends a fixed
 * number of big messages; the server's RSS is sampled before the first
 * message and every 50 ms until the queued data has settled, and the
 * growth to the peak is the result. A server that copies frames per member
 * while a write blocks grows with members x message size; one that writes
 * from the shared frames grows with the bytes queued once.
 *
 * Blocking sockets and no event loop: nothing here is read after the
 * handshake, so the run is a straight line. The generator's own memory
 * holds one message frame.
 *
 * Who touches what: one thread, this file's locals only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* The stalled members' receive buffer: the kernel rounds it up a little. */
#define STALL_RCVBUF	4096

/* How long the RSS is watched after the last message, and how often. */
#define STALL_SETTLE_NS	(3 * BENCH_NS)
#define STALL_STEP_NS	(50 * 1000000L)

/* Each message's payload. */
#define STALL_MESSAGE	((size_t)1 << 20)

/* The growth the issue asks for at most (50 members, 16 x 1 MiB). */
#define STALL_TARGET_KB	(40 * 1024)

/* Connects, upgrades to /groups/id and returns the socket, or -1. A
 * non-zero rcvbuf is set before connect, so the window is small from the
 * first byte. */
static int
stall_join(const struct bench_opts *o, const char *id, int rcvbuf)
{
	struct timeval tv = { 5, 0 };
	char key[BENCH_WS_KEY_LEN + 1], accept[BENCH_WS_ACCEPT_LEN + 1];
	char path[96], buf[1024];
	uint8_t raw[16];
	size_t got = 0;
	ssize_t n;
	int fd, len, status, head;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if ((rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)) == -1) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) == -1 ||
	    getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		goto fail;
	bench_base64(raw, sizeof(raw), key);
	bench_ws_accept(key, accept);
	snprintf(path, sizeof(path), "/groups/%s", id);
	len = bench_ws_request(buf, sizeof(buf), o->host, o->port, path, key);
	if (len < 0 || send(fd, buf, (size_t)len, MSG_NOSIGNAL) != len)
		goto fail;
	/* Byte by byte up to the end of the head: nothing after it is read. */
	for (head = 0; head == 0 && got < sizeof(buf); ) {
		if ((n = recv(fd, buf + got, 1, 0)) <= 0)
			goto fail;
		got++;
		head = bench_ws_response(buf, got, accept, &status);
	}
	if (head <= 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

int
bench_run_stall(const struct bench_opts *o, const struct bench_scenario *sc,
    struct bench_result *res)
{
	int members = o->members > 0 ? o->members : sc->members;
	int count = o->count >= 0 ? o->count : sc->count;
	size_t size = STALL_MESSAGE;
	struct bench_proc p;
	uint8_t *frame = NULL, *payload = NULL;
	int *fd = NULL, sender = -1, status, i;
	size_t flen;
	int64_t end;
	char id[64], target[96];

	memset(res, 0, sizeof(*res));
	res->sc = sc;
	res->wcalls = -1;
	res->groups = 1;
	res->per = members + 1;
	res->conns_want = members + 1;
	snprintf(res->status, sizeof(res->status), "FAIL:setup");
	snprintf(id, sizeof(id), "bench-stall-%d", (int)getpid());
	if ((fd = calloc((size_t)members, sizeof(*fd))) == NULL ||
	    (payload = malloc(size)) == NULL ||
	    (frame = malloc(size + BENCH_WS_HEADER_MAX)) == NULL)
		goto out;
	memset(payload, 's', size);
	flen = bench_ws_frame(frame, BENCH_WS_TEXT, payload, size, 0x5a5a5a5a);
	for (i = 0; i < members; i++)
		fd[i] = -1;
	snprintf(target, sizeof(target), "/create?id=%s", id);
	if (bench_http(o, "POST", target, &status) == -1 || status != 201) {
		snprintf(res->status, sizeof(res->status), "FAIL:create");
		goto out;
	}
	for (i = 0; i < members; i++) {
		if ((fd[i] = stall_join(o, id, STALL_RCVBUF)) == -1)
			break;
		res->conns_ok++;
	}
	if ((sender = stall_join(o, id, 0)) != -1)
		res->conns_ok++;
	if (res->conns_ok != res->conns_want) {
		snprintf(res->status, sizeof(res->status), "FAIL:join");
		goto out;
	}
	/* before: joined, nothing sent; after: the peak. */
	if (bench_proc_sample(o->pid, &res->before) == -1) {
		snprintf(res->status, sizeof(res->status), "FAIL:pid");
		goto out;
	}
	res->after = res->before;
	for (i = 0; i < count; i++) {
		if (send(sender, frame, flen, MSG_NOSIGNAL) != (ssize_t)flen) {
			snprintf(res->status, sizeof(res->status), "FAIL:send");
			goto out;
		}
		res->sent++;
	}
	/* The peak, while the group fans out and the writers block. */
	for (end = bench_now() + STALL_SETTLE_NS; bench_now() < end; ) {
		struct timespec step = { 0, STALL_STEP_NS };

		if (bench_proc_sample(o->pid, &p) == 0 && p.rss_kb > res->after.rss_kb)
			res->after = p;
		nanosleep(&step, NULL);
	}
	fprintf(stderr, "groupchat-bench: %s: server RSS %.1f MB before the "
	    "first message, peak %.1f MB: growth %.1f MB (target <= %d MB)\n",
	    sc->name, res->before.rss_kb / 1024.0, res->after.rss_kb / 1024.0,
	    (res->after.rss_kb - res->before.rss_kb) / 1024.0,
	    STALL_TARGET_KB / 1024);
	snprintf(res->status, sizeof(res->status), "%s",
	    res->after.rss_kb - res->before.rss_kb <= STALL_TARGET_KB ? "ok" :
	    "FAIL:rss");
out:
	if (sender != -1)
		close(sender);
	for (i = 0; fd != NULL && i < members; i++)
		if (fd[i] != -1)
			close(fd[i]);
	if (res->conns_ok > 0) {
		snprintf(target, sizeof(target), "/groups/%s", id);
		bench_http(o, "DELETE", target, &status);
	}
	free(fd);
	free(payload);
	free(frame);
	return 0;
}
