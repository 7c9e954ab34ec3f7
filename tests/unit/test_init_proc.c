/* test_init_proc.c - unit tests of what bb init uses from lib/: proc (exit codes, /proc stat, argv, backoff) and caps (drop and verify). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "proc.h"
#include "t.h"

static void exit_codes(void)
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(42);
	T_CHECK(waitpid(pid, &st, 0) == pid && proc_exit_code(st) == 42);
	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	kill(pid, SIGUSR1);
	T_CHECK(waitpid(pid, &st, 0) == pid && proc_exit_code(st) == 128 + SIGUSR1);
	T_STREQ(proc_signal_name(SIGTERM), "TERM");
	T_STREQ(proc_signal_name(SIGUSR2), "USR2");
	T_STREQ(proc_signal_name(0), "?");
	T_STREQ(proc_signal_name(200), "?");
}

static void stat_parsing(void)
{
	static const char plain[] = "123 (sleep) S 45 123 45 0 -1 4194304";
	static const char tricky[] = "77 (a) b) Z 9 (x) c) R 1) R 8 77 8";
	static const char *bad[] = { "", "12 (x)", "12 (x) S", "12 (x) S x", "12 (x)S 4", "12 x S 4",
				     "12 (x) S 99999999999 1" };
	char state = 0;
	pid_t ppid = 0;
	size_t i;

	T_CHECK(proc_stat_parse(plain, strlen(plain), &state, &ppid, NULL) == 0);
	T_CHECK(state == 'S' && ppid == 45);
	/* The command name holds ") R 1)" to fool a parser that stops at the first ')'. */
	T_CHECK(proc_stat_parse(tricky, strlen(tricky), &state, &ppid, NULL) == 0);
	T_CHECK(state == 'R' && ppid == 8);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct bb_err e = { 0 };

		if (proc_stat_parse(bad[i], strlen(bad[i]), &state, &ppid, &e) != -1) {
			printf("#   accepted: '%s'\n", bad[i]);
			T_CHECK(0);
		}
	}
}

static void children_found(void)
{
	pid_t kids[2], found[8];
	long n;
	int i, seen = 0;

	for (i = 0; i < 2; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			pause();
			_exit(0);
		}
	}
	n = proc_children(getpid(), found, 8, NULL);
	T_CHECK(n == 2);
	for (i = 0; i < n && i < 8; i++)
		seen += found[i] == kids[0] || found[i] == kids[1];
	T_CHECK(seen == 2);
	T_CHECK(proc_children(getpid(), found, 1, NULL) == 2); /* the count even when out is short */
	for (i = 0; i < 2; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	T_CHECK(proc_children(getpid(), found, 8, NULL) == 0);
}

static void split_args(void)
{
	char s[] = "  --policy /etc/bb/plan.json\t--listen  0.0.0.0:9099 \n";
	char none[] = " \t ";
	char many[] = "a b c d";
	char *argv[5];
	struct bb_err e = { 0 };

	T_CHECK(proc_split_args(s, argv, 5, &e) == 4);
	T_STREQ(argv[0], "--policy");
	T_STREQ(argv[1], "/etc/bb/plan.json");
	T_STREQ(argv[2], "--listen");
	T_STREQ(argv[3], "0.0.0.0:9099");
	T_CHECK(argv[4] == NULL);
	T_CHECK(proc_split_args(none, argv, 5, &e) == 0 && argv[0] == NULL);
	T_CHECK(proc_split_args(many, argv, 4, &e) == -1 && e.code == BB_ETOOBIG);
}

