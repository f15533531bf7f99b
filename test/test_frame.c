/*
 * test_frame: frame bytes checked byte for byte against RFC 6455 section 5.2,
 * and the reference count hammered from several threads (ASan reports a
 * double free or a leak if the count is wrong).
 */
#include "groupchat/core/frame.h"
#include "support/test_main.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_header_boundaries)
{
	uint8_t h[FRAME_HEADER_MAX];
	static const uint8_t h0[] = { 0x81, 0x00 };
	static const uint8_t h125[] = { 0x81, 0x7d };
	static const uint8_t h126[] = { 0x81, 0x7e, 0x00, 0x7e };
	static const uint8_t h65535[] = { 0x82, 0x7e, 0xff, 0xff };
	static const uint8_t h65536[] = {
		0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00
	};
	static const uint8_t hbig[] = {
		0x81, 0x7f, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef
	};

	ck_assert_uint_eq(frame_header(h, FRAME_TEXT, 0), 2);
	ck_assert_mem_eq(h, h0, sizeof(h0));
	ck_assert_uint_eq(frame_header(h, FRAME_TEXT, 125), 2);
	ck_assert_mem_eq(h, h125, sizeof(h125));
	ck_assert_uint_eq(frame_header(h, FRAME_TEXT, 126), 4);
	ck_assert_mem_eq(h, h126, sizeof(h126));
	ck_assert_uint_eq(frame_header(h, FRAME_BINARY, 65535), 4);
	ck_assert_mem_eq(h, h65535, sizeof(h65535));
	ck_assert_uint_eq(frame_header(h, FRAME_BINARY, 65536), 10);
	ck_assert_mem_eq(h, h65536, sizeof(h65536));
	ck_assert_uint_eq(frame_header(h, FRAME_TEXT, UINT64_C(0x0123456789abcdef)), 10);
	ck_assert_mem_eq(h, hbig, sizeof(hbig));
}
END_TEST

START_TEST(test_opcodes)
{
	uint8_t h[FRAME_HEADER_MAX];

	frame_header(h, FRAME_CLOSE, 2);
	ck_assert_uint_eq(h[0], 0x88);
	frame_header(h, FRAME_PING, 0);
	ck_assert_uint_eq(h[0], 0x89);
	frame_header(h, FRAME_PONG, 0);
	ck_assert_uint_eq(h[0], 0x8a);
	ck_assert_uint_eq(h[1], 0x00);
}
END_TEST

START_TEST(test_concat)
{
	struct frame *m = frame_new(FRAME_TEXT, "a1b2c3 - ", 9, "hello", 5);
	static const uint8_t want[] = "\x81\x0e" "a1b2c3 - hello";

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(frame_len(m), 16);
	ck_assert_uint_eq(frame_payload_len(m), 14);
	ck_assert_mem_eq(frame_data(m), want, 16);
	frame_unref(m);
}
END_TEST

START_TEST(test_empty_parts)
{
	struct frame *m;
	static const uint8_t empty[] = { 0x81, 0x00 };

	m = frame_new(FRAME_TEXT, NULL, 0, NULL, 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(frame_len(m), 2);
	ck_assert_uint_eq(frame_payload_len(m), 0);
	ck_assert_mem_eq(frame_data(m), empty, 2);
	frame_unref(m);

	/* An empty message body still carries its "<cid> - " prefix. */
	m = frame_new(FRAME_TEXT, "abcdef - ", 9, NULL, 0);
	ck_assert_uint_eq(frame_payload_len(m), 9);
	ck_assert_mem_eq(frame_data(m), "\x81\x09" "abcdef - ", 11);
	frame_unref(m);

	m = frame_new(FRAME_BINARY, NULL, 0, "\x00\xff", 2);
	ck_assert_uint_eq(frame_len(m), 4);
	ck_assert_mem_eq(frame_data(m), "\x82\x02\x00\xff", 4);
	frame_unref(m);

	frame_unref(NULL);
}
END_TEST

/* Payloads around the length-encoding switches, split unevenly in two. */
START_TEST(test_long_payloads)
{
	static const size_t sizes[] = { 125, 126, 65535, 65536, 70000 };
	size_t i, j, n, hlen;
	uint8_t *src;
	struct frame *m;

	src = malloc(70000);
	ck_assert_ptr_nonnull(src);
	for (j = 0; j < 70000; j++)
		src[j] = (uint8_t)(j * 7 + 3);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = sizes[i];
		hlen = n <= 125 ? 2 : n <= 65535 ? 4 : 10;
		m = frame_new(FRAME_BINARY, src, n / 3, src + n / 3, n - n / 3);
		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(frame_len(m), hlen + n);
		ck_assert_uint_eq(frame_payload_len(m), n);
		ck_assert_uint_eq(frame_data(m)[0], 0x82);
		ck_assert_int_eq(memcmp(frame_data(m) + hlen, src, n), 0);
		frame_unref(m);
	}
	free(src);
}
END_TEST

START_TEST(test_close_frames)
{
	uint8_t f[FRAME_CLOSE_MAX];
	static const uint8_t deleted[] = "\x88\x0f\x03\xe8" "group deleted";

	ck_assert_uint_eq(frame_build_close(f, 1000, "group deleted"), 17);
	ck_assert_mem_eq(f, deleted, 17);

	ck_assert_uint_eq(frame_build_close(f, 1008, "slow consumer"), 17);
	ck_assert_mem_eq(f, "\x88\x0f\x03\xf0" "slow consumer", 17);

	ck_assert_uint_eq(frame_build_close(f, 1001, ""), 4);
	ck_assert_mem_eq(f, "\x88\x02\x03\xe9", 4);

	ck_assert_uint_eq(frame_build_close(f, 4000, NULL), 4);
	ck_assert_mem_eq(f, "\x88\x02\x0f\xa0", 4);

	/* Code 0: no status at all, whatever the reason. */
	ck_assert_uint_eq(frame_build_close(f, 0, "ignored"), 2);
	ck_assert_mem_eq(f, "\x88\x00", 2);
}
END_TEST

