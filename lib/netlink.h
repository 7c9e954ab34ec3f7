/* netlink.h - the few rtnetlink calls a bottle's network needs (veth pair, addresses, link up, default route), without the ip binary. */
#ifndef BB_NETLINK_H
#define BB_NETLINK_H
#include <stdint.h>

#include "err.h"

/*
 * Each call opens a NETLINK_ROUTE socket in the calling thread's current
 * network namespace, sends one request with NLM_F_ACK and reads the ack
 * (at most 5 s: a kernel that never answers must not hang PID 1): the
 * kernel's errno comes back in e ("netlink: add veth bb0: File exists").
 */

/* The index of interface name in the current namespace, or -1 with e set. */
int nl_ifindex(const char *name, struct bb_err *e);
/*
 * Create a veth pair: name here, peer moved straight into the network
 * namespace open at peer_netns_fd (-1: leave it here).
 */
int nl_veth_create(const char *name, const char *peer, int peer_netns_fd, struct bb_err *e);
/* Bring interface index up. */
int nl_link_up(int ifindex, struct bb_err *e);
/* Add IPv4 address addr/prefix (network byte order) to interface index. */
int nl_addr4_add(int ifindex, uint32_t addr, unsigned prefix, struct bb_err *e);
/*
 * Set the default route of family (AF_INET or AF_INET6) via gw (4 or 16
 * bytes, network order), replacing any there is.
 */
int nl_route_default(int family, const void *gw, struct bb_err *e);

#endif
