/*
 * redis_sentinel: cluster mode behind Redis Sentinel. One object serves
 * every Redis actor of a node, in two parts:
 *  - a connector (redis_sentinel_connector) for the actors: each open
 *    asks the sentinels for the master's address (SENTINEL
 *    get-master-addr-by-name), in list order starting from the last
 *    sentinel that answered and rotating past failures, then opens a link
 *    there as redis_link_open_at does (AUTH and SELECT from the URL, ROLE
 *    must say master, maxmemory-policy must be noeviction). So any link
 *    loss asks the sentinels again.
 *  - a watcher thread subscribed to +switch-master on one sentinel
 *    (rotating past failures). When the master changes, it shuts down
 *    every link opened through the connector that is not on the new
 *    master; their actors see the link fail and reopen through the
 *    connector. After each subscribe it asks its sentinel for the master,
 *    so a switch it missed while away is caught too. A link being opened
 *    to an address other than the one the watcher knows is refused.
 *
 * A new master is a new Redis identity: the command actor sees a new
 * run_id when it reconnects, exactly as after a Redis restart.
 *
 * Errors of an open (the link's down reason, /healthz): "sentinel
 * HOST:PORT: connect: Connection refused", "sentinel HOST:PORT: no master
 * named NAME", "sentinel HOST:PORT: AUTH: ...", "master HOST:PORT: ROLE:
 * this Redis is a slave, not the master", "master HOST:PORT:
 * maxmemory-policy is ...", "the master changed while connecting";
 * never a password.
 *
 * Who touches what: the object is made and freed by the thread that owns
 * the cluster; the connector is called by the actors' threads, the
 * watcher runs on its own; the set of open links and the known master
 * are guarded by the object's lock.
 */
#ifndef GROUPCHAT_REDIS_SENTINEL_H
#define GROUPCHAT_REDIS_SENTINEL_H

#include "groupchat/cluster/redis_link.h"

struct redis_sentinels;
struct redis_url;
struct redis_sentinel;

/* Copies list, master and password (the sentinels' own AUTH password,
 * NULL or "" for none); u gives the data links' password and database
 * and must outlive the object. timeout_ms bounds every connect, read and
 * write to a sentinel. NULL with errno (ENOMEM, or the eventfd's). */
struct redis_sentinel *redis_sentinel_new(const struct redis_sentinels *list,
                                          const char *master, const char *password,
                                          const struct redis_url *u, int timeout_ms);

/* Starts the watcher. 0, or -1 with errno. */
int redis_sentinel_start(struct redis_sentinel *s);

/* The connector for the Redis actors; s must outlive their links. */
struct redis_connector redis_sentinel_connector(struct redis_sentinel *s);

/* Stops the watcher, wipes the password and frees s. Every link opened
 * through the connector must be freed first. NULL is a no-op. */
void redis_sentinel_free(struct redis_sentinel *s);

#endif
