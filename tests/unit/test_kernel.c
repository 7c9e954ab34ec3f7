/* test_kernel.c - a bzImage's header and payload (xz, gzip), the ELF's PVH note, a module's .modinfo (lib/kernel). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "kernel.h"
#include "t.h"

/* "\x7fELF" then "PAYLOAD-OF-A-TEST-KERNEL" four times, compressed as the kernel's build does (xz: x86 BCJ + LZMA2, CRC32). */
static const char xz_blob[] =
	"\xfd\x37\x7a\x58\x5a\x00\x00\x01\x69\x22\xde\x36\x02\x01\x04\x00\x21\x01\x16\x00\x0d\x86\x35"
	"\x1f\xe0\x00\x63\x00\x23\x5d\x00\x3f\x91\x45\x84\x6b\x24\xad\xad\xa0\xa1\xf8\x99\x26\x53\x16"
	"\xb6\x80\x1e\xe1\x48\x0e\x44\xea\xa1\x41\x4d\x53\x80\xbb\xa9\x38\x9d\x8e\x00\x00\x00\x00\xba"
	"\x64\x8d\xf3\x00\x01\x3b\x64\x52\xff\xeb\x56\x90\x42\x99\x0d\x01\x00\x00\x00\x00\x01\x59\x5a"
;
static const char gz_blob[] =
	"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xab\x77\xf5\x71\x0b\x70\x8c\xf4\xf1\x77\x74\xd1\xf5"
	"\x77\xd3\x75\xd4\x0d\x71\x0d\x0e\xd1\xf5\x76\x0d\xf2\x73\xf5\xa1\x96\x38\x00\xba\x64\x8d\xf3"
	"\x64\x00\x00\x00"
;
#define PLAIN_LEN 100

