/*
 * itest_ws_extra: helpers for the WebSocket integration tests (see
 * itest_ws_extra.h). Server state is read the way an operator reads it,
 * through GET /stats, and waits poll it with itest's it_wait_until.
 *
 * The raw reader duplicates a little of itest's frame parsing on purpose:
 * itest's client owns its socket from connect on, and a slow-consumer
 * test needs a socket whose receive buffer was shrunk before connect.
 */
#include "itest_ws_extra.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

/* RFC 6455 section 1.3's sample key and the accept value it implies. */
#define RAW_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define RAW_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* The largest frame payload the raw reader accepts from the server. */

/* ---- groups by id ---------------------------------------------------- */

char *
itx_group_path(const char *id)
{
	char *enc = it_pct_encode(id, strlen(id)), *path;

	if (enc == NULL)
		return NULL;
	if ((path = malloc(strlen(enc) + sizeof("/groups/"))) != NULL)
		sprintf(path, "/groups/%s", enc);
	free(enc);
	return path;
}

int
itx_create(int port, const char *id)
{
	struct it_response r;
	char *enc = it_pct_encode(id, strlen(id)), *target;
	int status = -1;

	if (enc == NULL)
		return -1;
	if ((target = malloc(strlen(enc) + sizeof("/create?id="))) != NULL) {
		sprintf(target, "/create?id=%s", enc);
		if (it_request(port, "POST", target, &r) == 0)
			status = r.status;
		it_response_free(&r);
		free(target);
	}
	free(enc);
	return status;
}

int
itx_delete(int port, const char *id, char *body, size_t bodylen)
{
	struct it_response r;
	char *path = itx_group_path(id);
	int status = -1;

	if (path == NULL)
		return -1;
	if (it_request(port, "DELETE", path, &r) == 0) {
		status = r.status;
		if (body != NULL && bodylen > 0)
			snprintf(body, bodylen, "%s", r.body);
	}
	it_response_free(&r);
	free(path);
	return status;
}

struct it_ws *
itx_join(int port, const char *id, int *status)
{
	char *path = itx_group_path(id);
	struct it_ws *ws;

	if (path == NULL) {
		if (status != NULL)
			*status = -1;
		return NULL;
	}
	ws = it_ws_connect(port, path, NULL, status);
	free(path);
	return ws;
}

/* ---- /stats ---------------------------------------------------------- */

/* GET /stats: the body, malloc'd, or NULL. */
static char *
stats_body(int port)
{
	struct it_response r;
	char *body = NULL;

	if (it_request(port, "GET", "/stats", &r) == 0 && r.status == 200) {
		body = r.body;
		r.body = NULL;
	}
	it_response_free(&r);
	return body;
}

/* The integer after "key": at or after from. 0 with *out set, or -1. */
static int
json_int_after(const char *from, const char *key, long long *out)
{
	char pat[64];
	const char *p;
	char *end;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if (from == NULL || (p = strstr(from, pat)) == NULL)
		return -1;
	p += strlen(pat);
	errno = 0;
	*out = strtoll(p, &end, 10);
	return end == p || errno != 0 ? -1 : 0;
}

int
itx_stats_total(int port, const char *name, long long *out)
{
	char *body = stats_body(port);
	int rc = -1;

	if (body != NULL)
		rc = json_int_after(strstr(body, "\"totals\":{"), name, out);
	free(body);
	return rc;
}

int
itx_stats_group(int port, const char *id, long long *members, int *running)
{
	char *body = stats_body(port), *pat, *g;
	long long m;
	int rc = -1;

	if (body == NULL)
		return -1;
	if ((pat = malloc(strlen(id) + sizeof("{\"id\":\"\","))) == NULL)
		goto out;
	sprintf(pat, "{\"id\":\"%s\",", id);
	if ((g = strstr(body, pat)) == NULL) {
		rc = 0;
	} else if (json_int_after(g, "members", &m) == 0 &&
	    (g = strstr(g, "\"running\":")) != NULL) {
		g += strlen("\"running\":");
		if (members != NULL)
			*members = m;
		if (running != NULL)
			*running = strncmp(g, "true", 4) == 0;
		rc = 1;
	}
	free(pat);
out:
	free(body);
	return rc;
}

struct total_wait {
	int port;
	const char *name;
	long long want, last;
};

static int
total_reached(void *arg)
{
	struct total_wait *w = arg;

	return itx_stats_total(w->port, w->name, &w->last) == 0 && w->last == w->want;
}

int
itx_wait_total(int port, const char *name, long long want, int timeout_ms,
    long long *last)
{
	struct total_wait w = { port, name, want, -1 };
	int ok = it_wait_until(total_reached, &w, timeout_ms);

	if (last != NULL)
		*last = w.last;
	return ok ? 0 : -1;
}

struct running_wait {
	int port;
	const char *id;
	int want;
};

