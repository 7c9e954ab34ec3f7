/* fuzz_sni.c - fuzzer for the TLS ClientHello egress reads: a BearSSL server engine set up as egress sets it up, fed the agent's bytes; the SNI it extracts then goes through the host checks egress applies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bearssl.h>

#include "ca.h"
#include "fuzz.h"
#include "netaddr.h"

/*
 * The policy runs once the ClientHello is parsed: it records what the
 * engine extracted, lets the real policy choose a suite, then stops the
 * handshake so no signature (milliseconds of ECDSA per input) is made.
 */
struct spy {
	const br_ssl_server_policy_class *vtable;
	const br_ssl_server_policy_class **inner;
	int called, chose;
	char sni[256];
};

static int spy_choose(const br_ssl_server_policy_class **pctx, const br_ssl_server_context *cc,
		      br_ssl_server_choices *choices)
{
	struct spy *s = (struct spy *)(void *)pctx;
	const char *name = br_ssl_engine_get_server_name(&cc->eng);
	size_t n;

	s->called = 1;
	CHECK(name != NULL);
	n = strnlen(name, 256);
	CHECK(n < 256);
	memcpy(s->sni, name, n + 1);
	s->chose = (*s->inner)->choose(s->inner, cc, choices);
	return 0;
}

static uint32_t spy_do_keyx(const br_ssl_server_policy_class **pctx, unsigned char *data, size_t *len)
{
	abort(); /* choose refused, so the engine never gets here */
}

static size_t spy_do_sign(const br_ssl_server_policy_class **pctx, unsigned algo_id, unsigned char *data,
			  size_t hv_len, size_t len)
{
	abort();
}

static const br_ssl_server_policy_class spy_class = { sizeof(struct spy), spy_choose, spy_do_keyx, spy_do_sign };

static unsigned char key_x[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static unsigned char cert_der[] = { 0x30, 0x03, 0x02, 0x01, 0x00 }; /* sent only after choose, which never succeeds */

/* After the handshake egress compares the SNI with the CONNECT host and mints leaves for such names. */
static void host_checks(const char *sni)
{
	char norm[256];
	unsigned char ip[4];
	int is4 = 0;
	size_t n = strlen(sni);

	(void)strcasecmp(sni, "api.example.com");
	(void)netaddr_host_is_ip(sni, n);
	if (ca_host_normalize(sni, norm, sizeof norm, &is4, ip, NULL) == 0) {
		/* the same name without a trailing dot (the root label) */
		size_t k = n && sni[n - 1] == '.' ? n - 1 : n;

		CHECK(strlen(norm) == k && !strncasecmp(norm, sni, k));
		CHECK(!strchr(norm, '*'));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const alpn[] = { "http/1.1" };
	static br_ssl_server_context sc;
	static unsigned char in[BR_SSL_BUFSIZE_INPUT], out[BR_SSL_BUFSIZE_OUTPUT];
	br_ec_private_key sk = { BR_EC_secp256r1, key_x, sizeof key_x };
	br_x509_certificate chain = { cert_der, sizeof cert_der };
	struct spy spy;
	size_t off = 0, step;
	int rounds = 0;

	if (size < 1 || size > 65536)
		return 0;
	step = (size_t)data[0] * 17 + 1;
	data++;
	size--;
	br_ssl_server_init_full_ec(&sc, &chain, 1, BR_KEYTYPE_EC, &sk);
	br_ssl_engine_set_versions(&sc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_buffers_bidi(&sc.eng, in, sizeof in, out, sizeof out);
	br_ssl_engine_set_protocol_names(&sc.eng, (const char **)(uintptr_t)alpn, 1);
	br_ssl_engine_add_flags(&sc.eng, BR_OPT_NO_RENEGOTIATION);
	memset(&spy, 0, sizeof spy);
	spy.vtable = &spy_class;
	spy.inner = sc.policy_vtable;
	br_ssl_server_set_policy(&sc, &spy.vtable);
	CHECK(br_ssl_server_reset(&sc));
	while (rounds++ < 100000) {
		unsigned st = br_ssl_engine_current_state(&sc.eng);
		unsigned char *b;
		size_t len;

		if (st & BR_SSL_CLOSED)
			break;
		if (st & BR_SSL_SENDREC) { /* alerts: drained and dropped */
			b = br_ssl_engine_sendrec_buf(&sc.eng, &len);
			br_ssl_engine_sendrec_ack(&sc.eng, len);
			continue;
		}
		if (!(st & BR_SSL_RECVREC) || off == size)
			break;
		b = br_ssl_engine_recvrec_buf(&sc.eng, &len);
		if (len > size - off)
			len = size - off;
		if (len > step)
			len = step;
		memcpy(b, data + off, len);
		br_ssl_engine_recvrec_ack(&sc.eng, len);
		off += len;
	}
	if (spy.called) {
		/* choose refused, so the engine must have closed with an error */
		CHECK(br_ssl_engine_current_state(&sc.eng) & BR_SSL_CLOSED);
		CHECK(br_ssl_engine_last_error(&sc.eng) != BR_ERR_OK);
		host_checks(spy.sni);
	}
	return 0;
}
