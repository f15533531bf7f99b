/*
 * Unit tests for manager: atomic create, byte-string ids, counted
 * look-ups, delete closing members, concurrent creates and deletes, list,
 * close-all, and a clean manager_free. Members are clients without
 * writers: their close code says how the group let them go.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/group.h"
#include "groupchat/actors/manager.h"
#include "groupchat/actors/member.h"
#include "groupchat/core/cid.h"
#include "groupchat/core/stats.h"
#include "support/fake_redis.h"
#include "support/itest.h"
#include "support/test_main.h"

#define WAIT_MS 5000

static struct cid_set *ids;
static struct stats st;
static struct manager *mgr;

static void
setup(void)
{
	ids = cid_set_new();
	ck_assert_ptr_nonnull(ids);
	stats_init(&st);
	mgr = manager_new(&st, MANAGER_MAX_GROUPS_DEFAULT);
	ck_assert_ptr_nonnull(mgr);
}

static void
teardown(void)
{
	if (mgr != NULL)
		manager_free(mgr);
	ck_assert_uint_eq(stats_get(&st, groups), 0);
	ck_assert_uint_eq(stats_get(&st, members), 0);
	ck_assert_uint_eq(stats_get(&st, group_threads), 0);
	ck_assert_uint_eq(cid_count(ids), 0);
	cid_set_free(ids);
}

/* A member or group and the value a predicate waits for. */
struct want {
	void *of;
	uint16_t v;
};

static int
pred_close_code(void *arg)
{
	struct want *w = arg;

	return member_close_code(w->of) == w->v;
}

/* 1 if c's close code becomes code within WAIT_MS. */
static int
closed_with(struct member *c, uint16_t code)
{
	struct want w = { c, code };

	return it_wait_until(pred_close_code, &w, WAIT_MS);
}

static struct member *
join_new_client(struct group *g)
{
	struct member *c;

	c = member_new(ids, 8);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(group_join(g, c), 0);
	return c;
}

/* What a connection does on close: leave, stop the writer, let go. */
static void
hang_up(struct group *g, struct member *c)
{
	group_leave(g, c);
	member_join_writer(c);
	member_unref(c);
}

static struct group *
lookup_ok(const char *id, size_t len)
{
	struct group *g;
	const char *gid;
	size_t glen;

	g = manager_lookup(mgr, id, len);
	ck_assert_ptr_nonnull(g);
	gid = group_id(g, &glen);
	ck_assert_uint_eq(glen, len);
	ck_assert_mem_eq(gid, id, len);
	return g;
}

START_TEST(test_create_then_exists)
{
	ck_assert_int_eq(manager_create(mgr, "room", 4), MANAGER_CREATED);
	ck_assert_int_eq(manager_create(mgr, "room", 4), MANAGER_EXISTS);
	ck_assert_int_eq(manager_create(mgr, "roo", 3), MANAGER_CREATED);
	ck_assert_uint_eq(stats_get(&st, groups), 2);
}
END_TEST

struct creator {
	pthread_barrier_t *go;
	int result;
};

static void *
creator_run(void *arg)
{
	struct creator *c = arg;

	pthread_barrier_wait(c->go);
	c->result = manager_create(mgr, "contested", 9);
	return NULL;
}

START_TEST(test_concurrent_create_one_winner)
{
	enum { T = 32 };
	struct creator c[T];
	pthread_t t[T];
	pthread_barrier_t go;
	int i, created = 0, exists = 0;

	pthread_barrier_init(&go, NULL, T);
	for (i = 0; i < T; i++) {
		c[i].go = &go;
		ck_assert_int_eq(pthread_create(&t[i], NULL, creator_run, &c[i]),
		    0);
	}
	for (i = 0; i < T; i++) {
		pthread_join(t[i], NULL);
		if (c[i].result == MANAGER_CREATED)
			created++;
		else if (c[i].result == MANAGER_EXISTS)
			exists++;
	}
	pthread_barrier_destroy(&go);
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(exists, T - 1);
	ck_assert_uint_eq(stats_get(&st, groups), 1);
}
END_TEST