static void backoff(void)
{
	struct proc_backoff_policy p = { 500, 30000, 60000, 5 };
	struct proc_backoff b = { 0 };
	struct proc_backoff_policy capped = { 500, 3000, 60000, 0 };
	int64_t want[] = { 500, 1000, 2000, 4000 };
	size_t i;

	for (i = 0; i < 4; i++)
		T_CHECK(proc_backoff_after_exit(&p, &b, 10) == want[i]);
	T_CHECK(proc_backoff_after_exit(&p, &b, 10) == -1); /* the 5th fast failure: give up */
	T_CHECK(b.failures == 5);

	/* A run of 60 s counts as healthy: the next failure starts over at 0.5 s. */
	b.failures = 3;
	T_CHECK(proc_backoff_after_exit(&p, &b, 60000) == 500 && b.failures == 1);
	T_CHECK(proc_backoff_after_exit(&p, &b, 59999) == 1000 && b.failures == 2);

	/* The cap, and 0 = never give up. */
	b.failures = 0;
	for (i = 0; i < 100; i++) {
		int64_t d = proc_backoff_after_exit(&capped, &b, 0);

		T_CHECK(d > 0 && d <= 3000);
		if (i >= 3)
			T_CHECK(d == 3000);
	}
}

/* In a child (the drop is for good): drop everything, verify, and try to get root back. */
static void caps_drop_for_real(void)
{
	struct caps_target keep = { 0, 0, 0 };
	struct bb_err e = { 0 };
	int st;
	pid_t pid;

	if (getuid() == 0 && prctl(PR_CAPBSET_READ, 0, 0, 0, 0) == 1) {
		/* Before any drop, verification must refuse: a verifier that passes everything proves nothing. */
		T_CHECK(caps_verify_dropped(&keep, &e) == -1 && strstr(e.msg, "verify: capabilities still held"));
	}
	pid = fork();
	if (pid == 0) {
		struct caps_target t = { 1, 1000, 1001 };

		if (getuid() != 0)
			_exit(77);
		if (caps_drop_privileges(&t, &e) < 0) {
			printf("#   %s\n", e.msg);
			_exit(1);
		}
		if (getuid() != 1000 || getgid() != 1001 || setuid(0) == 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(2);
		if (prctl(PR_CAPBSET_READ, 0, 0, 0, 0) != 0)
			_exit(3);
		_exit(0);
	}
	T_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	if (WEXITSTATUS(st) == 77) {
		printf("# (not root: the drop itself is covered by tests/sh/init.sh's failure case)\n");
		return;
	}
	T_CHECK(WEXITSTATUS(st) == 0);
}

/* Field 22 after a command name with spaces and parentheses; a live process is signalled only while it is itself. */
static void start_time_identity(void)
{
	static const char stat[] = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
	unsigned long long t = 0, me = 0;
	char boot[40];
	pid_t child;
	int st;

	T_CHECK(proc_stat_start_time(stat, sizeof stat - 1, &t, NULL) == 0 && t == 987654);
	T_CHECK(proc_stat_start_time("42 (x) S 1", 10, &t, NULL) == -1);
	T_CHECK(proc_start_time(getpid(), &me, NULL) == 0 && me > 0);
	T_CHECK(proc_boot_id(boot, sizeof boot, NULL) == 0 && strlen(boot) == 36);
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	T_CHECK(proc_start_time(child, &t, NULL) == 0);
	T_CHECK(proc_signal_identified(child, t + 1, boot, SIGTERM, NULL) == 0);       /* another process's start */
	T_CHECK(proc_signal_identified(child, t, "00000000-0000-0000-0000-000000000000", SIGTERM, NULL) == 0);
	T_CHECK(kill(child, 0) == 0);                                                   /* untouched */
	T_CHECK(proc_signal_identified(child, t, boot, 0, NULL) == 1);
	T_CHECK(proc_signal_identified(child, t, boot, SIGTERM, NULL) == 1);
	T_CHECK(waitpid(child, &st, 0) == child && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	T_CHECK(proc_signal_identified(child, t, boot, SIGTERM, NULL) == 0);           /* gone */
}

int main(void)
{
	T_RUN(exit_codes);
	T_RUN(stat_parsing);
	T_RUN(start_time_identity);
	T_RUN(children_found);
	T_RUN(split_args);
	T_RUN(backoff);
	T_RUN(caps_drop_for_real);
	T_END();
}
