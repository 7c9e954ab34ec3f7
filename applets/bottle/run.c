/* run.c - one bottle's life on the host (the session start, resume and run share) and `bb bottle run NAME -- CMD`. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "applet.h"
#include "bottle.h"
#include "ca.h"
#include "dialer.h"
#include "fd.h"
#include "forge_keys.h"
#include "gate_env.h"
#include "json.h"
#include "log.h"
#include "backend.h"
#include "opt.h"
#include "plan.h"
#include "route.h"
#include "runtime.h"
#include "image.h"
#include "agentimage.h"
#include "manifest.h"
#include "agentprog.h"
#include "audit.h"

/* clang spells "built with AddressSanitizer" __has_feature(address_sanitizer), gcc __SANITIZE_ADDRESS__. */
#if defined(__SANITIZE_ADDRESS__)
#define BB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BB_ASAN 1
#endif
#endif
#ifndef BB_ASAN
#define BB_ASAN 0
#endif

static const char usage[] =
	"usage: bb bottle run NAME [OPTIONS] -- CMD [ARGS...]\n"
	"Starts the bottle of agent (or bottle) NAME on the embedded runtime, runs CMD\n"
	"inside it as the agent (instead of the provider's agent program, with the same\n"
	"environment and files 'start' gives it), then stops\n"
	"the bottle and exits with CMD's status. The agent reaches only the sidecar;\n"
	"egress there reaches only what the manifest's routes allow (docs/runtime.md).\n"
	"  -C, --cwd DIR        the workspace mounted read-write (default: current directory)\n"
	"  -L, --log FILE       keep egress's audit log (JSON lines) in FILE\n"
	"  -H, --hosts FILE     hosts file the host-side dialer resolves with first (tests)\n"
	"  -b, --backend NAME   embedded (default: bb's own runtime), oci, docker or vm\n"
	"  -r, --runtime PROG   with --backend oci: runc (default), crun or runsc (gVisor)\n"
	"  -k, --kernel FILE    with --backend vm: the guest's kernel (default: the newest\n"
	"                       /boot/vmlinuz-*; docs/runtime.md)\n"
	"  -i, --image NAME     the agent's root is this imported image (bb bottle image\n"
	"                       import), the workspace at /workspace; default: the host's\n"
	"      --bare           NO isolation: the command runs on this host, only its proxied\n"
	"                       traffic is checked (explicit opt-out; also BB_BARE=1)\n"
	"      --no-provider    none of the provider's setup (its placeholders, its files in\n"
	"                       the agent's home, its program on PATH): CMD alone\n"
	"Isolation is never skipped unless --bare says so: if a step fails, the bottle\n"
	"does not start.";

static int env_add(char ***env, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int env_add(char ***env, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s, **nv;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	nv = s ? realloc(*env, (*n + 2) * sizeof **env) : NULL;
	if (!nv) {
		free(s);
		return -1;
	}
	*env = nv;
	nv[(*n)++] = s;
	nv[*n] = NULL;
	return 0;
}

static void env_free(char **env, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		explicit_bzero(env[i], strlen(env[i])); /* token values live in the sidecar's */
		free(env[i]);
	}
	free(env);
}

static volatile sig_atomic_t dialer_stop;

static void dialer_term(int sig)
{
	(void)sig;
	dialer_stop = 1;
}

/*
 * The dialer runs in a child of the host process for the bottle's life. ctl: its control socket in the
 * host-only record (credentials the operator approves while the bottle runs), or NULL when that path
 * cannot be a socket (too long): such approvals are then refused, naming why.
 */
static pid_t start_dialer(const char *sock, const char *ctl, const char *plan, const char *hosts, struct bb_err *e)
{
	struct policy *p;
	int lfd, cfd = -1;
	pid_t pid;
	if (policy_load(plan, &p, e) < 0) /* a bad plan stops the start here, not in the child */
		return -1;
	policy_unref(p);
	lfd = bottle_dialer_listen(sock, e);
	if (lfd < 0)
		return -1;
	if (ctl && (cfd = bottle_dialer_listen(ctl, e)) < 0) {
		close(lfd);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = dialer_term };
		sigaction(SIGTERM, &sa, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dialer_serve(lfd, cfd, plan, hosts, &dialer_stop, e);
		_exit(0);
	}
	close(lfd);
	if (cfd >= 0)
		close(cfd);
	if (pid < 0)
		return bb_errno(e, errno, "fork the dialer");
	return pid;
}

static volatile pid_t agent_pid;
static volatile sig_atomic_t stop_asked;
static struct bk_run *volatile running; /* the backend run a stop goes to */

/* stop (SIGTERM) or a closed terminal (SIGHUP): the agent is asked to end; the teardown follows it. */
static void session_term(int sig)
{
	struct bk_run *r = running;
	(void)sig;
	stop_asked = 1;
	if (r)
		backend_stop(r);
}

