/*
 * groupchat-bench: a load generator for groupchat and for any server that
 * speaks its protocol (POST /create?id=G, a WebSocket on GET /groups/G, each
 * message relayed to every member as "<6 hex cid> - <payload>").
 *
 * One thread, one epoll loop, non-blocking sockets, nothing but libc: the
 * box it runs on is shared with the server, so the generator must cost far
 * less than what it measures. Every message carries its sender, the
 * sender's sequence number, a group-wide message number and the send time
 * (CLOCK_MONOTONIC ns); every member checks per-sender order and the
 * arrival time. A group keeps at most --window broadcasts in flight (sent
 * but not yet delivered to every member), so the server's queues, not the
 * generator's, set the pace, and no member falls 256 messages behind.
 *
 * A scenario runs: create groups; connect each group's first member alone
 * and see its own probe come back (the Go server starts its group goroutine
 * on the first join and races if two joins see an empty group); connect the
 * rest; repeat probes until every member has seen one (the server has then
 * registered it); warm up; measure; stop sending and drain; close; delete
 * the groups. Counts and times are bounded everywhere, and an alarm ends
 * the process if a scenario overruns its budget.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define NS		1000000000LL
/* type, sender, seq, group message number, send time */
#define BODY_MIN	(1 + 8 + 8 + 8 + 16)
#define CID_LEN		9		/* "abcdef - " */
#define SIZE_MAX_OPT	65536
#define PROBE_ROUNDS	50
#define PROBE_ROUND_NS	(200 * 1000000LL)
#define CLOSE_NS	(3 * NS)

struct scenario {
	const char	*name;
	const char	*what;
	int		 groups;
	int		 members;	/* per group */
	double		 rate;		/* messages/s offered; 0: windowed */
	int		 count;		/* broadcasts per group; 0: --duration */
};

static const struct scenario scenarios[] = {
	{ "fanout", "1 group x 50 members, all sending, window-limited",
	    1, 50, 0, 0 },
	{ "groups", "50 groups x 10 members, all sending, window-limited",
	    50, 10, 0, 0 },
	{ "big", "1 group x 500 members, all sending, window-limited",
	    1, 500, 0, 0 },
	{ "latency", "1 group x 50 members at a fixed 200 messages/s",
	    1, 50, 200, 0 },
	{ "capacity", "100 groups x 100 members connected, then one "
	    "broadcast per group", 100, 100, 0, 1 },
};
#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

struct opts {
	char			 host[64];
	struct sockaddr_in	 addr;
	int			 port;
	int			 pid;
	const char		*scenario;
	double			 duration, warmup, drain, connect_timeout;
	int			 groups, members, senders, window, count;
	int			 size, parallel;
	double			 rate;
	const char		*csv;
	const char		*label;
	int			 header, verbose;
};

enum mstate { M_IDLE, M_HANDSHAKE, M_OPEN, M_CLOSING, M_DONE, M_FAILED };

struct member {
	int		 fd;
	enum mstate	 state;
	int		 group;
	int		 ready;		/* has seen a probe: the server has it */
	int		 want_out;	/* EPOLLOUT is registered */
	uint32_t	 seq;		/* sequence number of its next message */
	uint32_t	*next;		/* per sender of its group: seq expected */
	uint8_t		*in;
	size_t		 in_len, in_cap;
	uint8_t		*out;
	size_t		 out_off, out_len, out_cap;
	uint8_t		*frag;		/* a fragmented message being joined */
	size_t		 frag_len;
	char		 accept[BENCH_WS_ACCEPT_LEN + 1];
};

/* A broadcast in flight: its group message number and how many members
 * have yet to receive it. */
struct slot {
	uint32_t	id;
	uint32_t	left;
};

struct group {
	char		 id[64];
	int		 first, n;
	int		 open;		/* members in M_OPEN */
	int		 live;		/* of those, ready: they get broadcasts */
	uint32_t	 next_msg;	/* group message number of the next send */
	uint32_t	 acked;		/* oldest not yet delivered to everyone */
	uint32_t	 sent;		/* broadcasts this phase */
	int		 rr;		/* local index of the next sender */
	struct slot	*win;
};

enum phase { P_SETUP, P_WARMUP, P_MEASURE, P_DRAIN, P_CLOSE };

struct tally {
	uint64_t	sent, sent_window;
	uint64_t	expected, delivered, delivered_window;
	uint64_t	ooo, dup, bad;
	uint64_t	closed, connect_failed, unjoined, protocol;
	int		last_close, last_status;
	int64_t		lag_max;	/* --rate: worst lateness of a send, ns */
};

struct run {
	const struct opts	*o;
	const struct scenario	*sc;
	int			 ngroups, per, total;
	int			 senders, window, count;
	double			 rate;
	size_t			 size, frame_max;
	int			 ep;
	struct member		*m;
	struct group		*g;
	uint32_t		*next_all;
	int			*order;		/* connect order */
	int			 next_connect, connect_end, connecting;
	int			 open, ready;
	enum phase		 phase;
	int64_t			 now, phase_start;
	uint64_t		 phase_sent;
	uint32_t		 rate_rr;
	uint64_t		 rng;
	uint8_t			*payload;
	struct tally		 t;
	struct bench_hist	 hist;
};

