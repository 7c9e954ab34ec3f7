/* fd.c - safe file-descriptor helpers. */
#include "fd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int fd_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t fd_read_full(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int fd_read_all(int fd, struct buf *b, struct bb_err *e)
{
	for (;;) {
		size_t room;
		ssize_t r;

		if (b->len == b->max) {
			char probe;

			r = read(fd, &probe, 1);
			if (r == 0)
				return 0;
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return bb_errno(e, errno, "read");
			return bb_errf(e, BB_ETOOBIG, "input larger than %zu bytes", b->max);
		}
		room = b->max - b->len < 65536 ? b->max - b->len : 65536;
		if (buf_reserve(b, room, e) < 0)
			return -1;
		r = read(fd, b->p + b->len, room);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return bb_errno(e, errno, "read");
		}
		if (r == 0)
			return 0;
		b->len += (size_t)r;
		b->p[b->len] = 0;
	}
}

/* Read the open fd (which must be a regular file) into b, at most max bytes; the error names what. Closes fd. */
static int read_open_file(int fd, const char *what, size_t max, struct buf *b, struct bb_err *e)
{
	size_t oldmax = b->max;
	struct stat st;
	int rc;

	if (fstat(fd, &st) < 0) {
		rc = bb_errno(e, errno, "%s", what);
		fd_close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		fd_close(fd);
		return bb_errf(e, BB_EINVAL, "%s: not a regular file", what);
	}
	b->max = max;
	rc = fd_read_all(fd, b, e);
	b->max = oldmax > max ? oldmax : max;
	fd_close(fd);
	if (rc < 0)
		return bb_err_wrap(e, "%s", what);
	return 0;
}

int fd_read_file(const char *path, size_t max, struct buf *b, struct bb_err *e)
{
	/* O_NONBLOCK: opening a FIFO planted where a file was expected must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return bb_errno(e, errno, "%s", path);
	return read_open_file(fd, path, max, b, e);
}

int fd_read_file_beneath(int dirfd, const char *rel, size_t max, struct buf *b, struct bb_err *e)
{
	int fd = fd_open_beneath(dirfd, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, e);

	if (fd < 0)
		return -1;
	return read_open_file(fd, rel, max, b, e);
}

int fd_beneath_force_walk;

/* Is rel a relative path without ".." components (and not empty)? */
static int rel_ok(const char *rel)
{
	const char *c = rel;

	if (!*rel || *rel == '/')
		return 0;
	while (*c) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return 0;
		c += n;
		c += *c == '/';
	}
	return 1;
}

/* The walk for kernels without openat2: every directory on the way opened O_NOFOLLOW, the last entry too. */
static int open_walk(int dirfd, const char *rel, int flags, mode_t mode)
{
	char comp[NAME_MAX + 1];
	const char *c = rel;
	int cur = dirfd, fd;

	for (;;) {
		size_t n = strcspn(c, "/");
		const char *next = c + n;
		while (*next == '/')
			next++;
		if (n > NAME_MAX) {
			if (cur != dirfd)
				close(cur);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, c, n);
		comp[n] = 0;
		if (!*next) { /* the last component */
			fd = openat(cur, n ? comp : ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
			if (fd < 0 && errno == ENOTDIR && (flags & O_DIRECTORY)) {
				struct stat st; /* O_DIRECTORY on a link says ENOTDIR: say what it is */
				if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
					errno = ELOOP;
			}
		} else {
			fd = n == 0 || (n == 1 && comp[0] == '.')
				     ? dup(cur)
				     : openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0 && errno == ENOTDIR) {
				struct stat st;
				if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
					errno = ELOOP;
			}
		}
		if (cur != dirfd) {
			int saved = errno;
			close(cur);
			errno = saved;
		}
		if (fd < 0 || !*next)
			return fd;
		cur = fd;
		c = next;
	}
}

