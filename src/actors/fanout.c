/*
 * fanout: a run of broadcasts to every member, with one deadline per run
 * for the members that are full (see fanout.h for the contract and
 * docs/design.md, invariant 3, for why 200 ms).
 *
 * Who touches what: everything here runs on the group thread, which
 * owns the roster; the only shared things it touches are the members'
 * send queues (through member_enqueue_*, which lock them), the frames'
 * reference counts (atomics) and the stats (atomics).
 *
 * Why a wait at all: on a busy machine a burst fills a queue before its
 * writer has had a CPU; not waiting would drop fast readers too. Why one
 * deadline per run, set at the first full member: any number of readers
 * that stop reading then cost the run one wait, not one each. Once it
 * has passed, each further full member gets one more try only.
 *
 * Why the writers are woken after the pass: a writer woken while the
 * group still queues to the others runs at once and takes a run of one;
 * woken at the end of the pass (up to FANOUT_WAKES at a time), outside
 * every queue's lock, it neither collides with the group on its queue's
 * mutex nor leaves the frames that arrive meanwhile for another wake.
 * The woken members stay in the roster until then, which holds them.
 *
 * Why the groupchat.v1 spelling is made at the first v1 member, not up
 * front: a group with none (every Go-era client) pays nothing for it.
 */
#include "fanout.h"

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "groupchat/actors/group.h"
#include "groupchat/actors/member.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/position.h"
#include "groupchat/core/stats.h"
#include "roster.h"

/* Writers whose wake is held back, at most, before they are woken. */
#define FANOUT_WAKES 64

/* A v1 member the run's spelling could not be made for is closed so. */
#define FANOUT_NOMEM_CODE 1011
#define FANOUT_NOMEM_REASON "out of memory"

struct fanout {
	struct frame *const *ms;
	size_t k, n;                    /* the run; members at the start */
	const struct position *first;   /* ms[0]'s position, or NULL */
	struct frame *vs[FANOUT_RUN_MAX]; /* the run spelled for groupchat.v1 */
	bool spelled, unspellable;
	size_t done;                    /* members handled so far */
	size_t nv;                      /* v1 members handled */
	size_t vrefs;                   /* references each vs took for members */
	size_t nv_spelled;              /* v1 members that took vs */
	struct timespec deadline;
	bool waited;            /* deadline is set */
	size_t frames, bytes;   /* queued so far, over all members */
	struct member *wake[FANOUT_WAKES]; /* took the whole run, writer asleep */
	size_t nwake;
};

/* Wakes the writers held back. */
static void
fanout_wake(struct fanout *f)
{
	size_t i;

	for (i = 0; i < f->nwake; i++)
		member_wake(f->wake[i]);
	f->nwake = 0;
}

/*
 * Spells the run for groupchat.v1, each frame with a reference for every
 * member not handled yet (those before were not v1). 0, or -1 when a
 * frame cannot be made (and no v1 member of this run will get it).
 */
static int
fanout_spell(struct fanout *f)
{
	struct position p = *f->first;
	size_t j;

	for (j = 0; j < f->k; j++, p.offset++)
		if ((f->vs[j] = position_stamp(&p, f->ms[j])) == NULL)
			break;
	if (j < f->k) {
		while (j > 0)
			frame_unref(f->vs[--j]);
		f->unspellable = true;
		return -1;
	}
	f->spelled = true;
	f->vrefs = f->n - f->done;
	for (j = 0; j < f->k; j++)
		frame_ref_n(f->vs[j], f->vrefs);
	return 0;
}

/* The spelling of the run member c takes: ms, or vs for a v1 member, or
 * NULL for a v1 member the run could not be spelled for. */
static struct frame *const *
fanout_frames(struct fanout *f, const struct member *c)
{
	if (f->first == NULL || !member_v1(c))
		return f->ms;
	if (!f->spelled && (f->unspellable || fanout_spell(f) == -1))
		return NULL;
	return f->vs;
}

