/* oidmap.c - a hash table keyed by 20-byte object names (SHA-1), each with flags and two numbers: the sets a pack is computed from. */
#include "oidmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const unsigned char zero[OIDMAP_RAW];

/*
 * The slot: the name's first 8 bytes, mixed with a per-table secret and
 * multiplied (Fibonacci hashing, high bits): a pusher who grinds names
 * sharing low bits cannot pile them into one probe run.
 */
static size_t slot_of(const struct oidmap *m, const unsigned char *id, size_t cap)
{
	uint64_t h;
	unsigned bits = (unsigned)__builtin_ctzll((unsigned long long)cap); /* cap is a power of two */

	memcpy(&h, id, sizeof h);
	h = (h ^ m->seed) * 0x9e3779b97f4a7c15ULL;
	return bits ? (size_t)(h >> (64 - bits)) : 0;
}

void oidmap_init(struct oidmap *m, size_t max)
{
	memset(m, 0, sizeof *m);
	m->max = max;
	if (getentropy(&m->seed, sizeof m->seed) < 0)
		m->seed = (uint64_t)(uintptr_t)m ^ 0x5bd1e995u;
}

void oidmap_free(struct oidmap *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}

/* A slot is used when its id is not all zero (git's null id, which names no object and is refused). */
static int slot_used(const struct oidmap_entry *s)
{
	return memcmp(s->id, zero, OIDMAP_RAW) != 0;
}

struct oidmap_entry *oidmap_get(const struct oidmap *m, const unsigned char id[OIDMAP_RAW])
{
	size_t i;

	if (!m->cap)
		return NULL;
	if (!memcmp(id, zero, OIDMAP_RAW))
		return NULL;
	for (i = slot_of(m, id, m->cap);; i = (i + 1) & (m->cap - 1)) {
		struct oidmap_entry *s = &m->v[i];

		if (!slot_used(s))
			return NULL;
		if (!memcmp(s->id, id, OIDMAP_RAW))
			return s;
	}
}

static int grow(struct oidmap *m, struct bb_err *e)
{
	size_t ncap = m->cap ? m->cap * 2 : 1024, i;
	struct oidmap_entry *nv;

	if (ncap > SIZE_MAX / sizeof *nv)
		return bb_errno(e, ENOMEM, "object table");
	nv = calloc(ncap, sizeof *nv);
	if (!nv)
		return bb_errno(e, ENOMEM, "object table of %zu entries", ncap);
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (!slot_used(&m->v[i]))
			continue;
		for (j = slot_of(m, m->v[i].id, ncap); slot_used(&nv[j]); j = (j + 1) & (ncap - 1))
			;
		nv[j] = m->v[i];
	}
	free(m->v);
	m->v = nv;
	m->cap = ncap;
	return 0;
}

struct oidmap_entry *oidmap_add(struct oidmap *m, const unsigned char id[OIDMAP_RAW], int *added, struct bb_err *e)
{
	struct oidmap_entry *s = oidmap_get(m, id);
	size_t i;

	*added = 0;
	if (s)
		return s;
	if (!memcmp(id, zero, OIDMAP_RAW)) {
		bb_errf(e, BB_EINVAL, "the null object name");
		return NULL;
	}
	if (m->n >= m->max) {
		bb_errf(e, BB_ETOOBIG, "more than %zu objects", m->max);
		return NULL;
	}
	if ((m->n + 1) * 2 > m->cap && grow(m, e) < 0)
		return NULL;
	*added = 1;
	m->n++;
	for (i = slot_of(m, id, m->cap); slot_used(&m->v[i]); i = (i + 1) & (m->cap - 1))
		;
	s = &m->v[i];
	memset(s, 0, sizeof *s);
	memcpy(s->id, id, OIDMAP_RAW);
	return s;
}

struct oidmap_entry *oidmap_next(const struct oidmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		struct oidmap_entry *s = &m->v[(*pos)++];

		if (slot_used(s))
			return s;
	}
	return NULL;
}
