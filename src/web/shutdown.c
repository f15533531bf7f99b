/*
 * shutdown: server_stop's sequence. Close every group (members get 1001),
 * give the writers a bounded grace to put it on the wire, stop CivetWeb
 * (with a waker so mg_stop does not sit out its master's poll), then join
 * the parked writer threads, stop the keepalive and the manager, in
 * cluster mode then the Redis actors (the members' ids released first),
 * and free the context.
 *
 * Who touches what: server_stop runs on the caller's thread; the stop
 * waker touches only its own struct and a socket of its own.
 */
#include "groupchat/web/server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/group.h"
#include "groupchat/actors/keepalive.h"
#include "groupchat/actors/manager.h"
#include "groupchat/cluster/redis_sentinel.h"
#include "groupchat/cluster/redis_url.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/cid.h"
#include "groupchat/core/thread.h"
#include "groupchat/core/thread_pool.h"
#include "server_ctx.h"

/* Longest wait at shutdown for members to take their 1001 and go: the
 * tick, so that a member that never answers is gone when it ends. */
#define STOP_GRACE_MS WS_TICK_MS

/* The stop waker only pokes a socket. */
#define STOP_WAKER_STACK (64 * 1024)

/* Connects to our own listener and hangs up: wakes CivetWeb's master. */
static void
poke_listener(const struct server *srv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port) };
	int fd;

	if (inet_pton(AF_INET, srv->cfg.listen, &sa.sin_addr) != 1 ||
	    sa.sin_addr.s_addr == htonl(INADDR_ANY))
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return;
	(void)connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
}

struct stop_waker {
	const struct server *srv;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
};

static void *
stop_waker_main(void *arg)
{
	struct stop_waker *w = arg;
	struct timespec deadline;

	pthread_mutex_lock(&w->lock);
	while (!w->done) {
		poke_listener(w->srv);
		chan_deadline(&deadline, 20);
		pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/*
 * mg_stop: CivetWeb's master thread polls its listener in 2 s slices and
 * sees the stop flag only between them, so a plain mg_stop takes up to
 * 2 s even with nothing connected. A helper thread pokes the listener
 * every 20 ms while mg_stop runs; the first poke after the flag is set
 * ends the master's poll at once.
 */
static void
stop_civetweb(struct server *srv)
{
	struct stop_waker w = { .srv = srv, .done = 0 };
	pthread_condattr_t ca;
	pthread_t tid;
	int started;

	pthread_mutex_init(&w.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &ca);
	pthread_condattr_destroy(&ca);
	started = thread_start(&tid, "gc-stopwaker", STOP_WAKER_STACK,
	    stop_waker_main, &w) == 0;
	mg_stop(srv->mg);
	if (started) {
		pthread_mutex_lock(&w.lock);
		w.done = 1;
		pthread_cond_signal(&w.cond);
		pthread_mutex_unlock(&w.lock);
		pthread_join(tid, NULL);
	}
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
}

void
server_stop(struct server *srv)
{
	struct timespec deadline;

	atomic_store(&srv->stopping, 1);
	manager_close_all(srv->manager, GROUP_SHUTDOWN_CODE, GROUP_SHUTDOWN_REASON);
	/* Give the writers time to put their 1001 on the wire and the peers
	 * time to answer it: mg_stop makes every later write fail at once.
	 * Bounded, so that a peer that never answers cannot hold us past 3 s. */
	chan_deadline(&deadline, STOP_GRACE_MS);
	pthread_mutex_lock(&srv->slots_lock);
	while (atomic_load(&srv->slots) > 0 &&
	    pthread_cond_timedwait(&srv->slots_empty, &srv->slots_lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&srv->slots_lock);
	/* The groups and the manager still run: close handlers need them. */
	stop_civetweb(srv);
	/* Every close handler has joined its member's writer. */
	thread_pool_free(srv->writers);
	keepalive_stop(srv->keepalive);
	/* Cluster mode: the Redis actors outlive the groups, which use the
	 * command link, but send the manager nothing more once it goes. */
	if (srv->cluster != NULL)
		cluster_detach(srv->cluster);
	manager_free(srv->manager);
	if (srv->cluster != NULL)
		cluster_free(srv->cluster);
	redis_sentinel_free(srv->sentinel);
	redis_url_free(srv->redis_url);
	cid_set_free(srv->ids);
	pthread_mutex_destroy(&srv->slots_lock);
	pthread_cond_destroy(&srv->slots_empty);
	free(srv);
	mg_exit_library();
}

