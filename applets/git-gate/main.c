/* main.c - `bb git-gate`: git:// for the bottle's repo mirrors; pushes are scanned and clean ones forwarded upstream over SSH. */
#include "applet.h"
#include "gitgate_daemon.h"
#include "log.h"

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
	struct bb_err e = { 0 };
	int code;

	ggd_opts_init(&o, "git-gate", "0.0.0.0:9418", 0);
	switch (ggd_args(&o, argc, argv, &e)) {
	case GGD_ARGS_HELP: out_printf("%s\n", usage); return BB_EXIT_OK;
	case GGD_ARGS_USAGE: return applet_usage_error(usage, "%s", e.msg);
	}
	if ((code = ggd_run(&o, serve_git, &e)) != BB_EXIT_OK && e.msg[0])
		err_printf("%s", e.msg);
	return code;
}
