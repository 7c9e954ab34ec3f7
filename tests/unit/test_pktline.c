/* test_pktline.c - unit tests of lib/pktline: parsing every packet kind, refusals, formatting, side-band-64k. */
#include <string.h>

#include "pktline.h"
#include "t.h"

static void parses_data_and_specials(void)
{
	static const char wire[] = "0009want\n00000001000200041234";
	struct pkt p;
	struct bb_err e = { 0 };
	size_t off = 0;

	T_CHECK(pkt_parse(wire + off, sizeof wire - 1 - off, &p, &e) == 1);
	T_CHECK(p.kind == PKT_DATA && p.len == 5 && p.wire_len == 9 && memcmp(p.data, "want\n", 5) == 0);
	T_CHECK(sv_eq_str(pkt_text(&p), "want"));
	off += p.wire_len;
	T_CHECK(pkt_parse(wire + off, sizeof wire - 1 - off, &p, &e) == 1);
	T_CHECK(p.kind == PKT_FLUSH && p.len == 0 && p.wire_len == 4);
	off += p.wire_len;
	T_CHECK(pkt_parse(wire + off, sizeof wire - 1 - off, &p, &e) == 1);
	T_CHECK(p.kind == PKT_DELIM && p.wire_len == 4);
	off += p.wire_len;
	T_CHECK(pkt_parse(wire + off, sizeof wire - 1 - off, &p, &e) == 1);
	T_CHECK(p.kind == PKT_RESPONSE_END && p.wire_len == 4);
	off += p.wire_len;
	/* 0004: an empty data packet (git reads it). */
	T_CHECK(pkt_parse(wire + off, sizeof wire - 1 - off, &p, &e) == 1);
	T_CHECK(p.kind == PKT_DATA && p.len == 0 && p.wire_len == 4);
	T_CHECK(pkt_text(&p).len == 0);
	off += p.wire_len;
	/* "1234" claims 0x1234 bytes: incomplete, not an error. */
	T_CHECK(pkt_parse(wire + off, sizeof wire - 1 - off, &p, &e) == 0);
}

static void needs_more_bytes(void)
{
	struct pkt p;
	struct bb_err e = { 0 };

	T_CHECK(pkt_parse("", 0, &p, &e) == 0);
	T_CHECK(pkt_parse("000", 3, &p, &e) == 0);
	T_CHECK(pkt_parse("000ahello", 9, &p, &e) == 0);
	T_CHECK(pkt_parse("000ahello!", 10, &p, &e) == 1);
	/* Upper-case hex is accepted too. */
	T_CHECK(pkt_parse("000Ahello!", 10, &p, &e) == 1 && p.len == 6);
}

static void refuses_bad_headers(void)
{
	struct pkt p;
	struct bb_err e = { 0 };

	T_CHECK(pkt_parse("0003", 4, &p, &e) == -1 && e.code == BB_EINVAL);
	T_CHECK(pkt_parse("00g4xxxx", 8, &p, &e) == -1 && strstr(e.msg, "hex") != NULL);
	T_CHECK(pkt_parse(" 004", 4, &p, &e) == -1);
	T_CHECK(pkt_parse("-004", 4, &p, &e) == -1);
	/* 0xfff1 = 65521: one over the maximum. */
	e.code = 0;
	T_CHECK(pkt_parse("fff1", 4, &p, &e) == -1 && e.code == BB_EINVAL);
	/* 0xfff0 = 65520 is the largest allowed: incomplete with only the header. */
	T_CHECK(pkt_parse("fff0", 4, &p, &e) == 0);
}

static void parses_largest_packet(void)
{
	static char wire[PKT_MAX];
	struct pkt p;
	struct bb_err e = { 0 };

	memset(wire, 'x', sizeof wire);
	memcpy(wire, "fff0", 4);
	T_CHECK(pkt_parse(wire, sizeof wire, &p, &e) == 1);
	T_CHECK(p.len == PKT_DATA_MAX && p.wire_len == PKT_MAX);
	T_CHECK(pkt_parse(wire, sizeof wire - 1, &p, &e) == 0);
}

