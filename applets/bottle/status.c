/* status.c - `bb bottle list | inspect | logs | stop`: what bottles there are, what they hold, what they logged; ending one. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "applet.h"
#include "backend.h"
#include "bottle.h"
#include "buf.h"
#include "fd.h"
#include "json.h"
#include "log.h"
#include "opt.h"
#include "planfile.h"

static const char list_usage[] =
	"usage: bb bottle list [--json]\n"
	"Every bottle with state on this host, oldest first: slug, agent, status\n"
	"(running, stopped, dead = its host process is gone: 'bb bottle cleanup'),\n"
	"backend, start time, workspace. Bare bottles are marked BARE.\n"
	"  -j, --json   one JSON array (the fields of each bottle's meta.json)";

static const char inspect_usage[] =
	"usage: bb bottle inspect SLUG [--json]\n"
	"One bottle: its metadata, where its state and logs are, and its plan (routes,\n"
	"repos, env names, token slots by the host variable they come from; never a\n"
	"value).\n"
	"  -j, --json   {\"meta\": ..., \"state_dir\": ..., \"plan\": ...}";

static const char logs_usage[] =
	"usage: bb bottle logs SLUG [--follow] [--daemon NAME]\n"
	"The sidecar daemons' logs of a bottle (JSON lines: egress's audit log first).\n"
	"  -f, --follow        keep printing new lines until the bottle stops (or Ctrl-C)\n"
	"  -d, --daemon NAME   only egress, dns or supervise";

static const char stop_usage[] =
	"usage: bb bottle stop SLUG [--timeout SECONDS]\n"
	"Asks a running bottle's agent to end (SIGTERM through its host process) and\n"
	"waits for the bottle to be torn down; after the timeout (default 10 s) the\n"
	"host process is killed, which takes the whole bottle with it. The state stays\n"
	"for 'resume' and 'logs'.";

static cJSON *meta_json(const struct bottle_meta *m)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "slug", m->slug);
	cJSON_AddStringToObject(o, "agent", m->agent);
	cJSON_AddStringToObject(o, "status", m->status);
	cJSON_AddStringToObject(o, "backend", m->backend);
	if (m->runtime[0])
		cJSON_AddStringToObject(o, "runtime", m->runtime);
	if (m->kernel[0])
		cJSON_AddStringToObject(o, "kernel", m->kernel);
	cJSON_AddBoolToObject(o, "bare", m->bare);
	cJSON_AddStringToObject(o, "started_at", m->started_at);
	cJSON_AddStringToObject(o, "cwd", m->cwd);
	cJSON_AddBoolToObject(o, "copy_cwd", m->copy_cwd);
	cJSON_AddStringToObject(o, "command", m->command);
	cJSON_AddStringToObject(o, "image", m->image);
	cJSON_AddNumberToObject(o, "host_pid", m->host_pid);
	if (m->exit_code >= 0)
		cJSON_AddNumberToObject(o, "exit_code", m->exit_code);
	else
		cJSON_AddNullToObject(o, "exit_code");
	return o;
}

static int print_json(cJSON *o)
{
	struct bb_err e = { 0 };
	struct buf b = BUF_INIT(16u << 20);
	int rc = json_print(o, &b, &e);
	if (rc == 0)
		out_printf("%.*s\n", (int)b.len, b.p);
	else
		err_printf("%s", e.msg);
	buf_free(&b);
	cJSON_Delete(o);
	return rc == 0 ? 0 : BB_EXIT_SYSTEM;
}

/* -j/--json only, plus positional arguments; returns APPLET_OPT_EXIT's code or -1 to go on. */
static int parse_json_flag(int argc, char **argv, const char *usage, struct opt *o, int *json)
{
	int c, code;
	opt_init(o);
	while ((c = applet_opt(o, argc, argv, "h(help)j(json)", usage, &code)) != -1) {
		if (c == APPLET_OPT_EXIT)
			return code;
		if (c != 'j')
			return applet_usage_error(usage, "unexpected option");
		*json = 1;
	}
	return -1;
}

