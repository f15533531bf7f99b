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

/* A history read asks for at most this many entries per XRANGE. */
#define HIST_PAGE 128
/* A refresh sends at most this many cid keys per script call. */
#define REFRESH_MAX 512
_Static_assert(REFRESH_MAX + 2 <= REDIS_SCRIPT_ARGS_MAX, "refresh's batch fits one call");
#define KEY_MAX 64

/* Keys of one group: inc, seq, hist, hbytes, the count of groups (one
 * key for all) and its channel, in one allocation (a publish builds them
 * once per message). */
enum { GK_INC, GK_SEQ, GK_HIST, GK_HBYTES, GK_GROUPS, GK_MSG, GKEYS };
struct gkeys {
	char *k[GKEYS];
	size_t l[GKEYS];
};

/* Which of them a script takes, in order: its KEYS (the first nkeys),
 * then the channel when it publishes. */
struct gscript {
	enum redis_script_id id;
	const char *what;
	int nkeys, n;
	int k[GKEYS];
};

static const struct gscript create_sc = { RS_CREATE, "create", 2, 2,
	{ GK_INC, GK_GROUPS } };
static const struct gscript delete_sc = { RS_DELETE, "delete", 5, 6,
	{ GK_INC, GK_SEQ, GK_HIST, GK_HBYTES, GK_GROUPS, GK_MSG } };
static const struct gscript publish_sc = { RS_PUBLISH, "publish", 4, 5,
	{ GK_INC, GK_SEQ, GK_HIST, GK_HBYTES, GK_MSG } };
static const struct gscript reregister_sc = { RS_REREGISTER, "reregister", 3, 3,
	{ GK_INC, GK_SEQ, GK_GROUPS } };

/* Room for a group call's arguments: its keys and up to four more. */
#define GROUP_ARGS_MAX (GKEYS + 4)

static int
gkeys_make(struct gkeys *g, const char *id, size_t len)
{
	static const char *const prefix[GKEYS] = { RK_INC, RK_SEQ, RK_HIST, RK_HBYTES,
	    RK_GROUPS, RK_MSG };
	size_t total = 0;
	char *p;
	int i;

	for (i = 0; i < GKEYS; i++) {
		g->l[i] = strlen(prefix[i]) + (i == GK_GROUPS ? 0 : len);
		total += g->l[i];
	}
	if ((p = malloc(total)) == NULL)
		return -1;
	for (i = 0; i < GKEYS; i++) {
		g->k[i] = p;
		redis_key(p, g->l[i], prefix[i], id, i == GK_GROUPS ? 0 : len);
		p += g->l[i];
	}
	return 0;
}

static void
gkeys_free(struct gkeys *g)
{
	free(g->k[0]);
}

/* argv: the keys of g script sc takes, then the nextra strings of extra. */
static int
group_args(const struct gkeys *g, const struct gscript *sc, const char *const *extra,
    const size_t *extra_lens, int nextra, const char **argv, size_t *lens)
{
	int i;

	for (i = 0; i < sc->n; i++) {
		argv[i] = g->k[sc->k[i]];
		lens[i] = g->l[sc->k[i]];
	}
	for (i = 0; i < nextra; i++) {
		argv[sc->n + i] = extra[i];
		lens[sc->n + i] = extra_lens[i];
	}
	return sc->n + nextra;
}

/*
 * Runs script sc over group id's keys and the extra arguments: the
 * script's integer, or -1 with "what: reason" (or "out of memory") in err.
 */
static int64_t
group_script(struct redis_link *l, struct redis_scripts *s, const struct gscript *sc,
    const char *id, size_t len, const char *const *extra, const size_t *extra_lens,
    int nextra, char *err, size_t errlen)
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
	argc = group_args(&g, sc, extra, extra_lens, nextra, argv, lens);
	v = redis_script_run_int(l, s, sc->id, sc->nkeys, argc, argv, lens, sc->what, err,
	    errlen);
	gkeys_free(&g);
	return v;
}

int
redis_group_create(struct redis_link *l, struct redis_scripts *s, const char *id,
                   size_t len, const char *inc, size_t max, char *err, size_t errlen)
{
	char maxbuf[24];
	const char *extra[2] = { inc, maxbuf };
	size_t extra_lens[2] = { strlen(inc),
	    (size_t)snprintf(maxbuf, sizeof(maxbuf), "%zu", max) };

	return (int)group_script(l, s, &create_sc, id, len, extra, extra_lens, 2, err,
	    errlen);
}

