/* test_dnsserve.c - unit tests of lib/dnsserve: policy parsing, every decision path, tunnelling shapes, byte-exact replies, upstream queries, relay and truncation. */
#include <stdint.h>
#include <stdlib.h>

#include "dnsmsg.h"
#include "dnsserve.h"
#include "t.h"
#include "t_dns.h"

/* Parse json, an object the tests write without the plan's "schema" key: it is added here. */
static int parse(const char *json, struct dnsserve_policy **p, struct bb_err *e)
{
	size_t n = strlen(json) + 32;
	char *plan = malloc(n);
	int rc;

	if (!plan)
		return -1;
	if (json[0] == '{' && json[1] != '}' && !strstr(json, "\"schema\""))
		snprintf(plan, n, "{\"schema\":\"bb.plan/1\",%s", json + 1);
	else
		snprintf(plan, n, "%s", json);
	rc = dnsserve_policy_parse("policy.json", plan, strlen(plan), p, e);
	free(plan);
	return rc;
}

static struct dnsserve_policy *policy_of(const char *json)
{
	struct dnsserve_policy *p = NULL;
	struct bb_err e = { 0 };

	if (parse(json, &p, &e) < 0)
		printf("#   policy refused: %s\n", e.msg);
	return p;
}

/* Parse error text of a policy that must be refused ("" when it was accepted). */
static const char *policy_error(const char *json)
{
	static struct bb_err e;
	struct dnsserve_policy *p = NULL;

	memset(&e, 0, sizeof e);
	if (parse(json, &p, &e) == 0) {
		dnsserve_policy_free(p);
		return "";
	}
	return e.msg;
}

/* A query in buf: id, flags, name, type, class; edns_size > 0 adds OPT (version, DO). */
struct qspec {
	uint16_t id, flags;
	const char *name;
	uint16_t type, qclass;
	uint16_t edns_size;
	uint8_t edns_version;
	uint16_t edns_flags;
};

static size_t make_query(const struct qspec *s, uint8_t *buf, size_t cap)
{
	struct dns_writer w;
	struct dns_header h = { s->id, s->flags, 0, 0, 0, 0 };
	struct dns_name n = name_of(s->name);

	if (dns_writer_init(&w, buf, cap, &h, NULL) < 0 ||
	    dns_put_question(&w, &n, s->type, s->qclass ? s->qclass : DNS_CLASS_IN, NULL) < 0)
		return 0;
	if (s->edns_size) {
		struct dns_name root = { 1, { 0 } };

		if (dns_put_rr(&w, DNS_SECTION_ADDITIONAL, &root, DNS_TYPE_OPT, s->edns_size,
			       (uint32_t)s->edns_version << 16 | s->edns_flags, NULL, 0, NULL) < 0)
			return 0;
	}
	return w.len;
}

static const char plan[] =
	"{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[]},"
	"\"git_gate\":{\"repos\":[{\"name\":\"app\",\"host\":\"git.example.org\"},{\"name\":\"ip\",\"host\":\"192.0.2.7\"}]},"
	"\"dns\":{\"allow\":[\"api.example.com\",\"Allowed.Test.\",\"*.wild.test\"]}}";

static struct dnsserve_decision decide(const struct dnsserve_policy *p, const struct dnsserve_config *c,
				       const struct qspec *s)
{
	uint8_t buf[600];
	size_t len = make_query(s, buf, sizeof buf);
	struct dns_msg *q = malloc(sizeof *q);
	struct dnsserve_decision d = { DNSSERVE_DROP, 0, "unset", "unset", -1 };

	if (q) {
		dnsserve_decide_packet(p, c, buf, len, q, &d);
		free(q);
	}
	return d;
}

static void policy_forms(void)
{
	struct dnsserve_policy *p = policy_of(plan), *q;
	char t[DNS_NAME_TEXT_MAX];

	T_CHECK(p != NULL);
	if (!p)
		return;
	/* Three allow entries and the named git host; the IP literal host is skipped. */
	T_CHECK(p->nentries == 4);
	T_CHECK(dns_name_to_text(&p->entries[1].name, t, sizeof t) > 0);
	T_STREQ(t, "allowed.test"); /* lower-cased, final dot dropped */
	T_CHECK(p->entries[2].wildcard == 1 && p->entries[3].from_git == 1);
	dnsserve_policy_free(p);
	/* allow_types by name and number. */
	q = policy_of("{\"dns\":{\"allow\":[\"a.test\"],\"allow_types\":[\"txt\",\"TYPE99\",15]}}");
	T_CHECK(q && q->nentries == 1);
	if (q) {
		struct dnsserve_config c = { DNS_RCODE_REFUSED, 0, 0, 0, { 0 }, { 0 } };
		struct qspec s = { 1, DNS_FLAG_RD, "a.test", DNS_TYPE_TXT, 0, 0, 0, 0 };

		T_CHECK(decide(q, &c, &s).action == DNSSERVE_FORWARD);
		s.type = 99;
		T_CHECK(decide(q, &c, &s).action == DNSSERVE_FORWARD);
		s.type = DNS_TYPE_MX;
		T_CHECK(decide(q, &c, &s).action == DNSSERVE_FORWARD);
		s.type = DNS_TYPE_NULL;
		T_CHECK(decide(q, &c, &s).action == DNSSERVE_REPLY);
	}
	dnsserve_policy_free(q);
	/* An empty allow list is valid (everything refused). */
	q = policy_of("{\"dns\":{\"allow\":[]}}");
	T_CHECK(q && q->nentries == 0);
	dnsserve_policy_free(q);
	/* The same host from a route and a repo is one entry. */
	q = policy_of("{\"dns\":{\"allow\":[\"h.test\"]},\"git_gate\":{\"repos\":[{\"host\":\"H.test\"}]}}");
	T_CHECK(q && q->nentries == 1);
	dnsserve_policy_free(q);
}

