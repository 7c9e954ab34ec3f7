/* main.c - `bb git-gate`: git:// for the bottle's repo mirrors; pushes are scanned and clean ones forwarded upstream over SSH. */
#include <git2.h>
#include <string.h>

#include "applet.h"
#include "gate.h"
#include "log.h"
#include "opt.h"

BB_APPLET(git-gate, "git:// server that scans pushes and forwards clean ones upstream")

static const char usage[] =
	"usage: bb git-gate --policy PLAN.json --mirrors DIR [--listen ADDR:PORT]... [OPTIONS]\n"
	"Serves the repos of the plan's git_gate part over git:// (default 0.0.0.0:9418),\n"
	"each from a bare mirror refreshed from its upstream over SSH before every fetch\n"
	"and push (fail closed when upstream is unreachable). A push is scanned for\n"
	"secrets (only what it adds), refused with the findings, or forwarded upstream;\n"
	"the mirror moves only when upstream accepted. docs/git-gate.md has the details.\n"
	"  -l, --listen ADDR:PORT where to listen (repeatable)\n" GGD_USAGE_COMMON;

static int serve_git(const struct gitgate_server *srv, int fd, const struct ggd_opts *o, struct bb_err *e)
{
	(void)o;
	return gitgate_serve_daemon(srv, fd, e);
}

int git_gate_main(int argc, char **argv)
{
	struct ggd_opts o;
	struct opt op;
	struct bb_err e = { 0 };
	int c, code;

	ggd_opts_init(&o, "git-gate", "0.0.0.0:9418");
	opt_init(&op);
	while ((c = applet_opt(&op, argc, argv, GGD_SPEC, usage, &code)) != -1) {
		if (c == APPLET_OPT_EXIT)
			return code;
		if (ggd_opt(&o, c, op.arg, &e) <= 0)
			return applet_usage_error(usage, "%s", e.msg[0] ? e.msg : "unexpected option");
	}
	if (op.ind < argc)
		return applet_usage_error(usage, "unexpected argument '%s'", argv[op.ind]);
	if (!o.policy_path || !o.mirrors_dir)
		return applet_usage_error(usage, "--policy and --mirrors are required");
	return ggd_run(&o, serve_git);
}
