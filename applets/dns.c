/* dns.c - DNS resolver that answers only names the policy allows (not built yet: issue 8). */
#include "applet.h"

BB_APPLET(dns, "DNS resolver that answers only names the policy allows")

static const char usage[] =
	"usage: bb dns --policy FILE [--listen ADDR:PORT] [--upstream ADDR:PORT]\n"
	"Answers allowed names, refuses the rest and logs every decision.";

int dns_main(int argc, char **argv)
{
	return applet_unbuilt(argc, argv, usage, 8);
}
