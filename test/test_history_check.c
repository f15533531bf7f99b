/*
 * test_history_check: histories the checker must pass (members joining
 * late, leaving early with 1013, losing their node, two groups with
 * their own orders, a group deleted and created again) and one history
 * per kind of violation that must fail with exactly that kind.
 */
#include "support/history_check.h"
#include "support/test_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXF 32

/* A member built from a compact spec: frames as "tag-k" payloads, each
 * given the cid "c<tag>" padded to six characters. */
struct fake {
	char *frames[MAXF];
	struct hc_member m;
};

static void
fake(struct fake *f, const char *group, const char *tag, int close, int sent,
    const char *payloads)
{
	char *list = strdup(payloads), *save = NULL;

	memset(f, 0, sizeof(*f));
	f->m.group = group;
	f->m.tag = tag;
	f->m.close = close;
	f->m.sent = sent;
	f->m.frames = f->frames;
	for (char *p = strtok_r(list, " ", &save); p != NULL; p = strtok_r(NULL, " ", &save)) {
		ck_assert_uint_lt(f->m.nframes, MAXF);
		ck_assert_int_ne(asprintf(&f->frames[f->m.nframes++], "c%-5.5s - %s", p, p), -1);
	}
	free(list);
}

static void
fake_free(struct fake *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < f[i].m.nframes; k++)
			free(f[i].frames[k]);
}

/* Runs the checker over n fakes: the number of violations; their counts
 * by kind into r (the text freed). */
static long
check(struct fake *f, size_t n, struct hc_report *r)
{
	struct hc_member m[16];
	long v;

	ck_assert_uint_le(n, 16);
	for (size_t i = 0; i < n; i++)
		m[i] = f[i].m;
	v = hc_check(m, n, r);
	ck_assert_int_ge(v, 0);
	ck_assert_int_eq(v, (long)r->violations);
	if (v > 0) {
		ck_assert_ptr_nonnull(r->text);
		fprintf(stderr, "%s", r->text);
	} else {
		ck_assert_ptr_null(r->text);
	}
	hc_report_free(r);
	fake_free(f, n);
	return v;
}

/* Exactly one violation, of kind k. */
static void
expect_only(struct fake *f, size_t n, enum hc_kind k)
{
	struct hc_report r;

	ck_assert_int_ge(check(f, n, &r), 1);
	ck_assert_msg(r.count[k] >= 1 && r.count[k] == r.violations,
	    "want only %s, got %zu violations, %zu of them %s", hc_kind_name(k),
	    r.violations, r.count[k], hc_kind_name(k));
}

START_TEST(same_sequence_everywhere_passes)
{
	struct fake f[3];
	struct hc_report r;

	fake(&f[0], "g", "a", HC_OPEN, 2, "a-0 b-0 c-0 a-1 b-1 c-1");
	fake(&f[1], "g", "b", HC_OPEN, 2, "a-0 b-0 c-0 a-1 b-1 c-1");
	fake(&f[2], "g", "c", 1000, 2, "a-0 b-0 c-0 a-1 b-1 c-1");
	ck_assert_int_eq(check(f, 3, &r), 0);
	ck_assert_uint_eq(r.groups, 1);
	ck_assert_uint_eq(r.members, 3);
	ck_assert_uint_eq(r.messages, 6);
}
END_TEST

START_TEST(late_joins_and_early_ends_pass)
{
	struct fake f[5];
	struct hc_report r;

	fake(&f[0], "g", "a", HC_OPEN, 4, "a-0 b-0 a-1 b-1 a-2 d-0 a-3 d-1");
	/* joined late */
	fake(&f[1], "g", "d", HC_OPEN, 2, "a-2 d-0 a-3 d-1");
	/* closed 1013 in the middle, its last message maybe relayed */
	fake(&f[2], "g", "b", 1013, 3, "a-0 b-0 a-1 b-1");
	/* lost its node */
	fake(&f[3], "g", "e", HC_EOF, 0, "b-0 a-1");
	/* left by itself, then a member that never got anything */
	fake(&f[4], "g", "x", HC_LEFT, 0, "a-0");
	ck_assert_int_eq(check(f, 5, &r), 0);
}
END_TEST

