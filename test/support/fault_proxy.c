/*
 * fault_proxy: one thread, one poll(2) loop over the listening socket,
 * a wake pipe and both sockets of every connection (see fault_proxy.h).
 * A direction of a connection is a FIFO of chunks, each stamped with the
 * time it may leave; the loop reads a side only while its direction is
 * neither paused nor full, and writes the head chunk once it is due.
 *
 * Who touches what:
 * | field                         | who                                   |
 * | ----------------------------- | ------------------------------------- |
 * | conns, lfd, the queues        | the proxy thread only                 |
 * | set, cut_req, cut_done, stop, | under mu: the test's calls write      |
 * | nconns, bytes                 | set/cut_req/stop, the thread the rest |
 * | wake[]                        | written by the calls, read by thread  |
 */
#include "fault_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

struct settings {
	int delay_ms[2];
	int blackhole[2];
	int paused[2];
};

struct chunk {
	struct chunk *next;
	int64_t due;
	size_t len, off;
	char data[];
};

/* One direction: bytes read from fd[from] wait here for fd[to]. */
struct way {
	struct chunk *head, *tail;
	size_t queued;
	int eof; /* the reading side ended */
};

struct conn {
	struct conn *next;
	int fd[2];         /* 0: the client, 1: the target */
	struct way way[2]; /* 0: up (fd 0 to 1), 1: down (fd 1 to 0) */
	int dead;
};

