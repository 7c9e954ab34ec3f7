/* init.c - PID 1 of the agent and sidecar containers (not built yet: issue 8). */
#include "applet.h"

BB_APPLET(init, "PID 1 of the agent and sidecar containers")

static const char usage[] =
	"usage: bb init [--sidecar | --agent [OPTIONS] -- CMD [ARGS...]]\n"
	"Reaps zombies, forwards signals and exits with the worst child status.\n"
	"  --sidecar   start the daemons in BB_SIDECAR_DAEMONS and restart them on crash\n"
	"  --agent     set route and DNS, drop capabilities, then exec CMD as non-root";

int init_main(int argc, char **argv)
{
	return applet_unbuilt(argc, argv, usage, 8);
}
