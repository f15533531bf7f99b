/*
 * itest_ws_extra: what the WebSocket integration tests (it_ws_*.c) need
 * beyond itest.h: group set-up by id, /stats figures, waits on server
 * state through /stats, and raw sockets below the WebSocket client (a
 * connection with a tiny receive buffer that never reads, an abortive
 * close, reading a refused connection to its end).
 *
 * Like itest, nothing here sleeps or asserts: waits take a timeout in
 * milliseconds, and calls return values for the test to judge.
 */
#ifndef GROUPCHAT_ITEST_WS_EXTRA_H
#define GROUPCHAT_ITEST_WS_EXTRA_H

#include <stddef.h>

#include "itest.h"

/* ---- groups by id ---------------------------------------------------- */

/* POST /create?id=<id percent-encoded>. The HTTP status, or -1. */
int itx_create(int port, const char *id);

/* DELETE /groups/<id percent-encoded>. The HTTP status, or -1; the body
 * is copied into body (bodylen bytes with the NUL) if body is not NULL. */
int itx_delete(int port, const char *id, char *body, size_t bodylen);

/* "/groups/<id percent-encoded>", malloc'd. */
char *itx_group_path(const char *id);

/* it_ws_connect to the group id with no extra headers. NULL on failure,
 * with the HTTP status (or -1) in *status if status is not NULL. */
struct it_ws *itx_join(int port, const char *id, int *status);

/* ---- /stats ---------------------------------------------------------- */

/* The number after "name": in the "totals" object of GET /stats. 0 with
 * *out set, or -1. */
int itx_stats_total(int port, const char *name, long long *out);

/* The entry of group id (plain ASCII, no escaping needed) in GET /stats:
 * 1 with *members and *running (0 or 1) set, 0 if the group is not
 * listed, -1 on error. Either pointer may be NULL. */
int itx_stats_group(int port, const char *id, long long *members,
                    int *running);

/* Polls itx_stats_total until it equals want or timeout_ms pass. 0 when
 * reached; -1 otherwise, with the last value seen in *last if last is
 * not NULL. */
int itx_wait_total(int port, const char *name, long long want,
                   int timeout_ms, long long *last);

/* Polls itx_stats_group until the group's running flag is want (0 or 1)
 * or timeout_ms pass; a group not listed (/stats lists only groups with
 * members) counts as not running. 0 when reached, -1 otherwise. */
int itx_wait_running(int port, const char *id, int want, int timeout_ms);

/* ---- raw sockets ----------------------------------------------------- */

/* Makes the coming close(fd) (or it_ws_free) send a RST instead of a FIN:
 * SO_LINGER with a zero timeout. */
void itx_rst_on_close(int fd);

/* Reads fd until EOF or reset, storing the first outlen - 1 bytes in out
 * (NUL-terminated) if out is not NULL. The bytes read in all, or -1 if
 * timeout_ms pass first. */
long itx_read_to_eof(int fd, char *out, size_t outlen, int timeout_ms);

/* A WebSocket reader on a raw fd, for connections made below it_ws. */
struct itx_raw {
	int fd;
	unsigned char *buf;  /* unread bytes: buf[off..len) */
	size_t off, len, cap;
};

/* Connects with SO_RCVBUF set to rcvbuf before connect (so the window
 * stays small) and performs the WebSocket handshake to path, reading the
 * reply byte by byte so that no frame byte is consumed. 0 with *r ready,
 * or -1 (no 101, a wrong Sec-WebSocket-Accept, a socket error). */
int itx_raw_connect(struct itx_raw *r, int port, const char *path, int rcvbuf);

/* Reads the next frame as it_ws_recv does. */
enum it_recv itx_raw_recv(struct itx_raw *r, struct it_frame *f, int timeout_ms);

/* Closes the socket (if open) and frees the buffer. */
void itx_raw_free(struct itx_raw *r);

/* ---- the process ----------------------------------------------------- */

/* The value of field (such as "VmSize" or "VmRSS") in /proc/self/status, in
 * KiB: the in-process server's memory as the kernel counts it. -1 if it
 * cannot be read. */
long itx_status_kib(const char *field);

/* ---- variants -------------------------------------------------------- */

/* 1 when built with a sanitizer (ASan or TSan), which slows the server a
 * few times: loop counts are scaled down with it. */
int itx_sanitized(void);

#endif
