/*
 * manager: the actor that alone owns the registry of groups (id -> group).
 *
 * Callers never touch the registry: each request (create, delete, look
 * up, list, close all) is a message with a reply slot, sent to the
 * manager thread, and the caller waits for the reply. So "create unless
 * it exists" is atomic and no map is shared between threads.
 *
 * Ids are byte strings of any length that may contain NUL.
 */
#ifndef GROUPCHAT_MANAGER_H
#define GROUPCHAT_MANAGER_H

#include <stddef.h>
#include <stdint.h>

struct group;
struct stats;

enum manager_result {
	MANAGER_CREATED,
	MANAGER_EXISTS,
	MANAGER_DELETED,
	MANAGER_NOT_FOUND,
};

struct manager;

/* Starts the manager thread. st may be NULL. NULL with errno on failure. */
struct manager *manager_new(struct stats *st);

/* Stops the manager thread, closes every group still registered (code
 * 1001 "server shutting down"), drops the registry's references and frees
 * the manager. Requests must have stopped. */
void manager_free(struct manager *m);

/* Creates group id unless it exists. MANAGER_CREATED or MANAGER_EXISTS;
 * -1 with errno (ENOMEM, or EPIPE once the manager is stopping). */
int manager_create(struct manager *m, const char *id, size_t len);

/* Removes group id and closes it (members get 1000 "group deleted").
 * MANAGER_DELETED or MANAGER_NOT_FOUND; -1 with errno. */
int manager_delete(struct manager *m, const char *id, size_t len);

/* A counted reference to group id (release with group_unref), or NULL
 * if there is none (errno ENOENT) or the manager is stopping (EPIPE). */
struct group *manager_lookup(struct manager *m, const char *id, size_t len);

/* References to every registered group, in no order: *out is a malloc'd
 * array the caller frees after group_unref on each. Returns the count,
 * or -1 with errno. */
long manager_list(struct manager *m, struct group ***out);

/* Closes every registered group with code and reason (a literal) but
 * keeps them registered: used at shutdown. */
void manager_close_all(struct manager *m, uint16_t code, const char *reason);

#endif
