/*
 * itest: the integration-test toolkit (see itest.h). A client connection
 * is a socket plus a read buffer: bytes the server sent past what one
 * call consumed (frames right behind the 101, a frame cut by a timeout)
 * stay buffered for the next call, so framing never depends on how TCP
 * happened to split the stream.
 *
 * Waits are poll(2) on the fd in question with the time left before a
 * deadline; the only wait without an fd (it_wait_until) is a short timed
 * wait on a condition variable between checks of its predicate.
 */
#include "itest.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/pidfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "groupchat/config.h"
#include "groupchat/core/buf.h"
#include "groupchat/core/log.h"
#include "groupchat/web/server.h"

extern char **environ;

/* The largest frame payload a test expects from the server. */
#define IT_FRAME_MAX (64u << 20)
/* How long a send may take before the peer is taken as stuck. */
#define IT_SEND_MS 10000

/* ---- time ------------------------------------------------------------ */

int64_t
it_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
it_deadline(int timeout_ms)
{
	return it_now_ms() + timeout_ms;
}

int
it_left_ms(int64_t deadline)
{
	int64_t left = deadline - it_now_ms();

	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

int
it_wait_until(int (*pred)(void *), void *arg, int timeout_ms)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	pthread_condattr_t ca;
	int64_t deadline = it_deadline(timeout_ms);
	int ok;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&mu);
	while (!(ok = pred(arg)) && it_left_ms(deadline) > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 2 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	pthread_mutex_unlock(&mu);
	pthread_cond_destroy(&cv);
	pthread_mutex_destroy(&mu);
	return ok != 0;
}

/* ---- the server in-process ------------------------------------------- */

struct itest_server {
	struct server *srv;
};

void
it_config(struct config *cfg)
{
	config_defaults(cfg);
	strcpy(cfg->listen, "127.0.0.1");
	cfg->port = 0;
	cfg->log_level = LOG_WARN;
	cfg->max_clients = 64;
}

struct itest_server *
it_server_start(const struct config *cfg)
{
	struct itest_server *s;
	struct config c;
	char err[256] = "";

	if (cfg == NULL) {
		it_config(&c);
		cfg = &c;
	}
	log_setup(cfg->log_level, cfg->log_format, 2);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->srv = server_start(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "it_server_start: %s\n", err);
		free(s);
		return NULL;
	}
	return s;
}

int
it_server_port(const struct itest_server *s)
{
	return server_port(s->srv);
}

void
it_server_stop(struct itest_server *s)
{
	server_stop(s->srv);
	free(s);
}

/* ---- sockets and the read buffer ------------------------------------- */

/* A client connection: unread bytes are in.data[off..in.len). */
struct rd {
	int fd;
	struct buf in;
	size_t off;
};

