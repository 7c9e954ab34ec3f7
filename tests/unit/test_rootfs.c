/* test_rootfs.c - the one walk over a bottle root's top level (lib/rootfs): what each view keeps, provides itself, hides. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "rootfs.h"
#include "t.h"

struct seen {
	char line[32][96];
	size_t n;
};

static int record(void *arg, const struct rootfs_entry *en)
{
	static const char *const kinds[] = { "dir", "link", "file", "own", "hidden" };
	struct seen *s = arg;
	if (s->n < 32)
		snprintf(s->line[s->n++], sizeof s->line[0], "%s %s%s%s", en->name, kinds[en->kind], en->link ? " -> " : "",
			 en->link ? en->link : "");
	return 0;
}

static int has(const struct seen *s, const char *line)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		if (!strcmp(s->line[i], line))
			return 1;
	return 0;
}

/* A fake root: usr/ (dir), bin -> usr/bin, etc/, home/, root/, proc/, tmp/, boot/, lost+found/, a file, a fifo. */
static void make_root(char *dir)
{
	static const char *const dirs[] = { "usr", "usr/bin", "etc", "home", "root", "proc", "tmp", "boot", "lost+found", "sys" };
	char p[256];
	size_t i;
	int fd;
	snprintf(dir, 64, "/tmp/bb-rootfs.XXXXXX");
	if (!mkdtemp(dir))
		return;
	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, dirs[i]);
		mkdir(p, 0755);
	}
	snprintf(p, sizeof p, "%s/bin", dir);
	(void)!symlink("usr/bin", p);
	snprintf(p, sizeof p, "%s/.dockerenv", dir);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof p, "%s/pipe", dir);
	mkfifo(p, 0600);
}

static void remove_root(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	(void)!system(cmd);
}

static void agent_on_the_host_hides_homes_and_provides_its_own(void)
{
	char dir[64];
	struct seen s = { .n = 0 };
	make_root(dir);
	T_CHECK(rootfs_walk(dir, ROOTFS_AGENT_HOST, record, &s) == 0);
	T_CHECK(has(&s, "usr dir") && has(&s, "etc dir") && has(&s, "bin link -> usr/bin") && has(&s, ".dockerenv file"));
	T_CHECK(has(&s, "home hidden") && has(&s, "root hidden"));
	T_CHECK(has(&s, "proc own") && has(&s, "tmp own") && has(&s, "sys own"));
	T_CHECK(!has(&s, "boot dir") && !has(&s, "lost+found dir") && !has(&s, "pipe file")); /* never shown; a fifo left out */
	T_CHECK(s.n == 9);
	remove_root(dir);
}

static void an_image_keeps_its_homes_and_boot(void)
{
	char dir[64];
	struct seen s = { .n = 0 };
	make_root(dir);
	T_CHECK(rootfs_walk(dir, ROOTFS_AGENT_IMAGE, record, &s) == 0);
	T_CHECK(has(&s, "home dir") && has(&s, "root dir") && has(&s, "boot dir") && has(&s, "lost+found dir"));
	T_CHECK(has(&s, "proc own") && has(&s, "tmp own"));
	remove_root(dir);
}

static void the_sidecar_sees_tmp_and_homes_read_only(void)
{
	char dir[64];
	struct seen s = { .n = 0 };
	make_root(dir);
	T_CHECK(rootfs_walk(dir, ROOTFS_SIDECAR_HOST, record, &s) == 0);
	T_CHECK(has(&s, "tmp dir") && has(&s, "home dir") && has(&s, "proc own") && !has(&s, "boot dir"));
	remove_root(dir);
}

static void hidden_names_are_listed_per_view(void)
{
	T_STREQ(rootfs_hidden(ROOTFS_AGENT_HOST, 0), "home");
	T_STREQ(rootfs_hidden(ROOTFS_AGENT_HOST, 1), "root");
	T_CHECK(rootfs_hidden(ROOTFS_AGENT_HOST, 2) == NULL);
	T_CHECK(rootfs_hidden(ROOTFS_AGENT_IMAGE, 0) == NULL);
	T_CHECK(rootfs_name_kind(ROOTFS_AGENT_HOST, "boot") == -1 && rootfs_name_kind(ROOTFS_AGENT_HOST, "opt") == ROOTFS_DIR);
}

static int stop_at_etc(void *arg, const struct rootfs_entry *en)
{
	(void)arg;
	if (!strcmp(en->name, "etc")) {
		errno = EROFS;
		return -1;
	}
	return 0;
}

static void an_action_that_fails_stops_the_walk_with_its_errno(void)
{
	char dir[64];
	make_root(dir);
	errno = 0;
	T_CHECK(rootfs_walk(dir, ROOTFS_AGENT_HOST, stop_at_etc, NULL) == -1 && errno == EROFS);
	T_CHECK(rootfs_walk("/nonexistent-bb-root", ROOTFS_AGENT_HOST, stop_at_etc, NULL) == -1 && errno == ENOENT);
	remove_root(dir);
}

static void the_table_names_each_backend_once(void)
{
	size_t i, j;
	for (i = 0; backends[i]; i++) {
		T_CHECK(backend_find(backends[i]->name) == backends[i]);
		T_CHECK(backends[i]->run != NULL && backends[i]->isolates != NULL);
		for (j = i + 1; backends[j]; j++)
			T_CHECK(strcmp(backends[i]->name, backends[j]->name) != 0);
	}
	T_CHECK(backend_find("nosuch") == NULL && backend_find(NULL) == NULL);
	T_CHECK(strstr(backend_choices(), "embedded, ") == backend_choices() && !strstr(backend_choices(), "bare"));
}

int main(void)
{
	T_RUN(agent_on_the_host_hides_homes_and_provides_its_own);
	T_RUN(an_image_keeps_its_homes_and_boot);
	T_RUN(the_sidecar_sees_tmp_and_homes_read_only);
	T_RUN(hidden_names_are_listed_per_view);
	T_RUN(an_action_that_fails_stops_the_walk_with_its_errno);
	T_RUN(the_table_names_each_backend_once);
	T_END();
}
