/* run.c - `bb bottle run NAME -- CMD`: a bottle around one command on the embedded runtime; CMD's status comes back. */
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
#include <time.h>
#include <unistd.h>

#include "applet.h"
#include "bottle.h"
#include "ca.h"
#include "dialer.h"
#include "fd.h"
#include "json.h"
#include "log.h"
#include "oci.h"
#include "opt.h"
#include "plan.h"
#include "route.h"
#include "runtime.h"

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
	"inside it as the agent (instead of the provider's agent program), then stops\n"
	"the bottle and exits with CMD's status. The agent reaches only the sidecar;\n"
	"egress there reaches only what the manifest's routes allow (docs/runtime.md).\n"
	"  -C, --cwd DIR        the workspace mounted read-write (default: current directory)\n"
	"  -L, --log FILE       keep egress's audit log (JSON lines) in FILE\n"
	"  -H, --hosts FILE     hosts file the host-side dialer resolves with first (tests)\n"
	"  -b, --backend NAME   embedded (default: bb's own runtime) or oci\n"
	"  -r, --runtime PROG   with --backend oci: runc (default) or crun\n"
	"Needs root (rootless user namespaces are not supported yet). Isolation is never\n"
	"skipped: if a step fails, the bottle does not start.";

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

/* The dialer runs in a child of the host process for the bottle's life. */
static pid_t start_dialer(const char *sock, const char *plan, const char *hosts, struct bb_err *e)
{
	struct policy *p;
	int lfd;
	pid_t pid;
	if (policy_load(plan, &p, e) < 0) /* a bad plan stops the start here, not in the child */
		return -1;
	policy_unref(p);
	lfd = bottle_dialer_listen(sock, e);
	if (lfd < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = dialer_term };
		sigaction(SIGTERM, &sa, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dialer_serve(lfd, plan, hosts, &dialer_stop, e);
		_exit(0);
	}
	close(lfd);
	if (pid < 0)
		return bb_errno(e, errno, "fork the dialer");
	return pid;
}

