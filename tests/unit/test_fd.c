/* test_fd.c - unit tests of lib/fd: bounded reads, atomic replacement, flags, opening beneath a directory without following links. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd.h"
#include "t.h"

static char dir[] = "/tmp/bb-test-fd.XXXXXX";

static void atomic_write_replaces(void)
{
	char path[256];
	struct buf b = BUF_INIT(1024);
	struct stat st;
	struct bb_err e = { 0 };

	snprintf(path, sizeof path, "%s/meta.json", dir);
	T_CHECK(fd_write_file_atomic(path, "one", 3, 0600, &e) == 0);
	T_CHECK(fd_write_file_atomic(path, "second", 6, 0640, &e) == 0);
	T_CHECK(fd_read_file(path, 1024, &b, &e) == 0);
	T_STREQ(b.p, "second");
	T_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
	buf_free(&b);
}

static void atomic_write_failure_leaves_nothing(void)
{
	char path[256], cmd[300];
	struct bb_err e = { 0 };

	snprintf(path, sizeof path, "%s/missing-dir/x", dir);
	T_CHECK(fd_write_file_atomic(path, "x", 1, 0600, &e) == -1);
	T_CHECK(strstr(e.msg, "missing-dir/x") != NULL);
	/* Renaming onto a directory fails after the temp file was written: it must be removed. */
	snprintf(path, sizeof path, "%s/adir", dir);
	mkdir(path, 0700);
	T_CHECK(fd_write_file_atomic(path, "x", 1, 0600, &e) == -1);
	snprintf(cmd, sizeof cmd, "test -z \"$(ls %s | grep tmp)\"", dir);
	T_CHECK(system(cmd) == 0);
}

static void read_file_is_bounded(void)
{
	char path[256];
	struct buf b = BUF_INIT(0);
	struct bb_err e = { 0 };

	snprintf(path, sizeof path, "%s/big", dir);
	T_CHECK(fd_write_file_atomic(path, "0123456789", 10, 0600, NULL) == 0);
	T_CHECK(fd_read_file(path, 10, &b, &e) == 0 && b.len == 10);
	buf_reset(&b);
	T_CHECK(fd_read_file(path, 9, &b, &e) == -1);
	T_CHECK(e.code == BB_ETOOBIG && strstr(e.msg, "big") != NULL);
	buf_reset(&b);
	T_CHECK(fd_read_file("/nonexistent/bb", 9, &b, &e) == -1);
	T_CHECK(strstr(e.msg, "/nonexistent/bb") != NULL);
	buf_free(&b);
}

static void flags_and_full_io(void)
{
	int p[2];
	char got[6] = { 0 };

	T_CHECK(pipe(p) == 0);
	T_CHECK(fd_set_nonblock(p[0], NULL) == 0 && (fcntl(p[0], F_GETFL) & O_NONBLOCK));
	T_CHECK(fd_set_cloexec(p[1], NULL) == 0 && (fcntl(p[1], F_GETFD) & FD_CLOEXEC));
	T_CHECK(fd_write_all(p[1], "hello", 5) == 0);
	close(p[1]);
	T_CHECK(fd_read_full(p[0], got, 5) == 5);
	T_STREQ(got, "hello");
	T_CHECK(fd_close(p[0]) == -1);
	T_CHECK(fd_set_nonblock(p[0], NULL) == -1); /* closed */
}

/* A tree of files, directories and a symlink out of it goes; what the symlink points at stays. */
static void remove_tree_removes_and_never_follows(void)
{
	char root[300], p[400], keep[300];
	struct stat st;

	snprintf(root, sizeof root, "%s/tree", dir);
	snprintf(keep, sizeof keep, "%s/keep", dir);
	T_CHECK(mkdir(root, 0700) == 0);
	snprintf(p, sizeof p, "%s/a", root);
	T_CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof p, "%s/a/b", root);
	T_CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof p, "%s/a/b/file", root);
	T_CHECK(fd_write_file_atomic(p, "x", 1, 0600, NULL) == 0);
	T_CHECK(mkdir(keep, 0700) == 0);
	snprintf(p, sizeof p, "%s/keep/precious", dir);
	T_CHECK(fd_write_file_atomic(p, "y", 1, 0600, NULL) == 0);
	snprintf(p, sizeof p, "%s/a/link", root);
	T_CHECK(symlink(keep, p) == 0);
	fd_remove_tree(root);
	T_CHECK(lstat(root, &st) == -1);
	snprintf(p, sizeof p, "%s/keep/precious", dir);
	T_CHECK(stat(p, &st) == 0);
}

/*
 * An attacker's home: h/real (a directory), h/out -> the victim directory,
 * h/real/inner -> the victim too, h/file -> a victim file. Returns the home's fd.
 */
