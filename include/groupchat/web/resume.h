/*
 * resume: what a join asks of groupchat.v1 mode (docs/protocol.md):
 * whether the client offered the subprotocol, and the position it comes
 * back from (?since=). The two readers of a request's bytes never touch
 * a socket and are fuzzed (fuzz/fuzz_position.c); resume_offered reads
 * the headers CivetWeb parsed.
 */
#ifndef GROUPCHAT_RESUME_H
#define GROUPCHAT_RESUME_H

#include <stddef.h>

#include "groupchat/core/position.h"

struct mg_connection;

/* The subprotocol a client offers to opt in, and the 101 selects. */
#define RESUME_SUBPROTOCOL "groupchat.v1"

/* 1 if the Sec-WebSocket-Protocol value s (a comma-separated list of
 * tokens, blanks around them ignored) lists RESUME_SUBPROTOCOL exactly
 * (subprotocol names are case-sensitive); else 0. s may be NULL. */
int resume_offer_lists(const char *s);

/* 1 if any Sec-WebSocket-Protocol header of the request on conn lists
 * RESUME_SUBPROTOCOL; else 0. */
int resume_offered(const struct mg_connection *conn);

/* The since of a raw query of len bytes (form-decoded as every query
 * parameter; the first one wins). 0 if there is none; 1 with *out set;
 * -1 with errno EINVAL and *why set (a one-line literal) if it is
 * malformed, or with ENOMEM. */
int resume_since(const char *query, size_t len, struct position *out,
                 const char **why);

#endif
