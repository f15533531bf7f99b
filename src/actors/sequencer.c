/*
 * sequencer: ordered delivery of a cluster group's messages, with gap
 * repair from the history (see sequencer.h for the contract and
 * docs/design.md, "Cluster mode", for the whole path).
 *
 * Who touches what: everything here but seq_msg_new runs on the group
 * thread, which owns the sequencer; seq_msg_new runs on the manager
 * thread and touches nothing shared. The shared things reached from here
 * are the group (through its thread-side calls in group_private.h and
 * group_close, which locks) and the command link (redis_cmd_*,
 * thread-safe).
 *
 * Why park and repair instead of waiting: the subscriber's hand-over is
 * a try_send, so a message lost on a full mailbox is a gap nothing else
 * would fill; the next number shows it, and the history holds it.
 */
#include "sequencer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupchat/actors/cluster.h"
#include "groupchat/actors/group.h"
#include "groupchat/actors/member.h"
#include "groupchat/cluster/redis_calls.h"
#include "groupchat/cluster/redis_cmd.h"
#include "groupchat/core/clock.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/log.h"
#include "group_private.h"

void
seq_init(struct sequencer *s, struct group *g, struct cluster *cl,
    const char *id, size_t id_len)
{
	memset(s, 0, sizeof(*s));
	s->g = g;
	s->cl = cl;
	s->id = id;
	s->id_len = id_len;
}

void
seq_fini(struct sequencer *s)
{
	while (s->nparked > 0)
		seq_msg_free(s->parked[--s->nparked]);
	free(s->parked);
	s->parked = NULL;
	s->parked_cap = 0;
}

/* A frame from the channel's form: a kind byte, then the bytes. */
static struct frame *
seq_frame(const char *frame, size_t flen)
{
	return frame_new(frame[0] == 'b' ? FRAME_BINARY : FRAME_TEXT, NULL, 0,
	    frame + 1, flen - 1);
}

struct seq_msg *
seq_msg_new(uint64_t seq, const char inc[REDIS_INC_LEN + 1],
    const char ep[REDIS_EP_LEN + 1], const char *frame, size_t flen)
{
	struct seq_msg *gm;

	if ((gm = malloc(sizeof(*gm))) == NULL)
		return NULL;
	gm->seq = seq;
	memcpy(gm->inc, inc, sizeof(gm->inc));
	memcpy(gm->ep, ep, sizeof(gm->ep));
	if ((gm->m = seq_frame(frame, flen)) == NULL) {
		free(gm);
		return NULL;
	}
	return gm;
}

void
seq_position(const struct sequencer *s, struct position *p)
{
	p->epoch = strtoull(s->ep, NULL, 16);
	p->offset = s->last;
}

/* What seq_history gathers: the next number expected, and whether every
 * entry so far was it, in the group's epoch. */
struct seq_gather {
	const struct sequencer *s;
	uint64_t next;
	struct frame **out;
	size_t n, max;
	bool broken;
};

static void
seq_gather_entry(void *arg, uint64_t seq, const char *ep, const char *frame, size_t flen)
{
	struct seq_gather *q = arg;

	if (q->broken || seq != q->next || flen < 1 || q->n == q->max ||
	    strcmp(ep, q->s->ep) != 0 || (q->out[q->n] = seq_frame(frame, flen)) == NULL) {
		q->broken = true;
		return;
	}
	q->n++;
	q->next++;
}

long
seq_history(struct sequencer *s, uint64_t after, struct frame **out, size_t max)
{
	struct seq_gather q = { s, after + 1, out, 0, max, false };

	if (after > s->last || s->last - after > max)
		return -1;
	if (after < s->last)
		redis_cmd_history(cluster_cmd(s->cl), s->id, s->id_len, after + 1, s->last,
		    seq_gather_entry, &q, CLUSTER_WAIT_MS);
	if (!q.broken && q.next == s->last + 1)
		return (long)q.n;
	while (q.n > 0)
		frame_unref(out[--q.n]);
	return -1;
}

void
seq_msg_free(struct seq_msg *gm)
{
	frame_unref(gm->m);
	free(gm);
}

