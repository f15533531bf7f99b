/*
 * itest: what integration tests need to drive the real server. It starts
 * the server in-process on 127.0.0.1 with an ephemeral port, spawns the
 * groupchat binary, and speaks HTTP/1.1 and WebSocket to either over
 * loopback with raw sockets, so a test sees and controls every byte on
 * the wire.
 *
 * Nothing here sleeps: every call that waits takes a timeout in
 * milliseconds and waits in poll(2) on the socket, pipe or process it is
 * waiting for. Nothing here asserts either: calls return a value and the
 * test decides (ck_assert) what it must be.
 */
#ifndef GROUPCHAT_ITEST_H
#define GROUPCHAT_ITEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct config;

/* The wait a helper allows when the caller does not choose one. */
#define IT_TIMEOUT_MS 5000

/* ---- time ------------------------------------------------------------ */

/* CLOCK_MONOTONIC milliseconds. */
int64_t it_now_ms(void);

/* The absolute time (it_now_ms clock) timeout_ms from now. */
int64_t it_deadline(int timeout_ms);

/* Milliseconds left before deadline; 0 once it has passed. */
int it_left_ms(int64_t deadline);

/* Calls pred(arg) until it returns non-zero or timeout_ms pass, waiting a
 * millisecond or two on a private condition variable between calls. 1 if
 * pred became true, 0 on timeout. For state no fd can signal. */
int it_wait_until(int (*pred)(void *), void *arg, int timeout_ms);

/* ---- the server in-process ------------------------------------------- */

struct itest_server;

/* config_defaults, then what tests want: listen 127.0.0.1, port 0, log
 * level warn, and max_clients 64 (every member costs a CivetWeb worker,
 * which is a thread started up front, so the default 1000 would start
 * 1032 threads per test). */
void it_config(struct config *cfg);

/* Starts the server with *cfg, or it_config's settings when cfg is NULL,
 * and applies its log settings. NULL on failure, with the reason on
 * stderr. */
struct itest_server *it_server_start(const struct config *cfg);

/* The port it listens on. */
int it_server_port(const struct itest_server *s);

/* Stops the server (server_stop: joins every thread) and frees it. */
void it_server_stop(struct itest_server *s);

/* ---- raw HTTP -------------------------------------------------------- */

struct it_header {
	char *name;
	char *value;  /* leading and trailing blanks removed */
};

struct it_response {
	int status;
	char *reason;              /* the status line's reason phrase */
	struct it_header *headers; /* in arrival order, nheaders of them */
	size_t nheaders;
	char *body;                /* body_len bytes and a NUL; never NULL */
	size_t body_len;
	size_t trailing_len;       /* bytes that came after the framed body */
	int eof;                   /* 1 if the server closed the connection */
};

/* Connects to 127.0.0.1:port. The fd, or -1 with errno. */
int it_connect(int port);

/* Sends exactly len bytes of req on a new connection and reads one
 * response: the status line, headers, and a body framed by Content-Length
 * (none after HEAD or for 1xx, 204 and 304; up to EOF when no length is
 * given). If the request carries "Connection: close" it then reads to EOF
 * and counts anything past the body in trailing_len. Blocks at most
 * timeout_ms. 0 with *out filled (free it with it_response_free), or -1
 * with errno (ETIMEDOUT, ECONNREFUSED, EPROTO for a malformed response);
 * *out holds what was parsed even then. */
int it_http_raw(int port, const void *req, size_t len, struct it_response *out,
                int timeout_ms);

/* it_http_raw of the NUL-terminated raw_request. */
int it_http(int port, const char *raw_request, struct it_response *out,
            int timeout_ms);

/* Sends the NUL-terminated req on a new connection and reads every byte
 * until the server closes it (req should say Connection: close), waiting
 * at most timeout_ms. The bytes, malloc'd with a NUL after them and their
 * count in *len; or NULL with errno (ETIMEDOUT). */
char *it_http_wire(int port, const char *req, size_t *len, int timeout_ms);

