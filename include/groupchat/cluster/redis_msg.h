/*
 * redis_msg: the parser of what a group's channel carries (docs/design.md,
 * "Keys and channels"): "m <inc> <ep> <seq> <frame>" for a message the publish
 * script relayed, "d <inc> <last>" for the delete script's event. A pure
 * function over bytes the subscriber received; it touches no socket.
 */
#ifndef GROUPCHAT_REDIS_MSG_H
#define GROUPCHAT_REDIS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "groupchat/cluster/redis_keys.h"

enum redis_event { RE_MESSAGE, RE_DELETED };

struct redis_msg {
	enum redis_event kind;
	char inc[REDIS_INC_LEN + 1];
	char ep[REDIS_EP_LEN + 1];   /* RE_MESSAGE: its epoch; "" otherwise */
	uint64_t seq;        /* RE_MESSAGE: > 0; RE_DELETED: the group's last */
	const char *frame;   /* RE_MESSAGE: points into the payload */
	size_t flen;
};

/* Parses "m <inc> <ep> <seq> <frame>" or "d <inc> <last>". 0, or -1 with EINVAL. */
int redis_msg_parse(const char *p, size_t n, struct redis_msg *m);

#endif
