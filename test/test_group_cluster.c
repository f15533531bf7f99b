/*
 * test_group_cluster: a cluster group's ordering against the fake Redis
 * (test/support/fake_redis): the baseline its first join reads, messages
 * fanned out in sequence order, duplicates and old numbers dropped, a gap
 * repaired from the history, a gap the history no longer covers closing
 * the members with 1013, another incarnation's messages ignored, and the
 * delete event closing everyone with 1000 once what was queued before it
 * went out, and a publish Redis refused for want of the group: 1013 for
 * the sender if the group is still there, left to the delete event if it
 * was deleted, and registered again if Redis lost it;
 * another epoch or a rewound baseline closing the members 1013 (a break
 * of continuity); a lost last message or delete found by the group's
 * tick; messages parked before the baseline sorted by incarnation; a
 * groupchat.v1 since ahead of the node caught up from the history, and
 * one past the history reset without closing anyone. The subscriber is played by
 * the test, which calls what the manager thread would (group_subscribed,
 * group_deliver). Waits are on conditions with deadlines.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/group.h"
#include "groupchat/actors/member.h"
#include "groupchat/cluster/redis_link.h"
#include "groupchat/cluster/redis_msg.h"
#include "groupchat/core/cid.h"
#include "groupchat/core/clock.h"
#include "groupchat/core/position.h"
#include "groupchat/core/thread_pool.h"
#include "support/fake_redis.h"
#include "support/fake_sink.h"
#include "support/test_main.h"

#define INC "0123456789abcdef0123456789abcdef"
#define OTHER "ffffffffffffffffffffffffffffffff"
#define EP "00000000000000e1"
#define EP2 "00000000000000e2"
/* A group's tick comes within a second (GROUP_TICK_MS, private to the
 * group actor), its resync within two round trips; a loaded or sanitized
 * machine gets slack: the bound of "about 2 s". */
#define TICK_REPAIR_MS 3000
/* A delete reaches the members within a second (protocol.md); a try of
 * the baseline under way may take the link's timeout (1 s) first. */
#define DELETE_BOUND_MS 2000

static struct fake_redis *fr;
static struct cluster *cl;
static struct cid_set *ids;
static struct thread_pool *writers;
static struct group *g;
static struct member *c;
static struct fake sink;
static const struct cluster_limits lim = { 100, { 100, 1 << 20 }, 1 << 20 };

/* The next baseline read answers incarnation inc ("" none), epoch ep,
 * sequence seq, and whether a tombstone says the group (INC) was deleted. */
static void
script_stand(const char *inc, const char *ep, unsigned seq, int gone)
{
	const char *ended = gone ? INC : "";
	char r[200];

	snprintf(r, sizeof(r),
	    "*5\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n:%u\r\n:%d\r\n$%zu\r\n%s\r\n",
	    strlen(inc), inc, strlen(ep), ep, seq, gone, strlen(ended), ended);
	fake_redis_reply(fr, r);
}

/* The group reads its baseline: incarnation inc in epoch EP, sequence seq. */
static void
script_baseline(const char *inc, unsigned seq)
{
	script_stand(inc, EP, seq, 0);
}

static void
setup(void)
{
	struct redis_connector conn;
	struct member_sink s;
	char inc[REDIS_INC_LEN + 1];

	ck_assert_ptr_nonnull(fr = fake_redis_new());
	conn = fake_redis_connector(fr);
	ck_assert_ptr_nonnull(cl = cluster_new_on(&conn, &lim));
	ck_assert_int_eq(cluster_start(cl, NULL), 0);
	ck_assert_ptr_nonnull(ids = cid_set_new());
	ck_assert_ptr_nonnull(writers = member_writer_pool_new(1));
	ck_assert_ptr_nonnull(g = group_new_cluster("g", 1, NULL, cl));
	fake_init(&sink);
	s = fake_sink(&sink);
	ck_assert_ptr_nonnull(c = member_new(ids, 64));
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
	script_baseline(INC, 5);
	group_subscribed(g);
	ck_assert_int_eq(group_attach(g, 5000, inc), 0);
	ck_assert_str_eq(inc, INC);
	ck_assert_int_eq(group_join(g, c), 0);
}

