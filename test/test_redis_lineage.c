/*
 * test_redis_lineage: a link's epoch token (redis_lineage.h). The INFO
 * field reader and the judgement of the CONFIG and INFO replies on their
 * own; then against real redis-servers: a Redis with appendonly yes and
 * appendfsync always keeps its lineage through a SIGKILL and a restart
 * on its append-only file, and every link to it agrees; one restarted
 * empty has a new one; with appendfsync everysec, or CONFIG renamed
 * away, the token is the run_id's, new with every process; a replica
 * promoted to master renews the lineage once, and keeps the renewed one
 * through its own restart.
 */
#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_info.h"
#include "groupchat/cluster/redis_lineage.h"
#include "groupchat/cluster/redis_url.h"
#include "support/itest.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 20000

static const char *const always[] = { "--appendonly", "yes", "--appendfsync", "always",
	NULL };

/* A reply parsed from RESP text. */
static redisReply *
reply(const char *resp)
{
	redisReader *rd = redisReaderCreate();
	void *r = NULL;

	ck_assert_ptr_nonnull(rd);
	ck_assert_int_eq(redisReaderFeed(rd, resp, strlen(resp)), REDIS_OK);
	ck_assert_int_eq(redisReaderGetReply(rd, &r), REDIS_OK);
	ck_assert_ptr_nonnull(r);
	redisReaderFree(rd);
	return r;
}

/* A bulk string reply holding s. */
static redisReply *
bulk(const char *s)
{
	char resp[512];

	snprintf(resp, sizeof(resp), "$%zu\r\n%s\r\n", strlen(s), s);
	return reply(resp);
}

/* The value of field in s as a C string ("<none>" when absent). */
static const char *
field(const char *s, const char *name)
{
	static char out[64];
	const char *v;
	size_t n;

	if ((v = redis_info_field(s, strlen(s), name, &n)) == NULL)
		return "<none>";
	snprintf(out, sizeof(out), "%.*s", (int)n, v);
	return out;
}

START_TEST(info_field_reads_whole_names)
{
	const char *info = "# Replication\r\nrole:master\r\nmaster_replid:abc\r\n"
	    "master_replid2:000\r\nsecond_repl_offset:-1\r\nempty:\r\nlast:7";

	ck_assert_str_eq(field(info, "role"), "master");
	ck_assert_str_eq(field(info, "master_replid"), "abc");   /* not replid2's */
	ck_assert_str_eq(field(info, "master_replid2"), "000");
	ck_assert_str_eq(field(info, "second_repl_offset"), "-1");
	ck_assert_str_eq(field(info, "empty"), "");
	ck_assert_str_eq(field(info, "last"), "7");              /* no line end */
	ck_assert_str_eq(field(info, "replid"), "<none>");       /* only a line's start */
	ck_assert_str_eq(field(info, "Replication"), "<none>");
	ck_assert_str_eq(field("role\r\nrole", "role"), "<none>"); /* no colon */
	ck_assert_str_eq(field("", "role"), "<none>");
}
END_TEST

/* The settings and INFO judged: durable only with both settings read and
 * right and no AOF rewrite under way; promoted unless INFO says -1. */
