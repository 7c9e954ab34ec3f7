/* runtime.c - the embedded runtime: namespaces, mounts, the veth between sidecar and agent, start order and teardown. */
#include "runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "fd.h"
#include "netlink.h"
#include "plan.h"
#include "proc.h"
#include "seccomp.h"
#include "tls.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
struct mount_attr {
	unsigned long long attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

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

static int mount_attr(const char *path, unsigned flags, unsigned long long set, unsigned long long clr)
{
	struct mount_attr a = { set, clr, 0, 0 };
	return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a, sizeof a);
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

/*
 * Put the directory held open at fd back at path, writable. It was opened
 * before tmpfs mounts that may cover it (a workspace under /tmp), so it is
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
	return writable ? mount_attr(path, AT_RECURSIVE, 0, MOUNT_ATTR_RDONLY) : 0;
}

/* Cover a directory with an empty read-only tmpfs, unless a tmpfs above hid it already. */
static int hide(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k");
}

/*
 * The agent's filesystem: the host's, read-only, except the workspace;
 * fresh tmpfs on /tmp and /run (its CA bundle and resolv.conf live there);
 * the bottle state and the CA key hidden under empty tmpfs.
 */
static void agent_mounts(const struct rt_config *c, int ready_wr)
{
	struct buf b = BUF_INIT(RT_CA_BUNDLE_MAX);
	struct bb_err e;
	int ws, home = -1;
	static const char resolv[] = RT_AGENT_RESOLV;

	/* What must be read from the host before it is covered. */
	if (rt_agent_ca_bundle(c, &b, &e) < 0)
		shim_fail(ready_wr, "read the bottle CA certificate", e.code < 1000 ? e.code : EINVAL);
	ws = open(c->workspace, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ws < 0)
		shim_fail(ready_wr, "open the workspace", errno);
	if (c->home_dir && (home = open(c->home_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		shim_fail(ready_wr, "open the agent's home", errno);
	if (mount_attr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0) < 0)
		shim_fail(ready_wr, "make the host filesystem read-only", errno);
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=512m") < 0)
		shim_fail(ready_wr, "tmpfs on /tmp", errno);
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m") < 0)
		shim_fail(ready_wr, "tmpfs on /run", errno);
	if (mkdir("/run/bb", 0755) < 0 || write_file("/run/bb/ca-bundle.crt", b.p, b.len, 0644) < 0 ||
	    write_file("/run/bb/resolv.conf", resolv, sizeof resolv - 1, 0644) < 0)
		shim_fail(ready_wr, "write /run/bb", errno);
	buf_free(&b);
	if (mount("/run/bb/resolv.conf", "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
		shim_fail(ready_wr, "bind /etc/resolv.conf", errno);
	if (mkdir("/tmp/home", 0700) < 0 || chown("/tmp/home", c->uid, c->gid) < 0)
		shim_fail(ready_wr, "make the agent's home", errno);
	/* Secrets: the state directory (tokens, plan) and the CA key stay out of sight. */
	if (hide(c->state_dir) < 0)
		shim_fail(ready_wr, "hide the bottle state", errno);
	if (hide(c->ca_dir) < 0)
		shim_fail(ready_wr, "hide the CA key", errno);
	if (bind_back(ws, c->workspace, 1) < 0)
		shim_fail(ready_wr, "mount the workspace read-write", errno);
	close(ws);
	if (home >= 0 && bind_back(home, "/tmp/home", 1) < 0) /* kept across resume, under the state dir */
		shim_fail(ready_wr, "mount the agent's home", errno);
	if (home >= 0)
		close(home);
}

/*
 * The sidecar's: the host's, read-only (it reads the CA, the trust store and
 * the plan from it), except its state directory, where egress logs.
 */
static void sidecar_mounts(const struct rt_config *c, int ready_wr)
{
	int sd = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sd < 0)
		shim_fail(ready_wr, "open the state directory", errno);
	if (mount_attr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0) < 0)
		shim_fail(ready_wr, "make the host filesystem read-only", errno);
	if (bind_back(sd, c->state_dir, 1) < 0)
		shim_fail(ready_wr, "mount the state directory writable", errno);
	close(sd);
}

static volatile sig_atomic_t shim_child;

static void shim_forward(int sig)
{
	if (shim_child > 0)
		kill(shim_child, sig);
}

/*
 * Fork a shim: it enters new namespaces, prepares the mounts, says ready,
 * waits for the go, then forks PID 1 of the new pid namespace (which mounts
 * its /proc and execs argv) and waits for it, passing its status up.
 */
static int shim_start(const struct rt_config *c, int agent, char *const argv[], char **envp, struct shim *s,
		      struct bb_err *e)
{
	int ready[2], go[2], exe;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return bb_errno(e, errno, "pipe");
	/* This binary, held open: the agent's new /tmp may cover where it lives (a checkout under /tmp). */
	exe = open(c->bb_path, O_PATH | O_CLOEXEC);
	if (exe < 0)
		return bb_errno(e, errno, "open %s", c->bb_path);
	pid = fork();
	if (pid < 0)
		return bb_errno(e, errno, "fork");
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = shim_forward };
		char g = 0;
		int st;
		close(ready[0]);
		close(go[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* the host went away: nothing of the bottle may outlive it */
		if (c->fault == (agent ? 2 : 1))
			shim_fail(ready[1], agent ? "agent namespaces (fault injected)" : "sidecar namespaces (fault injected)",
				  EPERM);
		if (unshare(NS_FLAGS) < 0)
			shim_fail(ready[1], "unshare namespaces", errno);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			shim_fail(ready[1], "make mounts private", errno);
		if (sethostname(agent ? "bb-agent" : "bb-sidecar", agent ? 8 : 10) < 0)
			shim_fail(ready[1], "set the hostname", errno);
		if (agent)
			agent_mounts(c, ready[1]);
		else
			sidecar_mounts(c, ready[1]);
		(void)!write(ready[1], "R", 1);
		if (read(go[0], &g, 1) != 1 || g != 'G')
			_exit(111);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		shim_child = fork();
		if (shim_child == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
				shim_fail(ready[1], "mount /proc", errno);
			/* The old cwd is the host's directory under the new mounts: start in the workspace as mounted. */
			if (chdir(agent ? c->workspace : c->state_dir) < 0)
				shim_fail(ready[1], "enter the workspace", errno);
			if (agent) {
				struct bb_err se;
				if (c->fault == 4 || seccomp_agent_install(&se) < 0)
					shim_fail(ready[1], c->fault == 4 ? "seccomp filter (fault injected)" : "seccomp filter",
						  c->fault == 4 ? EPERM : se.code);
			}
			syscall(SYS_execveat, exe, "", argv, envp, AT_EMPTY_PATH);
			shim_fail(ready[1], "exec bb init", errno);
		}
		if (shim_child < 0)
			_exit(111);
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

/* Wait for a shim's 'R'; its error becomes ours. */
static int shim_wait_ready(struct shim *s, const char *who, struct bb_err *e)
{
	char msg[300];
	ssize_t n = read(s->ready_rd, msg, sizeof msg - 1);
	if (n == 1 && msg[0] == 'R')
		return 0;
	if (n > 1 && msg[0] == 'E') {
		msg[n] = 0;
		return bb_errf(e, BB_ELIB, "%s: %s", who, msg + 1);
	}
	return bb_errf(e, BB_ELIB, "%s: the namespace setup died", who);
}

static void shim_stop(struct shim *s, int grace_ms)
{
	int st, i;
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	for (i = 0; i < grace_ms / 20; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			break;
		}
		usleep(20000);
	}
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &st, 0);
		s->pid = 0;
	}
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

/* Until egress accepts on the sidecar's address (a socket made inside its namespace), or timeout. */
int rt_wait_egress(int self_ns, int s_ns, int timeout_ms, struct bb_err *e)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(PORT_EGRESS) };
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
	return bb_errf(e, BB_ELIB, "the sidecar's egress did not start listening within %d ms (see its log)",
		       timeout_ms);
}

char **rt_agent_argv(const struct rt_config *c, const char *argv0, char uid[16], char gid[16])
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
	v[i++] = "--uid";
	v[i++] = uid;
	v[i++] = "--gid";
	v[i++] = gid;
	v[i++] = "--";
	memcpy(v + i, c->argv, (n + 1) * sizeof *v);
	return v;
}