struct fault_proxy {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int lfd, port, target;
	int wake[2];
	struct conn *conns;
	struct settings set;
	unsigned cut_req, cut_done;
	int stop;
	size_t nconns;
	size_t bytes[2];
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
poke(struct fault_proxy *fp)
{
	char b = 1;

	/* A full pipe already holds a wake-up. */
	if (write(fp->wake[1], &b, 1) == -1 && errno != EAGAIN)
		abort();
}

static void
conn_free(struct conn *c)
{
	for (int w = 0; w < 2; w++)
		while (c->way[w].head != NULL) {
			struct chunk *k = c->way[w].head;
			c->way[w].head = k->next;
			free(k);
		}
	close(c->fd[0]);
	close(c->fd[1]);
	free(c);
}

static int
connect_target(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd, one = 1;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* Loopback: a blocking connect answers at once (refused or taken). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Takes one pending connection and pairs it with a new one to the target;
 * a target that refuses closes the client's at once, as Redis down would. */
static void
accept_one(struct fault_proxy *fp)
{
	struct conn *c;
	int cfd, tfd, one = 1;

	if ((cfd = accept4(fp->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	if ((tfd = connect_target(fp->target)) == -1 ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		if (tfd != -1)
			close(tfd);
		close(cfd);
		return;
	}
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd[0] = cfd;
	c->fd[1] = tfd;
	c->next = fp->conns;
	fp->conns = c;
}

static void
current(struct fault_proxy *fp, struct settings *s)
{
	pthread_mutex_lock(&fp->mu);
	*s = fp->set;
	pthread_mutex_unlock(&fp->mu);
}

/* Reads what fd[w] offers into way w: queued with its due time, or
 * dropped when black-holed. The settings are read under the lock for
 * each read, so bytes a test writes after a call are treated as set. */
static void
pull(struct fault_proxy *fp, struct conn *c, int w)
{
	struct way *way = &c->way[w];
	struct settings cur, *s = &cur;
	struct chunk *k;
	ssize_t n;

	current(fp, s);
	if (s->paused[w] || (k = malloc(sizeof(*k) + CHUNK)) == NULL)
		return;
	n = read(c->fd[w], k->data, CHUNK);
	if (n <= 0) {
		free(k);
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			way->eof = 1;
		return;
	}
	if (s->blackhole[w]) {
		free(k);
		return;
	}
	k->next = NULL;
	k->len = (size_t)n;
	k->off = 0;
	k->due = now_ms() + s->delay_ms[w];
	if (way->tail != NULL)
		way->tail->next = k;
	else
		way->head = k;
	way->tail = k;
	way->queued += (size_t)n;
}

/* Writes the due chunks of way w to the other side. */
static void
push(struct fault_proxy *fp, struct conn *c, int w, int64_t now)
{
	struct way *way = &c->way[w];
	struct chunk *k;
	ssize_t n;

	while ((k = way->head) != NULL && k->due <= now) {
		/* MSG_NOSIGNAL: a side that went away must not SIGPIPE the
		 * test process the proxy lives in. */
		n = send(c->fd[!w], k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
		if (n <= 0) {
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			c->dead = 1;
			return;
		}
		k->off += (size_t)n;
		way->queued -= (size_t)n;
		pthread_mutex_lock(&fp->mu);
		fp->bytes[w] += (size_t)n;
		pthread_mutex_unlock(&fp->mu);
		if (k->off < k->len)
			return;
		way->head = k->next;
		if (way->head == NULL)
			way->tail = NULL;
		free(k);
	}
}

/* Frees the dead connections and those whose side ended with nothing
 * left to deliver; everything when all is set. */
static void
sweep(struct fault_proxy *fp, int all)
{
	struct conn **pc = &fp->conns, *c;
	size_t n = 0;

	while ((c = *pc) != NULL) {
		int ended = (c->way[0].eof && c->way[0].head == NULL) ||
		    (c->way[1].eof && c->way[1].head == NULL);

		if (all || c->dead || ended) {
			*pc = c->next;
			conn_free(c);
		} else {
			pc = &c->next;
			n++;
		}
	}
	pthread_mutex_lock(&fp->mu);
	fp->nconns = n;
	pthread_mutex_unlock(&fp->mu);
}

static void *
run(void *arg)
{
	struct fault_proxy *fp = arg;
	struct pollfd *pfd = NULL;
	size_t cap = 0;

	for (;;) {
		struct settings s;
		struct conn *c;
		size_t n = 0, need = 2;
		int64_t now = now_ms(), next = -1;
		unsigned cut;
		int stop, timeout, any_paused;
		char drain[64];

		pthread_mutex_lock(&fp->mu);
		s = fp->set;
		cut = fp->cut_req;
		stop = fp->stop;
		pthread_mutex_unlock(&fp->mu);
		if (stop)
			break;
		if (cut != fp->cut_done) {
			sweep(fp, 1);
			pthread_mutex_lock(&fp->mu);
			fp->cut_done = cut;
			pthread_cond_broadcast(&fp->cv);
			pthread_mutex_unlock(&fp->mu);
			continue;
		}
		for (c = fp->conns; c != NULL; c = c->next)
			need += 2;
		if (need > cap) {
			struct pollfd *p = realloc(pfd, need * 2 * sizeof(*p));
			if (p == NULL)
				abort();
			pfd = p;
			cap = need * 2;
		}
		any_paused = s.paused[0] || s.paused[1];
		pfd[n++] = (struct pollfd){ .fd = fp->wake[0], .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = fp->lfd, .events = any_paused ? 0 : POLLIN };
		for (c = fp->conns; c != NULL; c = c->next) {
			for (int side = 0; side < 2; side++) {
				/* side reads way side and writes way !side */
				struct way *in = &c->way[side], *out = &c->way[!side];
				short ev = 0;

				if (!s.paused[side] && !in->eof && in->queued < FP_QUEUE_MAX)
					ev |= POLLIN;
				if (!s.paused[!side] && out->head != NULL) {
					if (out->head->due <= now)
						ev |= POLLOUT;
					else if (next == -1 || out->head->due < next)
						next = out->head->due;
				}
				pfd[n++] = (struct pollfd){ .fd = c->fd[side], .events = ev };
			}
		}
		timeout = next == -1 ? -1 : (int)(next - now);
		poll(pfd, n, timeout);
		if (pfd[0].revents & POLLIN)
			while (read(fp->wake[0], drain, sizeof(drain)) > 0)
				;
		/* The settings again: a call made while we polled applies to
		 * what the poll found. */
		current(fp, &s);
		now = now_ms();
		n = 2;
		for (c = fp->conns; c != NULL; c = c->next) {
			for (int side = 0; side < 2; side++, n++) {
				short r = pfd[n].revents;

				/* Reading finds an EOF or an error itself; a side
				 * not read (paused, full) that hung up is dead. */
				if ((r & (POLLIN | POLLHUP | POLLERR)) && (pfd[n].events & POLLIN))
					pull(fp, c, side);
				else if (r & (POLLHUP | POLLERR))
					c->dead = 1;
			}
			for (int w = 0; w < 2; w++)
				if (!s.paused[w] && !c->dead)
					push(fp, c, w, now);
		}
		if ((pfd[1].revents & POLLIN) && !(s.paused[0] || s.paused[1]))
			accept_one(fp);
		sweep(fp, 0);
	}
	sweep(fp, 1);
	free(pfd);
	return NULL;
}

struct fault_proxy *
fp_start(int target_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct fault_proxy *fp;
	int err;

	if ((fp = calloc(1, sizeof(*fp))) == NULL)
		return NULL;
	fp->target = target_port;
	fp->wake[0] = fp->wake[1] = -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fp->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		goto err1;
	if (bind(fp->lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fp->lfd, 64) == -1 ||
	    getsockname(fp->lfd, (struct sockaddr *)&sa, &len) == -1)
		goto err2;
	fp->port = ntohs(sa.sin_port);
	if (pipe2(fp->wake, O_NONBLOCK | O_CLOEXEC) == -1)
		goto err2;
	pthread_mutex_init(&fp->mu, NULL);
	pthread_cond_init(&fp->cv, NULL);
	if ((err = pthread_create(&fp->thread, NULL, run, fp)) != 0) {
		errno = err;
		goto err3;
	}
	return fp;
err3:
	pthread_cond_destroy(&fp->cv);
	pthread_mutex_destroy(&fp->mu);
	close(fp->wake[0]);
	close(fp->wake[1]);
err2:
	err = errno;
	close(fp->lfd);
	errno = err;
err1:
	free(fp);
	return NULL;
}

int
fp_port(const struct fault_proxy *fp)
{
	return fp->port;
}

/* Sets field0[w] for each direction w in dirs, then wakes the thread so
 * that its poll set follows. */
static void
update(struct fault_proxy *fp, int dirs, int *field0, int value)
{
	pthread_mutex_lock(&fp->mu);
	for (int w = 0; w < 2; w++)
		if (dirs & (1 << w))
			field0[w] = value;
	pthread_mutex_unlock(&fp->mu);
	poke(fp);
}

void
fp_delay(struct fault_proxy *fp, int dirs, int delay_ms)
{
	update(fp, dirs, fp->set.delay_ms, delay_ms);
}

void
fp_blackhole(struct fault_proxy *fp, int dirs, int on)
{
	update(fp, dirs, fp->set.blackhole, on);
}

void
fp_pause(struct fault_proxy *fp, int dirs)
{
	update(fp, dirs, fp->set.paused, 1);
}

void
fp_resume(struct fault_proxy *fp, int dirs)
{
	update(fp, dirs, fp->set.paused, 0);
}

void
fp_reset(struct fault_proxy *fp)
{
	pthread_mutex_lock(&fp->mu);
	memset(&fp->set, 0, sizeof(fp->set));
	pthread_mutex_unlock(&fp->mu);
	poke(fp);
}

void
fp_cut(struct fault_proxy *fp)
{
	unsigned want;

	pthread_mutex_lock(&fp->mu);
	want = ++fp->cut_req;
	pthread_mutex_unlock(&fp->mu);
	poke(fp);
	pthread_mutex_lock(&fp->mu);
	while (fp->cut_done != want)
		pthread_cond_wait(&fp->cv, &fp->mu);
	pthread_mutex_unlock(&fp->mu);
}

size_t
fp_conns(struct fault_proxy *fp)
{
	size_t n;

	pthread_mutex_lock(&fp->mu);
	n = fp->nconns;
	pthread_mutex_unlock(&fp->mu);
	return n;
}

size_t
fp_bytes(struct fault_proxy *fp, int dirs)
{
	size_t n = 0;

	pthread_mutex_lock(&fp->mu);
	for (int w = 0; w < 2; w++)
		if (dirs & (1 << w))
			n += fp->bytes[w];
	pthread_mutex_unlock(&fp->mu);
	return n;
}

void
fp_stop(struct fault_proxy *fp)
{
	if (fp == NULL)
		return;
	pthread_mutex_lock(&fp->mu);
	fp->stop = 1;
	pthread_mutex_unlock(&fp->mu);
	poke(fp);
	pthread_join(fp->thread, NULL);
	pthread_cond_destroy(&fp->cv);
	pthread_mutex_destroy(&fp->mu);
	close(fp->wake[0]);
	close(fp->wake[1]);
	close(fp->lfd);
	free(fp);
}
