/* netaddr.h - strict IPv4/IPv6 literals, address classes for the egress deny rules, and CIDR allowlists. */
#ifndef BB_NETADDR_H
#define BB_NETADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

/*
 * An IP address. family is AF_INET or AF_INET6; the bytes are in network
 * order, an IPv4 address in b[0..3] (b[4..15] zero). No scope id: bb never
 * dials link-local addresses, so a zone ("fe80::1%eth0") is refused.
 */
struct netaddr {
	int family;
	uint8_t b[16];
};

/* Longest text netaddr_format writes, with the NUL ("ffff:...:255.255.255.255"). */
#define NETADDR_TEXT_MAX 46

/*
 * Parse a canonical IPv4 literal: exactly four decimal octets 0-255, no
 * leading zeros ("010" is octal to inet_aton), no sign, no spaces. The
 * inet_aton shorthands that SSRF payloads use (127.1, 0x7f.0.0.1,
 * 2130706433, 0177.0.0.1) fail with "not a canonical IPv4 address".
 */
int netaddr_parse4(const char *s, size_t len, struct netaddr *out, struct bb_err *e);

/*
 * Parse an IPv6 literal (RFC 4291 text forms: 1-4 hex digits per group, at
 * most one "::", an optional trailing canonical dotted quad). No brackets,
 * no zone id ("%eth0"), no prefix length.
 */
int netaddr_parse6(const char *s, size_t len, struct netaddr *out, struct bb_err *e);

/* Parse either form: IPv6 when s holds a ':', else canonical IPv4. */
int netaddr_parse(const char *s, size_t len, struct netaddr *out, struct bb_err *e);

/*
 * Whether a URL/Host/SNI host names an address rather than a domain: a
 * bracketed "[...]" host, anything with a ':', or any form inet_aton or a
 * browser would read as IPv4 (1 to 4 dot-separated decimal, octal or 0x
 * hex numbers, optionally with a trailing dot: "127.1", "0x7f000001",
 * "2130706433", "1.2.3.4."). Egress refuses all of these as raw IPs, so a
 * non-canonical form cannot slip past as a "name". 1 or 0.
 */
int netaddr_host_is_ip(const char *host, size_t len);

/* Write a (RFC 5952 for IPv6: lowercase, longest zero run as "::", IPv4-mapped as ::ffff:a.b.c.d) into dst. */
int netaddr_format(const struct netaddr *a, char *dst, size_t n);

/* From a struct sockaddr_in/in6 (e.g. getpeername of the upstream); -1 for another family or short len. */
int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct netaddr *out, struct bb_err *e);
/* To a sockaddr_in/in6 with port (host order) for connect(); *len gets its size. */
void netaddr_to_sockaddr(const struct netaddr *a, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

int netaddr_eq(const struct netaddr *a, const struct netaddr *b);

/*
 * What an address is, for the "no private destinations" rule. Everything
 * but NETADDR_PUBLIC is denied by egress. An IPv6 address that embeds an
 * IPv4 one (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, 6to4
 * 2002::/16, NAT64 64:ff9b::/96 and 64:ff9b:1::/48) takes the class of the
 * embedded address when that is not public, so ::ffff:127.0.0.1 is
 * LOOPBACK and 2002:a9fe:a9fe:: is METADATA.
 */
enum netaddr_class {
	NETADDR_PUBLIC = 0,
	NETADDR_UNSPECIFIED,  /* 0.0.0.0, :: */
	NETADDR_THIS_NETWORK, /* 0.0.0.0/8 (Linux connects 0.x to the local host) */
	NETADDR_LOOPBACK,     /* 127.0.0.0/8, ::1 */
	NETADDR_PRIVATE,      /* 10/8, 172.16/12, 192.168/16, deprecated site-local fec0::/10 */
	NETADDR_CGNAT,        /* 100.64.0.0/10 (shared address space) */
	NETADDR_LINK_LOCAL,   /* 169.254.0.0/16, fe80::/10 */
	NETADDR_METADATA,     /* cloud metadata: 169.254.169.254, 169.254.170.2, 100.100.100.200, fd00:ec2::254 */
	NETADDR_ULA,          /* fc00::/7 */
	NETADDR_MULTICAST,    /* 224.0.0.0/4, ff00::/8 */
	NETADDR_BROADCAST,    /* 255.255.255.255 */
	NETADDR_DOCUMENTATION, /* 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20 */
	NETADDR_BENCHMARK,    /* 198.18.0.0/15, 2001:2::/48 */
	NETADDR_RESERVED      /* 240/4, 192.0.0/24, 192.88.99/24, 100::/64, Teredo, ORCHID, outside 2000::/3, ... */
};

enum netaddr_class netaddr_classify(const struct netaddr *a);
/* A short lowercase name for logs and denial messages ("loopback", "link-local", "cloud metadata", ...). */
const char *netaddr_class_name(enum netaddr_class c);
/* 1 when a is a globally routable unicast address egress may connect to. */
int netaddr_is_public(const struct netaddr *a);

/* A CIDR block: addr has its host bits zero; prefix is 0-32 or 0-128. */
struct netaddr_cidr {
	struct netaddr addr;
	unsigned prefix;
};

/*
 * Parse "ADDR/PREFIX" (or a bare ADDR, meaning /32 or /128). Strict: the
 * address part as netaddr_parse, a decimal prefix without leading zeros,
 * and no host bits set past the prefix ("10.0.0.1/8" is refused, as it
 * usually hides a typo).
 */
int netaddr_cidr_parse(const char *s, size_t len, struct netaddr_cidr *out, struct bb_err *e);

/*
 * 1 when a lies in c. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
 * matched as the IPv4 address it carries, so a dual-stack socket's peer
 * cannot dodge an IPv4 rule.
 */
int netaddr_cidr_match(const struct netaddr_cidr *c, const struct netaddr *a);

#endif
