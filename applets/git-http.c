/* git-http.c - smart-HTTP git server with the same push gate (not built yet: issue 7). */
#include "applet.h"

BB_APPLET(git-http, "smart-HTTP git server with the same push gate")

static const char usage[] =
	"usage: bb git-http --policy FILE [--listen ADDR:PORT] [--log FILE|-]\n"
	"Serves the bottle's repo mirrors over smart HTTP (default port 9420).";

int git_http_main(int argc, char **argv)
{
	return applet_unbuilt(argc, argv, usage, 7);
}
