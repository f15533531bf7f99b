/*
 * groupchat-bench: a load generator for groupchat and for any server that
 * speaks its protocol (POST /create?id=G, a WebSocket on GET /groups/G, each
 * message relayed to every member as "<6 hex cid> - <payload>"), in the
 * spirit of redis-benchmark. Nothing but libc: it does its own HTTP, its
 * own WebSocket handshake and framing, and reads the server's cost from
 * /proc and a perf counter.
 *
 * This file is the command line, the scenario table and the report;
 * load.c runs a scenario. Targets are loopback only, and every run is
 * bounded in count and time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static const struct bench_scenario scenarios[] = {
	{ "fanout", "1 group x 50 members, all sending, window-limited",
	    1, 50, 0, 0, BENCH_LOAD, 0, 0 },
	{ "groups", "50 groups x 10 members, all sending, window-limited",
	    50, 10, 0, 0, BENCH_LOAD, 0, 0 },
	{ "big", "1 group x 500 members, all sending, window-limited",
	    1, 500, 0, 0, BENCH_LOAD, 0, 0 },
	{ "latency", "1 group x 50 members at a fixed 200 messages/s",
	    1, 50, 200, 0, BENCH_LOAD, 0, 0 },
	{ "capacity", "100 groups x 100 members connected, then one "
	    "broadcast per group", 100, 100, 0, 1, BENCH_LOAD, 0, 0 },
	{ "lowrate", "1 group x 50 members at a fixed 1,000 messages/s",
	    1, 50, 1000, 0, BENCH_LOAD, 0, 0 },
	{ "joinstorm", "4,000 members join 40 groups at once, 256 "
	    "handshakes in flight", 40, 100, 0, 0, BENCH_JOIN, 256, 0 },
	{ "joinstorm10k", "10,000 members join 100 groups at once, 256 "
	    "handshakes in flight", 100, 100, 0, 0, BENCH_JOIN, 256, 0 },
	{ "idle", "4,000 members in 40 groups sit idle for --duration, "
	    "then memory", 40, 100, 0, 0, BENCH_IDLE, 0, 0 },
	{ "churn", "10 groups, 10 slots cycling join/leave: 1,000 cycles "
	    "twice, cap 1,000", 10, 2, 0, 1000, BENCH_CHURN, 0, 1000 },
	{ "start1k", "the server as started with a cap of 1,000 members, "
	    "nobody joined", 0, 0, 0, 0, BENCH_START, 0, 1000 },
	{ "start10k", "the server as started with a cap of 10,000 members, "
	    "nobody joined", 0, 0, 0, 0, BENCH_START, 0, 10000 },
	{ "stall", "50 members that never read, one sender of 16 x 1 MiB: "
	    "server RSS growth", 1, 50, 0, 16, BENCH_LOAD, 0, 0 },
};
#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* Scenarios with a runner of their own; every other one runs bench_run. */
static const struct {
	const char *name;
	int (*run)(const struct bench_opts *, const struct bench_scenario *,
	    struct bench_result *);
} runners[] = {
	{ "stall", bench_run_stall },
};

static int
scenario_run(const struct bench_opts *o, const struct bench_scenario *sc,
    struct bench_result *res)
{
	size_t i;

	for (i = 0; i < sizeof(runners) / sizeof(runners[0]); i++)
		if (strcmp(runners[i].name, sc->name) == 0)
			return runners[i].run(o, sc, res);
	return bench_run(o, sc, res);
}

/* --- output --- */

static void
print_header(const struct bench_opts *o)
{
	if (o->label != NULL)
		printf("%-10s ", "server");
	printf("%-9s %-7s %11s %6s %8s %9s %7s %7s %7s %5s %4s %8s %7s "
	    "%13s %11s %7s %4s %s\n", "scenario", "shape", "members", "join s",
	    "sent/s", "deliv/s", "p50 us", "p99 us", "max us", "lost", "ooo",
	    "cpu s/M", "write/d", "rss MB", "threads", "KB/mbr", "gen%",
	    "status");
}

