/* gitgate_daemon.c - the daemon bb git-gate and bb git-http both are: options, the policy and its scan engines, a forking listener, signals. */
#include "gitgate_daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "daemon.h"
#include "fd.h"
#include "gitgate_scan.h"
#include "gitssh.h"
#include "log.h"
#include "loop.h"
#include "opt.h"
#include "pktline.h"

#define DRAIN_MS 30000
#define CHILDREN_MAX 1024
#define GGD_SPEC "h(help)p:(policy)m:(mirrors)k:(keys)r:(rules)R:(repo-rules)t:(timeout)T:(pack-timeout)c:(max-connections)P:(max-pack)L:(log)l:(listen)D:(dialer)"

void ggd_opts_init(struct ggd_opts *o, const char *prog, const char *default_listen, int with_max_body)
{
	memset(o, 0, sizeof *o);
	o->prog = prog;
	o->default_listen = default_listen;
	o->log_path = "-";
	o->timeout_s = 15;
	o->pack_timeout_s = 300;
	o->max_conns = 32;
	o->max_pack = 2ULL << 30;
	o->max_body = 1 << 20;
	o->with_max_body = with_max_body;
}

static int num(const char *arg, uint64_t max, uint64_t *out, const char *what, struct bb_err *e)
{
	if (sv_to_u64(sv_from(arg), max, out, NULL) < 0 || *out == 0)
		return bb_errf(e, BB_EINVAL, "--%s: '%s' is not a number from 1 to %llu", what, arg, (unsigned long long)max);
	return 0;
}

/* One option opt_next returned: 1 when it was one of ours, 0 when not, -1 with e for a bad value. */
static int ggd_opt(struct ggd_opts *o, int c, const char *arg, struct bb_err *e)
{
	uint64_t v;

	switch (c) {
	case 'p': o->policy_path = arg; return 1;
	case 'm': o->mirrors_dir = arg; return 1;
	case 'k': o->keys_dir = arg; return 1;
	case 'r': o->rules_path = arg; return 1;
	case 'R': o->repo_rules_dir = arg; return 1;
	case 'L': o->log_path = arg; return 1;
	case 'D': o->dialer = arg; return 1;
	case 'l':
		if (o->nlisten == GGD_LISTEN_MAX)
			return bb_errf(e, BB_EINVAL, "--listen: at most %d addresses", GGD_LISTEN_MAX);
		o->listen[o->nlisten++] = arg;
		return 1;
	case 't':
		if (num(arg, 86400, &v, "timeout", e) < 0)
			return -1;
		o->timeout_s = (int)v;
		return 1;
	case 'T':
		if (num(arg, 86400, &v, "pack-timeout", e) < 0)
			return -1;
		o->pack_timeout_s = (int)v;
		return 1;
	case 'c':
		if (num(arg, CHILDREN_MAX, &v, "max-connections", e) < 0)
			return -1;
		o->max_conns = (int)v;
		return 1;
	case 'P':
		if (num(arg, UINT64_MAX / 2, &v, "max-pack", e) < 0)
			return -1;
		o->max_pack = v;
		return 1;
	case 'b':
		if (!o->with_max_body)
			return 0;
		if (sv_to_u64(sv_from(arg), UINT64_MAX / 2, &v, NULL) < 0 || v == 0)
			return bb_errf(e, BB_EINVAL, "--max-body: '%s' is not a positive number", arg);
		o->max_body = v;
		return 1;
	}
	return 0;
}

int ggd_args(struct ggd_opts *o, int argc, char **argv, struct bb_err *e)
{
	struct opt op;
	int c, r;

	opt_init(&op);
	while ((c = opt_next(&op, argc, argv, o->with_max_body ? GGD_SPEC "b:(max-body)" : GGD_SPEC)) != -1) {
		if (c == 'h')
			return GGD_ARGS_HELP;
		if (c == '?') {
			bb_errf(e, BB_EINVAL, "%s", op.err);
			return GGD_ARGS_USAGE;
		}
		if ((r = ggd_opt(o, c, op.arg, e)) <= 0) {
			if (r == 0)
				bb_errf(e, BB_EINVAL, "unexpected option");
			return GGD_ARGS_USAGE;
		}
	}
	if (op.ind < argc) {
		bb_errf(e, BB_EINVAL, "unexpected argument '%s'", argv[op.ind]);
		return GGD_ARGS_USAGE;
	}
	if (!o->policy_path || !o->mirrors_dir) {
		bb_errf(e, BB_EINVAL, "--policy and --mirrors are required");
		return GGD_ARGS_USAGE;
	}
	return GGD_ARGS_RUN;
}

