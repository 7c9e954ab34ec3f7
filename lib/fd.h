/* fd.h - safe file-descriptor helpers: full reads and writes, flags, bounded file reads, atomic writes. */
#ifndef BB_FD_H
#define BB_FD_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/* Write all n bytes, retrying on EINTR and short writes. 0 or -1 (errno set). */
int fd_write_all(int fd, const void *p, size_t n);
/* Read until n bytes or EOF; returns bytes read, or -1 (errno set). */
ssize_t fd_read_full(int fd, void *p, size_t n);
/* Read fd to EOF into b (bounded by b->max). */
int fd_read_all(int fd, struct buf *b, struct bb_err *e);
/* Read a whole regular file of at most max bytes into b; a FIFO, device or socket is refused at once
 * (never waited on); the error names the path. */
int fd_read_file(const char *path, size_t max, struct buf *b, struct bb_err *e);
/*
 * Remove dir and everything below it (files, symlinks — never followed —
 * and subdirectories). Best effort: what cannot be removed stays, and so
 * does its parent; dir itself is removed last.
 */
void fd_remove_tree(const char *dir);
/*
 * Copy the tree at src to dst (which must not exist): directories, regular
 * files and symlinks (copied as links, never followed), with their modes,
 * owned by uid:gid. Other file types (devices, fifos, sockets) are skipped.
 * At most max_bytes of file data. 0, or -1 with e naming the path; a
 * partial dst is removed.
 */
int fd_copy_tree(const char *src, const char *dst, uid_t uid, gid_t gid, unsigned long long max_bytes,
		 struct bb_err *e);

/*
 * Replace path with data atomically: write a temporary file beside it with
 * the given mode, fsync, rename over path, fsync the directory. On any
 * failure the temporary file is removed and path is untouched.
 */
int fd_write_file_atomic(const char *path, const void *data, size_t n, mode_t mode, struct bb_err *e);
/* The same without the fsyncs: readers never see a partial file, but a power cut may lose it (files that
 * live no longer than the process writing them: a run's plan and metadata). */
int fd_write_file_replace(const char *path, const void *data, size_t n, mode_t mode, struct bb_err *e);
int fd_set_nonblock(int fd, struct bb_err *e);
int fd_set_cloexec(int fd, struct bb_err *e);
/* close() that keeps errno and ignores fd < 0; returns -1 always so it can reset a variable: fd = fd_close(fd). */
int fd_close(int fd);

#endif
