/* cgroup.h - a bottle side's memory and pids limits: one cgroup per side, cgroup v2 or v1 per controller, removed at the end. */
#ifndef BB_CGROUP_H
#define BB_CGROUP_H

#include <limits.h>
#include <sys/types.h>

#include "err.h"

/*
 * Hosts mix hierarchies (systemd's "hybrid": v1 controllers plus an empty
 * cgroup2 mount), so each controller is looked up on its own: the
 * cgroup2 mount when it offers the controller, else the v1 mount that
 * carries it. The new cgroup is a child of the caller's own cgroup in that
 * hierarchy (/proc/self/cgroup), so the caller's own limits still bound it.
 */

#define CGROUP_NAME_MAX 64
#define CGROUP_PREFIX "bb-" /* every cgroup bb makes starts so: bb-PID-SIDE */

struct cgroup_ctl {
	char dir[PATH_MAX + 256]; /* the cgroup's directory; "" when the controller is not available */
	int v2;
	int made;           /* we created dir: remove it at the end */
};

struct cgroup {
	struct cgroup_ctl mem, pids;
};

/*
 * Find the memory and pids controllers and create NAME under the caller's
 * cgroup in each that is available and writable. A controller that is
 * missing or not writable (rootless, read-only /sys/fs/cgroup) is left
 * with dir "" and why in why[0..cap) ("memory: no writable hierarchy").
 * Always 0: availability is the caller's decision (fail closed when a
 * limit was asked for).
 */
int cgroup_make(struct cgroup *cg, const char *name, char *why, size_t cap);

/* memory.max (v2) or memory.limit_in_bytes (v1, and memsw when the kernel has it), in bytes. 0, or -1 with e set. */
int cgroup_set_memory(struct cgroup *cg, long long bytes, struct bb_err *e);
/* pids.max. 0, or -1 with e set. */
int cgroup_set_pids(struct cgroup *cg, long max, struct bb_err *e);
/* Move pid into every controller's cgroup (its later children follow). 0, or -1 with e set. */
int cgroup_add(struct cgroup *cg, pid_t pid, struct bb_err *e);
/*
 * SIGKILL whatever is still in the cgroups and remove the directories we
 * made (waiting up to about a second for the kernel to empty them).
 * 0, or -1 with e naming the directory left.
 */
int cgroup_remove(struct cgroup *cg, struct bb_err *e);

/*
 * `bb bottle cleanup`: remove the bb-PID-* cgroups under the caller's own
 * cgroups whose PID no longer runs. found[0..cap) gets their paths, one a
 * line. The number removed, or -1 with e set.
 */
int cgroup_cleanup_stale(char *found, size_t cap, struct bb_err *e);

#endif
