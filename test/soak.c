/*
 * soak: `make soak` (not part of make test). A redis-server, three
 * groupchat nodes of one build (ASan by default), each reaching Redis
 * through a fault proxy, and one driver thread playing SOAK_GROUPS
 * groups of SOAK_MEMBERS members for SOAK_MINUTES minutes: members talk
 * (each about three messages a second), leave, are replaced; a group is
 * deleted and created again every few seconds; and every SOAK_FAULT_S
 * seconds one fault, in turn: Redis paused for 3 s, Redis killed and
 * restarted empty, a node stopped (SIGTERM) and started again, a node
 * killed (SIGKILL) and started again, a node's link cut, a node's link
 * black-holed for 3 s. Node 0 is never restarted, so its memory tells a
 * trend over the whole run.
 *
 * The last 30 s (a sixth of a short run) are quiet: no fault, no
 * delete. Then every member still open sends twice more and the driver
 * waits for those to arrive, and history_check judges every member that
 * ever joined (one history per member, labelled with the group instance
 * it joined). Beside the checker's rules the driver counts two of its
 * own: a member still open in a group whose delete was answered 200
 * ("stale"), a join answered 400 for a group nobody deleted that had
 * members in the last 10 s ("vanished": issue 18's "a group exists
 * until someone deletes it"), and a node whose /healthz is not 200 30 s
 * after the last fault ("stuck"). Then the nodes are stopped (SIGTERM), and a sanitizer
 * report in any node's output, or an exit status other than 0, fails
 * the run, as does any violation.
 *
 * Each node runs with --max-clients SOAK_MAX_CLIENTS (96: CivetWeb
 * starts a worker thread per slot up front).
 *
 * The report on stdout: faults injected, closes by code, messages,
 * violations by kind (and the checker's first lines), and every
 * SOAK_SAMPLE_S seconds each node's RSS and thread count.
 *
 * Who touches what: the driver is one thread (Check's test child); the
 * proxies run a thread each behind their calls.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/fault_proxy.h"
#include "support/history_check.h"
#include "support/itest.h"
#include "support/itest_cluster.h"
#include "support/itest_ws_extra.h"
#include "support/redis_fixture.h"
#include "support/test_main.h"

#define NODES 3
#define MAX_GROUPS 32
#define TICK_MS 100
#define HOLD_MS 3000   /* how long a pause or black-hole lasts */
#define SAMPLES 512
#define LIVED_MS 10000 /* "a live group": one that had members this recently */

enum fault {
	F_REDIS_PAUSE,
	F_REDIS_RESTART,
	F_NODE_TERM,
	F_NODE_KILL,
	F_LINK_CUT,
	F_LINK_BLACKHOLE,
	F_NKINDS
};

static const char *const fault_names[F_NKINDS] = {
	"Redis paused 3 s", "Redis killed, restarted empty", "node stopped, started",
	"node killed, started", "node link cut", "node link black-holed 3 s",
};

#define MAX_GENS 4096

struct group {
	char id[16];
	int gen;              /* instance number: label "<id>.<gen>" */
	char label[32];
	unsigned char deleted[MAX_GENS]; /* instance's delete answered 200 */
	int unsure;           /* a delete or create answered 503 since the last 201 */
	int exists;           /* as far as the driver knows */
	int64_t lived;        /* when it last had an open member */
};

struct member {
	char label[32];
	int group, gen;
};

struct sample {
	int at_s;
	long rss_kb[NODES];
	int threads[NODES];
};

/* The whole run: one instance, the driver's. */
static struct {
	struct redis_fixture *rf;
	struct fault_proxy *fp[NODES];
	char url[NODES][64];
	struct cl_node node[NODES];
	int up[NODES];        /* running */
	int healthy[NODES];   /* running and /healthz 200 at the last look */
	struct group g[MAX_GROUPS];
	int ngroups, per_group;
	struct cl_peer *ps;
	struct member *mem;
	int *sent;
	size_t n, cap;
	int faults[F_NKINDS];
	long stale, vanished, stuck, joins_refused, sanitizer, bad_exits;
	struct sample sample[SAMPLES];
	int nsample;
	unsigned long long rng;
} s;

