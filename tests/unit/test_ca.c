/* test_ca.c - unit tests for lib/der and lib/ca (DER, times, CA files, leaves checked by BearSSL, the LRU cache, a TLS handshake); also test-only "mint" and "serve" modes for tests/sh/ca.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "der.h"
#include "fd.h"
#include "t.h"
#include "tls.h"

static char tmp_root[] = "/tmp/bb-test-ca.XXXXXX";
static time_t now0; /* a fixed "now" for the tests: 2026-03-01T12:00:00Z */

static void path_in(char *out, size_t cap, const char *sub)
{
	snprintf(out, cap, "%s/%s", tmp_root, sub);
}

/* ---- DER ---- */

static void der_lengths(void)
{
	static const struct {
		size_t n;
		const char *enc;
		size_t len;
	} cases[] = {
		{ 0, "\x00", 1 },	   { 1, "\x01", 1 },	       { 127, "\x7f", 1 },
		{ 128, "\x81\x80", 2 },	   { 255, "\x81\xff", 2 },     { 256, "\x82\x01\x00", 3 },
		{ 65535, "\x82\xff\xff", 3 }, { 65536, "\x83\x01\x00\x00", 4 },
	};
	unsigned char out[10];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t k = der_len_encode(cases[i].n, out);

		T_CHECK(k == cases[i].len);
		T_CHECK(k == der_len_size(cases[i].n));
		T_CHECK(memcmp(out, cases[i].enc, cases[i].len) == 0);
	}
}

/* A SEQUENCE of content size n built with der_begin/der_end reads back with the right header and bytes. */
static void der_nested_lengths(void)
{
	static const size_t sizes[] = { 0, 1, 125, 126, 127, 128, 129, 255, 256, 300, 1000 };
	unsigned char buf[2048], content[1100];
	size_t i, j, len;

	for (i = 0; i < sizeof content; i++)
		content[i] = (unsigned char)(i * 7 + 1);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct der_w w;
		struct der_tlv t, inner;
		const unsigned char *p;
		size_t n;

		der_w_init(&w, buf, sizeof buf);
		der_begin(&w, DER_SEQUENCE);
		der_begin(&w, DER_OCTET_STRING); /* nested, so the inner move is tested too */
		der_raw(&w, content, sizes[i]);
		der_end(&w);
		der_end(&w);
		T_CHECK(der_finish(&w, &len, NULL) == 0);
		p = buf;
		n = len;
		T_CHECK(der_expect(&p, &n, DER_SEQUENCE, &t) == 0 && n == 0);
		T_CHECK(t.len == sizes[i] + 1 + der_len_size(sizes[i]));
		p = t.p;
		n = t.len;
		T_CHECK(der_expect(&p, &n, DER_OCTET_STRING, &inner) == 0 && n == 0);
		T_CHECK(inner.len == sizes[i]);
		for (j = 0; j < sizes[i] && inner.len == sizes[i]; j++)
			if (inner.p[j] != content[j]) {
				T_CHECK(!"content moved wrongly");
				break;
			}
	}
}

static void der_reader_strict(void)
{
	static const struct {
		const char *in;
		size_t n;
		int ok;
	} cases[] = {
		{ "\x04\x02hi", 4, 1 },
		{ "\x04\x81\x02hi", 5, 0 },  /* long form for a short length */
		{ "\x04\x80hi\x00\x00", 6, 0 }, /* indefinite */
		{ "\x04\x03hi", 4, 0 },      /* truncated */
		{ "\x04", 1, 0 },
		{ "\x1f\x01\x00", 3, 0 },    /* multi-byte tag */
		{ "\x04\x82\x00\x80", 4, 0 }, /* leading zero length byte */
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const unsigned char *p = (const unsigned char *)cases[i].in;
		size_t n = cases[i].n;
		struct der_tlv t;

		if ((der_read(&p, &n, &t) == 0) != cases[i].ok) {
			printf("#   case %zu\n", i);
			T_CHECK(!"der_read strictness");
		}
	}
}

static void der_integers(void)
{
	unsigned char buf[64];
	struct der_w w;
	size_t len;

	der_w_init(&w, buf, sizeof buf);
	der_small_uint(&w, 0);
	der_small_uint(&w, 127);
	der_small_uint(&w, 128);
	der_small_uint(&w, 256);
	der_uint(&w, "\x00\x00\x01", 3);
	T_CHECK(der_finish(&w, &len, NULL) == 0);
	T_CHECK(len == 3 + 3 + 4 + 4 + 3);
	T_CHECK(memcmp(buf, "\x02\x01\x00" "\x02\x01\x7f" "\x02\x02\x00\x80" "\x02\x02\x01\x00" "\x02\x01\x01", len) == 0);
}

static void der_overflow_sticky(void)
{
	unsigned char buf[8];
	struct der_w w;
	struct bb_err e = { 0 };
	size_t len;

	der_w_init(&w, buf, sizeof buf);
	der_begin(&w, DER_SEQUENCE);
	der_raw(&w, "0123456789", 10);
	der_end(&w);
	T_CHECK(der_finish(&w, &len, &e) < 0 && e.code == BB_ETOOBIG);
	der_w_init(&w, buf, sizeof buf);
	der_begin(&w, DER_SEQUENCE);
	T_CHECK(der_finish(&w, &len, &e) < 0 && e.code == BB_EINVAL); /* unclosed */
}

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

