/* dnsmsg.c - DNS wire format: name decoding with loop-proof compression, strict message checks, a bounded writer. */
#include "dnsmsg.h"

#include <string.h>

#define MAX_POINTER_HOPS 127

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

int dns_name_read(const uint8_t *msg, size_t len, size_t off, struct dns_name *out, size_t *end, struct bb_err *e)
{
	size_t pos = off, segment = off, outlen = 0, endpos = 0;
	unsigned hops = 0;
	int jumped = 0;

	for (;;) {
		uint8_t c;

		if (pos >= len)
			return bb_errf(e, BB_EINVAL, "name at offset %zu runs past the end of the message", off);
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len)
				return bb_errf(e, BB_EINVAL, "name at offset %zu: compression pointer cut short", off);
			target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			if (!jumped)
				endpos = pos + 2;
			jumped = 1;
			if (target < DNS_HEADER_LEN)
				return bb_errf(e, BB_EINVAL, "name at offset %zu: compression pointer into the header", off);
			/*
			 * Only to bytes before the label run holding the pointer: run
			 * starts then strictly decrease, so no chain can loop.
			 */
			if (target >= segment)
				return bb_errf(e, BB_EINVAL, "name at offset %zu: compression pointer to %zu is not backward",
					       off, target);
			if (++hops > MAX_POINTER_HOPS)
				return bb_errf(e, BB_EINVAL, "name at offset %zu: too many compression pointers", off);
			pos = segment = target;
			continue;
		}
		if (c & 0xc0)
			return bb_errf(e, BB_EINVAL, "name at offset %zu: label type 0x%02x is not supported", off, c & 0xc0);
		if (outlen + 1 + c > DNS_NAME_WIRE_MAX)
			return bb_errf(e, BB_EINVAL, "name at offset %zu is longer than 255 bytes", off);
		if (c == 0) {
			out->wire[outlen++] = 0;
			if (!jumped)
				endpos = pos + 1;
			break;
		}
		if (pos + 1 + c > len)
			return bb_errf(e, BB_EINVAL, "name at offset %zu runs past the end of the message", off);
		memcpy(out->wire + outlen, msg + pos, (size_t)c + 1);
		outlen += (size_t)c + 1;
		pos += (size_t)c + 1;
	}
	out->len = (uint8_t)outlen;
	if (end)
		*end = endpos;
	return 0;
}

int dns_name_from_text(const char *s, size_t len, struct dns_name *out, struct bb_err *e)
{
	size_t i, start = 0, outlen = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0) {
		out->len = 1;
		out->wire[0] = 0;
		return 0;
	}
	if (len > 253)
		return bb_errf(e, BB_EINVAL, "name longer than 253 characters");
	for (i = 0; i <= len; i++) {
		size_t n;

		if (i < len && s[i] != '.') {
			unsigned char c = (unsigned char)s[i];

			if (c < 0x21 || c > 0x7e || c == '\\')
				return bb_errf(e, BB_EINVAL, "name %.*s: character 0x%02x is not allowed", (int)(len > 64 ? 64 : len),
					       s, c);
			continue;
		}
		n = i - start;
		if (n == 0)
			return bb_errf(e, BB_EINVAL, "name %.*s has an empty label", (int)(len > 64 ? 64 : len), s);
		if (n > DNS_LABEL_MAX)
			return bb_errf(e, BB_EINVAL, "name %.*s has a label longer than 63", (int)(len > 64 ? 64 : len), s);
		out->wire[outlen++] = (uint8_t)n;
		memcpy(out->wire + outlen, s + start, n);
		outlen += n;
		start = i + 1;
	}
	out->wire[outlen++] = 0; /* at most 253 + 2 bytes, so it fits */
	out->len = (uint8_t)outlen;
	return 0;
}

