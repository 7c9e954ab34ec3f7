/* fuzz_netaddr.c - fuzzer for lib/netaddr: IPv4/IPv6 literals, CIDR blocks, the raw-IP host test, formatting round trips. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "netaddr.h"

/* Whatever parses formats to text that parses back to the same address, and has one class. */
static void round_trip(const struct netaddr *a)
{
	char txt[NETADDR_TEXT_MAX];
	struct netaddr b;
	struct sockaddr_storage ss;
	socklen_t sl;
	enum netaddr_class c = netaddr_classify(a);

	CHECK(a->family == AF_INET || a->family == AF_INET6);
	CHECK(netaddr_format(a, txt, sizeof txt) >= 0);
	CHECK(strlen(txt) < NETADDR_TEXT_MAX);
	CHECK(netaddr_parse(txt, strlen(txt), &b, NULL) == 0 && netaddr_eq(a, &b));
	CHECK(netaddr_host_is_ip(txt, strlen(txt)));
	CHECK(netaddr_class_name(c) != NULL);
	CHECK(netaddr_is_public(a) == (c == NETADDR_PUBLIC));
	netaddr_to_sockaddr(a, 443, &ss, &sl);
	CHECK(netaddr_from_sockaddr((struct sockaddr *)&ss, sl, &b, NULL) == 0 && netaddr_eq(a, &b));
	/* the libc agrees that the text is an address of that family */
	{
		unsigned char raw[16];
		CHECK(inet_pton(a->family, txt, raw) == 1);
		CHECK(!memcmp(raw, a->b, a->family == AF_INET ? 4 : 16));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct netaddr a, a4, a6;
	struct netaddr_cidr c;
	int r4, r6;

	if (size > 256)
		return 0;
	r4 = netaddr_parse4(s, size, &a4, NULL);
	r6 = netaddr_parse6(s, size, &a6, NULL);
	if (netaddr_parse(s, size, &a, NULL) == 0) {
		CHECK(r4 == 0 || r6 == 0);
		CHECK(netaddr_host_is_ip(s, size));
		round_trip(&a);
	}
	if (r4 == 0) {
		CHECK(a4.family == AF_INET && !memchr(s, ':', size));
		round_trip(&a4);
	}
	if (r6 == 0) {
		CHECK(a6.family == AF_INET6);
		round_trip(&a6);
	}
	(void)netaddr_host_is_ip(s, size);
	if (netaddr_cidr_parse(s, size, &c, NULL) == 0) {
		unsigned max = c.addr.family == AF_INET ? 32 : 128;
		CHECK(c.prefix <= max);
		/* the block's own base address is in it; so is anything matching */
		CHECK(netaddr_cidr_match(&c, &c.addr));
		if (r4 == 0 || r6 == 0)
			CHECK(c.prefix == max);
	}
	/* with both the first and a later address: matching never crashes across families */
	if (size >= 2 && netaddr_cidr_parse(s, size / 2, &c, NULL) == 0 && netaddr_parse(s + size / 2, size - size / 2, &a, NULL) == 0)
		(void)netaddr_cidr_match(&c, &a);
	return 0;
}
