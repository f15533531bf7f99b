/*
 * itest_inproc: a cluster in the test's own process (it_cluster,
 * it_cluster_resume): a real redis-server (redis_fixture) and nodes
 * started with it_server_start, each with its own CivetWeb context and
 * actors (server_start supports several per process). The black-box
 * cluster tests run nodes as child processes instead (itest_cluster).
 *
 * Calls fail the test (ck_assert) when something cannot be set up.
 *
 * Who touches what: only the test process's one thread, in the forked
 * child Check runs each test in.
 */
#ifndef GROUPCHAT_ITEST_INPROC_H
#define GROUPCHAT_ITEST_INPROC_H

#include "groupchat/config.h"

#define INPROC_NODES 3

/* How long a node may take to answer /healthz 200 after it starts. */
#define INPROC_UP_MS (2 * IT_TIMEOUT_MS)

struct redis_fixture;
struct itest_server;
struct it_ws;

struct inproc {
	struct redis_fixture *rf;
	struct itest_server *node[INPROC_NODES]; /* NULL: not running */
	int port[INPROC_NODES];
};

/* Starts node i on the Redis at 127.0.0.1:rport with cfg (NULL:
 * it_config's), whose Redis URL is set here. */
void inproc_start(struct inproc *c, int i, int rport, const struct config *cfg);

/* Redis, then nodes 0 .. n-1 on it with cfg (NULL: it_config's); waits
 * until every /healthz answers 200. */
void inproc_up(struct inproc *c, int n, const struct config *cfg);

/* Stops every node running and Redis. */
void inproc_down(struct inproc *c);

/* A plain member of group id on node i; fails the test, naming the
 * status, if the join is refused. */
struct it_ws *inproc_join(struct inproc *c, int i, const char *id);

/* Whether c's Redis answers cmd with ":1" within ms. */
int inproc_wait_redis_has(struct inproc *c, const char *cmd, int ms);

#endif