static void
print_row(const struct bench_opts *o, const struct bench_result *res)
{
	char shape[32], mem[32], rss[32], thr[32], cpu[16], sw[16], kb[16];
	const struct bench_proc *a = &res->before, *b = &res->after;
	double w = res->window_s > 0 ? res->window_s : 1;
	double d = res->delivered > 0 ? (double)res->delivered : 1;

	snprintf(shape, sizeof(shape), "%dx%d", res->groups, res->per);
	snprintf(mem, sizeof(mem), "%d/%d", res->conns_ok, res->conns_want);
	snprintf(rss, sizeof(rss), "-");
	snprintf(thr, sizeof(thr), "-");
	snprintf(cpu, sizeof(cpu), "-");
	snprintf(sw, sizeof(sw), "-");
	snprintf(kb, sizeof(kb), "-");
	if (a->ok && b->ok) {
		snprintf(rss, sizeof(rss), "%.1f>%.1f", a->rss_kb / 1024.0,
		    b->rss_kb / 1024.0);
		snprintf(thr, sizeof(thr), "%ld>%ld", a->threads, b->threads);
		if (res->conns_ok > 0)
			snprintf(kb, sizeof(kb), "%.1f",
			    (double)(b->rss_kb - a->rss_kb) / res->conns_ok);
	}
	if (res->m0.ok && res->m1.ok)
		snprintf(cpu, sizeof(cpu), "%.2f",
		    (res->m1.cpu_s - res->m0.cpu_s) / d * 1e6);
	if (res->wcalls >= 0)
		snprintf(sw, sizeof(sw), "%.3f", (double)res->wcalls / d);
	if (o->label != NULL)
		printf("%-10s ", o->label);
	printf("%-9s %-7s %11s %6.2f %8.0f %9.0f %7.0f %7.0f %7.0f %5llu %4llu "
	    "%8s %7s %13s %11s %7s %4.0f %s\n", res->sc->name, shape, mem,
	    res->connect_s,
	    res->sent / w, res->delivered / w, res->p50 / 1e3,
	    res->p99 / 1e3, res->max / 1e3, (unsigned long long)res->lost,
	    (unsigned long long)(res->t.ooo + res->t.dup), cpu, sw, rss, thr,
	    kb, res->gen_cpu_pct, res->status);
	if (res->redis0.ok && res->redis1.ok) {
		printf("%*sredis-server: %.2f s CPU in the window, %.2f us per "
		    "message sent", o->label != NULL ? 11 : 0, "",
		    res->redis1.cpu_s - res->redis0.cpu_s,
		    (res->redis1.cpu_s - res->redis0.cpu_s) /
		    (res->sent > 0 ? (double)res->sent : 1) * 1e6);
		if (res->rc0.ok && res->rc1.ok &&
		    res->rc1.round_trips > res->rc0.round_trips)
			printf("; %.1f messages per publish round trip",
			    (double)(res->rc1.published - res->rc0.published) /
			    (double)(res->rc1.round_trips -
			    res->rc0.round_trips));
		printf("\n");
	}
	fflush(stdout);
}

/* The per-member scenarios' table. */
static void
print_member_header(const struct bench_opts *o)
{
	if (o->label != NULL)
		printf("%-10s ", "server");
	printf("%-12s %-7s %11s %6s %7s %7s %7s %7s %17s %11s %6s %8s %7s "
	    "%7s %7s %7s %5s %s\n", "scenario", "shape", "members", "join s",
	    "joins/s", "hs50 ms", "hs99 ms", "hsmx ms", "rss MB", "threads",
	    "KB/mbr", "avail MB", "sys KB", "kstk MB", "pte MB", "acct",
	    "load", "status");
}

/* The drop of MemAvailable and the growth of KernelStack from a to b, in
 * MB, into two columns ("-" if either is unread). */
static void
mem_columns(const struct bench_mem *a, const struct bench_mem *b,
    char avail[16], char kstack[16])
{
	snprintf(avail, 16, "-");
	snprintf(kstack, 16, "-");
	if (!a->ok || !b->ok)
		return;
	snprintf(avail, 16, "%.1f", (a->avail_kb - b->avail_kb) / 1024.0);
	snprintf(kstack, 16, "%.1f", (b->kstack_kb - a->kstack_kb) / 1024.0);
}

/* What the server accounts for from a to b, in kB: its RSS and page
 * tables (VmPTE) and the system's kernel stacks; -1 if unread. From a
 * process that has not started yet (a NULL), the whole of b. */
static long
accounted_kb(const struct bench_proc *a, const struct bench_proc *b,
    const struct bench_mem *ma, const struct bench_mem *mb)
{
	if (!b->ok || !ma->ok || !mb->ok || (a != NULL && !a->ok))
		return -1;
	return b->rss_kb + b->pte_kb + mb->kstack_kb - ma->kstack_kb -
	    (a != NULL ? a->rss_kb + a->pte_kb : 0);
}

/* System memory per member: the drop of MemAvailable over the joins less
 * the generator's own RSS growth, per member joined; 0 if unknown. */
static double
sys_per_member(const struct bench_result *res)
{
	long drop;

	if (!res->sys_before.ok || !res->sys_after.ok ||
	    !res->gen_before.ok || !res->gen_after.ok || res->conns_ok <= 0)
		return 0;
	drop = res->sys_before.avail_kb - res->sys_after.avail_kb -
	    (res->gen_after.rss_kb - res->gen_before.rss_kb);
	return (double)drop / res->conns_ok;
}