static void policy_refusals(void)
{
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow\":[\"a.test\"],\"alow\":[]}}"), "unknown key 'alow'") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow\":\"a.test\"}}"), "dns.allow: must be a list") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow\":[7]}}"), "dns.allow[0]: must be a string") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow\":[\"ok.test\",\"a b.test\"]}}"), "dns.allow[1]") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow\":[\"10.0.0.1\"]}}"), "IP address") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow\":[\"*.\"]}}"), "every name") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow\":[\"a.*.test\"]}}"), "wildcard is only") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow\":[\"a..test\"]}}"), "empty label") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow_types\":[\"BOGUS\"]}}"), "not a DNS type") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow_types\":[\"OPT\"]}}"), "cannot be asked for") != NULL);
	T_CHECK(strstr(policy_error("{\"egress\":{}}"), "policy.json: dns: is required") != NULL);
	T_CHECK(strstr(policy_error("[1]"), "policy.json: a plan is a JSON object, this is a list") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow_types\":{}}}"),
		       "policy.json: dns.allow_types: must be a list of type names, was an object") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow_types\":[1.5]}}"), "dns.allow_types[0]: 'a number' is not a DNS type") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{\"allow_types\":[null]}}"),
		       "dns.allow_types[0]: must be a type name or number, was null") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{},\"git_gate\":{\"repos\":[{\"name\":\"a\"}]}}"),
		       "policy.json: git_gate.repos[0].host: is required") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{},\"git_gate\":[]}"), "policy.json: git_gate: must be an object, was a list") != NULL);
	{ /* the dns object alone (which this reader once took) is no plan */
		struct dnsserve_policy *p = NULL;
		struct bb_err e = { 0 };
		const char *alone = "{\"allow\":[\"a.test\"]}";

		T_CHECK(dnsserve_policy_parse("dns.json", alone, strlen(alone), &p, &e) < 0 && !p);
		T_CHECK(strstr(e.msg, "dns.json: not a bb plan: schema is missing") != NULL);
	}
	T_CHECK(strstr(policy_error("{\"dns\":"), "policy.json") != NULL);
	T_CHECK(strstr(policy_error("{\"dns\":{},\"git_gate\":{\"repos\":[{\"host\":\"bad host\"}]}}"),
		       "git_gate.repos[0].host") != NULL);
	/* The cap on names: DNSSERVE_MAX_ENTRIES is accepted, one more is not. */
	{
		size_t cap = 32 + (DNSSERVE_MAX_ENTRIES + 1) * 16, o, i;
		char *j = malloc(cap);
		struct dnsserve_policy *p = NULL;

		if (!j) {
			T_CHECK(0);
			return;
		}
		for (int extra = 0; extra < 2; extra++) {
			o = (size_t)snprintf(j, cap, "{\"dns\":{\"allow\":[");
			for (i = 0; i < (size_t)DNSSERVE_MAX_ENTRIES + (size_t)extra; i++)
				o += (size_t)snprintf(j + o, cap - o, "%s\"h%zu.test\"", i ? "," : "", i);
			snprintf(j + o, cap - o, "]}}");
			if (!extra) {
				p = policy_of(j);
				T_CHECK(p && p->nentries == DNSSERVE_MAX_ENTRIES);
				dnsserve_policy_free(p);
			} else {
				T_CHECK(strstr(policy_error(j), "more than 4096 allowed names") != NULL);
			}
		}
		free(j);
	}
}

static void type_names(void)
{
	uint16_t t = 0;
	char b[16];

	T_CHECK(dnsserve_type_parse("aaaa", &t) == 0 && t == DNS_TYPE_AAAA);
	T_CHECK(dnsserve_type_parse("TYPE65535", &t) == 0 && t == 65535);
	T_CHECK(dnsserve_type_parse("type65536", &t) < 0);
	T_CHECK(dnsserve_type_parse("TYPE", &t) < 0);
	T_CHECK(dnsserve_type_parse("007", &t) < 0);
	T_CHECK(dnsserve_type_parse("1x", &t) < 0);
	T_STREQ(dnsserve_type_name(DNS_TYPE_HTTPS, b, sizeof b), "HTTPS");
	T_STREQ(dnsserve_type_name(4242, b, sizeof b), "TYPE4242");
	T_STREQ(dnsserve_rcode_name(5, b, sizeof b), "REFUSED");
	T_STREQ(dnsserve_rcode_name(16, b, sizeof b), "BADVERS");
	T_STREQ(dnsserve_rcode_name(9, b, sizeof b), "RCODE9");
}

