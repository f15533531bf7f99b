/*
 * position: "<epoch>:<offset>" parsed and written, and a message spelled
 * with it. Strict on input: the one spelling the server writes is the
 * only one it reads, so two equal positions are equal strings.
 *
 * Who touches what: pure functions on the caller's buffers; any thread.
 */
#include "groupchat/core/position.h"

#include <inttypes.h>
#include <stdio.h>

#include "groupchat/core/frame.h"

int
position_parse(const char *s, size_t len, struct position *out,
    const char **why)
{
	struct position p = { 0, 0 };
	size_t i;
	unsigned d;

	if (len < POSITION_EPOCH_LEN + 2 || s[POSITION_EPOCH_LEN] != ':') {
		*why = "not <epoch>:<offset>";
		return -1;
	}
	for (i = 0; i < POSITION_EPOCH_LEN; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = (unsigned)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = (unsigned)(s[i] - 'a' + 10);
		else {
			*why = "epoch is not 16 lowercase hex digits";
			return -1;
		}
		p.epoch = p.epoch << 4 | d;
	}
	s += POSITION_EPOCH_LEN + 1;
	len -= POSITION_EPOCH_LEN + 1;
	if (len > 1 && s[0] == '0') {
		*why = "offset has a leading zero";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*why = "offset is not a decimal number";
			return -1;
		}
		d = (unsigned)(s[i] - '0');
		if (p.offset > (UINT64_MAX - d) / 10) {
			*why = "offset is too large";
			return -1;
		}
		p.offset = p.offset * 10 + d;
	}
	*out = p;
	return 0;
}

size_t
position_format(const struct position *p, char out[POSITION_MAX])
{
	return (size_t)snprintf(out, POSITION_MAX, "%016" PRIx64 ":%" PRIu64,
	    p->epoch, p->offset);
}

struct frame *
position_stamp(const struct position *p, const struct frame *m)
{
	char pos[POSITION_MAX];
	size_t n = position_format(p, pos);

	pos[n++] = '\n';
	return frame_new(frame_opcode(m), pos, n, frame_payload(m),
	    frame_payload_len(m));
}
