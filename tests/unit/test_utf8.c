/* test_utf8.c - unit tests of lib/utf8: decoding, the unsafe class, escaping for a terminal. */
#include <stdlib.h>

#include "buf.h"
#include "utf8.h"
#include "t.h"

static void decodes_and_refuses(void)
{
	uint32_t cp = 0;
	T_CHECK(utf8_decode((const unsigned char *)"A", 1, &cp) == 1 && cp == 'A');
	T_CHECK(utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp) == 2 && cp == 0xe9);
	T_CHECK(utf8_decode((const unsigned char *)"\xe2\x80\xae", 3, &cp) == 3 && cp == 0x202e);
	T_CHECK(utf8_decode((const unsigned char *)"\xf3\xa0\x81\x81", 4, &cp) == 4 && cp == 0xe0041);
	T_CHECK(utf8_decode((const unsigned char *)"\xc0\xaf", 2, &cp) == 0);         /* overlong '/' */
	T_CHECK(utf8_decode((const unsigned char *)"\xe0\x80\xaf", 3, &cp) == 0);     /* overlong */
	T_CHECK(utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp) == 0);     /* surrogate */
	T_CHECK(utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp) == 0); /* past U+10FFFF */
	T_CHECK(utf8_decode((const unsigned char *)"\xe2\x80", 2, &cp) == 0);         /* cut short */
	T_CHECK(utf8_decode((const unsigned char *)"\x80", 1, &cp) == 0);             /* stray continuation */
}

/* Every character the issue names, and their neighbours that are fine. */
/* The valid prefix stops at the first byte that does not start a whole sequence (manifest and JSON-RPC bodies use it). */
static void valid_prefix(void)
{
	const unsigned char ok[] = "a\xc3\xa9\xe2\x98\xba\xf0\x9f\x98\x80";
	const unsigned char sur[] = "ab\xed\xa0\x80", cut[] = "ab\xe2\x98", over[] = "\xc0\xaf";

	T_CHECK(utf8_valid_prefix(ok, sizeof ok - 1) == sizeof ok - 1);
	T_CHECK(utf8_valid_prefix(ok, 0) == 0);
	T_CHECK(utf8_valid_prefix(sur, sizeof sur - 1) == 2);
	T_CHECK(utf8_valid_prefix(cut, sizeof cut - 1) == 2);
	T_CHECK(utf8_valid_prefix(over, sizeof over - 1) == 0);
	T_CHECK(utf8_valid_prefix((const unsigned char *)"x\0y", 3) == 3); /* NUL is UTF-8: callers that refuse it say so */
}

static void unsafe_class(void)
{
	static const uint32_t bad[] = { 0x00, 0x07, 0x09, 0x0a, 0x1b, 0x7f, 0x80, 0x9b, 0x9f, 0xad, 0x61c, 0x200b, 0x200d,
					0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069, 0x2060, 0xfe0f,
					0xfeff, 0xfffe, 0xe0001, 0xe0041, 0xe007f, 0xe0100 };
	static const uint32_t good[] = { 0x20, 'a', 0x7e, 0xa0, 0xe9, 0x3b1, 0x4e2d, 0x1f600, 0x2027, 0x2030, 0x205f,
					 0xfdff, 0xfe10, 0xe0080, 0x10ffff };
	size_t i;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (!utf8_cp_unsafe(bad[i])) {
			printf("#   U+%04X should be unsafe\n", (unsigned)bad[i]);
			T_CHECK(0);
		}
	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		if (utf8_cp_unsafe(good[i])) {
			printf("#   U+%04X should be safe\n", (unsigned)good[i]);
			T_CHECK(0);
		}
}

static void escapes_for_a_terminal(void)
{
	static const char in[] = "ok \xc3\xa9\t\n\x1b[2J\r\xc2\x9b" "2J\xe2\x80\xae" "abc\xe2\x80\x8b\xf3\xa0\x81\x81\xff end";
	struct buf b = BUF_INIT(4096);
	T_CHECK(!utf8_text_safe(in, sizeof in - 1, 1));
	T_CHECK(utf8_escape_unsafe(&b, in, sizeof in - 1, 1, NULL) == 0);
	T_STREQ(b.p, "ok \xc3\xa9\t\n\\e[2J\\r\\u{009b}2J\\u{202e}abc\\u{200b}\\u{e0041}\\xff end");
	T_CHECK(utf8_text_safe(b.p, b.len, 1));
	buf_reset(&b);
	T_CHECK(utf8_escape_unsafe(&b, "a\tb\nc", 5, 0, NULL) == 0);
	T_STREQ(b.p, "a\\tb\\nc");
	T_CHECK(utf8_text_safe("plain ascii, caf\xc3\xa9, \xe4\xb8\xad", 20, 0));
	buf_free(&b);
}

int main(void)
{
	T_RUN(decodes_and_refuses);
	T_RUN(valid_prefix);
	T_RUN(unsafe_class);
	T_RUN(escapes_for_a_terminal);
	T_END();
}
