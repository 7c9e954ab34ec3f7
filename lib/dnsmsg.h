/* dnsmsg.h - DNS wire format (RFC 1035): strict message parsing with compression, names, and a bounded message writer. */
#ifndef BB_DNSMSG_H
#define BB_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DNS_HEADER_LEN 12
#define DNS_NAME_WIRE_MAX 255 /* uncompressed wire length, final zero octet included */
#define DNS_LABEL_MAX 63
#define DNS_NAME_TEXT_MAX 1024 /* dns_name_to_text's worst case (every byte as \DDD) with the NUL */
#define DNS_MAX_RRS 256        /* records kept per message; a message with more is refused */
#define DNS_UDP_MAX 512        /* a UDP message without EDNS (RFC 1035 4.2.1) */

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_NULL = 10,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_DNAME = 39,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_SVCB = 64,
	DNS_TYPE_HTTPS = 65,
	DNS_TYPE_AXFR = 252,
	DNS_TYPE_ANY = 255
};

enum { DNS_CLASS_IN = 1, DNS_CLASS_CH = 3, DNS_CLASS_ANY = 255 };

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5
};

/* Header flag bits (host order, as in struct dns_header.flags). */
#define DNS_FLAG_QR 0x8000u
#define DNS_FLAG_AA 0x0400u
#define DNS_FLAG_TC 0x0200u
#define DNS_FLAG_RD 0x0100u
#define DNS_FLAG_RA 0x0080u
#define DNS_FLAG_AD 0x0020u
#define DNS_FLAG_CD 0x0010u
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xfu)
#define DNS_RCODE(flags) ((flags) & 0xfu)

struct dns_header {
	uint16_t id, flags, qdcount, ancount, nscount, arcount;
};

/*
 * A domain name in uncompressed wire form: length-prefixed labels ending
 * with the zero-length root label, `len` bytes in all (1 for the root).
 * Labels are kept byte for byte (case preserved; any byte allowed).
 */
struct dns_name {
	uint8_t len;
	uint8_t wire[DNS_NAME_WIRE_MAX];
};

/*
 * Read the possibly compressed name at msg[off] into out; *end (may be
 * NULL) gets the offset just past the name where it sits (after its first
 * pointer, if any). Refused: running past len, label types 01/10, a
 * pointer into the header or not strictly backward from where it sits (so
 * no loop can exist), more than 127 pointer hops, a name over 255 bytes.
 */
int dns_name_read(const uint8_t *msg, size_t len, size_t off, struct dns_name *out, size_t *end, struct bb_err *e);

/*
 * Text to wire: dot-separated labels of 1-63 printable ASCII bytes other
 * than '.' and '\' (escapes are not taken), an optional final dot, at
 * most 253 bytes of text; "" and "." are the root.
 */
int dns_name_from_text(const char *s, size_t len, struct dns_name *out, struct bb_err *e);

/*
 * Wire to text as dig prints it, without the final dot ("." for the
 * root): letters, digits, '-' and '_' as is, '.' and '\' in a label as
 * "\." and "\\", other bytes as "\DDD". Returns the text length, or -1
 * when dst (cap bytes, NUL included) is too small or n is malformed.
 */
int dns_name_to_text(const struct dns_name *n, char *dst, size_t cap);

/* Equal names, ASCII letters compared without case (RFC 4343). */
int dns_name_eq(const struct dns_name *a, const struct dns_name *b);

/* 1 when n is zone or lies under it, on label boundaries ("a.example.com" under "example.com", not "badexample.com"). */
int dns_name_under(const struct dns_name *n, const struct dns_name *zone);

/* Number of labels, the root not counted ("www.example.com" has 3). */
size_t dns_name_labels(const struct dns_name *n);

struct dns_question {
	struct dns_name name;
	uint16_t qtype, qclass;
};

enum dns_section { DNS_SECTION_ANSWER = 1, DNS_SECTION_AUTHORITY = 2, DNS_SECTION_ADDITIONAL = 3 };

