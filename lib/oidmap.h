/* oidmap.h - a hash table keyed by 20-byte object names (SHA-1), each with flags and two numbers: the sets a pack is computed from. */
#ifndef BB_OIDMAP_H
#define BB_OIDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define OIDMAP_RAW 20

/* One entry: the name, and what its user keeps about it (zero when added). */
struct oidmap_entry {
	unsigned char id[OIDMAP_RAW];
	uint32_t flags;
	uint32_t u32;
	uint64_t u64;
};

/*
 * Open addressing with linear probing over a power-of-two table, grown
 * at half full. The hash is the name's first bytes mixed with a random
 * seed (names can be ground by whoever makes the objects). At most max entries (the caller's bound on memory);
 * entries are never removed. The null id (all zero) is refused.
 * Pointers to entries stay valid only until the next oidmap_add that adds.
 */
struct oidmap {
	struct oidmap_entry *v;
	size_t n, cap, max;
	uint64_t seed;
};

void oidmap_init(struct oidmap *m, size_t max);
void oidmap_free(struct oidmap *m);

/* The entry for id, or NULL. */
struct oidmap_entry *oidmap_get(const struct oidmap *m, const unsigned char id[OIDMAP_RAW]);

/*
 * The entry for id, added (zeroed) when missing: *added says which.
 * NULL with e (BB_ETOOBIG past max, ENOMEM).
 */
struct oidmap_entry *oidmap_add(struct oidmap *m, const unsigned char id[OIDMAP_RAW], int *added, struct bb_err *e);

/* Visit every entry: *pos starts at 0; NULL at the end. */
struct oidmap_entry *oidmap_next(const struct oidmap *m, size_t *pos);

#endif
