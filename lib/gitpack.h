/* gitpack.h - git's pack files read as bytes, pure functions: the .idx (version 2) lookup, an entry's header, and the headers a new pack is written with. */
#ifndef BB_GITPACK_H
#define BB_GITPACK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define GITPACK_RAW 20 /* SHA-1 */

/* Object types as a pack numbers them. */
enum gitpack_type {
	GITPACK_COMMIT = 1,
	GITPACK_TREE = 2,
	GITPACK_BLOB = 3,
	GITPACK_TAG = 4,
	GITPACK_OFS_DELTA = 6, /* a delta whose base is named by a distance back in the same pack */
	GITPACK_REF_DELTA = 7  /* a delta whose base is named by its object name */
};

/*
 * A pack index, version 2 (what git and libgit2 write): "\377tOc", version
 * 2, a 256-entry fan-out table, then for N objects their sorted names,
 * CRC-32s of their packed bytes and 31-bit offsets (the top bit set: an
 * index into a table of 64-bit offsets), then the pack's checksum and the
 * index's own. Views into the caller's buffer, which must outlive it.
 */
struct gitpack_idx {
	const unsigned char *p;
	size_t len;
	uint32_t n;
	const unsigned char *fanout, *names, *crcs, *offsets, *big;
	size_t nbig;
	const unsigned char *pack_sum; /* GITPACK_RAW bytes: the trailer the pack must end with */
};

/*
 * Check the layout of buf as an index: magic and version, a fan-out that
 * never decreases, a length that is exactly the tables for its count (64-bit
 * offsets included). Returns 0, or -1 with BB_EINVAL (version 1 indexes
 * are refused too: they are not what a current git writes).
 */
int gitpack_idx_parse(const void *buf, size_t len, struct gitpack_idx *idx, struct bb_err *e);

/* The position of id among the index's names, or -1. */
long gitpack_idx_find(const struct gitpack_idx *idx, const unsigned char id[GITPACK_RAW]);
/* The name at pos (< n). */
const unsigned char *gitpack_idx_name(const struct gitpack_idx *idx, uint32_t pos);
/* The CRC-32 of the entry at pos. */
uint32_t gitpack_idx_crc(const struct gitpack_idx *idx, uint32_t pos);
/* The entry's offset in the pack: 0, or -1 with BB_EINVAL when it names a 64-bit slot the index does not have. */
int gitpack_idx_offset(const struct gitpack_idx *idx, uint32_t pos, uint64_t *off, struct bb_err *e);

/* One entry's header in a pack. */
struct gitpack_entry {
	enum gitpack_type type;
	uint64_t size;                       /* inflated size: of the object, or of the delta data */
	size_t hdr_len;                      /* bytes before the zlib stream: type and size, then the base */
	uint64_t base_off;                   /* OFS_DELTA: the base entry's offset in the pack */
	const unsigned char *base_id;        /* REF_DELTA: the base's name (GITPACK_RAW bytes in the pack) */
};

/*
 * Parse the entry header at pack[off..len): the type and size varint (at
 * most 10 bytes), then an OFS_DELTA's distance (which must land at or after
 * the 12-byte pack header and before off) or a REF_DELTA's 20-byte name.
 * Types 0 and 5 and a header running past len are refused (BB_EINVAL).
 */
int gitpack_entry_parse(const void *pack, size_t len, uint64_t off, struct gitpack_entry *ent, struct bb_err *e);

#define GITPACK_HDR_MAX 10 /* a type and size header */
#define GITPACK_OFS_MAX 10 /* an OFS_DELTA distance */

/* Write a type and size header into out; its length. */
size_t gitpack_header_write(unsigned char out[GITPACK_HDR_MAX], enum gitpack_type type, uint64_t size);
/* Write an OFS_DELTA distance (> 0) into out, in git's encoding; its length. */
size_t gitpack_ofs_write(unsigned char out[GITPACK_OFS_MAX], uint64_t distance);

#endif
