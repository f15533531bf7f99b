/*
 * fake_sink: a recording member_sink for the actor tests. It keeps every
 * write's bytes (concatenated) and a copy of each frame, counts write
 * calls, and records the close. Two behaviours on demand: hold makes
 * write block until fake_release (a member that stops reading), and
 * fail_at makes the fail_at-th write fail after queueing refill more
 * frames to member (so the writer has references to drop unwritten).
 * Every field is guarded by mu.
 */
#ifndef GROUPCHAT_FAKE_SINK_H
#define GROUPCHAT_FAKE_SINK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "groupchat/actors/member.h"

/* How long the fake_wait_* calls wait before giving up (unless told). */
#define FAKE_WAIT_MS 5000

struct fake {
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* broadcast on every write and close */
	unsigned char *bytes;     /* every frame written, concatenated */
	size_t len, cap;
	unsigned char **frames;   /* a copy of each frame */
	size_t *lens;
	size_t nframes, frames_cap;
	unsigned writes, closes;
	uint16_t code;
	char reason[128];
	int hold;
	unsigned fail_at, refill;
	struct member *member;
};

void fake_init(struct fake *f);
void fake_fini(struct fake *f);

/* A sink writing into f. */
struct member_sink fake_sink(struct fake *f);

/* Lets a held write go on, and every later one. */
void fake_release(struct fake *f);

/* Waits until at least n frames were written; returns how many were. */
size_t fake_wait_frames(struct fake *f, size_t n);

/* fake_wait_frames giving up after ms instead of FAKE_WAIT_MS. */
size_t fake_wait_frames_ms(struct fake *f, size_t n, long ms);

/* Waits until the sink was closed; returns how many times it was. */
unsigned fake_wait_closed(struct fake *f);

/* The text of frame i: its payload after a 2-byte frame header. */
const char *fake_text(struct fake *f, size_t i, size_t *len);

/* A text frame "id - text" with one reference. */
struct frame *fake_frame(const char *text);

#endif
