/* rootfs.c - the top-level walk of a bottle's root: which names each view keeps, provides itself or hides; the staged-root action. */
#include "rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

int rootfs_mount_attr(const char *path, unsigned flags, unsigned long long set, unsigned long long clr)
{
	struct { /* struct mount_attr, which not every libc's headers have */
		unsigned long long attr_set, attr_clr, propagation, userns_fd;
	} a = { set, clr, 0, 0 };
	return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a, sizeof a);
}

/* Where a walk puts its entries: the stage, and whether the host's /sys is bound. */
struct stage_walk {
	const char *stage;
	int host_sys;
};

static int stage_entry(void *arg, const struct rootfs_entry *en)
{
	const struct stage_walk *w = arg;
	char to[4096];
	int fd;
	if ((size_t)snprintf(to, sizeof to, "%s/%s", w->stage, en->name) >= sizeof to) {
		errno = ENAMETOOLONG;
		return -1;
	}
	switch (en->kind) {
	case ROOTFS_OWN:
		if (!(w->host_sys && !strcmp(en->name, "sys")))
			return 0;
		/* fall through */ /* the host's /sys, read-only, as a directory */
	case ROOTFS_DIR:
		return mkdir(to, 0755) < 0 || mount(en->src, to, NULL, MS_BIND | MS_REC, NULL) < 0 ||
				       rootfs_mount_attr(to, AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) < 0
			       ? -1
			       : 0;
	case ROOTFS_LINK:
		return symlink(en->link, to);
	case ROOTFS_FILE:
		fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		close(fd);
		return mount(en->src, to, NULL, MS_BIND, NULL) < 0 ||
				       rootfs_mount_attr(to, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) < 0
			       ? -1
			       : 0;
	case ROOTFS_HIDDEN:
		return mkdir(to, 0755) < 0 ||
				       mount("tmpfs", to, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") < 0
			       ? -1
			       : 0;
	}
	return 0;
}

int rootfs_stage(const char *stage, const char *src, enum rootfs_view view, int host_sys)
{
	struct stage_walk w = { stage, host_sys };
	return rootfs_walk(src, view, stage_entry, &w);
}

int rootfs_hidden_readonly(const char *stage, enum rootfs_view view)
{
	const char *name;
	char p[4200];
	struct stat st;
	size_t k;
	for (k = 0; (name = rootfs_hidden(view, k)) != NULL; k++) {
		snprintf(p, sizeof p, "%s/%s", stage, name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && rootfs_mount_attr(p, 0, MOUNT_ATTR_RDONLY, 0) < 0)
			return -1;
	}
	return 0;
}

const struct rootfs_dev_node rootfs_dev_nodes[] = { { "null", 1, 3 },    { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 },
						      { "urandom", 1, 9 }, { "tty", 5, 0 },  { NULL, 0, 0 } };
const char *const rootfs_dev_links[][2] = { { "fd", "/proc/self/fd" },     { "stdin", "/proc/self/fd/0" },
					     { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
					     { "ptmx", "pts/ptmx" },          { NULL, NULL } };

int rootfs_dev_kept(const char *name)
{
	size_t i;
	for (i = 0; rootfs_dev_nodes[i].name; i++)
		if (!strcmp(name, rootfs_dev_nodes[i].name))
			return 1;
	for (i = 0; rootfs_dev_links[i][0]; i++)
		if (!strcmp(name, rootfs_dev_links[i][0]))
			return 1;
	return !strcmp(name, "pts") || !strcmp(name, "shm");
}
