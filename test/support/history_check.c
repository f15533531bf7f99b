/*
 * history_check: the rules of history_check.h, one group instance at a
 * time. Each distinct payload of the instance becomes a message (a node
 * of a graph); every two messages a member received back to back add an
 * edge. One order exists if and only if that graph has no cycle (Kahn's
 * algorithm finds one order, pos); a member has a hole between two
 * consecutive messages a and b when the graph forces some other message
 * between them, i.e. b is reachable from a over two edges or more.
 *
 * Who touches what: all state lives in one struct judge on the caller's
 * stack, freed before hc_check returns.
 */
#include "history_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/hashtab.h"

#define NONE SIZE_MAX

struct msg {
	const char *payload; /* points into a member's frame */
	size_t len;
	size_t sender;       /* local member index */
	long k;
	size_t *succ;        /* distinct successors */
	size_t nsucc, capsucc;
	size_t indeg, pos, stamp;
};

/* One group instance being judged. */
struct judge {
	const struct hc_member *all;
	size_t *mi;          /* its members, as indices into all */
	size_t nm;
	struct hashtab tags; /* tag -> local member index (items: the tags) */
	struct hashtab msgs; /* payload -> message index (items: struct msg *) */
	struct msg **msg;
	size_t nmsg, capmsg;
	size_t **seq;        /* per local member, the message indices */
	size_t *nseq;
	size_t stamp;
	struct hc_report *r;
	FILE *text;
	size_t lines;
};

static const uint64_t hkey[2] = { 0x68697374u, 0x6f727921u };

static const char *const kind_names[HC_NKINDS] = {
	[HC_MALFORMED] = "malformed",
	[HC_FOREIGN] = "foreign",
	[HC_DUPLICATE] = "duplicate",
	[HC_SENDER_ORDER] = "sender-order",
	[HC_SENDER_GAP] = "sender-gap",
	[HC_ORDER] = "order",
	[HC_GAP] = "gap",
	[HC_TAIL] = "tail",
	[HC_CLOSE] = "close",
	[HC_LOST] = "lost",
};

const char *
hc_kind_name(enum hc_kind k)
{
	return k < HC_NKINDS ? kind_names[k] : "?";
}

