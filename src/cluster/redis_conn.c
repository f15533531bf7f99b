/*
 * redis_conn: the one place that turns a redis_url into a ready hiredis
 * context. The password travels from redis_url_password straight into the
 * AUTH argv; it is never formatted into a string, so no error path can
 * print it. Who touches what: the calling actor owns the context it gets.
 */
#include "groupchat/cluster/redis_conn.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "groupchat/cluster/redis_url.h"

void
redis_conn_error(const redisContext *c, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, c->errstr[0] != '\0' ? c->errstr : "failed");
}

/* Runs one command; 0 if it replied without an error, else -1 with err. */
static int
simple(redisContext *c, const char *what, int argc, const char **argv,
       const size_t *lens, char *err, size_t errlen)
{
	redisReply *r = redisCommandArgv(c, argc, argv, lens);
	int rc = 0;

	if (r == NULL) {
		redis_conn_error(c, what, err, errlen);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s: %s", what, r->str);
		rc = -1;
	}
	freeReplyObject(r);
	return rc;
}

redisContext *
redis_conn_open(const struct redis_url *u, int timeout_ms, char *err, size_t errlen)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisContext *c;
	const char *argv[2];
	size_t lens[2];
	char db[16];

	c = redisConnectWithTimeout(redis_url_host(u), redis_url_port(u), tv);
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (c->err) {
		redis_conn_error(c, "connect", err, errlen);
		goto err;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK) {
		redis_conn_error(c, "socket options", err, errlen);
		goto err;
	}
	if (redis_url_has_password(u)) {
		argv[0] = "AUTH";
		lens[0] = 4;
		argv[1] = redis_url_password(u, &lens[1]);
		if (simple(c, "AUTH", 2, argv, lens, err, errlen) == -1)
			goto err;
	}
	if (redis_url_db(u) != 0) {
		snprintf(db, sizeof(db), "%d", redis_url_db(u));
		argv[0] = "SELECT";
		lens[0] = 6;
		argv[1] = db;
		lens[1] = strlen(db);
		if (simple(c, "SELECT", 2, argv, lens, err, errlen) == -1)
			goto err;
	}
	return c;
err:
	redisFree(c);
	return NULL;
}