static void
teardown(void)
{
	group_leave(g, c);
	member_join_writer(c);
	member_unref(c);
	group_unref(g);
	fake_fini(&sink);
	thread_pool_free(writers);
	cid_set_free(ids);
	cluster_free(cl);
	fake_redis_free(fr);
}

/* Hands group gr what the subscriber would: "m <inc> <ep> <seq> t<text>". */
static int
deliver_to(struct group *gr, const char *inc, const char *ep, unsigned seq, const char *text)
{
	char payload[128];
	struct redis_msg msg;
	int n;

	n = snprintf(payload, sizeof(payload), "m %s %s %u t%s", inc, ep, seq, text);
	ck_assert_int_eq(redis_msg_parse(payload, (size_t)n, &msg), 0);
	return group_deliver(gr, &msg);
}

static int
deliver(const char *inc, unsigned seq, const char *text)
{
	return deliver_to(g, inc, EP, seq, text);
}

/* Hands the group the delete event of incarnation inc, last number last. */
static int
deliver_delete(const char *inc, unsigned last)
{
	struct redis_msg msg;
	char payload[64];
	int n;

	n = snprintf(payload, sizeof(payload), "d %s %u", inc, last);
	ck_assert_int_eq(redis_msg_parse(payload, (size_t)n, &msg), 0);
	return group_deliver(g, &msg);
}

static void
expect_text(size_t i, const char *text)
{
	size_t len;
	const char *p;

	ck_assert_uint_ge(fake_wait_frames(&sink, i + 1), i + 1);
	p = fake_text(&sink, i, &len);
	ck_assert_msg(len == strlen(text) && memcmp(p, text, len) == 0,
	    "frame %zu is %.*s, want %s", i, (int)len, p, text);
}

START_TEST(in_order_duplicates_and_old_dropped)
{
	ck_assert_int_eq(deliver(INC, 5, "old"), 0);    /* at the baseline */
	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	ck_assert_int_eq(deliver(INC, 6, "six again"), 0);
	ck_assert_int_eq(deliver(INC, 3, "older"), 0);
	ck_assert_int_eq(deliver(OTHER, 7, "other group"), 0);
	ck_assert_int_eq(deliver(INC, 7, "seven"), 0);
	expect_text(0, "six");
	expect_text(1, "seven");
	/* Nothing in between: the next frame is the next number. */
	ck_assert_int_eq(deliver(INC, 8, "eight"), 0);
	expect_text(2, "eight");
	ck_assert_uint_eq(fake_wait_frames(&sink, 3), 3);
	ck_assert_int_eq(fake_redis_count(fr, "XRANGE", NULL), 0);
}
END_TEST

START_TEST(gap_repaired_from_history)
{
	fake_redis_reply(fr, "*2\r\n"
	    "*2\r\n$3\r\n7-0\r\n*4\r\n$1\r\nf\r\n$6\r\ntseven\r\n$1\r\ne\r\n$16\r\n" EP "\r\n"
	    "*2\r\n$3\r\n8-0\r\n*4\r\n$1\r\nf\r\n$6\r\nteight\r\n$1\r\ne\r\n$16\r\n" EP "\r\n");
	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	ck_assert_int_eq(deliver(INC, 9, "nine"), 0);
	ck_assert_int_eq(deliver(INC, 10, "ten"), 0);
	expect_text(0, "six");
	expect_text(1, "seven");
	expect_text(2, "eight");
	expect_text(3, "nine");
	expect_text(4, "ten");
	ck_assert_int_eq(fake_redis_count(fr, "XRANGE", NULL), 1);
	{
		char cmd[128];
		int i, n = fake_redis_count(fr, NULL, NULL);
		for (i = 0; i < n; i++) {
			ck_assert_int_eq(fake_redis_command(fr, i, cmd, sizeof(cmd)), 0);
			if (strncmp(cmd, "XRANGE", 6) == 0)
				ck_assert_str_eq(cmd, "XRANGE gc:hist:g 7-0 8-0 COUNT 128");
		}
	}
	ck_assert_uint_eq(member_close_code(c), MEMBER_CLOSE_SILENT);
}
END_TEST