static void now_iso(char *out, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * The state directory is the sidecar's to write, and the agent's home in it
 * the agent's; both outlive a run (resume). Before a start the host checks
 * what it will use there without following anything: the entries it keeps
 * must be real directories (a link planted there stops the start, named),
 * and what each run stages afresh (bundles, mount points) is removed.
 */
static const char *const state_kept_dirs[] = { "home", "workspace", "supervise", "git-keys", "git-mirrors", NULL };
static const char *const state_staged[] = { "root.agent", "root.sidecar", "agent-run", "sidecar", "agent", "rootfs",
					   "ca-bundle.crt", "dial.sock", NULL };

static int state_check(int sfd, const char *state, struct bb_err *e)
{
	size_t i;
	struct stat st;

	for (i = 0; state_kept_dirs[i]; i++)
		if (fstatat(sfd, state_kept_dirs[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
			return bb_errf(e, BB_EINVAL,
				       "%s/%s is %s, not a directory: the bottle's state holds no links (planted from inside "
				       "the bottle?); nothing was started. Look at it, then 'bb bottle cleanup --all' "
				       "removes the bottle",
				       state, state_kept_dirs[i], S_ISLNK(st.st_mode) ? "a symbolic link" : "a file");
	for (i = 0; state_staged[i]; i++)
		fd_remove_tree_at(sfd, state_staged[i]);
	return 0;
}

/* The agent's home on the host: STATE/home, owned by the agent, kept across resume; its fd (never a link). */
static int make_home(int sfd, const char *state, uid_t uid, gid_t gid, char *out, size_t cap, struct bb_err *e)
{
	int fd;

	snprintf(out, cap, "%s/home", state);
	if (mkdirat(sfd, "home", 0700) < 0 && errno != EEXIST)
		return bb_errno(e, errno, "create %s", out);
	if ((fd = fd_open_beneath(sfd, "home", O_RDONLY | O_DIRECTORY, 0, e)) < 0)
		return bb_err_wrap(e, "the agent's home in %s", state);
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0700) < 0) {
		bb_errno(e, errno, "chown %s", out);
		return fd_close(fd);
	}
	return fd;
}

/*
 * The manifest's env for the agent: literal values as written, host
 * variables forwarded by name (missing ones stop the start), "?prompt"
 * values typed by the operator on the terminal (no echo). 0, BB_EXIT_FAIL
 * after saying why, or BB_EXIT_SYSTEM when out of memory.
 */
static int prompt_secret(const char *name, char *out, size_t cap);
static int manifest_env(const struct manifest *m, const char *name, char ***env, size_t *n)
{
	const struct mf_agent *a = manifest_agent(m, name);
	const struct mf_bottle *b = manifest_bottle(m, a ? a->bottle : name);
	size_t i;

	for (i = 0; b && i < b->nenv; i++) {
		const struct mf_env *v = &b->env[i];
		const char *val = v->value;
		char typed[1024];
		if (v->source == MF_ENV_HOST) {
			val = getenv(v->value);
			if (!val) {
				err_printf("env %s: host variable %s is not set (%s)", v->name, v->value, b->file);
				return BB_EXIT_FAIL;
			}
		} else if (v->source == MF_ENV_PROMPT) {
			if (prompt_secret(v->name, typed, sizeof typed) < 0) {
				err_printf("env %s asks the operator for its value (\"?prompt\" in %s), and there is no "
					   "terminal to ask on", v->name, b->file);
				return BB_EXIT_FAIL;
			}
			val = typed;
			if (strlen(typed) >= REDACT_MIN_LEN) { /* typed because it is private: never echoed in a diagnostic */
				struct bb_err e = { 0 };
				if (redact_add(typed, strlen(typed), &e) < 0)
					return BB_EXIT_SYSTEM;
			}
		}
		if (env_add(env, n, "%s=%s", v->name, val) < 0) {
			explicit_bzero(typed, sizeof typed);
			return BB_EXIT_SYSTEM;
		}
		explicit_bzero(typed, sizeof typed);
	}
	return 0;
}

/* Ask on /dev/tty for name's value, without echo. 0, or -1 when there is no terminal. */
static int prompt_secret(const char *name, char *out, size_t cap)
{
	struct termios t, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY), echo_off;
	ssize_t got;
	size_t len = 0;
	char msg[256];

	if (fd < 0)
		return -1;
	snprintf(msg, sizeof msg, "value for %s (not shown): ", name);
	fd_write_all(fd, msg, strlen(msg));
	echo_off = tcgetattr(fd, &t) == 0;
	if (echo_off) {
		quiet = t;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	while (len + 1 < cap && (got = read(fd, out + len, 1)) == 1 && out[len] != '\n')
		len++;
	out[len] = 0;
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &t);
	fd_write_all(fd, "\n", 1);
	close(fd);
	return 0;
}

#define COPY_CWD_MAX (4ull << 30) /* a workspace copy larger than this is refused */
#define AUDIT_READ_MAX (64u << 20) /* the end-of-run summary reads at most this much of egress's log */

/*
 * What egress refused while the agent ran, by host and rule, on one screen:
 * the agent's tool may have hidden it. The log lives in the state dir the
 * sidecar writes: opened beside its directory fd, no link followed.
 */
static void refused_summary(const char *state, const char *slug, int kept)
{
	struct buf log = BUF_INIT(AUDIT_READ_MAX), out = BUF_INIT(1u << 20);
	struct bb_err e = { 0 };
	struct stat st;
	int dfd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;
	long n, scrubbed = 0;

	if (dfd >= 0)
		fd = openat(dfd, "egress.log", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fd_read_all(fd, &log, &e) == 0 &&
	    (n = audit_refused_summary(log.p ? log.p : "", log.len, 100, &out, &scrubbed, &e)) >= 0 && out.len) {
		char what[160] = "";
		if (n)
			snprintf(what, sizeof what, "refused %ld request%s", n, n == 1 ? "" : "s");
		if (scrubbed)
			snprintf(what + strlen(what), sizeof what - strlen(what), "%sscrubbed the credential from %ld answer%s",
				 n ? ", " : "", scrubbed, scrubbed == 1 ? "" : "s");
		err_raw("bb: %s: egress %s (by host and rule; %s%s%s):\n", slug, what,
			kept ? "'bb bottle logs " : "--log FILE keeps the whole audit log", kept ? slug : "",
			kept ? "' has each" : "");
		err_raw("%.*s", (int)out.len, out.p);
	}
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	buf_free(&log);
	buf_free(&out);
}

/*
 * The agent's PATH: the usual directories, after RT_AGENT_BIN where the
 * provider's program is linked; with --bare (no bottle, the host's own
 * files) the directories the program and its interpreter were found in.
 */
static int agent_path(int bare, const struct agentprog *p, char ***env, size_t *n)
{
	static const char std[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char dir[2][PATH_MAX];
	const char *src[2];
	size_t k;

	if (!p->nneed)
		return env_add(env, n, "PATH=%s", std);
	if (!bare)
		return env_add(env, n, "PATH=" RT_AGENT_BIN ":%s", std);
	src[0] = p->found;
	src[1] = p->interp_name[0] ? p->interp : p->found;
	for (k = 0; k < 2; k++) {
		const char *slash = strrchr(src[k], '/');
		snprintf(dir[k], sizeof dir[k], "%.*s", slash ? (int)(slash - src[k]) : 1, slash ? src[k] : "/");
	}
	return env_add(env, n, "PATH=%s:%s:%s", dir[0], dir[1], std);
}

/* A deploy key revoked (or not) at teardown: said on stderr, never silently. */
static void report_revoke(void *arg, int ok, const char *msg)
{
	if (ok)
		err_printf("%s: %s", (const char *)arg, msg);
	else
		err_printf("%s: ERROR: %s", (const char *)arg, msg);
}

/*
 * The image root holds an executable NAME in one of the usual PATH directories, resolved inside it
 * (openat2 RESOLVE_IN_ROOT: its links cannot point at the host's files): then the image's own program
 * runs, not the host's. 1 or 0.
 */
static int image_has_program(const char *rootfs, const char *name)
{
	static const char *const dirs[] = { "usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin" };
	int found = 0;
	size_t i;
	for (i = 0; i < sizeof dirs / sizeof *dirs && !found; i++) {
		char rel[PATH_MAX];
		struct stat st;
		int fd;
		snprintf(rel, sizeof rel, "%s/%s", dirs[i], name);
		fd = fd_open_in_root(rootfs, rel, O_PATH);
		found = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
		fd_close(fd);
	}
	return found;
}

static void note_build(void *arg, const char *line)
{
	err_printf("%s: %s", (const char *)arg, line);
}

/*
 * agent_provider.dockerfile: the imported image it builds (or built before from the same Dockerfile and
 * context) into name; "" when the bottle names none. A relative path is taken from the bottle's manifest
 * file's directory. 0, or an exit code after saying why.
 */
static int dockerfile_image(const struct manifest *m, const char *who, char name[IMG_NAME_MAX + 1])
{
	const struct mf_agent *a = manifest_agent(m, who);
	const struct mf_bottle *b = manifest_bottle(m, a ? a->bottle : who);
	const char *df = b ? b->provider.dockerfile : NULL, *slash;
	char path[PATH_MAX];
	struct bb_err e = { 0 };
	int built, n;

	name[0] = 0;
	if (!df || !df[0])
		return 0;
	slash = b->file ? strrchr(b->file, '/') : NULL;
	if (df[0] == '/' || !slash)
		n = snprintf(path, sizeof path, "%s", df);
	else
		n = snprintf(path, sizeof path, "%.*s/%s", (int)(slash - b->file), b->file, df);
	if (n < 0 || (size_t)n >= sizeof path) {
		err_printf("%s: agent_provider.dockerfile: the path is too long", who);
		return BB_EXIT_FAIL;
	}
	if (path[0] != '/') {
		err_printf("%s: agent_provider.dockerfile %s: give an absolute path, or one relative to the manifest file", who,
			   df);
		return BB_EXIT_FAIL;
	}
	if (agentimage_ensure(path, getenv("DOCKER_HOST"), name, &built, note_build, (void *)who, &e) < 0) {
		err_printf("%s: %s", who, e.msg);
		return BB_EXIT_FAIL;
	}
	err_printf("%s: the agent's root is image %s, %s %s", who, name,
		   built ? "built now from" : "built before from the same", built ? path : "Dockerfile and context");
	return 0;
}

int bottle_session(const struct session *s)
{
	struct manifest m;
	struct bb_err e = { 0 };
	struct rt_config rc = { 0 };
	static struct bk_run bk; /* reached from the signal handler */
	const struct backend *be;
	struct bottle_meta meta = { 0 };
	static struct approved_caps caps;
	const char *ro_all[AGENTPROG_NEED_MAX + APPROVED_MOUNTS_MAX + 1] = { NULL };
	struct provider_cmd pc;
	struct agentprog prog = { .nneed = 0 };
	const char *prog_paths[AGENTPROG_NEED_MAX + 1] = { NULL }, *links[3] = { NULL };
	char prog_links[2][PATH_MAX + 300];
	struct stat st;
	struct sigaction sa = { .sa_handler = session_term }, old_term, old_hup, old_int;
	cJSON *plan = NULL, *slot;
	struct buf js = BUF_INIT(4u << 20);
	char state[PATH_MAX], plan_path[PATH_MAX + 16], sock[PATH_MAX + 16], log_path[PATH_MAX + 16], ca_dir[PATH_MAX],
		self[PATH_MAX], egress_args[7 * PATH_MAX], home_dir[PATH_MAX + 16], ws_copy[PATH_MAX + 16], rootfs[PATH_MAX],
		dialer_plan[PATH_MAX] = "", df_image[IMG_NAME_MAX + 1] = "", ctl_sock[PATH_MAX] = "";
	const char *fault, *workspace = s->workspace;
	int supervise = 0, gated = 0;
	/* Where the agent finds the sidecar (the backend says: its veth address, or with --bare ports on the host's loopback). */
	char proxy[96], listen_egress[96], listen_supervise[96], mcp_url[96], bundle[PATH_MAX + 32] = "/run/bb/ca-bundle.crt";
	char **aenv = NULL, **senv = NULL, *const *argv = s->argv, *provisioned = NULL;
	size_t na = 0, ns = 0, i;
	pid_t dialer = -1;
	int code, exit_code = BB_EXIT_SYSTEM, made_state = 0, meta_written = 0, ran = 0, sfd = -1, home_fd = -1;
	ssize_t sl;

	memset(&caps, 0, sizeof caps);
	if (s->bare && strcmp(s->backend, "embedded")) {
		err_printf("%s: --bare runs no backend at all; it does not go with --backend %s", s->name, s->backend);
		return BB_EXIT_USAGE;
	}
	be = backend_find(s->bare ? "bare" : s->backend);
	if (!be) {
		err_printf("%s: no backend '%s' (want %s)", s->name, s->backend, backend_choices());
		return BB_EXIT_USAGE;
	}
	if (backend_prepare(&bk, be, &rc, s->runtime, s->kernel, &e) < 0) {
		err_printf("%s: %s; nothing was started", s->name, e.msg);
		return BB_EXIT_FAIL;
	}
	snprintf(proxy, sizeof proxy, "http://%s:%d", bk.sidecar_addr, bk.egress_port);
	snprintf(listen_egress, sizeof listen_egress, "%s:%d", bk.listen_addr, bk.egress_port);
	snprintf(listen_supervise, sizeof listen_supervise, "%s:%d", bk.listen_addr, bk.supervise_port);
	snprintf(mcp_url, sizeof mcp_url, "http://%s:%d/mcp", bk.sidecar_addr, bk.supervise_port);
	if (stat(workspace, &st) < 0 || !S_ISDIR(st.st_mode)) {
		err_printf("%s: workspace %s is not a directory", s->name, workspace);
		return BB_EXIT_FAIL;
	}
	if ((code = bottle_load(&m)) != 0)
		return code;
	plan = plan_build(&m, s->name, NULL, &e);
	if (!plan) {
		plan = plan_build(&m, NULL, s->name, &e);
		if (!plan) {
			err_printf("%s", e.msg);
			manifest_free(&m);
			return BB_EXIT_FAIL;
		}
	}

	if (!s->resume && !s->image && !s->bare && (code = dockerfile_image(&m, s->name, df_image)) != 0) {
		cJSON_Delete(plan);
		manifest_free(&m);
		return code;
	}

	/* State: $BB_HOME/.bb/state/SLUG, 0700; run removes it at the end, start keeps it for resume. */
	if (s->resume) {
		if (bottle_meta_read(s->resume, &meta, &e) < 0 || bottle_state_dir(s->resume, state, sizeof state, &e) < 0) {
			err_printf("%s", e.msg);
			goto done;
		}
		if (!strcmp(meta.status, "running")) {
			err_printf("bottle %s is running (host process %d); stop it first", meta.slug, meta.host_pid);
			goto done;
		}
		/* What the operator approved while it ran: routes, credentials, DLP allowances, capabilities. */
		if (bottle_approvals_resume(&meta, plan, &caps, &e) < 0) {
			err_printf("%s; nothing was started", e.msg);
			exit_code = BB_EXIT_FAIL;
			goto done;
		}
		if (caps.image[0])
			snprintf(meta.image, sizeof meta.image, "%.63s", caps.image);
	} else {
		if (bottle_state_root(state, sizeof state, 1, &e) < 0) {
			err_printf("%s", e.msg);
			goto done;
		}
		bottle_slug_new(s->name, meta.slug);
		if (bottle_state_dir(meta.slug, state, sizeof state, &e) < 0 || (mkdir(state, 0700) < 0 &&
										   bb_errno(&e, errno, "create %s", state))) {
			err_printf("%s", e.msg);
			goto done;
		}
		made_state = 1;
		snprintf(meta.agent, sizeof meta.agent, "%s", s->name);
		snprintf(meta.cwd, sizeof meta.cwd, "%s", workspace);
		now_iso(meta.started_at, sizeof meta.started_at);
		snprintf(meta.backend, sizeof meta.backend, "%s", s->backend);
		snprintf(meta.runtime, sizeof meta.runtime, "%s", bk.runtime ? bk.runtime : "");
		snprintf(meta.kernel, sizeof meta.kernel, "%s", bk.kernel ? bk.kernel : "");
		snprintf(meta.command, sizeof meta.command, "%s", s->keep_state ? "start" : "run");
		snprintf(meta.image, sizeof meta.image, "%s", s->image ? s->image : df_image);
		meta.copy_cwd = s->copy_cwd;
		meta.bare = s->bare;
	}
	snprintf(meta.status, sizeof meta.status, "running");
	meta.exit_code = -1;
	if (bottle_host_identify(&meta, &e) < 0 || bottle_meta_write(&meta, &e) < 0) {
		err_printf("%s", e.msg);
		goto done;
	}
	meta_written = 1;
	sfd = open(state, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 || state_check(sfd, state, &e) < 0) {
		err_printf("%s: %s", meta.slug, sfd < 0 ? strerror(errno) : e.msg);
		goto done;
	}
	if (s->bare) /* no /run/bb on the host: the agent's CA bundle lives with the bottle */
		snprintf(bundle, sizeof bundle, "%s/ca-bundle.crt", state);
	snprintf(plan_path, sizeof plan_path, "%s/plan.json", state);
	snprintf(sock, sizeof sock, "%s/dial.sock", state);
	snprintf(log_path, sizeof log_path, "%s/egress.log", state);
	unlink(sock); /* a resumed bottle's, left by a host process that was killed */
	if (json_print(plan, &js, &e) < 0 || (s->keep_state ? fd_write_file_atomic(plan_path, js.p, js.len, 0600, &e)
							     : fd_write_file_replace(plan_path, js.p, js.len, 0600, &e)) < 0) {
		err_printf("%s: %s", meta.slug, e.msg);
		goto done;
	}

	rc.uid = st.st_uid ? st.st_uid : 65534; /* the workspace's owner; never root */
	rc.gid = st.st_uid && st.st_gid ? st.st_gid : 65534;
	if (s->bare) { /* nothing to switch to: the agent is this user */
		rc.uid = geteuid();
		rc.gid = getegid();
	}
	if (meta.copy_cwd) {
		/* The agent works on a copy kept with the bottle; the host directory is not touched. */
		snprintf(ws_copy, sizeof ws_copy, "%s/workspace", state);
		if (!s->resume && fd_copy_tree_at(workspace, sfd, "workspace", rc.uid, rc.gid, COPY_CWD_MAX, &e) < 0) {
			err_printf("%s: --copy-cwd: %s", meta.slug, e.msg);
			goto done;
		}
		workspace = ws_copy;
	}
	if (meta.image[0]) { /* the agent's root: an imported image, read-only; the workspace at /workspace in it */
		if (s->bare || img_rootfs_path(meta.image, rootfs, sizeof rootfs, &e) < 0) {
			err_printf("%s: %s", meta.slug, s->bare ? "--bare runs on the host: it takes no --image" : e.msg);
			goto done;
		}
		rc.rootfs = rootfs;
	}
	if ((home_fd = make_home(sfd, state, rc.uid, rc.gid, home_dir, sizeof home_dir, &e)) < 0) {
		err_printf("%s: %s", meta.slug, e.msg);
		goto done;
	}
	if (!s->no_provider) {
		/* The provider's setup, for start and for run alike: run's command replaces only the program. */
		const struct mf_agent *a = manifest_agent(&m, s->name);
		const struct mf_bottle *b = manifest_bottle(&m, a ? a->bottle : s->name);
		struct provider_ctx pctx = {
			.template_ = b ? b->provider.template_ : NULL,
			.command = b ? b->provider.command : NULL,
			.ncommand = b ? b->provider.ncommand : 0,
			.auth_token_ref = b ? b->provider.auth_token : NULL,
			.api_key_ref = b ? b->provider.api_key : NULL,
			.prompt = a ? a->prompt : NULL,
			.home = home_dir,
			.home_fd = home_fd,
			.agent_home = s->bare ? home_dir : AGENT_HOME,
			.ca_bundle = bundle,
			.workspace = rc.rootfs ? RT_WORKSPACE_IN_IMAGE : workspace,
			.uid = rc.uid,
			.gid = rc.gid,
			.resume = s->resume != NULL,
			.codex_host_credentials = b && b->provider.forward_host_credentials,
		};
		if (!pctx.template_ || provider_prepare(&pctx, &pc, &e) < 0 ||
		    (a && provider_skills(&pctx, a->skills, a->nskills, &e) < 0)) {
			err_printf("%s: %s", meta.slug, pctx.template_ ? e.msg : "the plan names no provider");
			goto done;
		}
		/*
		 * Its program as the operator's PATH (or the manifest) finds it, reachable inside: required to
		 * start it; for run, when the command is that program (another command may not need it).
		 */
		if (b && rc.rootfs && !b->provider.program[0] && image_has_program(rc.rootfs, b->provider.template_)) {
			/* the image brings its own program (a Dockerfile that installs it): found on its PATH inside */
		} else if (b && provider_program(b, &prog, &e) < 0) {
			if (!argv || !strcmp(argv[0], b->provider.template_)) {
				err_printf("%s: %s", meta.slug, e.msg);
				exit_code = BB_EXIT_FAIL;
				goto done;
			}
		} else if (b && prog.nneed) {
			size_t k;
			for (k = 0; k < prog.nneed; k++)
				prog_paths[k] = prog.need[k];
			snprintf(prog_links[0], sizeof prog_links[0], "%s=%s", prog.name, prog.real);
			links[0] = prog_links[0];
			if (prog.interp_name[0]) {
				snprintf(prog_links[1], sizeof prog_links[1], "%s=%s", prog.interp_name, prog.interp);
				links[1] = prog_links[1];
			}
			rc.ro_paths = prog_paths;
			rc.bin_links = links;
		}
		if (!argv)
			argv = pc.argv;
	} else {
		memset(&pc, 0, sizeof pc);
	}
	if (caps.nmounts) { /* approved host paths, read-only, beside what the provider's program needs */
		size_t k = 0;
		for (i = 0; rc.ro_paths && rc.ro_paths[i]; i++)
			ro_all[k++] = rc.ro_paths[i];
		for (i = 0; i < caps.nmounts; i++)
			ro_all[k++] = caps.mounts[i];
		rc.ro_paths = ro_all;
	}

	/* The bottle CA: made on first use. */
	if (ca_default_dir(ca_dir, sizeof ca_dir, &e) < 0) {
		err_printf("%s: %s", meta.slug, e.msg);
		goto done;
	}
	{
		char crt[PATH_MAX + 8];
		snprintf(crt, sizeof crt, "%s/%s", ca_dir, CA_CERT_FILE);
		if (access(crt, F_OK) < 0 && ca_create(ca_dir, s->name, time(NULL), 0, &e) < 0) {
			err_printf("%s: %s", meta.slug, e.msg);
			goto done;
		}
	}

	sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sl <= 0) {
		err_printf("%s: cannot find this binary: %s", meta.slug, strerror(errno));
		goto done;
	}
	self[sl] = 0;

	/* The sidecar's environment: the only place token values go. */
	snprintf(egress_args, sizeof egress_args,
		 "--policy %s --listen %s --dialer %s --ca %s --log %s --token-socket %s --loaded %s/egress.loaded", plan_path,
		 listen_egress, sock, ca_dir, log_path, sock, state);
	{
		/* The sidecar has no route out: dns answers allowed names with its own address (the agent's
		 * clients go through the proxy anyway) instead of forwarding. */
		const cJSON *sup = cJSON_GetObjectItem(cJSON_GetObjectItem(plan, "supervise"), "enabled");
		char qdir[PATH_MAX + 16];
		snprintf(qdir, sizeof qdir, "%s/supervise", state);
		supervise = cJSON_IsTrue(sup);
		if (supervise && mkdir(qdir, 0700) < 0 && errno != EEXIST) {
			err_printf("%s: cannot create %s: %s", meta.slug, qdir, strerror(errno));
			goto done;
		}
		if (env_add(&senv, &ns, "BB_DNS_ARGS=--policy %s --listen 0.0.0.0:%d --answer %s --log %s/dns.log",
			    plan_path, PORT_DNS, RT_SIDECAR_ADDR, state) < 0 ||
		    (supervise && env_add(&senv, &ns,
					  "BB_SUPERVISE_ARGS=--policy %s --queue %s --listen %s --log %s/supervise.log "
					  "--egress-loaded %s/egress.loaded",
					  plan_path, qdir, listen_supervise, state, state) < 0))
			goto nomem;
	}
	{
		/* git-gate when the plan gates repos: upstream keys staged in the state dir, SSH through the dialer. */
		static struct gate_env gate;
		if (gate_env_prepare(plan, meta.slug, state, plan_path, sock, &gate, &e) < 0) {
			err_printf("%s: %s", meta.slug, e.msg);
			goto done;
		}
		gated = gate.nrepos > 0 && !s->bare; /* bare: no git-gate (its ports are the sidecar's) */
		if (gated && (env_add(&senv, &ns, "BB_GIT_GATE_ARGS=%s", gate.sidecar_args) < 0 ||
			      env_add(&aenv, &na, "BB_GIT_GATE_REPOS=%s", gate.agent_repos) < 0))
			goto nomem;
	}
	{
		/* git-gate.user: the agent's commit identity (its init writes it into ~/.gitconfig). */
		const cJSON *gu = cJSON_GetObjectItem(cJSON_GetObjectItem(plan, "git_gate"), "user");
		const char *uname = cJSON_GetStringValue(cJSON_GetObjectItem(gu, "name"));
		const char *umail = cJSON_GetStringValue(cJSON_GetObjectItem(gu, "email"));
		if ((uname && *uname && env_add(&aenv, &na, "BB_GIT_USER_NAME=%s", uname) < 0) ||
		    (umail && *umail && env_add(&aenv, &na, "BB_GIT_USER_EMAIL=%s", umail) < 0))
			goto nomem;
	}
	if (env_add(&senv, &ns, "PATH=/usr/sbin:/usr/bin:/sbin:/bin") < 0 ||
	    env_add(&senv, &ns, "BB_SIDECAR_DAEMONS=%s",
		    getenv("BB_SIDECAR_DAEMONS") ? getenv("BB_SIDECAR_DAEMONS")
		    : s->bare ? (supervise ? "egress,supervise" : "egress")
		    : supervise ? (gated ? "egress,dns,supervise,git-gate" : "egress,dns,supervise")
				: (gated ? "egress,dns,git-gate" : "egress,dns")) < 0 ||
	    env_add(&senv, &ns, "BB_POLICY=%s", plan_path) < 0 || env_add(&senv, &ns, "BB_EGRESS_ARGS=%s", egress_args) < 0)
		goto nomem;
	/* Upstream trust follows the OpenSSL convention on the host too. */
	if ((getenv("SSL_CERT_FILE") && env_add(&senv, &ns, "SSL_CERT_FILE=%s", getenv("SSL_CERT_FILE")) < 0) ||
	    (getenv("SSL_CERT_DIR") && env_add(&senv, &ns, "SSL_CERT_DIR=%s", getenv("SSL_CERT_DIR")) < 0))
		goto nomem;
	cJSON_ArrayForEach(slot, cJSON_GetObjectItem(cJSON_GetObjectItem(plan, "egress"), "token_slots"))
	{
		const char *sname = cJSON_GetStringValue(cJSON_GetObjectItem(slot, "slot"));
		const char *ref = cJSON_GetStringValue(cJSON_GetObjectItem(slot, "ref"));
		const char *src = cJSON_GetStringValue(cJSON_GetObjectItem(slot, "source"));
		const char *val = ref ? getenv(ref) : NULL;
		if (src && !strcmp(src, "provisioned") && (!val || !*val)) { /* codex: the host's own sign-in */
			free(provisioned);
			provisioned = NULL;
			if (provider_codex_token(&provisioned, &e) < 0) {
				err_printf("%s: %s", meta.slug, e.msg);
				goto done;
			}
			val = provisioned;
		}
		if (!sname || !val || !*val) {
			err_printf("%s: the token for %s (host variable %s) is not set", meta.slug, sname ? sname : "?",
				   ref ? ref : "?");
			goto done;
		}
		if (redact_add(val, strlen(val), &e) < 0 || env_add(&senv, &ns, "%s=%s", sname, val) < 0)
			goto nomem;
	}

	/* The agent's: where the sidecar is, which CA to trust; placeholders only. */
	if (agent_path(s->bare, &prog, &aenv, &na) < 0 ||
	    env_add(&aenv, &na, "HOME=%s", s->bare ? home_dir : AGENT_HOME) < 0 || env_add(&aenv, &na, "LANG=C.UTF-8") < 0 ||
	    env_add(&aenv, &na, "TERM=%s", getenv("TERM") ? getenv("TERM") : "dumb") < 0 ||
	    env_add(&aenv, &na, "HTTP_PROXY=%s", proxy) < 0 || env_add(&aenv, &na, "HTTPS_PROXY=%s", proxy) < 0 ||
	    env_add(&aenv, &na, "http_proxy=%s", proxy) < 0 || env_add(&aenv, &na, "https_proxy=%s", proxy) < 0 ||
	    env_add(&aenv, &na, "NO_PROXY=localhost,127.0.0.1," RT_SIDECAR_ADDR) < 0 ||
	    env_add(&aenv, &na, "no_proxy=localhost,127.0.0.1," RT_SIDECAR_ADDR) < 0 ||
	    env_add(&aenv, &na, "SSL_CERT_FILE=%s", bundle) < 0 || env_add(&aenv, &na, "CURL_CA_BUNDLE=%s", bundle) < 0 ||
	    env_add(&aenv, &na, "REQUESTS_CA_BUNDLE=%s", bundle) < 0 || env_add(&aenv, &na, "NODE_EXTRA_CA_CERTS=%s", bundle) < 0 ||
	    env_add(&aenv, &na, "GIT_SSL_CAINFO=%s", bundle) < 0 ||
	    (!s->bare && env_add(&aenv, &na, "BB_SIDECAR=" RT_SIDECAR_ADDR) < 0) ||
	    (!s->bare && env_add(&aenv, &na, "GIT_GATE_URL=git://" RT_SIDECAR_ADDR ":9418") < 0) ||
	    env_add(&aenv, &na, "MCP_SUPERVISE_URL=%s", mcp_url) < 0 || env_add(&aenv, &na, "BB_BOTTLE=%s", meta.slug) < 0 ||
	    (s->bare && env_add(&aenv, &na, "BB_BARE=1") < 0))
		goto nomem;
	for (i = 0; i < pc.nenv; i++)
		if (env_add(&aenv, &na, "%s", pc.env[i]) < 0)
			goto nomem;
	if ((code = manifest_env(&m, s->name, &aenv, &na)) != 0) {
		if (code == BB_EXIT_SYSTEM)
			goto nomem;
		goto done;
	}
#if BB_ASAN
	/* A sanitizer build's init runs under the agent's seccomp filter, which refuses the ptrace LeakSanitizer needs at exit. */
	if (env_add(&aenv, &na, "ASAN_OPTIONS=detect_leaks=0") < 0)
		goto nomem;
#endif

	/*
	 * The dialer reads its own copy of the plan, outside the state dir the sidecar can write: a
	 * sidecar rewriting plan.json widens only itself; what the host dials widens only with the
	 * operator's approval (bb bottle approve, the dashboard), merged here by the host.
	 */
	if (bottle_dialer_policy(meta.slug, 1, dialer_plan, sizeof dialer_plan, &e) < 0 ||
	    fd_write_file_replace(dialer_plan, js.p, js.len, 0600, &e) < 0) {
		err_printf("%s: %s", meta.slug, e.msg);
		goto done;
	}
	if (bottle_control_socket(meta.slug, ctl_sock, sizeof ctl_sock, &e) < 0) {
		err_printf("%s: %s: credentials approved while it runs are refused (they apply at a resume)", meta.slug,
			   e.msg);
		ctl_sock[0] = 0;
	}
	dialer = start_dialer(sock, ctl_sock[0] ? ctl_sock : NULL, dialer_plan, s->hosts, &e);
	if (dialer < 0) {
		err_printf("%s: %s", meta.slug, e.msg);
		goto done;
	}

	rc.bb_path = self;
	rc.state_dir = state;
	rc.plan_path = plan_path;
	rc.ca_dir = ca_dir;
	rc.workspace = workspace;
	rc.home_dir = home_dir;
	rc.hosts_path = s->hosts;
	rc.argv = argv;
	rc.agent_env = aenv;
	rc.sidecar_env = senv;
	rc.agent_pid = &agent_pid;
	fault = getenv("BB_RT_FAULT");
	rc.fault = fault ? (int)strtol(fault, NULL, 10) : 0;
	/* Container processes an OCI runtime starts are reparented here, to be waited for. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* Ctrl-C reaches the agent through the terminal; this process outlives it to tear down. */
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, &old_int);
	ran = !stop_asked;
	if (stop_asked) {
		err_printf("%s: stopped before the agent started", meta.slug);
	} else {
		if (be->flags & BK_HOST)
			err_raw("bb: WARNING: %s runs WITHOUT isolation (--bare): the agent reaches the network and this "
				"host's files directly; only what it sends through the proxy is checked\n", meta.slug);
		running = &bk;
		if (be->run(&bk, &exit_code, &e) < 0) {
			err_printf("%s: %s%s", meta.slug, e.msg, be->flags & BK_HOST ? "" : "; nothing was left running");
			exit_code = BB_EXIT_SYSTEM;
		}
		running = NULL;
	}
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGINT, &old_int, NULL);
	goto done;