int bottle_run(int argc, char **argv)
{
	struct manifest m;
	struct opt o;
	struct bb_err e = { 0 };
	struct rt_config rc = { 0 };
	struct stat st;
	cJSON *plan = NULL, *slot;
	struct buf js = BUF_INIT(4u << 20);
	char cwd[PATH_MAX], state_root[PATH_MAX], state[PATH_MAX], plan_path[PATH_MAX + 16], sock[PATH_MAX + 16],
		log_path[PATH_MAX + 16], ca_dir[PATH_MAX], self[PATH_MAX], egress_args[4 * PATH_MAX];
	const char *name, *workspace = NULL, *keep_log = NULL, *hosts = NULL, *home, *fault, *runtime = "runc";
	int oci = 0, supervise = 0;
	char **aenv = NULL, **senv = NULL;
	size_t na = 0, ns = 0;
	pid_t dialer = -1;
	int c, code, exit_code = BB_EXIT_SYSTEM, made_state = 0;
	ssize_t sl;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)C:(cwd)L:(log)H:(hosts)b:(backend)r:(runtime)", usage, &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 'C': workspace = o.arg; break;
		case 'L': keep_log = o.arg; break;
		case 'H': hosts = o.arg; break;
		case 'b':
			if (strcmp(o.arg, "embedded") && strcmp(o.arg, "oci"))
				return applet_usage_error(usage, "--backend %s: want embedded or oci", o.arg);
			oci = !strcmp(o.arg, "oci");
			break;
		case 'r': runtime = o.arg; break;
		default: return applet_usage_error(usage, "unexpected option");
		}
	}
	if (o.ind >= argc)
		return applet_usage_error(usage, "which agent or bottle?");
	name = argv[o.ind++];
	if (o.ind < argc && !strcmp(argv[o.ind], "--"))
		o.ind++;
	if (o.ind >= argc)
		return applet_usage_error(usage, "no command to run: bb bottle run %s -- CMD", name);
	if (geteuid() != 0) {
		err_printf("bottle run: the embedded runtime needs root here (rootless user namespaces are not "
			   "supported yet); nothing was started");
		return BB_EXIT_FAIL;
	}
	if (!workspace)
		workspace = getcwd(cwd, sizeof cwd);
	if (!workspace || !realpath(workspace, cwd) || stat(cwd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		err_printf("bottle run: workspace %s is not a directory", workspace ? workspace : "(cwd)");
		return BB_EXIT_FAIL;
	}
	if ((code = bottle_load(&m)) != 0)
		return code;
	plan = plan_build(&m, name, NULL, &e);
	if (!plan) {
		plan = plan_build(&m, NULL, name, &e);
		if (!plan) {
			err_printf("%s", e.msg);
			manifest_free(&m);
			return BB_EXIT_FAIL;
		}
	}

	/* State: $BB_HOME/.bb/state/NAME-PID, 0700, removed at the end whatever happens. */
	home = getenv("BB_HOME");
	if (!home || !*home)
		home = getenv("HOME");
	snprintf(state_root, sizeof state_root, "%s/.bb/state", home ? home : "/root");
	{
		char bbdir[PATH_MAX + 8];
		snprintf(bbdir, sizeof bbdir, "%s/.bb", home ? home : "/root");
		mkdir(bbdir, 0700);
	}
	if (mkdir(state_root, 0700) < 0 && errno != EEXIST) {
		err_printf("bottle run: cannot create %s: %s", state_root, strerror(errno));
		goto done;
	}
	snprintf(state, sizeof state, "%s/%s-%d", state_root, name, (int)getpid());
	if (mkdir(state, 0700) < 0) {
		err_printf("bottle run: cannot create %s: %s", state, strerror(errno));
		goto done;
	}
	made_state = 1;
	snprintf(plan_path, sizeof plan_path, "%s/plan.json", state);
	snprintf(sock, sizeof sock, "%s/dial.sock", state);
	snprintf(log_path, sizeof log_path, "%s/egress.log", state);
	if (json_print(plan, &js, &e) < 0 || fd_write_file_atomic(plan_path, js.p, js.len, 0600, &e) < 0) {
		err_printf("bottle run: %s", e.msg);
		goto done;
	}

	/* The bottle CA: made on first use. */
	if (ca_default_dir(ca_dir, sizeof ca_dir, &e) < 0) {
		err_printf("bottle run: %s", e.msg);
		goto done;
	}
	{
		char crt[PATH_MAX + 8];
		snprintf(crt, sizeof crt, "%s/%s", ca_dir, CA_CERT_FILE);
		if (access(crt, F_OK) < 0 && ca_create(ca_dir, name, time(NULL), 0, &e) < 0) {
			err_printf("bottle run: %s", e.msg);
			goto done;
		}
	}

	sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sl <= 0) {
		err_printf("bottle run: cannot find this binary: %s", strerror(errno));
		goto done;
	}
	self[sl] = 0;

	/* The sidecar's environment: the only place token values go. */
	snprintf(egress_args, sizeof egress_args, "--policy %s --listen 0.0.0.0:%d --dialer %s --ca %s --log %s",
		 plan_path, PORT_EGRESS, sock, ca_dir, log_path);
	{
		/* The sidecar has no route out: dns answers allowed names with its own address (the agent's
		 * clients go through the proxy anyway) instead of forwarding. */
		const cJSON *sup = cJSON_GetObjectItem(cJSON_GetObjectItem(plan, "supervise"), "enabled");
		char qdir[PATH_MAX + 16];
		snprintf(qdir, sizeof qdir, "%s/supervise", state);
		supervise = cJSON_IsTrue(sup);
		if (supervise && mkdir(qdir, 0700) < 0) {
			err_printf("bottle run: cannot create %s: %s", qdir, strerror(errno));
			goto done;
		}
		if (env_add(&senv, &ns, "BB_DNS_ARGS=--policy %s --listen 0.0.0.0:%d --answer %s --log %s/dns.log",
			    plan_path, PORT_DNS, RT_SIDECAR_ADDR, state) < 0 ||
		    (supervise && env_add(&senv, &ns,
					  "BB_SUPERVISE_ARGS=--policy %s --queue %s --listen 0.0.0.0:%d --log %s/supervise.log",
					  plan_path, qdir, PORT_SUPERVISE, state) < 0))
			goto nomem;
	}
	if (env_add(&senv, &ns, "PATH=/usr/sbin:/usr/bin:/sbin:/bin") < 0 ||
	    env_add(&senv, &ns, "BB_SIDECAR_DAEMONS=%s",
		    getenv("BB_SIDECAR_DAEMONS") ? getenv("BB_SIDECAR_DAEMONS")
						 : supervise ? "egress,dns,supervise" : "egress,dns") < 0 ||
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
		const char *val = ref ? getenv(ref) : NULL;
		if (!sname || !val || !*val) {
			err_printf("bottle run: the token for %s (host variable %s) is not set", sname ? sname : "?",
				   ref ? ref : "?");
			goto done;
		}
		if (redact_add(val, strlen(val), &e) < 0 || env_add(&senv, &ns, "%s=%s", sname, val) < 0)
			goto nomem;
	}

	/* The agent's: where the sidecar is, which CA to trust; placeholders only. */
