/* image.c - agent images: safe layer application, docker-archive/OCI import, list/remove. */
#include "image.h"

#include <bearssl.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "fd.h"
#include "hex.h"
#include "inflate.h"
#include "json.h"

#ifndef BB_VERSION
#define BB_VERSION "0.0.0-dev"
#endif

/* ---------- small helpers ---------- */

static int is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void note(img_note_fn fn, void *arg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(img_note_fn fn, void *arg, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fn(arg, line);
}

const char *img_build_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__arm__)
	return "arm";
#elif defined(__i386__)
	return "386";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "ppc64le";
#elif defined(__s390x__)
	return "s390x";
#else
	return "unknown";
#endif
}

int img_name_check(const char *name, struct bb_err *e)
{
	size_t n = strlen(name);

	if (!n || n > IMG_NAME_MAX)
		return bb_errf(e, BB_EINVAL, "image name '%.80s' must be 1 to %d characters", name, IMG_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i && (c == '.' || c == '_' || c == '-'));

		if (!ok)
			return bb_errf(e, BB_EINVAL, "image name '%.80s' must match [a-z0-9][a-z0-9._-]*", name);
	}
	return 0;
}

int img_dir(char *out, size_t cap, struct bb_err *e)
{
	const char *home = getenv("BB_HOME");
	int n;

	if (!home || !*home)
		home = getenv("HOME");
	if (!home || !*home)
		return bb_errf(e, BB_EINVAL, "neither BB_HOME nor HOME is set: cannot find the images directory");
	n = snprintf(out, cap, "%s/.bb/images", home);
	if (n < 0 || (size_t)n >= cap)
		return bb_errf(e, BB_ETOOBIG, "the images directory path is too long");
	return 0;
}

int img_rootfs_path(const char *name, char *out, size_t cap, struct bb_err *e)
{
	char dir[PATH_MAX];
	struct stat st;
	int n;

	if (img_name_check(name, e) < 0 || img_dir(dir, sizeof dir, e) < 0)
		return -1;
	n = snprintf(out, cap, "%s/%s/rootfs", dir, name);
	if (n < 0 || (size_t)n >= cap)
		return bb_errf(e, BB_ETOOBIG, "image %s: rootfs path is too long", name);
	if (lstat(out, &st) < 0 || !S_ISDIR(st.st_mode))
		return bb_errf(e, ENOENT, "image %s is not imported (no %s); see bb bottle image import", name, out);
	return 0;
}

/* ---------- applying a layer ---------- */

/* The paths a layer has written (and their ancestors): an opaque whiteout keeps those, removes the rest. */
struct pathset {
	char **slot;
	size_t cap, n;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int pathset_has(const struct pathset *ps, const char *p)
{
	if (!ps->cap)
		return 0;
	for (size_t i = fnv(p) & (ps->cap - 1);; i = (i + 1) & (ps->cap - 1)) {
		if (!ps->slot[i])
			return 0;
		if (!strcmp(ps->slot[i], p))
			return 1;
	}
}

static int pathset_add(struct pathset *ps, const char *p, struct bb_err *e)
{
	size_t i;

	if (pathset_has(ps, p))
		return 0;
	if ((ps->n + 1) * 2 > ps->cap) {
		size_t ncap = ps->cap ? ps->cap * 2 : 256;
		char **ns = calloc(ncap, sizeof *ns);

		if (!ns)
			return bb_errno(e, ENOMEM, "layer path set");
		for (size_t j = 0; j < ps->cap; j++) {
			if (!ps->slot[j])
				continue;
			for (i = fnv(ps->slot[j]) & (ncap - 1); ns[i]; i = (i + 1) & (ncap - 1))
				;
			ns[i] = ps->slot[j];
		}
		free(ps->slot);
		ps->slot = ns;
		ps->cap = ncap;
	}
	for (i = fnv(p) & (ps->cap - 1); ps->slot[i]; i = (i + 1) & (ps->cap - 1))
		;
	ps->slot[i] = strdup(p);
	if (!ps->slot[i])
		return bb_errno(e, ENOMEM, "layer path set");
	ps->n++;
	return 0;
}

static void pathset_free(struct pathset *ps)
{
	for (size_t i = 0; i < ps->cap; i++)
		free(ps->slot[i]);
	free(ps->slot);
	memset(ps, 0, sizeof *ps);
}

/* Remove name under dirfd and everything below it, never following a symlink. */
static int remove_at(int parent_fd, const char *name, int depth)
{
	struct stat st;

	if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d;
		struct dirent *de;

		if (fd < 0 || depth > 4096)
			return fd_close(fd);
		d = fdopendir(fd);
		if (!d)
			return fd_close(fd);
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && remove_at(dirfd(d), de->d_name, depth + 1) < 0) {
				closedir(d);
				return -1;
			}
		closedir(d);
		return unlinkat(parent_fd, name, AT_REMOVEDIR);
	}
	return unlinkat(parent_fd, name, 0);
}

struct apply {
	int root;
	const struct img_apply_opts *o;
	struct img_apply_stats *st;
	struct pathset written;
	const char *member; /* the member being applied, as stored: errors name it */
};

/*
 * Open the directory holding the last component of path (a cleaned path),
 * component by component from the root with O_NOFOLLOW: a symlink or a
 * non-directory on the way is refused, never followed. Missing directories
 * are created (0755) when create is set, else *missing is set and -1
 * returned without an error. *leaf points into path. The fd, or -1.
 */
static int open_parent(struct apply *a, const char *path, const char **leaf, int create, int *missing,
		       struct bb_err *e)
{
	char comp[TAR_PATH_MAX + 1], sofar[TAR_PATH_MAX + 1];
	const char *p = path, *slash;
	int fd = dup(a->root);

	if (fd < 0)
		return bb_errno(e, errno, "dup");
	sofar[0] = '\0';
	while ((slash = strchr(p, '/'))) {
		size_t n = (size_t)(slash - p), so = strlen(sofar);
		int next;

		memcpy(comp, p, n);
		comp[n] = '\0';
		if (so)
			sofar[so++] = '/';
		memcpy(sofar + so, comp, n + 1);
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			if (!create) {
				if (missing)
					*missing = 1;
				fd_close(fd);
				return -1;
			}
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
				bb_errno(e, errno, "member '%.200s': mkdir %.200s", a->member, sofar);
				fd_close(fd);
				return -1;
			}
			next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			struct stat st;
			int err = errno;

			if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				bb_errf(e, BB_EINVAL,
					"member '%.200s': refused: it would be written through the symlink '%.200s' placed by an earlier member",
					a->member, sofar);
			else if (err == ENOTDIR || err == ELOOP)
				bb_errf(e, BB_EINVAL, "member '%.200s': refused: '%.200s' is not a directory", a->member, sofar);
			else
				bb_errno(e, err, "member '%.200s': open %.200s", a->member, sofar);
			fd_close(fd);
			return -1;
		}
		fd_close(fd);
		fd = next;
		if (create && pathset_add(&a->written, sofar, e) < 0) {
			fd_close(fd);
			return -1;
		}
		p = slash + 1;
	}
	*leaf = p;
	return fd;
}

