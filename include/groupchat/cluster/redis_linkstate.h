/*
 * redis_linkstate: the link state a Redis actor reports through its link
 * callback, kept once for the publisher, subscriber and command actors.
 * Down is reported once per reason (a repeated failure with the same
 * reason stays quiet), up once per reconnect. Also the capped backoff
 * between reconnects. Who touches what: a state belongs to the actor
 * thread that owns the link; no locking. Cannot fail.
 */
#ifndef GROUPCHAT_REDIS_LINKSTATE_H
#define GROUPCHAT_REDIS_LINKSTATE_H

struct redis_link;

#define REDIS_BACKOFF_MIN_MS 50
#define REDIS_BACKOFF_MAX_MS 2000

struct redis_linkstate {
	void (*link)(void *arg, int up, const char *reason);
	void *arg;
	int up;             /* last reported state */
	char reason[256];   /* last reported down reason */
};

/* Reports down with reason, unless it is already down for that reason. */
void redis_linkstate_down(struct redis_linkstate *s, const char *reason);

/* Reports up and forgets the last down reason. */
void redis_linkstate_up(struct redis_linkstate *s);

/* Frees *l, sets it NULL and reports down with err, or when err is NULL
 * with "what: <the link's own reason>". */
void redis_linkstate_drop(struct redis_linkstate *s, struct redis_link **l,
                          const char *what, const char *err);

/* The wait after ms: doubled, capped at REDIS_BACKOFF_MAX_MS. */
long redis_backoff_next(long ms);

#endif
