/* kernel.h - what bb reads of a Linux kernel for the vm backend: a bzImage's header and payload, the ELF inside, a module's .modinfo. */
#ifndef BB_KERNEL_H
#define BB_KERNEL_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * A distribution kernel (/boot/vmlinuz-*) is a bzImage: real-mode setup
 * sectors, then a decompressor and the compressed kernel (the
 * "payload"). A VMM can boot the bzImage as it is, the guest then spends
 * its first second decompressing; or boot the ELF inside directly when
 * that carries a PVH entry point (Xen's PHYS32_ENTRY note, which Debian's
 * kernels have), which is what the vm backend caches and boots.
 */

#define KERNEL_ELF_MAX (512u << 20) /* an unpacked kernel larger than this is refused */

enum kernel_payload { KERNEL_PAYLOAD_XZ, KERNEL_PAYLOAD_GZIP, KERNEL_PAYLOAD_OTHER };

struct kernel_image {
	size_t payload_off, payload_len;   /* the compressed kernel, in the file */
	enum kernel_payload format;
	size_t unpacked_len;               /* from the build's appended size (xz, gzip); 0 when unknown */
	char version[128];                 /* the kernel's version string up to its first space ("6.1.0-57-amd64") */
};

/*
 * Parse a bzImage's setup header (the "HdrS" magic, boot protocol 2.08 or
 * later for the payload fields): where the payload is, its format, and
 * the version string. Pure. 0, or -1 with e naming what is missing.
 */
int kernel_image_parse(const void *img, size_t len, struct kernel_image *k, struct bb_err *e);

/*
 * Unpack the payload (xz through liblzma, gzip through lib/inflate) into
 * out, at most KERNEL_ELF_MAX bytes. 0, or -1 with e (a format bb cannot
 * unpack is BB_ENOTIMPL: the caller boots the bzImage itself).
 */
int kernel_unpack(const void *img, size_t len, const struct kernel_image *k, struct buf *out, struct bb_err *e);

/*
 * Whether an ELF64 little-endian image has a PT_NOTE holding the Xen
 * PHYS32_ENTRY note (type 18, name "Xen"): the PVH entry a VMM boots an
 * uncompressed kernel by. 1 yes, 0 no (or not an ELF64 it can read). Pure.
 */
int kernel_elf_has_pvh(const void *elf, size_t len);

/*
 * The value of key in a module's .modinfo section ("depends" gives
 * "virtio,virtio_ring"; "" when the key is there with no value) into out.
 * 1 found, 0 not there, -1 with e when the file is not an ELF64 module
 * bb can read (no .modinfo, a section past the end). Pure.
 */
int kernel_modinfo(const void *ko, size_t len, const char *key, char *out, size_t cap, struct bb_err *e);

#endif