static void plain(char out[PLAIN_LEN])
{
	int i;
	memcpy(out, "\x7f" "ELF", 4);
	for (i = 0; i < 4; i++)
		memcpy(out + 4 + 24 * i, "PAYLOAD-OF-A-TEST-KERNEL", 24);
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* A bzImage as the kernel's build lays it out: one setup sector after the boot sector, the header, a
 * version string, a "decompressor", the payload (xz: with the unpacked size appended; gzip ends with it
 * already). Its length in *len. */
static unsigned char *bzimage(const char *payload, size_t plen, unsigned proto, size_t *len)
{
	int sized = (unsigned char)payload[0] == 0xfd;
	static const char version[] = "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP";
	size_t setup = 1024, pm = 32, n = setup + pm + plen + (sized ? 4 : 0);
	unsigned char *b = calloc(1, n);
	b[0x1f1] = 1;
	memcpy(b + 0x202, "HdrS", 4);
	put16(b + 0x206, proto);
	put16(b + 0x20e, 0x100);
	memcpy(b + 0x300, version, sizeof version);
	memcpy(b + setup, "DECOMPRESSOR", 12);
	put32(b + 0x248, (uint32_t)pm);
	put32(b + 0x24c, (uint32_t)(plen + (sized ? 4 : 0)));
	memcpy(b + setup + pm, payload, plen);
	if (sized)
		put32(b + setup + pm + plen, PLAIN_LEN);
	*len = n;
	return b;
}

static void parses_the_setup_header_and_finds_the_payload(void)
{
	size_t n;
	unsigned char *b = bzimage(xz_blob, sizeof xz_blob - 1, 0x20f, &n);
	struct kernel_image k;
	struct bb_err e;
	T_CHECK(kernel_image_parse(b, n, &k, &e) == 0);
	T_CHECK(k.format == KERNEL_PAYLOAD_XZ && k.payload_off == 1024 + 32 && k.payload_len == sizeof xz_blob - 1 + 4);
	T_CHECK(k.unpacked_len == PLAIN_LEN);
	T_STREQ(k.version, "6.1.0-57-amd64");
	free(b);
}

static void unpacks_xz_and_gzip_payloads(void)
{
	const char *blobs[2] = { xz_blob, gz_blob };
	size_t lens[2] = { sizeof xz_blob - 1, sizeof gz_blob - 1 }, i, n;
	char want[PLAIN_LEN];
	plain(want);
	for (i = 0; i < 2; i++) {
		unsigned char *b = bzimage(blobs[i], lens[i], 0x20f, &n);
		struct kernel_image k;
		struct buf out = BUF_INIT(1u << 20);
		struct bb_err e = { 0 };
		T_CHECK(kernel_image_parse(b, n, &k, &e) == 0);
		T_CHECK(k.format == (i ? KERNEL_PAYLOAD_GZIP : KERNEL_PAYLOAD_XZ));
		T_CHECK(kernel_unpack(b, n, &k, &out, &e) == 0);
		T_CHECK(out.len == PLAIN_LEN && !memcmp(out.p, want, PLAIN_LEN));
		buf_free(&out);
		free(b);
	}
}

static void refuses_what_is_not_a_bzimage(void)
{
	size_t n;
	unsigned char *b = bzimage(xz_blob, sizeof xz_blob - 1, 0x207, &n);
	struct kernel_image k;
	struct bb_err e = { 0 };
	T_CHECK(kernel_image_parse(b, n, &k, &e) < 0 && strstr(e.msg, "older than 2.08"));
	put16(b + 0x206, 0x20f);
	put32(b + 0x24c, (uint32_t)n); /* a payload longer than the file */
	T_CHECK(kernel_image_parse(b, n, &k, &e) < 0 && strstr(e.msg, "not inside"));
	memcpy(b + 0x202, "XXXX", 4);
	T_CHECK(kernel_image_parse(b, n, &k, &e) < 0 && strstr(e.msg, "HdrS"));
	T_CHECK(kernel_image_parse(b, 100, &k, &e) < 0);
	free(b);
}

static void a_corrupt_or_unknown_payload_is_an_error(void)
{
	char bad[sizeof xz_blob];
	size_t n;
	unsigned char *b;
	struct kernel_image k;
	struct buf out = BUF_INIT(1u << 20);
	struct bb_err e = { 0 };
	memcpy(bad, xz_blob, sizeof bad);
	bad[40] ^= 0x55;
	b = bzimage(bad, sizeof bad - 1, 0x20f, &n);
	T_CHECK(kernel_image_parse(b, n, &k, &e) == 0 && kernel_unpack(b, n, &k, &out, &e) < 0 && strstr(e.msg, "corrupt"));
	free(b);
	buf_reset(&out);
	b = bzimage("\x28\xb5\x2f\xfd zstd-ish", 13, 0x20f, &n);
	T_CHECK(kernel_image_parse(b, n, &k, &e) == 0 && k.format == KERNEL_PAYLOAD_OTHER);
	T_CHECK(kernel_unpack(b, n, &k, &out, &e) < 0 && e.code == BB_ENOTIMPL);
	free(b);
	buf_free(&out);
}

/*
 * A minimal ELF64: a PT_NOTE program header over notes[], and section headers: [0] null, [1]
 * .shstrtab, [2] .modinfo holding info[] (when given).
 */
static unsigned char *elf(const unsigned char *notes, size_t nn, const char *info, size_t il, size_t *len)
{
	static const char shstr[] = "\0.shstrtab\0.modinfo";
	size_t ph = 64, notes_at = ph + 56, str_at = notes_at + nn, info_at = str_at + sizeof shstr, sh = info_at + il + 7;
	unsigned char *b;
	sh &= ~(size_t)7;
	*len = sh + 3 * 64;
	b = calloc(1, *len);
	memcpy(b, "\x7f" "ELF\x02\x01\x01", 7);
	put64(b + 0x20, ph);
	put64(b + 0x28, sh);
	put16(b + 0x36, 56);
	put16(b + 0x38, 1);
	put16(b + 0x3a, 64);
	put16(b + 0x3c, 3);
	put16(b + 0x3e, 1);
	put32(b + ph, 4); /* PT_NOTE */
	put64(b + ph + 8, notes_at);
	put64(b + ph + 32, nn);
	if (nn)
		memcpy(b + notes_at, notes, nn);
	memcpy(b + str_at, shstr, sizeof shstr);
	put32(b + sh + 64, 1);
	put64(b + sh + 64 + 24, str_at);
	put64(b + sh + 64 + 32, sizeof shstr);
	put32(b + sh + 128, 11);
	put64(b + sh + 128 + 24, info_at);
	put64(b + sh + 128 + 32, il);
	if (info)
		memcpy(b + info_at, info, il);
	return b;
}

static void finds_the_pvh_entry_note(void)
{
	unsigned char notes[40] = { 0 }, *b;
	size_t n;
	/* a GNU build-id note first, then Xen's PHYS32_ENTRY (type 18) */
	put32(notes, 4);
	put32(notes + 4, 4);
	put32(notes + 8, 3);
	memcpy(notes + 12, "GNU", 4);
	put32(notes + 20, 4);
	put32(notes + 24, 4);
	put32(notes + 28, 18);
	memcpy(notes + 32, "Xen", 4);
	b = elf(notes, 40, NULL, 0, &n);
	T_CHECK(kernel_elf_has_pvh(b, n) == 1);
	free(b);
	put32(notes + 28, 17); /* another Xen note */
	b = elf(notes, 40, NULL, 0, &n);
	T_CHECK(kernel_elf_has_pvh(b, n) == 0);
	free(b);
	put32(notes + 4, 1000); /* a note running past its segment */
	b = elf(notes, 40, NULL, 0, &n);
	T_CHECK(kernel_elf_has_pvh(b, n) == 0);
	T_CHECK(kernel_elf_has_pvh("MZ", 2) == 0);
	free(b);
}

static void reads_a_modules_depends(void)
{
	static const char info[] = "license=GPL\0depends=virtio,virtio_ring\0intree=Y\0name=virtio_mmio\0vermagic=6.1.0\0";
	char out[64];
	struct bb_err e = { 0 };
	size_t n;
	unsigned char *b = elf(NULL, 0, info, sizeof info - 1, &n);
	T_CHECK(kernel_modinfo(b, n, "depends", out, sizeof out, &e) == 1);
	T_STREQ(out, "virtio,virtio_ring");
	T_CHECK(kernel_modinfo(b, n, "name", out, sizeof out, &e) == 1);
	T_STREQ(out, "virtio_mmio");
	T_CHECK(kernel_modinfo(b, n, "alias", out, sizeof out, &e) == 0);
	T_CHECK(kernel_modinfo(b, n, "depends", out, 5, &e) < 0 && e.code == BB_ETOOBIG);
	free(b);
	b = elf(NULL, 0, "depends=\0", 9, &n);
	T_CHECK(kernel_modinfo(b, n, "depends", out, sizeof out, &e) == 1 && out[0] == 0);
	put64(b + 0x28, n); /* section headers past the end */
	T_CHECK(kernel_modinfo(b, n, "depends", out, sizeof out, &e) < 0);
	free(b);
}

int main(void)
{
	T_RUN(parses_the_setup_header_and_finds_the_payload);
	T_RUN(unpacks_xz_and_gzip_payloads);
	T_RUN(refuses_what_is_not_a_bzimage);
	T_RUN(a_corrupt_or_unknown_payload_is_an_error);
	T_RUN(finds_the_pvh_entry_note);
	T_RUN(reads_a_modules_depends);
	T_END();
}
