/*
 * redis_actor_support: the Redis actor tests' shared setup and waits. No
 * state of its own: every helper works on what the test passes in, on the
 * test thread only.
 */
#include "redis_actor_support.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "groupchat/cluster/redis_conn.h"
#include "groupchat/core/chan.h"

void
ras_sync_init(pthread_mutex_t *mu, pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(mu, NULL);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

int
ras_wait_int(pthread_mutex_t *mu, pthread_cond_t *cv, const int *field, int want, long ms)
{
	struct timespec dl;
	int ok;

	chan_deadline(&dl, ms);
	pthread_mutex_lock(mu);
	while (*field < want && pthread_cond_timedwait(cv, mu, &dl) == 0)
		;
	ok = *field >= want;
	pthread_mutex_unlock(mu);
	return ok;
}

void
ras_up(struct redis_fixture **rf, struct redis_url **url, struct redis_connector *rconn)
{
	char s[64];
	const char *why;

	*rf = rf_start(NULL);
	ck_assert_ptr_nonnull(*rf);
	snprintf(s, sizeof(s), "redis://127.0.0.1:%d", rf_port(*rf));
	*url = redis_url_parse(s, strlen(s), NULL, &why);
	ck_assert_ptr_nonnull(*url);
	*rconn = redis_link_hiredis(*url);
}

void
ras_down(struct redis_fixture *rf, struct redis_url *url)
{
	redis_url_free(url);
	rf_stop(rf);
}

struct redis_url *
ras_wrong_password(struct redis_fixture **rf, struct redis_connector *rconn)
{
	char u[96];
	const char *why;
	struct redis_url *bad;

	rf_stop(*rf);
	*rf = rf_start("right-pw");
	ck_assert_ptr_nonnull(*rf);
	snprintf(u, sizeof(u), "redis://:wrong-pw@127.0.0.1:%d", rf_port(*rf));
	bad = redis_url_parse(u, strlen(u), NULL, &why);
	*rconn = redis_link_hiredis(bad);
	return bad;
}

void
ras_assert_wrongpass(pthread_mutex_t *mu, const char *reason)
{
	pthread_mutex_lock(mu);
	ck_assert_msg(strncmp(reason, "AUTH: WRONGPASS", 15) == 0, "%s", reason);
	ck_assert_ptr_null(strstr(reason, "wrong-pw"));
	pthread_mutex_unlock(mu);
}

redisContext *
ras_raw(const struct redis_url *url)
{
	char err[256];
	redisContext *c = redis_conn_open(url, 5000, err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	return c;
}
