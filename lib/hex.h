/* hex.h - hexadecimal digits (one decoder, one lowercase encoder) and a SHA-256 digest written in them. */
#ifndef BB_HEX_H
#define BB_HEX_H

#include <stddef.h>

/* The value (0-15) of the hex digit c (either case), or -1 when c is not one. */
int hex_val(int c);

/* The n bytes at p as 2n lowercase hex digits and a NUL into out (at least 2n + 1 bytes). */
void hex_encode(const void *p, size_t n, char *out);

/* The SHA-256 of p[0..n) as 64 lowercase hex digits and a NUL (content digests: images, layers). */
void hex_sha256(const void *p, size_t n, char out[65]);

#endif
