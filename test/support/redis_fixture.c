/*
 * redis_fixture: one redis-server child per fixture. pid is the running
 * child or 0; logfd is the file (memfd) its stdout and stderr go to,
 * which never blocks the server however long the test leaves it unread (a
 * pipe did, once it held 64 KiB); dir is the server's working directory,
 * where a SAVE writes dump.rdb, an --appendonly yes server its
 * appendonlydir/ (or a sentinel keeps its configuration file), made at
 * start and removed at stop. Only the test thread that made the fixture
 * touches it.
 */
#include "redis_fixture.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

struct redis_fixture {
	pid_t pid;
	int logfd;
	int port;
	char password[128]; /* "" when none */
	char dir[64];       /* the server's own directory: its dump file */
	char dump[96];      /* dir/dump.rdb */
	char extra[RF_EXTRA_MAX][128];
	int nextra;
	char monitor[160];  /* a sentinel's monitor lines; "" when not a sentinel */
	char conf[96];      /* a sentinel's dir/sentinel.conf */
};

static void
reap(struct redis_fixture *rf)
{
	if (rf->pid > 0) {
		kill(rf->pid, SIGKILL);
		waitpid(rf->pid, NULL, 0);
		rf->pid = 0;
	}
	if (rf->logfd >= 0) {
		close(rf->logfd);
		rf->logfd = -1;
	}
}

/* Reads the log until the ready line, the server's exit or deadline. The
 * log is a file, which wakes no one: the wait is on the server's pidfd,
 * at most 10 ms at a time. */
static int
wait_ready(struct redis_fixture *rf, int64_t deadline)
{
	const char *ready = rf->monitor[0] != '\0' ? "+monitor master" :
	    "Ready to accept connections";
	char log[8192];
	size_t len = 0;
	off_t at = 0;
	ssize_t n;
	int left, exited = 0, rc = -1;
	struct pollfd p = { .fd = pidfd_open(rf->pid, 0), .events = POLLIN };

	if (p.fd == -1)
		return -1;
	for (;;) {
		while ((n = pread(rf->logfd, log + len, sizeof(log) - 1 - len, at)) > 0) {
			at += n;
			len += (size_t)n;
			log[len] = '\0';
			if (strstr(log, ready) != NULL) {
				rc = 0;
				goto out;
			}
			if (len > sizeof(log) / 2) { /* keep the tail */
				memmove(log, log + len - 64, 64);
				len = 64;
			}
		}
		log[len] = '\0';
		if (exited) {
			fprintf(stderr, "redis_fixture: redis-server quit:\n%s\n", log);
			goto out;
		}
		if ((left = it_left_ms(deadline)) == 0) {
			fprintf(stderr, "redis_fixture: no ready line in time\n");
			goto out;
		}
		exited = poll(&p, 1, left < 10 ? left : 10) == 1;
	}
out:
	close(p.fd);
	return rc;
}

/* A sentinel's configuration file for rf->port (sentinel rewrites it). */
static int
write_conf(struct redis_fixture *rf)
{
	FILE *f;

	if ((f = fopen(rf->conf, "w")) == NULL)
		return -1;
	fprintf(f, "port %d\nbind 127.0.0.1\ndir %s\n%s\n", rf->port, rf->dir, rf->monitor);
	/* the sentinels of one master talk to each other with it too */
	if (rf->password[0] != '\0')
		fprintf(f, "requirepass %s\nsentinel sentinel-pass %s\n", rf->password,
		    rf->password);
	return fclose(f);
}

