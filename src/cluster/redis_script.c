/*
 * redis_script: the Lua text of cluster mode's scripts as C strings, and
 * how they run over a link: SCRIPT LOAD once per connection, EVALSHA
 * after that, EVAL and a fresh load when Redis answers NOSCRIPT. Each
 * script declares every key it touches in KEYS; channels are not keys and
 * travel in ARGV. The calls that fill KEYS and ARGV are redis_calls.c.
 *
 * Who touches what: stateless; a struct redis_scripts belongs to the
 * connection (and so the thread) that loaded it, and redis_script_run
 * refreshes it when Redis answers NOSCRIPT.
 */
#include "groupchat/cluster/redis_script.h"

#include <stdio.h>
#include <string.h>

#include "groupchat/cluster/redis_link.h"

/*
 * A group's incarnation key holds "<inc> <token> <ep>": its incarnation
 * (32 hex digits), the epoch token (16 hex digits) of the link that began
 * its epoch, and the epoch (16 hex digits); so a publish reads all three
 * with the one GET it always made. A token is the lineage of a data set
 * that no restart can rewind, or else the first digits of the run_id of
 * the Redis process the link talks to (redis_lineage.c).
 *
 * The epoch check that publish and baseline share (docs/design.md,
 * "Continuity"): an epoch lives as long as its token. When the key names
 * another token (a restart of a Redis that may have lost writes, a
 * promoted replica), whatever the data lost is unknown, so a new epoch
 * begins, numbered on above both the counter's and the history's last
 * (XADD's ids keep rising).
 *
 * gc:groups counts the incarnation keys: create and reregister add one,
 * delete takes one away (docs/design.md, "Bounds in bytes").
 */
#define EPOCH_LUA \
	"local function top(h)\n" \
	"  local e = redis.call('XREVRANGE', h, '+', '-', 'COUNT', 1)\n" \
	"  if e[1] then return tonumber(string.match(e[1][1], '^%d+')) end\n" \
	"  return 0\n" \
	"end\n" \
	"local function epoch(ki, ks, kh, v, token, ep)\n" \
	"  if string.sub(v, 34, 49) == token then return string.sub(v, 51) end\n" \
	"  local n = tonumber(redis.call('GET', ks) or '0')\n" \
	"  local t = top(kh)\n" \
	"  if t > n then redis.call('SET', ks, t) end\n" \
	"  redis.call('SET', ki, string.sub(v, 1, 32) .. ' ' .. token .. ' ' .. ep)\n" \
	"  return ep\n" \
	"end\n"

/* KEYS = [inc, seq, hist, hbytes, groups]; ARGV = [inc, token, ep, max].
 * 1 created, 0 exists, 2 Redis holds max groups already. */
static const char create_lua[] =
	"if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
	"if tonumber(redis.call('GET', KEYS[5]) or '0') >= tonumber(ARGV[4]) then\n"
	"  return 2\n"
	"end\n"
	"redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])\n"
	"redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])\n"
	"redis.call('INCR', KEYS[5])\n"
	"return 1\n";

/* KEYS = [inc, seq, hist, hbytes, gone, groups]; ARGV = [channel, inc or
 * '', gone ttl ms]. 1 deleted, 0 none. The tombstone and the event carry
 * the group's last number: a node that fanned out less tells its members
 * (1013). */
static const char delete_lua[] =
	"local v = redis.call('GET', KEYS[1])\n"
	"if not v then return 0 end\n"
	"local cur = string.sub(v, 1, 32)\n"
	"if ARGV[2] ~= '' and cur ~= ARGV[2] then return 0 end\n"
	"local n = redis.call('GET', KEYS[2]) or '0'\n"
	"redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])\n"
	"if redis.call('DECR', KEYS[6]) < 0 then redis.call('SET', KEYS[6], 0) end\n"
	"redis.call('SET', KEYS[5], cur .. ' ' .. n, 'PX', ARGV[3])\n"
	"redis.call('PUBLISH', ARGV[1], 'd ' .. cur .. ' ' .. n)\n"
	"return 1\n";

