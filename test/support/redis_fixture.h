/*
 * redis_fixture: a real redis-server for one test, as a child process on a
 * free 127.0.0.1 port, without persistence of its own (--save ''
 * --appendonly no; a SAVE the test sends writes a dump file in a directory
 * of the fixture's own), optionally with --requirepass. The test can pause
 * it (SIGSTOP), resume it, kill it (SIGKILL) and start it again on the same
 * port, empty, from the last SAVE, or from whatever its directory holds
 * (an append-only file). rf_start_args adds settings (a replica, a
 * maxmemory-policy, --appendonly yes); a fixture may also be a sentinel
 * (redis-server --sentinel, its configuration file in the fixture's
 * directory).
 *
 * The child dies with the test process (PR_SET_PDEATHSIG), so a crashing
 * test leaves no server behind; rf_stop is still the normal end. Waits
 * read the server's log file (a memfd, which never blocks the server)
 * until "Ready to accept connections", polling the server's pidfd for
 * its exit, and then check a PING; nothing sleeps. Calls return -1 or
 * NULL with the reason on stderr; the test asserts.
 */
#ifndef GROUPCHAT_REDIS_FIXTURE_H
#define GROUPCHAT_REDIS_FIXTURE_H

#include <stddef.h>

struct redis_fixture;

/* The wait for a starting server. */
#define RF_START_MS 10000

/* Starts redis-server; password NULL means none. NULL on failure. */
struct redis_fixture *rf_start(const char *password);

/* The same with extra command-line settings (NULL-terminated, at most
 * RF_EXTRA_MAX, e.g. "--replicaof", "127.0.0.1", "6379"). */
#define RF_EXTRA_MAX 8
struct redis_fixture *rf_start_args(const char *password, const char *const *extra);

/* Starts a sentinel monitoring the master named name at 127.0.0.1:mport
 * with quorum, down-after-milliseconds 1000 (a dead master is failed
 * over within a few seconds); password (NULL: none) is the sentinel's
 * own requirepass, and the one it gives other sentinels. Ready once it
 * logs "+monitor master". NULL on failure. */
struct redis_fixture *rf_start_sentinel(const char *name, int mport, int quorum,
                                        const char *password);

int rf_port(const struct redis_fixture *rf);

/* SIGSTOP / SIGCONT the server. 0 or -1. */
int rf_pause(struct redis_fixture *rf);
int rf_resume(struct redis_fixture *rf);

/* SIGKILLs the server and reaps it. 0 or -1. */
int rf_kill(struct redis_fixture *rf);

/* Starts a new, empty server on the same port after rf_kill (the dump
 * file of a SAVE and any append-only file are removed first). 0 or -1. */
int rf_restart(struct redis_fixture *rf);

/* Starts a new server on the same port after rf_kill that loads what the
 * last SAVE wrote, as a crashed Redis that persists does. 0, or -1 (also
 * when nothing was saved). */
int rf_restart_saved(struct redis_fixture *rf);

/* Starts a new server on the same port after rf_kill, with its directory
 * as the killed one left it (with --appendonly yes: it loads the
 * append-only file), and the same settings, or extra in their place
 * (NULL: the same). 0 or -1. */
int rf_restart_kept(struct redis_fixture *rf, const char *const *extra);

/* Sends one inline command (e.g. "CLIENT KILL TYPE pubsub") over a fresh
 * connection, authenticating first when needed, and copies the first line
 * of the reply into out. 0, or -1 on I/O failure or timeout. */
int rf_command(struct redis_fixture *rf, const char *cmd, char *out, size_t n);

/* Kills the server if it runs and frees rf. NULL is a no-op. */
void rf_stop(struct redis_fixture *rf);

#endif
