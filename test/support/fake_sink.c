/* fake_sink: the recording sink the member and group tests share. */
#include "fake_sink.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "groupchat/core/chan.h"
#include "groupchat/core/frame.h"

void
fake_init(struct fake *f)
{
	pthread_condattr_t ca;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
}

void
fake_fini(struct fake *f)
{
	for (size_t i = 0; i < f->nframes; i++)
		free(f->frames[i]);
	free(f->frames);
	free(f->lens);
	free(f->bytes);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
}

struct frame *
fake_frame(const char *text)
{
	struct frame *m = frame_new(FRAME_TEXT, "id - ", 5, text, strlen(text));

	ck_assert_ptr_nonnull(m);
	return m;
}

/* Keeps a copy of one frame, in the concatenation and on its own. */
static void
fake_keep(struct fake *f, const void *p, size_t n)
{
	if (f->len + n > f->cap) {
		f->cap = (f->len + n) * 2;
		f->bytes = realloc(f->bytes, f->cap);
		ck_assert_ptr_nonnull(f->bytes);
	}
	memcpy(f->bytes + f->len, p, n);
	f->len += n;
	if (f->nframes == f->frames_cap) {
		f->frames_cap = f->frames_cap ? f->frames_cap * 2 : 64;
		f->frames = realloc(f->frames, f->frames_cap * sizeof(*f->frames));
		f->lens = realloc(f->lens, f->frames_cap * sizeof(*f->lens));
		ck_assert(f->frames != NULL && f->lens != NULL);
	}
	f->frames[f->nframes] = malloc(n);
	ck_assert_ptr_nonnull(f->frames[f->nframes]);
	memcpy(f->frames[f->nframes], p, n);
	f->lens[f->nframes++] = n;
}

static int
fake_write(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct fake *f = ctx;

	pthread_mutex_lock(&f->mu);
	while (f->hold)
		pthread_cond_wait(&f->cv, &f->mu);
	f->writes++;
	if (f->fail_at != 0 && f->writes == f->fail_at) {
		for (unsigned i = 0; i < f->refill; i++) {
			struct frame *m = fake_frame("refill");
			ck_assert_int_eq(member_enqueue(f->member, m), 0);
			frame_unref(m);
		}
		pthread_mutex_unlock(&f->mu);
		return -1;
	}
	for (int k = 0; k < iovcnt; k++)
		fake_keep(f, iov[k].iov_base, iov[k].iov_len);
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static void
fake_end(void *ctx, uint16_t code, const char *reason)
{
	struct fake *f = ctx;

	pthread_mutex_lock(&f->mu);
	f->closes++;
	f->code = code;
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

struct member_sink
fake_sink(struct fake *f)
{
	struct member_sink s = { fake_write, fake_end, f };

	return s;
}

void
fake_release(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	f->hold = 0;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

size_t
fake_wait_frames(struct fake *f, size_t n)
{
	return fake_wait_frames_ms(f, n, FAKE_WAIT_MS);
}

size_t
fake_wait_frames_ms(struct fake *f, size_t n, long ms)
{
	struct timespec dl;
	size_t got;

	chan_deadline(&dl, ms);
	pthread_mutex_lock(&f->mu);
	while (f->nframes < n &&
	    pthread_cond_timedwait(&f->cv, &f->mu, &dl) != ETIMEDOUT)
		;
	got = f->nframes;
	pthread_mutex_unlock(&f->mu);
	return got;
}

unsigned
fake_wait_closed(struct fake *f)
{
	struct timespec dl;
	unsigned n;

	chan_deadline(&dl, FAKE_WAIT_MS);
	pthread_mutex_lock(&f->mu);
	while (f->closes == 0 &&
	    pthread_cond_timedwait(&f->cv, &f->mu, &dl) != ETIMEDOUT)
		;
	n = f->closes;
	pthread_mutex_unlock(&f->mu);
	return n;
}

const char *
fake_text(struct fake *f, size_t i, size_t *len)
{
	*len = f->lens[i] - 2;
	return (const char *)f->frames[i] + 2;
}
