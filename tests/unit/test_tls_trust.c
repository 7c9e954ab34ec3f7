/* test_tls_trust.c - unit tests of lib/tls trust loading: bundles, junk, limits (handshakes are in tests/sh/tls.sh). */
#include <stdlib.h>
#include <unistd.h>

#include "t.h"
#include "tls.h"

static void system_bundle_loads(void)
{
	struct tls_trust t;
	struct bb_err e = { 0 };
	int n;

	if (access(TLS_DEFAULT_CA_FILE, R_OK) != 0) {
		printf("# no %s: ca-certificates not installed\n", TLS_DEFAULT_CA_FILE);
		return;
	}
	tls_trust_init(&t);
	n = tls_trust_add_file(&t, TLS_DEFAULT_CA_FILE, &e);
	T_CHECK(n > 50);
	T_CHECK(t.len > 50 && t.len <= (size_t)n);
	/* Loading it again adds nothing: duplicates are stored once. */
	T_CHECK(tls_trust_add_file(&t, TLS_DEFAULT_CA_FILE, &e) == n);
	T_CHECK(t.len <= (size_t)n);
	tls_trust_free(&t);
}

static void no_certificate(void)
{
	struct tls_trust t;
	struct bb_err e = { 0 };
	static const char junk[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\nhello\n";

	tls_trust_init(&t);
	T_CHECK(tls_trust_add_pem(&t, junk, sizeof junk - 1, "junk.pem", &e) <= 0);
	T_CHECK(t.len == 0);
	T_CHECK(tls_trust_add_pem(&t, "", 0, "empty.pem", &e) <= 0);
	tls_trust_free(&t);
}

static void broken_certificate_named(void)
{
	struct tls_trust t;
	struct bb_err e = { 0 };
	static const char bad[] = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";

	tls_trust_init(&t);
	T_CHECK(tls_trust_add_pem(&t, bad, sizeof bad - 1, "bad.pem", &e) == -1);
	T_CHECK(strstr(e.msg, "bad.pem") != NULL);
	tls_trust_free(&t);
}

static void missing_file(void)
{
	struct tls_trust t;
	struct bb_err e = { 0 };

	tls_trust_init(&t);
	T_CHECK(tls_trust_add_file(&t, "/nonexistent/ca.pem", &e) == -1);
	T_CHECK(strstr(e.msg, "/nonexistent/ca.pem") != NULL);
	tls_trust_free(&t);
}

static void error_words(void)
{
	T_CHECK(strstr(tls_x509_strerror(BR_ERR_X509_NOT_TRUSTED), "not trusted") != NULL);
	T_CHECK(tls_x509_strerror(BR_ERR_X509_EXPIRED) != NULL);
}

int main(void)
{
	T_RUN(system_bundle_loads);
	T_RUN(no_certificate);
	T_RUN(broken_certificate_named);
	T_RUN(missing_file);
	T_RUN(error_words);
	T_END();
}
