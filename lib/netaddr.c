/* netaddr.c - strict IP literal parsing, formatting, classification and CIDR matching. */
#include "netaddr.h"
#include "hex.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* At most this much of a refused input is echoed into an error message. */
#define ECHO_MAX 64

static int bad4(const char *s, size_t len, struct bb_err *e)
{
	return bb_errf(e, BB_EINVAL, "%.*s: not a canonical IPv4 address", (int)(len > ECHO_MAX ? ECHO_MAX : len), s);
}

static int bad6(const char *s, size_t len, const char *why, struct bb_err *e)
{
	return bb_errf(e, BB_EINVAL, "%.*s: not an IPv6 address (%s)", (int)(len > ECHO_MAX ? ECHO_MAX : len), s, why);
}

/* Four decimal octets into b[0..3]; 0 or -1, no message. */
static int parse_quad(const char *s, size_t len, uint8_t *b)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t start = i;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return -1;
			start = ++i;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		/* 1-3 digits, no leading zero (inet_aton reads "010" as octal), at most 255. */
		if (i == start || (s[start] == '0' && i - start > 1) || v > 255)
			return -1;
		b[part] = (uint8_t)v;
	}
	return i == len ? 0 : -1;
}

int netaddr_parse4(const char *s, size_t len, struct netaddr *out, struct bb_err *e)
{
	struct netaddr a;

	memset(&a, 0, sizeof a);
	a.family = AF_INET;
	if (!s || parse_quad(s, len, a.b) < 0)
		return bad4(s ? s : "", s ? len : 0, e);
	*out = a;
	return 0;
}

int netaddr_parse6(const char *s, size_t len, struct netaddr *out, struct bb_err *e)
{
	uint16_t groups[8];
	size_t ngroups = 0, i = 0, gap = 0; /* gap: index in groups where "::" stands */
	int has_gap = 0;
	struct netaddr a;
	size_t k;

	if (!s)
		return bad6("", 0, "empty", e);
	if (len < 2)
		return bad6(s, len, "too short", e);
	if (memchr(s, '%', len))
		return bad6(s, len, "zone ids are not accepted", e);
	if (s[0] == ':') {
		if (s[1] != ':')
			return bad6(s, len, "starts with a single ':'", e);
		has_gap = 1;
		i = 2;
		if (i == len)
			goto done;
	}
	for (;;) {
		size_t start = i;
		unsigned v = 0;
		int h;

		while (i < len && (h = hex_val(s[i])) >= 0 && i - start < 4) {
			v = v * 16 + (unsigned)h;
			i++;
		}
		if (i < len && s[i] == '.') {
			/* A trailing dotted quad fills the last two groups. */
			uint8_t q[4];

			if (ngroups > 6 || parse_quad(s + start, len - start, q) < 0)
				return bad6(s, len, "bad embedded IPv4 address", e);
			groups[ngroups++] = (uint16_t)(q[0] << 8 | q[1]);
			groups[ngroups++] = (uint16_t)(q[2] << 8 | q[3]);
			i = len;
			break;
		}
		if (i == start)
			return bad6(s, len, "empty or non-hex group", e);
		if (i < len && hex_val(s[i]) >= 0)
			return bad6(s, len, "group longer than 4 hex digits", e);
		if (ngroups == 8)
			return bad6(s, len, "more than 8 groups", e);
		groups[ngroups++] = (uint16_t)v;
		if (i == len)
			break;
		if (s[i] != ':')
			return bad6(s, len, "unexpected character", e);
		i++;
		if (i < len && s[i] == ':') {
			if (has_gap)
				return bad6(s, len, "more than one '::'", e);
			has_gap = 1;
			gap = ngroups;
			i++;
			if (i == len)
				break;
		} else if (i == len) {
			return bad6(s, len, "ends with a single ':'", e);
		}
	}
done:
	if (!has_gap && ngroups != 8)
		return bad6(s, len, "fewer than 8 groups and no '::'", e);
	/* "::" stands for at least one zero group (RFC 4291 2.2). */
	if (has_gap && ngroups > 7)
		return bad6(s, len, "'::' with 8 other groups", e);
	memset(&a, 0, sizeof a);
	a.family = AF_INET6;
	for (k = 0; k < ngroups; k++) {
		size_t at = (!has_gap || k < gap) ? k : k + (8 - ngroups);

		a.b[2 * at] = (uint8_t)(groups[k] >> 8);
		a.b[2 * at + 1] = (uint8_t)groups[k];
	}
	*out = a;
	return 0;
}