int bottle_list(int argc, char **argv)
{
	struct opt o;
	struct bottle_meta *v;
	struct bb_err e = { 0 };
	size_t n, i;
	int json = 0, code;

	if ((code = parse_json_flag(argc, argv, list_usage, &o, &json)) >= 0)
		return code;
	if (o.ind < argc)
		return applet_usage_error(list_usage, "unexpected argument '%s'", argv[o.ind]);
	if (bottle_meta_list(&v, &n, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	if (json) {
		cJSON *a = cJSON_CreateArray();
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(a, meta_json(&v[i]));
		free(v);
		return print_json(a);
	}
	if (!n)
		out_printf("no bottles\n");
	else
		out_printf("%-28s %-16s %-8s %-9s %-20s %s\n", "SLUG", "AGENT", "STATUS", "BACKEND", "STARTED", "WORKSPACE");
	for (i = 0; i < n; i++)
		out_printf("%-28s %-16s %-8s %-9s %-20s %s\n", v[i].slug, v[i].agent, v[i].status,
			   v[i].bare ? "BARE" : v[i].backend, v[i].started_at, v[i].cwd);
	free(v);
	return 0;
}

/* The bottle's plan as the host wrote it (its dialer's copy, approvals merged): never the sidecar's. NULL when missing. */
static cJSON *host_plan(const char *slug)
{
	char path[PATH_MAX + 64];
	struct buf b = BUF_INIT(4u << 20);
	struct bb_err e = { 0 };
	cJSON *o = NULL;
	if (bottle_dialer_policy(slug, 0, path, sizeof path, &e) == 0 && fd_read_file(path, 4u << 20, &b, &e) == 0)
		o = json_parse(path, b.p ? b.p : "", b.len, &e);
	buf_free(&b);
	return o;
}

/* inspect's routes (with the host variable each token comes from) and repos; a plan that does not read is named on stderr. */
static void print_plan(const char *slug, cJSON *plan)
{
	struct planfile pf;
	struct bb_err e = { 0 };
	const struct planfile_route *r;
	struct planfile_git_gate g;
	size_t n, i;

	if (planfile_wrap(&pf, slug, plan, &e) < 0 || planfile_egress_routes(&pf, &r, &n, &e) < 0 ||
	    planfile_git_gate(&pf, &g, &e) < 0) {
		err_printf("%s", e.msg);
		planfile_free(&pf);
		return;
	}
	for (i = 0; i < n; i++)
		out_printf("route       %s%s%s\n", r[i].host, r[i].token_ref ? "  token from $" : "",
			   r[i].token_ref ? r[i].token_ref : "");
	for (i = 0; i < g.nrepos; i++)
		out_printf("repo        %s  %s\n", g.repos[i].name, g.repos[i].url);
	planfile_free(&pf);
}

/* One line a backend adds to inspect, aligned with the others. */
static void inspect_line(void *arg, const char *label, const char *text)
{
	(void)arg;
	out_printf("%-11s %s\n", label, text);
}

int bottle_inspect(int argc, char **argv)
{
	struct opt o;
	struct bottle_meta m;
	struct bb_err e = { 0 };
	char dir[PATH_MAX];
	cJSON *plan;
	int json = 0, code;

	if ((code = parse_json_flag(argc, argv, inspect_usage, &o, &json)) >= 0)
		return code;
	if (o.ind + 1 != argc)
		return applet_usage_error(inspect_usage, "which bottle? (its slug, from 'bb bottle list')");
	if (bottle_meta_read(argv[o.ind], &m, &e) < 0 || bottle_state_dir(m.slug, dir, sizeof dir, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_FAIL;
	}
	plan = host_plan(m.slug); /* names host variables, never their values */
	if (json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddItemToObject(doc, "meta", meta_json(&m));
		cJSON_AddStringToObject(doc, "state_dir", dir);
		cJSON_AddItemToObject(doc, "plan", plan ? plan : cJSON_CreateNull());
		return print_json(doc);
	}
	if (m.bare)
		out_printf("WARNING: this bottle runs WITHOUT isolation (--bare)\n");
	out_printf("slug        %s\nagent       %s\nstatus      %s", m.slug, m.agent, m.status);
	if (!strcmp(m.status, "running"))
		out_printf(" (host process %d)", m.host_pid);
	else if (m.exit_code >= 0)
		out_printf(" (the agent exited %d)", m.exit_code);
	out_printf("\nbackend     %s\nstarted     %s\nworkspace   %s%s\nroot        %s\nstate       %s\n",
		   m.bare ? "none (bare)" : m.backend, m.started_at, m.cwd, m.copy_cwd ? " (copied to state/workspace)" : "",
		   m.image[0] ? m.image : "the host's filesystem, read-only", dir);
	{
		const struct backend *be = backend_find(m.bare ? "bare" : m.backend);
		struct bk_bottle b = { m.slug, dir, m.runtime, m.host_pid, !strcmp(m.status, "running") };
		if (be && be->inspect)
			be->inspect(&b, inspect_line, NULL);
	}
	if (plan)
		print_plan(m.slug, plan);
	out_printf("logs        %s/{egress,dns,supervise}.log\n", dir);
	cJSON_Delete(plan);
	return 0;
}

static const char *const daemons[] = { "egress", "dns", "supervise" };

/* Print what follows off in one log (name, beneath the state dir sfd: the sidecar's, no link followed); the new offset. */
static off_t print_from(int sfd, const char *name, off_t off)
{
	char buf[65536];
	ssize_t n;
	int fd = fd_open_beneath(sfd, name, O_RDONLY | O_NONBLOCK, 0, NULL);
	struct stat st;
	if (fd < 0)
		return off;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lseek(fd, off, SEEK_SET) == off)
		while ((n = read(fd, buf, sizeof buf)) > 0) {
			out_write(1, buf, (size_t)n);
			off += n;
		}
	close(fd);
	return off;
}

int bottle_logs(int argc, char **argv)
{
	struct opt o;
	struct bottle_meta m;
	struct bb_err e = { 0 };
	char dir[PATH_MAX], path[3][32];
	off_t off[3] = { 0, 0, 0 };
	const char *only = NULL;
	int c, code, follow = 0, sfd;
	size_t i;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)f(follow)d:(daemon)", logs_usage, &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 'f': follow = 1; break;
		case 'd': only = o.arg; break;
		default: return applet_usage_error(logs_usage, "unexpected option");
		}
	}
	if (o.ind + 1 != argc)
		return applet_usage_error(logs_usage, "which bottle? (its slug, from 'bb bottle list')");
	if (only && strcmp(only, "egress") && strcmp(only, "dns") && strcmp(only, "supervise"))
		return applet_usage_error(logs_usage, "--daemon %s: want egress, dns or supervise", only);
	if (bottle_meta_read(argv[o.ind], &m, &e) < 0 || bottle_state_dir(m.slug, dir, sizeof dir, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_FAIL;
	}
	if ((sfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		err_printf("%s: %s", dir, strerror(errno));
		return BB_EXIT_FAIL;
	}
	for (i = 0; i < 3; i++)
		snprintf(path[i], sizeof path[i], "%s.log", daemons[i]);
	for (;;) {
		for (i = 0; i < 3; i++)
			if (!only || !strcmp(only, daemons[i]))
				off[i] = print_from(sfd, path[i], off[i]);
		if (!follow)
			break;
		if (bottle_meta_read(m.slug, &m, &e) < 0 || strcmp(m.status, "running")) {
			for (i = 0; i < 3; i++) /* the last lines written while it stopped */
				if (!only || !strcmp(only, daemons[i]))
					off[i] = print_from(sfd, path[i], off[i]);
			break;
		}
		usleep(200 * 1000);
	}
	close(sfd);
	return 0;
}

int bottle_stop(int argc, char **argv)
{
	struct opt o;
	struct bottle_meta m;
	struct bb_err e = { 0 };
	long timeout_s = 10, waited_ms;
	int c, code;
	char *end;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)t:(timeout)", stop_usage, &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 't':
			timeout_s = strtol(o.arg, &end, 10);
			if (*end || timeout_s < 0 || timeout_s > 3600)
				return applet_usage_error(stop_usage, "--timeout %s: want seconds, 0 to 3600", o.arg);
			break;
		default: return applet_usage_error(stop_usage, "unexpected option");
		}
	}
	if (o.ind + 1 != argc)
		return applet_usage_error(stop_usage, "which bottle? (its slug, from 'bb bottle list')");
	if (bottle_meta_read(argv[o.ind], &m, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_FAIL;
	}
	if (strcmp(m.status, "running")) {
		err_printf("bottle %s is not running (%s)", m.slug, m.status);
		return BB_EXIT_FAIL;
	}
	/* Only the process that started the bottle (pid, start time, boot: the host's own record) is signalled. */
	if ((code = bottle_host_signal(&m, SIGTERM, &e)) <= 0) {
		if (code < 0)
			err_printf("bottle %s: cannot signal its host process %d: %s", m.slug, m.host_pid, e.msg);
		else
			err_printf("bottle %s: its host process %d is gone", m.slug, m.host_pid);
		return BB_EXIT_FAIL;
	}
	for (waited_ms = 0; waited_ms < timeout_s * 1000; waited_ms += 100) {
		struct bottle_meta now;
		int r = bottle_meta_read(m.slug, &now, &e);
		if ((r < 0 && e.code == ENOENT) /* a run's state goes with it */ || (r == 0 && strcmp(now.status, "running"))) {
			out_printf("stopped %s\n", m.slug);
			return 0;
		}
		bb_err_clear(&e);
		usleep(100 * 1000);
	}
	/* It did not end in time: the host process goes, and the kernel takes the bottle with it (PDEATHSIG). */
	bottle_host_signal(&m, SIGKILL, NULL);
	for (waited_ms = 0; waited_ms < 5000 && bottle_host_alive(&m) == 1; waited_ms += 50)
		usleep(50 * 1000);
	if (bottle_meta_read(m.slug, &m, &e) == 0 && !strcmp(m.status, "dead")) {
		snprintf(m.status, sizeof m.status, "stopped");
		{
			char dir[PATH_MAX], sock[PATH_MAX + 16];
			if (bottle_state_dir(m.slug, dir, sizeof dir, &e) == 0) {
				snprintf(sock, sizeof sock, "%s/dial.sock", dir);
				unlink(sock);
			}
		}
		if (bottle_meta_write(&m, &e) < 0)
			err_printf("%s", e.msg);
	}
	out_printf("stopped %s (killed after %ld s)\n", m.slug, timeout_s);
	return 0;
}