static int
running_reached(void *arg)
{
	struct running_wait *w = arg;
	int running = 0;

	/* A group that is not listed has no members, so no thread. */
	return itx_stats_group(w->port, w->id, NULL, &running) >= 0 &&
	    running == w->want;
}

int
itx_wait_running(int port, const char *id, int want, int timeout_ms)
{
	struct running_wait w = { port, id, want };

	return it_wait_until(running_reached, &w, timeout_ms) ? 0 : -1;
}

/* ---- raw sockets ----------------------------------------------------- */

void
itx_rst_on_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

long
itx_read_to_eof(int fd, char *out, size_t outlen, int timeout_ms)
{
	int64_t deadline = it_deadline(timeout_ms);
	char chunk[4096];
	size_t kept = 0;
	long total = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n = poll(&pfd, 1, it_left_ms(deadline));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		ssize_t got = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (got == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got <= 0)
			break;
		if (out != NULL && kept + 1 < outlen) {
			size_t k = (size_t)got < outlen - 1 - kept ? (size_t)got : outlen - 1 - kept;
			memcpy(out + kept, chunk, k);
			kept += k;
		}
		total += got;
	}
	if (out != NULL && outlen > 0)
		out[kept] = '\0';
	return total;
}

/* Sends all of p before the deadline. 0, or -1. */
static int
raw_send(int fd, const void *p, size_t len, int64_t deadline)
{
	const char *b = p;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, it_left_ms(deadline)) <= 0)
			return -1;
		ssize_t w = send(fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return -1;
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads the handshake reply up to its blank line, one byte at a time. */
static int
raw_read_head(int fd, char *head, size_t cap, int64_t deadline)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, it_left_ms(deadline)) <= 0)
			return -1;
		ssize_t got = recv(fd, head + n, 1, MSG_DONTWAIT);
		if (got == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got <= 0)
			return -1;
		n++;
		head[n] = '\0';
		if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
			return 0;
	}
	return -1;
}

int
itx_raw_connect(struct itx_raw *r, int port, const char *path, int rcvbuf)
{
	struct sockaddr_in sa;
	char req[1024], head[2048];
	int64_t deadline = it_deadline(IT_TIMEOUT_MS);
	int one = 1, n;

	memset(r, 0, sizeof(*r));
	if ((r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		goto fail;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " RAW_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    path, port);
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    raw_send(r->fd, req, (size_t)n, deadline) == -1 ||
	    raw_read_head(r->fd, head, sizeof(head), deadline) == -1)
		goto fail;
	if (strncmp(head, "HTTP/1.1 101 ", 13) != 0 ||
	    strcasestr(head, "\r\nSec-WebSocket-Accept: " RAW_ACCEPT "\r\n") == NULL)
		goto fail;
	return 0;
fail:
	close(r->fd);
	r->fd = -1;
	return -1;
}

/* Parses one frame from the buffer: 1 with *f filled, 0 if more bytes are
 * needed, -1 if the frame is too large to accept. */
static int
raw_parse(struct itx_raw *r, struct it_frame *f)
{
	size_t used;
	int rc = it_frame_parse(r->buf + r->off, r->len - r->off, f, &used);

	if (rc == 1)
		r->off += used;
	return rc;
}

enum it_recv
itx_raw_recv(struct itx_raw *r, struct it_frame *f, int timeout_ms)
{
	int64_t deadline = it_deadline(timeout_ms);

	memset(f, 0, sizeof(*f));
	for (;;) {
		int rc = raw_parse(r, f);
		if (rc == 1)
			return IT_FRAME;
		if (rc == -1)
			return IT_ERROR;
		if (r->off > 0) {
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		if (r->cap - r->len < 16384) {
			size_t cap = r->cap ? r->cap * 2 : 65536;
			unsigned char *nb = realloc(r->buf, cap);
			if (nb == NULL)
				return IT_ERROR;
			r->buf = nb;
			r->cap = cap;
		}
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		int n = poll(&pfd, 1, it_left_ms(deadline));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return IT_ERROR;
		if (n == 0)
			return IT_TIMEOUT;
		ssize_t got = recv(r->fd, r->buf + r->len, r->cap - r->len, MSG_DONTWAIT);
		if (got == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got == 0 || (got == -1 && errno == ECONNRESET))
			return IT_CLOSED;
		if (got == -1)
			return IT_ERROR;
		r->len += (size_t)got;
	}
}

void
itx_raw_free(struct itx_raw *r)
{
	if (r->fd != -1)
		close(r->fd);
	free(r->buf);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* ---- the process ----------------------------------------------------- */

long
itx_status_kib(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long kib = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			kib = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

/* ---- variants -------------------------------------------------------- */

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ITX_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ITX_SANITIZED 1
#endif
#ifndef ITX_SANITIZED
#define ITX_SANITIZED 0
#endif

int
itx_sanitized(void)
{
	return ITX_SANITIZED;
}
