/*
 * bench.h: the modules of groupchat-bench. sha1.c and ws.c: SHA-1, base64
 * and WebSocket framing (masked client frames out, unmasked server frames
 * in); hist.c: the latency histogram; proc.c and syscount.c: what the
 * server under test costs; load.c: the event loop that runs a scenario and
 * owns every socket and counter; groupchat-bench.c: the command line, the
 * scenario table and the report.
 */
#ifndef GROUPCHAT_BENCH_H
#define GROUPCHAT_BENCH_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* A base64 Sec-WebSocket-Key is 24 characters, its Accept 28. */
#define BENCH_WS_KEY_LEN	24
#define BENCH_WS_ACCEPT_LEN	28
/* Bytes a client frame header can take: 2 + 8 length + 4 mask. */
#define BENCH_WS_HEADER_MAX	14

#define BENCH_WS_CONT	0x0
#define BENCH_WS_TEXT	0x1
#define BENCH_WS_BINARY	0x2
#define BENCH_WS_CLOSE	0x8
#define BENCH_WS_PING	0x9
#define BENCH_WS_PONG	0xa

/* One frame found in the input by bench_ws_parse; payload points into it. */
struct bench_ws_frame {
	int		 fin;
	int		 opcode;
	const uint8_t	*payload;
	size_t		 len;
};

/* Writes the SHA-1 digest of data into out. Never fails. */
void	bench_sha1(const void *data, size_t len, uint8_t out[20]);

/* Base64-encodes len bytes into out (4 * ceil(len / 3) + 1 bytes, NUL
 * terminated) and returns the encoded length. */
size_t	bench_base64(const uint8_t *in, size_t len, char *out);

/* Computes the Sec-WebSocket-Accept value the server must answer to key. */
void	bench_ws_accept(const char key[BENCH_WS_KEY_LEN + 1],
	    char accept[BENCH_WS_ACCEPT_LEN + 1]);

/* Formats the upgrade request for path into buf; returns its length, or -1
 * if it does not fit in cap bytes. */
int	bench_ws_request(char *buf, size_t cap, const char *host, int port,
	    const char *path, const char *key);

/* Checks a server's answer to the upgrade request against the expected
 * accept value. Returns the length of the response head when it is complete
 * and a valid 101 with that accept value, 0 while the head is incomplete,
 * -1 if it is not a valid upgrade; *status gets the HTTP status once known. */
int	bench_ws_response(const char *buf, size_t len, const char *accept,
	    int *status);

/* Writes one masked, final client frame of opcode with payload into out,
 * which must hold len + BENCH_WS_HEADER_MAX bytes; returns the frame size. */
size_t	bench_ws_frame(uint8_t *out, int opcode, const void *payload,
	    size_t len, uint32_t mask);

/* Parses one server frame at the start of buf. Returns the bytes it spans
 * once it is all there (filling *f), 0 while more input is needed (then
 * *need is the total frame size when known, else 14), or -1 on a protocol
 * error: a masked frame, reserved bits, an unknown opcode, a fragmented or
 * oversized control frame, a length beyond max. */
long	bench_ws_parse(const uint8_t *buf, size_t len, size_t max,
	    struct bench_ws_frame *f, size_t *need);

/* Log-linear buckets: exact below 128 ns, then 64 per power of two (1.6 %
 * resolution) up to 2^64 ns. */
#define BENCH_HIST_BUCKETS	(128 + 57 * 64)

struct bench_hist {
	uint64_t	count;
	uint64_t	max;
	uint64_t	bucket[BENCH_HIST_BUCKETS];
};

/* Records one latency of ns nanoseconds. */
void	bench_hist_add(struct bench_hist *h, uint64_t ns);

