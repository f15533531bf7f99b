/*
 * stack_arena: reserved chunks of guarded stack slots (see stack_arena.h).
 *
 * Who touches what: every field is guarded by the arena's lock; a stack
 * handed out is its thread's alone until stack_arena_put.
 *
 * A chunk is one writable mapping of per_chunk slots, each a guard page
 * followed by size bytes of stack (address space only: no page is touched
 * and no memory is committed until a thread runs there). A slot's guard
 * is installed the first time the slot is handed out, and stays: from
 * then on the slot lives on the free list between uses. The guard is a
 * guard region (MADV_GUARD_INSTALL, Linux 6.13 and later: a marker in the
 * page table, taken under the address-space lock for reading, the mapping
 * left whole), or where the kernel has none (the first refusal is
 * remembered), the page made PROT_NONE (which splits the mapping and
 * takes the lock for writing). Chunks are mapped as stacks (MAP_STACK)
 * and kept off transparent huge pages, so a stack never faults in a
 * 2 MiB page shared with its neighbours. The free
 * list is a stack (the slot put back last is handed out first) kept in an
 * array of its own, so a free slot's pages are not touched to link it.
 */
#include "groupchat/core/stack_arena.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

struct stack_chunk {
	struct stack_chunk *next;
	char *base;
	size_t len;
};

struct stack_arena {
	pthread_mutex_t lock;
	size_t size;            /* stack bytes per slot */
	size_t guard;           /* a page */
	size_t slot;            /* guard + size */
	size_t per_chunk;
	bool no_guard_regions;  /* MADV_GUARD_INSTALL was refused */
	struct stack_chunk *chunks;
	char *fresh;            /* the newest chunk's next slot never used */
	char *fresh_end;
	void **free;            /* slots put back, the last on top */
	size_t nfree, capfree;
	size_t used;
};

struct stack_arena *
stack_arena_new(size_t size, size_t per_chunk)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stack_arena *a;
	int err;

	if (page <= 0 || size == 0 || size % (size_t)page != 0 || per_chunk == 0 ||
	    size > SIZE_MAX - (size_t)page ||
	    per_chunk > SIZE_MAX / (size + (size_t)page)) {
		errno = EINVAL;
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if ((err = pthread_mutex_init(&a->lock, NULL)) != 0) {
		free(a);
		errno = err;
		return NULL;
	}
	a->size = size;
	a->guard = (size_t)page;
	a->slot = size + (size_t)page;
	a->per_chunk = per_chunk;
	return a;
}

/* Reserves a new chunk and makes it the one fresh slots come from. */
static int
stack_arena_grow(struct stack_arena *a)
{
	struct stack_chunk *c;
	size_t len = a->per_chunk * a->slot;
	void *base;

	if ((c = malloc(sizeof(*c))) == NULL)
		return -1;
	base = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED) {
		free(c);
		errno = ENOMEM;
		return -1;
	}
	/* Advice only: without it a stack may share a huge page. */
	madvise(base, len, MADV_NOHUGEPAGE);
	c->base = base;
	c->len = len;
	c->next = a->chunks;
	a->chunks = c;
	a->fresh = c->base;
	a->fresh_end = c->base + len;
	return 0;
}

/* Room on the free list for every slot handed out, so that a put never
 * needs to allocate. */
static int
stack_arena_reserve_free(struct stack_arena *a)
{
	size_t cap = a->capfree != 0 ? a->capfree * 2 : a->per_chunk;
	void **p;

	if (a->used + 1 <= a->capfree)
		return 0;
	if (cap > SIZE_MAX / sizeof(*p) || (p = realloc(a->free, cap * sizeof(*p))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	a->free = p;
	a->capfree = cap;
	return 0;
}

void *
stack_arena_get(struct stack_arena *a)
{
	void *stack = NULL;

	pthread_mutex_lock(&a->lock);
	if (a->nfree > 0) {
		stack = a->free[--a->nfree];
		a->used++;
		goto out;
	}
	if (stack_arena_reserve_free(a) == -1)
		goto out;
	if ((a->fresh == NULL || (size_t)(a->fresh_end - a->fresh) < a->slot) &&
	    stack_arena_grow(a) == -1)
		goto out;
	if (!a->no_guard_regions && madvise(a->fresh, a->guard, MADV_GUARD_INSTALL) == -1)
		a->no_guard_regions = true;
	if (a->no_guard_regions && mprotect(a->fresh, a->guard, PROT_NONE) == -1) {
		errno = ENOMEM;
		goto out;
	}
	stack = a->fresh + a->guard;
	a->fresh += a->slot;
	a->used++;
out:
	pthread_mutex_unlock(&a->lock);
	return stack;
}

void
stack_arena_put(struct stack_arena *a, void *stack)
{
	/* Outside the lock: the pages are no one's now. Failure only
	 * leaves them resident. */
	madvise(stack, a->size, MADV_DONTNEED);
	pthread_mutex_lock(&a->lock);
	a->free[a->nfree++] = stack;
	a->used--;
	pthread_mutex_unlock(&a->lock);
}

size_t
stack_arena_used(struct stack_arena *a)
{
	size_t n;

	pthread_mutex_lock(&a->lock);
	n = a->used;
	pthread_mutex_unlock(&a->lock);
	return n;
}

void
stack_arena_free(struct stack_arena *a)
{
	struct stack_chunk *c;

	if (a == NULL)
		return;
	/* A stack still out would be unmapped under its thread. */
	assert(a->used == 0);
	while ((c = a->chunks) != NULL) {
		a->chunks = c->next;
		munmap(c->base, c->len);
		free(c);
	}
	free(a->free);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
