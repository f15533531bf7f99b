/*
 * test_hashtab: put, find, delete with backward shift, growth, clear and
 * iteration, checked against a plain array of what should be in; plus
 * SipHash-2-4 against the reference vectors of its paper.
 */
#include "groupchat/core/hashtab.h"
#include "support/test_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define N 2000

/* Items are addresses into this array; each item's key is its index. */
static int items[N];

static bool
int_eq(const void *item, const void *key)
{
	return *(const int *)item == *(const int *)key;
}

/* A deliberately poor hash, so that probe runs collide and wrap. */
static uint64_t
weak(int k)
{
	return (uint64_t)(k % 7);
}

START_TEST(test_put_find_del)
{
	struct hashtab t;
	struct hashtab_entry *e;
	bool in[N] = { false };
	int i, k;

	hashtab_init(&t);
	ck_assert_ptr_null(hashtab_find(&t, 0, &items[0], NULL));
	for (i = 0; i < N; i++) {
		items[i] = i;
		ck_assert_int_eq(hashtab_reserve(&t), 0);
		hashtab_put(&t, weak(i), &items[i], (size_t)i * 3);
		in[i] = true;
		ck_assert_uint_le(t.count * 2, t.cap);
	}
	ck_assert_uint_eq(t.count, N);
	/* Delete every third, then check every key still answers right. */
	for (i = 0; i < N; i += 3) {
		ck_assert_ptr_nonnull(e = hashtab_find(&t, weak(i), &i, int_eq));
		hashtab_del(&t, e);
		in[i] = false;
	}
	for (k = 0; k < N; k++) {
		e = hashtab_find(&t, weak(k), &k, int_eq);
		if (in[k]) {
			ck_assert_ptr_nonnull(e);
			ck_assert_ptr_eq(e->item, &items[k]);
			ck_assert_uint_eq(e->value, (size_t)k * 3);
		} else {
			ck_assert_ptr_null(e);
		}
	}
	hashtab_fini(&t);
	ck_assert_uint_eq(t.count, 0);
	ck_assert_uint_eq(t.cap, 0);
}
END_TEST

START_TEST(test_pointer_keys)
{
	struct hashtab t;
	struct hashtab_entry *e;
	unsigned homes = 0;
	int i;

	hashtab_init(&t);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(hashtab_reserve(&t), 0);
		hashtab_put(&t, hashtab_ptr(&items[i]), &items[i], (size_t)i);
	}
	for (i = 0; i < 100; i++) {
		e = hashtab_find(&t, hashtab_ptr(&items[i]), &items[i], NULL);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(e->value, (size_t)i);
	}
	ck_assert_ptr_null(hashtab_find(&t, hashtab_ptr(&items[100]), &items[100], NULL));
	/* Neighbouring pointers spread over the low bits of their hash, where
	 * a small table takes its homes: 64 of them fill most of 16 homes. */
	for (i = 0; i < 64; i++)
		homes |= 1U << (hashtab_ptr(&items[i]) & 15);
	ck_assert_int_ge(__builtin_popcount(homes), 8);
	hashtab_fini(&t);
}
END_TEST

START_TEST(test_iterate_clear)
{
	struct hashtab t;
	struct hashtab_entry *e;
	size_t i = 0, seen = 0;
	int k, sum = 0;

	hashtab_init(&t);
	ck_assert_ptr_null(hashtab_next(&t, &i));
	for (k = 0; k < 50; k++) {
		items[k] = k;
		ck_assert_int_eq(hashtab_reserve(&t), 0);
		hashtab_put(&t, weak(k), &items[k], 0);
	}
	i = 0;
	while ((e = hashtab_next(&t, &i)) != NULL) {
		sum += *(int *)e->item;
		seen++;
	}
	ck_assert_uint_eq(seen, 50);
	ck_assert_int_eq(sum, 49 * 50 / 2);
	hashtab_clear(&t);
	ck_assert_uint_eq(t.count, 0);
	ck_assert_uint_gt(t.cap, 0);
	i = 0;
	ck_assert_ptr_null(hashtab_next(&t, &i));
	k = 3;
	ck_assert_ptr_null(hashtab_find(&t, weak(k), &k, int_eq));
	hashtab_fini(&t);
}
END_TEST

/* SipHash-2-4, key 00..0f, messages 00..(n-1): the paper's vectors. */
START_TEST(test_siphash_vectors)
{
	static const uint64_t want[] = {
		UINT64_C(0x726fdb47dd0e0e31), UINT64_C(0x74f839c593dc67fd),
		UINT64_C(0x0d6c8009d9a94f5a), UINT64_C(0x85676696d7fb7e2d),
	};
	uint64_t key[2] = {
		UINT64_C(0x0706050403020100), UINT64_C(0x0f0e0d0c0b0a0908),
	};
	unsigned char msg[16];
	size_t n;

	for (n = 0; n < sizeof(msg); n++)
		msg[n] = (unsigned char)n;
	for (n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		ck_assert_uint_eq(hashtab_siphash(key, msg, n), want[n]);
	ck_assert_uint_eq(hashtab_siphash(key, msg, 15), UINT64_C(0xa129ca6149be45e5));
}
END_TEST

static Suite *
hashtab_suite(void)
{
	Suite *s = suite_create("hashtab");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_put_find_del);
	tcase_add_test(tc, test_pointer_keys);
	tcase_add_test(tc, test_iterate_clear);
	tcase_add_test(tc, test_siphash_vectors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(hashtab_suite());
}
