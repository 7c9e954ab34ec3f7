/* test_netaddr.c - unit tests of lib/netaddr: strict literals, SSRF shorthands, classes, formatting, CIDR. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "netaddr.h"
#include "t.h"

static int parse(const char *s, struct netaddr *a)
{
	return netaddr_parse(s, strlen(s), a, NULL);
}

static const char *fmt(const char *s)
{
	static char out[NETADDR_TEXT_MAX];
	struct netaddr a;

	if (parse(s, &a) < 0)
		return "(parse failed)";
	if (netaddr_format(&a, out, sizeof out) < 0)
		return "(format failed)";
	return out;
}

static enum netaddr_class cls(const char *s)
{
	struct netaddr a;

	if (parse(s, &a) < 0) {
		printf("#   cannot parse %s\n", s);
		return (enum netaddr_class)-1;
	}
	return netaddr_classify(&a);
}

static void ipv4_canonical_accepted(void)
{
	struct netaddr a;

	T_CHECK(parse("1.2.3.4", &a) == 0 && a.family == AF_INET && a.b[0] == 1 && a.b[3] == 4);
	T_CHECK(parse("0.0.0.0", &a) == 0);
	T_CHECK(parse("255.255.255.255", &a) == 0 && a.b[2] == 255);
	T_CHECK(parse("10.0.0.10", &a) == 0 && a.b[3] == 10);
	T_CHECK(parse("192.168.100.200", &a) == 0 && a.b[2] == 100);
}

static void ipv4_ssrf_shorthands_refused(void)
{
	static const char *bad[] = {
		"127.1", "127.0.1", "0x7f.0.0.1", "0x7f000001", "2130706433", "0177.0.0.1", "017700000001",
		"127.0.0.01", "00.0.0.0", "1.2.3.256", "1.2.3.4.", ".1.2.3.4", "1.2.3.4.5", "1..2.3", "",
		"1.2.3.-4", "+1.2.3.4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n", "1.2.3.0004", "1.2.3", "a.b.c.d",
		"127.0.0.1%00", "1.2.3.4/32", "1000.2.3.4",
	};
	struct bb_err e;
	struct netaddr a;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bb_err_clear(&e);
		if (netaddr_parse4(bad[i], strlen(bad[i]), &a, &e) == 0) {
			printf("#   accepted %s\n", bad[i]);
			T_CHECK(0);
		}
		T_CHECK(strstr(e.msg, "not a canonical IPv4 address") != NULL);
	}
	/* A NUL inside the length is not the end of the string. */
	T_CHECK(netaddr_parse4("1.2.3.4\0", 8, &a, NULL) < 0);
	T_CHECK(netaddr_parse4(NULL, 0, &a, NULL) < 0);
}

static void ipv6_forms(void)
{
	struct netaddr a;

	T_CHECK(parse("::", &a) == 0 && a.family == AF_INET6);
	T_CHECK(parse("::1", &a) == 0 && a.b[15] == 1);
	T_CHECK(parse("1::", &a) == 0 && a.b[1] == 1);
	T_CHECK(parse("2001:db8::1", &a) == 0 && a.b[0] == 0x20 && a.b[3] == 0xb8 && a.b[15] == 1);
	T_CHECK(parse("1:2:3:4:5:6:7:8", &a) == 0 && a.b[14] == 0 && a.b[15] == 8);
	T_CHECK(parse("::ffff:127.0.0.1", &a) == 0 && a.b[10] == 0xff && a.b[12] == 127);
	T_CHECK(parse("1:2:3:4:5:6:1.2.3.4", &a) == 0 && a.b[15] == 4);
	T_CHECK(parse("FE80::ABCD", &a) == 0 && a.b[0] == 0xfe && a.b[15] == 0xcd);
	T_CHECK(parse("::1:2:3:4:5:6:7", &a) == 0);
	T_CHECK(parse("1:2:3:4:5:6:7::", &a) == 0);
}

static void ipv6_bad_forms(void)
{
	static const char *bad[] = {
		":", ":::", "1:::2", "1::2::3", ":1::2", "1::2:", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "12345::", "fe80::1%eth0", "[::1]", "::ffff:127.1",
		"::ffff:127.0.0.01", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4:5", "g::1", "1: :2", "::1/128", ":1",
	};
	struct netaddr a;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (netaddr_parse6(bad[i], strlen(bad[i]), &a, NULL) == 0) {
			printf("#   accepted %s\n", bad[i]);
			T_CHECK(0);
		}
	}
}