static void
print_member_row(const struct bench_opts *o, const struct bench_result *res)
{
	char shape[32], mem[32], rss[48], thr[32], kb[16], sys[16];
	char avail[16], kstack[16], pte[16], acct[16], jps[16];
	long ac;
	const struct bench_proc *a = &res->before, *b = &res->after;
	const struct bench_scenario *sc = res->sc;

	snprintf(shape, sizeof(shape), "%dx%d", res->groups, res->per);
	snprintf(mem, sizeof(mem), "%d/%d", res->conns_ok, res->conns_want);
	snprintf(rss, sizeof(rss), "-");
	snprintf(thr, sizeof(thr), "-");
	snprintf(kb, sizeof(kb), "-");
	snprintf(sys, sizeof(sys), "-");
	snprintf(jps, sizeof(jps), "-");
	snprintf(pte, sizeof(pte), "-");
	snprintf(acct, sizeof(acct), "-");
	if (res->storm_s > 0)
		snprintf(jps, sizeof(jps), "%.0f", res->stormed / res->storm_s);
	if (sc->kind == BENCH_START) {
		if (b->ok) {
			snprintf(rss, sizeof(rss), "%.1f", b->rss_kb / 1024.0);
			snprintf(thr, sizeof(thr), "%ld", b->threads);
		}
		mem_columns(&res->sys_start, &res->sys_after, avail, kstack);
		if (b->ok)
			snprintf(pte, sizeof(pte), "%.1f", b->pte_kb / 1024.0);
		ac = accounted_kb(NULL, b, &res->sys_start, &res->sys_after);
		if (ac >= 0)
			snprintf(acct, sizeof(acct), "%.1fM", ac / 1024.0);
	} else if (sc->kind == BENCH_CHURN) {
		if (b->ok && res->churn1.ok && res->churn2.ok) {
			snprintf(rss, sizeof(rss), "%.1f>%.1f>%.1f",
			    b->rss_kb / 1024.0, res->churn1.rss_kb / 1024.0,
			    res->churn2.rss_kb / 1024.0);
			snprintf(thr, sizeof(thr), "%ld>%ld", b->threads,
			    res->churn2.threads);
		}
		mem_columns(&res->sys_before, &res->sys_after, avail, kstack);
	} else {
		if (a->ok && b->ok) {
			snprintf(rss, sizeof(rss), "%.1f>%.1f",
			    a->rss_kb / 1024.0, b->rss_kb / 1024.0);
			snprintf(thr, sizeof(thr), "%ld>%ld", a->threads,
			    b->threads);
			if (res->conns_ok > 0)
				snprintf(kb, sizeof(kb), "%.1f",
				    (double)(b->rss_kb - a->rss_kb) /
				    res->conns_ok);
		}
		if (sys_per_member(res) != 0)
			snprintf(sys, sizeof(sys), "%.1f",
			    sys_per_member(res));
		mem_columns(&res->sys_before, &res->sys_after, avail, kstack);
		if (a->ok && b->ok)
			snprintf(pte, sizeof(pte), "%.1f",
			    (b->pte_kb - a->pte_kb) / 1024.0);
		ac = accounted_kb(a, b, &res->sys_before, &res->sys_after);
		if (ac >= 0 && res->conns_ok > 0)
			snprintf(acct, sizeof(acct), "%.1f",
			    (double)ac / res->conns_ok);
	}
	if (o->label != NULL)
		printf("%-10s ", o->label);
	printf("%-12s %-7s %11s %6.2f %7s %7.2f %7.2f %7.2f %17s %11s %6s "
	    "%8s %7s %7s %7s %7s %5.2f %s\n", sc->name, shape, mem,
	    res->connect_s, jps, res->hs_p50 / 1e6, res->hs_p99 / 1e6,
	    res->hs_max / 1e6, rss, thr, kb, avail, sys, kstack, pte, acct,
	    res->load1, res->status);
	fflush(stdout);
}

static const char csv_header[] = "server,scenario,groups,members,"
    "joined,wanted,connect_s,window_s,rate,window,size,sent,sent_per_s,"
    "deliveries,deliveries_per_s,p50_us,p99_us,max_us,expected,lost,ooo,"
    "dup,bad,protocol,closed,last_close,connect_failed,last_status,"
    "unjoined,send_lag_max_us,server_cpu_s,cpu_s_per_M,syscw,"
    "syscw_per_delivery,write_calls,write_calls_per_delivery,"
    "rss_before_kb,rss_after_kb,threads_before,threads_after,"
    "rss_per_member_kb,gen_cpu_pct,status,"
    "stormed,storm_s,hs_p50_us,hs_p99_us,hs_max_us,"
    "avail_start_kb,avail_before_kb,avail_after_kb,"
    "kstack_start_kb,kstack_before_kb,kstack_after_kb,"
    "pagetables_start_kb,pagetables_before_kb,pagetables_after_kb,"
    "vmpte_before_kb,vmpte_after_kb,gen_rss_before_kb,gen_rss_after_kb,"
    "rss_churn1_kb,rss_churn2_kb,threads_churn2,load1,"
    "redis_cpu_s,redis_cpu_us_per_msg,redis_msgs_per_round_trip\n";

/* One CSV field: v if ok, else empty. */
static void
csv_long(FILE *f, int ok, long v)
{
	if (ok)
		fprintf(f, "%ld", v);
	fputc(',', f);
}

