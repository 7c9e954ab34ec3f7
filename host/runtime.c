/* runtime.c - the embedded runtime: user and other namespaces, the staged root and pivot_root, cgroups, the veth, socket activation, start order and teardown. */
#include "runtime.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "ca.h"
#include "cgroup.h"
#include "fd.h"
#include "netlink.h"
#include "plan.h"
#include "proc.h"
#include "rootfs.h"
#include "seccomp.h"
#include "tls.h"

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID)

/* A shim: the child that enters the namespaces and becomes the parent of PID 1 there. */
struct shim {
	pid_t pid;
	int ready_rd; /* the shim writes 'R', or 'E' and why */
	int go_wr;    /* the host writes 'G' */
};

/* In a shim: report a failed step to the host and die. */
static void __attribute__((noreturn)) shim_fail(int ready_wr, const char *step, int err)
{
	char msg[300];
	int n = snprintf(msg, sizeof msg, "E%s: %s", step, strerror(err));
	(void)!write(ready_wr, msg, (size_t)(n > 0 ? n : 1));
	_exit(111);
}

static int write_file(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	if (fd_write_all(fd, p, n) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

int rt_agent_ca_bundle(const struct rt_config *c, struct buf *out, struct bb_err *e)
{
	struct buf part = BUF_INIT(RT_CA_BUNDLE_MAX);
	char path[4096];
	int rc;

	if (fd_read_file(TLS_DEFAULT_CA_FILE, RT_CA_BUNDLE_MAX, &part, NULL) == 0 &&
	    buf_append(out, part.p, part.len, e) < 0) {
		buf_free(&part);
		return -1;
	}
	buf_free(&part);
	snprintf(path, sizeof path, "%s/%s", c->ca_dir, CA_CERT_FILE);
	part = (struct buf)BUF_INIT(1u << 20);
	rc = fd_read_file(path, 1u << 20, &part, e) < 0 || buf_append(out, part.p, part.len, e) < 0 ? -1 : 0;
	buf_free(&part);
	return rc;
}

/* mkdir -p for a path that may now lie on a fresh tmpfs (its parents there are missing). */
static int mkdir_p(const char *path)
{
	char p[4096];
	size_t i, n = strlen(path);
	if (n >= sizeof p)
		return -1;
	memcpy(p, path, n + 1);
	for (i = 1; i <= n; i++)
		if (p[i] == '/' || p[i] == 0) {
			char ch = p[i];
			p[i] = 0;
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -1;
			p[i] = ch;
		}
	return 0;
}

/* root + path ("/stage" + "/etc/x"), or -1 when it does not fit. */
static int in_root(char *out, size_t cap, const char *root, const char *path)
{
	return (size_t)snprintf(out, cap, "%s%s", root, path) >= cap ? -1 : 0;
}

/*
 * Put the directory held open at fd at path, writable or not. It was
 * opened before mounts that may cover it (a workspace under /tmp), so it is
 * reached through the fd, not the path.
 */
static int bind_back(int fd, const char *path, int writable)
{
	char src[64];
	struct stat st;
	snprintf(src, sizeof src, "/proc/self/fd/%d", fd);
	if (stat(path, &st) < 0 && mkdir_p(path) < 0)
		return -1;
	if (mount(src, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	return writable ? rootfs_mount_attr(path, AT_RECURSIVE, 0, MOUNT_ATTR_RDONLY)
			: rootfs_mount_attr(path, AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0);
}

/* Cover a directory with an empty read-only tmpfs, unless it is not there (a tmpfs above hid it already). */
static int hide(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return 0;
	return mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k");
}

/*
 * A minimal /dev: a tmpfs (read-only once filled) with the host's null,
 * zero, full, random, urandom and tty bound onto empty files (a user
 * namespace cannot mknod), a private devpts, a tmpfs /dev/shm and the
 * fd/stdin/stdout/stderr links; the VMM's (kvm) also /dev/kvm.
 */
static int make_dev(const struct rt_config *c, const char *stage, int kvm)
{
	const struct rootfs_dev_node *nodes = rootfs_dev_nodes;
	const char *const(*links)[2] = rootfs_dev_links;
	char dev[4096], p[4200], h[64];
	size_t i;
	if (in_root(dev, sizeof dev, stage, "/dev") < 0 || mkdir(dev, 0755) < 0 ||
	    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		return -1;
	for (i = 0; nodes[i].name; i++) {
		int fd;
		snprintf(p, sizeof p, "%s/%s", dev, nodes[i].name);
		snprintf(h, sizeof h, "/dev/%s", nodes[i].name);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0)
			return -1;
		close(fd);
		if (mount(h, p, NULL, MS_BIND, NULL) < 0)
			return -1;
	}
	for (i = 0; links[i][0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dev, links[i][0]);
		if (symlink(links[i][1], p) < 0)
			return -1;
	}
	snprintf(p, sizeof p, "%s/pts", dev);
	if (mkdir(p, 0755) < 0 ||
	    mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
		return -1;
	snprintf(p, sizeof p, "%s/shm", dev);
	if (mkdir(p, 01777) < 0 || mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m") < 0)
		return -1;
	if (kvm && c->vmm->kvm_own) {
		/*
		 * The host's /dev/kvm admits root alone: the VMM gets a node of the
		 * device owned by its uid, in its own /dev (made here with the
		 * caller's privilege, before the user namespace; nothing on the host).
		 */
		struct stat st;
		unsigned id = c->uid ? c->uid : rt_agent_root_id(), gid = c->gid ? c->gid : rt_agent_root_id();
		snprintf(p, sizeof p, "%s/kvm", dev);
		if (stat("/dev/kvm", &st) < 0 || !S_ISCHR(st.st_mode) || mknod(p, S_IFCHR | 0600, st.st_rdev) < 0 ||
		    chown(p, id, gid) < 0)
			return -1;
	} else if (kvm) { /* the vm backend's VMM: the hypervisor, nothing else added */
		int fd;
		snprintf(p, sizeof p, "%s/kvm", dev);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0)
			return -1;
		close(fd);
		if (mount("/dev/kvm", p, NULL, MS_BIND, NULL) < 0)
			return -1;
	}
	return rootfs_mount_attr(dev, 0, MOUNT_ATTR_RDONLY, 0);
}

int rt_path_hidden(const struct rt_config *c, const char *real)
{
	static const char *const covered[] = { "/home", "/root", "/tmp", "/run", "/var/tmp", "/boot", "/lost+found",
					       "/proc", "/dev", "/sys", NULL };
	size_t i, n;
	if (c->rootfs)
		return 1;
	for (i = 0; covered[i]; i++) {
		n = strlen(covered[i]);
		if (!strncmp(real, covered[i], n) && (real[n] == '/' || real[n] == 0))
			return 1;
	}
	return 0;
}

int rt_make_bin_links(const struct rt_config *c, const char *dir)
{
	const char *const *l;
	if (!c->bin_links || !*c->bin_links)
		return 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	for (l = c->bin_links; *l; l++) {
		const char *eq = strchr(*l, '=');
		char p[PATH_MAX + 300];
		if (!eq || eq == *l || memchr(*l, '/', (size_t)(eq - *l)) || eq[1] != '/') {
			errno = EINVAL; /* NAME is a plain name; TARGET an absolute path */
			return -1;
		}
		if ((size_t)snprintf(p, sizeof p, "%s/%.*s", dir, (int)(eq - *l), *l) >= sizeof p) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if ((unlink(p) < 0 && errno != ENOENT) || symlink(eq + 1, p) < 0) /* a resumed bottle's may point elsewhere */
			return -1;
	}
	return 0;
}


static int bind_host_ro(const char *stage, const char *path);

/* The stage's mount point: a directory in the state dir, made by the host. */
static void stage_path(const struct rt_config *c, int agent, char *out, size_t cap)
{
	snprintf(out, cap, "%s/root.%s", c->state_dir, agent == 2 ? "vm" : agent ? "agent" : "sidecar");
}

/*
 * The agent's root, staged under its stage dir: the host's filesystem (or
 * the image's rootfs) read-only, the workspace read-write, fresh tmpfs on
 * /tmp and /run (its CA bundle and resolv.conf live there), a minimal
 * /dev, the bottle state and the CA key hidden under empty tmpfs.
 */
/*
 * The staged root's own entries, each side's: a minimal /dev (with /dev/kvm for the VMM), the
 * mount point of /proc, fresh tmpfs /tmp and /run of the given options. Fails the shim, named.
 */
static void stage_own(const struct rt_config *c, int ready_wr, const char *stage, int kvm, const char *tmp_opts,
		      const char *run_opts)
{
	char p[4200];
	if (c->fault == 8 || make_dev(c, stage, kvm) < 0)
		shim_fail(ready_wr, c->fault == 8 ? "minimal /dev (fault injected)" : kvm ? "minimal /dev with /dev/kvm" : "minimal /dev",
			  c->fault == 8 ? EPERM : errno);
	snprintf(p, sizeof p, "%s/proc", stage);
	if (mkdir(p, 0555) < 0)
		shim_fail(ready_wr, "mkdir /proc", errno);
	snprintf(p, sizeof p, "%s/tmp", stage);
	if (mkdir(p, 01777) < 0 || mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, tmp_opts) < 0)
		shim_fail(ready_wr, "tmpfs on /tmp", errno);
	snprintf(p, sizeof p, "%s/run", stage);
	if (mkdir(p, 0755) < 0 || mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, run_opts) < 0)
		shim_fail(ready_wr, "tmpfs on /run", errno);
}

static void agent_mounts(const struct rt_config *c, int ready_wr)
{
	static const char resolv[] = RT_AGENT_RESOLV;
	struct buf b = BUF_INIT(RT_CA_BUNDLE_MAX);
	struct bb_err e;
	struct stat st;
	char stage[4096], p[4200], real_state[PATH_MAX], real_ca[PATH_MAX], real_ws[PATH_MAX];
	int ws, home = -1;

	/* What must be read from the host before it is covered. */
	if (rt_agent_ca_bundle(c, &b, &e) < 0)
		shim_fail(ready_wr, "read the bottle CA certificate", e.code < 1000 ? e.code : EINVAL);
	ws = open(c->workspace, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ws < 0)
		shim_fail(ready_wr, "open the workspace", errno);
	if (c->home_dir && (home = open(c->home_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		shim_fail(ready_wr, "open the agent's home", errno);
	if (!realpath(c->state_dir, real_state) || !realpath(c->workspace, real_ws))
		shim_fail(ready_wr, "resolve the state and workspace paths", errno);
	if (!realpath(c->ca_dir, real_ca))
		real_ca[0] = 0; /* no CA directory: nothing to hide */
	stage_path(c, 1, stage, sizeof stage);
	if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		shim_fail(ready_wr, "tmpfs for the staged root", errno);
	if (rootfs_stage(stage, c->rootfs ? c->rootfs : "/", c->rootfs ? ROOTFS_AGENT_IMAGE : ROOTFS_AGENT_HOST, !c->rootfs) < 0)
		shim_fail(ready_wr, c->rootfs ? "bind the image's rootfs read-only" : "bind the host filesystem read-only",
			  errno);
	stage_own(c, ready_wr, stage, 0, "mode=1777,size=512m", "mode=0755,size=16m");
	snprintf(p, sizeof p, "%s/run/bb", stage);
	if (mkdir(p, 0755) < 0)
		shim_fail(ready_wr, "write /run/bb", errno);
	snprintf(p, sizeof p, "%s/run/bb/ca-bundle.crt", stage);
	if (write_file(p, b.p, b.len, 0644) < 0)
		shim_fail(ready_wr, "write /run/bb", errno);
	snprintf(p, sizeof p, "%s/run/bb/resolv.conf", stage);
	if (write_file(p, resolv, sizeof resolv - 1, 0644) < 0)
		shim_fail(ready_wr, "write /run/bb", errno);
	buf_free(&b);
	{
		char bin[4200];
		snprintf(bin, sizeof bin, "%s" RT_AGENT_BIN, stage);
		if (rt_make_bin_links(c, bin) < 0)
			shim_fail(ready_wr, "link the agent program in " RT_AGENT_BIN, errno);
	}
	{
		char dst[4200];
		snprintf(dst, sizeof dst, "%s/etc/resolv.conf", stage);
		/* A symlink would be followed from the host's root: only a file is covered. */
		if (lstat(dst, &st) == 0 && S_ISREG(st.st_mode) &&
		    (mount(p, dst, NULL, MS_BIND, NULL) < 0 || rootfs_mount_attr(dst, 0, MOUNT_ATTR_RDONLY, 0) < 0))
			shim_fail(ready_wr, "bind /etc/resolv.conf", errno);
	}
	snprintf(p, sizeof p, "%s/tmp/home", stage);
	if (mkdir(p, 0700) < 0 || chown(p, c->uid, c->gid) < 0)
		shim_fail(ready_wr, "make the agent's home", errno);
	/*
	 * Secrets: the state directory (tokens, plan) and the CA key stay out
	 * of sight. Their canonical paths: a symlink on the way (/home ->
	 * /data/home) would be followed from the host's root, outside the stage.
	 */
	if (in_root(p, sizeof p, stage, real_state) < 0 || hide(p) < 0)
		shim_fail(ready_wr, "hide the bottle state", errno ? errno : ENAMETOOLONG);
	if (real_ca[0] && (in_root(p, sizeof p, stage, real_ca) < 0 || hide(p) < 0))
		shim_fail(ready_wr, "hide the CA key", errno ? errno : ENAMETOOLONG);
	{
		/* What the agent program needs of a hidden place (an npm prefix in a home): just that, read-only. */
		const char *const *rp;
		for (rp = c->ro_paths; rp && *rp; rp++)
			if (rt_path_hidden(c, *rp) && bind_host_ro(stage, *rp) < 0)
				shim_fail(ready_wr, "bind the agent program read-only", errno);
	}
	if (in_root(p, sizeof p, stage, c->rootfs ? RT_WORKSPACE_IN_IMAGE : real_ws) < 0 || bind_back(ws, p, 1) < 0)
		shim_fail(ready_wr, "mount the workspace read-write", errno ? errno : ENAMETOOLONG);
	close(ws);
	snprintf(p, sizeof p, "%s/tmp/home", stage);
	if (home >= 0 && bind_back(home, p, 1) < 0) /* kept across resume, under the state dir */
		shim_fail(ready_wr, "mount the agent's home", errno);
	if (home >= 0)
		close(home);
	/*
	 * People's homes (keys, cloud credentials, shell history), hidden by the walk under an empty
	 * tmpfs, writable until the workspace (which may live there) was bound back: read-only now.
	 */
	if (rootfs_hidden_readonly(stage, c->rootfs ? ROOTFS_AGENT_IMAGE : ROOTFS_AGENT_HOST) < 0)
		shim_fail(ready_wr, "make the hidden home directories read-only", errno);
	if (rootfs_mount_attr(stage, 0, MOUNT_ATTR_RDONLY, 0) < 0)
		shim_fail(ready_wr, "make the staged root read-only", errno);
}

/*
 * The vm backend's agent side: PID 1 is the VMM, which needs two roots.
 * The guest's root (root.vm), exported to the guest read-only over 9p: the
 * same walk as the agent's (the host's filesystem or the image's), people's
 * homes, the bottle state and the CA hidden, but none of the agent side's
 * own mounts (the guest makes its /proc, /dev, /tmp, /run): a /proc of the
 * VMM's in an export would hand the guest the VMM's memory. The VMM's own
 * root (root.agent): the host's filesystem read-only for its binary and
 * libraries, a minimal /dev with /dev/kvm, its /proc, and under /run/bb
 * the guest's root (export), the workspace (ws) and the agent's home (home).
 */
static void vmm_mounts(const struct rt_config *c, int ready_wr)
{
	enum rootfs_view view = c->rootfs ? ROOTFS_AGENT_IMAGE : ROOTFS_AGENT_HOST;
	char guest[4096], stage[4096], p[4200], real_state[PATH_MAX], real_ca[PATH_MAX], real_ws[PATH_MAX];
	int ws, home;

	ws = open(c->workspace, O_PATH | O_DIRECTORY | O_CLOEXEC);
	home = open(c->home_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ws < 0 || home < 0)
		shim_fail(ready_wr, "open the workspace and the agent's home", errno);
	if (!realpath(c->state_dir, real_state) || !realpath(c->workspace, real_ws))
		shim_fail(ready_wr, "resolve the state and workspace paths", errno);
	if (!realpath(c->ca_dir, real_ca))
		real_ca[0] = 0;
	stage_path(c, 2, guest, sizeof guest);
	if (mount("tmpfs", guest, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		shim_fail(ready_wr, "tmpfs for the guest's root", errno);
	if (rootfs_stage(guest, c->rootfs ? c->rootfs : "/", view, 0) < 0)
		shim_fail(ready_wr, c->rootfs ? "bind the image's rootfs read-only" : "bind the host filesystem read-only", errno);
	if (!c->rootfs && ((in_root(p, sizeof p, guest, real_state) < 0 || hide(p) < 0) ||
			   (real_ca[0] && (in_root(p, sizeof p, guest, real_ca) < 0 || hide(p) < 0))))
		shim_fail(ready_wr, "hide the bottle state and the CA key", errno ? errno : ENAMETOOLONG);
	/* The workspace's mount point, where the guest cannot make it (under a hidden home): best effort elsewhere. */
	if (in_root(p, sizeof p, guest, c->rootfs ? RT_WORKSPACE_IN_IMAGE : real_ws) == 0)
		mkdir_p(p);
	if (rootfs_hidden_readonly(guest, view) < 0 || rootfs_mount_attr(guest, 0, MOUNT_ATTR_RDONLY, 0) < 0)
		shim_fail(ready_wr, "make the guest's root read-only", errno);

	stage_path(c, 1, stage, sizeof stage);
	if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		shim_fail(ready_wr, "tmpfs for the staged root", errno);
	if (rootfs_stage(stage, "/", ROOTFS_AGENT_HOST, 1) < 0)
		shim_fail(ready_wr, "bind the host filesystem read-only", errno);
	stage_own(c, ready_wr, stage, c->vmm->kvm, "mode=1777,size=16m", "mode=0755,size=1m");
	snprintf(p, sizeof p, "%s" RT_VMM_EXPORT, stage);
	if (mkdir_p(p) < 0 || mount(guest, p, NULL, MS_BIND | MS_REC, NULL) < 0)
		shim_fail(ready_wr, "the guest's root for the VMM", errno);
	snprintf(p, sizeof p, "%s" RT_VMM_WORKSPACE, stage);
	if (bind_back(ws, p, 1) < 0)
		shim_fail(ready_wr, "mount the workspace read-write", errno);
	snprintf(p, sizeof p, "%s" RT_VMM_HOME, stage);
	if (bind_back(home, p, 1) < 0)
		shim_fail(ready_wr, "mount the agent's home", errno);
	close(ws);
	close(home);
	if ((in_root(p, sizeof p, stage, real_state) < 0 || hide(p) < 0) ||
	    (real_ca[0] && (in_root(p, sizeof p, stage, real_ca) < 0 || hide(p) < 0)))
		shim_fail(ready_wr, "hide the bottle state and the CA key", errno ? errno : ENAMETOOLONG);
	if (rootfs_hidden_readonly(stage, ROOTFS_AGENT_HOST) < 0)
		shim_fail(ready_wr, "make the hidden home directories read-only", errno);
	if (rootfs_mount_attr(stage, 0, MOUNT_ATTR_RDONLY, 0) < 0)
		shim_fail(ready_wr, "make the staged root read-only", errno);
}

/* NAME's value in a NULL-terminated environment, or NULL. */
static const char *env_value(char *const *env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/*
 * The host's path (file or directory, canonical: no symlink on the way is
 * followed inside the stage) at the same place in the stage, read-only and
 * nosuid. A path that does not exist is skipped: 0.
 */
static int bind_host_ro(const char *stage, const char *path)
{
	char real[PATH_MAX], dst[4200];
	struct stat st;
	if (!realpath(path, real) || stat(real, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (in_root(dst, sizeof dst, stage, real) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (stat(dst, &st) == 0)
		return 0; /* already there: under a directory bound before (SSL_CERT_FILE inside /etc/ssl) */
	if (stat(real, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		if (mkdir_p(dst) < 0)
			return -1;
	} else {
		char *slash = strrchr(dst, '/');
		int fd;
		*slash = 0;
		if (mkdir_p(dst) < 0)
			return -1;
		*slash = '/';
		fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		close(fd);
	}
	if (mount(real, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	return rootfs_mount_attr(dst, AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0);
}

/*
 * The sidecar's: the host's, read-only (it reads the CA, the trust store and
 * the plan from it), except its state directory, where egress logs.
 */
static void sidecar_mounts(const struct rt_config *c, int ready_wr)
{
	char stage[4096], p[4200], real[PATH_MAX];
	int sd = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sd < 0)
		shim_fail(ready_wr, "open the state directory", errno);
	stage_path(c, 0, stage, sizeof stage);
	if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		shim_fail(ready_wr, "tmpfs for the staged root", errno);
	if (getauxval(AT_BASE)) {
		/* A dynamically linked bb (the sanitizer build) needs the host's libraries: the host, read-only. */
		if (rootfs_stage(stage, "/", ROOTFS_SIDECAR_HOST, 0) < 0)
			shim_fail(ready_wr, "bind the host filesystem read-only", errno);
	} else {
		/*
		 * Static bb: the sidecar's root holds what its daemons read and nothing else — the trust
		 * store for upstream TLS, the bottle CA, the state directory below (plan, keys, logs,
		 * queue); bb itself is run through the fd init holds, never by path.
		 */
		static const char *const trust[] = { "/etc/ssl", "/etc/ca-certificates", "/usr/share/ca-certificates",
						     "/etc/pki", NULL };
		const char *extra[3] = { c->ca_dir, env_value(c->sidecar_env, "SSL_CERT_FILE"),
					 env_value(c->sidecar_env, "SSL_CERT_DIR") };
		size_t k;
		for (k = 0; trust[k]; k++)
			if (bind_host_ro(stage, trust[k]) < 0)
				shim_fail(ready_wr, "bind the trust store read-only", errno);
		for (k = 0; k < 3; k++)
			if (extra[k] && bind_host_ro(stage, extra[k]) < 0)
				shim_fail(ready_wr, k ? "bind SSL_CERT_FILE/SSL_CERT_DIR read-only" : "bind the bottle CA read-only",
					  errno);
	}
	if (c->fault == 8 || make_dev(c, stage, 0) < 0)
		shim_fail(ready_wr, c->fault == 8 ? "minimal /dev (fault injected)" : "minimal /dev", c->fault == 8 ? EPERM : errno);
	snprintf(p, sizeof p, "%s/proc", stage);
	if (mkdir(p, 0555) < 0)
		shim_fail(ready_wr, "mkdir /proc", errno);
	/* Not recursive: the stage mounts below the state dir stay out. Canonical: no symlink followed outside the stage. */
	if (!realpath(c->state_dir, real) || in_root(p, sizeof p, stage, real) < 0)
		shim_fail(ready_wr, "mount the state directory writable", ENAMETOOLONG);
	{
		char src[64];
		snprintf(src, sizeof src, "/proc/self/fd/%d", sd);
		if (mkdir_p(p) < 0 || mount(src, p, NULL, MS_BIND, NULL) < 0 || rootfs_mount_attr(p, 0, 0, MOUNT_ATTR_RDONLY) < 0)
			shim_fail(ready_wr, "mount the state directory writable", errno);
	}
	close(sd);
	if (rootfs_mount_attr(stage, 0, MOUNT_ATTR_RDONLY, 0) < 0)
		shim_fail(ready_wr, "make the staged root read-only", errno);
}

/* Does the sidecar's env name daemon in BB_SIDECAR_DAEMONS and give it BB_<NAME>_ARGS (so --listen-fd can be added)? */
static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* Does BB_SIDECAR_DAEMONS name daemon? (Unset: bb init's default list, egress first.) */
static int sidecar_names(char **env, const char *daemon)
{
	const char *list = env_get(env, "BB_SIDECAR_DAEMONS"), *p;
	size_t n = strlen(daemon);
	if (!list)
		return !strcmp(daemon, "egress");
	for (p = list; (p = strstr(p, daemon)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
			return 1;
	return 0;
}

/* Is daemon in BB_SIDECAR_DAEMONS with its BB_<NAME>_ARGS set, so that `--listen-fd N` can be added? */
static int sidecar_runs(char **env, const char *daemon, const char *args_var)
{
	return env_get(env, "BB_SIDECAR_DAEMONS") && env_get(env, args_var) && sidecar_names(env, daemon);
}

/*
 * Where the daemon was told to listen: the IPv4 ADDR:PORT after "--listen "
 * in its arguments, else 0.0.0.0:defport.
 */
static struct sockaddr_in listen_addr(const char *args, int defport)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)defport) };
	const char *p;
	for (p = args; p && (p = strstr(p, "--listen ")) != NULL; p += 9) {
		char word[64], *colon, *end;
		size_t n;
		long port;
		if (p != args && p[-1] != ' ')
			continue;
		n = strcspn(p + 9, " ");
		if (n == 0 || n >= sizeof word)
			break;
		memcpy(word, p + 9, n);
		word[n] = 0;
		colon = strrchr(word, ':');
		if (!colon)
			break;
		*colon = 0;
		port = strtol(colon + 1, &end, 10);
		if (*end || port <= 0 || port > 65535 || inet_pton(AF_INET, word, &sin.sin_addr) != 1) {
			sin.sin_addr.s_addr = 0;
			break;
		}
		sin.sin_port = htons((uint16_t)port);
		break;
	}
	return sin;
}

/* A socket bound to sin in the current network namespace (listening for TCP); inherited across exec. */
static int bound_socket(int type, const struct sockaddr_in *sinp)
{
	struct sockaddr_in sin = *sinp;
	int one = 1, fd = socket(AF_INET, type, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * Socket activation: the sidecar's listening sockets, made in its network
 * namespace before its daemons start, passed down as `--listen-fd N`
 * appended to BB_<NAME>_ARGS in a copy of its environment (*env). The
 * agent's connections wait in the backlog meanwhile, so the host does not
 * wait for egress before starting the agent. fds[] gets the sockets (the
 * shim closes them once PID 1 has them).
 */
static void sidecar_sockets(char ***env, int fds[4], int ready_wr)
{
	static const struct {
		const char *daemon, *var;
		int port, type;
	} socks[] = { { "egress", "BB_EGRESS_ARGS", PORT_EGRESS, SOCK_STREAM },
		      { "dns", "BB_DNS_ARGS", PORT_DNS, SOCK_DGRAM },
		      { "dns", "BB_DNS_ARGS", PORT_DNS, SOCK_STREAM },
		      { "supervise", "BB_SUPERVISE_ARGS", PORT_SUPERVISE, SOCK_STREAM } };
	char **in = *env, **out;
	size_t n = 0, i, k;
	for (; in && in[n]; n++)
		;
	out = calloc(n + 1, sizeof *out);
	if (!out)
		shim_fail(ready_wr, "listening sockets", ENOMEM);
	memcpy(out, in, n * sizeof *out);
	for (k = 0; k < 4; k++) {
		size_t vl = strlen(socks[k].var);
		fds[k] = -1;
		if (!sidecar_runs(in, socks[k].daemon, socks[k].var))
			continue;
		{
			struct sockaddr_in sin = listen_addr(env_get(in, socks[k].var), socks[k].port);
			fds[k] = bound_socket(socks[k].type, &sin);
		}
		if (fds[k] < 0)
			shim_fail(ready_wr, "listening sockets", errno);
		for (i = 0; i < n; i++)
			if (!strncmp(out[i], socks[k].var, vl) && out[i][vl] == '=') {
				char *s;
				if (asprintf(&s, "%s --listen-fd %d", out[i], fds[k]) < 0)
					shim_fail(ready_wr, "listening sockets", ENOMEM);
				out[i] = s; /* the shim's copy; it lives until exec */
			}
	}
	*env = out;
}

/* Descriptors the shim received with its go ('G'): handed to the VMM at RT_VMM_FD_FIRST on. */
static int vmm_fds[RT_VMM_FDS_MAX + 1];
static size_t vmm_nfds;

/* The go byte, with the descriptors that came with it (the VMM's) into vmm_fds. 1, or 0/-1 when the host went away. */
static int recv_go(int sock, char *g)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * (RT_VMM_FDS_MAX + 1))];
	} u;
	struct iovec iov = { g, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b };
	struct cmsghdr *h;
	ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	if (n != 1)
		return (int)n;
	for (h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			vmm_nfds = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (vmm_nfds > RT_VMM_FDS_MAX + 1)
				vmm_nfds = RT_VMM_FDS_MAX + 1;
			memcpy(vmm_fds, CMSG_DATA(h), vmm_nfds * sizeof(int));
		}
	return 1;
}

/* The go to a shim, with fds[0..n) attached (the VMM's). 0, or -1 with errno. */
static int send_go(int sock, const int *fds, size_t n)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * (RT_VMM_FDS_MAX + 1))];
	} u;
	char g = 'G';
	struct iovec iov = { &g, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n) {
		struct cmsghdr *h;
		memset(&u, 0, sizeof u);
		m.msg_control = u.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(h), fds, sizeof(int) * n);
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/*
 * In a shim: close what it inherited from the host process but the
 * standard three and keep[0..n): a shim lives as long as its side and
 * never execs, and a copy of (say) the VMM's end of a stream held here
 * would keep the host from ever seeing that stream end.
 */
static void close_inherited(const int *keep, size_t n)
{
	int fds[1024];
	size_t nf = 0, i, k;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL && nf < sizeof fds / sizeof fds[0]) {
		int fd = (int)strtol(de->d_name, NULL, 10);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd <= 2 || fd == dirfd(d))
			continue;
		for (k = 0; k < n && keep[k] != fd; k++)
			;
		if (k == n)
			fds[nf++] = fd;
	}
	if (d)
		closedir(d);
	for (i = 0; i < nf; i++)
		close(fds[i]);
}

static volatile sig_atomic_t shim_child;

static void shim_forward(int sig)
{
	if (shim_child > 0)
		kill(shim_child, sig);
}

/*
 * PID 1 of the VMM's namespaces, root of its user namespace with the
 * seccomp filter on: its descriptors at their numbers, then the agent's
 * uid and gid (and the kvm device's group), no capability left, and exec.
 */
static void __attribute__((noreturn)) vmm_exec(const struct rt_config *c, char *const argv[], char **envp, int ready_wr)
{
	gid_t kvm_gid = (gid_t)c->vmm->kvm_gid;
	int high[RT_VMM_FDS_MAX + 1];
	size_t i;
	/* Out of the way first (the error pipe included), then down to their numbers; dup2 clears close-on-exec. */
	ready_wr = fcntl(ready_wr, F_DUPFD_CLOEXEC, 100);
	for (i = 0; i < vmm_nfds; i++)
		if ((high[i] = fcntl(vmm_fds[i], F_DUPFD_CLOEXEC, 100)) < 0)
			shim_fail(ready_wr, "the VMM's descriptors", errno);
	for (i = 0; i < vmm_nfds; i++)
		if (dup2(high[i], RT_VMM_FD_FIRST + (int)i) < 0)
			shim_fail(ready_wr, "the VMM's descriptors", errno);
	if (setgroups(c->vmm->kvm && kvm_gid ? 1 : 0, &kvm_gid) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
	    setresuid(c->uid, c->uid, c->uid) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		shim_fail(ready_wr, "switch the VMM to the agent's uid", errno);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	execve(argv[0], argv, envp);
	shim_fail(ready_wr, "exec the VMM", errno);
}

/* In PID 1 of the new namespaces: its /proc, pivot_root into the stage, its ids, then bb init. */
static void __attribute__((noreturn)) pid1_exec(const struct rt_config *c, int agent, int rootless, int exe,
						 char *const argv[], char **envp, int ready_wr)
{
	char stage[4096], p[4200];
	stage_path(c, agent, stage, sizeof stage);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The stage as made before the user namespace is locked, and pivot_root refuses a locked new root: a bind of it is not (its contents stay locked). */
	if (mount(stage, stage, NULL, MS_BIND | MS_REC, NULL) < 0)
		shim_fail(ready_wr, "bind the staged root", errno);
	/* Mounted before the host's /proc goes away: a user namespace may mount proc only beside a visible one. */
	snprintf(p, sizeof p, "%s/proc", stage);
	if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		shim_fail(ready_wr, "mount /proc", errno);
	snprintf(p, sizeof p, "%s/proc/sys", stage);
	if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 || rootfs_mount_attr(p, AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0) < 0)
		shim_fail(ready_wr, "make /proc/sys read-only", errno);
	/* pivot_root(".", "."): the old root ends up on top of the new one, then is detached; no put_old dir needed. */
	if (c->fault == 7)
		shim_fail(ready_wr, "pivot_root (fault injected)", EPERM);
	if (chdir(stage) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		shim_fail(ready_wr, "pivot_root into the staged root", errno);
	/* Start in the workspace as mounted. */
	if (chdir(agent && c->vmm ? "/" : agent ? rt_agent_workdir(c) : c->state_dir) < 0)
		shim_fail(ready_wr, "enter the workspace", errno);
	if (agent) {
		struct bb_err se;
		if (c->fault == 4 || seccomp_agent_install(&se) < 0)
			shim_fail(ready_wr, c->fault == 4 ? "seccomp filter (fault injected)" : "seccomp filter",
				  c->fault == 4 ? EPERM : se.code);
	}
	/* Become root of the namespace (an unprivileged host uid for the agent): exec keeps the capabilities. */
	if ((setgroups(0, NULL) < 0 && !(rootless && errno == EPERM)) || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		shim_fail(ready_wr, "switch to the namespace's root", errno);
	if (agent && c->vmm)
		vmm_exec(c, argv, envp, ready_wr);
	/* Again: a change of ids clears the parent-death signal, and the bottle must not outlive its host. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	syscall(SYS_execveat, exe, "", argv, envp, AT_EMPTY_PATH);
	shim_fail(ready_wr, "exec bb init", errno);
}

/*
 * Fork a shim: it enters new namespaces (user first: the host writes its
 * id maps and cgroups on 'U'), prepares the staged root, says ready, waits
 * for the go, then forks PID 1 of the new pid namespace (pid1_exec) and
 * waits for it, passing its status up.
 */
static int shim_start(const struct rt_config *c, int agent, int rootless, char *const argv[], char **envp,
		      struct shim *s, struct bb_err *e)
{
	int ready[2], go[2], exe;
	pid_t pid;

	/* go: a socket, so the VMM's descriptors can come with the go */
	if (pipe2(ready, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) < 0)
		return bb_errno(e, errno, "pipe");
	/* This binary, held open: the agent's new root may not hold where it lives (a checkout under /tmp). */
	exe = open(c->bb_path, O_PATH | O_CLOEXEC);
	if (exe < 0)
		return bb_errno(e, errno, "open %s", c->bb_path);
	pid = fork();
	if (pid < 0)
		return bb_errno(e, errno, "fork");
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = shim_forward };
		char g = 0;
		int st, fds[4] = { -1, -1, -1, -1 }, k;
		int keep[3] = { ready[1], go[0], exe };
		close_inherited(keep, 3);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* the host went away: nothing of the bottle may outlive it */
		if (c->fault == (agent ? 2 : 1))
			shim_fail(ready[1], agent ? "agent namespaces (fault injected)" : "sidecar namespaces (fault injected)",
				  EPERM);
		/*
		 * The staged root is built with the caller's own privilege in a
		 * mount namespace of its own; the user namespace comes after, so
		 * every mount is locked in it (MNT_LOCKED, read-only flags
		 * included): not even root of the bottle's namespace can undo them.
		 */
		if (unshare(CLONE_NEWNS) < 0)
			shim_fail(ready[1], "unshare the mount namespace", errno);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			shim_fail(ready[1], "make mounts private", errno);
		if (agent && c->vmm)
			vmm_mounts(c, ready[1]);
		else if (agent)
			agent_mounts(c, ready[1]);
		else
			sidecar_mounts(c, ready[1]);
		if (unshare(CLONE_NEWUSER | NS_FLAGS) < 0)
			shim_fail(ready[1], "unshare namespaces", errno);
		if (write(ready[1], "U", 1) != 1 || read(go[0], &g, 1) != 1 || g != 'M')
			_exit(111); /* the host reports why */
		if (sethostname(agent ? "bb-agent" : "bb-sidecar", agent ? 8 : 10) < 0)
			shim_fail(ready[1], "set the hostname", errno);
		if (!agent) {
			if (c->fault == 9)
				shim_fail(ready[1], "listening sockets (fault injected)", EPERM);
			sidecar_sockets(&envp, fds, ready[1]);
		}
		(void)!write(ready[1], "R", 1);
		if (recv_go(go[0], &g) != 1 || g != 'G')
			_exit(111);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		shim_child = fork();
		if (shim_child == 0)
			pid1_exec(c, agent, rootless, exe, argv, envp, ready[1]);
		if (shim_child < 0)
			_exit(111);
		/* PID 1 has the sockets now: if it dies, the agent's connections are refused rather than left hanging. */
		for (k = 0; k < 4; k++)
			if (fds[k] >= 0)
				close(fds[k]);
		while (waitpid(shim_child, &st, 0) < 0)
			if (errno != EINTR)
				_exit(111);
		_exit(proc_exit_code(st));
	}
	close(exe);
	close(ready[1]);
	close(go[0]);
	s->pid = pid;
	s->ready_rd = ready[0];
	s->go_wr = go[1];
	return 0;
}

/* Wait for a shim's byte (want: 'U' or 'R'); its error becomes ours. */
static int shim_wait(struct shim *s, char want, const char *who, struct bb_err *e)
{
	char msg[300];
	ssize_t n = read(s->ready_rd, msg, want == 'U' ? 1 : sizeof msg - 1);
	if (n == 1 && msg[0] == want)
		return 0;
	if (n >= 1 && msg[0] == 'E') {
		if (want == 'U') {
			ssize_t m = read(s->ready_rd, msg + 1, sizeof msg - 2);
			n = m > 0 ? m + 1 : 1;
		}
		msg[n] = 0;
		return bb_errf(e, BB_ELIB, "%s: %s", who, msg + 1);
	}
	return bb_errf(e, BB_ELIB, "%s: the namespace setup died", who);
}

/* A step after the go (/proc, pivot_root, seccomp, exec) reports on the same pipe before the shim exits. */
static int shim_late_error(struct shim *s, const char *who, struct bb_err *e)
{
	char msg[300];
	ssize_t got;
	if (s->ready_rd < 0)
		return 0;
	fcntl(s->ready_rd, F_SETFL, O_NONBLOCK);
	got = read(s->ready_rd, msg, sizeof msg - 1);
	if (got > 1 && msg[0] == 'E') {
		msg[got] = 0;
		return bb_errf(e, BB_ELIB, "%s: %s", who, msg + 1);
	}
	return 0;
}

static void shim_stop(struct shim *s, int grace_ms)
{
	int st, waited = 0;
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	while (waited < grace_ms) {
		int step = waited < 100 ? 2 : 20; /* most sides are gone within milliseconds */
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return;
		}
		usleep((useconds_t)step * 1000);
		waited += step;
		/*
		 * Again every 100 ms: the kernel drops a signal to a pid namespace's init that has no
		 * handler yet, so a bottle stopped while its init was still starting would wait out
		 * the whole grace period for nothing.
		 */
		if (waited % 100 == 0)
			kill(s->pid, SIGTERM);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
}

static void shim_close(struct shim *s)
{
	if (s->ready_rd >= 0)
		close(s->ready_rd);
	if (s->go_wr >= 0)
		close(s->go_wr);
	s->ready_rd = s->go_wr = -1;
}

static int open_ns(pid_t pid, struct bb_err *e)
{
	char p[64];
	int fd;
	snprintf(p, sizeof p, "/proc/%d/ns/net", (int)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bb_errno(e, errno, "open %s", p);
	return fd;
}

static int lo_up(struct bb_err *e)
{
	int i = nl_ifindex("lo", e);
	return i < 0 ? -1 : nl_link_up(i, e);
}

/* The veth: sidecar end in S, agent end in A with the default route through the sidecar. */
int rt_wire(int self_ns, int s_ns, int a_ns, struct bb_err *e)
{
	uint32_t sa, aa;
	int i, rc = -1;
	inet_pton(AF_INET, RT_SIDECAR_ADDR, &sa);
	inet_pton(AF_INET, RT_AGENT_ADDR, &aa);
	if (setns(s_ns, CLONE_NEWNET) < 0)
		return bb_errno(e, errno, "network: enter the sidecar's namespace");
	if (lo_up(e) < 0 || nl_veth_create("bb-s0", "bb-a0", a_ns, e) < 0 || (i = nl_ifindex("bb-s0", e)) < 0 ||
	    nl_addr4_add(i, sa, RT_PREFIX, e) < 0 || nl_link_up(i, e) < 0)
		goto out;
	if (setns(a_ns, CLONE_NEWNET) < 0) {
		bb_errno(e, errno, "network: enter the agent's namespace");
		goto out;
	}
	if (lo_up(e) < 0 || (i = nl_ifindex("bb-a0", e)) < 0 || nl_addr4_add(i, aa, RT_PREFIX, e) < 0 ||
	    nl_link_up(i, e) < 0 || nl_route_default(AF_INET, &sa, e) < 0)
		goto out;
	rc = 0;
out:
	if (setns(self_ns, CLONE_NEWNET) < 0 && rc == 0)
		rc = bb_errno(e, errno, "network: back to the host namespace");
	if (rc < 0)
		bb_err_wrap(e, "network");
	return rc;
}

/*
 * The vm backend's link: a tap device in the sidecar's namespace with the
 * sidecar's address (the VMM holds the other end, the guest's eth0), its
 * IPv6 off; nothing else in that namespace changes (no route out, no
 * forwarding). The tap's descriptor, or -1 with e.
 */
int rt_tap(int self_ns, int s_ns, struct bb_err *e)
{
	struct ifreq ifr;
	uint32_t sa;
	int fd = -1, i, six;
	inet_pton(AF_INET, RT_SIDECAR_ADDR, &sa);
	if (setns(s_ns, CLONE_NEWNET) < 0)
		return bb_errno(e, errno, "network: enter the sidecar's namespace");
	/* Opened in the sidecar's namespace: the device is made where its descriptor was opened. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		bb_errno(e, errno, "network: open /dev/net/tun");
		goto out;
	}
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, RT_VMM_TAP);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		bb_errno(e, errno, "network: make the tap device");
		goto fail;
	}
	six = open("/proc/sys/net/ipv6/conf/" RT_VMM_TAP "/disable_ipv6", O_WRONLY | O_CLOEXEC);
	if (six >= 0) {
		(void)!write(six, "1", 1);
		close(six);
	}
	if (lo_up(e) < 0 || (i = nl_ifindex(RT_VMM_TAP, e)) < 0 || nl_addr4_add(i, sa, RT_PREFIX, e) < 0 || nl_link_up(i, e) < 0)
		goto fail;
	goto out;
fail:
	close(fd);
	fd = -1;
out:
	if (setns(self_ns, CLONE_NEWNET) < 0 && fd >= 0) {
		bb_errno(e, errno, "network: back to the host namespace");
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		bb_err_wrap(e, "network");
	return fd;
}

/* Until a daemon accepts on port of the sidecar's address (a socket made inside its namespace), or timeout. */
static int wait_port(int self_ns, int s_ns, int port, const char *who, int timeout_ms, struct bb_err *e)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int i;
	inet_pton(AF_INET, RT_SIDECAR_ADDR, &sin.sin_addr);
	for (i = 0; i < timeout_ms / 25; i++) {
		int fd, ok;
		if (setns(s_ns, CLONE_NEWNET) < 0)
			return bb_errno(e, errno, "enter the sidecar's namespace");
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (setns(self_ns, CLONE_NEWNET) < 0)
			return bb_errno(e, errno, "back to the host namespace");
		if (fd < 0)
			return bb_errno(e, errno, "socket");
		ok = connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
		close(fd);
		if (ok)
			return 0;
		usleep(25000);
	}
	return bb_errf(e, BB_ELIB, "the sidecar's %s did not start listening within %d ms (see its log)", who,
		       timeout_ms);
}

int rt_wait_egress(int self_ns, int s_ns, int timeout_ms, struct bb_err *e)
{
	return wait_port(self_ns, s_ns, PORT_EGRESS, "egress", timeout_ms, e);
}

char **rt_agent_argv(const struct rt_config *c, const char *argv0, char uid[16], char gid[16], int dev_minimal)
{
	char **v;
	size_t n, i = 0;
	for (n = 0; c->argv[n]; n++)
		;
	v = calloc(n + 10, sizeof *v);
	if (!v)
		return NULL;
	snprintf(uid, 16, "%u", (unsigned)c->uid);
	snprintf(gid, 16, "%u", (unsigned)c->gid);
	v[i++] = (char *)argv0;
	v[i++] = "init";
	v[i++] = "--agent";
	if (dev_minimal)
		v[i++] = "--dev-minimal";
	if (c->uid) {
		v[i++] = "--uid";
		v[i++] = uid;
		v[i++] = "--gid";
		v[i++] = gid;
	}
	v[i++] = "--";
	memcpy(v + i, c->argv, (n + 1) * sizeof *v);
	return v;
}

const char *rt_agent_workdir(const struct rt_config *c)
{
	return c->rootfs ? RT_WORKSPACE_IN_IMAGE : c->workspace;
}

static int read_long(const char *path, long *v)
{
	char b[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof b - 1);
	close(fd);
	if (n <= 0)
		return -1;
	b[n] = 0;
	*v = strtol(b, NULL, 10);
	return 0;
}

int rt_rootless_check(struct bb_err *e)
{
	long v;
	if (read_long("/proc/sys/kernel/unprivileged_userns_clone", &v) == 0 && v == 0)
		return bb_errf(e, BB_ELIB,
			       "this host forbids user namespaces to non-root users (sysctl kernel.unprivileged_userns_clone=0); "
			       "run as root or set it to 1");
	if (read_long("/proc/sys/user/max_user_namespaces", &v) == 0 && v == 0)
		return bb_errf(e, BB_ELIB,
			       "this host allows no user namespaces (sysctl user.max_user_namespaces=0); run as root or raise it");
	if (read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &v) == 0 && v != 0)
		return bb_errf(e, BB_ELIB,
			       "AppArmor restricts user namespaces to non-root users (sysctl "
			       "kernel.apparmor_restrict_unprivileged_userns=1); run as root or set it to 0");
	return 0;
}

int rt_cleanup_cgroups(char *found, size_t cap, struct bb_err *e)
{
	return cgroup_cleanup_stale(found, cap, e);
}

static int write_proc(pid_t pid, const char *file, const char *text, struct bb_err *e)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/%s", (int)pid, file);
	if (write_file(p, text, strlen(text), 0) < 0) /* O_CREAT never applies: the file exists */
		return bb_errno(e, errno, "user namespace: write %s", p);
	return 0;
}

/*
 * The id maps of a shim's user namespace, written from outside (the host,
 * or in rootless mode the bottle's own namespace, where only 0 exists).
 */
static int write_maps(const struct rt_config *c, pid_t pid, int agent, int rootless, struct bb_err *e)
{
	char um[96], gm[96];
	if (c->fault == 5)
		return bb_errf(e, BB_ELIB, "user namespace: id maps (fault injected)");
	if (rootless || !agent) {
		snprintf(um, sizeof um, "0 0 1\n");
		snprintf(gm, sizeof gm, "0 0 1\n");
	} else {
		unsigned root = rt_agent_root_id();
		int n = snprintf(um, sizeof um, "0 %u 1\n", root);
		if (c->uid)
			snprintf(um + n, sizeof um - (size_t)n, "%u %u 1\n", (unsigned)c->uid, (unsigned)c->uid);
		n = snprintf(gm, sizeof gm, "0 %u 1\n", root);
		if (c->gid)
			n += snprintf(gm + n, sizeof gm - (size_t)n, "%u %u 1\n", (unsigned)c->gid, (unsigned)c->gid);
		if (c->vmm && c->vmm->kvm && c->vmm->kvm_gid && c->vmm->kvm_gid != c->gid) /* the VMM opens /dev/kvm by group */
			snprintf(gm + n, sizeof gm - (size_t)n, "%u %u 1\n", c->vmm->kvm_gid, c->vmm->kvm_gid);
	}
	if (write_proc(pid, "uid_map", um, e) < 0 || write_proc(pid, "gid_map", gm, e) < 0)
		return -1;
	return 0;
}

/* "512M", "2G", "4096", "none"/"max" (-1). -2 when it is not one of those. */
static long long parse_size(const char *s)
{
	char *end;
	long long v;
	if (!strcmp(s, "none") || !strcmp(s, "max"))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0)
		return -2;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	return *end ? -2 : v;
}

unsigned rt_agent_root_id(void)
{
	return RT_UID_BASE + 2u * (unsigned)getpid() + 1u;
}

int rt_agent_limits(const struct rt_config *c, long long *mem, long *pids, struct bb_err *e)
{
	const char *env;
	*mem = c->memory_max;
	*pids = c->pids_max;
	if (*mem == 0 && (env = getenv("BB_MEMORY_MAX")) && *env && (*mem = parse_size(env)) == -2)
		return bb_errf(e, BB_EINVAL, "BB_MEMORY_MAX=%s: want bytes with an optional K/M/G suffix, or none", env);
	if (*pids == 0 && (env = getenv("BB_PIDS_MAX")) && *env && (*pids = (long)parse_size(env)) == -2)
		return bb_errf(e, BB_EINVAL, "BB_PIDS_MAX=%s: want a number, or none", env);
	return 0;
}

/*
 * A side's cgroup: made and limited before the shim goes on (its PID 1
 * and everything under it inherit it). want < 0: no limit; 0: the default
 * where available; > 0: required (fail closed).
 */
static int side_cgroup(const struct rt_config *c, struct cgroup *cg, pid_t pid, int agent, long long mem, long pids,
		       struct bb_err *e)
{
	char name[CGROUP_NAME_MAX], why[512];
	int need_mem = mem > 0, need_pids = pids > 0;
	long long m = mem > 0 ? mem : agent ? RT_AGENT_MEMORY_DEFAULT : RT_SIDECAR_MEMORY_DEFAULT;
	long pm = pids > 0 ? pids : agent ? RT_AGENT_PIDS_DEFAULT : RT_SIDECAR_PIDS_DEFAULT;
	if (mem < 0 && pids < 0)
		return 0;
	snprintf(name, sizeof name, CGROUP_PREFIX "%d-%s", (int)getpid(), agent ? "agent" : "sidecar");
	cgroup_make(cg, name, why, sizeof why);
	if (c->fault == 6 && agent)
		return bb_errf(e, BB_ELIB, "cgroup limits (fault injected)");
	if ((need_mem && !cg->mem.dir[0]) || (need_pids && !cg->pids.dir[0]))
		return bb_errf(e, BB_ELIB, "cgroup limits: a %s limit was asked for but cannot be applied here (%s)",
			       need_mem && !cg->mem.dir[0] ? "memory" : "pids", why);
	if ((mem >= 0 && cg->mem.dir[0] && cgroup_set_memory(cg, m, e) < 0) ||
	    (pids >= 0 && cg->pids.dir[0] && cgroup_set_pids(cg, pm, e) < 0) || cgroup_add(cg, pid, e) < 0)
		return bb_err_wrap(e, "cgroup limits");
	return 0;
}

/* Shim `s` has its namespaces: maps, cgroup, then on with its setup. */
static int shim_admit(const struct rt_config *c, struct shim *s, int agent, int rootless, struct cgroup *cg,
		      long long mem, long pids, struct bb_err *e)
{
	const char *who = agent ? "agent" : "sidecar";
	if (shim_wait(s, 'U', who, e) < 0)
		return -1;
	if (write_maps(c, s->pid, agent, rootless, e) < 0 || side_cgroup(c, cg, s->pid, agent, mem, pids, e) < 0)
		return bb_err_wrap(e, "%s", who);
	if (write(s->go_wr, "M", 1) != 1)
		return bb_errno(e, errno, "%s: continue the setup", who);
	return 0;
}

/* The bottle, from a process that may enter every namespace it makes (root, or root of the rootless namespace). */
static int run_bottle(const struct rt_config *c, int rootless, int *exit_code, struct bb_err *e)
{
	struct shim s = { 0, -1, -1 }, a = { 0, -1, -1 };
	struct cgroup scg, acg;
	char slog[4200], stage[4200];
	char *sargv[] = { "bb", "init", "--sidecar", "--log", slog, NULL };
	char **aargv;
	char uid[16], gid[16];
	long long mem;
	long pids;
	int self_ns = -1, s_ns = -1, a_ns = -1, st, rc = -1, activated, tap = -1;
	struct rt_config cc = *c;

	memset(&scg, 0, sizeof scg);
	memset(&acg, 0, sizeof acg);
	if (rt_agent_limits(c, &mem, &pids, e) < 0)
		return -1;
	if (rootless)
		cc.uid = cc.gid = 0; /* the only id there is: the agent keeps its namespace's uid 0 (the user), without capabilities */
	if (!cc.rootfs && (cc.rootfs = getenv("BB_RT_ROOTFS")) != NULL) { /* until bb bottle run passes an image's */
		struct stat rst;
		if (!*cc.rootfs || cc.rootfs[0] != '/' || stat(cc.rootfs, &rst) < 0 || !S_ISDIR(rst.st_mode))
			return bb_errf(e, BB_EINVAL, "BB_RT_ROOTFS=%s: want the absolute path of an unpacked rootfs directory",
				       cc.rootfs);
	}
	c = &cc;
	if (c->vmm) /* the VMM's side: its memory is the guest's */
		mem = c->vmm->memory_max;
	snprintf(slog, sizeof slog, "%s/init.log", c->state_dir);
	aargv = rt_agent_argv(c, "bb", uid, gid, 0);
	if (!aargv)
		return bb_errno(e, ENOMEM, "runtime");
	if (c->vmm) {
		stage_path(c, 2, stage, sizeof stage);
		if (mkdir(stage, 0700) < 0 && errno != EEXIST) {
			bb_errno(e, errno, "create %s", stage);
			goto out;
		}
	}
	stage_path(c, 0, stage, sizeof stage);
	if (mkdir(stage, 0700) < 0 && errno != EEXIST) {
		bb_errno(e, errno, "create %s", stage);
		goto out;
	}
	stage_path(c, 1, stage, sizeof stage);
	if (mkdir(stage, 0700) < 0 && errno != EEXIST) {
		bb_errno(e, errno, "create %s", stage);
		goto out;
	}
	self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_ns < 0) {
		bb_errno(e, errno, "open /proc/self/ns/net");
		goto out;
	}
	/* Both sides set up at once; each waits for its go. */
	if (shim_start(c, 0, rootless, sargv, c->sidecar_env, &s, e) < 0 ||
	    shim_start(c, 1, rootless, c->vmm ? c->vmm->argv : aargv, c->vmm ? c->vmm->env : c->agent_env, &a, e) < 0)
		goto out;
	if (shim_admit(c, &s, 0, rootless, &scg, 0, 0, e) < 0 || shim_admit(c, &a, 1, rootless, &acg, mem, pids, e) < 0)
		goto out;
	if (shim_wait(&s, 'R', "sidecar", e) < 0 || shim_wait(&a, 'R', "agent", e) < 0)
		goto out;
	if ((s_ns = open_ns(s.pid, e)) < 0 || (a_ns = open_ns(a.pid, e)) < 0)
		goto out;
	if (c->fault == 3) {
		bb_errf(e, BB_ELIB, "network: fault injected");
		goto out;
	}
	if (c->vmm ? (tap = rt_tap(self_ns, s_ns, e)) < 0 : rt_wire(self_ns, s_ns, a_ns, e) < 0)
		goto out;
	if (write(s.go_wr, "G", 1) != 1) {
		bb_errno(e, errno, "start the sidecar");
		goto out;
	}
	/*
	 * With egress's socket made in advance, connections wait in its
	 * backlog: no need to wait. Daemons that bind their own sockets
	 * (git-gate, git-http) are waited for.
	 */
	activated = sidecar_runs(c->sidecar_env, "egress", "BB_EGRESS_ARGS");
	if ((!activated && sidecar_names(c->sidecar_env, "egress") && rt_wait_egress(self_ns, s_ns, 10000, e) < 0) ||
	    (sidecar_runs(c->sidecar_env, "git-gate", "BB_GIT_GATE_ARGS") &&
	     wait_port(self_ns, s_ns, PORT_GIT_GATE, "git-gate", 10000, e) < 0) ||
	    (sidecar_runs(c->sidecar_env, "git-http", "BB_GIT_HTTP_ARGS") &&
	     wait_port(self_ns, s_ns, PORT_GIT_HTTP, "git-http", 10000, e) < 0))
		goto out;
	if (c->vmm) {
		/* The VMM's descriptors come with its go: the tap, then the backend's (its streams, kernel, initramfs). */
		int fds[RT_VMM_FDS_MAX + 1];
		fds[0] = tap;
		memcpy(fds + 1, c->vmm->fds, c->vmm->nfds * sizeof *fds);
		if (send_go(a.go_wr, fds, c->vmm->nfds + 1) < 0) {
			bb_errno(e, errno, "start the VMM");
			goto out;
		}
		close(tap);
		tap = -1;
		if (c->agent_pid)
			*c->agent_pid = a.pid;
		rc = c->vmm->serve(c->vmm, a.pid, exit_code, e);
		if (c->agent_pid)
			*c->agent_pid = 0;
		a.pid = 0; /* serve waited for it */
		if (rc == 0 && (shim_late_error(&a, "VMM", e) < 0 || shim_late_error(&s, "sidecar", e) < 0))
			rc = -1;
		goto out;
	}
	if (write(a.go_wr, "G", 1) != 1) {
		bb_errno(e, errno, "start the agent");
		goto out;
	}
	if (c->agent_pid)
		*c->agent_pid = a.pid;
	while (waitpid(a.pid, &st, 0) < 0)
		if (errno != EINTR) {
			bb_errno(e, errno, "wait for the agent");
			goto out;
		}
	if (c->agent_pid)
		*c->agent_pid = 0;
	a.pid = 0;
	if (shim_late_error(&a, "agent", e) < 0 || shim_late_error(&s, "sidecar", e) < 0)
		goto out;
	*exit_code = proc_exit_code(st);
	rc = 0;
out:
	shim_stop(&a, 2000);
	shim_stop(&s, 5000);
	shim_close(&a);
	shim_close(&s);
	{
		struct bb_err ce;
		/* The pid namespaces are gone with their PID 1; a cgroup that will not empty is an error, not a leak left silently. */
		if ((cgroup_remove(&acg, &ce) < 0 || cgroup_remove(&scg, &ce) < 0) && rc == 0)
			rc = bb_errf(e, BB_ELIB, "%s", ce.msg);
	}
	if (s_ns >= 0)
		close(s_ns);
	if (a_ns >= 0)
		close(a_ns);
	if (self_ns >= 0)
		close(self_ns);
	if (tap >= 0)
		close(tap);
	free(aargv);
	return rc;
}

/*
 * Rootless: a keeper process makes the bottle's user namespace (the
 * caller is 0 there, nobody else exists) and a network namespace of its
 * own to return to, then runs the bottle from inside. Its result comes
 * back on a pipe: "X<code>" or "E<message>".
 */
static int run_rootless(const struct rt_config *c, int *exit_code, struct bb_err *e)
{
	int res[2], go[2], st;
	char msg[sizeof e->msg + 2], m[64];
	ssize_t n;
	pid_t pid;
	if (rt_rootless_check(e) < 0)
		return -1;
	if (pipe2(res, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return bb_errno(e, errno, "pipe");
	pid = fork();
	if (pid < 0)
		return bb_errno(e, errno, "fork");
	if (pid == 0) {
		struct bb_err ke = { 0 };
		int code = 0, len;
		char g = 0, out[sizeof ke.msg + 2];
		close(res[0]);
		close(go[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
			len = snprintf(out, sizeof out,
				       "Ethe bottle's user namespace: %s (see sysctls user.max_user_namespaces and "
				       "kernel.unprivileged_userns_clone)",
				       strerror(errno));
			(void)!write(res[1], out, (size_t)len);
			_exit(111);
		}
		if (write(res[1], "U", 1) != 1 || read(go[0], &g, 1) != 1 || g != 'M')
			_exit(111);
		if (run_bottle(c, 1, &code, &ke) < 0)
			len = snprintf(out, sizeof out, "E%s", ke.msg);
		else
			len = snprintf(out, sizeof out, "X%d", code);
		(void)!write(res[1], out, (size_t)(len < (int)sizeof out ? len : (int)sizeof out - 1));
		_exit(0);
	}
	close(res[1]);
	close(go[0]);
	n = read(res[0], msg, 1);
	if (n == 1 && msg[0] == 'U') {
		/* An unprivileged writer may map only itself, and only after giving up setgroups. */
		snprintf(m, sizeof m, "0 %u 1\n", (unsigned)getuid());
		if (c->fault == 5 || write_proc(pid, "setgroups", "deny", e) < 0 || write_proc(pid, "uid_map", m, e) < 0 ||
		    (snprintf(m, sizeof m, "0 %u 1\n", (unsigned)getgid()), write_proc(pid, "gid_map", m, e) < 0)) {
			if (c->fault == 5)
				bb_errf(e, BB_ELIB, "user namespace: id maps (fault injected)");
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			close(res[0]);
			close(go[1]);
			return -1;
		}
		(void)!write(go[1], "M", 1);
		n = read(res[0], msg, sizeof msg - 1);
	}
	close(res[0]);
	close(go[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (n > 1 && msg[0] == 'X') {
		msg[n] = 0;
		*exit_code = (int)strtol(msg + 1, NULL, 10);
		return 0;
	}
	if (n > 1 && msg[0] == 'E') {
		msg[n] = 0;
		return bb_errf(e, BB_ELIB, "%s", msg + 1);
	}
	return bb_errf(e, BB_ELIB, "the bottle's user namespace: its keeper died");
}

int rt_run(const struct rt_config *c, int *exit_code, struct bb_err *e)
{
	return geteuid() == 0 ? run_bottle(c, 0, exit_code, e) : run_rootless(c, exit_code, e);
}

/* ---------- the backend table's entry (host/backend.h) ---------- */

static int embedded_prepare(struct bk_run *r, struct bb_err *e)
{
	(void)r;
	return geteuid() == 0 ? 0 : rt_rootless_check(e); /* rootless: the embedded runtime only */
}

static int embedded_run(struct bk_run *r, int *exit_code, struct bb_err *e)
{
	return rt_run(r->c, exit_code, e);
}

static void embedded_inspect(const struct bk_bottle *b, bk_line_fn line, void *arg)
{
	char text[160];
	if (!b->running)
		return;
	snprintf(text, sizeof text, CGROUP_PREFIX "%d-agent, " CGROUP_PREFIX "%d-sidecar (where cgroups are writable)",
		 b->host_pid, b->host_pid);
	line(arg, "cgroups", text);
}

static int embedded_cleanup(bk_line_fn line, void *arg, struct bb_err *e)
{
	char found[8192], *l, *save = NULL, text[600];
	int k = rt_cleanup_cgroups(found, sizeof found, e);
	for (l = k > 0 ? strtok_r(found, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		snprintf(text, sizeof text, "cgroup %s (its host process is gone)", l);
		line(arg, "removed", text);
	}
	return k;
}

const struct backend backend_embedded = {
	.name = "embedded",
	.isolates = "bb's own runtime: user, mount, pid, net, uts and ipc namespaces, seccomp, cgroups",
	.flags = BK_IMAGE,
	.prepare = embedded_prepare,
	.run = embedded_run,
	.inspect = embedded_inspect,
	.cleanup = embedded_cleanup,
};