int dns_name_to_text(const struct dns_name *n, char *dst, size_t cap)
{
	size_t i = 0, o = 0;

	if (!dst || cap == 0)
		return -1;
	dst[0] = '\0';
	if (n->len == 0)
		return -1;
	if (n->wire[0] == 0) {
		if (cap < 2)
			return -1;
		dst[0] = '.';
		dst[1] = '\0';
		return 1;
	}
	while (i < n->len && n->wire[i] != 0) {
		size_t l = n->wire[i++], k;

		if (i + l >= n->len)
			return -1;
		if (o > 0) {
			if (o + 1 >= cap)
				return -1;
			dst[o++] = '.';
		}
		for (k = 0; k < l; k++) {
			unsigned char c = n->wire[i + k];
			int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
				    c == '_';

			if (plain) {
				if (o + 1 >= cap)
					return -1;
				dst[o++] = (char)c;
			} else if (c == '.' || c == '\\') {
				if (o + 2 >= cap)
					return -1;
				dst[o++] = '\\';
				dst[o++] = (char)c;
			} else {
				if (o + 4 >= cap)
					return -1;
				dst[o++] = '\\';
				dst[o++] = (char)('0' + c / 100);
				dst[o++] = (char)('0' + c / 10 % 10);
				dst[o++] = (char)('0' + c % 10);
			}
		}
		i += l;
	}
	dst[o] = '\0';
	return (int)o;
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Length bytes compare exactly and sit at the same places in both, so a bytewise case-folded compare is exact. */
static int wire_eq_nocase(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

int dns_name_eq(const struct dns_name *a, const struct dns_name *b)
{
	size_t i = 0;

	if (a->len != b->len)
		return 0;
	/* Walk labels so a length byte is never case-folded against a letter. */
	while (i < a->len) {
		size_t l = a->wire[i];

		if (b->wire[i] != l)
			return 0;
		if (l == 0)
			return i + 1 == a->len;
		if (i + 1 + l > a->len || !wire_eq_nocase(a->wire + i + 1, b->wire + i + 1, l))
			return 0;
		i += 1 + l;
	}
	return 0;
}

int dns_name_under(const struct dns_name *n, const struct dns_name *zone)
{
	size_t i = 0, skip;
	struct dns_name tail;

	if (zone->len > n->len)
		return 0;
	skip = (size_t)(n->len - zone->len);
	while (i < skip) {
		if (n->wire[i] == 0)
			return 0;
		i += 1 + (size_t)n->wire[i];
	}
	if (i != skip)
		return 0; /* the suffix does not start on a label boundary */
	tail.len = zone->len;
	memcpy(tail.wire, n->wire + skip, zone->len);
	return dns_name_eq(&tail, zone);
}

size_t dns_name_labels(const struct dns_name *n)
{
	size_t i = 0, count = 0;

	while (i < n->len && n->wire[i] != 0) {
		count++;
		i += 1 + (size_t)n->wire[i];
	}
	return count;
}

/* A name that must end exactly at rdata_end. */
static int rdata_name(const uint8_t *buf, size_t len, size_t off, size_t rdata_end, size_t *after, const char *what,
		      struct bb_err *e)
{
	struct dns_name n;
	size_t end;

	if (off >= rdata_end)
		return bb_errf(e, BB_EINVAL, "%s record at offset %zu: rdata too short", what, off);
	if (dns_name_read(buf, len, off, &n, &end, e) < 0)
		return bb_err_wrap(e, "%s record rdata", what);
	if (end > rdata_end)
		return bb_errf(e, BB_EINVAL, "%s record at offset %zu: name runs past the rdata", what, off);
	*after = end;
	return 0;
}

static int check_rdata(const struct dns_msg *m, const struct dns_rr *rr, struct bb_err *e)
{
	const uint8_t *buf = m->buf;
	size_t off = rr->rdata_off, end = off + rr->rdlen, at;

	switch (rr->type) {
	case DNS_TYPE_A:
		if (rr->rclass == DNS_CLASS_IN && rr->rdlen != 4)
			return bb_errf(e, BB_EINVAL, "A record at offset %zu: rdata is %u bytes, not 4", off, rr->rdlen);
		return 0;
	case DNS_TYPE_AAAA:
		if (rr->rclass == DNS_CLASS_IN && rr->rdlen != 16)
			return bb_errf(e, BB_EINVAL, "AAAA record at offset %zu: rdata is %u bytes, not 16", off, rr->rdlen);
		return 0;
	case DNS_TYPE_NS:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
	case DNS_TYPE_DNAME:
		at = off;
		break;
	case DNS_TYPE_MX:
		at = off + 2;
		break;
	case DNS_TYPE_SRV:
		at = off + 6;
		break;
	case DNS_TYPE_SOA:
		if (rdata_name(buf, m->len, off, end, &at, "SOA", e) < 0 ||
		    rdata_name(buf, m->len, at, end, &at, "SOA", e) < 0)
			return -1;
		if (end - at != 20)
			return bb_errf(e, BB_EINVAL, "SOA record at offset %zu: %zu bytes after the names, not 20", off,
				       end - at);
		return 0;
	case DNS_TYPE_TXT:
		if (rr->rdlen == 0)
			return bb_errf(e, BB_EINVAL, "TXT record at offset %zu: empty rdata", off);
		for (at = off; at < end; at += 1 + (size_t)buf[at])
			;
		if (at != end)
			return bb_errf(e, BB_EINVAL, "TXT record at offset %zu: a string runs past the rdata", off);
		return 0;
	case DNS_TYPE_OPT:
		for (at = off; at < end;) {
			if (end - at < 4)
				return bb_errf(e, BB_EINVAL, "OPT record at offset %zu: option header cut short", off);
			at += 4 + (size_t)get16(buf + at + 2);
		}
		if (at != end)
			return bb_errf(e, BB_EINVAL, "OPT record at offset %zu: an option runs past the rdata", off);
		return 0;
	default:
		return 0; /* opaque */
	}
	if (rdata_name(buf, m->len, at, end, &at, "name-bearing", e) < 0)
		return -1;
	if (at != end)
		return bb_errf(e, BB_EINVAL, "record at offset %zu: %zu bytes after the name in its rdata", off, end - at);
	return 0;
}

int dns_parse(const uint8_t *buf, size_t len, struct dns_msg *m, struct bb_err *e)
{
	size_t pos, i, total;
	struct dns_name owner;

	m->buf = buf;
	m->len = len;
	m->has_question = 0;
	m->nrr = 0;
	memset(&m->edns, 0, sizeof m->edns);
	if (!buf || len < DNS_HEADER_LEN)
		return bb_errf(e, BB_EINVAL, "DNS message shorter than its 12-byte header");
	if (len > 65535)
		return bb_errf(e, BB_EINVAL, "DNS message longer than 65535 bytes");
	m->h.id = get16(buf);
	m->h.flags = get16(buf + 2);
	m->h.qdcount = get16(buf + 4);
	m->h.ancount = get16(buf + 6);
	m->h.nscount = get16(buf + 8);
	m->h.arcount = get16(buf + 10);
	if (m->h.qdcount > 1)
		return bb_errf(e, BB_EINVAL, "DNS message with %u questions (at most 1 is accepted)", m->h.qdcount);
	total = (size_t)m->h.ancount + m->h.nscount + m->h.arcount;
	if (total > DNS_MAX_RRS)
		return bb_errf(e, BB_ETOOBIG, "DNS message with %zu records (at most %d)", total, DNS_MAX_RRS);
	pos = DNS_HEADER_LEN;
	if (m->h.qdcount == 1) {
		if (dns_name_read(buf, len, pos, &m->q.name, &pos, e) < 0)
			return bb_err_wrap(e, "question");
		if (len - pos < 4)
			return bb_errf(e, BB_EINVAL, "question cut short");
		m->q.qtype = get16(buf + pos);
		m->q.qclass = get16(buf + pos + 2);
		pos += 4;
		m->has_question = 1;
	}
	m->question_end = pos;
	for (i = 0; i < total; i++) {
		struct dns_rr *rr = &m->rr[i];

		rr->name_off = (uint16_t)pos;
		rr->section = i < m->h.ancount ? DNS_SECTION_ANSWER
			      : i < (size_t)m->h.ancount + m->h.nscount ? DNS_SECTION_AUTHORITY
									 : DNS_SECTION_ADDITIONAL;
		if (dns_name_read(buf, len, pos, &owner, &pos, e) < 0)
			return bb_err_wrap(e, "record %zu", i + 1);
		if (len - pos < 10)
			return bb_errf(e, BB_EINVAL, "record %zu cut short (fixed fields)", i + 1);
		rr->type = get16(buf + pos);
		rr->rclass = get16(buf + pos + 2);
		rr->ttl = get32(buf + pos + 4);
		rr->rdlen = get16(buf + pos + 8);
		pos += 10;
		if (len - pos < rr->rdlen)
			return bb_errf(e, BB_EINVAL, "record %zu: rdata runs past the end of the message", i + 1);
		rr->rdata_off = (uint16_t)pos;
		m->nrr = i + 1;
		if (rr->type == DNS_TYPE_OPT) {
			if (rr->section != DNS_SECTION_ADDITIONAL)
				return bb_errf(e, BB_EINVAL, "OPT record outside the additional section");
			if (m->edns.present)
				return bb_errf(e, BB_EINVAL, "more than one OPT record");
			if (owner.len != 1)
				return bb_errf(e, BB_EINVAL, "OPT record not owned by the root");
			m->edns.present = 1;
			m->edns.udp_size = rr->rclass;
			m->edns.ext_rcode = (uint8_t)(rr->ttl >> 24);
			m->edns.version = (uint8_t)(rr->ttl >> 16);
			m->edns.flags = (uint16_t)rr->ttl;
			m->edns.rr_index = (uint16_t)i;
		}
		if (check_rdata(m, rr, e) < 0)
			return -1;
		pos += rr->rdlen;
	}
	if (pos != len)
		return bb_errf(e, BB_EINVAL, "%zu bytes after the last DNS record", len - pos);
	return 0;
}

int dns_rr_owner(const struct dns_msg *m, size_t i, struct dns_name *out, struct bb_err *e)
{
	if (i >= m->nrr)
		return bb_errf(e, BB_EINVAL, "no record %zu", i);
	return dns_name_read(m->buf, m->len, m->rr[i].name_off, out, NULL, e);
}

int dns_rr_target(const struct dns_msg *m, size_t i, struct dns_name *out, struct bb_err *e)
{
	uint16_t t;

	if (i >= m->nrr)
		return bb_errf(e, BB_EINVAL, "no record %zu", i);
	t = m->rr[i].type;
	if (t != DNS_TYPE_NS && t != DNS_TYPE_CNAME && t != DNS_TYPE_PTR && t != DNS_TYPE_DNAME)
		return bb_errf(e, BB_EINVAL, "record %zu (type %u) does not hold a single name", i, t);
	return dns_name_read(m->buf, m->len, m->rr[i].rdata_off, out, NULL, e);
}

static int room(struct dns_writer *w, size_t n, struct bb_err *e)
{
	if (w->cap - w->len < n)
		return bb_errf(e, BB_ETOOBIG, "DNS message would pass %zu bytes", w->cap);
	return 0;
}

static int bump_count(struct dns_writer *w, int section, struct bb_err *e)
{
	uint8_t *c = w->p + 4 + 2 * section;
	uint16_t v = get16(c);

	if (v == 0xffff)
		return bb_errf(e, BB_ETOOBIG, "too many DNS records in one section");
	put16(c, (uint16_t)(v + 1));
	return 0;
}

int dns_writer_init(struct dns_writer *w, uint8_t *p, size_t cap, const struct dns_header *h, struct bb_err *e)
{
	w->p = p;
	w->cap = cap > 65535 ? 65535 : cap;
	w->len = 0;
	w->section = 0;
	if (!p || w->cap < DNS_HEADER_LEN)
		return bb_errf(e, BB_ETOOBIG, "DNS message buffer smaller than a header");
	memset(p, 0, DNS_HEADER_LEN);
	put16(p, h->id);
	put16(p + 2, h->flags);
	w->len = DNS_HEADER_LEN;
	return 0;
}

void dns_writer_set_flags(struct dns_writer *w, uint16_t flags)
{
	put16(w->p + 2, flags);
}

int dns_put_question(struct dns_writer *w, const struct dns_name *name, uint16_t qtype, uint16_t qclass,
		     struct bb_err *e)
{
	if (w->section != 0)
		return bb_errf(e, BB_EINVAL, "DNS question after a record");
	if (name->len == 0)
		return bb_errf(e, BB_EINVAL, "empty DNS name");
	if (room(w, (size_t)name->len + 4, e) < 0 || bump_count(w, 0, e) < 0)
		return -1;
	memcpy(w->p + w->len, name->wire, name->len);
	put16(w->p + w->len + name->len, qtype);
	put16(w->p + w->len + name->len + 2, qclass);
	w->len += (size_t)name->len + 4;
	return 0;
}

int dns_put_rr(struct dns_writer *w, enum dns_section section, const struct dns_name *name, uint16_t type,
	       uint16_t rclass, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen, struct bb_err *e)
{
	size_t n = (size_t)name->len + 10 + rdlen;

	if ((int)section < w->section || section < DNS_SECTION_ANSWER || section > DNS_SECTION_ADDITIONAL)
		return bb_errf(e, BB_EINVAL, "DNS records written out of section order");
	if (name->len == 0)
		return bb_errf(e, BB_EINVAL, "empty DNS name");
	if (room(w, n, e) < 0 || bump_count(w, (int)section, e) < 0)
		return -1;
	w->section = (int)section;
	memcpy(w->p + w->len, name->wire, name->len);
	put16(w->p + w->len + name->len, type);
	put16(w->p + w->len + name->len + 2, rclass);
	put32(w->p + w->len + name->len + 4, ttl);
	put16(w->p + w->len + name->len + 8, rdlen);
	if (rdlen)
		memcpy(w->p + w->len + name->len + 10, rdata, rdlen);
	w->len += n;
	return 0;
}

int dns_put_opt(struct dns_writer *w, uint16_t udp_size, uint8_t ext_rcode, uint16_t flags, struct bb_err *e)
{
	static const struct dns_name root = { 1, { 0 } };

	return dns_put_rr(w, DNS_SECTION_ADDITIONAL, &root, DNS_TYPE_OPT, udp_size, (uint32_t)ext_rcode << 24 | flags,
			  NULL, 0, e);
}

int dns_build_query(uint8_t *buf, size_t cap, size_t *len, uint16_t id, const struct dns_name *name,
		    uint16_t qtype, uint16_t edns_udp_size, struct bb_err *e)
{
	struct dns_writer w;
	struct dns_header h = { id, DNS_FLAG_RD, 0, 0, 0, 0 };

	if (dns_writer_init(&w, buf, cap, &h, e) < 0 || dns_put_question(&w, name, qtype, DNS_CLASS_IN, e) < 0)
		return -1;
	if (edns_udp_size && dns_put_opt(&w, edns_udp_size, 0, 0, e) < 0)
		return -1;
	*len = w.len;
	return 0;
}
