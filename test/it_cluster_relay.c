/*
 * it_cluster_relay: protocol.md's cluster guarantees 1, 2, 3 and 6,
 * black-box: a redis-server and three groupchat processes (this
 * variant's binary with --redis) on free loopback ports, driven over
 * HTTP and WebSocket. Members on all three nodes sending at once receive
 * one identical, complete sequence; one id created on three nodes at
 * once gets exactly one 201, 200 times over; a group is joinable through
 * every node; text stays text and binary binary across nodes; connection
 * ids are six hex digits, unique across the nodes, claimed while open and
 * released on leave.
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/itest.h"
#include "support/itest_cluster.h"
#include "support/itest_ws_extra.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

/* Rounds of the all-sending test: each member sends this many. */
#define ROUNDS_PLAIN 60
#define ROUNDS_SANITIZED 20
/* The create race, in rounds of three simultaneous POSTs. */
#define RACE_ROUNDS 200
/* Long enough for a loaded 2-core machine under TSan. */
#define WAIT_MS (3 * IT_TIMEOUT_MS)

static struct cl_cluster cl;

static void
create_on(int node, const char *id, int want)
{
	int st = itx_create(cl.node[node].port, id);

	ck_assert_msg(st == want, "POST /create?id=%s on node %d: %d, want %d", id,
	    node, st, want);
}

START_TEST(members_on_three_nodes_sending_at_once_see_one_complete_order)
{
	enum { PER_NODE = 2, N = 3 * PER_NODE };
	struct cl_peer ps[N];
	int sent[N] = { 0 };
	int rounds = itx_sanitized() ? ROUNDS_SANITIZED : ROUNDS_PLAIN;

	cl_up(&cl, 3, NULL);
	create_on(0, "room", 201);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(cl_peer_join(&ps[i], cl.node[i % 3].port, "room", i % 3), 101);
	ck_assert_msg(cl_peers_hello(ps, N, WAIT_MS) == 0, "hellos did not all arrive");
	for (int r = 0; r < rounds; r++) {
		cl_send_round(ps, N, sent);
		cl_pump(ps, N, NULL, NULL, 0);
	}
	cl_expect_round(ps, N, sent, WAIT_MS, "%d rounds from every member", rounds);
	for (int i = 0; i < N; i++) {
		ck_assert_msg(ps[i].close_code == 0, "peer %d closed %d \"%s\"", i,
		    ps[i].close_code, ps[i].close_reason);
		ck_assert_int_eq(ps[i].ngot, (size_t)(N * rounds));
		cl_peer_free(&ps[i]);
	}
	cl_down(&cl);
}
END_TEST

START_TEST(one_id_created_on_three_nodes_at_once_wins_exactly_once)
{
	cl_up(&cl, 3, NULL);
	for (int r = 0; r < RACE_ROUNDS; r++) {
		char target[64], body[3][128];
		int fd[3], st[3], won = 0;

		snprintf(target, sizeof(target), "/create?id=race-%d", r);
		for (int i = 0; i < 3; i++)
			ck_assert_int_ge(fd[i] = cl_send_request(cl.node[i].port, "POST", target), 0);
		for (int i = 0; i < 3; i++)
			st[i] = cl_read_status(fd[i], body[i], sizeof(body[i]), WAIT_MS);
		for (int i = 0; i < 3; i++) {
			if (st[i] == 201) {
				won++;
				continue;
			}
			ck_assert_msg(st[i] == 400 && strcmp(body[i], "id already exists\n") == 0,
			    "round %d node %d: %d \"%s\", want 201 or 400 \"id already exists\"",
			    r, i, st[i], body[i]);
		}
		ck_assert_msg(won == 1, "round %d: %d creates answered 201", r, won);
	}
	cl_down(&cl);
}
END_TEST

START_TEST(a_group_is_joinable_through_every_node_and_nowhere_once_deleted)
{
	struct cl_peer ps[3];
	int sent[3] = { 0 }, status;
	char body[128];

	cl_up(&cl, 3, NULL);
	create_on(1, "anywhere", 201);
	for (int i = 0; i < 3; i++)
		create_on(i, "anywhere", 400);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cl_peer_join(&ps[i], cl.node[i].port, "anywhere", i), 101);
	ck_assert_int_eq(cl_peers_hello(ps, 3, WAIT_MS), 0);
	cl_send_round(ps, 3, sent);
	cl_expect_round(ps, 3, sent, WAIT_MS, "one member per node");

	/* Nowhere: 400 found no group on every node. */
	for (int i = 0; i < 3; i++) {
		struct it_response r;
		ck_assert_ptr_null(it_ws_connect_resp(cl.node[i].port, "/groups/nowhere",
		    NULL, &r));
		ck_assert_int_eq(r.status, 400);
		ck_assert_msg(strstr(r.body, "found no group") != NULL, "body \"%s\"", r.body);
		it_response_free(&r);
	}
	ck_assert_int_eq(itx_delete(cl.node[2].port, "anywhere", body, sizeof(body)), 200);
	for (int i = 0; i < 3; i++) {
		ck_assert_ptr_null(itx_join(cl.node[i].port, "anywhere", &status));
		ck_assert_msg(status == 400, "join after delete on node %d: %d", i, status);
		cl_peer_free(&ps[i]);
	}
	cl_down(&cl);
}
END_TEST

