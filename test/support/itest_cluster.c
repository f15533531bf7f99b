/*
 * itest_cluster: nodes as processes and recorded peers (see
 * itest_cluster.h). A peer's frames are read with itest's client; cl_pump
 * drains what each client has buffered, then waits in poll(2) on every
 * open socket at once, so one thread follows many members without
 * sleeping.
 */
#include "itest_cluster.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_ws_extra.h"
#include "redis_fixture.h"

/* ---- nodes ----------------------------------------------------------- */

void
cl_url(char *out, size_t n, int rport, const char *password)
{
	if (password != NULL)
		snprintf(out, n, "redis://:%s@127.0.0.1:%d", password, rport);
	else
		snprintf(out, n, "redis://127.0.0.1:%d", rport);
}

void
cl_node_start(struct cl_node *n, const char *url, const char *const *env)
{
	const char *args[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", CL_MAX_CLIENTS, "--log-level", "info",
		url != NULL ? "--redis" : NULL, url, NULL };

	n->p = it_proc_spawn(args, env);
	ck_assert_msg(n->p != NULL, "cannot spawn the groupchat binary");
	/* A sanitized node starts slowly; twice the usual wait. */
	n->port = it_proc_port(n->p, 2 * IT_TIMEOUT_MS);
	if (n->port <= 0) {
		int status = 0;
		int gone = it_proc_wait(n->p, 0, &status) == 0;

		ck_abort_msg("node: no start line with a port (%s, status %#x); stderr: %s",
		    gone ? "exited" : "still running", status, it_proc_stderr(n->p));
	}
}

void
cl_node_term(struct cl_node *n)
{
	int status;

	ck_assert_int_eq(kill(it_proc_pid(n->p), SIGTERM), 0);
	ck_assert_msg(it_proc_wait(n->p, IT_TIMEOUT_MS, &status) == 0,
	    "node on port %d: no exit after SIGTERM", n->port);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "node on port %d: status %#x after SIGTERM; stderr: %s", n->port, status,
	    it_proc_stderr(n->p));
}

void
cl_node_kill(struct cl_node *n)
{
	int status;

	ck_assert_int_eq(kill(it_proc_pid(n->p), SIGKILL), 0);
	ck_assert_int_eq(it_proc_wait(n->p, IT_TIMEOUT_MS, &status), 0);
}

const char *
cl_node_log_tail(struct cl_node *n)
{
	const char *log;
	size_t len;
	int status;

	kill(it_proc_pid(n->p), SIGTERM);
	it_proc_wait(n->p, IT_TIMEOUT_MS, &status);
	log = it_proc_stderr(n->p);
	len = strlen(log);
	return len > 2000 ? log + len - 2000 : log;
}

void
cl_node_free(struct cl_node *n)
{
	if (n->p != NULL)
		it_proc_free(n->p);
	n->p = NULL;
}

int
cl_healthz(int port, char *body, size_t n)
{
	struct it_response r;
	int status = -1;

	if (it_request(port, "GET", "/healthz", &r) == 0)
		status = r.status;
	if (body != NULL)
		snprintf(body, n, "%s", r.body != NULL ? r.body : "");
	it_response_free(&r);
	return status;
}

struct health_want {
	int port, want;
};

static int
health_is(void *arg)
{
	struct health_want *h = arg;

	return cl_healthz(h->port, NULL, 0) == h->want;
}

int
cl_wait_healthz(int port, int want, int timeout_ms)
{
	struct health_want h = { port, want };

	return it_wait_until(health_is, &h, timeout_ms) ? 0 : -1;
}

int
cl_send_request(int port, const char *method, const char *target)
{
	char req[1024];
	int fd, len;

	len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n", method, target);
	if (len < 0 || (size_t)len >= sizeof(req) || (fd = it_connect(port)) == -1)
		return -1;
	if (write(fd, req, (size_t)len) != len) {
		close(fd);
		return -1;
	}
	return fd;
}

int
cl_read_status(int fd, char *body, size_t n, int timeout_ms)
{
	char resp[2048];
	const char *b;
	int status = -1;

	if (body != NULL && n > 0)
		body[0] = '\0';
	if (itx_read_to_eof(fd, resp, sizeof(resp), timeout_ms) > 0 &&
	    sscanf(resp, "HTTP/1.%*d %d", &status) == 1 && body != NULL &&
	    (b = strstr(resp, "\r\n\r\n")) != NULL)
		snprintf(body, n, "%s", b + 4);
	close(fd);
	return status;
}

/* ---- peers ----------------------------------------------------------- */

int
cl_peer_join(struct cl_peer *p, int port, const char *id, int node)
{
	int status = -1;

	memset(p, 0, sizeof(*p));
	p->node = node;
	p->ws = itx_join(port, id, &status);
	return p->ws != NULL ? 101 : status;
}

