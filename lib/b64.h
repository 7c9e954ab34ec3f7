/* b64.h - strict base64 (RFC 4648 standard alphabet) over caller-owned buffers. */
#ifndef BB_B64_H
#define BB_B64_H

#include <stddef.h>

#include "err.h"

/* Bytes that decoding n base64 characters can yield at most. */
#define B64_DECODED_MAX(n) ((n) / 4 * 3)
/* Characters that encoding n bytes takes with padding (without the NUL). */
#define B64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)

/*
 * Decode in[0..n) into out (room for outcap bytes), setting *outlen.
 * Strict: only A-Z a-z 0-9 + /, length a multiple of 4, '=' only as one or
 * two final padding characters, no whitespace, and the unused bits before
 * the padding must be zero (so every byte string has exactly one accepted
 * encoding). An empty input decodes to zero bytes.
 * Returns 0, or -1 with e set: BB_EINVAL naming what is wrong and where
 * (*bad_at, if bad_at is not NULL, gets that offset into in), or
 * BB_ETOOBIG when out is too small (B64_DECODED_MAX(n) is always enough).
 * out is left in an unspecified state on failure.
 */
int b64_decode(const char *in, size_t n, unsigned char *out, size_t outcap, size_t *outlen,
	       size_t *bad_at, struct bb_err *e);

enum {
	B64_PAD = 0,  /* pad with '=' to a multiple of 4 (RFC 4648) */
	B64_NOPAD = 1 /* no padding, as OpenSSH prints SHA256 fingerprints */
};

/*
 * Encode in[0..n) into out (room for outcap chars including a NUL), with
 * padding or not (B64_PAD / B64_NOPAD); *outlen (if not NULL) gets the
 * length without the NUL. Returns 0, or -1 with BB_ETOOBIG when out is
 * too small (B64_ENCODED_LEN(n) + 1 is always enough).
 */
int b64_encode(const void *in, size_t n, int flags, char *out, size_t outcap, size_t *outlen,
	       struct bb_err *e);

#endif
