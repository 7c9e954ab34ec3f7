/* b64.c - strict base64 decoder and encoder (standard alphabet). */
#include "b64.h"

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, or -1 when c is not in the alphabet. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int b64_bad(struct bb_err *e, size_t *bad_at, size_t at, const char *what, unsigned char c)
{
	if (bad_at)
		*bad_at = at;
	if (c > 0x20 && c < 0x7f)
		return bb_errf(e, BB_EINVAL, "bad base64: %s '%c' at offset %zu", what, c, at);
	return bb_errf(e, BB_EINVAL, "bad base64: %s (byte 0x%02x) at offset %zu", what, c, at);
}

int b64_decode(const char *in, size_t n, unsigned char *out, size_t outcap, size_t *outlen,
	       size_t *bad_at, struct bb_err *e)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t q, o = 0, pad = 0, need;
	int v[4] = { 0, 0, 0, 0 }, j;

	if (n % 4 != 0) {
		if (bad_at)
			*bad_at = n;
		return bb_errf(e, BB_EINVAL, "bad base64: length %zu is not a multiple of 4", n);
	}
	if (n >= 1 && s[n - 1] == '=')
		pad = (n >= 2 && s[n - 2] == '=') ? 2 : 1;
	need = n / 4 * 3 - pad;
	if (need > outcap)
		return bb_errf(e, BB_ETOOBIG, "base64 decodes to %zu bytes, room for %zu", need, outcap);

	for (q = 0; q < n; q += 4) {
		int last = q + 4 == n;
		size_t qpad = last ? pad : 0;

		for (j = 0; j < 4; j++) {
			unsigned char c = s[q + j];

			if ((size_t)j >= 4 - qpad)
				break; /* the padding itself, checked above */
			v[j] = b64_value(c);
			if (v[j] < 0)
				return b64_bad(e, bad_at, q + j, c == '=' ? "misplaced padding" : "character", c);
		}
		/* Bits that padding leaves unused must be zero: one spelling per byte string. */
		if (qpad == 1 && (v[2] & 0x3))
			return b64_bad(e, bad_at, q + 2, "non-zero unused bits in", s[q + 2]);
		if (qpad == 2 && (v[1] & 0xf))
			return b64_bad(e, bad_at, q + 1, "non-zero unused bits in", s[q + 1]);

		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (qpad < 2)
			out[o++] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (qpad < 1)
			out[o++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	}
	*outlen = o;
	return 0;
}

int b64_encode(const void *in, size_t n, int flags, char *out, size_t outcap, size_t *outlen,
	       struct bb_err *e)
{
	const unsigned char *s = in;
	size_t i, o = 0, need = B64_ENCODED_LEN(n);

	if ((flags & B64_NOPAD) && n % 3)
		need -= 3 - n % 3;
	if (need + 1 > outcap)
		return bb_errf(e, BB_ETOOBIG, "base64 of %zu bytes needs %zu chars, room for %zu",
			       n, need + 1, outcap);
	for (i = 0; i + 3 <= n; i += 3) {
		unsigned long w = (unsigned long)s[i] << 16 | (unsigned long)s[i + 1] << 8 | s[i + 2];

		out[o++] = b64_alphabet[w >> 18 & 63];
		out[o++] = b64_alphabet[w >> 12 & 63];
		out[o++] = b64_alphabet[w >> 6 & 63];
		out[o++] = b64_alphabet[w & 63];
	}
	if (n - i == 1) {
		out[o++] = b64_alphabet[s[i] >> 2];
		out[o++] = b64_alphabet[(s[i] & 0x3) << 4];
		if (!(flags & B64_NOPAD)) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		out[o++] = b64_alphabet[s[i] >> 2];
		out[o++] = b64_alphabet[(s[i] & 0x3) << 4 | s[i + 1] >> 4];
		out[o++] = b64_alphabet[(s[i + 1] & 0xf) << 2];
		if (!(flags & B64_NOPAD))
			out[o++] = '=';
	}
	out[o] = 0;
	if (outlen)
		*outlen = o;
	return 0;
}
