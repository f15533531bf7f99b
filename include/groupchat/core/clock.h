/*
 * clock: the server's one notion of "now" for timeouts, CLOCK_MONOTONIC
 * in milliseconds (never jumps with the wall clock). Deadlines for
 * blocking calls are made by chan_deadline, next to the waits they bound.
 */
#ifndef GROUPCHAT_CLOCK_H
#define GROUPCHAT_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC milliseconds. Cannot fail. */
int64_t clock_now_ms(void);

#endif
