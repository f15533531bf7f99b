/*
 * it_process: the groupchat binary as a process: --help and --version,
 * exit status 2 and one line on stderr for a bad or unknown flag,
 * GROUPCHAT_<NAME> environment variables, --port 0, exit status 1 when it
 * cannot listen, and SIGTERM / SIGINT with members connected: every member
 * gets close 1001 "server shutting down" and the process exits 0 within
 * 3 s. Access control: the admin token and join secret from a file or
 * the environment, refused empty or unreadable (exit 2, the value never
 * shown), and "groupchat token" minting tokens the server accepts. A
 * server whose log nobody reads is never blocked by it.
 * The binary is this variant's build/<variant>/groupchat, or
 * $GROUPCHAT_BIN.
 */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/itest.h"
#include "support/test_main.h"

/* protocol.md: shutdown completes within this. */
#define SHUTDOWN_MS 3000
/* The shutdown grace protocol.md names, and room for a loaded machine. */
#define GRACE_MS 1000
#define GRACE_SLACK_MS 500
/* --max-clients for servers we start: CivetWeb starts a worker thread per
 * member slot up front, which is slow under TSan for the default 1000. */
#define SMALL "8"

/* Secrets and tokens of 32 bytes or more, the shortest the server takes. */
#define ENV_TOKEN "from-env-from-env-from-env-from-env"
#define FILE_TOKEN "from-file-from-file-from-file-from"
#define ENV_SECRET "env-secret-env-secret-env-secret-env"
#define FILE_SECRET "file-secret-file-secret-file-secret"

/* Runs the binary to completion; returns the process for its output. */
static struct it_proc *
run(const char *const *args, const char *const *env, int *status)
{
	struct it_proc *p = it_proc_spawn(args, env);

	ck_assert_msg(p != NULL, "cannot spawn the groupchat binary");
	ck_assert_msg(it_proc_wait(p, IT_TIMEOUT_MS, status) == 0,
	    "%s did not exit", args[0] != NULL ? args[0] : "groupchat");
	return p;
}

/* Starts a server and returns the port its start line reports. */
static struct it_proc *
serve(const char *const *args, const char *const *env, int *port)
{
	struct it_proc *p = it_proc_spawn(args, env);

	ck_assert_msg(p != NULL, "cannot spawn the groupchat binary");
	*port = it_proc_port(p, IT_TIMEOUT_MS);
	ck_assert_msg(*port > 0, "no start line with a port; stderr: %s",
	    it_proc_stderr(p));
	return p;
}

/* Exactly one non-empty line. */
static int
one_line(const char *s)
{
	size_t n = strlen(s);

	return n > 1 && s[n - 1] == '\n' && strchr(s, '\n') == s + n - 1;
}

static void
expect_usage_error(const char *const *args, const char *const *env,
    const char *mention)
{
	int status;
	struct it_proc *p = run(args, env, &status);
	const char *err = it_proc_stderr(p);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2,
	    "%s: status %#x, want exit 2", args[0], status);
	ck_assert_msg(one_line(err), "%s: stderr is not one line: \"%s\"", args[0], err);
	ck_assert_msg(strstr(err, mention) != NULL, "%s: stderr \"%s\" does not name %s",
	    args[0], err, mention);
	ck_assert_str_eq(it_proc_stdout(p), "");
	it_proc_free(p);
}

/* A loopback port nothing listens on (it_free_port); none fails the test. */
static int
free_port(void)
{
	int port = it_free_port();

	ck_assert_int_gt(port, 0);
	return port;
}

