/*
 * test_history: a group's numbered messages. Offsets from 1; the count
 * bound and the byte bound each drop the oldest; a message bigger than
 * the byte budget, or any message with a count of 0, empties the
 * history while the offsets go on; what is held after an offset comes
 * back in order across the ring's wrap; the references held are
 * dropped by clear and free (each frame's count shows it).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "groupchat/core/frame.h"
#include "groupchat/core/history.h"
#include "support/test_main.h"

/* A text frame whose payload is "m<i>" padded to len bytes. */
static struct frame *
msg(int i, size_t len)
{
	char body[512];
	struct frame *m;

	ck_assert_uint_le(len, sizeof(body));
	memset(body, '.', len);
	snprintf(body, len, "m%d", i);
	ck_assert_ptr_nonnull(m = frame_new(FRAME_TEXT, body, len, NULL, 0));
	return m;
}

/* The messages after offset, flattened; returns how many. */
static size_t
after(const struct history *h, uint64_t offset, struct frame **out, size_t max)
{
	struct frame *const *a, *const *b;
	size_t na, nb;

	history_after(h, offset, &a, &na, &b, &nb);
	ck_assert_uint_le(na + nb, max);
	if (na > 0)
		memcpy(out, a, na * sizeof(*out));
	if (nb > 0)
		memcpy(out + na, b, nb * sizeof(*out));
	return na + nb;
}

/* Appends and drops the caller's reference: the history's is the only one. */
static uint64_t
append(struct history *h, struct frame *m)
{
	uint64_t off = history_append(h, m);

	frame_unref(m);
	return off;
}

START_TEST(test_offsets_from_one)
{
	struct history *h = history_new(10, 1 << 20);
	struct frame *got[10];

	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(history_last(h), 0);
	ck_assert(history_covers(h, 0));
	ck_assert_uint_eq(after(h, 0, got, 10), 0);
	ck_assert(!history_covers(h, 1));
	for (int i = 1; i <= 3; i++)
		ck_assert_uint_eq(append(h, msg(i, 10)), (uint64_t)i);
	ck_assert_uint_eq(history_last(h), 3);
	ck_assert_uint_eq(history_count(h), 3);
	ck_assert(history_covers(h, 0));
	ck_assert(history_covers(h, 3));
	ck_assert(!history_covers(h, 4));
	ck_assert_uint_eq(after(h, 1, got, 10), 2);
	ck_assert_mem_eq(frame_data(got[0]) + 2, "m2", 2);
	ck_assert_mem_eq(frame_data(got[1]) + 2, "m3", 2);
	ck_assert_uint_eq(after(h, 3, got, 10), 0);
	history_free(h);
}
END_TEST

/* Past max_count the oldest go, the run stays whole and in order across
 * the ring's wrap, and an offset before what is held is not covered. */
START_TEST(test_count_bound_and_wrap)
{
	struct history *h = history_new(5, 1 << 20);
	struct frame *got[5];
	char want[8];
	size_t n;

	for (int i = 1; i <= 23; i++)
		append(h, msg(i, 10));
	ck_assert_uint_eq(history_count(h), 5);
	ck_assert_uint_eq(history_last(h), 23);
	ck_assert(history_covers(h, 18));
	ck_assert(!history_covers(h, 17));
	for (uint64_t from = 18; from <= 23; from++) {
		n = after(h, from, got, 5);
		ck_assert_uint_eq(n, 23 - from);
		for (size_t k = 0; k < n; k++) {
			snprintf(want, sizeof(want), "m%d", (int)(from + 1 + k));
			ck_assert_mem_eq(frame_data(got[k]) + 2, want, strlen(want));
		}
	}
	history_free(h);
}
END_TEST

/* The byte budget drops the oldest until the newest fits. */
START_TEST(test_byte_bound)
{
	/* Each frame is 2 header bytes + 100 payload = 102 bytes. */
	struct history *h = history_new(100, 350);

	for (int i = 1; i <= 10; i++)
		append(h, msg(i, 100));
	ck_assert_uint_eq(history_count(h), 3);
	ck_assert_uint_eq(history_bytes(h), 306);
	ck_assert(history_covers(h, 7));
	ck_assert(!history_covers(h, 6));
	history_free(h);
}
END_TEST

/* A message bigger than the whole budget empties the history: holding
 * the older ones without it would leave a hole. The offsets go on. */
START_TEST(test_too_big_empties)
{
	struct history *h = history_new(100, 300);

	for (int i = 1; i <= 2; i++)
		append(h, msg(i, 100));
	ck_assert_uint_eq(append(h, msg(3, 400)), 3);
	ck_assert_uint_eq(history_count(h), 0);
	ck_assert_uint_eq(history_bytes(h), 0);
	ck_assert(history_covers(h, 3));
	ck_assert(!history_covers(h, 2));
	ck_assert_uint_eq(append(h, msg(4, 10)), 4);
	ck_assert(history_covers(h, 3));
	ck_assert(!history_covers(h, 2));
	history_free(h);
}
END_TEST

/* Count 0: positions without recovery. */
START_TEST(test_count_zero)
{
	struct history *h = history_new(0, 1 << 20);

	ck_assert_uint_eq(append(h, msg(1, 10)), 1);
	ck_assert_uint_eq(append(h, msg(2, 10)), 2);
	ck_assert_uint_eq(history_count(h), 0);
	ck_assert(!history_covers(h, 1));
	ck_assert(!history_covers(h, 2)); /* even with nothing missed */
	history_free(h);
}
END_TEST

/* The history holds one reference per message; clear and the drops of
 * the bounds give it back, and the caller's own stays good. */
START_TEST(test_references)
{
	struct history *h = history_new(2, 1 << 20);
	struct frame *a = msg(1, 10), *b = msg(2, 10), *c = msg(3, 10);
	struct frame *got[2];

	history_append(h, a);
	history_append(h, b);
	history_append(h, c);   /* a dropped: only ours is left */
	frame_unref(a);         /* freed here; ASan would see a double free */
	ck_assert_uint_eq(after(h, 1, got, 2), 2);
	ck_assert_ptr_eq(got[0], b);
	ck_assert_ptr_eq(got[1], c);
	history_clear(h);
	ck_assert_uint_eq(history_count(h), 0);
	ck_assert_uint_eq(history_last(h), 3);
	ck_assert_mem_eq(frame_data(b) + 2, "m2", 2);
	frame_unref(b);
	frame_unref(c);
	append(h, msg(4, 10)); /* freed by history_free, or LeakSanitizer tells */
	history_free(h);
	history_free(NULL);
}
END_TEST

static Suite *
history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_offsets_from_one);
	tcase_add_test(tc, test_count_bound_and_wrap);
	tcase_add_test(tc, test_byte_bound);
	tcase_add_test(tc, test_too_big_empties);
	tcase_add_test(tc, test_count_zero);
	tcase_add_test(tc, test_references);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(history_suite());
}