/* Make room for a new non-directory (or a directory when keep_dir) at leaf: whatever is there goes. */
static int clear_leaf(struct apply *a, int pfd, const char *leaf, int keep_dir, struct bb_err *e)
{
	struct stat st;

	if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : bb_errno(e, errno, "member '%.200s': stat", a->member);
	if (keep_dir && S_ISDIR(st.st_mode))
		return 1;
	if (remove_at(pfd, leaf, 0) < 0)
		return bb_errno(e, errno, "member '%.200s': cannot replace what an earlier member put there", a->member);
	return 0;
}

static void set_owner_time(struct apply *a, int pfd, const char *leaf, const struct tar_entry *t, int is_link)
{
	struct timespec ts[2] = { { t->meta.mtime, 0 }, { t->meta.mtime, 0 } };

	if (a->o->chown)
		(void)fchownat(pfd, leaf, t->meta.uid, t->meta.gid, AT_SYMLINK_NOFOLLOW);
	if (!is_link) {
		mode_t mode = t->meta.mode & 07777;

		/* Without root, a read-only directory would stop later members and layers (and rm) from writing in it. */
		if (!a->o->chown)
			mode |= 0700;
		(void)fchmodat(pfd, leaf, mode, 0);
	}
	(void)utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW);
}

/* ".wh..wh..opq" in dir_fd (path dir): remove what lower layers put there, keep what this layer wrote. */
static int clear_opaque(struct apply *a, int dir_fd, char *path, size_t len, int depth, struct bb_err *e)
{
	int fd = dup(dir_fd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		fd_close(fd);
		return bb_errno(e, errno, "member '%.200s': opaque whiteout: open directory", a->member);
	}
	rewinddir(d);
	while (rc == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name), at = len;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + n + 2 > TAR_PATH_MAX + 1) {
			rc = bb_errf(e, BB_ETOOBIG, "member '%.200s': opaque whiteout: path too long", a->member);
			break;
		}
		if (at)
			path[at++] = '/';
		memcpy(path + at, de->d_name, n + 1);
		if (!pathset_has(&a->written, path)) {
			if (remove_at(dirfd(d), de->d_name, 0) < 0)
				rc = bb_errno(e, errno, "member '%.200s': opaque whiteout: remove %.200s", a->member, path);
		} else if (depth < 4096 && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0)
				rc = bb_errno(e, errno, "member '%.200s': opaque whiteout: open %.200s", a->member, path);
			else {
				rc = clear_opaque(a, sub, path, at + n, depth + 1, e);
				close(sub);
			}
		}
		path[len] = '\0';
	}
	closedir(d);
	return rc;
}

static int apply_whiteout(struct apply *a, const char *path, const char *leaf, int pfd, struct bb_err *e)
{
	const char *victim = leaf + 4;

	if (!strcmp(leaf, ".wh..wh..opq")) {
		char buf[TAR_PATH_MAX + 1];
		size_t len = (size_t)(leaf - path);

		len = len ? len - 1 : 0; /* the directory's own path, without the slash */
		memcpy(buf, path, len);
		buf[len] = '\0';
		a->st->whiteouts++;
		return clear_opaque(a, pfd, buf, len, 0, e);
	}
	if (!*victim || !strcmp(victim, ".") || !strcmp(victim, "..") || !strncmp(victim, ".wh.", 4))
		return bb_errf(e, BB_EINVAL, "member '%.200s': malformed whiteout", a->member);
	a->st->whiteouts++;
	if (remove_at(pfd, victim, 0) < 0)
		return bb_errno(e, errno, "member '%.200s': whiteout of %.200s", a->member, victim);
	return 0;
}

static int apply_file(struct apply *a, struct tar_reader *r, const struct tar_entry *t, int pfd, const char *leaf,
		      struct bb_err *e)
{
	char chunk[65536];
	int fd;

	if (clear_leaf(a, pfd, leaf, 0, e) < 0)
		return -1;
	fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return bb_errno(e, errno, "member '%.200s': create", a->member);
	for (;;) {
		ssize_t k = tar_read_data(r, chunk, sizeof chunk, e);

		if (k < 0) {
			close(fd);
			return bb_err_wrap(e, "member '%.200s'", a->member);
		}
		if (k == 0)
			break;
		if (fd_write_all(fd, chunk, (size_t)k) < 0) {
			int err = errno;

			close(fd);
			return bb_errno(e, err, "member '%.200s': write", a->member);
		}
	}
	/* fchown before fchmod: chown clears setuid bits. */
	if (a->o->chown)
		(void)fchown(fd, t->meta.uid, t->meta.gid);
	(void)fchmod(fd, t->meta.mode & 07777);
	{
		struct timespec ts[2] = { { t->meta.mtime, 0 }, { t->meta.mtime, 0 } };

		(void)futimens(fd, ts);
	}
	if (close(fd) < 0)
		return bb_errno(e, errno, "member '%.200s': close", a->member);
	return 0;
}

static int apply_hardlink(struct apply *a, const struct tar_entry *t, const char *path, int pfd, const char *leaf,
			  struct bb_err *e)
{
	char target[TAR_PATH_MAX + 1];
	const char *tleaf;
	struct stat st;
	int tfd, missing = 0, rc;

	if (tar_clean_path(t->link, target, sizeof target, e) < 0)
		return bb_err_wrap(e, "member '%.200s': hard link target", a->member);
	if (!*target)
		return bb_errf(e, BB_EINVAL, "member '%.200s': hard link to the root", a->member);
	if (!strcmp(target, path))
		return 0;
	tfd = open_parent(a, target, &tleaf, 0, &missing, e);
	if (tfd < 0) {
		if (missing)
			return bb_errf(e, BB_EINVAL, "member '%.200s': hard link target '%.200s' does not exist", a->member,
				       t->link);
		return bb_err_wrap(e, "hard link target");
	}
	if (fstatat(tfd, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode)) {
		int gone = errno == ENOENT;

		close(tfd);
		return bb_errf(e, BB_EINVAL, "member '%.200s': hard link target '%.200s' %s", a->member, t->link,
			       gone ? "does not exist" : "is a directory or unreadable");
	}
	if (clear_leaf(a, pfd, leaf, 0, e) < 0) {
		close(tfd);
		return -1;
	}
	rc = linkat(tfd, tleaf, pfd, leaf, 0);
	close(tfd);
	if (rc < 0)
		return bb_errno(e, errno, "member '%.200s': link to %.200s", a->member, t->link);
	return 0;
}

