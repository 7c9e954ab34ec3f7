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
	"  run NAME [--backend embedded|oci] -- CMD   a bottle around one command (docs/runtime.md)\n"
	"  proposals [NAME] | approve ID | reject ID   the operator's side of supervise\n"
	"  ca init|show | dialer   the interception CA; the host half of egress\n"
	"  cleanup [--dry-run]           remove what bottles killed with their host process left\n"
	"  start | list | inspect | logs | stop | resume | dashboard | image   (not built yet)\n"
	"Manifests: $BB_HOME/.bb/{bottles,agents}/NAME.md (BB_HOME defaults to HOME),\n"
	"$CWD/.bb/agents/NAME.md, and bot-bottle's ~/.bot-bottle tree. See docs/manifest.md.";


static const struct {
	const char *name;
	int (*fn)(int, char **);
	int issue; /* for commands not built yet */
} cmds[] = {
	{ "approve", bottle_approve, 0 }, { "ca", bottle_ca, 0 },	   { "cleanup", bottle_cleanup, 0 },  { "dashboard", NULL, 10 }, { "dialer", bottle_dialer, 0 },
	{ "image", NULL, 10 },	 { "inspect", NULL, 10 },  { "list", NULL, 10 },     { "logs", NULL, 10 },
	{ "plan", bottle_plan, 0 }, { "proposals", bottle_proposals, 0 }, { "reject", bottle_reject, 0 }, { "resume", NULL, 10 },
	{ "run", bottle_run, 0 },	 { "start", NULL, 10 },	   { "stop", NULL, 10 },     { "validate", bottle_validate, 0 },
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
