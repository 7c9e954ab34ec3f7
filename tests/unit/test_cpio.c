/* test_cpio.c - newc archives for the initramfs (lib/cpio): what is written reads back, what is refused, malformed input. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cpio.h"
#include "t.h"

static void entries_read_back_in_order(void)
{
	struct buf b = BUF_INIT(1u << 20);
	struct bb_err e = { 0 };
	struct cpio_entry en;
	size_t off = 0;
	T_CHECK(cpio_add(&b, 1, "bb.d", 040700, NULL, 0, &e) == 0);
	T_CHECK(cpio_add(&b, 2, "bb.d/vm.json", 0100600, "{\"a\":1}", 7, &e) == 0);
	T_CHECK(cpio_add(&b, 3, "bb", 0100755, "odd", 3, &e) == 0); /* data not a multiple of 4: padded */
	T_CHECK(cpio_end(&b, 4, &e) == 0);
	T_CHECK(b.len % 4 == 0 && !memcmp(b.p, "070701", 6));
	T_CHECK(cpio_next(b.p, b.len, &off, &en, &e) == 1 && !strcmp(en.name, "bb.d") && en.mode == 040700 && en.len == 0);
	T_CHECK(cpio_next(b.p, b.len, &off, &en, &e) == 1 && !strcmp(en.name, "bb.d/vm.json") && en.len == 7 &&
		!memcmp(en.data, "{\"a\":1}", 7));
	T_CHECK(cpio_next(b.p, b.len, &off, &en, &e) == 1 && !strcmp(en.name, "bb") && en.mode == 0100755 && en.len == 3);
	T_CHECK(cpio_next(b.p, b.len, &off, &en, &e) == 0 && off == b.len);
	buf_free(&b);
}

static void the_header_is_what_the_kernel_reads(void)
{
	struct buf b = BUF_INIT(4096);
	struct bb_err e = { 0 };
	T_CHECK(cpio_add(&b, 7, "init", 0100755, "x", 1, &e) == 0);
	/* magic, ino 7, mode 0100755, uid 0, gid 0, nlink 1, mtime 0, size 1, ..., namesize 5 ("init" and its NUL) */
	T_CHECK(!strncmp(b.p, "07070100000007000081ED0000000000000000000000010000000000000001000000000000000000000000000000000000000500000000", 110));
	T_CHECK(b.len == 110 + 5 + 1 + 1 + 3); /* header, name, pad to 4, data, pad to 4 */
	buf_free(&b);
}

static void names_that_would_escape_are_refused(void)
{
	static const char *const bad[] = { "", "/etc/passwd", "../x", "a/../../x", "a/..", "TRAILER!!!" };
	struct buf b = BUF_INIT(4096);
	struct bb_err e = { 0 };
	char longname[CPIO_NAME_MAX + 1];
	size_t i;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		T_CHECK(cpio_add(&b, 1, bad[i], 0100644, "x", 1, &e) < 0);
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	T_CHECK(cpio_add(&b, 1, longname, 0100644, "x", 1, &e) < 0);
	T_CHECK(cpio_add(&b, 1, "dir", 040755, "x", 1, &e) < 0);
	T_CHECK(cpio_add(&b, 1, "a..b/..c", 0100644, "x", 1, &e) == 0); /* dots inside a name are fine */
	T_CHECK(b.len > 0);
	buf_free(&b);
}

static void malformed_archives_are_errors(void)
{
	struct buf b = BUF_INIT(4096);
	struct bb_err e = { 0 };
	struct cpio_entry en;
	size_t off;
	T_CHECK(cpio_add(&b, 1, "file", 0100644, "data", 4, &e) == 0);
	off = 0;
	T_CHECK(cpio_next(b.p, 50, &off, &en, &e) < 0); /* header cut short */
	off = 0;
	T_CHECK(cpio_next(b.p, b.len - 2, &off, &en, &e) < 0 && strstr(e.msg, "past the end"));
	b.p[10] = 'g'; /* not hex */
	off = 0;
	T_CHECK(cpio_next(b.p, b.len, &off, &en, &e) < 0 && strstr(e.msg, "not hex"));
	b.p[10] = '0';
	b.p[0] = '1'; /* not newc */
	off = 0;
	T_CHECK(cpio_next(b.p, b.len, &off, &en, &e) < 0 && strstr(e.msg, "magic"));
	b.p[0] = '0';
	b.p[110 + 4] = 'x'; /* the name's NUL gone */
	off = 0;
	T_CHECK(cpio_next(b.p, b.len, &off, &en, &e) < 0 && strstr(e.msg, "NUL"));
	buf_free(&b);
}

int main(void)
{
	T_RUN(entries_read_back_in_order);
	T_RUN(the_header_is_what_the_kernel_reads);
	T_RUN(names_that_would_escape_are_refused);
	T_RUN(malformed_archives_are_errors);
	T_END();
}
