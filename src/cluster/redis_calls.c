/*
 * redis_calls: the group and member-id calls of cluster mode, each one
 * script run (or a plain command) over a link: the group's keys and
 * channel built from its id (redis_keys.h), the script's reply checked and
 * turned into a number, a baseline or a callback per history entry; and
 * the run_id of the Redis process a link talks to.
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

#include "groupchat/cluster/redis_info.h"
#include "groupchat/cluster/redis_keys.h"
#include "groupchat/cluster/redis_link.h"

/* A history read asks for at most this many entries per XRANGE. */
#define HIST_PAGE 128
/* A refresh sends at most this many cid keys per script call. */
#define REFRESH_MAX 512
_Static_assert(REFRESH_MAX + 2 <= REDIS_SCRIPT_ARGS_MAX, "refresh's batch fits one call");
#define KEY_MAX 64

/* Keys of one group: inc, seq, hist, hbytes, gone, the count of groups
 * (one key for all) and its channel, in one allocation (a publish builds
 * them once per message). */
enum { GK_INC, GK_SEQ, GK_HIST, GK_HBYTES, GK_GONE, GK_GROUPS, GK_MSG, GK_COUNT };

struct gkeys {
	char *k[GK_COUNT];
	size_t l[GK_COUNT];
};

/* Room for a group call's arguments: its keys and up to six more. */
#define GROUP_ARGS_MAX (GK_COUNT + 6)

static int
gkeys_make(struct gkeys *g, const char *id, size_t len)
{
	static const char *const prefix[GK_COUNT] = { RK_INC, RK_SEQ, RK_HIST, RK_HBYTES,
	    RK_GONE, RK_GROUPS, RK_MSG };
	size_t total = 0;
	char *p;
	int i;

	for (i = 0; i < GK_COUNT; i++) {
		g->l[i] = strlen(prefix[i]) + (i == GK_GROUPS ? 0 : len);
		total += g->l[i];
	}
	if ((p = malloc(total)) == NULL)
		return -1;
	for (i = 0; i < GK_COUNT; i++) {
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

/* argv: the keys of g named by the nk indexes in which, then the nextra
 * strings of extra. */
static int
group_args(const struct gkeys *g, const int *which, int nk, const char *const *extra,
    const size_t *extra_lens, int nextra, const char **argv, size_t *lens)
{
	int i;

	for (i = 0; i < nk; i++) {
		argv[i] = g->k[which[i]];
		lens[i] = g->l[which[i]];
	}
	for (i = 0; i < nextra; i++) {
		argv[nk + i] = extra[i];
		lens[nk + i] = extra_lens[i];
	}
	return nk + nextra;
}

/* The keys each script takes, KEYS first: publish and delete add the
 * channel, which travels in ARGV. */
static const int create_keys[] = { GK_INC, GK_SEQ, GK_HIST, GK_HBYTES, GK_GROUPS };
static const int delete_keys[] = { GK_INC, GK_SEQ, GK_HIST, GK_HBYTES, GK_GONE, GK_GROUPS,
	GK_MSG };
static const int publish_keys[] = { GK_INC, GK_SEQ, GK_HIST, GK_HBYTES, GK_MSG };
static const int state_keys[] = { GK_INC, GK_SEQ, GK_HIST, GK_GONE };
static const int reregister_keys[] = { GK_INC, GK_SEQ, GK_HIST, GK_GONE, GK_GROUPS };
#define NKEYS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/*
 * Runs script sc over group id's keys named by which (nargs of them, of
 * which the script declares nkeys as KEYS) and the extra arguments: the
 * reply, or NULL with "what: reason" (or "out of memory") in err.
 */
static redisReply *
group_script(struct redis_link *l, struct redis_scripts *s, enum redis_script_id sc,
    const char *id, size_t len, const int *which, int nkeys, int nargs,
    const char *const *extra, const size_t *extra_lens, int nextra, char *err,
    size_t errlen)
{
	const char *argv[GROUP_ARGS_MAX];
	size_t lens[GROUP_ARGS_MAX];
	struct gkeys g;
	redisReply *r;
	int argc;

	if (gkeys_make(&g, id, len) == -1) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	argc = group_args(&g, which, nargs, extra, extra_lens, nextra, argv, lens);
	r = redis_script_run(l, s, sc, nkeys, argc, argv, lens, err, errlen);
	gkeys_free(&g);
	return r;
}

/* group_script for a script that answers an integer: it, or -1. */
static int64_t
group_script_int(struct redis_link *l, struct redis_scripts *s, enum redis_script_id sc,
    const char *id, size_t len, const int *which, int nkeys, int nargs,
    const char *const *extra, const size_t *extra_lens, int nextra, const char *what,
    char *err, size_t errlen)
{
	return redis_reply_int(group_script(l, s, sc, id, len, which, nkeys, nargs, extra,
	    extra_lens, nextra, err, errlen), what, err, errlen);
}

int
redis_group_create(struct redis_link *l, struct redis_scripts *s, const char *id,
                   size_t len, const char *inc, const char *token, size_t max, char *err,
                   size_t errlen)
{
	char ep[REDIS_EP_LEN + 1], maxbuf[24];
	const char *extra[4] = { inc, token, ep, maxbuf };
	size_t extra_lens[4] = { strlen(inc), strlen(token), REDIS_EP_LEN,
	    (size_t)snprintf(maxbuf, sizeof(maxbuf), "%zu", max) };

	if (redis_ep_new(ep) == -1) {
		snprintf(err, errlen, "create: getrandom failed");
		return -1;
	}
	return (int)group_script_int(l, s, RS_CREATE, id, len, create_keys, 5,
	    NKEYS(create_keys), extra, extra_lens, 4, "create", err, errlen);
}

int
redis_group_delete(struct redis_link *l, struct redis_scripts *s, const char *id,
                   size_t len, const char *inc, char *err, size_t errlen)
{
	char ttl[16];
	const char *extra[2] = { inc != NULL ? inc : "", ttl };
	size_t extra_lens[2] = { strlen(extra[0]),
	    (size_t)snprintf(ttl, sizeof(ttl), "%u", REDIS_GONE_TTL_MS) };

	return (int)group_script_int(l, s, RS_DELETE, id, len, delete_keys, 6,
	    NKEYS(delete_keys), extra, extra_lens, 2, "delete", err, errlen);
}

int
redis_group_baseline(struct redis_link *l, struct redis_scripts *s, const char *id,
                     size_t len, const char *token, struct redis_base *b, char *err,
                     size_t errlen)
{
	char ep[REDIS_EP_LEN + 1];
	const char *extra[2] = { token, ep };
	size_t extra_lens[2] = { strlen(token), REDIS_EP_LEN };
	redisReply *r, **e;

	if (redis_ep_new(ep) == -1) {
		snprintf(err, errlen, "baseline: getrandom failed");
		return -1;
	}
	r = group_script(l, s, RS_BASELINE, id, len, state_keys, 4, NKEYS(state_keys),
	    extra, extra_lens, 2, err, errlen);
	if (r == NULL)
		return -1;
	e = r->element;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 5 ||
	    e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING ||
	    e[2]->type != REDIS_REPLY_INTEGER || e[3]->type != REDIS_REPLY_INTEGER ||
	    e[4]->type != REDIS_REPLY_STRING ||
	    (e[0]->len != 0 && e[0]->len != REDIS_INC_LEN) ||
	    (e[1]->len != 0 && e[1]->len != REDIS_EP_LEN) ||
	    (e[4]->len != 0 && e[4]->len != REDIS_INC_LEN)) {
		redis_reply_error(r, "baseline", err, errlen);
		freeReplyObject(r);
		return -1;
	}
	memcpy(b->inc, e[0]->str, e[0]->len + 1);
	memcpy(b->ep, e[1]->str, e[1]->len + 1);
	b->seq = e[2]->integer > 0 ? (uint64_t)e[2]->integer : 0;
	b->gone = e[3]->integer != 0;
	memcpy(b->gone_inc, e[4]->str, e[4]->len + 1);
	freeReplyObject(r);
	return 0;
}

