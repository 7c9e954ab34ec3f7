/* gitgate_pack.h - finds where a streamed git pack ends (header, object headers, zlib streams, trailer). */
#ifndef BB_GITGATE_PACK_H
#define BB_GITGATE_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "err.h"

/*
 * A pushing client sends its pack on the connection and then waits for the
 * report without closing anything, so the pack's own structure is the only
 * end marker: "PACK", version 2 or 3, the object count, each object (a
 * type-and-size header, a base offset or id for deltas, a zlib stream),
 * then a 20-byte SHA-1 trailer. This framer walks that structure as bytes
 * arrive, inflating into a scratch buffer only to find where each zlib
 * stream ends, so the receiver knows which bytes belong to the pack. The
 * content is checked for shape only (type, sizes, zlib); the indexer
 * verifies the checksums.
 */
struct gitgate_pack {
	int phase;
	uint32_t nobjects, seen;
	uint64_t offset;       /* bytes of the pack consumed so far */
	uint64_t obj_size;     /* declared inflated size of the current object */
	unsigned hdr_shift;    /* position in a varint */
	unsigned need;         /* bytes still wanted in a fixed-size field */
	unsigned char head[12];
	int z_ready;
	z_stream z;
};

/* Start a framer; 0, or -1 when zlib cannot start. Free it with gitgate_pack_free whatever happens. */
int gitgate_pack_init(struct gitgate_pack *pk, struct bb_err *e);
void gitgate_pack_free(struct gitgate_pack *pk);

/*
 * Consume data[0..n): sets *used to how many of those bytes belong to the
 * pack (all of them unless the pack ends inside the chunk) and returns 1
 * when the pack is complete (trailer included), 0 when more is needed,
 * -1 with BB_EINVAL when the stream is not a pack (bad signature, version,
 * object type, corrupt zlib data, inflated size not the declared one).
 */
int gitgate_pack_feed(struct gitgate_pack *pk, const void *data, size_t n, size_t *used, struct bb_err *e);

/* The object count from the header (valid once 12 bytes were fed). */
uint32_t gitgate_pack_objects(const struct gitgate_pack *pk);

#endif
