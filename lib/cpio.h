/* cpio.h - the kernel's initramfs format (cpio "newc", ASCII headers): a writer into a buffer, and a reader over one. */
#ifndef BB_CPIO_H
#define BB_CPIO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/*
 * Each entry: a 110-byte header of "070701" and thirteen 8-digit hex
 * fields (inode, mode, uid, gid, nlink, mtime, filesize, devmajor,
 * devminor, rdevmajor, rdevminor, namesize, check), the name with its NUL,
 * padding to 4 bytes, the data, padding to 4 bytes. The archive ends with
 * an entry named "TRAILER!!!". The kernel unpacks it into its first root
 * (rootfs) before running /init.
 */

#define CPIO_NAME_MAX 256

/* Append one entry: a regular file (mode S_IFREG|perm, data[0..len)), a directory (S_IFDIR|perm, len 0)
 * or a symlink (S_IFLNK, data the target). Owner root, mtime 0, the inode numbered by the caller's count.
 * 0, or -1 with e (name empty or too long, a '..' component, the buffer's cap). */
int cpio_add(struct buf *out, unsigned ino, const char *name, uint32_t mode, const void *data, size_t len,
	     struct bb_err *e);

/* Append the trailer. 0, or -1 with e. */
int cpio_end(struct buf *out, unsigned ino, struct bb_err *e);

/* One entry read back. name and data point into the archive (name NUL-terminated there). */
struct cpio_entry {
	const char *name;
	uint32_t mode;
	const unsigned char *data;
	size_t len;
};

/*
 * Read the entry at *off of in[0..len) and move *off past it. 1 with *en
 * filled, 0 at the trailer, -1 with e naming what is malformed (a bad
 * magic or hex field, a name without its NUL, sizes past the end). Pure.
 */
int cpio_next(const void *in, size_t len, size_t *off, struct cpio_entry *en, struct bb_err *e);

#endif
