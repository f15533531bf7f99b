/*
 * redis_script: Lua text as C strings, and the calls that run them. Keys
 * are "prefix + raw id": the prefix names the kind, so no id can forge
 * another group's key (docs/design.md, "Keys and channels"). Each script
 * declares every key it touches in KEYS; channels are not keys and travel
 * in ARGV.
 *
 * Who touches what: stateless; a struct redis_scripts belongs to the
 * connection (and so the thread) that loaded it, and redis_script_run
 * refreshes it when Redis answers NOSCRIPT.
 */
#include "groupchat/cluster/redis_script.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "groupchat/cluster/redis_link.h"

/* KEYS = [inc]; ARGV = [inc]. 1 created, 0 exists. */
static const char create_lua[] =
	"if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 1 end\n"
	"return 0\n";

/* KEYS = [inc, seq, hist]; ARGV = [channel, inc or '']. 1 deleted, 0 none. */
static const char delete_lua[] =
	"local cur = redis.call('GET', KEYS[1])\n"
	"if not cur or (ARGV[2] ~= '' and cur ~= ARGV[2]) then return 0 end\n"
	"redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])\n"
	"redis.call('PUBLISH', ARGV[1], 'd ' .. cur)\n"
	"return 1\n";

/* KEYS = [inc, seq, hist]; ARGV = [channel, inc, frame, history].
 * The sequence number, or 0 if the incarnation is not current. */
static const char publish_lua[] =
	"if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end\n"
	"local seq = redis.call('INCR', KEYS[2])\n"
	"redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], seq .. '-0', 'f', ARGV[3])\n"
	"redis.call('PUBLISH', ARGV[1], 'm ' .. ARGV[2] .. ' ' .. seq .. ' ' .. ARGV[3])\n"
	"return seq\n";

/* KEYS = [inc, seq]; ARGV = [inc, last]. The sequence, or -1 if the id
 * holds another incarnation. */
static const char reregister_lua[] =
	"local cur = redis.call('GET', KEYS[1])\n"
	"if not cur then redis.call('SET', KEYS[1], ARGV[1])\n"
	"elseif cur ~= ARGV[1] then return -1 end\n"
	"local seq = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
	"local last = tonumber(ARGV[2])\n"
	"if last > seq then redis.call('SET', KEYS[2], ARGV[2]); seq = last end\n"
	"return seq\n";

/* KEYS = [cid...]; ARGV = [node, ttl ms]. The keys another node holds. */
static const char refresh_lua[] =
	"local taken = {}\n"
	"for _, k in ipairs(KEYS) do\n"
	"  local v = redis.call('GET', k)\n"
	"  if v == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2])\n"
	"  elseif not v then redis.call('SET', k, ARGV[1], 'PX', ARGV[2])\n"
	"  else taken[#taken + 1] = k end\n"
	"end\n"
	"return taken\n";

/* KEYS = [cid]; ARGV = [node]. 1 released, 0 not ours. */
static const char release_lua[] =
	"if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
	"  return redis.call('DEL', KEYS[1])\n"
	"end\n"
	"return 0\n";

static const char *const sources[RS_COUNT] = {
	[RS_CREATE] = create_lua,
	[RS_DELETE] = delete_lua,
	[RS_PUBLISH] = publish_lua,
	[RS_REREGISTER] = reregister_lua,
	[RS_REFRESH] = refresh_lua,
	[RS_RELEASE] = release_lua,
};

/* Longest argv a call here builds: EVALSHA sha nkeys + refresh's keys. */
#define REFRESH_MAX 512
#define ARGV_MAX (REFRESH_MAX + 8)
#define KEY_MAX 64

const char *
redis_script_source(enum redis_script_id id)
{
	return sources[id];
}

/* err for a reply that is not what was expected. */
static void
reply_error(const redisReply *r, const char *what, char *err, size_t errlen)
{
	if (r->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "%s: %s", what, r->str);
	else
		snprintf(err, errlen, "%s: unexpected reply type %d", what, r->type);
}

/* Reads n replies of a pipeline: 0 with all in r[], or -1 with err (none kept). */
static int
read_n(struct redis_link *l, redisReply **r, int n, const char *what, char *err,
       size_t errlen)
{
	int i;

	if (redis_link_flush(l) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if (redis_link_read(l, &r[i], l->timeout_ms) != 1) {
			while (i-- > 0)
				freeReplyObject(r[i]);
			goto fail;
		}
	}
	return 0;
fail:
	redis_link_error(l, what, err, errlen);
	return -1;
}