START_TEST(test_byte_string_ids)
{
	enum { LONG = 10 * 1024, N = 9 };
	static char big[3][LONG + 1];
	const char *id[N];
	size_t len[N];
	struct group **list;
	struct group *g;
	long n;
	int i;

	memset(big, 'x', sizeof(big));
	big[1][LONG - 1] = 'y';
	id[0] = "a";      len[0] = 1;
	id[1] = "a\0";    len[1] = 2;
	id[2] = "a\0b";   len[2] = 3;
	id[3] = "a\0c";   len[3] = 3;
	id[4] = "\0";     len[4] = 1;
	id[5] = "";       len[5] = 0;
	id[6] = big[0];   len[6] = LONG;
	id[7] = big[1];   len[7] = LONG;
	id[8] = big[2];   len[8] = LONG + 1;
	for (i = 0; i < N; i++)
		ck_assert_int_eq(manager_create(mgr, id[i], len[i]),
		    MANAGER_CREATED);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(manager_create(mgr, id[i], len[i]),
		    MANAGER_EXISTS);
		g = lookup_ok(id[i], len[i]);
		group_unref(g);
	}
	n = manager_list(mgr, SIZE_MAX, false, &list, NULL);
	ck_assert_int_eq(n, N);
	for (i = 0; i < n; i++)
		group_unref(list[i]);
	free(list);
	ck_assert_int_eq(manager_delete(mgr, id[2], len[2]), MANAGER_DELETED);
	ck_assert_ptr_null(manager_lookup(mgr, id[2], len[2]));
	g = lookup_ok(id[3], len[3]);
	group_unref(g);
	ck_assert_int_eq(manager_delete(mgr, id[7], len[7]), MANAGER_DELETED);
	g = lookup_ok(id[6], len[6]);
	group_unref(g);
	g = lookup_ok(id[8], len[8]);
	group_unref(g);
}
END_TEST

START_TEST(test_lookup_is_counted)
{
	struct group *g;

	errno = 0;
	ck_assert_ptr_null(manager_lookup(mgr, "nobody", 6));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(manager_create(mgr, "g", 1), MANAGER_CREATED);
	g = lookup_ok("g", 1);
	ck_assert(!group_closed(g));
	ck_assert_int_eq(manager_delete(mgr, "g", 1), MANAGER_DELETED);
	/* The registry's reference is gone; ours keeps the group alive. */
	ck_assert(group_closed(g));
	ck_assert_str_eq(group_id(g, NULL), "g");
	group_unref(g);
}
END_TEST

START_TEST(test_delete_then_not_found_then_create)
{
	struct group *old, *fresh;

	ck_assert_int_eq(manager_delete(mgr, "x", 1), MANAGER_NOT_FOUND);
	ck_assert_int_eq(manager_create(mgr, "x", 1), MANAGER_CREATED);
	old = lookup_ok("x", 1);
	ck_assert_int_eq(manager_delete(mgr, "x", 1), MANAGER_DELETED);
	ck_assert_int_eq(manager_delete(mgr, "x", 1), MANAGER_NOT_FOUND);
	ck_assert_ptr_null(manager_lookup(mgr, "x", 1));
	ck_assert_uint_eq(stats_get(&st, groups), 0);
	ck_assert_int_eq(manager_create(mgr, "x", 1), MANAGER_CREATED);
	fresh = lookup_ok("x", 1);
	ck_assert_ptr_ne(fresh, old);
	ck_assert(group_closed(old));
	ck_assert(!group_closed(fresh));
	group_unref(old);
	group_unref(fresh);
}
END_TEST

