/* test_dnsmsg.c - unit tests of lib/dnsmsg: byte-exact queries, compression and its loop traps, strict record checks. */
#include <stdlib.h>

#include "dnsmsg.h"
#include "t.h"
#include "t_dns.h"

static const char *text_of(const struct dns_name *n)
{
	static char out[DNS_NAME_TEXT_MAX];

	if (dns_name_to_text(n, out, sizeof out) < 0)
		return "(error)";
	return out;
}

static void query_bytes_exact(void)
{
	static const uint8_t want[] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
					7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01, 0x00, 0x01 };
	static const uint8_t opt[] = { 0, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0x00, 0x00 };
	struct dns_name n = name_of("example.com");
	uint8_t buf[512];
	size_t len = 0;

	T_CHECK(dns_build_query(buf, sizeof buf, &len, 0x1234, &n, DNS_TYPE_A, 0, NULL) == 0);
	T_CHECK(len == sizeof want && memcmp(buf, want, sizeof want) == 0);
	T_CHECK(dns_build_query(buf, sizeof buf, &len, 0x1234, &n, DNS_TYPE_A, 1232, NULL) == 0);
	T_CHECK(len == sizeof want + sizeof opt);
	T_CHECK(buf[11] == 1); /* arcount */
	T_CHECK(memcmp(buf + 12, want + 12, sizeof want - 12) == 0 && memcmp(buf + sizeof want, opt, sizeof opt) == 0);
	/* Too small a buffer: refused, nothing claimed. */
	T_CHECK(dns_build_query(buf, 20, &len, 1, &n, DNS_TYPE_A, 0, NULL) < 0);
}

/* example.com A: CNAME to www.example.com (compressed), then its A record (compressed owner inside the rdata). */
static const uint8_t answer[] = {
	0xbe, 0xef, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	/* 12: question */
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01, 0x00, 0x01,
	/* 29: CNAME, owner -> 12 */
	0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x06,
	/* 41: rdata "www" + -> 12 */
	3, 'w', 'w', 'w', 0xc0, 0x0c,
	/* 47: A, owner -> 41 */
	0xc0, 0x29, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 93, 184, 216, 34,
};

static void parse_answer_with_compression(void)
{
	struct dns_msg m;
	struct dns_name n;
	struct bb_err e;

	T_CHECK(dns_parse(answer, sizeof answer, &m, &e) == 0);
	T_CHECK(m.h.id == 0xbeef && (m.h.flags & DNS_FLAG_QR) && DNS_RCODE(m.h.flags) == 0);
	T_CHECK(m.has_question && m.q.qtype == DNS_TYPE_A && m.q.qclass == DNS_CLASS_IN);
	T_STREQ(text_of(&m.q.name), "example.com");
	T_CHECK(m.question_end == 29);
	T_CHECK(m.nrr == 2);
	T_CHECK(m.rr[0].type == DNS_TYPE_CNAME && m.rr[0].ttl == 300 && m.rr[0].section == DNS_SECTION_ANSWER);
	T_CHECK(dns_rr_target(&m, 0, &n, NULL) == 0);
	T_STREQ(text_of(&n), "www.example.com");
	T_CHECK(dns_rr_owner(&m, 1, &n, NULL) == 0);
	T_STREQ(text_of(&n), "www.example.com");
	T_CHECK(m.rr[1].type == DNS_TYPE_A && m.rr[1].rdlen == 4 && answer[m.rr[1].rdata_off] == 93);
	T_CHECK(dns_rr_target(&m, 1, &n, NULL) < 0); /* an A record holds no name */
	T_CHECK(!m.edns.present);
}

/* Every cut of a valid message, and one trailing byte, is refused (counts promise more, or less). */
static void truncation_and_trailing(void)
{
	uint8_t buf[sizeof answer + 1];
	struct dns_msg m;
	size_t cut;
	int bad = 0;

	for (cut = 0; cut < sizeof answer; cut++)
		if (dns_parse(answer, cut, &m, NULL) == 0) {
			printf("#   a %zu-byte prefix parsed\n", cut);
			bad++;
		}
	T_CHECK(bad == 0);
	memcpy(buf, answer, sizeof answer);
	buf[sizeof answer] = 0;
	T_CHECK(dns_parse(buf, sizeof buf, &m, NULL) < 0);
	T_CHECK(dns_parse(NULL, 0, &m, NULL) < 0);
}

