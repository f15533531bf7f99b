/*
 * fanout: hands a run of broadcasts to every member of a roster. Private
 * to the group actor (group_thread.c includes it; nothing else may).
 *
 * A run is consecutive BROADCASTs taken from the mailbox in one batch.
 * Each frame takes all its members' references in one atomic add, and
 * each member takes the whole run under one lock of its send queue, so
 * the cost per member per message is a pointer copy. A member without
 * room waits for it, but the run waits at most GROUP_SLOW_WAIT_MS in all
 * however many members are full; a member still without room then is a
 * slow consumer, closed with GROUP_SLOW_CODE (1008) and removed. Runs on
 * the group thread; fails in no way the caller must handle.
 */
#ifndef GROUPCHAT_FANOUT_H
#define GROUPCHAT_FANOUT_H

#include <stddef.h>

struct frame;
struct position;
struct roster;
struct stats;

/* The longest run fanout_run takes (a mailbox batch, GROUP_BATCH). */
#define FANOUT_RUN_MAX 64

/* Queues ms[0..k) (0 < k <= FANOUT_RUN_MAX) to every member of r, in
 * order, and removes the members that were slow or already closed. With
 * first (the position of ms[0]; the others follow it), members in
 * groupchat.v1 mode are queued the run spelled with its positions
 * instead (position_stamp), made once, at the first of them; one that
 * cannot be made closes them with 1011. The caller keeps its own
 * references to ms. Adds msgs_out, bytes_out and slow_drops to st (NULL:
 * none). Returns the frames queued, over all members. */
size_t fanout_run(struct roster *r, struct frame *const *ms, size_t k,
    const struct position *first, struct stats *st);

#endif
