/* cleanup.c - `bb bottle cleanup`: remove what bottles whose host process died left behind (state with plan and sockets, OCI containers). */
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "applet.h"
#include "backend.h"
#include "bottle.h"
#include "fd.h"
#include "forge_keys.h"
#include "log.h"
#include "opt.h"

static const char usage[] =
	"usage: bb bottle cleanup [--all] [--dry-run]\n"
	"Removes what a bottle leaves when its host process is killed (kill -9, a\n"
	"crash, a power cut): its state directory under $BB_HOME/.bb/state (the plan,\n"
	"the dialer's socket, logs, staged OCI bundles), its record under\n"
	"$BB_HOME/.bb/host, and any OCI containers named after it. Bottles whose host\n"
	"process still runs are left alone. Revokes the forge deploy keys (gitea key\n"
	"provider) such bottles registered and could not revoke themselves; a key the\n"
	"forge will not delete is reported, kept on record for the next cleanup, and\n"
	"the exit status is 1. Prints one line per thing removed.\n"
	"  -a, --all       also stopped bottles (their logs, home and workspace copy)\n"
	"  -n, --dry-run   say what would be removed, remove nothing";

/* A state directory NAME-PID whose PID no longer runs: the pid, else 0. */
static pid_t dead_owner(const char *name)
{
	const char *dash = strrchr(name, '-');
	char *end;
	long pid;
	if (!dash || !dash[1])
		return 0;
	pid = strtol(dash + 1, &end, 10);
	if (*end || pid <= 1 || pid > 4194304)
		return 0;
	if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
		return 0; /* alive (or not ours to judge) */
	return (pid_t)pid;
}

static void report_revoke(void *arg, int ok, const char *msg)
{
	if (ok)
		out_printf("%s: %s\n", (const char *)arg, msg);
	else
		err_printf("%s: ERROR: %s", (const char *)arg, msg);
}

/*
 * Deploy keys recorded for bottles that no longer run ($BB_HOME/.bb/forge-keys/SLUG,
 * host only): their host process died before its teardown revoked them, or the
 * forge refused then. Returns the number of bottles whose keys are still not revoked.
 */
static int revoke_orphan_keys(const char *home, int dry, int *n)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int failed = 0;

	snprintf(dir, sizeof dir, "%s/.bb/forge-keys", home);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		struct bottle_meta m;
		struct bb_err e = { 0 };
		if (de->d_name[0] == '.')
			continue;
		if (bottle_meta_read(de->d_name, &m, &e) == 0 && !strcmp(m.status, "running"))
			continue; /* its own teardown revokes them */
		(*n)++;
		if (dry) {
			out_printf("would revoke the deploy keys of %s\n", de->d_name);
			continue;
		}
		bb_err_clear(&e);
		if (forge_keys_revoke(de->d_name, report_revoke, de->d_name, &e) < 0) {
			err_printf("%s: %s", de->d_name, e.msg);
			failed++;
		}
	}
	closedir(d);
	return failed;
}

/* A backend's report of one thing removed: "removed WHAT". */
static void report(void *arg, const char *label, const char *text)
{
	int *n = arg;
	out_printf("%s %s\n", label, text);
	(*n)++;
}

int bottle_cleanup(int argc, char **argv)
{
	struct opt o;
	char root[PATH_MAX];
	const char *home = getenv("BB_HOME");
	DIR *d;
	struct dirent *de;
	int c, code, dry = 0, all = 0, n = 0;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)n(dry-run)a(all)", usage, &code)) != -1) {
		if (c == APPLET_OPT_EXIT)
			return code;
		if (c == 'n')
			dry = 1;
		else if (c == 'a')
			all = 1;
		else
			return applet_usage_error(usage, "unexpected option");
	}
	if (o.ind < argc)
		return applet_usage_error(usage, "unexpected argument '%s'", argv[o.ind]);
	if (!home || !*home)
		home = getenv("HOME");
	if (!home || !*home) {
		err_printf("neither BB_HOME nor HOME is set");
		return BB_EXIT_SYSTEM;
	}
	/* Bottles this bb started: the host's own records ($BB_HOME/.bb/host/SLUG), then their state. */
	snprintf(root, sizeof root, "%s/.bb/host", home);
	if ((d = opendir(root)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char host[PATH_MAX], state[PATH_MAX];
			struct bottle_meta m;
			struct bb_err e = { 0 };
			const char *why = "its host process is gone";
			if (de->d_name[0] == '.')
				continue;
			if (bottle_meta_read(de->d_name, &m, &e) < 0) {
				if (!all) {
					err_printf("%s: %s (kept; --all removes it)", de->d_name, e.msg);
					continue;
				}
				why = "unreadable record; --all";
				m.host_pid = 0;
			} else if (!strcmp(m.status, "running") || (!strcmp(m.status, "stopped") && !all)) {
				continue;
			} else if (!strcmp(m.status, "stopped")) {
				why = "stopped; --all";
			}
			if (bottle_host_dir(de->d_name, 0, host, sizeof host, &e) < 0 ||
			    bottle_state_dir(de->d_name, state, sizeof state, &e) < 0)
				continue;
			if (!dry) {
				fd_remove_tree(state);
				fd_remove_tree(host);
			}
			out_printf("%s %s (%s)\n", dry ? "would remove" : "removed", state, why);
			n++;
		}
		closedir(d);
	} else if (errno != ENOENT) {
		err_printf("%s: %s", root, strerror(errno));
		return BB_EXIT_SYSTEM;
	}
	/* State with no host record: a run of an older bb (NAME-PID) whose process is gone, or, with --all, any. */
	snprintf(root, sizeof root, "%s/.bb/state", home);
	d = opendir(root);
	if (!d && errno != ENOENT) {
		err_printf("%s: %s", root, strerror(errno));
		return BB_EXIT_SYSTEM;
	}
	while (d && (de = readdir(d)) != NULL) {
		char path[PATH_MAX + 300], host[PATH_MAX];
		struct bb_err e = { 0 };
		struct stat st;
		pid_t pid;
		if (de->d_name[0] == '.')
			continue;
		if (bottle_host_dir(de->d_name, 0, host, sizeof host, &e) == 0 && stat(host, &st) == 0)
			continue; /* handled above (or still running) */
		pid = dead_owner(de->d_name);
		if (!pid && !all)
			continue;
		snprintf(path, sizeof path, "%s/%s", root, de->d_name);
		if (!dry)
			fd_remove_tree(path);
		out_printf("%s %s (%s)\n", dry ? "would remove" : "removed", path,
			   pid ? "its host process is gone" : "no host record; --all");
		n++;
	}
	if (d)
		closedir(d);
	if (!dry) { /* what each backend keeps outside the state dir: containers, networks, images, cgroups */
		size_t i;
		for (i = 0; backends[i]; i++) {
			struct bb_err e = { 0 };
			if (backends[i]->cleanup && backends[i]->cleanup(report, &n, &e) < 0)
				err_printf("%s: %s", backends[i]->name, e.msg);
		}
	}
	if (revoke_orphan_keys(home, dry, &n) > 0)
		return BB_EXIT_FAIL;
	if (!n)
		out_printf("nothing to clean up\n");
	return 0;
}
