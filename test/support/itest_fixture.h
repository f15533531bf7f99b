/*
 * itest_fixture: the in-process server of one Check test. Check runs each
 * test in a fork of its own, so one server per process is all a test file
 * needs; these calls fail the test (ck_assert) instead of returning errors.
 */
#ifndef GROUPCHAT_ITEST_FIXTURE_H
#define GROUPCHAT_ITEST_FIXTURE_H

#include <stddef.h>

#include "itest.h"

struct config;

/* Starts the server with cfg (NULL: it_config's defaults); returns its port. */
int itf_up(const struct config *cfg);

/* Stops the server if one runs. Safe to call more than once. */
void itf_down(void);

/* Sends method target to port and checks the status, the body unless body
 * is NULL (blen 0: strlen(body)), and that nothing follows the body.
 * Returns the response for more checks; the caller frees it. */
struct it_response itf_expect(int port, const char *method, const char *target,
                              int status, const char *body, size_t blen);

/* Sends the raw request req (it should say Connection: close) and checks
 * that the whole answer, up to the server's close, is want byte for byte
 * once the Date header's value is replaced by "*". */
void itf_wire(int port, const char *req, const char *want);

/* Joins group id as a new member; fails the test if refused. */
struct it_ws *itf_join(int port, const char *id);

#endif
