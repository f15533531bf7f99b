/*
 * config: defaults, then GROUPCHAT_<NAME> environment variables, then
 * flags. Every value is checked here, once, so the rest of the server can
 * trust struct config. A bad value is one line on stderr and exit 2.
 */
#include "groupchat/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/actors/manager.h"
#include "groupchat/actors/member.h"
#include "groupchat/cluster/redis_sentinels.h"
#include "groupchat/cluster/redis_url.h"

enum opt_kind { OPT_PORT, OPT_LISTEN, OPT_MAX_CLIENTS, OPT_MAX_MESSAGE,
	OPT_SEND_QUEUE, OPT_PING, OPT_ORIGINS, OPT_LOG_LEVEL, OPT_LOG_FORMAT,
	OPT_ADMIN_TOKEN, OPT_JOIN_SECRET, OPT_OPEN_CONTROL_PLANE, OPT_TRUSTED_PROXIES,
	OPT_MAX_GROUPS, OPT_STATS_GROUPS, OPT_REDIS, OPT_HISTORY, OPT_HISTORY_BYTES,
	OPT_MAX_CLUSTER_GROUPS, OPT_REDIS_SENTINEL, OPT_REDIS_MASTER };

static const struct opt {
	const char *flag;  /* without the leading "--" */
	const char *env;
	enum opt_kind kind;
	const char *arg;   /* NULL: a switch, set by the flag alone */
	const char *help;
} opts[] = {
	{"port", "GROUPCHAT_PORT", OPT_PORT, "N",
	    "TCP port to listen on, 0 for any free port (default 8080)"},
	{"listen", "GROUPCHAT_LISTEN", OPT_LISTEN, "ADDR",
	    "IPv4 address to bind (default 0.0.0.0)"},
	{"max-clients", "GROUPCHAT_MAX_CLIENTS", OPT_MAX_CLIENTS, "N",
	    "WebSocket members at once; more get 503 (default 1000)"},
	{"max-groups", "GROUPCHAT_MAX_GROUPS", OPT_MAX_GROUPS, "N",
	    "groups registered at once; more creates get 503 (default 100000)"},
	{"stats-groups", "GROUPCHAT_STATS_GROUPS", OPT_STATS_GROUPS, "N",
	    "groups with members listed in /stats and /metrics; 0: none (default 1000)"},
	{"max-message", "GROUPCHAT_MAX_MESSAGE", OPT_MAX_MESSAGE, "BYTES",
	    "largest message, suffix k/m/g allowed; larger closes 1009 (default 1m)"},
	{"send-queue", "GROUPCHAT_SEND_QUEUE", OPT_SEND_QUEUE, "N",
	    "messages queued per member; full for 200 ms: dropped as slow (default 256)"},
	{"ping-interval", "GROUPCHAT_PING_INTERVAL", OPT_PING, "SECONDS",
	    "ping members silent this long; drop if unanswered as long; 0 disables (default 30)"},
	{"allowed-origins", "GROUPCHAT_ALLOWED_ORIGINS", OPT_ORIGINS, "LIST",
	    "comma-separated Origin values allowed to join; empty: any (default)"},
	{"log-level", "GROUPCHAT_LOG_LEVEL", OPT_LOG_LEVEL, "LEVEL",
	    "debug, info, warn or error (default info)"},
	{"log-format", "GROUPCHAT_LOG_FORMAT", OPT_LOG_FORMAT, "FORMAT",
	    "text or json (default text)"},
	{"admin-token-file", "GROUPCHAT_ADMIN_TOKEN", OPT_ADMIN_TOKEN, "PATH",
	    "require this bearer token for /create, DELETE, /stats and /metrics; "
	    "the variable holds the token itself (default off)"},
	{"join-secret-file", "GROUPCHAT_JOIN_SECRET", OPT_JOIN_SECRET, "PATH",
	    "require a join token (HS256 JWT) signed with this secret; "
	    "the variable holds the secret itself (default off)"},
	{"open-control-plane", "GROUPCHAT_OPEN_CONTROL_PLANE", OPT_OPEN_CONTROL_PLANE, NULL,
	    "with a join secret but no admin token, leave /create, DELETE, /stats "
	    "and /metrics open (else refused at start); the variable is 1 or 0"},
	{"trusted-proxies", "GROUPCHAT_TRUSTED_PROXIES", OPT_TRUSTED_PROXIES, "LIST",
	    "comma-separated A.B.C.D or A.B.C.D/N: proxies whose X-Forwarded-For "
	    "names the client in logs (default none: logs name the TCP peer)"},
	{"redis", "GROUPCHAT_REDIS", OPT_REDIS, "URL",
	    "cluster mode: share groups with every node on this Redis, "
	    "redis://[:password@]host[:port][/db]; GROUPCHAT_REDIS_PASSWORD "
	    "overrides the password; prefer it, argv is visible to every user "
	    "(default off: one node)"},
	{"max-cluster-groups", "GROUPCHAT_MAX_CLUSTER_GROUPS", OPT_MAX_CLUSTER_GROUPS, "N",
	    "groups the cluster holds in Redis at once; more creates get 503 "
	    "(cluster mode; default 100000)"},
	{"history", "GROUPCHAT_HISTORY", OPT_HISTORY, "N",
	    "messages each group keeps: for members resuming with since (one node; "
	    "0: since answers reset), in Redis to repair gaps (cluster mode; 0: a "
	    "gap closes 1013) (default 100)"},
	{"history-bytes", "GROUPCHAT_HISTORY_BYTES", OPT_HISTORY_BYTES, "BYTES",
	    "bytes of messages each group keeps at most, suffix k/m/g "
	    "allowed; oldest go first (default 1m)"},
	{"redis-sentinel", "GROUPCHAT_REDIS_SENTINEL", OPT_REDIS_SENTINEL, "LIST",
	    "cluster mode through Redis Sentinel: HOST[:PORT],... of the sentinels "
	    "to ask for the master named by --redis-master; --redis then gives only "
	    "the password and db; GROUPCHAT_REDIS_SENTINEL_PASSWORD is the sentinels' "
	    "own (default off)"},
	{"redis-master", "GROUPCHAT_REDIS_MASTER", OPT_REDIS_MASTER, "NAME",
	    "the master's name in Sentinel, with --redis-sentinel (default none)"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->listen, "0.0.0.0");
	cfg->port = 8080;
	cfg->max_clients = 1000;
	cfg->max_groups = MANAGER_MAX_GROUPS_DEFAULT;
	cfg->stats_groups = CONFIG_STATS_GROUPS_DEFAULT;
	cfg->max_message = 1 << 20;
	cfg->send_queue = MEMBER_QUEUE_DEFAULT;
	cfg->ping_interval = 30;
	cfg->max_cluster_groups = MANAGER_MAX_GROUPS_DEFAULT;
	cfg->history = CONFIG_HISTORY_DEFAULT;
	cfg->history_bytes = CONFIG_HISTORY_BYTES_DEFAULT;
	cfg->log_level = LOG_INFO;
	cfg->log_format = LOG_TEXT;
}