static int apply_entry(struct apply *a, struct tar_reader *r, const struct tar_entry *t, struct bb_err *e)
{
	char path[TAR_PATH_MAX + 1];
	const char *leaf;
	int pfd, rc = 0;

	a->member = t->path;
	if (tar_clean_path(t->path, path, sizeof path, e) < 0)
		return -1;
	if (!*path) {
		if (t->type == TAR_DIR)
			return 0; /* the root itself: its mode stays bb's */
		return bb_errf(e, BB_EINVAL, "member '%.200s': refused: names the root", t->path);
	}
	if (t->type == TAR_CHAR || t->type == TAR_BLOCKDEV || t->type == TAR_FIFO) {
		a->st->skipped++;
		note(a->o->note, a->o->note_arg, "skipped %s '%.200s' (images carry no device nodes or fifos)",
		     t->type == TAR_FIFO ? "fifo" : "device node", t->path);
		return 0;
	}
	if (t->type == TAR_SYMLINK && !tar_symlink_inside(path, t->link))
		return bb_errf(e, BB_EINVAL, "member '%.200s': refused: symlink target '%.200s' leaves the root", t->path,
			       t->link);
	pfd = open_parent(a, path, &leaf, 1, NULL, e);
	if (pfd < 0)
		return -1;
	if (!strncmp(leaf, ".wh.", 4)) {
		rc = apply_whiteout(a, path, leaf, pfd, e);
		close(pfd);
		return rc;
	}
	switch (t->type) {
	case TAR_DIR:
		rc = clear_leaf(a, pfd, leaf, 1, e);
		if (rc == 0 && mkdirat(pfd, leaf, 0700) < 0)
			rc = bb_errno(e, errno, "member '%.200s': mkdir", t->path);
		if (rc >= 0) {
			rc = 0;
			set_owner_time(a, pfd, leaf, t, 0);
		}
		break;
	case TAR_FILE:
		rc = apply_file(a, r, t, pfd, leaf, e);
		break;
	case TAR_SYMLINK:
		rc = clear_leaf(a, pfd, leaf, 0, e);
		if (rc == 0 && symlinkat(t->link, pfd, leaf) < 0)
			rc = bb_errno(e, errno, "member '%.200s': symlink", t->path);
		if (rc == 0)
			set_owner_time(a, pfd, leaf, t, 1);
		break;
	case TAR_HARDLINK:
		rc = apply_hardlink(a, t, path, pfd, leaf, e);
		break;
	default:
		rc = bb_errf(e, BB_EINVAL, "member '%.200s': unexpected type", t->path);
	}
	close(pfd);
	if (rc == 0 && pathset_add(&a->written, path, e) < 0)
		rc = -1;
	return rc;
}

int img_apply_layer(int root_fd, struct tar_reader *r, const struct img_apply_opts *o, struct img_apply_stats *st,
		    struct bb_err *e)
{
	struct apply a = { .root = root_fd, .o = o, .st = st };
	struct tar_entry *t = malloc(sizeof *t);
	int rc = 0;

	if (!t)
		return bb_errno(e, ENOMEM, "layer");
	for (;;) {
		int k = tar_next(r, t, e);

		if (k < 0) {
			rc = -1;
			break;
		}
		if (k == 0)
			break;
		if (o->max_entries && st->entries >= o->max_entries) {
			rc = bb_errf(e, BB_ETOOBIG, "member '%.200s': more than %llu members (entry count cap)", t->path,
				     (unsigned long long)o->max_entries);
			break;
		}
		st->entries++;
		if (o->max_bytes && (t->size > o->max_bytes || st->bytes > o->max_bytes - t->size)) {
			rc = bb_errf(e, BB_ETOOBIG, "member '%.200s': the image passes %llu bytes (size cap)", t->path,
				     (unsigned long long)o->max_bytes);
			break;
		}
		st->bytes += t->size;
		if (apply_entry(&a, r, t, e) < 0) {
			rc = -1;
			break;
		}
	}
	pathset_free(&a.written);
	free(t);
	return rc;
}

/* ---------- reading the archive: a directory, or a tar indexed once and read by offset ---------- */

struct member {
	char *name; /* cleaned */
	char *link; /* symlink target (cleaned, resolved against the member's directory), or NULL */
	uint64_t off, size;
};

struct archive {
	int dir_fd; /* an OCI layout directory, else -1 */
	int fd;     /* the (uncompressed) tar, else -1 */
	struct member *m;
	size_t n, cap;
};

/* Reading a blob: a window of the archive's fd, hashed as it is read. */
struct blob {
	int fd, own_fd;
	uint64_t off, size, pos;
	br_sha256_context h;
	const char *name;
};

static ssize_t fd_source(void *arg, void *p, size_t n, struct bb_err *e)
{
	ssize_t k;

	do
		k = read(*(int *)arg, p, n);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return bb_errno(e, errno, "read");
	return k;
}

static int archive_add(struct archive *a, const char *name, const char *link, uint64_t off, uint64_t size,
		       struct bb_err *e)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 32;
		struct member *nm = realloc(a->m, nc * sizeof *nm);

		if (!nm)
			return bb_errno(e, ENOMEM, "archive index");
		a->m = nm;
		a->cap = nc;
	}
	a->m[a->n].name = strdup(name);
	a->m[a->n].link = link ? strdup(link) : NULL;
	a->m[a->n].off = off;
	a->m[a->n].size = size;
	if (!a->m[a->n].name || (link && !a->m[a->n].link))
		return bb_errno(e, ENOMEM, "archive index");
	a->n++;
	return 0;
}

static void archive_free(struct archive *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->m[i].name);
		free(a->m[i].link);
	}
	free(a->m);
	fd_close(a->dir_fd);
	fd_close(a->fd);
	memset(a, 0, sizeof *a);
	a->dir_fd = a->fd = -1;
}

/*
 * The member a relative symlink at name (cleaned) points to: its target
 * joined to the link's directory with "." and ".." folded. -1 if it climbs
 * above the archive's top or does not fit.
 */
static int fold_link(const char *name, const char *target, char *out, size_t cap)
{
	const char *slash = strrchr(name, '/');
	size_t o = slash ? (size_t)(slash - name) : 0;
	const char *p = target;

	if (o + 1 > cap)
		return -1;
	memcpy(out, name, o);
	out[o] = '\0';
	const char *s;
	size_t n;

	while ((s = tar_path_next(&p, &n)) != NULL) {
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			char *up;

			if (!o)
				return -1;
			up = strrchr(out, '/');
			o = up ? (size_t)(up - out) : 0;
			out[o] = '\0';
			continue;
		}
		if (o + (o ? 1 : 0) + n + 1 > cap)
			return -1;
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, n);
		o += n;
		out[o] = '\0';
	}
	return o ? 0 : -1;
}

