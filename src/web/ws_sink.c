/*
 * ws_sink: the member sink of a CivetWeb WebSocket connection, the only
 * code that writes frames to it.
 *
 * Who writes to the connection: the member's writer thread writes every
 * data frame (sink_write) and the close frame of a server-side close
 * (sink_end); the CivetWeb worker writes only pongs, the reply to the
 * peer's close and the 1011 close when its ready handler cannot start
 * the writer (ws_send_locked, ws_send_close). Both go through
 * mg_lock_connection, and close_sent (under that lock) makes sure nothing
 * follows a close frame. CivetWeb sends close frames of its own, at the
 * header of a frame it refuses, also under that lock:
 * mg_get_websocket_close_code counts as close_sent. After a failed write
 * (write_failed, under that lock) nothing more is tried, not even a
 * close frame: half a frame may be out, and a peer that took no byte for
 * websocket_write_timeout_ms would hold the writer as long again. The gather buffer is the writer thread's alone.
 *
 * Who ends the read loop: the worker itself (its data handler returns 0,
 * or its ready handler failed) whenever it decides, and then it sets
 * worker_ends first; otherwise (group delete, slow consumer, ping timeout,
 * shutdown, a failed write) the writer calls
 * mg_disable_connection_keep_alive after its close frame (sink_end), the
 * one cross-thread store CivetWeb 1.15 offers (docs/design.md, CivetWeb
 * quirks).
 */
#include <civetweb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "groupchat/actors/member.h"
#include "groupchat/core/frame.h"
#include "groupchat/core/log.h"
#include "server_ctx.h"

/* mg_write takes and returns an int: longer runs go out in chunks. */
#define WRITE_CHUNK ((size_t)1 << 30)

/* Writes len bytes, in chunks mg_write can count; the connection lock is
 * held. 0, or -1 on any failure (a short write leaves half a frame). */
static int
ws_write_all(struct conn *cn, const uint8_t *p, size_t len)
{
	size_t n;

	while (len > 0) {
		n = len < WRITE_CHUNK ? len : WRITE_CHUNK;
		if (mg_write(cn->mgc, p, n) != (int)n)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Nothing more may go out: a close frame did, ours or CivetWeb's, or a
 * write failed. The connection lock is held. */
static int
closed_locked(const struct conn *cn)
{
	return cn->close_sent || cn->write_failed ||
	    mg_get_websocket_close_code(cn->mgc) != 0;
}

int
ws_send_locked(struct conn *cn, const void *p, size_t len)
{
	int rc = -1;

	mg_lock_connection(cn->mgc);
	if (!closed_locked(cn) && (rc = ws_write_all(cn, p, len)) == -1)
		cn->write_failed = 1;
	mg_unlock_connection(cn->mgc);
	return rc;
}

/* Sends what is gathered (connection lock held). */
static int
ws_flush_gather(struct conn *cn)
{
	int rc = ws_write_all(cn, cn->gather.data, cn->gather.len);

	buf_reset(&cn->gather);
	return rc;
}

/*
 * CivetWeb has no writev. Small frames are gathered (at most WS_GATHER_MAX
 * bytes, a buffer kept per connection) so a batch leaves in few sends;
 * a frame that would leave in a send of its own (bigger than that, or
 * the last of the batch with nothing gathered: a batch of one, the usual
 * case at low rates) is written from the shared frame itself, never
 * copied. One lock for the whole batch keeps frames whole and in order.
 */
static int
sink_write(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct conn *cn = ctx;
	int rc = 0, i;

	mg_lock_connection(cn->mgc);
	if (closed_locked(cn))
		rc = -1;
	buf_reset(&cn->gather);
	for (i = 0; i < iovcnt && rc == 0; i++) {
		if (iov[i].iov_len > WS_GATHER_MAX ||
		    (i == iovcnt - 1 && cn->gather.len == 0)) {
			if ((rc = ws_flush_gather(cn)) == 0)
				rc = ws_write_all(cn, iov[i].iov_base, iov[i].iov_len);
			continue;
		}
		if (cn->gather.len + iov[i].iov_len > WS_GATHER_MAX)
			rc = ws_flush_gather(cn);
		if (rc == 0)
			rc = buf_append(&cn->gather, iov[i].iov_base, iov[i].iov_len);
	}
	if (rc == 0)
		rc = ws_flush_gather(cn);
	if (rc == -1 && !closed_locked(cn))
		cn->write_failed = 1;
	mg_unlock_connection(cn->mgc);
	/* On -1 the writer closes the member; sink_end ends the loop. */
	return rc;
}

/* The frame is built on the stack (at most FRAME_CLOSE_MAX bytes), so
 * only the write can fail: close_sent is set only when the frame went out
 * whole. */
int
ws_send_close(struct conn *cn, uint16_t code, const char *reason)
{
	uint8_t frame[FRAME_CLOSE_MAX];
	size_t len = frame_build_close(frame, code, reason);
	int sent = 1;

	mg_lock_connection(cn->mgc);
	if (cn->write_failed) {
		sent = 0;
	} else if (!closed_locked(cn)) {
		sent = ws_write_all(cn, frame, len) == 0;
		cn->close_sent = sent;
		cn->write_failed = !sent;
	}
	mg_unlock_connection(cn->mgc);
	return sent;
}

static void
sink_end(void *ctx, uint16_t code, const char *reason)
{
	struct conn *cn = ctx;

	if (code != MEMBER_CLOSE_SILENT && !ws_send_close(cn, code, reason))
		log_event(LOG_WARN, "close_frame_failed", "client",
		    member_id(cn->member), NULL);
	/* Unless the worker is ending the loop itself, it notices this flag
	 * within websocket_timeout_ms and ends; a peer that answers our close
	 * frame ends it sooner. */
	if (!atomic_load(&cn->worker_ends))
		mg_disable_connection_keep_alive(cn->mgc);
}

struct member_sink
ws_sink(struct conn *cn)
{
	return (struct member_sink){ sink_write, sink_end, cn };
}