/* Helper: a header with qdcount 1 + raw bytes after it; returns the dns_name_read result on offset 12. */
static int read_at_12(const uint8_t *body, size_t n, struct dns_name *out, struct bb_err *e)
{
	uint8_t msg[600] = { 0 };

	memcpy(msg + 12, body, n);
	return dns_name_read(msg, 12 + n, 12, out, NULL, e);
}

static void compression_loops_refused(void)
{
	struct dns_name n;
	struct bb_err e;
	uint8_t msg[600];
	size_t i, end;

	/* A pointer to itself. */
	{
		static const uint8_t b[] = { 0xc0, 0x0c };

		T_CHECK(read_at_12(b, sizeof b, &n, &e) < 0 && strstr(e.msg, "not backward"));
	}
	/* A pointer forward. */
	{
		static const uint8_t b[] = { 0xc0, 0x0e, 1, 'a', 0 };

		T_CHECK(read_at_12(b, sizeof b, &n, &e) < 0);
	}
	/* Into the header. */
	{
		static const uint8_t b[] = { 0xc0, 0x02 };

		T_CHECK(read_at_12(b, sizeof b, &n, &e) < 0 && strstr(e.msg, "header"));
	}
	/*
	 * Backward but into the run that holds the pointer: "a" then a
	 * pointer back to "a" would repeat forever. Refused though the
	 * target is before the pointer.
	 */
	{
		static const uint8_t b[] = { 1, 'a', 0xc0, 0x0c };

		T_CHECK(read_at_12(b, sizeof b, &n, &e) < 0);
	}
	/*
	 * A pointer at 18 back to a label at 12 whose run leads to the same
	 * pointer again: each hop is backward from the pointer, yet it loops.
	 * Refused because the second hop does not go before the run at 12.
	 */
	memset(msg, 0, sizeof msg);
	msg[12] = 5; /* a 5-byte label over 13..17 */
	memcpy(msg + 13, "xyz", 3);
	msg[16] = 0xc0; /* label data that looks like a pointer */
	msg[17] = 0x0c;
	msg[18] = 0xc0;
	msg[19] = 0x0c;
	T_CHECK(dns_name_read(msg, 20, 18, &n, NULL, &e) < 0 && strstr(e.msg, "not backward"));
	/* With a root at 18 instead, the run at 12 is a plain name whose data merely looks like a pointer. */
	msg[18] = 0;
	T_CHECK(dns_name_read(msg, 19, 12, &n, &end, NULL) == 0 && end == 19 && n.len == 7);
	T_CHECK(dns_name_read(msg, 19, 16, &n, &end, NULL) == 0 && end == 18 && n.len == 7);
	/* A chain of 127 backward hops is fine, 128 is not. */
	memset(msg, 0, sizeof msg);
	msg[12] = 0; /* root at 12 */
	for (i = 0; i < 128; i++) {
		size_t at = 13 + 2 * i, to = i == 0 ? 12 : at - 2;

		msg[at] = (uint8_t)(0xc0 | to >> 8);
		msg[at + 1] = (uint8_t)to;
	}
	T_CHECK(dns_name_read(msg, 13 + 2 * 128, 13 + 2 * 126, &n, &end, NULL) == 0 && n.len == 1 &&
		end == 13 + 2 * 127);
	T_CHECK(dns_name_read(msg, 13 + 2 * 128, 13 + 2 * 127, &n, NULL, &e) < 0 && strstr(e.msg, "too many"));
}

static void name_limits(void)
{
	uint8_t msg[700];
	struct dns_name n;
	struct bb_err e;
	size_t i, pos = 12;

	/* 4 labels of 63 = 256 bytes with the root: one too many. */
	memset(msg, 0, sizeof msg);
	for (i = 0; i < 4; i++) {
		msg[pos] = 63;
		memset(msg + pos + 1, 'a', 63);
		pos += 64;
	}
	msg[pos++] = 0;
	T_CHECK(dns_name_read(msg, pos, 12, &n, NULL, &e) < 0 && strstr(e.msg, "255"));
	/* 3 x 63 + 61 = 254 + root = 255: the largest legal name. */
	msg[12 + 3 * 64] = 61;
	msg[12 + 3 * 64 + 62] = 0;
	T_CHECK(dns_name_read(msg, 12 + 3 * 64 + 63, 12, &n, NULL, &e) == 0 && n.len == 255);
	/* Label types 01 and 10 (EDNS0 extended / reserved). */
	{
		static const uint8_t b1[] = { 0x41, 0 }, b2[] = { 0x80, 0 };

		T_CHECK(read_at_12(b1, sizeof b1, &n, &e) < 0 && strstr(e.msg, "label type"));
		T_CHECK(read_at_12(b2, sizeof b2, &n, &e) < 0);
	}
	/* A label running past the end. */
	{
		static const uint8_t b[] = { 5, 'a', 'b' };

		T_CHECK(read_at_12(b, sizeof b, &n, &e) < 0);
	}
}

