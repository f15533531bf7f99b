/*
 * redis_linkstate: reporting a Redis actor's link up and down, deduplicated
 * by reason, and the backoff between reconnects. Who touches what: the
 * actor thread that owns the state and the link, alone.
 */
#include "groupchat/cluster/redis_linkstate.h"

#include <stdio.h>
#include <string.h>

#include "groupchat/cluster/redis_link.h"

void
redis_linkstate_down(struct redis_linkstate *s, const char *reason)
{
	if (!s->up && strcmp(reason, s->reason) == 0)
		return;
	s->up = 0;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	s->link(s->arg, 0, s->reason);
}

void
redis_linkstate_up(struct redis_linkstate *s)
{
	s->up = 1;
	s->reason[0] = '\0';
	s->link(s->arg, 1, NULL);
}

void
redis_linkstate_drop(struct redis_linkstate *s, struct redis_link **l,
                     const char *what, const char *err)
{
	char why[256];

	if (err == NULL) {
		redis_link_error(*l, what, why, sizeof(why));
		err = why;
	}
	redis_link_free(*l);
	*l = NULL;
	redis_linkstate_down(s, err);
}

long
redis_backoff_next(long ms)
{
	return ms * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS : ms * 2;
}
