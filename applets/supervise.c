/* supervise.c - MCP server through which the agent asks the operator (not built yet: issue 8). */
#include "applet.h"

BB_APPLET(supervise, "MCP server through which the agent asks the operator")

static const char usage[] =
	"usage: bb supervise --policy FILE [--listen ADDR:PORT] [--queue DIR]\n"
	"Model Context Protocol over streamable HTTP (default port 9100).";

int supervise_main(int argc, char **argv)
{
	return applet_unbuilt(argc, argv, usage, 8);
}
