/*
 * keepalive: one thread that pings silent members and closes dead ones.
 *
 * The web side tracks each member once it has a writer and untracks it
 * before the member goes; keepalive_heard marks every frame from the peer.
 * A member silent for an interval is sent the shared ping frame (queued
 * like any frame); a ping still unanswered an interval later closes the
 * member with 1001 "ping timeout".
 */
#ifndef GROUPCHAT_KEEPALIVE_H
#define GROUPCHAT_KEEPALIVE_H

#include <stdatomic.h>
#include <stdint.h>

struct member;
struct frame;
struct keepalive;

/* Embedded in whatever holds the member (the web side's connection). */
struct keepalive_link {
	struct member *member;        /* set by keepalive_track */
	atomic_llong heard_ms;        /* when the peer last sent a frame */
	int64_t ping_sent_ms;         /* unanswered ping, 0: none; keepalive lock */
	struct keepalive_link *prev, *next;   /* the tracked list; keepalive lock */
};

/* Starts the keepalive thread pinging every interval_s seconds with ping
 * (a reference is taken). interval_s 0 starts no thread: tracking still
 * works and nobody is pinged. NULL with errno ENOMEM or EAGAIN. */
struct keepalive *keepalive_start(unsigned interval_s, struct frame *ping);

/* Stops and joins the thread, then frees. Every link must be untracked. */
void keepalive_stop(struct keepalive *ka);

/* Links m into the tracked list, heard now. m must outlive the tracking. */
void keepalive_track(struct keepalive *ka, struct keepalive_link *l,
    struct member *m);

/* Unlinks l; once this returns the keepalive thread no longer sees it. */
void keepalive_untrack(struct keepalive *ka, struct keepalive_link *l);

/* The peer sent something now. Any thread; never blocks. */
void keepalive_heard(struct keepalive_link *l);

#endif
