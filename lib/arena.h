/* arena.h - a bump allocator for trees that live and die together (a loaded manifest, a plan). */
#ifndef BB_ARENA_H
#define BB_ARENA_H

#include <stddef.h>

#include "buf.h"

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t used;  /* bytes handed out, all chunks */
	size_t max;   /* hard cap on used */
	int failed;   /* an allocation failed: results are incomplete */
};

#define ARENA_INIT(maxbytes) { NULL, 0, (maxbytes), 0 }

/* Zeroed memory, aligned for any type; NULL (and a->failed) past the cap or on ENOMEM. */
void *arena_alloc(struct arena *a, size_t n);
/* Copies, NUL-terminated; NULL on failure. */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Grow an array of elem-sized items held in the arena (old memory is left in place). */
void *arena_grow(struct arena *a, void *arr, size_t n, size_t *cap, size_t elem);
void arena_free(struct arena *a);

#endif
