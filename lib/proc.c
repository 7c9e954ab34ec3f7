/* proc.c - process supervision helpers: exit codes, signal names, /proc children, argv splitting, backoff. */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd.h"

int proc_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255; /* stopped/continued are never passed here; be loud if they are */
}

const char *proc_signal_name(int sig)
{
	static const struct {
		int sig;
		const char *name;
	} names[] = {
		{ SIGHUP, "HUP" },   { SIGINT, "INT" },     { SIGQUIT, "QUIT" }, { SIGILL, "ILL" },
		{ SIGTRAP, "TRAP" }, { SIGABRT, "ABRT" },   { SIGBUS, "BUS" },   { SIGFPE, "FPE" },
		{ SIGKILL, "KILL" }, { SIGUSR1, "USR1" },   { SIGSEGV, "SEGV" }, { SIGUSR2, "USR2" },
		{ SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" },   { SIGTERM, "TERM" }, { SIGCHLD, "CHLD" },
		{ SIGCONT, "CONT" }, { SIGSTOP, "STOP" },   { SIGTSTP, "TSTP" }, { SIGTTIN, "TTIN" },
		{ SIGTTOU, "TTOU" }, { SIGURG, "URG" },     { SIGXCPU, "XCPU" }, { SIGXFSZ, "XFSZ" },
		{ SIGVTALRM, "VTALRM" }, { SIGPROF, "PROF" }, { SIGWINCH, "WINCH" }, { SIGIO, "IO" },
		{ SIGPWR, "PWR" },   { SIGSYS, "SYS" },
	};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].sig == sig)
			return names[i].name;
	return "?";
}

int proc_stat_parse(const char *stat, size_t len, char *state, pid_t *ppid, struct bb_err *e)
{
	size_t i, close_paren = len;
	long v = 0;
	int digits = 0;

	for (i = len; i > 0; i--) {
		if (stat[i - 1] == ')') {
			close_paren = i - 1;
			break;
		}
	}
	/* ") S 123 ..." : the state, a space, then the parent pid */
	i = close_paren + 1;
	if (close_paren == len || i + 3 > len || stat[i] != ' ' || stat[i + 2] != ' ')
		return bb_errf(e, BB_EINVAL, "not the shape of /proc/PID/stat");
	*state = stat[i + 1];
	for (i += 3; i < len && stat[i] >= '0' && stat[i] <= '9'; i++) {
		if (v > 100000000L)
			return bb_errf(e, BB_EINVAL, "parent pid out of range in /proc/PID/stat");
		v = v * 10 + (stat[i] - '0');
		digits++;
	}
	if (!digits || (i < len && stat[i] != ' '))
		return bb_errf(e, BB_EINVAL, "no parent pid in /proc/PID/stat");
	*ppid = (pid_t)v;
	return 0;
}

int proc_stat_start_time(const char *stat, size_t len, unsigned long long *ticks, struct bb_err *e)
{
	size_t i, close_paren = len;
	int field = 2; /* ")" ends field 2 (comm); field 3 (state) follows */
	unsigned long long v = 0;
	int digits = 0;

	for (i = len; i > 0; i--) {
		if (stat[i - 1] == ')') {
			close_paren = i - 1;
			break;
		}
	}
	if (close_paren == len)
		return bb_errf(e, BB_EINVAL, "not the shape of /proc/PID/stat");
	for (i = close_paren + 1; i < len && field < 22; i++)
		if (stat[i] == ' ')
			field++;
	for (; field == 22 && i < len && stat[i] >= '0' && stat[i] <= '9'; i++) {
		if (v > 1000000000000000000ull)
			return bb_errf(e, BB_EINVAL, "start time out of range in /proc/PID/stat");
		v = v * 10 + (unsigned)(stat[i] - '0');
		digits++;
	}
	if (!digits || (i < len && stat[i] != ' ' && stat[i] != '\n'))
		return bb_errf(e, BB_EINVAL, "no start time in /proc/PID/stat");
	*ticks = v;
	return 0;
}