static int planted_home(const char *name, char *victim, size_t cap)
{
	char p[400];
	int hfd;

	snprintf(victim, cap, "%s/%s-victim", dir, name);
	mkdir(victim, 0700);
	snprintf(p, sizeof p, "%s/secret", victim);
	fd_write_file_atomic(p, "host", 4, 0600, NULL);
	snprintf(p, sizeof p, "%s/%s-home", dir, name);
	mkdir(p, 0700);
	hfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	mkdirat(hfd, "real", 0700);
	symlinkat(victim, hfd, "out");
	snprintf(p, sizeof p, "%s/secret", victim);
	symlinkat(victim, hfd, "real/inner");
	symlinkat(p, hfd, "file");
	return hfd;
}

/* Nothing below the directory is followed: links at the end, on the way, "..", absolute paths; both code paths. */
static void open_beneath_follows_nothing(void)
{
	char victim[300];
	struct bb_err e = { 0 };
	struct buf b = BUF_INIT(64);
	int walk, hfd, fd;

	for (walk = 0; walk < 2; walk++) {
		fd_beneath_force_walk = walk;
		hfd = planted_home(walk ? "walk" : "openat2", victim, sizeof victim);
		T_CHECK(hfd >= 0);
		T_CHECK(fd_open_beneath(hfd, "out", O_RDONLY | O_DIRECTORY, 0, &e) == -1 && e.code == ELOOP);
		T_CHECK(strstr(e.msg, "out is a symbolic link") != NULL);
		T_CHECK(fd_open_beneath(hfd, "out/secret", O_RDONLY, 0, &e) == -1 && e.code == ELOOP);
		T_CHECK(fd_open_beneath(hfd, "real/inner/secret", O_RDONLY, 0, &e) == -1 && e.code == ELOOP);
		T_CHECK(fd_open_beneath(hfd, "file", O_RDONLY, 0, &e) == -1 && e.code == ELOOP);
		T_CHECK(fd_open_beneath(hfd, "file", O_WRONLY | O_CREAT | O_TRUNC, 0600, &e) == -1);
		T_CHECK(fd_open_beneath(hfd, "../x", O_RDONLY, 0, &e) == -1);
		T_CHECK(fd_open_beneath(hfd, "real/../../x", O_RDONLY, 0, &e) == -1);
		T_CHECK(fd_open_beneath(hfd, "/etc/passwd", O_RDONLY, 0, &e) == -1);
		T_CHECK(fd_read_file_beneath(hfd, "file", 64, &b, &e) == -1 && b.len == 0);
		fd = fd_open_beneath(hfd, "real", O_RDONLY | O_DIRECTORY, 0, &e);
		T_CHECK(fd >= 0);
		fd_close(fd);
		fd = fd_open_beneath(hfd, "real/new", O_WRONLY | O_CREAT | O_EXCL, 0600, &e);
		T_CHECK(fd >= 0);
		fd_close(fd);
		close(hfd);
	}
	fd_beneath_force_walk = 0;
	buf_free(&b);
}

/* mkdir -p through a planted link stops there, naming it, and chowns nothing outside. */
static void mkdirs_beneath_stops_at_links(void)
{
	char victim[300], p[400];
	struct bb_err e = { 0 };
	struct stat st;
	int hfd = planted_home("mkdirs", victim, sizeof victim), fd;

	T_CHECK(fd_mkdirs_beneath(hfd, "out/skills", 0700, 4242, 4242, &e) == -1 && e.code == ELOOP);
	T_CHECK(strstr(e.msg, "out") != NULL);
	T_CHECK(fd_mkdirs_beneath(hfd, "real/inner/x", 0700, 4242, 4242, &e) == -1 && e.code == ELOOP);
	T_CHECK(stat(victim, &st) == 0 && st.st_uid != 4242);
	snprintf(p, sizeof p, "%s/skills", victim);
	T_CHECK(lstat(p, &st) == -1);
	fd = fd_mkdirs_beneath(hfd, "a/b/c", 0700, getuid() == 0 ? 4242 : (uid_t)-1, 4242, &e);
	T_CHECK(fd >= 0);
	if (getuid() == 0)
		T_CHECK(fstat(fd, &st) == 0 && st.st_uid == 4242 && st.st_gid == 4242);
	fd_close(fd);
	T_CHECK(fstatat(hfd, "a/b", &st, 0) == 0 && S_ISDIR(st.st_mode));
	close(hfd);
}

/* A file written at a planted link replaces the link; the link's target is untouched. */
static void write_at_replaces_links(void)
{
	char victim[300], p[400];
	struct bb_err e = { 0 };
	struct buf b = BUF_INIT(64);
	struct stat st;
	int hfd = planted_home("writeat", victim, sizeof victim);

	T_CHECK(fd_write_file_at(hfd, "file", "new", 3, 0600, (uid_t)-1, (gid_t)-1, 1, &e) == 0);
	T_CHECK(fstatat(hfd, "file", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode));
	snprintf(p, sizeof p, "%s/secret", victim);
	T_CHECK(fd_read_file(p, 64, &b, &e) == 0);
	T_STREQ(b.p, "host");
	T_CHECK(fd_write_file_at(hfd, "out", "x", 1, 0600, (uid_t)-1, (gid_t)-1, 0, &e) == 0); /* the link goes */
	T_CHECK(stat(victim, &st) == 0 && S_ISDIR(st.st_mode));
	T_CHECK(fd_write_file_at(hfd, "real", "x", 1, 0600, (uid_t)-1, (gid_t)-1, 0, &e) == -1); /* a directory stays */
	T_CHECK(fd_write_file_at(hfd, "a/b", "x", 1, 0600, (uid_t)-1, (gid_t)-1, 0, &e) == -1);
	buf_free(&b);
	close(hfd);
}

