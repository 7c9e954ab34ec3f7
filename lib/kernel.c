/* kernel.c - a bzImage's setup header and payload, unpacking it (xz, gzip), the ELF's PVH note, a module's .modinfo. */
#include "kernel.h"

#include <errno.h>
#include <lzma.h>
#include <stdint.h>
#include <string.h>

#include "inflate.h"

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int kernel_image_parse(const void *img, size_t len, struct kernel_image *k, struct bb_err *e)
{
	const unsigned char *b = img;
	size_t setup, voff, i;
	uint16_t proto;
	memset(k, 0, sizeof *k);
	if (len < 0x250 || memcmp(b + 0x202, "HdrS", 4))
		return bb_errf(e, BB_EINVAL, "not a bzImage (no HdrS setup header)");
	proto = le16(b + 0x206);
	if (proto < 0x208)
		return bb_errf(e, BB_EINVAL, "boot protocol %u.%02u is older than 2.08 (no payload fields)", proto >> 8,
			       proto & 0xff);
	setup = (size_t)(b[0x1f1] ? b[0x1f1] : 4) + 1; /* setup sectors, plus the boot sector */
	k->payload_off = setup * 512 + le32(b + 0x248);
	k->payload_len = le32(b + 0x24c);
	if (k->payload_off > len || k->payload_len > len - k->payload_off || k->payload_len < 8)
		return bb_errf(e, BB_EINVAL, "the payload (%zu bytes at %zu) is not inside the %zu-byte image", k->payload_len,
			       k->payload_off, len);
	b += k->payload_off;
	if (!memcmp(b, "\xfd" "7zXZ\0", 6))
		k->format = KERNEL_PAYLOAD_XZ;
	else if (b[0] == 0x1f && b[1] == 0x8b)
		k->format = KERNEL_PAYLOAD_GZIP;
	else
		k->format = KERNEL_PAYLOAD_OTHER;
	if (k->format != KERNEL_PAYLOAD_OTHER) /* the build appends the unpacked size, 32-bit little-endian */
		k->unpacked_len = le32(b + k->payload_len - 4);
	b -= k->payload_off;
	voff = le16(b + 0x20e); /* kernel_version: offset from 0x200 of a NUL-terminated string */
	if (voff && voff + 0x200 < len) {
		for (i = 0; i + 1 < sizeof k->version && voff + 0x200 + i < len; i++) {
			char c = (char)b[voff + 0x200 + i];
			if (c == 0 || c == ' ' || (unsigned char)c < 0x21 || (unsigned char)c > 0x7e)
				break;
			k->version[i] = c;
		}
		k->version[i] = 0;
	}
	return 0;
}

static int unxz(const unsigned char *in, size_t len, struct buf *out, struct bb_err *e)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret r;
	size_t chunk = 4u << 20;
	if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK)
		return bb_errf(e, ENOMEM, "xz: cannot start the decoder");
	s.next_in = in;
	s.avail_in = len;
	do {
		size_t room = out->max - out->len;
		if (!room || buf_reserve(out, room < chunk ? room : chunk, e) < 0) {
			lzma_end(&s);
			return room ? bb_err_wrap(e, "xz: the unpacked kernel")
				    : bb_errf(e, BB_ETOOBIG, "xz: the unpacked kernel passes %zu bytes", out->max);
		}
		s.next_out = (unsigned char *)out->p + out->len;
		s.avail_out = out->cap - 1 - out->len;
		r = lzma_code(&s, LZMA_FINISH);
		out->len = (size_t)((char *)s.next_out - out->p);
		out->p[out->len] = 0;
	} while (r == LZMA_OK);
	lzma_end(&s);
	if (r != LZMA_STREAM_END)
		return bb_errf(e, BB_EINVAL, "xz: corrupt kernel payload (liblzma error %d)", (int)r);
	return 0;
}

static int gz_out(const void *p, size_t n, void *arg)
{
	return buf_append(arg, p, n, NULL) < 0;
}

static int ungzip(const unsigned char *in, size_t len, struct buf *out, struct bb_err *e)
{
	struct inflate_stream *s;
	int r;
	if (inflate_begin(&s, "gzip", 4, KERNEL_ELF_MAX, e) < 0)
		return -1;
	r = inflate_feed(s, in, len, gz_out, out, e);
	inflate_end(s);
	if (r == 2)
		return bb_errf(e, BB_ETOOBIG, "gzip: the unpacked kernel passes %u bytes", KERNEL_ELF_MAX);
	if (r != 1)
		return r < 0 ? -1 : bb_errf(e, BB_EINVAL, "gzip: the kernel payload ends early");
	return 0;
}

