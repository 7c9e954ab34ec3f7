/* fd.c - safe file-descriptor helpers. */
#include "fd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int fd_read_file(const char *path, size_t max, struct buf *b, struct bb_err *e)
{
	/* O_NONBLOCK: opening a FIFO planted where a file was expected must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	size_t oldmax = b->max;
	struct stat st;
	int rc;

	if (fd < 0)
		return bb_errno(e, errno, "%s", path);
	if (fstat(fd, &st) < 0) {
		rc = bb_errno(e, errno, "%s", path);
		fd_close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		fd_close(fd);
		return bb_errf(e, BB_EINVAL, "%s: not a regular file", path);
	}
	b->max = max;
	rc = fd_read_all(fd, b, e);
	b->max = oldmax > max ? oldmax : max;
	fd_close(fd);
	if (rc < 0)
		return bb_err_wrap(e, "%s", path);
	return 0;
}

static int write_atomic(const char *path, const void *data, size_t n, mode_t mode, int durable, struct bb_err *e)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash;
	int fd, dfd;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
		return bb_errf(e, ENAMETOOLONG, "%s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return bb_errno(e, errno, "%s: creating temporary file", path);
	if (fchmod(fd, mode) < 0 || fd_write_all(fd, data, n) < 0 || (durable && fsync(fd) < 0)) {
		bb_errno(e, errno, "%s: writing", path);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		bb_errno(e, errno, "%s: writing", path);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		bb_errno(e, errno, "%s: renaming into place", path);
		goto fail;
	}
	if (!durable)
		return 0;
	slash = strrchr(path, '/');
	if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	else
		snprintf(dir, sizeof dir, ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		fd_close(dfd);
	}
	return 0;
fail:
	fd_close(fd);
	unlink(tmp);
	return -1;
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

int fd_close(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}

void fd_remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (d) {
		while ((de = readdir(d)) != NULL) {
			char sub[PATH_MAX + 300];
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			/* unlink refuses a directory with EISDIR: then it is emptied first */
			if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno == EISDIR) {
				snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
				fd_remove_tree(sub);
			}
		}
		closedir(d);
	}
	rmdir(dir);
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

int fd_copy_tree(const char *src, const char *dst, uid_t uid, gid_t gid, unsigned long long max_bytes,
		 struct bb_err *e)
{
	int sfd, dfd, rc;
	struct stat st;

	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return bb_errno(e, errno, "copy %s", src);
	if (fstat(sfd, &st) < 0 || mkdir(dst, 0700) < 0 ||
	    (dfd = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = bb_errno(e, errno, "copy %s to %s", src, dst);
		close(sfd);
		return rc;
	}
	rc = copy_dir(sfd, dfd, src, uid, gid, &max_bytes, e);
	if (rc == 0 && (fchmod(dfd, st.st_mode & 07777) < 0 || fchown(dfd, uid, gid) < 0))
		rc = bb_errno(e, errno, "copy %s: mode", dst);
	close(dfd);
	if (rc < 0)
		fd_remove_tree(dst);
	return rc;
}