void
seq_flush(struct sequencer *s)
{
	struct position first;
	size_t j;

	if (s->nout == 0)
		return;
	seq_position(s, &first);
	first.offset -= s->nout - 1;
	group_fanout(s->g, s->out, s->nout, &first);
	for (j = 0; j < s->nout; j++)
		frame_unref(s->out[j]);
	s->nout = 0;
}

/* Takes over a reference to m as the next frame in order. */
static void
seq_emit(struct sequencer *s, struct frame *m)
{
	s->out[s->nout++] = m;
	s->last++;
	if (s->nout == SEQ_RUN)
		seq_flush(s);
}

/* Tells the current members to try again (1013), after what was gathered
 * in order went out; the group stays open for later joins, which start
 * from the number it has reached. */
static void
seq_retry_current(struct sequencer *s)
{
	seq_flush(s);
	group_close_current(s->g, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
}

/* Keeps gm (a number above last + 1) in order; on no memory it is lost
 * and becomes a gap like any other. */
static void
seq_park(struct sequencer *s, struct seq_msg *gm)
{
	struct seq_msg **grown;
	size_t i;

	if (s->nparked == s->parked_cap) {
		size_t cap = s->parked_cap == 0 ? 16 : s->parked_cap * 2;
		if ((grown = realloc(s->parked, cap * sizeof(*grown))) == NULL) {
			seq_msg_free(gm);
			return;
		}
		s->parked = grown;
		s->parked_cap = cap;
	}
	for (i = s->nparked; i > 0 && s->parked[i - 1]->seq > gm->seq; i--)
		s->parked[i] = s->parked[i - 1];
	s->parked[i] = gm;
	s->nparked++;
}

/* Fans out parked messages that are next in order, drops the old ones. */
static void
seq_unpark(struct sequencer *s)
{
	size_t i = 0;

	while (i < s->nparked && s->parked[i]->seq <= s->last + 1) {
		struct seq_msg *gm = s->parked[i++];
		if (gm->seq == s->last + 1 && strcmp(gm->ep, s->ep) == 0) {
			seq_emit(s, gm->m);
			free(gm);
		} else {
			seq_msg_free(gm);
		}
	}
	if (i == 0)
		return;
	memmove(s->parked, s->parked + i, (s->nparked - i) * sizeof(*s->parked));
	s->nparked -= i;
}

/* A history entry is the next message only if it was written in the
 * epoch the group follows: an entry of another epoch is another history. */
static void
seq_hist_entry(void *arg, uint64_t seq, const char *ep, const char *frame, size_t flen)
{
	struct sequencer *s = arg;
	struct frame *m;

	if (seq != s->last + 1 || flen < 1 || strcmp(ep, s->ep) != 0)
		return;
	if ((m = seq_frame(frame, flen)) != NULL)
		seq_emit(s, m);
}

/*
 * Gathers last + 1 .. upto from the history, after what was gathered
 * before goes out; as far as the history holds them (trimmed, Redis lost
 * them, deleted with the group, or Redis unreachable: last stays short).
 */
static void
seq_fetch(struct sequencer *s, uint64_t upto)
{
	seq_flush(s);
	if (upto > s->last && !s->deleted)
		redis_cmd_history(cluster_cmd(s->cl), s->id, s->id_len, s->last + 1, upto,
		    seq_hist_entry, s, CLUSTER_WAIT_MS);
}

/*
 * Fans out last + 1 .. upto from the history. What the history no longer
 * holds cannot be given to the members: they are closed with 1013 and
 * the group goes on from upto, so nobody is left with a silent gap.
 */
static void
seq_repair(struct sequencer *s, uint64_t upto)
{
	seq_fetch(s, upto);
	if (s->last < upto) {
		log_event_id(LOG_WARN, "group_gap_lost", "group", s->id, s->id_len, NULL);
		seq_retry_current(s);
		s->last = upto;
	}
	seq_unpark(s);
}

void
seq_catch_up(struct sequencer *s, const struct position *since, size_t max)
{
	struct position now;

	seq_position(s, &now);
	if (!s->have_base || since->epoch != now.epoch || since->offset <= s->last ||
	    since->offset - s->last > max)
		return;
	seq_fetch(s, since->offset);
	seq_unpark(s);
	seq_flush(s);
}

/*
 * A break of continuity (docs/design.md, "Continuity"): the group's
 * history in Redis went on in another epoch, so what the members saw and
 * what comes next are not one history. They are closed with 1013; the
 * group follows epoch ep from last on, for members who join from now.
 * Parked messages of the epoch left behind are dropped.
 */
static void
seq_break(struct sequencer *s, const char ep[REDIS_EP_LEN + 1], uint64_t last)
{
	size_t i, k = 0;

	log_event_id(LOG_WARN, "group_continuity_lost", "group", s->id, s->id_len, NULL);
	seq_retry_current(s);
	memcpy(s->ep, ep, sizeof(s->ep));
	s->last = last;
	for (i = 0; i < s->nparked; i++) {
		if (strcmp(s->parked[i]->ep, ep) == 0)
			s->parked[k++] = s->parked[i];
		else
			seq_msg_free(s->parked[i]);
	}
	s->nparked = k;
	seq_unpark(s);
}

void
seq_accept(struct sequencer *s, struct seq_msg *gm)
{
	if (!s->have_base) {
		seq_park(s, gm);
		return;
	}
	if (strcmp(gm->inc, s->inc) != 0) {
		seq_msg_free(gm);
		return;
	}
	if (strcmp(gm->ep, s->ep) != 0)
		seq_break(s, gm->ep, gm->seq - 1);
	if (gm->seq <= s->last) {
		seq_msg_free(gm);
		return;
	}
	if (gm->seq == s->last + 1) {
		seq_emit(s, gm->m);
		free(gm);
		seq_unpark(s);
		return;
	}
	seq_park(s, gm);
	seq_repair(s, s->parked[0]->seq - 1);
}

/*
 * What was parked before the baseline is sorted out as if it came now,
 * but for what predates the baseline: another incarnation's messages, and
 * an earlier epoch's numbers at or below it.
 */
void
seq_base(struct sequencer *s, const char inc[REDIS_INC_LEN + 1],
    const char ep[REDIS_EP_LEN + 1], uint64_t seq)
{
	struct seq_msg **early = s->parked;
	size_t i, n = s->nparked;

	memcpy(s->inc, inc, sizeof(s->inc));
	memcpy(s->ep, ep, sizeof(s->ep));
	s->have_base = true;
	s->last = seq;
	s->parked = NULL;
	s->nparked = s->parked_cap = 0;
	for (i = 0; i < n; i++) {
		struct seq_msg *gm = early[i];

		if (strcmp(gm->inc, inc) != 0 || (strcmp(gm->ep, ep) != 0 && gm->seq <= seq))
			seq_msg_free(gm);
		else
			seq_accept(s, gm);
	}
	free(early);
}

/* The group is gone from Redis: as a delete event would (1000), but a
 * member who had not reached the deleted group's last number (last;
 * known from its tombstone) missed something for good: 1013. */
static void
seq_gone(struct sequencer *s, bool known, uint64_t last)
{
	uint16_t code = GROUP_DELETED_CODE;
	const char *reason = GROUP_DELETED_REASON;

	seq_flush(s);
	if (known && s->last < last) {
		log_event_id(LOG_WARN, "group_deleted_gap", "group", s->id, s->id_len, NULL);
		code = CLUSTER_RETRY_CODE;
		reason = CLUSTER_RETRY_REASON;
	}
	group_close(s->g, code, reason);
	group_close_for_good(s->g, code, reason);
}

/* How long the baseline is tried while the command link may itself be
 * reconnecting, and the pause between tries. */
#define BASELINE_TRY_MS 5000
#define BASELINE_PAUSE_MS 100

/* The baseline, tried for at most BASELINE_TRY_MS in all (each try bounded
 * by what is left of it), and no more once the group is closed (a delete
 * must reach the members within a second, not after the retries). 0, or
 * -1 if it could not be read. */
static int
seq_read_baseline(struct sequencer *s, struct redis_base *b)
{
	struct timespec pause = { 0, BASELINE_PAUSE_MS * 1000 * 1000 };
	int64_t end = clock_now_ms() + BASELINE_TRY_MS, left;

	while ((left = end - clock_now_ms()) > 0 && !group_closed(s->g)) {
		if (redis_cmd_baseline(cluster_cmd(s->cl), s->id, s->id_len, b,
		    left < CLUSTER_WAIT_MS ? (int)left : CLUSTER_WAIT_MS) == 0)
			return 0;
		if (end - clock_now_ms() > BASELINE_PAUSE_MS)
			nanosleep(&pause, NULL);
	}
	return -1;
}

/*
 * Where the group stands in Redis, with the group registered again if
 * Redis lost it (no incarnation and no tombstone naming ours: a delete
 * leaves one, a restart or a flush does not; an earlier group of the same
 * id may have left its own). 1 read into *b; 0 the group is gone (it was
 * closed, or, when a refused publish or a join's claim asked, its delete
 * event is on its way); -1 it could not be read (its members were told, 1013, or by the
 * group's own close if it closed meanwhile).
 *
 * A publish refused because of a delete may reach this node before the
 * messages that came before the delete: the delete event, published with
 * the tombstone, follows them on the subscription and judges who missed
 * what (group_thread.c). Any other caller judges here.
 */
static int
seq_stand(struct sequencer *s, struct redis_base *b, bool refused)
{
	bool deleted;
	int r;

	if (seq_read_baseline(s, b) == -1)
		goto fail;
	deleted = b->gone && strcmp(b->gone_inc, s->inc) == 0;
	if (b->inc[0] == '\0' && !deleted) {
		r = redis_cmd_reregister(cluster_cmd(s->cl), s->id, s->id_len, s->inc,
		    CLUSTER_WAIT_MS);
		if (r == -1 || (r == 1 && seq_read_baseline(s, b) == -1))
			goto fail;
		if (r == 1)
			log_event_id(LOG_INFO, "group_reregistered", "group", s->id, s->id_len,
			    NULL);
	}
	if (strcmp(b->inc, s->inc) != 0) {
		if (!(refused && deleted))
			seq_gone(s, b->inc[0] == '\0' && deleted, b->seq);
		return 0;
	}
	return 1;
fail:
	if (!group_closed(s->g))        /* else its own close tells them */
		seq_retry_current(s);
	return -1;
}

/* seq_resync's judgement; its result is seq_stand's. After the delete
 * event there is nothing to judge (0): the group's drain does. */
static int
seq_judge(struct sequencer *s, bool refused)
{
	struct redis_base b;
	int rc;

	if (s->deleted)
		return 0;
	seq_flush(s);
	if ((rc = seq_stand(s, &b, refused)) != 1)
		return rc;
	if (strcmp(b.ep, s->ep) != 0 || b.seq < s->last)
		seq_break(s, b.ep, b.seq);
	else if (b.seq > s->last)
		seq_repair(s, b.seq);
	return 1;
}

/*
 * Reads where the group stands and judges it: gone is a delete (1000);
 * another epoch, or a number below what was fanned out, is a break
 * (1013); a higher number is repaired from the history.
 */
void
seq_resync(struct sequencer *s)
{
	if (s->have_base)
		seq_judge(s, false);
}

/*
 * Redis refused c's publish: its incarnation was not there (or, c NULL,
 * a join's claim found another one). The group was deleted (its delete
 * event closes everyone, c included), or Redis lost it and it is
 * registered again (and judged as a resync; or gone, if the id was
 * created again meanwhile); then c's message was not relayed, so c is
 * closed with 1013 unless its group closed it already. Before the
 * baseline there is nothing to compare with, and no member to tell.
 */
void
seq_refused(struct sequencer *s, struct member *c)
{
	if (s->have_base && seq_judge(s, true) != 0 && c != NULL && !group_closed(s->g))
		member_close(c, CLUSTER_RETRY_CODE, CLUSTER_RETRY_REASON);
	member_unref(c);
}
