/*
 * it_cluster_lineage: continuity across Redis restarts bound to the data
 * set's lineage (docs/design.md, "Continuity"), black-box, with real
 * redis-servers and two groupchat processes. A Redis with appendonly yes
 * and appendfsync always, SIGKILLed and restarted on its append-only
 * file, keeps every position: a groupchat.v1 member that left before
 * resumes on the other node with "ok" and exactly what it missed (from
 * before and after the restart), and a member connected throughout is
 * not closed and misses nothing. The same restart with appendfsync
 * everysec may have lost what members saw: "reset" and 1013 as for any
 * other restart. A replica (durable too) promoted after it missed the
 * master's last writes: "reset", never the old epoch without them.
 */
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/itest.h"
#include "support/itest_cluster.h"
#include "support/itest_ws_extra.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#define WAIT_MS (3 * IT_TIMEOUT_MS)
/* Messages per step. */
#define K 5

static const char *const always[] = { "--appendonly", "yes", "--appendfsync", "always",
	NULL };
static const char *const everysec[] = { "--appendonly", "yes", "--appendfsync", "everysec",
	NULL };

static struct cl_cluster cl;

/* The payload of the next text frame on ws, malloc'd; fails the test on
 * anything else. */
static char *
next_text(struct it_ws *ws, const char *why)
{
	struct it_frame f;
	enum it_recv r = it_ws_recv(ws, &f, WAIT_MS);
	char *s;

	ck_assert_msg(r == IT_FRAME, "%s: no frame (%d)", why, (int)r);
	ck_assert_msg(f.opcode == IT_OP_TEXT, "%s: frame opcode %d, close %s", why, f.opcode,
	    f.opcode == IT_OP_CLOSE && f.len >= 2 ? (const char *)f.payload + 2 : "");
	s = strdup((const char *)f.payload);
	ck_assert_ptr_nonnull(s);
	it_frame_free(&f);
	return s;
}

/* A groupchat.v1 join of path (id and query) on node i. */
static struct it_ws *
join_v1(int i, const char *path)
{
	struct it_response resp;
	struct it_ws *ws;
	char full[128];

	snprintf(full, sizeof(full), "/groups/%s", path);
	ws = it_ws_connect_resp(cl.node[i].port, full,
	    "Sec-WebSocket-Protocol: groupchat.v1\r\n", &resp);
	ck_assert_msg(ws != NULL, "join %s on node %d: status %d", path, i, resp.status);
	it_response_free(&resp);
	return ws;
}

/* The status frame: "ok"/"reset" in kind, the epoch into ep, the offset. */
static unsigned long
status(struct it_ws *ws, char kind[8], char ep[17], const char *why)
{
	char *s = next_text(ws, why);
	unsigned long off = 0;
	int n = 0;

	ck_assert_msg(sscanf(s, "%7s %16[0-9a-f]:%lu%n", kind, ep, &off, &n) == 3 &&
	    s[n] == '\0' && strlen(ep) == 16, "%s: status \"%s\"", why, s);
	free(s);
	return off;
}

/* The next frame is message "m-0-<k>" at position ep:off. */
static void
expect_at(struct it_ws *ws, const char *ep, unsigned long off, int k, const char *why)
{
	char *s = next_text(ws, why), want[64], body[32];
	size_t n;

	n = (size_t)snprintf(want, sizeof(want), "%s:%lu\n", ep, off);
	snprintf(body, sizeof(body), " - m-0-%d", k);
	ck_assert_msg(strncmp(s, want, n) == 0 && strlen(s) == n + 6 + strlen(body) &&
	    strcmp(s + n + 6, body) == 0, "%s: got \"%s\", want %s:%lu m-0-%d", why, s, ep,
	    off, k);
	free(s);
}

/* Peer 0 sends n messages "m-0-<k>" (the group's only sender), then every
 * peer still open holds them. */
static void
send_from_0(struct cl_peer *ps, int *sent, int n, const char *why)
{
	char body[32];

	for (int i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "m-0-%d", sent[0]++);
		ck_assert_int_eq(it_ws_send_text(ps[0].ws, body), 0);
	}
	cl_expect_round(ps, 2, sent, WAIT_MS, "%s", why);
}

/* Group id on a cluster already up: peer 0 (the sender) on node 0, peer 1
 * on node 1, hellos exchanged (the group's first two messages); then a
 * groupchat.v1 member on node 0 that receives K messages and leaves. Its
 * epoch into ep; the position it left at, returned. */