static void
record(struct cl_peer *p, const struct it_frame *f)
{
	if (p->ngot == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		char **g = realloc(p->got, cap * sizeof(*g));

		ck_assert_ptr_nonnull(g);
		p->got = g;
		p->cap = cap;
	}
	p->got[p->ngot] = malloc(f->len + 1);
	ck_assert_ptr_nonnull(p->got[p->ngot]);
	memcpy(p->got[p->ngot], f->payload, f->len + 1);
	p->ngot++;
}

static void
closed(struct cl_peer *p, int code, const char *reason)
{
	struct it_frame f;

	/* Whatever follows a close frame breaks the protocol: count it. */
	while (code > 0 && it_ws_recv(p->ws, &f, IT_TIMEOUT_MS) == IT_FRAME) {
		if (f.opcode == IT_OP_TEXT || f.opcode == IT_OP_BINARY)
			p->after_close++;
		it_frame_free(&f);
	}
	p->close_code = code;
	snprintf(p->close_reason, sizeof(p->close_reason), "%s", reason);
	p->closed_at = it_now_ms();
	it_ws_free(p->ws);
	p->ws = NULL;
}

/* Takes every whole frame p's client holds or can read at once. */
static void
drain(struct cl_peer *p)
{
	struct it_frame f;

	while (p->ws != NULL) {
		enum it_recv r = it_ws_recv(p->ws, &f, 0);
		const char *reason;
		int code;

		if (r == IT_TIMEOUT)
			return;
		if (r != IT_FRAME) {
			closed(p, -1, r == IT_CLOSED ? "EOF" : "error");
			return;
		}
		if (f.opcode == IT_OP_TEXT || f.opcode == IT_OP_BINARY) {
			record(p, &f);
		} else if (f.opcode == IT_OP_CLOSE) {
			unsigned char echo[2] = { f.payload[0], f.len >= 2 ? f.payload[1] : 0 };
			code = it_frame_close_code(&f, &reason);
			it_ws_send(p->ws, IT_OP_CLOSE, 1, echo, f.len >= 2 ? 2 : 0);
			closed(p, code, reason);
		}
		it_frame_free(&f);
	}
}

int
cl_pump(struct cl_peer *ps, size_t n, int (*done)(void *), void *arg, int timeout_ms)
{
	int64_t deadline = it_deadline(timeout_ms);
	struct pollfd *pfd = calloc(n ? n : 1, sizeof(*pfd));

	ck_assert_ptr_nonnull(pfd);
	for (;;) {
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			drain(&ps[i]);
		if (done != NULL && done(arg)) {
			free(pfd);
			return 1;
		}
		for (size_t i = 0; i < n; i++)
			if (ps[i].ws != NULL)
				pfd[k++] = (struct pollfd){ .fd = it_ws_fd(ps[i].ws),
				    .events = POLLIN };
		if (it_left_ms(deadline) == 0 || k == 0) {
			free(pfd);
			return done != NULL && done(arg);
		}
		poll(pfd, k, it_left_ms(deadline));
	}
}

/* Forgets what p recorded. */
static void
cl_peer_forget(struct cl_peer *p)
{
	for (size_t i = 0; i < p->ngot; i++)
		free(p->got[i]);
	p->ngot = 0;
}

long
cl_peer_find(const struct cl_peer *p, const char *body)
{
	size_t bl = strlen(body);

	for (size_t i = 0; i < p->ngot; i++) {
		size_t l = strlen(p->got[i]);
		if (l >= bl + 3 && memcmp(p->got[i] + l - bl - 3, " - ", 3) == 0 &&
		    memcmp(p->got[i] + l - bl, body, bl) == 0)
			return (long)i;
	}
	return -1;
}

int
cl_all_closed(void *peers)
{
	struct cl_peers *a = peers;

	for (size_t i = 0; i < a->n; i++)
		if (a->ps[i].close_code == 0)
			return 0;
	return 1;
}

static int
all_hellos(void *arg)
{
	struct cl_peers *h = arg;
	char body[48];

	for (size_t i = 0; i < h->n; i++) {
		if (h->ps[i].ws == NULL)
			continue;
		for (size_t j = 0; j < h->n; j++) {
			snprintf(body, sizeof(body), "hello-%zu", j);
			if (h->ps[j].ws != NULL && cl_peer_find(&h->ps[i], body) < 0)
				return 0;
		}
	}
	return 1;
}