int rt_run(const struct rt_config *c, int *exit_code, struct bb_err *e)
{
	struct shim s = { 0, -1, -1 }, a = { 0, -1, -1 };
	char slog[4200];
	char *sargv[] = { "bb", "init", "--sidecar", "--log", slog, NULL };
	char **aargv;
	char uid[16], gid[16];
	int self_ns = -1, s_ns = -1, a_ns = -1, st, rc = -1;

	snprintf(slog, sizeof slog, "%s/init.log", c->state_dir);
	aargv = rt_agent_argv(c, "bb", uid, gid);
	if (!aargv)
		return bb_errno(e, ENOMEM, "runtime");
	self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self_ns < 0) {
		bb_errno(e, errno, "open /proc/self/ns/net");
		goto out;
	}
	if (shim_start(c, 0, sargv, c->sidecar_env, &s, e) < 0 || shim_wait_ready(&s, "sidecar", e) < 0)
		goto out;
	if (shim_start(c, 1, aargv, c->agent_env, &a, e) < 0 || shim_wait_ready(&a, "agent", e) < 0)
		goto out;
	if ((s_ns = open_ns(s.pid, e)) < 0 || (a_ns = open_ns(a.pid, e)) < 0)
		goto out;
	if (c->fault == 3) {
		bb_errf(e, BB_ELIB, "network: fault injected");
		goto out;
	}
	if (rt_wire(self_ns, s_ns, a_ns, e) < 0)
		goto out;
	if (write(s.go_wr, "G", 1) != 1) {
		bb_errno(e, errno, "start the sidecar");
		goto out;
	}
	if (rt_wait_egress(self_ns, s_ns, 10000, e) < 0)
		goto out;
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
	{
		/* A step after the go (seccomp, /proc, exec) reports on the same pipe before the shim exits. */
		char msg[300];
		ssize_t got;
		fcntl(a.ready_rd, F_SETFL, O_NONBLOCK);
		got = read(a.ready_rd, msg, sizeof msg - 1);
		if (got > 1 && msg[0] == 'E') {
			msg[got] = 0;
			bb_errf(e, BB_ELIB, "agent: %s", msg + 1);
			goto out;
		}
	}
	*exit_code = proc_exit_code(st);
	rc = 0;
out:
	shim_stop(&a, 2000);
	shim_stop(&s, 5000);
	if (s_ns >= 0)
		close(s_ns);
	if (a_ns >= 0)
		close(a_ns);
	if (self_ns >= 0)
		close(self_ns);
	free(aargv);
	return rc;
}