static unsigned long
member_leaves(const char *id, struct cl_peer *ps, int *sent, char ep[17])
{
	struct it_ws *v;
	char kind[8];
	unsigned long at;

	ck_assert_int_eq(itx_create(cl.node[0].port, id), 201);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(cl_peer_join(&ps[i], cl.node[i].port, id, i), 101);
	ck_assert_int_eq(cl_peers_hello(ps, 2, WAIT_MS), 0);
	v = join_v1(0, id);
	at = status(v, kind, ep, "first join");
	ck_assert_str_eq(kind, "ok");
	ck_assert_uint_eq(at, 2);               /* the two hellos */
	send_from_0(ps, sent, K, "while the v1 member is there");
	for (int k = 0; k < K; k++)
		expect_at(v, ep, at + 1 + (unsigned long)k, k, "live");
	ck_assert_int_eq(it_ws_close(v), 0);
	return at + K;
}

/*
 * The lead case: 2 + 5 messages, a groupchat.v1 member leaves at 7; 5
 * more; Redis (appendonly yes, appendfsync always) SIGKILLed and
 * restarted on its directory; 5 more once both nodes are up. The member
 * resumes on node 1 with since=<epoch>:7: "ok <epoch>:17", the 10 it
 * missed in order, then live. Peer 1, connected throughout, is not
 * closed and holds all 15 in order. Before lineages every restart began
 * a new epoch: the peers were closed 1013 and the member got "reset".
 */
/* Every node logged which epoch token its command link took. */
static void
expect_token_kind(const char *kind)
{
	char want[64];

	snprintf(want, sizeof(want), "redis_epoch_token kind=%s ", kind);
	for (int i = 0; i < cl.n; i++)
		ck_assert_msg(strstr(it_proc_stderr(cl.node[i].p), want) != NULL,
		    "node %d logged no \"%s\": %s", i, want, it_proc_stderr(cl.node[i].p));
}

START_TEST(durable_restart_keeps_positions)
{
	struct cl_peer ps[2];
	int sent[2] = { 0 };
	char ep[17], ep2[17], kind[8], path[96];
	unsigned long left, at;
	struct it_ws *v;
	char *breach;

	cl_up_redis(&cl, 2, NULL, NULL, always);
	expect_token_kind("lineage");
	left = member_leaves("dur", ps, sent, ep);
	send_from_0(ps, sent, K, "after the member left");
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	ck_assert_int_eq(cl_wait_healthz(cl.node[0].port, 503, WAIT_MS), 0);
	ck_assert_int_eq(rf_restart_kept(cl.rf, NULL), 0);
	cl_expect_up(&cl, 0, "restarted on its AOF");
	cl_expect_up(&cl, 1, "restarted on its AOF");
	send_from_0(ps, sent, K, "after the restart");
	snprintf(path, sizeof(path), "dur?since=%s:%lu", ep, left);
	v = join_v1(1, path);
	at = status(v, kind, ep2, "resume");
	ck_assert_msg(strcmp(kind, "ok") == 0 && strcmp(ep2, ep) == 0 && at == left + 2 * K,
	    "resume after a durable restart: \"%s %s:%lu\", want \"ok %s:%lu\"", kind, ep2,
	    at, ep, left + 2 * K);
	for (int k = K; k < 3 * K; k++)
		expect_at(v, ep, left + 1 + (unsigned long)(k - K), k, "replayed");
	send_from_0(ps, sent, 1, "live after the resume");
	expect_at(v, ep, left + 2 * K + 1, 3 * K, "live after the resume");
	for (int i = 0; i < 2; i++)
		ck_assert_msg(ps[i].close_code == 0, "peer %d closed %d \"%s\" by a durable "
		    "restart", i, ps[i].close_code, ps[i].close_reason);
	breach = cl_check_no_gap(ps, 2, sent);
	ck_assert_msg(breach == NULL, "%s", breach);
	ck_assert_uint_eq(ps[1].ngot, (size_t)sent[0]);
	ck_assert_int_eq(it_ws_close(v), 0);
	for (int i = 0; i < 2; i++)
		cl_peer_free(&ps[i]);
	cl_down(&cl);
}
END_TEST

/* A groupchat.v1 resume of id at ep:at on node i must be "reset" with
 * another epoch. */
static void
expect_reset(int i, const char *id, const char *ep, unsigned long at, const char *why)
{
	char path[96], kind[8], ep2[17];
	struct it_ws *v;

	snprintf(path, sizeof(path), "%s?since=%s:%lu", id, ep, at);
	v = join_v1(i, path);
	status(v, kind, ep2, why);
	ck_assert_msg(strcmp(kind, "reset") == 0 && strcmp(ep2, ep) != 0,
	    "%s: \"%s %s\" for since=%s:%lu, want reset to another epoch", why, kind, ep2,
	    ep, at);
	ck_assert_int_eq(it_ws_close(v), 0);
}

/*
 * The same restart with appendfsync everysec: Redis may have lost the
 * last second, which members may have seen, so the restart is a break as
 * before lineages: the peers get 1013 and a since gets "reset".
 */
