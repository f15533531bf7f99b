/*
 * report: GET /stats (JSON) and GET /metrics (Prometheus text format
 * 0.0.4), rendered from one snapshot: the counters, read with relaxed
 * atomic loads (each figure is whole, but two figures may be a message
 * apart), and the groups the manager lists, sorted by id bytes so that the
 * output is stable. Nothing here slows the message path: the listing is a
 * request to the manager thread and a group's figures are atomics.
 *
 * Only groups with members are listed, at most max (--stats-groups), so
 * 100,000 idle groups cost one pass over the registry and no output; the
 * totals stay exact, and "groups_listed" / "groups_omitted" (JSON) and
 * groupchat_groups_listed / groupchat_groups_omitted (Prometheus) say how
 * much was cut. Which groups make the cut when more have members is the
 * registry's order: unspecified.
 *
 * Appends go through a sticky error: after the first failed append the
 * rest are skipped and the buffer is cut back to where it was, so a half
 * document is never served.
 *
 * Group ids are arbitrary bytes. In JSON they are escaped as everywhere
 * else (json_escape: invalid UTF-8 becomes \ufffd). A Prometheus label
 * value must be UTF-8 with only \\, \" and \n escaped, so each byte that is
 * not part of valid UTF-8 is written as U+FFFD; a group whose id needed
 * that also gets a group_hex label (its id bytes in lowercase hex), which
 * keeps every series distinct: "\xff", "\xfe" and a real U+FFFD would
 * otherwise share one label set.
 */
#include "groupchat/web/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/group.h"
#include "groupchat/actors/manager.h"
#include "groupchat/core/buf.h"
#include "groupchat/core/json.h"
#include "groupchat/core/stats.h"
#include "groupchat/core/utf8.h"

struct report_out {
	struct buf *b;
	size_t mark;   /* b->len when rendering began */
	int err;       /* errno of the first failed append, 0 if none */
};

/* Registered groups with members, referenced, sorted by id bytes. */
struct report_snap {
	struct group **g;
	long n;
	size_t omitted;  /* groups with members left out past max */
};

/* One per-group metric family of the Prometheus output. */
struct report_family {
	const char *name;
	const char *type;
	const char *help;
	uint64_t (*value)(struct group *);
};