/* The policy and one scan engine per repo (built-in rules, --rules, then --repo-rules DIR/NAME.yml). */
static int load_policy(const struct ggd_opts *o, struct gitgate_policy *p, struct bb_err *e)
{
	size_t i;

	if (gitgate_policy_load(o->policy_path, o->keys_dir, getenv("HOME"), p, e) < 0)
		return -1;
	for (i = 0; i < p->nrepos; i++) {
		struct gitgate_repo *r = &p->repos[i];
		char repo_rules[PATH_MAX];
		const char *rr = NULL;

		if (o->repo_rules_dir) {
			snprintf(repo_rules, sizeof repo_rules, "%s/%s.yml", o->repo_rules_dir, r->name);
			if (access(repo_rules, F_OK) == 0)
				rr = repo_rules;
		}
		if (gitgate_scan_engine_build(o->rules_path, rr, &r->scan, e) < 0) {
			bb_err_wrap(e, "repo '%s' scan rules", r->name);
			gitgate_policy_free(p);
			return -1;
		}
	}
	return 0;
}

static void log_policy(const struct gitgate_policy *p, const char *event)
{
	size_t i;
	char n[24];

	snprintf(n, sizeof n, "%zu", p->nrepos);
	log_event(LOG_INFO, event, "repos", n, (char *)NULL);
	for (i = 0; i < p->nrepos; i++)
		if (p->repos[i].unusable[0])
			log_event(LOG_WARN, "repo-unusable", "repo", p->repos[i].name, "reason", p->repos[i].unusable,
				  (char *)NULL);
}

static void peer_name(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char a[INET6_ADDRSTRLEN] = "?";

	snprintf(out, cap, "?");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof a);
		snprintf(out, cap, "%s:%u", a, ntohs(((struct sockaddr_in *)&ss)->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof a);
		snprintf(out, cap, "[%s]:%u", a, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	}
}

/* The library's events into the log: warnings for refusals and failures. */
static void log_cb(void *arg, const char *event, const char *const *kv)
{
	const char *a[32];
	size_t i;
	enum log_level lvl = LOG_INFO;

	(void)arg;
	for (i = 0; i < 32; i++)
		a[i] = NULL;
	for (i = 0; i + 1 < 32 && kv[i]; i++)
		a[i] = kv[i];
	a[i & ~(size_t)1] = NULL; /* keep key/value pairs whole */
	if (strstr(event, "fail") || !strcmp(event, "push-rejected") || !strcmp(event, "secret-found"))
		lvl = LOG_WARN;
	log_event(lvl, event, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13],
		  a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21], a[22], a[23], a[24], a[25], a[26], a[27], a[28],
		  a[29], (char *)NULL);
}

struct daemon {
	const struct ggd_opts *o;
	ggd_serve_fn serve;
	struct gitgate_policy policy;
	struct loop loop;
	struct loop_io lio[GGD_LISTEN_MAX];
	int lfd[GGD_LISTEN_MAX];
	size_t nl;
	struct loop_io sio;
	int sfd;
	pid_t children[CHILDREN_MAX];
	int nchildren;
	int stopping;
	int in_child;                 /* this process is a connection's child, unwinding to the applet's return */
	int child_rc;
};

static void reap(struct daemon *d)
{
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (i = 0; i < d->nchildren; i++)
			if (d->children[i] == pid) {
				d->children[i] = d->children[--d->nchildren];
				break;
			}
}

static void close_listeners(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nl; i++)
		if (d->lfd[i] >= 0) {
			loop_io_del(&d->loop, &d->lio[i]);
			d->lfd[i] = fd_close(d->lfd[i]);
		}
}