/* "METHOD target HTTP/1.1" with Host and "Connection: close", through
 * it_http with IT_TIMEOUT_MS. */
int it_request(int port, const char *method, const char *target,
               struct it_response *out);

/* The value of the first header named name (case-insensitive), or NULL. */
const char *it_header(const struct it_response *r, const char *name);

/* How many headers are named name (case-insensitive). */
int it_header_count(const struct it_response *r, const char *name);

void it_response_free(struct it_response *r);

/* Percent-encodes every byte of s[0..len) but letters, digits, '-', '_'
 * and '~' ('.' too, so that "." and ".." stay one literal path segment).
 * malloc'd and NUL-terminated. */
char *it_pct_encode(const void *s, size_t len);

/* ---- raw WebSocket client -------------------------------------------- */

enum it_opcode {
	IT_OP_CONT = 0x0,
	IT_OP_TEXT = 0x1,
	IT_OP_BINARY = 0x2,
	IT_OP_CLOSE = 0x8,
	IT_OP_PING = 0x9,
	IT_OP_PONG = 0xA,
};

/* What it_ws_recv read. */
enum it_recv {
	IT_FRAME,   /* a whole frame is in *frame */
	IT_TIMEOUT, /* no whole frame within the timeout (bytes read so far
	               are kept for the next call) */
	IT_CLOSED,  /* the server closed the connection (FIN or RST) */
	IT_ERROR,   /* a socket error, or a frame no server may send */
};

struct it_frame {
	int fin;
	int rsv;                /* RSV1..3 as a 3-bit number */
	int opcode;
	int masked;             /* servers must not mask: tests assert 0 */
	unsigned char *payload; /* len bytes and a NUL; never NULL */
	size_t len;
};

/* A frame to send exactly as described, for bad-input tests. */
struct it_frame_spec {
	int fin;
	int rsv;                /* RSV1..3 as a 3-bit number */
	int opcode;             /* any 4-bit value */
	int masked;             /* 1: masked with a random key, as clients must */
	int64_t declared;       /* payload length to put in the header, -1: len */
	const void *payload;
	size_t len;             /* bytes actually sent after the header */
};

struct it_ws;

/* Opens a WebSocket to path (already percent-encoded) with a fresh random
 * Sec-WebSocket-Key, sending extra_headers (each line ending "\r\n", or
 * NULL) after the standard ones. Checks the 101 reply: Upgrade,
 * Connection and the Sec-WebSocket-Accept derived from the key. The
 * connection, or NULL; *status_out (if not NULL) gets the HTTP status,
 * or -1 when no response was read. */
struct it_ws *it_ws_connect(int port, const char *path,
                            const char *extra_headers, int *status_out);

/* it_ws_connect that also hands back the whole handshake response in
 * *resp, on success and on rejection; free it with it_response_free. */
struct it_ws *it_ws_connect_resp(int port, const char *path,
                                 const char *extra_headers,
                                 struct it_response *resp);

/* Sends one masked frame. 0, or -1 with errno (EPIPE, ECONNRESET, ...). */
int it_ws_send(struct it_ws *ws, int opcode, int fin, const void *payload,
               size_t len);

/* it_ws_send of a whole text message. */
int it_ws_send_text(struct it_ws *ws, const char *text);

/* Sends the frame *f as described, right or wrong. */
int it_ws_send_frame(struct it_ws *ws, const struct it_frame_spec *f);

/* Sends raw bytes on the connection. */
int it_ws_send_raw(struct it_ws *ws, const void *p, size_t len);

/* Reads the next frame, waiting at most timeout_ms. Free *frame with
 * it_frame_free after IT_FRAME. */
enum it_recv it_ws_recv(struct it_ws *ws, struct it_frame *frame,
                        int timeout_ms);

void it_frame_free(struct it_frame *f);

/* Parses one frame (masked or not) from avail bytes at p: 1 with *f filled
 * and *used set, 0 if more bytes are needed, -1 if it is over 64 MiB. */
int it_frame_parse(const uint8_t *p, size_t avail, struct it_frame *f, size_t *used);