nomem:
	err_printf("%s: out of memory", meta.slug[0] ? meta.slug : s->name);
done:
	if (dialer > 0) {
		int ds;
		kill(dialer, SIGTERM);
		waitpid(dialer, &ds, 0);
	}
	if (ctl_sock[0])
		unlink(ctl_sock);
	/* dialer.json stays with a started bottle's host record (inspect shows it); resume writes it again. */
	if (meta.slug[0] && forge_keys_pending(meta.slug)) {
		/* The bottle's deploy keys go with it (a resume registers new ones); what fails stays for cleanup. */
		struct bb_err ke = { 0 };
		if (forge_keys_revoke(meta.slug, report_revoke, meta.slug, &ke) < 0 && ke.msg[0])
			err_printf("%s: %s", meta.slug, ke.msg);
	}
	if (ran)
		refused_summary(state, meta.slug, s->keep_state);
	if (s->keep_log && meta_written) {
		struct buf lb = BUF_INIT(64u << 20);
		if (fd_read_file_beneath(sfd, "egress.log", 64u << 20, &lb, &e) == 0) /* the sidecar's: no link followed */
			fd_write_file_atomic(s->keep_log, lb.p ? lb.p : "", lb.len, 0600, &e);
		buf_free(&lb);
	}
	if (meta_written && s->keep_state) {
		/* Kept for logs, inspect and resume; the dialer's socket goes with the host process. */
		unlink(sock);
		snprintf(meta.status, sizeof meta.status, "stopped");
		meta.exit_code = exit_code;
		if (bottle_meta_write(&meta, &e) < 0)
			err_printf("%s: %s", meta.slug, e.msg);
	} else if (made_state || (meta_written && !s->resume)) {
		char host[PATH_MAX];
		fd_remove_tree(state); /* the plan and sockets: nothing of the bottle stays behind */
		if (bottle_host_dir(meta.slug, 0, host, sizeof host, &e) == 0)
			fd_remove_tree(host);
	}
	fd_close(home_fd);
	fd_close(sfd);
	if (provisioned) {
		explicit_bzero(provisioned, strlen(provisioned));
		free(provisioned);
	}
	env_free(aenv, na);
	env_free(senv, ns);
	buf_free(&js);
	cJSON_Delete(plan);
	manifest_free(&m);
	return exit_code;
}

