/* tui.c - terminal key decoding, untrusted text made safe and clipped to columns, frames of ANSI rows. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tui.h"
#include "utf8.h"

#define CSI_MAX 32 /* longer "escape sequences" are noise: give up on them */

/* Decode one UTF-8 character: its length (1-4), 0 when p ends inside a valid prefix, -1 when invalid. */
static int decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	static const unsigned char pads[2] = { 0x80, 0xbf };
	size_t len = utf8_decode(p, n, cp), k;

	if (len)
		return (int)len;
	/* A prefix cut off by n: some continuation makes it whole (the lowest or the highest one does). */
	for (k = 0; n < 4 && k < 2; k++) {
		unsigned char t[4];
		uint32_t ignored;
		memcpy(t, p, n);
		memset(t + n, pads[k], 4 - n);
		if (utf8_decode(t, 4, &ignored) > n)
			return 0;
	}
	return -1;
}

int tui_cp_width(uint32_t c)
{
	if ((c >= 0x0300 && c <= 0x036f) || (c >= 0x1ab0 && c <= 0x1aff) || (c >= 0x1dc0 && c <= 0x1dff) ||
	    (c >= 0x20d0 && c <= 0x20ff) || (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xfe20 && c <= 0xfe2f))
		return 0;
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0x303e) || (c >= 0x3041 && c <= 0x33ff) ||
	    (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xa000 && c <= 0xa4cf) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) ||
	    (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
	    (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

size_t tui_key_decode(const unsigned char *p, size_t n, int final, struct tui_key *k)
{
	uint32_t cp;
	size_t i;
	int len;

	k->kind = TUI_KEY_NONE;
	k->text[0] = '\0';
	if (n == 0)
		return 0;
	if (p[0] == 0x1b) {
		if (n == 1) {
			if (!final)
				return 0;
			k->kind = TUI_KEY_ESC;
			return 1;
		}
		if (p[1] == 'O') { /* SS3: the application-mode arrows, Home, End */
			if (n == 2) {
				if (!final)
					return 0;
				k->kind = TUI_KEY_OTHER;
				return 2;
			}
			switch (p[2]) {
			case 'A': k->kind = TUI_KEY_UP; break;
			case 'B': k->kind = TUI_KEY_DOWN; break;
			case 'C': k->kind = TUI_KEY_RIGHT; break;
			case 'D': k->kind = TUI_KEY_LEFT; break;
			case 'H': k->kind = TUI_KEY_HOME; break;
			case 'F': k->kind = TUI_KEY_END; break;
			default: k->kind = TUI_KEY_OTHER; break;
			}
			return 3;
		}
		if (p[1] != '[') { /* Alt+key or an Escape typed quickly before a key: Escape now, the key next */
			k->kind = TUI_KEY_ESC;
			return 1;
		}
		/* CSI: parameter and intermediate bytes 0x20-0x3f, then a final byte 0x40-0x7e. */
		for (i = 2; i < n && i < CSI_MAX && p[i] >= 0x20 && p[i] <= 0x3f; i++)
			;
		if (i == n && i < CSI_MAX) {
			if (!final)
				return 0;
			k->kind = TUI_KEY_OTHER;
			return n;
		}
		if (i == CSI_MAX || p[i] < 0x40 || p[i] > 0x7e) {
			k->kind = TUI_KEY_OTHER;
			return i;
		}
		switch (p[i]) {
		case 'A': k->kind = TUI_KEY_UP; break;
		case 'B': k->kind = TUI_KEY_DOWN; break;
		case 'C': k->kind = TUI_KEY_RIGHT; break;
		case 'D': k->kind = TUI_KEY_LEFT; break;
		case 'H': k->kind = TUI_KEY_HOME; break;
		case 'F': k->kind = TUI_KEY_END; break;
		case 'Z': k->kind = TUI_KEY_BACKTAB; break;
		case '~':
			if (i == 3 && (p[2] == '1' || p[2] == '7'))
				k->kind = TUI_KEY_HOME;
			else if (i == 3 && (p[2] == '4' || p[2] == '8'))
				k->kind = TUI_KEY_END;
			else if (i == 3 && p[2] == '5')
				k->kind = TUI_KEY_PGUP;
			else if (i == 3 && p[2] == '6')
				k->kind = TUI_KEY_PGDN;
			else
				k->kind = TUI_KEY_OTHER;
			break;
		default: k->kind = TUI_KEY_OTHER; break;
		}
		return i + 1;
	}
	switch (p[0]) {
	case 0x03: k->kind = TUI_KEY_CTRL_C; return 1;
	case '\t': k->kind = TUI_KEY_TAB; return 1;
	case '\r':
	case '\n': k->kind = TUI_KEY_ENTER; return 1;
	case 0x7f:
	case 0x08: k->kind = TUI_KEY_BACKSPACE; return 1;
	default: break;
	}
	len = decode(p, n, &cp);
	if (len == 0 && !final)
		return 0;
	if (len <= 0) {
		k->kind = TUI_KEY_OTHER;
		return 1;
	}
	if (utf8_cp_unsafe(cp)) {
		k->kind = TUI_KEY_OTHER;
		return (size_t)len;
	}
	k->kind = TUI_KEY_CHAR;
	memcpy(k->text, p, (size_t)len);
	k->text[len] = '\0';
	return (size_t)len;
}

/* The one walk over untrusted text: appends to out (when not NULL) up to cols columns; *used gets the columns. */
static int put_safe(struct buf *out, const char *s, size_t n, size_t cols, size_t *used, struct bb_err *e)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	*used = 0;
	while (i < n) {
		uint32_t cp = '?';
		int len = decode(p + i, n - i, &cp);
		const char *bytes = (const char *)p + i;
		size_t nbytes;
		int w;

		if (len <= 0) { /* invalid, or cut off at the end of the text */
			len = 1;
			cp = '?';
			bytes = "?";
		} else if (cp == '\t' || cp == '\n' || cp == '\r') {
			cp = ' ';
			bytes = " ";
		} else if (utf8_cp_unsafe(cp)) {
			cp = '?';
			bytes = "?";
		}
		nbytes = cp == ' ' || cp == '?' ? 1 : (size_t)len;
		w = tui_cp_width(cp);
		if (*used + (size_t)w > cols)
			break;
		if (out && buf_append(out, bytes, nbytes, e) < 0)
			return -1;
		*used += (size_t)w;
		i += (size_t)len;
	}
	return 0;
}

int tui_put_text(struct buf *out, const char *s, size_t n, int cols, int pad, struct bb_err *e)
{
	size_t used;

	if (cols <= 0)
		return 0;
	if (put_safe(out, s, n, (size_t)cols, &used, e) < 0)
		return -1;
	for (; pad && used < (size_t)cols; used++)
		if (buf_append_byte(out, ' ', e) < 0)
			return -1;
	return (int)used;
}

size_t tui_text_width(const char *s, size_t n)
{
	size_t used;

	put_safe(NULL, s, n, (size_t)-1, &used, NULL);
	return used;
}

/* Switch the attribute in effect (an SGR sequence), only when colour is on and it changes. */
static int frame_sgr(struct tui_frame *f, unsigned attr, struct bb_err *e)
{
	static const struct {
		unsigned bit;
		const char *code;
	} sgr[] = { { TUI_BOLD, ";1" },	  { TUI_DIM, ";2" },	 { TUI_UNDERLINE, ";4" }, { TUI_REVERSE, ";7" },
		    { TUI_RED, ";31" },	  { TUI_GREEN, ";32" },	 { TUI_YELLOW, ";33" },	  { TUI_BLUE, ";34" },
		    { TUI_MAGENTA, ";35" }, { TUI_CYAN, ";36" } };
	size_t i;

	if (!f->color || attr == f->attr)
		return 0;
	if (buf_append_str(f->out, "\x1b[0", e) < 0)
		return -1;
	for (i = 0; i < sizeof sgr / sizeof sgr[0]; i++)
		if ((attr & sgr[i].bit) && buf_append_str(f->out, sgr[i].code, e) < 0)
			return -1;
	if (buf_append_byte(f->out, 'm', e) < 0)
		return -1;
	f->attr = attr;
	return 0;
}

int tui_frame_begin(struct tui_frame *f, struct buf *out, int width, int height, int color, enum tui_mode mode,
		    struct bb_err *e)
{
	if (width < 1 || height < 1)
		return bb_errf(e, BB_EINVAL, "a frame of %dx%d has no room", width, height);
	buf_reset(out);
	memset(f, 0, sizeof *f);
	f->out = out;
	f->width = width;
	f->height = height;
	f->color = color;
	f->mode = mode;
	f->row_start = (size_t)-1;
	return 0;
}

int tui_frame_row_open(const struct tui_frame *f)
{
	return f->row < f->height;
}

int tui_frame_cols_left(const struct tui_frame *f)
{
	return tui_frame_row_open(f) ? f->width - f->col : 0;
}

/* Place the cursor at the start of the current row the first time something goes into it. */
static int frame_row_begin(struct tui_frame *f, struct bb_err *e)
{
	if (f->row_start != (size_t)-1)
		return 0;
	if (f->mode == TUI_SCREEN && buf_printf(f->out, e, "\x1b[%d;1H", f->row + 1) < 0)
		return -1;
	f->row_start = f->out->len;
	return 0;
}

int tui_frame_text(struct tui_frame *f, unsigned attr, const char *s, size_t n, struct bb_err *e)
{
	int used;

	if (!tui_frame_row_open(f) || f->col >= f->width)
		return 0;
	if (frame_row_begin(f, e) < 0 || frame_sgr(f, attr, e) < 0)
		return -1;
	used = tui_put_text(f->out, s, n, f->width - f->col, 0, e);
	if (used < 0)
		return -1;
	f->col += used;
	return 0;
}

int tui_frame_printf(struct tui_frame *f, unsigned attr, struct bb_err *e, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return bb_errf(e, BB_EINVAL, "cannot format a row");
	return tui_frame_text(f, attr, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1, e);
}

int tui_frame_end_row(struct tui_frame *f, unsigned fill_attr, struct bb_err *e)
{
	if (!tui_frame_row_open(f))
		return 0;
	if (frame_row_begin(f, e) < 0)
		return -1;
	if (f->mode == TUI_SCREEN) {
		if (f->col < f->width) {
			if (frame_sgr(f, fill_attr, e) < 0)
				return -1;
			for (; f->col < f->width; f->col++)
				if (buf_append_byte(f->out, ' ', e) < 0)
					return -1;
		}
	} else {
		/* Trailing blanks are the padding of columns, noise in a pipe; attribute changes sit between them. */
		while (f->out->len > f->row_start && f->out->p[f->out->len - 1] == ' ')
			f->out->len--;
		if (f->out->p) /* an empty row of an empty buffer has no memory yet */
			f->out->p[f->out->len] = '\0';
		if (frame_sgr(f, 0, e) < 0 || buf_append_byte(f->out, '\n', e) < 0)
			return -1;
	}
	f->row++;
	f->col = 0;
	f->row_start = (size_t)-1;
	return 0;
}

int tui_frame_end(struct tui_frame *f, struct bb_err *e)
{
	if (frame_sgr(f, 0, e) < 0)
		return -1;
	if (f->mode == TUI_SCREEN && f->row < f->height && buf_printf(f->out, e, "\x1b[%d;1H\x1b[J", f->row + 1) < 0)
		return -1;
	return 0;
}