/* The per-member columns: empty where not measured. */
static void
csv_member(FILE *f, const struct bench_result *res)
{
	const struct bench_mem *m[3] = { &res->sys_start, &res->sys_before,
	    &res->sys_after };
	int i, churned = res->churn1.ok && res->churn2.ok;

	fprintf(f, "%d,%.3f,%.1f,%.1f,%.1f,", res->stormed, res->storm_s,
	    res->hs_p50 / 1e3, res->hs_p99 / 1e3, res->hs_max / 1e3);
	for (i = 0; i < 3; i++)
		csv_long(f, m[i]->ok, m[i]->avail_kb);
	for (i = 0; i < 3; i++)
		csv_long(f, m[i]->ok, m[i]->kstack_kb);
	for (i = 0; i < 3; i++)
		csv_long(f, m[i]->ok, m[i]->pte_kb);
	csv_long(f, res->before.ok, res->before.pte_kb);
	csv_long(f, res->after.ok, res->after.pte_kb);
	csv_long(f, res->gen_before.ok, res->gen_before.rss_kb);
	csv_long(f, res->gen_after.ok, res->gen_after.rss_kb);
	csv_long(f, churned, res->churn1.rss_kb);
	csv_long(f, churned, res->churn2.rss_kb);
	csv_long(f, churned, res->churn2.threads);
	fprintf(f, "%.2f,", res->load1);
}

static void
csv_row(FILE *f, const struct bench_opts *o, const struct bench_result *res)
{
	const struct bench_tally *t = &res->t;
	double w = res->window_s > 0 ? res->window_s : 1;
	double d = res->delivered > 0 ? (double)res->delivered : 1;
	double cpu = res->m1.cpu_s - res->m0.cpu_s;
	long long sw = res->m1.syscw - res->m0.syscw;
	int proc = res->m0.ok && res->m1.ok, io = res->m0.io_ok &&
	    res->m1.io_ok, mem = res->before.ok && res->after.ok;

	fprintf(f, "%s,%s,%d,%d,%d,%d,%.3f,%.3f,%.1f,%d,%d,%llu,%.1f,%llu,"
	    "%.1f,%.1f,%.1f,%.1f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%d,%llu,"
	    "%d,%llu,%.1f,", o->label != NULL ? o->label : "", res->sc->name,
	    res->groups, res->per, res->conns_ok, res->conns_want,
	    res->connect_s, res->window_s, res->rate, o->window, o->size,
	    (unsigned long long)res->sent, res->sent / w,
	    (unsigned long long)res->delivered, res->delivered / w,
	    res->p50 / 1e3, res->p99 / 1e3, res->max / 1e3,
	    (unsigned long long)t->expected, (unsigned long long)res->lost,
	    (unsigned long long)t->ooo, (unsigned long long)t->dup,
	    (unsigned long long)t->bad, (unsigned long long)t->protocol,
	    (unsigned long long)t->closed, t->last_close,
	    (unsigned long long)t->connect_failed, t->last_status,
	    (unsigned long long)t->unjoined, t->lag_max / 1e3);
	if (proc)
		fprintf(f, "%.2f,%.3f,", cpu, cpu / d * 1e6);
	else
		fprintf(f, ",,");
	if (io)
		fprintf(f, "%lld,%.4f,", sw, (double)sw / d);
	else
		fprintf(f, ",,");
	if (res->wcalls >= 0)
		fprintf(f, "%lld,%.4f,", res->wcalls, (double)res->wcalls / d);
	else
		fprintf(f, ",,");
	if (mem)
		fprintf(f, "%ld,%ld,%ld,%ld,%.2f,", res->before.rss_kb,
		    res->after.rss_kb, res->before.threads, res->after.threads,
		    res->conns_ok > 0 ? (double)(res->after.rss_kb -
		    res->before.rss_kb) / res->conns_ok : 0.0);
	else
		fprintf(f, ",,,,,");
	fprintf(f, "%.1f,%s,", res->gen_cpu_pct, res->status);
	csv_member(f, res);
	if (res->redis0.ok && res->redis1.ok)
		fprintf(f, "%.2f,%.3f,", res->redis1.cpu_s - res->redis0.cpu_s,
		    (res->redis1.cpu_s - res->redis0.cpu_s) /
		    (res->sent > 0 ? (double)res->sent : 1) * 1e6);
	else
		fprintf(f, ",,");
	if (res->rc0.ok && res->rc1.ok && res->rc1.round_trips > res->rc0.round_trips)
		fprintf(f, "%.2f\n", (double)(res->rc1.published -
		    res->rc0.published) / (double)(res->rc1.round_trips -
		    res->rc0.round_trips));
	else
		fprintf(f, "\n");
	fflush(f);
}

/* --- modes that run no scenario --- */

/* Prints a loopback port that was free a moment ago. */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd, rc = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd != -1 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
		printf("%d\n", ntohs(a.sin_port));
		rc = 0;
	} else {
		fprintf(stderr, "groupchat-bench: free port: %s\n",
		    strerror(errno));
	}
	if (fd != -1)
		close(fd);
	return rc;
}

/* Waits up to seconds for the server to answer an HTTP request (any
 * status will do), trying every 50 ms. */