/* Removal and copy into a planted tree stay inside it. */
static void remove_and_copy_at_stay_inside(void)
{
	char victim[300], p[400], src[300];
	struct bb_err e = { 0 };
	struct stat st;
	int hfd = planted_home("rmcopy", victim, sizeof victim);

	fd_remove_tree_at(hfd, "out");
	fd_remove_tree_at(hfd, "real");
	snprintf(p, sizeof p, "%s/secret", victim);
	T_CHECK(stat(p, &st) == 0);
	T_CHECK(fstatat(hfd, "out", &st, AT_SYMLINK_NOFOLLOW) == -1 && fstatat(hfd, "real", &st, AT_SYMLINK_NOFOLLOW) == -1);
	snprintf(src, sizeof src, "%s/rmcopy-src", dir);
	mkdir(src, 0755);
	snprintf(p, sizeof p, "%s/f", src);
	fd_write_file_atomic(p, "data", 4, 0644, NULL);
	symlinkat(victim, hfd, "skill");
	T_CHECK(fd_copy_tree_at(src, hfd, "skill", getuid(), getgid(), 1 << 20, &e) == -1); /* a link is in the way */
	snprintf(p, sizeof p, "%s/f", victim);
	T_CHECK(lstat(p, &st) == -1);
	T_CHECK(fd_copy_tree_at(src, hfd, "copy", getuid(), getgid(), 1 << 20, &e) == 0);
	T_CHECK(fstatat(hfd, "copy/f", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode));
	close(hfd);
}

/* fd_open_in_root: an image's absolute and climbing links resolve inside the image, never to the host's files. */
static void open_in_root_stays_in_it(void)
{
	char root[] = "/tmp/bb-test-fd.XXXXXX", p[256];
	struct stat want, got;
	int fd;
	T_CHECK(mkdtemp(root) != NULL);
	snprintf(p, sizeof p, "%s/etc", root);
	T_CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof p, "%s/etc/hostname", root);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	T_CHECK(fd >= 0 && fstat(fd, &want) == 0);
	close(fd);
	snprintf(p, sizeof p, "%s/abs", root);
	T_CHECK(symlink("/etc", p) == 0);
	snprintf(p, sizeof p, "%s/up", root);
	T_CHECK(symlink("../../../../etc", p) == 0);
	fd = fd_open_in_root(root, "abs/hostname", O_RDONLY);
	T_CHECK(fd >= 0 && fstat(fd, &got) == 0 && got.st_ino == want.st_ino && got.st_dev == want.st_dev);
	if (fd >= 0)
		close(fd);
	fd = fd_open_in_root(root, "up/hostname", O_RDONLY);
	T_CHECK(fd >= 0 && fstat(fd, &got) == 0 && got.st_ino == want.st_ino);
	if (fd >= 0)
		close(fd);
	fd = fd_open_in_root(root, "abs/passwd", O_RDONLY); /* the host's /etc/passwd exists; the image's does not */
	T_CHECK(fd < 0 && errno == ENOENT);
	fd_remove_tree(root);
}

/* A scratch file with no name: dir is left as it was, the bytes read back, a missing dir is named in the error. */
static void tmpfile_has_no_name(void)
{
	char sub[256], cmd[300], got[8] = { 0 };
	struct bb_err e = { 0 };
	int fd;

	snprintf(sub, sizeof sub, "%s/tmpfile", dir);
	T_CHECK(mkdir(sub, 0700) == 0);
	fd = fd_tmpfile(sub, &e);
	T_CHECK(fd >= 0);
	T_CHECK(fd_write_all(fd, "scratch", 7) == 0);
	T_CHECK(pread(fd, got, 7, 0) == 7);
	T_STREQ(got, "scratch");
	T_CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", sub);
	T_CHECK(system(cmd) == 0);
	close(fd);
	snprintf(sub, sizeof sub, "%s/no-such-dir", dir);
	T_CHECK(fd_tmpfile(sub, &e) == -1);
	T_CHECK(strstr(e.msg, "temporary file in") && strstr(e.msg, "no-such-dir"));
}

int main(void)
{
	char cmd[64];

	if (!mkdtemp(dir))
		return 1;
	T_RUN(atomic_write_replaces);
	T_RUN(atomic_write_failure_leaves_nothing);
	T_RUN(read_file_is_bounded);
	T_RUN(flags_and_full_io);
	T_RUN(remove_tree_removes_and_never_follows);
	T_RUN(open_beneath_follows_nothing);
	T_RUN(mkdirs_beneath_stops_at_links);
	T_RUN(write_at_replaces_links);
	T_RUN(remove_and_copy_at_stay_inside);
	T_RUN(open_in_root_stays_in_it);
	T_RUN(tmpfile_has_no_name);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	T_END();
}
