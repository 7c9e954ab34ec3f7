/* tls.c - BearSSL TLS client: PEM trust-anchor loading and a synchronous client over br_sslio. */
#include "tls.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"

/* ---- trust anchors ---- */

void tls_trust_init(struct tls_trust *t)
{
	t->anchors = NULL;
	t->len = 0;
	t->cap = 0;
	t->skipped = 0;
}

void tls_trust_free(struct tls_trust *t)
{
	size_t i;

	/* Each anchor's DN and key bytes live in one block that starts at dn.data. */
	for (i = 0; i < t->len; i++)
		free(t->anchors[i].dn.data);
	free(t->anchors);
	tls_trust_init(t);
}

static int same_bytes(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

static int same_anchor(const br_x509_trust_anchor *ta, const unsigned char *dn, size_t dnlen,
		       const br_x509_pkey *pk)
{
	if (ta->pkey.key_type != pk->key_type || !same_bytes(ta->dn.data, ta->dn.len, dn, dnlen))
		return 0;
	if (pk->key_type == BR_KEYTYPE_RSA)
		return same_bytes(ta->pkey.key.rsa.n, ta->pkey.key.rsa.nlen, pk->key.rsa.n, pk->key.rsa.nlen) &&
		       same_bytes(ta->pkey.key.rsa.e, ta->pkey.key.rsa.elen, pk->key.rsa.e, pk->key.rsa.elen);
	return ta->pkey.key.ec.curve == pk->key.ec.curve &&
	       same_bytes(ta->pkey.key.ec.q, ta->pkey.key.ec.qlen, pk->key.ec.q, pk->key.ec.qlen);
}

/* Copy a decoded certificate's DN and key into a new anchor (skipped when already present). */
static int trust_append(struct tls_trust *t, const unsigned char *dn, size_t dnlen, const br_x509_pkey *pk,
			int is_ca, struct bb_err *e)
{
	br_x509_trust_anchor *ta;
	unsigned char *block;
	size_t keylen, i;

	for (i = 0; i < t->len; i++)
		if (same_anchor(&t->anchors[i], dn, dnlen, pk))
			return 0;
	if (t->len == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		br_x509_trust_anchor *n;

		if (ncap > SIZE_MAX / sizeof *n)
			return bb_errf(e, BB_ETOOBIG, "too many trust anchors");
		n = realloc(t->anchors, ncap * sizeof *n);
		if (!n)
			return bb_errno(e, ENOMEM, "trust anchors");
		t->anchors = n;
		t->cap = ncap;
	}
	keylen = pk->key_type == BR_KEYTYPE_RSA ? pk->key.rsa.nlen + pk->key.rsa.elen : pk->key.ec.qlen;
	/* +1 so an empty DN still gets a block to own. */
	block = malloc(dnlen + keylen + 1);
	if (!block)
		return bb_errno(e, ENOMEM, "trust anchor");
	ta = &t->anchors[t->len];
	memcpy(block, dn, dnlen);
	ta->dn.data = block;
	ta->dn.len = dnlen;
	ta->flags = is_ca ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		unsigned char *n = block + dnlen, *x = n + pk->key.rsa.nlen;

		memcpy(n, pk->key.rsa.n, pk->key.rsa.nlen);
		memcpy(x, pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.n = n;
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = x;
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else {
		memcpy(block + dnlen, pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = block + dnlen;
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	t->len++;
	return 0;
}

/* A bounded sink for BearSSL's streaming callbacks (PEM body, DN), which cannot fail. */
struct sink {
	struct buf b;
	int failed;
	struct bb_err err;
};

static void sink_append(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;

	if (!s->failed && buf_append(&s->b, p, n, &s->err) < 0)
		s->failed = 1;
}

static void sink_reset(struct sink *s)
{
	buf_reset(&s->b);
	s->failed = 0;
}

/* Decode one DER certificate and add it as an anchor (or count it as skipped). */
static int trust_add_der(struct tls_trust *t, const struct buf *der, size_t index, const char *name,
			 struct bb_err *e)
{
	br_x509_decoder_context dc;
	struct sink dn = { BUF_INIT(TLS_CERT_MAX), 0, { 0, "" } };
	br_x509_pkey *pk;
	int err, rc;

	br_x509_decoder_init(&dc, sink_append, &dn);
	br_x509_decoder_push(&dc, der->p, der->len);
	err = br_x509_decoder_last_error(&dc);
	pk = br_x509_decoder_get_pkey(&dc);
	if (err == BR_ERR_X509_UNSUPPORTED) {
		/* A root with a key BearSSL cannot verify with (Ed25519, DSA, an
		 * unknown curve) can never anchor a chain here; skip, not fail. */
		t->skipped++;
		buf_free(&dn.b);
		return 0;
	}
	if (err || !pk) {
		buf_free(&dn.b);
		return bb_errf(e, BB_EINVAL, "certificate %zu in %s is not valid X.509 (%s)", index, name,
			       tls_x509_strerror(err ? err : BR_ERR_X509_TRUNCATED));
	}
	if (dn.failed) {
		buf_free(&dn.b);
		if (e)
			*e = dn.err;
		return bb_err_wrap(e, "certificate %zu in %s: subject name", index, name);
	}
	rc = trust_append(t, (const unsigned char *)(dn.b.p ? dn.b.p : ""), dn.b.len, pk,
			  br_x509_decoder_isCA(&dc), e);
	buf_free(&dn.b);
	return rc;
}

static int is_cert_object(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0;
}

struct pem_walk {
	br_pem_decoder_context pc;
	struct sink der;
	int in_cert;
	size_t certs; /* CERTIFICATE objects seen */
};

/* Push data through the PEM decoder, acting on each event. */
static int pem_feed(struct tls_trust *t, struct pem_walk *w, const unsigned char *p, size_t n, const char *name,
		    struct bb_err *e)
{
	while (n) {
		size_t k = br_pem_decoder_push(&w->pc, p, n);

		p += k;
		n -= k;
		switch (br_pem_decoder_event(&w->pc)) {
		case BR_PEM_BEGIN_OBJ:
			w->in_cert = is_cert_object(br_pem_decoder_name(&w->pc));
			if (w->in_cert) {
				w->certs++;
				sink_reset(&w->der);
				br_pem_decoder_setdest(&w->pc, sink_append, &w->der);
			} else {
				br_pem_decoder_setdest(&w->pc, NULL, NULL);
			}
			break;
		case BR_PEM_END_OBJ:
			if (w->in_cert) {
				if (w->der.failed)
					return bb_errf(e, BB_ETOOBIG, "certificate %zu in %s: %s", w->certs, name,
						       w->der.err.msg);
				if (trust_add_der(t, &w->der.b, w->certs, name, e) < 0)
					return -1;
			}
			w->in_cert = 0;
			break;
		case BR_PEM_ERROR:
			if (w->in_cert)
				return bb_errf(e, BB_EINVAL, "certificate %zu in %s is not valid PEM (bad base64 or framing)",
					       w->certs, name);
			return bb_errf(e, BB_EINVAL, "malformed PEM in %s", name);
		default:
			break;
		}
	}
	return 0;
}

/* Like tls_trust_add_pem, but finding no certificate is not an error: returns 0. */
static int trust_add_pem_any(struct tls_trust *t, const void *pem, size_t len, const char *name, struct bb_err *e)
{
	struct pem_walk w;
	int rc;

	br_pem_decoder_init(&w.pc);
	buf_init(&w.der.b, TLS_CERT_MAX);
	w.der.failed = 0;
	bb_err_clear(&w.der.err);
	w.in_cert = 0;
	w.certs = 0;
	rc = pem_feed(t, &w, pem, len, name, e);
	/* BearSSL only sees an END line once its newline arrives. */
	if (rc == 0)
		rc = pem_feed(t, &w, (const unsigned char *)"\n", 1, name, e);
	if (rc == 0 && w.in_cert)
		rc = bb_errf(e, BB_EINVAL, "certificate %zu in %s is truncated (no END line)", w.certs, name);
	buf_free(&w.der.b);
	if (rc < 0)
		return -1;
	return w.certs > INT_MAX ? INT_MAX : (int)w.certs;
}

int tls_trust_add_pem(struct tls_trust *t, const void *pem, size_t len, const char *name, struct bb_err *e)
{
	int n = trust_add_pem_any(t, pem, len, name, e);

	if (n == 0)
		return bb_errf(e, BB_EINVAL, "no certificate found in %s", name);
	return n;
}

int tls_trust_add_file(struct tls_trust *t, const char *path, struct bb_err *e)
{
	struct buf b = BUF_INIT(TLS_CA_FILE_MAX);
	int n;

	if (fd_read_file(path, TLS_CA_FILE_MAX, &b, e) < 0) {
		buf_free(&b);
		return -1;
	}
	n = tls_trust_add_pem(t, b.p ? b.p : "", b.len, path, e);
	buf_free(&b);
	return n;
}

int tls_trust_add_dir(struct tls_trust *t, const char *dir, struct bb_err *e)
{
	DIR *d;
	struct dirent *de;
	size_t total = 0;
	int rc = 0;

	d = opendir(dir);
	if (!d)
		return bb_errno(e, errno, "%s", dir);
	for (;;) {
		char path[PATH_MAX];
		struct stat st;
		struct buf b = BUF_INIT(TLS_CA_FILE_MAX);
		int n, len;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				rc = bb_errno(e, errno, "%s", dir);
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		len = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (len < 0 || (size_t)len >= sizeof path) {
			rc = bb_errf(e, BB_ETOOBIG, "%s/%s: path too long", dir, de->d_name);
			break;
		}
		/* stat, not lstat: c_rehash directories are mostly symlinks. A
		 * dangling link is not worth failing the whole directory for. */
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (fd_read_file(path, TLS_CA_FILE_MAX, &b, e) < 0) {
			buf_free(&b);
			rc = -1;
			break;
		}
		n = trust_add_pem_any(t, b.p ? b.p : "", b.len, path, e);
		buf_free(&b);
		if (n < 0) {
			rc = -1;
			break;
		}
		total += (size_t)n;
	}
	closedir(d);
	if (rc < 0)
		return -1;
	if (total == 0)
		return bb_errf(e, BB_EINVAL, "no certificate found in directory %s", dir);
	return total > INT_MAX ? INT_MAX : (int)total;
}

/* SSL_CERT_DIR is a ':'-separated list of directories, as in OpenSSL. */
static int trust_add_dir_list(struct tls_trust *t, const char *list, struct bb_err *e)
{
	struct sv rest = sv_from(list), one;
	long total = 0;

	while (rest.len) {
		char dir[PATH_MAX];
		int n;

		sv_split(rest, ':', &one, &rest);
		if (!one.len)
			continue;
		if (sv_copy(one, dir, sizeof dir) < 0)
			return bb_errf(e, BB_ETOOBIG, "directory name too long");
		n = tls_trust_add_dir(t, dir, e);
		if (n < 0)
			return -1;
		total += n;
		if (total > INT_MAX)
			total = INT_MAX;
	}
	if (total == 0)
		return bb_errf(e, BB_EINVAL, "no directory named");
	return (int)total;
}

int tls_trust_load_default(struct tls_trust *t, struct bb_err *e)
{
	const char *file = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
	long total = 0;
	int n;

	if (file && !*file)
		file = NULL;
	if (dir && !*dir)
		dir = NULL;
	if (!file && !dir) {
		n = tls_trust_add_file(t, TLS_DEFAULT_CA_FILE, e);
		return n < 0 ? bb_err_wrap(e, "default trust store") : n;
	}
	if (file) {
		n = tls_trust_add_file(t, file, e);
		if (n < 0)
			return bb_err_wrap(e, "SSL_CERT_FILE");
		total += n;
	}
	if (dir) {
		n = trust_add_dir_list(t, dir, e);
		if (n < 0)
			return bb_err_wrap(e, "SSL_CERT_DIR");
		total += n;
	}
	return total > INT_MAX ? INT_MAX : (int)total;
}

/* ---- error descriptions ---- */

const char *tls_x509_strerror(int br_err)
{
	switch (br_err) {
	case BR_ERR_X509_OK:
		return "ok";
	case BR_ERR_X509_NOT_TRUSTED:
		return "certificate not trusted (no path to a configured root)";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "certificate does not match the server name";
	case BR_ERR_X509_EXPIRED:
		return "certificate expired or not yet valid";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "certificate signature does not verify";
	case BR_ERR_X509_TIME_UNKNOWN:
		return "current time unknown, cannot check certificate validity";
	case BR_ERR_X509_DN_MISMATCH:
		return "certificate chain is broken (issuer and subject names do not link)";
	case BR_ERR_X509_NOT_CA:
		return "an intermediate certificate is not a CA";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
		return "certificate key usage forbids this use";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "certificate public key is too small";
	case BR_ERR_X509_CRITICAL_EXTENSION:
		return "certificate has an unsupported critical extension";
	case BR_ERR_X509_EMPTY_CHAIN:
		return "server sent no certificate";
	case BR_ERR_X509_UNSUPPORTED:
		return "certificate uses an unsupported algorithm or key type";
	case BR_ERR_X509_LIMIT_EXCEEDED:
		return "certificate chain exceeds BearSSL's size limits";
	case BR_ERR_X509_WRONG_KEY_TYPE:
		return "certificate key type does not fit the negotiated cipher suite";
	case BR_ERR_X509_TRUNCATED:
	case BR_ERR_X509_INNER_TRUNC:
		return "truncated DER";
	case BR_ERR_X509_BAD_DN:
		return "malformed distinguished name";
	case BR_ERR_X509_BAD_TIME:
		return "malformed validity date";
	default:
		if (br_err >= BR_ERR_X509_INVALID_VALUE && br_err <= BR_ERR_X509_OVERFLOW)
			return "malformed DER";
		return "unknown X.509 error";
	}
}

static const char *alert_name(int alert)
{
	switch (alert) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 22: return "record_overflow";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 86: return "inappropriate_fallback";
	case 90: return "user_canceled";
	case 109: return "missing_extension";
	case 110: return "unsupported_extension";
	case 112: return "unrecognized_name";
	case 116: return "certificate_required";
	case 120: return "no_application_protocol";
	default: return "unknown alert";
	}
}

static const char *ssl_strerror(int br_err)
{
	switch (br_err) {
	case BR_ERR_BAD_PARAM: return "invalid TLS parameter";
	case BR_ERR_BAD_STATE: return "TLS engine in a wrong state";
	case BR_ERR_UNSUPPORTED_VERSION: return "no common TLS version (TLS 1.2 required)";
	case BR_ERR_BAD_VERSION: return "server changed the TLS version mid-connection";
	case BR_ERR_BAD_LENGTH: return "malformed TLS record length";
	case BR_ERR_TOO_LARGE: return "TLS record too large";
	case BR_ERR_BAD_MAC: return "TLS record failed its integrity check";
	case BR_ERR_NO_RANDOM: return "no entropy source for TLS";
	case BR_ERR_UNKNOWN_TYPE: return "unknown TLS record type";
	case BR_ERR_UNEXPECTED: return "unexpected TLS message";
	case BR_ERR_BAD_CCS: return "malformed ChangeCipherSpec";
	case BR_ERR_BAD_ALERT: return "malformed alert";
	case BR_ERR_BAD_HANDSHAKE: return "malformed handshake message";
	case BR_ERR_OVERSIZED_ID: return "session ID too long";
	case BR_ERR_BAD_CIPHER_SUITE: return "server chose a cipher suite that was not offered";
	case BR_ERR_BAD_COMPRESSION: return "server chose compression, which is not supported";
	case BR_ERR_BAD_FRAGLEN: return "server chose an unsupported fragment length";
	case BR_ERR_BAD_SECRENEG: return "secure renegotiation failed";
	case BR_ERR_EXTRA_EXTENSION: return "server sent an extension that was not requested";
	case BR_ERR_BAD_SNI: return "invalid server name (SNI)";
	case BR_ERR_BAD_HELLO_DONE: return "malformed ServerHelloDone";
	case BR_ERR_LIMIT_EXCEEDED: return "TLS limit exceeded";
	case BR_ERR_BAD_FINISHED: return "handshake integrity check failed (bad Finished)";
	case BR_ERR_RESUME_MISMATCH: return "session resumption mismatch";
	case BR_ERR_INVALID_ALGORITHM: return "server used an unsupported algorithm";
	case BR_ERR_BAD_SIGNATURE: return "server's handshake signature does not verify";
	case BR_ERR_WRONG_KEY_USAGE: return "server key usage does not allow the negotiated cipher suite";
	case BR_ERR_NO_CLIENT_AUTH: return "server requires a client certificate";
	default: return NULL;
	}
}

int tls_err_from_engine(struct bb_err *e, int br_err, int io_errno, const char *server_name)
{
	const char *why;

	if (!server_name)
		server_name = "(no name)";
	if (br_err == BR_ERR_IO) {
		if (io_errno)
			return bb_errno(e, io_errno, "connection error");
		return bb_errf(e, BB_ETLS, "connection closed by the server");
	}
	if (br_err >= BR_ERR_SEND_FATAL_ALERT)
		return bb_errf(e, BB_ETLS, "sent fatal alert %d (%s)", br_err - BR_ERR_SEND_FATAL_ALERT,
			       alert_name(br_err - BR_ERR_SEND_FATAL_ALERT));
	if (br_err >= BR_ERR_RECV_FATAL_ALERT)
		return bb_errf(e, BB_ETLS, "server sent fatal alert %d (%s)", br_err - BR_ERR_RECV_FATAL_ALERT,
			       alert_name(br_err - BR_ERR_RECV_FATAL_ALERT));
	if (br_err == BR_ERR_X509_BAD_SERVER_NAME)
		return bb_errf(e, BB_ETLS, "certificate does not match %s", server_name);
	if (br_err >= BR_ERR_X509_OK && br_err <= BR_ERR_X509_NOT_TRUSTED)
		return bb_errf(e, BB_ETLS, "%s", tls_x509_strerror(br_err));
	why = ssl_strerror(br_err);
	if (why)
		return bb_errf(e, BB_ETLS, "%s", why);
	return bb_errf(e, BB_ETLS, "TLS error %d", br_err);
}

/* ---- client ---- */

/* The list is linked into the engine, so it must be static. */
static const char *alpn_names[] = { "http/1.1" };

static int low_read(void *ctx, unsigned char *p, size_t n)
{
	struct tls_client *c = ctx;

	for (;;) {
		ssize_t r = read(c->fd, p, n);

		if (r > 0)
			return (int)r;
		if (r == 0) {
			c->peer_eof = 1;
			return -1;
		}
		if (errno == EINTR)
			continue;
		/* SO_RCVTIMEO expiry shows up as EAGAIN on a blocking socket. */
		c->io_errno = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
		return -1;
	}
}

static int low_write(void *ctx, const unsigned char *p, size_t n)
{
	struct tls_client *c = ctx;

	for (;;) {
		/* send with MSG_NOSIGNAL: a peer that hung up must be an error, not SIGPIPE. */
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == ENOTSOCK)
			w = write(c->fd, p, n);
		if (w >= 0)
			return (int)w;
		if (errno == EINTR)
			continue;
		c->io_errno = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
		return -1;
	}
}

static int client_fail(struct tls_client *c, struct bb_err *e)
{
	c->closed = 1;
	return tls_err_from_engine(e, br_ssl_engine_last_error(&c->sc.eng), c->io_errno, c->server_name);
}

int tls_client_connect(struct tls_client *c, int fd, const char *server_name, const struct tls_trust *trust,
		       struct bb_err *e)
{
	size_t n;

	c->fd = fd;
	c->io_errno = 0;
	c->peer_eof = 0;
	c->truncated = 0;
	c->closed = 1;
	c->server_name[0] = 0;
	if (!server_name || !*server_name)
		return bb_errf(e, BB_EINVAL, "TLS needs a server name to verify the certificate against");
	n = strlen(server_name);
	if (n >= sizeof c->server_name)
		return bb_errf(e, BB_EINVAL, "server name too long (%zu bytes)", n);
	memcpy(c->server_name, server_name, n + 1);
	if (!trust || trust->len == 0)
		return bb_errf(e, BB_ETLS, "no trust anchors configured");

	br_ssl_client_init_full(&c->sc, &c->xc, trust->anchors, trust->len);
	br_ssl_engine_set_versions(&c->sc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_buffer(&c->sc.eng, c->iobuf, sizeof c->iobuf, 1);
	br_ssl_engine_set_protocol_names(&c->sc.eng, alpn_names, sizeof alpn_names / sizeof alpn_names[0]);
	br_ssl_engine_add_flags(&c->sc.eng, BR_OPT_FAIL_ON_ALPN_MISMATCH);
	if (!br_ssl_client_reset(&c->sc, c->server_name, 0))
		return client_fail(c, e);
	c->closed = 0;
	br_sslio_init(&c->ioc, &c->sc.eng, low_read, c, low_write, c);
	/* Flushing with nothing to send runs the engine until it could carry application data: the handshake. */
	if (br_sslio_flush(&c->ioc) < 0 || (br_ssl_engine_current_state(&c->sc.eng) & BR_SSL_CLOSED))
		return client_fail(c, e);
	return 0;
}

const char *tls_client_alpn(struct tls_client *c)
{
	return br_ssl_engine_get_selected_protocol(&c->sc.eng);
}

int tls_client_write_all(struct tls_client *c, const void *p, size_t n, struct bb_err *e)
{
	if (c->closed)
		return bb_errf(e, BB_ETLS, "TLS session already closed");
	if (br_sslio_write_all(&c->ioc, p, n) < 0 || br_sslio_flush(&c->ioc) < 0)
		return client_fail(c, e);
	return 0;
}

ssize_t tls_client_read(struct tls_client *c, void *p, size_t n, struct bb_err *e)
{
	int r, err;

	if (c->closed)
		return 0;
	if (n == 0)
		return 0;
	r = br_sslio_read(&c->ioc, p, n);
	if (r > 0)
		return r;
	c->closed = 1;
	err = br_ssl_engine_last_error(&c->sc.eng);
	if (err == BR_ERR_OK)
		return 0; /* close_notify received */
	if (err == BR_ERR_IO && c->peer_eof && !c->io_errno) {
		c->truncated = 1;
		return 0;
	}
	return tls_err_from_engine(e, err, c->io_errno, c->server_name);
}

int tls_client_close(struct tls_client *c, struct bb_err *e)
{
	br_ssl_engine_context *eng = &c->sc.eng;

	if (c->closed)
		return 0;
	c->closed = 1;
	br_ssl_engine_close(eng);
	/* Send what the engine queued (the close_notify); do not wait for the reply. */
	while (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC) {
		size_t len;
		unsigned char *rec = br_ssl_engine_sendrec_buf(eng, &len);
		int w = low_write(c, rec, len);

		if (w < 0)
			return bb_errno(e, c->io_errno, "sending close_notify");
		br_ssl_engine_sendrec_ack(eng, (size_t)w);
	}
	return 0;
}