struct result {
	const struct scenario	*sc;
	int			 groups, per, conns_ok, conns_want;
	double			 rate, connect_s, window_s, gen_cpu_pct;
	uint64_t		 sent, delivered, lost, p50, p99, max;
	struct bench_proc	 before, after, m0, m1;
	long long		 wcalls;	/* write-family calls; -1: unknown */
	struct tally		 t;
	char			 status[64];
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static uint64_t
rng_next(struct run *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 0x2545f4914f6cdd1dULL;
}

static void
hex_put(uint8_t *p, uint64_t v, int digits)
{
	static const char hx[] = "0123456789abcdef";

	while (digits-- > 0) {
		p[digits] = (uint8_t)hx[v & 15];
		v >>= 4;
	}
}

static int
hex_get(const uint8_t *p, int digits, uint64_t *v)
{
	uint64_t x = 0;
	int i, c;

	for (i = 0; i < digits; i++) {
		c = p[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else
			return -1;
		x = x << 4 | (uint64_t)c;
	}
	*v = x;
	return 0;
}

static void
vlog(const struct opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
vlog(const struct opts *o, const char *fmt, ...)
{
	va_list ap;

	if (!o->verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "groupchat-bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* --- HTTP requests outside the event loop (create and delete groups) --- */

/* Sends "METHOD target" with Connection: close and returns the status in
 * *status; 0, or -1 with errno. Blocks at most 5 s per system call. */
static int
http_call(const struct opts *o, const char *method, const char *target,
    int *status)
{
	struct timeval tv = { 5, 0 };
	char req[512], buf[1024];
	size_t got = 0;
	ssize_t n;
	int fd, len, rc = -1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (const struct sockaddr *)&o->addr,
	    sizeof(o->addr)) == -1)
		goto out;
	len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s:%d\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n", method, target,
	    o->host, o->port);
	if (len < 0 || (size_t)len >= sizeof(req)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len)
		goto out;
	/* Read to EOF so the server, not us, ends the connection. */
	for (;;) {
		n = recv(fd, got < sizeof(buf) ? buf + got : req,
		    got < sizeof(buf) ? sizeof(buf) - got : sizeof(req), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (got < sizeof(buf))
			got += (size_t)n;
	}
	if (got < 12 || memcmp(buf, "HTTP/1.", 7) != 0) {
		errno = EPROTO;
		goto out;
	}
	*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	rc = 0;
out:
	close(fd);
	return rc;
}

/* --- connections --- */

static void
member_want_out(struct run *r, struct member *m, int on)
{
	struct epoll_event ev;

	if (m->want_out == on)
		return;
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = m;
	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, m->fd, &ev) == 0)
		m->want_out = on;
}

/* Ends a connection and keeps the counters true to why it ended. */
static void
member_end(struct run *r, struct member *m, int failed)
{
	struct group *g = &r->g[m->group];

	switch (m->state) {
	case M_HANDSHAKE:
		r->connecting--;
		r->t.connect_failed++;
		break;
	case M_OPEN:
		g->open--;
		r->open--;
		if (m->ready) {
			g->live--;
			r->ready--;
		}
		if (failed)
			r->t.closed++;
		break;
	default:
		break;
	}
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	m->state = failed ? M_FAILED : M_DONE;
	free(m->frag);
	m->frag = NULL;
}

/* Sends what is queued; arms EPOLLOUT for the rest. -1 if the socket is
 * dead. */
static int
member_flush(struct run *r, struct member *m)
{
	ssize_t n;

	while (m->out_off < m->out_len) {
		n = send(m->fd, m->out + m->out_off, m->out_len - m->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -1;
		m->out_off += (size_t)n;
	}
	if (m->out_off == m->out_len)
		m->out_off = m->out_len = 0;
	member_want_out(r, m, m->out_len > 0);
	return 0;
}

/* Queues one frame if it fits with reserve bytes to spare (kept for
 * control frames); -1 with EAGAIN if not. */
static int
member_queue(struct run *r, struct member *m, int opcode, const void *p,
    size_t len, size_t reserve)
{
	size_t need = len + BENCH_WS_HEADER_MAX + reserve;

	if (m->out_off > 0 && m->out_len + need > m->out_cap) {
		memmove(m->out, m->out + m->out_off, m->out_len - m->out_off);
		m->out_len -= m->out_off;
		m->out_off = 0;
	}
	if (m->out_len + need > m->out_cap) {
		errno = EAGAIN;
		return -1;
	}
	m->out_len += bench_ws_frame(m->out + m->out_len, opcode, p, len,
	    (uint32_t)rng_next(r));
	return 0;
}

static int
member_has_room(const struct run *r, const struct member *m)
{
	return m->out_len - m->out_off + r->size + BENCH_WS_HEADER_MAX + 256 <=
	    m->out_cap;
}

static void
member_connect(struct run *r, struct member *m)
{
	struct epoll_event ev;
	uint8_t raw[16];
	char key[BENCH_WS_KEY_LEN + 1], path[96];
	int one = 1, n;

	m->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	m->state = M_HANDSHAKE;
	r->connecting++;
	if (m->fd == -1)
		goto fail;
	setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(m->fd, (const struct sockaddr *)&r->o->addr,
	    sizeof(r->o->addr)) == -1 && errno != EINPROGRESS)
		goto fail;
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		goto fail;
	bench_base64(raw, sizeof(raw), key);
	bench_ws_accept(key, m->accept);
	snprintf(path, sizeof(path), "/groups/%s", r->g[m->group].id);
	/* Queued now, sent once the connection is writable. */
	n = bench_ws_request((char *)m->out, m->out_cap, r->o->host,
	    r->o->port, path, key);
	if (n < 0)
		goto fail;
	m->out_off = 0;
	m->out_len = (size_t)n;
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.ptr = m;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, m->fd, &ev) == -1)
		goto fail;
	m->want_out = 1;
	return;
fail:
	if (r->t.connect_failed == 0)
		fprintf(stderr, "groupchat-bench: connect: %s\n",
		    strerror(errno));
	member_end(r, m, 1);
}

/* --- what members receive --- */

static void
on_probe(struct run *r, struct member *m)
{
	if (m->ready)
		return;
	m->ready = 1;
	r->g[m->group].live++;
	r->ready++;
}

static void
on_message(struct run *r, struct member *m, const uint8_t *p, size_t len)
{
	struct group *g = &r->g[m->group];
	uint64_t sender, seq, id, sent;
	uint32_t *expect;
	struct slot *s;
	uint64_t v;

	if (m->state != M_OPEN)
		return;
	if (len < CID_LEN + 1 || hex_get(p, 6, &v) == -1 ||
	    memcmp(p + 6, " - ", 3) != 0)
		goto bad;
	p += CID_LEN;
	len -= CID_LEN;
	if (p[0] == 'P') {
		on_probe(r, m);
		return;
	}
	if ((p[0] != 'W' && p[0] != 'M') || len != r->size ||
	    hex_get(p + 1, 8, &sender) == -1 ||
	    hex_get(p + 9, 8, &seq) == -1 ||
	    hex_get(p + 17, 8, &id) == -1 ||
	    hex_get(p + 25, 16, &sent) == -1 ||
	    sender < (uint64_t)g->first ||
	    sender >= (uint64_t)(g->first + g->n))
		goto bad;
	if (!m->ready)
		return;
	expect = &m->next[sender - (uint64_t)g->first];
	if (seq != *expect)
		r->t.ooo++;
	if (seq >= *expect)
		*expect = (uint32_t)seq + 1;
	s = &g->win[id % (uint64_t)r->window];
	if (s->id != (uint32_t)id || s->left == 0) {
		r->t.dup++;
		return;
	}
	s->left--;
	r->t.delivered++;
	if (r->phase == P_MEASURE)
		r->t.delivered_window++;
	if (p[0] == 'M' && r->now > (int64_t)sent)
		bench_hist_add(&r->hist, (uint64_t)r->now - sent);
	while (g->acked != g->next_msg &&
	    g->win[g->acked % (uint32_t)r->window].left == 0)
		g->acked++;
	return;
bad:
	r->t.bad++;
}

static int
on_frame(struct run *r, struct member *m, const struct bench_ws_frame *f)
{
	int code;

	switch (f->opcode) {
	case BENCH_WS_TEXT:
	case BENCH_WS_BINARY:
		if (m->frag != NULL)
			return -1;
		if (f->fin) {
			on_message(r, m, f->payload, f->len);
			return 0;
		}
		m->frag = malloc(r->frame_max);
		if (m->frag == NULL)
			return -1;
		memcpy(m->frag, f->payload, f->len);
		m->frag_len = f->len;
		return 0;
	case BENCH_WS_CONT:
		if (m->frag == NULL || m->frag_len + f->len > r->frame_max)
			return -1;
		memcpy(m->frag + m->frag_len, f->payload, f->len);
		m->frag_len += f->len;
		if (f->fin) {
			on_message(r, m, m->frag, m->frag_len);
			free(m->frag);
			m->frag = NULL;
		}
		return 0;
	case BENCH_WS_PING:
		member_queue(r, m, BENCH_WS_PONG, f->payload, f->len, 0);
		return member_flush(r, m);
	case BENCH_WS_CLOSE:
		if (m->state == M_CLOSING)
			return 0;	/* the answer to ours: EOF follows */
		code = f->len >= 2 ? f->payload[0] << 8 | f->payload[1] : 1005;
		r->t.last_close = code;
		member_queue(r, m, BENCH_WS_CLOSE, f->payload,
		    f->len >= 2 ? 2 : 0, 0);
		member_flush(r, m);
		member_end(r, m, 1);
		return 0;
	default:
		return 0;
	}
}