static int time_enc(time_t t, const char *want, unsigned tag)
{
	unsigned char buf[32];
	struct der_w w;
	struct der_tlv tlv;
	const unsigned char *p = buf;
	size_t len, n;
	time_t back;

	der_w_init(&w, buf, sizeof buf);
	der_time(&w, t);
	if (der_finish(&w, &len, NULL) < 0)
		return want == NULL;
	if (!want)
		return 0;
	n = len;
	if (der_read(&p, &n, &tlv) < 0 || tlv.tag != tag || tlv.len != strlen(want) || memcmp(tlv.p, want, tlv.len))
		return 0;
	return der_time_parse(&tlv, &back) == 0 && back == t;
}

static void der_times(void)
{
	T_CHECK(time_enc(0, "700101000000Z", DER_UTC_TIME));
	T_CHECK(time_enc(utc(1950, 1, 1, 0, 0, 0), "500101000000Z", DER_UTC_TIME));
	T_CHECK(time_enc(utc(1999, 12, 31, 23, 59, 59), "991231235959Z", DER_UTC_TIME));
	T_CHECK(time_enc(utc(2000, 2, 29, 1, 2, 3), "000229010203Z", DER_UTC_TIME));
	T_CHECK(time_enc(utc(2049, 12, 31, 23, 59, 59), "491231235959Z", DER_UTC_TIME));
	T_CHECK(time_enc(utc(2050, 1, 1, 0, 0, 0), "20500101000000Z", DER_GENERALIZED_TIME));
	T_CHECK(time_enc(utc(2100, 3, 1, 12, 0, 0), "21000301120000Z", DER_GENERALIZED_TIME));
	T_CHECK(time_enc(utc(9999, 12, 31, 23, 59, 59), "99991231235959Z", DER_GENERALIZED_TIME));
	T_CHECK(time_enc(utc(1949, 12, 31, 23, 59, 59), NULL, 0)); /* not representable under RFC 5280 */
	T_CHECK(time_enc(utc(10000, 1, 1, 0, 0, 0), NULL, 0));
}

static void der_time_parse_strict(void)
{
	static const struct {
		unsigned tag;
		const char *s;
	} bad[] = {
		{ DER_UTC_TIME, "230229000000Z" },	   /* 2023 is not a leap year */
		{ DER_UTC_TIME, "210229000000Z" },	   /* 2021 neither */
		{ DER_GENERALIZED_TIME, "21000229000000Z" }, /* 2100 neither */
		{ DER_UTC_TIME, "231301000000Z" },
		{ DER_UTC_TIME, "230101240000Z" },
		{ DER_UTC_TIME, "2301010000Z" },	   /* no seconds */
		{ DER_UTC_TIME, "230101000000+" },
		{ DER_UTC_TIME, "23010100000aZ" },
		{ DER_GENERALIZED_TIME, "230101000000Z" }, /* wrong length for the tag */
		{ DER_OCTET_STRING, "230101000000Z" },
	};
	struct der_tlv t;
	time_t v;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t.tag = bad[i].tag;
		t.p = (const unsigned char *)bad[i].s;
		t.len = strlen(bad[i].s);
		T_CHECK(der_time_parse(&t, &v) < 0);
	}
	t.tag = DER_UTC_TIME;
	t.p = (const unsigned char *)"240229235959Z";
	t.len = 13;
	T_CHECK(der_time_parse(&t, &v) == 0 && v == utc(2024, 2, 29, 23, 59, 59));
}

/* ---- host names ---- */

static void host_names(void)
{
	static const struct {
		const char *in, *out;
		int ip;
	} good[] = {
		{ "example.com", "example.com", 0 },
		{ "API.Anthropic.COM", "api.anthropic.com", 0 },
		{ "example.com.", "example.com", 0 },
		{ "localhost", "localhost", 0 },
		{ "a-b.c_d.example", "a-b.c_d.example", 0 },
		{ "123.example.com", "123.example.com", 0 },
		{ "10.0.0.1", "10.0.0.1", 1 },
		{ "255.255.255.255", "255.255.255.255", 1 },
		{ "0.0.0.0", "0.0.0.0", 1 },
	};
	static const char *const bad[] = {
		"", ".", "*.example.com", "a.*.com", "exa mple.com", "-a.com", "a-.com", "a..com", ".a.com",
		"1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", "::1", "[::1]", "a.b.123",
		"exa\xc3\xa9mple.com", "a/b", "a:443", "host\n",
	};
	char out[CA_HOST_MAX + 1], label[70], big[300];
	unsigned char ip[4];
	struct bb_err e;
	size_t i;
	int is_ip;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		memset(&e, 0, sizeof e);
		is_ip = -1;
		T_CHECK(ca_host_normalize(good[i].in, out, sizeof out, &is_ip, ip, &e) == 0);
		T_STREQ(out, good[i].out);
		T_CHECK(is_ip == good[i].ip);
	}
	T_CHECK(ca_host_normalize("10.1.2.3", out, sizeof out, &is_ip, ip, NULL) == 0 && ip[0] == 10 && ip[3] == 3);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		if (ca_host_normalize(bad[i], out, sizeof out, NULL, NULL, &e) == 0)
			printf("#   accepted '%s'\n", bad[i]);
		T_CHECK(e.code == BB_EINVAL && e.msg[0]);
	}
	T_CHECK(ca_host_normalize(NULL, out, sizeof out, NULL, NULL, NULL) < 0);
	/* Label and name length caps: 63 ok, 64 not; 253 ok, 254 not. */
	memset(label, 'a', 63);
	label[63] = 0;
	T_CHECK(ca_host_normalize(label, out, sizeof out, NULL, NULL, NULL) == 0);
	memset(label, 'a', 64);
	label[64] = 0;
	T_CHECK(ca_host_normalize(label, out, sizeof out, NULL, NULL, NULL) < 0);
	for (i = 0; i < 253; i++)
		big[i] = (i % 50 == 49) ? '.' : 'x';
	big[253] = 0;
	T_CHECK(ca_host_normalize(big, out, sizeof out, NULL, NULL, NULL) == 0);
	big[253] = 'x';
	big[254] = 0;
	T_CHECK(ca_host_normalize(big, out, sizeof out, NULL, NULL, NULL) < 0);
}