int netaddr_parse(const char *s, size_t len, struct netaddr *out, struct bb_err *e)
{
	if (s && memchr(s, ':', len))
		return netaddr_parse6(s, len, out, e);
	return netaddr_parse4(s, len, out, e);
}

/* One inet_aton-style number: decimal, 0-octal or 0x-hex (no digits after 0x is still a number to some parsers). */
static int is_aton_number(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return 0;
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < len; i++)
			if (hex_val(s[i]) < 0)
				return 0;
		return 1;
	}
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int netaddr_host_is_ip(const char *host, size_t len)
{
	size_t i, start = 0, parts = 0;

	if (!host || len == 0)
		return 0;
	if (host[0] == '[' || memchr(host, ':', len))
		return 1;
	if (host[len - 1] == '.')
		len--; /* "1.2.3.4." still dials 1.2.3.4 through many resolvers */
	if (len == 0)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i == len || host[i] == '.') {
			if (!is_aton_number(host + start, i - start))
				return 0;
			parts++;
			start = i + 1;
		}
	}
	return parts >= 1 && parts <= 4;
}

int netaddr_format(const struct netaddr *a, char *dst, size_t n)
{
	char tmp[NETADDR_TEXT_MAX];
	size_t pos = 0;
	int best = -1, bestlen = 0, run = -1, k, w;
	uint16_t g[8];

	if (!dst || n == 0)
		return -1;
	dst[0] = '\0';
	if (a->family == AF_INET) {
		w = snprintf(tmp, sizeof tmp, "%u.%u.%u.%u", a->b[0], a->b[1], a->b[2], a->b[3]);
	} else if (a->family == AF_INET6) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (memcmp(a->b, mapped, 12) == 0) {
			w = snprintf(tmp, sizeof tmp, "::ffff:%u.%u.%u.%u", a->b[12], a->b[13], a->b[14], a->b[15]);
		} else {
			for (k = 0; k < 8; k++)
				g[k] = (uint16_t)(a->b[2 * k] << 8 | a->b[2 * k + 1]);
			/* Longest run of two or more zero groups (first one on a tie) becomes "::". */
			for (k = 0; k <= 8; k++) {
				if (k < 8 && g[k] == 0) {
					if (run < 0)
						run = k;
				} else if (run >= 0) {
					if (k - run > bestlen && k - run >= 2) {
						best = run;
						bestlen = k - run;
					}
					run = -1;
				}
			}
			for (k = 0; k < 8; k++) {
				if (k == best) {
					pos += (size_t)snprintf(tmp + pos, sizeof tmp - pos, "::");
					k += bestlen - 1;
					continue;
				}
				pos += (size_t)snprintf(tmp + pos, sizeof tmp - pos, "%s%x",
							(k == 0 || k == best + bestlen) ? "" : ":", g[k]);
			}
			w = (int)pos;
		}
	} else {
		return -1;
	}
	if (w < 0 || (size_t)w >= n)
		return -1;
	memcpy(dst, tmp, (size_t)w + 1);
	return 0;
}

int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct netaddr *out, struct bb_err *e)
{
	memset(out, 0, sizeof *out);
	if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		out->family = AF_INET;
		memcpy(out->b, &in->sin_addr, 4);
		return 0;
	}
	if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		out->family = AF_INET6;
		memcpy(out->b, &in6->sin6_addr, 16);
		return 0;
	}
	return bb_errf(e, BB_EINVAL, "not an IPv4 or IPv6 socket address");
}

void netaddr_to_sockaddr(const struct netaddr *a, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a->b, 16);
		*len = sizeof *in6;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a->b, 4);
		*len = sizeof *in;
	}
}

int netaddr_eq(const struct netaddr *a, const struct netaddr *b)
{
	return a->family == b->family && memcmp(a->b, b->b, 16) == 0;
}

/* First `bits` bits of x equal those of prefix. */
static int prefix_eq(const uint8_t *x, const uint8_t *prefix, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(x, prefix, full) != 0)
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((x[full] & mask) != (prefix[full] & mask))
			return 0;
	}
	return 1;
}

struct range4 {
	uint8_t net[4];
	unsigned bits;
	enum netaddr_class cls;
};