static int
wait_port(const struct bench_opts *o, double seconds)
{
	struct timespec pause = { 0, 50 * 1000000L };
	int64_t deadline = bench_now() + (int64_t)(seconds * BENCH_NS);
	int status;

	do {
		if (bench_http(o, "GET", "/", &status) == 0)
			return 0;
		nanosleep(&pause, NULL);
	} while (bench_now() < deadline);
	fprintf(stderr, "groupchat-bench: no HTTP answer from %s:%d\n",
	    o->host, o->port);
	return 1;
}

static int self_checks;

static int
check(int ok, const char *what, int *failed)
{
	self_checks++;
	if (!ok) {
		fprintf(stderr, "self-test: %s: FAIL\n", what);
		(*failed)++;
	}
	return ok;
}

/* Checks the pieces that must be right for any figure to mean anything:
 * the digest, the accept value, framing both ways, the histogram. */
static int
self_test(void)
{
	static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
	    "upgrade: WebSocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nxy";
	uint8_t digest[20], frame[80000], server[16];
	char hexd[41], acc[BENCH_WS_ACCEPT_LEN + 1], b64[16];
	struct bench_ws_frame f;
	struct bench_hist *h;
	size_t need, n, i;
	int failed = 0, status = 0;

	bench_sha1("abc", 3, digest);
	for (i = 0; i < 20; i++)
		snprintf(hexd + 2 * i, 3, "%02x", digest[i]);
	check(strcmp(hexd, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0,
	    "sha1(abc)", &failed);
	bench_base64((const uint8_t *)"fo", 2, b64);
	check(strcmp(b64, "Zm8=") == 0, "base64(fo)", &failed);
	bench_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc);
	check(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
	    "RFC 6455 accept", &failed);
	check(bench_ws_response(resp, sizeof(resp) - 1, acc, &status) ==
	    (int)sizeof(resp) - 3, "101 response", &failed);
	check(bench_ws_response(resp, 40, acc, &status) == 0,
	    "partial response", &failed);
	check(bench_ws_response("HTTP/1.1 400 Bad Request\r\n\r\n", 28, acc,
	    &status) == -1 && status == 400, "400 response", &failed);
	for (i = 0; i < 3; i++) {
		size_t len = i == 0 ? 5 : i == 1 ? 300 : 70000;
		memset(frame + 20, 'a', len);
		n = bench_ws_frame(frame, BENCH_WS_TEXT, frame + 20, len,
		    0x01020304);
		check(n == len + (i == 0 ? 6 : i == 1 ? 8 : 14) &&
		    (frame[1] & 0x80) &&
		    frame[n - 1] == ('a' ^ (1 + (len - 1) % 4)),
		    "masked frame", &failed);
	}
	server[0] = 0x81;
	server[1] = 126;
	server[2] = 0x01;
	server[3] = 0x00;
	check(bench_ws_parse(server, 4, 1024, &f, &need) == 0 && need == 260,
	    "parse needs more", &failed);
	check(bench_ws_parse(server, 4, 100, &f, &need) == -1,
	    "parse over max", &failed);
	server[0] = 0x89;
	server[1] = 2;
	server[2] = 'h';
	server[3] = 'i';
	check(bench_ws_parse(server, 4, 100, &f, &need) == 4 &&
	    f.opcode == BENCH_WS_PING && f.len == 2, "parse ping", &failed);
	server[1] = 0x82;
	check(bench_ws_parse(server, 4, 100, &f, &need) == -1,
	    "masked server frame", &failed);
	h = calloc(1, sizeof(*h));
	if (h != NULL) {
		for (i = 1; i <= 1000; i++)
			bench_hist_add(h, i * 1000);
		check(bench_hist_quantile(h, 0.5) / 1000 >= 495 &&
		    bench_hist_quantile(h, 0.5) / 1000 <= 505 &&
		    bench_hist_quantile(h, 1.0) == 1000000, "histogram",
		    &failed);
		free(h);
	}
	printf("self-test: %d passed, %d failed\n", self_checks - failed,
	    failed);
	return failed > 0;
}