int fd_open_beneath(int dirfd, const char *rel, int flags, mode_t mode, struct bb_err *e)
{
	int fd = -1;

	if (!rel_ok(rel))
		return bb_errf(e, BB_EINVAL, "%s: not a path below its directory", rel);
	if (!fd_beneath_force_walk) {
		struct open_how how = { 0 };
		how.flags = (unsigned long long)(flags | O_CLOEXEC);
		how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		do
			fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
		while (fd < 0 && errno == EAGAIN); /* a rename elsewhere raced the lookup */
	}
	if (fd_beneath_force_walk || (fd < 0 && errno == ENOSYS))
		fd = open_walk(dirfd, rel, flags, mode);
	if (fd >= 0)
		return fd;
	if (errno == ELOOP)
		return bb_errf(e, ELOOP, "%s is a symbolic link or leads through one: refused (nothing there is followed)",
			       rel);
	if (errno == EXDEV)
		return bb_errf(e, EXDEV, "%s leads outside its directory: refused", rel);
	return bb_errno(e, errno, "%s", rel);
}

int fd_mkdirs_beneath(int dirfd, const char *rel, mode_t mode, uid_t uid, gid_t gid, struct bb_err *e)
{
	char path[PATH_MAX];
	size_t len = strlen(rel), i;
	int fd = -1;

	if (!rel_ok(rel) || len >= sizeof path)
		return bb_errf(e, BB_EINVAL, "%s: not a path below its directory", rel);
	memcpy(path, rel, len + 1);
	for (i = 0; i <= len; i++) {
		struct stat st;
		if (path[i] != '/' && path[i])
			continue;
		if (i == 0 || path[i - 1] == '/')
			continue; /* "a//b" */
		path[i] = 0;
		/* mkdirat never follows: an entry there (a link too) says EEXIST, and the open below judges it. */
		if (mkdirat(dirfd, path, mode) < 0 && errno != EEXIST) {
			bb_errno(e, errno, "create %s", path);
			return fd_close(fd);
		}
		fd_close(fd);
		fd = fd_open_beneath(dirfd, path, O_RDONLY | O_DIRECTORY, 0, e);
		if (fd < 0)
			return -1;
		if (fstat(fd, &st) < 0 || (uid != (uid_t)-1 && (st.st_uid != uid || st.st_gid != gid) &&
					   fchown(fd, uid, gid) < 0)) {
			bb_errno(e, errno, "chown %s", path);
			return fd_close(fd);
		}
		if (i < len)
			path[i] = '/';
	}
	return fd;
}

int fd_write_file_at(int dirfd, const char *name, const void *data, size_t n, mode_t mode, uid_t uid, gid_t gid,
		     int durable, struct bb_err *e)
{
	char tmp[NAME_MAX + 1];
	unsigned char r[6];
	int fd = -1, tries;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") || strlen(name) > NAME_MAX - 20)
		return bb_errf(e, BB_EINVAL, "%s: not a file name", name);
	for (tries = 0; fd < 0 && tries < 8; tries++) {
		if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
			return bb_errno(e, errno ? errno : EIO, "%s: creating temporary file", name);
		snprintf(tmp, sizeof tmp, "%s.tmp.%02x%02x%02x%02x%02x%02x", name, r[0], r[1], r[2], r[3], r[4], r[5]);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return bb_errno(e, errno, "%s: creating temporary file", name);
	}
	if (fd < 0)
		return bb_errno(e, EEXIST, "%s: creating temporary file", name);
	if (fchmod(fd, mode) < 0 || (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) || fd_write_all(fd, data, n) < 0 ||
	    (durable && fsync(fd) < 0)) {
		bb_errno(e, errno, "%s: writing", name);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		bb_errno(e, errno, "%s: writing", name);
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		bb_errno(e, errno, "%s: renaming into place", name);
		goto fail;
	}
	if (durable)
		fsync(dirfd);
	return 0;
fail:
	fd_close(fd);
	unlinkat(dirfd, tmp, 0);
	return -1;
}

