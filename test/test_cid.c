/*
 * test_cid: id format, uniqueness among held ids, release, and the set
 * shared by several threads. Uniqueness is checked against a bitmap of our
 * own over the whole 24-bit space.
 */
#include "groupchat/core/cid.h"
#include "support/test_main.h"

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SPACE (1UL << 24)

static int
well_formed(const char *id)
{
	int i;

	for (i = 0; i < CID_LEN; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	}
	return id[CID_LEN] == '\0';
}

/* Marks id in seen; 0 if it was already marked. */
static int
mark(uint8_t *seen, const char *id)
{
	unsigned long v = strtoul(id, NULL, 16);

	if (seen[v / 8] & (1U << (v % 8)))
		return 0;
	seen[v / 8] |= (uint8_t)(1U << (v % 8));
	return 1;
}

START_TEST(test_format)
{
	struct cid_set *s = cid_set_new();
	char id[CID_LEN + 1];
	unsigned long v, prev = 0;
	int i, runs = 0;

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(cid_count(s), 0);
	for (i = 0; i < 1000; i++) {
		memset(id, 'Z', sizeof(id));
		ck_assert_int_eq(cid_acquire(s, id), 0);
		ck_assert_msg(well_formed(id), "bad id \"%.7s\"", id);
		/* Random, not handed out in sequence. */
		v = strtoul(id, NULL, 16);
		if (i > 0 && v == prev + 1)
			runs++;
		prev = v;
	}
	ck_assert_int_lt(runs, 10);
	ck_assert_uint_eq(cid_count(s), 1000);
	cid_set_free(s);
}
END_TEST

#define MANY 100000

START_TEST(test_unique)
{
	struct cid_set *s = cid_set_new();
	uint8_t *seen = calloc(SPACE / 8, 1);
	char (*ids)[CID_LEN + 1] = malloc(MANY * sizeof(*ids));
	int i, bad = 0, dup = 0;

	ck_assert_ptr_nonnull(seen);
	ck_assert_ptr_nonnull(ids);
	/* Tallied, not asserted per id: Check logs every assertion. */
	for (i = 0; i < MANY; i++) {
		if (cid_acquire(s, ids[i]) != 0 || !well_formed(ids[i]))
			bad++;
		else if (!mark(seen, ids[i]))
			dup++;
	}
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(dup, 0);
	ck_assert_uint_eq(cid_count(s), MANY);

	/* Release drops the count by one per held id, and only for those. */
	cid_release(s, ids[0]);
	ck_assert_uint_eq(cid_count(s), MANY - 1);
	cid_release(s, ids[0]);
	ck_assert_uint_eq(cid_count(s), MANY - 1);
	for (i = 1; i < MANY; i++)
		cid_release(s, ids[i]);
	ck_assert_uint_eq(cid_count(s), 0);
	free(ids);
	free(seen);
	cid_set_free(s);
}
END_TEST

START_TEST(test_release_foreign)
{
	struct cid_set *s = cid_set_new();
	char id[CID_LEN + 1], other[CID_LEN + 1];

	ck_assert_int_eq(cid_acquire(s, id), 0);
	/* A different, unheld id, and strings that are not ids at all. */
	strcpy(other, id);
	other[0] = other[0] == '0' ? '1' : '0';
	cid_release(s, other);
	cid_release(s, "");
	cid_release(s, "ABCDEF");
	cid_release(s, "12345");
	cid_release(s, "1234567");
	cid_release(s, "zzzzzz");
	ck_assert_uint_eq(cid_count(s), 1);
	cid_release(s, id);
	ck_assert_uint_eq(cid_count(s), 0);
	cid_set_free(s);
}
END_TEST

/*
 * Threads acquire ids, release half of them while the others still
 * acquire, and report what they hold; every held id must be distinct and
 * the count must match.
 */
#define NTHREADS 4
#define PER_THREAD 5000

struct worker {
	pthread_t tid;
	struct cid_set *s;
	char ids[PER_THREAD][CID_LEN + 1];
	int ok;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	int i;

	w->ok = 1;
	for (i = 0; i < PER_THREAD; i++) {
		if (cid_acquire(w->s, w->ids[i]) != 0 || !well_formed(w->ids[i]))
			w->ok = 0;
		if (i % 2 == 1)
			cid_release(w->s, w->ids[i - 1]);
	}
	return NULL;
}

static void *
release_main(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 1; i < PER_THREAD; i += 2)
		cid_release(w->s, w->ids[i]);
	return NULL;
}

START_TEST(test_concurrent)
{
	struct cid_set *s = cid_set_new();
	struct worker *w = calloc(NTHREADS, sizeof(*w));
	uint8_t *seen = calloc(SPACE / 8, 1);
	int i, j, dup = 0;

	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(seen);
	for (i = 0; i < NTHREADS; i++) {
		w[i].s = s;
		ck_assert_int_eq(pthread_create(&w[i].tid, NULL, worker_main,
		    &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].tid, NULL);
		ck_assert(w[i].ok);
	}
	ck_assert_uint_eq(cid_count(s), NTHREADS * PER_THREAD / 2);
	for (i = 0; i < NTHREADS; i++) {
		for (j = 1; j < PER_THREAD; j += 2)
			dup += !mark(seen, w[i].ids[j]);
	}
	ck_assert_int_eq(dup, 0);

	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&w[i].tid, NULL, release_main,
		    &w[i]), 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(w[i].tid, NULL);
	ck_assert_uint_eq(cid_count(s), 0);
	free(seen);
	free(w);
	cid_set_free(s);
}
END_TEST

static Suite *
cid_suite(void)
{
	Suite *s = suite_create("cid");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_unique);
	tcase_add_test(tc, test_release_foreign);
	tcase_add_test(tc, test_concurrent);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(cid_suite());
}