/* Index every regular file (and symlink, for Docker 25's legacy paths into blobs/) of the outer tar. */
static int archive_index(struct archive *a, uint64_t max_entries, struct bb_err *e)
{
	struct tar_reader r;
	struct tar_entry *t = malloc(sizeof *t);
	int rc = 0;

	if (!t)
		return bb_errno(e, ENOMEM, "archive index");
	if (lseek(a->fd, 0, SEEK_SET) < 0) {
		free(t);
		return bb_errno(e, errno, "seek");
	}
	tar_reader_init(&r, fd_source, &a->fd);
	r.max_entries = max_entries;
	for (;;) {
		char name[TAR_PATH_MAX + 1], link[TAR_PATH_MAX + 1];
		int k = tar_next(&r, t, e);

		if (k <= 0) {
			rc = k;
			break;
		}
		if (t->type != TAR_FILE && t->type != TAR_SYMLINK)
			continue;
		if (tar_clean_path(t->path, name, sizeof name, e) < 0) {
			rc = -1;
			break;
		}
		if (t->type == TAR_SYMLINK) {
			/* Resolved lexically against the link's directory; one that leaves the archive is left out. */
			if (t->link[0] == '/' || fold_link(name, t->link, link, sizeof link) < 0)
				continue;
			if (archive_add(a, name, link, 0, 0, e) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		if (archive_add(a, name, NULL, t->offset, t->size, e) < 0) {
			rc = -1;
			break;
		}
	}
	free(t);
	return rc;
}

static const struct member *archive_find(const struct archive *a, const char *name)
{
	/* Later members win, as they would on extraction. */
	for (size_t i = a->n; i-- > 0;)
		if (!strcmp(a->m[i].name, name))
			return &a->m[i];
	return NULL;
}

static int archive_has(const struct archive *a, const char *name)
{
	if (a->dir_fd >= 0)
		return faccessat(a->dir_fd, name, R_OK, 0) == 0;
	return archive_find(a, name) != NULL;
}

static int blob_open(struct archive *a, const char *raw, struct blob *b, struct bb_err *e)
{
	char name[TAR_PATH_MAX + 1];

	memset(b, 0, sizeof *b);
	b->fd = -1;
	if (tar_clean_path(raw, name, sizeof name, e) < 0)
		return -1;
	br_sha256_init(&b->h);
	b->name = raw;
	if (a->dir_fd >= 0) {
		struct stat st;

		b->fd = openat(a->dir_fd, name, O_RDONLY | O_CLOEXEC);
		if (b->fd < 0)
			return bb_errno(e, errno, "%.200s", raw);
		if (fstat(b->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			b->fd = fd_close(b->fd);
			return bb_errf(e, BB_EINVAL, "%.200s is not a regular file", raw);
		}
		b->own_fd = 1;
		b->size = (uint64_t)st.st_size;
		return 0;
	}
	for (int hops = 0; hops < 8; hops++) {
		const struct member *m = archive_find(a, name);

		if (!m)
			return bb_errf(e, BB_EINVAL, "the archive has no member '%.200s'", raw);
		if (m->link) {
			memmove(name, m->link, strlen(m->link) + 1);
			continue;
		}
		b->fd = a->fd;
		b->off = m->off;
		b->size = m->size;
		return 0;
	}
	return bb_errf(e, BB_EINVAL, "member '%.200s': too many symlinks", raw);
}

static void blob_close(struct blob *b)
{
	if (b->own_fd)
		fd_close(b->fd);
	b->fd = -1;
}

static ssize_t blob_read(void *arg, void *p, size_t n, struct bb_err *e)
{
	struct blob *b = arg;
	ssize_t k;

	if (b->pos >= b->size)
		return 0;
	if (n > b->size - b->pos)
		n = (size_t)(b->size - b->pos);
	do
		k = pread(b->fd, p, n, (off_t)(b->off + b->pos));
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return bb_errno(e, errno, "read %.200s", b->name);
	if (k == 0)
		return bb_errf(e, BB_EINVAL, "%.200s is truncated", b->name);
	b->pos += (uint64_t)k;
	br_sha256_update(&b->h, p, (size_t)k);
	return k;
}

static void blob_hex(struct blob *b, char out[65])
{
	unsigned char d[32];

	br_sha256_out(&b->h, d);
	hex_encode(d, sizeof d, out);
}

/* A digest "sha256:HEX" into hex; other algorithms are refused. */
static int digest_hex(const char *digest, char out[65], struct bb_err *e)
{
	if (!digest || strncmp(digest, "sha256:", 7) || !is_hex64(digest + 7, strlen(digest + 7)))
		return bb_errf(e, BB_EINVAL, "digest '%.100s' is not sha256:<64 hex digits>", digest ? digest : "(none)");
	memcpy(out, digest + 7, 65);
	return 0;
}

/* A small blob (JSON) read whole, checked against want_hex when given, parsed. */
static cJSON *blob_json(struct archive *a, const char *name, const char *want_hex, struct bb_err *e)
{
	struct blob b;
	struct buf body = BUF_INIT(8 << 20);
	char got[65];
	cJSON *doc = NULL;

	if (blob_open(a, name, &b, e) < 0)
		return NULL;
	if (b.size > body.max) {
		bb_errf(e, BB_ETOOBIG, "%.200s is larger than %zu bytes", name, body.max);
		goto out;
	}
	if (buf_reserve(&body, (size_t)b.size, e) < 0)
		goto out;
	while (body.len < b.size) {
		ssize_t k = blob_read(&b, body.p + body.len, (size_t)b.size - body.len, e);

		if (k <= 0)
			goto out;
		body.len += (size_t)k;
	}
	blob_hex(&b, got);
	if (want_hex && strcmp(got, want_hex)) {
		bb_errf(e, BB_EINVAL, "%.200s: sha256 is %s, its digest says %s", name, got, want_hex);
		goto out;
	}
	doc = json_parse(name, body.p ? body.p : "", body.len, e);
out:
	blob_close(&b);
	buf_free(&body);
	return doc;
}

/* ---------- a layer stream: blob -> (gzip) -> tar, hashing both sides ---------- */

struct layer_src {
	struct blob *b;
	int gz, z_live, z_end;
	z_stream z;
	unsigned char in[65536];
	br_sha256_context diff; /* the uncompressed stream: the config's diff_id */
	uint64_t total;
	int blob_eof;
};

/* More compressed input for the inflater when it has none and the blob has more. 0, or -1 with e set. */
static int refill(struct layer_src *s, struct bb_err *e)
{
	ssize_t k;

	if (s->z.avail_in || s->blob_eof)
		return 0;
	k = blob_read(s->b, s->in, sizeof s->in, e);
	if (k < 0)
		return -1;
	if (k == 0)
		s->blob_eof = 1;
	s->z.next_in = s->in;
	s->z.avail_in = (uInt)k;
	return 0;
}

static ssize_t layer_read(void *arg, void *p, size_t n, struct bb_err *e)
{
	struct layer_src *s = arg;

	if (!s->gz) {
		/* Uncompressed: the blob's own hash is the diff_id, so the bytes are hashed once. */
		ssize_t k = blob_read(s->b, p, n, e);

		if (k > 0)
			s->total += (uint64_t)k;
		return k;
	}
	for (;;) {
		int rc;
		size_t made;

		if (s->z_end) {
			/* A gzip stream may be several members back to back (pigz does this). */
			if (refill(s, e) < 0)
				return -1;
			if (s->z.avail_in == 0)
				return 0;
			if (inflateReset(&s->z) != Z_OK)
				return bb_errf(e, BB_ELIB, "inflateReset");
			s->z_end = 0;
		}
		if (refill(s, e) < 0)
			return -1;
		s->z.next_out = p;
		s->z.avail_out = (uInt)(n > (1u << 30) ? (1u << 30) : n);
		made = s->z.avail_out;
		rc = inflate(&s->z, Z_NO_FLUSH);
		made -= s->z.avail_out;
		if (rc == Z_STREAM_END)
			s->z_end = 1;
		else if (rc == Z_BUF_ERROR && s->blob_eof && s->z.avail_in == 0 && !made)
			return bb_errf(e, BB_EINVAL, "%.200s: truncated gzip data", s->b->name);
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return bb_errf(e, BB_EINVAL, "%.200s: corrupt gzip data (%s)", s->b->name,
				       s->z.msg ? s->z.msg : "inflate failed");
		if (made) {
			br_sha256_update(&s->diff, p, made);
			s->total += made;
			return (ssize_t)made;
		}
	}
}

/* Apply one layer blob; checks the blob's digest (if known) and its uncompressed digest against diff_id. */
static int apply_blob(struct archive *a, int root_fd, const char *name, const char *blob_hex_want, const char *diff_id,
		      const struct img_apply_opts *ao, struct img_apply_stats *st, unsigned idx, unsigned count,
		      struct bb_err *e)
{
	struct blob b;
	struct layer_src *s = calloc(1, sizeof *s);
	struct tar_reader r;
	unsigned char magic[4] = { 0 };
	char got[65], diff_hex[65];
	uint64_t before = st->bytes, entries = st->entries;
	int rc = -1;

	if (!s)
		return bb_errno(e, ENOMEM, "layer");
	if (digest_hex(diff_id, diff_hex, e) < 0) {
		free(s);
		return bb_err_wrap(e, "layer %u diff_id", idx + 1);
	}
	if (blob_open(a, name, &b, e) < 0) {
		free(s);
		return bb_err_wrap(e, "layer %u", idx + 1);
	}
	s->b = &b;
	br_sha256_init(&s->diff);
	if (b.size >= 4) {
		ssize_t k = pread(b.fd, magic, 4, (off_t)b.off);

		if (k != 4) {
			bb_errno(e, errno, "layer %u: read", idx + 1);
			goto out;
		}
	}
	if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) {
		bb_errf(e, BB_EINVAL, "layer %u (%.200s): zstd-compressed layers are not supported", idx + 1, name);
		goto out;
	}
	if (magic[0] == 0x1f && magic[1] == 0x8b) {
		s->gz = 1;
		if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
			bb_errf(e, BB_ELIB, "inflateInit2");
			goto out;
		}
		s->z_live = 1;
	}
	tar_reader_init(&r, layer_read, s);
	if (img_apply_layer(root_fd, &r, ao, st, e) < 0) {
		bb_err_wrap(e, "layer %u (%.200s)", idx + 1, name);
		goto out;
	}
	/* Read to the end so both digests cover the whole blob (tar pads past its end marker). */
	for (;;) {
		char sink[8192];
		ssize_t k = layer_read(s, sink, sizeof sink, e);

		if (k < 0) {
			bb_err_wrap(e, "layer %u (%.200s)", idx + 1, name);
			goto out;
		}
		if (k == 0)
			break;
	}
	if (s->gz && (!s->z_end || b.pos != b.size)) {
		bb_errf(e, BB_EINVAL, "layer %u (%.200s): truncated gzip data", idx + 1, name);
		goto out;
	}
	blob_hex(&b, got);
	if (blob_hex_want && strcmp(got, blob_hex_want)) {
		bb_errf(e, BB_EINVAL, "layer %u (%.200s): sha256 is %s, its digest says %s", idx + 1, name, got,
			blob_hex_want);
		goto out;
	}
	if (s->gz) {
		unsigned char d[32];

		br_sha256_out(&s->diff, d);
		hex_encode(d, sizeof d, got);
	}
	if (strcmp(got, diff_hex)) {
		bb_errf(e, BB_EINVAL, "layer %u (%.200s): uncompressed sha256 is %s, the config's diff_id says %s", idx + 1,
			name, got, diff_hex);
		goto out;
	}
	if (s->gz)
		note(ao->note, ao->note_arg, "layer %u/%u: %llu bytes in %llu members (gzip, %llu bytes)", idx + 1, count,
		     (unsigned long long)(st->bytes - before), (unsigned long long)(st->entries - entries),
		     (unsigned long long)b.size);
	else
		note(ao->note, ao->note_arg, "layer %u/%u: %llu bytes in %llu members", idx + 1, count,
		     (unsigned long long)(st->bytes - before), (unsigned long long)(st->entries - entries));
	rc = 0;
out:
	if (s->z_live)
		inflateEnd(&s->z);
	blob_close(&b);
	free(s);
	return rc;
}

/* ---------- import ---------- */

/* The platform an OCI index entry names matches this build (linux and our architecture). */
static int platform_matches(const cJSON *desc)
{
	const cJSON *pf = cJSON_GetObjectItemCaseSensitive(desc, "platform");
	const char *os = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pf, "os"));
	const char *arch = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pf, "architecture"));

	return os && arch && !strcmp(os, "linux") && !strcmp(arch, img_build_arch());
}