/* --- command line --- */

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: groupchat-bench [options]\n"
	    "Load generator for groupchat (and the Go server it ports).\n"
	    "Targets loopback only; every run is bounded in count and time.\n"
	    "\n"
	    "  --host ADDR          server address, 127.0.0.0/8 only "
	    "(127.0.0.1)\n"
	    "  --port N[,N...]      server port (8080); a list of cluster "
	    "nodes spreads\n"
	    "                       each group's members over them (member k "
	    "of a group\n"
	    "                       joins node k mod count); groups are made "
	    "on the first\n"
	    "  --pid PID[,PID...]   server process: CPU, RSS, threads from "
	    "/proc/PID,\n"
	    "                       summed over a list; write calls (one PID "
	    "only) from a\n"
	    "                       perf tracepoint counter (root, tracefs "
	    "mounted, a\n"
	    "                       descriptor per server thread)\n"
	    "  --no-write-count     count no write calls: the tracepoint puts "
	    "every system\n"
	    "                       call of the server on the kernel's "
	    "tracing path, which\n"
	    "                       the CPU figures then include\n"
	    "  --redis-pid PID      the cluster's redis-server: its CPU per "
	    "message sent,\n"
	    "                       and messages per publish round trip from "
	    "the nodes'\n"
	    "                       /stats (redis_published, "
	    "redis_round_trips)\n"
	    "  --scenario LIST      comma-separated names, or all (all)\n"
	    "  --duration S         measured seconds per scenario (10)\n"
	    "  --warmup S           unmeasured seconds before (1)\n"
	    "  --drain S            seconds to wait for deliveries after (5)\n"
	    "  --groups G           groups (scenario's)\n"
	    "  --members N          members per group (scenario's)\n"
	    "  --senders N          members per group that send (all)\n"
	    "  --window W           broadcasts in flight per group (64)\n"
	    "  --rate R             messages/s offered in total; 0: as fast "
	    "as the\n"
	    "                       window allows (scenario's)\n"
	    "  --count N            broadcasts per group, then stop "
	    "(scenario's; 0: --duration)\n"
	    "  --size BYTES         payload bytes per message, %d..%d (64)\n"
	    "  --parallel N         handshakes in progress at once "
	    "(scenario's; 128)\n"
	    "  --start-meminfo FILE a copy of /proc/meminfo taken before the "
	    "server\n"
	    "                       started: what it took from the system\n"
	    "  --connect-timeout S  for all members to join (120)\n"
	    "  --label TEXT         a first column naming the server\n"
	    "  --csv FILE           also append CSV rows to FILE (- for "
	    "stdout)\n"
	    "  --no-header          print no table header\n"
	    "  -v, --verbose        progress on stderr\n"
	    "  --free-port          print a free loopback port and exit\n"
	    "  --wait-port S        wait up to S s for the server to answer "
	    "HTTP, then exit\n"
	    "  --self-test          check SHA-1, framing, histogram and exit\n"
	    "  --list               print each scenario's name, groups, members "
	    "per group,\n"
	    "                       members, the member cap to start the "
	    "server with and\n"
	    "                       its table (load or member), and exit\n"
	    "  -h, --help           this text\n"
	    "\nScenarios:\n", BENCH_BODY_MIN, BENCH_SIZE_MAX);
	for (i = 0; i < NSCENARIOS; i++)
		fprintf(f, "  %-12s %s\n", scenarios[i].name,
		    scenarios[i].what);
	fprintf(f,
	    "\nColumns: members joined/wanted and the seconds joining took; "
	    "sent/s and\n"
	    "deliv/s over the measured window; latency from send to arrival "
	    "at each\n"
	    "member (p50, p99, max); lost and out-of-order deliveries (must "
	    "be 0);\n"
	    "server CPU seconds per million deliveries; server write-family "
	    "system calls\n"
	    "(write, writev, send*) per delivery; server RSS and threads "
	    "before joins >\n"
	    "after; RSS per member; the generator's own CPU.\n"
	    "Per-member table: joins per second and handshake times (ms, "
	    "connect to\n"
	    "101) of the joins after each group's first; server RSS and "
	    "threads; the\n"
	    "drop of MemAvailable in MB and per member (less the generator's "
	    "growth);\n"
	    "KernelStack and the server's VmPTE growth in MB; acct: RSS + "
	    "VmPTE +\n"
	    "KernelStack growth per member (start: all of it, in MB); the "
	    "load average.\n"
	    "Exit status: 0 if every scenario is ok, 1 if one failed, 2 on "
	    "bad usage.\n");
}

static int
num(const char *s, double lo, double hi, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || *v < lo || *v > hi) {
		fprintf(stderr, "groupchat-bench: bad number: %s\n", s);
		return -1;
	}
	return 0;
}

enum {
	O_HOST = 256, O_PORT, O_PID, O_REDIS_PID, O_SCENARIO, O_DURATION, O_WARMUP,
	O_DRAIN, O_GROUPS, O_MEMBERS, O_SENDERS, O_WINDOW, O_RATE, O_COUNT,
	O_SIZE, O_PARALLEL, O_CONNECT, O_LABEL, O_CSV, O_NOHEADER, O_NOWRITES, O_FREE,
	O_WAIT, O_SELF, O_LIST, O_START_MEMINFO
};

