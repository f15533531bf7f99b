/*
 * it_create_delete: protocol.md's POST /create and DELETE /groups/{id}
 * rows against the real server: bodies and statuses, Go's form decoding
 * of the query and per-segment decoding of the path, atomic create under
 * concurrency, consistent create/delete races, repeated deletes, re-create,
 * and members of a deleted group closed with 1000 "group deleted".
 *
 * Threads only record what they saw; the test thread asserts after joining
 * them (a failed assertion must come from the thread Check runs).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/config.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/test_main.h"

static int port;

static void
setup(void)
{
	port = itf_up(NULL);
}

static void
teardown(void)
{
	itf_down();
}

static void
expect(const char *method, const char *target, int status, const char *body,
    size_t blen)
{
	struct it_response r = itf_expect(port, method, target, status, body, blen);

	it_response_free(&r);
}

static void
expect_created(const char *query, const char *json_id)
{
	char target[4200], body[4200];

	snprintf(target, sizeof(target), "/create?%s", query);
	snprintf(body, sizeof(body), "{\"message\":\"created group with id: %s\"}", json_id);
	expect("POST", target, 201, body, 0);
}

/* DELETE of the group whose id is the raw bytes id[0..len): 200 if
 * exists, else 400. */
static void
expect_delete(const void *id, size_t len, int exists)
{
	char *enc = it_pct_encode(id, len), target[4200];

	ck_assert_ptr_nonnull(enc);
	snprintf(target, sizeof(target), "/groups/%s", enc);
	expect("DELETE", target, exists ? 200 : 400, NULL, 0);
	free(enc);
}

START_TEST(create_answers_201_with_json_body)
{
	expect("POST", "/create?id=room1", 201,
	    "{\"message\":\"created group with id: room1\"}", 0);
	expect_delete("room1", 5, 1);
}
END_TEST

START_TEST(create_with_missing_or_empty_id_is_400_invalid_id)
{
	static const char *const targets[] = {
		"/create", "/create?", "/create?id=", "/create?id", "/create?other=1",
		"/create?id=&id=x", "/create?&&", "/create?ID=x",
	};

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		expect("POST", targets[i], 400, "invalid id\n", 0);
	/* None of those made a group. */
	expect_delete("x", 1, 0);
}
END_TEST

START_TEST(create_of_an_existing_id_is_400_id_already_exists)
{
	expect_created("id=dup", "dup");
	expect("POST", "/create?id=dup", 400, "id already exists\n", 0);
	/* The same id spelled another way is the same id. */
	expect("POST", "/create?id=%64up", 400, "id already exists\n", 0);
	expect("POST", "/create?x=1&id=dup", 400, "id already exists\n", 0);
	expect_delete("dup", 3, 1);
}
END_TEST

/* A query, and the id it must create: raw bytes and as JSON shows them.
 * raw NULL: 400 invalid id. */
struct form_case {
	const char *query;
	const char *raw;
	size_t rlen;
	const char *json;
};

#define FC(q, raw, json) { q, raw, sizeof(raw) - 1, json }
#define FC_INVALID(q) { q, NULL, 0, NULL }

static const struct form_case form_cases[] = {
	FC("id=a+b", "a b", "a b"),
	FC("id=c%20d", "c d", "c d"),
	FC("id=first&id=second", "first", "first"),
	FC("x=1;y=2&id=semi", "semi", "semi"),
	FC("id=s;t&id=after", "after", "after"),
	FC_INVALID("id=u;v"),
	FC("id=%zz&id=esc", "esc", "esc"),
	FC_INVALID("id=%4"),
	FC("id=bad%&id=ok2", "ok2", "ok2"),
	FC("%zz=1&id=okk", "okk", "okk"),
	FC("Id=x&ID=y&id=lower", "lower", "lower"),
	FC("i%64=keyesc", "keyesc", "keyesc"),
	FC("id=n%00ul", "n\0ul", "n\\u0000ul"),
	FC("id=%C3%A9t%c3%a9", "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"),
	FC("id=a/b/c", "a/b/c", "a/b/c"),
	FC("id=sl%2Fash", "sl/ash", "sl/ash"),
	FC("&&id=amp&", "amp", "amp"),
	FC("id=plus+%2B", "plus +", "plus +"),
	FC("id==eq", "=eq", "=eq"),
	FC("id=%2E%2E", "..", ".."),
};

