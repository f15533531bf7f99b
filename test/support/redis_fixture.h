/*
 * redis_fixture: a real redis-server for one test, as a child process on a
 * free 127.0.0.1 port, without automatic persistence (--save ''
 * --appendonly no), optionally with --requirepass. The test can pause it
 * (SIGSTOP), resume it, kill it (SIGKILL) and start it again on the same
 * port: empty, or (rf_start_dir) from the snapshot an explicit SAVE left
 * in its directory.
 *
 * The child dies with the test process (PR_SET_PDEATHSIG), so a crashing
 * test leaves no server behind; rf_stop is still the normal end. Waits
 * read the server's log pipe with poll(2) until "Ready to accept
 * connections" and then check a PING; nothing sleeps. Calls return -1 or
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

/* rf_start with --dir dir: the server loads dir/dump.rdb when it starts
 * (rf_restart included) and writes it on SAVE. The caller owns dir. */
struct redis_fixture *rf_start_dir(const char *password, const char *dir);

int rf_port(const struct redis_fixture *rf);

/* SIGSTOP / SIGCONT the server. 0 or -1. */
int rf_pause(struct redis_fixture *rf);
int rf_resume(struct redis_fixture *rf);

/* SIGKILLs the server and reaps it. 0 or -1. */
int rf_kill(struct redis_fixture *rf);

/* Starts a new server on the same port after rf_kill: empty, or from
 * dir/dump.rdb when there is one. 0 or -1. */
int rf_restart(struct redis_fixture *rf);

/* Sends one inline command (e.g. "CLIENT KILL TYPE pubsub") over a fresh
 * connection, authenticating first when needed, and copies the first line
 * of the reply into out. 0, or -1 on I/O failure or timeout. */
int rf_command(struct redis_fixture *rf, const char *cmd, char *out, size_t n);

/* Kills the server if it runs and frees rf. NULL is a no-op. */
void rf_stop(struct redis_fixture *rf);

#endif
