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
 * left whole), or where the kernel has none, the page made PROT_NONE
 * (which splits the mapping and takes the lock for writing). The free
 * list is a stack (the slot put back last is handed out first) kept in an
 * array of its own, so a free slot's pages are not touched to link it.
 */
#include "groupchat/core/stack_arena.h"

#include <errno.h>
#include <pthread.h>
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
	size_t per_chunk;
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

	if (page <= 0 || size == 0 || size % (size_t)page != 0 || per_chunk == 0) {
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
	a->per_chunk = per_chunk;
	return a;
}

/* Reserves a new chunk and makes it the one fresh slots come from. */
static int
stack_arena_grow(struct stack_arena *a)
{
	struct stack_chunk *c;
	size_t len = a->per_chunk * (a->guard + a->size);
	void *base;

	if ((c = malloc(sizeof(*c))) == NULL)
		return -1;
	base = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		free(c);
		errno = ENOMEM;
		return -1;
	}
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
	if ((p = realloc(a->free, cap * sizeof(*p))) == NULL)
		return -1;
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
	if (a->fresh == a->fresh_end && stack_arena_grow(a) == -1)
		goto out;
	if (madvise(a->fresh, a->guard, MADV_GUARD_INSTALL) == -1 &&
	    mprotect(a->fresh, a->guard, PROT_NONE) == -1) {
		errno = ENOMEM;
		goto out;
	}
	stack = a->fresh + a->guard;
	a->fresh += a->guard + a->size;
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
	while ((c = a->chunks) != NULL) {
		a->chunks = c->next;
		munmap(c->base, c->len);
		free(c);
	}
	free(a->free);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
