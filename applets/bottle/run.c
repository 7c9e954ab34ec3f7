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
#include "planfile.h"
#include "route.h"
#include "secrets.h"
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
	"  -n, --dry-run        list the steps the start takes, with what each would use\n"
	"                       (token values never), and stop: nothing is made or started\n"
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
	struct route_policy *p;
	int lfd, cfd = -1;
	pid_t pid;
	if (route_policy_load(plan, &p, e) < 0) /* a bad plan stops the start here, not in the child */
		return -1;
	route_policy_unref(p);
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
				if (secrets_add(v->name, typed, strlen(typed), 0, &e) < 0)
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

/*
 * One session's working state, handed along its steps (the table below): what each step resolves,
 * makes or starts, and what its undo needs to take that back.
 */
struct session_ctx {
	const struct session *s;
	struct bb_err e;
	struct manifest m;
	int loaded; /* m holds the manifests */
	cJSON *plan;
	struct planfile pf; /* reads plan in place (planfile_wrap): its parts, typed */
	struct buf js; /* the plan as written to plan.json and dialer.json */
	const struct backend *be;
	struct rt_config rc;
	struct bottle_meta meta;
	struct stat st; /* the workspace's: its owner runs the agent */
	struct provider_ctx pctx;
	struct provider_cmd pc;
	struct agentprog prog;
	const char *ro_all[AGENTPROG_NEED_MAX + APPROVED_MOUNTS_MAX + 1];
	const char *prog_paths[AGENTPROG_NEED_MAX + 1], *links[3];
	char prog_links[2][PATH_MAX + 300];
	char state[PATH_MAX], plan_path[PATH_MAX + 16], sock[PATH_MAX + 16], log_path[PATH_MAX + 16], ca_dir[PATH_MAX],
		self[PATH_MAX], egress_args[7 * PATH_MAX], home_dir[PATH_MAX + 16], ws_copy[PATH_MAX + 16], rootfs[PATH_MAX],
		dialer_plan[PATH_MAX], df_image[IMG_NAME_MAX + 1], ctl_sock[PATH_MAX];
	const char *workspace; /* the agent's: the host directory, or its copy in the state dir */
	/* Where the agent finds the sidecar (the backend says: its veth address, or with --bare ports on the host's loopback). */
	char proxy[96], listen_egress[96], listen_supervise[96], mcp_url[96], bundle[PATH_MAX + 32];
	char **aenv, **senv, *const *argv, *provisioned;
	size_t na, ns;
	int supervise, gated;
	pid_t dialer;
	int exit_code, made_state, meta_written, ran, sfd, home_fd;
};

static struct bk_run session_bk; /* reached from the signal handler */
static struct approved_caps caps;

static int nomem(struct session_ctx *x)
{
	err_printf("%s: out of memory", x->meta.slug[0] ? x->meta.slug : x->s->name);
	return BB_EXIT_SYSTEM;
}

/* The bottle NAME names: its own, or its agent's. */
static const struct mf_bottle *bottle_of(const struct manifest *m, const char *name, const struct mf_agent **agent)
{
	const struct mf_agent *a = manifest_agent(m, name);
	if (agent)
		*agent = a;
	return manifest_bottle(m, a ? a->bottle : name);
}

static int step_backend(struct session_ctx *x)
{
	const struct session *s = x->s;
	struct bk_run *bk = &session_bk;

	if (s->bare && strcmp(s->backend, "embedded")) {
		err_printf("%s: --bare runs no backend at all; it does not go with --backend %s", s->name, s->backend);
		return BB_EXIT_USAGE;
	}
	x->be = backend_find(s->bare ? "bare" : s->backend);
	if (!x->be) {
		err_printf("%s: no backend '%s' (want %s)", s->name, s->backend, backend_choices());
		return BB_EXIT_USAGE;
	}
	if (backend_prepare(bk, x->be, &x->rc, s->runtime, s->kernel, &x->e) < 0) {
		err_printf("%s: %s; nothing was started", s->name, x->e.msg);
		return BB_EXIT_FAIL;
	}
	snprintf(x->proxy, sizeof x->proxy, "http://%s:%d", bk->sidecar_addr, bk->egress_port);
	snprintf(x->listen_egress, sizeof x->listen_egress, "%s:%d", bk->listen_addr, bk->egress_port);
	snprintf(x->listen_supervise, sizeof x->listen_supervise, "%s:%d", bk->listen_addr, bk->supervise_port);
	snprintf(x->mcp_url, sizeof x->mcp_url, "http://%s:%d/mcp", bk->sidecar_addr, bk->supervise_port);
	return 0;
}

