/* dnsserve.h - bb dns's pure parts: the DNS policy, the decision on one query (allow list, tunnelling shapes), and the replies it sends. */
#ifndef BB_DNSSERVE_H
#define BB_DNSSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "dnsmsg.h"
#include "err.h"
#include "netaddr.h"
#include "planfile.h"

/*
 * The policy is the plan's "dns" part: {"allow": [NAME...], "allow_types":
 * [TYPE...]} (both keys optional but "allow" is what makes it useful),
 * as lib/planfile reads it from the plan. The plan's git upstream hosts
 * (git_gate.repos[].host, when a name) are allowed too, as issue 8 asks.
 *
 * Names are matched exactly (ASCII case-insensitively): the plan's names
 * are egress route hosts, which egress also matches exactly, so a
 * subdomain of an allowed name could not be used for anything but
 * carrying data to that zone's name servers, the classic tunnel. An
 * entry "*.zone" (written by an operator, never by the plan) allows the
 * names strictly under zone, not zone itself, and those names must pass
 * the tunnelling checks: at most DNSSERVE_SUB_LABELS labels left of the
 * zone, each of letters, digits, '-' and '_', at most DNSSERVE_SUB_LABEL_MAX
 * bytes, DNSSERVE_SUB_TEXT_MAX in all, and none that looks like encoded
 * data (dnsserve_label_encoded).
 *
 * Query types: DNSSERVE_DEFAULT_TYPES (A, AAAA, CNAME, SVCB, HTTPS) plus
 * the policy's allow_types. TXT, NULL, ANY, AXFR and every other type are
 * refused unless listed; they carry the most data per answer.
 */

#define DNSSERVE_MAX_ENTRIES 4096 /* allow entries kept; more is refused */
#define DNSSERVE_SUB_LABELS 4     /* labels a "*.zone" entry allows left of zone */
#define DNSSERVE_SUB_LABEL_MAX 40 /* bytes per such label */
#define DNSSERVE_SUB_TEXT_MAX 100 /* text bytes left of zone in all, dots included */
#define DNSSERVE_EDNS_SIZE 1232   /* what bb dns advertises and asks upstream for (DNS flag day 2020) */
#define DNSSERVE_ANSWER_TTL 60    /* TTL of transparent-mode answers */
#define DNSSERVE_RCODE_BADVERS 16 /* extended rcode (RFC 6891) */

struct dnsserve_entry {
	struct dns_name name; /* lower-cased */
	int wildcard;         /* "*.name": names strictly under name */
	int from_git;         /* came from git_gate.repos (for logs) */
};

struct dnsserve_policy {
	struct dnsserve_entry *entries; /* grown as parsed, at most DNSSERVE_MAX_ENTRIES */
	size_t nentries, entries_cap;
	uint8_t types[65536 / 8]; /* bit t set: qtype t allowed */
};

/*
 * The policy of a plan's dns and git_gate parts; errors name the source
 * and key ("plan.json: dns.allow[3]: ..."). Unknown keys in the dns
 * object, names that are not host names, IP literals and unknown type
 * names are refused. *out is the caller's to free with dnsserve_policy_free.
 */
int dnsserve_policy_from_plan(struct planfile *pf, struct dnsserve_policy **out, struct bb_err *e);
/* The same from plan JSON text of len bytes; `what` names the source. */
int dnsserve_policy_parse(const char *what, const char *json, size_t len, struct dnsserve_policy **out,
			  struct bb_err *e);
/* Read the plan file at path (at most PLANFILE_MAX_BYTES) and take its policy. */
int dnsserve_policy_load(const char *path, struct dnsserve_policy **out, struct bb_err *e);
void dnsserve_policy_free(struct dnsserve_policy *p);

/* "A", "txt", "TYPE99", "99" (case-insensitive) to a type number; -1 when unknown or out of range. */
int dnsserve_type_parse(const char *s, uint16_t *out);
/* A type's mnemonic ("A", "TXT") or "TYPEn" in buf (at least 12 bytes); returns buf. */
const char *dnsserve_type_name(uint16_t type, char *buf, size_t cap);
/* An rcode's mnemonic ("NOERROR", "REFUSED", "BADVERS") or "RCODEn" in buf (at least 12 bytes); returns buf. */
const char *dnsserve_rcode_name(unsigned rcode, char *buf, size_t cap);

/*
 * 1 when a label (len bytes, case ignored) looks like encoded data rather
 * than a host name part, with *why (may be NULL) set to a static reason.
 * Only labels of 12 bytes or more are judged (shorter ones hold little and
 * their statistics say nothing). Signals, any of which is enough:
 *  - three or more letter/digit changes between adjacent bytes ("a9x3k2"),
 *    which base32, base36, base64 and hex text nearly always has and words
 *    split by hyphens ("ec2-54-12", "us-east-1") do not;
 *  - a run of ten or more letters between hyphens with fewer than 22%
 *    vowels (a, e, i, o, u, y): random letters have about 23% on average
 *    but far fewer in most runs that long; words have 35-45%;
 *  - at least 24 bytes with a Shannon entropy of 4.3 bits per byte or more.
 * Measured on random strings and 340 real host labels: see docs/dns.md.
 */
int dnsserve_label_encoded(const uint8_t *label, size_t len, const char **why);

