/*
 * fake_redis: a scripted Redis behind the redis_link interface, so the
 * Redis actors run in unit tests without a server. The test queues what
 * the next commands get; the actor's thread consumes it.
 *
 * Every link the connector opens shares one script. A command's reply is
 * taken when the actor reads it: SCRIPT LOAD, PING, INFO, CONFIG and the
 * lineage script's EVAL are answered by themselves (a fixed SHA per
 * script, "+PONG", a run_id the test sets, no setting, and "not durable"
 * or the lineage the test sets);
 * every other command takes the next step: a RESP reply, or "drop" (the
 * read fails as if Redis closed the connection). With no step queued a
 * read waits for one until its timeout, as a paused Redis would.
 *
 * Everything is guarded by one mutex; calls never fail (out of memory
 * aborts the test).
 */
#ifndef GROUPCHAT_FAKE_REDIS_H
#define GROUPCHAT_FAKE_REDIS_H

#include <stddef.h>

#include "groupchat/cluster/redis_link.h"

struct fake_redis;

struct fake_redis *fake_redis_new(void);
void fake_redis_free(struct fake_redis *f);

/* The connector the actor under test is given. */
struct redis_connector fake_redis_connector(struct fake_redis *f);

/* The next n opens fail with reason. */
void fake_redis_refuse(struct fake_redis *f, int n, const char *reason);

/* Queues the reply (RESP text, e.g. ":1\r\n" or "-ERR x\r\n") for the next
 * scripted command. */
void fake_redis_reply(struct fake_redis *f, const char *resp);

/* Queues a dropped connection for the next scripted command. */
void fake_redis_drop(struct fake_redis *f);

/* Makes the lineage script answer "durable, with lineage" (16 hex
 * digits; NULL: "not durable", the default). */
void fake_redis_lineage(struct fake_redis *f, const char *lineage);

/* Sets the run_id INFO answers with. */
void fake_redis_run_id(struct fake_redis *f, const char *run_id);

/* Links opened so far. */
int fake_redis_opens(struct fake_redis *f);

/* How many commands whose name is verb were flushed so far (verb NULL:
 * all), and how many flushes carried one or more of them. */
int fake_redis_count(struct fake_redis *f, const char *verb, int *flushes);

/* Copies the i-th flushed command (argv joined by spaces) into out; 0,
 * or -1 if there is no such command. */
int fake_redis_command(struct fake_redis *f, int i, char *out, size_t n);

/* Copies the last flushed command whose name is verb into out, as
 * fake_redis_command does; 0, or -1 if there is none. */
int fake_redis_last(struct fake_redis *f, const char *verb, char *out, size_t n);

/* Whether the last flushed command whose name is verb carries arg as an
 * argument followed by another (" arg " in its text). */
int fake_redis_last_carries(struct fake_redis *f, const char *verb, const char *arg);

/* Waits until fake_redis_count(f, verb) >= want, up to ms. 1 if reached. */
int fake_redis_wait(struct fake_redis *f, const char *verb, int want, int ms);

#endif
