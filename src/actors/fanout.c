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
 */
#include "fanout.h"

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "groupchat/actors/group.h"
#include "groupchat/actors/member.h"
#include "groupchat/core/chan.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/stats.h"
#include "roster.h"

/* Writers whose wake is held back, at most, before they are woken. */
#define FANOUT_WAKES 64

struct fanout {
	struct frame *const *ms;
	struct frame *const *vs;        /* groupchat.v1's spelling, or NULL */
	size_t k;
	size_t nv;                      /* members that took vs */
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

/* The spelling of the run member c takes. */
static struct frame *const *
fanout_frames(const struct fanout *f, const struct member *c)
{
	return f->vs != NULL && member_v1(c) ? f->vs : f->ms;
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

	if (ms == f->vs)
		f->nv++;
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
	for (j = taken; j < f->k; j++)
		frame_unref(ms[j]);
	/* Out of the roster (and its count) before the close can be seen. */
	roster_remove_at(r, i);
	if (sent >= 0 && member_close(m, GROUP_SLOW_CODE, GROUP_SLOW_REASON) &&
	    st != NULL)
		stats_add(st, slow_drops, 1);
	member_unref(m);
}

/*
 * With two spellings, each frame of both takes a reference per member up
 * front (a member may take its run and be done with it before the pass
 * ends), and the pass gives back at the end, in one step per frame, those
 * of the spelling each member did not take.
 */
size_t
fanout_run(struct roster *r, struct frame *const *ms, struct frame *const *vs,
    size_t k, struct stats *st)
{
	struct fanout f = { .ms = ms, .vs = vs, .k = k };
	size_t i = 0, j, n = r->n, run_bytes = 0, v_bytes = 0;
	ssize_t sent;

	for (j = 0; j < k; j++) {
		frame_ref_n(ms[j], n);
		run_bytes += frame_len(ms[j]);
		if (vs != NULL) {
			frame_ref_n(vs[j], n);
			v_bytes += frame_len(vs[j]);
		}
	}
	while (i < r->n) {
		sent = fanout_member(&f, r->members[i]);
		if (sent == (ssize_t)k) {
			f.frames += k;
			f.bytes += fanout_frames(&f, r->members[i]) == vs ?
			    v_bytes : run_bytes;
			i++;
		} else {
			/* The last member moves into slot i: look at i again. */
			fanout_drop(&f, r, i, sent, st);
		}
	}
	fanout_wake(&f);
	for (j = 0; vs != NULL && j < k; j++) {
		frame_unref_n(ms[j], f.nv);
		frame_unref_n(vs[j], n - f.nv);
	}
	if (st != NULL) {
		stats_add(st, msgs_out, f.frames);
		stats_add(st, bytes_out, f.bytes);
	}
	return f.frames;
}