int
redis_group_delete(struct redis_link *l, struct redis_scripts *s, const char *id,
                   size_t len, const char *inc, char *err, size_t errlen)
{
	const char *extra[1] = { inc != NULL ? inc : "" };
	size_t extra_lens[1] = { strlen(extra[0]) };

	return (int)group_script(l, s, &delete_sc, id, len, extra, extra_lens, 1, err,
	    errlen);
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

/* A publish's arguments after the group's keys and channel: the
 * incarnation, the frame and the history's bounds (written into h). */
static void
publish_extra(const char *inc, const void *frame, size_t flen,
    const struct redis_history *hist, char h[2][24], const char *extra[4],
    size_t extra_lens[4])
{
	extra[0] = inc, extra_lens[0] = strlen(inc);
	extra[1] = frame, extra_lens[1] = flen;
	extra_lens[2] = (size_t)snprintf(h[0], sizeof(h[0]), "%u", hist->len);
	extra[2] = h[0];
	extra_lens[3] = (size_t)snprintf(h[1], sizeof(h[1]), "%zu", hist->bytes);
	extra[3] = h[1];
}

int
redis_group_publish_append(struct redis_link *l, const struct redis_scripts *s,
                           const char *id, size_t len, const char *inc,
                           const void *frame, size_t flen,
                           const struct redis_history *hist)
{
	const char *argv[GROUP_ARGS_MAX], *extra[4];
	size_t lens[GROUP_ARGS_MAX], extra_lens[4];
	struct gkeys g;
	char h[2][24];
	int rc;

	if (gkeys_make(&g, id, len) == -1)
		return -1;
	publish_extra(inc, frame, flen, hist, h, extra, extra_lens);
	rc = redis_script_append(l, s, RS_PUBLISH, publish_sc.nkeys,
	    group_args(&g, &publish_sc, extra, extra_lens, 4, argv, lens), argv, lens);
	gkeys_free(&g);
	return rc;
}

int64_t
redis_group_publish(struct redis_link *l, struct redis_scripts *s, const char *id,
                    size_t len, const char *inc, const void *frame, size_t flen,
                    const struct redis_history *hist, char *err, size_t errlen)
{
	const char *extra[4];
	size_t extra_lens[4];
	char h[2][24];

	publish_extra(inc, frame, flen, hist, h, extra, extra_lens);
	return group_script(l, s, &publish_sc, id, len, extra, extra_lens, 4, err, errlen);
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
	v = group_script(l, s, &reregister_sc, id, len, extra, extra_lens, 2, err, errlen);
	return v == -1 && err[0] == '\0' ? -2 : v;
}

/* Reads one page of history, entries from..last, at most HIST_PAGE,
 * calling fn for each. How many, or -1. The last entry's seq in *seen. */
static long
history_page(struct redis_link *l, const struct gkeys *g, uint64_t from, uint64_t last,
    void (*fn)(void *arg, uint64_t seq, const char *frame, size_t flen), void *arg,
    uint64_t *seen, char *err, size_t errlen)
{
	char lo[32], hi[32], count[16];
	const char *argv[6];
	size_t lens[6];
	redisReply *r, *e, *f;
	size_t i;
	long n = -1;

	snprintf(lo, sizeof(lo), "%" PRIu64 "-0", from);
	snprintf(hi, sizeof(hi), "%" PRIu64 "-0", last);
	snprintf(count, sizeof(count), "%d", HIST_PAGE);
	argv[0] = "XRANGE", lens[0] = 6;
	argv[1] = g->k[GK_HIST], lens[1] = g->l[GK_HIST];
	argv[2] = lo, lens[2] = strlen(lo);
	argv[3] = hi, lens[3] = strlen(hi);
	argv[4] = "COUNT", lens[4] = 5;
	argv[5] = count, lens[5] = strlen(count);
	if ((r = redis_link_command(l, "XRANGE", 6, argv, lens, err, errlen)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY) {
		redis_reply_error(r, "XRANGE", err, errlen);
		goto out;
	}
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		/* [id, [f, frame, c, count]]: the frame is the first field */
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    (f = e->element[1])->type != REDIS_REPLY_ARRAY || f->elements < 2 ||
		    f->element[1]->type != REDIS_REPLY_STRING) {
			snprintf(err, errlen, "XRANGE: malformed entry");
			goto out;
		}
		*seen = strtoull(e->element[0]->str, NULL, 10);
		fn(arg, *seen, f->element[1]->str, f->element[1]->len);
	}
	n = (long)r->elements;
out:
	freeReplyObject(r);
	return n;
}

/* Pages of HIST_PAGE entries: a reply is never more than a page, however
 * long the range (each page one round trip). */
long
redis_group_history(struct redis_link *l, const char *id, size_t len, uint64_t first,
                    uint64_t last,
                    void (*fn)(void *arg, uint64_t seq, const char *frame, size_t flen),
                    void *arg, char *err, size_t errlen)
{
	struct gkeys g;
	uint64_t from = first, seen = 0;
	long n, total = 0;

	if (gkeys_make(&g, id, len) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	do {
		if ((n = history_page(l, &g, from, last, fn, arg, &seen, err, errlen)) == -1) {
			total = -1;
			break;
		}
		total += n;
		from = seen + 1;
	} while (n == HIST_PAGE && seen < last);
	gkeys_free(&g);
	return total;
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
