/*
 * config: the server's settings, from defaults, then GROUPCHAT_<NAME>
 * environment variables, then command-line flags (flags win).
 */
#ifndef GROUPCHAT_CONFIG_H
#define GROUPCHAT_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "groupchat/core/cidr.h"
#include "groupchat/core/history.h"
#include "groupchat/core/log.h"
#include "groupchat/web/auth.h"

struct config {
	char listen[64];          /* address to bind, e.g. 0.0.0.0 or 127.0.0.1 */
	int port;                 /* 0: an ephemeral port */
	long max_clients;         /* WebSocket members at once; joins past it get 503 */
	size_t max_groups;        /* groups registered at once; creates past it get 503 */
	size_t stats_groups;      /* groups with members listed by /stats, /metrics */
	size_t max_message;       /* bytes in one reassembled message */
	size_t send_queue;        /* frames queued per member before it is dropped */
	long ping_interval;       /* seconds of silence before a ping; dead after 2 */
	char allowed_origins[1024]; /* comma-separated; empty: any Origin */
	enum log_level log_level;
	enum log_format log_format;
	struct auth_key admin_token; /* len 0: the control plane is open */
	struct auth_key join_secret; /* len 0: joins need no token */
	int open_control_plane;   /* a join secret without an admin token is meant */
	struct cidr_set trusted_proxies; /* peers whose X-Forwarded-For is believed */
	char redis[1024];         /* --redis URL; empty: one node, no Redis */
	int redis_password_argv;  /* the --redis flag's URL held a password: argv's
	                           * copy is masked, and the server warns */
	size_t max_cluster_groups; /* groups in Redis at once; creates past it get 503 */
	unsigned history;         /* messages a group keeps (in Redis in cluster
	                           * mode, else in memory for groupchat.v1); 0: none */
	size_t history_bytes;     /* bytes of messages a group keeps, at most */
	char redis_sentinel[1024]; /* --redis-sentinel list; empty: --redis alone */
	char redis_master[128];   /* --redis-master, set iff redis_sentinel is */
};

/* The default of --stats-groups. */
#define CONFIG_STATS_GROUPS_DEFAULT 1000
/* The defaults of --history and --history-bytes: a group's own on one
 * node (core/history.h), the same in Redis. */
#define CONFIG_HISTORY_DEFAULT HISTORY_DEFAULT_COUNT
#define CONFIG_HISTORY_BYTES_DEFAULT HISTORY_DEFAULT_BYTES

enum config_result {
	CONFIG_OK,
	CONFIG_EXIT_OK,    /* --help or --version was printed: exit 0 */
	CONFIG_EXIT_USAGE, /* an error was printed: exit 2 */
};

void config_defaults(struct config *cfg);

/* Applies the environment (GROUPCHAT_PORT, ...) then argv, then checks
 * the whole: a join secret without an admin token needs
 * open_control_plane. Errors are one line on err; --help and --version
 * print to out. A password in the --redis flag's URL is masked in argv
 * itself (redis_url_mask_password), so argv must be writable. */
enum config_result config_parse(struct config *cfg, int argc, char **argv,
                                FILE *out, FILE *err);

/* 1 if origin (a NUL-terminated string) may open a WebSocket under cfg. */
int config_origin_allowed(const struct config *cfg, const char *origin);

#endif