/* A whole decimal number in [min, max], with an optional k/m/g binary
 * suffix when allow_suffix is set. */
static int
parse_num(const char *s, long long min, long long max, int allow_suffix,
    long long *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -1;
	if (allow_suffix && *end != '\0' && end[1] == '\0') {
		int shift = 0;
		switch (tolower((unsigned char)*end)) {
		case 'k': shift = 10; break;
		case 'm': shift = 20; break;
		case 'g': shift = 30; break;
		default: return -1;
		}
		if (v > (max >> shift))
			return -1;
		v <<= shift;
		end++;
	}
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
valid_ipv4(const char *s)
{
	int parts = 0;

	while (parts < 4) {
		long long v;
		char part[4];
		size_t n = 0;
		while (isdigit((unsigned char)s[n]) && n < 3) {
			part[n] = s[n];
			n++;
		}
		part[n] = '\0';
		if (n == 0 || parse_num(part, 0, 255, 0, &v) == -1)
			return 0;
		s += n;
		parts++;
		if (parts < 4 && *s++ != '.')
			return 0;
	}
	return *s == '\0';
}

/* A flag names a file holding the secret, the variable holds the secret
 * itself. Errors never show the value. */
static int
apply_secret(struct config *cfg, const struct opt *o, const char *val, FILE *err,
    const char *from)
{
	enum auth_key_kind kind = o->kind == OPT_ADMIN_TOKEN ? AUTH_ADMIN_TOKEN : AUTH_JOIN_SECRET;
	struct auth_key *k = kind == AUTH_ADMIN_TOKEN ? &cfg->admin_token : &cfg->join_secret;
	char why[PATH_MAX + 64];
	int rc = from[0] == '-' ? auth_key_load(k, kind, val, why, sizeof(why)) :
	    auth_key_set(k, kind, val, strlen(val), why, sizeof(why));

	if (rc == -1)
		fprintf(err, "groupchat: %s%s: %s\n", from, from[0] == '-' ? o->flag : "", why);
	return rc;
}

/* The URL is checked here and parsed again by the server; an error never
 * quotes it, since it may hold the password. */
static int
apply_redis(struct config *cfg, const struct opt *o, const char *val, FILE *err,
    const char *from)
{
	struct redis_url *u = NULL;
	const char *why = "too long";

	if (strlen(val) < sizeof(cfg->redis) &&
	    (u = redis_url_parse(val, strlen(val), NULL, &why)) == NULL && errno == ENOMEM)
		why = "out of memory";
	if (u == NULL) {
		fprintf(err, "groupchat: invalid value for %s%s: %s (%s)\n", from,
		    from[0] == '-' ? o->flag : "", why, o->help);
		return -1;
	}
	redis_url_free(u);
	strcpy(cfg->redis, val);
	return 0;
}

static int
apply_proxies(struct config *cfg, const struct opt *o, const char *val, FILE *err,
    const char *from)
{
	const char *why;

	if (cidr_set_parse(&cfg->trusted_proxies, val, strlen(val), &why) == -1) {
		fprintf(err, "groupchat: invalid value '%s' for %s%s: %s (%s)\n", val, from,
		    from[0] == '-' ? o->flag : "", why, o->help);
		return -1;
	}
	return 0;
}

static int
apply_sentinel(struct config *cfg, const struct opt *o, const char *val, FILE *err,
    const char *from)
{
	struct redis_sentinels list;
	const char *why = "too long";

	if (strlen(val) >= sizeof(cfg->redis_sentinel) ||
	    redis_sentinels_parse(val, strlen(val), &list, &why) == -1) {
		fprintf(err, "groupchat: invalid value for %s%s: %s (%s)\n", from,
		    from[0] == '-' ? o->flag : "", why, o->help);
		return -1;
	}
	strcpy(cfg->redis_sentinel, val);
	return 0;
}

static int
apply(struct config *cfg, const struct opt *o, const char *val, FILE *err,
    const char *from)
{
	long long v;
	int r;

	switch (o->kind) {
	case OPT_PORT:
		if (parse_num(val, 0, 65535, 0, &v) == -1)
			goto bad;
		cfg->port = (int)v;
		return 0;
	case OPT_LISTEN:
		if (!valid_ipv4(val))
			goto bad;
		strcpy(cfg->listen, val);
		return 0;
	case OPT_MAX_CLIENTS:
		/* CivetWeb holds one worker per member and caps its pool at
		 * 65536; leave room for the HTTP reserve. */
		if (parse_num(val, 1, 60000, 0, &v) == -1)
			goto bad;
		cfg->max_clients = (long)v;
		return 0;
	case OPT_MAX_GROUPS:
		if (parse_num(val, 1, 100000000, 0, &v) == -1)
			goto bad;
		cfg->max_groups = (size_t)v;
		return 0;
	case OPT_STATS_GROUPS:
		if (parse_num(val, 0, 1000000, 0, &v) == -1)
			goto bad;
		cfg->stats_groups = (size_t)v;
		return 0;
	case OPT_MAX_MESSAGE:
		/* The most CivetWeb's read loop can allocate for a frame: its
		 * frame limit (our patch 0002) is capped there. */
		if (parse_num(val, 1, 0x7FFF0000LL, 1, &v) == -1)
			goto bad;
		cfg->max_message = (size_t)v;
		return 0;
	case OPT_MAX_CLUSTER_GROUPS:
		if (parse_num(val, 1, 100000000, 0, &v) == -1)
			goto bad;
		cfg->max_cluster_groups = (size_t)v;
		return 0;
	case OPT_HISTORY:
		if (parse_num(val, 0, 1000000, 0, &v) == -1)
			goto bad;
		cfg->history = (unsigned)v;
		return 0;
	case OPT_HISTORY_BYTES:
		if (parse_num(val, 0, 1LL << 40, 1, &v) == -1)
			goto bad;
		cfg->history_bytes = (size_t)v;
		return 0;
	case OPT_SEND_QUEUE:
		if (parse_num(val, 1, 1 << 20, 0, &v) == -1)
			goto bad;
		cfg->send_queue = (size_t)v;
		return 0;
	case OPT_PING:
		if (parse_num(val, 0, 86400, 0, &v) == -1)
			goto bad;
		cfg->ping_interval = (long)v;
		return 0;
	case OPT_ORIGINS:
		if (strlen(val) >= sizeof(cfg->allowed_origins))
			goto bad;
		strcpy(cfg->allowed_origins, val);
		return 0;
	case OPT_LOG_LEVEL:
		if ((r = log_level_parse(val)) == -1)
			goto bad;
		cfg->log_level = (enum log_level)r;
		return 0;
	case OPT_LOG_FORMAT:
		if ((r = log_format_parse(val)) == -1)
			goto bad;
		cfg->log_format = (enum log_format)r;
		return 0;
	case OPT_ADMIN_TOKEN:
	case OPT_JOIN_SECRET:
		return apply_secret(cfg, o, val, err, from);
	case OPT_OPEN_CONTROL_PLANE:
		/* A switch: 1 or 0 in its variable or after "=". */
		if (strcmp(val, "1") != 0 && strcmp(val, "0") != 0)
			goto bad;
		cfg->open_control_plane = val[0] == '1';
		return 0;
	case OPT_TRUSTED_PROXIES:
		return apply_proxies(cfg, o, val, err, from);
	case OPT_REDIS:
		return apply_redis(cfg, o, val, err, from);
	case OPT_REDIS_SENTINEL:
		return apply_sentinel(cfg, o, val, err, from);
	case OPT_REDIS_MASTER:
		if (!redis_master_name_valid(val))
			goto bad;
		strcpy(cfg->redis_master, val);
		return 0;
	}
bad:
	fprintf(err, "groupchat: invalid value '%s' for %s%s (%s)\n", val, from,
	    from[0] == '-' ? o->flag : "", o->help);
	return -1;
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: groupchat [--flag VALUE]...\n"
	    "\n"
	    "A WebSocket group-chat server: POST /create?id=G, DELETE /groups/G,\n"
	    "and a WebSocket at /groups/G relaying each message to every member.\n"
	    "\n"
	    "flags (each also read from the environment variable shown):\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[48];
		snprintf(left, sizeof(left), "--%s%s%s", opts[i].flag,
		    opts[i].arg != NULL ? " " : "", opts[i].arg != NULL ? opts[i].arg : "");
		fprintf(out, "  %-26s %s\n  %-26s [%s]\n", left, opts[i].help, "",
		    opts[i].env);
	}
	fprintf(out, "  %-26s %s\n  %-26s %s\n", "--help", "show this help and exit",
	    "--version", "show the version and exit");
	fprintf(out,
	    "\n"
	    "subcommand: groupchat token --group G [--ttl 1h] [--join-secret-file PATH]\n"
	    "  prints a join token for group G (see groupchat token --help).\n"
	    "\n"
	    "signals: SIGINT or SIGTERM closes every member with 1001 and exits 0.\n"
	    "exit status: 0 on a clean stop, 1 if the server cannot start, 2 on a bad flag.\n");
}