START_TEST(gap_gone_from_history_closes_1013)
{
	fake_redis_reply(fr, "*0\r\n");
	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	ck_assert_int_eq(deliver(INC, 9, "nine"), 0);
	expect_text(0, "six");
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, CLUSTER_RETRY_CODE);
	ck_assert_str_eq(sink.reason, CLUSTER_RETRY_REASON);
	/* Six was fanned out; nine never reached the closed member. */
	ck_assert_uint_eq(sink.nframes, 1);
}
END_TEST

START_TEST(delete_event_closes_1000)
{
	ck_assert_int_eq(deliver_delete(OTHER, 5), 0);  /* not ours */
	ck_assert_int_eq(deliver_delete(INC, 5), 1);
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, GROUP_DELETED_CODE);
	ck_assert_str_eq(sink.reason, GROUP_DELETED_REASON);
	ck_assert(group_closed(g));
}
END_TEST

/* The delete event says the group's last number was 8; this node fanned
 * out 6 (7 and 8 were lost on the way, and the history went with the
 * group): its member missed something for good, so 1013, not 1000. */
START_TEST(delete_after_missed_messages_closes_1013)
{
	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	expect_text(0, "six");
	ck_assert_int_eq(deliver_delete(INC, 8), 1);
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, CLUSTER_RETRY_CODE);
	ck_assert(group_closed(g));
}
END_TEST

/* The same found by a resync: the tombstone says 8. */
START_TEST(tombstone_after_missed_messages_closes_1013)
{
	script_stand("", "", 8, 1);
	ck_assert_int_eq(group_resync(g, false), 1);
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, CLUSTER_RETRY_CODE);
	ck_assert(group_closed(g));
}
END_TEST

/* Redis ran the member's publish but found no group; the group is still
 * there (registered again by another node meanwhile): 1013, and the
 * group goes on. */
START_TEST(refused_publish_group_still_there_closes_sender_1013)
{
	script_baseline(INC, 5);
	member_ref(c);
	group_refused(g, c);
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, CLUSTER_RETRY_CODE);
	ck_assert(!group_closed(g));
}
END_TEST

/* Redis lost the group (no incarnation, no tombstone: a restart or a
 * flush, not a delete): the group registers it again and goes on, so a
 * group with members never vanishes; the sender gets 1013. */
START_TEST(refused_publish_group_lost_registers_again)
{
	script_stand("", "", 0, 0);
	fake_redis_reply(fr, ":1\r\n");
	script_stand(INC, EP2, 5, 0);
	member_ref(c);
	group_refused(g, c);
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, CLUSTER_RETRY_CODE);
	ck_assert(!group_closed(g));
	ck_assert_int_eq(fake_redis_count(fr, "EVALSHA", NULL), 4); /* baseline x3, reregister */
}
END_TEST

/* A message of another epoch: Redis lost or rewound the group's data
 * meanwhile, so what the member saw and what comes are not one history:
 * 1013, and the group goes on in the new epoch. */
START_TEST(another_epoch_closes_1013)
{
	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	ck_assert_int_eq(deliver_to(g, INC, EP2, 4, "four, again"), 0);
	expect_text(0, "six");
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, CLUSTER_RETRY_CODE);
	ck_assert_uint_eq(sink.nframes, 1);
	ck_assert(!group_closed(g));
}
END_TEST

/* A resync whose baseline is below what was fanned out (a restart from
 * a snapshot, seen before any new message): 1013. */
START_TEST(rewound_baseline_closes_1013)
{
	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	expect_text(0, "six");
	script_stand(INC, EP2, 3, 0);
	ck_assert_int_eq(group_resync(g, false), 1);
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, CLUSTER_RETRY_CODE);
	ck_assert(!group_closed(g));
}
END_TEST

/* The last message of a burst lost inside the node (the manager could
 * not take it) with nothing after it: the group's tick resyncs within
 * GROUP_TICK_MS and repairs it from the history. */