static void
expect_healthz(int port)
{
	struct it_response r;

	ck_assert_int_eq(it_request(port, "GET", "/healthz", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok\n");
	it_response_free(&r);
}

/* Stops the server with SIGTERM and expects exit status 0; its whole
 * output can then be read. */
static void
stop_keep(struct it_proc *p)
{
	int status;

	ck_assert_int_eq(kill(it_proc_pid(p), SIGTERM), 0);
	ck_assert_msg(it_proc_wait(p, IT_TIMEOUT_MS, &status) == 0, "no exit after SIGTERM");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x after SIGTERM; stderr: %s", status, it_proc_stderr(p));
}

/* stop_keep, then frees the process. */
static void
stop(struct it_proc *p)
{
	stop_keep(p);
	it_proc_free(p);
}

START_TEST(help_exits_0_and_lists_every_flag)
{
	static const char *const flags[] = {
		"--port", "--listen", "--max-clients", "--max-message", "--send-queue",
		"--ping-interval", "--allowed-origins", "--log-level", "--log-format",
		"--help", "--version",
	};
	static const char *const args[] = { "--help", NULL };
	int status;
	struct it_proc *p = run(args, NULL, &status);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		ck_assert_msg(strstr(it_proc_stdout(p), flags[i]) != NULL,
		    "--help does not list %s", flags[i]);
	ck_assert_str_eq(it_proc_stderr(p), "");
	it_proc_free(p);
}
END_TEST

START_TEST(version_exits_0_and_prints_the_version)
{
	static const char *const args[] = { "--version", NULL };
	int status, a, b, c, n = 0;
	struct it_proc *p = run(args, NULL, &status);
	const char *out = it_proc_stdout(p);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	ck_assert_msg(sscanf(out, "groupchat %d.%d.%d\n%n", &a, &b, &c, &n) == 3 &&
	    n == (int)strlen(out), "--version printed \"%s\"", out);
	ck_assert_str_eq(it_proc_stderr(p), "");
	it_proc_free(p);
}
END_TEST

START_TEST(bad_flag_value_exits_2_with_one_line)
{
	static const char *const cases[][3] = {
		{ "--port", "abc", NULL },
		{ "--port", "70000", NULL },
		{ "--port=-1", NULL, NULL },
		{ "--listen", "localhost", NULL },
		{ "--max-clients", "0", NULL },
		{ "--max-message", "1x", NULL },
		{ "--send-queue", "", NULL },
		{ "--ping-interval", "-5", NULL },
		{ "--log-level", "loud", NULL },
		{ "--log-format", "xml", NULL },
		{ "--history", "-1", NULL },
		{ "--history-bytes", "1t", NULL },
		{ "--max-cluster-groups", "0", NULL },
		{ "--redis-sentinel", "127.0.0.1:0", NULL },
		{ "--redis-sentinel", "a:1,,b:2", NULL },
		{ "--redis-master", "my master", NULL },
		{ "--port", NULL, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char flag[32];
		snprintf(flag, sizeof(flag), "%.*s", (int)strcspn(cases[i][0], "="),
		    cases[i][0]);
		expect_usage_error(cases[i], NULL, flag);
	}
}
END_TEST

/* Sentinel mode needs both; each alone is a usage error naming the other. */
START_TEST(redis_sentinel_and_master_go_together)
{
	static const char *const sentinel_only[] = { "--redis-sentinel", "127.0.0.1:1", NULL };
	static const char *const master_only[] = { "--redis-master", "gm", NULL };
	static const char *const port_only[] = { "--port", "0", NULL };
	static const char *const env_only[] = { "GROUPCHAT_REDIS_MASTER=gm", NULL };

	expect_usage_error(sentinel_only, NULL, "--redis-master");
	expect_usage_error(master_only, NULL, "--redis-sentinel");
	expect_usage_error(port_only, env_only, "--redis-sentinel");
}
END_TEST

START_TEST(unknown_flag_exits_2_with_one_line)
{
	static const char *const cases[][3] = {
		{ "--nope", NULL, NULL },
		{ "--port", "0", "--bogus=1" },
		{ "stray", NULL, NULL },
	};

	expect_usage_error(cases[0], NULL, "--nope");
	expect_usage_error(cases[1], NULL, "--bogus");
	expect_usage_error(cases[2], NULL, "stray");
}
END_TEST

START_TEST(env_groupchat_port_is_respected)
{
	static const char *const args[] = { "--listen", "127.0.0.1",
		"--max-clients", SMALL, NULL };
	char var[32];
	const char *env[] = { var, NULL };
	int want = free_port(), port;
	struct it_proc *p;

	snprintf(var, sizeof(var), "GROUPCHAT_PORT=%d", want);
	p = serve(args, env, &port);
	ck_assert_int_eq(port, want);
	expect_healthz(port);
	stop(p);
}
END_TEST

START_TEST(flags_win_over_the_environment)
{
	static const char *const args[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, NULL };
	char var[32];
	const char *env[] = { var, NULL };
	int envport = free_port(), port;
	struct it_proc *p;

	snprintf(var, sizeof(var), "GROUPCHAT_PORT=%d", envport);
	p = serve(args, env, &port);
	ck_assert_int_ne(port, envport);
	expect_healthz(port);
	stop(p);
}
END_TEST

START_TEST(bad_env_value_exits_2_naming_the_variable)
{
	static const char *const args[] = { "--listen", "127.0.0.1", NULL };
	static const char *const env_port[] = { "GROUPCHAT_PORT=eighty", NULL };
	static const char *const env_level[] = { "GROUPCHAT_LOG_LEVEL=chatty", NULL };
	static const char *const env_hist[] = { "GROUPCHAT_HISTORY_BYTES=lots", NULL };

	expect_usage_error(args, env_port, "GROUPCHAT_PORT");
	expect_usage_error(args, env_level, "GROUPCHAT_LOG_LEVEL");
	expect_usage_error(args, env_hist, "GROUPCHAT_HISTORY_BYTES");
}
END_TEST

START_TEST(env_groupchat_max_clients_caps_members)
{
	static const char *const args[] = { "--listen", "127.0.0.1", "--port", "0", NULL };
	static const char *const env[] = { "GROUPCHAT_MAX_CLIENTS=1", NULL };
	struct it_response r;
	struct it_ws *a;
	int port;
	struct it_proc *p = serve(args, env, &port);

	ck_assert_int_eq(it_request(port, "POST", "/create?id=cap", &r), 0);
	ck_assert_int_eq(r.status, 201);
	it_response_free(&r);
	a = it_ws_connect(port, "/groups/cap", NULL, NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_null(it_ws_connect_resp(port, "/groups/cap", NULL, &r));
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "server full\n");
	it_response_free(&r);
	ck_assert_int_eq(it_ws_close(a), 0);
	stop(p);
}
END_TEST

START_TEST(port_0_binds_an_ephemeral_port_and_logs_it)
{
	static const char *const args[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, NULL };
	int port;
	struct it_proc *p = serve(args, NULL, &port);

	ck_assert_int_ne(port, 8080);
	expect_healthz(port);
	stop(p);
}
END_TEST

/* A server logs an event per create and per delete; 1,000 of each
 * (about 150 KB of log, more than a pipe holds) while the test reads
 * none of it must all be answered: the harness captures output in files,
 * so a test that leaves a chatty node unread cannot block it. */
START_TEST(a_chatty_server_is_never_blocked_by_its_unread_log)
{
	static const char *const args[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, NULL };
	struct it_response r;
	char path[64];
	int port;
	struct it_proc *p = serve(args, NULL, &port);

	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "/create?id=chatty-%d", i);
		ck_assert_int_eq(it_request(port, "POST", path, &r), 0);
		ck_assert_int_eq(r.status, 201);
		it_response_free(&r);
		snprintf(path, sizeof(path), "/groups/chatty-%d", i);
		ck_assert_int_eq(it_request(port, "DELETE", path, &r), 0);
		ck_assert_int_eq(r.status, 200);
		it_response_free(&r);
	}
	stop_keep(p);
	ck_assert_ptr_nonnull(strstr(it_proc_stderr(p), "group=chatty-999"));
	it_proc_free(p);
}
END_TEST

START_TEST(port_in_use_exits_1)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), status;
	char port[16];
	const char *args[] = { "--listen", "127.0.0.1", "--port", port,
		"--max-clients", SMALL, NULL };
	struct it_proc *p;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, sizeof(port), "%d", ntohs(sa.sin_port));
	p = run(args, NULL, &status);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "status %#x, want exit 1; stderr: %s", status, it_proc_stderr(p));
	ck_assert_ptr_nonnull(strstr(it_proc_stderr(p), port));
	it_proc_free(p);
	close(fd);
}
END_TEST

