/*
 * hist.c: a fixed-size latency histogram. Deliveries can number in the
 * millions per scenario, so samples are not kept: each lands in a
 * log-linear bucket (exact below 128 ns, then 64 buckets per power of two),
 * which bounds memory at 30 KiB and the quantile error at 1/128 of the value.
 */
#include "bench.h"

static unsigned
hist_index(uint64_t v)
{
	unsigned e;

	if (v < 128)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v);
	return 128 + (e - 7) * 64 + (unsigned)((v >> (e - 6)) & 63);
}

/* The middle of bucket i. */
static uint64_t
hist_value(unsigned i)
{
	unsigned e, m;

	if (i < 128)
		return i;
	e = (i - 128) / 64 + 7;
	m = (i - 128) % 64;
	return ((uint64_t)(64 + m) << (e - 6)) + ((uint64_t)1 << (e - 6)) / 2;
}

void
bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	h->bucket[hist_index(ns)]++;
	h->count++;
	if (ns > h->max)
		h->max = ns;
}

uint64_t
bench_hist_quantile(const struct bench_hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	unsigned i;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			break;
	}
	v = hist_value(i);
	return v > h->max ? h->max : v;
}
