/* test_fd.c - unit tests of lib/fd: bounded reads, atomic replacement, flags. */
#include <fcntl.h>
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
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	T_END();
}
