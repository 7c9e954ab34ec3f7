/* main.c - `bb supervise`: options, the listener, signals, the queue watch (inotify), applying approved policy changes. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "applet.h"
#include "daemon.h"
#include "fd.h"
#include "json.h"
#include "listenfd.h"
#include "log.h"
#include "opt.h"
#include "planfile.h"
#include "route.h"
#include "supervise.h"

BB_APPLET(supervise, "MCP server through which the agent asks the operator")

static const char usage[] =
	"usage: bb supervise --policy FILE [OPTIONS]\n"
	"The agent's line to its operator: an MCP server (streamable HTTP, JSON responses)\n"
	"whose tools list the egress routes and file proposals (a route, a credential, a\n"
	"DLP false positive, a capability, a question) into a queue the operator decides\n"
	"from the host with `bb bottle approve|reject`. Approved routes, credentials and DLP\n"
	"allowances are merged into the policy and egress is told to reload.\n"
	"  -p, --policy FILE        the plan JSON (`bb bottle plan --json`); approved routes are merged into it\n"
	"  -q, --queue DIR          the proposal queue (default $BB_SUPERVISE_QUEUE_DIR, else /run/bb/supervise)\n"
	"  -l, --listen ADDR:PORT   where to listen (default 0.0.0.0:9100)\n"
	"  -F, --listen-fd N        use the listening socket inherited as fd N instead (the runtime's)\n"
	"  -L, --log FILE|-         audit log, JSON lines (default - = stderr)\n"
	"  -b, --bottle NAME        the bottle named in proposals (default: the plan's bottle.name)\n"
	"  -t, --response-timeout S how long a call waits for the operator (default\n"
	"                           $BB_SUPERVISE_RESPONSE_TIMEOUT_SECONDS, else 30); then status: pending\n"
	"  -P, --egress-pid-file F  after merging a route, send SIGHUP to the pid in F (bb egress)\n"
	"  -R, --reload-parent      after merging a route, send SIGHUP to the parent (the sidecar's bb init,\n"
	"                           which passes it to egress). Default: this, when the parent is PID 1 and\n"
	"                           runs this same binary; otherwise no signal is sent (and that is logged)\n"
	"  -A, --egress-loaded F    egress's --loaded file: an approval merged into the policy is stamped\n"
	"                           applied once egress has loaded it (so the agent's next request sees it),\n"
	"                           or as an error when egress has not within 20 s\n"
	"  -m, --max-conns N        concurrent connections (default 256)\n"
	"SIGTERM/SIGINT: waiting calls are answered (pending), then exit 0. SIGHUP is logged (the\n"
	"policy is read on each call). See docs/supervise.md.";

static struct sup SUP;

/* ---- the queue --------------------------------------------------------------------------------- */

static int seen(struct sup *s, const char *id)
{
	size_t i, n = s->nseen < 256 ? s->nseen : 256;
	for (i = 0; i < n; i++)
		if (!strcmp(s->seen[i], id))
			return 1;
	return 0;
}

static void mark_seen(struct sup *s, const char *id)
{
	snprintf(s->seen[s->nseen % 256], PROPOSAL_ID_MAX, "%s", id);
	s->nseen++;
}

size_t sv_pending_count(struct sup *s)
{
	struct proposal_list l;
	size_t i, n = 0;
	if (proposal_list_read(s->queue_dir, &l, NULL) < 0)
		return 0;
	for (i = 0; i < l.n; i++)
		if (!strcmp(proposal_get(l.docs[i], "status"), "pending"))
			n++;
	proposal_list_free(&l);
	return n;
}

