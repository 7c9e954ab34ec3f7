/* git-gate.c - git:// server that scans pushes and forwards clean ones upstream (not built yet: issue 7). */
#include "applet.h"

BB_APPLET(git-gate, "git:// server that scans pushes and forwards clean ones upstream")

static const char usage[] =
	"usage: bb git-gate --policy FILE [--listen ADDR:PORT] [--log FILE|-]\n"
	"Serves the bottle's repo mirrors over git:// (default port 9418);\n"
	"pushes are scanned for secrets and forwarded upstream over SSH.";

int git_gate_main(int argc, char **argv)
{
	return applet_unbuilt(argc, argv, usage, 7);
}