int
cl_peers_hello(struct cl_peer *ps, size_t n, int timeout_ms)
{
	struct cl_peers h = { ps, n };
	char body[48];

	for (size_t i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "hello-%zu", i);
		if (ps[i].ws != NULL)
			it_ws_send_text(ps[i].ws, body);
	}
	if (!cl_pump(ps, n, all_hellos, &h, timeout_ms))
		return -1;
	for (size_t i = 0; i < n; i++) {
		long at;
		snprintf(body, sizeof(body), "hello-%zu", i);
		if ((at = cl_peer_find(&ps[i], body)) >= 0)
			snprintf(ps[i].cid, sizeof(ps[i].cid), "%.6s", ps[i].got[at]);
		cl_peer_forget(&ps[i]);
	}
	return 0;
}

void
cl_peer_free(struct cl_peer *p)
{
	cl_peer_forget(p);
	free(p->got);
	if (p->ws != NULL)
		it_ws_free(p->ws);
	memset(p, 0, sizeof(*p));
}

int
cl_cid_claimed(struct redis_fixture *rf, const char *cid)
{
	char cmd[64], reply[64];

	snprintf(cmd, sizeof(cmd), "EXISTS gc:cid:%s", cid);
	if (rf_command(rf, cmd, reply, sizeof(reply)) == -1)
		return -1;
	if (strcmp(reply, ":1") == 0)
		return 1;
	return strcmp(reply, ":0") == 0 ? 0 : -1;
}

struct claim {
	struct redis_fixture *rf;
	const char *cid;
};

static int
unclaimed(void *arg)
{
	struct claim *c = arg;

	return cl_cid_claimed(c->rf, c->cid) == 0;
}

int
cl_wait_unclaimed(struct redis_fixture *rf, const char *cid, int timeout_ms)
{
	struct claim c = { rf, cid };

	return it_wait_until(unclaimed, &c, timeout_ms) ? 0 : -1;
}

/* ---- conversations --------------------------------------------------- */

void
cl_send_round(struct cl_peer *ps, size_t n, int *sent)
{
	char body[48];

	for (size_t i = 0; i < n; i++) {
		if (ps[i].ws == NULL)
			continue;
		snprintf(body, sizeof(body), "m-%zu-%d", i, sent[i]++);
		it_ws_send_text(ps[i].ws, body);
	}
}

struct round {
	struct cl_peer *ps;
	size_t n;
	const int *sent;
};

/* Whether p holds body, looking from the newest frame back. */
static int
has_recent(const struct cl_peer *p, const char *body)
{
	size_t bl = strlen(body);

	for (size_t i = p->ngot; i-- > 0;) {
		size_t l = strlen(p->got[i]);
		if (l == bl + 9 && memcmp(p->got[i] + 9, body, bl) == 0)
			return 1;
	}
	return 0;
}

static int
round_done(void *arg)
{
	struct round *r = arg;
	char body[48];

	for (size_t i = 0; i < r->n; i++) {
		if (r->ps[i].ws == NULL)
			continue;
		for (size_t j = 0; j < r->n; j++) {
			if (r->ps[j].ws == NULL || r->sent[j] == 0)
				continue;
			snprintf(body, sizeof(body), "m-%zu-%d", j, r->sent[j] - 1);
			if (!has_recent(&r->ps[i], body))
				return 0;
		}
	}
	return 1;
}

int
cl_wait_round(struct cl_peer *ps, size_t n, const int *sent, int timeout_ms)
{
	struct round r = { ps, n, sent };

	return cl_pump(ps, n, round_done, &r, timeout_ms);
}

char *
cl_round_missing(const struct cl_peer *ps, size_t n, const int *sent)
{
	char *out = NULL, body[48];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "[peer %zu node %d cid %s close %d \"%s\" frames %zu sent %d",
		    i, ps[i].node, ps[i].cid, ps[i].close_code, ps[i].close_reason,
		    ps[i].ngot, sent[i]);
		if (ps[i].ngot > 0)
			fprintf(f, " last \"%s\"", ps[i].got[ps[i].ngot - 1]);
		if (ps[i].ws != NULL)
			for (size_t j = 0; j < n; j++) {
				if (ps[j].ws == NULL || sent[j] == 0)
					continue;
				snprintf(body, sizeof(body), "m-%zu-%d", j, sent[j] - 1);
				if (!has_recent(&ps[i], body))
					fprintf(f, " lacks %s", body);
			}
		fprintf(f, "] ");
	}
	fclose(f);
	return out;
}