START_TEST(durability_judged_from_replies)
{
	redisReply *yes = reply("*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n");
	redisReply *no = reply("*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
	redisReply *alw = reply("*2\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n");
	redisReply *sec = reply("*2\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n");
	redisReply *unknown = reply("-ERR unknown command 'CONFIG'\r\n");
	redisReply *empty = reply("*0\r\n");
	redisReply *master = bulk("# Replication\r\nrole:master\r\n"
	    "master_replid:0123456789abcdef01\r\nsecond_repl_offset:-1\r\n\r\n"
	    "# Persistence\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n");
	redisReply *promoted = bulk("# Replication\r\nrole:master\r\n"
	    "master_replid:fedcba9876543210ff\r\nsecond_repl_offset:1\r\n\r\n"
	    "# Persistence\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n");
	redisReply *rewriting = bulk("# Replication\r\nsecond_repl_offset:-1\r\n"
	    "# Persistence\r\naof_rewrite_in_progress:1\r\naof_rewrite_scheduled:0\r\n");
	redisReply *scheduled = bulk("# Replication\r\nsecond_repl_offset:-1\r\n"
	    "# Persistence\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:1\r\n");
	redisReply *bare = bulk("# Replication\r\nsecond_repl_offset:-1\r\n");
	char replid[REDIS_RUN_LEN + 1];
	struct redis_durability d;

	d = redis_durability_judge(yes, alw, master, replid);
	ck_assert(d.durable && !d.promoted);
	ck_assert_str_eq(replid, "0123456789abcdef");
	d = redis_durability_judge(yes, alw, promoted, replid);
	ck_assert(d.durable && d.promoted);
	ck_assert_str_eq(replid, "fedcba9876543210");
	d = redis_durability_judge(yes, sec, master, replid);
	ck_assert(!d.durable);
	d = redis_durability_judge(no, alw, master, replid);
	ck_assert(!d.durable);
	d = redis_durability_judge(unknown, unknown, master, replid);
	ck_assert(!d.durable);                  /* cannot tell: not durable */
	d = redis_durability_judge(empty, alw, master, replid);
	ck_assert(!d.durable);
	d = redis_durability_judge(yes, alw, unknown, replid);
	ck_assert(!d.durable && d.promoted);    /* cannot tell: renew */
	ck_assert_str_eq(replid, "");
	d = redis_durability_judge(NULL, NULL, NULL, replid);
	ck_assert(!d.durable && d.promoted);
	d = redis_durability_judge(yes, alw, rewriting, replid);
	ck_assert(!d.durable && !d.promoted);   /* writes may sit in a temporary file */
	d = redis_durability_judge(yes, alw, scheduled, replid);
	ck_assert(!d.durable);
	d = redis_durability_judge(yes, alw, bare, replid);
	ck_assert(!d.durable);                  /* no word on rewrites: cannot tell */
	freeReplyObject(yes);
	freeReplyObject(no);
	freeReplyObject(alw);
	freeReplyObject(sec);
	freeReplyObject(unknown);
	freeReplyObject(empty);
	freeReplyObject(master);
	freeReplyObject(promoted);
	freeReplyObject(rewriting);
	freeReplyObject(scheduled);
	freeReplyObject(bare);
}
END_TEST

/* A link to rf's Redis: its run_id part into run and its token into
 * token. */
static void
token_of(struct redis_fixture *rf, char run[REDIS_RUN_LEN + 1],
    char token[REDIS_RUN_LEN + 1])
{
	char s[64], err[256];
	const char *why;
	struct redis_url *u;
	struct redis_link *l;

	snprintf(s, sizeof(s), "redis://127.0.0.1:%d", rf_port(rf));
	u = redis_url_parse(s, strlen(s), NULL, &why);
	ck_assert_ptr_nonnull(u);
	l = redis_link_open(u, 5000, err, sizeof(err));
	ck_assert_msg(l != NULL, "%s", err);
	ck_assert_msg(redis_run_id(l, run, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(redis_epoch_token(l, run, token, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(strlen(token), REDIS_RUN_LEN);
	redis_link_free(l);
	redis_url_free(u);
}

START_TEST(durable_restart_keeps_the_lineage)
{
	struct redis_fixture *rf = rf_start_args(NULL, always);
	char cmd[128], out[64];
	char run[REDIS_RUN_LEN + 1], run2[REDIS_RUN_LEN + 1];
	char tok[REDIS_RUN_LEN + 1], tok2[REDIS_RUN_LEN + 1];

	ck_assert_ptr_nonnull(rf);
	token_of(rf, run, tok);
	ck_assert_str_ne(tok, run);             /* the lineage, not the process */
	token_of(rf, run2, tok2);
	ck_assert_str_eq(tok2, tok);            /* every link agrees */
	/* persistence changed at runtime: the process's links keep the
	 * judgement its first link recorded (design.md: not seen) */
	ck_assert_int_eq(rf_command(rf, "CONFIG SET appendfsync everysec", out,
	    sizeof(out)), 0);
	token_of(rf, run2, tok2);
	ck_assert_str_eq(tok2, tok);
	ck_assert_int_eq(rf_command(rf, "CONFIG SET appendfsync always", out, sizeof(out)),
	    0);
	/* a master's replication id changes after an hour without replicas:
	 * not promoted, its links follow the judgement they find */
	snprintf(cmd, sizeof(cmd), "SET gc:lineage \"%s %s:0123456789abcdef 1\"", tok, run);
	ck_assert_int_eq(rf_command(rf, cmd, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "+OK");
	token_of(rf, run2, tok2);
	ck_assert_str_eq(tok2, tok);
	/* a judgement of "not durable" recorded for this process is followed */
	snprintf(cmd, sizeof(cmd), "SET gc:lineage \"%s %s: 0\"", tok, run);
	ck_assert_int_eq(rf_command(rf, cmd, out, sizeof(out)), 0);
	token_of(rf, run2, tok2);
	ck_assert_str_eq(tok2, run2);
	snprintf(cmd, sizeof(cmd), "SET gc:lineage \"%s %s:0123456789abcdef 1\"", tok, run);
	ck_assert_int_eq(rf_command(rf, cmd, out, sizeof(out)), 0);
	ck_assert_int_eq(rf_kill(rf), 0);
	ck_assert_int_eq(rf_restart_kept(rf, NULL), 0);
	token_of(rf, run2, tok2);
	ck_assert_str_ne(run2, run);            /* another process ... */
	ck_assert_str_eq(tok2, tok);            /* ... of the same data set */
	ck_assert_int_eq(rf_kill(rf), 0);
	ck_assert_int_eq(rf_restart(rf), 0);    /* empty */
	token_of(rf, run2, tok2);
	ck_assert_str_ne(tok2, tok);
	rf_stop(rf);
}
END_TEST

/* gc:lineage of another type (a stray LPUSH, a restore gone wrong) is
 * judged as no lineage and overwritten, not a WRONGTYPE that would fail
 * every connect of every node for good. */
START_TEST(a_lineage_key_of_another_type_is_renewed)
{
	struct redis_fixture *rf = rf_start_args(NULL, always);
	char out[64], run[REDIS_RUN_LEN + 1], tok[REDIS_RUN_LEN + 1];

	ck_assert_ptr_nonnull(rf);
	ck_assert_int_eq(rf_command(rf, "RPUSH gc:lineage x", out, sizeof(out)), 0);
	token_of(rf, run, tok);
	ck_assert_str_ne(tok, run);             /* a fresh lineage */
	ck_assert_int_eq(rf_command(rf, "TYPE gc:lineage", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "+string");
	rf_stop(rf);
}
END_TEST

START_TEST(everysec_token_is_the_run_id)
{
	static const char *const everysec[] = { "--appendonly", "yes", "--appendfsync",
		"everysec", NULL };
	struct redis_fixture *rf = rf_start_args(NULL, everysec);
	char run[REDIS_RUN_LEN + 1], run2[REDIS_RUN_LEN + 1];
	char tok[REDIS_RUN_LEN + 1], tok2[REDIS_RUN_LEN + 1];

	ck_assert_ptr_nonnull(rf);
	token_of(rf, run, tok);
	ck_assert_str_eq(tok, run);
	ck_assert_int_eq(rf_kill(rf), 0);
	ck_assert_int_eq(rf_restart_kept(rf, NULL), 0);
	token_of(rf, run2, tok2);
	ck_assert_str_eq(tok2, run2);
	ck_assert_str_ne(tok2, tok);
	rf_stop(rf);
}
END_TEST

START_TEST(config_renamed_is_not_durable)
{
	static const char *const renamed[] = { "--appendonly", "yes", "--appendfsync",
		"always", "--rename-command", "CONFIG", "", NULL };
	struct redis_fixture *rf = rf_start_args(NULL, renamed);
	char run[REDIS_RUN_LEN + 1], tok[REDIS_RUN_LEN + 1];

	ck_assert_ptr_nonnull(rf);
	token_of(rf, run, tok);
	ck_assert_str_eq(tok, run);
	rf_stop(rf);
}
END_TEST

static struct redis_fixture *replica;

/* Whether the replica holds the master's lineage, and has finished the
 * AOF rewrite that follows its sync (until then it is not durable). */
static int
replica_synced(void *arg)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", rf_port(replica), tv);
	redisReply *r = NULL, *i = NULL;
	int ok;

	(void)arg;
	if (c == NULL || c->err) {
		redisFree(c);
		return 0;
	}
	r = redisCommand(c, "GET gc:lineage");
	i = redisCommand(c, "INFO persistence");
	ok = r != NULL && r->type == REDIS_REPLY_STRING && i != NULL &&
	    i->type == REDIS_REPLY_STRING &&
	    strstr(i->str, "aof_rewrite_in_progress:0") != NULL &&
	    strstr(i->str, "aof_rewrite_scheduled:0") != NULL;
	if (r != NULL)
		freeReplyObject(r);
	if (i != NULL)
		freeReplyObject(i);
	redisFree(c);
	return ok;
}

START_TEST(promoted_replica_renews_once)
{
	struct redis_fixture *m = rf_start_args(NULL, always);
	char port[16], out[64];
	char run[REDIS_RUN_LEN + 1], tok[REDIS_RUN_LEN + 1];
	char prun[REDIS_RUN_LEN + 1], ptok[REDIS_RUN_LEN + 1], ptok2[REDIS_RUN_LEN + 1];
	const char *args[8] = { "--appendonly", "yes", "--appendfsync", "always",
		"--replicaof", "127.0.0.1", port, NULL };

	ck_assert_ptr_nonnull(m);
	token_of(m, run, tok);
	snprintf(port, sizeof(port), "%d", rf_port(m));
	replica = rf_start_args(NULL, args);
	ck_assert_ptr_nonnull(replica);
	ck_assert(it_wait_until(replica_synced, NULL, WAIT_MS));
	ck_assert_int_eq(rf_command(replica, "REPLICAOF NO ONE", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "+OK");
	token_of(replica, prun, ptok);
	ck_assert_str_ne(ptok, tok);            /* renewed: it may lack the last writes */
	ck_assert_str_ne(ptok, prun);
	token_of(replica, prun, ptok2);
	ck_assert_str_eq(ptok2, ptok);          /* once for the process */
	ck_assert_int_eq(rf_kill(replica), 0);
	ck_assert_int_eq(rf_restart_kept(replica, always), 0);  /* a master now */
	token_of(replica, prun, ptok2);
	ck_assert_str_eq(ptok2, ptok);          /* its own durable restart keeps it */
	rf_stop(replica);
	rf_stop(m);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("redis_lineage");
	TCase *tp = tcase_create("parse");
	TCase *tc = tcase_create("redis");

	tcase_add_test(tp, info_field_reads_whole_names);
	tcase_add_test(tp, durability_judged_from_replies);
	suite_add_tcase(s, tp);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, durable_restart_keeps_the_lineage);
	tcase_add_test(tc, a_lineage_key_of_another_type_is_renewed);
	tcase_add_test(tc, everysec_token_is_the_run_id);
	tcase_add_test(tc, config_renamed_is_not_durable);
	tcase_add_test(tc, promoted_replica_renews_once);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