static void decide_names(void)
{
	struct dnsserve_policy *p = policy_of(plan);
	struct dnsserve_config c = { DNS_RCODE_REFUSED, 0, 0, 0, { 0 }, { 0 } };
	struct qspec s = { 0x4242, DNS_FLAG_RD, "api.example.com", DNS_TYPE_A, 0, 0, 0, 0 };
	struct dnsserve_decision d;

	if (!p) {
		T_CHECK(0);
		return;
	}
	d = decide(p, &c, &s);
	T_CHECK(d.action == DNSSERVE_FORWARD && d.entry == 0);
	T_STREQ(d.verdict, "allow");
	s.name = "ALLOWED.test"; /* case-insensitive */
	T_CHECK(decide(p, &c, &s).action == DNSSERVE_FORWARD);
	s.name = "git.example.org"; /* a git upstream of the plan */
	T_CHECK(decide(p, &c, &s).action == DNSSERVE_FORWARD);
	s.name = "x.api.example.com"; /* exact names only */
	d = decide(p, &c, &s);
	T_CHECK(d.action == DNSSERVE_REPLY && d.rcode == DNS_RCODE_REFUSED && d.entry == -1);
	T_CHECK(strstr(d.reason, "only that exact name") != NULL);
	s.name = "example.com"; /* a parent is not allowed either */
	d = decide(p, &c, &s);
	T_STREQ(d.reason, "not in the allow list");
	s.name = "badapi.example.com";
	T_CHECK(decide(p, &c, &s).rcode == DNS_RCODE_REFUSED);
	s.name = "elsewhere.test";
	c.deny_rcode = DNS_RCODE_NXDOMAIN; /* --nxdomain */
	d = decide(p, &c, &s);
	T_CHECK(d.action == DNSSERVE_REPLY && d.rcode == DNS_RCODE_NXDOMAIN);
	T_STREQ(d.verdict, "deny");
	/* A refused type on an allowed name stays REFUSED: NXDOMAIN would deny its A record to caches. */
	s.name = "api.example.com";
	s.type = DNS_TYPE_TXT;
	d = decide(p, &c, &s);
	T_CHECK(d.action == DNSSERVE_REPLY && d.rcode == DNS_RCODE_REFUSED && d.entry == 0);
	T_STREQ(d.reason, "query type not allowed");
	s.type = DNS_TYPE_ANY;
	T_CHECK(decide(p, &c, &s).rcode == DNS_RCODE_REFUSED);
	s.type = DNS_TYPE_NULL;
	T_CHECK(decide(p, &c, &s).rcode == DNS_RCODE_REFUSED);
	s.type = DNS_TYPE_AXFR;
	T_CHECK(decide(p, &c, &s).rcode == DNS_RCODE_REFUSED);
	s.type = DNS_TYPE_HTTPS;
	T_CHECK(decide(p, &c, &s).action == DNSSERVE_FORWARD);
	s.type = DNS_TYPE_AAAA;
	T_CHECK(decide(p, &c, &s).action == DNSSERVE_FORWARD);
	dnsserve_policy_free(p);
}

static void decide_wildcards(void)
{
	struct dnsserve_policy *p = policy_of(plan);
	struct dnsserve_config c = { DNS_RCODE_REFUSED, 0, 0, 0, { 0 }, { 0 } };
	struct qspec s = { 1, DNS_FLAG_RD, "cdn.wild.test", DNS_TYPE_A, 0, 0, 0, 0 };
	struct dnsserve_decision d;
	uint8_t buf[600];
	struct dns_msg *q = malloc(sizeof *q);
	size_t len;

	if (!p || !q) {
		T_CHECK(0);
		free(q);
		dnsserve_policy_free(p);
		return;
	}
	d = decide(p, &c, &s);
	T_CHECK(d.action == DNSSERVE_FORWARD && d.entry == 2);
	s.name = "a.b-c.d_e.f.wild.test"; /* four labels: the most allowed */
	T_CHECK(decide(p, &c, &s).action == DNSSERVE_FORWARD);
	s.name = "a.b.c.d.e.wild.test";
	T_STREQ(decide(p, &c, &s).reason, "too many labels under a wildcard zone");
	s.name = "wild.test"; /* "*.zone" is not zone itself */
	T_STREQ(decide(p, &c, &s).reason, "not in the allow list");
	s.name = "this-label-is-forty-one-characters-long-x.wild.test";
	T_STREQ(decide(p, &c, &s).reason, "label longer than 40 under a wildcard zone");
	s.name = "this-label-is-forty-characters-long-xxxx.wild.test";
	T_CHECK(decide(p, &c, &s).action == DNSSERVE_FORWARD);
	s.name = "internationalization-localization-rules.documentation-and-release-notes-for-all.a"
		 "ccounts-and-settings.wild.test";
	T_STREQ(decide(p, &c, &s).reason, "name longer than 100 under a wildcard zone");
	s.name = "mzxw6ytboi2dgnzr.wild.test"; /* base32 */
	d = decide(p, &c, &s);
	T_CHECK(d.action == DNSSERVE_REPLY && strstr(d.reason, "encoded data") != NULL);
	s.name = "Zm9vYmFyYmF6cXV4.wild.test"; /* base64 of "foobarbazqux" */
	T_CHECK(strstr(decide(p, &c, &s).reason, "encoded data") != NULL);
	s.name = "3f9a0c7be41d52a8.wild.test"; /* hex */
	T_CHECK(strstr(decide(p, &c, &s).reason, "encoded data") != NULL);
	s.name = "raw-githubusercontent.wild.test";
	T_CHECK(decide(p, &c, &s).action == DNSSERVE_FORWARD);
	/* A label with bytes a host name never has (dig cannot even type it). */
	{
		struct qspec b = s;
		b.name = "xxxx.wild.test";
		len = make_query(&b, buf, sizeof buf);
		buf[13] = 0x01; /* "x" -> \001 */
		dnsserve_decide_packet(p, &c, buf, len, q, &d);
		T_STREQ(d.reason, "label with bytes other than letters, digits, '-' and '_'");
	}
	/* --nxdomain applies to wildcard refusals too. */
	c.deny_rcode = DNS_RCODE_NXDOMAIN;
	s.name = "a.b.c.d.e.wild.test";
	T_CHECK(decide(p, &c, &s).rcode == DNS_RCODE_NXDOMAIN);
	free(q);
	dnsserve_policy_free(p);
}

