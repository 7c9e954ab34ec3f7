/* route.c - `bb init --agent --gateway`: the default route set with one RTM_NEWROUTE over rtnetlink. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fd.h"
#include "init.h"

/* linux/netlink.h and linux/rtnetlink.h (musl has no kernel headers): stable ABI. */
#define NL_ROUTE_PROTO 0 /* NETLINK_ROUTE */
#define NL_MSG_ERROR 2
#define NL_MSG_DONE 3
#define NL_F_REQUEST 0x1
#define NL_F_ACK 0x4
#define NL_F_REPLACE 0x100
#define NL_F_CREATE 0x400
#define RT_NEWROUTE 24
#define RT_TABLE_MAIN_ID 254
#define RT_PROTO_BOOT 3
#define RT_SCOPE_UNIVERSE_ID 0
#define RT_UNICAST 1
#define RT_ATTR_GATEWAY 5
#define NL_ALIGN(n) (((n) + 3u) & ~3u)

struct nl_hdr {
	uint32_t len;
	uint16_t type;
	uint16_t flags;
	uint32_t seq;
	uint32_t pid;
};

struct nl_rtmsg {
	unsigned char family, dst_len, src_len, tos, table, protocol, scope, type;
	uint32_t flags;
};

struct nl_attr {
	uint16_t len;
	uint16_t type;
};

struct nl_sockaddr {
	sa_family_t family;
	unsigned short pad;
	uint32_t pid;
	uint32_t groups;
};

/* The kernel's answer to our request: 0 (acked), a positive errno, or -1 when none was found in buf. */
static int ack_status(const unsigned char *buf, size_t n, uint32_t seq)
{
	size_t off = 0;

	while (off + sizeof(struct nl_hdr) <= n) {
		struct nl_hdr h;

		memcpy(&h, buf + off, sizeof h);
		if (h.len < sizeof h || h.len > n - off)
			return -1;
		if (h.seq == seq && h.type == NL_MSG_ERROR) {
			int32_t err;

			if (h.len < sizeof h + sizeof err)
				return -1;
			memcpy(&err, buf + off + sizeof h, sizeof err);
			return err < 0 ? -err : err;
		}
		off += NL_ALIGN(h.len);
	}
	return -1;
}

int init_route_default_via(const char *gw, struct bb_err *e)
{
	struct {
		struct nl_hdr h;
		struct nl_rtmsg r;
		struct nl_attr a;
		unsigned char addr[16];
	} req;
	struct nl_sockaddr kernel = { AF_NETLINK, 0, 0, 0 };
	struct timeval tv = { 5, 0 };
	unsigned char reply[8192];
	size_t alen;
	int family, fd, st = -1;
	uint32_t seq = (uint32_t)getpid() ^ 0x62620001u;

	memset(&req, 0, sizeof req);
	if (inet_pton(AF_INET, gw, req.addr) == 1) {
		family = AF_INET;
		alen = 4;
	} else if (inet_pton(AF_INET6, gw, req.addr) == 1) {
		family = AF_INET6;
		alen = 16;
	} else {
		return bb_errf(e, BB_EINVAL, "route: '%s' is not an IPv4 or IPv6 address", gw);
	}
	req.h.type = RT_NEWROUTE;
	req.h.flags = NL_F_REQUEST | NL_F_ACK | NL_F_CREATE | NL_F_REPLACE;
	req.h.seq = seq;
	req.r.family = (unsigned char)family;
	req.r.table = RT_TABLE_MAIN_ID;
	req.r.protocol = RT_PROTO_BOOT;
	req.r.scope = RT_SCOPE_UNIVERSE_ID;
	req.r.type = RT_UNICAST;
	req.a.len = (uint16_t)(sizeof req.a + alen);
	req.a.type = RT_ATTR_GATEWAY;
	req.h.len = (uint32_t)(sizeof req.h + sizeof req.r + NL_ALIGN(req.a.len));

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NL_ROUTE_PROTO);
	if (fd < 0)
		return bb_errno(e, errno, "route: netlink socket");
	/* A kernel that never answers must not hang PID 1 before the agent even starts. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (sendto(fd, &req, req.h.len, 0, (struct sockaddr *)&kernel, sizeof kernel) != (ssize_t)req.h.len) {
		bb_errno(e, errno, "route: sending RTM_NEWROUTE");
		fd_close(fd);
		return -1;
	}
	while (st < 0) {
		ssize_t n = recv(fd, reply, sizeof reply, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			bb_errno(e, n < 0 ? errno : EPROTO, "route: waiting for the kernel's answer");
			fd_close(fd);
			return -1;
		}
		st = ack_status(reply, (size_t)n, seq);
	}
	fd_close(fd);
	if (st > 0)
		return bb_errno(e, st, "route: default via %s", gw);
	return 0;
}
