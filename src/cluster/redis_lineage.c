/*
 * redis_lineage: the epoch token of a link (include/groupchat/cluster/
 * redis_lineage.h; docs/design.md, "Continuity"). At every connect the
 * link asks, in one write, CONFIG GET appendonly, CONFIG GET appendfsync
 * and INFO replication persistence, then runs the lineage script with
 * EVAL (at each connect and every REDIS_TOKEN_CHECK_MS after, so it is
 * not among the loaded scripts).
 *
 * gc:lineage holds "<lineage> <run>:<replid> <durable>": the process
 * that judged it last (the first 16 digits of its run_id, which a restart
 * changes, and of its replication id, which a promotion changes) and
 * what it judged, "1" durable or "0". The first link of a process judges,
 * once, and every later link of it follows that judgement, so the links
 * of one process never carry two tokens (two would begin a new epoch at
 * every other publish): a link follows when the key names its run_id and,
 * if its process is a promoted replica, its replication id too (a master
 * also changes its replication id after an hour without replicas, which
 * must not make it judge again). The judging link keeps the lineage only
 * when both its process and the one that wrote the key were durable and
 * its own process is not a promoted replica: then the data came from an
 * append-only file that held every acknowledged write. Otherwise (a
 * snapshot, an AOF fsynced every second, a replica that may lack the
 * master's last writes) it renews it.
 *
 * Durable means appendonly yes, appendfsync always and no AOF rewrite
 * running or scheduled: a replica that just synced, or a master whose
 * AOF was just turned on, writes into a temporary file until its first
 * rewrite ends, and a crash then loses those writes. Whatever cannot be
 * told counts against: a CONFIG renamed or disabled (INFO does not show
 * appendfsync) is not durable; an INFO without second_repl_offset is a
 * promoted replica.
 *
 * Who touches what: stateless; runs on the thread that owns the link.
 */
#include "groupchat/cluster/redis_lineage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/cluster/redis_info.h"
#include "groupchat/cluster/redis_keys.h"

/* KEYS = [lineage]; ARGV = [run, replid, durable, promoted, fresh] ('1'
 * or '0' for durable and promoted). {lineage, durable}. A key of another
 * type reads as no lineage (SET then replaces it): a WRONGTYPE would fail
 * every link's connect for good. */
static const char lineage_lua[] =
	"local v = ''\n"
	"if redis.call('TYPE', KEYS[1]).ok == 'string' then v = redis.call('GET', KEYS[1]) end\n"
	"local l, r, p, d = string.match(v,\n"
	"  '^(' .. string.rep('[0-9a-f]', 16) .. ') ([0-9a-f]*):([0-9a-f]*) ([01])$')\n"
	"if l and r == ARGV[1] and (ARGV[4] == '0' or p == ARGV[2]) then return {l, d} end\n"
	"if not (l and d == '1' and ARGV[3] == '1' and ARGV[4] == '0') then l = ARGV[5] end\n"
	"redis.call('SET', KEYS[1], l .. ' ' .. ARGV[1] .. ':' .. ARGV[2] .. ' ' .. ARGV[3])\n"
	"return {l, ARGV[3]}\n";

/* Whether r, a CONFIG GET reply, gives the setting the value want. */
static int
config_is(const redisReply *r, const char *want)
{
	return r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING && strcmp(r->element[1]->str, want) == 0;
}

/* Whether s (n bytes) is a lineage: REDIS_LINEAGE_LEN lowercase hex digits. */
static int
is_lineage(const char *s, size_t n)
{
	return n == REDIS_LINEAGE_LEN && redis_is_hex(s, n);
}

/* Whether the INFO text r has field with the value want. */
static int
info_is(const redisReply *r, const char *field, const char *want)
{
	const char *v;
	size_t n;

	return (v = redis_info_field(r->str, r->len, field, &n)) != NULL &&
	    n == strlen(want) && memcmp(v, want, n) == 0;
}