static const struct option longopts[] = {
	{ "host", required_argument, NULL, O_HOST },
	{ "port", required_argument, NULL, O_PORT },
	{ "pid", required_argument, NULL, O_PID },
	{ "redis-pid", required_argument, NULL, O_REDIS_PID },
	{ "scenario", required_argument, NULL, O_SCENARIO },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "warmup", required_argument, NULL, O_WARMUP },
	{ "drain", required_argument, NULL, O_DRAIN },
	{ "groups", required_argument, NULL, O_GROUPS },
	{ "members", required_argument, NULL, O_MEMBERS },
	{ "senders", required_argument, NULL, O_SENDERS },
	{ "window", required_argument, NULL, O_WINDOW },
	{ "rate", required_argument, NULL, O_RATE },
	{ "count", required_argument, NULL, O_COUNT },
	{ "size", required_argument, NULL, O_SIZE },
	{ "parallel", required_argument, NULL, O_PARALLEL },
	{ "connect-timeout", required_argument, NULL, O_CONNECT },
	{ "label", required_argument, NULL, O_LABEL },
	{ "csv", required_argument, NULL, O_CSV },
	{ "no-header", no_argument, NULL, O_NOHEADER },
	{ "no-write-count", no_argument, NULL, O_NOWRITES },
	{ "verbose", no_argument, NULL, 'v' },
	{ "free-port", no_argument, NULL, O_FREE },
	{ "wait-port", required_argument, NULL, O_WAIT },
	{ "self-test", no_argument, NULL, O_SELF },
	{ "list", no_argument, NULL, O_LIST },
	{ "start-meminfo", required_argument, NULL, O_START_MEMINFO },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* A comma-separated list of at most BENCH_NODES_MAX numbers in 1..max
 * into out; *n gets the count. 0, or -1 with a message. */
static int
num_list(const char *arg, double max, int *out, int *n)
{
	char buf[256], *tok, *save = NULL;
	double v;

	snprintf(buf, sizeof(buf), "%s", arg);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (*n == BENCH_NODES_MAX) {
			fprintf(stderr, "groupchat-bench: at most %d in a "
			    "list: %s\n", BENCH_NODES_MAX, arg);
			return -1;
		}
		if (num(tok, 1, max, &v) == -1)
			return -1;
		out[(*n)++] = (int)v;
	}
	if (*n == 0) {
		fprintf(stderr, "groupchat-bench: an empty list\n");
		return -1;
	}
	return 0;
}

/* Parses argv into *o. Returns -1 to run scenarios, -2 to list them,
 * else an exit status. */
static int
parse_args(int argc, char **argv, struct bench_opts *o, double *wait)
{
	double v;
	int c, mode = -1;

	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		v = 0;
		switch (c) {
		case O_HOST:
			snprintf(o->host, sizeof(o->host), "%s", optarg);
			break;
		case O_PORT:
			if (num_list(optarg, 65535, o->ports, &o->nports) == -1)
				return 2;
			break;
		case O_PID:
			if (num_list(optarg, 1e7, o->pids, &o->npids) == -1)
				return 2;
			break;
		case O_REDIS_PID:
			if (num(optarg, 1, 1e7, &v) == -1)
				return 2;
			o->redis_pid = (int)v;
			break;
		case O_GROUPS:
		case O_MEMBERS:
		case O_SENDERS:
		case O_WINDOW:
		case O_COUNT:
		case O_SIZE:
		case O_PARALLEL:
			if (num(optarg, 0, 1e7, &v) == -1)
				return 2;
			*(c == O_GROUPS ? &o->groups : c == O_MEMBERS ?
			    &o->members : c == O_SENDERS ? &o->senders :
			    c == O_WINDOW ? &o->window : c == O_COUNT ?
			    &o->count : c == O_SIZE ? &o->size :
			    &o->parallel) = (int)v;
			break;
		case O_DURATION:
		case O_WARMUP:
		case O_DRAIN:
		case O_RATE:
		case O_CONNECT:
		case O_WAIT:
			if (num(optarg, 0, 1e7, &v) == -1)
				return 2;
			*(c == O_DURATION ? &o->duration : c == O_WARMUP ?
			    &o->warmup : c == O_DRAIN ? &o->drain :
			    c == O_RATE ? &o->rate : c == O_CONNECT ?
			    &o->connect_timeout : wait) = v;
			if (c == O_WAIT)
				mode = O_WAIT;
			break;
		case O_SCENARIO:
			o->scenario = optarg;
			break;
		case O_LABEL:
			o->label = optarg;
			break;
		case O_CSV:
			o->csv = optarg;
			break;
		case O_START_MEMINFO:
			o->start_meminfo = optarg;
			break;
		case O_NOHEADER:
			o->header = 0;
			break;
		case O_NOWRITES:
			o->write_count = 0;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case O_FREE:
		case O_SELF:
		case O_LIST:
			mode = c;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "groupchat-bench: unexpected argument: %s\n",
		    argv[optind]);
		return 2;
	}
	if (mode == O_FREE)
		return free_port();
	if (mode == O_SELF)
		return self_test();
	if (o->nports == 0)
		o->ports[o->nports++] = 8080;
	o->port = o->ports[0];
	o->pid = o->npids > 0 ? o->pids[0] : 0;
	for (int i = 0; i < o->nports; i++) {
		struct sockaddr_in *a = &o->addrs[i];
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)o->ports[i]);
		if (inet_pton(AF_INET, o->host, &a->sin_addr) != 1 ||
		    (ntohl(a->sin_addr.s_addr) >> 24) != 127) {
			fprintf(stderr, "groupchat-bench: --host must be an "
			    "IPv4 loopback address (127.0.0.0/8)\n");
			return 2;
		}
		if (o->ports[i] < 1) {
			fprintf(stderr, "groupchat-bench: a --port of 0\n");
			return 2;
		}
	}
	o->addr = o->addrs[0];
	if (o->port < 1 || o->port > 65535 || o->window < 1 ||
	    o->size < BENCH_BODY_MIN || o->size > BENCH_SIZE_MAX ||
	    o->parallel < 0 ||
	    o->duration <= 0) {
		fprintf(stderr, "groupchat-bench: need 1 <= --port <= 65535, "
		    "--window >= 1, %d <= --size <= %d, --parallel >= 0, "
		    "--duration > 0\n", BENCH_BODY_MIN, BENCH_SIZE_MAX);
		return 2;
	}
	if (mode == O_WAIT)
		return wait_port(o, *wait);
	return mode == O_LIST ? -2 : -1;
}

