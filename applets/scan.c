/* scan.c - scan files or stdin for secrets with the built-in rules (not built yet: issue 5). */
#include "applet.h"

BB_APPLET(scan, "scan files or stdin for secrets with the built-in rules")

static const char usage[] =
	"usage: bb scan [--json] PATH...|-\n"
	"Exit 1 when a secret is found.";

int scan_main(int argc, char **argv)
{
	return applet_unbuilt(argc, argv, usage, 5);
}