static int
member_frames(struct run *r, struct member *m)
{
	struct bench_ws_frame f;
	size_t off = 0, need = 0;
	uint8_t *bigger;
	long n;

	while (m->state == M_OPEN || m->state == M_CLOSING) {
		n = bench_ws_parse(m->in + off, m->in_len - off, r->frame_max,
		    &f, &need);
		if (n < 0) {
			r->t.protocol++;
			return -1;
		}
		if (n == 0)
			break;
		if (on_frame(r, m, &f) == -1) {
			r->t.protocol++;
			return -1;
		}
		off += (size_t)n;
	}
	if (m->state != M_OPEN && m->state != M_CLOSING)
		return 0;
	memmove(m->in, m->in + off, m->in_len - off);
	m->in_len -= off;
	if (need > m->in_cap) {
		bigger = realloc(m->in, need);
		if (bigger == NULL)
			return -1;
		m->in = bigger;
		m->in_cap = need;
	}
	return 0;
}

static void
member_handshake(struct run *r, struct member *m)
{
	struct group *g = &r->g[m->group];
	int n, status = 0;

	n = bench_ws_response((const char *)m->in, m->in_len, m->accept,
	    &status);
	if (n == 0 && m->in_len < m->in_cap)
		return;
	if (n <= 0) {
		r->t.last_status = status;
		member_end(r, m, 1);
		return;
	}
	memmove(m->in, m->in + n, m->in_len - (size_t)n);
	m->in_len -= (size_t)n;
	m->state = M_OPEN;
	r->connecting--;
	r->open++;
	g->open++;
}

static void
member_read(struct run *r, struct member *m)
{
	ssize_t n;

	n = recv(m->fd, m->in + m->in_len, m->in_cap - m->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		member_end(r, m, m->state != M_CLOSING);
		return;
	}
	r->now = now_ns();
	m->in_len += (size_t)n;
	if (m->state == M_HANDSHAKE)
		member_handshake(r, m);
	if ((m->state == M_OPEN || m->state == M_CLOSING) &&
	    member_frames(r, m) == -1)
		member_end(r, m, 1);
}

static void
member_event(struct run *r, struct member *m, uint32_t events)
{
	if (m->fd == -1)
		return;
	if ((events & EPOLLOUT) && member_flush(r, m) == -1) {
		member_end(r, m, m->state != M_CLOSING);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		member_read(r, m);
}

/* --- sending --- */

/* Fills the payload template for member index idx and queues it. */
static int
member_send(struct run *r, struct member *m, char type, uint32_t id)
{
	r->payload[0] = (uint8_t)type;
	hex_put(r->payload + 1, (uint64_t)(m - r->m), 8);
	hex_put(r->payload + 9, m->seq, 8);
	hex_put(r->payload + 17, id, 8);
	hex_put(r->payload + 25, (uint64_t)now_ns(), 16);
	if (member_queue(r, m, BENCH_WS_TEXT, r->payload, r->size, 256) == -1)
		return -1;
	if (member_flush(r, m) == -1) {
		member_end(r, m, 1);
		return -1;
	}
	return 0;
}

/* Sends the group's next broadcast from its next willing sender. */
static int
group_send(struct run *r, struct group *g)
{
	struct member *m = NULL;
	struct slot *s;
	int i;

	if (g->live == 0 || g->next_msg - g->acked >= (uint32_t)r->window ||
	    (r->count > 0 && g->sent >= (uint32_t)r->count))
		return -1;
	for (i = 0; i < r->senders; i++) {
		m = &r->m[g->first + g->rr];
		g->rr = (g->rr + 1) % r->senders;
		if (m->state == M_OPEN && m->ready && member_has_room(r, m))
			break;
		m = NULL;
	}
	if (m == NULL)
		return -1;
	s = &g->win[g->next_msg % (uint32_t)r->window];
	s->id = g->next_msg;
	s->left = (uint32_t)g->live;
	if (member_send(r, m, r->phase == P_MEASURE ? 'M' : 'W',
	    g->next_msg) == -1) {
		s->left = 0;
		return -1;
	}
	r->t.expected += s->left;
	m->seq++;
	g->next_msg++;
	g->sent++;
	r->t.sent++;
	if (r->phase == P_MEASURE)
		r->t.sent_window++;
	return 0;
}

static void
pump_send(struct run *r)
{
	int64_t lag;
	uint64_t due;
	int i;

	if (r->phase != P_WARMUP && r->phase != P_MEASURE)
		return;
	if (r->rate <= 0) {
		for (i = 0; i < r->ngroups; i++)
			while (group_send(r, &r->g[i]) == 0)
				continue;
		return;
	}
	due = (uint64_t)((double)(r->now - r->phase_start) * r->rate / NS) + 1;
	while (r->phase_sent < due) {
		if (group_send(r, &r->g[r->rate_rr % (uint32_t)r->ngroups]) ==
		    -1)
			break;
		lag = r->now - r->phase_start -
		    (int64_t)((double)r->phase_sent * NS / r->rate);
		if (r->phase == P_MEASURE && lag > r->t.lag_max)
			r->t.lag_max = lag;
		r->rate_rr++;
		r->phase_sent++;
	}
}

static void
pump_connect(struct run *r)
{
	while (r->next_connect < r->connect_end &&
	    r->connecting < r->o->parallel)
		member_connect(r, &r->m[r->order[r->next_connect++]]);
}

/* When the loop must wake up even if no socket does. */
static int64_t
next_wake(const struct run *r, int64_t deadline)
{
	int64_t wake = r->now + 100 * 1000000LL, due;

	if (r->rate > 0 && (r->phase == P_WARMUP || r->phase == P_MEASURE)) {
		due = r->phase_start +
		    (int64_t)((double)r->phase_sent * NS / r->rate);
		if (due < wake)
			wake = due;
	}
	if (deadline < wake)
		wake = deadline;
	return wake > r->now ? wake : r->now;
}

/* Runs the loop until done(r) or the deadline; 0 if done, -1 at the
 * deadline. */
static int
run_loop(struct run *r, int (*done)(const struct run *), int64_t deadline)
{
	struct epoll_event ev[512];
	struct timespec ts;
	int64_t wait;
	int i, n;

	for (;;) {
		r->now = now_ns();
		pump_connect(r);
		pump_send(r);
		if (done != NULL && done(r))
			return 0;
		if (r->now >= deadline)
			return -1;
		wait = next_wake(r, deadline) - r->now;
		ts.tv_sec = wait / NS;
		ts.tv_nsec = wait % NS;
		n = epoll_pwait2(r->ep, ev, 512, &ts, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "groupchat-bench: epoll: %s\n",
			    strerror(errno));
			return -1;
		}
		r->now = now_ns();
		for (i = 0; i < n; i++)
			member_event(r, ev[i].data.ptr, ev[i].events);
	}
}

static int
done_connecting(const struct run *r)
{
	return r->next_connect == r->connect_end && r->connecting == 0;
}

static int
done_probing(const struct run *r)
{
	return r->ready == r->open;
}

