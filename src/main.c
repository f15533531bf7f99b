/*
 * groupchat: parse the configuration, block every signal (CivetWeb 1.15
 * drops a WebSocket whose worker is interrupted, and every thread inherits
 * this mask), start the server (then mask the Redis password in our copy
 * of the configuration), and wait for SIGINT or SIGTERM on this
 * thread alone. Then shut down cleanly and exit 0. "groupchat token ..."
 * mints a join token instead (auth.c) and exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/cluster/redis_url.h"
#include "groupchat/config.h"
#include "groupchat/core/log.h"
#include "groupchat/web/auth.h"
#include "groupchat/web/server.h"

int
main(int argc, char **argv)
{
	struct config cfg;
	struct server *srv;
	sigset_t all, stop;
	char err[256], port[16], members[24];
	int sig;

	if (argc > 1 && strcmp(argv[1], "token") == 0)
		return auth_token_command(argc - 1, argv + 1, stdout, stderr);
	config_defaults(&cfg);
	switch (config_parse(&cfg, argc, argv, stdout, stderr)) {
	case CONFIG_EXIT_OK:
		return 0;
	case CONFIG_EXIT_USAGE:
		return 2;
	case CONFIG_OK:
		break;
	}
	log_setup(cfg.log_level, cfg.log_format, 2);
	if (cfg.redis_password_argv)
		log_event(LOG_WARN, "redis_password_on_command_line", "hint",
		    "other users may have read it in /proc/PID/cmdline before it was "
		    "masked; give it in GROUPCHAT_REDIS_PASSWORD", NULL);

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);

	srv = server_start(&cfg, err, sizeof(err));
	/* The server keeps what it needs; this copy's password goes. */
	redis_url_mask_password(cfg.redis, strlen(cfg.redis));
	if (srv == NULL) {
		fprintf(stderr, "groupchat: %s\n", err);
		return 1;
	}
	snprintf(port, sizeof(port), "%d", server_port(srv));
	snprintf(members, sizeof(members), "%ld", cfg.max_clients);
	log_event(LOG_INFO, "start", "version", GROUPCHAT_VERSION, "listen", cfg.listen,
	    "port", port, "max_clients", members, NULL);

	while (sigwait(&stop, &sig) != 0)
		;
	log_event(LOG_INFO, "shutdown", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
	server_stop(srv);
	log_event(LOG_INFO, "stopped", NULL);
	return 0;
}
