/*
 * it_isolation: issue 9 against the real server over loopback. One group's
 * trouble stays in that group: while forty members that never read (tiny
 * receive buffers) and a fast sender stall group "stuck", DELETE of it,
 * POST /create, GET /stats and a join and relay in another group each
 * answer within CONTROL_MS; the stalled members are gone within one
 * fan-out deadline. Shutdown with STOP_MEMBERS members that stopped
 * reading stays within 3 s. The error paths are forced through the fault
 * seam (fault.h): a writer that cannot start (1011, no stall for the
 * others), a group thread that cannot start (503). A join through an
 * escaped path (/%67roups/x) upgrades.
 *
 * Timed checks measure one request against a generous deadline, never
 * sleep: waits are conditions with deadlines (itest.h).
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "groupchat/config.h"
#include "groupchat/core/fault.h"
#include "support/itest.h"
#include "support/itest_fixture.h"
#include "support/itest_ws_extra.h"
#include "support/test_main.h"

/* Stalled members, the flood's message size, and the time any control
 * request may take while they stall (an idle server answers in a few ms;
 * before issue 9 a DELETE took seconds). */
#define STALLED 40
#define FLOOD_BYTES (30 * 1024)
#define CONTROL_MS 1000
/* One fan-out deadline (200 ms) plus scheduling slack. */
#define EVICT_MS 1500
#define STOP_MEMBERS 500
#define STOP_MS 3000

static int port;

struct flooder {
	struct it_ws *ws;
	atomic_int stop;
	atomic_long sent;
};

static void *
flood(void *arg)
{
	struct flooder *fl = arg;
	char *msg = malloc(FLOOD_BYTES + 1);

	if (msg == NULL)
		return NULL;
	memset(msg, 'x', FLOOD_BYTES);
	msg[FLOOD_BYTES] = '\0';
	while (!atomic_load(&fl->stop) && it_ws_send_text(fl->ws, msg) == 0)
		atomic_fetch_add(&fl->sent, 1);
	free(msg);
	return NULL;
}

/* The stall has begun: fan-out found a member full past its deadline. */
static int
stall_begun(void *arg)
{
	long long drops;

	(void)arg;
	return itx_stats_total(port, "slow_consumer_drops", &drops) == 0 && drops >= 1;
}

struct timed_delete {
	const char *id;
	int status;
	int64_t ms;
};

static void *
timed_delete(void *arg)
{
	struct timed_delete *d = arg;
	int64_t t0 = it_now_ms();

	d->status = itx_delete(port, d->id, NULL, 0);
	d->ms = it_now_ms() - t0;
	return NULL;
}

static int64_t
timed_request(const char *method, const char *target, int want)
{
	struct it_response r;
	int64_t t0 = it_now_ms();

	/* Before issue 9 these waited behind the stalled group for longer
	 * than it_request's 5 s timeout. */
	ck_assert_msg(it_request(port, method, target, &r) == 0,
	    "%s %s: no answer within %d ms", method, target, IT_TIMEOUT_MS);
	ck_assert_int_eq(r.status, want);
	it_response_free(&r);
	return it_now_ms() - t0;
}