START_TEST(create_query_is_form_decoded)
{
	for (size_t i = 0; i < sizeof(form_cases) / sizeof(form_cases[0]); i++) {
		const struct form_case *c = &form_cases[i];
		char target[256];

		if (c->raw == NULL) {
			snprintf(target, sizeof(target), "/create?%s", c->query);
			expect("POST", target, 400, "invalid id\n", 0);
			continue;
		}
		expect_created(c->query, c->json);
		/* The group exists under exactly those bytes. */
		expect_delete(c->raw, c->rlen, 1);
		expect_delete(c->raw, c->rlen, 0);
	}
	/* "first wins" left the second id alone. */
	expect_delete("second", 6, 0);
}
END_TEST

START_TEST(create_accepts_an_id_as_long_as_the_request_line)
{
	char id[3001], query[3010];

	for (size_t i = 0; i < sizeof(id) - 1; i++)
		id[i] = (char)('a' + i % 26);
	id[sizeof(id) - 1] = '\0';
	snprintf(query, sizeof(query), "id=%s", id);
	expect_created(query, id);
	expect_delete(id, strlen(id), 1);
}
END_TEST

START_TEST(delete_answers_200_and_unknown_ids_400_found_no_group)
{
	expect_created("id=gone", "gone");
	expect("DELETE", "/groups/gone", 200,
	    "{\"message\":\"deleted group with id: gone\"}", 0);
	expect("DELETE", "/groups/gone", 400, "found no group with the id: gone\n", 0);
	expect("DELETE", "/groups/never", 400, "found no group with the id: never\n", 0);
	expect("DELETE", "/groups/no%20such%22", 400,
	    "found no group with the id: no such\"\n", 0);
}
END_TEST

START_TEST(delete_id_is_one_segment_split_before_unescaping)
{
	expect_created("id=a%2Fb", "a/b");
	expect_created("id=..", "..");
	expect_created("id=a", "a");
	expect("DELETE", "/groups/a%2Fb", 200,
	    "{\"message\":\"deleted group with id: a/b\"}", 0);
	expect("DELETE", "/groups/%2E%2E", 200,
	    "{\"message\":\"deleted group with id: ..\"}", 0);
	expect("DELETE", "/groups/%2e%2e", 400, "found no group with the id: ..\n", 0);
	/* "a" was never touched by the deletes above. */
	expect("DELETE", "/groups/a", 200, "{\"message\":\"deleted group with id: a\"}", 0);
}
END_TEST

START_TEST(delete_ignores_the_query)
{
	expect_created("id=q", "q");
	expect_created("id=other", "other");
	expect("DELETE", "/groups/q?id=other", 200,
	    "{\"message\":\"deleted group with id: q\"}", 0);
	expect_delete("other", 5, 1);
}
END_TEST

START_TEST(create_again_after_delete)
{
	for (int i = 0; i < 3; i++) {
		expect_created("id=again", "again");
		expect("DELETE", "/groups/again", 200, NULL, 0);
	}
	expect_created("id=again", "again");
	expect("POST", "/create?id=again", 400, "id already exists\n", 0);
}
END_TEST

/* N threads send one request each, as close together as a barrier
 * allows; the statuses and bodies are kept for the test thread. */
#define RACERS 16

struct racer {
	pthread_barrier_t *start;
	const char *method, *target;
	int rc, status;
	char body[128];
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	struct it_response resp;

	pthread_barrier_wait(r->start);
	r->rc = it_request(port, r->method, r->target, &resp);
	r->status = resp.status;
	snprintf(r->body, sizeof(r->body), "%s", resp.body);
	it_response_free(&resp);
	return NULL;
}

