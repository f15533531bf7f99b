/*
 * history_check: the one checker of protocol.md's cluster guarantee 7
 * (no silent gaps) and 3 (one total order), in Jepsen's manner: it judges
 * what every member observed, after the fact, and names each breach.
 *
 * Its input is, per member, the group instance it joined, the tag it
 * sends under, the data frames it received in arrival order, how it
 * ended and how many messages it sent. Every payload is "<tag>-<k>": the
 * sender's tag (unique in the whole run) and its per-sender number k =
 * 0, 1, 2, ... so a hole in a sender's stream shows. A frame is
 * "<cid> - <payload>". Members of different group instances (a group
 * deleted and created again is a new instance) are never compared.
 *
 * The rules, per group instance:
 * - every frame parses and comes from a member of the same instance
 *   (HC_MALFORMED, HC_FOREIGN);
 * - no member receives a message twice (HC_DUPLICATE), and each sender's
 *   messages arrive in the order sent and without a hole
 *   (HC_SENDER_ORDER, HC_SENDER_GAP);
 * - one order: the members' sequences, taken together, admit one order
 *   of all the instance's messages (HC_ORDER: two members disagree on
 *   the order of two messages both saw, or three or more do in a cycle);
 * - contiguous: nothing that order puts between two consecutive
 *   messages of a member is missing from it (HC_GAP);
 * - to the end: a member still open, or closed 1000 (group deleted),
 *   holds everything up to the last message of the instance (HC_TAIL);
 *   one closed 1013 ("try again later"), 1001 (its node shut down), or
 *   whose connection was lost (HC_EOF) or closed by itself (HC_LEFT) may
 *   end early; any other close code is HC_CLOSE;
 * - a sender still open had every message it sent relayed to somebody
 *   (HC_LOST).
 * What it cannot see: a member whose very first messages after its join
 * are missing (nothing marks where a join falls in the order), and a
 * hole between messages no member saw side by side.
 *
 * Who touches what: the caller's thread only; the input is read, never
 * kept. hc_check fails with -1 and errno ENOMEM only.
 */
#ifndef GROUPCHAT_HISTORY_CHECK_H
#define GROUPCHAT_HISTORY_CHECK_H

#include <stddef.h>

/* How a member ended, beside the close codes the server sends. */
#define HC_OPEN 0  /* still connected when judged */
#define HC_EOF (-1) /* the connection ended without a close frame */
#define HC_LEFT (-2) /* the member closed it itself */

struct hc_member {
	const char *group;    /* the group instance it joined */
	const char *tag;      /* it sends "<tag>-<k>" */
	char *const *frames;  /* received data frames, in arrival order */
	size_t nframes;
	int close;            /* HC_OPEN, HC_EOF, HC_LEFT or a close code */
	int sent;             /* messages sent, k = 0 .. sent - 1; -1: not known */
};

enum hc_kind {
	HC_MALFORMED,
	HC_FOREIGN,
	HC_DUPLICATE,
	HC_SENDER_ORDER,
	HC_SENDER_GAP,
	HC_ORDER,
	HC_GAP,
	HC_TAIL,
	HC_CLOSE,
	HC_LOST,
	HC_NKINDS
};

struct hc_report {
	size_t count[HC_NKINDS]; /* violations of each kind */
	size_t violations;       /* their sum */
	size_t groups, members, messages; /* what was judged */
	char *text;              /* one line per violation (the first
	                            HC_TEXT_LINES), NULL when none */
};

#define HC_TEXT_LINES 40

/* Judges the n members and fills *r (free it with hc_report_free). The
 * number of violations, or -1 with errno ENOMEM. */
long hc_check(const struct hc_member *m, size_t n, struct hc_report *r);

void hc_report_free(struct hc_report *r);

/* "duplicate", "gap", ...: the kind's name in the report. */
const char *hc_kind_name(enum hc_kind k);

#endif
