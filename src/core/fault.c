/*
 * fault: armed failure counters for tests (see fault.h).
 *
 * Who touches what: tests arm the counters; any thread at a fault point
 * takes one with a compare-and-swap, so n arms fail exactly n hits.
 */
#include "groupchat/core/fault.h"

#include <stdatomic.h>

static atomic_uint fault_armed[FAULT_NPOINTS];

void
fault_arm(enum fault_point p, unsigned n)
{
	atomic_store(&fault_armed[p], n);
}

bool
fault_hit(enum fault_point p)
{
	unsigned n = atomic_load_explicit(&fault_armed[p], memory_order_relaxed);

	while (n > 0)
		if (atomic_compare_exchange_weak(&fault_armed[p], &n, n - 1))
			return true;
	return false;
}
