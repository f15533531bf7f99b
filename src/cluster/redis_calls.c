/*
 * redis_calls: the group and member-id calls of cluster mode, each one
 * script run (or a plain command) over a link: the group's keys and
 * channel built from its id (redis_keys.h), the script's reply checked and
 * turned into a number or a callback per history entry.
 *
 * Who touches what: stateless; each call uses only its caller's link and
 * scripts, so it runs on the thread that owns them (the command link's or
 * the publisher's).
 */
#include "groupchat/cluster/redis_calls.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/cluster/redis_keys.h"
#include "groupchat/cluster/redis_link.h"

/* A refresh sends at most this many cid keys per script call. */
#define REFRESH_MAX 512
_Static_assert(REFRESH_MAX + 2 <= REDIS_SCRIPT_ARGS_MAX, "refresh's batch fits one call");
#define KEY_MAX 64

/* Keys of one group: inc, seq, hist, and its channel; each malloc'd. */
struct gkeys {
	char *k[4];
	size_t l[4];
};

static int
gkeys_make(struct gkeys *g, const char *id, size_t len)
{
	static const char *const prefix[4] = { RK_INC, RK_SEQ, RK_HIST, RK_MSG };
	int i;

	for (i = 0; i < 4; i++) {
		g->l[i] = strlen(prefix[i]) + len;
		if ((g->k[i] = malloc(g->l[i])) == NULL) {
			while (i-- > 0)
				free(g->k[i]);
			return -1;
		}
		redis_key(g->k[i], g->l[i], prefix[i], id, len);
	}
	return 0;
}

/* The first n keys of g as script arguments argv[0..n-1]. */
static void
gkeys_args(const struct gkeys *g, int n, const char **argv, size_t *lens)
{
	int i;

	for (i = 0; i < n; i++) {
		argv[i] = g->k[i];
		lens[i] = g->l[i];
	}
}

static void
gkeys_free(struct gkeys *g)
{
	int i;

	for (i = 0; i < 4; i++)
		free(g->k[i]);
}