/* protocol.md, Lifecycle: on sig every member gets close 1001 "server
 * shutting down", and the process exits 0, within 3 s. */
static void
check_signal_shutdown(int sig)
{
	static const char *const args[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, NULL };
	struct it_ws *ws[3];
	struct it_response r;
	int port, status;
	int64_t t0, deadline;
	struct it_proc *p = serve(args, NULL, &port);

	ck_assert_int_eq(it_request(port, "POST", "/create?id=s", &r), 0);
	ck_assert_int_eq(r.status, 201);
	it_response_free(&r);
	for (int i = 0; i < 3; i++) {
		ws[i] = it_ws_connect(port, "/groups/s", NULL, &status);
		ck_assert_msg(ws[i] != NULL, "member %d: status %d", i, status);
	}
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(it_ws_send_wait(ws[i], "up", ws[(i + 2) % 3], NULL,
		    IT_TIMEOUT_MS), 0);

	t0 = it_now_ms();
	deadline = t0 + SHUTDOWN_MS;
	ck_assert_int_eq(kill(it_proc_pid(p), sig), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(it_ws_expect_close_reason(ws[i], 1001, "server shutting down",
		    it_left_ms(deadline)) == 0,
		    "member %d: no close 1001 \"server shutting down\" then EOF within %d ms",
		    i, SHUTDOWN_MS);
		it_ws_free(ws[i]);
	}
	ck_assert_msg(it_proc_wait(p, it_left_ms(deadline), &status) == 0,
	    "still running %d ms after the signal", SHUTDOWN_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x; stderr: %s", status, it_proc_stderr(p));
	ck_assert_int_le(it_now_ms() - t0, SHUTDOWN_MS);
	it_proc_free(p);
}

START_TEST(sigterm_closes_members_1001_and_exits_0_within_3s)
{
	check_signal_shutdown(SIGTERM);
}
END_TEST

START_TEST(sigint_closes_members_1001_and_exits_0_within_3s)
{
	check_signal_shutdown(SIGINT);
}
END_TEST

/*
 * CivetWeb 1.15 drops a WebSocket whose worker is interrupted by a signal
 * in poll (CivetWeb 1.15: mg_poll returns -1 on EINTR and
 * its reader takes that for a dead connection; fixed in 1.16). Every thread blocks every signal, so stray
 * signals sent to the process and to each of its threads stay pending and
 * harm nobody: the members keep chatting and SIGTERM still stops cleanly.
 */
START_TEST(stray_signals_to_every_thread_drop_no_websocket)
{
	static const char *const args[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, NULL };
	static const int sigs[] = { SIGUSR1, SIGUSR2, SIGHUP, SIGPIPE, SIGALRM, SIGWINCH };
	struct it_ws *a, *b;
	struct it_response r;
	int port, status, threads = 0;
	struct it_proc *p = serve(args, NULL, &port);
	char dir[64];
	DIR *d;
	struct dirent *e;

	ck_assert_int_eq(it_request(port, "POST", "/create?id=sig", &r), 0);
	ck_assert_int_eq(r.status, 201);
	it_response_free(&r);
	a = it_ws_connect(port, "/groups/sig", NULL, &status);
	ck_assert_msg(a != NULL, "a: status %d", status);
	b = it_ws_connect(port, "/groups/sig", NULL, &status);
	ck_assert_msg(b != NULL, "b: status %d", status);
	ck_assert_int_eq(it_ws_send_wait(a, "before", b, NULL, IT_TIMEOUT_MS), 0);

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		ck_assert_int_eq(kill(it_proc_pid(p), sigs[i]), 0);
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)it_proc_pid(p));
	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		int tid = atoi(e->d_name);
		if (tid <= 0)
			continue;
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			syscall(SYS_tgkill, (int)it_proc_pid(p), tid, sigs[i]);
		threads++;
	}
	closedir(d);
	ck_assert_int_gt(threads, 2);

	ck_assert_int_eq(it_ws_send_wait(a, "after", b, NULL, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(it_ws_send_wait(b, "still", a, NULL, IT_TIMEOUT_MS), 0);
	it_ws_free(a);
	it_ws_free(b);
	stop(p);
}
END_TEST

/* A flag wins over its variable even when the variable is bad; a bad
 * variable no flag overrides still fails start-up with exit 2. */
START_TEST(a_flag_wins_over_a_bad_variable_for_its_setting)
{
	static const char *const args[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients=" SMALL, NULL };
	static const char *const env[] = { "GROUPCHAT_PORT=eighty",
		"GROUPCHAT_MAX_CLIENTS=lots", NULL };
	static const char *const env_bad[] = { "GROUPCHAT_PORT=eighty",
		"GROUPCHAT_LOG_LEVEL=chatty", NULL };
	int port;
	struct it_proc *p = serve(args, env, &port);

	expect_healthz(port);
	stop(p);
	expect_usage_error(args, env_bad, "GROUPCHAT_LOG_LEVEL");
}
END_TEST

/* protocol.md, Lifecycle: a member that never answers its 1001 keeps its
 * connection at most about 1 s (CivetWeb's read loop wakes once a second
 * to see the close), and the process exits right after. */
START_TEST(a_member_that_never_answers_is_gone_within_1s_of_the_signal)
{
	static const char *const args[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, NULL };
	struct it_response r;
	struct it_ws *ws;
	int port, status;
	int64_t t0;
	struct it_proc *p = serve(args, NULL, &port);

	ck_assert_int_eq(it_request(port, "POST", "/create?id=mute", &r), 0);
	ck_assert_int_eq(r.status, 201);
	it_response_free(&r);
	ws = it_ws_connect(port, "/groups/mute", NULL, &status);
	ck_assert_ptr_nonnull(ws);
	t0 = it_now_ms();
	ck_assert_int_eq(kill(it_proc_pid(p), SIGTERM), 0);
	/* Reads the 1001 without answering it, then waits for EOF. */
	ck_assert_int_eq(it_ws_expect_close(ws, 1001, SHUTDOWN_MS), 0);
	ck_assert_msg(it_now_ms() - t0 <= GRACE_MS + GRACE_SLACK_MS,
	    "member kept %lld ms", (long long)(it_now_ms() - t0));
	it_ws_free(ws);
	ck_assert_int_eq(it_proc_wait(p, SHUTDOWN_MS, &status), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	ck_assert_msg(it_now_ms() - t0 <= GRACE_MS + GRACE_SLACK_MS,
	    "exited %lld ms after the signal", (long long)(it_now_ms() - t0));
	it_proc_free(p);
}
END_TEST

/* ---- access control: secrets from files and the environment ----------- */

/* A temporary file holding len bytes of data; its path goes into path. */
static void
temp_file(char *path, size_t plen, const char *data)
{
	FILE *f;
	int fd;

	snprintf(path, plen, "/tmp/it_process_secret_XXXXXX");
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	ck_assert_int_ge(fputs(data, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* POST /create?id=id with an optional bearer token; returns the status. */
static int
create_with(int port, const char *id, const char *bearer)
{
	char req[512];
	struct it_response r;
	int status;

	snprintf(req, sizeof(req), "POST /create?id=%s HTTP/1.1\r\nHost: x\r\n"
	    "%s%s%sConnection: close\r\n\r\n", id, bearer ? "Authorization: Bearer " : "",
	    bearer ? bearer : "", bearer ? "\r\n" : "");
	ck_assert_int_eq(it_http(port, req, &r, IT_TIMEOUT_MS), 0);
	status = r.status;
	it_response_free(&r);
	return status;
}

START_TEST(bad_secrets_exit_2_without_showing_them)
{
	char empty[64], path[64];
	const char *missing = "/nonexistent/groupchat-secret";

	temp_file(empty, sizeof(empty), "\n");
	temp_file(path, sizeof(path), "two words\n");
	const char *const a1[] = { "--admin-token-file", missing, NULL };
	const char *const a2[] = { "--join-secret-file", missing, NULL };
	const char *const a3[] = { "--admin-token-file", empty, NULL };
	const char *const a4[] = { "--join-secret-file", empty, NULL };
	const char *const a5[] = { "--admin-token-file", path, NULL };
	const char *const a6[] = { "--admin-token-file", NULL };
	const char *const none[] = { "--listen", "127.0.0.1", NULL };
	const char *const e1[] = { "GROUPCHAT_ADMIN_TOKEN=", NULL };
	const char *const e2[] = { "GROUPCHAT_JOIN_SECRET=", NULL };
	const char *const e3[] = { "GROUPCHAT_ADMIN_TOKEN=two words", NULL };

	expect_usage_error(a1, NULL, "cannot read");
	expect_usage_error(a2, NULL, "--join-secret-file");
	expect_usage_error(a3, NULL, "empty");
	expect_usage_error(a4, NULL, "empty");
	expect_usage_error(a5, NULL, "--admin-token-file");
	expect_usage_error(a6, NULL, "--admin-token-file");
	expect_usage_error(none, e1, "GROUPCHAT_ADMIN_TOKEN");
	expect_usage_error(none, e2, "GROUPCHAT_JOIN_SECRET");
	expect_usage_error(none, e3, "GROUPCHAT_ADMIN_TOKEN");
	/* The refused value is never echoed. */
	int status;
	struct it_proc *p = run(none, e3, &status);
	ck_assert_ptr_null(strstr(it_proc_stderr(p), "two words"));
	it_proc_free(p);
	p = run(a5, NULL, &status);
	ck_assert_ptr_null(strstr(it_proc_stderr(p), "two words"));
	it_proc_free(p);
	unlink(empty);
	unlink(path);
}
END_TEST

/* A join secret alone leaves create and delete open to anyone (and "id
 * already exists" tells anyone which groups do): the server refuses it
 * unless --open-control-plane says so. Short secrets and tokens too. */
START_TEST(join_secret_without_admin_token_needs_open_control_plane)
{
	char secret[64], shortf[64];
	static const char *const env[] = { "GROUPCHAT_JOIN_SECRET=" ENV_SECRET, NULL };
	static const char *const env_open[] = { "GROUPCHAT_JOIN_SECRET=" ENV_SECRET,
		"GROUPCHAT_OPEN_CONTROL_PLANE=1", NULL };
	static const char *const env_short[] = {
		"GROUPCHAT_ADMIN_TOKEN=0123456789012345678901234567890", NULL };
	const char *const by_file[] = { "--listen", "127.0.0.1", "--join-secret-file", secret, NULL };
	const char *const by_env[] = { "--listen", "127.0.0.1", NULL };
	const char *const open_flag[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, "--join-secret-file", secret, "--open-control-plane", NULL };
	const char *const open_env[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, NULL };
	const char *const short_secret[] = { "--join-secret-file", shortf,
		"--open-control-plane", NULL };
	const char *const bad_bool[] = { "--open-control-plane=maybe", NULL };
	struct it_proc *p;
	int port;

	temp_file(secret, sizeof(secret), FILE_SECRET "\n");
	temp_file(shortf, sizeof(shortf), "0123456789012345678901234567890\n");
	expect_usage_error(by_file, NULL, "--open-control-plane");
	expect_usage_error(by_file, NULL, "--admin-token-file");
	expect_usage_error(by_env, env, "--open-control-plane");
	expect_usage_error(short_secret, NULL, "shorter than 32 bytes");
	expect_usage_error(by_env, env_short, "shorter than 32 bytes");
	expect_usage_error(bad_bool, NULL, "--open-control-plane");
	/* Said explicitly, by flag or variable: the server starts, and the
	 * control plane is open while joins need a token. */
	p = serve(open_flag, NULL, &port);
	ck_assert_int_eq(create_with(port, "a", NULL), 201);
	stop(p);
	p = serve(open_env, env_open, &port);
	ck_assert_int_eq(create_with(port, "a", NULL), 201);
	stop(p);
	unlink(secret);
	unlink(shortf);
}
END_TEST

START_TEST(admin_token_from_the_environment_or_a_file)
{
	char file[64];
	static const char *const env[] = { "GROUPCHAT_ADMIN_TOKEN=" ENV_TOKEN, NULL };
	const char *args[] = { "--listen", "127.0.0.1", "--port", "0", "--max-clients", SMALL,
		"--log-level", "debug", NULL, NULL, NULL };
	struct it_proc *p;
	int port;

	p = serve(args, env, &port);
	ck_assert_int_eq(create_with(port, "a", NULL), 401);
	ck_assert_int_eq(create_with(port, "a", "nope"), 401);
	ck_assert_int_eq(create_with(port, "a", ENV_TOKEN), 201);
	expect_healthz(port);
	stop_keep(p);
	ck_assert_ptr_nonnull(strstr(it_proc_stderr(p), "auth_refused"));
	ck_assert_ptr_null(strstr(it_proc_stderr(p), ENV_TOKEN));
	ck_assert_ptr_null(strstr(it_proc_stderr(p), "nope"));
	it_proc_free(p);

	/* The flag wins over the variable; one trailing newline is trimmed. */
	temp_file(file, sizeof(file), FILE_TOKEN "\n");
	args[8] = "--admin-token-file";
	args[9] = file;
	p = serve(args, env, &port);
	ck_assert_int_eq(create_with(port, "a", ENV_TOKEN), 401);
	ck_assert_int_eq(create_with(port, "a", FILE_TOKEN), 201);
	stop_keep(p);
	ck_assert_ptr_null(strstr(it_proc_stderr(p), FILE_TOKEN));
	it_proc_free(p);
	unlink(file);
}
END_TEST

/* The NUL-separated /proc/PID/cmdline of p, its NULs made spaces. */
static void
cmdline(struct it_proc *p, char *out, size_t len)
{
	char path[64];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)it_proc_pid(p));
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = fread(out, 1, len - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	out[n] = '\0';
}

/* A Redis password on the command line leaves argv (what every user sees
 * in /proc/PID/cmdline) at start-up, and the server warns; given in the
 * variable, it is never in argv and there is no warning. Nothing need
 * listen on the Redis port: a node starts without Redis. */
START_TEST(a_redis_password_on_the_command_line_is_masked_with_a_warning)
{
	char url[128], redis_env[128], line[1024];
	const char *args[] = { "--listen", "127.0.0.1", "--port", "0", "--max-clients", SMALL,
		"--redis", url, NULL };
	const char *const by_env[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, NULL };
	const char *env[] = { redis_env, "GROUPCHAT_REDIS_PASSWORD=hunter2-in-env", NULL };
	int rport = free_port(), port;
	struct it_proc *p;

	snprintf(url, sizeof(url), "redis://:hunter2-on-argv@127.0.0.1:%d", rport);
	p = serve(args, NULL, &port);
	cmdline(p, line, sizeof(line));
	ck_assert_msg(strstr(line, "hunter2") == NULL, "cmdline: %s", line);
	snprintf(url, sizeof(url), "redis://:%s@127.0.0.1:%d", "***************", rport);
	ck_assert_msg(strstr(line, url) != NULL, "cmdline: %s", line);
	stop_keep(p);
	ck_assert_ptr_nonnull(strstr(it_proc_stderr(p), "redis_password_on_command_line"));
	ck_assert_ptr_null(strstr(it_proc_stderr(p), "hunter2"));
	it_proc_free(p);

	snprintf(redis_env, sizeof(redis_env), "GROUPCHAT_REDIS=redis://127.0.0.1:%d", rport);
	p = serve(by_env, env, &port);
	stop_keep(p);
	ck_assert_ptr_null(strstr(it_proc_stderr(p), "redis_password_on_command_line"));
	ck_assert_ptr_null(strstr(it_proc_stderr(p), "hunter2"));
	it_proc_free(p);
}
END_TEST

/* POST /create?id=x with a wrong token and X-Forwarded-For xff: 401. */
static void
refused_create_from(int port, const char *xff)
{
	char req[512];
	struct it_response r;

	snprintf(req, sizeof(req), "POST /create?id=x HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer nope\r\nX-Forwarded-For: %s\r\n"
	    "Connection: close\r\n\r\n", xff);
	ck_assert_int_eq(it_http(port, req, &r, IT_TIMEOUT_MS), 0);
	ck_assert_int_eq(r.status, 401);
	it_response_free(&r);
}

/* The log has a line for event with addr=addr. */
static void
logged_with(const char *log, const char *event, const char *addr)
{
	const char *l = strstr(log, event);
	char want[64];

	snprintf(want, sizeof(want), "addr=%s", addr);
	ck_assert_msg(l != NULL && strstr(l, want) != NULL &&
	    strstr(l, want) < l + strcspn(l, "\n"), "no %s with %s: %s", event, want, log);
}

/* auth_refused, join_refused and protocol_error name the client's
 * address: what a proxy of --trusted-proxies reports, else the peer. */
static void
refusals_logged_from(const char *trusted, const char *want[3])
{
	static const char *const env[] = { "GROUPCHAT_ADMIN_TOKEN=" ENV_TOKEN, NULL };
	static const struct it_frame_spec orphan = { 1, 0, IT_OP_CONT, 1, -1, "orphan", 6 };
	const char *args[] = { "--listen", "127.0.0.1", "--port", "0", "--max-clients", "1",
		trusted != NULL ? "--trusted-proxies" : NULL, trusted, NULL };
	struct it_proc *p;
	struct it_ws *m;
	int port, status;

	p = serve(args, env, &port);
	refused_create_from(port, "6.6.6.6, 198.51.100.7");
	ck_assert_int_eq(create_with(port, "room", ENV_TOKEN), 201);
	m = it_ws_connect(port, "/groups/room", "X-Forwarded-For: 198.51.100.8\r\n", NULL);
	ck_assert_ptr_nonnull(m);
	/* A second client and a second X-Forwarded-For line: a proxy that
	 * adds its own line after the client's. */
	ck_assert_ptr_null(it_ws_connect(port, "/groups/room",
	    "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 198.51.100.9\r\n", &status));
	ck_assert_int_eq(status, 503);
	ck_assert_int_eq(it_ws_send_frame(m, &orphan), 0);
	ck_assert_int_eq(it_ws_expect_close(m, 1002, IT_TIMEOUT_MS), 0);
	it_ws_free(m);
	stop_keep(p);
	logged_with(it_proc_stderr(p), "auth_refused", want[0]);
	logged_with(it_proc_stderr(p), "join_refused", want[1]);
	logged_with(it_proc_stderr(p), "protocol_error", want[2]);
	ck_assert_ptr_null(strstr(it_proc_stderr(p), "6.6.6.6"));
	it_proc_free(p);
}

START_TEST(refusals_name_the_client_address)
{
	const char *from_proxy[] = { "198.51.100.7", "198.51.100.9", "198.51.100.8" };
	const char *peer[] = { "127.0.0.1", "127.0.0.1", "127.0.0.1" };
	static const char *const bad[] = { "--trusted-proxies", "127.0.0.1/33", NULL };

	refusals_logged_from("10.0.0.0/8, 127.0.0.1", from_proxy);
	refusals_logged_from(NULL, peer);
	/* A proxy that is not the peer is not believed. */
	refusals_logged_from("10.0.0.0/8", peer);
	expect_usage_error(bad, NULL, "--trusted-proxies");
}
END_TEST

/* Runs "groupchat token args..." and returns its one line of output,
 * malloc'd and without the newline. */
static char *
mint(const char *const *args, const char *const *env)
{
	int status;
	struct it_proc *p = run(args, env, &status);
	const char *out = it_proc_stdout(p);
	char *tok;

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "token: status %#x; stderr: %s", status, it_proc_stderr(p));
	ck_assert_msg(one_line(out), "token printed \"%s\"", out);
	ck_assert_str_eq(it_proc_stderr(p), "");
	tok = strndup(out, strlen(out) - 1);
	it_proc_free(p);
	return tok;
}

START_TEST(token_subcommand_round_trip)
{
	char file[64], path[4200];
	static const char *const env[] = { "GROUPCHAT_JOIN_SECRET=" ENV_SECRET, NULL };
	const char *const serve_file[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, "--join-secret-file", file, "--open-control-plane", NULL };
	const char *const serve_env[] = { "--listen", "127.0.0.1", "--port", "0",
		"--max-clients", SMALL, "--open-control-plane", NULL };
	const char *const mint_file[] = { "token", "--group", "room", "--ttl", "10m",
		"--join-secret-file", file, NULL };
	const char *const mint_env[] = { "token", "--group=room", NULL };
	const char *const mint_other[] = { "token", "--group", "other", "--ttl", "60",
		"--join-secret-file", file, NULL };
	struct it_proc *p;
	struct it_ws *ws;
	char *t1, *t2, *t3;
	int port, status;

	temp_file(file, sizeof(file), FILE_SECRET "\n");
	t1 = mint(mint_file, NULL);
	t2 = mint(mint_env, env);
	t3 = mint(mint_other, NULL);

	p = serve(serve_file, NULL, &port);
	ck_assert_int_eq(create_with(port, "room", NULL), 201);
	snprintf(path, sizeof(path), "/groups/room?token=%s", t1);
	ws = it_ws_connect(port, path, NULL, NULL);
	ck_assert_msg(ws != NULL, "a minted token did not join");
	ck_assert_int_eq(it_ws_close(ws), 0);
	snprintf(path, sizeof(path), "/groups/room?token=%s", t2);
	ck_assert_ptr_null(it_ws_connect(port, path, NULL, &status));
	ck_assert_int_eq(status, 401);
	snprintf(path, sizeof(path), "/groups/room?token=%s", t3);
	ck_assert_ptr_null(it_ws_connect(port, path, NULL, &status));
	ck_assert_int_eq(status, 401);
	stop_keep(p);
	ck_assert_ptr_nonnull(strstr(it_proc_stderr(p), "reason=other_group"));
	ck_assert_ptr_null(strstr(it_proc_stderr(p), FILE_SECRET));
	ck_assert_ptr_null(strstr(it_proc_stderr(p), t1));
	it_proc_free(p);

	p = serve(serve_env, env, &port);
	ck_assert_int_eq(create_with(port, "room", NULL), 201);
	snprintf(path, sizeof(path), "/groups/room?token=%s", t2);
	ws = it_ws_connect(port, path, NULL, NULL);
	ck_assert_msg(ws != NULL, "a token minted from the environment did not join");
	ck_assert_int_eq(it_ws_close(ws), 0);
	stop(p);
	free(t1);
	free(t2);
	free(t3);
	unlink(file);
}
END_TEST

START_TEST(token_subcommand_errors_exit_2)
{
	static const char *const env[] = { "GROUPCHAT_JOIN_SECRET=" ENV_SECRET, NULL };
	static const char *const no_group[] = { "token", "--ttl", "1h", NULL };
	static const char *const bad_ttl[] = { "token", "--group", "g", "--ttl", "1w", NULL };
	static const char *const zero_ttl[] = { "token", "--group", "g", "--ttl", "0", NULL };
	static const char *const no_secret[] = { "token", "--group", "g", NULL };
	static const char *const bad_file[] = { "token", "--group", "g",
		"--join-secret-file", "/nonexistent/secret", NULL };
	static const char *const stray[] = { "token", "--group", "g", "--port", "1", NULL };
	static const char *const help[] = { "token", "--help", NULL };
	int status;
	struct it_proc *p;

	expect_usage_error(no_group, env, "--group");
	expect_usage_error(bad_ttl, env, "--ttl");
	expect_usage_error(zero_ttl, env, "--ttl");
	expect_usage_error(no_secret, NULL, "GROUPCHAT_JOIN_SECRET");
	expect_usage_error(bad_file, env, "cannot read");
	expect_usage_error(stray, env, "--port");
	p = run(help, NULL, &status);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_ptr_nonnull(strstr(it_proc_stdout(p), "--ttl"));
	it_proc_free(p);
}
END_TEST

static Suite *
process_suite(void)
{
	Suite *s = suite_create("it_process");
	TCase *tc = tcase_create("process");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, help_exits_0_and_lists_every_flag);
	tcase_add_test(tc, version_exits_0_and_prints_the_version);
	tcase_add_test(tc, bad_flag_value_exits_2_with_one_line);
	tcase_add_test(tc, unknown_flag_exits_2_with_one_line);
	tcase_add_test(tc, redis_sentinel_and_master_go_together);
	tcase_add_test(tc, env_groupchat_port_is_respected);
	tcase_add_test(tc, flags_win_over_the_environment);
	tcase_add_test(tc, bad_env_value_exits_2_naming_the_variable);
	tcase_add_test(tc, env_groupchat_max_clients_caps_members);
	tcase_add_test(tc, port_0_binds_an_ephemeral_port_and_logs_it);
	tcase_add_test(tc, a_chatty_server_is_never_blocked_by_its_unread_log);
	tcase_add_test(tc, port_in_use_exits_1);
	tcase_add_test(tc, sigterm_closes_members_1001_and_exits_0_within_3s);
	tcase_add_test(tc, sigint_closes_members_1001_and_exits_0_within_3s);
	tcase_add_test(tc, stray_signals_to_every_thread_drop_no_websocket);
	tcase_add_test(tc, a_flag_wins_over_a_bad_variable_for_its_setting);
	tcase_add_test(tc, a_member_that_never_answers_is_gone_within_1s_of_the_signal);
	tcase_add_test(tc, bad_secrets_exit_2_without_showing_them);
	tcase_add_test(tc, join_secret_without_admin_token_needs_open_control_plane);
	tcase_add_test(tc, admin_token_from_the_environment_or_a_file);
	tcase_add_test(tc, refusals_name_the_client_address);
	tcase_add_test(tc, a_redis_password_on_the_command_line_is_masked_with_a_warning);
	tcase_add_test(tc, token_subcommand_round_trip);
	tcase_add_test(tc, token_subcommand_errors_exit_2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run(process_suite());
}