/* ---- the CA ---- */

static int file_mode(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : (int)(st.st_mode & 07777);
}

static int read_file(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = fd_read_full(fd, out, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	out[n] = 0;
	return (int)n;
}

static void ca_create_files(void)
{
	char dir[256], key[300], crt[300], before[CA_PEM_MAX], after[CA_PEM_MAX];
	struct bb_err e = { 0 };
	mode_t old = umask(0);

	path_in(dir, sizeof dir, "a");
	snprintf(key, sizeof key, "%s/ca.key", dir);
	snprintf(crt, sizeof crt, "%s/ca.crt", dir);
	T_CHECK(ca_create(dir, "test", now0, 0, &e) == 0);
	umask(old);
	T_CHECK(file_mode(dir) == 0700);
	T_CHECK(file_mode(key) == 0600);
	T_CHECK(file_mode(crt) == 0644);
	T_CHECK(read_file(key, before, sizeof before) > 0 && strstr(before, "-----BEGIN EC PRIVATE KEY-----\n"));
	T_CHECK(read_file(crt, before, sizeof before) > 0 && strncmp(before, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	/* Refuses to overwrite without force, and leaves the files alone. */
	memset(&e, 0, sizeof e);
	T_CHECK(ca_create(dir, "test", now0, 0, &e) < 0 && e.code == EEXIST && strstr(e.msg, key));
	T_CHECK(read_file(crt, after, sizeof after) > 0 && strcmp(before, after) == 0);
	/* force replaces both. */
	memset(&e, 0, sizeof e);
	T_CHECK(ca_create(dir, "test", now0, 1, &e) == 0);
	T_CHECK(read_file(crt, after, sizeof after) > 0 && strcmp(before, after) != 0);
	T_CHECK(file_mode(key) == 0600);
	/* Names are checked. */
	T_CHECK(ca_create(dir, "", now0, 1, &e) < 0 && e.code == BB_EINVAL);
	T_CHECK(ca_create(dir, "bad\nname", now0, 1, &e) < 0 && e.code == BB_EINVAL);
	/* No temporary files left behind. */
	{
		char cmd[400];

		snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 2", dir);
		T_CHECK(system(cmd) == 0);
	}
}

static void ca_create_refuses_half(void)
{
	char dir[256], crt[300];
	struct bb_err e = { 0 };
	int fd;

	path_in(dir, sizeof dir, "half");
	T_CHECK(mkdir(dir, 0700) == 0);
	snprintf(crt, sizeof crt, "%s/ca.crt", dir);
	fd = open(crt, O_WRONLY | O_CREAT, 0644);
	close(fd);
	T_CHECK(ca_create(dir, "x", now0, 0, &e) < 0 && e.code == EEXIST && strstr(e.msg, "ca.crt"));
	T_CHECK(access(crt, F_OK) == 0);
}

/* Eight processes ensure one fresh CA at the same moment: all succeed, and all see the same one. */
static void ca_ensure_concurrent(void)
{
	char dir[256], crt[300];
	struct bb_err e = { 0 };
	struct stat st1, st2;
	pid_t kids[8];
	int i, st, bad = 0;

	path_in(dir, sizeof dir, "race");
	snprintf(crt, sizeof crt, "%s/ca.crt", dir);
	for (i = 0; i < 8; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			struct bb_err ke = { 0 };
			_exit(ca_ensure(dir, "race", now0, &ke) == 0 ? 0 : 1);
		}
	}
	for (i = 0; i < 8; i++)
		if (kids[i] < 0 || waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	T_CHECK(bad == 0);
	T_CHECK(stat(crt, &st1) == 0);
	/* Once there, it is kept: not made again. */
	T_CHECK(ca_ensure(dir, "race", now0, &e) == 0 && stat(crt, &st2) == 0 && st1.st_ino == st2.st_ino);
	/* A lone certificate is not a CA: named, not overwritten. */
	path_in(dir, sizeof dir, "half");
	T_CHECK(ca_ensure(dir, "x", now0, &e) < 0 && strstr(e.msg, "ca.crt without ca.key"));
}

static struct ca ca_a; /* loaded from tmp/a for the tests below */

static void ca_load_ok(void)
{
	char dir[256];
	struct bb_err e = { 0 };

	path_in(dir, sizeof dir, "a");
	T_CHECK(ca_load(&ca_a, dir, 3, &e) == 0);
	if (e.msg[0])
		printf("#   %s\n", e.msg);
	T_CHECK(ca_a.capacity == 3);
	T_CHECK(ca_a.not_after > now0 + (time_t)CA_VALID_YEARS * 365 * 86400);
	/* The leaf key is not the CA key. */
	T_CHECK(memcmp(ca_a.leaf_pub, ca_a.ca_pub, sizeof ca_a.ca_pub) != 0);
}

static void ca_key_mismatch(void)
{
	char dir_b[256], crt_a[300], key_b[300];
	struct bb_err e = { 0 };
	struct ca c;

	path_in(dir_b, sizeof dir_b, "b");
	T_CHECK(ca_create(dir_b, "other", now0, 0, &e) == 0);
	path_in(crt_a, sizeof crt_a, "a/ca.crt");
	path_in(key_b, sizeof key_b, "b/ca.key");
	T_CHECK(ca_load_files(&c, crt_a, key_b, 0, &e) < 0);
	T_CHECK(strstr(e.msg, "does not match") && strstr(e.msg, key_b));
	ca_free(&c);
}

static void ca_key_perms(void)
{
	char dir[256], key[300], link_path[300];
	struct bb_err e = { 0 };
	struct ca c;

	path_in(dir, sizeof dir, "b");
	snprintf(key, sizeof key, "%s/ca.key", dir);
	T_CHECK(chmod(key, 0640) == 0);
	T_CHECK(ca_load(&c, dir, 0, &e) < 0);
	T_CHECK(strstr(e.msg, key) && strstr(e.msg, "0640"));
	ca_free(&c);
	T_CHECK(chmod(key, 0604) == 0);
	T_CHECK(ca_load(&c, dir, 0, &e) < 0 && strstr(e.msg, "0604"));
	ca_free(&c);
	T_CHECK(chmod(key, 0400) == 0);
	memset(&e, 0, sizeof e);
	T_CHECK(ca_load(&c, dir, 0, &e) == 0);
	ca_free(&c);
	/* A symlink to the key is refused (no following links to a key). */
	path_in(link_path, sizeof link_path, "b/link.key");
	T_CHECK(symlink(key, link_path) == 0);
	{
		char crt[300];

		path_in(crt, sizeof crt, "b/ca.crt");
		memset(&e, 0, sizeof e);
		T_CHECK(ca_load_files(&c, crt, link_path, 0, &e) < 0 && strstr(e.msg, "symbolic link"));
		ca_free(&c);
	}
	/* A missing file is named. */
	T_CHECK(ca_load_files(&c, "/nonexistent/ca.crt", key, 0, &e) < 0 && strstr(e.msg, "/nonexistent/ca.crt"));
	ca_free(&c);
	/* A key where the certificate should be. */
	memset(&e, 0, sizeof e);
	T_CHECK(ca_load_files(&c, key, key, 0, &e) < 0 && strstr(e.msg, "CERTIFICATE"));
	ca_free(&c);
}

/* Run BearSSL's X.509 engine over chain as a TLS client would for server_name, at time t. Returns its error code (0 = trusted). */
static int verify_chain(const br_x509_certificate *chain, size_t n, const char *server_name, time_t t)
{
	struct tls_trust trust;
	br_x509_minimal_context xc;
	char crt[300];
	size_t i;
	int err;

	tls_trust_init(&trust);
	path_in(crt, sizeof crt, "a/ca.crt");
	if (tls_trust_add_file(&trust, crt, NULL) < 0)
		return -1;
	br_x509_minimal_init(&xc, &br_sha256_vtable, trust.anchors, trust.len);
	br_x509_minimal_set_hash(&xc, br_sha256_ID, &br_sha256_vtable);
	br_x509_minimal_set_ecdsa(&xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
	br_x509_minimal_set_time(&xc, (uint32_t)(t / 86400 + 719528), (uint32_t)(t % 86400));
	xc.vtable->start_chain(&xc.vtable, server_name);
	for (i = 0; i < n; i++) {
		xc.vtable->start_cert(&xc.vtable, (uint32_t)chain[i].data_len);
		xc.vtable->append(&xc.vtable, chain[i].data, chain[i].data_len);
		xc.vtable->end_cert(&xc.vtable);
	}
	err = (int)xc.vtable->end_chain(&xc.vtable);
	tls_trust_free(&trust);
	return err;
}

/* The tbs fields of a certificate we wrote: issuer, validity, subject (raw TLVs). */
struct tbs_view {
	struct der_tlv issuer, nb, na, subject, ext;
};

static int view_tbs(const unsigned char *der, size_t len, struct tbs_view *v)
{
	const unsigned char *p = der;
	size_t n = len;
	struct der_tlv t, x;

	if (der_expect(&p, &n, DER_SEQUENCE, &t) < 0)
		return -1;
	p = t.p;
	n = t.len;
	if (der_expect(&p, &n, DER_SEQUENCE, &t) < 0)
		return -1;
	p = t.p;
	n = t.len;
	if (der_read(&p, &n, &x) < 0 || der_read(&p, &n, &x) < 0 || der_read(&p, &n, &x) < 0 ||
	    der_read(&p, &n, &v->issuer) < 0 || der_expect(&p, &n, DER_SEQUENCE, &x) < 0 ||
	    der_read(&p, &n, &v->subject) < 0 || der_read(&p, &n, &t) < 0 || der_read(&p, &n, &v->ext) < 0)
		return -1;
	p = x.p;
	n = x.len;
	return der_read(&p, &n, &v->nb) < 0 || der_read(&p, &n, &v->na) < 0 ? -1 : 0;
}

static int contains(const unsigned char *hay, size_t n, const void *needle, size_t m)
{
	size_t i;

	for (i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return 1;
	return 0;
}

static void leaf_verifies_for_its_host_only(void)
{
	static struct ca_leaf leaf;
	struct bb_err e = { 0 };
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;

	T_CHECK(ca_mint_leaf(&ca_a, "Example.COM", now0, &leaf, &e) == 0);
	T_STREQ(leaf.host, "example.com");
	T_CHECK(leaf.chain_len == 2 && leaf.chain[1].data == ca_a.cert_der);
	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, leaf.chain[0].data, leaf.chain[0].data_len);
	pk = br_x509_decoder_get_pkey(&dc);
	T_CHECK(br_x509_decoder_last_error(&dc) == 0 && pk && !br_x509_decoder_isCA(&dc));
	T_CHECK(pk && pk->key_type == BR_KEYTYPE_EC && pk->key.ec.qlen == 65 &&
		!memcmp(pk->key.ec.q, ca_a.leaf_pub, 65));
	T_CHECK(verify_chain(leaf.chain, 2, "example.com", now0) == 0);
	T_CHECK(verify_chain(leaf.chain, 2, "EXAMPLE.com", now0) == 0);
	T_CHECK(verify_chain(leaf.chain, 1, "example.com", now0) == 0); /* the anchor need not be sent */
	T_CHECK(verify_chain(leaf.chain, 2, "other.com", now0) == BR_ERR_X509_BAD_SERVER_NAME);
	T_CHECK(verify_chain(leaf.chain, 2, "www.example.com", now0) == BR_ERR_X509_BAD_SERVER_NAME);
	/* Validity: an hour back (clock skew), CA_LEAF_DAYS ahead. */
	T_CHECK(verify_chain(leaf.chain, 2, "example.com", now0 - 3000) == 0);
	T_CHECK(verify_chain(leaf.chain, 2, "example.com", now0 - 3700) == BR_ERR_X509_EXPIRED);
	T_CHECK(verify_chain(leaf.chain, 2, "example.com", now0 + CA_LEAF_DAYS * 86400 - 60) == 0);
	T_CHECK(verify_chain(leaf.chain, 2, "example.com", now0 + CA_LEAF_DAYS * 86400 + 60) == BR_ERR_X509_EXPIRED);
}

static void leaf_fields(void)
{
	static struct ca_leaf leaf, leaf2;
	struct tbs_view v;
	time_t t;

	T_CHECK(ca_mint_leaf(&ca_a, "api.example.org", now0, &leaf, NULL) == 0);
	T_CHECK(view_tbs(leaf.chain[0].data, leaf.chain[0].data_len, &v) == 0);
	T_CHECK(v.issuer.raw_len == ca_a.subject_der_len && !memcmp(v.issuer.raw, ca_a.subject_der, v.issuer.raw_len));
	T_CHECK(der_time_parse(&v.nb, &t) == 0 && t == now0 - CA_BACKDATE_SECS && leaf.not_before == t);
	T_CHECK(der_time_parse(&v.na, &t) == 0 && t == now0 + CA_LEAF_DAYS * 86400 && leaf.not_after == t);
	T_CHECK(contains(v.subject.raw, v.subject.raw_len, "\x55\x04\x03\x0c\x0f" "api.example.org", 20)); /* CN */
	T_CHECK(contains(v.ext.raw, v.ext.raw_len, "\x82\x0f" "api.example.org", 17));                      /* SAN dNSName */
	T_CHECK(contains(v.ext.raw, v.ext.raw_len, ca_a.key_id, 20));                                       /* AKI */
	T_CHECK(contains(v.ext.raw, v.ext.raw_len, "\x2b\x06\x01\x05\x05\x07\x03\x01", 8));               /* serverAuth */
	T_CHECK(contains(v.ext.raw, v.ext.raw_len, "\x03\x02\x07\x80", 4));                               /* digitalSignature */
	/* Serials differ between two mints of the same host. */
	T_CHECK(ca_mint_leaf(&ca_a, "api.example.org", now0, &leaf2, NULL) == 0);
	T_CHECK(leaf.chain[0].data_len != leaf2.chain[0].data_len ||
		memcmp(leaf.chain[0].data, leaf2.chain[0].data, leaf.chain[0].data_len) != 0);
}

static void leaf_ip_and_long_names(void)
{
	static struct ca_leaf leaf;
	char longname[CA_HOST_MAX + 1];
	struct tbs_view v;
	size_t i;

	T_CHECK(ca_mint_leaf(&ca_a, "192.0.2.7", now0, &leaf, NULL) == 0);
	T_CHECK(view_tbs(leaf.chain[0].data, leaf.chain[0].data_len, &v) == 0);
	T_CHECK(contains(v.ext.raw, v.ext.raw_len, "\x87\x04\xc0\x00\x02\x07", 6)); /* SAN iPAddress */
	/* A name over 64 characters: no CN (ub-common-name), a critical SAN, still verified. */
	for (i = 0; i < 200; i++)
		longname[i] = (i % 40 == 39) ? '.' : 'q';
	memcpy(longname + 200, "example.com", 12);
	T_CHECK(ca_mint_leaf(&ca_a, longname, now0, &leaf, NULL) == 0);
	T_CHECK(view_tbs(leaf.chain[0].data, leaf.chain[0].data_len, &v) == 0);
	T_CHECK(v.subject.len == 0);
	T_CHECK(contains(v.ext.raw, v.ext.raw_len, "\x06\x03\x55\x1d\x11\x01\x01\xff", 8));
	T_CHECK(verify_chain(leaf.chain, 2, longname, now0) == 0);
	/* Refused before any signing. */
	T_CHECK(ca_mint_leaf(&ca_a, "*.example.com", now0, &leaf, NULL) < 0);
	T_CHECK(ca_mint_leaf(&ca_a, "", now0, &leaf, NULL) < 0);
}

static void leaf_capped_by_ca_validity(void)
{
	static struct ca_leaf leaf;
	struct bb_err e = { 0 };

	T_CHECK(ca_mint_leaf(&ca_a, "example.com", ca_a.not_after - 2 * 86400, &leaf, NULL) == 0);
	T_CHECK(leaf.not_after == ca_a.not_after);
	T_CHECK(ca_mint_leaf(&ca_a, "example.com", ca_a.not_after + 1, &leaf, &e) < 0 && strstr(e.msg, "expired"));
}

static void cache_lru(void)
{
	struct ca_leaf *a, *b, *c, *d, *x;
	struct ca_stats s0, s;

	ca_get_stats(&ca_a, &s0);
	T_CHECK(ca_leaf_acquire(&ca_a, "a.test", now0, &a, NULL) == 0);
	T_CHECK(ca_leaf_acquire(&ca_a, "b.test", now0, &b, NULL) == 0);
	T_CHECK(ca_leaf_acquire(&ca_a, "c.test", now0, &c, NULL) == 0);
	ca_leaf_release(&ca_a, a);
	ca_leaf_release(&ca_a, b);
	ca_leaf_release(&ca_a, c);
	ca_get_stats(&ca_a, &s);
	T_CHECK(s.mints == s0.mints + 3 && s.cached == 3 && s.hits == s0.hits);
	/* A hit, case-insensitively, returns the same leaf and makes it the most recent: order a, c, b. */
	T_CHECK(ca_leaf_acquire(&ca_a, "A.TEST.", now0 + 10, &x, NULL) == 0 && x == a);
	ca_leaf_release(&ca_a, x);
	ca_get_stats(&ca_a, &s);
	T_CHECK(s.hits == s0.hits + 1 && s.mints == s0.mints + 3);
	/* d evicts the least recent: b. */
	T_CHECK(ca_leaf_acquire(&ca_a, "d.test", now0, &d, NULL) == 0);
	ca_leaf_release(&ca_a, d);
	ca_get_stats(&ca_a, &s);
	T_CHECK(s.cached == 3 && s.evictions == s0.evictions + 1);
	T_CHECK(ca_a.lru_head == d && ca_a.lru_tail == c);
	T_CHECK(ca_leaf_acquire(&ca_a, "c.test", now0, &x, NULL) == 0 && x == c); /* still cached */
	ca_leaf_release(&ca_a, x);
	T_CHECK(ca_leaf_acquire(&ca_a, "b.test", now0, &x, NULL) == 0); /* minted again, evicting a */
	ca_leaf_release(&ca_a, x);
	ca_get_stats(&ca_a, &s);
	T_CHECK(s.mints == s0.mints + 5 && s.evictions == s0.evictions + 2 && s.cached == 3);
	T_CHECK(ca_a.lru_tail == d);
	/* Bad names are refused and cost nothing. */
	T_CHECK(ca_leaf_acquire(&ca_a, "*.test", now0, &x, NULL) < 0);
	ca_get_stats(&ca_a, &s);
	T_CHECK(s.mints == s0.mints + 5);
}

static void cache_renews_near_expiry(void)
{
	struct ca_leaf *x, *y;
	struct ca_stats s0, s;
	time_t end;

	T_CHECK(ca_leaf_acquire(&ca_a, "renew.test", now0, &x, NULL) == 0);
	end = x->not_after;
	ca_leaf_release(&ca_a, x);
	ca_get_stats(&ca_a, &s0);
	/* More than a day left: served from the cache. */
	T_CHECK(ca_leaf_acquire(&ca_a, "renew.test", end - CA_LEAF_RENEW_SECS - 10, &y, NULL) == 0 && y == x);
	ca_leaf_release(&ca_a, y);
	/* Within a day of the end: minted again with a later end. */
	T_CHECK(ca_leaf_acquire(&ca_a, "renew.test", end - CA_LEAF_RENEW_SECS + 10, &y, NULL) == 0);
	T_CHECK(y->not_after > end);
	ca_get_stats(&ca_a, &s);
	T_CHECK(s.renewals == s0.renewals + 1 && s.mints == s0.mints + 1);
	ca_leaf_release(&ca_a, y);
}

/* A chain handed to a TLS server stays valid while referenced, even after eviction. */
static void cache_held_leaf_survives_eviction(void)
{
	struct ca_leaf *held, *x;
	unsigned char copy[CA_CERT_DER_MAX];
	size_t len, i;
	char name[32];

	T_CHECK(ca_leaf_acquire(&ca_a, "held.test", now0, &held, NULL) == 0);
	len = held->chain[0].data_len;
	memcpy(copy, held->chain[0].data, len);
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "fill%zu.test", i);
		T_CHECK(ca_leaf_acquire(&ca_a, name, now0, &x, NULL) == 0);
		ca_leaf_release(&ca_a, x);
	}
	T_CHECK(held->chain[0].data_len == len && !memcmp(held->chain[0].data, copy, len)); /* ASan: no use after free */
	T_CHECK(verify_chain(held->chain, 2, "held.test", now0) == 0);
	T_CHECK(ca_leaf_acquire(&ca_a, "held.test", now0, &x, NULL) == 0 && x != held); /* a new one */
	ca_leaf_release(&ca_a, x);
	ca_leaf_release(&ca_a, held); /* frees it */
}

/* ---- a TLS handshake: BearSSL server with the minted chain and leaf key, BearSSL client trusting the CA ---- */

static int sock_read(void *ctx, unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t r = read(*(int *)ctx, buf, len);

		if (r < 0 && errno == EINTR)
			continue;
		return r <= 0 ? -1 : (int)r;
	}
}

static int sock_write(void *ctx, const unsigned char *buf, size_t len)
{
	for (;;) {
		ssize_t r = write(*(int *)ctx, buf, len);

		if (r < 0 && errno == EINTR)
			continue;
		return r <= 0 ? -1 : (int)r;
	}
}

/* Serve one TLS connection on fd: read a request head, answer "hello HOST". 0 on a clean exchange. */
static int serve_tls(int fd, struct ca *ca, const struct ca_leaf *leaf)
{
	static br_ssl_server_context sc;
	static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	static const char *alpn[] = { "http/1.1" };
	br_sslio_context ioc;
	char req[2048], resp[512];
	size_t got = 0;
	int n;

	br_ssl_server_init_full_ec(&sc, leaf->chain, leaf->chain_len, BR_KEYTYPE_EC, &ca->leaf_sk);
	br_ssl_engine_set_protocol_names(&sc.eng, alpn, 1);
	br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 1);
	if (!br_ssl_server_reset(&sc))
		return -1;
	br_sslio_init(&ioc, &sc.eng, sock_read, &fd, sock_write, &fd);
	while (got < sizeof req - 1) {
		n = br_sslio_read(&ioc, req + got, sizeof req - 1 - got);
		if (n < 0)
			return -1;
		got += (size_t)n;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	n = snprintf(resp, sizeof resp,
		     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\nhello %s\n",
		     strlen(leaf->host) + 7, leaf->host);
	if (br_sslio_write_all(&ioc, resp, (size_t)n) < 0 || br_sslio_close(&ioc) < 0)
		return -1;
	return 0;
}

static void tls_handshake(void)
{
	static struct tls_client cl;
	struct tls_trust trust;
	struct ca_leaf *leaf;
	struct bb_err e = { 0 };
	char crt[300], buf[512];
	int sv[2], st, round;
	pid_t pid;

	tls_trust_init(&trust);
	path_in(crt, sizeof crt, "a/ca.crt");
	T_CHECK(tls_trust_add_file(&trust, crt, NULL) == 1);
	/* Round 0: the right name; round 1: the client asks for another name and must refuse. */
	for (round = 0; round < 2; round++) {
		T_CHECK(ca_leaf_acquire(&ca_a, "tls.example.com", time(NULL), &leaf, NULL) == 0);
		T_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		pid = fork();
		if (pid == 0) {
			close(sv[0]);
			_exit(serve_tls(sv[1], &ca_a, leaf) == 0 ? 0 : 1);
		}
		close(sv[1]);
		memset(&e, 0, sizeof e);
		if (round == 0) {
			ssize_t n, got = 0;

			T_CHECK(tls_client_connect(&cl, sv[0], "tls.example.com", &trust, &e) == 0);
			if (e.msg[0])
				printf("#   %s\n", e.msg);
			T_STREQ(tls_client_alpn(&cl), "http/1.1");
			T_CHECK(tls_client_write_all(&cl, "GET / HTTP/1.1\r\nHost: tls.example.com\r\n\r\n", 41, &e) == 0);
			while ((n = tls_client_read(&cl, buf + got, sizeof buf - 1 - (size_t)got, &e)) > 0)
				got += n;
			buf[got] = 0;
			T_CHECK(strstr(buf, "\r\n\r\nhello tls.example.com\n") != NULL);
		} else {
			T_CHECK(tls_client_connect(&cl, sv[0], "evil.example.com", &trust, &e) < 0);
			T_CHECK(strstr(e.msg, "does not match") != NULL);
			if (!strstr(e.msg, "does not match"))
				printf("#   %s\n", e.msg);
		}
		close(sv[0]);
		T_CHECK(waitpid(pid, &st, 0) == pid);
		if (round == 0)
			T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		ca_leaf_release(&ca_a, leaf);
	}
	tls_trust_free(&trust);
}

/* Mint time: one ECDSA P-256 signature plus the DER. Printed for the report; checked only loosely. */
static void mint_speed(void)
{
	static struct ca_leaf leaf;
	struct timespec t0, t1;
	const int n = 500;
	double us;
	int i, ok = 1;
	char name[32];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "h%d.example.com", i);
		ok &= ca_mint_leaf(&ca_a, name, now0, &leaf, NULL) == 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / n;
	printf("# leaf mint: %.1f us each (%d mints)\n", us, n);
	T_CHECK(ok);
	T_CHECK(us < 20000); /* generous: a sanitizer build on a loaded machine */
}