START_TEST(test_delete_closes_members)
{
	struct member *a, *b, *late;
	struct group *g;

	ck_assert_int_eq(manager_create(mgr, "room", 4), MANAGER_CREATED);
	g = lookup_ok("room", 4);
	a = join_new_client(g);
	b = join_new_client(g);
	ck_assert_int_eq(manager_delete(mgr, "room", 4), MANAGER_DELETED);
	ck_assert(closed_with(a, GROUP_DELETED_CODE));
	ck_assert(closed_with(b, GROUP_DELETED_CODE));
	late = member_new(ids, 8);
	ck_assert_ptr_nonnull(late);
	ck_assert_int_eq(group_join(g, late), -1);
	ck_assert_int_eq(errno, EPIPE);
	hang_up(g, a);
	hang_up(g, b);
	hang_up(g, late);
	group_unref(g);
	ck_assert_int_eq(manager_create(mgr, "room", 4), MANAGER_CREATED);
}
END_TEST

struct churner {
	unsigned seed;
	int created, deleted, failed;
};

static void
churn_id(char *id, unsigned k)
{
	snprintf(id, 8, "id%u", k);
}

static void *
churner_run(void *arg)
{
	enum { OPS = 400, IDS = 16 };
	struct churner *c = arg;
	struct group *g;
	char id[8];
	int i, r;

	for (i = 0; i < OPS; i++) {
		churn_id(id, (unsigned)rand_r(&c->seed) % IDS);
		switch (rand_r(&c->seed) % 3) {
		case 0:
			r = manager_create(mgr, id, strlen(id));
			c->created += r == MANAGER_CREATED;
			c->failed += r == -1;
			break;
		case 1:
			r = manager_delete(mgr, id, strlen(id));
			c->deleted += r == MANAGER_DELETED;
			c->failed += r == -1;
			break;
		default:
			/* Read on this thread while the manager changes the
			 * table: the group found is the one asked for. */
			if ((g = manager_lookup(mgr, id, strlen(id))) != NULL) {
				size_t len;
				const char *gid = group_id(g, &len);

				c->failed += len != strlen(id) || memcmp(gid, id, len) != 0;
				group_unref(g);
			} else {
				c->failed += errno != ENOENT;
			}
			break;
		}
	}
	return NULL;
}

START_TEST(test_concurrent_creates_and_deletes)
{
	enum { T = 4, IDS = 16 };
	struct churner c[T];
	pthread_t t[T];
	struct group **list, *g;
	char id[8];
	long n;
	int i, net = 0, present = 0;
	unsigned k;

	for (i = 0; i < T; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].seed = (unsigned)i * 7919 + 1;
		ck_assert_int_eq(pthread_create(&t[i], NULL, churner_run, &c[i]),
		    0);
	}
	for (i = 0; i < T; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(c[i].failed, 0);
		net += c[i].created - c[i].deleted;
	}
	for (k = 0; k < IDS; k++) {
		churn_id(id, k);
		if ((g = manager_lookup(mgr, id, strlen(id))) != NULL) {
			present++;
			group_unref(g);
		}
	}
	n = manager_list(mgr, SIZE_MAX, false, &list, NULL);
	ck_assert_int_eq(n, present);
	ck_assert_int_eq(n, net);
	ck_assert_uint_eq(stats_get(&st, groups), (unsigned long long)n);
	for (i = 0; i < n; i++) {
		ck_assert(!group_closed(list[i]));
		group_unref(list[i]);
	}
	free(list);
}
END_TEST

START_TEST(test_list)
{
	static const char *const names[] = { "one", "two", "three", "four",
	    "five" };
	struct group **list;
	const char *gid;
	size_t len, k;
	int seen[5] = { 0 };
	long n, i;

	n = manager_list(mgr, SIZE_MAX, false, &list, NULL);
	ck_assert_int_eq(n, 0);
	free(list);
	for (k = 0; k < 5; k++)
		ck_assert_int_eq(manager_create(mgr, names[k], strlen(names[k])),
		    MANAGER_CREATED);
	n = manager_list(mgr, SIZE_MAX, false, &list, NULL);
	ck_assert_int_eq(n, 5);
	for (i = 0; i < n; i++) {
		gid = group_id(list[i], &len);
		for (k = 0; k < 5; k++)
			if (len == strlen(names[k]) &&
			    memcmp(gid, names[k], len) == 0)
				seen[k]++;
	}
	for (k = 0; k < 5; k++)
		ck_assert_int_eq(seen[k], 1);
	ck_assert_int_eq(manager_delete(mgr, "two", 3), MANAGER_DELETED);
	/* The list holds references: its groups outlive their deletion. */
	for (i = 0; i < n; i++) {
		gid = group_id(list[i], &len);
		ck_assert_int_eq(group_closed(list[i]),
		    len == 3 && memcmp(gid, "two", 3) == 0);
		group_unref(list[i]);
	}
	free(list);
}
END_TEST

