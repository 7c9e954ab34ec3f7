/* test_tui.c - unit tests for lib/tui: key decoding, safe clipped text, frames in both modes. */
#include <string.h>

#include "t.h"
#include "tui.h"

static enum tui_key_kind key(const char *bytes, int final, size_t *used)
{
	struct tui_key k;
	*used = tui_key_decode((const unsigned char *)bytes, strlen(bytes), final, &k);
	return k.kind;
}

static void test_keys_plain(void)
{
	struct tui_key k;
	size_t n;

	T_CHECK(key("q", 0, &n) == TUI_KEY_CHAR && n == 1);
	T_CHECK(key("\x03", 0, &n) == TUI_KEY_CTRL_C && n == 1);
	T_CHECK(key("\t", 0, &n) == TUI_KEY_TAB);
	T_CHECK(key("\r", 0, &n) == TUI_KEY_ENTER);
	T_CHECK(key("\x7f", 0, &n) == TUI_KEY_BACKSPACE);
	T_CHECK(key("\x01", 0, &n) == TUI_KEY_OTHER && n == 1);
	n = tui_key_decode((const unsigned char *)"\xc3\xa9x", 3, 0, &k);
	T_CHECK(n == 2 && k.kind == TUI_KEY_CHAR);
	T_STREQ(k.text, "\xc3\xa9");
	/* A character cut in two waits for the rest, unless nothing more comes. */
	T_CHECK(key("\xe2\x82", 0, &n) == TUI_KEY_NONE && n == 0);
	T_CHECK(key("\xe2\x82", 1, &n) == TUI_KEY_OTHER && n == 1);
	T_CHECK(key("\xff", 0, &n) == TUI_KEY_OTHER && n == 1);
	/* C1 controls and bidi overrides typed into a note are not characters. */
	T_CHECK(key("\xc2\x9b", 0, &n) == TUI_KEY_OTHER && n == 2);
	T_CHECK(key("\xe2\x80\xae", 0, &n) == TUI_KEY_OTHER && n == 3);
}

static void test_keys_escape(void)
{
	size_t n;

	T_CHECK(key("\x1b[A", 0, &n) == TUI_KEY_UP && n == 3);
	T_CHECK(key("\x1b[B", 0, &n) == TUI_KEY_DOWN);
	T_CHECK(key("\x1bOA", 0, &n) == TUI_KEY_UP && n == 3);
	T_CHECK(key("\x1b[5~", 0, &n) == TUI_KEY_PGUP && n == 4);
	T_CHECK(key("\x1b[6~", 0, &n) == TUI_KEY_PGDN);
	T_CHECK(key("\x1b[Z", 0, &n) == TUI_KEY_BACKTAB);
	T_CHECK(key("\x1b[1;5A", 0, &n) == TUI_KEY_UP && n == 6);
	T_CHECK(key("\x1b[15~", 0, &n) == TUI_KEY_OTHER && n == 5);
	/* A lone ESC is ambiguous until the caller says no more bytes are coming. */
	T_CHECK(key("\x1b", 0, &n) == TUI_KEY_NONE && n == 0);
	T_CHECK(key("\x1b", 1, &n) == TUI_KEY_ESC && n == 1);
	T_CHECK(key("\x1b[", 0, &n) == TUI_KEY_NONE && n == 0);
	T_CHECK(key("\x1b[12", 1, &n) == TUI_KEY_OTHER && n == 4);
	T_CHECK(key("\x1bq", 0, &n) == TUI_KEY_ESC && n == 1);
	/* An endless parameter string is cut off, never waited for forever. */
	T_CHECK(key("\x1b[11111111111111111111111111111111111111", 0, &n) == TUI_KEY_OTHER && n > 0);
}

static const char *put(const char *s, int cols, int pad)
{
	static char out[256];
	struct buf b = BUF_INIT(1024);
	int used = tui_put_text(&b, s, strlen(s), cols, pad, NULL);
	snprintf(out, sizeof out, "%d|%s", used, b.p ? b.p : "");
	buf_free(&b);
	return out;
}

static void test_text_safe(void)
{
	T_STREQ(put("hello", 10, 0), "5|hello");
	T_STREQ(put("hello", 3, 0), "3|hel");
	T_STREQ(put("hi", 4, 1), "4|hi  ");
	/* A log line carrying a terminal escape cannot drive the terminal. */
	T_STREQ(put("a\x1b]0;pwned\x07z", 40, 0), "12|a?]0;pwned?z");
	T_STREQ(put("a\tb\nc", 10, 0), "5|a b c");
	T_STREQ(put("\xc2\x9b" "31m", 10, 0), "4|?31m");
	T_STREQ(put("\xe2\x80\xae" "abc", 10, 0), "4|?abc");
	T_STREQ(put("\xff\xfe", 10, 0), "2|??");
	T_STREQ(put("\xe2\x82", 10, 0), "2|??");
	/* Wide characters take two columns and never straddle the limit. */
	T_STREQ(put("\xe4\xb8\xad\xe6\x96\x87", 3, 1), "3|\xe4\xb8\xad ");
	T_STREQ(put("e\xcc\x81x", 2, 0), "2|e\xcc\x81x");
	T_CHECK(tui_text_width("\xe4\xb8\xad" "ab", 5) == 4);
	T_STREQ(put("x", 0, 1), "0|");
}