/* Tell egress to re-read the policy: 0 signalled, 1 no target configured, -1 failed; detail says which. */
static int reload_egress(struct sup *s, char *detail, size_t cap)
{
	pid_t pid;
	if (s->reload == RELOAD_PARENT) {
		pid = getppid();
		if (pid <= 0 || kill(pid, SIGHUP) < 0) {
			snprintf(detail, cap, "SIGHUP to the parent (pid %d) failed: %s", (int)pid, strerror(errno));
			return -1;
		}
		snprintf(detail, cap, "SIGHUP sent to the parent (pid %d) for egress", (int)pid);
		return 0;
	}
	if (s->reload == RELOAD_PIDFILE) {
		struct buf b = BUF_INIT(64);
		struct bb_err e;
		uint64_t v;
		if (fd_read_file(s->pid_file, 64, &b, &e) < 0) {
			snprintf(detail, cap, "cannot read %s: %.200s", s->pid_file, e.msg);
			buf_free(&b);
			return -1;
		}
		if (sv_to_u64(sv_trim(sv_of(b.p, strcspn(b.p, "\r\n"))), 4194304, &v, &e) < 0 || v < 2) {
			snprintf(detail, cap, "%s does not hold a process id", s->pid_file);
			buf_free(&b);
			return -1;
		}
		buf_free(&b);
		pid = (pid_t)v;
		if (kill(pid, SIGHUP) < 0) {
			snprintf(detail, cap, "SIGHUP to egress (pid %d from %s) failed: %s", (int)pid, s->pid_file,
				 strerror(errno));
			return -1;
		}
		snprintf(detail, cap, "SIGHUP sent to egress (pid %d)", (int)pid);
		return 0;
	}
	snprintf(detail, cap, "no reload target (--egress-pid-file or --reload-parent): egress applies it at its next SIGHUP");
	return 1;
}

/* Whether an approved proposal of this tool changes the policy (and so waits for supervise to apply it). */
static int policy_tool(const char *tool)
{
	return !strcmp(tool, PROPOSAL_TOOL_EGRESS) || !strcmp(tool, PROPOSAL_TOOL_CRED) || !strcmp(tool, PROPOSAL_TOOL_DLP);
}

/* Merge an approved egress-block, cred-block or dlp-block into the policy file, reload egress, stamp the proposal. */
static void apply_policy(struct sup *s, const cJSON *doc)
{
	const char *id = proposal_get(doc, "id");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(doc, "request");
	struct buf raw = BUF_INIT(POLICY_MAX_BYTES), out = BUF_INIT(POLICY_MAX_BYTES);
	struct bb_err e;
	struct stat st;
	cJSON *plan = NULL;
	char what[700], reload[300], detail[1100];
	int changed, ok = 0, rr;

	if (fd_read_file(s->policy_path, POLICY_MAX_BYTES, &raw, &e) < 0 ||
	    !(plan = json_parse(s->policy_path, raw.p, raw.len, &e))) {
		snprintf(detail, sizeof detail, "cannot read the policy: %.900s", e.msg);
		goto done;
	}
	changed = proposal_policy_apply(plan, doc, what, sizeof what, &e);
	if (changed < 0) {
		snprintf(detail, sizeof detail, "the merged policy was refused: %.900s", e.msg);
		goto done;
	}
	if (!changed) {
		snprintf(detail, sizeof detail, "%s", what);
		ok = 1;
		goto done;
	}
	if (stat(s->policy_path, &st) < 0)
		st.st_mode = 0600;
	if (json_print(plan, &out, &e) < 0 || buf_append_byte(&out, '\n', &e) < 0 ||
	    fd_write_file_atomic(s->policy_path, out.p, out.len, st.st_mode & 07777, &e) < 0) {
		snprintf(detail, sizeof detail, "cannot write the policy: %.900s", e.msg);
		goto done;
	}
	rr = reload_egress(s, reload, sizeof reload);
	ok = rr >= 0;
	snprintf(detail, sizeof detail, "%s; %s", what, reload);
	log_event(rr == 0 ? LOG_INFO : LOG_WARN, "reload-egress", "id", id, "result",
		  rr == 0 ? "signalled" : rr > 0 ? "skipped" : "failed", "detail", reload, (char *)NULL);
	if (rr == 0 && s->loaded_path && s->napplying < SV_APPLY_WAIT_MAX && stat(s->policy_path, &st) == 0) {
		/* Stamped when egress says it loaded this file (apply_timer_cb), not before. */
		struct sv_apply_wait *w = &s->applying[s->napplying++];
		snprintf(w->id, sizeof w->id, "%s", id);
		snprintf(w->detail, sizeof w->detail, "%s", detail);
		w->ino = (unsigned long long)st.st_ino;
		w->mtime_s = (long long)st.st_mtim.tv_sec;
		w->mtime_ns = (long long)st.st_mtim.tv_nsec;
		w->until_ms = loop_now(&s->loop) + SV_APPLY_WAIT_MS;
		if (!loop_timer_armed(&s->apply_timer))
			loop_timer_set(&s->loop, &s->apply_timer, 20, NULL);
		goto out;
	}
done:
	log_event(ok ? LOG_INFO : LOG_ERROR, "apply", "id", id, "tool", proposal_get(doc, "tool"), "host",
		  proposal_get(req, "host"), "result", ok ? "ok" : "error", "detail", detail, (char *)NULL);
	if (proposal_mark_applied(s->queue_dir, id, ok, detail, time(NULL), &e) < 0)
		log_event(LOG_ERROR, "apply", "id", id, "error", e.msg, (char *)NULL);
out:
	cJSON_Delete(plan);
	buf_free(&raw);
	buf_free(&out);
}

