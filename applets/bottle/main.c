/* main.c - `bb bottle`: the host commands, dispatched by subcommand. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applet.h"
#include "bottle.h"
#include "err.h"
#include "log.h"

BB_APPLET(bottle, "host commands: validate, plan, start, run, list, stop, ca, ...")

static const char usage[] =
	"usage: bb bottle COMMAND [ARGS...]\n"
	"  validate [NAME...] [--json]   check manifests: one line per file, exit 1 on errors\n"
	"  plan NAME [--json]            the resolved configuration of an agent or bottle\n"
	"  start NAME [--cwd DIR] [--copy-cwd] [--dry-run] [-y]   the agent in its bottle, on this terminal\n"
	"  run NAME [--backend B] [--image I] [--bare] -- CMD   a bottle around one command (docs/runtime.md)\n"
	"  list [--json] | inspect SLUG | logs SLUG [-f] | stop SLUG | resume SLUG   bottles and their state\n"
	"  proposals [NAME] | approve ID | reject ID   the operator's side of supervise\n"
	"  ca init|show | dialer   the interception CA; the host half of egress\n"
	"  cleanup [--all] [--dry-run]   remove dead bottles' state (--all: stopped ones too)\n"
	"  dashboard [SLUG] [--once]     bottles, their live events, approve/reject (docs/dashboard.md)\n"
	"  image import|list|rm|sidecar  agent images and the sidecar image (docs/image.md)\n"
	"Manifests: $BB_HOME/.bb/{bottles,agents}/NAME.md (BB_HOME defaults to HOME),\n"
	"$CWD/.bb/agents/NAME.md, and bot-bottle's ~/.bot-bottle tree. See docs/manifest.md.";


static const struct {
	const char *name;
	int (*fn)(int, char **);
	int issue; /* for commands not built yet */
} cmds[] = {
	{ "approve", bottle_approve, 0 }, { "ca", bottle_ca, 0 },	   { "cleanup", bottle_cleanup, 0 },  { "dashboard", bottle_dashboard, 0 }, { "dialer", bottle_dialer, 0 },
	{ "image", bottle_image, 0 },	 { "inspect", bottle_inspect, 0 },  { "list", bottle_list, 0 },     { "logs", bottle_logs, 0 },
	{ "plan", bottle_plan, 0 }, { "proposals", bottle_proposals, 0 }, { "reject", bottle_reject, 0 }, { "resume", bottle_resume, 0 },
	{ "run", bottle_run, 0 },	 { "start", bottle_start, 0 },	   { "stop", bottle_stop, 0 },     { "validate", bottle_validate, 0 },
};

int bottle_load(struct manifest *m)
{
	struct bb_err e = { 0 };
	struct mf_dirs dirs;
	char cwd[PATH_MAX];

	dirs.home = getenv("BB_HOME");
	if (!dirs.home || !*dirs.home)
		dirs.home = getenv("HOME");
	if (!dirs.home || !*dirs.home) {
		err_printf("neither BB_HOME nor HOME is set: cannot find the manifests");
		return BB_EXIT_SYSTEM;
	}
	dirs.cwd = getcwd(cwd, sizeof cwd);
	if (manifest_load(m, &dirs, &e) < 0) {
		err_printf("%s", e.msg);
		manifest_free(m);
		return BB_EXIT_SYSTEM;
	}
	return 0;
}

int bottle_main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		err_printf("missing command\n%s", usage);
		return BB_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		out_printf("%s\n", usage);
		return BB_EXIT_OK;
	}
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		if (cmds[i].fn)
			return cmds[i].fn(argc - 1, argv + 1);
		return applet_unbuilt(argc - 1, argv + 1, usage, cmds[i].issue);
	}
	err_printf("unknown command '%s'; see 'bb bottle --help'", argv[1]);
	return BB_EXIT_USAGE;
}