/* -C DIR or the current directory, resolved; 0, or an exit code after saying why. */
int bottle_workspace(const char *arg, char out[PATH_MAX])
{
	char cwd[PATH_MAX];
	struct stat st;
	const char *w = arg ? arg : getcwd(cwd, sizeof cwd);

	if (!w || !realpath(w, out) || stat(out, &st) < 0 || !S_ISDIR(st.st_mode)) {
		err_printf("workspace %s is not a directory", w ? w : "(the current directory)");
		return BB_EXIT_FAIL;
	}
	return 0;
}

int bottle_run(int argc, char **argv)
{
	struct opt o;
	struct session s = { .backend = "embedded" };
	char ws[PATH_MAX];
	const char *workspace = NULL;
	int c, code;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)C:(cwd)L:(log)H:(hosts)b:(backend)r:(runtime)k:(kernel)B(bare)i:(image)P(no-provider)", usage,
				   &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 'C': workspace = o.arg; break;
		case 'L': s.keep_log = o.arg; break;
		case 'H': s.hosts = o.arg; break;
		case 'b':
			if (!backend_find(o.arg) || (backend_find(o.arg)->flags & BK_HOST))
				return applet_usage_error(usage, "--backend %s: want %s", o.arg, backend_choices());
			s.backend = o.arg;
			break;
		case 'r': s.runtime = o.arg; break;
		case 'k': s.kernel = o.arg; break;
		case 'B': s.bare = 1; break;
		case 'i': s.image = o.arg; break;
		case 'P': s.no_provider = 1; break;
		default: return applet_usage_error(usage, "unexpected option");
		}
	}
	if (o.ind >= argc)
		return applet_usage_error(usage, "which agent or bottle?");
	s.name = argv[o.ind++];
	if (o.ind < argc && !strcmp(argv[o.ind], "--"))
		o.ind++;
	if (o.ind >= argc)
		return applet_usage_error(usage, "no command to run: bb bottle run %s -- CMD", s.name);
	if ((code = bottle_workspace(workspace, ws)) != 0)
		return code;
	s.workspace = ws;
	s.argv = argv + o.ind;
	s.bare = bottle_bare_asked(s.bare);
	return bottle_session(&s);
}
