/* oci.c - the OCI backend: the same two sandboxes as OCI runtime-spec bundles, run by runc or crun. */
#include "oci.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd.h"
#include "json.h"
#include "plan.h"
#include "proc.h"
#include "backend.h"
#include "cgroup.h"
#include "rootfs.h"
#include "seccomp.h"

static cJSON *strs(const char *const *v)
{
	cJSON *a = cJSON_CreateArray();
	for (; v && *v; v++)
		cJSON_AddItemToArray(a, cJSON_CreateString(*v));
	return a;
}

static void add_mount(cJSON *mounts, const char *dst, const char *type, const char *src, const char *const *opts)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "destination", dst);
	cJSON_AddStringToObject(m, "type", type);
	cJSON_AddStringToObject(m, "source", src);
	cJSON_AddItemToObject(m, "options", strs(opts));
	cJSON_AddItemToArray(mounts, m);
}

static void id_map(cJSON *arr, unsigned inside, unsigned outside)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddNumberToObject(m, "containerID", inside);
	cJSON_AddNumberToObject(m, "hostID", outside);
	cJSON_AddNumberToObject(m, "size", 1);
	cJSON_AddItemToArray(arr, m);
}

/* Where the walk of one side's root puts its entries: the mounts array, the (shared) staged root directory. */
struct oci_walk {
	cJSON *mounts;
	const char *rootfs;
	int gvisor; /* runsc knows no "rro": its "ro" covers what lies below (the Sentry serves the whole tree) */
};

/*
 * The OCI backend's action for one top-level entry (lib/rootfs.h): a
 * runtime cannot pivot_root into "/" itself, so the root is an empty
 * staged directory with each directory bind-mounted recursively read-only
 * ("rro"), each file bound read-only onto an empty one, each symlink
 * copied; hidden names get an empty directory (config adds the tmpfs).
 */
static int oci_entry(void *arg, const struct rootfs_entry *en)
{
	static const char *const rro[] = { "rbind", "rro", "nosuid", NULL };
	static const char *const rbind_ro[] = { "rbind", "ro", "nosuid", NULL };
	static const char *const ro_file[] = { "bind", "ro", "nosuid", NULL };
	const struct oci_walk *w = arg;
	char dst[PATH_MAX + NAME_MAX + 2], at[NAME_MAX + 2];
	int fd;
	snprintf(dst, sizeof dst, "%s/%s", w->rootfs, en->name);
	snprintf(at, sizeof at, "/%s", en->name);
	switch (en->kind) {
	case ROOTFS_LINK:
		(void)!symlink(en->link, dst);
		break;
	case ROOTFS_DIR:
		mkdir(dst, 0755);
		add_mount(w->mounts, at, "bind", en->src, w->gvisor ? rbind_ro : rro);
		break;
	case ROOTFS_FILE:
		fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			close(fd);
			add_mount(w->mounts, at, "bind", en->src, ro_file);
		}
		break;
	case ROOTFS_HIDDEN:
		mkdir(dst, 0755);
		break;
	case ROOTFS_OWN:
		break;
	}
	return 0;
}

/*
 * config.json for one side: the host's root read-only (root.path "/"),
 * fresh /proc, /dev, /tmp; five namespaces; the agent also gets its
 * workspace read-write, /run with its CA bundle and resolv.conf, and the
 * state and CA directories hidden.
 */