static void text_forms(void)
{
	struct dns_name n, m;
	struct bb_err e;
	char big[300];

	T_STREQ(text_of(&(struct dns_name){ 1, { 0 } }), ".");
	n = name_of("Example.COM.");
	T_CHECK(n.len == 13);
	T_STREQ(text_of(&n), "Example.COM");
	T_CHECK(dns_name_from_text("", 0, &n, NULL) == 0 && n.len == 1);
	T_CHECK(dns_name_from_text(".", 1, &n, NULL) == 0 && n.len == 1);
	T_CHECK(dns_name_from_text("a..b", 4, &n, &e) < 0 && strstr(e.msg, "empty label"));
	T_CHECK(dns_name_from_text(".a", 2, &n, &e) < 0);
	T_CHECK(dns_name_from_text("a b", 3, &n, &e) < 0);
	T_CHECK(dns_name_from_text("a\\.b", 4, &n, &e) < 0);
	memset(big, 'a', sizeof big);
	T_CHECK(dns_name_from_text(big, 64, &n, &e) < 0 && strstr(e.msg, "longer than 63"));
	T_CHECK(dns_name_from_text(big, 63, &n, NULL) == 0 && n.len == 65);
	/* 253 characters of text is the longest. */
	memset(big, 'a', 253);
	big[63] = big[127] = big[191] = '.';
	T_CHECK(dns_name_from_text(big, 253, &n, NULL) == 0 && n.len == 255);
	big[253] = 'a';
	T_CHECK(dns_name_from_text(big, 254, &n, &e) < 0);
	/* Escapes in text output, as dig prints them. */
	{
		static const uint8_t w[] = { 3, 'a', '.', 'b', 2, ' ', '\\', 1, 0xff, 0 };

		m.len = sizeof w;
		memcpy(m.wire, w, sizeof w);
		T_STREQ(text_of(&m), "a\\.b.\\032\\\\.\\255");
	}
	{
		char small[4];

		n = name_of("abcd");
		T_CHECK(dns_name_to_text(&n, small, sizeof small) < 0);
	}
}

static void compare_and_zones(void)
{
	struct dns_name a = name_of("WWW.Example.com"), b = name_of("www.example.COM"), z = name_of("example.com");
	struct dns_name bad = name_of("badexample.com"), root = name_of("."), other = name_of("www.example.org");

	T_CHECK(dns_name_eq(&a, &b));
	T_CHECK(!dns_name_eq(&a, &z));
	T_CHECK(dns_name_under(&a, &z));
	T_CHECK(dns_name_under(&z, &z));
	T_CHECK(!dns_name_under(&bad, &z));
	T_CHECK(!dns_name_under(&z, &a));
	T_CHECK(dns_name_under(&a, &root));
	T_CHECK(!dns_name_under(&other, &z));
	T_CHECK(dns_name_labels(&a) == 3 && dns_name_labels(&root) == 0);
	/* The same bytes split into other labels: a different name. */
	{
		struct dns_name x = name_of("ab.c"), y = name_of("a.bc");

		T_CHECK(x.len == y.len && !dns_name_eq(&x, &y));
	}
}

/* Build a message with the writer, then patch one thing and check the parser's verdict. */
static size_t build_one(uint8_t *buf, size_t cap, uint16_t type, const uint8_t *rdata, uint16_t rdlen,
			enum dns_section sec)
{
	struct dns_writer w;
	struct dns_header h = { 7, DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA, 0, 0, 0, 0 };
	struct dns_name n = name_of("x.test");

	if (dns_writer_init(&w, buf, cap, &h, NULL) < 0 || dns_put_question(&w, &n, type, DNS_CLASS_IN, NULL) < 0 ||
	    dns_put_rr(&w, sec, &n, type, DNS_CLASS_IN, 60, rdata, rdlen, NULL) < 0)
		return 0;
	return w.len;
}

static int parses(uint16_t type, const uint8_t *rdata, uint16_t rdlen)
{
	uint8_t buf[600];
	struct dns_msg m;
	size_t len = build_one(buf, sizeof buf, type, rdata, rdlen, DNS_SECTION_ANSWER);

	return len && dns_parse(buf, len, &m, NULL) == 0;
}