static void free_clean(void)
{
	ca_free(&ca_a);
	T_CHECK(ca_a.buckets == NULL && ca_a.lru_head == NULL);
	ca_free(&ca_a); /* twice is harmless */
}

/* ---- test-only modes for tests/sh/ca.sh ---- */

static int write_pem_file(const char *path, const char *label, const void *der, size_t len, mode_t mode)
{
	char pem[CA_PEM_MAX];
	size_t n;
	int fd;

	if (ca_pem_encode(label, der, len, pem, sizeof pem, &n, NULL) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || fd_write_all(fd, pem, n) < 0)
		return -1;
	return close(fd);
}

/* test_ca mint CADIR HOST CERT.pem KEY.pem: the leaf (then the CA) as PEM, and the leaf key. */
static int mode_mint(char **argv)
{
	struct bb_err e = { 0 };
	static struct ca c;
	static struct ca_leaf leaf;
	unsigned char kder[256];
	char pem[2 * CA_PEM_MAX];
	size_t a, b, klen;
	int fd;

	if (ca_load(&c, argv[2], 0, &e) < 0 || ca_mint_leaf(&c, argv[3], time(NULL), &leaf, &e) < 0) {
		fprintf(stderr, "mint: %s\n", e.msg);
		return 1;
	}
	if (ca_pem_encode("CERTIFICATE", leaf.chain[0].data, leaf.chain[0].data_len, pem, sizeof pem, &a, &e) < 0 ||
	    ca_pem_encode("CERTIFICATE", c.cert_der, c.cert_der_len, pem + a, sizeof pem - a, &b, &e) < 0)
		return 1;
	fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || fd_write_all(fd, pem, a + b) < 0 || close(fd) < 0)
		return 1;
	klen = br_encode_ec_raw_der(kder, &c.leaf_sk, &c.leaf_pk);
	if (!klen || write_pem_file(argv[5], "EC PRIVATE KEY", kder, klen, 0600) < 0)
		return 1;
	ca_free(&c);
	return 0;
}

