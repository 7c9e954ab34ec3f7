/* fuzz_tar.c - fuzzer for the tar reader and path rules (lib/tar), then layer application into a scratch dir that must stay contained (lib/image). */
#include <fcntl.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd.h"
#include "fuzz.h"
#include "image.h"
#include "tar.h"

/*
 * Two passes per input. (1) The reader alone, over memory: every member it
 * returns must respect the caps, the cleaned path must hold no ".." and no
 * leading '/', and content reads must stay within the input. (2) The same
 * bytes applied as a layer under a scratch directory $TMPDIR/bb-fuzz-tar-PID/root:
 * afterwards the scratch directory must hold nothing but root/ (no write
 * escaped it through "..", a symlink or a hard link). The scratch tree is
 * removed after each input and at exit, so the fuzzer leaves nothing behind.
 */

static char scratch[256];

static void cleanup(void)
{
	if (scratch[0])
		fd_remove_tree(scratch);
}

static void parse_only(const uint8_t *data, size_t size)
{
	struct tar_mem m = { data, size, 0 };
	struct tar_reader r;
	struct tar_entry t;
	struct bb_err e = { 0 };
	char clean[TAR_PATH_MAX + 1], chunk[4096];
	uint64_t content = 0;
	int k;

	tar_reader_init(&r, tar_mem_read, &m);
	r.max_entries = 10000;
	r.max_entry_size = 1 << 20;
	while ((k = tar_next(&r, &t, &e)) == 1) {
		ssize_t got;

		if (strlen(t.path) > TAR_PATH_MAX || strlen(t.link) > TAR_PATH_MAX || t.size > (1 << 20) || t.offset > size)
			abort();
		if (tar_clean_path(t.path, clean, sizeof clean, &e) == 0) {
			if (clean[0] == '/' || !strcmp(clean, "..") || !strncmp(clean, "../", 3) || strstr(clean, "/../") ||
			    (strlen(clean) >= 3 && !strcmp(clean + strlen(clean) - 3, "/..")))
				abort();
			if (t.type == TAR_SYMLINK)
				tar_symlink_inside(clean, t.link);
		}
		while ((got = tar_read_data(&r, chunk, sizeof chunk, &e)) > 0)
			content += (uint64_t)got;
	}
	if (content > size)
		abort();
}

static void apply_contained(const uint8_t *data, size_t size)
{
	struct tar_mem m = { data, size, 0 };
	struct tar_reader r;
	struct img_apply_opts o = { 0 };
	struct img_apply_stats st = { 0 };
	struct bb_err e = { 0 };
	char root[300];
	DIR *d;
	struct dirent *de;
	int fd;

	if (!scratch[0]) {
		const char *tmp = getenv("TMPDIR");

		snprintf(scratch, sizeof scratch, "%s/bb-fuzz-tar-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
		atexit(cleanup);
	}
	fd_remove_tree(scratch);
	snprintf(root, sizeof root, "%s/root", scratch);
	if (mkdir(scratch, 0700) < 0 || mkdir(root, 0700) < 0)
		return;
	fd = open(root, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return;
	tar_reader_init(&r, tar_mem_read, &m);
	o.max_bytes = 1 << 20;
	o.max_entries = 2000;
	img_apply_layer(fd, &r, &o, &st, &e);
	close(fd);
	d = opendir(scratch);
	if (!d)
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "root"))
			abort(); /* something was written beside the root */
	closedir(d);
	fd_remove_tree(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_only(data, size);
	if (size <= 256 * 1024)
		apply_contained(data, size);
	return 0;
}
