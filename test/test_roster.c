/*
 * test_roster: the group's member set. Add, find, remove moving the last
 * member into the hole, clear, growth past the first capacity, and many
 * members with the index checked against the array after every change.
 * The roster owns a reference per member; cid_count shows when a
 * member's last reference went (the id is given back then).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "../src/actors/roster.h"
#include "groupchat/actors/member.h"
#include "groupchat/core/cid.h"
#include "support/test_main.h"

#define MANY 3000

static struct cid_set *ids;

static void
setup(void)
{
	ck_assert_ptr_nonnull(ids = cid_set_new());
}

static void
teardown(void)
{
	ck_assert_uint_eq(cid_count(ids), 0);
	cid_set_free(ids);
}

static struct member *
new_member(void)
{
	struct member *m = member_new(ids, 1);

	ck_assert_ptr_nonnull(m);
	return m;
}

/* Every member is found at its own slot, and nothing else is indexed. */
static void
check_index(const struct roster *r)
{
	size_t i, at;

	ck_assert_uint_eq(r->index.count, r->n);
	for (i = 0; i < r->n; i++) {
		ck_assert(roster_find(r, r->members[i], &at));
		ck_assert_uint_eq(at, i);
	}
}

START_TEST(test_add_find)
{
	struct roster r;
	struct member *a = new_member(), *b = new_member(), *c = new_member();
	size_t at;

	roster_init(&r);
	ck_assert(!roster_find(&r, a, NULL));
	ck_assert_int_eq(roster_add(&r, a), 0);
	ck_assert_int_eq(roster_add(&r, b), 0);
	ck_assert_uint_eq(r.n, 2);
	ck_assert(roster_find(&r, b, &at));
	ck_assert_uint_eq(at, 1);
	ck_assert(!roster_find(&r, c, NULL));
	/* A second add is refused and leaves the caller its reference. */
	member_ref(a);
	errno = 0;
	ck_assert_int_eq(roster_add(&r, a), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_uint_eq(r.n, 2);
	member_unref(a);
	check_index(&r);
	ck_assert_uint_eq(cid_count(ids), 3);
	roster_fini(&r);
	/* fini dropped a's and b's references; c is still the test's. */
	ck_assert_uint_eq(cid_count(ids), 1);
	member_unref(c);
}
END_TEST

START_TEST(test_remove_moves_last_in)
{
	struct roster r;
	struct member *m[5];
	size_t i, at;

	roster_init(&r);
	for (i = 0; i < 5; i++) {
		m[i] = new_member();
		ck_assert_int_eq(roster_add(&r, m[i]), 0);
	}
	roster_remove_at(&r, 1);
	ck_assert_uint_eq(r.n, 4);
	ck_assert_ptr_eq(r.members[1], m[4]);
	ck_assert(roster_find(&r, m[4], &at));
	ck_assert_uint_eq(at, 1);
	ck_assert_uint_eq(cid_count(ids), 4);   /* m[1]'s reference dropped */
	check_index(&r);
	/* Removing the last slot moves nothing. */
	ck_assert(roster_remove(&r, m[3]));
	ck_assert_uint_eq(r.n, 3);
	ck_assert_ptr_eq(r.members[0], m[0]);
	ck_assert_ptr_eq(r.members[1], m[4]);
	ck_assert_ptr_eq(r.members[2], m[2]);
	check_index(&r);
	/* A member that is not in is no remove at all. */
	member_ref(m[0]);
	ck_assert(roster_remove(&r, m[0]));
	ck_assert(!roster_remove(&r, m[0]));
	ck_assert_uint_eq(r.n, 2);
	ck_assert_uint_eq(cid_count(ids), 3);
	member_unref(m[0]);
	ck_assert_uint_eq(cid_count(ids), 2);
	check_index(&r);
	roster_fini(&r);
}
END_TEST

START_TEST(test_clear_keeps_storage)
{
	struct roster r;
	size_t i, cap;

	roster_init(&r);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(roster_add(&r, new_member()), 0);
	cap = r.cap;
	roster_clear(&r);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_uint_eq(r.cap, cap);
	ck_assert_uint_eq(cid_count(ids), 0);
	check_index(&r);
	ck_assert_int_eq(roster_add(&r, new_member()), 0);
	ck_assert_uint_eq(r.n, 1);
	check_index(&r);
	roster_fini(&r);
}
END_TEST

START_TEST(test_growth)
{
	struct roster r;
	struct member *first;
	size_t i, first_cap = 0;

	roster_init(&r);
	ck_assert_int_eq(roster_add(&r, first = new_member()), 0);
	first_cap = r.cap;
	ck_assert_uint_ge(first_cap, 1);
	for (i = 1; i <= first_cap; i++)
		ck_assert_int_eq(roster_add(&r, new_member()), 0);
	ck_assert_uint_eq(r.n, first_cap + 1);
	ck_assert_uint_gt(r.cap, first_cap);
	ck_assert_ptr_eq(r.members[0], first);
	check_index(&r);
	roster_fini(&r);
}
END_TEST

START_TEST(test_many)
{
	static struct member *m[MANY];
	struct roster r;
	size_t i;

	roster_init(&r);
	for (i = 0; i < MANY; i++) {
		m[i] = new_member();
		ck_assert_int_eq(roster_add(&r, m[i]), 0);
	}
	ck_assert_uint_eq(r.n, MANY);
	check_index(&r);
	/* The even ones leave, in a mixed order (7 is prime to MANY, which
	 * is even, so i * 7 % MANY runs over the even indices), by pointer. */
	for (i = 0; i < MANY; i += 2)
		ck_assert(roster_remove(&r, m[(i * 7) % MANY]));
	ck_assert_uint_eq(r.n, MANY / 2);
	ck_assert_uint_eq(cid_count(ids), MANY / 2);
	check_index(&r);
	for (i = 1; i < MANY; i += 2)
		ck_assert(roster_find(&r, m[i], NULL));
	roster_fini(&r);
}
END_TEST

static Suite *
roster_suite(void)
{
	Suite *s = suite_create("roster");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_add_find);
	tcase_add_test(tc, test_remove_moves_last_in);
	tcase_add_test(tc, test_clear_keeps_storage);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(roster_suite());
}