START_TEST(groups_have_their_own_orders)
{
	struct fake f[4];
	struct hc_report r;

	fake(&f[0], "g", "a", HC_OPEN, 1, "a-0 b-0");
	fake(&f[1], "g", "b", HC_OPEN, 1, "a-0 b-0");
	/* The same id created again: a new instance, a new order. */
	fake(&f[2], "g#2", "c", HC_OPEN, 1, "d-0 c-0");
	fake(&f[3], "g#2", "d", HC_OPEN, 1, "d-0 c-0");
	ck_assert_int_eq(check(f, 4, &r), 0);
	ck_assert_uint_eq(r.groups, 2);
}
END_TEST

START_TEST(unordered_members_without_overlap_pass)
{
	struct fake f[2];
	struct hc_report r;

	/* Nobody saw a-0 and b-0 together: no order between them, and no
	 * violation can be proved. */
	fake(&f[0], "g", "a", 1013, 1, "a-0");
	fake(&f[1], "g", "b", 1013, 1, "b-0");
	ck_assert_int_eq(check(f, 2, &r), 0);
}
END_TEST

START_TEST(a_malformed_frame_fails)
{
	struct fake f[1];

	fake(&f[0], "g", "a", HC_OPEN, 0, "a-0");
	free(f[0].frames[0]);
	f[0].frames[0] = strdup("abcdef - no-number-");
	expect_only(f, 1, HC_MALFORMED);
}
END_TEST

START_TEST(a_message_of_another_group_fails)
{
	struct fake f[3];

	fake(&f[0], "g", "a", HC_OPEN, 1, "a-0 z-0");
	fake(&f[1], "g", "b", 1013, 0, "a-0");
	fake(&f[2], "h", "z", 1013, 1, "z-0");
	expect_only(f, 3, HC_FOREIGN);
}
END_TEST

START_TEST(a_duplicate_fails)
{
	struct fake f[2];

	fake(&f[0], "g", "a", HC_OPEN, 2, "a-0 a-1 a-1");
	fake(&f[1], "g", "b", HC_OPEN, 0, "a-0 a-1");
	expect_only(f, 2, HC_DUPLICATE);
}
END_TEST

START_TEST(a_sender_out_of_order_fails)
{
	struct fake f[2];
	struct hc_report r;

	fake(&f[0], "g", "a", HC_OPEN, 2, "a-1 a-0");
	fake(&f[1], "g", "b", 1013, 0, "a-1");
	ck_assert_int_ge(check(f, 2, &r), 1);
	ck_assert_uint_ge(r.count[HC_SENDER_ORDER], 1);
}
END_TEST

START_TEST(a_hole_in_a_senders_stream_fails)
{
	struct fake f[2];

	/* m2 of a never went out, m3 did: everyone agrees, still a breach. */
	fake(&f[0], "g", "a", 1013, 4, "a-0 a-1 a-3");
	fake(&f[1], "g", "b", 1013, 0, "a-0 a-1 a-3");
	expect_only(f, 2, HC_SENDER_GAP);
}
END_TEST

START_TEST(two_members_in_opposite_orders_fail)
{
	struct fake f[2];

	fake(&f[0], "g", "a", 1013, 1, "a-0 b-0");
	fake(&f[1], "g", "b", 1013, 1, "b-0 a-0");
	expect_only(f, 2, HC_ORDER);
}
END_TEST

START_TEST(a_cycle_among_three_fails)
{
	struct fake f[3];

	/* Each pair agrees on what both saw; together no order holds. */
	fake(&f[0], "g", "a", 1013, 1, "a-0 b-0");
	fake(&f[1], "g", "b", 1013, 1, "b-0 c-0");
	fake(&f[2], "g", "c", 1013, 1, "c-0 a-0");
	expect_only(f, 3, HC_ORDER);
}
END_TEST

START_TEST(a_silent_gap_fails)
{
	struct fake f[3];

	fake(&f[0], "g", "a", HC_OPEN, 1, "a-0 b-0 c-0");
	fake(&f[1], "g", "b", HC_OPEN, 1, "a-0 b-0 c-0");
	/* c misses b-0 and is still open */
	fake(&f[2], "g", "c", HC_OPEN, 1, "a-0 c-0");
	expect_only(f, 3, HC_GAP);
}
END_TEST

START_TEST(a_gap_before_a_1013_still_fails)
{
	struct fake f[2];

	/* A 1013 ends a member early; it does not excuse a hole before it. */
	fake(&f[0], "g", "a", HC_OPEN, 2, "a-0 b-0 a-1");
	fake(&f[1], "g", "b", 1013, 1, "a-0 a-1");
	expect_only(f, 2, HC_GAP);
}
END_TEST

