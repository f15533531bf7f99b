/*
 * redis_sentinels: what a node needs to know about Redis Sentinel, parsed
 * without touching a socket: the --redis-sentinel list,
 * HOST:PORT[,HOST:PORT...], and the payload of a sentinel's
 * +switch-master event, "<name> <old-ip> <old-port> <new-ip> <new-port>".
 *
 * Accepted in the list: up to REDIS_SENTINELS_MAX entries separated by
 * single commas, no spaces; each a host name, IPv4 address or bracketed
 * IPv6 address, then ":" and a port 1..65535, or no port for Sentinel's
 * 26379. Empty entries, a user name or a password in an entry are
 * refused. A reason never quotes the input.
 *
 * Who touches what: plain values, owned by whoever holds them; parsing
 * writes only the caller's struct.
 */
#ifndef GROUPCHAT_REDIS_SENTINELS_H
#define GROUPCHAT_REDIS_SENTINELS_H

#include <stddef.h>

#include "groupchat/cluster/redis_url.h"

#define REDIS_SENTINELS_MAX 16
#define REDIS_SENTINEL_PORT 26379
/* The longest master name accepted by --redis-master. */
#define REDIS_MASTER_NAME_MAX 127

/* One TCP address: a host (without brackets for IPv6) and a port. */
struct redis_addr {
	char host[REDIS_URL_HOST_MAX + 1];
	int port;
};

struct redis_sentinels {
	size_t n;
	struct redis_addr at[REDIS_SENTINELS_MAX];
};

/* Parses the len bytes at s into *out. 0, or -1 with errno EINVAL and
 * *why set to a constant reason. */
int redis_sentinels_parse(const char *s, size_t len, struct redis_sentinels *out,
                          const char **why);

/* 1 if name is a valid master name for --redis-master (1 to
 * REDIS_MASTER_NAME_MAX printable bytes, no space), else 0. */
int redis_master_name_valid(const char *name);

/* Reads a +switch-master payload (len bytes at p). 1 with the new
 * master in *to when it names master, 0 when it names another master,
 * -1 with errno EINVAL when it is malformed. */
int redis_sentinels_switch(const char *p, size_t len, const char *master,
                           struct redis_addr *to);

/* Reads a port (len bytes at p, decimal 1..65535) into *port. 0 or -1. */
int redis_port_parse(const char *p, size_t len, int *port);

/* Sets *a from an address a sentinel sent: host (hlen bytes, 1 to
 * REDIS_URL_HOST_MAX printable bytes, no space) and port (plen bytes, as
 * redis_port_parse). 0, or -1 leaving *a as it was. */
int redis_addr_set(struct redis_addr *a, const char *host, size_t hlen,
                   const char *port, size_t plen);

/* 1 if a and b are the same host and port, else 0. */
int redis_addr_eq(const struct redis_addr *a, const struct redis_addr *b);

/* "host:port" or "[v6]:port" into out (n bytes, NUL-terminated). */
void redis_addr_text(const struct redis_addr *a, char *out, size_t n);

#endif