static cJSON *config(const struct rt_config *c, int agent, char *const argv[], char **envp, const char *run_dir,
		     const char *rootfs, long long mem, long pids, int cgroups, const char *netns, int gvisor)
{
	static const char *const ns[] = { "pid", "network", "ipc", "uts", "mount" };
	/* init needs these to drop privileges; it ends with none (the agent) or keeps them for its daemons. */
	static const char *const caps[] = { "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL", "CAP_NET_BIND_SERVICE",
					    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", NULL };
	static const char *const nosuid_dev[] = { "nosuid", "nodev", "noexec", NULL };
	static const char *const devopts[] = { "nosuid", "strictatime", "mode=755", "size=65536k", NULL };
	static const char *const ptsopts[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", NULL };
	static const char *const tmpopts[] = { "nosuid", "nodev", "mode=1777", "size=512m", NULL };
	static const char *const runopts[] = { "nosuid", "nodev", "mode=755", "size=16m", NULL };
	static const char *const homeopts[] = { "nosuid", "nodev", "noexec", "mode=755", "size=64k", NULL };
	static const char *const rbind_rw[] = { "rbind", "rw", NULL };
	static const char *const bind_ro[] = { "bind", "ro", NULL };
	static const char *const hideopts[] = { "ro", "nosuid", "nodev", "noexec", "size=4k", NULL };
	static const char *const masked[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
					      "/sys/firmware", NULL };
	static const char *const readonly[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL };
	cJSON *cfg = cJSON_CreateObject(), *proc, *user, *capo, *root, *mounts, *linux, *nsa;
	char path[PATH_MAX + 32];
	struct stat st;
	size_t i;

	cJSON_AddStringToObject(cfg, "ociVersion", "1.0.2");
	proc = cJSON_AddObjectToObject(cfg, "process");
	cJSON_AddBoolToObject(proc, "terminal", 0);
	user = cJSON_AddObjectToObject(proc, "user");
	cJSON_AddNumberToObject(user, "uid", 0);
	cJSON_AddNumberToObject(user, "gid", 0);
	cJSON_AddItemToObject(proc, "args", strs((const char *const *)argv));
	{
		/* The token slots never go into config.json (it sits on disk): they come on fd 3 (secrets_memfd). */
		cJSON *env = cJSON_AddArrayToObject(proc, "env");
		for (i = 0; envp && envp[i]; i++)
			if (strncmp(envp[i], PLAN_TOKEN_SLOT_PREFIX, sizeof PLAN_TOKEN_SLOT_PREFIX - 1))
				cJSON_AddItemToArray(env, cJSON_CreateString(envp[i]));
		if (!agent)
			cJSON_AddItemToArray(env, cJSON_CreateString("BB_SECRETS_FD=3"));
	}
	cJSON_AddStringToObject(proc, "cwd", agent ? rt_agent_workdir(c) : c->state_dir);
	capo = cJSON_AddObjectToObject(proc, "capabilities");
	cJSON_AddItemToObject(capo, "bounding", strs(caps));
	cJSON_AddItemToObject(capo, "effective", strs(caps));
	cJSON_AddItemToObject(capo, "permitted", strs(caps));
	cJSON_AddBoolToObject(proc, "noNewPrivileges", 0); /* bb init --agent sets it after dropping */
	/*
	 * The host's filesystem, read-only: a runtime cannot pivot_root into "/"
	 * itself, so the root is an empty staged directory with each top-level
	 * directory of the host bind-mounted recursively read-only ("rro") and
	 * each top-level symlink (merged /usr: /bin -> usr/bin) copied.
	 */
	root = cJSON_AddObjectToObject(cfg, "root");
	cJSON_AddStringToObject(root, "path", rootfs);
	cJSON_AddBoolToObject(root, "readonly", 1);
	cJSON_AddStringToObject(cfg, "hostname", agent ? "bb-agent" : "bb-sidecar");
	mounts = cJSON_AddArrayToObject(cfg, "mounts");
	{
		struct oci_walk w = { mounts, rootfs, gvisor };
		const char *src = agent && c->rootfs ? c->rootfs : "/";
		rootfs_walk(src, !agent ? ROOTFS_SIDECAR_HOST : c->rootfs ? ROOTFS_AGENT_IMAGE : ROOTFS_AGENT_HOST, oci_entry,
			    &w);
		snprintf(path, sizeof path, "%s/proc", rootfs);
		mkdir(path, 0555);
		snprintf(path, sizeof path, "%s/dev", rootfs);
		mkdir(path, 0755);
		snprintf(path, sizeof path, "%s/tmp", rootfs);
		mkdir(path, 01777);
		snprintf(path, sizeof path, "%s/run", rootfs);
		mkdir(path, 0755);
	}
	add_mount(mounts, "/proc", "proc", "proc", nosuid_dev);
	add_mount(mounts, "/dev", "tmpfs", "tmpfs", devopts);
	add_mount(mounts, "/dev/pts", "devpts", "devpts", ptsopts);
	if (agent) {
		static const char *const shmopts[] = { "nosuid", "nodev", "noexec", "mode=1777", "size=65536k", NULL };
		add_mount(mounts, "/dev/shm", "tmpfs", "shm", shmopts); /* runc and crun make none */
		const char *hidden;
		add_mount(mounts, "/tmp", "tmpfs", "tmpfs", tmpopts);
		add_mount(mounts, "/run", "tmpfs", "tmpfs", runopts);
		for (i = 0; (hidden = rootfs_hidden(c->rootfs ? ROOTFS_AGENT_IMAGE : ROOTFS_AGENT_HOST, i)) != NULL; i++) {
			snprintf(path, sizeof path, "/%s", hidden);
			add_mount(mounts, path, "tmpfs", "tmpfs", homeopts);
		}
		add_mount(mounts, "/run/bb", "bind", run_dir, bind_ro);
		snprintf(path, sizeof path, "%s/etc/resolv.conf", c->rootfs ? c->rootfs : "");
		if (!c->rootfs || (lstat(path, &st) == 0 && S_ISREG(st.st_mode))) { /* an image's: only a file is covered */
			snprintf(path, sizeof path, "%s/resolv.conf", run_dir);
			add_mount(mounts, "/etc/resolv.conf", "bind", path, bind_ro);
		}
		if (c->rootfs) {
			snprintf(path, sizeof path, "%s" RT_WORKSPACE_IN_IMAGE, rootfs);
			mkdir(path, 0755);
		}
		add_mount(mounts, rt_agent_workdir(c), "bind", c->workspace, rbind_rw);
		if (c->home_dir)
			add_mount(mounts, "/tmp/home", "bind", c->home_dir, rbind_rw);
		if (!c->rootfs) { /* an image's root holds neither */
			add_mount(mounts, c->state_dir, "tmpfs", "tmpfs", hideopts);
			add_mount(mounts, c->ca_dir, "tmpfs", "tmpfs", hideopts);
		}
		{
			/* What the agent program needs of a hidden place (an npm prefix in a home): just that, read-only. */
			static const char *const prog_ro[] = { "bind", "ro", "nosuid", NULL };
			const char *const *rp;
			for (rp = c->ro_paths; rp && *rp; rp++)
				if (rt_path_hidden(c, *rp))
					add_mount(mounts, *rp, "bind", *rp, prog_ro);
		}
	} else {
		add_mount(mounts, c->state_dir, "bind", c->state_dir, rbind_rw);
	}
	linux = cJSON_AddObjectToObject(cfg, "linux");
	nsa = cJSON_AddArrayToObject(linux, "namespaces");
	for (i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		cJSON *n = cJSON_CreateObject();
		cJSON_AddStringToObject(n, "type", ns[i]);
		if (netns && !strcmp(ns[i], "network")) /* made and wired before the runtime starts (runsc reads it at once) */
			cJSON_AddStringToObject(n, "path", netns);
		cJSON_AddItemToArray(nsa, n);
	}
	cJSON_AddItemToObject(linux, "maskedPaths", strs(masked));
	cJSON_AddItemToObject(linux, "readonlyPaths", strs(readonly));
	/*
	 * A user namespace on each side, as in bb's runtime, with 1:1 maps: the
	 * runtimes mount from inside the namespace by path, and the bundle's
	 * sources live in the 0700 state directory, so root there stays host
	 * uid 0 (no capability outside its namespaces); bb's own runtime opens
	 * them first and gives the agent's root an unprivileged host uid.
	 */
	{
		cJSON *n = cJSON_CreateObject(), *um = cJSON_AddArrayToObject(linux, "uidMappings"),
		      *gm = cJSON_AddArrayToObject(linux, "gidMappings");
		cJSON_AddStringToObject(n, "type", "user");
		cJSON_AddItemToArray(nsa, n);
		id_map(um, 0, 0);
		id_map(gm, 0, 0);
		if (agent && c->uid)
			id_map(um, c->uid, c->uid);
		if (agent && c->gid)
			id_map(gm, c->gid, c->gid);
	}
	if (cgroups) {
		/* A cgroup per side, limits as bb's runtime sets them (relative path: under the runtime's own cgroup). */
		cJSON *res = cJSON_AddObjectToObject(linux, "resources");
		char cg[64];
		snprintf(cg, sizeof cg, CGROUP_PREFIX "%d-%s", (int)getpid(), agent ? "agent" : "sidecar");
		cJSON_AddStringToObject(linux, "cgroupsPath", cg);
		if (mem >= 0)
			cJSON_AddNumberToObject(cJSON_AddObjectToObject(res, "memory"), "limit",
						(double)(mem ? mem : agent ? RT_AGENT_MEMORY_DEFAULT : RT_SIDECAR_MEMORY_DEFAULT));
		if (pids >= 0)
			cJSON_AddNumberToObject(cJSON_AddObjectToObject(res, "pids"), "limit",
						(double)(pids ? pids : agent ? RT_AGENT_PIDS_DEFAULT : RT_SIDECAR_PIDS_DEFAULT));
	}
	if (agent)
		cJSON_AddItemToObject(linux, "seccomp", seccomp_agent_profile());
	return cfg;
}

static int write_bundle(const char *dir, cJSON *cfg, struct bb_err *e)
{
	struct buf b = BUF_INIT(4u << 20);
	char path[PATH_MAX + 32];
	int rc;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return bb_errno(e, errno, "oci: create %s", dir);
	snprintf(path, sizeof path, "%s/config.json", dir);
	rc = json_print(cfg, &b, e) < 0 ? -1 : fd_write_file_atomic(path, b.p, b.len, 0600, e); /* it holds the tokens */
	buf_free(&b);
	return rc;
}

#define HYBRID_V2_MOUNT "/sys/fs/cgroup/unified"

/* Is the program (the first word of prog, a path or a name) name ("crun", "runsc")? */
static int prog_is(const char *prog, const char *name)
{
	size_t n = strcspn(prog, " "), i;
	const char *base = prog;
	for (i = 0; i < n; i++)
		if (prog[i] == '/')
			base = prog + i + 1;
	return (size_t)(prog + n - base) == strlen(name) && !strncmp(base, name, strlen(name));
}

#define is_crun(prog) prog_is(prog, "crun")
#define is_runsc(prog) prog_is(prog, "runsc")

/* systemd's hybrid layout: v1 controllers and a cgroup2 mount at HYBRID_V2_MOUNT that offers some controller. */
static int hybrid_cgroups(void)
{
	struct buf b = BUF_INIT(4096);
	struct bb_err e;
	int hybrid = fd_read_file(HYBRID_V2_MOUNT "/cgroup.controllers", 4096, &b, &e) == 0 && b.len > 1;
	buf_free(&b);
	return hybrid;
}

/*
 * Run `RUNTIME ARGS...` and wait; its exit code, or -1 with e set. RUNTIME
 * may carry global options after the program ("crun --cgroup-manager=disabled").
 */
/* Run RUNTIME ARGS...; pass_fd >= 0 becomes the child's fd 3 (for --preserve-fds 1). The exit code, or -1. */
static int runtime_run(const char *runtime, const char *const args[], int pass_fd, int reap, struct bb_err *e)
{
	char copy[512], *argv[24], *save = NULL, *w;
	size_t n = 0, i;
	pid_t pid;
	int st;
	snprintf(copy, sizeof copy, "%s", runtime);
	for (w = strtok_r(copy, " ", &save); w && n < 12; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	/* crun picks its cgroup paths from the hierarchy's root, not its own cgroup: bb does not let it make any. */
	if (n && is_crun(argv[0]))
		argv[n++] = "--cgroup-manager=disabled";
	/* runsc applies a bundle's seccomp filter in the Sentry only when told to. */
	if (n && is_runsc(argv[0]))
		argv[n++] = "--oci-seccomp";
	for (i = 0; args[i] && n < 23; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		/*
		 * crun refuses a hybrid host ("cgroups in hybrid mode not
		 * supported") when the cgroup2 mount offers any controller; in a
		 * mount namespace of its own without that mount it sees the v1
		 * hierarchies and uses them (limits included).
		 */
		if (is_crun(argv[0]) && hybrid_cgroups() &&
		    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		     umount2(HYBRID_V2_MOUNT, MNT_DETACH) < 0))
			_exit(126);
		/*
		 * runsc (up to 2023) takes a network namespace in which
		 * /proc/sys/net/core/rmem_default exists for the host's own and
		 * refuses it; since Linux made that sysctl per namespace, every
		 * namespace has it. In a mount namespace of its own /proc/sys/net
		 * (whose entries follow the reader's network namespace) is covered
		 * while `runsc start` reads the namespace's interfaces; the sandbox,
		 * made by `create`, keeps the real one.
		 */
		if (is_runsc(argv[0]) && !strcmp(args[0], "start") && unshare(CLONE_NEWNS) == 0 &&
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
			(void)mount("tmpfs", "/proc/sys/net", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k");
		if (pass_fd >= 0 && (dup2(pass_fd, 3) < 0 || (pass_fd == 3 && fcntl(3, F_SETFD, 0) < 0)))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0)
		return bb_errno(e, errno, "oci: fork %s", runtime);
	for (;;) {
		/* Tearing down, the containers' processes (ours: a subreaper) are reaped as they end: a runtime that
		 * waits for them to be gone (runsc) would otherwise wait for zombies. */
		pid_t got = waitpid(reap ? -1 : pid, &st, 0);
		if (got == pid)
			break;
		if (got < 0 && errno != EINTR)
			return bb_errno(e, errno, "oci: wait for %s", runtime);
	}
	return proc_exit_code(st);
}

static int runtime_cmd_fd(const char *runtime, const char *const args[], int pass_fd, struct bb_err *e)
{
	return runtime_run(runtime, args, pass_fd, 0, e);
}

/* A teardown's command (kill, delete): every container process that ends meanwhile is reaped. */
static int runtime_teardown(const char *runtime, const char *const args[])
{
	return runtime_run(runtime, args, -1, 1, NULL);
}

static int runtime_cmd(const char *runtime, const char *const args[], struct bb_err *e)
{
	return runtime_cmd_fd(runtime, args, -1, e);
}

/*
 * The sidecar's token slots (PLAN_TOKEN_SLOT_PREFIX... entries of its env)
 * as SLOT=VALUE lines in a memfd, sealed: handed to the sidecar's init as
 * fd 3 (BB_SECRETS_FD), so they exist in memory only, never in a file.
 * The fd, or -1 with e set.
 */
static int secrets_memfd(char **envp, struct bb_err *e)
{
	int fd = memfd_create("bb-secrets", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t i;

	if (fd < 0)
		return bb_errno(e, errno, "oci: memfd for the sidecar's tokens");
	for (i = 0; envp && envp[i]; i++)
		if (!strncmp(envp[i], PLAN_TOKEN_SLOT_PREFIX, sizeof PLAN_TOKEN_SLOT_PREFIX - 1) &&
		    (fd_write_all(fd, envp[i], strlen(envp[i])) < 0 || fd_write_all(fd, "\n", 1) < 0)) {
			bb_errno(e, errno, "oci: memfd for the sidecar's tokens");
			return fd_close(fd);
		}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		bb_errno(e, errno, "oci: seal the tokens' memfd");
		return fd_close(fd);
	}
	return fd;
}

/* The pid of a created container, from `RUNTIME state ID`. */
static pid_t container_pid(const char *runtime, const char *id, struct bb_err *e)
{
	int p[2];
	pid_t pid, cpid = -1;
	struct buf b = BUF_INIT(1u << 20);
	cJSON *doc;
	int st;
	if (pipe2(p, O_CLOEXEC) < 0)
		return bb_errno(e, errno, "pipe");
	pid = fork();
	if (pid == 0) {
		const char *args[] = { "state", id, NULL };
		dup2(p[1], 1);
		_exit(runtime_cmd(runtime, args, NULL));
	}
	close(p[1]);
	fd_read_all(p[0], &b, e);
	close(p[0]);
	waitpid(pid, &st, 0);
	doc = b.len ? json_parse("runtime state", b.p, b.len, e) : NULL;
	if (doc && cJSON_IsNumber(cJSON_GetObjectItem(doc, "pid")))
		cpid = (pid_t)cJSON_GetObjectItem(doc, "pid")->valuedouble;
	cJSON_Delete(doc);
	buf_free(&b);
	if (cpid <= 0)
		return bb_errf(e, BB_ELIB, "oci: %s state %s gave no pid", runtime, id);
	return cpid;
}

/*
 * A network namespace of its own, held by a child (it dies with this
 * process) until a runtime has joined it: runsc reads the namespace's
 * interfaces once, when it creates the sandbox, so the veth must be there
 * before. The child's pid (its /proc/PID/ns/net), or -1 with e.
 */
static pid_t netns_holder(struct bb_err *e)
{
	int p[2];
	char b = 0;
	pid_t pid;
	if (pipe2(p, O_CLOEXEC) < 0)
		return bb_errno(e, errno, "oci: pipe");
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) < 0 || write(p[1], "R", 1) != 1)
			_exit(111);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &b, 1) != 1 || b != 'R') {
		close(p[0]);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return bb_errno(e, pid < 0 ? errno : EPERM, "oci: a network namespace for the agent");
	}
	close(p[0]);
	return pid;
}