static void rdata_checks(void)
{
	static const uint8_t a4[] = { 1, 2, 3, 4, 5 }, name[] = { 1, 'a', 0, 9 }, mx[] = { 0, 10, 1, 'm', 0 };
	static const uint8_t txt_ok[] = { 2, 'h', 'i', 0, 1, 'x' }, txt_bad[] = { 3, 'h', 'i' };
	static const uint8_t soa[] = { 1, 'a', 0, 1, 'b', 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5 };
	static const uint8_t srv[] = { 0, 1, 0, 2, 0x01, 0xbb, 1, 's', 0 };

	T_CHECK(parses(DNS_TYPE_A, a4, 4));
	T_CHECK(!parses(DNS_TYPE_A, a4, 5));
	T_CHECK(!parses(DNS_TYPE_A, a4, 3));
	T_CHECK(!parses(DNS_TYPE_AAAA, a4, 4));
	T_CHECK(parses(DNS_TYPE_CNAME, name, 3));
	T_CHECK(!parses(DNS_TYPE_CNAME, name, 4)); /* a byte after the name */
	T_CHECK(!parses(DNS_TYPE_CNAME, name, 2)); /* the name runs past the rdata */
	T_CHECK(!parses(DNS_TYPE_CNAME, name, 0));
	T_CHECK(parses(DNS_TYPE_MX, mx, 5));
	T_CHECK(!parses(DNS_TYPE_MX, mx, 2));
	T_CHECK(parses(DNS_TYPE_TXT, txt_ok, 6));
	T_CHECK(!parses(DNS_TYPE_TXT, txt_bad, 3));
	T_CHECK(!parses(DNS_TYPE_TXT, txt_ok, 0));
	T_CHECK(parses(DNS_TYPE_SOA, soa, sizeof soa));
	T_CHECK(!parses(DNS_TYPE_SOA, soa, sizeof soa - 1));
	T_CHECK(parses(DNS_TYPE_SRV, srv, sizeof srv));
	T_CHECK(!parses(DNS_TYPE_SRV, srv, 5));
	T_CHECK(parses(99, a4, 5)); /* unknown types are opaque */
}

static void edns_rules(void)
{
	uint8_t buf[600];
	struct dns_msg m;
	struct dns_writer w;
	struct dns_header h = { 9, DNS_FLAG_RD, 0, 0, 0, 0 };
	struct dns_name n = name_of("a.test");
	static const uint8_t opt_opts[] = { 0, 10, 0, 2, 0xab, 0xcd }, opt_bad[] = { 0, 10, 0, 3, 0xab, 0xcd };

	dns_writer_init(&w, buf, sizeof buf, &h, NULL);
	dns_put_question(&w, &n, DNS_TYPE_A, DNS_CLASS_IN, NULL);
	T_CHECK(dns_put_opt(&w, 1232, 0, 0x8000, NULL) == 0);
	T_CHECK(dns_parse(buf, w.len, &m, NULL) == 0 && m.edns.present && m.edns.udp_size == 1232 &&
		m.edns.flags == 0x8000 && m.edns.version == 0 && m.edns.rr_index == 0);
	/* Two OPT records. */
	T_CHECK(dns_put_opt(&w, 512, 0, 0, NULL) == 0);
	T_CHECK(dns_parse(buf, w.len, &m, NULL) < 0);
	/* OPT in the answer section. */
	{
		struct dns_name root = { 1, { 0 } };

		dns_writer_init(&w, buf, sizeof buf, &h, NULL);
		dns_put_rr(&w, DNS_SECTION_ANSWER, &root, DNS_TYPE_OPT, 512, 0, NULL, 0, NULL);
		T_CHECK(dns_parse(buf, w.len, &m, NULL) < 0);
		/* Owned by a non-root name. */
		dns_writer_init(&w, buf, sizeof buf, &h, NULL);
		dns_put_rr(&w, DNS_SECTION_ADDITIONAL, &n, DNS_TYPE_OPT, 512, 0, NULL, 0, NULL);
		T_CHECK(dns_parse(buf, w.len, &m, NULL) < 0);
		/* Options: well formed, then one running past the rdata. */
		dns_writer_init(&w, buf, sizeof buf, &h, NULL);
		dns_put_rr(&w, DNS_SECTION_ADDITIONAL, &root, DNS_TYPE_OPT, 512, 0, opt_opts, sizeof opt_opts, NULL);
		T_CHECK(dns_parse(buf, w.len, &m, NULL) == 0);
		dns_writer_init(&w, buf, sizeof buf, &h, NULL);
		dns_put_rr(&w, DNS_SECTION_ADDITIONAL, &root, DNS_TYPE_OPT, 512, 0, opt_bad, sizeof opt_bad, NULL);
		T_CHECK(dns_parse(buf, w.len, &m, NULL) < 0);
	}
}