/* The group cap: past max_groups a create is refused and counted; a
 * delete makes room again. */
START_TEST(test_max_groups)
{
	manager_free(mgr);
	mgr = manager_new(&st, 2);
	ck_assert_ptr_nonnull(mgr);
	ck_assert_int_eq(manager_create(mgr, "a", 1), MANAGER_CREATED);
	ck_assert_int_eq(manager_create(mgr, "b", 1), MANAGER_CREATED);
	ck_assert_int_eq(manager_create(mgr, "c", 1), MANAGER_FULL);
	ck_assert_int_eq(manager_create(mgr, "a", 1), MANAGER_EXISTS);
	ck_assert_ptr_null(manager_lookup(mgr, "c", 1));
	ck_assert_uint_eq(stats_get(&st, creates_refused), 1);
	ck_assert_uint_eq(stats_get(&st, groups), 2);
	ck_assert_int_eq(manager_delete(mgr, "a", 1), MANAGER_DELETED);
	ck_assert_int_eq(manager_create(mgr, "c", 1), MANAGER_CREATED);
}
END_TEST

static int
pred_members(void *arg)
{
	struct want *w = arg;

	return group_members(w->of) == w->v;
}

/* active_only lists groups with members only; max cuts the list and the
 * rest are counted as omitted. */
START_TEST(test_list_active_capped)
{
	static const char *const names[] = { "p", "q", "r", "idle1", "idle2" };
	struct group *g[3], **list;
	struct member *c[3];
	size_t k, omitted = 99;
	long n, i;

	for (k = 0; k < 5; k++)
		ck_assert_int_eq(manager_create(mgr, names[k], strlen(names[k])),
		    MANAGER_CREATED);
	n = manager_list(mgr, SIZE_MAX, true, &list, &omitted);
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(omitted, 0);
	free(list);
	for (k = 0; k < 3; k++) {
		g[k] = lookup_ok(names[k], 1);
		c[k] = join_new_client(g[k]);
		ck_assert(it_wait_until(pred_members, &(struct want){ g[k], 1 }, WAIT_MS));
	}
	n = manager_list(mgr, SIZE_MAX, true, &list, &omitted);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(omitted, 0);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(group_members(list[i]), 1);
		group_unref(list[i]);
	}
	free(list);
	n = manager_list(mgr, 2, true, &list, &omitted);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(omitted, 1);
	for (i = 0; i < n; i++)
		group_unref(list[i]);
	free(list);
	n = manager_list(mgr, 0, false, &list, &omitted);
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(omitted, 5);
	free(list);
	for (k = 0; k < 3; k++) {
		hang_up(g[k], c[k]);
		group_unref(g[k]);
	}
}
END_TEST

START_TEST(test_close_all_keeps_groups)
{
	struct group *g1, *g2;
	struct member *a, *b;

	ck_assert_int_eq(manager_create(mgr, "g1", 2), MANAGER_CREATED);
	ck_assert_int_eq(manager_create(mgr, "g2", 2), MANAGER_CREATED);
	g1 = lookup_ok("g1", 2);
	g2 = lookup_ok("g2", 2);
	a = join_new_client(g1);
	b = join_new_client(g2);
	manager_close_all(mgr, GROUP_SHUTDOWN_CODE, GROUP_SHUTDOWN_REASON);
	ck_assert(closed_with(a, GROUP_SHUTDOWN_CODE));
	ck_assert(closed_with(b, GROUP_SHUTDOWN_CODE));
	ck_assert(group_closed(g1));
	ck_assert(group_closed(g2));
	ck_assert_int_eq(manager_create(mgr, "g1", 2), MANAGER_EXISTS);
	hang_up(g1, a);
	hang_up(g2, b);
	group_unref(g1);
	group_unref(g2);
	ck_assert_uint_eq(stats_get(&st, groups), 2);
}
END_TEST

