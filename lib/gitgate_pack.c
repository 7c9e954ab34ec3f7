/* gitgate_pack.c - finds where a streamed git pack ends (header, object headers, zlib streams, trailer). */
#include "gitgate_pack.h"

#include <string.h>

enum {
	PH_HEADER,  /* 12 bytes: "PACK", version, count */
	PH_OBJHDR,  /* type and size varint */
	PH_OFS,     /* OFS_DELTA base offset varint */
	PH_REF,     /* REF_DELTA base id: 20 bytes */
	PH_ZLIB,    /* the object's deflated data */
	PH_TRAILER, /* 20-byte SHA-1 of everything before */
	PH_DONE
};

#define OBJ_COMMIT 1
#define OBJ_TAG 4
#define OBJ_OFS_DELTA 6
#define OBJ_REF_DELTA 7

int gitgate_pack_init(struct gitgate_pack *pk, struct bb_err *e)
{
	memset(pk, 0, sizeof *pk);
	pk->phase = PH_HEADER;
	pk->need = 12;
	if (inflateInit(&pk->z) != Z_OK)
		return bb_errf(e, BB_ELIB, "zlib: inflateInit failed");
	pk->z_ready = 1;
	return 0;
}

void gitgate_pack_free(struct gitgate_pack *pk)
{
	if (pk->z_ready)
		inflateEnd(&pk->z);
	pk->z_ready = 0;
}

uint32_t gitgate_pack_objects(const struct gitgate_pack *pk)
{
	return pk->nobjects;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The next object, or the trailer after the last. */
static void next_object(struct gitgate_pack *pk)
{
	if (pk->seen == pk->nobjects) {
		pk->phase = PH_TRAILER;
		pk->need = 20;
	} else {
		pk->phase = PH_OBJHDR;
		pk->hdr_shift = 0;
		pk->obj_size = 0;
	}
}

int gitgate_pack_feed(struct gitgate_pack *pk, const void *data, size_t n, size_t *used, struct bb_err *e)
{
	const unsigned char *p = data;
	size_t i = 0;
	unsigned char scratch[16384];

	*used = 0;
	while (i < n && pk->phase != PH_DONE) {
		unsigned char c = p[i];

		switch (pk->phase) {
		case PH_HEADER:
			pk->head[12 - pk->need] = c;
			i++;
			if (--pk->need)
				break;
			if (memcmp(pk->head, "PACK", 4) != 0)
				return bb_errf(e, BB_EINVAL, "pack: no PACK signature");
			if (be32(pk->head + 4) != 2 && be32(pk->head + 4) != 3)
				return bb_errf(e, BB_EINVAL, "pack: unsupported version %u", be32(pk->head + 4));
			pk->nobjects = be32(pk->head + 8);
			next_object(pk);
			break;
		case PH_OBJHDR:
			i++;
			if (pk->hdr_shift == 0) {
				unsigned type = (c >> 4) & 7;

				if (type == 0 || type == 5)
					return bb_errf(e, BB_EINVAL, "pack: object %u at offset %llu has invalid type %u", pk->seen,
						       (unsigned long long)pk->offset + i - 1, type);
				pk->head[0] = (unsigned char)type;
				pk->obj_size = c & 15;
				pk->hdr_shift = 4;
			} else {
				if (pk->hdr_shift > 57)
					return bb_errf(e, BB_EINVAL, "pack: object %u size field is too long", pk->seen);
				pk->obj_size |= (uint64_t)(c & 0x7f) << pk->hdr_shift;
				pk->hdr_shift += 7;
			}
			if (c & 0x80)
				break;
			if (pk->head[0] == OBJ_OFS_DELTA) {
				pk->phase = PH_OFS;
				pk->hdr_shift = 0;
			} else if (pk->head[0] == OBJ_REF_DELTA) {
				pk->phase = PH_REF;
				pk->need = 20;
			} else {
				pk->phase = PH_ZLIB;
			}
			if (pk->phase == PH_ZLIB && inflateReset(&pk->z) != Z_OK)
				return bb_errf(e, BB_ELIB, "zlib: inflateReset failed");
			break;
		case PH_OFS:
			i++;
			if (++pk->hdr_shift > 10)
				return bb_errf(e, BB_EINVAL, "pack: object %u delta offset is too long", pk->seen);
			if (c & 0x80)
				break;
			pk->phase = PH_ZLIB;
			if (inflateReset(&pk->z) != Z_OK)
				return bb_errf(e, BB_ELIB, "zlib: inflateReset failed");
			break;
		case PH_REF:
			i++;
			if (--pk->need == 0) {
				pk->phase = PH_ZLIB;
				if (inflateReset(&pk->z) != Z_OK)
					return bb_errf(e, BB_ELIB, "zlib: inflateReset failed");
			}
			break;
		case PH_ZLIB: {
			int zr;
			size_t before;

			pk->z.next_in = (unsigned char *)p + i;
			pk->z.avail_in = (uInt)((n - i) > 0x40000000u ? 0x40000000u : (n - i));
			before = pk->z.avail_in;
			do {
				pk->z.next_out = scratch;
				pk->z.avail_out = sizeof scratch;
				zr = inflate(&pk->z, Z_NO_FLUSH);
				/* Checked as it grows: a small header must not buy a long inflate. */
				if (pk->z.total_out > pk->obj_size)
					return bb_errf(e, BB_EINVAL, "pack: object %u inflates past its declared %llu bytes",
						       pk->seen, (unsigned long long)pk->obj_size);
			} while (zr == Z_OK && pk->z.avail_in > 0);
			i += before - pk->z.avail_in;
			if (zr == Z_STREAM_END) {
				if (pk->z.total_out != pk->obj_size)
					return bb_errf(e, BB_EINVAL,
						       "pack: object %u inflates to %lu bytes, its header says %llu", pk->seen,
						       (unsigned long)pk->z.total_out, (unsigned long long)pk->obj_size);
				pk->seen++;
				next_object(pk);
			} else if (zr == Z_BUF_ERROR && pk->z.avail_in == 0) {
				/* Needs more input: fine. */
			} else if (zr != Z_OK) {
				return bb_errf(e, BB_EINVAL, "pack: object %u has corrupt zlib data", pk->seen);
			}
			break;
		}
		case PH_TRAILER:
			i++;
			if (--pk->need == 0)
				pk->phase = PH_DONE;
			break;
		}
	}
	pk->offset += i;
	*used = i;
	return pk->phase == PH_DONE;
}