enum dnsserve_action {
	DNSSERVE_DROP,    /* send nothing: a response, or a malformed packet */
	DNSSERVE_REPLY,   /* answer with rcode and no records (dnsserve_reply) */
	DNSSERVE_FORWARD, /* allowed: ask the upstream and relay its answer */
	DNSSERVE_ANSWER   /* allowed, transparent mode: answer with the configured address (dnsserve_reply) */
};

struct dnsserve_config {
	uint16_t deny_rcode;      /* for names not allowed: DNS_RCODE_REFUSED (default) or DNS_RCODE_NXDOMAIN */
	int transparent;          /* answer allowed names locally instead of forwarding */
	int have_v4, have_v6;     /* transparent mode: which of answer4/answer6 are set */
	struct netaddr answer4;   /* the A answer */
	struct netaddr answer6;   /* the AAAA answer */
};

struct dnsserve_decision {
	enum dnsserve_action action;
	unsigned rcode;     /* DNSSERVE_REPLY: the (possibly extended) rcode; ANSWER: NOERROR */
	const char *verdict; /* "allow", "deny", "drop" or "error" (a query bb cannot serve) */
	const char *reason;  /* a static phrase for the log, e.g. "not in the allow list" */
	long entry;          /* index of the allow entry that matched, or -1 */
};

/*
 * Decide a parsed message (dns_parse succeeded). Pure: the same inputs
 * always give the same decision. In order: a response (QR) is dropped;
 * an opcode other than QUERY gets NOTIMP; no question, or records in the
 * answer or authority section, FORMERR; EDNS version above 0 BADVERS; a
 * class other than IN REFUSED; then the name (not allowed: deny_rcode),
 * then the type (not allowed: REFUSED even with --nxdomain, since an
 * NXDOMAIN would deny the name's other types to caches too).
 */
void dnsserve_decide(const struct dnsserve_policy *p, const struct dnsserve_config *c, const struct dns_msg *q,
		     struct dnsserve_decision *d);

/*
 * Parse buf[0..len) into q and decide it; a packet that does not parse is
 * DNSSERVE_DROP with verdict "drop" (reason "malformed"), as is one
 * shorter than a header.
 */
void dnsserve_decide_packet(const struct dnsserve_policy *p, const struct dnsserve_config *c, const uint8_t *buf,
			    size_t len, struct dns_msg *q, struct dnsserve_decision *d);

/* The largest reply the client of q takes: 65535 over TCP, else its EDNS size (at least 512) or 512. */
size_t dnsserve_client_limit(const struct dns_msg *q, int tcp);

/*
 * A reply built here to query q: its id, opcode, RD and CD, QR and RA
 * set, the question copied as received (case kept), an OPT record (our
 * size, the extended rcode bits, DO copied) when q had one, and for
 * DNSSERVE_ANSWER the address record the decision and config call for
 * (an A query with have_v4 gets answer4, an AAAA query with have_v6
 * answer6, anything else no record: NODATA). An extended rcode (BADVERS)
 * needs an OPT record and is sent with one. At most limit bytes.
 */
int dnsserve_reply(const struct dns_msg *q, const struct dnsserve_config *c, const struct dnsserve_decision *d,
		   size_t limit, uint8_t *out, size_t cap, size_t *len, struct bb_err *e);

/*
 * The query bb sends upstream for client query q: a fresh id, RD and CD
 * as the client set them, the question lower-cased (so case cannot carry
 * bits), class IN, and an OPT record advertising DNSSERVE_EDNS_SIZE with
 * DO copied only when q had EDNS. Nothing else of the client's message
 * (its EDNS options, extra records) goes upstream. With tcp, the two-byte
 * length prefix comes first.
 */
int dnsserve_upstream_query(const struct dns_msg *q, uint16_t id, int tcp, uint8_t *out, size_t cap, size_t *len,
			    struct bb_err *e);

/*
 * 1 when parsed message r is the answer to the upstream query with this
 * id and question: QR set, opcode QUERY, the same id, one question equal
 * (name case-insensitively, type and class). Else 0: ignore it (a stray
 * or spoofed packet).
 */
int dnsserve_upstream_matches(const struct dns_msg *r, uint16_t id, const struct dns_name *qname, uint16_t qtype,
			      uint16_t qclass);

/* What the client asked, for relaying an upstream answer back to it. */
struct dnsserve_client {
	uint16_t id;
	struct dns_name qname; /* as the client wrote it */
	int edns;              /* the client sent OPT */
	size_t limit;          /* dnsserve_client_limit */
};

/*
 * Write upstream answer r (matched by dnsserve_upstream_matches) as the
 * reply to client c into out: the client's id and question spelling; the
 * upstream's OPT record replaced by ours (DNSSERVE_EDNS_SIZE, its
 * extended rcode and DO bit, no options) when the client sent EDNS, and
 * dropped when it did not; records after the OPT dropped. Then fitted to
 * c->limit: first the additional section goes (no TC, RFC 2181 9), then
 * the authority section, then answer records from the end, and TC is set
 * when any answer or authority record went. Compression pointers only
 * point backward, so a kept prefix of an honest message stays valid; the
 * result is parsed again, and an answer whose names reach into what was
 * cut (or read the question's letters as lengths) fails with BB_EINVAL.
 */
int dnsserve_relay(const struct dns_msg *r, const struct dnsserve_client *c, uint8_t *out, size_t cap, size_t *len,
		   struct bb_err *e);

#endif
