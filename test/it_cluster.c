/*
 * it_cluster: cluster mode in one process: a real redis-server
 * (test/support/redis_fixture) and three in-process nodes on it
 * (server_start supports several per process: each has its own CivetWeb
 * context and actors). Cross-node relay in one order everywhere, one 201
 * among racing creates, delete on one node closing members on the others
 * with 1000, a recreated id receiving nothing old, a join of a group that
 * exists nowhere, Redis unreachable at start (503s, then recovery), Redis
 * killed and restarted empty under a conversation (members stay, the
 * group is registered again), a wrong password (a one-line 503 reason
 * without the password) and the right one from GROUPCHAT_REDIS_PASSWORD,
 * a join past --max-groups (503 too many groups) and the publisher's
 * counts in /stats. Waits poll with deadlines, never sleep.
 */
#include "support/itest.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/config.h"

#define NODES 3
#define WAIT_MS 10000

static struct redis_fixture *rf;
static struct itest_server *node[NODES];
static int port[NODES];

static void
start_node(int i)
{
	struct config cfg;

	it_config(&cfg);
	snprintf(cfg.redis, sizeof(cfg.redis), "redis://127.0.0.1:%d", rf_port(rf));
	ck_assert_ptr_nonnull(node[i] = it_server_start(&cfg));
	port[i] = it_server_port(node[i]);
}

static int
status_of(int p, const char *method, const char *target)
{
	struct it_response r;
	int st;

	if (it_request(p, method, target, &r) == -1)
		return -1;
	st = r.status;
	it_response_free(&r);
	return st;
}

/* Waits until node i's /healthz answers want. */
static int
healthz_is(int i, int want)
{
	int64_t end = it_deadline(WAIT_MS);

	while (it_left_ms(end) > 0)
		if (status_of(port[i], "GET", "/healthz") == want)
			return 1;
	return 0;
}

static void
up(void)
{
	ck_assert_ptr_nonnull(rf = rf_start(NULL));
	for (int i = 0; i < NODES; i++)
		start_node(i);
	for (int i = 0; i < NODES; i++)
		ck_assert(healthz_is(i, 200));
}

static void
down(void)
{
	for (int i = 0; i < NODES; i++)
		if (node[i] != NULL) {
			it_server_stop(node[i]);
			node[i] = NULL;
		}
	rf_stop(rf);
	rf = NULL;
}

/* Waits until Redis answers cmd with ":1". */
static int
redis_has(struct redis_fixture *r, const char *cmd)
{
	int64_t end = it_deadline(WAIT_MS);
	char out[64];

	while (it_left_ms(end) > 0)
		if (rf_command(r, cmd, out, sizeof(out)) == 0 && strcmp(out, ":1") == 0)
			return 1;
	return 0;
}

static struct it_ws *
join(int i, const char *id)
{
	char path[128];
	int st = 0;
	struct it_ws *ws;

	snprintf(path, sizeof(path), "/groups/%s", id);
	ws = it_ws_connect(port[i], path, NULL, &st);
	ck_assert_msg(ws != NULL, "join %s on node %d: status %d", id, i, st);
	return ws;
}

/* The payload of the next text frame, malloc'd, or NULL. */
static char *
next_text(struct it_ws *ws)
{
	struct it_frame f;
	char *s;

	if (it_ws_recv(ws, &f, WAIT_MS) != IT_FRAME)
		return NULL;
	if (f.opcode != IT_OP_TEXT) {
		it_frame_free(&f);
		return NULL;
	}
	s = strdup((const char *)f.payload);
	it_frame_free(&f);
	return s;
}

/* The node's "redis_published" once it reaches want (or the last seen). */
static int
published_reaches(int p, int want)
{
	int64_t end = it_deadline(WAIT_MS);
	int n = -1;

	while (n != want && it_left_ms(end) > 0) {
		struct it_response r;
		const char *at;

		ck_assert_int_eq(it_request(p, "GET", "/stats", &r), 0);
		ck_assert_ptr_nonnull(at = strstr(r.body, "\"redis_published\":"));
		n = atoi(at + strlen("\"redis_published\":"));
		ck_assert_ptr_nonnull(strstr(r.body, "\"redis_round_trips\":"));
		it_response_free(&r);
	}
	return n;
}

START_TEST(relay_one_order_on_every_node)
{
	enum { EACH = 20 };
	struct it_ws *ws[NODES];
	char msg[32], *seen[NODES][NODES * EACH];
	int i, k, n;

	up();
	ck_assert_int_eq(status_of(port[0], "POST", "/create?id=g"), 201);
	for (i = 0; i < NODES; i++)
		ws[i] = join(i, "g");
	/* Everyone sends at once, interleaved. */
	for (k = 0; k < EACH; k++)
		for (i = 0; i < NODES; i++) {
			snprintf(msg, sizeof(msg), "n%d-%d", i, k);
			ck_assert_int_eq(it_ws_send_text(ws[i], msg), 0);
		}
	for (i = 0; i < NODES; i++)
		for (n = 0; n < NODES * EACH; n++)
			ck_assert_ptr_nonnull(seen[i][n] = next_text(ws[i]));
	for (n = 0; n < NODES * EACH; n++)
		for (i = 1; i < NODES; i++)
			ck_assert_str_eq(seen[i][n], seen[0][n]);
	/* Each node's publisher counts the messages its members sent (the
	 * count follows the replies, so it may trail the deliveries). */
	for (i = 0; i < NODES; i++)
		ck_assert_int_eq(published_reaches(port[i], EACH), EACH);
	for (i = 0; i < NODES; i++) {
		for (n = 0; n < NODES * EACH; n++)
			free(seen[i][n]);
		ck_assert_int_eq(it_ws_close(ws[i]), 0);
	}
	down();
}
END_TEST