int
redis_scripts_load(struct redis_link *l, struct redis_scripts *s, char *err, size_t errlen)
{
	redisReply *r[RS_COUNT];
	const char *argv[3];
	size_t lens[3];
	int i, rc = 0;

	argv[0] = "SCRIPT", lens[0] = 6;
	argv[1] = "LOAD", lens[1] = 4;
	for (i = 0; i < RS_COUNT; i++) {
		argv[2] = sources[i];
		lens[2] = strlen(sources[i]);
		if (redis_link_append(l, 3, argv, lens) == -1) {
			snprintf(err, errlen, "SCRIPT LOAD: out of memory");
			return -1;
		}
	}
	if (read_n(l, r, RS_COUNT, "SCRIPT LOAD", err, errlen) == -1)
		return -1;
	for (i = 0; i < RS_COUNT; i++) {
		if (rc == 0 && (r[i]->type != REDIS_REPLY_STRING || r[i]->len != 40)) {
			reply_error(r[i], "SCRIPT LOAD", err, errlen);
			rc = -1;
		} else if (rc == 0) {
			memcpy(s->sha[i], r[i]->str, 41);
		}
		freeReplyObject(r[i]);
	}
	return rc;
}

/* Builds "EVALSHA sha nkeys argv..." (or EVAL source) into av/al. */
static int
build(const char *verb, const char *body, int nkeys, int argc, const char **argv,
      const size_t *lens, const char **av, size_t *al, char *nk)
{
	int i;

	if (argc + 3 > ARGV_MAX)
		return -1;
	snprintf(nk, 16, "%d", nkeys);
	av[0] = verb;
	al[0] = strlen(verb);
	av[1] = body;
	al[1] = strlen(body);
	av[2] = nk;
	al[2] = strlen(nk);
	for (i = 0; i < argc; i++) {
		av[3 + i] = argv[i];
		al[3 + i] = lens[i];
	}
	return argc + 3;
}

int
redis_script_append(struct redis_link *l, const struct redis_scripts *s,
                    enum redis_script_id id, int nkeys, int argc,
                    const char **argv, const size_t *lens)
{
	const char *av[ARGV_MAX];
	size_t al[ARGV_MAX];
	char nk[16];
	int n = build("EVALSHA", s->sha[id], nkeys, argc, argv, lens, av, al, nk);

	if (n == -1)
		return -1;
	return redis_link_append(l, n, av, al);
}

redisReply *
redis_script_run(struct redis_link *l, struct redis_scripts *s, enum redis_script_id id,
                 int nkeys, int argc, const char **argv, const size_t *lens,
                 char *err, size_t errlen)
{
	const char *av[ARGV_MAX];
	size_t al[ARGV_MAX];
	char nk[16];
	redisReply *r;
	int n = build("EVALSHA", s->sha[id], nkeys, argc, argv, lens, av, al, nk);

	if (n == -1) {
		snprintf(err, errlen, "EVALSHA: too many arguments");
		return NULL;
	}
	r = redis_link_command(l, "EVALSHA", n, av, al, err, errlen);
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0) {
		/* the cache was flushed: run the text, then load all again */
		freeReplyObject(r);
		build("EVAL", sources[id], nkeys, argc, argv, lens, av, al, nk);
		r = redis_link_command(l, "EVAL", n, av, al, err, errlen);
		if (r != NULL && redis_scripts_load(l, s, err, errlen) == -1) {
			freeReplyObject(r);
			return NULL;
		}
	}
	return r;
}