static int
done_draining(const struct run *r)
{
	int i;

	for (i = 0; i < r->ngroups; i++)
		if (r->g[i].acked != r->g[i].next_msg)
			return 0;
	return 1;
}

static int
done_counting(const struct run *r)
{
	int i;

	for (i = 0; i < r->ngroups; i++)
		if (r->g[i].live > 0 && r->g[i].sent < (uint32_t)r->count)
			return 0;
	return done_draining(r);
}

static int
done_closing(const struct run *r)
{
	int i;

	for (i = 0; i < r->total; i++)
		if (r->m[i].fd != -1)
			return 0;
	return 1;
}

/* --- scenario phases --- */

static void
connect_range(struct run *r, int from, int to, int64_t deadline)
{
	int i;

	r->next_connect = from;
	r->connect_end = to;
	run_loop(r, done_connecting, deadline);
	r->next_connect = r->connect_end;
	for (i = from; i < to; i++)
		if (r->m[r->order[i]].state == M_HANDSHAKE)
			member_end(r, &r->m[r->order[i]], 1);
}

/* Each group whose open members have not all seen a probe gets one from
 * its first open member (only from member 0 when leaders is set). */
static void
send_probes(struct run *r, int leaders)
{
	struct group *g;
	struct member *m;
	int i, j;

	for (i = 0; i < r->ngroups; i++) {
		g = &r->g[i];
		if (g->live == g->open)
			continue;
		for (j = 0; j < (leaders ? 1 : g->n); j++) {
			m = &r->m[g->first + j];
			if (m->state != M_OPEN)
				continue;
			member_send(r, m, 'P', 0);
			break;
		}
	}
}

static void
probe(struct run *r, int leaders)
{
	int round;

	for (round = 0; round < PROBE_ROUNDS && !done_probing(r); round++) {
		send_probes(r, leaders);
		run_loop(r, done_probing, now_ns() + PROBE_ROUND_NS);
	}
}

/* Connects every member, the first of each group first, and drops those
 * the server never registered. */
static void
join_all(struct run *r)
{
	int64_t deadline;
	int i;

	deadline = now_ns() + (int64_t)(r->o->connect_timeout * NS);
	connect_range(r, 0, r->ngroups, deadline);
	probe(r, 1);
	connect_range(r, r->ngroups, r->total, deadline);
	probe(r, 0);
	for (i = 0; i < r->total; i++) {
		if (r->m[i].state == M_OPEN && !r->m[i].ready) {
			r->t.unjoined++;
			member_end(r, &r->m[i], 0);
		}
	}
}

/* Starts the close handshake on every open member and waits for the
 * server to end each connection, as RFC 6455 has it, so the TIME_WAIT
 * states land on the server's side, not on our ephemeral ports. */
static void
close_all(struct run *r)
{
	static const uint8_t normal[2] = { 1000 >> 8, 1000 & 0xff };
	struct group *g;
	struct member *m;
	int i;

	r->phase = P_CLOSE;
	for (i = 0; i < r->total; i++) {
		m = &r->m[i];
		if (m->state != M_OPEN)
			continue;
		g = &r->g[m->group];
		g->open--;
		r->open--;
		if (m->ready) {
			g->live--;
			r->ready--;
		}
		m->state = M_CLOSING;
		member_queue(r, m, BENCH_WS_CLOSE, normal, sizeof(normal), 0);
		if (member_flush(r, m) == -1)
			member_end(r, m, 0);
	}
	run_loop(r, done_closing, now_ns() + CLOSE_NS);
	for (i = 0; i < r->total; i++)
		if (r->m[i].fd != -1)
			member_end(r, &r->m[i], 0);
}

static void
set_phase(struct run *r, enum phase p)
{
	int i;

	r->phase = p;
	r->phase_start = now_ns();
	r->phase_sent = 0;
	for (i = 0; i < r->ngroups; i++)
		r->g[i].sent = 0;
}
static void
run_free(struct run *r)
{
	int i;

	if (r->m != NULL) {
		for (i = 0; i < r->total; i++) {
			if (r->m[i].fd != -1)
				close(r->m[i].fd);
			free(r->m[i].in);
			free(r->m[i].out);
			free(r->m[i].frag);
		}
	}
	if (r->g != NULL)
		free(r->g[0].win);
	if (r->ep != -1)
		close(r->ep);
	free(r->m);
	free(r->g);
	free(r->next_all);
	free(r->order);
	free(r->payload);
	free(r);
}

static struct run *
run_new(const struct opts *o, const struct scenario *sc)
{
	struct run *r;
	struct slot *win;
	struct member *m;
	size_t frame;
	int i, k;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->ep = -1;
	r->o = o;
	r->sc = sc;
	r->ngroups = o->groups > 0 ? o->groups : sc->groups;
	r->per = o->members > 0 ? o->members : sc->members;
	r->total = r->ngroups * r->per;
	r->senders = o->senders > 0 && o->senders < r->per ? o->senders :
	    r->per;
	r->window = o->window;
	r->count = o->count >= 0 ? o->count : sc->count;
	r->rate = o->rate >= 0 ? o->rate : sc->rate;
	r->size = (size_t)o->size;
	r->frame_max = r->size + CID_LEN + 1024;
	frame = r->size + BENCH_WS_HEADER_MAX;
	if (getrandom(&r->rng, sizeof(r->rng), 0) != sizeof(r->rng))
		r->rng = (uint64_t)now_ns();
	r->rng |= 1;
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	r->m = calloc((size_t)r->total, sizeof(*r->m));
	r->g = calloc((size_t)r->ngroups, sizeof(*r->g));
	r->next_all = calloc((size_t)r->total * (size_t)r->per,
	    sizeof(*r->next_all));
	r->order = calloc((size_t)r->total, sizeof(*r->order));
	r->payload = malloc(r->size);
	win = calloc((size_t)r->ngroups * (size_t)r->window, sizeof(*win));
	if (r->ep == -1 || r->m == NULL || r->g == NULL ||
	    r->next_all == NULL || r->order == NULL || r->payload == NULL ||
	    win == NULL) {
		free(win);
		goto fail;
	}
	memset(r->payload, '.', r->size);
	for (i = 0; i < r->ngroups; i++) {
		snprintf(r->g[i].id, sizeof(r->g[i].id), "bench-%08x-%s-%d",
		    (unsigned)rng_next(r), sc->name, i);
		r->g[i].first = i * r->per;
		r->g[i].n = r->per;
		r->g[i].win = win + (size_t)i * (size_t)r->window;
	}
	/* Connect order: each group's first member, then everyone else. */
	k = 0;
	for (i = 0; i < r->ngroups; i++)
		r->order[k++] = i * r->per;
	for (i = 0; i < r->total; i++)
		if (i % r->per != 0)
			r->order[k++] = i;
	for (i = 0; i < r->total; i++) {
		m = &r->m[i];
		m->fd = -1;
		m->group = i / r->per;
		m->next = r->next_all + (size_t)i * (size_t)r->per;
		m->in_cap = 2 * frame > 4096 ? 2 * frame : 4096;
		m->out_cap = 2 * frame + 256 > 1024 ? 2 * frame + 256 : 1024;
		m->in = malloc(m->in_cap);
		m->out = malloc(m->out_cap);
		if (m->in == NULL || m->out == NULL)
			goto fail;
	}
	return r;
fail:
	run_free(r);
	return NULL;
}