static void decide_message_checks(void)
{
	struct dnsserve_policy *p = policy_of(plan);
	struct dnsserve_config c = { DNS_RCODE_REFUSED, 0, 0, 0, { 0 }, { 0 } };
	struct qspec s = { 1, DNS_FLAG_RD, "api.example.com", DNS_TYPE_A, 0, 0, 0, 0 };
	struct dnsserve_decision d;
	struct dns_msg *q = malloc(sizeof *q);
	uint8_t buf[600];
	size_t len;

	if (!p || !q) {
		T_CHECK(0);
		free(q);
		dnsserve_policy_free(p);
		return;
	}
	s.flags = DNS_FLAG_QR | DNS_FLAG_RD; /* a response is never answered (no reflection loops) */
	d = decide(p, &c, &s);
	T_CHECK(d.action == DNSSERVE_DROP);
	T_STREQ(d.verdict, "drop");
	s.flags = (uint16_t)(4u << 11); /* NOTIFY */
	T_CHECK(decide(p, &c, &s).rcode == DNS_RCODE_NOTIMP);
	s.flags = DNS_FLAG_RD;
	s.qclass = DNS_CLASS_CH;
	d = decide(p, &c, &s);
	T_CHECK(d.rcode == DNS_RCODE_REFUSED);
	T_STREQ(d.reason, "class other than IN");
	s.qclass = 0;
	s.edns_size = 1232;
	s.edns_version = 1;
	T_CHECK(decide(p, &c, &s).rcode == DNSSERVE_RCODE_BADVERS);
	s.edns_version = 0;
	T_CHECK(decide(p, &c, &s).action == DNSSERVE_FORWARD);
	/* No question: FORMERR. */
	len = make_query(&s, buf, sizeof buf);
	buf[5] = 0;
	memmove(buf + 12, buf + 12 + 17 + 4, len - 12 - 17 - 4);
	dnsserve_decide_packet(p, &c, buf, len - 21, q, &d);
	T_CHECK(d.action == DNSSERVE_REPLY && d.rcode == DNS_RCODE_FORMERR);
	/* Garbage, a cut header, a cut question, a compression loop: dropped. */
	dnsserve_decide_packet(p, &c, (const uint8_t *)"hello", 5, q, &d);
	T_CHECK(d.action == DNSSERVE_DROP);
	T_STREQ(d.reason, "shorter than a header");
	len = make_query(&s, buf, sizeof buf);
	dnsserve_decide_packet(p, &c, buf, len - 14, q, &d);
	T_CHECK(d.action == DNSSERVE_DROP);
	T_STREQ(d.reason, "malformed");
	buf[12] = 0xc0;
	buf[13] = 12;
	dnsserve_decide_packet(p, &c, buf, len, q, &d);
	T_CHECK(d.action == DNSSERVE_DROP);
	/* An answer record in a query: FORMERR. */
	len = make_query(&s, buf, sizeof buf);
	buf[7] = 1;  /* ancount 1 ... */
	buf[11] = 0; /* ... and the OPT now counted as that answer: parse fails (OPT outside additional) -> drop */
	dnsserve_decide_packet(p, &c, buf, len, q, &d);
	T_CHECK(d.action == DNSSERVE_DROP);
	{
		struct dns_writer w;
		struct dns_header h = { 9, DNS_FLAG_RD, 0, 0, 0, 0 };
		struct dns_name n = name_of("api.example.com");
		static const uint8_t a[4] = { 1, 2, 3, 4 };

		T_CHECK(dns_writer_init(&w, buf, sizeof buf, &h, NULL) == 0);
		T_CHECK(dns_put_question(&w, &n, DNS_TYPE_A, DNS_CLASS_IN, NULL) == 0);
		T_CHECK(dns_put_rr(&w, DNS_SECTION_ANSWER, &n, DNS_TYPE_A, DNS_CLASS_IN, 1, a, 4, NULL) == 0);
		dnsserve_decide_packet(p, &c, buf, w.len, q, &d);
		T_CHECK(d.action == DNSSERVE_REPLY && d.rcode == DNS_RCODE_FORMERR);
	}
	/* Transparent mode: allowed names are answered here. */
	c.transparent = 1;
	T_CHECK(decide(p, &c, &s).action == DNSSERVE_ANSWER);
	s.name = "nope.test";
	T_CHECK(decide(p, &c, &s).action == DNSSERVE_REPLY);
	free(q);
	dnsserve_policy_free(p);
}