static void header_limits(void)
{
	uint8_t buf[64] = { 0 };
	struct dns_msg m;
	struct bb_err e;

	/* Just a header: a valid empty message. */
	T_CHECK(dns_parse(buf, 12, &m, NULL) == 0 && !m.has_question && m.nrr == 0 && m.question_end == 12);
	T_CHECK(dns_parse(buf, 11, &m, NULL) < 0);
	buf[5] = 2; /* two questions */
	T_CHECK(dns_parse(buf, 12, &m, &e) < 0 && strstr(e.msg, "questions"));
	buf[5] = 0;
	buf[7] = 200;
	buf[9] = 57; /* 257 records */
	T_CHECK(dns_parse(buf, 12, &m, &e) < 0 && e.code == BB_ETOOBIG);
	buf[9] = 0;
	T_CHECK(dns_parse(buf, 12, &m, &e) < 0); /* 200 records promised, none there */
}

static void writer_rules(void)
{
	uint8_t buf[64];
	struct dns_writer w;
	struct dns_header h = { 1, 0, 5, 5, 5, 5 }; /* counts in h are ignored */
	struct dns_name n = name_of("abcdefghij.example"), root = { 1, { 0 } };
	struct bb_err e;
	size_t before;

	T_CHECK(dns_writer_init(&w, buf, 8, &h, NULL) < 0);
	T_CHECK(dns_writer_init(&w, buf, sizeof buf, &h, NULL) == 0 && w.len == 12 && buf[5] == 0);
	T_CHECK(dns_put_question(&w, &n, DNS_TYPE_A, DNS_CLASS_IN, NULL) == 0 && buf[5] == 1);
	T_CHECK(dns_put_rr(&w, DNS_SECTION_AUTHORITY, &root, DNS_TYPE_NS, DNS_CLASS_IN, 1, NULL, 0, NULL) == 0);
	/* Back to the answer section: out of order. */
	T_CHECK(dns_put_rr(&w, DNS_SECTION_ANSWER, &root, DNS_TYPE_A, DNS_CLASS_IN, 1, NULL, 0, &e) < 0);
	T_CHECK(dns_put_question(&w, &n, DNS_TYPE_A, DNS_CLASS_IN, NULL) < 0);
	before = w.len;
	T_CHECK(dns_put_rr(&w, DNS_SECTION_ADDITIONAL, &n, DNS_TYPE_A, DNS_CLASS_IN, 1, (const uint8_t *)"abcd", 4, &e) < 0 &&
		e.code == BB_ETOOBIG);
	T_CHECK(w.len == before && buf[11] == 0);
	dns_writer_set_flags(&w, DNS_FLAG_QR | DNS_RCODE_NXDOMAIN);
	T_CHECK(buf[2] == 0x80 && buf[3] == 3);
}

/* Random byte flips of valid messages: the parser never reads out of bounds (ASan) and what it accepts is sane. */
static void mutations_stay_in_bounds(void)
{
	uint8_t buf[sizeof answer];
	struct dns_msg m;
	unsigned seed = 99;
	int i, accepted = 0, bad = 0;
	size_t k;

	for (i = 0; i < 200000; i++) {
		int flips = 1 + rand_r(&seed) % 3, f;

		memcpy(buf, answer, sizeof buf);
		for (f = 0; f < flips; f++)
			buf[rand_r(&seed) % sizeof buf] = (uint8_t)rand_r(&seed);
		if (dns_parse(buf, sizeof buf, &m, NULL) < 0)
			continue;
		accepted++;
		for (k = 0; k < m.nrr; k++) {
			struct dns_name n;

			if ((size_t)m.rr[k].rdata_off + m.rr[k].rdlen > sizeof buf || dns_rr_owner(&m, k, &n, NULL) < 0)
				bad++;
		}
	}
	T_CHECK(bad == 0);
	T_CHECK(accepted > 0); /* flips inside TTLs or addresses leave valid messages */
}

int main(void)
{
	T_RUN(query_bytes_exact);
	T_RUN(parse_answer_with_compression);
	T_RUN(truncation_and_trailing);
	T_RUN(compression_loops_refused);
	T_RUN(name_limits);
	T_RUN(text_forms);
	T_RUN(compare_and_zones);
	T_RUN(rdata_checks);
	T_RUN(edns_rules);
	T_RUN(header_limits);
	T_RUN(writer_rules);
	T_RUN(mutations_stay_in_bounds);
	T_END();
}
