/* reap.c - the PID 1 loop: one signalfd, every zombie reaped, signals forwarded, restarts with backoff, the stop sequence. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "buf.h"
#include "init.h"
#include "log.h"

static const int forwarded_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static const char *num(char *out, size_t cap, unsigned long long v)
{
	snprintf(out, cap, "%llu", v);
	return out;
}

int init_signals_open(struct init *in, struct bb_err *e)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
		sigaddset(&set, forwarded_signals[i]);
	sigaddset(&set, SIGCHLD);
	/*
	 * Blocked before the first fork, so a signal or a child's death that
	 * comes at any moment from here on waits in the signalfd: no window
	 * where it is lost or handled by a default action.
	 */
	if (sigprocmask(SIG_BLOCK, &set, &in->saved_mask) < 0)
		return bb_errno(e, errno, "sigprocmask");
	in->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (in->sfd < 0)
		return bb_errno(e, errno, "signalfd");
	/* A closed log pipe must not kill init (PID 1 ignores it anyway; a subreaper would not). */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static const char *kid_role(const struct init *in)
{
	return in->mode == INIT_SIDECAR ? "daemon" : "command";
}

/* The child between fork and exec: its own process group (and the terminal, if init had it), init's signal state undone. */
static void __attribute__((noreturn)) kid_exec(struct init *in, struct init_kid *k)
{
	size_t i;
	int err;

	setpgid(0, 0);
	if (in->tty_handover) {
		sigset_t ttou;

		/* A background group may only take the terminal with SIGTTOU blocked. */
		sigemptyset(&ttou);
		sigaddset(&ttou, SIGTTOU);
		sigprocmask(SIG_BLOCK, &ttou, NULL);
		tcsetpgrp(STDIN_FILENO, getpid());
	}
	/*
	 * Ignored dispositions survive exec, and a shell cannot trap a signal
	 * it was started with ignored (a background job's SIGINT and SIGQUIT):
	 * the forwarded signals would then mean nothing to the command.
	 */
	for (i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
		signal(forwarded_signals[i], SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &in->saved_mask, NULL);
	if (k->exec_path)
		execv(k->exec_path, k->argv);
	else
		execvp(k->argv[0], k->argv);
	err = errno;
	if (k->exec_path)
		err_printf("cannot run %s (%s): %s", k->name, k->exec_path, strerror(err));
	else
		err_printf("cannot run %s: %s", k->argv[0], strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}

static int kid_spawn(struct init *in, struct init_kid *k)
{
	struct buf line = BUF_INIT(2048);
	char pidtext[24], nth[24];
	pid_t pid;
	size_t i;

	pid = fork();
	if (pid < 0) {
		int err = errno;

		log_event(LOG_ERROR, "start-failed", kid_role(in), k->name, "error", strerror(err), (char *)NULL);
		errno = err;
		return -1;
	}
	if (pid == 0)
		kid_exec(in, k);
	/* Also from this side, so a signal forwarded right now already reaches the group. */
	setpgid(pid, pid);
	k->pid = pid;
	k->started_ms = loop_now(&in->loop);
	k->starts++;
	for (i = 0; k->argv[i]; i++)
		if (buf_printf(&line, NULL, "%s%s", i ? " " : "", k->argv[i]) < 0)
			break;
	log_event(LOG_INFO, "start", kid_role(in), k->name, "pid", num(pidtext, sizeof pidtext, (unsigned long long)pid),
		  "start", num(nth, sizeof nth, k->starts), "argv", line.p ? line.p : "", (char *)NULL);
	buf_free(&line);
	return 0;
}

static void kid_signal(struct init_kid *k, int sig)
{
	if (k->pid <= 0)
		return;
	/* The whole group, so a shell's children hear it too; the pid alone if the kid left its group. */
	if (kill(-k->pid, sig) < 0)
		kill(k->pid, sig);
}

static int kids_running(const struct init *in)
{
	size_t i;

	for (i = 0; i < in->nkids; i++)
		if (in->kids[i].pid > 0)
			return 1;
	return 0;
}

static int restarts_pending(const struct init *in)
{
	size_t i;

	for (i = 0; i < in->nkids; i++)
		if (loop_timer_armed(&in->kids[i].restart))
			return 1;
	return 0;
}

static void begin_stop(struct init *in, int sig, const char *why)
{
	struct bb_err e;
	char ms[24];
	size_t i;

	if (sig && !in->shutdown_sig)
		in->shutdown_sig = sig;
	if (in->draining)
		return;
	in->draining = 1;
	for (i = 0; i < in->nkids; i++)
		loop_timer_cancel(&in->loop, &in->kids[i].restart);
	log_event(LOG_INFO, "stop", "reason", why, "grace_ms", num(ms, sizeof ms, in->grace_ms), (char *)NULL);
	if (!in->killed && loop_timer_set(&in->loop, &in->grace, in->grace_ms, &e) < 0)
		log_event(LOG_ERROR, "stop", "error", e.msg, (char *)NULL);
}

static int termed_has(const struct init *in, pid_t pid)
{
	size_t i;

	for (i = 0; i < in->ntermed; i++)
		if (in->termed[i] == pid)
			return 1;
	return 0;
}

static void termed_forget(struct init *in, pid_t pid)
{
	size_t i;

	for (i = 0; i < in->ntermed; i++) {
		if (in->termed[i] == pid) {
			in->termed[i] = in->termed[--in->ntermed];
			return;
		}
	}
}

/*
 * Processes init did not start (orphans it adopted). As PID 1, kill(-1)
 * reaches everything in the namespace but init. Elsewhere kill(-1) would
 * reach the whole host, so the children are looked up in /proc: each time
 * one dies its own children become ours and are found on the next pass.
 */
static void signal_leftovers(struct init *in, int sig)
{
	pid_t pids[512];
	long n, i;

	if (in->pid1) {
		if (sig == SIGTERM && in->others_termed)
			return; /* once: a process that traps TERM gets it once */
		if (sig == SIGTERM)
			in->others_termed = 1;
		kill(-1, sig);
		return;
	}
	n = proc_children(getpid(), pids, sizeof pids / sizeof pids[0], NULL);
	if (n > (long)(sizeof pids / sizeof pids[0]))
		n = (long)(sizeof pids / sizeof pids[0]);
	for (i = 0; i < n; i++) {
		if (sig == SIGTERM) {
			if (termed_has(in, pids[i]))
				continue;
			if (in->ntermed < INIT_TERMED_MAX)
				in->termed[in->ntermed++] = pids[i];
		}
		kill(pids[i], sig);
	}
}

static void grace_over(struct loop *l, struct loop_timer *t)
{
	struct init *in = t->arg;
	char ms[24];
	size_t i;

	(void)l;
	in->killed = 1;
	log_event(LOG_WARN, "kill", "reason", "grace period over", "grace_ms", num(ms, sizeof ms, in->grace_ms),
		  (char *)NULL);
	for (i = 0; i < in->nkids; i++)
		kid_signal(&in->kids[i], SIGKILL);
	signal_leftovers(in, SIGKILL);
}

static void kid_ended(struct init *in, struct init_kid *k, int code, int sig, uint64_t uptime_ms)
{
	struct bb_err e;
	char pidtext[24], codetext[24], up[24], delay[24], fails[24], maxf[24], stable[24];
	int counted = code;
	int64_t d;

	/* A daemon that died of the very signal init sent to stop it did stop as asked (bot-bottle's rule). */
	if (in->mode == INIT_SIDECAR && sig && sig == in->shutdown_sig)
		counted = 0;
	if (counted > in->worst)
		in->worst = counted;
	num(pidtext, sizeof pidtext, (unsigned long long)k->pid);
	num(codetext, sizeof codetext, (unsigned long long)code);
	num(up, sizeof up, uptime_ms);
	k->pid = 0;
	log_event(counted && !in->draining && in->mode == INIT_SIDECAR ? LOG_WARN : LOG_INFO, "exit", kid_role(in), k->name, "pid", pidtext, "code",
		  codetext, "signal", sig ? proc_signal_name(sig) : "", "uptime_ms", up, (char *)NULL);
	if (in->mode != INIT_SIDECAR || in->draining)
		return;
	d = proc_backoff_after_exit(&in->backoff, &k->backoff, uptime_ms);
	num(fails, sizeof fails, k->backoff.failures);
	if (d < 0) {
		char msg[200];

		k->gave_up = 1;
		snprintf(msg, sizeof msg,
			 "%s ended %u times in a row, each run shorter than %llu ms: not restarting it (the other "
			 "daemons keep running); its own messages say why",
			 k->name, k->backoff.failures, (unsigned long long)in->backoff.stable_ms);
		log_event(LOG_ERROR, "give-up", "daemon", k->name, "failures", fails, "max_failures",
			  num(maxf, sizeof maxf, in->backoff.max_failures), "stable_ms",
			  num(stable, sizeof stable, in->backoff.stable_ms), "code", codetext, "message", msg,
			  (char *)NULL);
		return;
	}
	log_event(LOG_INFO, "restart", "daemon", k->name, "delay_ms", num(delay, sizeof delay, (unsigned long long)d),
		  "failures", fails, (char *)NULL);
	if (loop_timer_set(&in->loop, &k->restart, (uint64_t)d, &e) < 0) {
		k->gave_up = 1;
		log_event(LOG_ERROR, "give-up", "daemon", k->name, "error", e.msg, (char *)NULL);
	}
}

static void restart_due(struct loop *l, struct loop_timer *t);

/* Reap every child that has exited; 1 if children (started or adopted) remain, 0 if none. */
static int reap_all(struct init *in)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		size_t i;

		if (pid == 0)
			return 1;
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			return 0; /* ECHILD */
		}
		termed_forget(in, pid);
		for (i = 0; i < in->nkids; i++) {
			struct init_kid *k = &in->kids[i];

			if (k->pid == pid) {
				kid_ended(in, k, proc_exit_code(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0,
					  loop_now(&in->loop) - k->started_ms);
				break;
			}
		}
		if (i == in->nkids) {
			char pidtext[24], codetext[24];

			log_event(LOG_DEBUG, "reaped", "pid", num(pidtext, sizeof pidtext, (unsigned long long)pid), "code",
				  num(codetext, sizeof codetext, (unsigned long long)proc_exit_code(st)), (char *)NULL);
		}
	}
}

