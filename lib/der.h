/* der.h - a small DER writer and reader (ASN.1 TLVs, lengths, times) over caller-owned buffers, for X.509. */
#ifndef BB_DER_H
#define BB_DER_H

#include <stddef.h>
#include <time.h>

#include "err.h"

/* Tags used by X.509. */
enum {
	DER_BOOLEAN = 0x01,
	DER_INTEGER = 0x02,
	DER_BIT_STRING = 0x03,
	DER_OCTET_STRING = 0x04,
	DER_NULL = 0x05,
	DER_OID = 0x06,
	DER_UTF8_STRING = 0x0c,
	DER_PRINTABLE_STRING = 0x13,
	DER_IA5_STRING = 0x16,
	DER_UTC_TIME = 0x17,
	DER_GENERALIZED_TIME = 0x18,
	DER_SEQUENCE = 0x30,
	DER_SET = 0x31
};
#define DER_CONTEXT(n) (0x80 | (n))          /* [n] IMPLICIT, primitive */
#define DER_CONTEXT_CONS(n) (0xa0 | (n))     /* [n] constructed (EXPLICIT, or implicit SEQUENCE) */

#define DER_DEPTH_MAX 12 /* nesting der_begin can track */

/*
 * A writer appending to buf[0..cap). Errors are sticky: after an overflow
 * (or too deep nesting) every call is a no-op and der_finish reports it,
 * so encoders write straight-line code and check once.
 * Constructed values: der_begin(tag) ... der_end(); the length is fixed
 * up at der_end (the content moves when the length needs more than one
 * byte), so nothing is encoded twice.
 */
struct der_w {
	unsigned char *buf;
	size_t cap;
	size_t len;
	int failed; /* 0, BB_ETOOBIG (buffer full) or BB_EINVAL (nesting, bad value) */
	size_t open[DER_DEPTH_MAX];
	int depth;
};

/* Start writing into buf[0..cap). */
void der_w_init(struct der_w *w, unsigned char *buf, size_t cap);

/* Bytes a DER length field for n takes (1 for n < 128, else 1 + bytes of n). */
size_t der_len_size(size_t n);

/* Encode a length field for n into out (room for 9 bytes is always enough); returns its size. */
size_t der_len_encode(size_t n, unsigned char *out);

/* Append raw bytes (an already-encoded TLV, for example). */
void der_raw(struct der_w *w, const void *p, size_t n);

/* Append a primitive TLV with tag and content p[0..n). */
void der_tlv(struct der_w *w, unsigned tag, const void *p, size_t n);

/* Open a constructed value (SEQUENCE, SET, [n], or an OCTET/BIT STRING wrapper whose content is DER). */
void der_begin(struct der_w *w, unsigned tag);

/* Like der_begin for a BIT STRING: writes the 0 "unused bits" byte first. */
void der_begin_bits(struct der_w *w);

/* Close the innermost der_begin, fixing its length. */
void der_end(struct der_w *w);

/* INTEGER from a non-negative unsigned big-endian magnitude p[0..n): leading zeros dropped, 0x00 added when the top bit is set. */
void der_uint(struct der_w *w, const void *p, size_t n);

/* INTEGER from a small non-negative value. */
void der_small_uint(struct der_w *w, unsigned long v);

/* OID from its DER content bytes (e.g. "\x2a\x86\x48\xce\x3d\x04\x03\x02" for ecdsa-with-SHA256). */
void der_oid(struct der_w *w, const void *p, size_t n);

/* BOOLEAN TRUE (DER FALSE is the default and is omitted, so only TRUE is needed). */
void der_true(struct der_w *w);

/*
 * An X.509 Time (RFC 5280 4.1.2.5): UTCTime "YYMMDDHHMMSSZ" for years
 * 1950..2049, GeneralizedTime "YYYYMMDDHHMMSSZ" for 2050..9999; seconds
 * since the epoch, UTC. Years outside 1950..9999 set failed = BB_EINVAL.
 */
void der_time(struct der_w *w, time_t t);

/* 0 with *len set to the bytes written, or -1 with e set (full buffer, unclosed der_begin). */
int der_finish(struct der_w *w, size_t *len, struct bb_err *e);

/*
 * A TLV read from a buffer: tag (single-byte tags only), content
 * p[0..len), and the whole encoding raw[0..raw_len).
 */
struct der_tlv {
	unsigned tag;
	const unsigned char *p;
	size_t len;
	const unsigned char *raw;
	size_t raw_len;
};

/*
 * Read one TLV from *pp (at most *np bytes), advancing both past it.
 * Strict DER lengths: minimal, definite, at most 4 length bytes, within
 * the input. 0, or -1 (malformed or truncated).
 */
int der_read(const unsigned char **pp, size_t *np, struct der_tlv *t);

/* Like der_read, and the tag must be `tag`. */
int der_expect(const unsigned char **pp, size_t *np, unsigned tag, struct der_tlv *t);

/*
 * Parse an X.509 Time TLV (UTCTime or GeneralizedTime, the strict
 * RFC 5280 forms der_time writes, ending in 'Z') into *t. 0, or -1.
 */
int der_time_parse(const struct der_tlv *tlv, time_t *t);

#endif