static void holder_end(pid_t *holder)
{
	if (*holder > 0) {
		kill(*holder, SIGKILL);
		waitpid(*holder, NULL, 0);
	}
	*holder = -1;
}

int oci_run(const struct rt_config *c, const char *runtime, int *exit_code, struct bb_err *e)
{
	char sdir[PATH_MAX + 16], adir[PATH_MAX + 16], rundir[PATH_MAX + 16], sid[64], aid[64], p[PATH_MAX + 32];
	char slog[PATH_MAX + 16], uid[16], gid[16], aroot[PATH_MAX + 32];
	char *sargv[] = { (char *)c->bb_path, "init", "--sidecar", "--log", slog, NULL };
	char **aargv = NULL;
	struct buf bundle = BUF_INIT(RT_CA_BUNDLE_MAX);
	cJSON *scfg = NULL, *acfg = NULL;
	pid_t spid, apid, holder = -1;
	int self_ns = -1, s_ns = -1, a_ns = -1, created_s = 0, created_a = 0, rc = -1, st, gvisor = is_runsc(runtime);
	/* Under gVisor the agent only: the sidecar runs bb's own daemons and takes its tokens on an inherited
	 * descriptor, which runsc cannot pass (no --preserve-fds), so it runs under runc. */
	const char *srt = gvisor ? "runc" : runtime;
	char netns[64] = "";

	snprintf(sdir, sizeof sdir, "%s/sidecar", c->state_dir);
	snprintf(adir, sizeof adir, "%s/agent", c->state_dir);
	snprintf(rundir, sizeof rundir, "%s/agent-run", c->state_dir);
	snprintf(slog, sizeof slog, "%s/init.log", c->state_dir);
	snprintf(sid, sizeof sid, "bb-%d-sidecar", (int)getpid());
	snprintf(aid, sizeof aid, "bb-%d-agent", (int)getpid());
	/* A copy in the agent's /run/bb: its /tmp may hide where this binary lives. */
	aargv = rt_agent_argv(c, "/run/bb/bb", uid, gid, 1); /* the runtimes add to /dev (crun: core; runsc: fuse, net) */
	if (!aargv)
		return bb_errno(e, ENOMEM, "oci");

	/* The agent's /run/bb: CA bundle (system roots + bottle CA) and resolv.conf, bind-mounted read-only. */
	if (mkdir(rundir, 0755) < 0) {
		bb_errno(e, errno, "oci: stage %s", rundir);
		goto out;
	}
	if (rt_agent_ca_bundle(c, &bundle, e) < 0)
		goto out;
	{
		static const char resolv[] = RT_AGENT_RESOLV;
		char f[PATH_MAX + 32];
		snprintf(f, sizeof f, "%s/ca-bundle.crt", rundir);
		if (fd_write_file_atomic(f, bundle.p, bundle.len, 0644, e) < 0)
			goto out;
		snprintf(f, sizeof f, "%s/resolv.conf", rundir);
		if (fd_write_file_atomic(f, resolv, sizeof resolv - 1, 0644, e) < 0)
			goto out;
		snprintf(f, sizeof f, "%s/bin", rundir);
		if (rt_make_bin_links(c, f) < 0) {
			bb_errno(e, errno, "oci: link the agent program in %s", f);
			goto out;
		}
		{
			struct buf exe = BUF_INIT(256u << 20);
			snprintf(f, sizeof f, "%s/bb", rundir);
			if (fd_read_file(c->bb_path, 256u << 20, &exe, e) < 0 ||
			    fd_write_file_atomic(f, exe.p, exe.len, 0755, e) < 0) {
				buf_free(&exe);
				goto out;
			}
			buf_free(&exe);
		}
	}
	chmod(c->state_dir, 0711); /* the runtime's container init must reach the bundle's bind sources */
	/* Each side's staged root of its own: an image's top level is not the host's. */
	snprintf(p, sizeof p, "%s/rootfs.sidecar", c->state_dir);
	snprintf(aroot, sizeof aroot, "%s/rootfs.agent", c->state_dir);
	if (mkdir(p, 0755) < 0 || mkdir(aroot, 0755) < 0) {
		bb_errno(e, errno, "oci: create %s", errno == EEXIST ? aroot : p);
		goto out;
	}
	{
		long long mem;
		long pids;
		int cgroups = !is_crun(runtime);
		if (rt_agent_limits(c, &mem, &pids, e) < 0)
			goto out;
		if (!cgroups && (mem > 0 || pids > 0)) {
			bb_errf(e, BB_ELIB, "oci: cgroup limits: a limit was asked for, and bb runs crun without cgroups "
					    "(docs/runtime.md); use runc or the embedded runtime");
			goto out;
		}
		if (gvisor) {
			if ((holder = netns_holder(e)) < 0)
				goto out;
			snprintf(netns, sizeof netns, "/proc/%d/ns/net", (int)holder);
		}
		scfg = config(c, 0, sargv, c->sidecar_env, rundir, p, 0, 0, cgroups, NULL, 0);
		acfg = config(c, 1, aargv, c->agent_env, rundir, aroot, mem, pids, cgroups, netns[0] ? netns : NULL, gvisor);
	}
	if (!scfg || !acfg || write_bundle(sdir, scfg, e) < 0 || write_bundle(adir, acfg, e) < 0)
		goto out;

	/* Create both (namespaces made, processes waiting), wire them, then start. */
	{
		const char *cs[] = { "create", "--preserve-fds", "1", "--bundle", sdir, sid, NULL };
		const char *ca[] = { "create", "--bundle", adir, aid, NULL };
		int sfd = secrets_memfd(c->sidecar_env, e), r;
		if (sfd < 0)
			goto out;
		r = runtime_cmd_fd(srt, cs, sfd, e);
		close(sfd);
		if (r != 0) {
			bb_errf(e, BB_ELIB, "oci: %s create (sidecar) failed", srt);
			goto out;
		}
		created_s = 1;
		if ((spid = container_pid(srt, sid, e)) < 0)
			goto out;
		self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		snprintf(p, sizeof p, "/proc/%d/ns/net", (int)spid);
		s_ns = open(p, O_RDONLY | O_CLOEXEC);
		if (gvisor) { /* the agent's namespace is wired before runsc reads it */
			a_ns = open(netns, O_RDONLY | O_CLOEXEC);
			if (self_ns < 0 || s_ns < 0 || a_ns < 0) {
				bb_errno(e, errno, "oci: open the network namespaces");
				goto out;
			}
			if (rt_wire(self_ns, s_ns, a_ns, e) < 0)
				goto out;
		}
		if (runtime_cmd(runtime, ca, e) != 0) {
			bb_errf(e, BB_ELIB, "oci: %s create (agent) failed", runtime);
			goto out;
		}
		created_a = 1;
	}
	if ((apid = container_pid(runtime, aid, e)) < 0)
		goto out;
	if (!gvisor) {
		snprintf(p, sizeof p, "/proc/%d/ns/net", (int)apid);
		a_ns = open(p, O_RDONLY | O_CLOEXEC);
		if (self_ns < 0 || s_ns < 0 || a_ns < 0) {
			bb_errno(e, errno, "oci: open the containers' network namespaces");
			goto out;
		}
		if (rt_wire(self_ns, s_ns, a_ns, e) < 0)
			goto out;
	}
	{
		const char *ss[] = { "start", sid, NULL };
		const char *sa[] = { "start", aid, NULL };
		if (runtime_cmd(srt, ss, e) != 0) {
			bb_errf(e, BB_ELIB, "oci: %s start (sidecar) failed", srt);
			goto out;
		}
		if (rt_wait_egress(self_ns, s_ns, 10000, e) < 0)
			goto out;
		if (runtime_cmd(runtime, sa, e) != 0) {
			bb_errf(e, BB_ELIB, "oci: %s start (agent) failed", runtime);
			goto out;
		}
		holder_end(&holder); /* runsc has read the namespace (at start): its sandbox holds it now */
	}
	/* The container's process is ours to wait for: this process is a child subreaper. */
	if (c->agent_pid)
		*c->agent_pid = apid;
	while (waitpid(apid, &st, 0) < 0)
		if (errno != EINTR) {
			bb_errno(e, errno, "oci: wait for the agent");
			goto out;
		}
	if (c->agent_pid)
		*c->agent_pid = 0;
	*exit_code = proc_exit_code(st);
	rc = 0;
out:
	if (created_a) {
		const char *d[] = { "delete", "--force", aid, NULL };
		runtime_teardown(runtime, d);
	}
	if (created_s) {
		const char *k[] = { "kill", sid, "TERM", NULL };
		const char *d[] = { "delete", "--force", sid, NULL };
		runtime_teardown(srt, k);
		usleep(200000);
		runtime_teardown(srt, d);
	}
	holder_end(&holder);
	while (waitpid(-1, &st, WNOHANG) > 0) /* adopted container processes */
		;
	if (self_ns >= 0)
		close(self_ns);
	if (s_ns >= 0)
		close(s_ns);
	if (a_ns >= 0)
		close(a_ns);
	cJSON_Delete(scfg);
	cJSON_Delete(acfg);
	buf_free(&bundle);
	free(aargv);
	return rc;
}