struct creator {
	int port;
	int status;
	const char *target;
};

static void *
create_main(void *arg)
{
	struct creator *c = arg;

	c->status = status_of(c->port, "POST", c->target);
	return NULL;
}

START_TEST(racing_creates_one_201)
{
	struct creator c[NODES];
	pthread_t t[NODES];
	char target[64];
	int round, i, created, exists;

	up();
	for (round = 0; round < 30; round++) {
		snprintf(target, sizeof(target), "/create?id=race%d", round);
		for (i = 0; i < NODES; i++) {
			c[i] = (struct creator){ port[i], 0, target };
			ck_assert_int_eq(pthread_create(&t[i], NULL, create_main, &c[i]), 0);
		}
		created = exists = 0;
		for (i = 0; i < NODES; i++) {
			pthread_join(t[i], NULL);
			created += c[i].status == 201;
			exists += c[i].status == 400;
		}
		ck_assert_int_eq(created, 1);
		ck_assert_int_eq(exists, NODES - 1);
	}
	down();
}
END_TEST

START_TEST(delete_closes_everywhere_recreate_gets_nothing_old)
{
	struct it_ws *a, *b, *c;
	char *s;

	up();
	ck_assert_int_eq(status_of(port[0], "POST", "/create?id=d"), 201);
	a = join(0, "d");
	b = join(1, "d");
	ck_assert_int_eq(it_ws_send_wait(a, "before", b, NULL, WAIT_MS), 0);
	ck_assert_int_eq(status_of(port[2], "DELETE", "/groups/d"), 200);
	ck_assert_int_eq(it_ws_expect_close_reason(a, 1000, "group deleted", WAIT_MS), 0);
	ck_assert_int_eq(it_ws_expect_close_reason(b, 1000, "group deleted", WAIT_MS), 0);
	it_ws_free(a);
	it_ws_free(b);
	ck_assert_int_eq(status_of(port[2], "DELETE", "/groups/d"), 400);
	/* The id at once again: the new group starts empty. */
	ck_assert_int_eq(status_of(port[1], "POST", "/create?id=d"), 201);
	c = join(1, "d");
	ck_assert_int_eq(it_ws_send_text(c, "fresh"), 0);
	ck_assert_ptr_nonnull(s = next_text(c));
	ck_assert_msg(strstr(s, " - fresh") != NULL, "got %s", s);
	free(s);
	ck_assert_int_eq(it_ws_close(c), 0);
	down();
}
END_TEST

