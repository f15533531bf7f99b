/*
 * thread_pool: parked threads reused one task at a time (see
 * thread_pool.h).
 *
 * Who touches what:
 *  - parked, nparked: guarded by the pool's lock. A thread on the parked
 *    list has no task and waits on its go condition.
 *  - a thread's fn, arg, busy and quit: guarded by its own lock. Whoever
 *    hands it a task (thread_pool_run) or tells it to quit does so under
 *    that lock and signals go; the thread clears busy under it when the
 *    task returns and signals done, which thread_pool_wait waits on.
 *  - a thread is never on the parked list while busy, and only the
 *    caller that took it off the list (or created it) touches it until it
 *    goes back: no two callers share a thread.
 *
 * The parked list is a stack: the thread parked last is handed the next
 * task, so the threads in use keep their stacks' pages warm and the ones
 * that stay parked go cold.
 *
 * Stacks come from the pool's stack_arena (its own lock), a thread's
 * taken in pooled_start and put back once it is joined in pooled_end:
 * starting a thread maps nothing, and ending one unmaps nothing.
 */
#include "groupchat/core/thread_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "groupchat/core/stack_arena.h"
#include "groupchat/core/thread.h"

struct pooled {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t go;      /* a task was handed over, or quit set */
	pthread_cond_t done;    /* busy went false */
	void (*fn)(void *);
	void *arg;
	bool busy;              /* a task is handed over and has not returned */
	bool quit;
	void *stack;            /* from the pool's arena, until joined */
	struct pooled *next;    /* on the parked list */
	const struct thread_pool *pool; /* for the name; fixed */
};

struct thread_pool {
	pthread_mutex_t lock;
	struct pooled *parked;
	size_t nparked;
	size_t max_parked;
	size_t stack;
	struct stack_arena *stacks;
	char name[16];
};

/* Stacks reserved at a time: 64 x 68 KiB of address space for writers. */
#define POOL_STACKS_PER_CHUNK 64

struct thread_pool *
thread_pool_new(const char *name, size_t stack, size_t max_parked)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct thread_pool *p;
	int err;

	/* Whole pages, as pthread_attr_setstacksize rounds them. */
	stack = THREAD_STACK_OWN(stack);
	if (stack > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	stack = stack == 0 ? page : (stack + page - 1) / page * page;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->stacks = stack_arena_new(stack, POOL_STACKS_PER_CHUNK)) == NULL) {
		free(p);
		return NULL;
	}
	if ((err = pthread_mutex_init(&p->lock, NULL)) != 0) {
		stack_arena_free(p->stacks);
		free(p);
		errno = err;
		return NULL;
	}
	p->stack = stack;
	p->max_parked = max_parked;
	strncpy(p->name, name, sizeof(p->name) - 1);
	return p;
}

static void *
pooled_main(void *arg)
{
	struct pooled *t = arg;
	void (*fn)(void *);
	void *fnarg;

	/* Cheaper from the thread itself (thread.h). */
	pthread_setname_np(pthread_self(), t->pool->name);
	pthread_mutex_lock(&t->lock);
	for (;;) {
		while (!t->busy && !t->quit)
			pthread_cond_wait(&t->go, &t->lock);
		if (!t->busy)
			break;
		fn = t->fn;
		fnarg = t->arg;
		pthread_mutex_unlock(&t->lock);
		fn(fnarg);
		pthread_mutex_lock(&t->lock);
		t->busy = false;
		pthread_cond_signal(&t->done);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void
pooled_destroy(struct pooled *t)
{
	pthread_cond_destroy(&t->done);
	pthread_cond_destroy(&t->go);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* A new thread already holding its first task. */
static struct pooled *
pooled_start(struct thread_pool *p, void (*fn)(void *), void *arg)
{
	struct pooled *t;
	int err;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((err = pthread_mutex_init(&t->lock, NULL)) != 0)
		goto err0;
	if ((err = pthread_cond_init(&t->go, NULL)) != 0)
		goto err1;
	if ((err = pthread_cond_init(&t->done, NULL)) != 0)
		goto err2;
	t->fn = fn;
	t->arg = arg;
	t->busy = true;
	t->pool = p;
	if ((t->stack = stack_arena_get(p->stacks)) == NULL) {
		err = errno;
		goto err3;
	}
	if ((err = thread_start_on(&t->tid, t->stack, p->stack, pooled_main, t)) != 0) {
		stack_arena_put(p->stacks, t->stack);
		goto err3;
	}
	return t;
err3:
	pooled_destroy(t);
	errno = err;
	return NULL;
err2:
	pthread_cond_destroy(&t->go);
err1:
	pthread_mutex_destroy(&t->lock);
err0:
	free(t);
	errno = err;
	return NULL;
}

/* Ends a thread without a task, joins it and puts its stack back. */
static void
pooled_end(struct thread_pool *p, struct pooled *t)
{
	pthread_mutex_lock(&t->lock);
	t->quit = true;
	pthread_cond_signal(&t->go);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->tid, NULL);
	stack_arena_put(p->stacks, t->stack);
	pooled_destroy(t);
}

struct pooled *
thread_pool_run(struct thread_pool *p, void (*fn)(void *), void *arg)
{
	struct pooled *t;

	pthread_mutex_lock(&p->lock);
	if ((t = p->parked) != NULL) {
		p->parked = t->next;
		p->nparked--;
	}
	pthread_mutex_unlock(&p->lock);
	if (t == NULL)
		return pooled_start(p, fn, arg);
	pthread_mutex_lock(&t->lock);
	t->fn = fn;
	t->arg = arg;
	t->busy = true;
	pthread_cond_signal(&t->go);
	pthread_mutex_unlock(&t->lock);
	return t;
}

void
thread_pool_wait(struct thread_pool *p, struct pooled *t)
{
	pthread_mutex_lock(&t->lock);
	while (t->busy)
		pthread_cond_wait(&t->done, &t->lock);
	pthread_mutex_unlock(&t->lock);

	pthread_mutex_lock(&p->lock);
	if (p->nparked < p->max_parked) {
		t->next = p->parked;
		p->parked = t;
		p->nparked++;
		t = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	if (t != NULL)
		pooled_end(p, t);
}

size_t
thread_pool_parked(struct thread_pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->nparked;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void
thread_pool_free(struct thread_pool *p)
{
	struct pooled *t;

	if (p == NULL)
		return;
	while ((t = p->parked) != NULL) {
		p->parked = t->next;
		pooled_end(p, t);
	}
	stack_arena_free(p->stacks);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
