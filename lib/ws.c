/* ws.c - RFC 6455 WebSocket frame headers: parsed, written, and payloads masked. */
#include <bearssl.h>
#include <string.h>
#include <sys/random.h>

#include "b64.h"
#include "ws.h"

int ws_hdr_parse(const unsigned char *p, size_t n, struct ws_hdr *h, const char **why)
{
	size_t need = 2, i;
	unsigned l7;

	if (n < 2)
		return 0;
	h->fin = p[0] >> 7;
	h->rsv = (p[0] >> 4) & 7;
	h->opcode = p[0] & 15;
	h->masked = p[1] >> 7;
	l7 = p[1] & 127;
	if ((h->opcode > WS_BINARY && h->opcode < WS_CLOSE) || h->opcode > WS_PONG) {
		*why = "reserved opcode";
		return -1;
	}
	if (h->opcode >= WS_CLOSE && (!h->fin || l7 > WS_CONTROL_MAX)) {
		*why = "a control frame must be one frame of at most 125 bytes";
		return -1;
	}
	need += l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
	need += h->masked ? 4 : 0;
	if (n < need)
		return 0;
	if (l7 == 126) {
		h->len = (uint64_t)p[2] << 8 | p[3];
		if (h->len < 126) {
			*why = "frame length not in its shortest form";
			return -1;
		}
	} else if (l7 == 127) {
		h->len = 0;
		for (i = 0; i < 8; i++)
			h->len = h->len << 8 | p[2 + i];
		if (h->len >> 63) {
			*why = "frame length has its top bit set";
			return -1;
		}
		if (h->len < 65536) {
			*why = "frame length not in its shortest form";
			return -1;
		}
	} else {
		h->len = l7;
	}
	if (h->masked)
		memcpy(h->key, p + need - 4, 4);
	else
		memset(h->key, 0, 4);
	h->size = need;
	return 1;
}

void ws_mask(unsigned char *p, size_t n, const unsigned char key[4], uint64_t off)
{
	size_t i;
	for (i = 0; i < n; i++)
		p[i] ^= key[(off + i) & 3];
}

size_t ws_hdr_write(unsigned char out[WS_HDR_MAX], int fin, unsigned opcode, uint64_t len, const unsigned char *key)
{
	size_t n = 2, i;
	out[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 15));
	if (len < 126) {
		out[1] = (unsigned char)len;
	} else if (len < 65536) {
		out[1] = 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		n = 4;
	} else {
		out[1] = 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
		n = 10;
	}
	if (key) {
		out[1] |= 0x80;
		memcpy(out + n, key, 4);
		n += 4;
	}
	return n;
}

size_t ws_close_payload(unsigned char out[WS_CONTROL_MAX], unsigned code, const char *reason)
{
	size_t n = strlen(reason);
	if (n > WS_CONTROL_MAX - 2) {
		n = WS_CONTROL_MAX - 2;
		while (n && ((unsigned char)reason[n] & 0xC0) == 0x80)
			n--; /* do not end inside a UTF-8 sequence */
	}
	out[0] = (unsigned char)(code >> 8);
	out[1] = (unsigned char)code;
	memcpy(out + 2, reason, n);
	return n + 2;
}

int ws_key_valid(const char *key, size_t n)
{
	unsigned char raw[18];
	size_t len = 0;
	struct bb_err e;
	return n == 24 && b64_decode(key, n, raw, sizeof raw, &len, NULL, &e) == 0 && len == 16 ? 0 : -1;
}

int ws_key_new(char out[25])
{
	unsigned char raw[16];
	struct bb_err e;
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return -1;
	return b64_encode(raw, sizeof raw, B64_PAD, out, 25, NULL, &e);
}

void ws_accept_for(const char *key, size_t n, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char sum[br_sha1_SIZE];
	br_sha1_context h;
	struct bb_err e;
	br_sha1_init(&h);
	br_sha1_update(&h, key, n);
	br_sha1_update(&h, guid, sizeof guid - 1);
	br_sha1_out(&h, sum);
	b64_encode(sum, sizeof sum, B64_PAD, out, 29, NULL, &e);
}