/* Most specific first: the metadata hosts sit inside link-local and CGNAT. */
static const struct range4 ranges4[] = {
	{ { 169, 254, 169, 254 }, 32, NETADDR_METADATA }, /* AWS, GCP, Azure, OpenStack, ... */
	{ { 169, 254, 170, 2 }, 32, NETADDR_METADATA },   /* AWS ECS task metadata */
	{ { 100, 100, 100, 200 }, 32, NETADDR_METADATA }, /* Alibaba Cloud */
	{ { 0, 0, 0, 0 }, 32, NETADDR_UNSPECIFIED },
	{ { 255, 255, 255, 255 }, 32, NETADDR_BROADCAST },
	{ { 0, 0, 0, 0 }, 8, NETADDR_THIS_NETWORK },
	{ { 10, 0, 0, 0 }, 8, NETADDR_PRIVATE },
	{ { 100, 64, 0, 0 }, 10, NETADDR_CGNAT },
	{ { 127, 0, 0, 0 }, 8, NETADDR_LOOPBACK },
	{ { 169, 254, 0, 0 }, 16, NETADDR_LINK_LOCAL },
	{ { 172, 16, 0, 0 }, 12, NETADDR_PRIVATE },
	{ { 192, 0, 0, 0 }, 24, NETADDR_RESERVED }, /* IETF protocol assignments */
	{ { 192, 0, 2, 0 }, 24, NETADDR_DOCUMENTATION },
	{ { 192, 88, 99, 0 }, 24, NETADDR_RESERVED }, /* deprecated 6to4 relay anycast */
	{ { 192, 168, 0, 0 }, 16, NETADDR_PRIVATE },
	{ { 198, 18, 0, 0 }, 15, NETADDR_BENCHMARK },
	{ { 198, 51, 100, 0 }, 24, NETADDR_DOCUMENTATION },
	{ { 203, 0, 113, 0 }, 24, NETADDR_DOCUMENTATION },
	{ { 224, 0, 0, 0 }, 4, NETADDR_MULTICAST },
	{ { 240, 0, 0, 0 }, 4, NETADDR_RESERVED },
};

static enum netaddr_class classify4(const uint8_t *b)
{
	size_t i;

	for (i = 0; i < sizeof ranges4 / sizeof ranges4[0]; i++)
		if (prefix_eq(b, ranges4[i].net, ranges4[i].bits))
			return ranges4[i].cls;
	return NETADDR_PUBLIC;
}

struct range6 {
	uint8_t net[16];
	unsigned bits;
	enum netaddr_class cls;
};

static const struct range6 ranges6[] = {
	{ { 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54 }, 128, NETADDR_METADATA }, /* fd00:ec2::254, AWS IMDS */
	{ { [15] = 1 }, 128, NETADDR_LOOPBACK },
	{ { 0 }, 128, NETADDR_UNSPECIFIED },
	{ { 0x01, 0x00 }, 64, NETADDR_RESERVED },              /* 100::/64 discard-only */
	{ { 0x20, 0x01, 0x00, 0x00 }, 32, NETADDR_RESERVED },  /* Teredo: hides an IPv4 endpoint */
	{ { 0x20, 0x01, 0x00, 0x02, 0, 0 }, 48, NETADDR_BENCHMARK },
	{ { 0x20, 0x01, 0x00, 0x10 }, 28, NETADDR_RESERVED },  /* ORCHID (deprecated) */
	{ { 0x20, 0x01, 0x00, 0x20 }, 28, NETADDR_RESERVED },  /* ORCHIDv2 */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, NETADDR_DOCUMENTATION },
	{ { 0x3f, 0xff, 0x00 }, 20, NETADDR_DOCUMENTATION },
	{ { 0x5f, 0x00 }, 16, NETADDR_RESERVED },              /* SRv6 SIDs */
	{ { 0xfc }, 7, NETADDR_ULA },
	{ { 0xfe, 0x80 }, 10, NETADDR_LINK_LOCAL },
	{ { 0xfe, 0xc0 }, 10, NETADDR_PRIVATE },               /* site-local (deprecated) */
	{ { 0xff }, 8, NETADDR_MULTICAST },
};

/* The IPv4 address an IPv6 one carries by a standard embedding, or NULL. */
static const uint8_t *embedded4(const uint8_t *b, int *deprecated_compat)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t zero12[12] = { 0 };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const uint8_t nat64_local[6] = { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 };

	*deprecated_compat = 0;
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
		return b + 12;
	if (memcmp(b, nat64_local, 6) == 0)
		return b + 12; /* RFC 8215 leaves the layout to the operator; /96 is the usual one */
	if (memcmp(b, zero12, 12) == 0) {
		*deprecated_compat = 1;
		return b + 12;
	}
	if (b[0] == 0x20 && b[1] == 0x02)
		return b + 2; /* 6to4 */
	return NULL;
}

static enum netaddr_class classify6(const uint8_t *b)
{
	const uint8_t *v4;
	int compat;
	size_t i;