/* One resource record: offsets into the parsed message, not copies. */
struct dns_rr {
	uint16_t name_off;  /* owner name (read it with dns_rr_owner) */
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlen;
	uint16_t rdata_off; /* rdata is msg[rdata_off .. rdata_off + rdlen) */
	uint8_t section;    /* enum dns_section */
};

/* The EDNS(0) OPT pseudo-record, when the message has one (RFC 6891). */
struct dns_edns {
	int present;
	uint16_t udp_size;  /* requestor's payload size (the OPT class) */
	uint8_t ext_rcode;  /* upper 8 bits of the 12-bit rcode */
	uint8_t version;
	uint16_t flags;     /* 0x8000 = DO */
	uint16_t rr_index;  /* its index in dns_msg.rr */
};

/*
 * A parsed message. buf/len point at the caller's bytes, which must stay
 * put while the struct is used. About 4.5 KiB: fine on a daemon's stack.
 */
struct dns_msg {
	const uint8_t *buf;
	size_t len;
	struct dns_header h;
	int has_question;      /* qdcount is 0 or 1; more is refused */
	struct dns_question q;
	size_t question_end;   /* offset just past the question (12 when none) */
	size_t nrr;            /* ancount + nscount + arcount */
	struct dns_rr rr[DNS_MAX_RRS];
	struct dns_edns edns;
};

/*
 * Parse and check a whole message, query or response. Every name is
 * decoded (compression as dns_name_read); every record must lie inside
 * the message; no byte may follow the last record; qdcount <= 1; at most
 * DNS_MAX_RRS records. Rdata is checked where its shape is known: A is 4
 * bytes and AAAA 16 (class IN), NS/CNAME/PTR/DNAME hold exactly one name,
 * MX a preference and a name, SRV three numbers and a name, SOA two names
 * and 20 bytes, TXT one or more length-prefixed strings, OPT only in the
 * additional section, at most once, owned by the root, with well-formed
 * options. Anything else fails with a message saying what and where.
 */
int dns_parse(const uint8_t *buf, size_t len, struct dns_msg *out, struct bb_err *e);

/* The owner name of m->rr[i]. */
int dns_rr_owner(const struct dns_msg *m, size_t i, struct dns_name *out, struct bb_err *e);
/* The name in the rdata of a NS/CNAME/PTR/DNAME record m->rr[i]. */
int dns_rr_target(const struct dns_msg *m, size_t i, struct dns_name *out, struct bb_err *e);

/*
 * A writer over a caller's buffer. Names are written uncompressed. The
 * header counts are kept by the writer: each dns_put_question/dns_put_rr
 * bumps its section's count, and sections must come in order (question,
 * answer, authority, additional). A write that would pass cap fails with
 * BB_ETOOBIG and leaves len where it was.
 */
struct dns_writer {
	uint8_t *p;
	size_t cap;
	size_t len;
	int section; /* last section written: 0 = question */
};

/* Start a message in p[0..cap) with this header (its counts are ignored and start at 0). */
int dns_writer_init(struct dns_writer *w, uint8_t *p, size_t cap, const struct dns_header *h, struct bb_err *e);
int dns_put_question(struct dns_writer *w, const struct dns_name *name, uint16_t qtype, uint16_t qclass,
		     struct bb_err *e);
int dns_put_rr(struct dns_writer *w, enum dns_section section, const struct dns_name *name, uint16_t type,
	       uint16_t rclass, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen, struct bb_err *e);
/* An OPT record (additional section) advertising udp_size, no options. */
int dns_put_opt(struct dns_writer *w, uint16_t udp_size, uint8_t ext_rcode, uint16_t flags, struct bb_err *e);
/* Set the header's flags word (e.g. the rcode, once the answer is known). */
void dns_writer_set_flags(struct dns_writer *w, uint16_t flags);

/*
 * A standard query (opcode 0, RD set) for name/qtype/IN in buf[0..cap);
 * *len gets its size. edns_udp_size > 0 adds an OPT record with that size.
 */
int dns_build_query(uint8_t *buf, size_t cap, size_t *len, uint16_t id, const struct dns_name *name,
		    uint16_t qtype, uint16_t edns_udp_size, struct bb_err *e);

#endif
