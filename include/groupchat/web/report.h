/*
 * report: the server's state for operators, rendered from the counters
 * (struct stats) and a snapshot of the groups (manager_list). Used by
 * GET /stats (JSON) and GET /metrics (Prometheus text format 0.0.4).
 *
 * Totals are always exact. Per-group entries are listed only for groups
 * that have members, at most max of them (--stats-groups); the document
 * says how many it listed and how many more it left out.
 */
#ifndef GROUPCHAT_REPORT_H
#define GROUPCHAT_REPORT_H

#include <stddef.h>

struct buf;
struct manager;
struct stats;

/* Appends the JSON document to out. 0, or -1 with errno. */
int report_json(struct stats *st, struct manager *m, size_t max,
                struct buf *out);

/* Appends the Prometheus exposition to out. 0, or -1 with errno. */
int report_prometheus(struct stats *st, struct manager *m, size_t max,
                      struct buf *out);

#endif