START_TEST(an_open_member_missing_the_tail_fails)
{
	struct fake f[2];

	fake(&f[0], "g", "a", HC_OPEN, 2, "a-0 b-0 a-1");
	fake(&f[1], "g", "b", HC_OPEN, 1, "a-0 b-0");
	expect_only(f, 2, HC_TAIL);
}
END_TEST

START_TEST(a_delete_after_a_silent_tail_loss_fails)
{
	struct fake f[3];

	/* Issue 18's soak: closed 1000 after missing the last messages that
	 * members on the other node received before their 1013. */
	fake(&f[0], "g", "a", 1000, 1, "a-0 b-0");
	fake(&f[1], "g", "b", 1013, 3, "a-0 b-0 b-1 b-2");
	fake(&f[2], "g", "c", 1013, 0, "a-0 b-0 b-1 b-2");
	expect_only(f, 3, HC_TAIL);
}
END_TEST

START_TEST(open_members_ending_apart_fail)
{
	struct fake f[2];

	/* Neither saw the other's last one: one of them missed it. */
	fake(&f[0], "g", "a", HC_OPEN, 1, "a-0");
	fake(&f[1], "g", "b", HC_OPEN, 1, "b-0");
	expect_only(f, 2, HC_TAIL);
}
END_TEST

START_TEST(an_unexpected_close_code_fails)
{
	struct fake f[1];

	fake(&f[0], "g", "a", 1011, 1, "a-0");
	expect_only(f, 1, HC_CLOSE);
}
END_TEST

START_TEST(an_open_senders_lost_message_fails)
{
	struct fake f[2];

	/* a sent three, is open, and its third reached nobody. */
	fake(&f[0], "g", "a", HC_OPEN, 3, "a-0 a-1");
	fake(&f[1], "g", "b", HC_OPEN, 0, "a-0 a-1");
	expect_only(f, 2, HC_LOST);
}
END_TEST

START_TEST(the_report_is_bounded)
{
	struct fake f[2];
	struct hc_member m[2];
	struct hc_report r;
	char list[MAXF * 8] = "";

	for (int k = MAXF - 1; k >= 0; k--) {
		char one[16];
		snprintf(one, sizeof(one), "a-%d ", k);
		strcat(list, one);
	}
	fake(&f[0], "g", "a", 1013, MAXF, list);
	fake(&f[1], "g", "b", 1013, 0, list);
	m[0] = f[0].m;
	m[1] = f[1].m;
	ck_assert_int_eq(hc_check(m, 2, &r), 2 * (MAXF - 1));
	ck_assert_uint_eq(r.count[HC_SENDER_ORDER], 2 * (MAXF - 1));
	ck_assert_ptr_nonnull(strstr(r.text, "... and 22 more"));
	hc_report_free(&r);
	fake_free(f, 2);
}
END_TEST

static Suite *
history_check_suite(void)
{
	Suite *s = suite_create("history_check");
	TCase *ok = tcase_create("passes");
	TCase *bad = tcase_create("fails");

	tcase_add_test(ok, same_sequence_everywhere_passes);
	tcase_add_test(ok, late_joins_and_early_ends_pass);
	tcase_add_test(ok, groups_have_their_own_orders);
	tcase_add_test(ok, unordered_members_without_overlap_pass);
	tcase_add_test(bad, a_malformed_frame_fails);
	tcase_add_test(bad, a_message_of_another_group_fails);
	tcase_add_test(bad, a_duplicate_fails);
	tcase_add_test(bad, a_sender_out_of_order_fails);
	tcase_add_test(bad, a_hole_in_a_senders_stream_fails);
	tcase_add_test(bad, two_members_in_opposite_orders_fail);
	tcase_add_test(bad, a_cycle_among_three_fails);
	tcase_add_test(bad, a_silent_gap_fails);
	tcase_add_test(bad, a_gap_before_a_1013_still_fails);
	tcase_add_test(bad, an_open_member_missing_the_tail_fails);
	tcase_add_test(bad, a_delete_after_a_silent_tail_loss_fails);
	tcase_add_test(bad, open_members_ending_apart_fail);
	tcase_add_test(bad, an_unexpected_close_code_fails);
	tcase_add_test(bad, an_open_senders_lost_message_fails);
	tcase_add_test(bad, the_report_is_bounded);
	suite_add_tcase(s, ok);
	suite_add_tcase(s, bad);
	return s;
}

int
main(void)
{
	return test_run(history_check_suite());
}
