/* test_b64.c - unit tests of lib/b64: strict decoding with offsets, encoding with and without padding. */
#include <string.h>

#include "b64.h"
#include "t.h"

/* Decode s; returns the decoder's result, output in out/outlen, error offset in *bad_at. */
static int dec(const char *s, unsigned char *out, size_t outcap, size_t *outlen, size_t *bad_at, struct bb_err *e)
{
	*outlen = (size_t)-1;
	*bad_at = (size_t)-1;
	return b64_decode(s, strlen(s), out, outcap, outlen, bad_at, e);
}

/* Expect s to be refused as malformed at offset at. */
static void expect_bad(const char *s, size_t at)
{
	unsigned char out[64];
	struct bb_err e = { 0 };
	size_t n, bad;

	T_CHECK(dec(s, out, sizeof out, &n, &bad, &e) == -1);
	T_CHECK(e.code == BB_EINVAL);
	T_CHECK(bad == at);
	T_CHECK(strstr(e.msg, "base64") != NULL);
	if (bad != at)
		printf("#   '%s': offset %zu, expected %zu (%s)\n", s, bad, at, e.msg);
}

static void decodes_rfc4648_vectors(void)
{
	static const struct {
		const char *enc, *dec;
	} v[] = {
		{ "", "" },		{ "Zg==", "f" },	 { "Zm8=", "fo" },	{ "Zm9v", "foo" },
		{ "Zm9vYg==", "foob" }, { "Zm9vYmE=", "fooba" }, { "Zm9vYmFy", "foobar" },
	};
	unsigned char out[16];
	struct bb_err e = { 0 };
	size_t i, n, bad;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		T_CHECK(dec(v[i].enc, out, sizeof out, &n, &bad, &e) == 0);
		T_CHECK(n == strlen(v[i].dec));
		T_CHECK(n == strlen(v[i].dec) && memcmp(out, v[i].dec, n) == 0);
	}
}

static void decodes_all_byte_values(void)
{
	/* bytes 0xfb 0xff 0xbf use '+' and '/' */
	static const unsigned char want[] = { 0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83 };
	unsigned char out[8];
	struct bb_err e = { 0 };
	size_t n, bad;

	T_CHECK(dec("+/+/ABCD", out, sizeof out, &n, &bad, &e) == 0);
	T_CHECK(n == 6 && memcmp(out, want, 6) == 0);
}

static void decodes_an_ssh_key_blob_prefix(void)
{
	/* "AAAAE2VjZHNh" is uint32 19 followed by "ecdsa..." as in every ecdsa .pub file */
	unsigned char out[16];
	struct bb_err e = { 0 };
	size_t n, bad;

	T_CHECK(dec("AAAAE2VjZHNh", out, sizeof out, &n, &bad, &e) == 0);
	T_CHECK(n == 9);
	T_CHECK(out[0] == 0 && out[1] == 0 && out[2] == 0 && out[3] == 19);
	T_CHECK(memcmp(out + 4, "ecdsa", 5) == 0);
}

static void rejects_length_not_multiple_of_4(void)
{
	expect_bad("Zm9", 3);
	expect_bad("Zg=", 3);
	expect_bad("Zm9vY", 5);
	expect_bad("Z", 1);
}

static void rejects_characters_outside_the_alphabet(void)
{
	expect_bad("Zm9v!mFy", 4);
	expect_bad("Zm-v", 2);   /* URL-safe alphabet is not accepted */
	expect_bad("Zm_v", 2);
	expect_bad("Zm9 ", 3);   /* no whitespace */
	expect_bad("Zm9v\nmFy", 4);
	expect_bad("Zm9vYmF\n", 7);
	expect_bad("\x80m9v", 0);
}

static void rejects_misplaced_padding(void)
{
	expect_bad("====", 0);
	expect_bad("Z===", 1);
	expect_bad("Zg==Zm9v", 2); /* padding before the end */
	expect_bad("Zm=v", 2);
	expect_bad("Z=9v", 1);
}

static void rejects_non_zero_unused_bits(void)
{
	expect_bad("Zh==", 1); /* 'h' leaves low bits set: "Zg==" is the one spelling of "f" */
	expect_bad("Zm9=", 2);
	expect_bad("Zm9vYh==", 5);
	expect_bad("Zm9vYmF=", 6);
}

