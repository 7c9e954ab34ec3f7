/* fuzz_der.c - fuzzer for lib/der: the strict TLV reader walked recursively, re-encoded by the writer, and X.509 times. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "der.h"
#include "fuzz.h"

static unsigned char out[1 << 16];     /* what the writer test builds (then walked) */
static unsigned char scratch[1 << 16]; /* re-encodings of what the walk reads */

/* A TLV that was read is strict DER, so the writer encodes its tag and content to the same bytes. */
static void reencode(const struct der_tlv *t)
{
	struct der_w w;
	size_t len;

	der_w_init(&w, scratch, sizeof scratch);
	der_tlv(&w, t->tag, t->p, t->len);
	CHECK(der_finish(&w, &len, NULL) == 0);
	CHECK(len == t->raw_len && !memcmp(scratch, t->raw, len));
	CHECK(der_len_size(t->len) == t->raw_len - t->len - 1);
}

static void times(const struct der_tlv *t)
{
	time_t when;
	struct der_w w;
	size_t len;

	if (der_time_parse(t, &when) < 0)
		return;
	CHECK(t->tag == DER_UTC_TIME || t->tag == DER_GENERALIZED_TIME);
	der_w_init(&w, scratch, sizeof scratch);
	der_time(&w, when);
	/* the writer picks UTCTime for 1950..2049, so the same form must come back in that case */
	if (der_finish(&w, &len, NULL) == 0 && scratch[0] == t->tag)
		CHECK(len == t->raw_len && !memcmp(scratch, t->raw, len));
}

static void walk(const unsigned char *p, size_t n, int depth, size_t *budget)
{
	struct der_tlv t;

	while (n > 0 && *budget > 0) {
		const unsigned char *before = p;
		size_t left = n;

		(*budget)--;
		if (der_read(&p, &n, &t) < 0)
			return;
		CHECK(t.raw == before && t.raw_len == left - n && p == before + t.raw_len);
		CHECK(t.p >= t.raw && t.p + t.len == t.raw + t.raw_len);
		reencode(&t);
		if (t.tag == DER_UTC_TIME || t.tag == DER_GENERALIZED_TIME)
			times(&t);
		/* constructed (bit 5) and OCTET STRING wrappers may hold DER */
		if (depth < 16 && ((t.tag & 0x20) || t.tag == DER_OCTET_STRING))
			walk(t.p, t.len, depth + 1, budget);
		if (t.tag == DER_BIT_STRING && t.len > 0 && depth < 16)
			walk(t.p + 1, t.len - 1, depth + 1, budget);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	size_t n = size, budget = 4096;
	struct der_tlv t;

	if (size > 16384)
		return 0;
	walk(data, size, 0, &budget);
	if (size > 0 && der_expect(&p, &n, data[0] ^ 1, &t) == 0)
		abort(); /* the tag differs from what is there */
	/* the writer: nest and close with the input as contents, sizes that need long length forms */
	{
		struct der_w w;
		size_t len, k;
		unsigned depth = size ? data[0] % (DER_DEPTH_MAX + 2) : 0;

		der_w_init(&w, out, size % 2 ? sizeof out : size + 8);
		for (k = 0; k < depth; k++)
			der_begin(&w, DER_SEQUENCE);
		der_uint(&w, data, size);
		der_oid(&w, data, size < 64 ? size : 64);
		for (k = 0; k < depth; k++)
			der_end(&w);
		if (der_finish(&w, &len, NULL) == 0) {
			const unsigned char *q = out;
			size_t m = len;

			CHECK(depth <= DER_DEPTH_MAX);
			budget = 4096;
			walk(out, len, 0, &budget);
			/* one SEQUENCE around both values, or the two values side by side */
			CHECK(der_read(&q, &m, &t) == 0);
			if (depth == 0)
				CHECK(t.tag == DER_INTEGER && der_read(&q, &m, &t) == 0 && t.tag == DER_OID);
			CHECK(m == 0);
		}
	}
	return 0;
}