static void
result_status(struct result *res)
{
	const struct tally *t = &res->t;
	char *p = res->status, *end = res->status + sizeof(res->status);

	p += snprintf(p, (size_t)(end - p), "FAIL:");
	if (res->conns_ok < res->conns_want)
		p += snprintf(p, (size_t)(end - p), "conn,");
	if (res->lost > 0)
		p += snprintf(p, (size_t)(end - p), "lost,");
	if (t->ooo + t->dup > 0)
		p += snprintf(p, (size_t)(end - p), "order,");
	if (t->bad > 0 || t->protocol > 0)
		p += snprintf(p, (size_t)(end - p), "bad,");
	if (t->closed > 0)
		p += snprintf(p, (size_t)(end - p), "closed,");
	if (t->sent == 0)
		p += snprintf(p, (size_t)(end - p), "idle,");
	if (p == res->status + 5)
		snprintf(res->status, sizeof(res->status), "ok");
	else
		p[-1] = '\0';
}

static double
rusage_s(const struct rusage *u)
{
	return (double)u->ru_utime.tv_sec + u->ru_utime.tv_usec / 1e6 +
	    (double)u->ru_stime.tv_sec + u->ru_stime.tv_usec / 1e6;
}

static void
sample(const struct opts *o, struct bench_proc *s)
{
	if (o->pid > 0 && bench_proc_sample(o->pid, s) == -1)
		fprintf(stderr, "groupchat-bench: /proc/%d: %s\n", o->pid,
		    strerror(errno));
}

/* Creates (want 201) or deletes (want 200) every group; stops at the
 * first failure, since a server that fails one will likely fail all and
 * each try may take the full timeout. Returns 0 or -1. */
