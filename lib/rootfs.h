/* rootfs.h - the one walk over the top level of a bottle's root (the host's or an image's), with each backend's own action per entry. */
#ifndef BB_ROOTFS_H
#define BB_ROOTFS_H

#include <stddef.h>
#include <sys/syscall.h>

#include "err.h"

/* mount_setattr(2), for a libc or kernel headers that predate it. */
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

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

/*
 * The staged-root action the embedded runtime and the vm backend's guest
 * share: into the directory stage (a fresh tmpfs), each directory
 * bind-mounted recursively, read-only and nosuid; each symlink copied
 * (merged /usr: /bin -> usr/bin); each regular file bound read-only; each
 * hidden name covered by an empty tmpfs (left writable: a workspace that
 * lives there is bound back later; rootfs_hidden_readonly seals them);
 * the names the stage provides itself left out, except /sys when
 * host_sys is set (the host's, read-only, for the agent on the host's
 * root). 0, or -1 with errno set.
 */
int rootfs_stage(const char *stage, const char *src, enum rootfs_view view, int host_sys);

/* The hidden names' tmpfs under stage, read-only now (those that exist as directories). 0, or -1 with errno. */
int rootfs_hidden_readonly(const char *stage, enum rootfs_view view);

/* mount_setattr(2) on path (flags: AT_RECURSIVE or 0): set and clear MOUNT_ATTR_* bits. 0, or -1 with errno. */
int rootfs_mount_attr(const char *path, unsigned flags, unsigned long long set, unsigned long long clr);

/* How view treats name, whatever the file is: ROOTFS_OWN, ROOTFS_HIDDEN, -1 (never shown), or ROOTFS_DIR (by type). */
int rootfs_name_kind(enum rootfs_view view, const char *name);

/* The i-th name view hides (ROOTFS_HIDDEN), or NULL past the last: what a backend covers and later makes read-only. */
const char *rootfs_hidden(enum rootfs_view view, size_t i);

/*
 * The agent's /dev on every backend (docs/runtime.md): these device nodes
 * (the character devices major:minor), these links ({name, target}), and
 * the pts and shm directories; nothing else. Both lists end with a NULL name.
 */
struct rootfs_dev_node {
	const char *name;
	unsigned major, minor;
};
extern const struct rootfs_dev_node rootfs_dev_nodes[];
extern const char *const rootfs_dev_links[][2];
/* Whether name, an entry of /dev, is one of that set. */
int rootfs_dev_kept(const char *name);

#endif
