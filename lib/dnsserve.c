/* dnsserve.c - the DNS policy (plan JSON), the per-query decision with its tunnelling checks, and reply, upstream-query and relay builders. */
#include "dnsserve.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "planfile.h"

static const struct {
	const char *name;
	uint16_t type;
} type_names[] = {
	{ "A", DNS_TYPE_A },       { "NS", DNS_TYPE_NS },     { "CNAME", DNS_TYPE_CNAME }, { "SOA", DNS_TYPE_SOA },
	{ "NULL", DNS_TYPE_NULL }, { "PTR", DNS_TYPE_PTR },   { "MX", DNS_TYPE_MX },       { "TXT", DNS_TYPE_TXT },
	{ "AAAA", DNS_TYPE_AAAA }, { "SRV", DNS_TYPE_SRV },   { "DNAME", DNS_TYPE_DNAME }, { "OPT", DNS_TYPE_OPT },
	{ "DS", 43 },              { "RRSIG", 46 },           { "NSEC", 47 },              { "DNSKEY", 48 },
	{ "SVCB", DNS_TYPE_SVCB }, { "HTTPS", DNS_TYPE_HTTPS }, { "CAA", 257 },            { "IXFR", 251 },
	{ "AXFR", DNS_TYPE_AXFR }, { "ANY", DNS_TYPE_ANY },
};

static const uint16_t default_types[] = { DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_CNAME, DNS_TYPE_SVCB, DNS_TYPE_HTTPS };

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

int dnsserve_type_parse(const char *s, uint16_t *out)
{
	size_t i;
	const char *digits = NULL;

	if (!s || !*s)
		return -1;
	for (i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (!strcasecmp(s, type_names[i].name)) {
			*out = type_names[i].type;
			return 0;
		}
	if (!strncasecmp(s, "TYPE", 4))
		digits = s + 4;
	else if (*s >= '0' && *s <= '9')
		digits = s;
	if (digits && *digits >= '0' && *digits <= '9' && strlen(digits) <= 5 && (digits[0] != '0' || !digits[1])) {
		unsigned long v = 0;

		for (i = 0; digits[i]; i++) {
			if (digits[i] < '0' || digits[i] > '9')
				return -1;
			v = v * 10 + (unsigned long)(digits[i] - '0');
		}
		if (v > 65535)
			return -1;
		*out = (uint16_t)v;
		return 0;
	}
	return -1;
}

const char *dnsserve_type_name(uint16_t type, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (type_names[i].type == type) {
			snprintf(buf, cap, "%s", type_names[i].name);
			return buf;
		}
	snprintf(buf, cap, "TYPE%u", type);
	return buf;
}

const char *dnsserve_rcode_name(unsigned rcode, char *buf, size_t cap)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED" };

	if (rcode < sizeof names / sizeof names[0])
		snprintf(buf, cap, "%s", names[rcode]);
	else if (rcode == DNSSERVE_RCODE_BADVERS)
		snprintf(buf, cap, "BADVERS");
	else
		snprintf(buf, cap, "RCODE%u", rcode);
	return buf;
}

/* ---- the policy ---- */

static void type_allow(struct dnsserve_policy *p, uint16_t t)
{
	p->types[t >> 3] |= (uint8_t)(1u << (t & 7));
}

static int type_allowed(const struct dnsserve_policy *p, uint16_t t)
{
	return p->types[t >> 3] >> (t & 7) & 1;
}

/* A host name as the policy may name it: letters, digits, '-', '_' and dots; not an IP literal. */
static int entry_parse(const char *s, int allow_wildcard, struct dnsserve_entry *out, struct bb_err *e)
{
	size_t len = strlen(s), i;

	memset(out, 0, sizeof *out);
	if (allow_wildcard && len >= 2 && s[0] == '*' && s[1] == '.') {
		out->wildcard = 1;
		s += 2;
		len -= 2;
	}
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0)
		return bb_errf(e, BB_EINVAL, "%s", out->wildcard ? "\"*.\" would allow every name" : "empty name");
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return bb_errf(e, BB_EINVAL, "'%.*s' is not a host name (character '%c'%s)", (int)(len > 80 ? 80 : len),
				       s, c, c == '*' ? "; a wildcard is only \"*.zone\"" : "");
	}
	if (netaddr_host_is_ip(s, len))
		return bb_errf(e, BB_EINVAL, "'%.*s' is an IP address, not a name", (int)(len > 80 ? 80 : len), s);
	if (dns_name_from_text(s, len, &out->name, e) < 0)
		return -1;
	for (i = 0; i < out->name.len; i++)
		out->name.wire[i] = lower(out->name.wire[i]);
	return 0;
}

