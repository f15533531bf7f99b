/*
 * redis_conn: the one place that turns a redis_url into a ready hiredis
 * context. The password travels from redis_url_password straight into the
 * AUTH argv; it is never formatted into a string, so no error path can
 * print it. Before the context is handed out, the server is checked for
 * what groupchat needs of it (check_master): the master, and a
 * maxmemory-policy that never evicts. Who touches what: the calling actor
 * owns the context it gets.
 */
#include "groupchat/cluster/redis_conn.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "groupchat/cluster/redis_info.h"
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

/* The value of "field:" in an INFO reply r into out; 0, or -1 if absent. */
static int
info_field(const redisReply *r, const char *field, char *out, size_t n)
{
	const char *v;
	size_t vlen;

	if (r->type != REDIS_REPLY_STRING ||
	    (v = redis_info_field(r->str, r->len, field, &vlen)) == NULL)
		return -1;
	snprintf(out, n, "%.*s", (int)vlen, v);
	return 0;
}

/* One INFO section's field into out. 0 or -1 with err. */
static int
info(redisContext *c, const char *section, const char *field, char *out, size_t n,
     char *err, size_t errlen)
{
	redisReply *r = redisCommand(c, "INFO %s", section);
	int rc = -1;

	if (r == NULL) {
		redis_conn_error(c, "INFO", err, errlen);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "INFO: %s", r->str);
	else if (info_field(r, field, out, n) == -1)
		snprintf(err, errlen, "INFO %s: no %s", section, field);
	else
		rc = 0;
	freeReplyObject(r);
	return rc;
}

/*
 * Refuses a server groupchat must not write to: a replica (a demoted
 * master still answers, and would take the node's writes only to lose
 * them, or refuse them one by one), and a maxmemory-policy that evicts
 * keys, which would delete sequence numbers, history and claims behind
 * the nodes' backs. ROLE and CONFIG GET go out in one write; a server
 * that renamed or disabled either is asked INFO instead.
 */
static int
check_master(redisContext *c, char *err, size_t errlen)
{
	redisReply *role = NULL, *cfg = NULL;
	char v[64];
	int rc = -1;

	if (redisAppendCommand(c, "ROLE") != REDIS_OK ||
	    redisAppendCommand(c, "CONFIG GET maxmemory-policy") != REDIS_OK ||
	    redisGetReply(c, (void **)&role) != REDIS_OK ||
	    redisGetReply(c, (void **)&cfg) != REDIS_OK) {
		redis_conn_error(c, "ROLE", err, errlen);
		goto out;
	}
	if (role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
	    role->element[0]->type == REDIS_REPLY_STRING) {
		snprintf(v, sizeof(v), "%s", role->element[0]->str);
	} else if (info(c, "replication", "role", v, sizeof(v), err, errlen) == -1) {
		/* e.g. NOAUTH: ROLE's own error says it best */
		if (role->type == REDIS_REPLY_ERROR)
			snprintf(err, errlen, "ROLE: %s", role->str);
		goto out;
	}
	if (strcmp(v, "master") != 0) {
		snprintf(err, errlen, "ROLE: this Redis is a %s, not the master", v);
		goto out;
	}
	if (cfg->type == REDIS_REPLY_ARRAY && cfg->elements == 2 &&
	    cfg->element[1]->type == REDIS_REPLY_STRING)
		snprintf(v, sizeof(v), "%s", cfg->element[1]->str);
	else if (info(c, "memory", "maxmemory_policy", v, sizeof(v), err, errlen) == -1)
		goto out;
	if (strcmp(v, "noeviction") != 0) {
		snprintf(err, errlen, "maxmemory-policy is %s, which evicts keys; "
		    "groupchat needs noeviction", v);
		goto out;
	}
	rc = 0;
out:
	if (role != NULL)
		freeReplyObject(role);
	if (cfg != NULL)
		freeReplyObject(cfg);
	return rc;
}

redisContext *
redis_conn_open(const struct redis_url *u, int timeout_ms, char *err, size_t errlen)
{
	return redis_conn_open_at(u, redis_url_host(u), redis_url_port(u), timeout_ms,
	    err, errlen);
}

redisContext *
redis_conn_open_at(const struct redis_url *u, const char *host, int port, int timeout_ms,
                   char *err, size_t errlen)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisContext *c;
	const char *argv[2];
	size_t lens[2];
	char db[16];

	c = redisConnectWithTimeout(host, port, tv);
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
	if (check_master(c, err, errlen) == -1)
		goto err;
	return c;
err:
	redisFree(c);
	return NULL;
}