START_TEST(redis_unreachable_at_start_then_recovers)
{
	struct it_ws *a;

	ck_assert_ptr_nonnull(rf = rf_start(NULL));
	ck_assert_int_eq(rf_kill(rf), 0);
	start_node(0);
	ck_assert(healthz_is(0, 503));
	ck_assert_int_eq(status_of(port[0], "POST", "/create?id=u"), 503);
	ck_assert_int_eq(status_of(port[0], "DELETE", "/groups/u"), 503);
	ck_assert_int_eq(rf_restart(rf), 0);
	ck_assert(healthz_is(0, 200));
	ck_assert_int_eq(status_of(port[0], "POST", "/create?id=u"), 201);
	a = join(0, "u");
	ck_assert_int_eq(it_ws_send_wait(a, "hi", a, NULL, WAIT_MS), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	down();
}
END_TEST

START_TEST(redis_restarted_empty_members_stay)
{
	struct it_ws *a, *b, *c;

	up();
	ck_assert_int_eq(status_of(port[0], "POST", "/create?id=r"), 201);
	a = join(0, "r");
	b = join(1, "r");
	ck_assert_int_eq(it_ws_send_wait(a, "one", b, NULL, WAIT_MS), 0);
	/* Both nodes have fanned it out: nothing is in flight at the kill. */
	ck_assert_int_eq(it_ws_expect_suffix(a, IT_OP_TEXT, " - one", 6, NULL, WAIT_MS), 0);
	ck_assert_int_eq(rf_kill(rf), 0);
	ck_assert(healthz_is(0, 503));
	ck_assert_int_eq(rf_restart(rf), 0);
	for (int i = 0; i < NODES; i++)
		ck_assert(healthz_is(i, 200));
	/* The group is registered again by the nodes that serve it; then a
	 * third node, which served nothing, can join it. */
	ck_assert(redis_has(rf, "EXISTS gc:inc:r"));
	c = join(2, "r");
	ck_assert_int_eq(it_ws_send_wait(c, "zero", a, NULL, WAIT_MS), 0);
	ck_assert_int_eq(it_ws_send_wait(b, "two", a, NULL, WAIT_MS), 0);
	ck_assert_int_eq(it_ws_send_wait(a, "three", b, NULL, WAIT_MS), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_int_eq(it_ws_close(b), 0);
	ck_assert_int_eq(it_ws_close(c), 0);
	down();
}
END_TEST

START_TEST(join_of_a_group_nowhere_is_400)
{
	int st = 0;

	up();
	ck_assert_ptr_null(it_ws_connect(port[1], "/groups/none", NULL, &st));
	ck_assert_int_eq(st, 400);
	down();
}
END_TEST

/* A join that would list a group past --max-groups on its node answers
 * as a create past the cap does, not as if Redis were away; a group the
 * node already serves still takes joins, and one leaving makes room. */
START_TEST(join_past_max_groups_is_too_many_groups)
{
	struct config cfg;
	struct it_response r;
	struct it_ws *a, *a2, *b;
	int64_t end;
	int st = 0;

	ck_assert_ptr_nonnull(rf = rf_start(NULL));
	it_config(&cfg);
	cfg.max_groups = 1;
	snprintf(cfg.redis, sizeof(cfg.redis), "redis://127.0.0.1:%d", rf_port(rf));
	ck_assert_ptr_nonnull(node[0] = it_server_start(&cfg));
	port[0] = it_server_port(node[0]);
	ck_assert(healthz_is(0, 200));
	ck_assert_int_eq(status_of(port[0], "POST", "/create?id=a"), 201);
	ck_assert_int_eq(status_of(port[0], "POST", "/create?id=b"), 201);
	a = join(0, "a");
	ck_assert_ptr_null(it_ws_connect_resp(port[0], "/groups/b", NULL, &r));
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "too many groups\n");
	it_response_free(&r);
	a2 = join(0, "a");
	ck_assert_int_eq(it_ws_close(a2), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	/* The last member of a gone, b can be served once a's entry goes. */
	end = it_deadline(WAIT_MS);
	b = NULL;
	while (b == NULL && it_left_ms(end) > 0) {
		b = it_ws_connect(port[0], "/groups/b", NULL, &st);
		ck_assert(b != NULL || st == 503);
	}
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(it_ws_close(b), 0);
	down();
}
END_TEST

/* The body of node i's /healthz. */
static char *
healthz_body(int i)
{
	struct it_response r;
	char *s;

	ck_assert_int_eq(it_request(port[i], "GET", "/healthz", &r), 0);
	s = strdup(r.body);
	it_response_free(&r);
	return s;
}

/* Node i's /healthz body once it names WRONGPASS (or the last one). */
static char *
wrongpass_body(int i)
{
	int64_t end = it_deadline(WAIT_MS);
	char *body = healthz_body(i);

	while (strstr(body, "WRONGPASS") == NULL && it_left_ms(end) > 0) {
		free(body);
		body = healthz_body(i);
	}
	return body;
}

START_TEST(password_wrong_then_right)
{
	struct config cfg;
	char *body;

	ck_assert_ptr_nonnull(rf = rf_start("s3cret"));
	it_config(&cfg);
	snprintf(cfg.redis, sizeof(cfg.redis), "redis://:wrong@127.0.0.1:%d", rf_port(rf));
	ck_assert_ptr_nonnull(node[0] = it_server_start(&cfg));
	port[0] = it_server_port(node[0]);
	/* 503 at once ("connecting"), then with the reason Redis gave. */
	body = wrongpass_body(0);
	/* One line, the reason Redis gave, never the password. */
	ck_assert_msg(strncmp(body, "redis: ", 7) == 0 && strstr(body, "WRONGPASS") != NULL &&
	    strchr(body, '\n') == body + strlen(body) - 1 && strstr(body, "wrong") == NULL,
	    "healthz said %s", body);
	free(body);
	ck_assert_int_eq(status_of(port[0], "POST", "/create?id=p"), 503);
	it_server_stop(node[0]);
	/* GROUPCHAT_REDIS_PASSWORD wins over the URL's. */
	ck_assert_int_eq(setenv("GROUPCHAT_REDIS_PASSWORD", "s3cret", 1), 0);
	ck_assert_ptr_nonnull(node[0] = it_server_start(&cfg));
	port[0] = it_server_port(node[0]);
	ck_assert(healthz_is(0, 200));
	ck_assert_int_eq(status_of(port[0], "POST", "/create?id=p"), 201);
	down();
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_cluster");
	TCase *tc = tcase_create("cluster");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, relay_one_order_on_every_node);
	tcase_add_test(tc, racing_creates_one_201);
	tcase_add_test(tc, delete_closes_everywhere_recreate_gets_nothing_old);
	tcase_add_test(tc, redis_unreachable_at_start_then_recovers);
	tcase_add_test(tc, redis_restarted_empty_members_stay);
	tcase_add_test(tc, join_of_a_group_nowhere_is_400);
	tcase_add_test(tc, password_wrong_then_right);
	tcase_add_test(tc, join_past_max_groups_is_too_many_groups);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
