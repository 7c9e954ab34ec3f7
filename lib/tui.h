/* tui.h - pure helpers for full-screen terminal UIs in plain ANSI: key decoding, safe clipped text, whole frames. */
#ifndef BB_TUI_H
#define BB_TUI_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/*
 * No curses: a UI builds each whole screen ("frame") into a buffer with
 * the functions below and writes it in one go when it differs from the
 * last one. Everything here is a pure function of its arguments, so the
 * layout and the key decoder are unit tested and fuzzed without a
 * terminal. Text that comes from logs or agents is untrusted: every byte
 * placed in a frame goes through tui_put_text, which turns control
 * characters, escape sequences and invalid UTF-8 into '?', so a logged
 * host name cannot move the cursor, retitle the window or hide a line.
 */

enum tui_key_kind {
	TUI_KEY_NONE,
	TUI_KEY_CHAR,      /* a printable character; its UTF-8 is in text */
	TUI_KEY_UP,
	TUI_KEY_DOWN,
	TUI_KEY_LEFT,
	TUI_KEY_RIGHT,
	TUI_KEY_PGUP,
	TUI_KEY_PGDN,
	TUI_KEY_HOME,
	TUI_KEY_END,
	TUI_KEY_TAB,
	TUI_KEY_BACKTAB,   /* shift-tab */
	TUI_KEY_ENTER,
	TUI_KEY_BACKSPACE,
	TUI_KEY_ESC,       /* a lone Escape */
	TUI_KEY_CTRL_C,
	TUI_KEY_OTHER      /* a sequence or control byte with no meaning here; skipped */
};

struct tui_key {
	enum tui_key_kind kind;
	char text[5]; /* NUL-terminated UTF-8 of a TUI_KEY_CHAR, else "" */
};

/*
 * Decode one key from the terminal's bytes p[0..n). Returns the bytes
 * consumed (at least 1 when n > 0), or 0 when p holds only the start of a
 * sequence and more bytes may follow. Escape is also the first byte of the
 * arrow keys' sequences, so a caller that got 0 waits a little and calls
 * again with final = 1 ("nothing more is coming"): a lone ESC is then the
 * Escape key and an unfinished sequence is TUI_KEY_OTHER.
 */
size_t tui_key_decode(const unsigned char *p, size_t n, int final, struct tui_key *k);

/* Display columns of one code point: 0 for combining marks, 2 for wide East Asian ones, else 1. */
int tui_cp_width(uint32_t cp);

/*
 * Append s[0..n) as at most cols display columns of safe text: tab and
 * newline become a space; other control characters (C0, DEL, C1), ESC and
 * invalid UTF-8 become '?'. A wide character that would straddle the
 * limit is left out. When pad is set, spaces fill up to exactly cols.
 * Returns the columns used (>= 0), or -1 when the buffer's cap is hit.
 */
int tui_put_text(struct buf *out, const char *s, size_t n, int cols, int pad, struct bb_err *e);

/* Display columns s[0..n) takes once made safe (what tui_put_text would use without a limit). */
size_t tui_text_width(const char *s, size_t n);

/* Attributes of a segment of a row. Colours and styles are dropped when the frame has no colour (NO_COLOR). */
enum {
	TUI_BOLD = 1u << 0,
	TUI_DIM = 1u << 1,
	TUI_REVERSE = 1u << 2,
	TUI_UNDERLINE = 1u << 3,
	TUI_RED = 1u << 4,
	TUI_GREEN = 1u << 5,
	TUI_YELLOW = 1u << 6,
	TUI_BLUE = 1u << 7,
	TUI_MAGENTA = 1u << 8,
	TUI_CYAN = 1u << 9
};

enum tui_mode {
	TUI_SCREEN, /* every row placed with a cursor move and padded to the width (full-screen UI) */
	TUI_PLAIN   /* rows end with a newline, trailing spaces dropped (a frame printed to a pipe) */
};

/*
 * A frame being built: rows top to bottom, each made of segments. Rows
 * past height are dropped (tui_frame_row_open says so), so a layout may
 * write more than fits. The caller owns out (give it a cap).
 */
struct tui_frame {
	struct buf *out;
	int width, height;
	int color;        /* 0: no SGR sequence at all */
	enum tui_mode mode;
	int row;          /* rows finished */
	int col;          /* columns used in the current row */
	unsigned attr;    /* the attribute in effect at the cursor */
	size_t row_start; /* out->len where the current row's text began (TUI_PLAIN trimming) */
};

/* Start a frame of width x height (each at least 1) into out (which is reset). */
int tui_frame_begin(struct tui_frame *f, struct buf *out, int width, int height, int color, enum tui_mode mode,
		    struct bb_err *e);
/* Whether another row fits (the frame has fewer than height rows). */
int tui_frame_row_open(const struct tui_frame *f);
/* Columns left in the current row. */
int tui_frame_cols_left(const struct tui_frame *f);
/* Append text (n bytes, made safe) to the current row with attr; clipped at the width. */
int tui_frame_text(struct tui_frame *f, unsigned attr, const char *s, size_t n, struct bb_err *e);
/* tui_frame_text with a printf format (the formatted text is capped at 1 KiB). */
int tui_frame_printf(struct tui_frame *f, unsigned attr, struct bb_err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Finish the current row: pad it (with fill_attr, e.g. a reverse-video bar) in TUI_SCREEN mode, then go to the next. */
int tui_frame_end_row(struct tui_frame *f, unsigned fill_attr, struct bb_err *e);
/* Finish the frame: in TUI_SCREEN mode blank the rows left below and reset attributes. */
int tui_frame_end(struct tui_frame *f, struct bb_err *e);

#endif
