/* egress.c - HTTP(S) forward proxy: routes, credential injection, DLP, audit (not built yet: issue 6). */
#include "applet.h"

BB_APPLET(egress, "HTTP(S) forward proxy: routes, credential injection, DLP, audit")

static const char usage[] =
	"usage: bb egress --policy FILE [--listen ADDR:PORT] [--log FILE|-]\n"
	"The bottle's only way out: allowlisted routes, injected credentials, DLP.\n"
	"  -p, --policy FILE   egress part of `bb bottle plan --json`\n"
	"  -l, --listen ADDR:PORT   default 0.0.0.0:9099\n"
	"  -L, --log FILE|-    JSON-lines audit log";

int egress_main(int argc, char **argv)
{
	return applet_unbuilt(argc, argv, usage, 6);
}