static int
env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v != NULL && atoi(v) > 0 ? atoi(v) : def;
}

static unsigned
rnd(unsigned n)
{
	s.rng ^= s.rng << 13;
	s.rng ^= s.rng >> 7;
	s.rng ^= s.rng << 17;
	return (unsigned)(s.rng % n);
}

/* ---- nodes ----------------------------------------------------------- */

static const char *
tail(const char *log, size_t n)
{
	size_t len = strlen(log);

	return len > n ? log + len - n : log;
}

/* Counts sanitizer reports in what a stopped node wrote. */
static void
scan_output(int i, int status, int expect_clean)
{
	const char *err = it_proc_stderr(s.node[i].p);
	static const char *const marks[] = { "ERROR: AddressSanitizer",
		"ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer" };

	for (size_t k = 0; k < sizeof(marks) / sizeof(marks[0]); k++)
		if (strstr(err, marks[k]) != NULL) {
			s.sanitizer++;
			printf("soak: node %d: %s in its output:\n%s\n", i, marks[k],
			    tail(err, 6000));
		}
	if (expect_clean && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		s.bad_exits++;
		printf("soak: node %d exited with status %#x\n", i, status);
	}
}

static void
node_start(int i)
{
	char max_clients[16];
	const char *args[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", max_clients, "--log-level", "info", "--redis", s.url[i],
		NULL };

	snprintf(max_clients, sizeof(max_clients), "%d", env_int("SOAK_MAX_CLIENTS", 96));

	if (s.node[i].p != NULL)
		it_proc_free(s.node[i].p);
	ck_assert_ptr_nonnull(s.node[i].p = it_proc_spawn(args, NULL));
	s.node[i].port = it_proc_port(s.node[i].p, 4 * IT_TIMEOUT_MS);
	ck_assert_msg(s.node[i].port > 0, "node %d did not start: %s", i,
	    it_proc_stderr(s.node[i].p));
	s.up[i] = 1;
}

static void
node_stop(int i, int sig)
{
	int status = 0;

	kill(it_proc_pid(s.node[i].p), sig);
	ck_assert_msg(it_proc_wait(s.node[i].p, 6 * IT_TIMEOUT_MS, &status) == 0,
	    "node %d did not exit after signal %d", i, sig);
	scan_output(i, status, sig == SIGTERM);
	s.up[i] = 0;
	s.healthy[i] = 0;
}

static void
sample_nodes(int at_s)
{
	struct sample *m;

	if (s.nsample == SAMPLES)
		return;
	m = &s.sample[s.nsample++];
	m->at_s = at_s;
	for (int i = 0; i < NODES; i++) {
		char path[64], line[256];
		FILE *f;

		m->rss_kb[i] = -1;
		m->threads[i] = -1;
		if (!s.up[i])
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)it_proc_pid(s.node[i].p));
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			sscanf(line, "VmRSS: %ld", &m->rss_kb[i]);
			sscanf(line, "Threads: %d", &m->threads[i]);
		}
		fclose(f);
	}
}

/* Reads what the running nodes wrote (their logs would fill the pipe
 * and block them otherwise); a node that exited by itself is reported,
 * judged as a stop, and started again. */
static void
drain_nodes(void)
{
	for (int i = 0; i < NODES; i++) {
		int status;

		for (int k = 0; k < 8 && s.up[i]; k++) {
			if (it_proc_wait(s.node[i].p, 0, &status) == -1)
				continue;
			printf("soak: node %d exited by itself, status %#x\n", i, status);
			scan_output(i, status, 1);
			s.bad_exits += WIFEXITED(status) && WEXITSTATUS(status) == 0;
			s.up[i] = 0;
			s.healthy[i] = 0;
			node_start(i);
		}
	}
}

/* Which nodes say 200: control requests and joins go only there, so
 * that the driver does not wait out a 503 while its members' frames
 * pile up. */