/* A publish's arguments after the group's keys and channel: the
 * incarnation, the frame, the history's bounds (written into h), the
 * epoch token and a fresh epoch. */
static void
publish_extra(const char *inc, const void *frame, size_t flen,
    const struct redis_history *hist, const char *token, const char *ep, char h[2][24],
    const char *extra[6], size_t extra_lens[6])
{
	extra[0] = inc, extra_lens[0] = strlen(inc);
	extra[1] = frame, extra_lens[1] = flen;
	extra_lens[2] = (size_t)snprintf(h[0], sizeof(h[0]), "%u", hist->len);
	extra[2] = h[0];
	extra_lens[3] = (size_t)snprintf(h[1], sizeof(h[1]), "%zu", hist->bytes);
	extra[3] = h[1];
	extra[4] = token, extra_lens[4] = strlen(token);
	extra[5] = ep, extra_lens[5] = strlen(ep);
}

int
redis_group_publish_append(struct redis_link *l, const struct redis_scripts *s,
                           const char *id, size_t len, const char *inc,
                           const void *frame, size_t flen,
                           const struct redis_history *hist, const char *token,
                           const char *ep)
{
	const char *argv[GROUP_ARGS_MAX], *extra[6];
	size_t lens[GROUP_ARGS_MAX], extra_lens[6];
	struct gkeys g;
	char h[2][24];
	int rc;

	if (gkeys_make(&g, id, len) == -1)
		return -1;
	publish_extra(inc, frame, flen, hist, token, ep, h, extra, extra_lens);
	rc = redis_script_append(l, s, RS_PUBLISH, 4,
	    group_args(&g, publish_keys, NKEYS(publish_keys), extra, extra_lens, 6, argv,
	    lens), argv, lens);
	gkeys_free(&g);
	return rc;
}