/* Does argv set o (as --flag VALUE or --flag=VALUE)? */
static int
flag_given(const struct opt *o, int argc, char **argv)
{
	size_t n = strlen(o->flag);

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, o->flag, n) == 0 &&
		    (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
			return 1;
	return 0;
}

enum config_result
config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
	/* A flag wins over its variable, even over a bad one: a variable is
	 * read only for the settings no flag names. */
	for (size_t i = 0; i < NOPTS; i++) {
		const char *v = getenv(opts[i].env);
		if (v != NULL && !flag_given(&opts[i], argc, argv) &&
		    apply(cfg, &opts[i], v, err, opts[i].env) == -1)
			return CONFIG_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		char *a = argv[i], *val, *eq, on[] = "1";
		const char *name;
		size_t nlen;
		const struct opt *o = NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(out);
			return CONFIG_EXIT_OK;
		}
		if (strcmp(a, "--version") == 0) {
			fprintf(out, "groupchat %s\n", GROUPCHAT_VERSION);
			return CONFIG_EXIT_OK;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(err, "groupchat: unexpected argument '%s' (see --help)\n", a);
			return CONFIG_EXIT_USAGE;
		}
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
		for (size_t k = 0; k < NOPTS; k++)
			if (strlen(opts[k].flag) == nlen &&
			    strncmp(opts[k].flag, name, nlen) == 0)
				o = &opts[k];
		if (o == NULL) {
			fprintf(err, "groupchat: unknown flag '%s' (see --help)\n", a);
			return CONFIG_EXIT_USAGE;
		}
		if (eq != NULL) {
			val = eq + 1;
		} else if (o->arg == NULL) {
			val = on;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(err, "groupchat: flag --%s needs a value (see --help)\n",
			    o->flag);
			return CONFIG_EXIT_USAGE;
		}
		if (apply(cfg, o, val, err, "--") == -1)
			return CONFIG_EXIT_USAGE;
		/* Every user sees argv in /proc/PID/cmdline: the copy taken,
		 * the password leaves it at once (the server then warns). */
		if (o->kind == OPT_REDIS && redis_url_mask_password(val, strlen(val)))
			cfg->redis_password_argv = 1;
	}
	if (cfg->join_secret.len > 0 && cfg->admin_token.len == 0 && !cfg->open_control_plane) {
		fprintf(err, "groupchat: a join secret without an admin token leaves /create, "
		    "DELETE, /stats and /metrics open to anyone: set --admin-token-file, or "
		    "--open-control-plane if that is meant\n");
		return CONFIG_EXIT_USAGE;
	}
	if ((cfg->redis_sentinel[0] != '\0') != (cfg->redis_master[0] != '\0')) {
		fprintf(err, "groupchat: --redis-sentinel and --redis-master go together "
		    "(see --help)\n");
		return CONFIG_EXIT_USAGE;
	}
	return CONFIG_OK;
}

int
config_origin_allowed(const struct config *cfg, const char *origin)
{
	const char *p = cfg->allowed_origins;
	size_t olen;

	if (*p == '\0')
		return 1;
	if (origin == NULL)
		return 0;
	olen = strlen(origin);
	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		const char *end = comma != NULL ? comma : p + strlen(p);
		const char *s = p, *e = end;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if ((size_t)(e - s) == olen && strncasecmp(s, origin, olen) == 0)
			return 1;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}