/*
 * In the child: close the daemon's descriptors, serve fd, and return its
 * exit status (ggd_run hands it to the applet, whose return ends the child).
 */
static int child(struct daemon *d, int fd)
{
	struct gitgate_server srv;
	struct bb_err e = { 0 };
	sigset_t all;
	char peer[80];
	size_t i;
	int rc;

	for (i = 0; i < d->nl; i++)
		d->lfd[i] = fd_close(d->lfd[i]);
	d->sfd = fd_close(d->sfd);
	d->loop.epfd = fd_close(d->loop.epfd);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	peer_name(fd, peer, sizeof peer);
	git_libgit2_init();
	if (d->o->dialer && gitssh_dialer_set(d->o->dialer, &e) < 0) {
		log_event(LOG_ERROR, "dialer-failed", "error", e.msg, (char *)NULL);
		close(fd);
		git_libgit2_shutdown();
		return 1;
	}
	memset(&srv, 0, sizeof srv);
	srv.policy = &d->policy;
	srv.mirrors_dir = d->o->mirrors_dir;
	srv.upstream.connect_ms = 10000;
	srv.upstream.io_ms = 120000;
	srv.max_pack_bytes = d->o->max_pack;
	srv.lock_timeout_ms = 600000;
	srv.timeout_ms = d->o->timeout_s * 1000;
	srv.pack_timeout_ms = d->o->pack_timeout_s * 1000;
	srv.agent = "bb-git-gate/" BB_VERSION;
	srv.peer = peer;
	srv.log = log_cb;
	rc = d->serve(&srv, fd, d->o, &e);
	if (rc != 0 && e.msg[0])
		log_event(LOG_WARN, "connection-failed", "peer", peer, "error", e.msg, (char *)NULL);
	close(fd);
	git_libgit2_shutdown();
	/* returned, not _exit: the sanitizer build checks the child for leaks too (the parent's stdio holds nothing). */
	return rc == 0 ? 0 : 1;
}

static void accept_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct daemon *d = io->arg;
	int lfd = io->fd;

	(void)ev;
	if (d->in_child)
		return; /* the rest of the parent's batch of events is not the child's */
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		pid_t pid;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_event(LOG_WARN, "limit", "what", "file descriptors", (char *)NULL);
			return;
		}
		reap(d);
		if (d->nchildren >= d->o->max_conns) {
			static const char msg[] = "ERR bb git-gate: too many connections, try again\n";
			char peer[80], busy[128];
			size_t bn = pkt_format(busy, sizeof busy, msg, sizeof msg - 1);

			peer_name(fd, peer, sizeof peer);
			log_event(LOG_WARN, "limit", "what", "connections", "peer", peer, (char *)NULL);
			if (write(fd, busy, bn) < 0) {
				/* nothing more to tell a client that cannot be written to */
			}
			close(fd);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			d->child_rc = child(d, fd);
			d->in_child = 1;
			loop_stop(l);
			return;
		}
		if (pid < 0)
			log_event(LOG_ERROR, "fork-failed", "error", strerror(errno), (char *)NULL);
		else
			d->children[d->nchildren++] = pid;
		close(fd);
	}
}

static void reload(struct daemon *d)
{
	struct gitgate_policy np;
	struct bb_err e = { 0 };

	if (load_policy(d->o, &np, &e) < 0) {
		log_event(LOG_ERROR, "reload-refused", "error", e.msg, (char *)NULL);
		return;
	}
	gitgate_policy_free(&d->policy);
	d->policy = np;
	log_policy(&d->policy, "reload");
}

static void signal_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct daemon *d = io->arg;
	struct signalfd_siginfo si;

	(void)ev;
	if (d->in_child)
		return;
	while (read(d->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			reap(d);
		} else if (si.ssi_signo == SIGHUP) {
			reload(d);
		} else {
			log_event(LOG_INFO, "stop", "signal", si.ssi_signo == SIGINT ? "INT" : "TERM", (char *)NULL);
			d->stopping = 1;
			loop_stop(l);
		}
	}
}

