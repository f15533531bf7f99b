/*
 * stats: the server's counters, kept with relaxed atomics so that the
 * message path never takes a lock to count. One instance lives in the
 * server context and is handed to the manager and the groups; the
 * server counts joins, messages in and closes itself.
 */
#ifndef GROUPCHAT_STATS_H
#define GROUPCHAT_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Close codes counted one by one; anything else lands in "other". */
#define STATS_CLOSE_CODES {1000, 1001, 1002, 1006, 1007, 1008, 1009, 1011, 1013}
#define STATS_NCLOSE 10 /* the nine above plus other */

struct stats {
	atomic_ullong groups;        /* gauge: groups registered */
	atomic_ullong members;       /* gauge: members joined to some group */
	atomic_ullong group_threads; /* gauge: group threads alive */
	atomic_ullong msgs_in;       /* messages received from members */
	atomic_ullong msgs_out;      /* frames queued to members */
	atomic_ullong bytes_in;      /* payload bytes received */
	atomic_ullong bytes_out;     /* frame bytes queued to members */
	atomic_ullong slow_drops;    /* members closed as slow consumers */
	atomic_ullong joins_refused; /* joins refused at the member cap */
	atomic_ullong creates_refused; /* creates refused at the group cap */
	atomic_ullong recoveries;    /* groupchat.v1 joins with since answered ok */
	atomic_ullong resets;        /* groupchat.v1 joins with since answered reset */
	atomic_ullong replayed;      /* messages sent again to recovering members */
	atomic_ullong closes[STATS_NCLOSE];
	/* Cluster mode only (cluster set once before the server serves): the
	 * publisher's messages answered and round trips, a snapshot taken
	 * when a report is rendered. */
	int cluster;
	atomic_ullong redis_published;
	atomic_ullong redis_round_trips;
	struct timespec started;     /* CLOCK_MONOTONIC at stats_init */
};

void stats_init(struct stats *st);

/* Adds one to the counter for close code (the "other" slot if unlisted). */
void stats_count_close(struct stats *st, uint16_t code);

/* The close code counted in slot i (0 for "other"), i < STATS_NCLOSE. */
uint16_t stats_close_code(unsigned i);

/* Seconds since stats_init. */
double stats_uptime(const struct stats *st);

#define stats_add(st, field, n) \
	atomic_fetch_add_explicit(&(st)->field, (n), memory_order_relaxed)
#define stats_sub(st, field, n) \
	atomic_fetch_sub_explicit(&(st)->field, (n), memory_order_relaxed)
#define stats_get(st, field) \
	atomic_load_explicit(&(st)->field, memory_order_relaxed)

#endif
