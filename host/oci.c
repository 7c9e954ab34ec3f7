/* oci.c - the OCI backend: the same two sandboxes as OCI runtime-spec bundles, run by runc or crun. */
#include "oci.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd.h"
#include "json.h"
#include "plan.h"
#include "proc.h"

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

/*
 * config.json for one side: the host's root read-only (root.path "/"),
 * fresh /proc, /dev, /tmp; five namespaces; the agent also gets its
 * workspace read-write, /run with its CA bundle and resolv.conf, and the
 * state and CA directories hidden.
 */
static cJSON *config(const struct rt_config *c, int agent, char *const argv[], char **envp, const char *run_dir,
		     const char *rootfs)
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
	static const char *const rbind_rw[] = { "rbind", "rw", NULL };
	static const char *const bind_ro[] = { "bind", "ro", NULL };
	static const char *const hideopts[] = { "ro", "nosuid", "nodev", "noexec", "size=4k", NULL };
	static const char *const masked[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
					      "/sys/firmware", NULL };
	cJSON *cfg = cJSON_CreateObject(), *proc, *user, *capo, *root, *mounts, *linux, *nsa;
	char path[PATH_MAX + 32];
	size_t i;

	cJSON_AddStringToObject(cfg, "ociVersion", "1.0.2");
	proc = cJSON_AddObjectToObject(cfg, "process");
	cJSON_AddBoolToObject(proc, "terminal", 0);
	user = cJSON_AddObjectToObject(proc, "user");
	cJSON_AddNumberToObject(user, "uid", 0);
	cJSON_AddNumberToObject(user, "gid", 0);
	cJSON_AddItemToObject(proc, "args", strs((const char *const *)argv));
	cJSON_AddItemToObject(proc, "env", strs((const char *const *)envp));
	cJSON_AddStringToObject(proc, "cwd", agent ? c->workspace : c->state_dir);
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
		static const char *const rro[] = { "rbind", "rro", "nosuid", NULL };
		/* The agent gets its own /tmp and /run; the sidecar sees the host's, read-only, as with bb's runtime. */
		static const char *const skip_agent[] = { "proc", "sys", "dev", "tmp", "run", "lost+found", "boot", NULL };
		static const char *const skip_sidecar[] = { "proc", "sys", "dev", "lost+found", "boot", NULL };
		const char *const *skip = agent ? skip_agent : skip_sidecar;
		DIR *d = opendir("/");
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			char src[NAME_MAX + 2], lnk[PATH_MAX], dst[PATH_MAX + NAME_MAX + 2];
			struct stat st;
			const char *const *k;
			ssize_t ll;
			if (de->d_name[0] == '.')
				continue;
			for (k = skip; *k && strcmp(*k, de->d_name); k++)
				;
			if (*k)
				continue;
			snprintf(src, sizeof src, "/%s", de->d_name);
			snprintf(dst, sizeof dst, "%s/%s", rootfs, de->d_name);
			if (lstat(src, &st) < 0)
				continue;
			if (S_ISLNK(st.st_mode) && (ll = readlink(src, lnk, sizeof lnk - 1)) > 0) {
				lnk[ll] = 0;
				(void)!symlink(lnk, dst);
			} else if (S_ISDIR(st.st_mode)) {
				mkdir(dst, 0755);
				add_mount(mounts, src, "bind", src, rro);
			}
		}
		if (d)
			closedir(d);
		snprintf(path, sizeof path, "%s/proc", rootfs);
		mkdir(path, 0555);
		snprintf(path, sizeof path, "%s/dev", rootfs);
		mkdir(path, 0755);
		snprintf(path, sizeof path, "%s/tmp", rootfs);
		mkdir(path, 01777);
		snprintf(path, sizeof path, "%s/run", rootfs);
		mkdir(path, 0755);
		(void)skip_sidecar;
	}
	add_mount(mounts, "/proc", "proc", "proc", nosuid_dev);
	add_mount(mounts, "/dev", "tmpfs", "tmpfs", devopts);
	add_mount(mounts, "/dev/pts", "devpts", "devpts", ptsopts);
	if (agent) {
		add_mount(mounts, "/tmp", "tmpfs", "tmpfs", tmpopts);
		add_mount(mounts, "/run", "tmpfs", "tmpfs", runopts);
		add_mount(mounts, "/run/bb", "bind", run_dir, bind_ro);
		snprintf(path, sizeof path, "%s/resolv.conf", run_dir);
		add_mount(mounts, "/etc/resolv.conf", "bind", path, bind_ro);
		add_mount(mounts, c->workspace, "bind", c->workspace, rbind_rw);
		if (c->home_dir)
			add_mount(mounts, "/tmp/home", "bind", c->home_dir, rbind_rw);
		add_mount(mounts, c->state_dir, "tmpfs", "tmpfs", hideopts);
		add_mount(mounts, c->ca_dir, "tmpfs", "tmpfs", hideopts);
	} else {
		add_mount(mounts, c->state_dir, "bind", c->state_dir, rbind_rw);
	}
	linux = cJSON_AddObjectToObject(cfg, "linux");
	nsa = cJSON_AddArrayToObject(linux, "namespaces");
	for (i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		cJSON *n = cJSON_CreateObject();
		cJSON_AddStringToObject(n, "type", ns[i]);
		cJSON_AddItemToArray(nsa, n);
	}
	cJSON_AddItemToObject(linux, "maskedPaths", strs(masked));
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

