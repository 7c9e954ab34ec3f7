/* runtime.h - the embedded runtime: a sidecar and an agent in their own namespaces, joined by one veth, nothing else reachable. */
#ifndef BB_HOST_RUNTIME_H
#define BB_HOST_RUNTIME_H
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/*
 *   host netns                 sidecar netns                  agent netns
 *   bb bottle run ─ dialer ◄── egress (no route out) ◄─ veth ─ agent (default
 *   (dials upstreams,  unix     10.231.0.1/24                  route → sidecar)
 *    re-checks policy) socket                                  10.231.0.2/24
 *
 * Both sides get new user, mount, pid, net, uts and ipc namespaces; bb
 * init is PID 1 in each, in a staged root entered with pivot_root (the
 * host's filesystem read-only, or an image's rootfs), with a minimal /dev
 * and the pid namespace's /proc. The agent's workspace is read-write,
 * /tmp and /run are fresh tmpfs; the bottle's state directory (tokens,
 * plan) is hidden under an empty tmpfs. The sidecar's only network is the
 * veth: the host-side dialer connects upstreams for it (lib/dial.h),
 * re-checking policy, so even a compromised sidecar reaches nothing the
 * policy does not name. Each side has its own cgroup (memory, pids).
 *
 * User namespaces (docs/runtime.md): run as root, the agent's root is an
 * unprivileged host uid (RT_UID_BASE + 2*PID + 1) and the workspace
 * owner's uid/gid map 1:1; the sidecar maps only uid/gid 0 to 0 (it reads
 * the root-owned 0600 plan the host rewrites on approval) and has no
 * capability over the host's namespaces. Run by another user (rootless),
 * everything lives in one user namespace where that user is 0; the agent
 * then runs as uid 0 of its namespace (that user on the host), without
 * capabilities.
 */

#define RT_SIDECAR_ADDR "10.231.0.1"
#define RT_AGENT_ADDR "10.231.0.2"
#define RT_PREFIX 24
#define RT_CA_BUNDLE_MAX (8u << 20) /* the agent's CA bundle (system roots + bottle CA) */
#define RT_UID_BASE 2147483648u /* 2^31: host uids of the agent's root (+2*PID+1); no account has them */
#define RT_WORKSPACE_IN_IMAGE "/workspace" /* where the workspace is mounted over an image's rootfs */
#define RT_AGENT_BIN "/run/bb/bin" /* links to the agent program (bin_links), first on the agent's PATH */
/* Default limits (rt_config memory_max/pids_max 0), applied where cgroups are writable. */
#define RT_AGENT_MEMORY_DEFAULT (8LL << 30)
#define RT_AGENT_PIDS_DEFAULT 4096L
#define RT_SIDECAR_MEMORY_DEFAULT (1LL << 30)
#define RT_SIDECAR_PIDS_DEFAULT 256L

/*
 * The vm backend (host/vm.c) runs its VMM as the agent side: the same
 * shim, namespaces, user namespace (the VMM runs as the agent's uid, with
 * the kvm device's group), cgroup and seccomp filter as the agent's bb
 * init gets; a root of its own (the host's filesystem read-only, /dev/kvm)
 * holding the guest's exports under /run/bb; no network but a tap device
 * the runtime makes in the sidecar's namespace (the sidecar's address on
 * it, RT_SIDECAR_ADDR) and hands over. The VMM finds its descriptors open
 * at RT_VMM_FD_FIRST: the tap first, then fds[0..nfds).
 */
#define RT_VMM_FD_FIRST 3
#define RT_VMM_FDS_MAX 8
#define RT_VMM_EXPORT "/run/bb/export"   /* the guest's root, read-only (in the VMM's root) */
#define RT_VMM_WORKSPACE "/run/bb/ws"    /* the workspace, read-write */
#define RT_VMM_HOME "/run/bb/home"       /* the agent's home, read-write */
#define RT_VMM_TAP "bb-s0"               /* the tap's name in the sidecar's namespace */
struct rt_vmm {
	char *const *argv;        /* the VMM's command: argv[0] an absolute path the host's filesystem holds */
	char **env;
	int fds[RT_VMM_FDS_MAX];  /* handed over at RT_VMM_FD_FIRST + 1 + i (the caller closes its copies after rt_run) */
	size_t nfds;
	int kvm;                  /* bind /dev/kvm into the VMM's /dev */
	unsigned kvm_gid;         /* its group, mapped and given to the VMM (0: none needed) */
	int kvm_own;              /* the host's admits root alone (0600): the VMM's /dev gets a node of the
				   * device of its own instead, owned by the VMM's uid */
	long long memory_max;     /* the VMM side's memory limit: the guest's RAM and the VMM's own */
	/*
	 * While the VM runs (vmm is the VMM side's shim): serve its streams
	 * until the shim has ended and been waited for; the agent's status in
	 * *exit_code. 0, or -1 with e.
	 */
	int (*serve)(struct rt_vmm *v, pid_t vmm, int *exit_code, struct bb_err *e);
	void *arg;
};