int
redis_group_create(struct redis_link *l, struct redis_scripts *s, const char *id,
                   size_t len, const char *inc, char *err, size_t errlen)
{
	struct gkeys g;
	const char *argv[2];
	size_t lens[2];
	int64_t v;

	if (gkeys_make(&g, id, len) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gkeys_args(&g, 1, argv, lens);
	argv[1] = inc;
	lens[1] = strlen(inc);
	v = redis_script_run_int(l, s, RS_CREATE, 1, 2, argv, lens, "create", err, errlen);
	gkeys_free(&g);
	return (int)v;
}

int
redis_group_delete(struct redis_link *l, struct redis_scripts *s, const char *id,
                   size_t len, const char *inc, char *err, size_t errlen)
{
	struct gkeys g;
	const char *argv[5];
	size_t lens[5];
	int64_t v;

	if (gkeys_make(&g, id, len) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gkeys_args(&g, 4, argv, lens);
	argv[4] = inc != NULL ? inc : "";
	lens[4] = strlen(argv[4]);
	v = redis_script_run_int(l, s, RS_DELETE, 3, 5, argv, lens, "delete", err, errlen);
	gkeys_free(&g);
	return (int)v;
}

int
redis_group_baseline(struct redis_link *l, const char *id, size_t len,
                     char inc[REDIS_INC_LEN + 1], uint64_t *seq, char *err, size_t errlen)
{
	struct gkeys g;
	redisReply *r[4], *ri, *rs;
	const char *argv[2];
	size_t lens[2];
	int i, rc = -1;

	if (gkeys_make(&g, id, len) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	argv[0] = "MULTI", lens[0] = 5;
	rc = redis_link_append(l, 1, argv, lens);
	argv[0] = "GET", lens[0] = 3;
	for (i = 0; i < 2; i++) {
		argv[1] = g.k[i], lens[1] = g.l[i];
		rc |= redis_link_append(l, 2, argv, lens);
	}
	argv[0] = "EXEC", lens[0] = 4;
	rc |= redis_link_append(l, 1, argv, lens);
	gkeys_free(&g);
	if (rc != 0) {
		snprintf(err, errlen, "baseline: out of memory");
		return -1;
	}
	if (redis_link_read_n(l, r, 4, "baseline", err, errlen) == -1)
		return -1;
	rc = -1;
	if (r[3]->type != REDIS_REPLY_ARRAY || r[3]->elements != 2) {
		redis_reply_error(r[3], "baseline", err, errlen);
		goto out;
	}
	ri = r[3]->element[0];
	rs = r[3]->element[1];
	inc[0] = '\0';
	*seq = 0;
	if (ri->type == REDIS_REPLY_STRING && ri->len == REDIS_INC_LEN)
		memcpy(inc, ri->str, REDIS_INC_LEN + 1);
	if (rs->type == REDIS_REPLY_STRING)
		*seq = strtoull(rs->str, NULL, 10);
	rc = 0;
out:
	for (i = 0; i < 4; i++)
		freeReplyObject(r[i]);
	return rc;
}

int
redis_group_publish_append(struct redis_link *l, const struct redis_scripts *s,
                           const char *id, size_t len, const char *inc,
                           const void *frame, size_t flen, unsigned hist)
{
	struct gkeys g;
	const char *argv[7];
	size_t lens[7];
	char h[16];
	int rc;

	if (gkeys_make(&g, id, len) == -1)
		return -1;
	snprintf(h, sizeof(h), "%u", hist);
	gkeys_args(&g, 4, argv, lens);
	argv[4] = inc, lens[4] = strlen(inc);
	argv[5] = frame, lens[5] = flen;
	argv[6] = h, lens[6] = strlen(h);
	rc = redis_script_append(l, s, RS_PUBLISH, 3, 7, argv, lens);
	gkeys_free(&g);
	return rc;
}

int64_t
redis_group_publish(struct redis_link *l, struct redis_scripts *s, const char *id,
                    size_t len, const char *inc, const void *frame, size_t flen,
                    unsigned hist, char *err, size_t errlen)
{
	struct gkeys g;
	const char *argv[7];
	size_t lens[7];
	char h[16];
	int64_t v;

	if (gkeys_make(&g, id, len) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(h, sizeof(h), "%u", hist);
	gkeys_args(&g, 4, argv, lens);
	argv[4] = inc, lens[4] = strlen(inc);
	argv[5] = frame, lens[5] = flen;
	argv[6] = h, lens[6] = strlen(h);
	v = redis_script_run_int(l, s, RS_PUBLISH, 3, 7, argv, lens, "publish", err, errlen);
	gkeys_free(&g);
	return v;
}

int64_t
redis_group_reregister(struct redis_link *l, struct redis_scripts *s, const char *id,
                       size_t len, const char *inc, uint64_t last, char *err,
                       size_t errlen)
{
	struct gkeys g;
	const char *argv[4];
	size_t lens[4];
	char lastbuf[24];
	int64_t v;

	if (gkeys_make(&g, id, len) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(lastbuf, sizeof(lastbuf), "%" PRIu64, last);
	gkeys_args(&g, 2, argv, lens);
	argv[2] = inc, lens[2] = strlen(inc);
	argv[3] = lastbuf, lens[3] = strlen(lastbuf);
	err[0] = '\0'; /* the script's -1 leaves it empty; a failure fills it */
	v = redis_script_run_int(l, s, RS_REREGISTER, 2, 4, argv, lens, "reregister", err, errlen);
	gkeys_free(&g);
	return v == -1 && err[0] == '\0' ? -2 : v;
}

long
redis_group_history(struct redis_link *l, const char *id, size_t len, uint64_t first,
                    uint64_t last,
                    void (*fn)(void *arg, uint64_t seq, const char *frame, size_t flen),
                    void *arg, char *err, size_t errlen)
{
	struct gkeys g;
	char from[32], to[32];
	const char *argv[4];
	size_t lens[4];
	redisReply *r, *e, *f;
	size_t i;
	long n = -1;

	if (gkeys_make(&g, id, len) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(from, sizeof(from), "%" PRIu64 "-0", first);
	snprintf(to, sizeof(to), "%" PRIu64 "-0", last);
	argv[0] = "XRANGE", lens[0] = 6;
	argv[1] = g.k[2], lens[1] = g.l[2];
	argv[2] = from, lens[2] = strlen(from);
	argv[3] = to, lens[3] = strlen(to);
	r = redis_link_command(l, "XRANGE", 4, argv, lens, err, errlen);
	if (r == NULL)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY) {
		redis_reply_error(r, "XRANGE", err, errlen);
		goto out;
	}
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    (f = e->element[1])->type != REDIS_REPLY_ARRAY || f->elements != 2) {
			snprintf(err, errlen, "XRANGE: malformed entry");
			goto out;
		}
		fn(arg, strtoull(e->element[0]->str, NULL, 10), f->element[1]->str,
		    f->element[1]->len);
	}
	n = (long)r->elements;
out:
	freeReplyObject(r);
	gkeys_free(&g);
	return n;
}

static size_t
cid_key(char *out, uint32_t cid)
{
	return (size_t)snprintf(out, KEY_MAX, RK_CID "%06" PRIx32, cid);
}

int
redis_cid_claim(struct redis_link *l, uint32_t cid, const char *node, unsigned ttl_ms,
                char *err, size_t errlen)
{
	char key[KEY_MAX], ttl[16];
	const char *argv[6] = { "SET", key, node, "NX", "PX", ttl };
	size_t lens[6] = { 3, cid_key(key, cid), strlen(node), 2, 2, 0 };
	redisReply *r;
	int rc;

	lens[5] = (size_t)snprintf(ttl, sizeof(ttl), "%u", ttl_ms);
	if ((r = redis_link_command(l, "claim", 6, argv, lens, err, errlen)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_NIL) {
		redis_reply_error(r, "claim", err, errlen);
		freeReplyObject(r);
		return -1;
	}
	rc = r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	return rc;
}

long
redis_cid_refresh(struct redis_link *l, struct redis_scripts *s, const uint32_t *cids,
                  size_t n, const char *node, unsigned ttl_ms, uint32_t *taken,
                  char *err, size_t errlen)
{
	const char *argv[REFRESH_MAX + 2];
	size_t lens[REFRESH_MAX + 2], i, done, batch;
	char ttl[16];
	redisReply *r;
	long ntaken = 0;

	snprintf(ttl, sizeof(ttl), "%u", ttl_ms);
	for (done = 0; done < n; done += batch) {
		char (*kb)[KEY_MAX] = malloc(REFRESH_MAX * KEY_MAX);

		if (kb == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		batch = n - done < REFRESH_MAX ? n - done : REFRESH_MAX;
		for (i = 0; i < batch; i++) {
			lens[i] = cid_key(kb[i], cids[done + i]);
			argv[i] = kb[i];
		}
		argv[batch] = node, lens[batch] = strlen(node);
		argv[batch + 1] = ttl, lens[batch + 1] = strlen(ttl);
		r = redis_script_run(l, s, RS_REFRESH, (int)batch, (int)batch + 2, argv,
		    lens, err, errlen);
		free(kb);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
			if (r != NULL)
				redis_reply_error(r, "refresh", err, errlen);
			freeReplyObject(r);
			return -1;
		}
		for (i = 0; i < r->elements; i++)
			taken[ntaken++] = (uint32_t)strtoul(r->element[i]->str + strlen(RK_CID), NULL, 16);
		freeReplyObject(r);
	}
	return ntaken;
}

int
redis_cid_release(struct redis_link *l, struct redis_scripts *s, uint32_t cid,
                  const char *node, char *err, size_t errlen)
{
	char key[KEY_MAX];
	const char *argv[2] = { key, node };
	size_t lens[2] = { cid_key(key, cid), strlen(node) };

	return (int)redis_script_run_int(l, s, RS_RELEASE, 1, 2, argv, lens, "release", err, errlen);
}
