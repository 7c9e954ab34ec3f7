/* fuzz_cpio.c - fuzzer for lib/cpio: the reader over any bytes stays inside them; what it reads writes back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cpio.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf w = BUF_INIT(4u << 20);
	struct cpio_entry en;
	struct bb_err e = { 0 };
	size_t off = 0, prev;
	unsigned ino = 1;
	int r, n = 0;
	while (n++ < 4096) {
		prev = off;
		r = cpio_next(data, size, &off, &en, &e);
		if (r <= 0)
			break;
		CHECK(off > prev && off <= size);
		CHECK((const uint8_t *)en.name > data && (const uint8_t *)en.name < data + size);
		CHECK(en.data >= data && en.len <= size && en.data + en.len <= data + size);
		/* What the writer accepts of it reads back as it was. */
		if ((en.mode & 0170000) != 0040000 || !en.len) {
			size_t wo = w.len, ro;
			struct cpio_entry back;
			if (cpio_add(&w, ino++, en.name, en.mode, en.data, en.len, &e) == 0) {
				ro = wo;
				CHECK(cpio_next(w.p, w.len, &ro, &back, &e) == 1);
				CHECK(!strcmp(back.name, en.name) && back.mode == en.mode && back.len == en.len &&
				      !memcmp(back.data, en.data, en.len));
			}
		}
	}
	buf_free(&w);
	return 0;
}
