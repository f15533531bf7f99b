/*
 * report: the server's state for operators, rendered from the counters
 * (struct stats) and a snapshot of the groups (manager_list). Used by
 * GET /stats (JSON) and GET /metrics (Prometheus text format 0.0.4).
 */
#ifndef GROUPCHAT_REPORT_H
#define GROUPCHAT_REPORT_H

struct buf;
struct manager;
struct stats;

/* Appends the JSON document to out. 0, or -1 with errno. */
int report_json(struct stats *st, struct manager *m, struct buf *out);

/* Appends the Prometheus exposition to out. 0, or -1 with errno. */
int report_prometheus(struct stats *st, struct manager *m, struct buf *out);

#endif
