/* test_buf.c - unit tests of lib/buf: the hard cap, appends, views, number parsing. */
#include <stdint.h>

#include "buf.h"
#include "t.h"

static void cap_is_hard(void)
{
	struct buf b = BUF_INIT(8);
	struct bb_err e = { 0 };

	T_CHECK(buf_append(&b, "12345678", 8, &e) == 0);
	T_CHECK(b.len == 8 && strcmp(b.p, "12345678") == 0);
	T_CHECK(buf_append(&b, "9", 1, &e) == -1);
	T_CHECK(e.code == BB_ETOOBIG);
	T_CHECK(b.len == 8 && strcmp(b.p, "12345678") == 0); /* unchanged on failure */
	buf_free(&b);
}

static void printf_and_consume(void)
{
	struct buf b = BUF_INIT(1024);

	T_CHECK(buf_printf(&b, NULL, "%s=%d", "x", 42) == 0);
	T_STREQ(b.p, "x=42");
	buf_consume(&b, 2);
	T_STREQ(b.p, "42");
	buf_consume(&b, 99);
	T_CHECK(b.len == 0 && b.p[0] == 0);
	T_CHECK(buf_printf(&b, NULL, "%0900d", 1) == 0);
	T_CHECK(buf_printf(&b, NULL, "%0200d", 1) == -1);
	T_CHECK(b.len == 900);
	buf_free(&b);
}

static void growth_keeps_content(void)
{
	struct buf b = BUF_INIT(1 << 20);
	int i, good = 1;

	for (i = 0; i < 10000; i++)
		buf_append_byte(&b, (char)('a' + i % 26), NULL);
	for (i = 0; i < 10000; i++)
		good &= b.p[i] == (char)('a' + i % 26);
	T_CHECK(good && b.len == 10000 && b.p[10000] == 0);
	buf_free(&b);
}

static void views(void)
{
	struct sv a = sv_from("  key = value\t"), h, t;

	T_CHECK(sv_eq_str(sv_trim(a), "key = value"));
	T_CHECK(sv_split(sv_trim(a), '=', &h, &t) == 1);
	T_CHECK(sv_eq_str(sv_trim(h), "key") && sv_eq_str(sv_trim(t), "value"));
	T_CHECK(sv_split(sv_from("novalue"), '=', &h, &t) == 0 && sv_eq_str(h, "novalue") && t.len == 0);
	T_CHECK(sv_eq_nocase(sv_from("Content-Length"), sv_from("content-length")));
	T_CHECK(!sv_eq_nocase(sv_from("Content-Length"), sv_from("content-lengt")));
	T_CHECK(sv_starts_with(sv_from("https://x"), SV_LIT("https://")));
	T_CHECK(sv_ends_with(sv_from("a.md"), SV_LIT(".md")) && !sv_ends_with(sv_from("md"), SV_LIT(".md")));
	T_CHECK(sv_index(sv_from("abc"), 'c') == 2 && sv_index(sv_from("abc"), 'z') == -1);
}

static void numbers(void)
{
	uint64_t v = 7;
	struct bb_err e = { 0 };

	T_CHECK(sv_to_u64(sv_from("65535"), 65535, &v, &e) == 0 && v == 65535);
	T_CHECK(sv_to_u64(sv_from("65536"), 65535, &v, &e) == -1);
	T_CHECK(sv_to_u64(sv_from(""), 10, &v, &e) == -1);
	T_CHECK(sv_to_u64(sv_from("-1"), 10, &v, &e) == -1);
	T_CHECK(sv_to_u64(sv_from(" 1"), 10, &v, &e) == -1);
	T_CHECK(sv_to_u64(sv_from("18446744073709551615"), UINT64_MAX, &v, &e) == 0 && v == UINT64_MAX);
	T_CHECK(sv_to_u64(sv_from("18446744073709551616"), UINT64_MAX, &v, &e) == -1);
	T_CHECK(sv_to_u64(sv_from("9"), 5, &v, &e) == -1);
	T_CHECK(strstr(e.msg, "larger") != NULL);
}

static void copy_truncates_safely(void)
{
	char small[4];

	T_CHECK(sv_copy(sv_from("abc"), small, sizeof small) == 0);
	T_STREQ(small, "abc");
	T_CHECK(sv_copy(sv_from("abcd"), small, sizeof small) == -1);
	T_STREQ(small, "abc");
}

int main(void)
{
	T_RUN(cap_is_hard);
	T_RUN(printf_and_consume);
	T_RUN(growth_keeps_content);
	T_RUN(views);
	T_RUN(numbers);
	T_RUN(copy_truncates_safely);
	T_END();
}