START_TEST(lost_tail_repaired_at_the_tick)
{
	int64_t t0;

	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	expect_text(0, "six");
	script_baseline(INC, 7);
	fake_redis_reply(fr, "*1\r\n"
	    "*2\r\n$3\r\n7-0\r\n*4\r\n$1\r\nf\r\n$6\r\ntseven\r\n$1\r\ne\r\n$16\r\n" EP "\r\n");
	t0 = clock_now_ms();
	cluster_note_lost(cl);
	expect_text(1, "seven");
	ck_assert_int_le(clock_now_ms() - t0, TICK_REPAIR_MS);
	ck_assert_uint_eq(member_close_code(c), MEMBER_CLOSE_SILENT);
}
END_TEST

/* A delete event lost inside the node: the tick's resync finds the
 * tombstone and closes everyone 1000, so the group does not stay ready. */
START_TEST(lost_delete_found_at_the_tick)
{
	script_stand("", "", 0, 1);
	cluster_note_lost(cl);
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, GROUP_DELETED_CODE);
	ck_assert(group_closed(g));
}
END_TEST

/* A delete while the group thread retries its baseline (Redis not
 * answering): the members get 1000 within about a second, not after the
 * 5 s of retries, and not 1013. */
START_TEST(delete_during_baseline_retries_is_prompt)
{
	int64_t t0;

	ck_assert_int_eq(group_resync(g, false), 1);
	ck_assert(fake_redis_wait(fr, "EVALSHA", 2, 5000));     /* the resync's first try */
	t0 = clock_now_ms();
	ck_assert_int_eq(deliver_delete(INC, 5), 1);
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_int_le(clock_now_ms() - t0, DELETE_BOUND_MS);
	ck_assert_uint_eq(sink.code, GROUP_DELETED_CODE);
}
END_TEST

/*
 * The member's publish was refused because the group was deleted, and
 * the refusal came before the last messages sent ahead of the delete
 * (the tombstone says 8; this node fanned out 5). The delete event
 * follows them on the subscription and judges: everyone, the sender
 * included, gets six to eight and then 1000, not 1013 on the refusal.
 */
START_TEST(refused_publish_group_deleted_waits_for_its_event)
{
	script_stand("", "", 8, 1);
	member_ref(c);
	group_refused(g, c);
	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	ck_assert_int_eq(deliver(INC, 7, "seven"), 0);
	ck_assert_int_eq(deliver(INC, 8, "eight"), 0);
	ck_assert_int_eq(deliver_delete(INC, 8), 1);
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, GROUP_DELETED_CODE);
	ck_assert_str_eq(sink.reason, GROUP_DELETED_REASON);
	ck_assert_uint_eq(sink.nframes, 3);
	expect_text(0, "six");
	expect_text(2, "eight");
	ck_assert(group_closed(g));
}
END_TEST

/*
 * A join's claim found another incarnation in Redis and no delete event
 * came: Redis lost the group (no tombstone) and another node created the
 * id again. The group's check finds it gone and closes its member 1000,
 * so that the join can take the new group.
 */
START_TEST(recheck_finds_the_group_lost_and_created_again)
{
	script_stand(OTHER, EP, 0, 0);
	group_recheck(g);
	ck_assert_uint_eq(fake_wait_closed(&sink), 1);
	ck_assert_uint_eq(sink.code, GROUP_DELETED_CODE);
	ck_assert(group_closed(g));
}
END_TEST

/*
 * More messages than the group thread takes in one batch are queued
 * when the delete event closes the group (the thread was held up in a
 * resync Redis does not answer): all came before the delete, so all go
 * out, and then 1000, not 1013 for the ones still queued.
 */
#define QUEUED_AT_DELETE 100

