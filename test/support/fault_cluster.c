/*
 * fault_cluster: Redis, a proxy per node, the nodes, and a recorded
 * conversation judged by history_check (see fault_cluster.h). The
 * members are itest_cluster's recorded peers; this file adds the
 * proxies, the snapshot directory, late joiners and the judgement.
 *
 * Who touches what: the test's thread owns struct fc and struct fc_talk;
 * each fault_proxy runs its own thread behind its calls.
 */
#include "fault_cluster.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history_check.h"
#include "itest_ws_extra.h"
#include "redis_fixture.h"

void
fc_up(struct fc *c, int n)
{
	ck_assert_int_le(n, CL_MAX_NODES);
	memset(c, 0, sizeof(*c));
	c->rf = rf_start(NULL);
	ck_assert_msg(c->rf != NULL, "cannot start redis-server");
	c->n = n;
	for (int i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(c->fp[i] = fp_start(rf_port(c->rf)));
		cl_url(c->url[i], sizeof(c->url[i]), fp_port(c->fp[i]), NULL);
		fc_node_start(c, i);
	}
	fc_wait_health(c, 200, "start");
}

void
fc_node_start(struct fc *c, int i)
{
	cl_node_free(&c->node[i]);
	cl_node_start(&c->node[i], c->url[i], NULL);
}

void
fc_down(struct fc *c)
{
	for (int i = 0; i < c->n; i++) {
		cl_node_free(&c->node[i]);
		fp_stop(c->fp[i]);
		c->fp[i] = NULL;
	}
	rf_stop(c->rf);
	c->rf = NULL;
}

void
fc_wait_health(struct fc *c, int want, const char *why)
{
	for (int i = 0; i < c->n; i++) {
		char body[256] = "";
		int st;

		if (c->node[i].p == NULL)
			continue;
		if (cl_wait_healthz(c->node[i].port, want, FC_WAIT_MS) == 0)
			continue;
		st = cl_healthz(c->node[i].port, body, sizeof(body));
		ck_abort_msg("%s: node %d: /healthz %d \"%s\", not %d; log: %s", why, i,
		    st, body, want, cl_node_log_tail(&c->node[i]));
	}
}

int
fc_save(struct fc *c)
{
	char reply[64];

	if (rf_command(c->rf, "SAVE", reply, sizeof(reply)) == -1)
		return -1;
	return strcmp(reply, "+OK") == 0 ? 0 : -1;
}

/* ---- a conversation ------------------------------------------------- */

int
fc_join(struct fc_talk *t, struct fc *c, int node, const char *id, const char *label)
{
	size_t i = t->n;
	int st;

	ck_assert_uint_lt(i, FC_MAX_PEERS);
	if ((st = cl_peer_join(&t->ps[i], c->node[node].port, id, node)) != 101) {
		cl_peer_free(&t->ps[i]);
		return st > 0 ? -st : -1;
	}
	snprintf(t->label[i], sizeof(t->label[i]), "%s", label != NULL ? label : id);
	t->sent[i] = 0;
	t->n++;
	return (int)i;
}

int
fc_join_ok(struct fc_talk *t, struct fc *c, int node, const char *id)
{
	int i = fc_join(t, c, node, id, NULL);

	ck_assert_msg(i >= 0, "join of %s through node %d answered %d", id, node, -i);
	return i;
}

void
fc_send(struct fc_talk *t, size_t i, int count)
{
	char body[48];

	for (int r = 0; r < count && t->ps[i].ws != NULL; r++) {
		snprintf(body, sizeof(body), "m-%zu-%d", i, t->sent[i]++);
		it_ws_send_text(t->ps[i].ws, body);
	}
}

void
fc_rounds(struct fc_talk *t, int rounds)
{
	for (int r = 0; r < rounds; r++)
		cl_send_round(t->ps, t->n, t->sent);
}

int
fc_settle(struct fc_talk *t, int timeout_ms)
{
	return cl_wait_round(t->ps, t->n, t->sent, timeout_ms);
}