static char *
breach(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
breach(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = strdup("(breach: no memory)");
	va_end(ap);
	return s;
}

char *
cl_check_no_gap(const struct cl_peer *ps, size_t n, const int *sent)
{
	const struct cl_peer *ref = &ps[0];
	char *err = NULL;

	for (size_t i = 0; i < n; i++)
		if (ps[i].ngot > ref->ngot)
			ref = &ps[i];
	for (size_t i = 0; i < n; i++) {
		const struct cl_peer *p = &ps[i];
		int *next = calloc(n, sizeof(*next));

		ck_assert_ptr_nonnull(next);
		for (size_t k = 0; k < p->ngot && err == NULL; k++) {
			int from, seq, used = 0;
			const char *g = p->got[k];

			if (strlen(g) < 9 || sscanf(g + 9, "m-%d-%d%n", &from, &seq, &used) != 2 ||
			    g[9 + used] != '\0' || from < 0 || (size_t)from >= n) {
				err = breach("peer %zu, frame %zu: unexpected payload \"%s\"", i, k, g);
				break;
			}
			if (memcmp(g, ps[from].cid, 6) != 0)
				err = breach("peer %zu, frame %zu: \"%s\" carries cid %.6s, "
				    "sender %d is %s", i, k, g, g, from, ps[from].cid);
			else if (seq < next[from])
				err = breach("peer %zu, frame %zu: \"%s\" again or out of "
				    "sender order (expected m-%d-%d or later)", i, k, g, from,
				    next[from]);
			else if (strcmp(g, ref->got[k]) != 0)
				err = breach("peer %zu (node %d, close %d) frame %zu is \"%s\", "
				    "the longest sequence (%zu frames) has \"%s\" there: "
				    "different order or a hole", i, p->node, p->close_code, k,
				    g, ref->ngot, ref->got[k]);
			else
				next[from] = seq + 1;
		}
		free(next);
		if (err != NULL)
			return err;
		if (p->close_code == 0 && p->ngot != ref->ngot)
			return breach("peer %zu (node %d) is open but has %zu of the %zu "
			    "frames the longest sequence has; next missing \"%s\"", i,
			    p->node, p->ngot, ref->ngot, ref->got[p->ngot]);
	}
	for (size_t i = 0; i < n; i++) {
		char body[48];

		if (ps[i].close_code != 0)
			continue;
		for (int k = 0; k < sent[i]; k++) {
			snprintf(body, sizeof(body), "m-%zu-%d", i, k);
			if (!has_recent(ref, body))
				return breach("peer %zu (node %d) is still open but its "
				    "message %s reached nobody: dropped without a close 1013",
				    i, ps[i].node, body);
		}
	}
	return NULL;
}

void
cl_expect_round(struct cl_peer *ps, size_t n, const int *sent, int timeout_ms,
    const char *fmt, ...)
{
	char what[256];
	char *err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ck_assert_msg(cl_wait_round(ps, n, sent, timeout_ms), "%s: not every open "
	    "member got every sender's last message: %s", what,
	    cl_round_missing(ps, n, sent));
	err = cl_check_no_gap(ps, n, sent);
	ck_assert_msg(err == NULL, "%s: %s", what, err);
}

/* ---- a whole cluster ------------------------------------------------- */

void
cl_up(struct cl_cluster *c, int n, const char *password)
{
	cl_up_env(c, n, password, NULL);
}

void
cl_up_env(struct cl_cluster *c, int n, const char *password, const char *const *env)
{
	cl_up_redis(c, n, password, env, NULL);
}

void
cl_up_redis(struct cl_cluster *c, int n, const char *password, const char *const *env,
            const char *const *redis_args)
{
	ck_assert_int_le(n, CL_MAX_NODES);
	memset(c, 0, sizeof(*c));
	c->rf = rf_start_args(password, redis_args);
	ck_assert_msg(c->rf != NULL, "cannot start redis-server");
	cl_url(c->url, sizeof(c->url), rf_port(c->rf), password);
	c->n = n;
	for (int i = 0; i < n; i++)
		cl_node_start(&c->node[i], c->url, env);
	for (int i = 0; i < n; i++) {
		char body[256];
		int st = 0;
		if (cl_wait_healthz(c->node[i].port, 200, 2 * IT_TIMEOUT_MS) != 0)
			st = cl_healthz(c->node[i].port, body, sizeof(body));
		ck_assert_msg(st == 0, "node %d: /healthz %d \"%s\", not 200; stderr: %s",
		    i, st, body, it_proc_stderr(c->node[i].p));
	}
}

void
cl_down(struct cl_cluster *c)
{
	for (int i = 0; i < c->n; i++)
		cl_node_free(&c->node[i]);
	rf_stop(c->rf);
	c->rf = NULL;
}

void
cl_expect_up(struct cl_cluster *c, int node, const char *why)
{
	char body[256] = "";
	int st = 0;

	if (cl_wait_healthz(c->node[node].port, 200, 3 * IT_TIMEOUT_MS) != 0)
		st = cl_healthz(c->node[node].port, body, sizeof(body));
	ck_assert_msg(st == 0, "%s: node %d: /healthz still %d \"%s\"", why, node, st, body);
}
