/* replay.c - runs a fuzzer's entry point over corpus files, so make check replays every corpus without libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "fd.h"
#include "fuzz.h"

static int run_file(const char *path)
{
	struct buf b = BUF_INIT(0);
	struct bb_err e = { 0 };

	if (fd_read_file(path, 4 << 20, &b, &e) < 0) {
		printf("not ok - %s: %s\n", path, e.msg);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)(b.p ? b.p : ""), b.len);
	buf_free(&b);
	return 0;
}

int main(int argc, char **argv)
{
	int i, n = 0, bad = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;
		char path[4096];

		if (stat(argv[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
			bad += run_file(argv[i]);
			n++;
			continue;
		}
		d = opendir(argv[i]);
		if (!d) {
			printf("not ok - cannot open %s\n", argv[i]);
			return 1;
		}
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
			bad += run_file(path);
			n++;
		}
		closedir(d);
	}
	/* Reaching here means no input crashed or tripped a sanitizer. */
	printf("# replayed %d inputs\n", n);
	return bad ? 1 : 0;
}
