/* fuzz_gitpack.c - fuzzer for lib/gitpack (pack index layout and lookup, entry headers and their re-encoding) and the partial-clone filter specs of lib/gitgate_proto. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gitgate_proto.h"
#include "gitpack.h"

/* An index that parses: every name is found at a position holding that name; offsets and CRCs read inside it. */
static void index_input(const uint8_t *p, size_t n)
{
	struct gitpack_idx x;
	uint32_t i;

	if (gitpack_idx_parse(p, n, &x, NULL) < 0)
		return;
	CHECK(x.pack_sum + GITPACK_RAW + GITPACK_RAW == p + n);
	for (i = 0; i < x.n && i < 4096; i++) {
		const unsigned char *name = gitpack_idx_name(&x, i);
		long pos = gitpack_idx_find(&x, name);
		uint64_t off;

		/* Names out of order may hide from the binary search; a found one is that name. */
		if (pos >= 0)
			CHECK((uint32_t)pos < x.n && !memcmp(gitpack_idx_name(&x, (uint32_t)pos), name, GITPACK_RAW));
		(void)gitpack_idx_crc(&x, i);
		(void)gitpack_idx_offset(&x, i, &off, NULL);
	}
}

/* Entry headers at every offset: inside the buffer, bases behind them, and a re-encoded header reads back the same. */
static void pack_input(const uint8_t *p, size_t n)
{
	size_t off;

	for (off = 12; off < n && off < 12 + 2048; off++) {
		struct gitpack_entry ent, again;
		unsigned char buf[12 + 2048 + GITPACK_HDR_MAX + GITPACK_OFS_MAX + GITPACK_RAW];
		size_t h, at = 12;

		if (gitpack_entry_parse(p, n, off, &ent, NULL) < 0)
			continue;
		CHECK(ent.hdr_len >= 1 && off + ent.hdr_len <= n);
		CHECK(ent.type >= GITPACK_COMMIT && ent.type <= GITPACK_REF_DELTA && ent.type != 5);
		if (ent.type == GITPACK_OFS_DELTA)
			CHECK(ent.base_off >= 12 && ent.base_off < off);
		if (ent.type == GITPACK_REF_DELTA)
			CHECK(ent.base_id >= p && ent.base_id + GITPACK_RAW <= p + n);
		memset(buf, 0, sizeof buf);
		if (ent.type == GITPACK_OFS_DELTA)
			at = 12 + (size_t)(off - ent.base_off); /* the same distance back, from here, lands on 12 */
		h = gitpack_header_write(buf + at, ent.type, ent.size);
		if (ent.type == GITPACK_OFS_DELTA)
			h += gitpack_ofs_write(buf + at + h, off - ent.base_off);
		if (ent.type == GITPACK_REF_DELTA)
			h += GITPACK_RAW;
		CHECK(gitpack_entry_parse(buf, at + h, at, &again, NULL) == 0);
		CHECK(again.type == ent.type && again.size == ent.size && again.hdr_len == h);
		if (ent.type == GITPACK_OFS_DELTA)
			CHECK(again.base_off == 12);
	}
}

static void filter_input(const uint8_t *p, size_t n)
{
	struct gitgate_filter f;

	if (gitgate_filter_parse(sv_of((const char *)p, n), &f, NULL) == 0)
		CHECK(f.n >= 1 && f.n <= GITGATE_FILTER_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: index_input(data + 1, size - 1); break;
	case 1: pack_input(data + 1, size - 1); break;
	default: filter_input(data + 1, size - 1); break;
	}
	return 0;
}
