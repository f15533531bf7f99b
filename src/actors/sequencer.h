/*
 * sequencer: a cluster group's messages in sequence order. Private to the
 * group actor (group_thread.c, group_cluster.c and group.c include it;
 * nothing else may).
 *
 * Redis numbers each message of a group; the subscriber hands them over
 * in whatever order and with whatever losses the node saw. The sequencer
 * fans out last + 1, drops numbers at or below last and messages of
 * another incarnation, parks higher numbers in order and repairs the
 * hole from the history (redis_cmd_history). What the history no longer
 * holds closes the members with 1013 and the group goes on past it; so
 * does a message or a baseline of another epoch (a break of continuity,
 * docs/design.md, "Continuity").
 * Messages that come before the baseline (seq_base) are parked and
 * sorted out when it comes.
 *
 * The struct is embedded in its group and is the group thread's alone,
 * handed over between successive threads as the roster is; only
 * seq_msg_new runs elsewhere (on the manager thread, before the request
 * is queued). The sequencer reaches its members only through the group
 * (group_fanout, group_close_current, group_close_for_good, group_close),
 * and Redis only through the command link, with CLUSTER_WAIT_MS.
 * Nothing here fails in a way the caller must handle: a failure is a gap
 * and is repaired, or its members are told.
 */
#ifndef GROUPCHAT_SEQUENCER_H
#define GROUPCHAT_SEQUENCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_keys.h"

struct cluster;
struct frame;
struct group;
struct member;
struct position;

/* Frames gathered in order before they are fanned out as one run: as
 * many as the group takes from its mailbox at once. */
#define SEQ_RUN 64

/* A message of the group's channel on its way to the group thread. */
struct seq_msg {
	uint64_t seq;
	char inc[REDIS_INC_LEN + 1];
	char ep[REDIS_EP_LEN + 1];
	struct frame *m;        /* a reference */
};

struct sequencer {
	struct group *g;                /* the owner */
	struct cluster *cl;
	const char *id;                 /* the group's id, for Redis and logs */
	size_t id_len;
	bool have_base;                 /* seq_base has run */
	bool deleted;                   /* its delete event came: no history
	                                 * left to repair a gap from, nothing
	                                 * to resync (set by the group thread) */
	uint64_t last;                  /* the last number fanned out */
	char inc[REDIS_INC_LEN + 1];    /* the incarnation it follows */
	char ep[REDIS_EP_LEN + 1];      /* and the epoch of its history */
	struct seq_msg **parked;        /* numbers above last + 1, ascending */
	size_t nparked, parked_cap;
	struct frame *out[SEQ_RUN];     /* frames in order, not fanned out yet */
	size_t nout;
};

/* An empty sequencer of group g (id, id_len) on cluster cl. */
void seq_init(struct sequencer *s, struct group *g, struct cluster *cl,
    const char *id, size_t id_len);

/* Frees what is parked. */
void seq_fini(struct sequencer *s);

/* A message numbered seq of incarnation inc in epoch ep whose payload is a frame as
 * the channel carries it (a kind byte, 'b' or 't', then the bytes; flen
 * >= 1). NULL if out of memory. */
/* Where the group stands: its epoch and the last number fanned out (or
 * gathered to be, when called between seq_flush calls). */
void seq_position(const struct sequencer *s, struct position *p);

/* The frames numbered after + 1 .. last in the epoch the group follows,
 * read from the history in Redis, into out[0..max) (a reference each).
 * Their count, or -1 with nothing kept when the history no longer holds
 * them all in this epoch, Redis could not be read, or they are more
 * than max. */
long seq_history(struct sequencer *s, uint64_t after, struct frame **out, size_t max);

/* A member resumes with since, which may be ahead of this node: its
 * subscriber lags, or lost a message no later one revealed yet. If since
 * is in the epoch the group follows, past last by at most max, the
 * numbers up to it are read from the history in Redis and fanned out to
 * the current members now, as a repair would, so since is not taken for
 * the future. What the history does not hold is not skipped: last then
 * stays below since (a since truly past the group's last message). */
void seq_catch_up(struct sequencer *s, const struct position *since, size_t max);

struct seq_msg *seq_msg_new(uint64_t seq, const char inc[REDIS_INC_LEN + 1],
    const char ep[REDIS_EP_LEN + 1], const char *frame, size_t flen);
void seq_msg_free(struct seq_msg *gm);

/* The baseline: incarnation inc, epoch ep, last number seq. Sorts out
 * what was parked before it. */
void seq_base(struct sequencer *s, const char inc[REDIS_INC_LEN + 1],
    const char ep[REDIS_EP_LEN + 1], uint64_t seq);

/* One message from the subscriber; takes gm over. */
void seq_accept(struct sequencer *s, struct seq_msg *gm);

/* Fans out the frames gathered in order so far (none: nothing happens). */
void seq_flush(struct sequencer *s);

/* After the subscriber reconnected or Redis restarted: a fresh baseline
 * (the group registered again if Redis lost it) and the repair up to it,
 * a break if its epoch changed, or the group's end if it is gone. */
void seq_resync(struct sequencer *s);

/* Redis refused c's publish (no incarnation), or a join found another
 * incarnation (c NULL): a resync, then c is closed with 1013 unless the
 * group is gone; a delete is left to its event, which may still be behind
 * messages this node has to fan out. Drops the caller's reference to c. */
void seq_refused(struct sequencer *s, struct member *c);

#endif