/*
 * Queues the run to c: at once what fits, then, if c is full, waiting
 * for room until the run's deadline. Hands over one reference per frame
 * queued. Returns how many were queued, or -1 if c is closed.
 */
static ssize_t
fanout_member(struct fanout *f, struct member *c)
{
	struct frame *const *ms = fanout_frames(f, c);
	ssize_t sent, more;
	bool wake;

	if (ms != f->ms)
		f->nv++;
	if (ms == NULL) {
		member_close(c, FANOUT_NOMEM_CODE, FANOUT_NOMEM_REASON);
		return -1;
	}
	if (ms == f->vs)
		f->nv_spelled++;
	sent = member_enqueue_many(c, ms, f->k, &wake);
	if (wake && sent == (ssize_t)f->k) {
		if (f->nwake == FANOUT_WAKES)
			fanout_wake(f);
		f->wake[f->nwake++] = c;
	} else if (wake)
		member_wake(c); /* it may be dropped below */
	if (sent >= 0 && (size_t)sent < f->k) {
		if (!f->waited) {
			chan_deadline(&f->deadline, GROUP_SLOW_WAIT_MS);
			f->waited = true;
		}
		more = member_enqueue_wait(c, ms + sent, f->k - (size_t)sent,
		    &f->deadline);
		sent += more > 0 ? more : 0;
	}
	return sent;
}

/*
 * Members[i] took only taken frames of the run (or was closed, sent -1):
 * counts what it took, gives back the references of the rest, closes it
 * as a slow consumer unless it was closed already, and removes it.
 */
static void
fanout_drop(struct fanout *f, struct roster *r, size_t i, ssize_t sent,
    struct stats *st)
{
	size_t taken = sent > 0 ? (size_t)sent : 0, j;
	struct member *m = member_ref(r->members[i]);
	struct frame *const *ms = fanout_frames(f, m);

	for (j = 0; j < taken; j++)
		f->bytes += frame_len(ms[j]);
	f->frames += taken;
	for (j = taken; ms != NULL && j < f->k; j++)
		frame_unref(ms[j]);
	/* Out of the roster (and its count) before the close can be seen. */
	roster_remove_at(r, i);
	if (sent >= 0 && member_close(m, GROUP_SLOW_CODE, GROUP_SLOW_REASON) &&
	    st != NULL)
		stats_add(st, slow_drops, 1);
	member_unref(m);
}

/*
 * Each frame of ms takes a reference per member up front (a member may
 * take its run and be done with it before the pass ends); the v1
 * spelling, made at the first v1 member, one per member left then. The
 * pass gives back at the end, in one step per frame, those of the
 * spelling each member did not take.
 */
size_t
fanout_run(struct roster *r, struct frame *const *ms, size_t k,
    const struct position *first, struct stats *st)
{
	struct fanout f = { .ms = ms, .k = k, .n = r->n, .first = first };
	size_t i = 0, j, run_bytes = 0, v_bytes = 0;
	struct frame *const *took;
	ssize_t sent;

	for (j = 0; j < k; j++) {
		frame_ref_n(ms[j], f.n);
		run_bytes += frame_len(ms[j]);
	}
	while (i < r->n) {
		sent = fanout_member(&f, r->members[i]);
		if (sent == (ssize_t)k) {
			took = fanout_frames(&f, r->members[i]);
			if (took == f.vs && v_bytes == 0)
				for (j = 0; j < k; j++)
					v_bytes += frame_len(f.vs[j]);
			f.frames += k;
			f.bytes += took == f.vs ? v_bytes : run_bytes;
			i++;
		} else {
			/* The last member moves into slot i: look at i again. */
			fanout_drop(&f, r, i, sent, st);
		}
		f.done++;
	}
	fanout_wake(&f);
	for (j = 0; j < k; j++) {
		frame_unref_n(ms[j], f.nv);
		if (f.spelled)
			frame_unref_n(f.vs[j], f.vrefs - f.nv_spelled + 1);
	}
	if (st != NULL) {
		stats_add(st, msgs_out, f.frames);
		stats_add(st, bytes_out, f.bytes);
	}
	return f.frames;
}