/* test_ca serve CADIR HOST ADDR PORT COUNT: a BearSSL TLS server on ADDR:PORT presenting HOST's minted leaf, for COUNT connections. */
static int mode_serve(char **argv)
{
	struct bb_err e = { 0 };
	static struct ca c;
	struct ca_leaf *leaf;
	struct sockaddr_in sa = { 0 };
	int ls, fd, one = 1, count = (int)strtol(argv[6], NULL, 10), failures = 0;

	if (ca_load(&c, argv[2], 0, &e) < 0) {
		fprintf(stderr, "serve: %s\n", e.msg);
		return 1;
	}
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)strtol(argv[5], NULL, 10));
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || inet_pton(AF_INET, argv[4], &sa.sin_addr) != 1 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 8) < 0) {
		perror("serve: listen");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	while (count-- > 0) {
		fd = accept(ls, NULL, NULL);
		if (fd < 0)
			return 1;
		/* Each connection goes through the cache, as egress does: the first mints, the rest hit. */
		if (ca_leaf_acquire(&c, argv[3], time(NULL), &leaf, &e) < 0) {
			fprintf(stderr, "serve: %s\n", e.msg);
			return 1;
		}
		if (serve_tls(fd, &c, leaf) < 0)
			failures++;
		ca_leaf_release(&c, leaf);
		close(fd);
		{
			struct ca_stats s;

			ca_get_stats(&c, &s);
			fprintf(stderr, "serve: mints=%llu hits=%llu failures=%d\n", s.mints, s.hits, failures);
		}
	}
	ca_free(&c);
	return 0;
}