/* What the manifest (either format) resolved to. */
struct resolved {
	cJSON *config;       /* the image config */
	char config_hex[65]; /* its sha256 */
	unsigned nlayers;
	char **layer_name;   /* blob paths in the archive */
	char **layer_hex;    /* stored digests when known (OCI, Docker 25 blobs/), else NULL entries */
	char tag[256];       /* a ref for the default name, "" if none */
	const char *format;
};

static void resolved_free(struct resolved *rv)
{
	for (unsigned i = 0; i < rv->nlayers; i++) {
		free(rv->layer_name ? rv->layer_name[i] : NULL);
		free(rv->layer_hex ? rv->layer_hex[i] : NULL);
	}
	free(rv->layer_name);
	free(rv->layer_hex);
	cJSON_Delete(rv->config);
	memset(rv, 0, sizeof *rv);
}

static int resolved_layers(struct resolved *rv, unsigned n, struct bb_err *e)
{
	if (n == 0 || n > 1000)
		return bb_errf(e, BB_EINVAL, "the image has %u layers (1 to 1000 accepted)", n);
	rv->layer_name = calloc(n, sizeof *rv->layer_name);
	rv->layer_hex = calloc(n, sizeof *rv->layer_hex);
	if (!rv->layer_name || !rv->layer_hex)
		return bb_errno(e, ENOMEM, "layers");
	rv->nlayers = n;
	return 0;
}

