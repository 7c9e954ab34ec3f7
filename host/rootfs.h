/* rootfs.h - the one walk over the top level of a bottle's root (the host's or an image's), with each backend's own action per entry. */
#ifndef BB_HOST_ROOTFS_H
#define BB_HOST_ROOTFS_H

#include <stddef.h>

#include "err.h"

/*
 * Every backend builds the agent's root the same way: the top-level
 * entries of the source ("/" or an imported image's rootfs) become
 * read-only binds, copied symlinks or bound files, except the names the
 * backend provides itself (/proc, /dev, ...) and the ones hidden from the
 * agent (people's homes). Which name is which lives here, once; what a
 * backend does with an entry (a bind mount, an OCI mount entry, an Engine
 * API bind, a 9p export) is its action.
 */

/* Whose root, from where. */
enum rootfs_view {
	ROOTFS_AGENT_HOST,   /* the agent's, from the host's "/" */
	ROOTFS_AGENT_IMAGE,  /* the agent's, from an image's unpacked rootfs */
	ROOTFS_SIDECAR_HOST, /* the sidecar's, from the host's "/" (OCI; the embedded runtime's dynamic build) */
};

enum rootfs_kind {
	ROOTFS_DIR,    /* a directory: bind it read-only (recursive, nosuid) */
	ROOTFS_LINK,   /* a symlink (merged /usr: /bin -> usr/bin): copy it; entry.link is its target */
	ROOTFS_FILE,   /* a regular file: bind it read-only */
	ROOTFS_OWN,    /* the backend provides its own (proc, dev, sys, tmp, run) */
	ROOTFS_HIDDEN, /* present but not the agent's to read (home, root): an empty directory, covered */
};

struct rootfs_entry {
	const char *name; /* the top-level name ("usr") */
	const char *src;  /* its path in the source ("/usr", "/img/rootfs/usr") */
	const char *link; /* ROOTFS_LINK: the link's target; else NULL */
	enum rootfs_kind kind;
};

/* Called once per entry kept; 0 to go on, -1 (errno set) to stop the walk. */
typedef int (*rootfs_action)(void *arg, const struct rootfs_entry *en);

/*
 * Walk the top level of src (an absolute directory) as view sees it:
 * names never shown (lost+found, boot on the host; "." and "..") are
 * left out, every other entry goes to act in directory order, classified
 * (what the name is for in this view first, then what the file is;
 * other file types are left out). 0, or -1 with errno set (by opendir or
 * by the action that stopped the walk).
 */
int rootfs_walk(const char *src, enum rootfs_view view, rootfs_action act, void *arg);

/* How view treats name, whatever the file is: ROOTFS_OWN, ROOTFS_HIDDEN, -1 (never shown), or ROOTFS_DIR (by type). */
int rootfs_name_kind(enum rootfs_view view, const char *name);

/* The i-th name view hides (ROOTFS_HIDDEN), or NULL past the last: what a backend covers and later makes read-only. */
const char *rootfs_hidden(enum rootfs_view view, size_t i);

#endif