static int applying(const struct sup *s, const char *id)
{
	size_t i;
	for (i = 0; i < s->napplying; i++)
		if (!strcmp(s->applying[i].id, id))
			return 1;
	return 0;
}

/* What egress's --loaded file says it holds: "INODE MTIME_S MTIME_NS". 0, or -1 (none yet, or not that). */
static int read_loaded(const char *path, unsigned long long *ino, long long *ms, long long *mns)
{
	struct buf b = BUF_INIT(128);
	struct bb_err e;
	char *p, *end;
	int rc = -1;
	if (fd_read_file(path, 128, &b, &e) < 0 || !b.p)
		goto done;
	p = b.p;
	errno = 0;
	*ino = strtoull(p, &end, 10);
	if (end == p || *end != ' ')
		goto done;
	p = end + 1;
	*ms = strtoll(p, &end, 10);
	if (end == p || *end != ' ')
		goto done;
	p = end + 1;
	*mns = strtoll(p, &end, 10);
	if (end == p || (*end != '\n' && *end) || errno)
		goto done;
	rc = 0;
done:
	buf_free(&b);
	return rc;
}

/* The approvals waiting for egress: stamped applied once it loaded their policy file (or a newer one), or as errors after SV_APPLY_WAIT_MS. */
static void apply_timer_cb(struct loop *l, struct loop_timer *t)
{
	struct sup *s = t->arg;
	char done_ids[SV_APPLY_WAIT_MAX][PROPOSAL_ID_MAX];
	unsigned long long ino = 0;
	long long ms = 0, mns = 0;
	size_t i = 0, ndone = 0;
	int have = read_loaded(s->loaded_path, &ino, &ms, &mns) == 0;
	uint64_t now = loop_now(l);

	while (i < s->napplying) {
		struct sv_apply_wait *w = &s->applying[i];
		int loaded = have && (ino == w->ino || ms > w->mtime_s || (ms == w->mtime_s && mns > w->mtime_ns));
		if (loaded || now >= w->until_ms) {
			char detail[1200];
			struct bb_err e;
			if (loaded)
				snprintf(detail, sizeof detail, "%s; egress loaded it", w->detail);
			else
				snprintf(detail, sizeof detail, "%s; egress has not loaded it within %d s (its log says why)",
					 w->detail, SV_APPLY_WAIT_MS / 1000);
			log_event(loaded ? LOG_INFO : LOG_ERROR, "apply", "id", w->id, "result", loaded ? "ok" : "error",
				  "detail", detail, (char *)NULL);
			if (proposal_mark_applied(s->queue_dir, w->id, loaded, detail, time(NULL), &e) < 0)
				log_event(LOG_ERROR, "apply", "id", w->id, "error", e.msg, (char *)NULL);
			snprintf(done_ids[ndone++], PROPOSAL_ID_MAX, "%s", w->id);
			s->applying[i] = s->applying[--s->napplying];
			continue;
		}
		i++;
	}
	if (s->napplying)
		loop_timer_set(l, &s->apply_timer, 20, NULL);
	for (i = 0; i < ndone; i++) /* the waiting calls get their answer now */
		sv_proposal_event(s, done_ids[i]);
}