/* The payload length of a close frame whose reason is fill bytes of 'x'
 * then tail; f receives the frame. */
static size_t
close_with(uint8_t f[FRAME_CLOSE_MAX], size_t fill, const char *tail)
{
	char reason[300];
	size_t len;

	memset(reason, 'x', fill);
	strcpy(reason + fill, tail);
	len = frame_build_close(f, 1000, reason);
	ck_assert_uint_le(len, FRAME_CLOSE_MAX);
	ck_assert_uint_eq(f[1], len - 2);
	ck_assert_int_eq(memcmp(f + 4, reason, len - 4), 0);
	return len - 2;
}

START_TEST(test_close_truncation)
{
	uint8_t f[FRAME_CLOSE_MAX];

	/* Exactly 123 fits; 124 and 200 are cut to 123 (a 125-byte payload). */
	ck_assert_uint_eq(close_with(f, 123, ""), 125);
	ck_assert_uint_eq(close_with(f, 124, ""), 125);
	ck_assert_uint_eq(close_with(f, 200, ""), 125);

	/* A sequence that straddles byte 123 is dropped whole. */
	ck_assert_uint_eq(close_with(f, 122, "\xc3\xa9"), 2 + 122);         /* e-acute: 2 bytes */
	ck_assert_uint_eq(close_with(f, 121, "\xe2\x82\xac"), 2 + 121);     /* euro sign: 3 bytes */
	ck_assert_uint_eq(close_with(f, 122, "\xe2\x82\xac"), 2 + 122);
	ck_assert_uint_eq(close_with(f, 120, "\xf0\x9f\x98\x80"), 2 + 120); /* emoji: 4 bytes */

	/* One that ends exactly at 123 is kept. */
	ck_assert_uint_eq(close_with(f, 119, "\xf0\x9f\x98\x80" "tail"), 2 + 123);
	ck_assert_mem_eq(f + 4 + 119, "\xf0\x9f\x98\x80", 4);
	ck_assert_uint_eq(close_with(f, 121, "\xc3\xa9" "tail"), 2 + 123);
}
END_TEST

/*
 * Eight threads take and drop references while reading the bytes; each
 * was handed one reference and drops it last. The creator drops its own
 * midway, so whichever thread finishes last frees the frame.
 */
#define NTHREADS 8
#define ROUNDS 20000

static int ref_ok; /* returned by a thread that saw the bytes intact */

static void *
ref_main(void *arg)
{
	struct frame *m = arg, *r;
	int i, ok = 1;

	for (i = 0; i < ROUNDS; i++) {
		r = frame_ref(m);
		if (r != m || frame_data(r)[0] != 0x81 || frame_data(r)[2] != 'p')
			ok = 0;
		frame_unref(r);
	}
	if (frame_payload_len(m) != 7 || memcmp(frame_data(m) + 2, "payload", 7) != 0)
		ok = 0;
	frame_unref(m);
	return ok ? &ref_ok : NULL;
}

START_TEST(test_refcount_threads)
{
	struct frame *m = frame_new(FRAME_TEXT, "pay", 3, "load", 4);
	pthread_t tid[NTHREADS];
	void *ret[NTHREADS];
	int i;

	ck_assert_ptr_nonnull(m);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&tid[i], NULL, ref_main,
		    frame_ref(m)), 0);
	frame_unref(m);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(tid[i], &ret[i]);
		ck_assert_msg(ret[i] == &ref_ok, "thread %d saw the frame change", i);
	}
}
END_TEST

/* frame_ref_n hands out n references at once, one per thread here. */
START_TEST(test_ref_n_threads)
{
	struct frame *m = frame_new(FRAME_TEXT, "pay", 3, "load", 4);
	pthread_t tid[NTHREADS];
	void *ret[NTHREADS];
	int i;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_eq(frame_ref_n(m, NTHREADS), m);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&tid[i], NULL, ref_main, m), 0);
	frame_unref(m);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(tid[i], &ret[i]);
		ck_assert_msg(ret[i] == &ref_ok, "thread %d saw the frame change", i);
	}
}
END_TEST

/* The payload and opcode read back; frame_unref_n gives back several
 * references at once and frees on the last (ASan sees a leak or a use
 * after free otherwise), and 0 is a no-op. */
START_TEST(test_payload_unref_n)
{
	struct frame *m = frame_new(FRAME_BINARY, "ab", 2, "cd", 2);

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(frame_opcode(m), FRAME_BINARY);
	ck_assert_mem_eq(frame_payload(m), "abcd", 4);
	frame_ref_n(m, 5);
	frame_unref_n(m, 0);
	frame_unref_n(m, 4);
	ck_assert_mem_eq(frame_payload(m), "abcd", 4);
	frame_unref_n(m, 2);
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_header_boundaries);
	tcase_add_test(tc, test_opcodes);
	tcase_add_test(tc, test_concat);
	tcase_add_test(tc, test_empty_parts);
	tcase_add_test(tc, test_long_payloads);
	tcase_add_test(tc, test_close_frames);
	tcase_add_test(tc, test_close_truncation);
	tcase_add_test(tc, test_refcount_threads);
	tcase_add_test(tc, test_ref_n_threads);
	tcase_add_test(tc, test_payload_unref_n);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(frame_suite());
}