static void test_frame_plain(void)
{
	struct buf b = BUF_INIT(4096);
	struct tui_frame f;

	T_CHECK(tui_frame_begin(&f, &b, 8, 2, 0, TUI_PLAIN, NULL) == 0);
	T_CHECK(tui_frame_text(&f, TUI_BOLD, "title", 5, NULL) == 0);
	T_CHECK(tui_frame_end_row(&f, TUI_REVERSE, NULL) == 0);
	T_CHECK(tui_frame_printf(&f, TUI_RED, NULL, "%s %d", "a long row", 42) == 0);
	T_CHECK(tui_frame_end_row(&f, 0, NULL) == 0);
	T_CHECK(!tui_frame_row_open(&f));
	/* Past the height, rows are dropped rather than scrolling the screen. */
	T_CHECK(tui_frame_text(&f, 0, "more", 4, NULL) == 0);
	T_CHECK(tui_frame_end_row(&f, 0, NULL) == 0);
	T_CHECK(tui_frame_end(&f, NULL) == 0);
	T_STREQ(b.p, "title\na long r\n");
	buf_free(&b);
}

static void test_frame_screen_color(void)
{
	struct buf b = BUF_INIT(4096);
	struct tui_frame f;

	T_CHECK(tui_frame_begin(&f, &b, 6, 3, 1, TUI_SCREEN, NULL) == 0);
	T_CHECK(tui_frame_text(&f, TUI_REVERSE | TUI_BOLD, "ab", 2, NULL) == 0);
	T_CHECK(tui_frame_end_row(&f, TUI_REVERSE, NULL) == 0);
	T_CHECK(tui_frame_text(&f, 0, "cd", 2, NULL) == 0);
	T_CHECK(tui_frame_end_row(&f, 0, NULL) == 0);
	T_CHECK(tui_frame_end(&f, NULL) == 0);
	T_STREQ(b.p, "\x1b[1;1H\x1b[0;1;7mab\x1b[0;7m    \x1b[2;1H\x1b[0mcd    \x1b[3;1H\x1b[J");
	/* Without colour (NO_COLOR) the same frame has no SGR sequence at all. */
	T_CHECK(tui_frame_begin(&f, &b, 6, 1, 0, TUI_SCREEN, NULL) == 0);
	T_CHECK(tui_frame_text(&f, TUI_RED, "x", 1, NULL) == 0);
	T_CHECK(tui_frame_end_row(&f, TUI_REVERSE, NULL) == 0);
	T_CHECK(tui_frame_end(&f, NULL) == 0);
	T_STREQ(b.p, "\x1b[1;1Hx     ");
	T_CHECK(tui_frame_begin(&f, &b, 0, 1, 0, TUI_SCREEN, NULL) < 0);
	buf_free(&b);
}

/* An empty first row in a pipe: the buffer has no memory yet (found by fuzz_tui). */
static void test_frame_plain_empty_row(void)
{
	struct buf b = BUF_INIT(64);
	struct tui_frame f;

	T_CHECK(tui_frame_begin(&f, &b, 4, 2, 0, TUI_PLAIN, NULL) == 0);
	T_CHECK(tui_frame_end_row(&f, 0, NULL) == 0);
	T_CHECK(tui_frame_end(&f, NULL) == 0);
	T_STREQ(b.p, "\n");
	buf_free(&b);
}

static void test_frame_cap(void)
{
	struct buf b = BUF_INIT(10);
	struct tui_frame f;
	struct bb_err e = { 0 };

	T_CHECK(tui_frame_begin(&f, &b, 40, 1, 0, TUI_PLAIN, NULL) == 0);
	T_CHECK(tui_frame_text(&f, 0, "0123456789abcdef", 16, &e) < 0);
	T_CHECK(e.code == BB_ETOOBIG);
	buf_free(&b);
}

int main(void)
{
	T_RUN(test_keys_plain);
	T_RUN(test_keys_escape);
	T_RUN(test_text_safe);
	T_RUN(test_frame_plain);
	T_RUN(test_frame_screen_color);
	T_RUN(test_frame_plain_empty_row);
	T_RUN(test_frame_cap);
	T_END();
}