int kernel_unpack(const void *img, size_t len, const struct kernel_image *k, struct buf *out, struct bb_err *e)
{
	const unsigned char *p = (const unsigned char *)img + k->payload_off;
	if (k->payload_off > len || k->payload_len > len - k->payload_off)
		return bb_errf(e, BB_EINVAL, "the payload is not inside the image");
	if (k->unpacked_len > KERNEL_ELF_MAX)
		return bb_errf(e, BB_ETOOBIG, "the kernel unpacks to %zu bytes, more than %u", k->unpacked_len, KERNEL_ELF_MAX);
	switch (k->format) {
	case KERNEL_PAYLOAD_XZ:
		return unxz(p, k->payload_len, out, e);
	case KERNEL_PAYLOAD_GZIP:
		return ungzip(p, k->payload_len, out, e);
	default:
		return bb_errf(e, BB_ENOTIMPL, "a kernel payload neither xz nor gzip");
	}
}

/* The ELF64 LE header's fields bb uses; 0 when it is not one (or a table lies outside the file). */
struct elf64 {
	uint64_t phoff, shoff;
	uint16_t phentsize, phnum, shentsize, shnum, shstrndx;
};

static int elf64_read(const unsigned char *b, size_t len, struct elf64 *h)
{
	if (len < 64 || memcmp(b, "\x7f" "ELF", 4) || b[4] != 2 || b[5] != 1)
		return 0;
	h->phoff = le64(b + 0x20);
	h->shoff = le64(b + 0x28);
	h->phentsize = le16(b + 0x36);
	h->phnum = le16(b + 0x38);
	h->shentsize = le16(b + 0x3a);
	h->shnum = le16(b + 0x3c);
	h->shstrndx = le16(b + 0x3e);
	return 1;
}

/* Whether [off, off+n) lies inside len. */
static int inside(uint64_t off, uint64_t n, size_t len)
{
	return off <= len && n <= len - off;
}

int kernel_elf_has_pvh(const void *elf, size_t len)
{
	const unsigned char *b = elf;
	struct elf64 h;
	unsigned i;
	if (!elf64_read(b, len, &h) || h.phentsize < 56 || !inside(h.phoff, (uint64_t)h.phnum * h.phentsize, len))
		return 0;
	for (i = 0; i < h.phnum; i++) {
		const unsigned char *ph = b + h.phoff + (uint64_t)i * h.phentsize;
		uint64_t off = le64(ph + 8), sz = le64(ph + 32), at = 0;
		if (le32(ph) != 4 /* PT_NOTE */ || !inside(off, sz, len))
			continue;
		while (sz - at >= 12) {
			const unsigned char *n = b + off + at;
			uint64_t namesz = le32(n), descsz = le32(n + 4), step;
			step = 12 + ((namesz + 3) & ~3ull) + ((descsz + 3) & ~3ull);
			if (step > sz - at)
				break;
			if (le32(n + 8) == 18 && namesz == 4 && !memcmp(n + 12, "Xen", 4))
				return 1;
			at += step;
		}
	}
	return 0;
}

int kernel_modinfo(const void *ko, size_t len, const char *key, char *out, size_t cap, struct bb_err *e)
{
	const unsigned char *b = ko, *sh, *strs, *info = NULL;
	struct elf64 h;
	uint64_t stroff, strsz, infosz = 0, at;
	size_t kl = strlen(key);
	unsigned i;
	if (!elf64_read(b, len, &h) || h.shentsize < 64 || !inside(h.shoff, (uint64_t)h.shnum * h.shentsize, len) ||
	    h.shstrndx >= h.shnum)
		return bb_errf(e, BB_EINVAL, "not an ELF64 little-endian module with section headers");
	sh = b + h.shoff + (uint64_t)h.shstrndx * h.shentsize;
	stroff = le64(sh + 24);
	strsz = le64(sh + 32);
	if (!inside(stroff, strsz, len))
		return bb_errf(e, BB_EINVAL, "the section names lie outside the file");
	strs = b + stroff;
	for (i = 0; i < h.shnum; i++) {
		uint32_t name;
		sh = b + h.shoff + (uint64_t)i * h.shentsize;
		name = le32(sh);
		if (name < strsz && strsz - name >= 9 && !memcmp(strs + name, ".modinfo", 9)) {
			uint64_t off = le64(sh + 24);
			infosz = le64(sh + 32);
			if (!inside(off, infosz, len))
				return bb_errf(e, BB_EINVAL, ".modinfo lies outside the file");
			info = b + off;
			break;
		}
	}
	if (!info)
		return bb_errf(e, BB_EINVAL, "no .modinfo section (not a kernel module)");
	for (at = 0; at < infosz;) {
		const unsigned char *s = info + at, *end = memchr(s, 0, (size_t)(infosz - at));
		size_t n = end ? (size_t)(end - s) : (size_t)(infosz - at);
		if (n > kl && s[kl] == '=' && !memcmp(s, key, kl)) {
			if (n - kl - 1 >= cap)
				return bb_errf(e, BB_ETOOBIG, "modinfo %s: %zu bytes, more than %zu", key, n - kl - 1, cap - 1);
			memcpy(out, s + kl + 1, n - kl - 1);
			out[n - kl - 1] = 0;
			return 1;
		}
		at += n + 1;
	}
	return 0;
}