/*
 * KEYS = [inc, seq, hist, hbytes]; ARGV = [channel, inc, frame, len, bytes,
 * token, ep]. The sequence number, or 0 if the incarnation is not current. A
 * counter lost while the history stayed (an evicted key) starts a new
 * epoch too.
 *
 * The count is XADD's own MAXLEN ~ len: Redis drops whole stream nodes,
 * so at least len entries stay and at most a node more (100 entries by
 * default). The bytes: hbytes counts every frame byte ever added, and
 * each entry carries that count as it stood before it (field c beside
 * the frame f and the epoch e), so the history holds hbytes minus the
 * oldest entry's c. That entry is read each time another bytes / 8 have
 * been added, so most publishes pay one INCRBY and no read. When past
 * bytes, the oldest entries go (XTRIM MINID), read a page of 8 at a time,
 * their c fields saying where to cut. Between two checks less than
 * bytes / 8 came in (a frame of bytes / 8 or more always crosses one), so
 * the history holds less than bytes + bytes / 8, and at most bytes right
 * after a check. A frame larger than bytes empties the history, which is
 * never holed, only shorter; len 0 keeps none. An entry without a c field
 * (written before these bounds) counts as 0: it goes at the first trim.
 */
static const char publish_lua[] =
	EPOCH_LUA
	"local v = redis.call('GET', KEYS[1])\n"
	"if not v or string.sub(v, 1, 32) ~= ARGV[2] then return 0 end\n"
	"local ep = epoch(KEYS[1], KEYS[2], KEYS[3], v, ARGV[6], ARGV[7])\n"
	"local seq = redis.call('INCR', KEYS[2])\n"
	"if seq == 1 then\n"
	"  local t = top(KEYS[3])\n"
	"  if t > 0 then\n"
	"    ep = ARGV[7]\n"
	"    seq = t + 1\n"
	"    redis.call('SET', KEYS[2], seq)\n"
	"    redis.call('SET', KEYS[1], ARGV[2] .. ' ' .. ARGV[6] .. ' ' .. ep)\n"
	"  end\n"
	"end\n"
	"local n, b, l = tonumber(ARGV[4]), tonumber(ARGV[5]), #ARGV[3]\n"
	"if n == 0 then redis.call('DEL', KEYS[3], KEYS[4]) else\n"
	"  local c = redis.call('INCRBY', KEYS[4], l)\n"
	"  redis.call('XADD', KEYS[3], 'MAXLEN', '~', n, seq .. '-0', 'f', ARGV[3], 'c', c - l, 'e', ep)\n"
	"  local step, page = math.max(math.floor(b / 8), 1), 1\n"
	"  if math.floor(c / step) ~= math.floor((c - l) / step) then\n"
	"    while true do\n"
	"      local es = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', page)\n"
	"      local keep\n"
	"      for _, e in ipairs(es) do\n"
	"        if c - tonumber(e[2][4] or '0') <= b then keep = e; break end\n"
	"      end\n"
	"      if keep then\n"
	"        if keep ~= es[1] then redis.call('XTRIM', KEYS[3], 'MINID', keep[1]) end\n"
	"        break\n"
	"      elseif #es < page then\n"
	"        redis.call('DEL', KEYS[3])\n"
	"        break\n"
	"      end\n"
	"      local last = string.match(es[page][1], '^%d+')\n"
	"      redis.call('XTRIM', KEYS[3], 'MINID', (tonumber(last) + 1) .. '-0')\n"
	"      page = 8\n"
	"    end\n"
	"  end\n"
	"end\n"
	"redis.call('PUBLISH', ARGV[1], 'm ' .. ARGV[2] .. ' ' .. ep .. ' ' .. seq .. ' ' .. ARGV[3])\n"
	"return seq\n";

/* KEYS = [inc, seq, hist, gone]; ARGV = [token, ep]. {inc, epoch, sequence,
 * tombstone, deleted incarnation}: when the id holds no group, {'', '',
 * the deleted group's last number, 1, its incarnation} if one was deleted
 * lately, else {'', '', 0, 0, ''}. A tombstone names the incarnation it
 * ended: a later group of the same id that Redis lost is not deleted. */