/* ---------- the backend table's entry (host/backend.h) ---------- */

#define OCI_RUNTIMES "runc", "crun", "runsc"

/* Is prog (its first word) a file this process may run: a path, or found in PATH? */
static int runnable(const char *prog)
{
	char name[256], path[4096];
	const char *dirs = getenv("PATH"), *p;
	size_t n = strcspn(prog, " ");
	if (n == 0 || n >= sizeof name)
		return 0;
	memcpy(name, prog, n);
	name[n] = 0;
	if (strchr(name, '/'))
		return access(name, X_OK) == 0;
	for (p = dirs ? dirs : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; *p;) {
		size_t l = strcspn(p, ":");
		if (l && (size_t)snprintf(path, sizeof path, "%.*s/%s", (int)l, p, name) < sizeof path &&
		    access(path, X_OK) == 0)
			return 1;
		p += l + (p[l] == ':');
	}
	return 0;
}

static int oci_prepare(struct bk_run *r, struct bb_err *e)
{
	if (!r->runtime)
		r->runtime = "runc";
	if (!runnable(r->runtime))
		return bb_errf(e, BB_ELIB, "oci: runtime '%s' is not installed (apt-get install %s)", r->runtime,
			       is_crun(r->runtime) ? "crun" : is_runsc(r->runtime) ? "runsc" : "runc");
	if (is_runsc(r->runtime) && !runnable("runc")) /* the sidecar's, under gVisor (oci_run) */
		return bb_errf(e, BB_ELIB, "oci: with runsc the sidecar runs under runc, which is not installed (apt-get install runc)");
	return 0;
}

