/*
 * cluster_keep: the groups this node served until their last member here
 * left, kept in mind for CLUSTER_KEEP_MS. A group exists until someone
 * deletes it: when Redis loses its data (restarted empty, flushed) while
 * a group has no member anywhere, for instance because Redis's death
 * closed every sender with 1013, nothing else would register it again
 * and the members coming back would find no group. So the node registers
 * every kept group again when its command link finds another Redis
 * process (cluster_keep_restarted, before the link counts as up), and a
 * group kept while Redis is not usable at once as well (its command may
 * fail while Redis is away; then the restart covers it). A delete leaves
 * a tombstone, which the re-registration respects.
 *
 * Who touches what: kept and nkept are guarded by kept_lock; the manager
 * thread adds (cluster_keep), the command thread reads them in its
 * restart callback; cluster_free frees them once the actors are gone.
 */
#include "groupchat/actors/cluster.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/cluster/redis_cmd.h"
#include "groupchat/core/clock.h"
#include "groupchat/core/log.h"
#include "cluster_private.h"

/* Drops entry i; the order of the others holds. Under kept_lock. */
static void
kept_drop(struct cluster *cl, size_t i)
{
	free(cl->kept[i].id);
	memmove(cl->kept + i, cl->kept + i + 1, (cl->nkept - i - 1) * sizeof(*cl->kept));
	cl->nkept--;
}

/* Drops what expired, and the id if listed (id NULL: none). Under kept_lock. */
static void
kept_prune(struct cluster *cl, const char *id, size_t len, int64_t now)
{
	size_t i = 0;

	while (i < cl->nkept) {
		struct kept *k = &cl->kept[i];

		if (k->until <= now ||
		    (id != NULL && k->len == len && memcmp(k->id, id, len) == 0))
			kept_drop(cl, i);
		else
			i++;
	}
}

void
cluster_keep(struct cluster *cl, const char *id, size_t len, const char *inc)
{
	int64_t now = clock_now_ms();
	struct kept *k;
	char why[8];
	char *copy;

	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		return;
	memcpy(copy, id, len);
	pthread_mutex_lock(&cl->kept_lock);
	kept_prune(cl, id, len, now);
	if (cl->kept == NULL && (cl->kept = calloc(KEPT_MAX, sizeof(*cl->kept))) == NULL) {
		pthread_mutex_unlock(&cl->kept_lock);
		free(copy);
		return;
	}
	if (cl->nkept == KEPT_MAX)
		kept_drop(cl, 0);
	k = &cl->kept[cl->nkept++];
	k->id = copy;
	k->len = len;
	memcpy(k->inc, inc, sizeof(k->inc));
	k->until = now + CLUSTER_KEEP_MS;
	pthread_mutex_unlock(&cl->kept_lock);
	if (!cluster_up(cl, why, sizeof(why)))
		redis_cmd_reregister_later(cl->cmd, id, len, inc);
}

void
cluster_keep_restarted(struct cluster *cl)
{
	size_t i;

	pthread_mutex_lock(&cl->kept_lock);
	kept_prune(cl, NULL, 0, clock_now_ms());
	for (i = 0; i < cl->nkept; i++) {
		struct kept *k = &cl->kept[i];
		int r = redis_cmd_reregister_here(cl->cmd, k->id, k->len, k->inc);

		if (r == -1)
			break;
		if (r == 1)
			log_event_id(LOG_INFO, "group_kept", "group", k->id, k->len, NULL);
	}
	pthread_mutex_unlock(&cl->kept_lock);
}

void
cluster_keep_free(struct cluster *cl)
{
	while (cl->nkept > 0)
		kept_drop(cl, cl->nkept - 1);
	free(cl->kept);
	pthread_mutex_destroy(&cl->kept_lock);
}
