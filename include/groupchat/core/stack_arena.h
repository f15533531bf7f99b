/*
 * stack_arena: thread stacks of one size, carved from address space the
 * arena reserves in chunks, each with an inaccessible guard page below
 * it, and reused once their thread is joined.
 *
 * glibc maps a new thread's stack and mprotects its guard page on every
 * pthread_create, and at every thread's end gives the pages back or
 * unmaps them, holding its one stack-cache lock meanwhile; in a join storm
 * thousands of writer threads start at once and those calls serialise on
 * the process's address-space lock. A stack from the arena costs a
 * system call only the first time its slot is used (the one that
 * installs its guard page), and one when it is put back (the madvise
 * that gives its pages back, as glibc does).
 *
 * Thread-safe: one lock per arena. Errors: stack_arena_new and
 * stack_arena_get return NULL with errno ENOMEM (or EINVAL for a size
 * that is not a whole number of pages).
 */
#ifndef GROUPCHAT_STACK_ARENA_H
#define GROUPCHAT_STACK_ARENA_H

#include <stddef.h>

struct stack_arena;

/* An arena of stacks of size bytes each (a multiple of the page size),
 * reserving slots per chunk at a time. NULL with errno. */
struct stack_arena *stack_arena_new(size_t size, size_t per_chunk);

/* The lowest address of a writable stack of the arena's size, with a
 * guard page right below it; the stack put back last, or a new slot.
 * NULL with errno ENOMEM. */
void *stack_arena_get(struct stack_arena *a);

/* Gives a stack from stack_arena_get back: its pages go back to the
 * system and the slot to the arena. The thread that ran on it must have
 * been joined. */
void stack_arena_put(struct stack_arena *a, void *stack);

/* Stacks handed out and not put back (a snapshot). */
size_t stack_arena_used(struct stack_arena *a);

/* Unmaps the arena. Every stack must have been put back. */
void stack_arena_free(struct stack_arena *a);

#endif