/*
 * Groups still registered at manager_free, with members: one whose
 * connections still hold it, one only the registry held.
 */
START_TEST(test_free_with_groups_and_members)
{
	struct member *a, *b, *c;
	struct group *held, *orphan;

	ck_assert_int_eq(manager_create(mgr, "held", 4), MANAGER_CREATED);
	ck_assert_int_eq(manager_create(mgr, "orphan", 6), MANAGER_CREATED);
	ck_assert_int_eq(manager_create(mgr, "empty", 5), MANAGER_CREATED);
	held = lookup_ok("held", 4);
	orphan = lookup_ok("orphan", 6);
	a = join_new_client(held);
	b = join_new_client(held);
	c = join_new_client(orphan);
	group_unref(orphan);
	manager_free(mgr);
	mgr = NULL;
	/* orphan's last reference went with the registry: its thread is
	 * joined, so its member is closed already. */
	ck_assert_uint_eq(member_close_code(c), GROUP_SHUTDOWN_CODE);
	ck_assert(group_closed(held));
	ck_assert(closed_with(a, GROUP_SHUTDOWN_CODE));
	ck_assert(closed_with(b, GROUP_SHUTDOWN_CODE));
	hang_up(held, a);
	hang_up(held, b);
	group_unref(held);
	member_join_writer(c);
	member_unref(c);
}
END_TEST

/* A message event of 1,000 payload bytes handed to the manager. */
static int
event_taken(void *arg)
{
	static char payload[1000] = "m ";

	return manager_cluster_event(arg, MANAGER_EV_MESSAGE, "g", 1, payload,
	    sizeof(payload)) == 0;
}

/* A cluster manager's mailbox is bounded in bytes as well as entries: an
 * event past the byte bound is lost as on a full mailbox (the group sees
 * a gap), and the bytes come back once the manager thread is done with
 * an event, so a steady trickle is never refused. */
START_TEST(test_cluster_mailbox_bytes)
{
	static const struct cluster_limits lim = { 100, { 100, 1 << 20 }, 4096 };
	static char big[5000] = "m ";
	struct fake_redis *fr = fake_redis_new();
	struct redis_connector conn;
	struct cluster *cl;
	struct manager *m;
	int i;

	ck_assert_ptr_nonnull(fr);
	conn = fake_redis_connector(fr);
	ck_assert_ptr_nonnull(cl = cluster_new_on(&conn, &lim));
	ck_assert_ptr_nonnull(m = manager_new_cluster(NULL, 10, cl));
	ck_assert_int_eq(manager_cluster_event(m, MANAGER_EV_MESSAGE, "g", 1, big,
	    sizeof(big)), -1);
	for (i = 0; i < 20; i++)
		ck_assert_msg(it_wait_until(event_taken, m, 5000),
		    "event %d refused: the bytes of earlier ones never came back", i);
	manager_free(m);
	cluster_free(cl);
	fake_redis_free(fr);
}
END_TEST

static Suite *
manager_suite(void)
{
	Suite *s = suite_create("manager");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_create_then_exists);
	tcase_add_test(tc, test_concurrent_create_one_winner);
	tcase_add_test(tc, test_byte_string_ids);
	tcase_add_test(tc, test_lookup_is_counted);
	tcase_add_test(tc, test_delete_then_not_found_then_create);
	tcase_add_test(tc, test_delete_closes_members);
	tcase_add_test(tc, test_concurrent_creates_and_deletes);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_max_groups);
	tcase_add_test(tc, test_list_active_capped);
	tcase_add_test(tc, test_close_all_keeps_groups);
	tcase_add_test(tc, test_free_with_groups_and_members);
	tcase_add_test(tc, test_cluster_mailbox_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(manager_suite());
}
