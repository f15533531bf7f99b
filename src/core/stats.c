/*
 * stats: counters are relaxed atomics updated in place by every thread
 * (see the macros in stats.h); this file sets them up and maps close codes
 * to their slots. Slot 0 is "other", slot i > 0 counts the i-th code of
 * STATS_CLOSE_CODES.
 */
#include "groupchat/core/stats.h"

#include <string.h>

static const uint16_t stats_codes[STATS_NCLOSE - 1] = STATS_CLOSE_CODES;

void
stats_init(struct stats *st)
{
	unsigned i;

	/* Every counter, those named below and any added since, starts at 0. */
	memset(st, 0, sizeof(*st));
	atomic_init(&st->groups, 0);
	atomic_init(&st->members, 0);
	atomic_init(&st->group_threads, 0);
	atomic_init(&st->msgs_in, 0);
	atomic_init(&st->msgs_out, 0);
	atomic_init(&st->bytes_in, 0);
	atomic_init(&st->bytes_out, 0);
	atomic_init(&st->slow_drops, 0);
	atomic_init(&st->joins_refused, 0);
	atomic_init(&st->recoveries, 0);
	atomic_init(&st->resets, 0);
	atomic_init(&st->replayed, 0);
	for (i = 0; i < STATS_NCLOSE; i++)
		atomic_init(&st->closes[i], 0);
	clock_gettime(CLOCK_MONOTONIC, &st->started);
}

void
stats_count_close(struct stats *st, uint16_t code)
{
	unsigned i, slot = 0;

	for (i = 0; i < STATS_NCLOSE - 1; i++) {
		if (stats_codes[i] == code) {
			slot = i + 1;
			break;
		}
	}
	stats_add(st, closes[slot], 1);
}

uint16_t
stats_close_code(unsigned i)
{
	return i > 0 && i < STATS_NCLOSE ? stats_codes[i - 1] : 0;
}

double
stats_uptime(const struct stats *st)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - st->started.tv_sec) +
	    (double)(now.tv_nsec - st->started.tv_nsec) / 1e9;
}
