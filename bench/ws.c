/*
 * ws.c: the client side of RFC 6455 as far as the generator needs it. It
 * writes the upgrade request and checks the answer (status 101, Upgrade:
 * websocket, the Sec-WebSocket-Accept derived from our key), masks every
 * frame it builds, and parses server frames strictly: a server frame that is
 * masked, sets reserved bits or breaks control-frame rules is an error, since
 * a benchmark that tolerated a broken stream would count garbage.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bench.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void
bench_ws_accept(const char key[BENCH_WS_KEY_LEN + 1],
    char accept[BENCH_WS_ACCEPT_LEN + 1])
{
	char both[BENCH_WS_KEY_LEN + sizeof(ws_guid)];
	uint8_t digest[20];

	memcpy(both, key, BENCH_WS_KEY_LEN);
	memcpy(both + BENCH_WS_KEY_LEN, ws_guid, sizeof(ws_guid) - 1);
	bench_sha1(both, BENCH_WS_KEY_LEN + sizeof(ws_guid) - 1, digest);
	bench_base64(digest, sizeof(digest), accept);
}

int
bench_ws_request(char *buf, size_t cap, const char *host, int port,
    const char *path, const char *key)
{
	int n;

	n = snprintf(buf, cap,
	    "GET %s HTTP/1.1\r\n"
	    "Host: %s:%d\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "\r\n", path, host, port, key);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

/* Returns the value of header name within head (len bytes, the head's lines
 * after the status line), trimmed, or NULL; *vlen gets its length. */
static const char *
ws_header(const char *head, size_t len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *p = head, *end = head + len, *eol, *v;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			v = p + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v);
			while (*vlen > 0 && (v[*vlen - 1] == '\r' ||
			    v[*vlen - 1] == ' ' || v[*vlen - 1] == '\t'))
				(*vlen)--;
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

int
bench_ws_response(const char *buf, size_t len, const char *accept,
    int *status)
{
	const char *end, *line, *v;
	size_t vlen, headlen;

	end = memmem(buf, len, "\r\n\r\n", 4);
	if (end == NULL)
		return 0;
	headlen = (size_t)(end - buf) + 4;
	if (headlen < 13 || memcmp(buf, "HTTP/1.1 ", 9) != 0)
		return -1;
	*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (*status != 101)
		return -1;
	line = memchr(buf, '\n', headlen);
	if (line == NULL)
		return -1;
	line++;
	v = ws_header(line, (size_t)(end - line), "Upgrade", &vlen);
	if (v == NULL || vlen != 9 || strncasecmp(v, "websocket", 9) != 0)
		return -1;
	v = ws_header(line, (size_t)(end - line), "Sec-WebSocket-Accept",
	    &vlen);
	if (v == NULL || vlen != BENCH_WS_ACCEPT_LEN ||
	    memcmp(v, accept, BENCH_WS_ACCEPT_LEN) != 0)
		return -1;
	return (int)headlen;
}

size_t
bench_ws_frame(uint8_t *out, int opcode, const void *payload, size_t len,
    uint32_t mask)
{
	const uint8_t *p = payload;
	uint8_t m[4];
	size_t h = 0, i;
	int k;

	out[h++] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		out[h++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		out[h++] = 0x80 | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = 0x80 | 127;
		for (k = 7; k >= 0; k--)
			out[h++] = (uint8_t)((uint64_t)len >> (8 * k));
	}
	for (k = 0; k < 4; k++)
		m[k] = (uint8_t)(mask >> (24 - 8 * k));
	memcpy(out + h, m, 4);
	h += 4;
	for (i = 0; i < len; i++)
		out[h + i] = p[i] ^ m[i & 3];
	return h + len;
}

long
bench_ws_parse(const uint8_t *buf, size_t len, size_t max,
    struct bench_ws_frame *f, size_t *need)
{
	uint64_t plen;
	size_t h;
	int i;

	*need = BENCH_WS_HEADER_MAX;
	if (len < 2)
		return 0;
	if ((buf[0] & 0x70) != 0 || (buf[1] & 0x80) != 0)
		return -1;
	f->fin = (buf[0] & 0x80) != 0;
	f->opcode = buf[0] & 0x0f;
	switch (f->opcode) {
	case BENCH_WS_CONT:
	case BENCH_WS_TEXT:
	case BENCH_WS_BINARY:
		break;
	case BENCH_WS_CLOSE:
	case BENCH_WS_PING:
	case BENCH_WS_PONG:
		if (!f->fin || (buf[1] & 0x7f) > 125)
			return -1;
		break;
	default:
		return -1;
	}
	plen = buf[1] & 0x7f;
	h = 2;
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = (uint64_t)buf[2] << 8 | buf[3];
		h = 4;
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		plen = 0;
		for (i = 0; i < 8; i++)
			plen = plen << 8 | buf[2 + i];
		h = 10;
	}
	if (plen > max)
		return -1;
	*need = h + (size_t)plen;
	if (len < *need)
		return 0;
	f->payload = buf + h;
	f->len = (size_t)plen;
	return (long)*need;
}
