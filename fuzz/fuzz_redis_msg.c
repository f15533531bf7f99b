/*
 * redis_msg: on any bytes, redis_msg_parse either refuses them (EINVAL)
 * or returns an event that is exactly the bytes it came from: "d <inc>
 * <last>", or "m <inc> <ep> <seq> <frame>" with the frame the tail of the
 * input. The incarnation is REDIS_INC_LEN lowercase hex digits, the epoch
 * REDIS_EP_LEN; the numbers are decimal digits (leading zeros allowed), a
 * message's above 0.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/cluster/redis_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether p[0..n) is digits only, worth seq. */
static int
is_seq(const char *p, size_t n, uint64_t seq)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return n > 0 && v == seq;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *q;
	const size_t head = 2 + REDIS_INC_LEN;
	struct redis_msg m;

	errno = 0;
	if (redis_msg_parse(p, size, &m) == -1) {
		if (errno != EINVAL)
			abort();
		return 0;
	}
	if (size < head || p[1] != ' ' || memcmp(p + 2, m.inc, REDIS_INC_LEN) != 0 ||
	    m.inc[REDIS_INC_LEN] != '\0' || strspn(m.inc, "0123456789abcdef") != REDIS_INC_LEN)
		abort();
	if (m.kind == RE_DELETED) {
		/* " <last>" after the incarnation, and nothing more */
		if (p[0] != 'd' || size < head + 2 || p[head] != ' ' ||
		    !is_seq(p + head + 1, size - head - 1, m.seq) || m.frame != NULL ||
		    m.flen != 0 || m.ep[0] != '\0')
			abort();
		return 0;
	}
	if (m.kind != RE_MESSAGE || p[0] != 'm' || m.seq == 0)
		abort();
	/* " <ep>" after the incarnation */
	q = p + head;
	if (size < head + 1 + REDIS_EP_LEN || q[0] != ' ' ||
	    memcmp(q + 1, m.ep, REDIS_EP_LEN) != 0 || m.ep[REDIS_EP_LEN] != '\0' ||
	    strspn(m.ep, "0123456789abcdef") != REDIS_EP_LEN)
		abort();
	/* " <seq> " between the epoch and the frame, the frame the tail */
	q += 1 + REDIS_EP_LEN;
	if (m.frame < q + 3 || m.frame + m.flen != p + size || q[0] != ' ' ||
	    m.frame[-1] != ' ' || !is_seq(q + 1, (size_t)(m.frame - 1 - (q + 1)), m.seq))
		abort();
	return 0;
}
