/* route.c - `bb init --agent --gateway`: the default route, set over rtnetlink (lib/netlink). */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "init.h"
#include "netlink.h"

int init_route_default_via(const char *gw, struct bb_err *e)
{
	unsigned char addr[16];
	int family;

	if (inet_pton(AF_INET, gw, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, gw, addr) == 1)
		family = AF_INET6;
	else
		return bb_errf(e, BB_EINVAL, "route: '%s' is not an IPv4 or IPv6 address", gw);
	if (nl_route_default(family, addr, e) < 0) {
		/* The kernel's errno says it all: "route: default via GW: Network unreachable". */
		if (e && e->code > 0 && e->code < 1000)
			return bb_errno(e, e->code, "route: default via %s", gw);
		return bb_err_wrap(e, "route: default via %s", gw);
	}
	return 0;
}