static int
spawn(struct redis_fixture *rf)
{
	char port[16];
	const char *argv[20 + RF_EXTRA_MAX];
	int argc = 0;

	snprintf(port, sizeof(port), "%d", rf->port);
	if (rf->monitor[0] != '\0') {
		if (write_conf(rf) == -1)
			return -1;
		argv[argc++] = "redis-server";
		argv[argc++] = rf->conf;
		argv[argc++] = "--sentinel";
		argv[argc] = NULL;
		goto start;
	}
	argv[argc++] = "redis-server";
	argv[argc++] = "--port";
	argv[argc++] = port;
	argv[argc++] = "--bind";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "--save";
	argv[argc++] = "";
	argv[argc++] = "--appendonly";
	argv[argc++] = "no";
	argv[argc++] = "--dir";
	argv[argc++] = rf->dir;
	argv[argc++] = "--dbfilename";
	argv[argc++] = "dump.rdb";
	if (rf->password[0] != '\0') {
		argv[argc++] = "--requirepass";
		argv[argc++] = rf->password;
	}
	for (int i = 0; i < rf->nextra; i++)
		argv[argc++] = rf->extra[i];
	argv[argc] = NULL;
start:
	if ((rf->logfd = it_output_file("redis-log")) == -1)
		return -1;
	if ((rf->pid = fork()) == -1) {
		rf->pid = 0;
		return -1;
	}
	if (rf->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(rf->logfd, 1);
		dup2(rf->logfd, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (wait_ready(rf, it_deadline(RF_START_MS)) == -1)
		return -1;
	return 0;
}

/* Sends cmd (inline) over a new connection and reads one reply line. */
int
rf_command(struct redis_fixture *rf, const char *cmd, char *out, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char req[512], line[512];
	int64_t deadline = it_deadline(IT_TIMEOUT_MS);
	int fd, len, skip = rf->password[0] != '\0';
	size_t got = 0;
	struct pollfd p;
	ssize_t r;
	char *eol;

	sa.sin_port = htons((uint16_t)rf->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		goto err;
	len = skip ? snprintf(req, sizeof(req), "AUTH %s\r\n%s\r\n", rf->password, cmd) :
	    snprintf(req, sizeof(req), "%s\r\n", cmd);
	if (len < 0 || (size_t)len >= sizeof(req) || write(fd, req, (size_t)len) != len)
		goto err;
	p.fd = fd;
	p.events = POLLIN;
	for (;;) {
		eol = memchr(line, '\n', got);
		if (eol != NULL && skip) { /* the AUTH reply */
			got -= (size_t)(eol + 1 - line);
			memmove(line, eol + 1, got);
			skip = 0;
			continue;
		}
		if (eol != NULL)
			break;
		if (got == sizeof(line) || poll(&p, 1, it_left_ms(deadline)) <= 0 ||
		    (r = read(fd, line + got, sizeof(line) - got)) <= 0)
			goto err;
		got += (size_t)r;
	}
	*eol = '\0';
	if (eol > line && eol[-1] == '\r')
		eol[-1] = '\0';
	snprintf(out, n, "%s", line);
	close(fd);
	return 0;
err:
	close(fd);
	return -1;
}

static int
check_pong(struct redis_fixture *rf)
{
	char reply[64];

	if (rf_command(rf, "PING", reply, sizeof(reply)) == -1 ||
	    strcmp(reply, "+PONG") != 0) {
		fprintf(stderr, "redis_fixture: no PONG from port %d\n", rf->port);
		return -1;
	}
	return 0;
}

/* Removes dir/appendonlydir and the files in it, if any. 0 or -1. */
static int
remove_aof(struct redis_fixture *rf)
{
	char path[128], file[400];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/appendonlydir", rf->dir);
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		unlink(file);
	}
	closedir(d);
	return rmdir(path);
}

/* A fixture with its directory made, not started. NULL on failure. */
static struct redis_fixture *
fixture_new(const char *password)
{
	struct redis_fixture *rf;

	if ((rf = calloc(1, sizeof(*rf))) == NULL)
		return NULL;
	rf->logfd = -1;
	snprintf(rf->dir, sizeof(rf->dir), "/tmp/gc-redis-XXXXXX");
	if (mkdtemp(rf->dir) == NULL) {
		free(rf);
		return NULL;
	}
	snprintf(rf->dump, sizeof(rf->dump), "%s/dump.rdb", rf->dir);
	if (password != NULL)
		snprintf(rf->password, sizeof(rf->password), "%s", password);
	return rf;
}

/* Removes what the fixture left in its directory, and the directory. */
static void
fixture_free(struct redis_fixture *rf)
{
	unlink(rf->dump);
	remove_aof(rf);
	if (rf->conf[0] != '\0')
		unlink(rf->conf);
	rmdir(rf->dir);
	free(rf);
}

/* Starts rf on a free port; frees it on failure. */
static struct redis_fixture *
launch(struct redis_fixture *rf)
{
	int attempt;

	/* another process may take the port between probe and bind: retry */
	for (attempt = 0; attempt < 5; attempt++) {
		if ((rf->port = it_free_port()) == -1)
			break;
		if (spawn(rf) == 0 && check_pong(rf) == 0)
			return rf;
		reap(rf);
	}
	fixture_free(rf);
	return NULL;
}

/* The extra settings (NULL-terminated, at most RF_EXTRA_MAX) replace rf's. */
static void
set_extra(struct redis_fixture *rf, const char *const *extra)
{
	for (rf->nextra = 0; extra != NULL && extra[rf->nextra] != NULL &&
	    rf->nextra < RF_EXTRA_MAX; rf->nextra++)
		snprintf(rf->extra[rf->nextra], sizeof(rf->extra[0]), "%s", extra[rf->nextra]);
}

struct redis_fixture *
rf_start_args(const char *password, const char *const *extra)
{
	struct redis_fixture *rf;

	if ((rf = fixture_new(password)) == NULL)
		return NULL;
	set_extra(rf, extra);
	return launch(rf);
}

struct redis_fixture *
rf_start(const char *password)
{
	return rf_start_args(password, NULL);
}

struct redis_fixture *
rf_start_sentinel(const char *name, int mport, int quorum, const char *password)
{
	struct redis_fixture *rf;

	if ((rf = fixture_new(password)) == NULL)
		return NULL;
	snprintf(rf->monitor, sizeof(rf->monitor), "sentinel monitor %s 127.0.0.1 %d %d\n"
	    "sentinel down-after-milliseconds %s 1000\n"
	    "sentinel failover-timeout %s 10000", name, mport, quorum, name, name);
	snprintf(rf->conf, sizeof(rf->conf), "%s/sentinel.conf", rf->dir);
	return launch(rf);
}

int
rf_port(const struct redis_fixture *rf)
{
	return rf->port;
}

int
rf_pause(struct redis_fixture *rf)
{
	return rf->pid > 0 ? kill(rf->pid, SIGSTOP) : -1;
}

int
rf_resume(struct redis_fixture *rf)
{
	return rf->pid > 0 ? kill(rf->pid, SIGCONT) : -1;
}

int
rf_kill(struct redis_fixture *rf)
{
	if (rf->pid <= 0)
		return -1;
	reap(rf);
	return 0;
}

static int
respawn(struct redis_fixture *rf)
{
	if (rf->pid > 0)
		return -1;
	if (spawn(rf) == 0 && check_pong(rf) == 0)
		return 0;
	reap(rf);
	return -1;
}

int
rf_restart(struct redis_fixture *rf)
{
	if ((unlink(rf->dump) == -1 && errno != ENOENT) || remove_aof(rf) == -1)
		return -1;
	return respawn(rf);
}

int
rf_restart_kept(struct redis_fixture *rf, const char *const *extra)
{
	if (extra != NULL)
		set_extra(rf, extra);
	return respawn(rf);
}

int
rf_restart_saved(struct redis_fixture *rf)
{
	if (access(rf->dump, R_OK) == -1)
		return -1;
	return respawn(rf);
}

void
rf_stop(struct redis_fixture *rf)
{
	if (rf == NULL)
		return;
	reap(rf);
	fixture_free(rf);
}
