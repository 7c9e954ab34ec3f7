/* pktline.c - git's pkt-line framing: parse and format data, flush, delim and response-end packets, side-band-64k. */
#include "pktline.h"
#include "hex.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int pkt_parse(const void *buf, size_t n, struct pkt *out, struct bb_err *e)
{
	const unsigned char *p = buf;
	size_t len = 0;
	int i;

	if (n < PKT_HDR)
		return 0;
	for (i = 0; i < PKT_HDR; i++) {
		int v = hex_val(p[i]);

		if (v < 0)
			return bb_errf(e, BB_EINVAL, "pkt-line: bad length header (byte %d is 0x%02x, not a hex digit)", i,
				       p[i]);
		len = len << 4 | (size_t)v;
	}
	out->data = (const char *)p;
	out->len = 0;
	out->wire_len = PKT_HDR;
	switch (len) {
	case 0:
		out->kind = PKT_FLUSH;
		return 1;
	case 1:
		out->kind = PKT_DELIM;
		return 1;
	case 2:
		out->kind = PKT_RESPONSE_END;
		return 1;
	case 3:
		return bb_errf(e, BB_EINVAL, "pkt-line: invalid length 0003");
	}
	if (len > PKT_MAX)
		return bb_errf(e, BB_EINVAL, "pkt-line: length %zu is over the %d-byte maximum", len, PKT_MAX);
	if (n < len)
		return 0;
	out->kind = PKT_DATA;
	out->data = (const char *)p + PKT_HDR;
	out->len = len - PKT_HDR;
	out->wire_len = len;
	return 1;
}

struct sv pkt_text(const struct pkt *p)
{
	size_t n = p->kind == PKT_DATA ? p->len : 0;

	if (n && p->data[n - 1] == '\n')
		n--;
	return sv_of(p->data, n);
}

static void put_hdr(char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = hex[(len >> 12) & 15];
	out[1] = hex[(len >> 8) & 15];
	out[2] = hex[(len >> 4) & 15];
	out[3] = hex[len & 15];
}

size_t pkt_format(char *out, size_t cap, const void *data, size_t n)
{
	if (n > PKT_DATA_MAX || cap < n + PKT_HDR)
		return 0;
	put_hdr(out, n + PKT_HDR);
	if (n)
		memcpy(out + PKT_HDR, data, n);
	return n + PKT_HDR;
}

int pkt_append(struct buf *b, const void *data, size_t n, struct bb_err *e)
{
	char hdr[PKT_HDR];

	if (n > PKT_DATA_MAX)
		return bb_errf(e, BB_ETOOBIG, "pkt-line: %zu bytes do not fit one packet (max %d)", n, PKT_DATA_MAX);
	if (buf_reserve(b, n + PKT_HDR, e) < 0)
		return -1;
	put_hdr(hdr, n + PKT_HDR);
	buf_append(b, hdr, PKT_HDR, NULL);
	buf_append(b, data, n, NULL);
	return 0;
}

int pkt_append_str(struct buf *b, const char *s, struct bb_err *e)
{
	return pkt_append(b, s, strlen(s), e);
}

int pkt_appendf(struct buf *b, struct bb_err *e, const char *fmt, ...)
{
	char tmp[PKT_DATA_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return bb_errf(e, BB_EINVAL, "pkt-line: bad format");
	if ((size_t)n > PKT_DATA_MAX)
		return bb_errf(e, BB_ETOOBIG, "pkt-line: %d bytes do not fit one packet (max %d)", n, PKT_DATA_MAX);
	return pkt_append(b, tmp, (size_t)n, e);
}

int pkt_append_special(struct buf *b, enum pkt_kind kind, struct bb_err *e)
{
	static const char *const wire[] = { NULL, "0000", "0001", "0002" };

	if (kind == PKT_DATA || (unsigned)kind > PKT_RESPONSE_END)
		return bb_errf(e, BB_EINVAL, "pkt-line: not a special packet kind");
	return buf_append(b, wire[kind], PKT_HDR, e);
}

int pkt_append_sideband(struct buf *b, int band, const void *data, size_t n, size_t max_chunk, struct bb_err *e)
{
	const unsigned char *p = data;
	size_t chunks, need;

	if (band < PKT_BAND_DATA || band > PKT_BAND_ERROR)
		return bb_errf(e, BB_EINVAL, "side-band: no band %d", band);
	if (max_chunk == 0 || max_chunk > PKT_SIDEBAND_MAX)
		max_chunk = PKT_SIDEBAND_MAX;
	if (n == 0)
		return 0;
	chunks = n / max_chunk + (n % max_chunk != 0);
	/* All or nothing: reserve what every piece needs before writing the first. */
	if (chunks > (SIZE_MAX - n) / (PKT_HDR + 1))
		return bb_errf(e, BB_ETOOBIG, "side-band: %zu bytes is too much", n);
	need = n + chunks * (PKT_HDR + 1);
	if (buf_reserve(b, need, e) < 0)
		return -1;
	while (n) {
		size_t k = n < max_chunk ? n : max_chunk;
		char hdr[PKT_HDR + 1];

		put_hdr(hdr, k + PKT_HDR + 1);
		hdr[PKT_HDR] = (char)band;
		buf_append(b, hdr, sizeof hdr, NULL);
		buf_append(b, p, k, NULL);
		p += k;
		n -= k;
	}
	return 0;
}

int pkt_sideband_split(const struct pkt *p, int *band, struct sv *data, struct bb_err *e)
{
	unsigned char c;

	if (p->kind != PKT_DATA || p->len == 0)
		return bb_errf(e, BB_EINVAL, "side-band: empty packet");
	c = (unsigned char)p->data[0];
	if (c < PKT_BAND_DATA || c > PKT_BAND_ERROR)
		return bb_errf(e, BB_EINVAL, "side-band: no band %u", c);
	*band = c;
	*data = sv_of(p->data + 1, p->len - 1);
	return 0;
}
