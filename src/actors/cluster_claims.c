/*
 * cluster_claims: the connection ids this node has claimed in Redis,
 * each with its member. A joining worker claims its member's id (drawn
 * again by the caller when another node holds it); the member's close
 * releases it. The command actor's heartbeat refreshes the ids held
 * (cluster_claims_held) and reports the ones another node took after
 * Redis restarted empty (cluster_claims_taken), whose members are closed
 * with 1013.
 *
 * Who touches what:
 *  - claims, nclaims, cap: written by workers (claim, release), read by
 *    the command thread (held, taken); guarded by claims_lock. A member
 *    is in the list only between its claim and its release, both while
 *    its connection holds a reference, so taken may close it under the
 *    lock without a reference of its own.
 *  - released: atomic; set by release, read by cluster_free, which then
 *    lets the queued releases go out before the command link stops.
 */
#include "groupchat/actors/cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "groupchat/actors/member.h"
#include "groupchat/cluster/redis_cmd.h"
#include "cluster_private.h"

static uint32_t
cid_value(const char *cid)
{
	return (uint32_t)strtoul(cid, NULL, 16);
}

size_t
cluster_claims_held(void *arg, uint32_t *out, size_t max)
{
	struct cluster *cl = arg;
	size_t i, n;

	pthread_mutex_lock(&cl->claims_lock);
	n = cl->nclaims < max ? cl->nclaims : max;
	for (i = 0; i < n; i++)
		out[i] = cl->claims[i].cid;
	pthread_mutex_unlock(&cl->claims_lock);
	return n;
}

/* Another node holds these ids now (Redis restarted empty and it drew
 * them): our members with them must go. */
void
cluster_claims_taken(void *arg, const uint32_t *cids, size_t n)
{
	struct cluster *cl = arg;
	size_t i, k;

	pthread_mutex_lock(&cl->claims_lock);
	for (i = 0; i < n; i++)
		for (k = 0; k < cl->nclaims; k++)
			if (cl->claims[k].cid == cids[i])
				member_close(cl->claims[k].member, CLUSTER_RETRY_CODE,
				    CLUSTER_RETRY_REASON);
	pthread_mutex_unlock(&cl->claims_lock);
}

int
cluster_claim(struct cluster *cl, struct member *c, const char *id, size_t len,
    char inc[REDIS_INC_LEN + 1])
{
	uint32_t cid = cid_value(member_id(c));
	struct claim *grown;
	int rc;

	rc = redis_cmd_claim(cl->cmd, cid, id, len, inc, CLUSTER_WAIT_MS);
	if (cluster_link_broke(rc))     /* a SET NX: at worst "held", drawn again */
		rc = redis_cmd_claim(cl->cmd, cid, id, len, inc, CLUSTER_WAIT_MS);
	if (rc != 1)
		return rc;
	pthread_mutex_lock(&cl->claims_lock);
	if (cl->nclaims == cl->cap) {
		size_t cap = cl->cap == 0 ? 64 : cl->cap * 2;
		if ((grown = realloc(cl->claims, cap * sizeof(*grown))) == NULL) {
			pthread_mutex_unlock(&cl->claims_lock);
			redis_cmd_release(cl->cmd, cid);
			errno = ENOMEM;
			return -1;
		}
		cl->claims = grown;
		cl->cap = cap;
	}
	cl->claims[cl->nclaims++] = (struct claim){ cid, c };
	pthread_mutex_unlock(&cl->claims_lock);
	return 1;
}

void
cluster_release(struct cluster *cl, struct member *c)
{
	uint32_t cid = cid_value(member_id(c));
	size_t i;

	pthread_mutex_lock(&cl->claims_lock);
	for (i = 0; i < cl->nclaims; i++)
		if (cl->claims[i].member == c) {
			cl->claims[i] = cl->claims[--cl->nclaims];
			break;
		}
	pthread_mutex_unlock(&cl->claims_lock);
	atomic_store(&cl->released, true);
	redis_cmd_release(cl->cmd, cid);
}
