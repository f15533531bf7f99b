/*
 * fault: a test seam for error paths that real systems rarely take. A test
 * arms a point ("fail the next writer thread start"); the code at that
 * point asks fault_hit and takes its failure path as if the call had
 * failed. Unarmed, fault_hit is one relaxed atomic load.
 *
 * The counters are process-wide atomics, the one piece of global state
 * outside the server context: the points sit in modules (group, client)
 * that know no server. Only tests arm them.
 */
#ifndef GROUPCHAT_FAULT_H
#define GROUPCHAT_FAULT_H

#include <stdbool.h>

enum fault_point {
	FAULT_WRITER_START,  /* member_start_writer: pthread_create fails */
	FAULT_GROUP_START,   /* a group thread start: pthread_create fails */
	FAULT_NPOINTS,
};

/* Makes the next n hits of point p fail (0 disarms it). */
void fault_arm(enum fault_point p, unsigned n);

/* true if point p is armed; consumes one arming. Thread-safe. */
bool fault_hit(enum fault_point p);

#endif