struct redis_durability
redis_durability_judge(const redisReply *appendonly, const redisReply *appendfsync,
                       const redisReply *info, char replid[REDIS_RUN_LEN + 1])
{
	struct redis_durability d = { 0, 1 };
	const char *v;
	size_t n;

	replid[0] = '\0';
	if (info == NULL || info->type != REDIS_REPLY_STRING)
		return d;
	d.durable = config_is(appendonly, "yes") && config_is(appendfsync, "always") &&
	    info_is(info, "aof_rewrite_in_progress", "0") &&
	    info_is(info, "aof_rewrite_scheduled", "0");
	if ((v = redis_info_field(info->str, info->len, "master_replid", &n)) != NULL &&
	    redis_is_hex(v, n < REDIS_RUN_LEN ? n : REDIS_RUN_LEN))
		snprintf(replid, REDIS_RUN_LEN + 1, "%.*s", (int)n, v);
	d.promoted = (v = redis_info_field(info->str, info->len, "second_repl_offset",
	    &n)) == NULL || n != 2 || memcmp(v, "-1", 2) != 0;
	return d;
}


int
redis_epoch_token(struct redis_link *l, const char *run, char token[REDIS_RUN_LEN + 1],
                  char *err, size_t errlen)
{
	const char *cfg_aof[3] = { "CONFIG", "GET", "appendonly" };
	const char *cfg_fsync[3] = { "CONFIG", "GET", "appendfsync" };
	const char *info[3] = { "INFO", "replication", "persistence" };
	const size_t aof_lens[3] = { 6, 3, 10 }, fsync_lens[3] = { 6, 3, 11 };
	const size_t info_lens[3] = { 4, 11, 11 };
	char replid[REDIS_RUN_LEN + 1], fresh[REDIS_LINEAGE_LEN + 1];
	struct redis_durability d;
	const char *argv[9];
	size_t lens[9];
	redisReply *e;
	redisReply *r[3];

	if (redis_link_append(l, 3, cfg_aof, aof_lens) == -1 ||
	    redis_link_append(l, 3, cfg_fsync, fsync_lens) == -1 ||
	    redis_link_append(l, 3, info, info_lens) == -1) {
		snprintf(err, errlen, "lineage: out of memory");
		return -1;
	}
	if (redis_link_read_n(l, r, 3, "lineage", err, errlen) == -1)
		return -1;
	d = redis_durability_judge(r[0], r[1], r[2], replid);
	freeReplyObject(r[0]);
	freeReplyObject(r[1]);
	freeReplyObject(r[2]);
	if (redis_lineage_new(fresh) == -1) {
		snprintf(err, errlen, "lineage: getrandom failed");
		return -1;
	}
	argv[0] = "EVAL", lens[0] = 4;
	argv[1] = lineage_lua, lens[1] = sizeof(lineage_lua) - 1;
	argv[2] = "1", lens[2] = 1;
	argv[3] = RK_LINEAGE, lens[3] = strlen(RK_LINEAGE);
	argv[4] = run, lens[4] = strlen(run);
	argv[5] = replid, lens[5] = strlen(replid);
	argv[6] = d.durable ? "1" : "0", lens[6] = 1;
	argv[7] = d.promoted ? "1" : "0", lens[7] = 1;
	argv[8] = fresh, lens[8] = REDIS_LINEAGE_LEN;
	if ((r[0] = redis_link_command(l, "lineage", 9, argv, lens, err, errlen)) == NULL)
		return -1;
	if (r[0]->type != REDIS_REPLY_ARRAY || r[0]->elements != 2 ||
	    (e = r[0]->element[0])->type != REDIS_REPLY_STRING || !is_lineage(e->str, e->len) ||
	    r[0]->element[1]->type != REDIS_REPLY_STRING) {
		redis_reply_error(r[0], "lineage", err, errlen);
		freeReplyObject(r[0]);
		return -1;
	}
	snprintf(token, REDIS_RUN_LEN + 1, "%s",
	    strcmp(r[0]->element[1]->str, "1") == 0 ? e->str : run);
	freeReplyObject(r[0]);
	return 0;
}
