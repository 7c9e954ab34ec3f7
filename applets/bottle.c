/* bottle.c - host commands: start, run, list, stop, validate, plan, ca, ... (not built yet: issue 10). */
#include "applet.h"

BB_APPLET(bottle, "host commands: start, run, list, stop, validate, plan, ca, ...")

static const char usage[] =
	"usage: bb bottle COMMAND [ARGS...]\n"
	"  start AGENT   start a bottle    validate [NAME...]   check manifests\n"
	"  plan NAME     show the resolved configuration (--json)\n"
	"  list | inspect | logs | stop | resume | cleanup | dashboard | ca";

int bottle_main(int argc, char **argv)
{
	return applet_unbuilt(argc, argv, usage, 10);
}