/* After every event: reap, then decide whether to stop, signal leftovers, or finish. */
static void settle(struct init *in)
{
	int others = reap_all(in);

	if (kids_running(in))
		return;
	if (!in->draining) {
		if (restarts_pending(in))
			return;
		begin_stop(in, 0, in->mode == INIT_SIDECAR ? "no daemon left to supervise" : "command exited");
	}
	if (!others) {
		in->done = 1;
		loop_timer_cancel(&in->loop, &in->grace);
		loop_stop(&in->loop);
		return;
	}
	signal_leftovers(in, in->killed ? SIGKILL : SIGTERM);
}

static void restart_due(struct loop *l, struct loop_timer *t)
{
	struct init_kid *k = t->arg;
	struct init *in = k->in;

	(void)l;
	if (in->draining)
		return;
	if (kid_spawn(in, k) < 0)
		kid_ended(in, k, BB_EXIT_SYSTEM, 0, 0);
	settle(in);
}

static void handle_signal(struct init *in, int sig, pid_t from)
{
	char fromtext[24];
	size_t i;

	num(fromtext, sizeof fromtext, (unsigned long long)from);
	if (in->mode == INIT_SIDECAR && sig == SIGHUP) {
		/* Policy reload is egress's alone: the other daemons would die of a HUP or restart for nothing. */
		for (i = 0; i < in->nkids; i++) {
			if (!strcmp(in->kids[i].name, "egress") && in->kids[i].pid > 0) {
				kid_signal(&in->kids[i], SIGHUP);
				log_event(LOG_INFO, "signal", "signal", "HUP", "from", fromtext, "to", "egress", "meaning",
					  "policy reload", (char *)NULL);
				return;
			}
		}
		log_event(LOG_WARN, "signal", "signal", "HUP", "from", fromtext, "to", "", "note",
			  "egress is not running; it reads the policy when it starts", (char *)NULL);
		return;
	}
	log_event(LOG_INFO, "signal", "signal", proc_signal_name(sig), "from", fromtext, "to",
		  in->mode == INIT_SIDECAR ? "daemons" : "command", (char *)NULL);
	for (i = 0; i < in->nkids; i++)
		kid_signal(&in->kids[i], sig);
	if (sig == SIGTERM || (in->mode == INIT_SIDECAR && sig == SIGINT))
		begin_stop(in, sig, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_signals(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct init *in = io->arg;
	struct signalfd_siginfo si;

	(void)l;
	(void)events;
	while (read(in->sfd, &si, sizeof si) == (ssize_t)sizeof si)
		if (si.ssi_signo != SIGCHLD)
			handle_signal(in, (int)si.ssi_signo, (pid_t)si.ssi_pid);
	settle(in);
}

int init_run(struct init *in, struct bb_err *e)
{
	char codetext[24];
	size_t i;
	int rc = -1;

	/* Orphans of our descendants come to us, not to the host's init. */
	if (!in->pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return bb_errno(e, errno, "PR_SET_CHILD_SUBREAPER");
	if (loop_init(&in->loop, e) < 0)
		return -1;
	if (loop_io_add(&in->loop, &in->sio, in->sfd, EPOLLIN, on_signals, in, e) < 0)
		goto out;
	loop_timer_init(&in->grace, grace_over, in);
	for (i = 0; i < in->nkids; i++) {
		in->kids[i].in = in;
		loop_timer_init(&in->kids[i].restart, restart_due, &in->kids[i]);
	}
	for (i = 0; i < in->nkids; i++) {
		if (kid_spawn(in, &in->kids[i]) == 0)
			continue;
		if (in->mode != INIT_SIDECAR) {
			bb_errno(e, errno, "fork");
			goto out;
		}
		kid_ended(in, &in->kids[i], BB_EXIT_SYSTEM, 0, 0);
	}
	settle(in);
	while (!in->done)
		if (loop_run_once(&in->loop, -1, e) < 0)
			goto out;
	log_event(LOG_INFO, "done", "code", num(codetext, sizeof codetext, (unsigned long long)in->worst), (char *)NULL);
	rc = in->worst;
out:
	loop_io_del(&in->loop, &in->sio);
	loop_fini(&in->loop);
	return rc;
}