	for (i = 0; i < sizeof ranges6 / sizeof ranges6[0]; i++)
		if (prefix_eq(b, ranges6[i].net, ranges6[i].bits))
			return ranges6[i].cls;
	v4 = embedded4(b, &compat);
	if (v4) {
		enum netaddr_class c = classify4(v4);

		if (c != NETADDR_PUBLIC)
			return c;
		/* ::a.b.c.d was deprecated by RFC 4291; nothing legitimate dials it. */
		return compat ? NETADDR_RESERVED : NETADDR_PUBLIC;
	}
	if ((b[0] & 0xe0) != 0x20)
		return NETADDR_RESERVED; /* only 2000::/3 is global unicast */
	return NETADDR_PUBLIC;
}

enum netaddr_class netaddr_classify(const struct netaddr *a)
{
	if (a->family == AF_INET)
		return classify4(a->b);
	if (a->family == AF_INET6)
		return classify6(a->b);
	return NETADDR_RESERVED;
}

const char *netaddr_class_name(enum netaddr_class c)
{
	switch (c) {
	case NETADDR_PUBLIC: return "public";
	case NETADDR_UNSPECIFIED: return "unspecified";
	case NETADDR_THIS_NETWORK: return "this-network";
	case NETADDR_LOOPBACK: return "loopback";
	case NETADDR_PRIVATE: return "private";
	case NETADDR_CGNAT: return "carrier-grade NAT";
	case NETADDR_LINK_LOCAL: return "link-local";
	case NETADDR_METADATA: return "cloud metadata";
	case NETADDR_ULA: return "unique local";
	case NETADDR_MULTICAST: return "multicast";
	case NETADDR_BROADCAST: return "broadcast";
	case NETADDR_DOCUMENTATION: return "documentation";
	case NETADDR_BENCHMARK: return "benchmarking";
	case NETADDR_RESERVED: return "reserved";
	}
	return "reserved";
}

int netaddr_is_public(const struct netaddr *a)
{
	return netaddr_classify(a) == NETADDR_PUBLIC;
}

int netaddr_cidr_parse(const char *s, size_t len, struct netaddr_cidr *out, struct bb_err *e)
{
	const char *slash = s ? memchr(s, '/', len) : NULL;
	size_t alen = slash ? (size_t)(slash - s) : len;
	struct netaddr_cidr c;
	unsigned max;
	size_t i;

	memset(&c, 0, sizeof c);
	if (netaddr_parse(s, alen, &c.addr, e) < 0)
		return -1;
	max = c.addr.family == AF_INET ? 32 : 128;
	c.prefix = max;
	if (slash) {
		const char *p = slash + 1;
		size_t plen = len - alen - 1;
		unsigned v = 0;

		if (plen == 0 || plen > 3 || (p[0] == '0' && plen > 1))
			return bb_errf(e, BB_EINVAL, "%.*s: bad prefix length", (int)(len > ECHO_MAX ? ECHO_MAX : len), s);
		for (i = 0; i < plen; i++) {
			if (p[i] < '0' || p[i] > '9')
				return bb_errf(e, BB_EINVAL, "%.*s: bad prefix length",
					       (int)(len > ECHO_MAX ? ECHO_MAX : len), s);
			v = v * 10 + (unsigned)(p[i] - '0');
		}
		if (v > max)
			return bb_errf(e, BB_EINVAL, "%.*s: prefix length above %u", (int)(len > ECHO_MAX ? ECHO_MAX : len),
				       s, max);
		c.prefix = v;
	}
	for (i = 0; i < max / 8; i++) {
		unsigned bit0 = (unsigned)i * 8;
		uint8_t mask = bit0 + 8 <= c.prefix ? 0xff : bit0 >= c.prefix ? 0 : (uint8_t)(0xff << (8 - (c.prefix - bit0)));

		if (c.addr.b[i] & (uint8_t)~mask)
			return bb_errf(e, BB_EINVAL, "%.*s: host bits set past the /%u prefix",
				       (int)(len > ECHO_MAX ? ECHO_MAX : len), s, c.prefix);
	}
	*out = c;
	return 0;
}

int netaddr_cidr_match(const struct netaddr_cidr *c, const struct netaddr *a)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (c->addr.family == AF_INET && a->family == AF_INET6 && memcmp(a->b, mapped, 12) == 0)
		return prefix_eq(a->b + 12, c->addr.b, c->prefix);
	if (c->addr.family != a->family)
		return 0;
	return prefix_eq(a->b, c->addr.b, c->prefix);
}