/* "blobs/sha256/HEX" -> HEX (Docker 25+ archives and OCI layouts name blobs by their digest). */
static const char *blob_path_hex(const char *path)
{
	const char *p = strstr(path, "blobs/sha256/");

	if (p && (p == path || p[-1] == '/') && is_hex64(p + 13, strlen(p + 13)))
		return p + 13;
	return NULL;
}

static int resolve_docker(struct archive *a, struct resolved *rv, struct bb_err *e)
{
	cJSON *man = blob_json(a, "manifest.json", NULL, e), *first, *layers, *it;
	const char *cfg;
	const char *hex;
	char base_hex[65];
	unsigned i = 0;
	int rc = -1;

	if (!man)
		return -1;
	rv->format = "docker-archive";
	first = cJSON_GetArrayItem(man, 0);
	cfg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "Config"));
	layers = cJSON_GetObjectItemCaseSensitive(first, "Layers");
	if (!cJSON_IsArray(man) || !cfg || !cJSON_IsArray(layers)) {
		bb_errf(e, BB_EINVAL, "manifest.json: expected [{\"Config\": ..., \"Layers\": [...]}]");
		goto out;
	}
	it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(first, "RepoTags"), 0);
	if (cJSON_GetStringValue(it))
		snprintf(rv->tag, sizeof rv->tag, "%s", it->valuestring);
	/* The config is named by its digest: "HEX.json" (docker save) or "blobs/sha256/HEX". */
	hex = blob_path_hex(cfg);
	if (!hex) {
		const char *b = strrchr(cfg, '/');

		b = b ? b + 1 : cfg;
		if (strlen(b) == 69 && !strcmp(b + 64, ".json") && is_hex64(b, 64)) {
			memcpy(base_hex, b, 64);
			base_hex[64] = '\0';
			hex = base_hex;
		}
	}
	if (!hex) {
		bb_errf(e, BB_EINVAL, "manifest.json: Config '%.200s' is not named by its sha256", cfg);
		goto out;
	}
	rv->config = blob_json(a, cfg, hex, e);
	if (!rv->config)
		goto out;
	memcpy(rv->config_hex, hex, 65);
	if (resolved_layers(rv, (unsigned)cJSON_GetArraySize(layers), e) < 0)
		goto out;
	cJSON_ArrayForEach(it, layers)
	{
		const char *lp = cJSON_GetStringValue(it);

		if (!lp) {
			bb_errf(e, BB_EINVAL, "manifest.json: Layers[%u] is not a string", i);
			goto out;
		}
		rv->layer_name[i] = strdup(lp);
		if (blob_path_hex(lp))
			rv->layer_hex[i] = strdup(blob_path_hex(lp));
		if (!rv->layer_name[i] || (blob_path_hex(lp) && !rv->layer_hex[i])) {
			bb_errno(e, ENOMEM, "layers");
			goto out;
		}
		i++;
	}
	rc = 0;
out:
	cJSON_Delete(man);
	return rc;
}

static int blob_name(const char *digest, char *out, size_t cap, char hex[65], struct bb_err *e)
{
	if (digest_hex(digest, hex, e) < 0)
		return -1;
	snprintf(out, cap, "blobs/sha256/%s", hex);
	return 0;
}

static int resolve_oci(struct archive *a, struct resolved *rv, struct bb_err *e)
{
	cJSON *idx = blob_json(a, "index.json", NULL, e), *man = NULL, *desc = NULL, *layers, *it;
	char name[96], hex[65];
	unsigned i = 0;
	int rc = -1;

	if (!idx)
		return -1;
	rv->format = "oci";
	/* Follow nested indexes (a multi-platform image) to one manifest, preferring our platform. */
	for (int depth = 0; depth < 4; depth++) {
		cJSON *list = cJSON_GetObjectItemCaseSensitive(idx, "manifests"), *d, *pick = NULL;
		const char *mt;

		cJSON_ArrayForEach(d, list)
		{
			if (!pick || platform_matches(d))
				pick = d;
			if (platform_matches(d))
				break;
		}
		if (!pick) {
			bb_errf(e, BB_EINVAL, "index.json lists no manifests");
			goto out;
		}
		if (!rv->tag[0]) {
			const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(pick, "annotations"), "org.opencontainers.image.ref.name"));

			if (ref)
				snprintf(rv->tag, sizeof rv->tag, "%s", ref);
		}
		if (blob_name(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pick, "digest")), name, sizeof name, hex,
			      e) < 0)
			goto out;
		mt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pick, "mediaType"));
		desc = blob_json(a, name, hex, e);
		if (!desc)
			goto out;
		if (mt && (strstr(mt, "image.index") || strstr(mt, "manifest.list"))) {
			cJSON_Delete(idx);
			idx = desc;
			desc = NULL;
			continue;
		}
		man = desc;
		desc = NULL;
		break;
	}
	if (!man) {
		bb_errf(e, BB_EINVAL, "index.json: no image manifest within 4 levels");
		goto out;
	}
	if (blob_name(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(man, "config"),
									       "digest")),
		      name, sizeof name, hex, e) < 0) {
		bb_err_wrap(e, "manifest config");
		goto out;
	}
	rv->config = blob_json(a, name, hex, e);
	if (!rv->config)
		goto out;
	memcpy(rv->config_hex, hex, 65);
	layers = cJSON_GetObjectItemCaseSensitive(man, "layers");
	if (!cJSON_IsArray(layers)) {
		bb_errf(e, BB_EINVAL, "manifest: no layers array");
		goto out;
	}
	if (resolved_layers(rv, (unsigned)cJSON_GetArraySize(layers), e) < 0)
		goto out;
	cJSON_ArrayForEach(it, layers)
	{
		const char *mt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "mediaType"));

		if (mt && strstr(mt, "zstd")) {
			bb_errf(e, BB_EINVAL, "layer %u: %s layers are not supported", i + 1, mt);
			goto out;
		}
		if (blob_name(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "digest")), name, sizeof name, hex,
			      e) < 0) {
			bb_err_wrap(e, "layer %u", i + 1);
			goto out;
		}
		rv->layer_name[i] = strdup(name);
		rv->layer_hex[i] = strdup(hex);
		if (!rv->layer_name[i] || !rv->layer_hex[i]) {
			bb_errno(e, ENOMEM, "layers");
			goto out;
		}
		i++;
	}
	rc = 0;
