/* proc.h - process supervision helpers: wait statuses as exit codes, signal names, children found in /proc, argv from a string, restart backoff. */
#ifndef BB_PROC_H
#define BB_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* The exit code a shell would report for a wait status: the exit status, or 128+n after death by signal n. */
int proc_exit_code(int wstatus);

/* "TERM" for SIGTERM, "USR1" for SIGUSR1...; "?" for a number this table does not name. */
const char *proc_signal_name(int sig);

/*
 * Parse the contents of /proc/PID/stat (stat[0..len)): the state letter and
 * the parent pid. The command name in parentheses may itself hold spaces
 * and parentheses, so parsing starts after the LAST ')'. 0, or -1 when the
 * text does not have that shape.
 */
int proc_stat_parse(const char *stat, size_t len, char *state, pid_t *ppid, struct bb_err *e);

/*
 * The pids whose parent is `parent`, found by reading /proc/[0-9]*\/stat
 * (a process that exits during the scan is skipped). Up to cap are stored
 * in out; returns how many were found (which may be more than cap), or -1
 * when /proc cannot be read.
 */
long proc_children(pid_t parent, pid_t *out, size_t cap, struct bb_err *e);

/*
 * Split s in place at runs of spaces, tabs and newlines into argv,
 * which gets a NULL after the last word. No quoting: a word cannot hold a
 * space. Returns the number of words, or -1 when more than cap - 1.
 */
int proc_split_args(char *s, char **argv, size_t cap, struct bb_err *e);

/*
 * Restart backoff for a supervised daemon. A run that lasted at least
 * stable_ms counts as healthy and resets the count; otherwise it is one
 * more fast failure. The delay before restart k (k = 1, 2, ...) after fast
 * failures is first_ms * 2^(k-1), capped at max_ms; at max_failures fast
 * failures in a row the supervisor gives up (0 = never give up).
 */
struct proc_backoff_policy {
	uint64_t first_ms;
	uint64_t max_ms;
	uint64_t stable_ms;
	unsigned max_failures;
};

struct proc_backoff {
	unsigned failures; /* fast failures in a row, the one just recorded included */
};

/* Record that a run which lasted uptime_ms ended: the delay before the next start in ms, or -1 to give up. */
int64_t proc_backoff_after_exit(const struct proc_backoff_policy *p, struct proc_backoff *b, uint64_t uptime_ms);

#endif