struct has {
	struct fc_talk *t;
	int node;
	const char *body;
};

static int
node_has(void *arg)
{
	struct has *h = arg;

	for (size_t i = 0; i < h->t->n; i++)
		if (h->t->ps[i].ws != NULL && h->t->ps[i].node == h->node &&
		    cl_peer_find(&h->t->ps[i], h->body) < 0)
			return 0;
	return 1;
}

int
fc_wait_has(struct fc_talk *t, int node, const char *body, int timeout_ms)
{
	struct has h = { t, node, body };

	return cl_pump(t->ps, t->n, node_has, &h, timeout_ms);
}

size_t
fc_open(const struct fc_talk *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->ps[i].close_code == 0;
	return n;
}

size_t
fc_closed_with(const struct fc_talk *t, int code)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->ps[i].close_code == code;
	return n;
}

static int
allowed_close(int code, const int *allowed)
{
	if (code == 0 || code == 1013)
		return 1;
	for (; allowed != NULL && *allowed != 0; allowed++)
		if (*allowed == code)
			return 1;
	return 0;
}

void
fc_judge(struct fc_talk *t, struct fc *c, const char *why, const int *allowed)
{
	struct hc_member m[FC_MAX_PEERS];
	char tags[FC_MAX_PEERS][24];
	struct hc_report r;
	int settled;
	long v;

	fc_rounds(t, 1);
	settled = fc_settle(t, FC_WAIT_MS);
	/* One more: a total order puts anything late before it. */
	fc_rounds(t, 1);
	settled = fc_settle(t, FC_WAIT_MS) && settled;
	for (size_t i = 0; i < t->n; i++) {
		snprintf(tags[i], sizeof(tags[i]), "m-%zu", i);
		m[i] = (struct hc_member){ .group = t->label[i], .tag = tags[i],
			.frames = t->ps[i].got, .nframes = t->ps[i].ngot,
			.close = t->ps[i].close_code, .sent = t->sent[i] };
	}
	ck_assert_int_ge(v = hc_check(m, t->n, &r), 0);
	if (v > 0 || !settled) {
		/* Check carries at most a few kB of message: the whole story
		 * goes to stderr (the test's log), the verdict to the message. */
		char *state = cl_round_missing(t->ps, t->n, t->sent);

		fprintf(stderr, "%s: %ld violations%s:\n%s\nmembers: %s\n", why, v,
		    settled ? "" : " (the last rounds did not reach every open member)",
		    r.text != NULL ? r.text : "(none)\n", state);
		for (int i = 0; i < c->n; i++)
			if (c->node[i].p != NULL)
				fprintf(stderr, "--- node %d log tail:\n%s\n", i,
				    cl_node_log_tail(&c->node[i]));
		ck_abort_msg("%s: %ld violations%s: %.1500s (more in the log)", why, v,
		    settled ? "" : " (the last rounds did not reach every open member)",
		    r.text != NULL ? r.text : "(none)");
	}
	for (size_t i = 0; i < t->n; i++)
		ck_assert_msg(allowed_close(t->ps[i].close_code, allowed),
		    "%s: member %zu (node %d) closed %d \"%s\", not allowed here", why, i,
		    t->ps[i].node, t->ps[i].close_code, t->ps[i].close_reason);
	hc_report_free(&r);
}

void
fc_talk_free(struct fc_talk *t)
{
	for (size_t i = 0; i < t->n; i++)
		cl_peer_free(&t->ps[i]);
	t->n = 0;
}

void
fc_talk3_up(struct fc *c, struct fc_talk *t)
{
	fc_up(c, 3);
	ck_assert_int_eq(itx_create(c->node[0].port, "talk"), 201);
	for (int i = 0; i < 6; i++)
		fc_join_ok(t, c, i % 3, "talk");
	fc_rounds(t, 3);
	ck_assert(fc_settle(t, FC_WAIT_MS));
}

void
fc_talk3_down(struct fc *c, struct fc_talk *t)
{
	fc_talk_free(t);
	fc_down(c);
}