int
it_connect(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Small writes (a frame header, a short request) must leave at once. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Sends all len bytes before deadline. 0, or -1 with errno. */
static int
send_all(int fd, const void *p, size_t len, int64_t deadline)
{
	const uint8_t *b = p;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int n = poll(&pfd, 1, it_left_ms(deadline));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t w = send(fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w == -1)
			return -1;
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads what is available, waiting until deadline for the first byte.
 * Bytes read, 0 on EOF, or -1 with errno (ETIMEDOUT on timeout). */
static ssize_t
rd_fill(struct rd *r, int64_t deadline)
{
	if (r->off == r->in.len) {
		buf_reset(&r->in);
		r->off = 0;
	}
	if (buf_reserve(&r->in, 16384) == -1)
		return -1;
	for (;;) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		int n = poll(&pfd, 1, it_left_ms(deadline));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t got = recv(r->fd, r->in.data + r->in.len,
		    r->in.cap - r->in.len, MSG_DONTWAIT);
		if (got == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got > 0)
			r->in.len += (size_t)got;
		return got;
	}
}

static const uint8_t *
rd_data(const struct rd *r)
{
	/* Nothing read yet: an empty, not a null, string. */
	return r->in.data != NULL ? r->in.data + r->off : (const uint8_t *)"";
}

static size_t
rd_avail(const struct rd *r)
{
	return r->in.len - r->off;
}

/* ---- HTTP ------------------------------------------------------------ */

static char *
dup_range(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static const char *
find_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

/* Parses the status line and headers in head[0..len) (without the blank
 * line) into out. 0, or -1 with EPROTO or ENOMEM. */
static int
parse_head(const char *head, size_t len, struct it_response *out)
{
	const char *end = head + len, *p = head, *eol, *sp;
	char code[4];

	eol = find_crlf(p, end);
	if (eol == NULL)
		eol = end;
	if (eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
	    !isdigit((unsigned char)p[11]))
		goto proto;
	memcpy(code, p + 9, 3);
	code[3] = '\0';
	out->status = atoi(code);
	sp = p + 12;
	if (sp < eol && *sp == ' ')
		sp++;
	if ((out->reason = dup_range(sp, (size_t)(eol - sp))) == NULL)
		return -1;
	p = eol == end ? end : eol + 2;
	while (p < end) {
		const char *colon, *v, *ve;
		struct it_header *h;

		if ((eol = find_crlf(p, end)) == NULL)
			eol = end;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			goto proto;
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		ve = eol;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		h = realloc(out->headers, (out->nheaders + 1) * sizeof(*h));
		if (h == NULL)
			return -1;
		out->headers = h;
		h = &out->headers[out->nheaders];
		h->name = dup_range(p, (size_t)(colon - p));
		h->value = dup_range(v, (size_t)(ve - v));
		out->nheaders++;
		if (h->name == NULL || h->value == NULL)
			return -1;
		p = eol == end ? end : eol + 2;
	}
	return 0;
proto:
	errno = EPROTO;
	return -1;
}

/* Reads one response from r: head, then a body framed as the request
 * method and status say. 0, or -1 with errno. */
static int
read_response(struct rd *r, int head_request, struct it_response *out,
    int64_t deadline)
{
	const char *hd, *end;
	size_t hlen, want;
	const char *cl;
	int eof_body = 0;
	ssize_t n;

	for (;;) {
		hd = (const char *)rd_data(r);
		end = memmem(hd, rd_avail(r), "\r\n\r\n", 4);
		if (end != NULL)
			break;
		if ((n = rd_fill(r, deadline)) == 0) {
			errno = rd_avail(r) > 0 ? EPROTO : ECONNRESET;
			out->eof = 1;
			return -1;
		}
		if (n == -1)
			return -1;
	}
	hlen = (size_t)(end - hd);
	if (parse_head(hd, hlen, out) == -1)
		return -1;
	r->off += hlen + 4;

	want = 0;
	cl = it_header(out, "Content-Length");
	if (head_request || out->status / 100 == 1 || out->status == 204 ||
	    out->status == 304) {
		want = 0;
	} else if (cl != NULL) {
		char *e;
		unsigned long long v = strtoull(cl, &e, 10);
		if (*cl == '\0' || *e != '\0' || v > IT_FRAME_MAX) {
			errno = EPROTO;
			return -1;
		}
		want = (size_t)v;
	} else {
		eof_body = 1;
	}
	while (eof_body || rd_avail(r) < want) {
		if ((n = rd_fill(r, deadline)) == 0) {
			out->eof = 1;
			if (eof_body)
				break;
			errno = EPROTO;
			return -1;
		}
		if (n == -1)
			return -1;
	}
	if (eof_body)
		want = rd_avail(r);
	if ((out->body = dup_range((const char *)rd_data(r), want)) == NULL)
		return -1;
	out->body_len = want;
	r->off += want;
	return 0;
}

/* 1 if the request's head has a Connection header with token "close". */
static int
asks_close(const char *req, size_t len)
{
	const char *end = memmem(req, len, "\r\n\r\n", 4), *p = req;

	/* end: just past the last header line's CRLF. */
	end = end != NULL ? end + 2 : req + len;
	while ((p = find_crlf(p, end)) != NULL) {
		p += 2;
		if (end - p > 11 && strncasecmp(p, "connection:", 11) == 0) {
			const char *eol = find_crlf(p, end);
			for (const char *q = p + 11; eol != NULL && q + 5 <= eol; q++)
				if (strncasecmp(q, "close", 5) == 0)
					return 1;
		}
	}
	return 0;
}

int
it_http_raw(int port, const void *req, size_t len, struct it_response *out,
    int timeout_ms)
{
	struct rd r = { .fd = -1 };
	int64_t deadline = it_deadline(timeout_ms);
	int rc = -1, e;

	memset(out, 0, sizeof(*out));
	out->status = -1;
	buf_init(&r.in, 0);
	if ((r.fd = it_connect(port)) == -1)
		goto out;
	if (send_all(r.fd, req, len, deadline) == -1)
		goto out;
	if (read_response(&r, len >= 5 && memcmp(req, "HEAD ", 5) == 0, out,
	    deadline) == -1)
		goto out;
	if (!out->eof && asks_close(req, len)) {
		ssize_t n;
		while ((n = rd_fill(&r, deadline)) > 0)
			;
		if (n == -1 && errno != ECONNRESET)
			goto out;
		out->eof = 1;
	}
	out->trailing_len = rd_avail(&r);
	rc = 0;
out:
	e = errno;
	if (r.fd != -1)
		close(r.fd);
	buf_free(&r.in);
	if (out->body == NULL)
		out->body = calloc(1, 1);
	errno = e;
	return rc;
}

int
it_http(int port, const char *raw_request, struct it_response *out,
    int timeout_ms)
{
	return it_http_raw(port, raw_request, strlen(raw_request), out, timeout_ms);
}

char *
it_http_wire(int port, const char *req, size_t *len, int timeout_ms)
{
	struct rd r = { .fd = -1 };
	int64_t deadline = it_deadline(timeout_ms);
	char *out = NULL;
	ssize_t n;
	int e;

	buf_init(&r.in, 0);
	if ((r.fd = it_connect(port)) == -1 ||
	    send_all(r.fd, req, strlen(req), deadline) == -1)
		goto out;
	/* rd_fill keeps what came: nothing is consumed until EOF. */
	while ((n = rd_fill(&r, deadline)) > 0)
		;
	if (n == -1 && errno != ECONNRESET)
		goto out;
	if ((out = dup_range((const char *)r.in.data, r.in.len)) != NULL)
		*len = r.in.len;
out:
	e = errno;
	if (r.fd != -1)
		close(r.fd);
	buf_free(&r.in);
	errno = e;
	return out;
}

int
it_request(int port, const char *method, const char *target,
    struct it_response *out)
{
	struct buf b;
	int rc;

	buf_init(&b, 0);
	if (buf_printf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Connection: close\r\n\r\n", method, target, port) == -1) {
		buf_free(&b);
		memset(out, 0, sizeof(*out));
		out->status = -1;
		return -1;
	}
	rc = it_http_raw(port, b.data, b.len, out, IT_TIMEOUT_MS);
	buf_free(&b);
	return rc;
}

const char *
it_header(const struct it_response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

int
it_header_count(const struct it_response *r, const char *name)
{
	int n = 0;

	for (size_t i = 0; i < r->nheaders; i++)
		n += strcasecmp(r->headers[i].name, name) == 0;
	return n;
}

void
it_response_free(struct it_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->reason);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

char *
it_pct_encode(const void *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *p = s;
	char *out = malloc(len * 3 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (isalnum(p[i]) || p[i] == '-' || p[i] == '_' || p[i] == '~') {
			*o++ = (char)p[i];
		} else {
			*o++ = '%';
			*o++ = hex[p[i] >> 4];
			*o++ = hex[p[i] & 15];
		}
	}
	*o = '\0';
	return out;
}

/* ---- SHA-1 and base64, for Sec-WebSocket-Accept (FIPS 180-4, RFC 4648) */

static uint32_t
rol32(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void
sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDC;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol32(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

static void
sha1(const void *data, size_t len, uint8_t out[20])
{
	uint32_t h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 };
	const uint8_t *p = data;
	uint8_t tail[128];
	size_t full = len / 64 * 64, rest = len - full, tl;
	uint64_t bits = (uint64_t)len * 8;

	for (size_t i = 0; i < full; i += 64)
		sha1_block(h, p + i);
	memset(tail, 0, sizeof(tail));
	memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tl = rest + 1 + 8 <= 64 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
	for (size_t i = 0; i < tl; i += 64)
		sha1_block(h, tail + i);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

/* Writes the base64 of p[0..len) and a NUL to out (4 * ceil(len/3) + 1). */
static void
base64(const uint8_t *p, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*out++ = i + 2 < len ? tab[v & 63] : '=';
	}
	*out = '\0';
}

static void
random_bytes(void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t got = getrandom(b, n, 0);
		if (got > 0) {
			b += got;
			n -= (size_t)got;
		}
	}
}

/* ---- WebSocket ------------------------------------------------------- */

struct it_ws {
	struct rd rd;
};

/* 1 if the comma-separated header value h has token tok. */
static int
has_token(const char *h, const char *tok)
{
	size_t n = strlen(tok);

	while (h != NULL && *h != '\0') {
		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		size_t len = strcspn(h, ",");
		size_t t = len;
		while (t > 0 && (h[t - 1] == ' ' || h[t - 1] == '\t'))
			t--;
		if (t == n && strncasecmp(h, tok, n) == 0)
			return 1;
		h += len;
	}
	return 0;
}

struct it_ws *
it_ws_connect_resp(int port, const char *path, const char *extra_headers,
    struct it_response *resp)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	struct it_ws *ws;
	uint8_t nonce[16], digest[20];
	char key[25], expect[29], keyguid[sizeof(key) + sizeof(guid)];
	const char *accept;
	struct buf req;
	int64_t deadline = it_deadline(IT_TIMEOUT_MS);
	int e;

	memset(resp, 0, sizeof(*resp));
	resp->status = -1;
	if ((ws = calloc(1, sizeof(*ws))) == NULL)
		return NULL;
	ws->rd.fd = -1;
	buf_init(&ws->rd.in, 0);
	buf_init(&req, 0);
	random_bytes(nonce, sizeof(nonce));
	base64(nonce, sizeof(nonce), key);
	snprintf(keyguid, sizeof(keyguid), "%s%s", key, guid);
	sha1(keyguid, strlen(keyguid), digest);
	base64(digest, sizeof(digest), expect);

	if ((ws->rd.fd = it_connect(port)) == -1)
		goto fail;
	if (buf_printf(&req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
	    path, port, key, extra_headers != NULL ? extra_headers : "") == -1)
		goto fail;
	if (send_all(ws->rd.fd, req.data, req.len, deadline) == -1)
		goto fail;
	if (read_response(&ws->rd, 0, resp, deadline) == -1)
		goto fail;
	if (resp->status != 101)
		goto fail;
	accept = it_header(resp, "Sec-WebSocket-Accept");
	if (!has_token(it_header(resp, "Upgrade"), "websocket") ||
	    !has_token(it_header(resp, "Connection"), "upgrade") ||
	    accept == NULL || strcmp(accept, expect) != 0) {
		errno = EPROTO;
		goto fail;
	}
	buf_free(&req);
	return ws;
fail:
	e = errno;
	if (resp->body == NULL)
		resp->body = calloc(1, 1);
	buf_free(&req);
	it_ws_free(ws);
	errno = e;
	return NULL;
}

struct it_ws *
it_ws_connect(int port, const char *path, const char *extra_headers,
    int *status_out)
{
	struct it_response resp;
	struct it_ws *ws = it_ws_connect_resp(port, path, extra_headers, &resp);

	if (status_out != NULL)
		*status_out = resp.status;
	it_response_free(&resp);
	return ws;
}

int
it_ws_send_frame(struct it_ws *ws, const struct it_frame_spec *f)
{
	uint64_t declared = f->declared < 0 ? f->len : (uint64_t)f->declared;
	uint8_t *frame, *p, mask[4];
	int rc;

	if ((frame = malloc(14 + f->len)) == NULL)
		return -1;
	p = frame;
	*p++ = (uint8_t)((f->fin ? 0x80 : 0) | (f->rsv & 7) << 4 | (f->opcode & 15));
	if (declared < 126) {
		*p++ = (uint8_t)((f->masked ? 0x80 : 0) | declared);
	} else if (declared <= 0xFFFF) {
		*p++ = (uint8_t)((f->masked ? 0x80 : 0) | 126);
		*p++ = (uint8_t)(declared >> 8);
		*p++ = (uint8_t)declared;
	} else {
		*p++ = (uint8_t)((f->masked ? 0x80 : 0) | 127);
		for (int i = 7; i >= 0; i--)
			*p++ = (uint8_t)(declared >> (8 * i));
	}
	if (f->masked) {
		random_bytes(mask, sizeof(mask));
		memcpy(p, mask, 4);
		p += 4;
	}
	if (f->len > 0)
		memcpy(p, f->payload, f->len);
	if (f->masked)
		for (size_t i = 0; i < f->len; i++)
			p[i] ^= mask[i & 3];
	rc = send_all(ws->rd.fd, frame, (size_t)(p - frame) + f->len,
	    it_deadline(IT_SEND_MS));
	free(frame);
	return rc;
}

int
it_ws_send(struct it_ws *ws, int opcode, int fin, const void *payload,
    size_t len)
{
	struct it_frame_spec f = {
		.fin = fin,
		.opcode = opcode,
		.masked = 1,
		.declared = -1,
		.payload = payload,
		.len = len,
	};

	return it_ws_send_frame(ws, &f);
}

int
it_ws_send_text(struct it_ws *ws, const char *text)
{
	return it_ws_send(ws, IT_OP_TEXT, 1, text, strlen(text));
}

int
it_ws_send_raw(struct it_ws *ws, const void *p, size_t len)
{
	return send_all(ws->rd.fd, p, len, it_deadline(IT_SEND_MS));
}

/* Parses one frame from p[0..avail). 1 with *f and *used filled, 0 if
 * more bytes are needed, -1 if the frame is too large to accept. */
int
it_frame_parse(const uint8_t *p, size_t avail, struct it_frame *f, size_t *used)
{
	size_t h = 2;
	uint64_t len;
	uint8_t mask[4] = { 0 };

	if (avail < 2)
		return 0;
	len = p[1] & 0x7F;
	if (len == 126) {
		if (avail < 4)
			return 0;
		len = (uint64_t)p[2] << 8 | p[3];
		h = 4;
	} else if (len == 127) {
		if (avail < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		h = 10;
	}
	if (len > IT_FRAME_MAX)
		return -1;
	if (p[1] & 0x80) {
		if (avail < h + 4)
			return 0;
		memcpy(mask, p + h, 4);
		h += 4;
	}
	if (avail - h < len)
		return 0;
	if ((f->payload = malloc((size_t)len + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < len; i++)
		f->payload[i] = p[h + i] ^ mask[i & 3];
	f->payload[len] = '\0';
	f->len = (size_t)len;
	f->fin = (p[0] & 0x80) != 0;
	f->rsv = (p[0] >> 4) & 7;
	f->opcode = p[0] & 15;
	f->masked = (p[1] & 0x80) != 0;
	*used = h + (size_t)len;
	return 1;
}

static enum it_recv
recv_frame(struct it_ws *ws, struct it_frame *frame, int64_t deadline)
{
	memset(frame, 0, sizeof(*frame));
	for (;;) {
		size_t used;
		ssize_t n;
		int r = it_frame_parse(rd_data(&ws->rd), rd_avail(&ws->rd), frame, &used);

		if (r == 1) {
			ws->rd.off += used;
			return IT_FRAME;
		}
		if (r == -1)
			return IT_ERROR;
		if ((n = rd_fill(&ws->rd, deadline)) == 0)
			return IT_CLOSED;
		if (n == -1) {
			if (errno == ETIMEDOUT)
				return IT_TIMEOUT;
			return errno == ECONNRESET ? IT_CLOSED : IT_ERROR;
		}
	}
}

enum it_recv
it_ws_recv(struct it_ws *ws, struct it_frame *frame, int timeout_ms)
{
	return recv_frame(ws, frame, it_deadline(timeout_ms));
}

void
it_frame_free(struct it_frame *f)
{
	free(f->payload);
	f->payload = NULL;
	f->len = 0;
}

int
it_frame_close_code(const struct it_frame *f, const char **reason)
{
	if (reason != NULL)
		*reason = f->len > 2 ? (const char *)f->payload + 2 : "";
	if (f->len == 0)
		return 0;
	if (f->len == 1)
		return -1;
	return f->payload[0] << 8 | f->payload[1];
}

/* Reads data frames until match(frame, arg) holds, skipping the rest.
 * 0 with the match in *out (or freed if out is NULL), -1 on a control
 * frame, a close, an error or the deadline. */
static int
recv_matching(struct it_ws *ws, int (*match)(const struct it_frame *, const void *),
    const void *arg, struct it_frame *out, int64_t deadline)
{
	struct it_frame f;

	while (recv_frame(ws, &f, deadline) == IT_FRAME) {
		if (f.opcode >= 0x8) {
			it_frame_free(&f);
			return -1;
		}
		if (match(&f, arg)) {
			if (out != NULL)
				*out = f;
			else
				it_frame_free(&f);
			return 0;
		}
		it_frame_free(&f);
	}
	return -1;
}

struct suffix {
	int op;
	const void *s;
	size_t len;
};

static int
match_suffix(const struct it_frame *f, const void *arg)
{
	const struct suffix *x = arg;

	return f->opcode == x->op && f->len >= x->len &&
	    memcmp(f->payload + f->len - x->len, x->s, x->len) == 0;
}

int
it_ws_expect_suffix(struct it_ws *ws, int op, const void *suffix, size_t slen,
    struct it_frame *frame, int timeout_ms)
{
	struct suffix x = { op, suffix, slen };

	return recv_matching(ws, match_suffix, &x, frame, it_deadline(timeout_ms));
}

/* A relay of text: "<6 lowercase hex> - text", exactly. */
static int
match_relay(const struct it_frame *f, const void *arg)
{
	const char *text = arg;
	size_t n = strlen(text);

	if (f->opcode != IT_OP_TEXT || f->len != 9 + n ||
	    memcmp(f->payload + 6, " - ", 3) != 0 ||
	    memcmp(f->payload + 9, text, n) != 0)
		return 0;
	for (int i = 0; i < 6; i++)
		if (!isdigit(f->payload[i]) && !(f->payload[i] >= 'a' && f->payload[i] <= 'f'))
			return 0;
	return 1;
}

int
it_ws_send_wait(struct it_ws *from, const char *text, struct it_ws *to,
    char *cid, int timeout_ms)
{
	struct it_frame f;

	if (it_ws_send_text(from, text) == -1 ||
	    recv_matching(to, match_relay, text, &f, it_deadline(timeout_ms)) == -1)
		return -1;
	if (cid != NULL) {
		memcpy(cid, f.payload, 6);
		cid[6] = '\0';
	}
	it_frame_free(&f);
	return 0;
}

/* Reads to a close frame, checks it, optionally answers it, then reads
 * to EOF. 0 if everything matched. */
static int
wait_close(struct it_ws *ws, int code, const char *reason, int answer,
    int64_t deadline)
{
	struct it_frame f;
	enum it_recv r;
	const char *why;
	int ok, got;

	while ((r = recv_frame(ws, &f, deadline)) == IT_FRAME && f.opcode != IT_OP_CLOSE)
		it_frame_free(&f);
	if (r != IT_FRAME)
		return -1;
	got = it_frame_close_code(&f, &why);
	ok = got == code && (reason == NULL || strcmp(why, reason) == 0) &&
	    !f.masked && f.fin;
	if (answer) {
		uint8_t reply[2] = { (uint8_t)(got >> 8), (uint8_t)got };
		/* The server may already be gone; its EOF is what we check. */
		it_ws_send(ws, IT_OP_CLOSE, 1, reply, got > 0 ? 2 : 0);
	}
	it_frame_free(&f);
	/* Nothing may follow the close frame but the end of the stream. */
	if ((r = recv_frame(ws, &f, deadline)) == IT_FRAME)
		it_frame_free(&f);
	return ok && r == IT_CLOSED ? 0 : -1;
}

int
it_ws_expect_close(struct it_ws *ws, int expected_code, int timeout_ms)
{
	return wait_close(ws, expected_code, NULL, 1, it_deadline(timeout_ms));
}

int
it_ws_expect_close_reason(struct it_ws *ws, int expected_code,
    const char *reason, int timeout_ms)
{
	return wait_close(ws, expected_code, reason, 1, it_deadline(timeout_ms));
}

int
it_ws_close(struct it_ws *ws)
{
	static const uint8_t normal[2] = { 0x03, 0xE8 };
	int rc = -1;

	if (it_ws_send(ws, IT_OP_CLOSE, 1, normal, 2) == 0)
		rc = wait_close(ws, 1000, NULL, 0, it_deadline(IT_TIMEOUT_MS));
	it_ws_free(ws);
	return rc;
}

void
it_ws_free(struct it_ws *ws)
{
	if (ws == NULL)
		return;
	if (ws->rd.fd != -1)
		close(ws->rd.fd);
	buf_free(&ws->rd.in);
	free(ws);
}

int
it_ws_fd(const struct it_ws *ws)
{
	return ws->rd.fd;
}

/* ---- the groupchat binary -------------------------------------------- */

struct it_proc {
	pid_t pid;
	int pidfd;
	/* Files (memfd) the child writes its stdout and stderr into: a file
	 * never blocks the writer, however long a test leaves it unread (a
	 * pipe did, once a chatty node filled it). */
	int out, err;
	struct buf ob, eb;
	int reaped;
	int status;
};

int
it_server_binary(char *out, size_t outlen)
{
	const char *env = getenv("GROUPCHAT_BIN");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env != NULL && *env != '\0') {
		if (strlen(env) >= outlen)
			return -1;
		strcpy(out, env);
		return 0;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return -1;
	self[n] = '\0';
	/* build/<variant>/test/<binary> -> build/<variant> */
	for (int i = 0; i < 2; i++) {
		if ((slash = strrchr(self, '/')) == NULL)
			return -1;
		*slash = '\0';
	}
	if ((size_t)snprintf(out, outlen, "%s/groupchat", self) >= outlen)
		return -1;
	return 0;
}

/* environ without GROUPCHAT_* plus extra; a malloc'd vector of borrowed
 * strings. */
static char **
child_env(const char *const *extra)
{
	size_t n = 0, k = 0, x = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	while (extra != NULL && extra[x] != NULL)
		x++;
	if ((env = calloc(n + x + 1, sizeof(*env))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "GROUPCHAT_", 10) != 0)
			env[k++] = environ[i];
	for (size_t i = 0; i < x; i++)
		env[k++] = (char *)extra[i];
	return env;
}

struct it_proc *
it_proc_spawn(const char *const *args, const char *const *env)
{
	struct it_proc *p;
	char bin[PATH_MAX], **argv = NULL, **envp = NULL;
	int devnull = -1, e;
	size_t na = 0;
	pid_t parent = getpid();

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->pid = -1;
	p->pidfd = p->out = p->err = -1;
	buf_init(&p->ob, 0);
	buf_init(&p->eb, 0);
	if (it_server_binary(bin, sizeof(bin)) == -1) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (access(bin, X_OK) == -1) {
		fprintf(stderr, "it_proc_spawn: %s: %s\n", bin, strerror(errno));
		goto fail;
	}
	while (args[na] != NULL)
		na++;
	if ((argv = calloc(na + 2, sizeof(*argv))) == NULL ||
	    (envp = child_env(env)) == NULL)
		goto fail;
	argv[0] = bin;
	for (size_t i = 0; i < na; i++)
		argv[i + 1] = (char *)args[i];
	if ((p->out = it_output_file("it-stdout")) == -1 ||
	    (p->err = it_output_file("it-stderr")) == -1 ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if ((p->pid = fork()) == -1)
		goto fail;
	if (p->pid == 0) {
		sigset_t none;
		/* A test that fails mid-way exits; its server must die too. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(devnull, 0) == -1 || dup2(p->out, 1) == -1 || dup2(p->err, 2) == -1)
			_exit(127);
		execve(bin, argv, envp);
		_exit(127);
	}
	close(devnull);
	free(argv);
	free(envp);
	if ((p->pidfd = pidfd_open(p->pid, 0)) == -1) {
		it_proc_free(p);
		return NULL;
	}
	return p;
fail:
	e = errno;
	if (p->out != -1)
		close(p->out);
	if (p->err != -1)
		close(p->err);
	if (devnull != -1)
		close(devnull);
	free(argv);
	free(envp);
	buf_free(&p->ob);
	buf_free(&p->eb);
	free(p);
	errno = e;
	return NULL;
}

pid_t
it_proc_pid(const struct it_proc *p)
{
	return p->pid;
}

int
it_output_file(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC), e;

	if (fd != -1 && fcntl(fd, F_SETFL, O_APPEND) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Appends what the child wrote to one file since the last call. */
static void
file_read(int fd, struct buf *b)
{
	char chunk[4096];
	ssize_t n;

	while ((n = pread(fd, chunk, sizeof(chunk), (off_t)b->len)) > 0)
		/* Keep a NUL after the text so that it reads as a string. */
		if (buf_append(b, chunk, (size_t)n) == 0 && buf_append(b, "", 1) == 0)
			b->len--;
		else
			break;
}

/* Collects what the child wrote so far. */
static void
proc_collect(struct it_proc *p)
{
	file_read(p->out, &p->ob);
	file_read(p->err, &p->eb);
}

/* Waits for the child's exit until deadline, at most 10 ms (output to a
 * file wakes no one), then collects what it wrote. 1 if the child has
 * exited, 0 if not (yet). */
static int
proc_pump(struct it_proc *p, int64_t deadline)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
	int left = it_left_ms(deadline), exited;

	exited = poll(&pfd, 1, left < 10 ? left : 10) == 1;
	proc_collect(p);
	return exited;
}

static const char *
buf_str(const struct buf *b)
{
	return b->data != NULL ? (const char *)b->data : "";
}

/* The port of the first whole "start" line on stderr, or -1. */
static int
start_port(const struct it_proc *p)
{
	const char *line = buf_str(&p->eb), *end, *port;

	for (; (end = strchr(line, '\n')) != NULL; line = end + 1) {
		char *l = dup_range(line, (size_t)(end - line));
		int v = -1;
		if (l != NULL && strstr(l, " start ") != NULL &&
		    (port = strstr(l, " port=")) != NULL)
			v = atoi(port + 6);
		free(l);
		if (v > 0)
			return v;
	}
	return -1;
}

int
it_proc_port(struct it_proc *p, int timeout_ms)
{
	int64_t deadline = it_deadline(timeout_ms);
	int port, exited = 0;

	while ((port = start_port(p)) == -1 && !exited && it_left_ms(deadline) > 0)
		exited = proc_pump(p, deadline);
	return port;
}

int
it_proc_wait(struct it_proc *p, int timeout_ms, int *status)
{
	int64_t deadline = it_deadline(timeout_ms);

	if (!p->reaped) {
		while (!proc_pump(p, deadline))
			if (it_left_ms(deadline) == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
		if (waitpid(p->pid, &p->status, 0) == -1)
			return -1;
		p->reaped = 1;
	}
	*status = p->status;
	return 0;
}

const char *
it_proc_stdout(struct it_proc *p)
{
	proc_collect(p);
	return buf_str(&p->ob);
}

const char *
it_proc_stderr(struct it_proc *p)
{
	proc_collect(p);
	return buf_str(&p->eb);
}

void
it_proc_free(struct it_proc *p)
{
	if (p->pid > 0 && !p->reaped) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &p->status, 0);
	}
	if (p->pidfd != -1)
		close(p->pidfd);
	if (p->out != -1)
		close(p->out);
	if (p->err != -1)
		close(p->err);
	buf_free(&p->ob);
	buf_free(&p->eb);
	free(p);
}

int
it_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}