START_TEST(a_stalled_group_delays_no_control_request_and_delete_evicts_at_once)
{
	struct config cfg;
	struct itx_raw slow[STALLED];
	struct flooder fl = { .stop = 0, .sent = 0 };
	struct timed_delete del = { .id = "stuck", .status = -1, .ms = -1 };
	char *path = itx_group_path("stuck");
	struct it_ws *calm, *joined;
	pthread_t tf, td;
	int64_t t0, ms;
	int i;

	it_config(&cfg);
	cfg.send_queue = 8;
	port = itf_up(&cfg);
	ck_assert_int_eq(itx_create(port, "stuck"), 201);
	ck_assert_int_eq(itx_create(port, "calm"), 201);
	for (i = 0; i < STALLED; i++)
		ck_assert_msg(itx_raw_connect(&slow[i], port, path, 4096) == 0,
		    "stalled member %d not admitted", i);
	fl.ws = itf_join(port, "stuck");
	calm = itf_join(port, "calm");
	ck_assert_int_eq(itx_wait_total(port, "members", STALLED + 2, IT_TIMEOUT_MS, NULL), 0);
	ck_assert_int_eq(pthread_create(&tf, NULL, flood, &fl), 0);
	ck_assert_msg(it_wait_until(stall_begun, NULL, 4 * IT_TIMEOUT_MS),
	    "no member dropped after %ld messages", atomic_load(&fl.sent));

	ck_assert_int_eq(pthread_create(&td, NULL, timed_delete, &del), 0);
	ms = timed_request("POST", "/create?id=X1", 201);
	ck_assert_msg(ms < CONTROL_MS, "POST /create took %lld ms", (long long)ms);
	ms = timed_request("GET", "/stats", 200);
	ck_assert_msg(ms < CONTROL_MS, "GET /stats took %lld ms", (long long)ms);
	ms = timed_request("DELETE", "/groups/X1", 200);
	ck_assert_msg(ms < CONTROL_MS, "DELETE of another group took %lld ms", (long long)ms);
	t0 = it_now_ms();
	joined = itf_join(port, "calm");
	ck_assert_int_eq(it_ws_send_wait(joined, "still here", calm, NULL, CONTROL_MS), 0);
	ms = it_now_ms() - t0;
	ck_assert_msg(ms < CONTROL_MS, "a join and relay elsewhere took %lld ms", (long long)ms);
	pthread_join(td, NULL);
	ck_assert_int_eq(del.status, 200);
	ck_assert_msg(del.ms < CONTROL_MS, "DELETE of the stalled group took %lld ms",
	    (long long)del.ms);
	/* Only the two calm members are left in any group. */
	ck_assert_int_eq(itx_wait_total(port, "members", 2, EVICT_MS, NULL), 0);

	atomic_store(&fl.stop, 1);
	shutdown(it_ws_fd(fl.ws), SHUT_RDWR);
	pthread_join(tf, NULL);
	it_ws_free(fl.ws);
	for (i = 0; i < STALLED; i++)
		itx_raw_free(&slow[i]);
	ck_assert_int_eq(it_ws_close(joined), 0);
	ck_assert_int_eq(it_ws_close(calm), 0);
	free(path);
}
END_TEST

static struct itx_raw stop_members[STOP_MEMBERS];

START_TEST(shutdown_with_500_members_that_stopped_reading_takes_under_3_s)
{
	struct config cfg;
	struct it_ws *sender;
	char *path = itx_group_path("full");
	char *msg = malloc(FLOOD_BYTES + 1);
	int64_t t0, ms;
	int i;

	ck_assert_ptr_nonnull(msg);
	memset(msg, 'y', FLOOD_BYTES);
	msg[FLOOD_BYTES] = '\0';
	it_config(&cfg);
	cfg.max_clients = STOP_MEMBERS + 8;
	cfg.send_queue = 4;
	port = itf_up(&cfg);
	ck_assert_int_eq(itx_create(port, "full"), 201);
	for (i = 0; i < STOP_MEMBERS; i++)
		ck_assert_msg(itx_raw_connect(&stop_members[i], port, path, 4096) == 0,
		    "member %d not admitted", i);
	sender = itf_join(port, "full");
	ck_assert_int_eq(itx_wait_total(port, "members", STOP_MEMBERS + 1, 4 * IT_TIMEOUT_MS, NULL), 0);
	/* Enough to fill every socket and queue: the writers block in mg_write. */
	for (i = 0; i < 16; i++)
		ck_assert_int_eq(it_ws_send_text(sender, msg), 0);
	t0 = it_now_ms();
	itf_down();
	ms = it_now_ms() - t0;
	ck_assert_msg(ms < STOP_MS, "shutdown took %lld ms", (long long)ms);
	it_ws_free(sender);
	for (i = 0; i < STOP_MEMBERS; i++)
		itx_raw_free(&stop_members[i]);
	free(path);
	free(msg);
}
END_TEST