static void
look(void)
{
	for (int i = 0; i < NODES; i++)
		s.healthy[i] = s.up[i] && cl_healthz(s.node[i].port, NULL, 0) == 200;
}

/* A healthy node, at random, or -1. */
static int
any_node(void)
{
	int i = (int)rnd(NODES);

	for (int k = 0; k < NODES; k++, i = (i + 1) % NODES)
		if (s.healthy[i])
			return i;
	return -1;
}

/* ---- members and groups ---------------------------------------------- */

static void
grow(void)
{
	size_t cap = s.cap ? 2 * s.cap : 256;

	ck_assert_ptr_nonnull(s.ps = realloc(s.ps, cap * sizeof(*s.ps)));
	ck_assert_ptr_nonnull(s.mem = realloc(s.mem, cap * sizeof(*s.mem)));
	ck_assert_ptr_nonnull(s.sent = realloc(s.sent, cap * sizeof(*s.sent)));
	s.cap = cap;
}

static void
new_instance(struct group *g)
{
	if (g->gen < MAX_GENS - 1)
		g->gen++;
	snprintf(g->label, sizeof(g->label), "%s.%d", g->id, g->gen);
	g->unsure = 0;
	g->exists = 1;
}

static void
create(struct group *g)
{
	int node = any_node(), st;

	if (node < 0)
		return;
	st = itx_create(s.node[node].port, g->id);
	if (st == 201)
		new_instance(g);
	else if (st != 400)
		g->unsure = 1;
}

static void
delete(struct group *g)
{
	int node = any_node(), st;

	if (node < 0)
		return;
	st = itx_delete(s.node[node].port, g->id, NULL, 0);
	if (st == 200) {
		g->deleted[g->gen] = 1;
		g->exists = 0;
	} else if (st != 400) {
		g->unsure = 1;
	}
}

static size_t
open_in(int gi)
{
	size_t n = 0;

	for (size_t i = 0; i < s.n; i++)
		n += s.ps[i].ws != NULL && s.mem[i].group == gi &&
		    strcmp(s.mem[i].label, s.g[gi].label) == 0;
	return n;
}

static void
join(int gi)
{
	struct group *g = &s.g[gi];
	int node = any_node(), st;

	if (node < 0)
		return;
	if (s.n == s.cap)
		grow();
	st = cl_peer_join(&s.ps[s.n], s.node[node].port, g->id, node);
	if (st == 101) {
		snprintf(s.mem[s.n].label, sizeof(s.mem[s.n].label), "%s", g->label);
		s.mem[s.n].group = gi;
		s.mem[s.n].gen = g->gen;
		s.sent[s.n] = 0;
		s.n++;
		return;
	}
	cl_peer_free(&s.ps[s.n]);
	s.joins_refused++;
	if (st == 400) {
		/* Nobody deleted it that the driver knows of, and it had
		 * members moments ago. */
		if (g->exists && !g->unsure && it_now_ms() - g->lived < LIVED_MS) {
			s.vanished++;
			printf("soak: group %s vanished: a join answered 400\n", g->label);
		}
		g->exists = 0;
		create(g);
	}
}

static void
talk(void)
{
	char body[48];

	for (size_t i = 0; i < s.n; i++) {
		if (s.ps[i].ws == NULL || rnd(10) >= 3)
			continue;
		snprintf(body, sizeof(body), "m-%zu-%d", i, s.sent[i]++);
		it_ws_send_text(s.ps[i].ws, body);
	}
}

/* Once in a while a member leaves by itself. */
static void
leave_one(void)
{
	size_t i;

	if (s.n == 0)
		return;
	i = rnd((unsigned)s.n);
	if (s.ps[i].ws == NULL)
		return;
	it_ws_free(s.ps[i].ws);
	s.ps[i].ws = NULL;
	s.ps[i].close_code = HC_LEFT;
}

/* ---- faults ---------------------------------------------------------- */

struct undo {
	int64_t at; /* 0: nothing pending */
	enum fault what;
	int node;
};