static int
groups_call(struct run *r, const char *method, int want)
{
	char target[128];
	int i, status = 0;

	for (i = 0; i < r->ngroups; i++) {
		snprintf(target, sizeof(target), "%s%s",
		    want == 201 ? "/create?id=" : "/groups/", r->g[i].id);
		if (http_call(r->o, method, target, &status) == -1 ||
		    status != want) {
			if (status != 0)
				fprintf(stderr, "groupchat-bench: %s %s: "
				    "status %d\n", method, target, status);
			else
				fprintf(stderr, "groupchat-bench: %s %s: %s\n",
				    method, target, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Counts the server's write calls from now on, if the kernel lets us;
 * says once why not. */
static void
count_writes(const struct run *r, struct bench_sys *sys)
{
	static int told;
	struct rlimit rl;
	long spare = 0;

	if (r->o->pid <= 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		spare = (long)rl.rlim_cur - r->total - 64;
	if (bench_sys_attach(sys, r->o->pid, spare > 0 ? (int)spare : 0) ==
	    0 || told++ > 0)
		return;
	fprintf(stderr, "groupchat-bench: %s: no write-call count: %s%s\n",
	    r->sc->name, errno == ENOENT ? "tracefs is not mounted (mount -t "
	    "tracefs nodev /sys/kernel/tracing)" : strerror(errno),
	    errno == EMFILE ? " (more server threads than spare descriptors)" :
	    "");
}

static void
measure(struct run *r, struct result *res)
{
	const struct opts *o = r->o;
	struct bench_sys sys = { NULL, 0 };
	struct rusage u0, u1;
	int64_t t0, t1;

	if (r->count == 0 && o->warmup > 0) {
		vlog(o, "%s: warming up for %.1f s", r->sc->name, o->warmup);
		set_phase(r, P_WARMUP);
		run_loop(r, NULL, r->phase_start + (int64_t)(o->warmup * NS));
	}
	count_writes(r, &sys);
	sample(o, &res->m0);
	getrusage(RUSAGE_SELF, &u0);
	set_phase(r, P_MEASURE);
	t0 = r->phase_start;
	vlog(o, "%s: measuring", r->sc->name);
	run_loop(r, r->count > 0 ? done_counting : NULL,
	    t0 + (int64_t)(o->duration * NS));
	t1 = now_ns();
	res->wcalls = bench_sys_read(&sys);
	bench_sys_detach(&sys);
	sample(o, &res->m1);
	getrusage(RUSAGE_SELF, &u1);
	set_phase(r, P_DRAIN);
	run_loop(r, done_draining, now_ns() + (int64_t)(o->drain * NS));
	res->window_s = (double)(t1 - t0) / NS;
	res->gen_cpu_pct = (rusage_s(&u1) - rusage_s(&u0)) / res->window_s *
	    100;
}

static void
on_alarm(int sig)
{
	static const char msg[] =
	    "groupchat-bench: scenario overran its time budget\n";

	(void)sig;
	(void)write(2, msg, sizeof(msg) - 1);
	_exit(3);
}

/* Runs one scenario and fills *res; -1 if it could not run at all. */
static int
run_scenario(const struct opts *o, const struct scenario *sc,
    struct result *res)
{
	struct run *r;
	double budget;
	int64_t t0;

	memset(res, 0, sizeof(*res));
	res->sc = sc;
	res->wcalls = -1;
	r = run_new(o, sc);
	if (r == NULL) {
		fprintf(stderr, "groupchat-bench: %s: %s\n", sc->name,
		    strerror(errno));
		return -1;
	}
	res->groups = r->ngroups;
	res->per = r->per;
	res->conns_want = r->total;
	res->rate = r->rate;
	budget = o->connect_timeout + 2 * PROBE_ROUNDS * 0.2 + o->warmup +
	    o->duration + o->drain + 3 + 0.2 * r->ngroups + 30;
	alarm((unsigned)budget);
	sample(o, &res->before);
	if (groups_call(r, "POST", 201) == -1) {
		snprintf(res->status, sizeof(res->status), "FAIL:create");
		goto out;
	}
	vlog(o, "%s: connecting %d members in %d groups", sc->name, r->total,
	    r->ngroups);
	t0 = now_ns();
	join_all(r);
	res->connect_s = (double)(now_ns() - t0) / NS;
	res->conns_ok = r->ready;
	sample(o, &res->after);
	vlog(o, "%s: %d/%d members joined in %.2f s", sc->name, r->ready,
	    r->total, res->connect_s);
	measure(r, res);
	res->t = r->t;
	res->sent = r->t.sent_window;
	res->delivered = r->t.delivered_window;
	res->lost = r->t.expected > r->t.delivered ?
	    r->t.expected - r->t.delivered : 0;
	res->p50 = bench_hist_quantile(&r->hist, 0.50);
	res->p99 = bench_hist_quantile(&r->hist, 0.99);
	res->max = r->hist.max;
	result_status(res);
	close_all(r);
	groups_call(r, "DELETE", 200);
out:
	alarm(0);
	run_free(r);
	return 0;
}

/* --- output --- */

static void
print_header(const struct opts *o)
{
	if (o->label != NULL)
		printf("%-10s ", "server");
	printf("%-9s %-7s %11s %6s %8s %9s %7s %7s %7s %5s %4s %8s %7s "
	    "%13s %11s %7s %4s %s\n", "scenario", "shape", "members", "join s",
	    "sent/s", "deliv/s", "p50 us", "p99 us", "max us", "lost", "ooo",
	    "cpu s/M", "write/d", "rss MB", "threads", "KB/mbr", "gen%",
	    "status");
}

static void
print_row(const struct opts *o, const struct result *res)
{
	char shape[32], mem[32], rss[32], thr[32], cpu[16], sw[16], kb[16];
	const struct bench_proc *a = &res->before, *b = &res->after;
	double w = res->window_s > 0 ? res->window_s : 1;
	double d = res->delivered > 0 ? (double)res->delivered : 1;

	snprintf(shape, sizeof(shape), "%dx%d", res->groups, res->per);
	snprintf(mem, sizeof(mem), "%d/%d", res->conns_ok, res->conns_want);
	snprintf(rss, sizeof(rss), "-");
	snprintf(thr, sizeof(thr), "-");
	snprintf(cpu, sizeof(cpu), "-");
	snprintf(sw, sizeof(sw), "-");
	snprintf(kb, sizeof(kb), "-");
	if (a->ok && b->ok) {
		snprintf(rss, sizeof(rss), "%.1f>%.1f", a->rss_kb / 1024.0,
		    b->rss_kb / 1024.0);
		snprintf(thr, sizeof(thr), "%ld>%ld", a->threads, b->threads);
		if (res->conns_ok > 0)
			snprintf(kb, sizeof(kb), "%.1f",
			    (double)(b->rss_kb - a->rss_kb) / res->conns_ok);
	}
	if (res->m0.ok && res->m1.ok)
		snprintf(cpu, sizeof(cpu), "%.2f",
		    (res->m1.cpu_s - res->m0.cpu_s) / d * 1e6);
	if (res->wcalls >= 0)
		snprintf(sw, sizeof(sw), "%.3f", (double)res->wcalls / d);
	if (o->label != NULL)
		printf("%-10s ", o->label);
	printf("%-9s %-7s %11s %6.2f %8.0f %9.0f %7.0f %7.0f %7.0f %5llu %4llu "
	    "%8s %7s %13s %11s %7s %4.0f %s\n", res->sc->name, shape, mem,
	    res->connect_s,
	    res->sent / w, res->delivered / w, res->p50 / 1e3,
	    res->p99 / 1e3, res->max / 1e3, (unsigned long long)res->lost,
	    (unsigned long long)(res->t.ooo + res->t.dup), cpu, sw, rss, thr,
	    kb, res->gen_cpu_pct, res->status);
	fflush(stdout);
}

static const char csv_header[] = "server,scenario,groups,members,"
    "joined,wanted,connect_s,window_s,rate,window,size,sent,sent_per_s,"
    "deliveries,deliveries_per_s,p50_us,p99_us,max_us,expected,lost,ooo,"
    "dup,bad,protocol,closed,last_close,connect_failed,last_status,"
    "unjoined,send_lag_max_us,server_cpu_s,cpu_s_per_M,syscw,"
    "syscw_per_delivery,write_calls,write_calls_per_delivery,"
    "rss_before_kb,rss_after_kb,threads_before,threads_after,"
    "rss_per_member_kb,gen_cpu_pct,status\n";

static void
csv_row(FILE *f, const struct opts *o, const struct result *res)
{
	const struct tally *t = &res->t;
	double w = res->window_s > 0 ? res->window_s : 1;
	double d = res->delivered > 0 ? (double)res->delivered : 1;
	double cpu = res->m1.cpu_s - res->m0.cpu_s;
	long long sw = res->m1.syscw - res->m0.syscw;
	int proc = res->m0.ok && res->m1.ok, io = res->m0.io_ok &&
	    res->m1.io_ok, mem = res->before.ok && res->after.ok;

	fprintf(f, "%s,%s,%d,%d,%d,%d,%.3f,%.3f,%.1f,%d,%d,%llu,%.1f,%llu,"
	    "%.1f,%.1f,%.1f,%.1f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%d,%llu,"
	    "%d,%llu,%.1f,", o->label != NULL ? o->label : "", res->sc->name,
	    res->groups, res->per, res->conns_ok, res->conns_want,
	    res->connect_s, res->window_s, res->rate, o->window, o->size,
	    (unsigned long long)res->sent, res->sent / w,
	    (unsigned long long)res->delivered, res->delivered / w,
	    res->p50 / 1e3, res->p99 / 1e3, res->max / 1e3,
	    (unsigned long long)t->expected, (unsigned long long)res->lost,
	    (unsigned long long)t->ooo, (unsigned long long)t->dup,
	    (unsigned long long)t->bad, (unsigned long long)t->protocol,
	    (unsigned long long)t->closed, t->last_close,
	    (unsigned long long)t->connect_failed, t->last_status,
	    (unsigned long long)t->unjoined, t->lag_max / 1e3);
	if (proc)
		fprintf(f, "%.2f,%.3f,", cpu, cpu / d * 1e6);
	else
		fprintf(f, ",,");
	if (io)
		fprintf(f, "%lld,%.4f,", sw, (double)sw / d);
	else
		fprintf(f, ",,");
	if (res->wcalls >= 0)
		fprintf(f, "%lld,%.4f,", res->wcalls, (double)res->wcalls / d);
	else
		fprintf(f, ",,");
	if (mem)
		fprintf(f, "%ld,%ld,%ld,%ld,%.2f,", res->before.rss_kb,
		    res->after.rss_kb, res->before.threads, res->after.threads,
		    res->conns_ok > 0 ? (double)(res->after.rss_kb -
		    res->before.rss_kb) / res->conns_ok : 0.0);
	else
		fprintf(f, ",,,,,");
	fprintf(f, "%.1f,%s\n", res->gen_cpu_pct, res->status);
	fflush(f);
}

/* --- modes that run no scenario --- */

/* Prints a loopback port that was free a moment ago. */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd, rc = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd != -1 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
		printf("%d\n", ntohs(a.sin_port));
		rc = 0;
	} else {
		fprintf(stderr, "groupchat-bench: free port: %s\n",
		    strerror(errno));
	}
	if (fd != -1)
		close(fd);
	return rc;
}

/* Waits up to seconds for the server to answer an HTTP request (any
 * status will do), trying every 50 ms. */
static int
wait_port(const struct opts *o, double seconds)
{
	struct timespec pause = { 0, 50 * 1000000L };
	int64_t deadline = now_ns() + (int64_t)(seconds * NS);
	int status;

	do {
		if (http_call(o, "GET", "/", &status) == 0)
			return 0;
		nanosleep(&pause, NULL);
	} while (now_ns() < deadline);
	fprintf(stderr, "groupchat-bench: no HTTP answer from %s:%d\n",
	    o->host, o->port);
	return 1;
}

static int self_checks;

static int
check(int ok, const char *what, int *failed)
{
	self_checks++;
	if (!ok) {
		fprintf(stderr, "self-test: %s: FAIL\n", what);
		(*failed)++;
	}
	return ok;
}

/* Checks the pieces that must be right for any figure to mean anything:
 * the digest, the accept value, framing both ways, the histogram. */
static int
self_test(void)
{
	static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
	    "upgrade: WebSocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nxy";
	uint8_t digest[20], frame[80000], server[16];
	char hexd[41], acc[BENCH_WS_ACCEPT_LEN + 1], b64[16];
	struct bench_ws_frame f;
	struct bench_hist *h;
	size_t need, n, i;
	int failed = 0, status = 0;

	bench_sha1("abc", 3, digest);
	for (i = 0; i < 20; i++)
		snprintf(hexd + 2 * i, 3, "%02x", digest[i]);
	check(strcmp(hexd, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0,
	    "sha1(abc)", &failed);
	bench_base64((const uint8_t *)"fo", 2, b64);
	check(strcmp(b64, "Zm8=") == 0, "base64(fo)", &failed);
	bench_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc);
	check(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
	    "RFC 6455 accept", &failed);
	check(bench_ws_response(resp, sizeof(resp) - 1, acc, &status) ==
	    (int)sizeof(resp) - 3, "101 response", &failed);
	check(bench_ws_response(resp, 40, acc, &status) == 0,
	    "partial response", &failed);
	check(bench_ws_response("HTTP/1.1 400 Bad Request\r\n\r\n", 28, acc,
	    &status) == -1 && status == 400, "400 response", &failed);
	for (i = 0; i < 3; i++) {
		size_t len = i == 0 ? 5 : i == 1 ? 300 : 70000;
		memset(frame + 20, 'a', len);
		n = bench_ws_frame(frame, BENCH_WS_TEXT, frame + 20, len,
		    0x01020304);
		check(n == len + (i == 0 ? 6 : i == 1 ? 8 : 14) &&
		    (frame[1] & 0x80) &&
		    frame[n - 1] == ('a' ^ (1 + (len - 1) % 4)),
		    "masked frame", &failed);
	}
	server[0] = 0x81;
	server[1] = 126;
	server[2] = 0x01;
	server[3] = 0x00;
	check(bench_ws_parse(server, 4, 1024, &f, &need) == 0 && need == 260,
	    "parse needs more", &failed);
	check(bench_ws_parse(server, 4, 100, &f, &need) == -1,
	    "parse over max", &failed);
	server[0] = 0x89;
	server[1] = 2;
	server[2] = 'h';
	server[3] = 'i';
	check(bench_ws_parse(server, 4, 100, &f, &need) == 4 &&
	    f.opcode == BENCH_WS_PING && f.len == 2, "parse ping", &failed);
	server[1] = 0x82;
	check(bench_ws_parse(server, 4, 100, &f, &need) == -1,
	    "masked server frame", &failed);
	h = calloc(1, sizeof(*h));
	if (h != NULL) {
		for (i = 1; i <= 1000; i++)
			bench_hist_add(h, i * 1000);
		check(bench_hist_quantile(h, 0.5) / 1000 >= 495 &&
		    bench_hist_quantile(h, 0.5) / 1000 <= 505 &&
		    bench_hist_quantile(h, 1.0) == 1000000, "histogram",
		    &failed);
		free(h);
	}
	printf("self-test: %d passed, %d failed\n", self_checks - failed,
	    failed);
	return failed > 0;
}

/* --- command line --- */

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: groupchat-bench [options]\n"
	    "Load generator for groupchat (and the Go server it ports).\n"
	    "Targets loopback only; every run is bounded in count and time.\n"
	    "\n"
	    "  --host ADDR          server address, 127.0.0.0/8 only "
	    "(127.0.0.1)\n"
	    "  --port N             server port (8080)\n"
	    "  --pid PID            server process: CPU, RSS, threads from "
	    "/proc/PID;\n"
	    "                       write calls from a perf tracepoint counter "
	    "(root,\n"
	    "                       tracefs mounted, a descriptor per server "
	    "thread)\n"
	    "  --scenario LIST      comma-separated names, or all (all)\n"
	    "  --duration S         measured seconds per scenario (10)\n"
	    "  --warmup S           unmeasured seconds before (1)\n"
	    "  --drain S            seconds to wait for deliveries after (5)\n"
	    "  --groups G           groups (scenario's)\n"
	    "  --members N          members per group (scenario's)\n"
	    "  --senders N          members per group that send (all)\n"
	    "  --window W           broadcasts in flight per group (64)\n"
	    "  --rate R             messages/s offered in total; 0: as fast "
	    "as the\n"
	    "                       window allows (scenario's)\n"
	    "  --count N            broadcasts per group, then stop "
	    "(scenario's; 0: --duration)\n"
	    "  --size BYTES         payload bytes per message, %d..%d (64)\n"
	    "  --parallel N         handshakes in progress at once (128)\n"
	    "  --connect-timeout S  for all members to join (120)\n"
	    "  --label TEXT         a first column naming the server\n"
	    "  --csv FILE           also append CSV rows to FILE (- for "
	    "stdout)\n"
	    "  --no-header          print no table header\n"
	    "  -v, --verbose        progress on stderr\n"
	    "  --free-port          print a free loopback port and exit\n"
	    "  --wait-port S        wait up to S s for --port to accept, then "
	    "exit\n"
	    "  --self-test          check SHA-1, framing, histogram and exit\n"
	    "  --list               print each scenario's name, groups, members "
	    "per group\n"
	    "                       and members, and exit\n"
	    "  -h, --help           this text\n"
	    "\nScenarios:\n", BODY_MIN, SIZE_MAX_OPT);
	for (i = 0; i < NSCENARIOS; i++)
		fprintf(f, "  %-9s %s\n", scenarios[i].name, scenarios[i].what);
	fprintf(f,
	    "\nColumns: members joined/wanted; sent/s and deliv/s over the "
	    "measured window;\n"
	    "latency from send to arrival at each member (p50, p99, max); "
	    "lost and\n"
	    "out-of-order deliveries (must be 0); server CPU seconds per "
	    "million\n"
	    "deliveries; server write-family system calls (write, writev, "
	    "send*)\n"
	    "per delivery; server RSS and threads\n"
	    "before connecting > after; RSS per member; the generator's own "
	    "CPU.\n"
	    "Exit status: 0 if every scenario is ok, 1 if one failed, 2 on "
	    "bad usage.\n");
}

static int
num(const char *s, double lo, double hi, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || *v < lo || *v > hi) {
		fprintf(stderr, "groupchat-bench: bad number: %s\n", s);
		return -1;
	}
	return 0;
}