/* xorshift: the same "random" labels on every run. */
static uint32_t rng_state = 2463534242u;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static double detection(const char *alphabet, size_t len, int runs)
{
	size_t n = strlen(alphabet);
	int hits = 0, r;
	uint8_t lab[64];

	for (r = 0; r < runs; r++) {
		size_t i;

		for (i = 0; i < len; i++)
			lab[i] = (uint8_t)alphabet[rng() % n];
		hits += dnsserve_label_encoded(lab, len, NULL);
	}
	return (double)hits / runs;
}

static void encoded_labels(void)
{
	static const char *const words[] = {
		"objects-githubusercontent", "raw-githubusercontent", "registry-npmjs", "my-very-long-project-name-1234",
		"ec2-54-123-12-3", "internationalization", "static-production-assets", "us-east-1-amazonaws",
		"login-microsoftonline", "storage-googleapis", "production-cluster-east-westus", "kubernetes-dashboard",
		"files-pythonhosted", "contributor-covenant", "measurement-factory", "cryptography", "typescriptlang",
		"api-anthropic", "documentation", "d1234abcd", "s3-us-west-2", "a1b2c",
		"internationalization-localization-rules", "documentation-and-release-notes-for-all",
	};
	static const char *const data[] = {
		"mzxw6ytboi2dgnzrgq3tqojq", "nbswy3dpeb3w64tmmq", "3f9a0c7be41d52a8", "e3b0c44298fc1c149afbf4c8996fb924",
		"Zm9vYmFyYmF6cXV4", "dGhlIHF1aWNrIGJyb3du", "k8s9x2m4p7q1z0w3",
	};
	const char *why = NULL;
	size_t i;
	double b32, hex, b64, letters;

	for (i = 0; i < sizeof words / sizeof words[0]; i++)
		if (dnsserve_label_encoded((const uint8_t *)words[i], strlen(words[i]), &why)) {
			printf("#   host label %s judged encoded: %s\n", words[i], why);
			T_CHECK(0);
		}
	for (i = 0; i < sizeof data / sizeof data[0]; i++)
		if (!dnsserve_label_encoded((const uint8_t *)data[i], strlen(data[i]), &why)) {
			printf("#   data label %s passed\n", data[i]);
			T_CHECK(0);
		}
	/* Short labels are never judged; a 12-byte one is. */
	T_CHECK(!dnsserve_label_encoded((const uint8_t *)"a1b2c3d4e5f", 11, NULL));
	T_CHECK(dnsserve_label_encoded((const uint8_t *)"a1b2c3d4e5f6", 12, &why) && why != NULL);
	/* Rates on random labels: the figures docs/dns.md quotes. */
	b32 = detection("abcdefghijklmnopqrstuvwxyz234567", 32, 4000);
	hex = detection("0123456789abcdef", 16, 4000);
	b64 = detection("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 32, 4000);
	letters = detection("abcdefghijklmnopqrstuvwxyz", 40, 4000);
	printf("# detection: base32/32 %.3f, hex/16 %.3f, base64url/32 %.3f, letters/40 %.3f; "
	       "base32/16 %.3f, base32/40 %.3f\n",
	       b32, hex, b64, letters, detection("abcdefghijklmnopqrstuvwxyz234567", 16, 4000),
	       detection("abcdefghijklmnopqrstuvwxyz234567", 40, 4000));
	T_CHECK(b32 > 0.98 && hex > 0.97 && b64 > 0.97 && letters > 0.45);
}

static void client_limits(void)
{
	struct dns_msg *q = malloc(sizeof *q);
	uint8_t buf[600];
	struct qspec s = { 1, DNS_FLAG_RD, "a.test", DNS_TYPE_A, 0, 0, 0, 0 };
	size_t len;

	if (!q) {
		T_CHECK(0);
		return;
	}
	len = make_query(&s, buf, sizeof buf);
	T_CHECK(dns_parse(buf, len, q, NULL) == 0);
	T_CHECK(dnsserve_client_limit(q, 0) == 512 && dnsserve_client_limit(q, 1) == 65535);
	s.edns_size = 100; /* below 512 counts as 512 */
	len = make_query(&s, buf, sizeof buf);
	T_CHECK(dns_parse(buf, len, q, NULL) == 0 && dnsserve_client_limit(q, 0) == 512);
	s.edns_size = 1000;
	len = make_query(&s, buf, sizeof buf);
	T_CHECK(dns_parse(buf, len, q, NULL) == 0 && dnsserve_client_limit(q, 0) == 1000);
	s.edns_size = 4096; /* never more than we advertise */
	len = make_query(&s, buf, sizeof buf);
	T_CHECK(dns_parse(buf, len, q, NULL) == 0 && dnsserve_client_limit(q, 0) == DNSSERVE_EDNS_SIZE);
	free(q);
}

static void replies_byte_exact(void)
{
	struct dnsserve_policy *p = policy_of(plan);
	struct dnsserve_config c = { DNS_RCODE_REFUSED, 0, 0, 0, { 0 }, { 0 } };
	struct dns_msg *q = malloc(sizeof *q);
	struct dnsserve_decision d;
	uint8_t buf[600], out[600];
	size_t len, n = 0;
	/* "Nope.test" A, id 0xbeef, RD+CD, EDNS 4096 with DO. */
	struct qspec s = { 0xbeef, DNS_FLAG_RD | DNS_FLAG_CD, "Nope.test", DNS_TYPE_A, 0, 4096, 0, 0x8000 };
	static const uint8_t refused[] = {
		0xbe, 0xef, 0x81, 0x95, 0, 1, 0, 0, 0, 0, 0, 1, /* QR RD RA CD, REFUSED */
		4, 'N', 'o', 'p', 'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
		0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0, /* OPT 1232, DO */
	};
	static const uint8_t answer[] = {
		0x00, 0x07, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 3, 'a', 'p', 'i', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,
		'c', 'o', 'm', 0, 0, 1, 0, 1, 3, 'a', 'p', 'i', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 2,
	};

	if (!p || !q) {
		T_CHECK(0);
		free(q);
		dnsserve_policy_free(p);
		return;
	}
	len = make_query(&s, buf, sizeof buf);
	dnsserve_decide_packet(p, &c, buf, len, q, &d);
	T_CHECK(dnsserve_reply(q, &c, &d, 512, out, sizeof out, &n, NULL) == 0);
	T_CHECK(n == sizeof refused && memcmp(out, refused, n) == 0);
	/* BADVERS: extended rcode 16 = OPT ext_rcode 1, header rcode 0. */
	s.edns_version = 1;
	len = make_query(&s, buf, sizeof buf);
	dnsserve_decide_packet(p, &c, buf, len, q, &d);
	T_CHECK(dnsserve_reply(q, &c, &d, 512, out, sizeof out, &n, NULL) == 0);
	T_CHECK((out[3] & 0xf) == 0 && out[n - 11 + 5] == 1);
	/* Transparent mode, no EDNS: A answered with the sidecar's address, TTL 60. */
	c.transparent = 1;
	c.have_v4 = 1;
	c.answer4.family = AF_INET;
	c.answer4.b[0] = 10;
	c.answer4.b[3] = 2;
	{
		struct qspec a = { 7, DNS_FLAG_RD, "api.example.com", DNS_TYPE_A, 0, 0, 0, 0 };

		len = make_query(&a, buf, sizeof buf);
		dnsserve_decide_packet(p, &c, buf, len, q, &d);
		T_CHECK(d.action == DNSSERVE_ANSWER);
		T_CHECK(dnsserve_reply(q, &c, &d, 512, out, sizeof out, &n, NULL) == 0);
		T_CHECK(n == sizeof answer && memcmp(out, answer, n) == 0);
		/* AAAA without a v6 address: NODATA (NOERROR, no record). */
		a.type = DNS_TYPE_AAAA;
		len = make_query(&a, buf, sizeof buf);
		dnsserve_decide_packet(p, &c, buf, len, q, &d);
		T_CHECK(dnsserve_reply(q, &c, &d, 512, out, sizeof out, &n, NULL) == 0);
		T_CHECK(n == 33 && out[3] == 0x80 && out[7] == 0);
		/* No local reply for a forward or a drop. */
		d.action = DNSSERVE_FORWARD;
		T_CHECK(dnsserve_reply(q, &c, &d, 512, out, sizeof out, &n, NULL) < 0);
		/* Limit honoured. */
		d.action = DNSSERVE_REPLY;
		T_CHECK(dnsserve_reply(q, &c, &d, 20, out, sizeof out, &n, NULL) < 0);
	}
	free(q);
	dnsserve_policy_free(p);
}

static void upstream_query_strips(void)
{
	struct dns_msg *q = malloc(sizeof *q), *u = malloc(sizeof *u);
	uint8_t buf[600], out[DNS_UDP_MAX];
	size_t len, n = 0;
	struct dns_name want = name_of("api.example.com");
	struct dns_writer w;
	struct dns_header h = { 0x1111, DNS_FLAG_RD | DNS_FLAG_CD | DNS_FLAG_AD, 0, 0, 0, 0 };
	struct dns_name n1 = name_of("ApI.ExAmPlE.CoM"), root = { 1, { 0 } };
	/* An EDNS cookie option (10): the kind of bytes an agent could fill with data. */
	static const uint8_t cookie[] = { 0, 10, 0, 8, 'S', 'E', 'C', 'R', 'E', 'T', '!', '!' };

	if (!q || !u) {
		T_CHECK(0);
		free(q);
		free(u);
		return;
	}
	T_CHECK(dns_writer_init(&w, buf, sizeof buf, &h, NULL) == 0);
	T_CHECK(dns_put_question(&w, &n1, DNS_TYPE_A, DNS_CLASS_IN, NULL) == 0);
	T_CHECK(dns_put_rr(&w, DNS_SECTION_ADDITIONAL, &root, DNS_TYPE_OPT, 4096, 0x8000, cookie, sizeof cookie, NULL) ==
		0);
	len = w.len;
	T_CHECK(dns_parse(buf, len, q, NULL) == 0);
	T_CHECK(dnsserve_upstream_query(q, 0xabcd, 0, out, sizeof out, &n, NULL) == 0);
	T_CHECK(dns_parse(out, n, u, NULL) == 0);
	T_CHECK(u->h.id == 0xabcd && u->h.flags == (DNS_FLAG_RD | DNS_FLAG_CD));
	T_CHECK(u->q.name.len == want.len && memcmp(u->q.name.wire, want.wire, want.len) == 0); /* lower-cased */
	T_CHECK(u->edns.present && u->edns.udp_size == DNSSERVE_EDNS_SIZE && u->edns.flags == 0x8000);
	T_CHECK(u->rr[u->edns.rr_index].rdlen == 0); /* the cookie stayed home */
	T_CHECK(memmem(out, n, "SECRET", 6) == NULL);
	/* Over TCP: the same bytes after a two-byte length. */
	{
		uint8_t tcp[DNS_UDP_MAX];
		size_t tn = 0;

		T_CHECK(dnsserve_upstream_query(q, 0xabcd, 1, tcp, sizeof tcp, &tn, NULL) == 0);
		T_CHECK(tn == n + 2 && tcp[0] == (n >> 8) && tcp[1] == (uint8_t)n && memcmp(tcp + 2, out, n) == 0);
	}
	/* No EDNS from the client: none upstream either (the answer then has none to strip). */
	{
		struct qspec s = { 5, 0, "a.test", DNS_TYPE_AAAA, 0, 0, 0, 0 };

		len = make_query(&s, buf, sizeof buf);
		T_CHECK(dns_parse(buf, len, q, NULL) == 0);
		T_CHECK(dnsserve_upstream_query(q, 9, 0, out, sizeof out, &n, NULL) == 0);
		T_CHECK(dns_parse(out, n, u, NULL) == 0 && !u->edns.present && u->h.flags == 0 && u->q.qtype == DNS_TYPE_AAAA);
	}
	free(q);
	free(u);
}

/*
 * An upstream answer to "many.test" A (id 0x5151) with n A records whose
 * owners are pointers to the question, an NS in authority, an A glue in
 * additional, then an OPT.
 */
static size_t make_answer(uint8_t *buf, size_t cap, int n, int with_opt, int ns_and_glue)
{
	uint8_t *p = buf;
	int i, ar = (ns_and_glue ? 1 : 0) + (with_opt ? 1 : 0);
	static const uint8_t q[] = { 4, 'm', 'a', 'n', 'y', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1 };

	if (cap < 2000)
		return 0;
	*p++ = 0x51, *p++ = 0x51, *p++ = 0x81, *p++ = 0x80, *p++ = 0, *p++ = 1;
	*p++ = 0, *p++ = (uint8_t)n, *p++ = 0, *p++ = ns_and_glue ? 1 : 0, *p++ = 0, *p++ = (uint8_t)ar;
	memcpy(p, q, sizeof q);
	p += sizeof q;
	for (i = 0; i < n; i++) {
		static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0 };

		memcpy(p, rr, sizeof rr);
		p += sizeof rr;
		*p++ = (uint8_t)i;
	}
	if (ns_and_glue) {
		/* many.test NS ns.many.test (ns + pointer), then ns.many.test A (pointer into that rdata) */
		size_t rdata;

		*p++ = 0xc0, *p++ = 12, *p++ = 0, *p++ = 2, *p++ = 0, *p++ = 1, *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 30;
		*p++ = 0, *p++ = 5;
		rdata = (size_t)(p - buf);
		*p++ = 2, *p++ = 'n', *p++ = 's', *p++ = 0xc0, *p++ = 12;
		*p++ = 0xc0, *p++ = (uint8_t)rdata, *p++ = 0, *p++ = 1, *p++ = 0, *p++ = 1, *p++ = 0, *p++ = 0, *p++ = 0;
		*p++ = 30, *p++ = 0, *p++ = 4, *p++ = 10, *p++ = 9, *p++ = 9, *p++ = 9;
	}
	if (with_opt) {
		/* OPT from upstream: size 4096, DO, and an NSID option the client does not get */
		static const uint8_t opt[] = { 0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 6, 0, 3, 0, 2, 'u', 'p' };

		memcpy(p, opt, sizeof opt);
		p += sizeof opt;
	}
	return (size_t)(p - buf);
}