out:
	cJSON_Delete(idx);
	cJSON_Delete(desc);
	cJSON_Delete(man);
	return rc;
}

/* A default name from a reference like "localhost/tiny:latest" (-> "tiny") or a file name. */
static void default_name(const char *ref, const char *file, char *out, size_t cap)
{
	const char *s = ref && *ref ? ref : file, *slash = strrchr(s, '/');
	size_t o = 0;

	s = slash ? slash + 1 : s;
	for (; *s && o + 1 < cap && o < IMG_NAME_MAX; s++) {
		char c = *s;

		if (c == ':' || (c == '.' && !(ref && *ref)) || c == '@')
			break;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			c = '-';
		if (!o && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			continue;
		out[o++] = c;
	}
	if (!o)
		o = (size_t)snprintf(out, cap, "image");
	out[o] = '\0';
}

/* Decompress a gzip'd outer archive into the staging directory (its bytes count against the size cap). */
static int gunzip_write(const void *p, size_t n, void *arg)
{
	return fd_write_all(*(int *)arg, p, n) < 0;
}

static int gunzip_to(int in_fd, int out_fd, uint64_t max, struct bb_err *e)
{
	struct inflate_stream *zs;
	static unsigned char chunk[65536];
	int rc = 0;

	if (inflate_begin(&zs, "gzip", 4, max, e) < 0)
		return -1;
	for (;;) {
		ssize_t k = read(in_fd, chunk, sizeof chunk);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = bb_errno(e, errno, "read");
			break;
		}
		if (k == 0) {
			if (rc != 1)
				rc = bb_errf(e, BB_EINVAL, "truncated gzip data");
			break;
		}
		rc = inflate_feed(zs, chunk, (size_t)k, gunzip_write, &out_fd, e);
		if (rc == 2)
			rc = bb_errno(e, errno, "writing the decompressed archive");
		if (rc < 0)
			break;
	}
	inflate_end(zs);
	return rc < 0 ? -1 : 0;
}

static int mkdir_p(const char *path, mode_t mode, struct bb_err *e)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof tmp)
		return bb_errf(e, BB_ETOOBIG, "path too long");
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return bb_errno(e, errno, "mkdir %s", tmp);
		tmp[i] = path[i];
	}
	return 0;
}

/* Staging and removal directories (.import-NAME-PID, .rm-NAME-PID) whose process is gone. */
static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *dash = strrchr(de->d_name, '-');
		char path[PATH_MAX];
		uint64_t pid;

		if (strncmp(de->d_name, ".import-", 8) && strncmp(de->d_name, ".rm-", 4))
			continue;
		if (!dash || sv_to_u64(sv_from(dash + 1), 4194304, &pid, NULL) < 0 || pid < 2)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path)
			fd_remove_tree(path);
	}
	closedir(d);
}

static void copy_config_field(cJSON *dst, const cJSON *cfg, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);

	if (v && !cJSON_IsNull(v))
		cJSON_AddItemToObject(dst, key, cJSON_Duplicate(v, 1));
}