/* Runs RACERS copies of method target at once into r[]. */
static void
run_race(struct racer r[RACERS], const char *method, const char *target)
{
	pthread_barrier_t start;
	pthread_t t[RACERS];

	pthread_barrier_init(&start, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){ .start = &start, .method = method, .target = target };
		ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
}

START_TEST(concurrent_creates_of_one_id_give_exactly_one_201)
{
	struct racer r[RACERS];

	for (int round = 0; round < 3; round++) {
		int created = 0;
		run_race(r, "POST", "/create?id=race");
		for (int i = 0; i < RACERS; i++) {
			ck_assert_int_eq(r[i].rc, 0);
			if (r[i].status == 201) {
				created++;
				ck_assert_str_eq(r[i].body,
				    "{\"message\":\"created group with id: race\"}");
			} else {
				ck_assert_int_eq(r[i].status, 400);
				ck_assert_str_eq(r[i].body, "id already exists\n");
			}
		}
		ck_assert_int_eq(created, 1);
		expect("DELETE", "/groups/race", 200, NULL, 0);
		expect("DELETE", "/groups/race", 400, NULL, 0);
	}
}
END_TEST

START_TEST(concurrent_deletes_of_one_group_give_exactly_one_200)
{
	struct racer r[RACERS];

	for (int round = 0; round < 3; round++) {
		int deleted = 0;
		expect_created("id=victim", "victim");
		run_race(r, "DELETE", "/groups/victim");
		for (int i = 0; i < RACERS; i++) {
			ck_assert_int_eq(r[i].rc, 0);
			if (r[i].status == 200) {
				deleted++;
				ck_assert_str_eq(r[i].body,
				    "{\"message\":\"deleted group with id: victim\"}");
			} else {
				ck_assert_int_eq(r[i].status, 400);
				ck_assert_str_eq(r[i].body, "found no group with the id: victim\n");
			}
		}
		ck_assert_int_eq(deleted, 1);
		/* Repeated deletes keep answering 400. */
		for (int i = 0; i < 3; i++)
			expect("DELETE", "/groups/victim", 400,
			    "found no group with the id: victim\n", 0);
	}
}
END_TEST

/* Creates and deletes over a small shared set of ids from several
 * threads; each thread counts what it created and deleted per id. */
#define MIX_THREADS 4
#define MIX_IDS 8
#define MIX_OPS 48

struct mixer {
	pthread_barrier_t *start;
	int seed;
	int created[MIX_IDS], deleted[MIX_IDS];
	int bad; /* responses outside the contract */
	char what[160];
};

static void *
mix(void *arg)
{
	struct mixer *m = arg;
	struct it_response r;

	pthread_barrier_wait(m->start);
	for (int op = 0; op < MIX_OPS; op++) {
		int id = (op * 5 + m->seed * 3) % MIX_IDS, del = (op + m->seed) % 2;
		char target[64], ok[96], no[96];

		if (del) {
			snprintf(target, sizeof(target), "/groups/mix%d", id);
			snprintf(ok, sizeof(ok), "{\"message\":\"deleted group with id: mix%d\"}", id);
			snprintf(no, sizeof(no), "found no group with the id: mix%d\n", id);
		} else {
			snprintf(target, sizeof(target), "/create?id=mix%d", id);
			snprintf(ok, sizeof(ok), "{\"message\":\"created group with id: mix%d\"}", id);
			snprintf(no, sizeof(no), "id already exists\n");
		}
		if (it_request(port, del ? "DELETE" : "POST", target, &r) == -1) {
			m->bad++;
			snprintf(m->what, sizeof(m->what), "%s: no response", target);
		} else if (r.status == (del ? 200 : 201) && strcmp(r.body, ok) == 0) {
			if (del)
				m->deleted[id]++;
			else
				m->created[id]++;
		} else if (r.status != 400 || strcmp(r.body, no) != 0) {
			m->bad++;
			snprintf(m->what, sizeof(m->what), "%s: %d %s", target, r.status, r.body);
		}
		it_response_free(&r);
	}
	return NULL;
}

