/* tls.h - BearSSL TLS client: trust anchors loaded from PEM files and directories, and a synchronous client over a blocking socket. */
#ifndef BB_TLS_H
#define BB_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <bearssl.h>

#include "err.h"

/* Where the default trust comes from when SSL_CERT_FILE and SSL_CERT_DIR are unset. */
#define TLS_DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* Caps: a CA bundle file, and one certificate inside it (DER bytes). */
#define TLS_CA_FILE_MAX (8u << 20)
#define TLS_CERT_MAX (64u << 10)

/*
 * A set of trust anchors (root certificates reduced to what BearSSL's
 * X.509 engine needs: subject DN, public key, CA flag). The list grows as
 * files are added; each anchor owns one heap block holding its DN and key
 * bytes. Anchors are deduplicated (same DN and key), so adding a bundle
 * and the directory of links into it is harmless.
 *
 * Caller-owned: tls_trust_init() it, add to it, tls_trust_free() it. It
 * must outlive every tls_client that was connected with it.
 */
struct tls_trust {
	br_x509_trust_anchor *anchors;
	size_t len;     /* anchors in use */
	size_t cap;     /* anchors allocated */
	size_t skipped; /* certificates ignored because BearSSL cannot use their key (e.g. Ed25519, DSA, unknown curve) */
};

/* Make t an empty set (no allocation). */
void tls_trust_init(struct tls_trust *t);

/* Free every anchor and the list; t is left empty and may be reused. */
void tls_trust_free(struct tls_trust *t);

/*
 * Add every certificate of a PEM text (pem[0..len)) to t. Objects that are
 * not CERTIFICATE / X509 CERTIFICATE (keys, CRLs, ...) are skipped. `name`
 * only labels error messages (a file name, "<builtin>").
 * Returns the number of certificates found (duplicates and unusable key
 * types included; at least 1), or -1 with e set (code BB_EINVAL unless
 * noted): "malformed PEM in NAME", "certificate N in NAME is not valid PEM
 * (...)", "certificate N in NAME is not valid X.509 (...)", "certificate N
 * in NAME is truncated (no END line)", "no certificate found in NAME", or
 * ENOMEM / BB_ETOOBIG. N counts certificates from 1. On failure t keeps
 * the anchors added before.
 */
int tls_trust_add_pem(struct tls_trust *t, const void *pem, size_t len, const char *name, struct bb_err *e);

/*
 * Add every certificate of the PEM bundle at path (at most
 * TLS_CA_FILE_MAX bytes). Same results and errors as tls_trust_add_pem,
 * plus read errors naming the path.
 */
int tls_trust_add_file(struct tls_trust *t, const char *path, struct bb_err *e);

/*
 * Add the certificates of every regular file in dir (symlinks followed,
 * subdirectories and dot-files skipped), as OpenSSL's c_rehash'd
 * /etc/ssl/certs holds them. A file holding no certificate is skipped; a
 * malformed one is an error naming it. Returns the number of certificates
 * found, or -1 (also when there is none: "no certificate found in
 * directory DIR").
 */
int tls_trust_add_dir(struct tls_trust *t, const char *dir, struct bb_err *e);

/*
 * The usual trust: when SSL_CERT_FILE and/or SSL_CERT_DIR are set (and
 * not empty), load those (both, if both are set); otherwise
 * TLS_DEFAULT_CA_FILE. Returns the number of certificates found, or -1;
 * the error names the variable that pointed at a bad file.
 */
int tls_trust_load_default(struct tls_trust *t, struct bb_err *e);

/* Map a BearSSL certificate decoding/validation error (BR_ERR_X509_*) to words, e.g. "certificate expired or not yet valid". */
const char *tls_x509_strerror(int br_err);

/*
 * One TLS client connection over a connected blocking socket, all state
 * inside (about 40 KiB: put it in static storage or on the heap rather
 * than a small stack). No hidden allocation. TLS 1.2 only (BearSSL 0.6
 * has no 1.3), ALPN offers "http/1.1", the certificate chain is verified
 * against a tls_trust and the server name.
 *
 * The fd stays the caller's: nothing here closes it. A blocking socket
 * with SO_RCVTIMEO/SO_SNDTIMEO set gets timeouts reported as ETIMEDOUT.
 */
struct tls_client {
	br_ssl_client_context sc;
	br_x509_minimal_context xc;
	br_sslio_context ioc;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	int fd;
	int io_errno;  /* errno of the failed socket read/write, else 0 */
	int peer_eof;  /* the socket read end-of-stream */
	int truncated; /* the peer closed the socket without close_notify */
	int closed;    /* the TLS session is over (close_notify either way, or an error) */
	char server_name[256];
};

/*
 * Initialise c and run the full handshake on fd: SNI = server_name, and
 * the server's certificate must chain to an anchor of trust and match
 * server_name (a DNS name; required, never NULL or empty: an empty name
 * would skip the name check). trust must outlive c.
 * Returns 0 once the handshake is complete, or -1 with e set:
 *   code BB_ETLS, message saying why in words, e.g.
 *     "certificate not trusted (no path to a configured root)",
 *     "certificate does not match NAME",
 *     "certificate expired or not yet valid",
 *     "server sent fatal alert 40 (handshake_failure)",
 *     "TLS error N" for codes without a description;
 *   or code errno ("connection error: Connection reset by peer"; timeouts
 *   are ETIMEDOUT), so callers can tell a network failure from a TLS one.
 */
int tls_client_connect(struct tls_client *c, int fd, const char *server_name, const struct tls_trust *trust,
		       struct bb_err *e);

/* The ALPN protocol the server selected ("http/1.1"), or NULL when it did not take part in ALPN. */
const char *tls_client_alpn(struct tls_client *c);

/* Send all n bytes and flush them to the socket. 0, or -1 with e set as for tls_client_connect. */
int tls_client_write_all(struct tls_client *c, const void *p, size_t n, struct bb_err *e);

/*
 * Read up to n (> 0) bytes of application data, blocking until at least
 * one arrives. Returns the count; 0 when the session is over: the peer
 * sent close_notify, or (c->truncated set) closed the socket without it,
 * which callers relying on end-of-stream framing should treat as a
 * possible truncation. -1 with e set on error.
 */
ssize_t tls_client_read(struct tls_client *c, void *p, size_t n, struct bb_err *e);

/*
 * End the session: send close_notify (when the session is still open) and
 * flush it. Does not wait for the peer's close_notify and does not close
 * the socket. 0, or -1 with e set when the alert could not be sent.
 */
int tls_client_close(struct tls_client *c, struct bb_err *e);

/*
 * Fill e (code BB_ETLS, or the saved errno for transport failures) from a
 * BearSSL engine error code, naming server_name where it matters; returns
 * -1. Exposed for engines driven without br_sslio (the egress proxy).
 * io_errno is the transport's errno when br_err is BR_ERR_IO (0 if none:
 * then end-of-stream is assumed).
 */
int tls_err_from_engine(struct bb_err *e, int br_err, int io_errno, const char *server_name);

#endif