START_TEST(text_stays_text_and_binary_stays_binary_across_nodes)
{
	static const unsigned char bin[] = { 0x00, 0xff, 0x80, 'x', 0x00, 0x7f };
	struct it_ws *a, *b;
	struct it_frame f;
	char cid[7];

	cl_up(&cl, 2, NULL);
	create_on(0, "kinds", 201);
	ck_assert_ptr_nonnull(a = itx_join(cl.node[0].port, "kinds", NULL));
	ck_assert_ptr_nonnull(b = itx_join(cl.node[1].port, "kinds", NULL));
	ck_assert_int_eq(it_ws_send_wait(a, "text", b, cid, WAIT_MS), 0);
	ck_assert_int_eq(it_ws_send(a, IT_OP_BINARY, 1, bin, sizeof(bin)), 0);
	ck_assert_int_eq(it_ws_expect_suffix(b, IT_OP_BINARY, bin, sizeof(bin), &f,
	    WAIT_MS), 0);
	ck_assert_int_eq(f.len, 9 + sizeof(bin));
	ck_assert(memcmp(f.payload, cid, 6) == 0 && memcmp(f.payload + 6, " - ", 3) == 0);
	it_frame_free(&f);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_int_eq(it_ws_close(b), 0);
	cl_down(&cl);
}
END_TEST

START_TEST(connection_ids_are_six_hex_unique_across_nodes_and_claimed_while_open)
{
	enum { PER_NODE = 8, N = 3 * PER_NODE };
	struct cl_peer ps[N];

	cl_up(&cl, 3, NULL);
	create_on(2, "ids", 201);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(cl_peer_join(&ps[i], cl.node[i % 3].port, "ids", i % 3), 101);
	ck_assert_int_eq(cl_peers_hello(ps, N, WAIT_MS), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(strlen(ps[i].cid), 6);
		for (int k = 0; k < 6; k++)
			ck_assert_msg(isdigit((unsigned char)ps[i].cid[k]) ||
			    (ps[i].cid[k] >= 'a' && ps[i].cid[k] <= 'f'),
			    "cid \"%s\" is not six lowercase hex digits", ps[i].cid);
		for (int j = 0; j < i; j++)
			ck_assert_msg(strcmp(ps[i].cid, ps[j].cid) != 0,
			    "peers %d and %d share cid %s", j, i, ps[i].cid);
		ck_assert_msg(cl_cid_claimed(cl.rf, ps[i].cid) == 1,
		    "cid %s of an open member is not claimed in Redis", ps[i].cid);
	}
	/* A member that leaves releases its id at once. */
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(it_ws_close(ps[i].ws), 0);
		ps[i].ws = NULL;
	}
	for (int i = 0; i < N; i++) {
		ck_assert_msg(cl_wait_unclaimed(cl.rf, ps[i].cid, IT_TIMEOUT_MS) == 0,
		    "cid %s still claimed %d ms after its member left (a claim left to "
		    "expire lives 10 s or more)", ps[i].cid, IT_TIMEOUT_MS);
		cl_peer_free(&ps[i]);
	}
	cl_down(&cl);
}
END_TEST

static Suite *
cluster_relay_suite(void)
{
	Suite *s = suite_create("it_cluster_relay");
	TCase *tc = tcase_create("relay");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, members_on_three_nodes_sending_at_once_see_one_complete_order);
	tcase_add_test(tc, one_id_created_on_three_nodes_at_once_wins_exactly_once);
	tcase_add_test(tc, a_group_is_joinable_through_every_node_and_nowhere_once_deleted);
	tcase_add_test(tc, text_stays_text_and_binary_stays_binary_across_nodes);
	tcase_add_test(tc, connection_ids_are_six_hex_unique_across_nodes_and_claimed_while_open);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(cluster_relay_suite());
}