int main(int argc, char **argv)
{
	char cmd[300];

	if (argc == 6 && !strcmp(argv[1], "mint"))
		return mode_mint(argv);
	if (argc == 7 && !strcmp(argv[1], "serve"))
		return mode_serve(argv);
	now0 = utc(2026, 3, 1, 12, 0, 0);
	if (!mkdtemp(tmp_root)) {
		printf("not ok - mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	T_RUN(der_lengths);
	T_RUN(der_nested_lengths);
	T_RUN(der_reader_strict);
	T_RUN(der_integers);
	T_RUN(der_overflow_sticky);
	T_RUN(der_times);
	T_RUN(der_time_parse_strict);
	T_RUN(host_names);
	T_RUN(ca_create_files);
	T_RUN(ca_create_refuses_half);
	T_RUN(ca_ensure_concurrent);
	T_RUN(ca_load_ok);
	T_RUN(ca_key_mismatch);
	T_RUN(ca_key_perms);
	T_RUN(leaf_verifies_for_its_host_only);
	T_RUN(leaf_fields);
	T_RUN(leaf_ip_and_long_names);
	T_RUN(leaf_capped_by_ca_validity);
	T_RUN(cache_lru);
	T_RUN(cache_renews_near_expiry);
	T_RUN(cache_held_leaf_survives_eviction);
	T_RUN(tls_handshake);
	T_RUN(mint_speed);
	T_RUN(free_clean);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp_root);
	T_END();
}