static void
breach(struct judge *j, enum hc_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
breach(struct judge *j, enum hc_kind kind, const char *fmt, ...)
{
	va_list ap;

	j->r->count[kind]++;
	j->r->violations++;
	if (j->lines++ >= HC_TEXT_LINES)
		return;
	fprintf(j->text, "%s: group %s: ", kind_names[kind], j->all[j->mi[0]].group);
	va_start(ap, fmt);
	vfprintf(j->text, fmt, ap);
	va_end(ap);
	fputc('\n', j->text);
}

/* "member 3 (tag t, open)" into buf. */
static const char *
who(const struct judge *j, size_t local, char *buf, size_t n)
{
	const struct hc_member *m = &j->all[j->mi[local]];
	char how[24];

	if (m->close == HC_OPEN)
		snprintf(how, sizeof(how), "open");
	else if (m->close == HC_EOF)
		snprintf(how, sizeof(how), "EOF");
	else if (m->close == HC_LEFT)
		snprintf(how, sizeof(how), "left");
	else
		snprintf(how, sizeof(how), "closed %d", m->close);
	snprintf(buf, n, "member %zu (%s, %s)", j->mi[local], m->tag, how);
	return buf;
}

struct key {
	const char *s;
	size_t len;
};

static bool
tag_eq(const void *item, const void *key)
{
	const struct key *k = key;

	return strlen(item) == k->len && memcmp(item, k->s, k->len) == 0;
}

static bool
msg_eq(const void *item, const void *key)
{
	const struct msg *m = item;
	const struct key *k = key;

	return m->len == k->len && memcmp(m->payload, k->s, k->len) == 0;
}

/* The local index of the member sending under tag, or NONE. */
static size_t
sender_of(const struct judge *j, const char *tag, size_t len)
{
	struct key k = { tag, len };
	struct hashtab_entry *e;

	e = hashtab_find(&j->tags, hashtab_siphash(hkey, tag, len), &k, tag_eq);
	return e != NULL ? e->value : NONE;
}

/* The message with payload p, added when new. NONE on ENOMEM. */
static size_t
intern(struct judge *j, const char *p, size_t len, size_t sender, long k)
{
	struct key key = { p, len };
	uint64_t h = hashtab_siphash(hkey, p, len);
	struct hashtab_entry *e = hashtab_find(&j->msgs, h, &key, msg_eq);
	struct msg *m;

	if (e != NULL)
		return e->value;
	if (j->nmsg == j->capmsg) {
		size_t cap = j->capmsg ? 2 * j->capmsg : 256;
		struct msg **g = realloc(j->msg, cap * sizeof(*g));

		if (g == NULL)
			return NONE;
		j->msg = g;
		j->capmsg = cap;
	}
	if (hashtab_reserve(&j->msgs) == -1 || (m = calloc(1, sizeof(*m))) == NULL)
		return NONE;
	m->payload = p;
	m->len = len;
	m->sender = sender;
	m->k = k;
	m->pos = NONE;
	j->msg[j->nmsg] = m;
	hashtab_put(&j->msgs, h, m, j->nmsg);
	return j->nmsg++;
}

static int
add_edge(struct msg *a, size_t b)
{
	for (size_t i = 0; i < a->nsucc; i++)
		if (a->succ[i] == b)
			return 0;
	if (a->nsucc == a->capsucc) {
		size_t cap = a->capsucc ? 2 * a->capsucc : 2;
		size_t *s = realloc(a->succ, cap * sizeof(*s));

		if (s == NULL)
			return -1;
		a->succ = s;
		a->capsucc = cap;
	}
	a->succ[a->nsucc++] = b;
	return 0;
}

/* Splits "<cid> - <tag>-<k>": the tag and k. 0, or -1 if it does not
 * parse. */
static int
parse(const char *f, const char **tag, size_t *taglen, long *k)
{
	const char *p, *dash;
	char *end;

	if (strlen(f) < 9 || memcmp(f + 6, " - ", 3) != 0)
		return -1;
	p = f + 9;
	if ((dash = strrchr(p, '-')) == NULL || dash == p || dash[1] == '\0')
		return -1;
	errno = 0;
	*k = strtol(dash + 1, &end, 10);
	if (*end != '\0' || errno != 0 || *k < 0)
		return -1;
	*tag = p;
	*taglen = (size_t)(dash - p);
	return 0;
}

/* Reads each member's frames into its sequence of messages: malformed,
 * foreign, duplicate and sender-order/gap breaches on the way. */
static int
read_members(struct judge *j)
{
	long *last_k = malloc((j->nm ? j->nm : 1) * sizeof(*last_k));
	char w[96];

	if (last_k == NULL)
		return -1;
	for (size_t l = 0; l < j->nm; l++) {
		const struct hc_member *m = &j->all[j->mi[l]];

		if ((j->seq[l] = malloc((m->nframes ? m->nframes : 1) * sizeof(size_t))) == NULL)
			goto err;
		for (size_t s = 0; s < j->nm; s++)
			last_k[s] = -1;
		j->stamp++;
		for (size_t f = 0; f < m->nframes; f++) {
			const char *tag, *payload = m->frames[f] + 9;
			size_t taglen, sender, id;
			struct msg *g;
			long k;

			if (parse(m->frames[f], &tag, &taglen, &k) == -1) {
				breach(j, HC_MALFORMED, "%s, frame %zu: \"%.60s\"",
				    who(j, l, w, sizeof(w)), f, m->frames[f]);
				continue;
			}
			if ((sender = sender_of(j, tag, taglen)) == NONE) {
				breach(j, HC_FOREIGN, "%s, frame %zu: \"%s\" is from no member "
				    "of this group", who(j, l, w, sizeof(w)), f, m->frames[f]);
				continue;
			}
			if ((id = intern(j, payload, strlen(payload), sender, k)) == NONE)
				goto err;
			g = j->msg[id];
			if (g->stamp == j->stamp) {
				breach(j, HC_DUPLICATE, "%s, frame %zu: \"%s\" again",
				    who(j, l, w, sizeof(w)), f, payload);
				continue;
			}
			g->stamp = j->stamp;
			if (k <= last_k[sender])
				breach(j, HC_SENDER_ORDER, "%s, frame %zu: \"%s\" after %.*s-%ld",
				    who(j, l, w, sizeof(w)), f, payload, (int)taglen, tag,
				    last_k[sender]);
			else if (last_k[sender] >= 0 && k > last_k[sender] + 1)
				breach(j, HC_SENDER_GAP, "%s, frame %zu: \"%s\" follows %.*s-%ld: "
				    "%ld of that sender's messages missing",
				    who(j, l, w, sizeof(w)), f, payload, (int)taglen, tag,
				    last_k[sender], k - last_k[sender] - 1);
			last_k[sender] = k;
			j->seq[l][j->nseq[l]++] = id;
		}
	}
	free(last_k);
	return 0;
err:
	free(last_k);
	return -1;
}

/* Two members that saw two messages in opposite orders; one breach per
 * pair. 1 if any, 0 if none, -1 on ENOMEM. */
static int
pairwise_order(struct judge *j)
{
	size_t *at = malloc((j->nmsg ? j->nmsg : 1) * sizeof(*at));
	char w1[96], w2[96];
	int found = 0;

	if (at == NULL)
		return -1;
	for (size_t i = 0; i < j->nmsg; i++)
		at[i] = NONE;
	for (size_t a = 0; a < j->nm; a++) {
		for (size_t x = 0; x < j->nseq[a]; x++)
			at[j->seq[a][x]] = x;
		for (size_t b = a + 1; b < j->nm; b++) {
			size_t prev = NONE, prev_id = 0;

			for (size_t y = 0; y < j->nseq[b]; y++) {
				size_t id = j->seq[b][y];

				if (at[id] == NONE)
					continue;
				if (prev != NONE && at[id] < prev) {
					breach(j, HC_ORDER, "%s has \"%s\" before \"%s\", %s the other "
					    "way round", who(j, a, w1, sizeof(w1)),
					    j->msg[id]->payload, j->msg[prev_id]->payload,
					    who(j, b, w2, sizeof(w2)));
					found = 1;
					break;
				}
				prev = at[id];
				prev_id = id;
			}
		}
		for (size_t x = 0; x < j->nseq[a]; x++)
			at[j->seq[a][x]] = NONE;
	}
	free(at);
	return found;
}

/* One order of every message (Kahn): pos of each. 0, 1 if the edges
 * hold a cycle, -1 on ENOMEM. */
static int
order(struct judge *j)
{
	size_t *queue = malloc((j->nmsg ? j->nmsg : 1) * sizeof(*queue));
	size_t head = 0, tail = 0;

	if (queue == NULL)
		return -1;
	for (size_t i = 0; i < j->nmsg; i++)
		for (size_t s = 0; s < j->msg[i]->nsucc; s++)
			j->msg[j->msg[i]->succ[s]]->indeg++;
	for (size_t i = 0; i < j->nmsg; i++)
		if (j->msg[i]->indeg == 0)
			queue[tail++] = i;
	while (head < tail) {
		struct msg *g = j->msg[queue[head]];

		g->pos = head++;
		for (size_t s = 0; s < g->nsucc; s++)
			if (--j->msg[g->succ[s]]->indeg == 0)
				queue[tail++] = g->succ[s];
	}
	free(queue);
	return head == j->nmsg ? 0 : 1;
}

/* Whether b can be reached from a over two edges or more: some message
 * must come between them. stack holds nmsg entries. */
static int
forced_between(struct judge *j, size_t a, size_t b, size_t *stack, size_t *via)
{
	size_t top = 0, limit = j->msg[b]->pos;

	j->stamp++;
	for (size_t s = 0; s < j->msg[a]->nsucc; s++) {
		size_t c = j->msg[a]->succ[s];

		if (c != b && j->msg[c]->pos < limit && j->msg[c]->stamp != j->stamp) {
			j->msg[c]->stamp = j->stamp;
			stack[top++] = c;
		}
	}
	while (top > 0) {
		size_t c = stack[--top];

		for (size_t s = 0; s < j->msg[c]->nsucc; s++) {
			size_t d = j->msg[c]->succ[s];

			if (d == b) {
				*via = c;
				return 1;
			}
			if (j->msg[d]->pos < limit && j->msg[d]->stamp != j->stamp) {
				j->msg[d]->stamp = j->stamp;
				stack[top++] = d;
			}
		}
	}
	return 0;
}

static int
gaps(struct judge *j)
{
	size_t *stack = malloc((j->nmsg ? j->nmsg : 1) * sizeof(*stack));
	char w[96];

	if (stack == NULL)
		return -1;
	for (size_t l = 0; l < j->nm; l++)
		for (size_t x = 1; x < j->nseq[l]; x++) {
			size_t a = j->seq[l][x - 1], b = j->seq[l][x], via;

			/* Adjacent in one order: nothing can be forced between. */
			if (j->msg[b]->pos == j->msg[a]->pos + 1)
				continue;
			if (forced_between(j, a, b, stack, &via)) {
				breach(j, HC_GAP, "%s went from \"%s\" to \"%s\"; others saw "
				    "\"%s\" (at least) between them", who(j, l, w, sizeof(w)),
				    j->msg[a]->payload, j->msg[b]->payload, j->msg[via]->payload);
				break;
			}
		}
	free(stack);
	return 0;
}

static int
must_reach_end(int close)
{
	return close == HC_OPEN || close == 1000;
}

static void
tails(struct judge *j)
{
	size_t first = NONE;
	char w1[96], w2[96];

	for (size_t l = 0; l < j->nm; l++) {
		const struct hc_member *m = &j->all[j->mi[l]];
		struct msg *end;

		if (!must_reach_end(m->close) || j->nseq[l] == 0)
			continue;
		end = j->msg[j->seq[l][j->nseq[l] - 1]];
		if (end->nsucc > 0) {
			breach(j, HC_TAIL, "%s ends at \"%s\", but \"%s\" follows it",
			    who(j, l, w1, sizeof(w1)), end->payload,
			    j->msg[end->succ[0]]->payload);
		} else if (first == NONE) {
			first = l;
		} else if (j->seq[first][j->nseq[first] - 1] != j->seq[l][j->nseq[l] - 1]) {
			breach(j, HC_TAIL, "%s ends at \"%s\", %s at \"%s\": one of them "
			    "missed the other's end", who(j, first, w1, sizeof(w1)),
			    j->msg[j->seq[first][j->nseq[first] - 1]]->payload,
			    who(j, l, w2, sizeof(w2)), end->payload);
		}
	}
}

static void
closes_and_losses(struct judge *j)
{
	char w[96], payload[160];

	for (size_t l = 0; l < j->nm; l++) {
		const struct hc_member *m = &j->all[j->mi[l]];

		if (m->close > 0 && m->close != 1000 && m->close != 1001 && m->close != 1013)
			breach(j, HC_CLOSE, "%s: close code %d", who(j, l, w, sizeof(w)),
			    m->close);
		if (m->close != HC_OPEN)
			continue;
		for (int k = 0; k < m->sent; k++) {
			struct key key;
			int len = snprintf(payload, sizeof(payload), "%s-%d", m->tag, k);

			key.s = payload;
			key.len = (size_t)len;
			if (hashtab_find(&j->msgs, hashtab_siphash(hkey, payload, key.len),
			    &key, msg_eq) == NULL) {
				breach(j, HC_LOST, "%s sent \"%s\" and is still open, but no "
				    "member received it", who(j, l, w, sizeof(w)), payload);
				break;
			}
		}
	}
}

static int
judge_group(struct judge *j)
{
	int rc;

	for (size_t l = 0; l < j->nm; l++) {
		const char *tag = j->all[j->mi[l]].tag;
		size_t len = strlen(tag);

		if (hashtab_reserve(&j->tags) == -1)
			return -1;
		if (sender_of(j, tag, len) == NONE)
			hashtab_put(&j->tags, hashtab_siphash(hkey, tag, len), (void *)tag, l);
	}
	if (read_members(j) == -1)
		return -1;
	for (size_t l = 0; l < j->nm; l++)
		for (size_t x = 1; x < j->nseq[l]; x++)
			if (add_edge(j->msg[j->seq[l][x - 1]], j->seq[l][x]) == -1)
				return -1;
	j->r->messages += j->nmsg;
	closes_and_losses(j);
	if ((rc = pairwise_order(j)) != 0)
		return rc == -1 ? -1 : 0;
	if ((rc = order(j)) == -1)
		return -1;
	if (rc == 1) {
		breach(j, HC_ORDER, "no one order holds every member's sequence (a "
		    "cycle among three or more members)");
		return 0;
	}
	if (gaps(j) == -1)
		return -1;
	tails(j);
	return 0;
}

static void
judge_free(struct judge *j)
{
	for (size_t i = 0; i < j->nmsg; i++) {
		free(j->msg[i]->succ);
		free(j->msg[i]);
	}
	free(j->msg);
	for (size_t l = 0; j->seq != NULL && l < j->nm; l++)
		free(j->seq[l]);
	free(j->seq);
	free(j->nseq);
	hashtab_fini(&j->tags);
	hashtab_fini(&j->msgs);
}

long
hc_check(const struct hc_member *m, size_t n, struct hc_report *r)
{
	size_t *mi = malloc((n ? n : 1) * sizeof(*mi));
	char *done = calloc(n ? n : 1, 1);
	size_t textlen = 0, lines = 0;
	FILE *text;
	int failed = 0;

	memset(r, 0, sizeof(*r));
	if (mi == NULL || done == NULL || (text = open_memstream(&r->text, &textlen)) == NULL) {
		free(mi);
		free(done);
		errno = ENOMEM;
		return -1;
	}
	r->members = n;
	for (size_t i = 0; i < n && !failed; i++) {
		struct judge j = { .all = m, .mi = mi, .r = r, .text = text, .lines = lines };

		if (done[i])
			continue;
		for (size_t x = i; x < n; x++)
			if (!done[x] && strcmp(m[x].group, m[i].group) == 0) {
				done[x] = 1;
				mi[j.nm++] = x;
			}
		r->groups++;
		hashtab_init(&j.tags);
		hashtab_init(&j.msgs);
		j.seq = calloc(j.nm, sizeof(*j.seq));
		j.nseq = calloc(j.nm, sizeof(*j.nseq));
		if (j.seq == NULL || j.nseq == NULL || judge_group(&j) == -1)
			failed = 1;
		lines = j.lines;
		judge_free(&j);
	}
	if (lines > HC_TEXT_LINES)
		fprintf(text, "... and %zu more\n", lines - HC_TEXT_LINES);
	fclose(text);
	free(mi);
	free(done);
	if (failed) {
		hc_report_free(r);
		errno = ENOMEM;
		return -1;
	}
	if (r->violations == 0) {
		free(r->text);
		r->text = NULL;
	}
	return (long)r->violations;
}

void
hc_report_free(struct hc_report *r)
{
	free(r->text);
	r->text = NULL;
}
