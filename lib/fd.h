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
 * does its parent; dir itself is removed last. dir's own path is trusted
 * (followed as given); nothing below it is.
 */
void fd_remove_tree(const char *dir);
/* The same for the entry name of the open directory dirfd: a link there is removed, never followed. */
void fd_remove_tree_at(int dirfd, const char *name);

/*
 * Directories the agent or the sidecar can write (the agent's home, a
 * bottle's state directory) are opened relative to a directory fd the host
 * trusts, and nothing below it is followed: a symbolic link planted there
 * must not turn a root-run write, chown or removal toward a host path.
 */

/*
 * Open rel (relative: no leading '/', no ".." component) beneath the open
 * directory dirfd, following no symbolic link on the way or at the end:
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS),
 * or, on a kernel without openat2, a walk of O_NOFOLLOW opens. flags and
 * mode as for openat (O_CLOEXEC is added). The fd, or -1 with e naming rel;
 * a link anywhere on the way gives e->code ELOOP ("... is a symbolic link").
 */
int fd_open_beneath(int dirfd, const char *rel, int flags, mode_t mode, struct bb_err *e);
/*
 * Open rel inside the directory root as if root were "/": openat2 with
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, so absolute links and ".." in
 * an image's tree stay in it (never the host's files). flags as for open
 * (O_CLOEXEC added). The fd, or -1 with errno (ENOSYS: no openat2).
 */
int fd_open_in_root(const char *root, const char *rel, int flags);
/*
 * mkdir -p rel beneath dirfd: each component created with mode or found,
 * none of them a link (an error naming the component that is). When uid is
 * not (uid_t)-1, each directory on the way is fchown'd to uid:gid (on its
 * fd, after it was opened without following). The last directory's fd
 * (O_RDONLY | O_DIRECTORY), or -1 with e set.
 */
int fd_mkdirs_beneath(int dirfd, const char *rel, mode_t mode, uid_t uid, gid_t gid, struct bb_err *e);
/*
 * Replace the entry name (one path component) of the open directory dirfd
 * with data: a temporary file created beside it (O_EXCL | O_NOFOLLOW),
 * mode and, when uid is not (uid_t)-1, owner set on its fd, then renamed
 * over name (a link there is replaced, never written through). durable:
 * fsync the file and the directory. On failure nothing is left and name is
 * untouched. 0, or -1 with e naming name.
 */
int fd_write_file_at(int dirfd, const char *name, const void *data, size_t n, mode_t mode, uid_t uid, gid_t gid,
		     int durable, struct bb_err *e);
/* fd_read_file for rel beneath dirfd (fd_open_beneath: no link followed). */
int fd_read_file_beneath(int dirfd, const char *rel, size_t max, struct buf *b, struct bb_err *e);
/* fd_copy_tree into the new entry name of the open directory dstdir. */
int fd_copy_tree_at(const char *src, int dstdir, const char *name, uid_t uid, gid_t gid, unsigned long long max_bytes,
		    struct bb_err *e);
/* Test hook: 1 makes fd_open_beneath use its O_NOFOLLOW walk as on a kernel without openat2. */
extern int fd_beneath_force_walk;
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
/*
 * A read-write file in dir that no name reaches (O_TMPFILE; on a filesystem
 * without it, mkostemp then unlink): scratch space that goes with the fd.
 * The fd (O_CLOEXEC), or -1 with e "temporary file in DIR: why".
 */
int fd_tmpfile(const char *dir, struct bb_err *e);
/* close() that keeps errno and ignores fd < 0; returns -1 always so it can reset a variable: fd = fd_close(fd). */
int fd_close(int fd);

#endif