static int write_meta(int stage_fd, const char *name, const char *source, const struct resolved *rv,
		      const struct img_apply_stats *st, struct bb_err *e)
{
	cJSON *m = cJSON_CreateObject(), *c = cJSON_CreateObject();
	const cJSON *cc = cJSON_GetObjectItemCaseSensitive(rv->config, "config");
	char when[32], id[72];
	time_t now = time(NULL);
	struct tm tm;
	char *text;
	int fd, rc = 0;

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(id, sizeof id, "sha256:%s", rv->config_hex);
	cJSON_AddStringToObject(m, "name", name);
	cJSON_AddStringToObject(m, "format", rv->format);
	cJSON_AddStringToObject(m, "source", source);
	cJSON_AddStringToObject(m, "reference", rv->tag);
	cJSON_AddStringToObject(m, "id", id);
	cJSON_AddStringToObject(m, "imported_at", when);
	copy_config_field(m, rv->config, "architecture");
	copy_config_field(m, rv->config, "os");
	cJSON_AddNumberToObject(m, "layers", rv->nlayers);
	cJSON_AddNumberToObject(m, "size", (double)st->bytes);
	cJSON_AddNumberToObject(m, "entries", (double)st->entries);
	cJSON_AddNumberToObject(m, "skipped", (double)st->skipped);
	copy_config_field(c, cc, "Env");
	copy_config_field(c, cc, "Entrypoint");
	copy_config_field(c, cc, "Cmd");
	copy_config_field(c, cc, "WorkingDir");
	copy_config_field(c, cc, "User");
	cJSON_AddItemToObject(m, "config", c);
	text = cJSON_Print(m);
	cJSON_Delete(m);
	if (!text)
		return bb_errno(e, ENOMEM, "image.json");
	fd = openat(stage_fd, "image.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || fd_write_all(fd, text, strlen(text)) < 0 || fd_write_all(fd, "\n", 1) < 0)
		rc = bb_errno(e, errno, "write image.json");
	fd_close(fd);
	free(text);
	return rc;
}

int img_import(const char *file, const struct img_import_opts *o, char *name_out, size_t cap, struct bb_err *e)
{
	struct archive a = { .dir_fd = -1, .fd = -1 };
	struct resolved rv = { 0 };
	struct img_apply_stats st = { 0 };
	struct img_apply_opts ao = { 0 };
	char dir[PATH_MAX], stage[PATH_MAX + 64], final[PATH_MAX + 80], name[IMG_NAME_MAX + 1], source[PATH_MAX];
	const cJSON *diff_ids;
	struct stat sb;
	int stage_fd = -1, root_fd = -1, staged = 0, rc = -1;

	ao.max_bytes = o->max_bytes ? o->max_bytes : IMG_DEFAULT_MAX_BYTES;
	ao.max_entries = o->max_entries ? o->max_entries : IMG_DEFAULT_MAX_ENTRIES;
	ao.note = o->note;
	ao.note_arg = o->note_arg;
	ao.chown = geteuid() == 0;
	if (img_dir(dir, sizeof dir, e) < 0 || mkdir_p(dir, 0700, e) < 0)
		return -1;
	if (!realpath(file, source))
		return bb_errno(e, errno, "%s", file);
	if (stat(source, &sb) < 0)
		return bb_errno(e, errno, "%s", file);
	if (S_ISDIR(sb.st_mode)) {
		a.dir_fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (a.dir_fd < 0)
			return bb_errno(e, errno, "%s", file);
	} else {
		unsigned char magic[2] = { 0 };
		int in = open(source, O_RDONLY | O_CLOEXEC);

		if (in < 0)
			return bb_errno(e, errno, "%s", file);
		if (pread(in, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
			note(o->note, o->note_arg, "decompressing %s", file);
			a.fd = fd_tmpfile(dir, e); /* the decompressed outer archive */
			if (a.fd < 0 || gunzip_to(in, a.fd, ao.max_bytes, e) < 0) {
				close(in);
				bb_err_wrap(e, "%s", file);
				goto out;
			}
			close(in);
		} else {
			a.fd = in;
		}
		if (archive_index(&a, ao.max_entries, e) < 0) {
			bb_err_wrap(e, "%s", file);
			goto out;
		}
	}
	if (archive_has(&a, "manifest.json")) {
		if (resolve_docker(&a, &rv, e) < 0)
			goto out;
	} else if (archive_has(&a, "index.json")) {
		if (resolve_oci(&a, &rv, e) < 0)
			goto out;
	} else {
		bb_errf(e, BB_EINVAL, "neither a docker-archive (no manifest.json) nor an OCI layout (no index.json)");
		goto out;
	}
	diff_ids = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rv.config, "rootfs"), "diff_ids");
	if (!cJSON_IsArray(diff_ids) || (unsigned)cJSON_GetArraySize(diff_ids) != rv.nlayers) {
		bb_errf(e, BB_EINVAL, "the config's rootfs.diff_ids does not list one digest per layer (%u layers)",
			rv.nlayers);
		goto out;
	}
	if (o->name)
		snprintf(name, sizeof name, "%s", o->name);
	else {
		const char *base = strrchr(source, '/');

		default_name(rv.tag, base ? base + 1 : source, name, sizeof name);
	}
	if (img_name_check(name, e) < 0)
		goto out;
	snprintf(final, sizeof final, "%s/%s", dir, name);
	if (lstat(final, &sb) == 0) {
		bb_errf(e, EEXIST, "image %s exists; remove it first with: bb bottle image rm %s", name, name);
		goto out;
	}
	remove_stale(dir);
	snprintf(stage, sizeof stage, "%s/.import-%s-%d", dir, name, (int)getpid());
	if (mkdir(stage, 0700) < 0) {
		bb_errno(e, errno, "mkdir %s", stage);
		goto out;
	}
	staged = 1;
	stage_fd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (stage_fd < 0 || mkdirat(stage_fd, "rootfs", 0755) < 0 ||
	    (root_fd = openat(stage_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		bb_errno(e, errno, "staging %s", stage);
		goto out;
	}
	note(o->note, o->note_arg, "importing %s (%s, %u layer%s) as %s", file, rv.format, rv.nlayers,
	     rv.nlayers == 1 ? "" : "s", name);
	for (unsigned i = 0; i < rv.nlayers; i++)
		if (apply_blob(&a, root_fd, rv.layer_name[i], rv.layer_hex[i],
			       cJSON_GetStringValue(cJSON_GetArrayItem(diff_ids, (int)i)), &ao, &st, i, rv.nlayers, e) < 0)
			goto out;
	if (write_meta(stage_fd, name, source, &rv, &st, e) < 0)
		goto out;
	/* Every file on disk before the rename, so NAME/ never names a partial tree, even after a power cut. */
	if (fchmod(stage_fd, 0755) < 0 || syncfs(stage_fd) < 0) {
		bb_errno(e, errno, "staging %s", stage);
		goto out;
	}
	if (rename(stage, final) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			bb_errf(e, EEXIST, "image %s appeared while importing; remove it first", name);
		else
			bb_errno(e, errno, "rename %s to %s", stage, final);
		goto out;
	}
	staged = 0;
	{
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			(void)fsync(dfd); /* the rename itself */
			close(dfd);
		}
	}
	if (name_out)
		snprintf(name_out, cap, "%s", name);
	note(o->note, o->note_arg, "%s: %llu bytes in %llu members%s", name, (unsigned long long)st.bytes,
	     (unsigned long long)st.entries, st.skipped ? " (some skipped: see above)" : "");
	rc = 0;
out:
	fd_close(root_fd);
	fd_close(stage_fd);
	if (staged)
		fd_remove_tree(stage);
	resolved_free(&rv);
	archive_free(&a);
	return rc;
}

/* ---------- list, remove ---------- */

static int info_cmp(const void *x, const void *y)
{
	return strcmp(((const struct img_info *)x)->name, ((const struct img_info *)y)->name);
}

int img_list(struct img_info *out, size_t cap, size_t *n, struct bb_err *e)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;

	*n = 0;
	if (img_dir(dir, sizeof dir, e) < 0)
		return -1;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : bb_errno(e, errno, "%s", dir);
	while ((de = readdir(d)) && *n < cap) {
		char path[PATH_MAX + 300];
		struct buf b = BUF_INIT(1 << 20);
		struct bb_err ignore = { 0 };
		struct img_info *it = &out[*n];
		cJSON *m;
		const char *s;

		if (de->d_name[0] == '.' || img_name_check(de->d_name, &ignore) < 0)
			continue;
		snprintf(path, sizeof path, "%s/%s/image.json", dir, de->d_name);
		if (fd_read_file(path, b.max, &b, &ignore) < 0) {
			buf_free(&b);
			continue;
		}
		m = json_parse(path, b.p, b.len, &ignore);
		buf_free(&b);
		if (!m)
			continue;
		memset(it, 0, sizeof *it);
		memcpy(it->name, de->d_name, strlen(de->d_name) + 1); /* checked: at most IMG_NAME_MAX */
		if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "format"))))
			snprintf(it->format, sizeof it->format, "%s", s);
		if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "source"))))
			snprintf(it->source, sizeof it->source, "%s", s);
		if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "imported_at"))))
			snprintf(it->imported_at, sizeof it->imported_at, "%s", s);
		it->bytes = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "size"));
		it->layers = (unsigned)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "layers"));
		cJSON_Delete(m);
		(*n)++;
	}
	closedir(d);
	qsort(out, *n, sizeof *out, info_cmp);
	return 0;
}

int img_remove(const char *name, struct bb_err *e)
{
	char dir[PATH_MAX], path[PATH_MAX + 80], gone[PATH_MAX + 100];
	struct stat st;

	if (img_name_check(name, e) < 0 || img_dir(dir, sizeof dir, e) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return bb_errf(e, ENOENT, "no image %s", name);
	/* Renamed first, so a half-removed image is never seen as an image. */
	snprintf(gone, sizeof gone, "%s/.rm-%s-%d", dir, name, (int)getpid());
	if (rename(path, gone) < 0)
		return bb_errno(e, errno, "rename %s", path);
	fd_remove_tree(gone);
	if (lstat(gone, &st) == 0)
		return bb_errf(e, BB_ELIB, "image %s: some files could not be removed from %s", name, gone);
	return 0;
}