/*
 * Run `RUNTIME ARGS...` and wait; its exit code, or -1 with e set. RUNTIME
 * may carry global options after the program ("crun --cgroup-manager=disabled").
 */
static int runtime_cmd(const char *runtime, const char *const args[], struct bb_err *e)
{
	char copy[512], *argv[24], *save = NULL, *w;
	size_t n = 0, i;
	pid_t pid;
	int st;
	snprintf(copy, sizeof copy, "%s", runtime);
	for (w = strtok_r(copy, " ", &save); w && n < 12; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	for (i = 0; args[i] && n < 23; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0)
		return bb_errno(e, errno, "oci: fork %s", runtime);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return bb_errno(e, errno, "oci: wait for %s", runtime);
	return proc_exit_code(st);
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

int oci_run(const struct rt_config *c, const char *runtime, int *exit_code, struct bb_err *e)
{
	char sdir[PATH_MAX + 16], adir[PATH_MAX + 16], rundir[PATH_MAX + 16], sid[64], aid[64], p[PATH_MAX + 32];
	char slog[PATH_MAX + 16], uid[16], gid[16];
	char *sargv[] = { (char *)c->bb_path, "init", "--sidecar", "--log", slog, NULL };
	char **aargv = NULL;
	struct buf bundle = BUF_INIT(RT_CA_BUNDLE_MAX);
	cJSON *scfg = NULL, *acfg = NULL;
	pid_t spid, apid;
	int self_ns = -1, s_ns = -1, a_ns = -1, created_s = 0, created_a = 0, rc = -1, st;

	snprintf(sdir, sizeof sdir, "%s/sidecar", c->state_dir);
	snprintf(adir, sizeof adir, "%s/agent", c->state_dir);
	snprintf(rundir, sizeof rundir, "%s/agent-run", c->state_dir);
	snprintf(slog, sizeof slog, "%s/init.log", c->state_dir);
	snprintf(sid, sizeof sid, "bb-%d-sidecar", (int)getpid());
	snprintf(aid, sizeof aid, "bb-%d-agent", (int)getpid());
	/* A copy in the agent's /run/bb: its /tmp may hide where this binary lives. */
	aargv = rt_agent_argv(c, "/run/bb/bb", uid, gid);
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
	snprintf(p, sizeof p, "%s/rootfs", c->state_dir);
	if (mkdir(p, 0755) < 0) {
		bb_errno(e, errno, "oci: create %s", p);
		goto out;
	}
	scfg = config(c, 0, sargv, c->sidecar_env, rundir, p);
	acfg = config(c, 1, aargv, c->agent_env, rundir, p);
	if (!scfg || !acfg || write_bundle(sdir, scfg, e) < 0 || write_bundle(adir, acfg, e) < 0)
		goto out;

	/* Create both (namespaces made, processes waiting), wire them, then start. */
	{
		const char *cs[] = { "create", "--bundle", sdir, sid, NULL };
		const char *ca[] = { "create", "--bundle", adir, aid, NULL };
		if (runtime_cmd(runtime, cs, e) != 0) {
			bb_errf(e, BB_ELIB, "oci: %s create (sidecar) failed", runtime);
			goto out;
		}
		created_s = 1;
		if (runtime_cmd(runtime, ca, e) != 0) {
			bb_errf(e, BB_ELIB, "oci: %s create (agent) failed", runtime);
			goto out;
		}
		created_a = 1;
	}
	if ((spid = container_pid(runtime, sid, e)) < 0 || (apid = container_pid(runtime, aid, e)) < 0)
		goto out;
	self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(p, sizeof p, "/proc/%d/ns/net", (int)spid);
	s_ns = open(p, O_RDONLY | O_CLOEXEC);
	snprintf(p, sizeof p, "/proc/%d/ns/net", (int)apid);
	a_ns = open(p, O_RDONLY | O_CLOEXEC);
	if (self_ns < 0 || s_ns < 0 || a_ns < 0) {
		bb_errno(e, errno, "oci: open the containers' network namespaces");
		goto out;
	}
	if (rt_wire(self_ns, s_ns, a_ns, e) < 0)
		goto out;
	{
		const char *ss[] = { "start", sid, NULL };
		const char *sa[] = { "start", aid, NULL };
		if (runtime_cmd(runtime, ss, e) != 0) {
			bb_errf(e, BB_ELIB, "oci: %s start (sidecar) failed", runtime);
			goto out;
		}
		if (rt_wait_egress(self_ns, s_ns, 10000, e) < 0)
			goto out;
		if (runtime_cmd(runtime, sa, e) != 0) {
			bb_errf(e, BB_ELIB, "oci: %s start (agent) failed", runtime);
			goto out;
		}
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
		runtime_cmd(runtime, d, NULL);
	}
	if (created_s) {
		const char *k[] = { "kill", sid, "TERM", NULL };
		const char *d[] = { "delete", "--force", sid, NULL };
		runtime_cmd(runtime, k, NULL);
		usleep(200000);
		runtime_cmd(runtime, d, NULL);
	}
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
