/*
 * itest_v1: a groupchat.v1 client for the resume tests (it_resume.c on
 * one node, it_cluster_resume.c across nodes): the join that offers the
 * subprotocol and reads the status frame, the status's word and
 * position, and a positioned message frame taken apart.
 *
 * Unlike itest, these assert (Check's ck_assert): each fails the test
 * when the server's answer is not what docs/protocol.md says.
 *
 * Who touches what: only the calling test thread.
 */
#ifndef GROUPCHAT_ITEST_V1_H
#define GROUPCHAT_ITEST_V1_H

#include <stddef.h>

#include "groupchat/core/position.h"
#include "itest.h"

/* The header a groupchat.v1 client sends with its upgrade. */
#define ITV1_OFFER "Sec-WebSocket-Protocol: groupchat.v1\r\n"

/* What the helpers wait for a frame: generous, for a loaded machine. */
#define ITV1_WAIT_MS (2 * IT_TIMEOUT_MS)

/* Joins path (a group's path, with its query) on port offering
 * groupchat.v1: the 101 must select it, once, and the first frame be a
 * text status, copied NUL-terminated into status (slen bytes). */
struct it_ws *itv1_join(int port, const char *path, char *status, size_t slen);

/* "ok P" or "reset P": the status must begin with word; P parsed. */
struct position itv1_status(const char *status, const char *word);

/* The next frame on ws must be a message of opcode op, "<position>\n<cid>
 * - <body>": its position; the body, NUL-terminated, into body (blen
 * bytes). */
struct position itv1_recv(struct it_ws *ws, int op, char *body, size_t blen);

/* Nothing more arrives on ws within ITV1_QUIET_MS (a frame fails the
 * test, naming it). */
#define ITV1_QUIET_MS 300
void itv1_expect_quiet(struct it_ws *ws);

/*
 * The seam under load (it_resume on one node, it_cluster_resume across
 * nodes): a plain member sends "n<i>" about once a millisecond while two
 * v1 members read, a reference that never drops and a resumer that drops
 * and resumes with since every `every` messages it receives. Over all
 * their connections each must see every offset from 1 to n once, in
 * order, in one epoch, each with the message sent i-th; every resume must
 * answer ok at or past where the resumer stood.
 */
struct itv1_seam {
	int n, every;           /* messages sent; the resumer's drop period */
	int64_t stall_ms;       /* the whole run must end within this */
	/* Joins the resumer again with since at its drop-th resume (1, 2,
	 * ...): the connection, its status into status (slen bytes). */
	struct it_ws *(*rejoin)(void *arg, int drop, const char *since, char *status,
	    size_t slen);
	void *arg;
};

/* Runs the seam with plain, ref and *res joined (the two v1 members'
 * status read; epoch is theirs). The resumer's connection replaces *res
 * at each resume; the connections stay the caller's to free. Returns how
 * many times the resumer dropped. */
int itv1_seam_run(const struct itv1_seam *s, struct it_ws *plain, struct it_ws *ref,
    struct it_ws **res, uint64_t epoch);

#endif