static const char baseline_lua[] =
	EPOCH_LUA
	"local v = redis.call('GET', KEYS[1])\n"
	"if not v then\n"
	"  local t = redis.call('GET', KEYS[4])\n"
	"  if not t then return {'', '', 0, 0, ''} end\n"
	"  return {'', '', tonumber(string.match(t, '(%d+)$')) or 0, 1, string.sub(t, 1, 32)}\n"
	"end\n"
	"local ep = epoch(KEYS[1], KEYS[2], KEYS[3], v, ARGV[1], ARGV[2])\n"
	"return {string.sub(v, 1, 32), ep, tonumber(redis.call('GET', KEYS[2]) or '0'), 0, ''}\n";

/* KEYS = [inc, seq, hist, gone, groups]; ARGV = [inc, token, ep]. 1 if the
 * group is there (again), 0 if the id holds another incarnation or inc was
 * deleted lately (a tombstone naming it; one left by an earlier group of
 * the same id does not count). A group registered again begins a new
 * epoch above whatever history survived, and counts among the groups past
 * their bound: a live group must not vanish. */
static const char reregister_lua[] =
	EPOCH_LUA
	"local v = redis.call('GET', KEYS[1])\n"
	"if v then if string.sub(v, 1, 32) == ARGV[1] then return 1 end return 0 end\n"
	"local t = redis.call('GET', KEYS[4])\n"
	"if t and string.sub(t, 1, 32) == ARGV[1] then return 0 end\n"
	"redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])\n"
	"redis.call('SET', KEYS[2], top(KEYS[3]))\n"
	"redis.call('INCR', KEYS[5])\n"
	"return 1\n";

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

/* KEYS = [cid, the group's inc]; ARGV = [node, ttl ms]. {1 claimed or 0
 * held elsewhere, the group's incarnation or ''}: a join learns in the
 * same round trip which incarnation of its group Redis holds. */
static const char claim_lua[] =
	"local ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])\n"
	"local v = redis.call('GET', KEYS[2])\n"
	"return { ok and 1 or 0, v and string.sub(v, 1, 32) or '' }\n";

static const char *const sources[RS_COUNT] = {
	[RS_CREATE] = create_lua,
	[RS_DELETE] = delete_lua,
	[RS_PUBLISH] = publish_lua,
	[RS_BASELINE] = baseline_lua,
	[RS_REREGISTER] = reregister_lua,
	[RS_REFRESH] = refresh_lua,
	[RS_RELEASE] = release_lua,
	[RS_CLAIM] = claim_lua,
};

/* Most argv entries a call builds: EVALSHA sha nkeys, then its arguments. */
#define ARGV_MAX (REDIS_SCRIPT_ARGS_MAX + 3)

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
	if (redis_link_read_n(l, r, RS_COUNT, "SCRIPT LOAD", err, errlen) == -1)
		return -1;
	for (i = 0; i < RS_COUNT; i++) {
		if (rc == 0 && (r[i]->type != REDIS_REPLY_STRING || r[i]->len != 40)) {
			redis_reply_error(r[i], "SCRIPT LOAD", err, errlen);
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

int64_t
redis_reply_int(redisReply *r, const char *what, char *err, size_t errlen)
{
	int64_t v;

	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_INTEGER) {
		redis_reply_error(r, what, err, errlen);
		freeReplyObject(r);
		return -1;
	}
	v = r->integer;
	freeReplyObject(r);
	return v;
}

int64_t
redis_script_run_int(struct redis_link *l, struct redis_scripts *s, enum redis_script_id id,
                     int nkeys, int argc, const char **argv, const size_t *lens,
                     const char *what, char *err, size_t errlen)
{
	return redis_reply_int(redis_script_run(l, s, id, nkeys, argc, argv, lens, err, errlen),
	    what, err, errlen);
}
