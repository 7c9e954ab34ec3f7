/* vm.c - `bb init --vm`: PID 1 of a vm bottle's guest: modules, the staged root from the host's 9p export, the network to the sidecar, then `bb init --agent` as everywhere. */
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
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"
#include "init.h"
#include "log.h"
#include "netlink.h"
#include "proc.h"
#include "rootfs.h"
#include "seccomp.h"
#include "vmconf.h"

#define NEWROOT "/newroot"
#define HOSTROOT NEWROOT "/.bbhost" /* the 9p root export, until its top level is bound into the stage */
#define PORT_WAIT_MS 10000
#define P9_RO "trans=virtio,version=9p2000.L,msize=262144,cache=loose"
#define P9_RW "trans=virtio,version=9p2000.L,msize=262144,cache=mmap"

extern char **environ;

/* Before the agent runs, a failure is fatal: say why on the console and the control line, then power off. */
static int ctl_fd = -1;

static void __attribute__((noreturn)) power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static void __attribute__((noreturn)) vm_fail(const char *step, int err)
{
	char msg[600];
	int n = snprintf(msg, sizeof msg, "error %s: %s\n", step, strerror(err));
	if (n > 0) {
		(void)!write(2, "bb init --vm: ", 14);
		(void)!write(2, msg + 6, (size_t)n - 6);
		if (ctl_fd >= 0)
			(void)!write(ctl_fd, msg, (size_t)n);
	}
	power_off();
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every module in VMCONF_MODULES, in name order (the host numbered them by their dependencies), then removed. */
static void load_modules(void)
{
	struct dirent **list;
	int n = scandir(VMCONF_MODULES, &list, NULL, alphasort), i;
	for (i = 0; i < n; i++) {
		char p[512];
		int fd;
		if (list[i]->d_name[0] == '.') {
			free(list[i]);
			continue;
		}
		snprintf(p, sizeof p, VMCONF_MODULES "/%s", list[i]->d_name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST))
			vm_fail(p, errno);
		close(fd);
		unlink(p); /* the initramfs is memory */
		free(list[i]);
	}
	free(list);
}

/* The /dev/vportNpM named name (virtio serial ports get their names from the host once the device is up). */
static int open_port(const char *name, int flags)
{
	long long until = now_ms() + PORT_WAIT_MS;
	for (;;) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			char p[300], got[64] = "";
			int fd;
			ssize_t r;
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", de->d_name);
			fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			r = read(fd, got, sizeof got - 1);
			close(fd);
			if (r <= 0)
				continue;
			got[r] = 0;
			got[strcspn(got, "\n")] = 0;
			if (!strcmp(got, name)) {
				snprintf(p, sizeof p, "/dev/%s", de->d_name);
				closedir(d);
				for (;;) { /* devtmpfs makes the node a moment after sysfs shows the port */
					fd = open(p, flags | O_CLOEXEC);
					if (fd >= 0 || errno != ENOENT || now_ms() > until)
						return fd;
					usleep(2000);
				}
			}
		}
		if (d)
			closedir(d);
		if (now_ms() > until) {
			errno = ETIMEDOUT;
			return -1;
		}
		usleep(2000);
	}
}

static void mkdir_p(const char *path)
{
	char p[4096];
	size_t i, n = strlen(path);
	if (n >= sizeof p)
		return;
	memcpy(p, path, n + 1);
	for (i = 1; i <= n; i++)
		if (p[i] == '/' || p[i] == 0) {
			char ch = p[i];
			p[i] = 0;
			mkdir(p, 0755);
			p[i] = ch;
		}
}

static void copy_file(const char *from, const char *to)
{
	struct buf b = BUF_INIT(16u << 20);
	struct bb_err e;
	if (fd_read_file(from, 16u << 20, &b, &e) < 0 || fd_write_file_atomic(to, b.p ? b.p : "", b.len, 0644, &e) < 0)
		vm_fail(to, e.code < 1000 ? e.code : EIO);
	buf_free(&b);
}

/*
 * The guest's /dev, as the embedded runtime makes the agent's: a tmpfs
 * with null, zero, full, random, urandom and tty (real nodes here: this
 * is the guest's own kernel), a private devpts, /dev/shm, the fd links;
 * read-only once made. Nothing else: not the serial ports, not the
 * virtio devices.
 */
