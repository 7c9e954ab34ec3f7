/* cpio.c - newc archives (the initramfs format): one entry appended at a time, and read back. */
#include "cpio.h"
#include "hex.h"

#include <stdio.h>
#include <string.h>

#define HDR 110
#define TRAILER "TRAILER!!!"

static size_t pad4(size_t n)
{
	return (4 - (n & 3)) & 3;
}

static int put(struct buf *out, unsigned ino, const char *name, uint32_t mode, const void *data, size_t len,
	       struct bb_err *e)
{
	static const char zeros[4] = { 0 };
	char h[HDR + 1];
	size_t nl = strlen(name) + 1;
	if (len > 0xffffffffu)
		return bb_errf(e, BB_ETOOBIG, "cpio: %s: %zu bytes is more than the format holds", name, len);
	snprintf(h, sizeof h, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0u, 0u,
		 (mode & 0170000) == 0040000 ? 2u : 1u, 0u, (unsigned)len, 0u, 0u, 0u, 0u, (unsigned)nl, 0u);
	if (buf_append(out, h, HDR, e) < 0 || buf_append(out, name, nl, e) < 0 ||
	    buf_append(out, zeros, pad4(HDR + nl), e) < 0 || (len && buf_append(out, data, len, e) < 0) ||
	    buf_append(out, zeros, pad4(len), e) < 0)
		return bb_err_wrap(e, "cpio: %s", name);
	return 0;
}

int cpio_add(struct buf *out, unsigned ino, const char *name, uint32_t mode, const void *data, size_t len,
	     struct bb_err *e)
{
	size_t n = strlen(name);
	const char *p;
	if (!n || n >= CPIO_NAME_MAX || name[0] == '/' || !strcmp(name, TRAILER))
		return bb_errf(e, BB_EINVAL, "cpio: '%s' is not a relative name under %d bytes", name, CPIO_NAME_MAX);
	for (p = name; p; p = strchr(p, '/'), p = p ? p + 1 : NULL)
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return bb_errf(e, BB_EINVAL, "cpio: '%s' climbs out with '..'", name);
	if ((mode & 0170000) == 0040000 && len)
		return bb_errf(e, BB_EINVAL, "cpio: directory '%s' with data", name);
	return put(out, ino, name, mode, data, len, e);
}

int cpio_end(struct buf *out, unsigned ino, struct bb_err *e)
{
	return put(out, ino, TRAILER, 0, NULL, 0, e);
}

/* The 8 hex digits at p as a number; -1 when one is not a hex digit. */
static long long hex8(const char *p)
{
	long long v = 0;
	int i;
	for (i = 0; i < 8; i++) {
		int d = hex_val(p[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

int cpio_next(const void *in, size_t len, size_t *off, struct cpio_entry *en, struct bb_err *e)
{
	const char *b = in, *h;
	long long f[13];
	size_t at = *off, nl, dl;
	int i;
	if (at > len || len - at < HDR)
		return bb_errf(e, BB_EINVAL, "cpio: a header cut short at byte %zu", at);
	h = b + at;
	if (memcmp(h, "070701", 6))
		return bb_errf(e, BB_EINVAL, "cpio: no newc magic at byte %zu", at);
	for (i = 0; i < 13; i++)
		if ((f[i] = hex8(h + 6 + 8 * i)) < 0)
			return bb_errf(e, BB_EINVAL, "cpio: a header field that is not hex at byte %zu", at);
	nl = (size_t)f[11];
	dl = (size_t)f[6];
	at += HDR;
	if (nl == 0 || nl > len - at || b[at + nl - 1] != 0 || memchr(b + at, 0, nl - 1))
		return bb_errf(e, BB_EINVAL, "cpio: a name without its NUL at byte %zu", at);
	en->name = b + at;
	en->mode = (uint32_t)f[1];
	at += nl;
	at += pad4(HDR + nl);
	if (at > len || dl > len - at)
		return bb_errf(e, BB_EINVAL, "cpio: %s: %zu bytes of data past the end", en->name, dl);
	en->data = (const unsigned char *)b + at;
	en->len = dl;
	at += dl;
	at += pad4(dl);
	*off = at > len ? len : at;
	return strcmp(en->name, TRAILER) ? 1 : 0;
}