enum {
	O_HOST = 256, O_PORT, O_PID, O_SCENARIO, O_DURATION, O_WARMUP,
	O_DRAIN, O_GROUPS, O_MEMBERS, O_SENDERS, O_WINDOW, O_RATE, O_COUNT,
	O_SIZE, O_PARALLEL, O_CONNECT, O_LABEL, O_CSV, O_NOHEADER, O_FREE,
	O_WAIT, O_SELF, O_LIST
};

static const struct option longopts[] = {
	{ "host", required_argument, NULL, O_HOST },
	{ "port", required_argument, NULL, O_PORT },
	{ "pid", required_argument, NULL, O_PID },
	{ "scenario", required_argument, NULL, O_SCENARIO },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "warmup", required_argument, NULL, O_WARMUP },
	{ "drain", required_argument, NULL, O_DRAIN },
	{ "groups", required_argument, NULL, O_GROUPS },
	{ "members", required_argument, NULL, O_MEMBERS },
	{ "senders", required_argument, NULL, O_SENDERS },
	{ "window", required_argument, NULL, O_WINDOW },
	{ "rate", required_argument, NULL, O_RATE },
	{ "count", required_argument, NULL, O_COUNT },
	{ "size", required_argument, NULL, O_SIZE },
	{ "parallel", required_argument, NULL, O_PARALLEL },
	{ "connect-timeout", required_argument, NULL, O_CONNECT },
	{ "label", required_argument, NULL, O_LABEL },
	{ "csv", required_argument, NULL, O_CSV },
	{ "no-header", no_argument, NULL, O_NOHEADER },
	{ "verbose", no_argument, NULL, 'v' },
	{ "free-port", no_argument, NULL, O_FREE },
	{ "wait-port", required_argument, NULL, O_WAIT },
	{ "self-test", no_argument, NULL, O_SELF },
	{ "list", no_argument, NULL, O_LIST },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Parses argv into *o. Returns -1 to run scenarios, -2 to list them,
 * else an exit status. */