static void
report_printf(struct report_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
report_printf(struct report_out *o, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	if (o->err != 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	/* Every format here is short; a longer one is a bug, not data. */
	if (n < 0 || (size_t)n >= sizeof(small))
		o->err = EOVERFLOW;
	else if (buf_append(o->b, small, (size_t)n) == -1)
		o->err = errno;
}

static void
report_append(struct report_out *o, const void *p, size_t n)
{
	if (o->err == 0 && buf_append(o->b, p, n) == -1)
		o->err = errno;
}

/* 0, or -1 with errno and the buffer as it was before rendering. */
static int
report_finish(struct report_out *o)
{
	if (o->err == 0)
		return 0;
	o->b->len = o->mark;
	errno = o->err;
	return -1;
}

static int
report_cmp(const void *a, const void *b)
{
	size_t la, lb;
	const char *ia = group_id(*(struct group *const *)a, &la);
	const char *ib = group_id(*(struct group *const *)b, &lb);
	int c = memcmp(ia, ib, la < lb ? la : lb);

	if (c != 0)
		return c;
	return la < lb ? -1 : la > lb;
}

static int
report_snap_take(struct manager *m, size_t max, struct report_snap *s)
{
	if ((s->n = manager_list(m, max, true, &s->g, &s->omitted)) == -1)
		return -1;
	if (s->n > 1)
		qsort(s->g, (size_t)s->n, sizeof(*s->g), report_cmp);
	return 0;
}

static void
report_snap_drop(struct report_snap *s)
{
	for (long i = 0; i < s->n; i++)
		group_unref(s->g[i]);
	free(s->g);
}

/* The close counter slots in output order: listed codes, then "other". */
static unsigned
report_close_slot(unsigned k)
{
	return k + 1 < STATS_NCLOSE ? k + 1 : 0;
}

static void
report_close_name(unsigned slot, char name[8])
{
	if (slot == 0)
		snprintf(name, 8, "other");
	else
		snprintf(name, 8, "%u", stats_close_code(slot));
}

static void
report_json_group(struct report_out *o, struct group *g)
{
	size_t len;
	const char *id = group_id(g, &len);

	report_printf(o, "{\"id\":\"");
	if (o->err == 0 && json_escape(o->b, id, len) == -1)
		o->err = errno;
	report_printf(o, "\",\"members\":%zu,\"running\":%s,"
	    "\"messages_in\":%llu,\"messages_out\":%llu}",
	    group_members(g), group_running(g) ? "true" : "false",
	    (unsigned long long)group_msgs_in(g),
	    (unsigned long long)group_msgs_out(g));
}

int
report_json(struct stats *st, struct manager *m, size_t max, struct buf *out)
{
	struct report_out o = { out, out->len, 0 };
	struct report_snap s;
	char name[8];

	if (report_snap_take(m, max, &s) == -1)
		return -1;
	report_printf(&o, "{\"groups\":[");
	for (long i = 0; i < s.n; i++) {
		if (i > 0)
			report_printf(&o, ",");
		report_json_group(&o, s.g[i]);
	}
	report_printf(&o, "],\"groups_listed\":%ld,\"groups_omitted\":%zu,",
	    s.n, s.omitted);
	report_printf(&o, "\"totals\":{\"groups\":%llu,\"members\":%llu,"
	    "\"group_threads\":%llu,\"messages_in\":%llu,\"messages_out\":%llu,",
	    stats_get(st, groups), stats_get(st, members),
	    stats_get(st, group_threads), stats_get(st, msgs_in),
	    stats_get(st, msgs_out));
	report_printf(&o, "\"bytes_in\":%llu,\"bytes_out\":%llu,"
	    "\"slow_consumer_drops\":%llu,\"joins_refused\":%llu,"
	    "\"creates_refused\":%llu,\"recoveries\":%llu,\"resets\":%llu,"
	    "\"replayed_messages\":%llu,\"closes\":{",
	    stats_get(st, bytes_in), stats_get(st, bytes_out),
	    stats_get(st, slow_drops), stats_get(st, joins_refused),
	    stats_get(st, creates_refused), stats_get(st, recoveries),
	    stats_get(st, resets), stats_get(st, replayed));
	for (unsigned k = 0; k < STATS_NCLOSE; k++) {
		unsigned slot = report_close_slot(k);
		report_close_name(slot, name);
		report_printf(&o, "%s\"%s\":%llu", k > 0 ? "," : "", name,
		    stats_get(st, closes[slot]));
	}
	report_printf(&o, "},\"uptime_seconds\":%.3f", stats_uptime(st));
	if (st->cluster)
		report_printf(&o, ",\"redis_published\":%llu,\"redis_round_trips\":%llu",
		    stats_get(st, redis_published), stats_get(st, redis_round_trips));
	report_printf(&o, "}}");
	report_snap_drop(&s);
	return report_finish(&o);
}

static void
report_family_head(struct report_out *o, const char *name, const char *type,
    const char *help)
{
	report_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Appends the id as a label value (without quotes). Returns whether a
 * byte had to be replaced by U+FFFD. */
static bool
report_label_value(struct report_out *o, const char *id, size_t len)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const uint8_t *p = (const uint8_t *)id;
	size_t start = 0, i = 0, n;
	const char *esc;
	bool lossy = false;
	uint32_t cp;

	while (i < len) {
		n = 1;
		esc = NULL;
		if (p[i] == '\\')
			esc = "\\\\";
		else if (p[i] == '"')
			esc = "\\\"";
		else if (p[i] == '\n')
			esc = "\\n";
		else if (p[i] >= 0x80 && (n = utf8_decode(p + i, len - i, &cp)) == 0) {
			esc = fffd;
			n = 1;
			lossy = true;
		}
		if (esc == NULL) {
			i += n;
			continue;
		}
		report_append(o, p + start, i - start);
		report_append(o, esc, strlen(esc));
		i += n;
		start = i;
	}
	report_append(o, p + start, len - start);
	return lossy;
}

static void
report_group_labels(struct report_out *o, struct group *g)
{
	size_t len;
	const char *id = group_id(g, &len);

	report_printf(o, "{group=\"");
	if (report_label_value(o, id, len)) {
		report_printf(o, "\",group_hex=\"");
		for (size_t i = 0; i < len; i++)
			report_printf(o, "%02x", (unsigned)(uint8_t)id[i]);
	}
	report_printf(o, "\"}");
}

static uint64_t
report_members(struct group *g)
{
	return group_members(g);
}

static uint64_t
report_running(struct group *g)
{
	return group_running(g);
}

static const struct report_family report_families[] = {
	{ "groupchat_group_members", "gauge",
	  "Members of the group now.", report_members },
	{ "groupchat_group_running", "gauge",
	  "1 while the group's thread is alive, else 0.", report_running },
	{ "groupchat_group_messages_in_total", "counter",
	  "Messages broadcast in the group.", group_msgs_in },
	{ "groupchat_group_messages_out_total", "counter",
	  "Frames queued to the group's members.", group_msgs_out },
};

static void
report_prom_totals(struct report_out *o, struct stats *st,
    const struct report_snap *s)
{
	const struct {
		const char *name, *type, *help;
		unsigned long long v;
	} tot[] = {
		{ "groupchat_groups", "gauge", "Groups registered.",
		  stats_get(st, groups) },
		{ "groupchat_members", "gauge", "Members joined to some group.",
		  stats_get(st, members) },
		{ "groupchat_group_threads", "gauge", "Group threads alive.",
		  stats_get(st, group_threads) },
		{ "groupchat_messages_in_total", "counter",
		  "Messages received from members.", stats_get(st, msgs_in) },
		{ "groupchat_messages_out_total", "counter",
		  "Frames queued to members.", stats_get(st, msgs_out) },
		{ "groupchat_bytes_in_total", "counter",
		  "Message payload bytes received from members.",
		  stats_get(st, bytes_in) },
		{ "groupchat_bytes_out_total", "counter",
		  "Frame bytes queued to members.", stats_get(st, bytes_out) },
		{ "groupchat_slow_consumer_drops_total", "counter",
		  "Members closed because their send queue was full.",
		  stats_get(st, slow_drops) },
		{ "groupchat_joins_refused_total", "counter",
		  "Joins refused at the member cap.", stats_get(st, joins_refused) },
		{ "groupchat_creates_refused_total", "counter",
		  "Creates refused at the group cap.", stats_get(st, creates_refused) },
		{ "groupchat_recoveries_total", "counter",
		  "groupchat.v1 joins with since sent what they missed (ok).",
		  stats_get(st, recoveries) },
		{ "groupchat_resets_total", "counter",
		  "groupchat.v1 joins with since the history could not cover (reset).",
		  stats_get(st, resets) },
		{ "groupchat_replayed_messages_total", "counter",
		  "Messages sent again to members recovering with since.",
		  stats_get(st, replayed) },
	};
	char code[8];

	for (size_t i = 0; i < sizeof(tot) / sizeof(tot[0]); i++) {
		report_family_head(o, tot[i].name, tot[i].type, tot[i].help);
		report_printf(o, "%s %llu\n", tot[i].name, tot[i].v);
	}
	report_family_head(o, "groupchat_closes_total", "counter",
	    "WebSocket connections closed, by close code.");
	for (unsigned k = 0; k < STATS_NCLOSE; k++) {
		unsigned slot = report_close_slot(k);
		report_close_name(slot, code);
		report_printf(o, "groupchat_closes_total{code=\"%s\"} %llu\n", code,
		    stats_get(st, closes[slot]));
	}
	report_family_head(o, "groupchat_uptime_seconds", "gauge",
	    "Seconds since the server started.");
	report_printf(o, "groupchat_uptime_seconds %.3f\n", stats_uptime(st));
	report_family_head(o, "groupchat_groups_listed", "gauge",
	    "Groups with members that have per-group series below.");
	report_printf(o, "groupchat_groups_listed %ld\n", s->n);
	report_family_head(o, "groupchat_groups_omitted", "gauge",
	    "Groups with members left out past --stats-groups.");
	report_printf(o, "groupchat_groups_omitted %zu\n", s->omitted);
	if (!st->cluster)
		return;
	report_family_head(o, "groupchat_redis_published_total", "counter",
	    "Messages the Redis publisher had answered.");
	report_printf(o, "groupchat_redis_published_total %llu\n",
	    stats_get(st, redis_published));
	report_family_head(o, "groupchat_redis_round_trips_total", "counter",
	    "Round trips the Redis publisher made.");
	report_printf(o, "groupchat_redis_round_trips_total %llu\n",
	    stats_get(st, redis_round_trips));
}

int
report_prometheus(struct stats *st, struct manager *m, size_t max,
    struct buf *out)
{
	struct report_out o = { out, out->len, 0 };
	struct report_snap s;
	const struct report_family *f;

	if (report_snap_take(m, max, &s) == -1)
		return -1;
	report_prom_totals(&o, st, &s);
	for (size_t k = 0; k < sizeof(report_families) / sizeof(*f); k++) {
		f = &report_families[k];
		report_family_head(&o, f->name, f->type, f->help);
		for (long i = 0; i < s.n; i++) {
			report_printf(&o, "%s", f->name);
			report_group_labels(&o, s.g[i]);
			report_printf(&o, " %llu\n", (unsigned long long)f->value(s.g[i]));
		}
	}
	report_snap_drop(&s);
	return report_finish(&o);
}
