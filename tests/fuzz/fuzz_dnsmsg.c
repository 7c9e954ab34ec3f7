/* fuzz_dnsmsg.c - fuzzer for the DNS message parser, name decoding and text forms (lib/dnsmsg). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"
#include "fuzz.h"

/* Properties every accepted message must have; a violation aborts (the fuzzer reports it). */
static void check_accepted(const struct dns_msg *m, size_t size)
{
	char text[DNS_NAME_TEXT_MAX];
	struct dns_name n, back;
	size_t i;

	if (m->has_question) {
		int len = dns_name_to_text(&m->q.name, text, sizeof text);

		if (len < 0 || (size_t)len >= sizeof text)
			abort();
		/* Text without escapes reads back as the same name. */
		if (!strchr(text, '\\') && (dns_name_from_text(text, (size_t)len, &back, NULL) < 0 ||
					    !dns_name_eq(&back, &m->q.name)))
			abort();
	}
	if (m->question_end > size)
		abort();
	for (i = 0; i < m->nrr; i++) {
		const struct dns_rr *rr = &m->rr[i];

		if ((size_t)rr->rdata_off + rr->rdlen > size || rr->name_off >= size)
			abort();
		if (dns_rr_owner(m, i, &n, NULL) < 0 || n.len == 0)
			abort();
		if ((rr->type == DNS_TYPE_CNAME || rr->type == DNS_TYPE_NS || rr->type == DNS_TYPE_PTR ||
		     rr->type == DNS_TYPE_DNAME) &&
		    dns_rr_target(m, i, &n, NULL) < 0)
			abort();
		if (m->has_question)
			(void)dns_name_under(&n, &m->q.name);
	}
	if (m->edns.present && (m->edns.rr_index >= m->nrr || m->rr[m->edns.rr_index].type != DNS_TYPE_OPT))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg *m = malloc(sizeof *m);
	struct dns_name n;
	size_t off, end;

	if (!m)
		return 0;
	if (dns_parse(data, size, m, NULL) == 0)
		check_accepted(m, size);
	/* Names at every offset: the decoder alone, with pointers anywhere. */
	for (off = 0; off < size && off < 512; off++)
		if (dns_name_read(data, size, off, &n, &end, NULL) == 0 && (end > size || end <= off || n.len == 0))
			abort();
	/* The input as text. */
	if (dns_name_from_text((const char *)data, size, &n, NULL) == 0) {
		char text[DNS_NAME_TEXT_MAX];

		if (dns_name_to_text(&n, text, sizeof text) < 0)
			abort();
	}
	free(m);
	return 0;
}