static int add_entry(struct dnsserve_policy *p, const struct dnsserve_entry *en, struct bb_err *e)
{
	size_t i;

	for (i = 0; i < p->nentries; i++)
		if (p->entries[i].wildcard == en->wildcard && dns_name_eq(&p->entries[i].name, &en->name))
			return 0; /* a route and a repo on one host */
	if (p->nentries >= DNSSERVE_MAX_ENTRIES)
		return bb_errf(e, BB_ETOOBIG, "more than %d allowed names", DNSSERVE_MAX_ENTRIES);
	if (p->nentries == p->entries_cap) {
		size_t cap = p->entries_cap ? p->entries_cap * 2 : 16;
		struct dnsserve_entry *grown = realloc(p->entries, cap * sizeof *grown);

		if (!grown)
			return bb_errno(e, ENOMEM, "allowed names");
		p->entries = grown;
		p->entries_cap = cap;
	}
	p->entries[p->nentries++] = *en;
	return 0;
}

static int take_dns(const char *what, const struct planfile_dns *dns, struct dnsserve_policy *p, struct bb_err *e)
{
	size_t i;

	for (i = 0; i < dns->allow.n; i++) {
		struct dnsserve_entry en;

		if (entry_parse(dns->allow.v[i], 1, &en, e) < 0 || add_entry(p, &en, e) < 0)
			return bb_err_wrap(e, "%s: dns.allow[%zu]", what, i);
	}
	for (i = 0; i < dns->ntypes; i++) {
		const struct planfile_dns_type *ty = &dns->types[i];
		double v = ty->number;
		uint16_t t;

		if (!ty->name && v >= 1 && v <= 65535 && v == (double)(int)v)
			t = (uint16_t)v;
		else if (!ty->name || dnsserve_type_parse(ty->name, &t) < 0)
			return bb_errf(e, BB_EINVAL, "%s: dns.allow_types[%zu]: '%.32s' is not a DNS type (A, TXT, TYPE99, ...)",
				       what, i, ty->name ? ty->name : "a number");
		if (t == DNS_TYPE_OPT || t == 0)
			return bb_errf(e, BB_EINVAL, "%s: dns.allow_types[%zu]: type %u cannot be asked for", what, i, t);
		type_allow(p, t);
	}
	return 0;
}

/* git_gate.repos[].host: names are allowed, IP literals skipped. */
static int take_git_hosts(const char *what, const struct planfile_git_gate *gg, struct dnsserve_policy *p,
			  struct bb_err *e)
{
	size_t i;

	for (i = 0; i < gg->nrepos; i++) {
		const char *h = gg->repos[i].host;
		struct dnsserve_entry en;

		if (!h)
			return bb_errf(e, BB_EINVAL, "%s: git_gate.repos[%zu].host: is required", what, i);
		if (netaddr_host_is_ip(h, strlen(h)))
			continue;
		if (entry_parse(h, 0, &en, e) < 0)
			return bb_err_wrap(e, "%s: git_gate.repos[%zu].host", what, i);
		en.from_git = 1;
		if (add_entry(p, &en, e) < 0)
			return bb_err_wrap(e, "%s", what);
	}
	return 0;
}