/* path's directory opened (the path up to its last '/', trusted as given); *base points at the last component. */
static int open_parent(const char *path, const char **base, struct bb_err *e)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int dfd;

	if (!slash) {
		*base = path;
		snprintf(dir, sizeof dir, ".");
	} else {
		*base = slash + 1;
		if ((size_t)(slash - path) >= sizeof dir)
			return bb_errf(e, ENAMETOOLONG, "%s: path too long", path);
		if (slash == path)
			snprintf(dir, sizeof dir, "/");
		else
			snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return bb_errno(e, errno, "%s", path);
	return dfd;
}

static int write_atomic(const char *path, const void *data, size_t n, mode_t mode, int durable, struct bb_err *e)
{
	const char *base;
	int dfd = open_parent(path, &base, e), rc;

	if (dfd < 0)
		return -1;
	rc = fd_write_file_at(dfd, base, data, n, mode, (uid_t)-1, (gid_t)-1, durable, e);
	close(dfd);
	if (rc < 0 && base > path) /* the message names the file; say where it is */
		return bb_err_wrap(e, "%.*s", (int)(base - path - 1 ? base - path - 1 : 1), path);
	return rc;
}

int fd_write_file_atomic(const char *path, const void *data, size_t n, mode_t mode, struct bb_err *e)
{
	return write_atomic(path, data, n, mode, 1, e);
}

int fd_write_file_replace(const char *path, const void *data, size_t n, mode_t mode, struct bb_err *e)
{
	return write_atomic(path, data, n, mode, 0, e);
}

int fd_set_nonblock(int fd, struct bb_err *e)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return bb_errno(e, errno, "fcntl(O_NONBLOCK) on fd %d", fd);
	return 0;
}

int fd_set_cloexec(int fd, struct bb_err *e)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return bb_errno(e, errno, "fcntl(FD_CLOEXEC) on fd %d", fd);
	return 0;
}

int fd_tmpfile(const char *dir, struct bb_err *e)
{
	char path[PATH_MAX];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	snprintf(path, sizeof path, "%s/.bb-tmp-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return bb_errno(e, errno, "temporary file in %s", dir);
	unlink(path);
	return fd;
}

int fd_close(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}

/* Empty the open directory dfd (taken: closed here), depth levels at most below it. */
static void empty_dir(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* unlinkat refuses a directory (EISDIR): then it is emptied first, opened without following */
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno == EISDIR && depth > 0) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				empty_dir(sub, depth - 1);
				unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
			}
		}
	}
	closedir(d);
}

#define REMOVE_DEPTH 768 /* deeper than this is left (each level holds an fd; the soft limit is 1024) */

void fd_remove_tree_at(int dirfd, const char *name)
{
	int sub;

	if (unlinkat(dirfd, name, 0) == 0 || errno != EISDIR)
		return;
	sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return;
	empty_dir(sub, REMOVE_DEPTH);
	unlinkat(dirfd, name, AT_REMOVEDIR);
}

