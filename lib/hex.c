/* hex.c - hexadecimal digits. */
#include "hex.h"

#include <bearssl.h>

int hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void hex_encode(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *d = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = 0;
}

void hex_sha256(const void *p, size_t n, char out[65])
{
	br_sha256_context h;
	unsigned char d[32];

	br_sha256_init(&h);
	br_sha256_update(&h, p, n);
	br_sha256_out(&h, d);
	hex_encode(d, sizeof d, out);
}