/* Returns the q-quantile (0 <= q <= 1) in ns, the middle of its bucket
 * capped at the maximum; 0 for an empty histogram. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

/* What /proc says about one process at one moment. */
struct bench_proc {
	int		ok;		/* stat and status were read */
	int		io_ok;		/* io was read (needs privilege) */
	double		cpu_s;		/* utime + stime, seconds */
	long		rss_kb;
	long		threads;
	long long	syscw;		/* write-family system calls */
	long		pte_kb;		/* VmPTE: its page tables */
};

/* Samples /proc/pid/{stat,status,io} into *s. Returns 0, or -1 with errno
 * if the process cannot be read (io alone failing only clears io_ok). */
int	bench_proc_sample(int pid, struct bench_proc *s);

/* What /proc/meminfo says about the whole system at one moment, in kB. */
struct bench_mem {
	int	ok;
	long	avail_kb;	/* MemAvailable */
	long	kstack_kb;	/* KernelStack: every thread's kernel stack */
	long	pte_kb;		/* PageTables */
};

/* Reads /proc/meminfo, or a copy of it saved at path when path is not
 * NULL, into *m. Returns 0, or -1 with errno if it cannot be read or lacks
 * a field. */
int	bench_mem_sample(const char *path, struct bench_mem *m);

/* The 1-minute load average from /proc/loadavg, or -1. */
double	bench_loadavg(void);

/* Counters of the server's write-family system calls, one per thread. */
struct bench_sys {
	int	*fd;
	int	 n;
};

/* Opens a counter of write, writev, pwrite*, sendto, sendmsg and sendmmsg
 * calls on every thread of pid, inherited by threads they create, using at
 * most maxfd descriptors. Returns 0, or -1 with errno: ENOENT if tracefs is
 * not mounted, EMFILE if pid has more threads than maxfd, EACCES or EPERM
 * without privilege. */
int	bench_sys_attach(struct bench_sys *s, int pid, int maxfd);

/* The calls counted since bench_sys_attach, or -1 if none is attached. */
long long bench_sys_read(const struct bench_sys *s);

/* Closes the counters. */
void	bench_sys_detach(struct bench_sys *s);

/* Nanoseconds in a second; every clock here is CLOCK_MONOTONIC in ns. */
#define BENCH_NS	1000000000LL
/* A message body: type, sender, sequence, group message number, send
 * time, in hex; padding brings it to --size. */
#define BENCH_BODY_MIN	(1 + 8 + 8 + 8 + 16)
#define BENCH_SIZE_MAX	65536

/* What a scenario measures. LOAD sends messages and reports deliveries;
 * the others report what members cost. JOIN connects every member (the
 * join storm) and reports handshake times and memory; IDLE does the same,
 * then lets the members sit for --duration before sampling memory; CHURN
 * keeps each group's first member and cycles the others through join and
 * leave, count cycles per phase, two phases; START joins nobody and
 * samples the server as it started. */
enum bench_kind { BENCH_LOAD, BENCH_JOIN, BENCH_IDLE, BENCH_CHURN,
	BENCH_START };

struct bench_scenario {
	const char	*name;
	const char	*what;
	int		 groups;
	int		 members;	/* per group */
	double		 rate;		/* messages/s; 0: windowed */
	int		 count;		/* per group (CHURN: cycles per phase);
					 * 0: --duration */
	enum bench_kind	 kind;
	int		 parallel;	/* handshakes at once; 0: --parallel */
	long		 max_clients;	/* the server cap run.sh sets; 0:
					 * members + 64 */
};

/* The command line: a scenario's own numbers apply where these are 0
 * (groups, members, senders) or negative (count, rate). */
/* Nodes of a cluster one run can spread members over. */
#define BENCH_NODES_MAX	8