static void
inject(enum fault f, struct undo *u)
{
	int node = 1 + (int)rnd(NODES - 1); /* node 0 is never restarted */

	s.faults[f]++;
	switch (f) {
	case F_REDIS_PAUSE:
		rf_pause(s.rf);
		*u = (struct undo){ it_now_ms() + HOLD_MS, f, 0 };
		break;
	case F_REDIS_RESTART:
		rf_kill(s.rf);
		*u = (struct undo){ it_now_ms() + 1000, f, 0 };
		break;
	case F_NODE_TERM:
	case F_NODE_KILL:
		if (!s.up[node])
			break;
		node_stop(node, f == F_NODE_TERM ? SIGTERM : SIGKILL);
		*u = (struct undo){ it_now_ms() + 1000, f, node };
		break;
	case F_LINK_CUT:
		fp_cut(s.fp[rnd(NODES)]);
		break;
	case F_LINK_BLACKHOLE:
		node = (int)rnd(NODES);
		fp_blackhole(s.fp[node], FP_BOTH, 1);
		*u = (struct undo){ it_now_ms() + HOLD_MS, f, node };
		break;
	case F_NKINDS:
		break;
	}
}

static void
undo(struct undo *u)
{
	switch (u->what) {
	case F_REDIS_PAUSE:
		rf_resume(s.rf);
		break;
	case F_REDIS_RESTART:
		ck_assert_int_eq(rf_restart(s.rf), 0);
		break;
	case F_NODE_TERM:
	case F_NODE_KILL:
		node_start(u->node);
		break;
	case F_LINK_BLACKHOLE:
		fp_reset(s.fp[u->node]);
		break;
	case F_LINK_CUT:
	case F_NKINDS:
		break;
	}
	u->at = 0;
}

/* ---- the end --------------------------------------------------------- */

/* Every open member has the last message of every open sender of its
 * group instance. */
static int
settled(void *arg)
{
	char body[48];

	(void)arg;
	drain_nodes();
	for (size_t j = 0; j < s.n; j++) {
		if (s.ps[j].ws == NULL || s.sent[j] == 0)
			continue;
		snprintf(body, sizeof(body), "m-%zu-%d", j, s.sent[j] - 1);
		for (size_t i = 0; i < s.n; i++) {
			const struct cl_peer *p = &s.ps[i];
			int found = 0;

			if (p->ws == NULL || strcmp(s.mem[i].label, s.mem[j].label) != 0)
				continue;
			for (size_t k = p->ngot; k-- > 0 && !found;) {
				size_t l = strlen(p->got[k]);
				found = l > 9 && strcmp(p->got[k] + 9, body) == 0;
			}
			if (!found)
				return 0;
		}
	}
	return 1;
}

static void
final_round(void)
{
	char body[48];

	for (size_t i = 0; i < s.n; i++) {
		if (s.ps[i].ws == NULL)
			continue;
		snprintf(body, sizeof(body), "m-%zu-%d", i, s.sent[i]++);
		it_ws_send_text(s.ps[i].ws, body);
	}
}

static long
judge(struct hc_report *r)
{
	struct hc_member *m = calloc(s.n ? s.n : 1, sizeof(*m));
	char (*tags)[24] = calloc(s.n ? s.n : 1, sizeof(*tags));
	long v;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(tags);
	for (size_t i = 0; i < s.n; i++) {
		snprintf(tags[i], sizeof(tags[i]), "m-%zu", i);
		m[i] = (struct hc_member){ .group = s.mem[i].label, .tag = tags[i],
			.frames = s.ps[i].got, .nframes = s.ps[i].ngot,
			.close = s.ps[i].close_code, .sent = s.sent[i] };
		if (s.ps[i].ws != NULL && s.g[s.mem[i].group].deleted[s.mem[i].gen]) {
			s.stale++;
			printf("soak: member %zu still open in %s, deleted\n", i, s.mem[i].label);
		}
	}
	ck_assert_int_ge(v = hc_check(m, s.n, r), 0);
	free(m);
	free(tags);
	return v;
}

