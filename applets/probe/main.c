/* main.c - `bb probe`: operator checks that bb's libraries and upstream paths work, from this very binary. */
#include <string.h>

#include "applet.h"
#include "err.h"
#include "log.h"
#include "probe.h"

BB_APPLET(probe, "check TLS, YAML, JSON and git (SSH) paths from this binary")

static const char usage[] =
	"usage: bb probe SUBCOMMAND [ARGS...]\n"
	"Checks one of bb's paths end to end, as the daemons will use it.\n"
	"  tls URL [--ca FILE] [--resolve HOST:PORT:ADDR] [--timeout SECONDS]\n"
	"        HTTPS GET with certificate verification (system roots by default)\n"
	"  yaml FILE        parse the YAML frontmatter of a Markdown file, print it as JSON\n"
	"  json [FILE|-]    parse a JSON document and print it back, compact\n"
	"  git-commit DIR   create a repository in DIR, commit a file, read the commit back\n"
	"  git-ls-remote URL --key FILE --pub FILE --host-key FILE\n"
	"        list the refs of an ssh:// remote, pinning its host key (no TOFU)\n"
	"Run 'bb probe SUBCOMMAND --help' for details.";

static const struct {
	const char *name;
	int (*fn)(int, char **);
} subs[] = {
	{ "git-commit", probe_git_commit },
	{ "git-ls-remote", probe_git_ls_remote },
	{ "json", probe_json },
	{ "tls", probe_tls },
	{ "yaml", probe_yaml },
};

int probe_main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		err_printf("missing subcommand\n%s", usage);
		return BB_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		out_printf("%s\n", usage);
		return BB_EXIT_OK;
	}
	for (i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	err_printf("unknown subcommand '%s'; see 'bb probe --help'", argv[1]);
	return BB_EXIT_USAGE;
}