static void relay_and_truncate(void)
{
	static uint8_t up[4096], out[4096];
	struct dns_msg *r = malloc(sizeof *r), *o = malloc(sizeof *o);
	struct dnsserve_client c;
	size_t len, n = 0;
	struct dns_name anycase = name_of("MaNy.TeSt");

	if (!r || !o) {
		T_CHECK(0);
		free(r);
		free(o);
		return;
	}
	len = make_answer(up, sizeof up, 40, 1, 1);
	T_CHECK(dns_parse(up, len, r, NULL) == 0);
	T_CHECK(dnsserve_upstream_matches(r, 0x5151, &anycase, DNS_TYPE_A, DNS_CLASS_IN));
	T_CHECK(!dnsserve_upstream_matches(r, 0x5152, &anycase, DNS_TYPE_A, DNS_CLASS_IN));
	T_CHECK(!dnsserve_upstream_matches(r, 0x5151, &anycase, DNS_TYPE_AAAA, DNS_CLASS_IN));
	{
		struct dns_name other = name_of("many.tesu");
		T_CHECK(!dnsserve_upstream_matches(r, 0x5151, &other, DNS_TYPE_A, DNS_CLASS_IN));
	}
	c.id = 0x0102;
	c.qname = anycase;
	c.edns = 1;
	c.limit = 65535;
	/* Everything fits: the client's id and spelling, our OPT (no options), DO kept. */
	T_CHECK(dnsserve_relay(r, &c, out, sizeof out, &n, NULL) == 0);
	T_CHECK(dns_parse(out, n, o, NULL) == 0);
	T_CHECK(o->h.id == 0x0102 && o->h.ancount == 40 && o->h.nscount == 1 && o->h.arcount == 2);
	T_CHECK(memcmp(out + 12, anycase.wire, anycase.len) == 0);
	T_CHECK(o->edns.present && o->edns.udp_size == DNSSERVE_EDNS_SIZE && o->edns.flags == 0x8000 &&
		o->rr[o->edns.rr_index].rdlen == 0);
	T_CHECK(n == len - 6 && !(o->h.flags & DNS_FLAG_TC));
	/* 512 bytes: the additional glue goes first ... */
	{
		size_t full = n;

		c.limit = full - 1;
		T_CHECK(dnsserve_relay(r, &c, out, sizeof out, &n, NULL) == 0);
		T_CHECK(dns_parse(out, n, o, NULL) == 0 && o->h.arcount == 1 && o->h.nscount == 1 && o->h.ancount == 40);
		T_CHECK(!(o->h.flags & DNS_FLAG_TC) && n <= c.limit);
	}
	/* ... then authority and answers from the end, with TC. */
	c.limit = 512;
	T_CHECK(dnsserve_relay(r, &c, out, sizeof out, &n, NULL) == 0);
	T_CHECK(dns_parse(out, n, o, NULL) == 0);
	T_CHECK((o->h.flags & DNS_FLAG_TC) && o->h.nscount == 0 && o->h.arcount == 1 && n <= 512);
	T_CHECK(o->h.ancount == (512 - 27 - 11) / 16); /* 16-byte records after a 27-byte head, OPT 11 */
	/* A client without EDNS gets no OPT, and the DNS_UDP_MAX limit. */
	c.edns = 0;
	T_CHECK(dnsserve_relay(r, &c, out, sizeof out, &n, NULL) == 0);
	T_CHECK(dns_parse(out, n, o, NULL) == 0 && !o->edns.present && o->h.arcount == 0 && n <= 512);
	T_CHECK(o->h.ancount == (512 - 27) / 16);
	/* The limit is also the caller's buffer. */
	c.limit = 65535;
	T_CHECK(dnsserve_relay(r, &c, out, 100, &n, NULL) == 0 && n <= 100 && dns_parse(out, n, o, NULL) == 0);
	/* Too small even for the question: refused, not overrun. */
	T_CHECK(dnsserve_relay(r, &c, out, 20, &n, NULL) < 0);
	/* A client whose name is another length cannot be served this answer. */
	c.qname = name_of("many.tests");
	T_CHECK(dnsserve_relay(r, &c, out, sizeof out, &n, NULL) < 0);
	/* Upstream without OPT, client with EDNS: ours is added. */
	len = make_answer(up, sizeof up, 3, 0, 0);
	T_CHECK(dns_parse(up, len, r, NULL) == 0);
	c.qname = anycase;
	c.edns = 1;
	T_CHECK(dnsserve_relay(r, &c, out, sizeof out, &n, NULL) == 0);
	T_CHECK(dns_parse(out, n, o, NULL) == 0 && o->edns.present && o->h.ancount == 3 && n == len + 11);
	free(r);
	free(o);
}