static void
report(const struct hc_report *r, int minutes, int settled_ok, long frames)
{
	static const int codes[] = { 0, 1000, 1001, 1008, 1011, 1013, HC_EOF, HC_LEFT };
	static const char *const names[] = { "open", "1000", "1001", "1008", "1011",
		"1013", "EOF", "left" };
	long sent = 0;

	for (size_t i = 0; i < s.n; i++)
		sent += s.sent[i];
	printf("\n== soak report: %d min, %d nodes, %d groups x %d members, "
	    "%zu members joined (%ld joins refused)\n", minutes, NODES, s.ngroups,
	    s.per_group, s.n, s.joins_refused);
	printf("faults:");
	for (int f = 0; f < F_NKINDS; f++)
		printf(" %s %d;", fault_names[f], s.faults[f]);
	printf("\ncloses:");
	for (size_t c = 0; c < sizeof(codes) / sizeof(codes[0]); c++) {
		long n = 0;
		for (size_t i = 0; i < s.n; i++)
			n += s.ps[i].close_code == codes[c];
		printf(" %s %ld;", names[c], n);
	}
	printf("\nmessages: %ld sent, %ld frames received; the last rounds %s\n",
	    sent, frames, settled_ok ? "reached every open member" :
	    "did NOT reach every open member");
	printf("violations: %zu (", r->violations);
	for (int k = 0; k < HC_NKINDS; k++)
		printf("%s%s %zu", k ? ", " : "", hc_kind_name(k), r->count[k]);
	printf("); stale members %ld, vanished groups %ld, nodes stuck at 503 %ld; "
	    "sanitizer reports %ld, bad exits %ld\n", s.stale, s.vanished, s.stuck,
	    s.sanitizer, s.bad_exits);
	if (r->text != NULL)
		printf("%s", r->text);
	printf("memory and threads (node 0 is never restarted; - while down):\n"
	    "  time   node0 RSS MiB thr   node1 RSS MiB thr   node2 RSS MiB thr\n");
	for (int k = 0; k < s.nsample; k++) {
		printf("  %4d s", s.sample[k].at_s);
		for (int i = 0; i < NODES; i++)
			if (s.sample[k].rss_kb[i] < 0)
				printf("   %13s %3s", "-", "-");
			else
				printf("   %13.1f %3d", s.sample[k].rss_kb[i] / 1024.0,
				    s.sample[k].threads[i]);
		printf("\n");
	}
	fflush(stdout);
}