int64_t
redis_group_publish(struct redis_link *l, struct redis_scripts *s, const char *id,
                    size_t len, const char *inc, const void *frame, size_t flen,
                    const struct redis_history *hist, const char *token, const char *ep,
                    char *err, size_t errlen)
{
	const char *extra[6];
	size_t extra_lens[6];
	char h[2][24];

	publish_extra(inc, frame, flen, hist, token, ep, h, extra, extra_lens);
	return group_script_int(l, s, RS_PUBLISH, id, len, publish_keys, 4,
	    NKEYS(publish_keys), extra, extra_lens, 6, "publish", err, errlen);
}

int
redis_group_reregister(struct redis_link *l, struct redis_scripts *s, const char *id,
                       size_t len, const char *inc, const char *token, char *err,
                       size_t errlen)
{
	char ep[REDIS_EP_LEN + 1];
	const char *extra[3] = { inc, token, ep };
	size_t extra_lens[3] = { strlen(inc), strlen(token), REDIS_EP_LEN };

	if (redis_ep_new(ep) == -1) {
		snprintf(err, errlen, "reregister: getrandom failed");
		return -1;
	}
	return (int)group_script_int(l, s, RS_REREGISTER, id, len, reregister_keys, 5,
	    NKEYS(reregister_keys), extra, extra_lens, 3, "reregister", err, errlen);
}

/* The value of field name in a stream entry's field list f, or NULL. */
static const redisReply *
entry_field(const redisReply *f, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[i]->str, name) == 0 &&
		    f->element[i + 1]->type == REDIS_REPLY_STRING)
			return f->element[i + 1];
	return NULL;
}

/* Reads one page of history, entries from..last, at most HIST_PAGE,
 * calling fn for each. How many, or -1. The last entry's seq in *seen. */
static long
history_page(struct redis_link *l, const struct gkeys *g, uint64_t from, uint64_t last,
    redis_hist_fn fn, void *arg, uint64_t *seen, char *err, size_t errlen)
{
	char lo[32], hi[32], count[16];
	const char *argv[6];
	size_t lens[6];
	redisReply *r, *e, *f;
	const redisReply *fr, *ep;
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
		/* [id, [f, frame, c, count, e, epoch]] */
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    (f = e->element[1])->type != REDIS_REPLY_ARRAY ||
		    (fr = entry_field(f, "f")) == NULL || (ep = entry_field(f, "e")) == NULL ||
		    ep->len != REDIS_EP_LEN) {
			snprintf(err, errlen, "XRANGE: malformed entry");
			goto out;
		}
		*seen = strtoull(e->element[0]->str, NULL, 10);
		fn(arg, *seen, ep->str, fr->str, fr->len);
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
                    uint64_t last, redis_hist_fn fn, void *arg, char *err, size_t errlen)
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

int
redis_run_id(struct redis_link *l, char run[REDIS_RUN_LEN + 1], char *err, size_t errlen)
{
	const char *argv[2] = { "INFO", "server" };
	const size_t lens[2] = { 4, 6 };
	const char *p;
	redisReply *r;
	size_t n;

	if ((r = redis_link_command(l, "INFO", 2, argv, lens, err, errlen)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STRING ||
	    (p = redis_info_field(r->str, r->len, "run_id", &n)) == NULL || n < REDIS_RUN_LEN) {
		snprintf(err, errlen, "INFO: no run_id");
		freeReplyObject(r);
		return -1;
	}
	memcpy(run, p, REDIS_RUN_LEN);
	run[REDIS_RUN_LEN] = '\0';
	freeReplyObject(r);
	return 0;
}

static size_t
cid_key(char *out, uint32_t cid)
{
	return (size_t)snprintf(out, KEY_MAX, RK_CID "%06" PRIx32, cid);
}

int
redis_cid_claim(struct redis_link *l, struct redis_scripts *s, uint32_t cid,
                const char *id, size_t len, const char *node, unsigned ttl_ms,
                char inc[REDIS_INC_LEN + 1], char *err, size_t errlen)
{
	char key[KEY_MAX], ttl[16], *ikey;
	const char *argv[4] = { key, NULL, node, ttl };
	size_t lens[4] = { cid_key(key, cid), strlen(RK_INC) + len, strlen(node), 0 };
	redisReply *r, **e;
	int rc = -1;

	lens[3] = (size_t)snprintf(ttl, sizeof(ttl), "%u", ttl_ms);
	if ((ikey = malloc(lens[1])) == NULL) {
		snprintf(err, errlen, "claim: out of memory");
		return -1;
	}
	redis_key(ikey, lens[1], RK_INC, id, len);
	argv[1] = ikey;
	r = redis_script_run(l, s, RS_CLAIM, 2, 4, argv, lens, err, errlen);
	free(ikey);
	if (r == NULL)
		return -1;
	e = r->element;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    e[0]->type != REDIS_REPLY_INTEGER || e[1]->type != REDIS_REPLY_STRING ||
	    (e[1]->len != 0 && e[1]->len != REDIS_INC_LEN)) {
		redis_reply_error(r, "claim", err, errlen);
	} else {
		memcpy(inc, e[1]->str, e[1]->len + 1);
		rc = e[0]->integer == 1;
	}
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