struct rt_config {
	const char *bb_path;   /* this binary (re-executed as init and daemons) */
	const char *state_dir; /* private (0700) directory of this bottle: plan, sockets, logs */
	const char *plan_path; /* the plan JSON the sidecar reads */
	const char *ca_dir;    /* the bottle CA (ca.crt, ca.key) */
	const char *workspace; /* bind-mounted read-write into the agent */
	const char *home_dir;  /* bind-mounted read-write as the agent's HOME (/tmp/home); NULL: an empty one */
	volatile pid_t *agent_pid; /* if set: the agent side's top process while it runs (stop forwards SIGTERM to it), else 0 */
	const char *hosts_path; /* the dialer's hosts file override (tests), or NULL */
	const char *daemons;   /* BB_SIDECAR_DAEMONS */
	uid_t uid;             /* the agent runs as this non-root user */
	gid_t gid;
	char *const *argv;     /* the agent's command */
	char **agent_env;      /* its environment (proxy, CA and gate variables added by the caller) */
	char **sidecar_env;    /* the sidecar's: token slots live here only */
	const char *rootfs;    /* NULL: the host's filesystem read-only; else an unpacked image root (read-only) */
	const char *const *ro_paths; /* host paths (canonical) the agent program needs: bound read-only at the same
				      * place where the agent's root hides them (rt_path_hidden); NULL-terminated or NULL */
	const char *const *bin_links; /* "NAME=TARGET": symlinks in RT_AGENT_BIN; NULL-terminated or NULL */
	long long memory_max;  /* the agent's memory limit, bytes: 0 = default (where available), -1 = none,
				  > 0 = this, and the start fails if it cannot be applied */
	long pids_max;         /* the agent's process limit, same rules */
	int fault;             /* test hook: fail at step N (BB_RT_FAULT, docs/runtime.md); 0 = never */
	struct rt_vmm *vmm;    /* the vm backend: the agent side runs this VMM instead of bb init (NULL: bb init) */
};

/*
 * Run one bottle to completion: start both sides (the sidecar's listening
 * sockets are made in its namespace before its daemons start, so the agent
 * starts at once), wire the network, run the agent, tear everything down.
 * BB_MEMORY_MAX / BB_PIDS_MAX (a number with an optional K/M/G suffix, or
 * "none") override memory_max/pids_max when those are 0, and BB_RT_ROOTFS
 * (an unpacked rootfs directory) rootfs when it is NULL. On
 * success *exit_code is the agent command's status (128+n for a signal).
 * Any isolation step that fails stops the run with e naming the step and
 * the kernel's error, after killing what was started (fail closed).
 */
int rt_run(const struct rt_config *c, int *exit_code, struct bb_err *e);

/*
 * The veth between the namespaces open at s_ns (sidecar) and a_ns (agent),
 * addresses, loopback, the agent's default route; self_ns is where the
 * caller returns. Shared with the OCI backend. 0, or -1 with e set.
 */
int rt_wire(int self_ns, int s_ns, int a_ns, struct bb_err *e);
/* The vm backend's link: a tap in the sidecar's namespace (s_ns), addressed, its descriptor; or -1 with e. */
int rt_tap(int self_ns, int s_ns, struct bb_err *e);
/* The agent's resolv.conf: the sidecar answers (bb dns). */
#define RT_AGENT_RESOLV "nameserver " RT_SIDECAR_ADDR "\noptions timeout:2 attempts:2\n"

/*
 * The CA bundle the agent trusts, appended to out: the system roots
 * (TLS_DEFAULT_CA_FILE; none if missing) and the bottle CA's certificate
 * (ca_dir/ca.crt, required). 0, or -1 with e naming the file.
 */
int rt_agent_ca_bundle(const struct rt_config *c, struct buf *out, struct bb_err *e);

/*
 * The agent side's argv: `ARGV0 init --agent --uid U --gid G -- CMD...`
 * (no --uid/--gid when c->uid is 0: rootless, the agent keeps uid 0 of its
 * namespace), with uid and gid written into the caller's buffers (16 bytes each).
 * dev_minimal adds --dev-minimal (init takes out of /dev what a runtime added).
 * calloc'd (the strings are not copied); NULL when out of memory.
 */
char **rt_agent_argv(const struct rt_config *c, const char *argv0, char uid[16], char gid[16], int dev_minimal);

/* The host uid (and gid) that is root in the agent's user namespace when bb runs as root: RT_UID_BASE + 2*getpid() + 1. */
unsigned rt_agent_root_id(void);

/*
 * The agent's limits with BB_MEMORY_MAX / BB_PIDS_MAX applied where the
 * config leaves 0: *mem and *pids > 0 required, 0 default, -1 none.
 * 0, or -1 with e naming the bad variable.
 */
int rt_agent_limits(const struct rt_config *c, long long *mem, long *pids, struct bb_err *e);

/*
 * Whether the agent's root hides the host's canonical path real: an image
 * root shows nothing of the host; the host's root covers /home, /root, /tmp,
 * /run, /var/tmp, /boot, /lost+found, /proc, /dev and /sys with its own.
 * The one list every backend binds ro_paths by.
 */
int rt_path_hidden(const struct rt_config *c, const char *real);

/*
 * Make "NAME=TARGET" links (c->bin_links) in dir, created 0755 when
 * missing: the agent's RT_AGENT_BIN as a backend stages it. 0, or -1 with
 * errno set.
 */
int rt_make_bin_links(const struct rt_config *c, const char *dir);

/* The agent's working directory as it sees it: the workspace's host path, or RT_WORKSPACE_IN_IMAGE. */
const char *rt_agent_workdir(const struct rt_config *c);

/*
 * Whether this host lets the calling (non-root) user make user namespaces:
 * 0, or -1 with e naming the sysctl that forbids it
 * (kernel.unprivileged_userns_clone, user.max_user_namespaces).
 */
int rt_rootless_check(struct bb_err *e);

/*
 * `bb bottle cleanup`: remove the cgroups (bb-PID-*) of bottles whose host
 * process is gone. Their paths, one a line, in found[0..cap). The number
 * removed, or -1 with e set.
 */
int rt_cleanup_cgroups(char *found, size_t cap, struct bb_err *e);

/* Until egress accepts on the sidecar's address (a socket made in s_ns), at most timeout_ms. */
int rt_wait_egress(int self_ns, int s_ns, int timeout_ms, struct bb_err *e);

#endif