START_TEST(delete_with_messages_still_queued_fans_them_out_first)
{
	struct member_sink s;
	struct fake big;
	struct member *c2;
	char text[16];

	fake_init(&big);
	s = fake_sink(&big);
	ck_assert_ptr_nonnull(c2 = member_new(ids, 4 * QUEUED_AT_DELETE));
	ck_assert_int_eq(member_start_writer(c2, writers, &s), 0);
	ck_assert_int_eq(group_join(g, c2), 0);
	ck_assert_int_eq(group_resync(g, false), 1);
	ck_assert(fake_redis_wait(fr, "EVALSHA", 2, 5000));     /* held up */
	for (unsigned i = 0; i < QUEUED_AT_DELETE; i++) {
		snprintf(text, sizeof(text), "m%u", 6 + i);
		ck_assert_int_eq(deliver(INC, 6 + i, text), 0);
	}
	ck_assert_int_eq(deliver_delete(INC, 5 + QUEUED_AT_DELETE), 1);
	ck_assert_uint_eq(fake_wait_closed(&big), 1);
	ck_assert_uint_eq(big.code, GROUP_DELETED_CODE);
	ck_assert_uint_eq(big.nframes, QUEUED_AT_DELETE);
	member_join_writer(c2);
	member_unref(c2);
	fake_fini(&big);
}
END_TEST

/* The fixture without the group's first join. */
static void
setup_bare(void)
{
	struct redis_connector conn;
	struct member_sink s;

	ck_assert_ptr_nonnull(fr = fake_redis_new());
	conn = fake_redis_connector(fr);
	ck_assert_ptr_nonnull(cl = cluster_new_on(&conn, &lim));
	ck_assert_int_eq(cluster_start(cl, NULL), 0);
	ck_assert_ptr_nonnull(ids = cid_set_new());
	ck_assert_ptr_nonnull(writers = member_writer_pool_new(1));
	ck_assert_ptr_nonnull(g = group_new_cluster("g", 1, NULL, cl));
	fake_init(&sink);
	s = fake_sink(&sink);
	ck_assert_ptr_nonnull(c = member_new(ids, 64));
	ck_assert_int_eq(member_start_writer(c, writers, &s), 0);
}

static void
teardown_bare(void)
{
	teardown();
}

/*
 * Messages that come between the subscription and the baseline are
 * parked; those of another incarnation (deleted and created again
 * meanwhile) must not move the group's number: the new group's first
 * message is fanned out, and no history read chases the old numbers.
 */
START_TEST(parked_before_baseline_filtered)
{
	char inc[REDIS_INC_LEN + 1];

	group_subscribed(g);
	ck_assert_int_eq(deliver_to(g, OTHER, EP, 40, "old group"), 0);
	ck_assert_int_eq(deliver_to(g, INC, EP2, 3, "an older epoch"), 0);
	script_baseline(INC, 5);
	ck_assert_int_eq(group_attach(g, 5000, inc), 0);
	ck_assert_int_eq(group_join(g, c), 0);
	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	expect_text(0, "six");
	ck_assert_int_eq(fake_redis_count(fr, "XRANGE", NULL), 0);
	ck_assert_uint_eq(member_close_code(c), MEMBER_CLOSE_SILENT);
}
END_TEST

/* A groupchat.v1 member joining with since (epoch EP) on the group, with
 * its own sink f; its status frame is frame 0 of f. */
static struct member *
v1_join_since(struct fake *f, uint64_t offset)
{
	struct position since = { 0xe1, offset };
	struct member_sink s;
	struct member *v;

	fake_init(f);
	s = fake_sink(f);
	ck_assert_ptr_nonnull(v = member_new(ids, 64));
	member_set_v1(v);
	ck_assert_int_eq(member_start_writer(v, writers, &s), 0);
	ck_assert_int_eq(group_join_since(g, v, &since), 0);
	return v;
}

static void
v1_end(struct member *v, struct fake *f)
{
	group_leave(g, v);
	member_join_writer(v);
	member_unref(v);
	fake_fini(f);
}

static void
expect_on(struct fake *f, size_t i, const char *text)
{
	size_t len;
	const char *p;

	ck_assert_uint_ge(fake_wait_frames(f, i + 1), i + 1);
	p = fake_text(f, i, &len);
	ck_assert_msg(len == strlen(text) && memcmp(p, text, len) == 0,
	    "frame %zu is %.*s, want %s", i, (int)len, p, text);
}

/* A v1 member resumes with since 7 on this node, which fanned out 5 (it
 * missed 6 and 7, and nothing revealed it yet): the node reads 6..7 from
 * the history and fans them out first, so the member gets "ok" at 7 and
 * nothing replayed, the plain member six and seven once, and then both
 * the live eight; the late copies of 6 and 7 are dropped. */