START_TEST(everysec_restart_breaks)
{
	struct cl_peer ps[2];
	int sent[2] = { 0 };
	struct cl_peers all = { ps, 2 };
	char ep[17];
	unsigned long left;

	cl_up_redis(&cl, 2, NULL, NULL, everysec);
	expect_token_kind("run_id");
	left = member_leaves("sec", ps, sent, ep);
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	ck_assert_int_eq(cl_wait_healthz(cl.node[0].port, 503, WAIT_MS), 0);
	ck_assert_int_eq(rf_restart_kept(cl.rf, NULL), 0);
	cl_expect_up(&cl, 0, "restarted, everysec");
	cl_expect_up(&cl, 1, "restarted, everysec");
	cl_pump(ps, 2, cl_all_closed, &all, WAIT_MS);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(ps[i].close_code == 1013, "peer %d: close %d, want 1013", i,
		    ps[i].close_code);
	expect_reset(1, "sec", ep, left, "restarted, everysec");
	for (int i = 0; i < 2; i++)
		cl_peer_free(&ps[i]);
	cl_down(&cl);
}
END_TEST

/* The replica's port, for the predicates below. */
static int replica_port;

/* One command on the replica (no AUTH); the reply or NULL. */
static redisReply *
on_replica(const char *cmd)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", replica_port, tv);
	redisReply *r = NULL;

	if (c != NULL && c->err == 0)
		r = redisCommand(c, cmd);
	redisFree(c);
	return r;
}

/* Whether the replica has the group's counter at *(unsigned long *)want,
 * and has finished the AOF rewrite that follows a sync (it is durable). */
static int
replica_caught_up(void *want)
{
	redisReply *seq = on_replica("GET gc:seq:pro"), *info = on_replica("INFO persistence");
	char v[24];
	int ok;

	snprintf(v, sizeof(v), "%lu", *(unsigned long *)want);
	ok = seq != NULL && seq->type == REDIS_REPLY_STRING && strcmp(seq->str, v) == 0 &&
	    info != NULL && info->type == REDIS_REPLY_STRING &&
	    strstr(info->str, "aof_rewrite_in_progress:0") != NULL &&
	    strstr(info->str, "aof_rewrite_scheduled:0") != NULL;
	if (seq != NULL)
		freeReplyObject(seq);
	if (info != NULL)
		freeReplyObject(info);
	return ok;
}

/*
 * A replica with appendonly yes and appendfsync always too, stopped
 * (SIGSTOP) while 5 more messages go through the master, so it misses
 * them; the master dies, the replica is promoted (REPLICAOF NO ONE) and
 * the nodes are started again on it. A since at the position before the
 * lost messages must be "reset": the replica has the lineage the master
 * wrote, and without renewing it would continue the old epoch without
 * what peer 1 saw, numbering new messages with the lost ones' numbers.
 */
START_TEST(promoted_replica_breaks)
{
	struct cl_peer ps[2];
	int sent[2] = { 0 };
	char ep[17], port[16], url[160];
	const char *rargs[8] = { "--appendonly", "yes", "--appendfsync", "always",
		"--replicaof", "127.0.0.1", port, NULL };
	struct redis_fixture *replica;
	unsigned long left;

	cl_up_redis(&cl, 2, NULL, NULL, always);
	snprintf(port, sizeof(port), "%d", rf_port(cl.rf));
	replica = rf_start_args(NULL, rargs);
	ck_assert_ptr_nonnull(replica);
	replica_port = rf_port(replica);
	left = member_leaves("pro", ps, sent, ep);
	ck_assert_msg(it_wait_until(replica_caught_up, &left, 4 * WAIT_MS),
	    "the replica never caught up with the master at %lu", left);
	ck_assert_int_eq(rf_pause(replica), 0);
	send_from_0(ps, sent, K, "while the replica is stopped");
	ck_assert_int_eq(rf_kill(cl.rf), 0);
	ck_assert_int_eq(rf_resume(replica), 0);
	{
		redisReply *r = on_replica("REPLICAOF NO ONE");

		ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "REPLICAOF NO ONE");
		freeReplyObject(r);
	}
	for (int i = 0; i < 2; i++) {
		cl_node_kill(&cl.node[i]);
		cl_node_free(&cl.node[i]);
	}
	cl_url(url, sizeof(url), replica_port, NULL);
	for (int i = 0; i < 2; i++) {
		cl_node_start(&cl.node[i], url, NULL);
		cl_expect_up(&cl, i, "on the promoted replica");
	}
	expect_reset(1, "pro", ep, left, "promoted replica");
	for (int i = 0; i < 2; i++)
		cl_peer_free(&ps[i]);
	rf_stop(replica);
	cl_down(&cl);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_cluster_lineage");
	TCase *tc = tcase_create("lineage");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, durable_restart_keeps_positions);
	tcase_add_test(tc, everysec_restart_breaks);
	tcase_add_test(tc, promoted_replica_breaks);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
