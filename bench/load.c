/*
 * load.c: drives one scenario. One thread, one epoll loop, non-blocking
 * sockets: the box is shared with the server, so the generator must cost
 * far less than what it measures.
 *
 * Every message carries its sender, the sender's sequence number, a
 * group-wide message number and the send time; every member checks
 * per-sender order and takes the arrival time. A group keeps at most
 * --window broadcasts in flight (sent but not yet delivered to every
 * member), so the server's queues, not the generator's, set the pace, and
 * no member falls a send queue's worth (256) behind. With --rate the
 * messages go out on a fixed schedule instead, still within the window.
 *
 * A scenario runs: create the groups; connect each group's first member
 * alone and see its own probe come back (the Go server starts a group's
 * goroutine on a join that finds the group empty, and two such joins at
 * once start two); connect the rest; repeat probes until every member has
 * seen one, so the server has registered it; warm up; measure; stop
 * sending and drain; close; delete the groups. The per-member scenarios
 * stop after the joins (JOIN), idle instead of sending (IDLE), or connect
 * only the first members and then cycle every other member through
 * connect, handshake, close handshake and the server's end of the TCP
 * connection, starting the next cycle on the same slot (CHURN). Every
 * handshake's time, from connect() to the whole 101 response read, goes
 * into a histogram of its own.
 *
 * Counters: a member that is open and has seen a probe is "live"; a
 * broadcast expects one delivery per live member of its group at send
 * time; lost = expected - delivered once drained.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
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

#define CID_LEN		9		/* "abcdef - " */
#define PROBE_ROUNDS	50
#define PROBE_ROUND_NS	(200 * 1000000LL)
#define CLOSE_NS	(3 * BENCH_NS)

enum mstate { M_IDLE, M_HANDSHAKE, M_OPEN, M_CLOSING, M_DONE, M_FAILED };

struct member {
	int		 fd;
	enum mstate	 state;
	int		 group;
	int		 ready;		/* saw a probe: the server has it */
	int		 want_out;	/* EPOLLOUT is registered */
	uint32_t	 seq;		/* of its next message */
	uint32_t	*next;		/* per sender: seq expected */
	uint8_t		*in;
	size_t		 in_len, in_cap;
	uint8_t		*out;
	size_t		 out_off, out_len, out_cap;
	uint8_t		*frag;		/* a fragmented message being joined */
	size_t		 frag_len;
	char		 accept[BENCH_WS_ACCEPT_LEN + 1];
	int64_t		 t_connect;
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
	int		 live;		/* of those, ready: get broadcasts */
	uint32_t	 next_msg;	/* number of the next broadcast */
	uint32_t	 acked;		/* oldest not delivered to all */
	uint32_t	 sent;		/* broadcasts this phase */
	int		 rr;		/* local index of the next sender */
	struct slot	*win;
};

enum phase { P_SETUP, P_WARMUP, P_MEASURE, P_DRAIN, P_CLOSE };

struct run {
	const struct bench_opts		*o;
	const struct bench_scenario	*sc;
	int			 ngroups, per, total;
	int			 senders, window, count, parallel;
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
	uint32_t		 rate_rr;	/* group of the next send */
	int			 rate_blocked;	/* a send found no window */
	uint64_t		 rng;
	uint8_t			*payload;
	struct bench_tally	 t;
	struct bench_hist	 hist;
	struct bench_hist	 hs;		/* handshake times */
	int			 stormed;
	double			 storm_s;
	int			 cycling;	/* CHURN: slots reconnect */
	int			 cycles_started, cycles_done, cycles_want;
};

