/*
 * fault_cluster: what the fault-injection scenarios (test/it_fault_*.c)
 * share: a redis-server (redis_fixture: a SAVE leaves a snapshot that
 * rf_restart_saved starts from), one fault_proxy per node between that node and Redis, the
 * nodes as processes (itest_cluster's cl_node), and a conversation of
 * members ("talk") whose every frame is recorded and, at the end, judged
 * by history_check.
 *
 * Member i sends "m-<i>-<k>" (k = 0, 1, ...), so its tag is "m-<i>";
 * members are never forgotten, so a member that joins late is judged
 * with the rest. Each member carries the label of the group instance it
 * joined (a group deleted and created again is a new label).
 *
 * Calls named fc_up, fc_node_*, fc_join_ok, fc_wait_* and fc_judge fail
 * the test (ck_assert) when their condition does not hold; the rest
 * return values for the test to judge. Nothing sleeps: waits poll
 * sockets, processes or /healthz until a condition or a deadline.
 *
 * Who touches what: only the test process's one thread, in the forked
 * child Check runs each test in; each proxy has its own thread inside.
 */
#ifndef GROUPCHAT_FAULT_CLUSTER_H
#define GROUPCHAT_FAULT_CLUSTER_H

#include <stddef.h>

#include "fault_proxy.h"
#include "itest_cluster.h"

/* The wait for anything a fault delays: three times the usual. */
#define FC_WAIT_MS (3 * IT_TIMEOUT_MS)

#define FC_MAX_PEERS 32

struct fc {
	struct redis_fixture *rf;
	struct fault_proxy *fp[CL_MAX_NODES];   /* node i reaches Redis through fp[i] */
	char url[CL_MAX_NODES][64];
	struct cl_node node[CL_MAX_NODES];      /* p NULL while stopped */
	int n;
};

/* Starts Redis, a proxy per node and n nodes, and waits until every
 * /healthz says 200. */
void fc_up(struct fc *c, int n);

/* Stops every node, proxy and Redis. */
void fc_down(struct fc *c);

/* Starts node i again (after a kill or term), through its proxy. */
void fc_node_start(struct fc *c, int i);

/* Waits until every running node's /healthz answers want. */
void fc_wait_health(struct fc *c, int want, const char *why);

/* SAVE on Redis (a snapshot in its directory): 0 or -1. */
int fc_save(struct fc *c);

/* ---- a conversation ------------------------------------------------- */

struct fc_talk {
	struct cl_peer ps[FC_MAX_PEERS];
	int sent[FC_MAX_PEERS];
	char label[FC_MAX_PEERS][32]; /* the group instance each joined */
	size_t n;
};

/* Joins group id through node as a new member labelled label (id when
 * NULL). Its index, or minus the HTTP status of a refused join. */
int fc_join(struct fc_talk *t, struct fc *c, int node, const char *id,
            const char *label);

/* fc_join that fails the test unless the join answers 101. */
int fc_join_ok(struct fc_talk *t, struct fc *c, int node, const char *id);

/* Every open member sends its next message (rounds times over). */
void fc_rounds(struct fc_talk *t, int rounds);

/* Only member i sends, count messages. */
void fc_send(struct fc_talk *t, size_t i, int count);

/* Pumps until every open member has every open sender's last message,
 * or timeout_ms pass. 1 or 0. */
int fc_settle(struct fc_talk *t, int timeout_ms);

/* Pumps until every open member on node has received body, or
 * timeout_ms pass. 1 or 0. */
int fc_wait_has(struct fc_talk *t, int node, const char *body, int timeout_ms);

/* How many members are open, and how many were closed with code. */
size_t fc_open(const struct fc_talk *t);
size_t fc_closed_with(const struct fc_talk *t, int code);

/* The end of every scenario: two more rounds that every open member
 * must receive, then history_check over every member; fails the test
 * (with the checker's report and the nodes' log tails) on any violation,
 * and when a member ended in a way outside the allowed ones (close
 * codes or HC_EOF, a 0-terminated list, or NULL; 1013 and still open
 * are always allowed). */
void fc_judge(struct fc_talk *t, struct fc *c, const char *why, const int *allowed);

/* Closes every member and frees what was recorded. */
void fc_talk_free(struct fc_talk *t);

/* The scenarios' common start: three nodes (fc_up), group "talk"
 * created, two members on each node (member i on node i % 3), three
 * rounds every member received. Fails the test otherwise. */
void fc_talk3_up(struct fc *c, struct fc_talk *t);

/* The common end: fc_talk_free, then fc_down. */
void fc_talk3_down(struct fc *c, struct fc_talk *t);

#endif