static int step_manifest(struct session_ctx *x)
{
	int code;

	if (stat(x->workspace, &x->st) < 0 || !S_ISDIR(x->st.st_mode)) {
		err_printf("%s: workspace %s is not a directory", x->s->name, x->workspace);
		return BB_EXIT_FAIL;
	}
	if ((code = bottle_load(&x->m)) != 0)
		return code;
	x->loaded = 1;
	if (!(x->plan = plan_build(&x->m, x->s->name, NULL, &x->e)) && !(x->plan = plan_build(&x->m, NULL, x->s->name, &x->e))) {
		err_printf("%s", x->e.msg);
		return BB_EXIT_FAIL;
	}
	/* Every part the start reads, read once here: a plan that does not read stops it before anything is made. */
	if (planfile_wrap(&x->pf, x->s->name, x->plan, &x->e) < 0) {
		err_printf("%s", x->e.msg);
		return BB_EXIT_FAIL;
	}
	if (plan_register_tokens(&x->pf, &x->e) < 0) {
		err_printf("%s", x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	{
		struct planfile_git_gate gg;
		const struct planfile_token_slot *ts;
		const struct planfile_env *env;
		size_t n;
		int on;

		if (planfile_git_gate(&x->pf, &gg, &x->e) < 0 ||
		    planfile_token_slots(&x->pf, &ts, &n, &x->e) < 0 || planfile_env(&x->pf, &env, &n, &x->e) < 0 ||
		    planfile_supervise(&x->pf, &on, &x->e) < 0) {
			err_printf("%s", x->e.msg);
			return BB_EXIT_FAIL;
		}
	}
	return 0;
}

/*
 * The plan's parts again, after step_manifest read them (approvals add only
 * well-formed token slots), so these do not fail; the plan is read each
 * time since resume edits it in place.
 */
static void plan_git_gate(struct session_ctx *x, struct planfile_git_gate *gg)
{
	if (planfile_git_gate(&x->pf, gg, &x->e) < 0)
		memset(gg, 0, sizeof *gg);
}

static size_t plan_token_slots(struct session_ctx *x, const struct planfile_token_slot **ts)
{
	size_t n = 0;

	return planfile_token_slots(&x->pf, ts, &n, &x->e) < 0 ? 0 : n;
}

static int plan_supervise(struct session_ctx *x)
{
	int on = 0;

	return planfile_supervise(&x->pf, &on, &x->e) < 0 ? 0 : on;
}

static int step_image(struct session_ctx *x)
{
	const struct session *s = x->s;
	return !s->resume && !s->image && !s->bare ? dockerfile_image(&x->m, s->name, x->df_image) : 0;
}

/* State: $BB_HOME/.bb/state/SLUG, 0700; run removes it at the end, start keeps it for resume. */
static int step_state(struct session_ctx *x)
{
	const struct session *s = x->s;
	struct bottle_meta *meta = &x->meta;

	if (s->resume) {
		if (bottle_meta_read(s->resume, meta, &x->e) < 0 || bottle_state_dir(s->resume, x->state, sizeof x->state, &x->e) < 0) {
			err_printf("%s", x->e.msg);
			return BB_EXIT_SYSTEM;
		}
		if (!strcmp(meta->status, "running")) {
			err_printf("bottle %s is running (host process %d); stop it first", meta->slug, meta->host_pid);
			return BB_EXIT_SYSTEM;
		}
		/* What the operator approved while it ran: routes, credentials, DLP allowances, capabilities. */
		if (bottle_approvals_resume(meta, x->plan, &caps, &x->e) < 0) {
			err_printf("%s; nothing was started", x->e.msg);
			return BB_EXIT_FAIL;
		}
		if (caps.image[0])
			snprintf(meta->image, sizeof meta->image, "%.63s", caps.image);
		return 0;
	}
	if (bottle_state_root(x->state, sizeof x->state, 1, &x->e) < 0) {
		err_printf("%s", x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	bottle_slug_new(s->name, meta->slug);
	if (bottle_state_dir(meta->slug, x->state, sizeof x->state, &x->e) < 0 ||
	    (mkdir(x->state, 0700) < 0 && bb_errno(&x->e, errno, "create %s", x->state))) {
		err_printf("%s", x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	x->made_state = 1;
	snprintf(meta->agent, sizeof meta->agent, "%s", s->name);
	snprintf(meta->cwd, sizeof meta->cwd, "%s", s->workspace);
	now_iso(meta->started_at, sizeof meta->started_at);
	snprintf(meta->backend, sizeof meta->backend, "%s", s->backend);
	snprintf(meta->runtime, sizeof meta->runtime, "%s", session_bk.runtime ? session_bk.runtime : "");
	snprintf(meta->kernel, sizeof meta->kernel, "%s", session_bk.kernel ? session_bk.kernel : "");
	snprintf(meta->command, sizeof meta->command, "%s", s->keep_state ? "start" : "run");
	snprintf(meta->image, sizeof meta->image, "%s", s->image ? s->image : x->df_image);
	meta->copy_cwd = s->copy_cwd;
	meta->bare = s->bare;
	return 0;
}

/* A new bottle's state and host record go (the plan and sockets: nothing of it stays); a kept one stays. */
static void undo_state(struct session_ctx *x)
{
	char host[PATH_MAX];

	if (!x->made_state || (x->meta_written && x->s->keep_state))
		return;
	fd_remove_tree(x->state);
	if (bottle_host_dir(x->meta.slug, 0, host, sizeof host, &x->e) == 0)
		fd_remove_tree(host);
}

static int step_meta(struct session_ctx *x)
{
	snprintf(x->meta.status, sizeof x->meta.status, "running");
	x->meta.exit_code = -1;
	if (bottle_host_identify(&x->meta, &x->e) < 0 || bottle_meta_write(&x->meta, &x->e) < 0) {
		err_printf("%s", x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	x->meta_written = 1;
	return 0;
}

/*
 * The bottle's end as its host record says it: deploy keys revoked (a resume registers new ones; those a
 * killed host process left go too; what fails stays for cleanup), what egress refused, the audit log
 * kept when asked, and a kept bottle recorded as stopped with the agent's status.
 */
static void undo_meta(struct session_ctx *x)
{
	const struct session *s = x->s;

	/* dialer.json stays with a started bottle's host record (inspect shows it); resume writes it again. */
	if (forge_keys_pending(x->meta.slug)) {
		struct bb_err ke = { 0 };
		if (forge_keys_revoke(x->meta.slug, report_revoke, x->meta.slug, &ke) < 0 && ke.msg[0])
			err_printf("%s: %s", x->meta.slug, ke.msg);
	}
	if (x->ran)
		refused_summary(x->state, x->meta.slug, s->keep_state);
	if (s->keep_log) {
		struct buf lb = BUF_INIT(64u << 20);
		if (fd_read_file_beneath(x->sfd, "egress.log", 64u << 20, &lb, &x->e) == 0) /* the sidecar's: no link followed */
			fd_write_file_atomic(s->keep_log, lb.p ? lb.p : "", lb.len, 0600, &x->e);
		buf_free(&lb);
	}
	if (s->keep_state) {
		/* Kept for logs, inspect and resume; the dialer's socket goes with the host process. */
		unlink(x->sock);
		snprintf(x->meta.status, sizeof x->meta.status, "stopped");
		x->meta.exit_code = x->exit_code;
		if (bottle_meta_write(&x->meta, &x->e) < 0)
			err_printf("%s: %s", x->meta.slug, x->e.msg);
	}
}

static int step_plan(struct session_ctx *x)
{
	const struct session *s = x->s;

	x->sfd = open(x->state, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (x->sfd < 0 || state_check(x->sfd, x->state, &x->e) < 0) {
		err_printf("%s: %s", x->meta.slug, x->sfd < 0 ? strerror(errno) : x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	if (s->bare) /* no /run/bb on the host: the agent's CA bundle lives with the bottle */
		snprintf(x->bundle, sizeof x->bundle, "%s/ca-bundle.crt", x->state);
	snprintf(x->plan_path, sizeof x->plan_path, "%s/plan.json", x->state);
	snprintf(x->sock, sizeof x->sock, "%s/dial.sock", x->state);
	snprintf(x->log_path, sizeof x->log_path, "%s/egress.log", x->state);
	unlink(x->sock); /* a resumed bottle's, left by a host process that was killed */
	if (json_print(x->plan, &x->js, &x->e) < 0 ||
	    (s->keep_state ? fd_write_file_atomic(x->plan_path, x->js.p, x->js.len, 0600, &x->e)
			   : fd_write_file_replace(x->plan_path, x->js.p, x->js.len, 0600, &x->e)) < 0) {
		err_printf("%s: %s", x->meta.slug, x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	return 0;
}

/* The agent's owner: the workspace's (never root); with --bare nothing to switch to, the agent is this user. */
static void agent_ids(const struct session_ctx *x, uid_t *uid, gid_t *gid)
{
	*uid = x->st.st_uid ? x->st.st_uid : 65534;
	*gid = x->st.st_uid && x->st.st_gid ? x->st.st_gid : 65534;
	if (x->s->bare) {
		*uid = geteuid();
		*gid = getegid();
	}
}

/* The agent's owner, its root (the host's, or an imported image) and its home. */
static int step_home(struct session_ctx *x)
{
	agent_ids(x, &x->rc.uid, &x->rc.gid);
	if (x->meta.copy_cwd) { /* the agent works on a copy kept with the bottle (the workspace step makes it) */
		snprintf(x->ws_copy, sizeof x->ws_copy, "%s/workspace", x->state);
		x->workspace = x->ws_copy;
	}
	if (x->meta.image[0]) { /* the agent's root: an imported image, read-only; the workspace at /workspace in it */
		if (x->s->bare || img_rootfs_path(x->meta.image, x->rootfs, sizeof x->rootfs, &x->e) < 0) {
			err_printf("%s: %s", x->meta.slug, x->s->bare ? "--bare runs on the host: it takes no --image" : x->e.msg);
			return BB_EXIT_SYSTEM;
		}
		x->rc.rootfs = x->rootfs;
	}
	if ((x->home_fd = make_home(x->sfd, x->state, x->rc.uid, x->rc.gid, x->home_dir, sizeof x->home_dir, &x->e)) < 0) {
		err_printf("%s: %s", x->meta.slug, x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	return 0;
}

/* The bottle CA: made on first use. */
static int step_ca(struct session_ctx *x)
{
	char crt[PATH_MAX + 8];

	if (ca_default_dir(x->ca_dir, sizeof x->ca_dir, &x->e) < 0) {
		err_printf("%s: %s", x->meta.slug, x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	snprintf(crt, sizeof crt, "%s/%s", x->ca_dir, CA_CERT_FILE);
	if (access(crt, F_OK) < 0 && ca_ensure(x->ca_dir, x->s->name, time(NULL), &x->e) < 0) {
		err_printf("%s: %s", x->meta.slug, x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	return 0;
}

/*
 * The provider's setup, for start and for run alike (run's command replaces only the program): its
 * prompt and its credential placeholders in the agent's home, and its program.
 */
static int step_provider(struct session_ctx *x)
{
	const struct mf_agent *a;
	const struct mf_bottle *b = bottle_of(&x->m, x->s->name, &a);
	struct provider_ctx *p = &x->pctx;

	if (x->s->no_provider)
		return 0;
	*p = (struct provider_ctx){
		.template_ = b ? b->provider.template_ : NULL,
		.command = b ? b->provider.command : NULL,
		.ncommand = b ? b->provider.ncommand : 0,
		.auth_token_ref = b ? b->provider.auth_token : NULL,
		.api_key_ref = b ? b->provider.api_key : NULL,
		.prompt = a ? a->prompt : NULL,
		.home = x->home_dir,
		.home_fd = x->home_fd,
		.agent_home = x->s->bare ? x->home_dir : AGENT_HOME,
		.ca_bundle = x->bundle,
		.workspace = x->rc.rootfs ? RT_WORKSPACE_IN_IMAGE : x->workspace,
		.uid = x->rc.uid,
		.gid = x->rc.gid,
		.resume = x->s->resume != NULL,
		.codex_host_credentials = b && b->provider.forward_host_credentials,
	};
	if (!p->template_ || provider_prepare(p, &x->pc, &x->e) < 0) {
		err_printf("%s: %s", x->meta.slug, p->template_ ? x->e.msg : "the plan names no provider");
		return BB_EXIT_SYSTEM;
	}
	/*
	 * Its program as the operator's PATH (or the manifest) finds it, reachable inside: required to
	 * start it; for run, when the command is that program (another command may not need it).
	 */
	if (b && x->rc.rootfs && !b->provider.program[0] && image_has_program(x->rc.rootfs, b->provider.template_)) {
		/* the image brings its own program (a Dockerfile that installs it): found on its PATH inside */
	} else if (b && provider_program(b, &x->prog, &x->e) < 0) {
		if (!x->argv || !strcmp(x->argv[0], b->provider.template_)) {
			err_printf("%s: %s", x->meta.slug, x->e.msg);
			return BB_EXIT_FAIL;
		}
	} else if (b && x->prog.nneed) {
		size_t k;
		for (k = 0; k < x->prog.nneed; k++)
			x->prog_paths[k] = x->prog.need[k];
		snprintf(x->prog_links[0], sizeof x->prog_links[0], "%s=%s", x->prog.name, x->prog.real);
		x->links[0] = x->prog_links[0];
		if (x->prog.interp_name[0]) {
			snprintf(x->prog_links[1], sizeof x->prog_links[1], "%s=%s", x->prog.interp_name, x->prog.interp);
			x->links[1] = x->prog_links[1];
		}
		x->rc.ro_paths = x->prog_paths;
		x->rc.bin_links = x->links;
	}
	if (!x->argv)
		x->argv = x->pc.argv;
	return 0;
}

static int step_skills(struct session_ctx *x)
{
	const struct mf_agent *a;

	bottle_of(&x->m, x->s->name, &a);
	if (!x->s->no_provider && a && provider_skills(&x->pctx, a->skills, a->nskills, &x->e) < 0) {
		err_printf("%s: %s", x->meta.slug, x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	return 0;
}

/* The workspace (copied for --copy-cwd, once: a resume works on the copy) and the approved read-only mounts. */
static int step_workspace(struct session_ctx *x)
{
	size_t i, k = 0;

	if (x->meta.copy_cwd && !x->s->resume &&
	    fd_copy_tree_at(x->s->workspace, x->sfd, "workspace", x->rc.uid, x->rc.gid, COPY_CWD_MAX, &x->e) < 0) {
		err_printf("%s: --copy-cwd: %s", x->meta.slug, x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	if (!caps.nmounts)
		return 0;
	/* approved host paths, read-only, beside what the provider's program needs */
	for (i = 0; x->rc.ro_paths && x->rc.ro_paths[i]; i++)
		x->ro_all[k++] = x->rc.ro_paths[i];
	for (i = 0; i < caps.nmounts; i++)
		x->ro_all[k++] = caps.mounts[i];
	x->rc.ro_paths = x->ro_all;
	return 0;
}

static int step_git(struct session_ctx *x)
{
	/* git-gate when the plan gates repos: upstream keys staged in the state dir, SSH through the dialer. */
	static struct gate_env gate;
	struct planfile_git_gate gg;
	const char *uname, *umail;

	plan_git_gate(x, &gg);
	/* git-gate.user: the agent's commit identity (its init writes it into ~/.gitconfig). */
	uname = gg.user_name;
	umail = gg.user_email;
	if (gate_env_prepare(&gg, x->meta.slug, x->state, x->plan_path, x->sock, &gate, &x->e) < 0) {
		err_printf("%s: %s", x->meta.slug, x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	x->gated = gate.nrepos > 0 && !x->s->bare; /* bare: no git-gate (its ports are the sidecar's) */
	if ((x->gated && (env_add(&x->senv, &x->ns, "BB_GIT_GATE_ARGS=%s", gate.sidecar_args) < 0 ||
			  env_add(&x->aenv, &x->na, "BB_GIT_GATE_REPOS=%s", gate.agent_repos) < 0)) ||
	    (uname && *uname && env_add(&x->aenv, &x->na, "BB_GIT_USER_NAME=%s", uname) < 0) ||
	    (umail && *umail && env_add(&x->aenv, &x->na, "BB_GIT_USER_EMAIL=%s", umail) < 0))
		return nomem(x);
	return 0;
}

static int step_supervise(struct session_ctx *x)
{
	char qdir[PATH_MAX + 16];

	snprintf(qdir, sizeof qdir, "%s/supervise", x->state);
	x->supervise = plan_supervise(x);
	if (!x->supervise)
		return 0;
	if (mkdir(qdir, 0700) < 0 && errno != EEXIST) {
		err_printf("%s: cannot create %s: %s", x->meta.slug, qdir, strerror(errno));
		return BB_EXIT_SYSTEM;
	}
	if (env_add(&x->senv, &x->ns,
		    "BB_SUPERVISE_ARGS=--policy %s --queue %s --listen %s --log %s/supervise.log --egress-loaded %s/egress.loaded",
		    x->plan_path, qdir, x->listen_supervise, x->state, x->state) < 0)
		return nomem(x);
	return 0;
}

/* The sidecar's daemons (BB_SIDECAR_DAEMONS overrides, for tests). */
static const char *sidecar_daemons(int bare, int supervise, int gated)
{
	if (getenv("BB_SIDECAR_DAEMONS"))
		return getenv("BB_SIDECAR_DAEMONS");
	if (bare)
		return supervise ? "egress,supervise" : "egress";
	if (supervise)
		return gated ? "egress,dns,supervise,git-gate" : "egress,dns,supervise";
	return gated ? "egress,dns,git-gate" : "egress,dns";
}

/* The sidecar's environment: the only place token values go. */
static int step_sidecar(struct session_ctx *x)
{
	const struct planfile_token_slot *slots;
	size_t nslots, i;
	ssize_t sl = readlink("/proc/self/exe", x->self, sizeof x->self - 1);

	if (sl <= 0) {
		err_printf("%s: cannot find this binary: %s", x->meta.slug, strerror(errno));
		return BB_EXIT_SYSTEM;
	}
	x->self[sl] = 0;
	snprintf(x->egress_args, sizeof x->egress_args,
		 "--policy %s --listen %s --dialer %s --ca %s --log %s --token-socket %s --loaded %s/egress.loaded", x->plan_path,
		 x->listen_egress, x->sock, x->ca_dir, x->log_path, x->sock, x->state);
	/* The sidecar has no route out: dns answers allowed names with its own address (the agent's
	 * clients go through the proxy anyway) instead of forwarding. */
	if (env_add(&x->senv, &x->ns, "BB_DNS_ARGS=--policy %s --listen 0.0.0.0:%d --answer %s --log %s/dns.log",
		    x->plan_path, PORT_DNS, RT_SIDECAR_ADDR, x->state) < 0 ||
	    env_add(&x->senv, &x->ns, "PATH=/usr/sbin:/usr/bin:/sbin:/bin") < 0 ||
	    env_add(&x->senv, &x->ns, "BB_SIDECAR_DAEMONS=%s", sidecar_daemons(x->s->bare, x->supervise, x->gated)) < 0 ||
	    env_add(&x->senv, &x->ns, "BB_POLICY=%s", x->plan_path) < 0 ||
	    env_add(&x->senv, &x->ns, "BB_EGRESS_ARGS=%s", x->egress_args) < 0)
		return nomem(x);
	/* Upstream trust follows the OpenSSL convention on the host too. */
	if ((getenv("SSL_CERT_FILE") && env_add(&x->senv, &x->ns, "SSL_CERT_FILE=%s", getenv("SSL_CERT_FILE")) < 0) ||
	    (getenv("SSL_CERT_DIR") && env_add(&x->senv, &x->ns, "SSL_CERT_DIR=%s", getenv("SSL_CERT_DIR")) < 0))
		return nomem(x);
	nslots = plan_token_slots(x, &slots);
	for (i = 0; i < nslots; i++) {
		const char *sname = slots[i].slot, *ref = slots[i].ref, *src = slots[i].source;
		const char *val = ref ? getenv(ref) : NULL;
		if (src && !strcmp(src, "provisioned") && (!val || !*val)) { /* codex: the host's own sign-in */
			free(x->provisioned);
			x->provisioned = NULL;
			if (provider_codex_token(&x->provisioned, &x->e) < 0) {
				err_printf("%s: %s", x->meta.slug, x->e.msg);
				return BB_EXIT_SYSTEM;
			}
			val = x->provisioned;
		}
		if (!sname || !val || !*val) {
			err_printf("%s: the token for %s (host variable %s) is not set", x->meta.slug, sname ? sname : "?",
				   ref ? ref : "?");
			return BB_EXIT_SYSTEM;
		}
		/* the host's values are registered already (plan_register_tokens); a provisioned one is new */
		if (secrets_add(ref ? ref : sname, val, strlen(val), 0, &x->e) < 0 ||
		    env_add(&x->senv, &x->ns, "%s=%s", sname, val) < 0)
			return nomem(x);
	}
	return 0;
}

/* The agent's environment: where the sidecar is, which CA to trust; placeholders only. */
static int step_env(struct session_ctx *x)
{
	const struct session *s = x->s;
	const char *b = x->bundle;
	size_t i;
	int code;

	if (agent_path(s->bare, &x->prog, &x->aenv, &x->na) < 0 ||
	    env_add(&x->aenv, &x->na, "HOME=%s", s->bare ? x->home_dir : AGENT_HOME) < 0 ||
	    env_add(&x->aenv, &x->na, "LANG=C.UTF-8") < 0 ||
	    env_add(&x->aenv, &x->na, "TERM=%s", getenv("TERM") ? getenv("TERM") : "dumb") < 0 ||
	    env_add(&x->aenv, &x->na, "HTTP_PROXY=%s", x->proxy) < 0 || env_add(&x->aenv, &x->na, "HTTPS_PROXY=%s", x->proxy) < 0 ||
	    env_add(&x->aenv, &x->na, "http_proxy=%s", x->proxy) < 0 || env_add(&x->aenv, &x->na, "https_proxy=%s", x->proxy) < 0 ||
	    env_add(&x->aenv, &x->na, "NO_PROXY=localhost,127.0.0.1," RT_SIDECAR_ADDR) < 0 ||
	    env_add(&x->aenv, &x->na, "no_proxy=localhost,127.0.0.1," RT_SIDECAR_ADDR) < 0 ||
	    env_add(&x->aenv, &x->na, "SSL_CERT_FILE=%s", b) < 0 || env_add(&x->aenv, &x->na, "CURL_CA_BUNDLE=%s", b) < 0 ||
	    env_add(&x->aenv, &x->na, "REQUESTS_CA_BUNDLE=%s", b) < 0 ||
	    env_add(&x->aenv, &x->na, "NODE_EXTRA_CA_CERTS=%s", b) < 0 || env_add(&x->aenv, &x->na, "GIT_SSL_CAINFO=%s", b) < 0 ||
	    (!s->bare && env_add(&x->aenv, &x->na, "BB_SIDECAR=" RT_SIDECAR_ADDR) < 0) ||
	    (!s->bare && env_add(&x->aenv, &x->na, "GIT_GATE_URL=git://" RT_SIDECAR_ADDR ":9418") < 0) ||
	    env_add(&x->aenv, &x->na, "MCP_SUPERVISE_URL=%s", x->mcp_url) < 0 ||
	    env_add(&x->aenv, &x->na, "BB_BOTTLE=%s", x->meta.slug) < 0 || (s->bare && env_add(&x->aenv, &x->na, "BB_BARE=1") < 0))
		return nomem(x);
	for (i = 0; i < x->pc.nenv; i++)
		if (env_add(&x->aenv, &x->na, "%s", x->pc.env[i]) < 0)
			return nomem(x);
	if ((code = manifest_env(&x->m, s->name, &x->aenv, &x->na)) != 0)
		return code == BB_EXIT_SYSTEM ? nomem(x) : BB_EXIT_SYSTEM;
#if BB_ASAN
	/* A sanitizer build's init runs under the agent's seccomp filter, which refuses the ptrace LeakSanitizer needs at exit. */
	if (env_add(&x->aenv, &x->na, "ASAN_OPTIONS=detect_leaks=0") < 0)
		return nomem(x);
#endif
	return 0;
}

static void undo_dialer(struct session_ctx *x)
{
	if (x->dialer > 0) {
		int ds;
		kill(x->dialer, SIGTERM);
		waitpid(x->dialer, &ds, 0);
	}
	if (x->ctl_sock[0])
		unlink(x->ctl_sock);
}

/*
 * The dialer reads its own copy of the plan, outside the state dir the sidecar can write: a
 * sidecar rewriting plan.json widens only itself; what the host dials widens only with the
 * operator's approval (bb bottle approve, the dashboard), merged here by the host.
 */
static int step_dialer(struct session_ctx *x)
{
	if (bottle_dialer_policy(x->meta.slug, 1, x->dialer_plan, sizeof x->dialer_plan, &x->e) < 0 ||
	    fd_write_file_replace(x->dialer_plan, x->js.p, x->js.len, 0600, &x->e) < 0) {
		err_printf("%s: %s", x->meta.slug, x->e.msg);
		return BB_EXIT_SYSTEM;
	}
	if (bottle_control_socket(x->meta.slug, x->ctl_sock, sizeof x->ctl_sock, &x->e) < 0) {
		err_printf("%s: %s: credentials approved while it runs are refused (they apply at a resume)", x->meta.slug,
			   x->e.msg);
		x->ctl_sock[0] = 0;
	}
	x->dialer = start_dialer(x->sock, x->ctl_sock[0] ? x->ctl_sock : NULL, x->dialer_plan, x->s->hosts, &x->e);
	if (x->dialer < 0) {
		err_printf("%s: %s", x->meta.slug, x->e.msg);
		undo_dialer(x); /* its control socket: a failed step takes back its own part */
		return BB_EXIT_SYSTEM;
	}
	return 0;
}

/* The agent in its bottle, until it ends: the backend stops whatever it started, failed or not. */
static int step_agent(struct session_ctx *x)
{
	struct rt_config *rc = &x->rc;
	struct sigaction sa = { .sa_handler = session_term }, old_term, old_hup, old_int;
	const char *fault = getenv("BB_RT_FAULT");

	rc->bb_path = x->self;
	rc->state_dir = x->state;
	rc->plan_path = x->plan_path;
	rc->ca_dir = x->ca_dir;
	rc->workspace = x->workspace;
	rc->home_dir = x->home_dir;
	rc->hosts_path = x->s->hosts;
	rc->argv = x->argv;
	rc->agent_env = x->aenv;
	rc->sidecar_env = x->senv;
	rc->agent_pid = &agent_pid;
	rc->fault = fault ? (int)strtol(fault, NULL, 10) : 0; /* a number: a step of the runtime (docs/runtime.md) */
	/* Container processes an OCI runtime starts are reparented here, to be waited for. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* Ctrl-C reaches the agent through the terminal; this process outlives it to tear down. */
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, &old_int);
	x->ran = !stop_asked;
	if (stop_asked) {
		err_printf("%s: stopped before the agent started", x->meta.slug);
	} else {
		if (x->be->flags & BK_HOST)
			err_raw("bb: WARNING: %s runs WITHOUT isolation (--bare): the agent reaches the network and this "
				"host's files directly; only what it sends through the proxy is checked\n", x->meta.slug);
		running = &session_bk;
		if (x->be->run(&session_bk, &x->exit_code, &x->e) < 0) {
			err_printf("%s: %s%s", x->meta.slug, x->e.msg, x->be->flags & BK_HOST ? "" : "; nothing was left running");
			x->exit_code = BB_EXIT_SYSTEM;
		}
		running = NULL;
	}
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGINT, &old_int, NULL);
	return 0;
}

/* ---------- --dry-run: what each step would do, with what it would use (values of secrets never) ---------- */

static void show_backend(struct session_ctx *x, char *out, size_t cap)
{
	snprintf(out, cap, "%s: %s%s%s; the agent's proxy %s", x->be->name, x->be->isolates,
		 session_bk.runtime ? ", runtime " : "", session_bk.runtime ? session_bk.runtime : "", x->proxy);
}

static void show_manifest(struct session_ctx *x, char *out, size_t cap)
{
	const struct mf_bottle *b = bottle_of(&x->m, x->s->name, NULL);
	snprintf(out, cap, "the plan for %s from %s; workspace %s", x->s->name, b && b->file ? b->file : "its manifest",
		 x->s->workspace);
}

static void show_image(struct session_ctx *x, char *out, size_t cap)
{
	const struct mf_bottle *b = bottle_of(&x->m, x->s->name, NULL);
	const char *df = b ? b->provider.dockerfile : NULL;
	if (!x->s->resume && !x->s->image && !x->s->bare && df && *df)
		snprintf(out, cap, "build (or reuse, when unchanged) the image of agent_provider.dockerfile %s", df);
	else
		snprintf(out, cap, "none to build");
}

static void show_state(struct session_ctx *x, char *out, size_t cap)
{
	if (x->s->resume) {
		snprintf(x->meta.slug, sizeof x->meta.slug, "%s", x->s->resume);
		if (bottle_state_dir(x->s->resume, x->state, sizeof x->state, &x->e) < 0)
			snprintf(x->state, sizeof x->state, "?");
		snprintf(out, cap, "resume %s (approvals recorded for it applied to the plan)", x->state);
		return;
	}
	snprintf(x->meta.slug, sizeof x->meta.slug, "%s-XXXXXX", x->s->name);
	if (bottle_state_root(x->state, sizeof x->state, 0, &x->e) < 0)
		snprintf(x->state, sizeof x->state, "?");
	snprintf(x->state + strlen(x->state), sizeof x->state - strlen(x->state), "/%s", x->meta.slug);
	snprintf(out, cap, "create %s, 0700 (XXXXXX: six random hex digits)", x->state);
}

static void show_meta(struct session_ctx *x, char *out, size_t cap)
{
	char host[PATH_MAX];
	if (bottle_host_dir(x->meta.slug, 0, host, sizeof host, &x->e) < 0)
		snprintf(host, sizeof host, "?");
	snprintf(out, cap, "%s/meta.json: status running, this process its host; at the end %s", host,
		 x->s->keep_state ? "status stopped with the agent's exit status" : "removed with the state");
}

static void show_plan(struct session_ctx *x, char *out, size_t cap)
{
	snprintf(out, cap, "%s/plan.json (its kept entries checked: real directories, no links)", x->state);
}

static void show_home(struct session_ctx *x, char *out, size_t cap)
{
	uid_t uid;
	gid_t gid;
	const char *image = x->s->image;
	agent_ids(x, &uid, &gid);
	snprintf(out, cap, "%s/home for uid %u gid %u; the agent's root %s%s", x->state, (unsigned)uid, (unsigned)gid,
		 image ? "image " : "the host's, read-only", image ? image : "");
}

static void show_ca(struct session_ctx *x, char *out, size_t cap)
{
	char crt[PATH_MAX + 8];
	if (ca_default_dir(x->ca_dir, sizeof x->ca_dir, &x->e) < 0) {
		snprintf(out, cap, "%s", x->e.msg);
		return;
	}
	snprintf(crt, sizeof crt, "%s/%s", x->ca_dir, CA_CERT_FILE);
	snprintf(out, cap, "%s%s", x->ca_dir, access(crt, F_OK) < 0 ? " (made now: there is none yet)" : "");
}

static void show_provider(struct session_ctx *x, char *out, size_t cap)
{
	const struct mf_bottle *b = bottle_of(&x->m, x->s->name, NULL);
	if (x->s->no_provider || !b) {
		snprintf(out, cap, "none%s", x->s->no_provider ? " (--no-provider)" : "");
		return;
	}
	int found = provider_program(b, &x->prog, &x->e) == 0;
	snprintf(out, cap, "%s: prompt and credential placeholders in the agent's home; program %s", b->provider.template_,
		 !found ? "(none found on this host)" : x->prog.nneed ? x->prog.real : "(the manifest's command)");
}

static void show_skills(struct session_ctx *x, char *out, size_t cap)
{
	const struct mf_agent *a;
	size_t i, l = 0;
	bottle_of(&x->m, x->s->name, &a);
	snprintf(out, cap, "none");
	for (i = 0; !x->s->no_provider && a && i < a->nskills && l < cap; i++)
		l += snprintf(out + l, cap - l, "%s%s", i ? ", " : "", a->skills[i]);
}

static void show_workspace(struct session_ctx *x, char *out, size_t cap)
{
	if (x->s->copy_cwd)
		snprintf(out, cap, "a copy of %s in %s/workspace%s", x->s->workspace, x->state, x->s->resume ? " (made before)" : "");
	else
		snprintf(out, cap, "%s, read-write", x->s->workspace);
}

static void show_git(struct session_ctx *x, char *out, size_t cap)
{
	struct planfile_git_gate gg;
	size_t l = 0, i;
	snprintf(out, cap, "none (the plan gates no repo)");
	plan_git_gate(x, &gg);
	for (i = 0; i < gg.nrepos; i++) {
		if (l < cap)
			l += snprintf(out + l, cap - l, "%s%s", l ? ", " : "git-gate for ", gg.repos[i].name);
		x->gated = !x->s->bare;
	}
}

static void show_supervise(struct session_ctx *x, char *out, size_t cap)
{
	x->supervise = plan_supervise(x);
	snprintf(out, cap, x->supervise ? "on: the queue %s/supervise" : "off", x->state);
}

static void show_sidecar(struct session_ctx *x, char *out, size_t cap)
{
	const struct planfile_token_slot *slots;
	size_t nslots = plan_token_slots(x, &slots), i;
	size_t l = (size_t)snprintf(out, cap, "daemons %s", sidecar_daemons(x->s->bare, x->supervise, x->gated));
	for (i = 0; i < nslots; i++) {
		const char *ref = slots[i].ref, *src = slots[i].source;
		const char *val = ref ? getenv(ref) : NULL;
		if (l < cap)
			l += snprintf(out + l, cap - l, "; %s from %s%s (%s)", slots[i].slot, ref ? "$" : "", ref ? ref : "?",
				      val && *val ? "set, value not shown"
				      : src && !strcmp(src, "provisioned") ? "else the host's Codex sign-in" : "NOT SET");
	}
}

static void show_env(struct session_ctx *x, char *out, size_t cap)
{
	const struct planfile_env *v = NULL;
	size_t n = 0, i;
	size_t l = (size_t)snprintf(out, cap, "HTTPS_PROXY=%s, SSL_CERT_FILE=%s, the provider's placeholders; from the manifest:",
				    x->proxy, x->s->bare ? "STATE/ca-bundle.crt" : x->bundle);
	if (planfile_env(&x->pf, &v, &n, &x->e) < 0) /* read at load: does not fail here */
		n = 0;
	for (i = 0; i < n; i++)
		if (l < cap)
			l += snprintf(out + l, cap - l, " %s", v[i].name);
}

static void show_dialer(struct session_ctx *x, char *out, size_t cap)
{
	char host[PATH_MAX];
	if (bottle_host_dir(x->meta.slug, 0, host, sizeof host, &x->e) < 0)
		snprintf(host, sizeof host, "?");
	snprintf(out, cap, "its own plan %s/dialer.json; %s/dial.sock for the sidecar, %s/ctl.sock for approvals%s%s", host,
		 x->state, host, x->s->hosts ? "; hosts file " : "", x->s->hosts ? x->s->hosts : "");
}

static void show_agent(struct session_ctx *x, char *out, size_t cap)
{
	size_t i, l = 0;
	if (!x->argv) {
		snprintf(out, cap, "the provider's program, until it ends");
		return;
	}
	for (i = 0; x->argv[i] && l < cap; i++)
		l += snprintf(out + l, cap - l, "%s%s", i ? " " : "", x->argv[i]);
}

/*
 * How a bottle starts (start, resume and run alike): one step after another, each undone by what it
 * lists (NULL: nothing to take back, or what the state's undo removes with it). The documented
 * provisioning order (docs/runtime.md, the plan's "provisioning": CA -> prompt -> provider auth ->
 * skills -> workspace -> git -> supervise) is steps ca to supervise; before it the bottle's own
 * record (backend, plan, state, its host record, the agent's home), after it the two environments,
 * the dialer and the agent. A step that fails says why and takes back its own part; then the steps
 * before it are undone in reverse. After the agent ends every step is undone the same way. --dry-run
 * runs the steps that only resolve (touching nothing) and shows the others; BB_RT_FAULT=NAME fails
 * step NAME (tests).
 */
static const struct session_step {
	const char *name;
	int (*run)(struct session_ctx *x); /* 0, or an exit code after saying why */
	void (*undo)(struct session_ctx *x);
	void (*show)(struct session_ctx *x, char *out, size_t cap);
	int resolves; /* touches nothing: runs under --dry-run too */
} session_steps[] = {
	{ "backend", step_backend, NULL, show_backend, 1 },
	{ "manifest", step_manifest, NULL, show_manifest, 1 },
	{ "image", step_image, NULL, show_image, 0 },
	{ "state", step_state, undo_state, show_state, 0 },
	{ "meta", step_meta, undo_meta, show_meta, 0 },
	{ "plan", step_plan, NULL, show_plan, 0 },
	{ "home", step_home, NULL, show_home, 0 },
	{ "ca", step_ca, NULL, show_ca, 0 },
	{ "provider", step_provider, NULL, show_provider, 0 }, /* prompt, provider auth */
	{ "skills", step_skills, NULL, show_skills, 0 },
	{ "workspace", step_workspace, NULL, show_workspace, 0 },
	{ "git", step_git, NULL, show_git, 0 },
	{ "supervise", step_supervise, NULL, show_supervise, 0 },
	{ "sidecar", step_sidecar, NULL, show_sidecar, 0 },
	{ "env", step_env, NULL, show_env, 0 },
	{ "dialer", step_dialer, undo_dialer, show_dialer, 0 },
	{ "agent", step_agent, NULL, show_agent, 0 },
};

/* One loop over the steps, one cleanup stack: on failure at step k, steps k-1..0 are undone, in reverse. */
static int session_walk(struct session_ctx *x)
{
	const char *fault = getenv("BB_RT_FAULT");
	size_t k, n = sizeof session_steps / sizeof *session_steps;
	int code = 0;

	if (x->s->dry_run)
		out_printf("%s: the steps a start takes (--dry-run: none is taken)\n", x->s->name);
	for (k = 0; k < n && !code; k++) {
		const struct session_step *st = &session_steps[k];
		char what[2048];
		if (!x->s->dry_run && fault && !strcmp(fault, st->name)) {
			err_printf("%s: %s: fault injected (BB_RT_FAULT)", x->meta.slug[0] ? x->meta.slug : x->s->name, st->name);
			code = BB_EXIT_SYSTEM;
		} else if (!x->s->dry_run || st->resolves) {
			code = st->run(x);
		}
		if (x->s->dry_run && !code) {
			st->show(x, what, sizeof what);
			out_printf("%3zu %-9s %s\n", k + 1, st->name, what);
		}
	}
	if (x->s->dry_run)
		return code;
	if (code) {
		x->exit_code = code;
		k--; /* the failed step: it took back its own part */
	}
	while (k-- > 0)
		if (session_steps[k].undo)
			session_steps[k].undo(x);
	return x->exit_code;
}

int bottle_session(const struct session *s)
{
	struct session_ctx x = {
		.s = s,
		.js = BUF_INIT(4u << 20),
		.workspace = s->workspace,
		.bundle = "/run/bb/ca-bundle.crt",
		.argv = s->argv,
		.dialer = -1,
		.exit_code = BB_EXIT_SYSTEM,
		.sfd = -1,
		.home_fd = -1,
	};
	int code;

	memset(&caps, 0, sizeof caps);
	code = session_walk(&x);
	fd_close(x.home_fd);
	fd_close(x.sfd);
	if (x.provisioned) {
		explicit_bzero(x.provisioned, strlen(x.provisioned));
		free(x.provisioned);
	}
	env_free(x.aenv, x.na);
	env_free(x.senv, x.ns);
	buf_free(&x.js);
	planfile_free(&x.pf);
	cJSON_Delete(x.plan);
	if (x.loaded)
		manifest_free(&x.m);
	return code;
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
	while ((c = applet_opt(&o, argc, argv, "h(help)C:(cwd)L:(log)H:(hosts)b:(backend)r:(runtime)k:(kernel)B(bare)i:(image)P(no-provider)n(dry-run)", usage,
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
		case 'n': s.dry_run = 1; break;
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
