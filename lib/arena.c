/* arena.c - bump allocator in growing chunks, freed all at once. */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, off;
	max_align_t data[];
};

#define ALIGN (sizeof(max_align_t))

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t need = (n + ALIGN - 1) / ALIGN * ALIGN;
	void *p;

	if (n > a->max || a->used > a->max - n) {
		a->failed = 1;
		return NULL;
	}
	if (!c || c->size - c->off < need) {
		size_t size = need > 16384 ? need : 16384;

		c = malloc(sizeof *c + size);
		if (!c) {
			a->failed = 1;
			return NULL;
		}
		c->size = size;
		c->off = 0;
		c->next = a->head;
		a->head = c;
	}
	p = (char *)c->data + c->off;
	c->off += need;
	a->used += n;
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p && n)
		memcpy(p, s, n);
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(p = arena_alloc(a, (size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void *arena_grow(struct arena *a, void *arr, size_t n, size_t *cap, size_t elem)
{
	size_t ncap;
	void *np;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 4;
	if (ncap > SIZE_MAX / elem)
		return NULL;
	np = arena_alloc(a, ncap * elem);
	if (!np)
		return NULL;
	if (n)
		memcpy(np, arr, n * elem);
	*cap = ncap;
	return np;
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head, *next;

	while (c) {
		next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->used = 0;
	a->failed = 0;
}