/* Stop: no new connections; the ones in progress get DRAIN_MS to finish. */
static void drain(struct daemon *d)
{
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	int waited, i;

	close_listeners(d);
	for (waited = 0; d->nchildren > 0 && waited < DRAIN_MS; waited += 50) {
		reap(d);
		if (d->nchildren)
			nanosleep(&nap, NULL);
	}
	for (i = 0; i < d->nchildren; i++)
		kill(d->children[i], SIGKILL);
	while (d->nchildren > 0 && waitpid(-1, NULL, 0) > 0)
		reap(d);
}

int ggd_run(const struct ggd_opts *o, ggd_serve_fn serve, struct bb_err *e)
{
	static struct daemon d;
	struct bb_err le = { 0 };
	sigset_t ss;
	size_t i;
	int code = BB_EXIT_SYSTEM;
	char n[24];

	memset(&d, 0, sizeof d);
	d.o = o;
	d.serve = serve;
	d.sfd = -1;
	if (log_open(o->prog, o->log_path, LOG_INFO, e) < 0)
		return BB_EXIT_SYSTEM;
	if (load_policy(o, &d.policy, e) < 0)
		return BB_EXIT_USAGE;
	if (mkdir(o->mirrors_dir, 0700) < 0 && errno != EEXIST) {
		bb_errno(e, errno, "cannot make %s", o->mirrors_dir);
		goto out;
	}
	/*
	 * libgit2's private home is made under $TMPDIR or /tmp. In a bottle's
	 * sidecar the filesystem is read-only but for the state directory, which
	 * holds the mirrors: make it there then.
	 */
	if ((!getenv("TMPDIR") || !*getenv("TMPDIR")) && access("/tmp", W_OK) < 0) {
		char tmp[PATH_MAX];
		snprintf(tmp, sizeof tmp, "%s/.tmp", o->mirrors_dir);
		if ((mkdir(tmp, 0700) < 0 && errno != EEXIST) || setenv("TMPDIR", tmp, 1) < 0) {
			bb_errno(e, errno, "cannot make %s", tmp);
			goto out;
		}
	}
	if (loop_init(&d.loop, e) < 0)
		goto out;
	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d.sfd < 0 || loop_io_add(&d.loop, &d.sio, d.sfd, EPOLLIN, signal_cb, &d, &le) < 0) {
		if (d.sfd < 0)
			bb_errno(e, errno, "signalfd");
		else
			bb_errf(e, le.code, "signalfd: %s", le.msg);
		goto out_loop;
	}
	for (i = 0; i < (o->nlisten ? o->nlisten : 1); i++) {
		const char *spec = o->nlisten ? o->listen[i] : o->default_listen;

		d.lfd[i] = daemon_listen_tcp(spec, 128, e);
		if (d.lfd[i] < 0) {
			code = e->code == BB_EINVAL ? BB_EXIT_USAGE : BB_EXIT_SYSTEM;
			goto out_loop;
		}
		d.nl++;
		if (loop_io_add(&d.loop, &d.lio[i], d.lfd[i], EPOLLIN, accept_cb, &d, e) < 0)
			goto out_loop;
		log_event(LOG_INFO, "listen", "addr", spec, (char *)NULL);
	}
	snprintf(n, sizeof n, "%d", o->timeout_s);
	log_event(LOG_INFO, "start", "mirrors", o->mirrors_dir, "timeout_s", n, "dialer", o->dialer ? o->dialer : "",
		  (char *)NULL);
	log_policy(&d.policy, "policy");
	if (loop_run(&d.loop, &le) < 0)
		log_event(LOG_ERROR, "loop-failed", "error", le.msg, (char *)NULL);
	if (d.in_child) {
		code = d.child_rc; /* its descriptors are closed: out_loop skips them */
		goto out_loop;
	}
	drain(&d);
	code = BB_EXIT_OK;
out_loop:
	close_listeners(&d);
	if (d.sfd >= 0) {
		loop_io_del(&d.loop, &d.sio);
		close(d.sfd);
	}
	loop_fini(&d.loop);
out:
	gitgate_policy_free(&d.policy);
	return code;
}
