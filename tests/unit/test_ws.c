/* test_ws.c - unit tests of lib/ws: frame headers in every length form, invalid ones refused, masking at any offset, keys. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "ws.h"

static void header_forms_round_trip(void)
{
	static const uint64_t lens[] = { 0, 1, 125, 126, 65535, 65536, (uint64_t)1 << 40 };
	unsigned char b[WS_HDR_MAX], key[4] = { 1, 2, 3, 4 };
	struct ws_hdr h;
	const char *why = NULL;
	size_t i, n, k;
	for (i = 0; i < sizeof lens / sizeof lens[0]; i++)
		for (k = 0; k < 2; k++) {
			n = ws_hdr_write(b, 1, WS_BINARY, lens[i], k ? key : NULL);
			T_CHECK(n == 2 + (size_t)(lens[i] < 126 ? 0 : lens[i] < 65536 ? 2 : 8) + (k ? 4 : 0));
			T_CHECK(ws_hdr_parse(b, n - 1, &h, &why) == 0); /* one byte short: more is needed */
			T_CHECK(ws_hdr_parse(b, n, &h, &why) == 1);
			T_CHECK(h.len == lens[i] && h.size == n && h.fin == 1 && h.opcode == WS_BINARY && h.masked == k);
			T_CHECK(!k || !memcmp(h.key, key, 4));
		}
}

static void invalid_headers_refused(void)
{
	static const struct {
		const char *hex, *what;
	} bad[] = {
		{ "8300", "reserved" },
		{ "8b00", "reserved" },
		{ "0900", "control" },       /* a fragmented ping */
		{ "897e007e", "control" },   /* a ping of 126 bytes */
		{ "817e0005", "shortest" },  /* 5 in the 16-bit form */
		{ "817f000000000000ffff", "shortest" },
		{ "817f8000000000000000", "top bit" },
	};
	unsigned char b[16];
	struct ws_hdr h;
	size_t i, j;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *why = NULL;
		size_t n = strlen(bad[i].hex) / 2;
		for (j = 0; j < n; j++)
			sscanf(bad[i].hex + 2 * j, "%2hhx", &b[j]);
		T_CHECK(ws_hdr_parse(b, n, &h, &why) == -1);
		T_CHECK(why && strstr(why, bad[i].what));
	}
}

static void mask_at_any_offset(void)
{
	unsigned char key[4] = { 0xa1, 0x02, 0xf3, 0x44 }, whole[37], parts[37];
	size_t cut;
	for (cut = 0; cut <= sizeof whole; cut++) {
		memcpy(whole, "the quick brown fox jumps over a dog", sizeof whole);
		memcpy(parts, whole, sizeof whole);
		ws_mask(whole, sizeof whole, key, 0);
		ws_mask(parts, cut, key, 0);
		ws_mask(parts + cut, sizeof parts - cut, key, cut);
		T_CHECK(!memcmp(whole, parts, sizeof whole));
		ws_mask(parts, sizeof parts, key, 0);
		T_CHECK(!memcmp(parts, "the quick brown fox jumps over a dog", sizeof parts));
	}
}

static void close_payload_cut_at_utf8_boundary(void)
{
	unsigned char p[WS_CONTROL_MAX];
	char reason[300];
	size_t n, i;
	n = ws_close_payload(p, 1008, "secret");
	T_CHECK(n == 8 && p[0] == 0x03 && p[1] == 0xf0 && !memcmp(p + 2, "secret", 6));
	for (i = 0; i + 2 < sizeof reason; i += 2)
		memcpy(reason + i, "\xc3\xa9", 2); /* é, two bytes each */
	reason[i] = 0;
	n = ws_close_payload(p, 1000, reason);
	T_CHECK(n <= WS_CONTROL_MAX && (n - 2) % 2 == 0);
}

static void keys_and_accept(void)
{
	char k[25], acc[29];
	/* RFC 6455 §1.3's example. */
	ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", 24, acc);
	T_STREQ(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	T_CHECK(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 24) == 0);
	T_CHECK(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=", 23) == -1);
	T_CHECK(ws_key_valid("c2stbGl2ZS0wMTIzNDU2Nzg5YWJjZGVm", 32) == -1); /* longer: a channel for more */
	T_CHECK(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ!!", 24) == -1);
	T_CHECK(ws_key_new(k) == 0 && strlen(k) == 24 && ws_key_valid(k, 24) == 0);
}

int main(void)
{
	T_RUN(header_forms_round_trip);
	T_RUN(invalid_headers_refused);
	T_RUN(mask_at_any_offset);
	T_RUN(close_payload_cut_at_utf8_boundary);
	T_RUN(keys_and_accept);
	T_END();
}