START_TEST(since_ahead_caught_up_from_history)
{
	struct fake f;
	struct member *v;
	char cmd[128];
	int i, n;

	fake_redis_reply(fr, "*2\r\n"
	    "*2\r\n$3\r\n6-0\r\n*4\r\n$1\r\nf\r\n$4\r\ntsix\r\n$1\r\ne\r\n$16\r\n" EP "\r\n"
	    "*2\r\n$3\r\n7-0\r\n*4\r\n$1\r\nf\r\n$6\r\ntseven\r\n$1\r\ne\r\n$16\r\n" EP "\r\n");
	v = v1_join_since(&f, 7);
	expect_on(&f, 0, "ok " EP ":7");
	expect_text(0, "six");
	expect_text(1, "seven");
	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	ck_assert_int_eq(deliver(INC, 7, "seven"), 0);
	ck_assert_int_eq(deliver(INC, 8, "eight"), 0);
	expect_text(2, "eight");
	expect_on(&f, 1, EP ":8\neight");
	ck_assert_uint_eq(fake_wait_frames(&sink, 3), 3);
	ck_assert_uint_eq(fake_wait_frames(&f, 2), 2);
	n = fake_redis_count(fr, NULL, NULL);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(fake_redis_command(fr, i, cmd, sizeof(cmd)), 0);
		if (strncmp(cmd, "XRANGE", 6) == 0)
			ck_assert_str_eq(cmd, "XRANGE gc:hist:g 6-0 7-0 COUNT 128");
	}
	ck_assert_int_eq(fake_redis_count(fr, "XRANGE", NULL), 1);
	v1_end(v, &f);
}
END_TEST

/* A since past what the history holds (the group's last number is 5):
 * reset at 5, and nobody is closed, since nothing was missed. */
START_TEST(since_past_the_history_resets)
{
	struct fake f;
	struct member *v;

	fake_redis_reply(fr, "*0\r\n");
	v = v1_join_since(&f, 9);
	expect_on(&f, 0, "reset " EP ":5");
	ck_assert_int_eq(deliver(INC, 6, "six"), 0);
	expect_text(0, "six");
	expect_on(&f, 1, EP ":6\nsix");
	ck_assert_uint_eq(member_close_code(c), MEMBER_CLOSE_SILENT);
	ck_assert_uint_eq(member_close_code(v), MEMBER_CLOSE_SILENT);
	ck_assert_int_eq(fake_redis_count(fr, "XRANGE", NULL), 1);
	v1_end(v, &f);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("group_cluster");
	TCase *tc = tcase_create("order");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, in_order_duplicates_and_old_dropped);
	tcase_add_test(tc, gap_repaired_from_history);
	tcase_add_test(tc, gap_gone_from_history_closes_1013);
	tcase_add_test(tc, delete_event_closes_1000);
	tcase_add_test(tc, delete_after_missed_messages_closes_1013);
	tcase_add_test(tc, tombstone_after_missed_messages_closes_1013);
	tcase_add_test(tc, refused_publish_group_still_there_closes_sender_1013);
	tcase_add_test(tc, refused_publish_group_deleted_waits_for_its_event);
	tcase_add_test(tc, recheck_finds_the_group_lost_and_created_again);
	tcase_add_test(tc, refused_publish_group_lost_registers_again);
	tcase_add_test(tc, another_epoch_closes_1013);
	tcase_add_test(tc, rewound_baseline_closes_1013);
	tcase_add_test(tc, lost_tail_repaired_at_the_tick);
	tcase_add_test(tc, lost_delete_found_at_the_tick);
	tcase_add_test(tc, delete_during_baseline_retries_is_prompt);
	tcase_add_test(tc, delete_with_messages_still_queued_fans_them_out_first);
	tcase_add_test(tc, since_ahead_caught_up_from_history);
	tcase_add_test(tc, since_past_the_history_resets);
	suite_add_tcase(s, tc);
	tc = tcase_create("before the baseline");
	tcase_add_checked_fixture(tc, setup_bare, teardown_bare);
	tcase_add_test(tc, parked_before_baseline_filtered);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(suite());
}
