/*
 * redis_msg: the channel payload parser. The incarnation is exactly
 * REDIS_INC_LEN lowercase hex digits and the epoch REDIS_EP_LEN, as
 * redis_inc_new and redis_ep_new draw them (so no NUL, space or other
 * byte can make two of them compare equal); a sequence number is decimal,
 * above 0 in a message (a delete's last number may be 0: nothing was
 * sent), and one long enough to risk overflowing 64 bits is refused;
 * the frame is every byte after the space that ends the sequence
 * number, possibly none, but that space must be there.
 *
 * Who touches what: stateless; the result points into the caller's bytes.
 */
#include "groupchat/cluster/redis_msg.h"

#include <errno.h>
#include <string.h>

/* Parses a decimal that fits 64 bits from p/n up to a space: at least
 * one digit. */
static int
parse_num(const char *p, size_t n, uint64_t *v, size_t *used)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n && p[i] != ' '; i++) {
		if (p[i] < '0' || p[i] > '9' || *v > (UINT64_MAX - 9) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(p[i] - '0');
	}
	*used = i;
	return i == 0 ? -1 : 0;
}

int
redis_msg_parse(const char *p, size_t n, struct redis_msg *m)
{
	size_t used;

	if (n < 2 + REDIS_INC_LEN || p[1] != ' ' || (p[0] != 'm' && p[0] != 'd') ||
	    !redis_is_hex(p + 2, REDIS_INC_LEN))
		goto bad;
	memcpy(m->inc, p + 2, REDIS_INC_LEN);
	m->inc[REDIS_INC_LEN] = '\0';
	if (p[0] == 'd') {
		/* " <last>", the group's last number, and nothing after it */
		p += 2 + REDIS_INC_LEN;
		n -= 2 + REDIS_INC_LEN;
		if (n < 2 || p[0] != ' ' || parse_num(p + 1, n - 1, &m->seq, &used) == -1 ||
		    used + 1 != n)
			goto bad;
		m->kind = RE_DELETED;
		m->ep[0] = '\0';
		m->frame = NULL;
		m->flen = 0;
		return 0;
	}
	p += 2 + REDIS_INC_LEN;
	n -= 2 + REDIS_INC_LEN;
	if (n < 1 + REDIS_EP_LEN || p[0] != ' ' || !redis_is_hex(p + 1, REDIS_EP_LEN))
		goto bad;
	memcpy(m->ep, p + 1, REDIS_EP_LEN);
	m->ep[REDIS_EP_LEN] = '\0';
	p += 1 + REDIS_EP_LEN;
	n -= 1 + REDIS_EP_LEN;
	if (n < 3 || p[0] != ' ' || parse_num(p + 1, n - 1, &m->seq, &used) == -1 ||
	    m->seq == 0 || used + 1 >= n)
		goto bad;
	m->kind = RE_MESSAGE;
	m->frame = p + 2 + used;
	m->flen = n - 2 - used;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
