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

/* Keys of one group: inc, seq, hist, and its channel, in one allocation
 * (a publish builds them once per message). */
struct gkeys {
	char *k[4];
	size_t l[4];
};

/* Room for a group call's arguments: its keys and up to three more. */
#define GROUP_ARGS_MAX 7

static int
gkeys_make(struct gkeys *g, const char *id, size_t len)
{
	static const char *const prefix[4] = { RK_INC, RK_SEQ, RK_HIST, RK_MSG };
	size_t total = 0;
	char *p;
	int i;

	for (i = 0; i < 4; i++) {
		g->l[i] = strlen(prefix[i]) + len;
		total += g->l[i];
	}
	if ((p = malloc(total)) == NULL)
		return -1;
	for (i = 0; i < 4; i++) {
		g->k[i] = p;
		redis_key(p, g->l[i], prefix[i], id, len);
		p += g->l[i];
	}
	return 0;
}

static void
gkeys_free(struct gkeys *g)
{
	free(g->k[0]);
}

/* argv: the first nkeys keys of g, then the nextra strings of extra. */
static int
group_args(const struct gkeys *g, int nkeys, const char *const *extra,
    const size_t *extra_lens, int nextra, const char **argv, size_t *lens)
{
	int i;

	for (i = 0; i < nkeys; i++) {
		argv[i] = g->k[i];
		lens[i] = g->l[i];
	}
	for (i = 0; i < nextra; i++) {
		argv[nkeys + i] = extra[i];
		lens[nkeys + i] = extra_lens[i];
	}
	return nkeys + nextra;
}

/*
 * Runs script sc over group id's first nargs keys (of which the script
 * declares nkeys as KEYS) and the extra arguments: the script's integer,
 * or -1 with "what: reason" (or "out of memory") in err.
 */
static int64_t
group_script(struct redis_link *l, struct redis_scripts *s, enum redis_script_id sc,
    const char *id, size_t len, int nkeys, int nargs, const char *const *extra,
    const size_t *extra_lens, int nextra, const char *what, char *err, size_t errlen)
{
	const char *argv[GROUP_ARGS_MAX];
	size_t lens[GROUP_ARGS_MAX];
	struct gkeys g;
	int64_t v;
	int argc;

	if (gkeys_make(&g, id, len) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	argc = group_args(&g, nargs, extra, extra_lens, nextra, argv, lens);
	v = redis_script_run_int(l, s, sc, nkeys, argc, argv, lens, what, err, errlen);
	gkeys_free(&g);
	return v;
}

int
redis_group_create(struct redis_link *l, struct redis_scripts *s, const char *id,
                   size_t len, const char *inc, char *err, size_t errlen)
{
	const char *extra[1] = { inc };
	size_t extra_lens[1] = { strlen(inc) };

	return (int)group_script(l, s, RS_CREATE, id, len, 1, 1, extra, extra_lens, 1,
	    "create", err, errlen);
}

int
redis_group_delete(struct redis_link *l, struct redis_scripts *s, const char *id,
                   size_t len, const char *inc, char *err, size_t errlen)
{
	const char *extra[1] = { inc != NULL ? inc : "" };
	size_t extra_lens[1] = { strlen(extra[0]) };

	return (int)group_script(l, s, RS_DELETE, id, len, 3, 4, extra, extra_lens, 1,
	    "delete", err, errlen);
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

/* A publish's arguments after the group's four keys: the incarnation,
 * the frame and the history length (written into h). */
static void
publish_extra(const char *inc, const void *frame, size_t flen, unsigned hist,
    char h[16], const char *extra[3], size_t extra_lens[3])
{
	extra[0] = inc, extra_lens[0] = strlen(inc);
	extra[1] = frame, extra_lens[1] = flen;
	extra_lens[2] = (size_t)snprintf(h, 16, "%u", hist);
	extra[2] = h;
}

int
redis_group_publish_append(struct redis_link *l, const struct redis_scripts *s,
                           const char *id, size_t len, const char *inc,
                           const void *frame, size_t flen, unsigned hist)
{
	const char *argv[GROUP_ARGS_MAX], *extra[3];
	size_t lens[GROUP_ARGS_MAX], extra_lens[3];
	struct gkeys g;
	char h[16];
	int rc;

	if (gkeys_make(&g, id, len) == -1)
		return -1;
	publish_extra(inc, frame, flen, hist, h, extra, extra_lens);
	rc = redis_script_append(l, s, RS_PUBLISH, 3,
	    group_args(&g, 4, extra, extra_lens, 3, argv, lens), argv, lens);
	gkeys_free(&g);
	return rc;
}

int64_t
redis_group_publish(struct redis_link *l, struct redis_scripts *s, const char *id,
                    size_t len, const char *inc, const void *frame, size_t flen,
                    unsigned hist, char *err, size_t errlen)
{
	const char *extra[3];
	size_t extra_lens[3];
	char h[16];

	publish_extra(inc, frame, flen, hist, h, extra, extra_lens);
	return group_script(l, s, RS_PUBLISH, id, len, 3, 4, extra, extra_lens, 3,
	    "publish", err, errlen);
}

int64_t
redis_group_reregister(struct redis_link *l, struct redis_scripts *s, const char *id,
                       size_t len, const char *inc, uint64_t last, char *err,
                       size_t errlen)
{
	char lastbuf[24];
	const char *extra[2] = { inc, lastbuf };
	size_t extra_lens[2] = { strlen(inc),
	    (size_t)snprintf(lastbuf, sizeof(lastbuf), "%" PRIu64, last) };
	int64_t v;

	err[0] = '\0'; /* the script's -1 leaves it empty; a failure fills it */
	v = group_script(l, s, RS_REREGISTER, id, len, 2, 2, extra, extra_lens, 2,
	    "reregister", err, errlen);
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