int
redis_inc_new(char inc[REDIS_INC_LEN + 1])
{
	unsigned char raw[REDIS_INC_LEN / 2];
	size_t got = 0;
	ssize_t n;
	int i;

	while (got < sizeof(raw)) {
		n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	for (i = 0; i < (int)sizeof(raw); i++)
		snprintf(inc + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

size_t
redis_key(char *out, size_t n, const char *prefix, const char *id, size_t len)
{
	size_t plen = strlen(prefix);

	if (plen + len > n)
		return 0;
	memcpy(out, prefix, plen);
	if (len > 0)
		memcpy(out + plen, id, len);
	return plen + len;
}

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

static void
gkeys_free(struct gkeys *g)
{
	int i;

	for (i = 0; i < 4; i++)
		free(g->k[i]);
}

/* An integer reply of script id, or -1 with err. */
static int64_t
run_int(struct redis_link *l, struct redis_scripts *s, enum redis_script_id id, int nkeys,
        int argc, const char **argv, const size_t *lens, const char *what,
        char *err, size_t errlen)
{
	redisReply *r = redis_script_run(l, s, id, nkeys, argc, argv, lens, err, errlen);
	int64_t v;

	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_INTEGER) {
		reply_error(r, what, err, errlen);
		freeReplyObject(r);
		return -1;
	}
	v = r->integer;
	freeReplyObject(r);
	return v;
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
	argv[0] = g.k[0];
	lens[0] = g.l[0];
	argv[1] = inc;
	lens[1] = strlen(inc);
	v = run_int(l, s, RS_CREATE, 1, 2, argv, lens, "create", err, errlen);
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
	argv[0] = g.k[0], lens[0] = g.l[0];
	argv[1] = g.k[1], lens[1] = g.l[1];
	argv[2] = g.k[2], lens[2] = g.l[2];
	argv[3] = g.k[3], lens[3] = g.l[3];
	argv[4] = inc != NULL ? inc : "";
	lens[4] = strlen(argv[4]);
	v = run_int(l, s, RS_DELETE, 3, 5, argv, lens, "delete", err, errlen);
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
	if (read_n(l, r, 4, "baseline", err, errlen) == -1)
		return -1;
	rc = -1;
	if (r[3]->type != REDIS_REPLY_ARRAY || r[3]->elements != 2) {
		reply_error(r[3], "baseline", err, errlen);
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
	argv[0] = g.k[0], lens[0] = g.l[0];
	argv[1] = g.k[1], lens[1] = g.l[1];
	argv[2] = g.k[2], lens[2] = g.l[2];
	argv[3] = g.k[3], lens[3] = g.l[3];
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
	argv[0] = g.k[0], lens[0] = g.l[0];
	argv[1] = g.k[1], lens[1] = g.l[1];
	argv[2] = g.k[2], lens[2] = g.l[2];
	argv[3] = g.k[3], lens[3] = g.l[3];
	argv[4] = inc, lens[4] = strlen(inc);
	argv[5] = frame, lens[5] = flen;
	argv[6] = h, lens[6] = strlen(h);
	v = run_int(l, s, RS_PUBLISH, 3, 7, argv, lens, "publish", err, errlen);
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
	argv[0] = g.k[0], lens[0] = g.l[0];
	argv[1] = g.k[1], lens[1] = g.l[1];
	argv[2] = inc, lens[2] = strlen(inc);
	argv[3] = lastbuf, lens[3] = strlen(lastbuf);
	err[0] = '\0'; /* the script's -1 leaves it empty; a failure fills it */
	v = run_int(l, s, RS_REREGISTER, 2, 4, argv, lens, "reregister", err, errlen);
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
		reply_error(r, "XRANGE", err, errlen);
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
		reply_error(r, "claim", err, errlen);
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
				reply_error(r, "refresh", err, errlen);
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

	return (int)run_int(l, s, RS_RELEASE, 1, 2, argv, lens, "release", err, errlen);
}

/* Parses a decimal > 0 that fits 64 bits from p/n up to a space. */
static int
parse_seq(const char *p, size_t n, uint64_t *v, size_t *used)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n && p[i] != ' '; i++) {
		if (p[i] < '0' || p[i] > '9' || *v > (UINT64_MAX - 9) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(p[i] - '0');
	}
	*used = i;
	return i == 0 || *v == 0 ? -1 : 0;
}

int
redis_msg_parse(const char *p, size_t n, struct redis_msg *m)
{
	size_t used;

	if (n < 2 + REDIS_INC_LEN || p[1] != ' ' || (p[0] != 'm' && p[0] != 'd'))
		goto bad;
	memcpy(m->inc, p + 2, REDIS_INC_LEN);
	m->inc[REDIS_INC_LEN] = '\0';
	if (memchr(m->inc, ' ', REDIS_INC_LEN) != NULL)
		goto bad;
	if (p[0] == 'd') {
		if (n != 2 + REDIS_INC_LEN)
			goto bad;
		m->kind = RE_DELETED;
		m->seq = 0;
		m->frame = NULL;
		m->flen = 0;
		return 0;
	}
	p += 2 + REDIS_INC_LEN;
	n -= 2 + REDIS_INC_LEN;
	if (n < 3 || p[0] != ' ' || parse_seq(p + 1, n - 1, &m->seq, &used) == -1 ||
	    used + 1 >= n)
		goto bad;
	m->kind = RE_MESSAGE;
	m->frame = p + 2 + used;
	m->flen = n - 2 - used;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
