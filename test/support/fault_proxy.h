/*
 * fault_proxy: a TCP proxy for fault-injection tests, in the manner of
 * Toxiproxy. It listens on 127.0.0.1 (an ephemeral port) and relays every
 * connection it accepts to 127.0.0.1:target, one thread polling every
 * socket. A test puts one between each groupchat node and Redis and
 * drives a fault on command instead of waiting for one:
 *
 * - delay: each chunk read in that direction is written no earlier than
 *   delay_ms after it was read (order kept);
 * - black-hole: bytes read in that direction are dropped silently; both
 *   connections stay open and nothing says so;
 * - pause: nothing is read or written in that direction (the kernel
 *   buffers fill and TCP pushes back, as on a stalled network); while any
 *   direction is paused, new connections wait in the listen backlog;
 *   resume lets everything held go, in order;
 * - cut: every open connection is closed on both sides at once; new
 *   connections are relayed as usual;
 * - reset: back to a plain relay (no delay, no black-hole, no pause);
 *   open connections stay.
 *
 * Up is the way of the connecting side (a node) to the target (Redis),
 * down the way back. Buffers are bounded (FP_QUEUE_MAX bytes queued per
 * direction of a connection; past it the proxy stops reading that side).
 *
 * Who touches what: the proxy thread owns the sockets and the queues;
 * the settings and the cut and stop requests are under one mutex, taken
 * by the test's calls, which wake the thread through a pipe. fp_cut and
 * fp_stop return once the thread has done them. Calls never fail once
 * fp_start succeeded; fp_start returns NULL with errno.
 */
#ifndef GROUPCHAT_FAULT_PROXY_H
#define GROUPCHAT_FAULT_PROXY_H

#include <stddef.h>

/* Directions, as a mask. */
#define FP_UP   1 /* client to target */
#define FP_DOWN 2 /* target to client */
#define FP_BOTH 3

/* Bytes a direction of one connection may hold before reading stops. */
#define FP_QUEUE_MAX (4u << 20)

struct fault_proxy;

/* Listens on 127.0.0.1:0 and starts the thread relaying to
 * 127.0.0.1:target_port. NULL with errno on failure. */
struct fault_proxy *fp_start(int target_port);

/* The port it listens on. */
int fp_port(const struct fault_proxy *fp);

/* Sets the delay of the directions in dirs (0: none). */
void fp_delay(struct fault_proxy *fp, int dirs, int delay_ms);

/* Black-holes (on 1) or relays again (on 0) the directions in dirs. */
void fp_blackhole(struct fault_proxy *fp, int dirs, int on);

/* Stops and restarts the directions in dirs. */
void fp_pause(struct fault_proxy *fp, int dirs);
void fp_resume(struct fault_proxy *fp, int dirs);

/* Closes every open connection on both sides; returns once done. */
void fp_cut(struct fault_proxy *fp);

/* No delay, no black-hole, no pause, in either direction. */
void fp_reset(struct fault_proxy *fp);

/* Connections relayed now. */
size_t fp_conns(struct fault_proxy *fp);

/* Bytes relayed so far in the directions of dirs (dropped ones excluded). */
size_t fp_bytes(struct fault_proxy *fp, int dirs);

/* Stops the thread, closes everything and frees fp. NULL is a no-op. */
void fp_stop(struct fault_proxy *fp);

#endif
