/* netlink.c - rtnetlink requests: veth pairs, addresses, link state, default route. */
#include "netlink.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct nlreq {
	struct nlmsghdr h;
	unsigned char body[1024];
};

static struct rtattr *nl_attr(struct nlmsghdr *h, size_t cap, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
	size_t need = RTA_SPACE(len);
	if (NLMSG_ALIGN(h->nlmsg_len) + need > cap)
		return NULL;
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = (unsigned)(NLMSG_ALIGN(h->nlmsg_len) + need);
	return a;
}

/* Close a nested attribute opened at a: its length runs to the end of the message. */
static void nl_nest_end(struct nlmsghdr *h, struct rtattr *a)
{
	a->rta_len = (unsigned short)((char *)h + h->nlmsg_len - (char *)a);
}

static int nl_talk(struct nlmsghdr *h, const char *what, struct bb_err *e)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096];
	ssize_t n;
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return bb_errno(e, errno, "netlink: %s: socket", what);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = 1;
	if (sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int err = errno;
		close(fd);
		return bb_errno(e, err, "netlink: %s", what);
	}
	for (;;) {
		struct nlmsghdr *r;
		n = recv(fd, buf, sizeof buf, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EPROTO;
			close(fd);
			return bb_errno(e, err, "netlink: %s: no answer", what);
		}
		for (r = (struct nlmsghdr *)buf; NLMSG_OK(r, (unsigned)n); r = NLMSG_NEXT(r, n)) {
			if (r->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *err = NLMSG_DATA(r);
				close(fd);
				if (err->error)
					return bb_errno(e, -err->error, "netlink: %s", what);
				return 0;
			}
		}
	}
}

int nl_ifindex(const char *name, struct bb_err *e)
{
	unsigned i = if_nametoindex(name);
	if (!i)
		return bb_errno(e, errno, "no interface %s", name);
	return (int)i;
}

int nl_veth_create(const char *name, const char *peer, int peer_netns_fd, struct bb_err *e)
{
	struct nlreq r = { 0 };
	struct ifinfomsg *ifi = NLMSG_DATA(&r.h), *pifi;
	struct rtattr *linkinfo, *data, *peerattr;
	char what[80];
	size_t cap = sizeof r;

	snprintf(what, sizeof what, "add veth %s/%s", name, peer);
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof *ifi);
	r.h.nlmsg_type = RTM_NEWLINK;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifi->ifi_family = AF_UNSPEC;
	if (!nl_attr(&r.h, cap, IFLA_IFNAME, name, strlen(name) + 1) ||
	    !(linkinfo = nl_attr(&r.h, cap, IFLA_LINKINFO, NULL, 0)) || !nl_attr(&r.h, cap, IFLA_INFO_KIND, "veth", 5) ||
	    !(data = nl_attr(&r.h, cap, IFLA_INFO_DATA, NULL, 0)) || !(peerattr = nl_attr(&r.h, cap, VETH_INFO_PEER, NULL, 0)))
		return bb_errf(e, BB_ETOOBIG, "netlink: %s: message too long", what);
	/* The peer's ifinfomsg, then its own attributes. */
	pifi = (struct ifinfomsg *)((char *)&r.h + r.h.nlmsg_len);
	memset(pifi, 0, sizeof *pifi);
	r.h.nlmsg_len += (unsigned)NLMSG_ALIGN(sizeof *pifi);
	if (!nl_attr(&r.h, cap, IFLA_IFNAME, peer, strlen(peer) + 1))
		return bb_errf(e, BB_ETOOBIG, "netlink: %s: message too long", what);
	if (peer_netns_fd >= 0) {
		uint32_t fd = (uint32_t)peer_netns_fd;
		if (!nl_attr(&r.h, cap, IFLA_NET_NS_FD, &fd, sizeof fd))
			return bb_errf(e, BB_ETOOBIG, "netlink: %s: message too long", what);
	}
	nl_nest_end(&r.h, peerattr);
	nl_nest_end(&r.h, data);
	nl_nest_end(&r.h, linkinfo);
	return nl_talk(&r.h, what, e);
}

int nl_link_up(int ifindex, struct bb_err *e)
{
	struct nlreq r = { 0 };
	struct ifinfomsg *ifi = NLMSG_DATA(&r.h);
	char what[40];
	snprintf(what, sizeof what, "set link %d up", ifindex);
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof *ifi);
	r.h.nlmsg_type = RTM_NEWLINK;
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_talk(&r.h, what, e);
}

int nl_addr4_add(int ifindex, uint32_t addr, unsigned prefix, struct bb_err *e)
{
	struct nlreq r = { 0 };
	struct ifaddrmsg *ifa = NLMSG_DATA(&r.h);
	char what[40];
	snprintf(what, sizeof what, "add address to link %d", ifindex);
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof *ifa);
	r.h.nlmsg_type = RTM_NEWADDR;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_index = (unsigned)ifindex;
	if (!nl_attr(&r.h, sizeof r, IFA_LOCAL, &addr, 4) || !nl_attr(&r.h, sizeof r, IFA_ADDRESS, &addr, 4))
		return bb_errf(e, BB_ETOOBIG, "netlink: %s: message too long", what);
	return nl_talk(&r.h, what, e);
}

int nl_route_default(int family, const void *gw, struct bb_err *e)
{
	struct nlreq r = { 0 };
	struct rtmsg *rt = NLMSG_DATA(&r.h);
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof *rt);
	r.h.nlmsg_type = RTM_NEWROUTE;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	rt->rtm_family = (unsigned char)family;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	if (family != AF_INET && family != AF_INET6)
		return bb_errf(e, BB_EINVAL, "netlink: default route: unknown address family %d", family);
	if (!nl_attr(&r.h, sizeof r, RTA_GATEWAY, gw, family == AF_INET ? 4 : 16))
		return bb_errf(e, BB_ETOOBIG, "netlink: add default route: message too long");
	return nl_talk(&r.h, "add default route", e);
}