static int oci_backend_run(struct bk_run *r, int *exit_code, struct bb_err *e)
{
	return oci_run(r->c, r->runtime, exit_code, e);
}

static void oci_inspect(const struct bk_bottle *b, bk_line_fn line, void *arg)
{
	char text[200];
	snprintf(text, sizeof text, "%s", b->runtime && *b->runtime ? b->runtime : "runc");
	line(arg, "runtime", text);
	if (b->running) {
		snprintf(text, sizeof text, "bb-%d-sidecar, bb-%d-agent", b->host_pid, b->host_pid);
		line(arg, "containers", text);
	}
}

/* The id bb-PID-SIDE of a container bb made, with PID no longer running: 1; else 0. */
static int dead_container(const char *id)
{
	char *end;
	long pid;
	if (strncmp(id, "bb-", 3))
		return 0;
	pid = strtol(id + 3, &end, 10);
	if (end == id + 3 || pid <= 1 || (strcmp(end, "-sidecar") && strcmp(end, "-agent")))
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* `RUNTIME list`'s first column, one id a line (its header and the rest skipped), into out. */
static int list_ids(const char *runtime, struct buf *out, struct bb_err *e)
{
	int p[2], st;
	pid_t pid;
	if (pipe2(p, O_CLOEXEC) < 0)
		return bb_errno(e, errno, "pipe");
	pid = fork();
	if (pid == 0) {
		const char *args[] = { "list", NULL };
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);
		_exit(runtime_cmd(runtime, args, NULL));
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return bb_errno(e, errno, "fork");
	}
	fd_read_all(p[0], out, e);
	close(p[0]);
	waitpid(pid, &st, 0);
	return 0;
}

