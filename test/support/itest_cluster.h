/*
 * itest_cluster: what the black-box cluster tests (it_cluster_*.c) need:
 * groupchat nodes as child processes of this variant's binary, started
 * with --redis against a redis_fixture, and a set of WebSocket members
 * ("peers") spread over the nodes whose every received frame is recorded,
 * so a test can compare what each member saw, message by message.
 *
 * Nothing here sleeps: waits poll sockets or processes until a condition
 * holds or a deadline passes. Calls named cl_node_* and cl_up fail the
 * test (ck_assert) when a process cannot be set up, and cl_expect_round
 * when a round breaks the rule; the rest return values for the test to
 * judge.
 *
 * Who touches what: only the test process's one thread, in the forked
 * child Check runs each test in.
 */
#ifndef GROUPCHAT_ITEST_CLUSTER_H
#define GROUPCHAT_ITEST_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "itest.h"

/* ---- nodes ----------------------------------------------------------- */

/* --max-clients of every node: CivetWeb starts a worker per slot up
 * front, slow under TSan for the default 1000. */
#define CL_MAX_CLIENTS "24"

struct cl_node {
	struct it_proc *p; /* NULL once stopped */
	int port;
};

/* "redis://[:password@]127.0.0.1:rport" into out. */
void cl_url(char *out, size_t n, int rport, const char *password);

/* Starts a node: --listen 127.0.0.1 --port 0 --max-clients CL_MAX_CLIENTS
 * --log-level info (the start line is an info line) --redis url (no
 * --redis when url is NULL), with env
 * ("NAME=value", NULL-terminated, or NULL). Waits for its start line and
 * fails the test if none comes. */
void cl_node_start(struct cl_node *n, const char *url, const char *const *env);

/* SIGTERM; fails the test unless the node exits 0 within
 * IT_TIMEOUT_MS. Its output stays readable through n->p. */
void cl_node_term(struct cl_node *n);

/* SIGKILL and reap; n->p stays readable. */
void cl_node_kill(struct cl_node *n);

/* For a failure message: stops the node (SIGTERM, then whatever it
 * takes) and returns the last 2,000 bytes of its log. */
const char *cl_node_log_tail(struct cl_node *n);

/* Frees the process (killing it if it still runs). NULL p: no-op. */
void cl_node_free(struct cl_node *n);

/* GET /healthz: the status, or -1; the body into body (n bytes with the
 * NUL) if body is not NULL. */
int cl_healthz(int port, char *body, size_t n);

/* Polls /healthz until it answers want or timeout_ms pass. 0 or -1. */
int cl_wait_healthz(int port, int want, int timeout_ms);

/* Sends "method target" with Connection: close on a new connection and
 * returns the socket without reading, so that several requests can be in
 * flight at once. -1 on failure. */
int cl_send_request(int port, const char *method, const char *target);

/* Reads the response on fd to EOF and closes fd: the status, or -1; the
 * body into body (n bytes with the NUL) if body is not NULL. */
int cl_read_status(int fd, char *body, size_t n, int timeout_ms);

/* ---- peers: members whose frames are recorded ----------------------- */

struct cl_peer {
	struct it_ws *ws;      /* NULL once closed by us or the server */
	int node;              /* index of the node it joined through */
	char cid[7];           /* learnt by cl_peers_hello; "" before */
	char **got;            /* payloads of data frames, in arrival order */
	size_t ngot, cap;
	int close_code;        /* 0 while open, -1 EOF without a close frame */
	char close_reason[64];
	int64_t closed_at;     /* it_now_ms when the close was seen */
	int after_close;       /* data frames that came after the close frame */
};

/* Joins group id through port as peer p (zeroed first). The HTTP status
 * of a refused join, or 101. */
int cl_peer_join(struct cl_peer *p, int port, const char *id, int node);

/* Reads every frame that arrives on any open peer until done(arg) holds
 * or timeout_ms pass: data frames are recorded, a close frame is
 * answered and recorded (code, reason, time), and the connection read to
 * its end (up to IT_TIMEOUT_MS), counting data frames after the close;
 * pings are ignored. 1 if done
 * held, 0 on timeout. done may be NULL (then it reads for timeout_ms
 * and returns 0). */
int cl_pump(struct cl_peer *ps, size_t n, int (*done)(void *), void *arg,
            int timeout_ms);

