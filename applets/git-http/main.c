/* main.c - `bb git-http`: the same gate as git-gate, over git's smart HTTP (GET info/refs, POST git-*-pack). */
#include "applet.h"
#include "gitgate_daemon.h"
#include "gitgate_http.h"
#include "log.h"

BB_APPLET(git-http, "smart-HTTP git server with the same push gate")

static const char usage[] =
	"usage: bb git-http --policy PLAN.json --mirrors DIR [--listen ADDR:PORT]... [OPTIONS]\n"
	"Serves the repos of the plan's git_gate part over git's smart HTTP (default\n"
	"0.0.0.0:9420) with the same mirrors, refresh, push scan and forwarding as\n"
	"bb git-gate. A POST without a valid Content-Length (or chunked framing) gets\n"
	"400, one over the cap 413. docs/git-gate.md has the details.\n"
	"  -l, --listen ADDR:PORT where to listen (repeatable)\n" GGD_USAGE_MAX_BODY GGD_USAGE_COMMON;

static int serve_http(const struct gitgate_server *srv, int fd, const struct ggd_opts *o, struct bb_err *e)
{
	return gitgate_serve_http(srv, fd, o->max_body, e);
}

int git_http_main(int argc, char **argv)
{
	struct ggd_opts o;
	struct bb_err e = { 0 };
	int code;

	ggd_opts_init(&o, "git-http", "0.0.0.0:9420", 1);
	switch (ggd_args(&o, argc, argv, &e)) {
	case GGD_ARGS_HELP: out_printf("%s\n", usage); return BB_EXIT_OK;
	case GGD_ARGS_USAGE: return applet_usage_error(usage, "%s", e.msg);
	}
	if ((code = ggd_run(&o, serve_http, &e)) != BB_EXIT_OK && e.msg[0])
		err_printf("%s", e.msg);
	return code;
}
