/* fuzz_dnsserve.c - fuzzer for bb dns's pure parts (lib/dnsserve): decisions, local replies, upstream queries, relay/truncation, policy JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"
#include "dnsserve.h"
#include "fuzz.h"

static const char policy_json[] = "{\"schema\":\"bb.plan/1\",\"dns\":{\"allow\":[\"allowed.test\",\"many.test\",\"*.wild.test\",\"a\"],"
				  "\"allow_types\":[\"MX\"]},\"git_gate\":{\"repos\":[{\"host\":\"git.test\"}]}}";

static struct dnsserve_policy *policy(void)
{
	static struct dnsserve_policy *p;

	if (!p && dnsserve_policy_parse("fuzz", policy_json, sizeof policy_json - 1, &p, NULL) < 0)
		abort();
	return p;
}

/* A local reply must be a well-formed answer to q within the limit. */
static void check_reply(const struct dns_msg *q, const struct dnsserve_config *c, const struct dnsserve_decision *d,
			struct dns_msg *o)
{
	uint8_t out[1500];
	size_t n = 0, limit = dnsserve_client_limit(q, 0);

	if (dnsserve_reply(q, c, d, limit, out, sizeof out, &n, NULL) < 0)
		abort(); /* a question is at most 259 bytes: every local reply fits 512 */
	if (n > limit || dns_parse(out, n, o, NULL) < 0)
		abort();
	if (o->h.id != q->h.id || !(o->h.flags & DNS_FLAG_QR) || o->has_question != q->has_question)
		abort();
	if (q->has_question && (!dns_name_eq(&o->q.name, &q->q.name) || o->q.qtype != q->q.qtype))
		abort();
	if ((DNS_RCODE(o->h.flags) | (o->edns.present ? (unsigned)o->edns.ext_rcode << 4 : 0)) !=
	    (d->action == DNSSERVE_ANSWER ? 0u : d->rcode))
		abort();
	if (d->action != DNSSERVE_ANSWER && o->h.ancount)
		abort();
}

static void check_forward(const struct dns_msg *q, struct dns_msg *o)
{
	uint8_t out[DNS_UDP_MAX];
	size_t n = 0, i;

	if (dnsserve_upstream_query(q, 0x7777, 0, out, sizeof out, &n, NULL) < 0 || dns_parse(out, n, o, NULL) < 0)
		abort();
	if (o->h.id != 0x7777 || !dns_name_eq(&o->q.name, &q->q.name) || o->h.arcount > 1 || o->h.ancount ||
	    o->h.nscount)
		abort();
	for (i = 0; i < o->q.name.len; i++)
		if (o->q.name.wire[i] >= 'A' && o->q.name.wire[i] <= 'Z')
			abort(); /* case must not carry bits upstream */
	if (o->edns.present && o->rr[o->edns.rr_index].rdlen != 0)
		abort(); /* nor EDNS options */
	if (dnsserve_upstream_query(q, 0x7777, 1, out, sizeof out, &n, NULL) < 0 || (size_t)(out[0] << 8 | out[1]) != n - 2)
		abort();
}

/* The input as an upstream answer, relayed to clients of several sizes. */
static void check_relay(const uint8_t *data, size_t size, struct dns_msg *r, struct dns_msg *o)
{
	static uint8_t out[65536];
	static const size_t limits[] = { 512, 700, 1232, 65535 };
	struct dnsserve_client c;
	size_t i, k, n = 0;

	if (dns_parse(data, size, r, NULL) < 0 || !r->has_question)
		return;
	c.id = 0x1234;
	c.qname = r->q.name;
	for (i = 0; i < c.qname.len; i++) /* another spelling of the same name */
		if ((c.qname.wire[i] | 0x20) >= 'a' && (c.qname.wire[i] | 0x20) <= 'z')
			c.qname.wire[i] ^= 0x20;
	if (!dnsserve_upstream_matches(r, r->h.id, &c.qname, r->q.qtype, r->q.qclass) && (r->h.flags & DNS_FLAG_QR) &&
	    DNS_OPCODE(r->h.flags) == 0)
		abort();
	for (k = 0; k < sizeof limits / sizeof limits[0]; k++) {
		c.edns = (int)((k + size) & 1);
		c.limit = limits[k];
		if (dnsserve_relay(r, &c, out, sizeof out, &n, NULL) < 0)
			continue; /* refused: hostile names (see dnsserve_relay) */
		if (n > c.limit || dns_parse(out, n, o, NULL) < 0)
			abort();
		if (o->h.id != 0x1234 || memcmp(out + DNS_HEADER_LEN, c.qname.wire, c.qname.len) != 0)
			abort();
		if (o->edns.present != c.edns || (c.edns && o->edns.udp_size != DNSSERVE_EDNS_SIZE))
			abort();
		if (o->h.ancount > r->h.ancount || o->h.nscount > r->h.nscount)
			abort();
		if ((o->h.ancount < r->h.ancount || o->h.nscount < r->h.nscount) && !(o->h.flags & DNS_FLAG_TC))
			abort(); /* a cut answer must say so */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg *q = malloc(sizeof *q), *o = malloc(sizeof *o);
	struct dnsserve_config cfgs[2];
	const struct dnsserve_policy *p = policy();
	size_t k;

	if (!q || !o) {
		free(q);
		free(o);
		return 0;
	}
	memset(cfgs, 0, sizeof cfgs);
	cfgs[0].deny_rcode = DNS_RCODE_REFUSED;
	cfgs[1].deny_rcode = DNS_RCODE_NXDOMAIN;
	cfgs[1].transparent = cfgs[1].have_v4 = cfgs[1].have_v6 = 1;
	cfgs[1].answer4.family = AF_INET;
	cfgs[1].answer6.family = AF_INET6;
	for (k = 0; k < 2; k++) {
		struct dnsserve_decision d;

		dnsserve_decide_packet(p, &cfgs[k], data, size, q, &d);
		if (!d.verdict || !d.reason)
			abort();
		switch (d.action) {
		case DNSSERVE_DROP:
			if (strcmp(d.verdict, "drop"))
				abort();
			break;
		case DNSSERVE_REPLY:
			if (!strcmp(d.verdict, "allow"))
				abort();
			check_reply(q, &cfgs[k], &d, o);
			break;
		case DNSSERVE_ANSWER:
			if (!cfgs[k].transparent || d.entry < 0 || strcmp(d.verdict, "allow"))
				abort();
			check_reply(q, &cfgs[k], &d, o);
			break;
		case DNSSERVE_FORWARD:
			if (cfgs[k].transparent || d.entry < 0 || (size_t)d.entry >= p->nentries || strcmp(d.verdict, "allow"))
				abort();
			check_forward(q, o);
			break;
		}
	}
	check_relay(data, size, q, o);
	if (size < 64)
		(void)dnsserve_label_encoded(data, size, NULL);
	if (size > 0 && data[0] == '{') {
		struct dnsserve_policy *np = NULL;

		if (dnsserve_policy_parse("fuzz", (const char *)data, size, &np, NULL) == 0 && !np)
			abort();
		dnsserve_policy_free(np);
	}
	free(q);
	free(o);
	return 0;
}