int64_t
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * BENCH_NS + ts.tv_nsec;
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
vlog(const struct bench_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
vlog(const struct bench_opts *o, const char *fmt, ...)
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

int
bench_http(const struct bench_opts *o, const char *method, const char *target,
    int *status)
{
	return bench_http_at(o, 0, method, target, status, NULL, 0);
}

int
bench_http_at(const struct bench_opts *o, int node, const char *method,
    const char *target, int *status, char *body, size_t cap)
{
	struct timeval tv = { 5, 0 };
	char req[512], head[1024], *buf = body != NULL ? body : head;
	size_t got = 0, bcap = body != NULL ? cap - 1 : sizeof(head);
	ssize_t n;
	int fd, len, rc = -1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (const struct sockaddr *)&o->addrs[node],
	    sizeof(o->addrs[node])) == -1)
		goto out;
	len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s:%d\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n", method, target,
	    o->host, o->ports[node]);
	if (len < 0 || (size_t)len >= sizeof(req)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len)
		goto out;
	/* Read to EOF so the server, not us, ends the connection. */
	for (;;) {
		n = recv(fd, got < bcap ? buf + got : req,
		    got < bcap ? bcap - got : sizeof(req), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (got < bcap)
			got += (size_t)n;
	}
	if (body != NULL)
		body[got] = '\0';
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

static void	member_connect(struct run *, struct member *);

/* Ends a connection and keeps the counters true to why it ended; while
 * cycling, a slot whose close handshake completed starts its next cycle. */
static void
member_end(struct run *r, struct member *m, int failed)
{
	struct group *g = &r->g[m->group];
	int cycled = r->cycling && !failed && m->state == M_CLOSING;

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
	if (!cycled)
		return;
	r->cycles_done++;
	if (r->cycles_started < r->cycles_want) {
		r->cycles_started++;
		member_connect(r, m);
	}
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
	int one = 1, n, k, node;

	/* Member k of its group joins through node k % nports. */
	k = (int)(m - r->m) - r->g[m->group].first;
	node = k % (r->o->nports > 0 ? r->o->nports : 1);
	m->t_connect = bench_now();
	m->in_len = 0;
	m->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	m->state = M_HANDSHAKE;
	r->connecting++;
	if (m->fd == -1)
		goto fail;
	setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(m->fd, (const struct sockaddr *)&r->o->addrs[node],
	    sizeof(r->o->addrs[node])) == -1 && errno != EINPROGRESS)
		goto fail;
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		goto fail;
	bench_base64(raw, sizeof(raw), key);
	bench_ws_accept(key, m->accept);
	snprintf(path, sizeof(path), "/groups/%s", r->g[m->group].id);
	/* Queued now, sent once the connection is writable. */
	n = bench_ws_request((char *)m->out, m->out_cap, r->o->host,
	    r->o->ports[node], path, key);
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

/* Starts the close handshake on an open member: it no longer counts as
 * open or live. Returns 0, or -1 if the socket is dead. */
static int
member_close(struct run *r, struct member *m)
{
	static const uint8_t normal[2] = { 1000 >> 8, 1000 & 0xff };
	struct group *g = &r->g[m->group];

	g->open--;
	r->open--;
	if (m->ready) {
		g->live--;
		r->ready--;
	}
	m->state = M_CLOSING;
	member_queue(r, m, BENCH_WS_CLOSE, normal, sizeof(normal), 0);
	return member_flush(r, m);
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
	bench_hist_add(&r->hs, (uint64_t)(r->now - m->t_connect));
	if (r->cycling && member_close(r, m) == -1)
		member_end(r, m, 1);
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
	r->now = bench_now();
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

/* Stamps the payload template with m, its sequence number, the group
 * message number id and the time, and sends it as a text frame. */
static int
member_send(struct run *r, struct member *m, char type, uint32_t id)
{
	r->payload[0] = (uint8_t)type;
	hex_put(r->payload + 1, (uint64_t)(m - r->m), 8);
	hex_put(r->payload + 9, m->seq, 8);
	hex_put(r->payload + 17, id, 8);
	hex_put(r->payload + 25, (uint64_t)bench_now(), 16);
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
	due = (uint64_t)((double)(r->now - r->phase_start) * r->rate /
	    BENCH_NS) + 1;
	r->rate_blocked = 0;
	while (r->phase_sent < due) {
		if (group_send(r, &r->g[r->rate_rr % (uint32_t)r->ngroups]) ==
		    -1) {
			r->rate_blocked = 1;
			break;
		}
		lag = r->now - r->phase_start -
		    (int64_t)((double)r->phase_sent * BENCH_NS / r->rate);
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
	    r->connecting < r->parallel)
		member_connect(r, &r->m[r->order[r->next_connect++]]);
}

/* When the loop must wake up even if no socket does. */
static int64_t
next_wake(const struct run *r, int64_t deadline)
{
	int64_t wake = r->now + 100 * 1000000LL, due;

	/* Behind schedule but out of window: a delivery will wake us. */
	if (r->rate > 0 && !r->rate_blocked &&
	    (r->phase == P_WARMUP || r->phase == P_MEASURE)) {
		due = r->phase_start +
		    (int64_t)((double)r->phase_sent * BENCH_NS / r->rate);
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
		r->now = bench_now();
		pump_connect(r);
		pump_send(r);
		if (done != NULL && done(r))
			return 0;
		if (r->now >= deadline)
			return -1;
		wait = next_wake(r, deadline) - r->now;
		ts.tv_sec = wait / BENCH_NS;
		ts.tv_nsec = wait % BENCH_NS;
		n = epoll_pwait2(r->ep, ev, 512, &ts, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "groupchat-bench: epoll: %s\n",
			    strerror(errno));
			return -1;
		}
		r->now = bench_now();
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

/* Every cycling slot (each group's members but the first) has ended. */
static int
done_cycling(const struct run *r)
{
	int i;

	for (i = 0; i < r->total; i++)
		if (i % r->per != 0 && r->m[i].fd != -1)
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
		run_loop(r, done_probing, bench_now() + PROBE_ROUND_NS);
	}
}

/* Connects each group's first member and waits for its probe. */
static void
join_leaders(struct run *r, int64_t deadline)
{
	connect_range(r, 0, r->ngroups, deadline);
	probe(r, 1);
}

/* Connects every member, the first of each group first, and drops those
 * the server never registered. The rest join as one storm, timed from the
 * first connect to the last handshake done. */
static void
join_all(struct run *r)
{
	int64_t deadline, t0;
	int i;

	deadline = bench_now() + (int64_t)(r->o->connect_timeout * BENCH_NS);
	join_leaders(r, deadline);
	memset(&r->hs, 0, sizeof(r->hs));
	t0 = bench_now();
	connect_range(r, r->ngroups, r->total, deadline);
	r->storm_s = (double)(r->now - t0) / BENCH_NS;
	r->stormed = r->total - r->ngroups;
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
	int i;

	r->phase = P_CLOSE;
	r->cycling = 0;
	for (i = 0; i < r->total; i++)
		if (r->m[i].state == M_OPEN && member_close(r, &r->m[i]) == -1)
			member_end(r, &r->m[i], 0);
	run_loop(r, done_closing, bench_now() + CLOSE_NS);
	for (i = 0; i < r->total; i++)
		if (r->m[i].fd != -1)
			member_end(r, &r->m[i], 0);
}

/* Runs count more join/leave cycles on the slots that are not a group's
 * first member, as many at once as there are slots. */
static void
churn(struct run *r, int count)
{
	int64_t deadline;
	int i;

	deadline = bench_now() + (int64_t)(r->o->connect_timeout * BENCH_NS);
	r->cycling = 1;
	r->cycles_want += count;
	for (i = 0; i < r->total && r->cycles_started < r->cycles_want; i++) {
		if (i % r->per == 0)
			continue;
		r->cycles_started++;
		member_connect(r, &r->m[i]);
	}
	run_loop(r, done_cycling, deadline);
	r->cycling = 0;
	for (i = 0; i < r->total; i++)
		if (i % r->per != 0 && r->m[i].fd != -1)
			member_end(r, &r->m[i], 1);
}

static void
set_phase(struct run *r, enum phase p)
{
	int i;

	r->phase = p;
	r->phase_start = bench_now();
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
run_new(const struct bench_opts *o, const struct bench_scenario *sc)
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
	r->parallel = o->parallel > 0 ? o->parallel : sc->parallel > 0 ?
	    sc->parallel : 128;
	r->size = (size_t)o->size;
	r->frame_max = r->size + CID_LEN + 1024;
	frame = r->size + BENCH_WS_HEADER_MAX;
	if (getrandom(&r->rng, sizeof(r->rng), 0) != sizeof(r->rng))
		r->rng = (uint64_t)bench_now();
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
	for (i = 0; i < r->total; i++)
		r->m[i].fd = -1;
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
		m->group = i / r->per;
		m->next = r->next_all + (size_t)i * (size_t)r->per;
		m->in_cap = 2 * frame > 4096 ? 2 * frame : 4096;
		m->out_cap = 2 * frame + 256 > 1024 ? 2 * frame + 256 : 1024;
		m->in = malloc(m->in_cap);
		m->out = malloc(m->out_cap);
		if (m->in == NULL || m->out == NULL)
			goto fail;
		/* Touched now, so that the generator's RSS does not grow
		 * during the joins (it is subtracted from MemAvailable's drop). */
		memset(m->in, 0, m->in_cap);
		memset(m->out, 0, m->out_cap);
	}
	return r;
fail:
	run_free(r);
	return NULL;
}

static void
result_status(struct bench_result *res)
{
	const struct bench_tally *t = &res->t;
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
	if (t->sent == 0 && res->sc->kind == BENCH_LOAD)
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
sample_one(int pid, struct bench_proc *s)
{
	if (pid > 0 && bench_proc_sample(pid, s) == -1)
		fprintf(stderr, "groupchat-bench: /proc/%d: %s\n", pid,
		    strerror(errno));
}

/* The server: with several nodes (--pid list), their sum. */
static void
sample(const struct bench_opts *o, struct bench_proc *s)
{
	struct bench_proc one;
	int i;

	sample_one(o->pid, s);
	for (i = 1; i < o->npids && s->ok; i++) {
		sample_one(o->pids[i], &one);
		s->ok = one.ok;
		s->io_ok = s->io_ok && one.io_ok;
		s->cpu_s += one.cpu_s;
		s->rss_kb += one.rss_kb;
		s->threads += one.threads;
		s->syscw += one.syscw;
		s->pte_kb += one.pte_kb;
	}
}

/* Samples the server, the system and the generator itself. */
static void
sample_all(const struct bench_opts *o, struct bench_proc *server,
    struct bench_mem *sys, struct bench_proc *self)
{
	sample(o, server);
	if (bench_mem_sample(NULL, sys) == -1)
		fprintf(stderr, "groupchat-bench: /proc/meminfo: %s\n",
		    strerror(errno));
	bench_proc_sample((int)getpid(), self);
}

/* START: the server as it started, after --warmup seconds to settle. */
static void
run_start(const struct bench_opts *o, struct bench_result *res)
{
	struct timespec ts;

	ts.tv_sec = (time_t)o->warmup;
	ts.tv_nsec = (long)((o->warmup - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
	sample_all(o, &res->after, &res->sys_after, &res->gen_after);
	snprintf(res->status, sizeof(res->status), "%s",
	    res->after.ok ? "ok" : "FAIL:proc");
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
		if (bench_http(r->o, method, target, &status) == -1 ||
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

	/* One node's threads only: with several it would undercount. */
	if (r->o->pid <= 0 || r->o->npids > 1 || !r->o->write_count)
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

/* A cluster node's publisher counters from /stats ("redis_published",
 * "redis_round_trips"), summed over the nodes into *c. Left unset (ok 0)
 * when a node does not report them (not in cluster mode). */
static void
sample_redis_counts(const struct bench_opts *o, struct bench_redis_counts *c)
{
	static char body[1 << 17];
	const char *p, *q;
	int i, status;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < o->nports; i++) {
		if (bench_http_at(o, i, "GET", "/stats", &status, body,
		    sizeof(body)) == -1 || status != 200 ||
		    (p = strstr(body, "\"redis_published\":")) == NULL ||
		    (q = strstr(body, "\"redis_round_trips\":")) == NULL)
			return;
		c->published += strtoll(p + strlen("\"redis_published\":"), NULL,
		    10);
		c->round_trips += strtoll(q + strlen("\"redis_round_trips\":"),
		    NULL, 10);
	}
	c->ok = 1;
}

static void
measure(struct run *r, struct bench_result *res)
{
	const struct bench_opts *o = r->o;
	struct bench_sys sys = { NULL, 0 };
	struct rusage u0, u1;
	int64_t t0, t1;

	if (r->count == 0 && o->warmup > 0) {
		vlog(o, "%s: warming up for %.1f s", r->sc->name, o->warmup);
		set_phase(r, P_WARMUP);
		run_loop(r, NULL, r->phase_start +
		    (int64_t)(o->warmup * BENCH_NS));
	}
	count_writes(r, &sys);
	if (o->redis_pid > 0)
		sample_redis_counts(o, &res->rc0);
	sample(o, &res->m0);
	sample_one(o->redis_pid, &res->redis0);
	getrusage(RUSAGE_SELF, &u0);
	set_phase(r, P_MEASURE);
	t0 = r->phase_start;
	vlog(o, "%s: measuring", r->sc->name);
	run_loop(r, r->count > 0 ? done_counting : NULL,
	    t0 + (int64_t)(o->duration * BENCH_NS));
	t1 = bench_now();
	res->wcalls = bench_sys_read(&sys);
	bench_sys_detach(&sys);
	sample(o, &res->m1);
	sample_one(o->redis_pid, &res->redis1);
	if (o->redis_pid > 0)
		sample_redis_counts(o, &res->rc1);
	getrusage(RUSAGE_SELF, &u1);
	set_phase(r, P_DRAIN);
	run_loop(r, done_draining, bench_now() +
	    (int64_t)(o->drain * BENCH_NS));
	res->window_s = (double)(t1 - t0) / BENCH_NS;
	res->gen_cpu_pct = (rusage_s(&u1) - rusage_s(&u0)) / res->window_s *
	    100;
}

static void
on_alarm(int sig)
{
	static const char msg[] =
	    "groupchat-bench: scenario overran its time budget\n";
	ssize_t n;

	(void)sig;
	n = write(2, msg, sizeof(msg) - 1);
	_exit(n < 0 ? 4 : 3);
}

/* Joins and measures per the scenario's kind; fills the joins and the
 * memory samples of *res. */
static void
run_members(struct run *r, struct bench_result *res)
{
	const struct bench_opts *o = r->o;
	int64_t t0, deadline;

	t0 = bench_now();
	if (r->sc->kind == BENCH_CHURN) {
		deadline = t0 + (int64_t)(o->connect_timeout * BENCH_NS);
		join_leaders(r, deadline);
		res->conns_ok = r->ready;
		sample(o, &res->after);
		memset(&r->hs, 0, sizeof(r->hs));
		t0 = bench_now();
		churn(r, r->count);
		sample(o, &res->churn1);
		churn(r, r->count);
		res->connect_s = (double)(bench_now() - t0) / BENCH_NS;
		sample_all(o, &res->churn2, &res->sys_after, &res->gen_after);
		res->conns_want = r->ngroups + r->cycles_want;
		res->conns_ok += r->cycles_done;
		res->stormed = r->cycles_done;
		res->storm_s = res->connect_s;
		return;
	}
	join_all(r);
	res->connect_s = (double)(bench_now() - t0) / BENCH_NS;
	res->stormed = r->stormed;
	res->storm_s = r->storm_s;
	vlog(o, "%s: %d/%d members joined in %.2f s", r->sc->name, r->ready,
	    r->total, res->connect_s);
	if (r->sc->kind == BENCH_IDLE) {
		vlog(o, "%s: idling for %.1f s", r->sc->name, o->duration);
		run_loop(r, NULL, bench_now() + (int64_t)(o->duration *
		    BENCH_NS));
	}
	res->conns_ok = r->ready;
	sample_all(o, &res->after, &res->sys_after, &res->gen_after);
}

int
bench_run(const struct bench_opts *o, const struct bench_scenario *sc,
    struct bench_result *res)
{
	struct run *r = NULL;
	double budget;

	memset(res, 0, sizeof(*res));
	res->sc = sc;
	res->wcalls = -1;
	res->load1 = bench_loadavg();
	if (o->start_meminfo != NULL &&
	    bench_mem_sample(o->start_meminfo, &res->sys_start) == -1)
		fprintf(stderr, "groupchat-bench: %s: %s\n", o->start_meminfo,
		    strerror(errno));
	sample_all(o, &res->before, &res->sys_before, &res->gen_before);
	if (sc->kind == BENCH_START) {
		run_start(o, res);
		return 0;
	}
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
	signal(SIGALRM, on_alarm);
	budget = o->connect_timeout + 2 * PROBE_ROUNDS * 0.2 + o->warmup +
	    o->duration + o->drain + 3 + 0.2 * r->ngroups + 30 +
	    (sc->kind == BENCH_CHURN ? 2 * o->connect_timeout : 0);
	alarm((unsigned)budget);
	if (groups_call(r, "POST", 201) == -1) {
		snprintf(res->status, sizeof(res->status), "FAIL:create");
		goto out;
	}
	vlog(o, "%s: connecting %d members in %d groups", sc->name, r->total,
	    r->ngroups);
	run_members(r, res);
	if (sc->kind == BENCH_LOAD)
		measure(r, res);
	res->t = r->t;
	res->sent = r->t.sent_window;
	res->delivered = r->t.delivered_window;
	res->lost = r->t.expected > r->t.delivered ?
	    r->t.expected - r->t.delivered : 0;
	res->p50 = bench_hist_quantile(&r->hist, 0.50);
	res->p99 = bench_hist_quantile(&r->hist, 0.99);
	res->max = r->hist.max;
	res->hs_p50 = bench_hist_quantile(&r->hs, 0.50);
	res->hs_p99 = bench_hist_quantile(&r->hs, 0.99);
	res->hs_max = r->hs.max;
	result_status(res);
	close_all(r);
	groups_call(r, "DELETE", 200);
out:
	alarm(0);
	run_free(r);
	return 0;
}