static int oci_cleanup(bk_line_fn line, void *arg, struct bb_err *e)
{
	static const char *const rts[] = { OCI_RUNTIMES };
	size_t i;
	int n = 0;
	for (i = 0; i < sizeof rts / sizeof rts[0]; i++) {
		struct buf b = BUF_INIT(1u << 20);
		char *l, *save = NULL;
		if (!runnable(rts[i]) || list_ids(rts[i], &b, e) < 0 || buf_append_byte(&b, 0, e) < 0) {
			buf_free(&b);
			continue;
		}
		for (l = strtok_r(b.p, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			const char *d[] = { "delete", "--force", l, NULL };
			char text[200];
			l[strcspn(l, " \t")] = 0;
			if (strlen(l) > 64 || !dead_container(l) || runtime_cmd(rts[i], d, NULL) != 0)
				continue;
			snprintf(text, sizeof text, "%s container %s", rts[i], l);
			line(arg, "removed", text);
			n++;
		}
		buf_free(&b);
	}
	bb_err_clear(e);
	return n;
}

const struct backend backend_oci = {
	.name = "oci",
	.isolates = "an OCI runtime (runc, crun, or runsc: gVisor) on bb's bundles: namespaces, seccomp",
	.flags = BK_ROOT | BK_RUNTIME | BK_IMAGE,
	.prepare = oci_prepare,
	.run = oci_backend_run,
	.inspect = oci_inspect,
	.cleanup = oci_cleanup,
};
