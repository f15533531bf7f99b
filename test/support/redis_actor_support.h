/*
 * redis_actor_support: what the Redis actor tests (test_redis_cmd,
 * test_redis_pub, test_redis_sub) share: a mutex and a CLOCK_MONOTONIC
 * condition variable for their callback records, a wait on a counter with
 * a deadline (never a sleep), a real redis-server with a URL and connector
 * to it, the same server restarted with a password the URL gets wrong, and
 * a raw hiredis connection for poking Redis beside the actor.
 *
 * Who touches what: only the test thread calls these; the record behind
 * mu, cv and field belongs to the test, whose callbacks (on the actor's
 * thread) update it under mu and broadcast cv. Failures are Check
 * assertions, so a helper that fails ends the (forked) test.
 */
#ifndef GROUPCHAT_REDIS_ACTOR_SUPPORT_H
#define GROUPCHAT_REDIS_ACTOR_SUPPORT_H

#include <pthread.h>

#include <hiredis/hiredis.h>

#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_url.h"
#include "redis_fixture.h"

/* Initialises mu and cv, cv timing out on CLOCK_MONOTONIC (chan_deadline's
 * clock). */
void ras_sync_init(pthread_mutex_t *mu, pthread_cond_t *cv);

/* Waits under mu until *field >= want, up to ms. 1 if reached, 0 if the
 * deadline passed first. */
int ras_wait_int(pthread_mutex_t *mu, pthread_cond_t *cv, const int *field, int want, long ms);

/* Starts a redis-server without a password into *rf, parses its URL into
 * *url and sets *rconn to a hiredis connector for it; asserts each step. */
void ras_up(struct redis_fixture **rf, struct redis_url **url, struct redis_connector *rconn);

/* Frees url and stops rf (ras_up's undo). */
void ras_down(struct redis_fixture *rf, struct redis_url *url);

/* Replaces *rf with a server requiring "right-pw" (asserts it started) and
 * points *rconn at it with the password "wrong-pw". Returns that URL, for
 * the caller to free. */
struct redis_url *ras_wrong_password(struct redis_fixture **rf, struct redis_connector *rconn);

/* Asserts, under mu, that reason is the AUTH failure and does not leak the
 * password "wrong-pw". */
void ras_assert_wrongpass(pthread_mutex_t *mu, const char *reason);

/* A plain connection to url; asserts it opened. */
redisContext *ras_raw(const struct redis_url *url);

#endif