START_TEST(soak)
{
	int minutes = env_int("SOAK_MINUTES", 5);
	int fault_s = env_int("SOAK_FAULT_S", 15);
	int sample_s = env_int("SOAK_SAMPLE_S", 10);
	int64_t start = it_now_ms(), end = start + (int64_t)minutes * 60000;
	int64_t quiet = end - (minutes >= 3 ? 30000 : minutes * 10000);
	int64_t next_fault = start + fault_s * 1000, next_delete = start + 5000;
	int64_t next_sample = start, next_leave = start + 1000;
	struct undo u = { 0 };
	struct hc_report r;
	long frames = 0, v;
	int settled_ok, turn = 0;

	s.rng = (unsigned long long)env_int("SOAK_SEED", (int)time(NULL)) * 2654435761u + 1;
	s.ngroups = env_int("SOAK_GROUPS", 10);
	s.per_group = env_int("SOAK_MEMBERS", 6);
	ck_assert_int_le(s.ngroups, MAX_GROUPS);
	ck_assert_ptr_nonnull(s.rf = rf_start(NULL));
	for (int i = 0; i < NODES; i++) {
		ck_assert_ptr_nonnull(s.fp[i] = fp_start(rf_port(s.rf)));
		cl_url(s.url[i], sizeof(s.url[i]), fp_port(s.fp[i]), NULL);
		node_start(i);
	}
	for (int i = 0; i < NODES; i++)
		ck_assert_int_eq(cl_wait_healthz(s.node[i].port, 200, 4 * IT_TIMEOUT_MS), 0);
	look();
	for (int gi = 0; gi < s.ngroups; gi++) {
		snprintf(s.g[gi].id, sizeof(s.g[gi].id), "g%d", gi);
		create(&s.g[gi]);
	}
	printf("soak: %d min, faults every %d s, seed %s\n", minutes, fault_s,
	    getenv("SOAK_SEED") != NULL ? getenv("SOAK_SEED") : "(time)");
	fflush(stdout);

	while (it_now_ms() < end) {
		int64_t now;

		cl_pump(s.ps, s.n, NULL, NULL, TICK_MS);
		drain_nodes();
		now = it_now_ms();
		talk();
		look();
		if (u.at != 0 && now >= u.at)
			undo(&u);
		if (u.at == 0 && now >= next_fault && now < quiet) {
			inject((enum fault)(turn++ % F_NKINDS), &u);
			next_fault = now + fault_s * 1000;
		}
		if (now >= next_delete && now < quiet) {
			struct group *g = &s.g[rnd((unsigned)s.ngroups)];
			delete(g);
			create(g);
			next_delete = now + 5000;
		}
		if (now >= next_leave) {
			leave_one();
			next_leave = now + 1000;
		}
		if (now >= next_sample) {
			sample_nodes((int)((now - start) / 1000));
			next_sample = now + sample_s * 1000;
		}
		/* One join per group and tick at most: the driver stays live. */
		for (int gi = 0; gi < s.ngroups; gi++) {
			size_t open = open_in(gi);

			if (open > 0)
				s.g[gi].lived = now;
			if (!s.g[gi].exists)
				create(&s.g[gi]);
			else if (open < (size_t)s.per_group)
				join(gi);
		}
	}
	if (u.at != 0)
		undo(&u);
	for (int i = 0; i < NODES; i++) {
		char body[256] = "";
		int st;

		if (!s.up[i] || cl_wait_healthz(s.node[i].port, 200, 6 * IT_TIMEOUT_MS) == 0)
			continue;
		s.stuck++;
		st = cl_healthz(s.node[i].port, body, sizeof(body));
		printf("soak: node %d still answers /healthz %d \"%s\" 30 s after the "
		    "last fault; its log's tail:\n%s\n", i, st, body,
		    tail(it_proc_stderr(s.node[i].p), 3000));
	}
	final_round();
	settled_ok = cl_pump(s.ps, s.n, settled, NULL, 30000);
	final_round();
	settled_ok = cl_pump(s.ps, s.n, settled, NULL, 30000) && settled_ok;
	sample_nodes((int)((it_now_ms() - start) / 1000));
	for (size_t i = 0; i < s.n; i++)
		frames += (long)s.ps[i].ngot;
	v = judge(&r);
	for (int i = 0; i < NODES; i++)
		if (s.up[i])
			node_stop(i, SIGTERM);
	report(&r, minutes, settled_ok, frames);
	ck_assert_msg(v == 0 && s.stale == 0 && s.vanished == 0 && s.stuck == 0 &&
	    s.sanitizer == 0 && s.bad_exits == 0 && settled_ok, "soak: %ld violations, "
	    "%ld stale members, %ld vanished groups, %ld nodes stuck, %ld sanitizer "
	    "reports, %ld bad exits%s", v, s.stale, s.vanished, s.stuck, s.sanitizer,
	    s.bad_exits, settled_ok ? "" : ", the last rounds did not arrive");
	hc_report_free(&r);
	for (size_t i = 0; i < s.n; i++)
		cl_peer_free(&s.ps[i]);
	free(s.ps);
	free(s.mem);
	free(s.sent);
	for (int i = 0; i < NODES; i++) {
		it_proc_free(s.node[i].p);
		fp_stop(s.fp[i]);
	}
	rf_stop(s.rf);
}
END_TEST

static Suite *
soak_suite(void)
{
	Suite *su = suite_create("soak");
	TCase *tc = tcase_create("soak");

	tcase_set_timeout(tc, env_int("SOAK_MINUTES", 5) * 60 + 600);
	tcase_add_test(tc, soak);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	return test_run(soak_suite());
}