/* Random strings over a small alphabet: we accept exactly what inet_pton accepts, minus its shorthands. */
static void differential_against_inet_pton(void)
{
	static const char alpha4[] = "0123456789.";
	static const char alpha6[] = "0123456789abcdefABCDEF:.";
	char s[48], buf[16];
	struct netaddr a;
	unsigned seed = 12345;
	int i, n, mismatches = 0;

	for (i = 0; i < 200000; i++) {
		int six = i & 1;
		size_t len = (size_t)(rand_r(&seed) % (six ? 40 : 16)) + 1, k;

		for (k = 0; k < len; k++)
			s[k] = six ? alpha6[rand_r(&seed) % (sizeof alpha6 - 1)] : alpha4[rand_r(&seed) % (sizeof alpha4 - 1)];
		s[len] = '\0';
		if (!six && i % 4 == 0) /* bias toward dotted quads so the accept path is exercised */
			snprintf(s, sizeof s, "%d.%d.%d.%d", rand_r(&seed) % 300, rand_r(&seed) % 300, rand_r(&seed) % 300,
				 rand_r(&seed) % 300);
		len = strlen(s);
		n = inet_pton(six ? AF_INET6 : AF_INET, s, buf) == 1;
		if (six) {
			int ours = netaddr_parse6(s, len, &a, NULL) == 0;

			if (ours != n || (ours && memcmp(a.b, buf, 16) != 0)) {
				if (mismatches++ < 5)
					printf("#   v6 %s: ours %d, inet_pton %d\n", s, ours, n);
			}
		} else {
			int ours = netaddr_parse4(s, len, &a, NULL) == 0;

			if (ours && (!n || memcmp(a.b, buf, 4) != 0)) {
				if (mismatches++ < 5)
					printf("#   v4 %s: we accept what inet_pton refuses\n", s);
			}
			if (!ours && n) {
				/* Only leading zeros may separate us: inet_aton reads "010" as octal, so we refuse it. */
				int has_lz = (s[0] == '0' && s[1] >= '0' && s[1] <= '9') || strstr(s, ".0") != NULL;

				if (!has_lz && mismatches++ < 5)
					printf("#   v4 %s: inet_pton accepts, we refuse\n", s);
			}
		}
	}
	T_CHECK(mismatches == 0);
}

static void host_is_ip(void)
{
	static const char *ip[] = { "1.2.3.4", "127.1", "0x7f.1", "2130706433", "0177.0.0.1", "1.2.3.4.", "[::1]",
				    "::1", "0x7f000001", "0X7F.0.0.1", "017700000001", "0x", "1.2.3.4:80" };
	static const char *names[] = { "example.com", "1.2.3.4.example.com", "1a.2.3.4", "0x7g.0.0.1", "a",
				       "1.2.3.4.5", "localhost", "123.example", "", ".", "1..2" };
	size_t i;

	for (i = 0; i < sizeof ip / sizeof ip[0]; i++)
		if (!netaddr_host_is_ip(ip[i], strlen(ip[i]))) {
			printf("#   %s not seen as an IP\n", ip[i]);
			T_CHECK(0);
		}
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (netaddr_host_is_ip(names[i], strlen(names[i]))) {
			printf("#   %s seen as an IP\n", names[i]);
			T_CHECK(0);
		}
}