int proc_start_time(pid_t pid, unsigned long long *ticks, struct bb_err *e)
{
	char path[64], text[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bb_errno(e, errno == ENOENT ? ESRCH : errno, "%s", path);
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return bb_errno(e, n < 0 ? errno : ESRCH, "%s", path);
	return proc_stat_start_time(text, (size_t)n, ticks, e);
}

int proc_boot_id(char *out, size_t cap, struct bb_err *e)
{
	static const char path[] = "/proc/sys/kernel/random/boot_id";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return bb_errno(e, errno, "%s", path);
	n = read(fd, out, cap - 1);
	close(fd);
	if (n < 36)
		return bb_errf(e, BB_EINVAL, "%s: not a boot id", path);
	out[36] = 0;
	return 0;
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int proc_signal_identified(pid_t pid, unsigned long long start_ticks, const char *boot_id, int sig,
			   struct bb_err *e)
{
	char boot[40];
	unsigned long long now;
	int pfd, rc;

	if (pid <= 1)
		return 0;
	if (proc_boot_id(boot, sizeof boot, e) < 0)
		return -1;
	if (strcmp(boot, boot_id))
		return 0; /* recorded in another boot: that process is gone */
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return errno == ESRCH ? 0 : bb_errno(e, errno, "pidfd_open %d", (int)pid);
	/* The pidfd holds this process: whatever the start time says now stays true until it is closed. */
	if (proc_start_time(pid, &now, e) < 0) {
		close(pfd);
		return e && e->code == ESRCH ? 0 : -1;
	}
	if (now != start_ticks) {
		close(pfd);
		return 0;
	}
	rc = sig ? (int)syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) : 0;
	if (rc < 0) {
		rc = errno == ESRCH ? 0 : bb_errno(e, errno, "signal %d", (int)pid);
		close(pfd);
		return rc;
	}
	close(pfd);
	return 1;
}

long proc_children(pid_t parent, pid_t *out, size_t cap, struct bb_err *e)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	long found = 0;

	if (!d)
		return bb_errno(e, errno, "/proc");
	while ((de = readdir(d)) != NULL) {
		char path[64], text[512], state;
		const char *p;
		long pid = 0;
		pid_t ppid;
		ssize_t n;
		int fd;

		for (p = de->d_name; *p >= '0' && *p <= '9'; p++)
			pid = pid * 10 + (*p - '0');
		if (*p || p == de->d_name || pid > 100000000L)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* it exited since readdir */
		n = fd_read_full(fd, text, sizeof text);
		fd_close(fd);
		if (n <= 0 || proc_stat_parse(text, (size_t)n, &state, &ppid, NULL) < 0 || ppid != parent)
			continue;
		if ((size_t)found < cap)
			out[found] = (pid_t)pid;
		found++;
	}
	closedir(d);
	return found;
}

int proc_split_args(char *s, char **argv, size_t cap, struct bb_err *e)
{
	size_t n = 0;

	if (cap == 0)
		return bb_errf(e, BB_ETOOBIG, "no room for arguments");
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			*s++ = '\0';
		if (!*s)
			break;
		if (n + 1 >= cap)
			return bb_errf(e, BB_ETOOBIG, "more than %zu arguments", cap - 1);
		argv[n++] = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n')
			s++;
	}
	argv[n] = NULL;
	return (int)n;
}

int64_t proc_backoff_after_exit(const struct proc_backoff_policy *p, struct proc_backoff *b, uint64_t uptime_ms)
{
	uint64_t delay = p->first_ms;
	unsigned k;

	if (uptime_ms >= p->stable_ms)
		b->failures = 0;
	if (b->failures < UINT32_MAX)
		b->failures++;
	if (p->max_failures && b->failures >= p->max_failures)
		return -1;
	for (k = 1; k < b->failures && delay < p->max_ms; k++)
		delay *= 2;
	if (delay > p->max_ms)
		delay = p->max_ms;
	return (int64_t)delay;
}