void fd_remove_tree(const char *dir)
{
	struct bb_err e;
	const char *base;
	int dfd = open_parent(dir, &base, &e), sub;

	if (dfd < 0)
		return;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) { /* "dir/": the directory itself is trusted */
		close(dfd);
		if ((sub = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
			empty_dir(sub, REMOVE_DEPTH);
		rmdir(dir);
		return;
	}
	/* dir's own path is the caller's: a link there is followed, as the caller named it */
	if ((sub = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		empty_dir(sub, REMOVE_DEPTH);
		unlinkat(dfd, base, AT_REMOVEDIR);
	}
	close(dfd);
}

/* Copy one level: entries of the open directory sfd into the directory dfd (both held open, nothing followed). */
static int copy_dir(int sfd, int dfd, const char *where, uid_t uid, gid_t gid, unsigned long long *left,
		    struct bb_err *e)
{
	DIR *d = fdopendir(sfd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(sfd);
		return bb_errno(e, errno, "copy %s", where);
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		char path[PATH_MAX];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", where, de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = bb_errno(e, errno, "copy %s", path);
		} else if (S_ISDIR(st.st_mode)) {
			int s2 = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), d2;
			if (s2 < 0)
				rc = bb_errno(e, errno, "copy %s", path);
			else if (mkdirat(dfd, de->d_name, 0700) < 0 ||
				 (d2 = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				close(s2);
				rc = bb_errno(e, errno, "copy %s", path);
			} else {
				rc = copy_dir(s2, d2, path, uid, gid, left, e);
				if (rc == 0 && (fchmod(d2, st.st_mode & 07777) < 0 || fchown(d2, uid, gid) < 0))
					rc = bb_errno(e, errno, "copy %s: mode", path);
				close(d2);
			}
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
			if (n < 0)
				rc = bb_errno(e, errno, "copy %s", path);
			else {
				target[n] = 0;
				if (symlinkat(target, dfd, de->d_name) < 0 ||
				    fchownat(dfd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
					rc = bb_errno(e, errno, "copy %s", path);
			}
		} else if (S_ISREG(st.st_mode)) {
			int in, out;
			char buf[65536];
			ssize_t n = 0;
			if ((unsigned long long)st.st_size > *left) {
				rc = bb_errf(e, BB_ETOOBIG, "copy %s: the tree is larger than the copy limit", path);
				break;
			}
			*left -= (unsigned long long)st.st_size;
			in = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			out = in < 0 ? -1
				     : openat(dfd, de->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					      st.st_mode & 0777);
			if (out < 0)
				rc = bb_errno(e, errno, "copy %s", path);
			while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
				if (fd_write_all(out, buf, (size_t)n) < 0)
					rc = bb_errno(e, errno, "copy %s", path);
			if (rc == 0 && n < 0)
				rc = bb_errno(e, errno, "copy %s", path);
			if (rc == 0 && (fchmod(out, st.st_mode & 07777) < 0 || fchown(out, uid, gid) < 0))
				rc = bb_errno(e, errno, "copy %s: mode", path);
			if (in >= 0)
				close(in);
			if (out >= 0)
				close(out);
		} /* devices, fifos, sockets: not part of a workspace copy */
	}
	closedir(d);
	return rc;
}

int fd_copy_tree_at(const char *src, int dstdir, const char *name, uid_t uid, gid_t gid, unsigned long long max_bytes,
		    struct bb_err *e)
{
	int sfd, dfd, rc;
	struct stat st;

	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return bb_errno(e, errno, "copy %s", src);
	if (fstat(sfd, &st) < 0 || mkdirat(dstdir, name, 0700) < 0 ||
	    (dfd = openat(dstdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = bb_errno(e, errno, "copy %s to %s", src, name);
		close(sfd);
		return rc;
	}
	rc = copy_dir(sfd, dfd, src, uid, gid, &max_bytes, e);
	if (rc == 0 && (fchmod(dfd, st.st_mode & 07777) < 0 || fchown(dfd, uid, gid) < 0))
		rc = bb_errno(e, errno, "copy %s: mode", name);
	close(dfd);
	if (rc < 0)
		fd_remove_tree_at(dstdir, name);
	return rc;
}

int fd_copy_tree(const char *src, const char *dst, uid_t uid, gid_t gid, unsigned long long max_bytes,
		 struct bb_err *e)
{
	const char *base;
	int dfd = open_parent(dst, &base, e), rc;

	if (dfd < 0)
		return bb_err_wrap(e, "copy %s", src);
	rc = fd_copy_tree_at(src, dfd, base, uid, gid, max_bytes, e);
	close(dfd);
	return rc;
}

int fd_open_in_root(const char *root, const char *rel, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd, saved;
	if (rfd < 0)
		return -1;
	fd = (int)syscall(SYS_openat2, rfd, rel, &how, sizeof how);
	saved = errno;
	close(rfd);
	errno = saved;
	return fd;
}
