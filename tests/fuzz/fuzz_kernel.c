/* fuzz_kernel.c - fuzzer for lib/kernel: a bzImage's setup header and payload, an ELF's PVH note, a module's .modinfo. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "kernel.h"

/* The same bytes as a bzImage (header, payload bounds, unpacking under a small cap), an ELF and a module. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kernel_image k;
	struct bb_err e = { 0 };
	char out[256];
	int r;
	if (kernel_image_parse(data, size, &k, &e) == 0) {
		struct buf b = BUF_INIT(1u << 20);
		CHECK(k.payload_off <= size && k.payload_len <= size - k.payload_off);
		CHECK(strlen(k.version) < sizeof k.version);
		if (kernel_unpack(data, size, &k, &b, &e) == 0)
			CHECK(b.len <= (1u << 20));
		buf_free(&b);
	}
	r = kernel_elf_has_pvh(data, size);
	CHECK(r == 0 || r == 1);
	r = kernel_modinfo(data, size, "depends", out, sizeof out, &e);
	CHECK(r >= -1 && r <= 1);
	if (r == 1)
		CHECK(strlen(out) < sizeof out);
	return 0;
}