#define PROXY "http://" RT_SIDECAR_ADDR ":9099"
#define BUNDLE "/run/bb/ca-bundle.crt"
	if (env_add(&aenv, &na, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0 ||
	    env_add(&aenv, &na, "HOME=/tmp/home") < 0 || env_add(&aenv, &na, "LANG=C.UTF-8") < 0 ||
	    env_add(&aenv, &na, "TERM=%s", getenv("TERM") ? getenv("TERM") : "dumb") < 0 ||
	    env_add(&aenv, &na, "HTTP_PROXY=" PROXY) < 0 || env_add(&aenv, &na, "HTTPS_PROXY=" PROXY) < 0 ||
	    env_add(&aenv, &na, "http_proxy=" PROXY) < 0 || env_add(&aenv, &na, "https_proxy=" PROXY) < 0 ||
	    env_add(&aenv, &na, "NO_PROXY=localhost,127.0.0.1," RT_SIDECAR_ADDR) < 0 ||
	    env_add(&aenv, &na, "no_proxy=localhost,127.0.0.1," RT_SIDECAR_ADDR) < 0 || env_add(&aenv, &na, "SSL_CERT_FILE=" BUNDLE) < 0 ||
	    env_add(&aenv, &na, "CURL_CA_BUNDLE=" BUNDLE) < 0 || env_add(&aenv, &na, "REQUESTS_CA_BUNDLE=" BUNDLE) < 0 ||
	    env_add(&aenv, &na, "NODE_EXTRA_CA_CERTS=" BUNDLE) < 0 || env_add(&aenv, &na, "GIT_SSL_CAINFO=" BUNDLE) < 0 ||
	    env_add(&aenv, &na, "BB_SIDECAR=" RT_SIDECAR_ADDR) < 0 ||
	    env_add(&aenv, &na, "GIT_GATE_URL=git://" RT_SIDECAR_ADDR ":9418") < 0 ||
	    env_add(&aenv, &na, "MCP_SUPERVISE_URL=http://" RT_SIDECAR_ADDR ":9100/mcp") < 0 ||
	    env_add(&aenv, &na, "BB_BOTTLE=%s", name) < 0)
		goto nomem;
#if BB_ASAN
	/* A sanitizer build's init runs under the agent's seccomp filter, which refuses the ptrace LeakSanitizer needs at exit. */
	if (env_add(&aenv, &na, "ASAN_OPTIONS=detect_leaks=0") < 0)
		goto nomem;
#endif

	dialer = start_dialer(sock, plan_path, hosts, &e);
	if (dialer < 0) {
		err_printf("bottle run: %s", e.msg);
		goto done;
	}

	rc.bb_path = self;
	rc.state_dir = state;
	rc.plan_path = plan_path;
	rc.ca_dir = ca_dir;
	rc.workspace = cwd;
	rc.hosts_path = hosts;
	rc.uid = st.st_uid ? st.st_uid : 65534; /* the workspace's owner; never root */
	rc.gid = st.st_uid ? st.st_gid : 65534;
	rc.argv = argv + o.ind;
	rc.agent_env = aenv;
	rc.sidecar_env = senv;
	fault = getenv("BB_RT_FAULT");
	rc.fault = fault ? (int)strtol(fault, NULL, 10) : 0;
	/* Container processes an OCI runtime starts are reparented here, to be waited for. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if ((oci ? oci_run(&rc, runtime, &exit_code, &e) : rt_run(&rc, &exit_code, &e)) < 0) {
		err_printf("bottle run: %s; nothing was left running", e.msg);
		exit_code = BB_EXIT_SYSTEM;
	}
	goto done;
nomem:
	err_printf("bottle run: out of memory");
done:
	if (dialer > 0) {
		int s;
		kill(dialer, SIGTERM);
		waitpid(dialer, &s, 0);
	}
	if (keep_log && made_state) {
		struct buf lb = BUF_INIT(64u << 20);
		if (fd_read_file(log_path, 64u << 20, &lb, &e) == 0)
			fd_write_file_atomic(keep_log, lb.p ? lb.p : "", lb.len, 0600, &e);
		buf_free(&lb);
	}
	if (made_state)
		fd_remove_tree(state); /* the plan and sockets: nothing of the bottle stays behind */
	env_free(aenv, na);
	env_free(senv, ns);
	buf_free(&js);
	cJSON_Delete(plan);
	manifest_free(&m);
	return exit_code;
}