static const struct bench_scenario *
scenario_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NSCENARIOS; i++)
		if (strlen(scenarios[i].name) == len &&
		    strncmp(scenarios[i].name, name, len) == 0)
			return &scenarios[i];
	return NULL;
}

/* Fills list with the scenarios named by spec; returns how many, or -1. */
static int
scenario_list(const char *spec, const struct bench_scenario **list)
{
	const char *p = spec, *comma;
	size_t len;
	int n = 0;

	if (strcmp(spec, "all") == 0) {
		for (n = 0; n < (int)NSCENARIOS; n++)
			list[n] = &scenarios[n];
		return n;
	}
	while (*p != '\0') {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n == (int)NSCENARIOS ||
		    (list[n] = scenario_find(p, len)) == NULL) {
			fprintf(stderr, "groupchat-bench: unknown scenario "
			    "(or too many) in: %s\n", spec);
			return -1;
		}
		n++;
		p += len;
		if (*p == ',')
			p++;
	}
	return n;
}

/* Prints "name groups members-per-group members cap table": what a script
 * needs to size the server for the scenario and to head its table. */
static void
list_one(const struct bench_opts *o, const struct bench_scenario *sc)
{
	int g = o->groups > 0 ? o->groups : sc->groups;
	int m = o->members > 0 ? o->members : sc->members;

	printf("%s %d %d %ld %ld %s\n", sc->name, g, m, (long)g * m,
	    sc->max_clients > 0 ? sc->max_clients : (long)g * m + 64,
	    sc->kind == BENCH_LOAD ? "load" : "member");
}

/* Raises the descriptor limit to the hard limit: a member is a socket. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
members_fit(const struct bench_opts *o, const struct bench_scenario *sc)
{
	struct rlimit rl;
	long need;

	need = (long)(o->groups > 0 ? o->groups : sc->groups) *
	    (o->members > 0 ? o->members : sc->members) + 32;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)need > rl.rlim_cur) {
		fprintf(stderr, "groupchat-bench: %s needs %ld descriptors, "
		    "RLIMIT_NOFILE allows %llu\n", sc->name, need,
		    (unsigned long long)rl.rlim_cur);
		return 0;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	const struct bench_scenario *list[NSCENARIOS];
	struct bench_opts o = {
		.host = "127.0.0.1", .port = 8080, .scenario = "all",
		.duration = 10, .warmup = 1, .drain = 5,
		.connect_timeout = 120, .window = 64, .count = -1,
		.rate = -1, .size = 64, .header = 1, .write_count = 1,
	};
	struct bench_result *res;
	FILE *csv = NULL;
	double wait = 0;
	int i, n, rc, member, headed[2] = { 0, 0 }, failed = 0;

	rc = parse_args(argc, argv, &o, &wait);
	if (rc >= 0)
		return rc;
	n = scenario_list(o.scenario, list);
	if (n < 0)
		return 2;
	if (rc == -2) {
		for (i = 0; i < n; i++)
			list_one(&o, list[i]);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (o.csv != NULL) {
		csv = strcmp(o.csv, "-") == 0 ? stdout : fopen(o.csv, "a");
		if (csv == NULL) {
			fprintf(stderr, "groupchat-bench: %s: %s\n", o.csv,
			    strerror(errno));
			return 2;
		}
		if (csv == stdout || ftell(csv) == 0)
			fputs(csv_header, csv);
	}
	res = malloc(sizeof(*res));
	if (res == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		if (!members_fit(&o, list[i]) ||
		    scenario_run(&o, list[i], res) == -1) {
			failed++;
			continue;
		}
		if (strcmp(res->status, "ok") != 0)
			failed++;
		member = list[i]->kind != BENCH_LOAD;
		if (o.header && csv != stdout && !headed[member]) {
			headed[member] = 1;
			(member ? print_member_header : print_header)(&o);
		}
		if (csv != stdout)
			(member ? print_member_row : print_row)(&o, res);
		if (csv != NULL)
			csv_row(csv, &o, res);
	}
	free(res);
	if (csv != NULL && csv != stdout)
		fclose(csv);
	return failed > 0;
}