static void format_rfc5952(void)
{
	T_STREQ(fmt("1.2.3.4"), "1.2.3.4");
	T_STREQ(fmt("::"), "::");
	T_STREQ(fmt("::1"), "::1");
	T_STREQ(fmt("1::"), "1::");
	T_STREQ(fmt("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
	T_STREQ(fmt("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1"); /* a single zero group stays */
	T_STREQ(fmt("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");          /* the longest run */
	T_STREQ(fmt("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");     /* the first of equal runs */
	T_STREQ(fmt("::ffff:7f00:1"), "::ffff:127.0.0.1");
	T_STREQ(fmt("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	T_STREQ(fmt("0:0:1:0:0:0:0:0"), "0:0:1::");
	{
		struct netaddr a;
		char small[8];

		parse("2001:db8::1", &a);
		T_CHECK(netaddr_format(&a, small, sizeof small) < 0);
		T_CHECK(small[0] == '\0');
	}
}

/* Random addresses with many zero groups: format then parse is the identity. (No inet_ntop oracle: musl's
 * compresses the last of equally long zero runs, RFC 5952 4.2.3 says the first.) */
static void format_roundtrip(void)
{
	unsigned seed = 7;
	int i, bad = 0;

	for (i = 0; i < 50000; i++) {
		struct netaddr a, b;
		char ours[NETADDR_TEXT_MAX];
		int k;

		memset(&a, 0, sizeof a);
		a.family = AF_INET6;
		for (k = 0; k < 16; k++)
			a.b[k] = (rand_r(&seed) % 3) ? 0 : (uint8_t)rand_r(&seed);
		if (netaddr_format(&a, ours, sizeof ours) < 0 || parse(ours, &b) < 0 || !netaddr_eq(&a, &b)) {
			if (bad++ < 3)
				printf("#   round trip failed at %s\n", ours);
		}
	}
	T_CHECK(bad == 0);
}

static void classes_ipv4(void)
{
	T_CHECK(cls("8.8.8.8") == NETADDR_PUBLIC);
	T_CHECK(cls("1.1.1.1") == NETADDR_PUBLIC);
	T_CHECK(cls("0.0.0.0") == NETADDR_UNSPECIFIED);
	T_CHECK(cls("0.1.2.3") == NETADDR_THIS_NETWORK);
	T_CHECK(cls("127.0.0.1") == NETADDR_LOOPBACK);
	T_CHECK(cls("127.255.255.254") == NETADDR_LOOPBACK);
	T_CHECK(cls("10.1.2.3") == NETADDR_PRIVATE);
	T_CHECK(cls("172.16.0.1") == NETADDR_PRIVATE);
	T_CHECK(cls("172.31.255.255") == NETADDR_PRIVATE);
	T_CHECK(cls("172.32.0.1") == NETADDR_PUBLIC);
	T_CHECK(cls("172.15.255.255") == NETADDR_PUBLIC);
	T_CHECK(cls("192.168.1.1") == NETADDR_PRIVATE);
	T_CHECK(cls("100.64.0.1") == NETADDR_CGNAT);
	T_CHECK(cls("100.127.255.255") == NETADDR_CGNAT);
	T_CHECK(cls("100.128.0.0") == NETADDR_PUBLIC);
	T_CHECK(cls("100.100.100.200") == NETADDR_METADATA);
	T_CHECK(cls("169.254.169.254") == NETADDR_METADATA);
	T_CHECK(cls("169.254.170.2") == NETADDR_METADATA);
	T_CHECK(cls("169.254.1.1") == NETADDR_LINK_LOCAL);
	T_CHECK(cls("192.0.0.8") == NETADDR_RESERVED);
	T_CHECK(cls("192.0.2.1") == NETADDR_DOCUMENTATION);
	T_CHECK(cls("198.51.100.7") == NETADDR_DOCUMENTATION);
	T_CHECK(cls("203.0.113.9") == NETADDR_DOCUMENTATION);
	T_CHECK(cls("192.88.99.1") == NETADDR_RESERVED);
	T_CHECK(cls("198.18.0.1") == NETADDR_BENCHMARK);
	T_CHECK(cls("198.19.255.255") == NETADDR_BENCHMARK);
	T_CHECK(cls("198.20.0.0") == NETADDR_PUBLIC);
	T_CHECK(cls("224.0.0.251") == NETADDR_MULTICAST);
	T_CHECK(cls("239.255.255.250") == NETADDR_MULTICAST);
	T_CHECK(cls("240.0.0.1") == NETADDR_RESERVED);
	T_CHECK(cls("255.255.255.254") == NETADDR_RESERVED);
	T_CHECK(cls("255.255.255.255") == NETADDR_BROADCAST);
	T_CHECK(cls("223.255.255.255") == NETADDR_PUBLIC);
}

static void classes_ipv6(void)
{
	T_CHECK(cls("2606:4700:4700::1111") == NETADDR_PUBLIC);
	T_CHECK(cls("2a00:1450:4001::200e") == NETADDR_PUBLIC);
	T_CHECK(cls("::") == NETADDR_UNSPECIFIED);
	T_CHECK(cls("::1") == NETADDR_LOOPBACK);
	T_CHECK(cls("fc00::1") == NETADDR_ULA);
	T_CHECK(cls("fd12:3456::1") == NETADDR_ULA);
	T_CHECK(cls("fd00:ec2::254") == NETADDR_METADATA);
	T_CHECK(cls("fd00:ec2::253") == NETADDR_ULA);
	T_CHECK(cls("fe80::1") == NETADDR_LINK_LOCAL);
	T_CHECK(cls("febf::1") == NETADDR_LINK_LOCAL);
	T_CHECK(cls("fec0::1") == NETADDR_PRIVATE);
	T_CHECK(cls("ff02::1") == NETADDR_MULTICAST);
	T_CHECK(cls("2001:db8::1") == NETADDR_DOCUMENTATION);
	T_CHECK(cls("3fff:fff::1") == NETADDR_DOCUMENTATION);
	T_CHECK(cls("3fff:1000::1") == NETADDR_PUBLIC);
	T_CHECK(cls("2001:2::1") == NETADDR_BENCHMARK);
	T_CHECK(cls("2001::1") == NETADDR_RESERVED);   /* Teredo */
	T_CHECK(cls("2001:20::1") == NETADDR_RESERVED); /* ORCHIDv2 */
	T_CHECK(cls("100::1") == NETADDR_RESERVED);
	T_CHECK(cls("4000::1") == NETADDR_RESERVED);
	T_CHECK(cls("1::") == NETADDR_RESERVED);
}

static void classes_embedded_ipv4(void)
{
	T_CHECK(cls("::ffff:127.0.0.1") == NETADDR_LOOPBACK);
	T_CHECK(cls("::ffff:7f00:1") == NETADDR_LOOPBACK);
	T_CHECK(cls("::ffff:169.254.169.254") == NETADDR_METADATA);
	T_CHECK(cls("::ffff:10.0.0.1") == NETADDR_PRIVATE);
	T_CHECK(cls("::ffff:8.8.8.8") == NETADDR_PUBLIC);
	T_CHECK(cls("::127.0.0.1") == NETADDR_LOOPBACK);
	T_CHECK(cls("::8.8.8.8") == NETADDR_RESERVED); /* deprecated IPv4-compatible */
	T_CHECK(cls("::0.0.0.2") == NETADDR_THIS_NETWORK);
	T_CHECK(cls("2002:7f00:1::") == NETADDR_LOOPBACK);        /* 6to4 of 127.0.0.1 */
	T_CHECK(cls("2002:a9fe:a9fe::1") == NETADDR_METADATA);   /* 6to4 of 169.254.169.254 */
	T_CHECK(cls("2002:c0a8:101::") == NETADDR_PRIVATE);
	T_CHECK(cls("2002:808:808::1") == NETADDR_PUBLIC);
	T_CHECK(cls("64:ff9b::10.0.0.1") == NETADDR_PRIVATE);    /* NAT64 */
	T_CHECK(cls("64:ff9b::a9fe:a9fe") == NETADDR_METADATA);
	T_CHECK(cls("64:ff9b::8.8.8.8") == NETADDR_PUBLIC);
	T_CHECK(cls("64:ff9b:1::127.0.0.1") == NETADDR_LOOPBACK);
	{
		struct netaddr a;

		parse("::ffff:192.168.0.1", &a);
		T_CHECK(!netaddr_is_public(&a));
		parse("8.8.4.4", &a);
		T_CHECK(netaddr_is_public(&a));
	}
	T_STREQ(netaddr_class_name(NETADDR_METADATA), "cloud metadata");
	T_STREQ(netaddr_class_name(NETADDR_LOOPBACK), "loopback");
}

static void sockaddr_roundtrip(void)
{
	struct netaddr a, b;
	struct sockaddr_storage ss;
	socklen_t len;

	parse("2001:db8::5", &a);
	netaddr_to_sockaddr(&a, 443, &ss, &len);
	T_CHECK(len == sizeof(struct sockaddr_in6) && ss.ss_family == AF_INET6);
	T_CHECK(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == 443);
	T_CHECK(netaddr_from_sockaddr((struct sockaddr *)&ss, len, &b, NULL) == 0 && netaddr_eq(&a, &b));
	parse("9.9.9.9", &a);
	netaddr_to_sockaddr(&a, 53, &ss, &len);
	T_CHECK(len == sizeof(struct sockaddr_in) && ss.ss_family == AF_INET);
	T_CHECK(netaddr_from_sockaddr((struct sockaddr *)&ss, len, &b, NULL) == 0 && netaddr_eq(&a, &b));
	T_CHECK(netaddr_from_sockaddr((struct sockaddr *)&ss, 4, &b, NULL) < 0);
	ss.ss_family = AF_UNIX;
	T_CHECK(netaddr_from_sockaddr((struct sockaddr *)&ss, sizeof ss, &b, NULL) < 0);
}

static int cidr_has(const char *cidr, const char *addr)
{
	struct netaddr_cidr c;
	struct netaddr a;

	if (netaddr_cidr_parse(cidr, strlen(cidr), &c, NULL) < 0 || parse(addr, &a) < 0)
		return -1;
	return netaddr_cidr_match(&c, &a);
}

static void cidr(void)
{
	struct netaddr_cidr c;
	struct bb_err e;

	T_CHECK(cidr_has("10.0.0.0/8", "10.255.0.1") == 1);
	T_CHECK(cidr_has("10.0.0.0/8", "11.0.0.1") == 0);
	T_CHECK(cidr_has("100.64.0.0/10", "100.127.1.1") == 1);
	T_CHECK(cidr_has("100.64.0.0/10", "100.128.0.0") == 0);
	T_CHECK(cidr_has("0.0.0.0/0", "1.2.3.4") == 1);
	T_CHECK(cidr_has("0.0.0.0/0", "::1") == 0);
	T_CHECK(cidr_has("1.2.3.4", "1.2.3.4") == 1);
	T_CHECK(cidr_has("1.2.3.4/32", "1.2.3.5") == 0);
	T_CHECK(cidr_has("fd00::/8", "fd12::1") == 1);
	T_CHECK(cidr_has("fd00::/8", "fc00::1") == 0);
	T_CHECK(cidr_has("2001:db8::/33", "2001:db8:7fff::1") == 1);
	T_CHECK(cidr_has("2001:db8::/33", "2001:db8:8000::1") == 0);
	T_CHECK(cidr_has("::/0", "2001:db8::1") == 1);
	T_CHECK(cidr_has("10.0.0.0/8", "::ffff:10.1.1.1") == 1); /* mapped matches the IPv4 rule */
	T_CHECK(cidr_has("::ffff:0:0/96", "10.1.1.1") == 0);
	T_CHECK(netaddr_cidr_parse("10.0.0.1/8", 10, &c, &e) < 0 && strstr(e.msg, "host bits"));
	T_CHECK(netaddr_cidr_parse("10.0.0.0/33", 11, &c, &e) < 0);
	T_CHECK(netaddr_cidr_parse("10.0.0.0/08", 11, &c, &e) < 0);
	T_CHECK(netaddr_cidr_parse("10.0.0.0/", 9, &c, &e) < 0);
	T_CHECK(netaddr_cidr_parse("10.0.0.0/-1", 11, &c, &e) < 0);
	T_CHECK(netaddr_cidr_parse("10/8", 4, &c, &e) < 0 && strstr(e.msg, "not a canonical IPv4"));
	T_CHECK(netaddr_cidr_parse("::/129", 6, &c, &e) < 0);
	T_CHECK(netaddr_cidr_parse("::/128", 6, &c, &e) == 0 && c.prefix == 128);
	T_CHECK(netaddr_cidr_parse("fe80::/10", 9, &c, &e) == 0 && c.prefix == 10);
	T_CHECK(netaddr_cidr_parse("fec0::/10", 9, &c, &e) == 0);
	T_CHECK(netaddr_cidr_parse("fe81::/10", 9, &c, &e) < 0);
}

int main(void)
{
	T_RUN(ipv4_canonical_accepted);
	T_RUN(ipv4_ssrf_shorthands_refused);
	T_RUN(ipv6_forms);
	T_RUN(ipv6_bad_forms);
	T_RUN(differential_against_inet_pton);
	T_RUN(host_is_ip);
	T_RUN(format_rfc5952);
	T_RUN(format_roundtrip);
	T_RUN(classes_ipv4);
	T_RUN(classes_ipv6);
	T_RUN(classes_embedded_ipv4);
	T_RUN(sockaddr_roundtrip);
	T_RUN(cidr);
	T_END();
}