/*
 * Found by the fuzzer: the answer's owner is a pointer to the question's
 * last byte, whose labels then run on over the OPT and the record after
 * it. Relaying drops both, so the name would point into nothing: the
 * relay must refuse it, not send a broken message.
 */
static void relay_refuses_names_into_cut_records(void)
{
	static const uint8_t up[] = {
		0x55, 0x55, 0x01, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x03, 0x00, 0x01, 0x61,
		0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x14, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00,
		0x04, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x04, 0x02, 0x02, 0x02, 0x02,
	};
	uint8_t out[512];
	struct dns_msg *r = malloc(sizeof *r), *o = malloc(sizeof *o);
	struct dnsserve_client c;
	struct bb_err e = { 0 };
	size_t n = 0;
	int rc;

	if (!r || !o) {
		T_CHECK(0);
		free(r);
		free(o);
		return;
	}
	T_CHECK(dns_parse(up, sizeof up, r, NULL) == 0); /* the upstream message itself is well-formed */
	c.id = 1;
	c.qname = r->q.name;
	c.edns = 0;
	c.limit = 512;
	rc = dnsserve_relay(r, &c, out, sizeof out, &n, &e);
	T_CHECK(rc < 0 || dns_parse(out, n, o, NULL) == 0);
	T_CHECK(rc < 0 && strstr(e.msg, "does not survive relaying") != NULL);
	free(r);
	free(o);
}

int main(void)
{
	T_RUN(policy_forms);
	T_RUN(policy_refusals);
	T_RUN(type_names);
	T_RUN(decide_names);
	T_RUN(decide_wildcards);
	T_RUN(decide_message_checks);
	T_RUN(encoded_labels);
	T_RUN(client_limits);
	T_RUN(replies_byte_exact);
	T_RUN(upstream_query_strips);
	T_RUN(relay_and_truncate);
	T_RUN(relay_refuses_names_into_cut_records);
	T_END();
}