void sv_proposal_event(struct sup *s, const char *id)
{
	struct bb_err e;
	struct sconn *c;
	cJSON *doc;
	const char *status;

	if (proposal_read(s->queue_dir, id, &doc, &e) < 0) {
		if (e.code != ENOENT)
			log_event(LOG_WARN, "queue", "id", id, "error", e.msg, (char *)NULL);
		return;
	}
	status = proposal_get(doc, "status");
	if (!strcmp(status, "pending")) {
		cJSON_Delete(doc);
		return;
	}
	if (!seen(s, id)) {
		mark_seen(s, id);
		log_event(LOG_INFO, "decision", "id", id, "tool", proposal_get(doc, "tool"), "status", status, "note",
			  proposal_get(doc, "note"), "decided_at", proposal_get(doc, "decided_at"), (char *)NULL);
	}
	if (!strcmp(status, "approved") && policy_tool(proposal_get(doc, "tool")) &&
	    !cJSON_GetObjectItemCaseSensitive(doc, "applied")) {
		if (!applying(s, id))
			apply_policy(s, doc);
		cJSON_Delete(doc);
		if (applying(s, id)) /* egress has not loaded it yet: the waiting calls are answered then */
			return;
		if (proposal_read(s->queue_dir, id, &doc, &e) < 0) {
			log_event(LOG_WARN, "queue", "id", id, "error", e.msg, (char *)NULL);
			return;
		}
	}
again: /* answering may run a pipelined request that closes other connections: restart the walk each time */
	for (c = s->conns; c; c = c->next) {
		if (c->state == SC_WAIT && !strcmp(c->wait_id, id)) {
			sv_answer(c, doc);
			goto again;
		}
	}
	cJSON_Delete(doc);
}

/* Every proposal approved but not applied (decided while supervise was down, or events lost). */
static void scan_queue(struct sup *s, int quiet)
{
	struct proposal_list l;
	struct bb_err e;
	struct sconn *c;
	size_t i;
	if (proposal_list_read(s->queue_dir, &l, &e) < 0) {
		log_event(LOG_WARN, "queue", "error", e.msg, (char *)NULL);
		return;
	}
	for (i = 0; i < l.n; i++) {
		const char *id = proposal_get(l.docs[i], "id");
		if (!strcmp(proposal_get(l.docs[i], "status"), "pending"))
			continue;
		if (quiet && !seen(s, id) && cJSON_GetObjectItemCaseSensitive(l.docs[i], "applied"))
			mark_seen(s, id); /* settled before this start: not news */
		if (!strcmp(proposal_get(l.docs[i], "status"), "approved") && policy_tool(proposal_get(l.docs[i], "tool")) &&
		    !cJSON_GetObjectItemCaseSensitive(l.docs[i], "applied"))
			sv_proposal_event(s, id);
	}
	proposal_list_free(&l);
again:
	for (c = s->conns; c; c = c->next) {
		if (c->state == SC_WAIT) {
			char id[PROPOSAL_ID_MAX];
			cJSON *doc;
			int decided;
			if (proposal_read(s->queue_dir, c->wait_id, &doc, NULL) < 0)
				continue;
			decided = strcmp(proposal_get(doc, "status"), "pending") != 0;
			cJSON_Delete(doc);
			if (decided) {
				snprintf(id, sizeof id, "%s", c->wait_id);
				sv_proposal_event(s, id);
				goto again;
			}
		}
	}
}

static void inotify_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct sup *s = io->arg;
	char b[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	(void)l;
	(void)ev;
	for (;;) {
		ssize_t n = read(s->ifd, b, sizeof b), off = 0;
		if (n <= 0)
			return;
		while (off < n) {
			const struct inotify_event *ie = (const struct inotify_event *)(b + off);
			size_t len = ie->len ? strlen(ie->name) : 0;
			off += (ssize_t)(sizeof *ie + ie->len);
			if (ie->mask & IN_Q_OVERFLOW) {
				scan_queue(s, 0);
				continue;
			}
			if (len > 5 && !strcmp(ie->name + len - 5, ".json") && proposal_id_valid(ie->name, len - 5)) {
				char id[PROPOSAL_ID_MAX];
				memcpy(id, ie->name, len - 5);
				id[len - 5] = 0;
				sv_proposal_event(s, id);
			}
		}
	}
}

static void poll_cb(struct loop *l, struct loop_timer *t)
{
	struct sup *s = t->arg;
	scan_queue(s, 0);
	loop_timer_set(l, &s->poll_timer, 1000, NULL);
}

/* ---- the daemon ------------------------------------------------------------------------------- */

static void accept_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct sup *s = io->arg;
	int i;
	(void)l;
	(void)ev;
	for (i = 0; i < 64; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_event(LOG_WARN, "limit", "what", "file descriptors", (char *)NULL);
			return;
		}
		sv_accept(s, fd);
	}
}

