/*
 * it_ws_lifecycle: protocol.md "DELETE /groups/{id}" (as seen by members)
 * and "Lifecycle" against the real server over loopback: a delete closes
 * every member with 1000 "group deleted", a member sending at that moment
 * harms nothing and the id is reusable at once, deleting an empty group,
 * repeated and concurrent deletes, the group thread stopping on the last
 * leave and starting on the next join, and thousands of join/leave cycles
 * that leave nothing behind. Server state is read through GET /stats, the
 * only window the server has (the "running" flag of a group, the totals
 * "members" and "group_threads"); leaks are LeakSanitizer's to find when
 * the forked test child exits under the asan variant.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/config.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

static int port;

static void
up(const struct config *cfg)
{
	port = itf_up(cfg);
}

static void
expect_no_group(const char *id)
{
	struct it_response r;
	char path[64], body[96];
	struct it_ws *ws;

	snprintf(path, sizeof(path), "/groups/%s", id);
	snprintf(body, sizeof(body), "found no group with the id: %s\n", id);
	ws = it_ws_connect_resp(port, path, NULL, &r);
	ck_assert_msg(ws == NULL, "joined deleted group %s", id);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(r.body, body);
	it_response_free(&r);
}

static void
wait_total(const char *name, long long want)
{
	long long last;

	ck_assert_msg(itx_wait_total(port, name, want, IT_TIMEOUT_MS, &last) == 0,
	    "/stats totals.%s is %lld, want %lld", name, last, want);
}

START_TEST(delete_closes_every_member_with_1000_group_deleted)
{
	struct it_ws *m[3];
	char body[128];

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	for (int i = 0; i < 3; i++)
		m[i] = itf_join(port, "room");
	/* A message fanned out before the delete reaches everyone first. */
	ck_assert_int_eq(it_ws_send_wait(m[0], "last words", m[0], NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(itx_delete(port, "room", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "{\"message\":\"deleted group with id: room\"}");
	for (int i = 1; i < 3; i++)
		ck_assert_msg(it_ws_expect_suffix(m[i], IT_OP_TEXT, "last words", 10, NULL,
		    IT_TIMEOUT_MS) == 0, "member %d lost the message queued before the delete", i);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(it_ws_expect_close_reason(m[i], 1000, "group deleted",
		    IT_TIMEOUT_MS) == 0, "member %d: no close 1000 \"group deleted\"", i);
		it_ws_free(m[i]);
	}
	expect_no_group("room");
	ck_assert_int_eq(itx_delete(port, "room", body, sizeof(body)), 400);
	ck_assert_str_eq(body, "found no group with the id: room\n");
	wait_total("members", 0);
	wait_total("group_threads", 0);
	wait_total("groups", 0);
}
END_TEST

/* ---- a member sending while its group is deleted --------------------- */

struct spammer {
	struct it_ws *ws;
	atomic_int sent;
	int close_code;          /* -1: no close frame seen */
	char why[64];
	char ended[64];          /* how the loop ended */
};

/* Sends as fast as it can, draining what comes back, until the server's
 * close frame arrives (answered as a client should) or the connection
 * ends. No assertion off the main thread. */
static void *
spam(void *arg)
{
	struct spammer *s = arg;
	struct it_frame f;
	enum it_recv r = IT_TIMEOUT;
	char text[32];

	s->close_code = -1;
	for (int i = 0; i < 200000; i++) {
		snprintf(text, sizeof(text), "spam %d", i);
		if (it_ws_send_text(s->ws, text) == -1) {
			snprintf(s->ended, sizeof(s->ended), "send failed after %d", i);
			return NULL;
		}
		atomic_store(&s->sent, i + 1);
		while ((r = it_ws_recv(s->ws, &f, 0)) == IT_FRAME) {
			if (f.opcode == IT_OP_CLOSE) {
				const char *why;
				unsigned char reply[2];
				s->close_code = it_frame_close_code(&f, &why);
				snprintf(s->why, sizeof(s->why), "%s", why);
				reply[0] = (unsigned char)(s->close_code >> 8);
				reply[1] = (unsigned char)s->close_code;
				it_frame_free(&f);
				it_ws_send(s->ws, IT_OP_CLOSE, 1, reply, 2);
				snprintf(s->ended, sizeof(s->ended), "close frame after %d", i);
				return NULL;
			}
			it_frame_free(&f);
		}
		if (r != IT_TIMEOUT) {
			snprintf(s->ended, sizeof(s->ended), "connection ended after %d", i);
			return NULL;
		}
	}
	snprintf(s->ended, sizeof(s->ended), "never closed");
	return NULL;
}

static int
spammer_going(void *arg)
{
	struct spammer *s = arg;

	return atomic_load(&s->sent) >= 50;
}

/*
 * The spammer sends as fast as it can while the group is deleted under it,
 * with the default send queue: nothing may crash, every member gets the
 * 1000, and the id can be created and joined again at once.
 */
START_TEST(a_member_sending_during_delete_harms_nothing_and_the_id_is_reusable)
{
	int rounds = itx_sanitized() ? 4 : 10;
	struct config cfg;

	it_config(&cfg);
	up(&cfg);
	for (int round = 0; round < rounds; round++) {
		struct spammer s;
		struct it_ws *quiet, *again;
		pthread_t t;

		ck_assert_int_eq(itx_create(port, "room"), 201);
		memset(&s, 0, sizeof(s));
		s.ws = itf_join(port, "room");
		quiet = itf_join(port, "room");
		ck_assert_int_eq(pthread_create(&t, NULL, spam, &s), 0);
		ck_assert_msg(it_wait_until(spammer_going, &s, IT_TIMEOUT_MS),
		    "round %d: the spammer did not get going", round);
		ck_assert_int_eq(itx_delete(port, "room", NULL, 0), 200);
		pthread_join(t, NULL);
		ck_assert_msg(strncmp(s.ended, "never", 5) != 0, "round %d: %s", round, s.ended);
		/* If the close frame was read before the end, it is the right one. */
		ck_assert_msg(s.close_code == -1 || (s.close_code == 1000 &&
		    strcmp(s.why, "group deleted") == 0), "round %d: spammer closed "
		    "with %d \"%s\"", round, s.close_code, s.why);
		ck_assert_msg(it_ws_expect_close_reason(quiet, 1000, "group deleted",
		    IT_TIMEOUT_MS) == 0, "round %d: quiet member not closed 1000", round);
		it_ws_free(quiet);
		it_ws_free(s.ws);

		/* At once: the same id again, a new group sharing nothing. */
		ck_assert_int_eq(itx_create(port, "room"), 201);
		again = itf_join(port, "room");
		ck_assert_int_eq(it_ws_send_wait(again, "reborn", again, NULL, IT_TIMEOUT_MS), 0);
		it_ws_free(again);
		ck_assert_int_eq(itx_delete(port, "room", NULL, 0), 200);
	}
	wait_total("members", 0);
	wait_total("group_threads", 0);
	wait_total("groups", 0);
}
END_TEST

START_TEST(deleting_a_group_with_no_members_just_removes_it)
{
	struct it_ws *a;
	char body[128];

	up(NULL);
	/* Never joined. */
	ck_assert_int_eq(itx_create(port, "empty"), 201);
	ck_assert_int_eq(itx_delete(port, "empty", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "{\"message\":\"deleted group with id: empty\"}");
	ck_assert_int_eq(itx_stats_group(port, "empty", NULL, NULL), 0);
	expect_no_group("empty");
	ck_assert_int_eq(itx_create(port, "empty"), 201);

	/* Joined and left: its thread gone, then deleted. */
	ck_assert_int_eq(itx_create(port, "was"), 201);
	a = itf_join(port, "was");
	ck_assert_int_eq(it_ws_send_wait(a, "hi", a, NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_msg(itx_wait_running(port, "was", 0, IT_TIMEOUT_MS) == 0,
	    "the group thread did not stop after the last leave");
	ck_assert_int_eq(itx_delete(port, "was", body, sizeof(body)), 200);
	ck_assert_int_eq(itx_stats_group(port, "was", NULL, NULL), 0);
	expect_no_group("was");
	wait_total("groups", 1);
	wait_total("group_threads", 0);
}
END_TEST

/* ---- repeated and concurrent deletes ----------------------------------- */

enum { DELETERS = 8 };

struct deleter {
	pthread_barrier_t *go;
	int status;
	char body[96];
};

static void *
delete_main(void *arg)
{
	struct deleter *d = arg;

	pthread_barrier_wait(d->go);
	d->status = itx_delete(port, "room", d->body, sizeof(d->body));
	return NULL;
}

START_TEST(repeated_and_concurrent_deletes_of_one_group_give_exactly_one_200)
{
	int rounds = itx_sanitized() ? 5 : 15;

	up(NULL);
	for (int round = 0; round < rounds; round++) {
		struct deleter d[DELETERS];
		pthread_t t[DELETERS];
		pthread_barrier_t go;
		struct it_ws *m[2];
		int ok = 0;

		ck_assert_int_eq(itx_create(port, "room"), 201);
		m[0] = itf_join(port, "room");
		m[1] = itf_join(port, "room");
		pthread_barrier_init(&go, NULL, DELETERS);
		for (int i = 0; i < DELETERS; i++) {
			d[i].go = &go;
			ck_assert_int_eq(pthread_create(&t[i], NULL, delete_main, &d[i]), 0);
		}
		for (int i = 0; i < DELETERS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&go);
		for (int i = 0; i < DELETERS; i++) {
			if (d[i].status == 200) {
				ok++;
				continue;
			}
			ck_assert_msg(d[i].status == 400 &&
			    strcmp(d[i].body, "found no group with the id: room\n") == 0,
			    "round %d: delete answered %d \"%s\"", round, d[i].status, d[i].body);
		}
		ck_assert_msg(ok == 1, "round %d: %d deletes got 200", round, ok);
		for (int i = 0; i < 2; i++) {
			ck_assert_int_eq(it_ws_expect_close_reason(m[i], 1000, "group deleted",
			    IT_TIMEOUT_MS), 0);
			it_ws_free(m[i]);
		}
		/* And once more, alone. */
		ck_assert_int_eq(itx_delete(port, "room", NULL, 0), 400);
	}
	wait_total("members", 0);
	wait_total("group_threads", 0);
	wait_total("groups", 0);
}
END_TEST

/* ---- the group thread's life ------------------------------------------- */

static void
expect_group(const char *id, long long members, int running, const char *what)
{
	long long m = -1;
	int r = -1;

	/* /stats lists only groups with members. */
	if (members == 0 && running == 0) {
		ck_assert_msg(itx_stats_group(port, id, NULL, NULL) == 0,
		    "%s: %s listed without members", what, id);
		return;
	}
	ck_assert_msg(itx_stats_group(port, id, &m, &r) == 1, "%s: %s not in /stats", what, id);
	ck_assert_msg(m == members && r == running,
	    "%s: members %lld running %d, want %lld and %d", what, m, r, members, running);
}

struct members_wait {
	const char *id;
	long long want;
};

static int
members_reached(void *arg)
{
	struct members_wait *w = arg;
	long long m;

	return itx_stats_group(port, w->id, &m, NULL) == 1 && m == w->want;
}

static void
wait_members(const char *id, long long want)
{
	struct members_wait w = { id, want };

	ck_assert_msg(it_wait_until(members_reached, &w, IT_TIMEOUT_MS),
	    "group %s never had %lld members", id, want);
}

START_TEST(group_thread_exits_on_the_last_leave_and_restarts_on_the_next_join)
{
	struct it_ws *a, *b;
	int cycles = itx_sanitized() ? 10 : 30;

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	/* A group is only a name until somebody joins. */
	expect_group("room", 0, 0, "created");
	wait_total("group_threads", 0);

	a = itf_join(port, "room");
	wait_members("room", 1);
	expect_group("room", 1, 1, "first join");
	b = itf_join(port, "room");
	wait_members("room", 2);
	ck_assert_int_eq(it_ws_close(a), 0);
	wait_members("room", 1);
	expect_group("room", 1, 1, "one of two left");
	ck_assert_int_eq(it_ws_send_wait(b, "alone", b, NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_close(b), 0);
	ck_assert_msg(itx_wait_running(port, "room", 0, IT_TIMEOUT_MS) == 0,
	    "the thread still runs after the last leave");
	expect_group("room", 0, 0, "last left");
	wait_total("group_threads", 0);

	for (int i = 0; i < cycles; i++) {
		char text[32];
		int running = -1;
		a = itf_join(port, "room");
		/* Started by the join, before the 101; listed once the
		 * thread has counted the member. */
		wait_members("room", 1);
		ck_assert_int_eq(itx_stats_group(port, "room", NULL, &running), 1);
		ck_assert_msg(running == 1, "cycle %d: not running after a join", i);
		snprintf(text, sizeof(text), "cycle %d", i);
		ck_assert_msg(it_ws_send_wait(a, text, a, NULL, IT_TIMEOUT_MS) == 0,
		    "cycle %d: the restarted group relays nothing", i);
		if (i % 2)
			it_ws_free(a);
		else
			ck_assert_int_eq(it_ws_close(a), 0);
		ck_assert_msg(itx_wait_running(port, "room", 0, IT_TIMEOUT_MS) == 0,
		    "cycle %d: the thread still runs after the last leave", i);
	}
	wait_total("group_threads", 0);
	wait_total("members", 0);
}
END_TEST

START_TEST(thousands_of_join_leave_cycles_leave_nothing_behind)
{
	int cycles = itx_sanitized() ? 1000 : 2000;
	struct it_ws *a, *watcher;
	int64_t t0 = it_now_ms();

	up(NULL);
	ck_assert_int_eq(itx_create(port, "room"), 201);
	ck_assert_int_eq(itx_create(port, "busy"), 201);
	watcher = itf_join(port, "busy");
	for (int i = 0; i < cycles; i++) {
		/* Alternate an empty group (its thread starts and stops every
		 * time) and one with a resident member. */
		const char *id = i % 2 ? "busy" : "room";
		a = itf_join(port, id);
		if (i % 10 == 0) {
			char text[32];
			snprintf(text, sizeof(text), "cycle %d", i);
			ck_assert_msg(it_ws_send_wait(a, text, a, NULL, IT_TIMEOUT_MS) == 0,
			    "cycle %d: no relay", i);
		}
		if (i % 8 == 7)
			it_ws_free(a);  /* no close frame: the server sees EOF */
		else
			ck_assert_msg(it_ws_close(a) == 0, "cycle %d: polite close failed", i);
	}
	wait_total("members", 1);
	ck_assert_int_eq(it_ws_close(watcher), 0);
	wait_total("members", 0);
	wait_total("group_threads", 0);
	wait_total("groups", 2);
	ck_assert_msg(itx_wait_running(port, "room", 0, IT_TIMEOUT_MS) == 0, "room still runs");
	ck_assert_msg(itx_wait_running(port, "busy", 0, IT_TIMEOUT_MS) == 0, "busy still runs");
	/* Still a working server. */
	a = itf_join(port, "room");
	ck_assert_int_eq(it_ws_send_wait(a, "after all that", a, NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	fprintf(stderr, "%d join/leave cycles in %lld ms\n", cycles,
	    (long long)(it_now_ms() - t0));
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_ws_lifecycle");
	TCase *tc = tcase_create("lifecycle");

	tcase_add_checked_fixture(tc, NULL, itf_down);
	tcase_set_timeout(tc, 45);
	tcase_add_test(tc, delete_closes_every_member_with_1000_group_deleted);
	tcase_add_test(tc, a_member_sending_during_delete_harms_nothing_and_the_id_is_reusable);
	tcase_add_test(tc, deleting_a_group_with_no_members_just_removes_it);
	tcase_add_test(tc, repeated_and_concurrent_deletes_of_one_group_give_exactly_one_200);
	tcase_add_test(tc, group_thread_exits_on_the_last_leave_and_restarts_on_the_next_join);
	tcase_add_test(tc, thousands_of_join_leave_cycles_leave_nothing_behind);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
