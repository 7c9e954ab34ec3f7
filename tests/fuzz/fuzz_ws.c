/* fuzz_ws.c - fuzzer for lib/ws: any bytes parse as a frame header or not without reading past them; a parsed header written again parses the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_hdr h, g;
	const char *why = NULL;
	unsigned char out[WS_HDR_MAX], *copy;
	size_t n;
	int r = ws_hdr_parse(data, size, &h, &why);

	CHECK(r >= -1 && r <= 1);
	if (r < 0)
		CHECK(why != NULL);
	if (r != 1)
		return 0;
	CHECK(h.size <= size && h.size <= WS_HDR_MAX && h.opcode < 16 && h.rsv < 8);
	CHECK(h.opcode < WS_CLOSE || (h.fin && h.len <= WS_CONTROL_MAX));
	n = ws_hdr_write(out, (int)h.fin, h.opcode, h.len, h.masked ? h.key : NULL);
	out[0] |= (unsigned char)(h.rsv << 4);
	CHECK(n == h.size && !memcmp(out, data, n)); /* shortest forms only: writing gives the bytes back */
	CHECK(ws_hdr_parse(out, n, &g, &why) == 1 && g.len == h.len && g.opcode == h.opcode);
	/* Masking twice at the same offset gives the payload back. */
	if ((copy = malloc(size - h.size + 1))) {
		memcpy(copy, data + h.size, size - h.size);
		ws_mask(copy, size - h.size, h.key, h.len);
		ws_mask(copy, size - h.size, h.key, h.len);
		CHECK(!memcmp(copy, data + h.size, size - h.size));
		free(copy);
	}
	return 0;
}
