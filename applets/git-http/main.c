/* main.c - `bb git-http`: the same gate as git-gate, over git's smart HTTP (GET info/refs, POST git-*-pack). */
#include <git2.h>
#include <string.h>

#include "../git-gate/gate.h"
#include "applet.h"
#include "gitgate_http.h"
#include "opt.h"

BB_APPLET(git-http, "smart-HTTP git server with the same push gate")

static const char usage[] =
	"usage: bb git-http --policy PLAN.json --mirrors DIR [--listen ADDR:PORT]... [OPTIONS]\n"
	"Serves the repos of the plan's git_gate part over git's smart HTTP (default\n"
	"0.0.0.0:9420) with the same mirrors, refresh, push scan and forwarding as\n"
	"bb git-gate. A POST without a valid Content-Length (or chunked framing) gets\n"
	"400, one over the cap 413. docs/git-gate.md has the details.\n"
	"  -l, --listen ADDR:PORT where to listen (repeatable)\n"
	"  -b, --max-body BYTES   cap on an upload-pack request body (default 1048576;\n"
	"                         receive-pack bodies are capped by --max-pack)\n" GGD_USAGE_COMMON;

static int serve_http(const struct gitgate_server *srv, int fd, const struct ggd_opts *o, struct bb_err *e)
{
	return gitgate_serve_http(srv, fd, o->max_body, e);
}

int git_http_main(int argc, char **argv)
{
	struct ggd_opts o;
	struct opt op;
	struct bb_err e = { 0 };
	uint64_t v;
	int c, code;

	ggd_opts_init(&o, "git-http", "0.0.0.0:9420");
	opt_init(&op);
	while ((c = applet_opt(&op, argc, argv, GGD_SPEC "b:(max-body)", usage, &code)) != -1) {
		if (c == APPLET_OPT_EXIT)
			return code;
		if (c == 'b') {
			if (sv_to_u64(sv_from(op.arg), UINT64_MAX / 2, &v, NULL) < 0 || v == 0)
				return applet_usage_error(usage, "--max-body: '%s' is not a positive number", op.arg);
			o.max_body = v;
			continue;
		}
		if (ggd_opt(&o, c, op.arg, &e) <= 0)
			return applet_usage_error(usage, "%s", e.msg[0] ? e.msg : "unexpected option");
	}
	if (op.ind < argc)
		return applet_usage_error(usage, "unexpected argument '%s'", argv[op.ind]);
	if (!o.policy_path || !o.mirrors_dir)
		return applet_usage_error(usage, "--policy and --mirrors are required");
	return ggd_run(&o, serve_http);
}
