/* fuzz_tui.c - fuzzer for lib/tui: the key decoder, untrusted text made safe, and frames that must carry only our own escapes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tui.h"

/* Every ESC in a frame must start one of the sequences the frame writer emits: CSI digits/';' then m, H or J. */
static void check_frame_escapes(const char *p, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == 0x1b) {
			if (i + 1 >= n || p[i + 1] != '[')
				abort();
			for (k = i + 2; k < n && ((p[k] >= '0' && p[k] <= '9') || p[k] == ';'); k++)
				;
			if (k >= n || (p[k] != 'm' && p[k] != 'H' && p[k] != 'J'))
				abort();
			i = k;
		} else if ((c < 0x20 && c != '\n') || c == 0x7f) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT(1 << 20);
	struct tui_frame f;
	struct tui_key k;
	size_t at, used;
	int cols, w;

	/* Keys: every call consumes something once nothing more is coming, and never more than it was given. */
	for (at = 0; at < size; at += used) {
		used = tui_key_decode(data + at, size - at, 1, &k);
		if (used == 0 || used > size - at)
			abort();
		if (k.kind == TUI_KEY_CHAR && (!k.text[0] || strlen(k.text) != used))
			abort();
		if (tui_key_decode(data + at, size - at, 0, &k) > size - at)
			abort();
	}
	if (size < 2)
		return 0;
	/* Text: the columns asked for at most, no control byte, the width as tui_text_width counts it. */
	cols = data[0] % 64;
	w = tui_put_text(&b, (const char *)data + 2, size - 2, cols, data[1] & 1, NULL);
	if (w < 0 || w > cols || ((data[1] & 1) && cols > 0 && w != cols))
		abort();
	if (!(data[1] & 1) && tui_text_width((const char *)data + 2, size - 2) < (size_t)w)
		abort();
	for (at = 0; at < b.len; at++)
		if ((unsigned char)b.p[at] < 0x20 || (unsigned char)b.p[at] == 0x7f)
			abort();
	/* Frames: the input cut into segments with attributes; only the writer's own escapes come out. */
	if (tui_frame_begin(&f, &b, cols + 1, data[1] % 8 + 1, data[1] & 2, data[1] & 4 ? TUI_PLAIN : TUI_SCREEN, NULL) < 0)
		abort();
	for (at = 2; at < size;) {
		size_t seg = data[at] % 16;
		if (seg > size - at - 1)
			seg = size - at - 1;
		if (tui_frame_text(&f, data[at] * 37u, (const char *)data + at + 1, seg, NULL) < 0)
			abort();
		if (f.col > f.width)
			abort();
		if ((data[at] & 0x30) == 0x30 && tui_frame_end_row(&f, data[at], NULL) < 0)
			abort();
		at += seg + 1;
	}
	if (tui_frame_end_row(&f, 0, NULL) < 0 || tui_frame_end(&f, NULL) < 0)
		abort();
	check_frame_escapes(b.p, b.len);
	buf_free(&b);
	return 0;
}