/* A close frame's code (0 if its payload is empty, -1 if it is one byte),
 * and its reason (NUL-terminated) in *reason if reason is not NULL. */
int it_frame_close_code(const struct it_frame *f, const char **reason);

/* Reads data frames until one arrives whose opcode is op and payload ends
 * with the suffix (slen bytes), skipping others; fails on a control frame
 * or a close. 0 when found, -1 otherwise. The matching frame is stored in
 * *frame if frame is not NULL. */
int it_ws_expect_suffix(struct it_ws *ws, int op, const void *suffix,
                        size_t slen, struct it_frame *frame, int timeout_ms);

/* Sends text from one member and waits until member to receives the
 * relay "<cid> - text" as a text frame (earlier data frames on to are
 * skipped). On success the sender's cid is stored in cid (7 bytes) if it
 * is not NULL. 0 or -1. */
int it_ws_send_wait(struct it_ws *from, const char *text, struct it_ws *to,
                    char *cid, int timeout_ms);

/* Reads until a close frame (skipping data frames), answers it with the
 * same code as a client should, then reads until the server closes the
 * connection. 0 if the close frame carried expected_code and EOF followed
 * within timeout_ms; -1 otherwise. */
int it_ws_expect_close(struct it_ws *ws, int expected_code, int timeout_ms);

/* it_ws_expect_close that also requires the close reason to be reason. */
int it_ws_expect_close_reason(struct it_ws *ws, int expected_code,
                              const char *reason, int timeout_ms);

/* The client's polite close: sends close 1000, waits for the server's
 * close frame and EOF (IT_TIMEOUT_MS at most), then frees the connection.
 * 0 if the server answered with 1000 and closed. */
int it_ws_close(struct it_ws *ws);

/* Closes the socket without a close frame and frees the connection. */
void it_ws_free(struct it_ws *ws);

/* The socket, for tests that shut it down halfway or poll it. */
int it_ws_fd(const struct it_ws *ws);

/* ---- the groupchat binary -------------------------------------------- */

/* The server binary for this test binary's variant: $GROUPCHAT_BIN if
 * set, else build/<variant>/groupchat beside build/<variant>/test/<self>.
 * 0, or -1 if out is too small or /proc/self/exe cannot be read. */
int it_server_binary(char *out, size_t outlen);

/* A loopback TCP port nothing listens on right now (bound, read, closed),
 * or -1 if no socket could be had. */
int it_free_port(void);

struct it_proc;

/* A file (a memfd, close-on-exec) for a child's output, opened for
 * appending: a memfd is not opened by path, so the kernel does not
 * serialize its file position, and two threads of the child writing at
 * once could land on one offset, one line overwriting the other (a node's
 * start line was lost so). -1 with errno. */
int it_output_file(const char *name);

/* Runs the groupchat binary with args (NULL-terminated, without argv[0])
 * and the environment minus every GROUPCHAT_* variable plus env
 * ("NAME=value" strings, NULL-terminated, or NULL). stdin is /dev/null;
 * stdout and stderr are captured in files (a chatty child never blocks
 * on a full pipe). The child is killed if the test process dies. NULL
 * with errno on failure. */
struct it_proc *it_proc_spawn(const char *const *args, const char *const *env);

/* The child's pid, for kill(2). */
pid_t it_proc_pid(const struct it_proc *p);

/* Waits for the "start" log line on stderr and returns its port=N, or -1
 * if the child exits or timeout_ms pass first. */
int it_proc_port(struct it_proc *p, int timeout_ms);

/* Waits for the child to exit, collecting its output. 0 with the wait(2)
 * status in *status, or -1 (ETIMEDOUT) if it is still running. */
int it_proc_wait(struct it_proc *p, int timeout_ms, int *status);

/* What the child wrote so far, NUL-terminated. */
const char *it_proc_stdout(struct it_proc *p);
const char *it_proc_stderr(struct it_proc *p);

/* Kills the child if it still runs, reaps it, frees everything. */
void it_proc_free(struct it_proc *p);

#endif