static void reports_character_in_message(void)
{
	unsigned char out[8];
	struct bb_err e = { 0 };
	size_t n, bad;

	T_CHECK(dec("Zm9v!mFy", out, sizeof out, &n, &bad, &e) == -1);
	T_CHECK(strstr(e.msg, "'!'") != NULL);
	T_CHECK(strstr(e.msg, "offset 4") != NULL);
	T_CHECK(dec("Zm9v\x01mFy", out, sizeof out, &n, &bad, &e) == -1);
	T_CHECK(strstr(e.msg, "0x01") != NULL);
}

static void refuses_small_output_buffer(void)
{
	unsigned char out[8];
	struct bb_err e = { 0 };
	size_t n, bad;

	T_CHECK(dec("Zm9vYmFy", out, 5, &n, &bad, &e) == -1);
	T_CHECK(e.code == BB_ETOOBIG);
	T_CHECK(dec("Zm9vYmFy", out, 6, &n, &bad, &e) == 0);
	T_CHECK(n == 6);
	T_CHECK(dec("Zm9vYg==", out, 4, &n, &bad, &e) == 0); /* exact fit, padding not counted */
	T_CHECK(n == 4);
}

static void accepts_null_bad_at(void)
{
	unsigned char out[8];
	struct bb_err e = { 0 };
	size_t n;

	T_CHECK(b64_decode("Zm9v!mFy", 8, out, sizeof out, &n, NULL, &e) == -1);
	T_CHECK(b64_decode("Zm9v", 4, out, sizeof out, &n, NULL, NULL) == 0);
	T_CHECK(b64_decode("Zm9", 3, out, sizeof out, &n, NULL, NULL) == -1);
}

static void encodes_with_padding(void)
{
	static const char *const dec[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	char out[16];
	size_t i, n;

	for (i = 0; i < 7; i++) {
		T_CHECK(b64_encode(dec[i], strlen(dec[i]), B64_PAD, out, sizeof out, &n, NULL) == 0);
		T_STREQ(out, enc[i]);
		T_CHECK(n == strlen(enc[i]));
	}
}

static void encodes_without_padding(void)
{
	char out[16];
	size_t n;

	T_CHECK(b64_encode("f", 1, B64_NOPAD, out, sizeof out, &n, NULL) == 0);
	T_STREQ(out, "Zg");
	T_CHECK(b64_encode("fo", 2, B64_NOPAD, out, sizeof out, &n, NULL) == 0);
	T_STREQ(out, "Zm8");
	T_CHECK(b64_encode("foo", 3, B64_NOPAD, out, sizeof out, &n, NULL) == 0);
	T_STREQ(out, "Zm9v");
	T_CHECK(n == 4);
}

static void encode_refuses_small_output_buffer(void)
{
	char out[16];
	struct bb_err e = { 0 };

	/* "Zm9v" needs 5 with the NUL */
	T_CHECK(b64_encode("foo", 3, B64_PAD, out, 4, NULL, &e) == -1);
	T_CHECK(e.code == BB_ETOOBIG);
	T_CHECK(b64_encode("foo", 3, B64_PAD, out, 5, NULL, NULL) == 0);
	T_CHECK(b64_encode("f", 1, B64_NOPAD, out, 3, NULL, NULL) == 0);
	T_CHECK(b64_encode("f", 1, B64_PAD, out, 3, NULL, NULL) == -1);
}

static void round_trips_every_length(void)
{
	unsigned char in[70], back[70];
	char enc[B64_ENCODED_LEN(70) + 1];
	size_t len, i, n, elen, bad;
	struct bb_err e = { 0 };
	int ok = 1;

	for (i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (len = 0; len <= sizeof in; len++) {
		if (b64_encode(in, len, B64_PAD, enc, sizeof enc, &elen, NULL) < 0 ||
		    elen != B64_ENCODED_LEN(len) ||
		    b64_decode(enc, elen, back, sizeof back, &n, &bad, &e) < 0 || n != len ||
		    memcmp(in, back, len) != 0)
			ok = 0;
	}
	T_CHECK(ok);
}

int main(void)
{
	T_RUN(decodes_rfc4648_vectors);
	T_RUN(decodes_all_byte_values);
	T_RUN(decodes_an_ssh_key_blob_prefix);
	T_RUN(rejects_length_not_multiple_of_4);
	T_RUN(rejects_characters_outside_the_alphabet);
	T_RUN(rejects_misplaced_padding);
	T_RUN(rejects_non_zero_unused_bits);
	T_RUN(reports_character_in_message);
	T_RUN(refuses_small_output_buffer);
	T_RUN(accepts_null_bad_at);
	T_RUN(encodes_with_padding);
	T_RUN(encodes_without_padding);
	T_RUN(encode_refuses_small_output_buffer);
	T_RUN(round_trips_every_length);
	T_END();
}