static int
parse_args(int argc, char **argv, struct opts *o, double *wait)
{
	double v;
	int c, mode = -1;

	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		v = 0;
		switch (c) {
		case O_HOST:
			snprintf(o->host, sizeof(o->host), "%s", optarg);
			break;
		case O_PORT:
		case O_PID:
		case O_GROUPS:
		case O_MEMBERS:
		case O_SENDERS:
		case O_WINDOW:
		case O_COUNT:
		case O_SIZE:
		case O_PARALLEL:
			if (num(optarg, 0, 1e7, &v) == -1)
				return 2;
			*(c == O_PORT ? &o->port : c == O_PID ? &o->pid :
			    c == O_GROUPS ? &o->groups : c == O_MEMBERS ?
			    &o->members : c == O_SENDERS ? &o->senders :
			    c == O_WINDOW ? &o->window : c == O_COUNT ?
			    &o->count : c == O_SIZE ? &o->size :
			    &o->parallel) = (int)v;
			break;
		case O_DURATION:
		case O_WARMUP:
		case O_DRAIN:
		case O_RATE:
		case O_CONNECT:
		case O_WAIT:
			if (num(optarg, 0, 1e7, &v) == -1)
				return 2;
			*(c == O_DURATION ? &o->duration : c == O_WARMUP ?
			    &o->warmup : c == O_DRAIN ? &o->drain :
			    c == O_RATE ? &o->rate : c == O_CONNECT ?
			    &o->connect_timeout : wait) = v;
			if (c == O_WAIT)
				mode = O_WAIT;
			break;
		case O_SCENARIO:
			o->scenario = optarg;
			break;
		case O_LABEL:
			o->label = optarg;
			break;
		case O_CSV:
			o->csv = optarg;
			break;
		case O_NOHEADER:
			o->header = 0;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case O_FREE:
		case O_SELF:
		case O_LIST:
			mode = c;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "groupchat-bench: unexpected argument: %s\n",
		    argv[optind]);
		return 2;
	}
	if (mode == O_FREE)
		return free_port();
	if (mode == O_SELF)
		return self_test();
	o->addr.sin_family = AF_INET;
	o->addr.sin_port = htons((uint16_t)o->port);
	if (inet_pton(AF_INET, o->host, &o->addr.sin_addr) != 1 ||
	    (ntohl(o->addr.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "groupchat-bench: --host must be an IPv4 "
		    "loopback address (127.0.0.0/8)\n");
		return 2;
	}
	if (o->port < 1 || o->port > 65535 || o->window < 1 ||
	    o->size < BODY_MIN || o->size > SIZE_MAX_OPT || o->parallel < 1 ||
	    o->duration <= 0) {
		fprintf(stderr, "groupchat-bench: need 1 <= --port <= 65535, "
		    "--window >= 1, %d <= --size <= %d, --parallel >= 1, "
		    "--duration > 0\n", BODY_MIN, SIZE_MAX_OPT);
		return 2;
	}
	if (mode == O_WAIT)
		return wait_port(o, *wait);
	return mode == O_LIST ? -2 : -1;
}

static const struct scenario *
scenario_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NSCENARIOS; i++)
		if (strlen(scenarios[i].name) == len &&
		    strncmp(scenarios[i].name, name, len) == 0)
			return &scenarios[i];
	return NULL;
}

/* Fills list with the scenarios named by spec; returns how many, or -1. */
static int
scenario_list(const char *spec, const struct scenario **list)
{
	const char *p = spec, *comma;
	size_t len;
	int n = 0;

	if (strcmp(spec, "all") == 0) {
		for (n = 0; n < (int)NSCENARIOS; n++)
			list[n] = &scenarios[n];
		return n;
	}
	while (*p != '\0') {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n == (int)NSCENARIOS ||
		    (list[n] = scenario_find(p, len)) == NULL) {
			fprintf(stderr, "groupchat-bench: unknown scenario "
			    "(or too many) in: %s\n", spec);
			return -1;
		}
		n++;
		p += len;
		if (*p == ',')
			p++;
	}
	return n;
}

/* Prints "name groups members-per-group members": what a script needs to
 * size the server for the scenario. */
static void
list_one(const struct opts *o, const struct scenario *sc)
{
	int g = o->groups > 0 ? o->groups : sc->groups;
	int m = o->members > 0 ? o->members : sc->members;

	printf("%s %d %d %ld\n", sc->name, g, m, (long)g * m);
}

/* Raises the descriptor limit to the hard limit: a member is a socket. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
members_fit(const struct opts *o, const struct scenario *sc)
{
	struct rlimit rl;
	long need;

	need = (long)(o->groups > 0 ? o->groups : sc->groups) *
	    (o->members > 0 ? o->members : sc->members) + 32;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)need > rl.rlim_cur) {
		fprintf(stderr, "groupchat-bench: %s needs %ld descriptors, "
		    "RLIMIT_NOFILE allows %llu\n", sc->name, need,
		    (unsigned long long)rl.rlim_cur);
		return 0;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	const struct scenario *list[NSCENARIOS];
	struct opts o = {
		.host = "127.0.0.1", .port = 8080, .scenario = "all",
		.duration = 10, .warmup = 1, .drain = 5,
		.connect_timeout = 120, .window = 64, .count = -1,
		.rate = -1, .size = 64, .parallel = 128, .header = 1,
	};
	struct result *res;
	FILE *csv = NULL;
	double wait = 0;
	int i, n, rc, failed = 0;

	rc = parse_args(argc, argv, &o, &wait);
	if (rc >= 0)
		return rc;
	n = scenario_list(o.scenario, list);
	if (n < 0)
		return 2;
	if (rc == -2) {
		for (i = 0; i < n; i++)
			list_one(&o, list[i]);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	raise_nofile();
	if (o.csv != NULL) {
		csv = strcmp(o.csv, "-") == 0 ? stdout : fopen(o.csv, "a");
		if (csv == NULL) {
			fprintf(stderr, "groupchat-bench: %s: %s\n", o.csv,
			    strerror(errno));
			return 2;
		}
		if (csv == stdout || ftell(csv) == 0)
			fputs(csv_header, csv);
	}
	res = malloc(sizeof(*res));
	if (res == NULL)
		return 2;
	if (o.header && csv != stdout)
		print_header(&o);
	for (i = 0; i < n; i++) {
		if (!members_fit(&o, list[i]) ||
		    run_scenario(&o, list[i], res) == -1) {
			failed++;
			continue;
		}
		if (strcmp(res->status, "ok") != 0)
			failed++;
		if (csv != stdout)
			print_row(&o, res);
		if (csv != NULL)
			csv_row(csv, &o, res);
	}
	free(res);
	if (csv != NULL && csv != stdout)
		fclose(csv);
	return failed > 0;
}
