/* rootfs.c - the top-level walk of a bottle's root: which names each view keeps, provides itself or hides. */
#include "rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The names a view treats specially; anything else is what its file type says. */
static const struct {
	const char *name;
	int kind[3]; /* per view, in enum rootfs_view order; -1: never shown */
} names[] = {
	{ "proc", { ROOTFS_OWN, ROOTFS_OWN, ROOTFS_OWN } },
	{ "dev", { ROOTFS_OWN, ROOTFS_OWN, ROOTFS_OWN } },
	{ "sys", { ROOTFS_OWN, ROOTFS_OWN, ROOTFS_OWN } },
	/* The agent's scratch space is its own; the sidecar sees the host's, read-only. */
	{ "tmp", { ROOTFS_OWN, ROOTFS_OWN, ROOTFS_DIR } },
	{ "run", { ROOTFS_OWN, ROOTFS_OWN, ROOTFS_DIR } },
	/* People's keys, cloud credentials and history are not the agent's, even under its own uid. */
	{ "home", { ROOTFS_HIDDEN, ROOTFS_DIR, ROOTFS_DIR } },
	{ "root", { ROOTFS_HIDDEN, ROOTFS_DIR, ROOTFS_DIR } },
	{ "lost+found", { -1, ROOTFS_DIR, -1 } },
	{ "boot", { -1, ROOTFS_DIR, -1 } }, /* kernels and initrds: nothing a bottle runs */
};

int rootfs_name_kind(enum rootfs_view view, const char *name)
{
	size_t i;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(names[i].name, name))
			return names[i].kind[view];
	return ROOTFS_DIR;
}

const char *rootfs_hidden(enum rootfs_view view, size_t i)
{
	size_t k;
	for (k = 0; k < sizeof names / sizeof names[0]; k++)
		if (names[k].kind[view] == ROOTFS_HIDDEN && i-- == 0)
			return names[k].name;
	return NULL;
}

int rootfs_walk(const char *src, enum rootfs_view view, rootfs_action act, void *arg)
{
	DIR *d = opendir(src);
	struct dirent *de;
	int rc = 0, err = 0;
	if (!d)
		return -1;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char from[4096], lnk[4096];
		struct rootfs_entry en = { de->d_name, from, NULL, ROOTFS_DIR };
		struct stat st;
		ssize_t ll;
		int k;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		k = rootfs_name_kind(view, de->d_name);
		if (k < 0)
			continue;
		if ((size_t)snprintf(from, sizeof from, "%s/%s", strcmp(src, "/") ? src : "", de->d_name) >= sizeof from ||
		    lstat(from, &st) < 0)
			continue;
		if (k == ROOTFS_OWN || k == ROOTFS_HIDDEN) {
			en.kind = (enum rootfs_kind)k;
		} else if (S_ISLNK(st.st_mode)) {
			if ((ll = readlink(from, lnk, sizeof lnk - 1)) <= 0)
				continue;
			lnk[ll] = 0;
			en.kind = ROOTFS_LINK;
			en.link = lnk;
		} else if (S_ISDIR(st.st_mode)) {
			en.kind = ROOTFS_DIR;
		} else if (S_ISREG(st.st_mode)) {
			en.kind = ROOTFS_FILE;
		} else {
			continue;
		}
		if ((rc = act(arg, &en)) < 0)
			err = errno;
	}
	closedir(d);
	if (rc < 0)
		errno = err;
	return rc;
}