static void stop(struct sup *s, const char *sig)
{
	struct sconn *c;
	log_event(LOG_INFO, "stop", "signal", sig, (char *)NULL);
	s->stopping = 1;
	loop_io_del(&s->loop, &s->lio);
	close(s->lfd);
	s->lfd = -1;
again: /* waiting calls get their pending answer now, so the agent keeps the ids */
	for (c = s->conns; c; c = c->next) {
		if (c->state == SC_WAIT) {
			c->close_after = 1;
			sv_answer(c, NULL);
			goto again;
		}
		if (c->state == SC_READ && !c->in.len) {
			sv_conn_close(c);
			goto again;
		}
	}
	loop_stop(&s->loop);
}

static void signal_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct sup *s = io->arg;
	struct signalfd_siginfo si;
	(void)l;
	(void)ev;
	while (read(s->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP)
			log_event(LOG_INFO, "reload", "note", "nothing to reload: the policy is read on each call", (char *)NULL);
		else if (!s->stopping)
			stop(s, si.ssi_signo == SIGINT ? "INT" : "TERM");
	}
}

/* "30", "0.5": a positive number of seconds. */
static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > SV_TIMEOUT_MAX_S)
		return -1;
	*out = v;
	return 0;
}

/* The parent is the sidecar's init when it is PID 1 running this same executable. */
static int parent_is_our_init(void)
{
	char a[PATH_MAX], b[PATH_MAX];
	ssize_t n, m;
	if (getppid() != 1)
		return 0;
	n = readlink("/proc/1/exe", a, sizeof a - 1);
	m = readlink("/proc/self/exe", b, sizeof b - 1);
	if (n <= 0 || m <= 0)
		return 0;
	return n == m && !memcmp(a, b, (size_t)n);
}

/* mkdir -p with mode 0700 for what is created. */
static int mkdir_p(const char *dir, struct bb_err *e)
{
	char p[PATH_MAX];
	size_t i, n = strlen(dir);
	if (n == 0 || n >= sizeof p)
		return bb_errf(e, BB_EINVAL, "bad queue directory '%s'", dir);
	memcpy(p, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != 0)
			continue;
		p[i] = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return bb_errno(e, errno, "%s", p);
		p[i] = dir[i];
	}
	return 0;
}

/* The policy must parse as egress would take it; the bottle name comes from it unless given (bottle[0]). */
static int load_policy(struct sup *s, char *bottle, size_t cap, struct bb_err *e)
{
	struct planfile pf;
	struct route_policy *pol = NULL;
	const char *name;

	if (planfile_load(&pf, s->policy_path, e) < 0)
		return -1;
	if (route_policy_from_plan(&pf, &pol, e) < 0) {
		planfile_free(&pf);
		return -1;
	}
	route_policy_unref(pol);
	name = planfile_bottle_name(&pf);
	if (!bottle[0] && name)
		snprintf(bottle, cap, "%s", name);
	planfile_free(&pf);
	return 0;
}