int dnsserve_policy_from_plan(struct planfile *pf, struct dnsserve_policy **out, struct bb_err *e)
{
	struct dnsserve_policy *p;
	struct planfile_dns dns;
	struct planfile_git_gate gg;
	size_t i;

	*out = NULL;
	if (planfile_dns(pf, &dns, e) < 0 || planfile_git_gate(pf, &gg, e) < 0)
		return -1;
	p = calloc(1, sizeof *p);
	if (!p)
		return bb_errno(e, ENOMEM, "%s", pf->what);
	for (i = 0; i < sizeof default_types / sizeof default_types[0]; i++)
		type_allow(p, default_types[i]);
	if (take_dns(pf->what, &dns, p, e) < 0 || take_git_hosts(pf->what, &gg, p, e) < 0) {
		dnsserve_policy_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

PLANFILE_LOADERS(dnsserve_policy, struct dnsserve_policy *)

void dnsserve_policy_free(struct dnsserve_policy *p)
{
	if (!p)
		return;
	free(p->entries);
	free(p);
}

/* ---- tunnelling shapes ---- */

static int is_alpha(uint8_t c)
{
	c = lower(c);
	return c >= 'a' && c <= 'z';
}

static int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

int dnsserve_label_encoded(const uint8_t *label, size_t len, const char **why)
{
	unsigned counts[256] = { 0 };
	size_t i, changes = 0, letters = 0, vowels = 0;
	double h = 0;

	if (why)
		*why = NULL;
	if (len < 12)
		return 0;
	for (i = 0; i + 1 < len; i++)
		if ((is_alpha(label[i]) && is_digit(label[i + 1])) || (is_digit(label[i]) && is_alpha(label[i + 1])))
			changes++;
	if (changes >= 3) {
		if (why)
			*why = "letters and digits interleaved (encoded data)";
		return 1;
	}
	for (i = 0; i <= len; i++) {
		uint8_t c = i < len ? lower(label[i]) : '-';

		if (c == '-' || c == '_') {
			if (letters >= 10 && vowels * 100 < letters * 22) {
				if (why)
					*why = "a long run of letters with few vowels (encoded data)";
				return 1;
			}
			letters = vowels = 0;
		} else if (is_alpha(c)) {
			letters++;
			vowels += c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
		}
	}
	if (len < 24)
		return 0;
	for (i = 0; i < len; i++)
		counts[lower(label[i])]++;
	for (i = 0; i < 256; i++)
		if (counts[i]) {
			double f = (double)counts[i] / (double)len;

			h -= f * log2(f);
		}
	if (h >= 4.3) {
		if (why)
			*why = "high entropy (encoded data)";
		return 1;
	}
	return 0;
}

/* The checks a name under a "*.zone" entry must pass; a static reason when it fails, else NULL. */
static const char *wildcard_sub_refusal(const struct dns_name *n, const struct dns_name *zone)
{
	size_t nsub = dns_name_labels(n) - dns_name_labels(zone), i = 0, k, text = 0;

	if (nsub > DNSSERVE_SUB_LABELS)
		return "too many labels under a wildcard zone";
	for (k = 0; k < nsub; k++) {
		size_t l = n->wire[i], j;
		const uint8_t *lab = n->wire + i + 1;
		const char *why;

		if (l > DNSSERVE_SUB_LABEL_MAX)
			return "label longer than 40 under a wildcard zone";
		for (j = 0; j < l; j++)
			if (!is_alpha(lab[j]) && !is_digit(lab[j]) && lab[j] != '-' && lab[j] != '_')
				return "label with bytes other than letters, digits, '-' and '_'";
		if (dnsserve_label_encoded(lab, l, &why))
			return why;
		text += l + 1;
		i += 1 + l;
	}
	if (text - 1 > DNSSERVE_SUB_TEXT_MAX)
		return "name longer than 100 under a wildcard zone";
	return NULL;
}

static void set(struct dnsserve_decision *d, enum dnsserve_action a, unsigned rcode, const char *verdict,
		const char *reason)
{
	d->action = a;
	d->rcode = rcode;
	d->verdict = verdict;
	d->reason = reason;
}

/* The allow entry for n, or -1 with *reason saying why none. */
static long match_name(const struct dnsserve_policy *p, const struct dns_name *n, const char **reason)
{
	const char *refusal = NULL;
	long wild = -1, under_exact = -1;
	size_t i;

	for (i = 0; p && i < p->nentries; i++) {
		const struct dnsserve_entry *en = &p->entries[i];

		if (!en->wildcard && dns_name_eq(n, &en->name))
			return (long)i;
		if (!dns_name_under(n, &en->name) || dns_name_eq(n, &en->name))
			continue;
		if (en->wildcard) {
			const char *why = wildcard_sub_refusal(n, &en->name);

			/* One passing wildcard is enough; else the first refusal is reported. */
			if (!why && wild < 0)
				wild = (long)i;
			else if (why && !refusal)
				refusal = why;
		} else if (under_exact < 0) {
			under_exact = (long)i;
		}
	}
	if (wild >= 0)
		return wild;
	if (refusal)
		*reason = refusal;
	else if (under_exact >= 0)
		*reason = "under an allowed name, but only that exact name is allowed";
	else
		*reason = "not in the allow list";
	return -1;
}

void dnsserve_decide(const struct dnsserve_policy *p, const struct dnsserve_config *c, const struct dns_msg *q,
		     struct dnsserve_decision *d)
{
	const char *reason = NULL;

	d->entry = -1;
	if (q->h.flags & DNS_FLAG_QR)
		set(d, DNSSERVE_DROP, 0, "drop", "a response, not a query");
	else if (DNS_OPCODE(q->h.flags) != 0)
		set(d, DNSSERVE_REPLY, DNS_RCODE_NOTIMP, "error", "opcode not implemented");
	else if (!q->has_question)
		set(d, DNSSERVE_REPLY, DNS_RCODE_FORMERR, "error", "no question");
	else if (q->h.ancount || q->h.nscount)
		set(d, DNSSERVE_REPLY, DNS_RCODE_FORMERR, "error", "records in a query's answer or authority section");
	else if (q->edns.present && q->edns.version > 0)
		set(d, DNSSERVE_REPLY, DNSSERVE_RCODE_BADVERS, "error", "EDNS version above 0");
	else if (q->q.qclass != DNS_CLASS_IN)
		set(d, DNSSERVE_REPLY, DNS_RCODE_REFUSED, "deny", "class other than IN");
	else if ((d->entry = match_name(p, &q->q.name, &reason)) < 0)
		set(d, DNSSERVE_REPLY, c->deny_rcode, "deny", reason);
	else if (!type_allowed(p, q->q.qtype))
		set(d, DNSSERVE_REPLY, DNS_RCODE_REFUSED, "deny", "query type not allowed");
	else if (c->transparent)
		set(d, DNSSERVE_ANSWER, DNS_RCODE_NOERROR, "allow", "transparent answer");
	else
		set(d, DNSSERVE_FORWARD, DNS_RCODE_NOERROR, "allow", "allowed name");
}

void dnsserve_decide_packet(const struct dnsserve_policy *p, const struct dnsserve_config *c, const uint8_t *buf,
			    size_t len, struct dns_msg *q, struct dnsserve_decision *d)
{
	d->entry = -1;
	if (dns_parse(buf, len, q, NULL) < 0)
		set(d, DNSSERVE_DROP, 0, "drop", len < DNS_HEADER_LEN ? "shorter than a header" : "malformed");
	else
		dnsserve_decide(p, c, q, d);
}

/* ---- replies ---- */

size_t dnsserve_client_limit(const struct dns_msg *q, int tcp)
{
	size_t s;

	if (tcp)
		return 65535;
	if (!q->edns.present)
		return DNS_UDP_MAX;
	s = q->edns.udp_size;
	if (s < DNS_UDP_MAX)
		s = DNS_UDP_MAX;
	/* Never more than we advertise: large UDP answers fragment, and fragments are spoofable. */
	if (s > DNSSERVE_EDNS_SIZE)
		s = DNSSERVE_EDNS_SIZE;
	return s;
}

int dnsserve_reply(const struct dns_msg *q, const struct dnsserve_config *c, const struct dnsserve_decision *d,
		   size_t limit, uint8_t *out, size_t cap, size_t *len, struct bb_err *e)
{
	struct dns_writer w;
	struct dns_header h = { 0 };
	unsigned rcode = d->action == DNSSERVE_ANSWER ? DNS_RCODE_NOERROR : d->rcode;

	if (d->action == DNSSERVE_DROP || d->action == DNSSERVE_FORWARD)
		return bb_errf(e, BB_EINVAL, "no local reply for this decision");
	h.id = q->h.id;
	h.flags = (uint16_t)(DNS_FLAG_QR | (q->h.flags & (0x7800u | DNS_FLAG_RD | DNS_FLAG_CD)) | DNS_FLAG_RA |
			     (rcode & 0xfu));
	if (dns_writer_init(&w, out, cap < limit ? cap : limit, &h, e) < 0)
		return -1;
	if (q->has_question && dns_put_question(&w, &q->q.name, q->q.qtype, q->q.qclass, e) < 0)
		return -1;
	if (d->action == DNSSERVE_ANSWER) {
		if (q->q.qtype == DNS_TYPE_A && c->have_v4 &&
		    dns_put_rr(&w, DNS_SECTION_ANSWER, &q->q.name, DNS_TYPE_A, DNS_CLASS_IN, DNSSERVE_ANSWER_TTL,
			       c->answer4.b, 4, e) < 0)
			return -1;
		if (q->q.qtype == DNS_TYPE_AAAA && c->have_v6 &&
		    dns_put_rr(&w, DNS_SECTION_ANSWER, &q->q.name, DNS_TYPE_AAAA, DNS_CLASS_IN, DNSSERVE_ANSWER_TTL,
			       c->answer6.b, 16, e) < 0)
			return -1;
	}
	if ((q->edns.present || rcode > 15) &&
	    dns_put_opt(&w, DNSSERVE_EDNS_SIZE, (uint8_t)(rcode >> 4), (uint16_t)(q->edns.flags & 0x8000u), e) < 0)
		return -1;
	*len = w.len;
	return 0;
}

int dnsserve_upstream_query(const struct dns_msg *q, uint16_t id, int tcp, uint8_t *out, size_t cap, size_t *len,
			    struct bb_err *e)
{
	struct dns_writer w;
	struct dns_header h = { 0 };
	struct dns_name lname = q->q.name;
	size_t i, pre = tcp ? 2 : 0;

	if (!q->has_question)
		return bb_errf(e, BB_EINVAL, "no question to forward");
	if (cap < pre)
		return bb_errf(e, BB_ETOOBIG, "buffer too small");
	for (i = 0; i < lname.len; i++)
		lname.wire[i] = lower(lname.wire[i]);
	h.id = id;
	h.flags = (uint16_t)(q->h.flags & (DNS_FLAG_RD | DNS_FLAG_CD));
	if (dns_writer_init(&w, out + pre, cap - pre, &h, e) < 0 ||
	    dns_put_question(&w, &lname, q->q.qtype, DNS_CLASS_IN, e) < 0)
		return -1;
	if (q->edns.present && dns_put_opt(&w, DNSSERVE_EDNS_SIZE, 0, (uint16_t)(q->edns.flags & 0x8000u), e) < 0)
		return -1;
	if (tcp)
		put16(out, (uint16_t)w.len);
	*len = w.len + pre;
	return 0;
}

int dnsserve_upstream_matches(const struct dns_msg *r, uint16_t id, const struct dns_name *qname, uint16_t qtype,
			      uint16_t qclass)
{
	return (r->h.flags & DNS_FLAG_QR) && DNS_OPCODE(r->h.flags) == 0 && r->h.id == id && r->has_question &&
	       r->q.qtype == qtype && r->q.qclass == qclass && dns_name_eq(&r->q.name, qname);
}

/* Where the first k records (in message order) end: the question's end when k is 0. */
static size_t records_end(const struct dns_msg *r, size_t k)
{
	const struct dns_rr *rr;

	if (k == 0)
		return r->question_end;
	rr = &r->rr[k - 1];
	return (size_t)rr->rdata_off + rr->rdlen;
}

int dnsserve_relay(const struct dns_msg *r, const struct dnsserve_client *c, uint8_t *out, size_t cap, size_t *len,
		   struct bb_err *e)
{
	size_t an = r->h.ancount, ns = r->h.nscount, ar, usable, optlen = c->edns ? 11 : 0, limit = c->limit, body;
	uint16_t flags = r->h.flags;
	uint8_t *o;

	if (!r->has_question || r->q.name.len != c->qname.len || r->question_end < DNS_HEADER_LEN + (size_t)c->qname.len)
		return bb_errf(e, BB_EINVAL, "upstream answer does not hold the client's question");
	/* Records before the OPT (or all): those after it are additional data and may go. */
	usable = r->edns.present ? r->edns.rr_index : r->nrr;
	ar = usable - an - ns; /* the OPT sits in the additional section, so usable >= an + ns */
	if (limit > cap)
		limit = cap;
	if (records_end(r, an + ns + ar) + optlen > limit) {
		ar = 0;
		if (records_end(r, an + ns) + optlen > limit) {
			ns = 0;
			flags |= DNS_FLAG_TC;
			while (an > 0 && records_end(r, an) + optlen > limit)
				an--;
		}
	}
	body = records_end(r, an + ns + ar);
	if (body + optlen > limit)
		return bb_errf(e, BB_ETOOBIG, "the question alone does not fit in %zu bytes", limit);
	memcpy(out, r->buf, body);
	put16(out, c->id);
	put16(out + 2, flags);
	put16(out + 4, 1);
	put16(out + 6, (uint16_t)an);
	put16(out + 8, (uint16_t)ns);
	put16(out + 10, (uint16_t)(ar + (c->edns ? 1 : 0)));
	memcpy(out + DNS_HEADER_LEN, c->qname.wire, c->qname.len);
	if (c->edns) {
		uint32_t ttl = r->edns.present ? (uint32_t)r->edns.ext_rcode << 24 | (r->edns.flags & 0x8000u) : 0;

		o = out + body;
		o[0] = 0;
		put16(o + 1, DNS_TYPE_OPT);
		put16(o + 3, DNSSERVE_EDNS_SIZE);
		put16(o + 5, (uint16_t)(ttl >> 16));
		put16(o + 7, (uint16_t)ttl);
		put16(o + 9, 0);
	}
	/*
	 * Pointers point backward, but the labels at a pointer's target may run
	 * on past it, even into records we cut, and a case change in the question
	 * can turn a letter another name reads as a length. Honest servers never
	 * write such names; a message that no longer parses is not relayed.
	 */
	{
		struct dns_msg check;

		if (dns_parse(out, body + optlen, &check, e) < 0)
			return bb_err_wrap(e, "upstream answer does not survive relaying");
	}
	*len = body + optlen;
	return 0;
}