START_TEST(a_writer_that_cannot_start_closes_its_member_1011_and_stalls_nobody)
{
	struct config cfg;
	struct it_ws *a, *b, *doomed;
	struct it_response r;
	struct it_frame f;
	const char *why = "";
	long long n;

	it_config(&cfg);
	cfg.send_queue = 1;
	port = itf_up(&cfg);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	a = itf_join(port, "g");
	b = itf_join(port, "g");
	/* Both writers run (a ready handler follows the 101 it sends). */
	ck_assert_int_eq(it_ws_send_wait(a, "ready", b, NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_send_wait(b, "ready", a, NULL, IT_TIMEOUT_MS), 0);
	fault_arm(FAULT_WRITER_START, 1);
	doomed = itf_join(port, "g");
	ck_assert_int_eq(it_ws_recv(doomed, &f, IT_TIMEOUT_MS), IT_FRAME);
	ck_assert_int_eq(f.opcode, IT_OP_CLOSE);
	ck_assert_int_eq(it_frame_close_code(&f, &why), 1011);
	ck_assert_str_eq(why, "server overloaded");
	it_frame_free(&f);
	/* doomed never answers; two messages would fill its queue of 1. */
	ck_assert_int_eq(it_ws_send_wait(a, "one", b, NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_send_wait(a, "two", b, NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(itx_stats_total(port, "slow_consumer_drops", &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(itx_wait_total(port, "members", 2, IT_TIMEOUT_MS, NULL), 0);
	it_ws_free(doomed);
	ck_assert_int_eq(itx_wait_total(port, "members", 2, IT_TIMEOUT_MS, NULL), 0);
	r = itf_expect(port, "GET", "/stats", 200, NULL, 0);
	ck_assert_msg(strstr(r.body, "\"1011\":1") != NULL, "no 1011 counted: %s", r.body);
	it_response_free(&r);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_int_eq(it_ws_close(b), 0);
}
END_TEST

START_TEST(a_group_thread_that_cannot_start_answers_503)
{
	struct it_response r;
	struct it_ws *ws;

	port = itf_up(NULL);
	ck_assert_int_eq(itx_create(port, "g"), 201);
	fault_arm(FAULT_GROUP_START, 1);
	ws = it_ws_connect_resp(port, "/groups/g", NULL, &r);
	ck_assert_ptr_null(ws);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "server overloaded\n");
	it_response_free(&r);
	ck_assert_int_eq(itx_wait_total(port, "members", 0, IT_TIMEOUT_MS, NULL), 0);
	/* The next join starts the thread. */
	ws = itf_join(port, "g");
	ck_assert_int_eq(it_ws_send_wait(ws, "hi", ws, NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_close(ws), 0);
}
END_TEST

START_TEST(a_join_through_an_escaped_path_upgrades_as_in_go)
{
	struct it_ws *a, *b;

	port = itf_up(NULL);
	ck_assert_int_eq(itx_create(port, "x"), 201);
	a = it_ws_connect(port, "/%67roups/x", NULL, NULL);
	ck_assert_msg(a != NULL, "GET /%%67roups/x did not upgrade");
	b = it_ws_connect(port, "/groups/%78", NULL, NULL);
	ck_assert_msg(b != NULL, "GET /groups/%%78 did not upgrade");
	ck_assert_int_eq(it_ws_send_wait(a, "same group", b, NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_close(a), 0);
	ck_assert_int_eq(it_ws_close(b), 0);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("it_isolation");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, itf_down);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, a_stalled_group_delays_no_control_request_and_delete_evicts_at_once);
	tcase_add_test(tc, shutdown_with_500_members_that_stopped_reading_takes_under_3_s);
	tcase_add_test(tc, a_writer_that_cannot_start_closes_its_member_1011_and_stalls_nobody);
	tcase_add_test(tc, a_group_thread_that_cannot_start_answers_503);
	tcase_add_test(tc, a_join_through_an_escaped_path_upgrades_as_in_go);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