START_TEST(concurrent_creates_and_deletes_keep_the_registry_consistent)
{
	struct mixer m[MIX_THREADS];
	pthread_barrier_t start;
	pthread_t t[MIX_THREADS];

	pthread_barrier_init(&start, NULL, MIX_THREADS);
	for (int i = 0; i < MIX_THREADS; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].start = &start;
		m[i].seed = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, mix, &m[i]), 0);
	}
	for (int i = 0; i < MIX_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < MIX_THREADS; i++)
		ck_assert_msg(m[i].bad == 0, "thread %d: %d bad answers, last %s", i,
		    m[i].bad, m[i].what);
	/* Every id exists iff it was created once more than it was deleted. */
	for (int id = 0; id < MIX_IDS; id++) {
		int balance = 0;
		char name[16];
		for (int i = 0; i < MIX_THREADS; i++)
			balance += m[i].created[id] - m[i].deleted[id];
		ck_assert_msg(balance == 0 || balance == 1, "mix%d: balance %d", id, balance);
		snprintf(name, sizeof(name), "mix%d", id);
		expect_delete(name, strlen(name), balance);
	}
	expect("GET", "/healthz", 200, "ok\n", 0);
}
END_TEST

START_TEST(delete_closes_every_member_with_1000_group_deleted)
{
	struct it_ws *ws[3];
	int status;

	expect_created("id=live", "live");
	for (int i = 0; i < 3; i++) {
		ws[i] = it_ws_connect(port, "/groups/live", NULL, &status);
		ck_assert_msg(ws[i] != NULL, "member %d: status %d", i, status);
	}
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(it_ws_send_wait(ws[i], "here", ws[(i + 1) % 3], NULL,
		    IT_TIMEOUT_MS), 0);
	expect("DELETE", "/groups/live", 200,
	    "{\"message\":\"deleted group with id: live\"}", 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(it_ws_expect_close_reason(ws[i], 1000, "group deleted",
		    3000) == 0, "member %d: no close 1000 \"group deleted\"", i);
		it_ws_free(ws[i]);
	}
	/* The id can be created again at once, and the new group works. */
	expect_created("id=live", "live");
	ws[0] = it_ws_connect(port, "/groups/live", NULL, &status);
	ck_assert_int_eq(status, 101);
	ck_assert_int_eq(it_ws_send_wait(ws[0], "again", ws[0], NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_close(ws[0]), 0);
}
END_TEST

START_TEST(join_of_a_deleted_group_is_400_before_upgrade)
{
	struct it_response r;

	expect_created("id=brief", "brief");
	expect("DELETE", "/groups/brief", 200, NULL, 0);
	ck_assert_ptr_null(it_ws_connect_resp(port, "/groups/brief", NULL, &r));
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(r.body, "found no group with the id: brief\n");
	it_response_free(&r);
}
END_TEST

static Suite *
create_delete_suite(void)
{
	Suite *s = suite_create("it_create_delete");
	TCase *tc = tcase_create("create_delete");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, create_answers_201_with_json_body);
	tcase_add_test(tc, create_with_missing_or_empty_id_is_400_invalid_id);
	tcase_add_test(tc, create_of_an_existing_id_is_400_id_already_exists);
	tcase_add_test(tc, create_query_is_form_decoded);
	tcase_add_test(tc, create_accepts_an_id_as_long_as_the_request_line);
	tcase_add_test(tc, delete_answers_200_and_unknown_ids_400_found_no_group);
	tcase_add_test(tc, delete_id_is_one_segment_split_before_unescaping);
	tcase_add_test(tc, delete_ignores_the_query);
	tcase_add_test(tc, create_again_after_delete);
	tcase_add_test(tc, concurrent_creates_of_one_id_give_exactly_one_201);
	tcase_add_test(tc, concurrent_deletes_of_one_group_give_exactly_one_200);
	tcase_add_test(tc, concurrent_creates_and_deletes_keep_the_registry_consistent);
	tcase_add_test(tc, delete_closes_every_member_with_1000_group_deleted);
	tcase_add_test(tc, join_of_a_deleted_group_is_400_before_upgrade);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(create_delete_suite());
}
