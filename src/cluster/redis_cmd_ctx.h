/*
 * The command actor's state and its requests, shared by redis_cmd.c (the
 * thread: link, reconnect, loop, start and stop) and redis_cmd_req.c (the
 * request kinds: what each runs on the link, the heartbeat, and the
 * caller's side that queues a request and waits). Private to those two.
 *
 * Who touches what: the fields under "the actor thread's own" only on
 * the actor's thread; a queued request's done, abandoned and results
 * only under rmu.
 */
#ifndef GROUPCHAT_REDIS_CMD_CTX_H
#define GROUPCHAT_REDIS_CMD_CTX_H

#include <pthread.h>
#include <stdint.h>

#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_cmd.h"
#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_linkstate.h"
#include "groupchat/cluster/redis_script.h"

struct chan;

/* The most cids one heartbeat refreshes (a node holds far fewer). */
#define HELD_MAX 65536

enum op { OP_CREATE, OP_DELETE, OP_BASELINE, OP_HISTORY, OP_REREGISTER, OP_CLAIM,
	OP_RELEASE, OP_CHECK };

struct hent {
	uint64_t seq;
	char ep[REDIS_EP_LEN + 1];
	char *frame;
	size_t flen;
};

struct creq {
	enum op op;
	char *id;
	size_t len;
	char inc[REDIS_INC_LEN + 1];    /* in: create, delete ("" any), reregister;
	                                 * out: claim */
	uint64_t a, b;                  /* seq range, cid, or create's max */
	struct redis_base base;         /* out: baseline */
	int later;                      /* nobody ever waits: run it all the same */
	/* under rmu once queued */
	int done, abandoned;
	int64_t rv;
	int err;                        /* errno when rv == -1 */
	struct hent *hist;
	size_t nhist, caphist;
};

struct redis_cmd {
	struct redis_connector conn;
	char node[REDIS_NODE_LEN + 1];
	struct chan *ch;                /* struct creq * */
	struct redis_cmd_cb cb;
	int timeout_ms;
	unsigned ttl_ms;
	pthread_t thread;
	int started;
	pthread_mutex_t rmu;
	pthread_cond_t rcv;
	/* the actor thread's own */
	struct redis_link *l;
	struct redis_scripts sc;
	char run_id[REDIS_RUN_LEN + 1];    /* the process: a change is a restart */
	char token[REDIS_RUN_LEN + 1];     /* the epoch token (redis_lineage.h) */
	struct redis_linkstate ls;
	uint32_t *held, *taken;
};

/* Frees q and all it holds. */
void cmd_req_free(struct creq *q);

/* Hands q's result back: to its waiter, or to free() if nobody waits. */
void cmd_finish(struct redis_cmd *c, struct creq *q, int64_t rv, int err);

/* Runs q on the link. The result, or -1 (then the link is dropped). */
int64_t cmd_exec(struct redis_cmd *c, struct creq *q);

/* Reads the epoch token again and refreshes the node's claims; drops the
 * link on failure. */
void cmd_heartbeat(struct redis_cmd *c);

/* Frees the link and reports it down with err. */
void cmd_drop_link(struct redis_cmd *c, const char *err);

/* Reads the link's epoch token (redis_epoch_token) for the process whose
 * run_id part is run into c->token, and logs redis_epoch_token (kind
 * lineage or run_id) when it differs from the one before: how an
 * operator sees that the node judged its Redis durable. 0, or -1 with
 * err as redis_epoch_token. */
int cmd_read_token(struct redis_cmd *c, const char *run, char *err, size_t errlen);

#endif
