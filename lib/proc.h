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
 * The process's start time (field 22 of /proc/PID/stat: clock ticks after
 * boot) from the contents of that file. With the boot id, it names one
 * process for the life of the machine, where a pid alone may be reused.
 * 0, or -1 when the text does not have that shape.
 */
int proc_stat_start_time(const char *stat, size_t len, unsigned long long *ticks, struct bb_err *e);

/* pid's start time, read from /proc/PID/stat. 0, or -1 (code ESRCH when there is no such process). */
int proc_start_time(pid_t pid, unsigned long long *ticks, struct bb_err *e);

/* This boot's id (/proc/sys/kernel/random/boot_id, 36 characters) into out (at least 37 bytes). 0 or -1. */
int proc_boot_id(char *out, size_t cap, struct bb_err *e);

/*
 * Whether pid is still the process that started at start_ticks in the boot
 * boot_id, and if so (sig != 0) signal it, race-free: a pidfd is opened
 * first, the start time checked after, and the signal sent through the
 * pidfd, so a pid reused in between is never signalled. 1 (it is; signalled
 * when asked), 0 (gone, or another process has that pid now), -1 with e set.
 */
int proc_signal_identified(pid_t pid, unsigned long long start_ticks, const char *boot_id, int sig,
			   struct bb_err *e);

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