/* Each open peer sends "hello-<i>"; pumps until every open peer has all
 * of them, takes each peer's cid from its own echo and forgets what was
 * recorded. 0, or -1 if the hellos did not all arrive within timeout_ms. */
int cl_peers_hello(struct cl_peer *ps, size_t n, int timeout_ms);

/* Index of the first recorded payload ending in " - body", or -1. */
long cl_peer_find(const struct cl_peer *p, const char *body);

/* n peers from ps, as the arg of a cl_pump done() predicate. */
struct cl_peers {
	struct cl_peer *ps;
	size_t n;
};

/* cl_pump's done() for a struct cl_peers: whether every peer was closed
 * (a close frame or EOF). */
int cl_all_closed(void *peers);

/* Closes (without a close frame) and frees the peer's buffers. */
void cl_peer_free(struct cl_peer *p);

/* ---- conversations: numbered messages and the no-silent-gap rule -- */

/* Each open peer i sends the text "m-<i>-<k>", k = sent[i]++. */
void cl_send_round(struct cl_peer *ps, size_t n, int *sent);

/* Pumps until every open peer has received the last message of every
 * open sender (sent[j] > 0), or timeout_ms pass. 1 or 0. */
int cl_wait_round(struct cl_peer *ps, size_t n, const int *sent, int timeout_ms);

/* After a cl_wait_round that failed: which open peer lacks which last
 * message, and every peer's state, as a malloc'd text. */
char *cl_round_missing(const struct cl_peer *ps, size_t n, const int *sent);

/*
 * The rule of protocol.md's cluster guarantees, checked message by
 * message over what the peers recorded since cl_peers_hello (every body
 * must be "m-<i>-<k>" from peer i's cid):
 * - no peer received a message twice, and each sender's messages arrive
 *   in the order sent;
 * - the longest sequence is the reference: every peer's sequence is a
 *   prefix of it (one total order, no hole); a peer still open holds all
 *   of it;
 * - a sender still open had every message it sent (sent[i]) relayed.
 * Peers closed for any reason are held to the prefix only; the caller
 * checks their close codes. NULL when the rule holds, else a malloc'd
 * description of the first breach.
 */
char *cl_check_no_gap(const struct cl_peer *ps, size_t n, const int *sent);

/* cl_wait_round, then cl_check_no_gap: fails the test if the round does
 * not arrive within timeout_ms (naming what cl_round_missing finds) or
 * the rule is broken (naming the breach), the message starting with the
 * printf-style context fmt. */
void cl_expect_round(struct cl_peer *ps, size_t n, const int *sent,
                     int timeout_ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- Redis state ----------------------------------------------------- */

/* "EXISTS gc:cid:<cid>" on the fixture's Redis: 1, 0, or -1. */
struct redis_fixture;
int cl_cid_claimed(struct redis_fixture *rf, const char *cid);

/* Polls cl_cid_claimed until it answers 0 or timeout_ms pass. 0 or -1. */
int cl_wait_unclaimed(struct redis_fixture *rf, const char *cid, int timeout_ms);

/* ---- a whole cluster ------------------------------------------------- */

#define CL_MAX_NODES 3

struct cl_cluster {
	struct redis_fixture *rf;
	char url[160];
	struct cl_node node[CL_MAX_NODES];
	int n;
};

/* Starts Redis (password NULL: none) and n nodes pointed at it (the
 * password in the URL), then waits until every /healthz answers 200.
 * Fails the test on any error. */
void cl_up(struct cl_cluster *c, int n, const char *password);

/* cl_up with the nodes' extra environment env ("NAME=value" strings, NULL
 * last). */
void cl_up_env(struct cl_cluster *c, int n, const char *password,
               const char *const *env);

/* cl_up_env with redis-server started with the extra settings redis_args
 * (NULL-terminated, as rf_start_args takes them; NULL: none). */
void cl_up_redis(struct cl_cluster *c, int n, const char *password,
                 const char *const *env, const char *const *redis_args);

/* Kills every node still running and Redis. */
void cl_down(struct cl_cluster *c);

/* Waits (3 x IT_TIMEOUT_MS at most) until node's /healthz answers 200;
 * fails the test otherwise, naming why, the node and its last answer. */
void cl_expect_up(struct cl_cluster *c, int node, const char *why);

#endif