static void make_dev(const char *dev)
{
	const struct rootfs_dev_node *nodes = rootfs_dev_nodes;
	const char *const(*links)[2] = rootfs_dev_links;
	char p[4200];
	size_t i;
	if (mkdir(dev, 0755) < 0 || mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		vm_fail("/dev", errno);
	for (i = 0; nodes[i].name; i++) {
		snprintf(p, sizeof p, "%s/%s", dev, nodes[i].name);
		if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0 || chmod(p, 0666) < 0)
			vm_fail(p, errno);
	}
	for (i = 0; links[i][0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dev, links[i][0]);
		if (symlink(links[i][1], p) < 0)
			vm_fail(p, errno);
	}
	snprintf(p, sizeof p, "%s/pts", dev);
	if (mkdir(p, 0755) < 0 || mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
		vm_fail("/dev/pts", errno);
	snprintf(p, sizeof p, "%s/shm", dev);
	if (mkdir(p, 01777) < 0 || mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m") < 0)
		vm_fail("/dev/shm", errno);
	if (rootfs_mount_attr(dev, 0, MOUNT_ATTR_RDONLY, 0) < 0)
		vm_fail("/dev read-only", errno);
}

/*
 * The agent's root: a tmpfs with the host's export's top level bound in
 * (read-only, nosuid: the walk every backend shares), /sys read-only, /dev,
 * /tmp and /run
 * (the CA bundle and resolv.conf), the home and the workspace exports.
 */
static void stage_root(const struct vm_conf *c)
{
	struct stat st;
	char p[4200];
	if (mkdir(NEWROOT, 0755) < 0 || mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		vm_fail("tmpfs for the staged root", errno);
	if (mkdir(HOSTROOT, 0700) < 0 || mount(VMCONF_TAG_ROOT, HOSTROOT, "9p", MS_RDONLY | MS_NOSUID | MS_NODEV, P9_RO) < 0)
		vm_fail("mount the root export (9p)", errno);
	/* The host staged it (people's homes and the bottle's state already hidden there): an image's view. */
	if (rootfs_stage(NEWROOT, HOSTROOT, ROOTFS_AGENT_IMAGE, 0) < 0)
		vm_fail("bind the root export read-only", errno);
	if (umount2(HOSTROOT, MNT_DETACH) < 0 || rmdir(HOSTROOT) < 0)
		vm_fail("detach the root export", errno);
	make_dev(NEWROOT "/dev");
	if (mkdir(NEWROOT "/proc", 0555) < 0)
		vm_fail("mkdir /proc", errno);
	if (mkdir(NEWROOT "/sys", 0555) < 0 ||
	    mount("sysfs", NEWROOT "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		vm_fail("mount /sys", errno);
	if (mkdir(NEWROOT "/tmp", 01777) < 0 ||
	    mount("tmpfs", NEWROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=512m") < 0)
		vm_fail("tmpfs on /tmp", errno);
	if (mkdir(NEWROOT "/run", 0755) < 0 || mount("tmpfs", NEWROOT "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m") < 0 ||
	    mkdir(NEWROOT "/run/bb", 0755) < 0)
		vm_fail("tmpfs on /run", errno);
	copy_file(VMCONF_BUNDLE, NEWROOT "/run/bb/ca-bundle.crt");
	copy_file(VMCONF_RESOLV, NEWROOT "/run/bb/resolv.conf");
	if (lstat(NEWROOT "/etc/resolv.conf", &st) == 0 && S_ISREG(st.st_mode) &&
	    (mount(NEWROOT "/run/bb/resolv.conf", NEWROOT "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0 ||
	     rootfs_mount_attr(NEWROOT "/etc/resolv.conf", 0, MOUNT_ATTR_RDONLY, 0) < 0))
		vm_fail("bind /etc/resolv.conf", errno);
	if (mkdir(NEWROOT "/tmp/home", 0700) < 0 ||
	    mount(VMCONF_TAG_HOME, NEWROOT "/tmp/home", "9p", MS_NOSUID | MS_NODEV, P9_RW) < 0)
		vm_fail("mount the agent's home (9p)", errno);
	snprintf(p, sizeof p, NEWROOT "%s", c->workspace);
	mkdir_p(p);
	if (mount(VMCONF_TAG_WS, p, "9p", MS_NOSUID | MS_NODEV, P9_RW) < 0)
		vm_fail("mount the workspace (9p)", errno);
	if (rootfs_mount_attr(NEWROOT, 0, MOUNT_ATTR_RDONLY, 0) < 0)
		vm_fail("make the staged root read-only", errno);
}

/* lo up; eth0 (the link to the sidecar, the only one) with its address; the default route through the sidecar. */
static void network(const struct vm_conf *c)
{
	struct bb_err e;
	uint32_t addr, gw;
	int i;
	inet_pton(AF_INET, c->address, &addr);
	inet_pton(AF_INET, c->gateway, &gw);
	if ((i = nl_ifindex("lo", &e)) < 0 || nl_link_up(i, &e) < 0 || (i = nl_ifindex("eth0", &e)) < 0 ||
	    nl_addr4_add(i, addr, c->prefix, &e) < 0 || nl_link_up(i, &e) < 0 || nl_route_default(AF_INET, &gw, &e) < 0) {
		err_printf("network: %s", e.msg);
		vm_fail("the network to the sidecar", e.code < 1000 ? e.code : EIO);
	}
}

/*
 * PID 1's own work while the agent runs: "stop" on the control line
 * becomes SIGTERM to the agent's init (which forwards it, as everywhere);
 * when that init has ended, its status goes to the host as "exit N" and
 * the guest powers off. PID 1 stays root, in the guest's first pid
 * namespace, which the agent's processes cannot see or signal.
 */
static void __attribute__((noreturn)) supervise_agent(pid_t agent)
{
	char b[64];
	struct pollfd p = { .fd = ctl_fd, .events = POLLIN };
	int st = 0, len;
	for (;;) {
		pid_t w = waitpid(-1, &st, WNOHANG); /* the agent's init, or an orphan (none expected): all reaped */
		if (w == agent)
			break;
		if (w > 0)
			continue;
		if (w < 0 && errno != EINTR)
			vm_fail("wait for the agent", errno);
		if (poll(&p, 1, 20) > 0) {
			ssize_t n = read(ctl_fd, b, sizeof b - 1);
			if (n > 0 && !strncmp(b, "stop", 4))
				kill(agent, SIGTERM);
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				p.fd = -1; /* the host closed its end: it kills the VM when it wants */
		}
	}
	len = snprintf(b, sizeof b, "exit %d\n", proc_exit_code(st));
	fd_write_all(ctl_fd, b, (size_t)len);
	power_off();
}

int init_vm_main(const char *conf_path)
{
	struct vm_conf c;
	struct buf b = BUF_INIT(VMCONF_MAX);
	struct bb_err e;
	char uid[16], gid[16], grace[32], **argv;
	int in, out, err;
	size_t n, i = 0;
	pid_t agent;

	if (getpid() != 1) {
		err_printf("--vm: only PID 1 of a vm bottle's guest runs this");
		return BB_EXIT_USAGE;
	}
	mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
	    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		vm_fail("mount /proc and /sys", errno);
	load_modules();
	if ((ctl_fd = open_port(VMCONF_PORT_CTL, O_RDWR)) < 0)
		vm_fail("open the control port", errno);
	if ((in = open_port(VMCONF_PORT_STDIN, O_RDONLY)) < 0 || (out = open_port(VMCONF_PORT_STDOUT, O_WRONLY)) < 0 ||
	    (err = open_port(VMCONF_PORT_STDERR, O_WRONLY)) < 0)
		vm_fail("open the agent's stdio ports", errno);
	if (fd_read_file(conf_path, VMCONF_MAX, &b, &e) < 0 || vm_conf_parse(b.p, b.len, &c, &e) < 0) {
		err_printf("%s", e.msg);
		vm_fail("read the configuration", e.code < 1000 ? e.code : EINVAL);
	}
	buf_free(&b);
	unlink(conf_path);
	stage_root(&c);
	network(&c);
	/* Into the staged root: the initramfs's root cannot be pivoted away from; it is moved over. */
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir(c.workspace) < 0)
		vm_fail("switch to the staged root", errno);
	/*
	 * The agent's init is PID 1 of a pid namespace of its own, as on every
	 * backend: its /proc shows the agent's processes only (not this PID 1,
	 * not the guest kernel's threads).
	 */
	if (unshare(CLONE_NEWPID) < 0 || (agent = fork()) < 0)
		vm_fail("the agent's pid namespace", errno);
	if (agent > 0) {
		close(in);
		close(out);
		close(err);
		supervise_agent(agent);
	}
	close(ctl_fd);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
	    mount("/proc/sys", "/proc/sys", NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    rootfs_mount_attr("/proc/sys", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0) < 0)
		vm_fail("mount the agent's /proc", errno);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		vm_fail("the agent's stdio", errno);
	close(in);
	close(out);
	close(err);
	if (seccomp_agent_install(&e) < 0)
		vm_fail("seccomp filter", e.code < 1000 ? e.code : EPERM);
	/* The same agent init as every backend's: routes set, caps dropped, the agent's uid, the command. */
	for (n = 0; c.argv[n]; n++)
		;
	argv = calloc(n + 12, sizeof *argv);
	if (!argv)
		vm_fail("the agent's command", ENOMEM);
	snprintf(uid, sizeof uid, "%u", (unsigned)c.uid);
	snprintf(gid, sizeof gid, "%u", (unsigned)c.gid);
	snprintf(grace, sizeof grace, "%llu.%03llu", c.grace_ms / 1000, c.grace_ms % 1000);
	argv[i++] = "init";
	argv[i++] = "--agent";
	argv[i++] = "--grace";
	argv[i++] = grace;
	if (c.uid) {
		argv[i++] = "--uid";
		argv[i++] = uid;
		argv[i++] = "--gid";
		argv[i++] = gid;
	}
	argv[i++] = "--";
	memcpy(argv + i, c.argv, (n + 1) * sizeof *argv);
	environ = c.env;
	return init_main((int)(i + n), argv);
}