static void formats_packets(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };
	char out[16];

	T_CHECK(pkt_format(out, sizeof out, "hi\n", 3) == 7 && memcmp(out, "0007hi\n", 7) == 0);
	T_CHECK(pkt_format(out, 6, "hi\n", 3) == 0);
	T_CHECK(pkt_append_str(&b, "# service=git-upload-pack\n", &e) == 0);
	T_CHECK(pkt_append_special(&b, PKT_FLUSH, &e) == 0);
	T_CHECK(pkt_appendf(&b, &e, "ACK %s common\n", "0123456789012345678901234567890123456789") == 0);
	T_CHECK(pkt_append_special(&b, PKT_DELIM, &e) == 0);
	T_CHECK(pkt_append_special(&b, PKT_RESPONSE_END, &e) == 0);
	T_CHECK(pkt_append_special(&b, PKT_DATA, &e) == -1);
	T_STREQ(b.p, "001e# service=git-upload-pack\n0000"
		     "0038ACK 0123456789012345678901234567890123456789 common\n00010002");
	buf_free(&b);
}

static void format_refuses_oversize(void)
{
	static char big[PKT_DATA_MAX + 1];
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };

	T_CHECK(pkt_append(&b, big, PKT_DATA_MAX, &e) == 0 && b.len == PKT_MAX);
	T_CHECK(memcmp(b.p, "fff0", 4) == 0);
	buf_reset(&b);
	T_CHECK(pkt_append(&b, big, PKT_DATA_MAX + 1, &e) == -1 && e.code == BB_ETOOBIG && b.len == 0);
	/* A full buffer leaves nothing half-written. */
	b.max = 10;
	T_CHECK(pkt_append_str(&b, "0123456789", &e) == -1 && b.len == 0);
	buf_free(&b);
}

static void sideband_round_trip(void)
{
	static unsigned char data[150000];
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };
	struct pkt p;
	struct sv d;
	size_t off = 0, got = 0, i, packets = 0;
	int band, ok = 1;

	for (i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7);
	T_CHECK(pkt_append_sideband(&b, PKT_BAND_DATA, data, sizeof data, 0, &e) == 0);
	/* 150000 bytes in pieces of at most 65515: three packets. */
	while (off < b.len && pkt_parse(b.p + off, b.len - off, &p, &e) == 1) {
		T_CHECK(pkt_sideband_split(&p, &band, &d, &e) == 0 && band == 1);
		T_CHECK(d.len <= PKT_SIDEBAND_MAX);
		if (memcmp(d.p, data + got, d.len))
			ok = 0;
		got += d.len;
		off += p.wire_len;
		packets++;
	}
	T_CHECK(ok && got == sizeof data && off == b.len && packets == 3);
	buf_reset(&b);
	T_CHECK(pkt_append_sideband(&b, PKT_BAND_PROGRESS, "remote says\n", 12, 5, &e) == 0);
	T_STREQ(b.p, "000a\002remot000a\002e say0007\002s\n");
	T_CHECK(pkt_append_sideband(&b, 4, "x", 1, 0, &e) == -1 && e.code == BB_EINVAL);
	T_CHECK(pkt_append_sideband(&b, 0, "x", 1, 0, &e) == -1);
	buf_free(&b);
}

static void sideband_split_refusals(void)
{
	struct pkt p;
	struct bb_err e = { 0 };
	struct sv d;
	int band;

	T_CHECK(pkt_parse("0004", 4, &p, &e) == 1);
	T_CHECK(pkt_sideband_split(&p, &band, &d, &e) == -1);
	T_CHECK(pkt_parse("0006\004x", 6, &p, &e) == 1);
	T_CHECK(pkt_sideband_split(&p, &band, &d, &e) == -1);
	T_CHECK(pkt_parse("0006\003x", 6, &p, &e) == 1);
	T_CHECK(pkt_sideband_split(&p, &band, &d, &e) == 0 && band == 3 && sv_eq_str(d, "x"));
	T_CHECK(pkt_parse("0000", 4, &p, &e) == 1);
	T_CHECK(pkt_sideband_split(&p, &band, &d, &e) == -1);
}

int main(void)
{
	T_RUN(parses_data_and_specials);
	T_RUN(needs_more_bytes);
	T_RUN(refuses_bad_headers);
	T_RUN(parses_largest_packet);
	T_RUN(formats_packets);
	T_RUN(format_refuses_oversize);
	T_RUN(sideband_round_trip);
	T_RUN(sideband_split_refusals);
	T_END();
}