int supervise_main(int argc, char **argv)
{
	struct sup *s = &SUP;
	struct opt o;
	struct bb_err e;
	const char *listen_spec = "0.0.0.0:9100", *logpath = "-", *env, *listen_fd = NULL;
	char bottle[128] = "", tbuf[32], mc[24];
	int c, code, have_timeout = 0, explicit_reload = 0;

	memset(s, 0, sizeof *s);
	s->lfd = s->sfd = s->ifd = -1;
	s->timeout_s = SV_DEFAULT_TIMEOUT_S;
	s->max_conns = 256;
	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv,
			       "h(help)p:(policy)q:(queue)l:(listen)L:(log)b:(bottle)t:(response-timeout)"
			       "P:(egress-pid-file)R(reload-parent)m:(max-conns)F:(listen-fd)A:(egress-loaded)",
			       usage, &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 'p': s->policy_path = o.arg; break;
		case 'q': s->queue_dir = o.arg; break;
		case 'l': listen_spec = o.arg; break;
		case 'F': listen_fd = o.arg; break;
		case 'A': s->loaded_path = o.arg; break;
		case 'L': logpath = o.arg; break;
		case 'b': snprintf(bottle, sizeof bottle, "%s", o.arg); break;
		case 't':
			if (parse_seconds(o.arg, &s->timeout_s) < 0)
				return applet_usage_error(usage, "--response-timeout %s: want a positive number of seconds",
							  o.arg);
			have_timeout = 1;
			break;
		case 'P':
			s->reload = RELOAD_PIDFILE;
			s->pid_file = o.arg;
			explicit_reload++;
			break;
		case 'R':
			s->reload = RELOAD_PARENT;
			explicit_reload++;
			break;
		case 'm': {
			uint64_t v;
			if (sv_to_u64(sv_from(o.arg), 100000, &v, &e) < 0 || v == 0)
				return applet_usage_error(usage, "--max-conns %s: want a positive number", o.arg);
			s->max_conns = v;
			break;
		}
		default:
			return applet_usage_error(usage, "unexpected option");
		}
	}
	if (!s->policy_path)
		return applet_usage_error(usage, "--policy FILE is required");
	if (o.ind < argc)
		return applet_usage_error(usage, "unexpected argument '%s'", argv[o.ind]);
	if (explicit_reload > 1)
		return applet_usage_error(usage, "--egress-pid-file and --reload-parent exclude each other");
	env = getenv("BB_SUPERVISE_RESPONSE_TIMEOUT_SECONDS");
	if (!have_timeout && env && *env && parse_seconds(env, &s->timeout_s) < 0)
		return applet_usage_error(usage, "BB_SUPERVISE_RESPONSE_TIMEOUT_SECONDS=%s: want a positive number of seconds",
					  env);
	if (!s->queue_dir) {
		env = getenv("BB_SUPERVISE_QUEUE_DIR");
		s->queue_dir = env && *env ? env : "/run/bb/supervise";
	}
	if (!explicit_reload && parent_is_our_init())
		s->reload = RELOAD_PARENT;
	if (log_open("supervise", logpath, LOG_INFO, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	if (load_policy(s, bottle, sizeof bottle, &e) < 0)
		goto fail;
	s->bottle = bottle;
	if (mkdir_p(s->queue_dir, &e) < 0 || sv_tools_build(s) < 0)
		goto fail;

	s->sfd = daemon_signalfd(&e);
	if (s->sfd < 0 || loop_init(&s->loop, &e) < 0)
		goto fail;
	loop_timer_init(&s->apply_timer, apply_timer_cb, s);
	s->lfd = listen_fd ? listenfd_take(listen_fd, SOCK_STREAM, &e) : daemon_listen_tcp(listen_spec, 256, &e);
	if (s->lfd < 0)
		goto fail;
	if (loop_io_add(&s->loop, &s->lio, s->lfd, EPOLLIN, accept_cb, s, &e) < 0 ||
	    loop_io_add(&s->loop, &s->sio, s->sfd, EPOLLIN, signal_cb, s, &e) < 0)
		goto fail;
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ifd >= 0 && inotify_add_watch(s->ifd, s->queue_dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
		close(s->ifd);
		s->ifd = -1;
	}
	if (s->ifd >= 0) {
		if (loop_io_add(&s->loop, &s->iio, s->ifd, EPOLLIN, inotify_cb, s, &e) < 0)
			goto fail;
	} else {
		log_event(LOG_WARN, "queue", "dir", s->queue_dir, "note", "inotify unavailable: polling every second",
			  (char *)NULL);
		loop_timer_init(&s->poll_timer, poll_cb, s);
		loop_timer_set(&s->loop, &s->poll_timer, 1000, NULL);
	}
	snprintf(tbuf, sizeof tbuf, "%g", s->timeout_s);
	snprintf(mc, sizeof mc, "%zu", s->max_conns);
	log_event(LOG_INFO, "start", "listen", listen_spec, "queue", s->queue_dir, "bottle", s->bottle, "timeout_s", tbuf,
		  "reload", s->reload == RELOAD_PARENT ? "parent" : s->reload == RELOAD_PIDFILE ? s->pid_file : "none",
		  "protocol", sv_versions[0], "max_conns", mc, (char *)NULL);
	scan_queue(s, 1);
	if (loop_run(&s->loop, &e) < 0 && !s->stopping)
		goto fail;
	if (s->stopping) { /* let the answers drain, briefly */
		uint64_t until = loop_now(&s->loop) + 3000;
		while (s->conns && loop_now(&s->loop) < until)
			loop_run_once(&s->loop, 100, NULL);
	}
	sv_close_all(s);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->ifd >= 0)
		close(s->ifd);
	close(s->sfd);
	loop_fini(&s->loop);
	cJSON_free(s->tools_result);
	return 0;
fail:
	err_printf("%s", e.msg);
	return e.code == BB_EINVAL ? BB_EXIT_FAIL : BB_EXIT_SYSTEM;
}
