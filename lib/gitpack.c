/* gitpack.c - git's pack files read as bytes, pure functions: the .idx (version 2) lookup, an entry's header, and the headers a new pack is written with. */
#include "gitpack.h"

#include <string.h>

#define IDX_HDR 8
#define FANOUT_LEN (256 * 4)

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int gitpack_idx_parse(const void *buf, size_t len, struct gitpack_idx *idx, struct bb_err *e)
{
	const unsigned char *p = buf;
	uint64_t n, fixed, rest;
	uint32_t prev = 0;
	size_t i;

	memset(idx, 0, sizeof *idx);
	if (len < IDX_HDR + FANOUT_LEN + 2 * GITPACK_RAW || memcmp(p, "\377tOc", 4) != 0)
		return bb_errf(e, BB_EINVAL, "not a version 2 pack index");
	if (be32(p + 4) != 2)
		return bb_errf(e, BB_EINVAL, "pack index version %u (2 is read)", be32(p + 4));
	for (i = 0; i < 256; i++) {
		uint32_t f = be32(p + IDX_HDR + 4 * i);

		if (f < prev)
			return bb_errf(e, BB_EINVAL, "pack index fan-out decreases");
		prev = f;
	}
	n = prev;
	fixed = IDX_HDR + FANOUT_LEN + n * (GITPACK_RAW + 4 + 4) + 2 * GITPACK_RAW;
	if (fixed > len)
		return bb_errf(e, BB_EINVAL, "pack index shorter than its %llu entries", (unsigned long long)n);
	rest = len - fixed;
	if (rest % 8 != 0 || rest / 8 > n)
		return bb_errf(e, BB_EINVAL, "pack index length does not match its tables");
	idx->p = p;
	idx->len = len;
	idx->n = (uint32_t)n;
	idx->fanout = p + IDX_HDR;
	idx->names = idx->fanout + FANOUT_LEN;
	idx->crcs = idx->names + n * GITPACK_RAW;
	idx->offsets = idx->crcs + n * 4;
	idx->big = idx->offsets + n * 4;
	idx->nbig = (size_t)(rest / 8);
	idx->pack_sum = idx->big + rest;
	return 0;
}

long gitpack_idx_find(const struct gitpack_idx *idx, const unsigned char id[GITPACK_RAW])
{
	uint32_t lo = id[0] ? be32(idx->fanout + 4 * (id[0] - 1)) : 0, hi = be32(idx->fanout + 4 * id[0]);

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(idx->names + (size_t)mid * GITPACK_RAW, id, GITPACK_RAW);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const unsigned char *gitpack_idx_name(const struct gitpack_idx *idx, uint32_t pos)
{
	return idx->names + (size_t)pos * GITPACK_RAW;
}

uint32_t gitpack_idx_crc(const struct gitpack_idx *idx, uint32_t pos)
{
	return be32(idx->crcs + (size_t)pos * 4);
}

int gitpack_idx_offset(const struct gitpack_idx *idx, uint32_t pos, uint64_t *off, struct bb_err *e)
{
	uint32_t o = be32(idx->offsets + (size_t)pos * 4);
	const unsigned char *b;

	if (!(o & 0x80000000u)) {
		*off = o;
		return 0;
	}
	o &= 0x7fffffffu;
	if (o >= idx->nbig)
		return bb_errf(e, BB_EINVAL, "pack index names a 64-bit offset it does not have");
	b = idx->big + (size_t)o * 8;
	*off = (uint64_t)be32(b) << 32 | be32(b + 4);
	return 0;
}

int gitpack_entry_parse(const void *pack, size_t len, uint64_t off, struct gitpack_entry *ent, struct bb_err *e)
{
	const unsigned char *p = pack;
	size_t i = (size_t)off;
	unsigned shift = 4;
	unsigned char c;

	memset(ent, 0, sizeof *ent);
	if (off < 12 || off >= len)
		return bb_errf(e, BB_EINVAL, "pack entry offset %llu is outside the pack", (unsigned long long)off);
	c = p[i++];
	ent->type = (enum gitpack_type)((c >> 4) & 7);
	ent->size = c & 15;
	while (c & 0x80) {
		if (i >= len || shift > 60)
			return bb_errf(e, BB_EINVAL, "pack entry at %llu: bad size", (unsigned long long)off);
		c = p[i++];
		ent->size |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	}
	switch (ent->type) {
	case GITPACK_COMMIT:
	case GITPACK_TREE:
	case GITPACK_BLOB:
	case GITPACK_TAG:
		break;
	case GITPACK_OFS_DELTA: {
		uint64_t dist;
		int k = 0;

		if (i >= len)
			return bb_errf(e, BB_EINVAL, "pack entry at %llu: truncated base distance", (unsigned long long)off);
		c = p[i++];
		dist = c & 0x7f;
		while (c & 0x80) {
			if (i >= len || ++k >= GITPACK_OFS_MAX || dist > (UINT64_MAX >> 7) - 1)
				return bb_errf(e, BB_EINVAL, "pack entry at %llu: bad base distance", (unsigned long long)off);
			c = p[i++];
			dist = ((dist + 1) << 7) | (c & 0x7f);
		}
		if (dist == 0 || dist > off - 12)
			return bb_errf(e, BB_EINVAL, "pack entry at %llu: base distance out of the pack", (unsigned long long)off);
		ent->base_off = off - dist;
		break;
	}
	case GITPACK_REF_DELTA:
		if (len - i < GITPACK_RAW)
			return bb_errf(e, BB_EINVAL, "pack entry at %llu: truncated base name", (unsigned long long)off);
		ent->base_id = p + i;
		i += GITPACK_RAW;
		break;
	default:
		return bb_errf(e, BB_EINVAL, "pack entry at %llu: invalid type %d", (unsigned long long)off, (int)ent->type);
	}
	ent->hdr_len = i - (size_t)off;
	return 0;
}

size_t gitpack_header_write(unsigned char out[GITPACK_HDR_MAX], enum gitpack_type type, uint64_t size)
{
	size_t n = 0;
	unsigned char c = (unsigned char)(((unsigned)type & 7) << 4 | (size & 15));

	size >>= 4;
	while (size) {
		out[n++] = c | 0x80;
		c = size & 0x7f;
		size >>= 7;
	}
	out[n++] = c;
	return n;
}

size_t gitpack_ofs_write(unsigned char out[GITPACK_OFS_MAX], uint64_t distance)
{
	unsigned char tmp[GITPACK_OFS_MAX];
	size_t pos = sizeof tmp - 1, n;

	tmp[pos] = distance & 0x7f;
	while (distance >>= 7)
		tmp[--pos] = 0x80 | (--distance & 0x7f);
	n = sizeof tmp - pos;
	memcpy(out, tmp + pos, n);
	return n;
}