struct bench_opts {
	char			 host[64];
	struct sockaddr_in	 addr;		/* addrs[0]: groups, checks */
	int			 port;		/* ports[0] */
	int			 pid;		/* pids[0] */
	/* --port and --pid lists: member k of a group joins through
	 * node k % nports; CPU and memory are summed over the pids. */
	int			 nports, npids;
	int			 ports[BENCH_NODES_MAX];
	struct sockaddr_in	 addrs[BENCH_NODES_MAX];
	int			 pids[BENCH_NODES_MAX];
	int			 redis_pid;	/* 0: none */
	const char		*scenario;
	double			 duration, warmup, drain, connect_timeout;
	int			 groups, members, senders, window, count;
	int			 size, parallel;
	double			 rate;
	const char		*csv;
	const char		*label;
	const char		*start_meminfo;	/* before the server started */
	int			 header, verbose;
	int			 write_count;	/* 0: --no-write-count */
};

/* What the members counted during one scenario. */
struct bench_tally {
	uint64_t	sent, sent_window;
	uint64_t	expected, delivered, delivered_window;
	uint64_t	ooo, dup, bad;
	uint64_t	closed, connect_failed, unjoined, protocol;
	int		last_close, last_status;
	int64_t		lag_max;	/* --rate: worst lateness of a send, ns */
};

/* The publisher counters cluster nodes report in /stats, summed. */
struct bench_redis_counts {
	int		ok;
	long long	published, round_trips;
};

/* One row of the report. */
struct bench_result {
	const struct bench_scenario	*sc;
	int				 groups, per, conns_ok, conns_want;
	double				 rate, connect_s, window_s;
	double				 gen_cpu_pct;
	uint64_t			 sent, delivered, lost, p50, p99, max;
	/* before creating groups, after joining, window start and end */
	struct bench_proc		 before, after, m0, m1;
	long long			 wcalls;	/* -1: unknown */
	/* Redis (--redis-pid) at the window's start and end. */
	struct bench_proc		 redis0, redis1;
	/* The nodes' publisher counters at the same two moments. */
	struct bench_redis_counts	 rc0, rc1;
	struct bench_tally		 t;
	char				 status[64];
	/* Per-member cost. The joins after each group's first member: how
	 * many, and from the first connect to the last handshake done;
	 * handshake times from connect to the whole 101 read (every cycle's
	 * in CHURN). */
	int				 stormed;
	double				 storm_s;
	uint64_t			 hs_p50, hs_p99, hs_max;
	/* The system before the server started (start_meminfo), before the
	 * groups were created and after the joins (IDLE: after idling). */
	struct bench_mem		 sys_start, sys_before, sys_after;
	/* The generator itself at the same two moments. */
	struct bench_proc		 gen_before, gen_after;
	/* CHURN: the server after the first and the second phase. */
	struct bench_proc		 churn1, churn2;
	double				 load1;	/* at the start */
};

/* The monotonic clock in ns. */
int64_t	bench_now(void);

/* Sends "METHOD target" to the server with Connection: close, reads the
 * answer to EOF and puts its status in *status. Blocks at most 5 s per
 * system call. Returns 0, or -1 with errno. */
int	bench_http(const struct bench_opts *o, const char *method,
	    const char *target, int *status);

/* bench_http against node (an index into o->ports), keeping the whole
 * response, NUL-terminated, in body (cap bytes) unless body is NULL. */
int	bench_http_at(const struct bench_opts *o, int node, const char *method,
	    const char *target, int *status, char *body, size_t cap);

/* Runs one scenario against the server: create its groups, join every
 * member, warm up, measure, drain, close, delete the groups. Blocks for
 * the scenario's length; an alarm ends the process if it overruns its
 * budget. Fills *res (status "ok" or "FAIL:reasons") and returns 0, or -1
 * if the scenario could not be set up at all. */
int	bench_run(const struct bench_opts *o, const struct bench_scenario *sc,
	    struct bench_result *res);

/* The "stall" scenario: sc->members members that never read (4 KiB receive
 * buffers) and one sender of sc->count 1 MiB messages; before is the
 * server's RSS once all have joined, after its peak within 3 s of the last
 * message. Status "FAIL:rss" past 40 MB of growth. Returns 0. */
int	bench_run_stall(const struct bench_opts *o,
	    const struct bench_scenario *sc, struct bench_result *res);

#endif
