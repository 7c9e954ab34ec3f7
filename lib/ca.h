/* ca.h - the TLS-interception certificate authority: CA creation and loading, leaf certificates minted per host, an LRU cache of them. */
#ifndef BB_CA_H
#define BB_CA_H

#include <stddef.h>
#include <time.h>

#include <bearssl.h>

#include "err.h"

/*
 * One CA per bottle home: an ECDSA P-256 key and a self-signed X.509 v3
 * certificate (CN "bb bottle CA <name>", O "bb", valid 10 years, CA:TRUE
 * pathlen 0). Files in the CA directory:
 *   ca.key  SEC1 "EC PRIVATE KEY" PEM, mode 0600 (loading refuses a key
 *           that group or other may read or write)
 *   ca.crt  "CERTIFICATE" PEM, mode 0644 (what the agent trusts)
 *
 * Leaves: one certificate per host name (a DNS name or an IPv4 literal),
 * valid from an hour ago for CA_LEAF_DAYS days (never past the CA's own
 * end), SAN = the host, CN = the host, serverAuth, signed by the CA key.
 * Every leaf of a loaded CA carries the same public key: one P-256 leaf
 * key pair is generated (in memory only, never written) when the CA is
 * loaded, so minting a leaf costs one ECDSA signature.
 *
 * Not thread-safe: one struct ca per event loop.
 */

#define CA_KEY_FILE "ca.key"
#define CA_CERT_FILE "ca.crt"

#define CA_LEAF_DAYS 7          /* leaf validity after minting */
#define CA_LEAF_RENEW_SECS 86400 /* a cached leaf this close to its end is minted again */
#define CA_VALID_YEARS 10       /* CA validity after creation */
#define CA_BACKDATE_SECS 3600   /* notBefore = now - this (clock skew between host and agent) */
#define CA_CACHE_DEFAULT 1024   /* leaves cached when the caller passes 0 */
#define CA_CACHE_MAX 65536      /* largest cache capacity accepted */
#define CA_NAME_MAX 64          /* the <name> in "bb bottle CA <name>" */
#define CA_HOST_MAX 253         /* longest DNS name (without the trailing dot) */
#define CA_CERT_DER_MAX 1024    /* a CA or leaf certificate this module writes, in DER */
#define CA_PEM_MAX 4096         /* a file this module writes or reads (ca.key, ca.crt) */

/*
 * A minted leaf, as cached. chain[0] is the leaf, chain[1] the CA
 * certificate: pass (chain, 2) and the CA's leaf key to
 * br_ssl_server_set_single_ec(). The bytes stay valid while the caller
 * holds a reference (ca_leaf_acquire .. ca_leaf_release), even if the
 * cache evicts or replaces the entry meanwhile.
 */
struct ca_leaf {
	br_x509_certificate chain[2];
	size_t chain_len;  /* 2 */
	time_t not_before;
	time_t not_after;
	char host[CA_HOST_MAX + 1]; /* the normalised (lower-case) host */
	/* private: cache bookkeeping */
	struct ca_leaf *lru_prev_, *lru_next_, *hash_next_;
	unsigned refs_;
	int cached_; /* still reachable from the cache */
	size_t der_len_;
	unsigned char der_[CA_CERT_DER_MAX];
};

/* Counters for tests, logs and benchmarks. */
struct ca_stats {
	unsigned long long mints;     /* leaves signed */
	unsigned long long hits;      /* served from the cache */
	unsigned long long evictions; /* dropped for capacity */
	unsigned long long renewals;  /* re-minted because within CA_LEAF_RENEW_SECS of expiry */
	size_t cached;                /* entries in the cache now */
};

/*
 * A loaded CA with its leaf key and leaf cache. Caller-owned (about 2 KiB
 * plus the cache's hash table); ca_load*() fills it, ca_free() releases
 * it. It must outlive every TLS server context given its leaf key or a
 * chain from it.
 */
struct ca {
	/* The CA. */
	unsigned char cert_der[CA_CERT_DER_MAX];
	size_t cert_der_len;
	unsigned char subject_der[256]; /* the CA's subject Name, DER, copied into leaves as their issuer */
	size_t subject_der_len;
	unsigned char key_id[20];       /* subjectKeyIdentifier = SHA-1 of the public key point */
	time_t not_after;               /* CA validity end */
	unsigned char ca_x[32];         /* CA private scalar */
	br_ec_private_key ca_sk;
	unsigned char ca_pub[65];
	br_ec_public_key ca_pk;
	/* The key every leaf carries (generated at load; never leaves memory). */
	unsigned char leaf_x[32];
	br_ec_private_key leaf_sk;
	unsigned char leaf_pub[65];
	br_ec_public_key leaf_pk;
	/* Randomness for serial numbers. */
	br_hmac_drbg_context rng;
	/* The LRU cache: a hash table of chains plus a doubly linked recency list (head = most recent). */
	struct ca_leaf **buckets;
	size_t nbuckets; /* a power of two, at least 2 x capacity */
	size_t capacity;
	struct ca_leaf *lru_head, *lru_tail;
	struct ca_stats stats;
};

/*
 * The default CA directory: "$BB_HOME/.bb/ca", BB_HOME defaulting to HOME
 * (the same home lookup as the manifests). Writes it into out[0..cap).
 * 0, or -1 (neither variable set; path too long).
 */
int ca_default_dir(char *out, size_t cap, struct bb_err *e);

/*
 * Create a CA in dir (made with mode 0700 if missing; parents must
 * exist): a new P-256 key and a self-signed certificate with CN
 * "bb bottle CA <name>" (name: 1..CA_NAME_MAX printable ASCII characters),
 * valid from now - CA_BACKDATE_SECS to now + CA_VALID_YEARS years.
 * Each file is written to a temporary name in dir (O_CREAT|O_EXCL|
 * O_NOFOLLOW, key 0600, cert 0644), synced and renamed into place.
 * Without force, an existing ca.key or ca.crt is refused ("NAME exists;
 * ...") and nothing is written; with force both are replaced.
 * 0, or -1 with e naming the file that failed.
 */
int ca_create(const char *dir, const char *name, time_t now, int force, struct bb_err *e);

/*
 * The CA in dir, made if it is not there yet (ca_create, without force),
 * under an exclusive lock on dir: bottles starting at the same moment on a
 * fresh home all get the one CA, none a half-made one or a "refusing to
 * overwrite". A lone ca.key or ca.crt (one without the other) is an error.
 * 0, or -1 with e.
 */
int ca_ensure(const char *dir, const char *name, time_t now, struct bb_err *e);

/*
 * Load dir/ca.crt and dir/ca.key into ca (see ca_load_files), with a
 * leaf cache of cache_cap entries (0 = CA_CACHE_DEFAULT).
 */
int ca_load(struct ca *ca, const char *dir, size_t cache_cap, struct bb_err *e);

/*
 * Load a CA from its certificate and key files: the certificate must be
 * a CA certificate with a P-256 key, the key a P-256 private key (SEC1 or
 * PKCS#8 PEM) whose public point matches the certificate, and the key
 * file must not be accessible by group or other ("KEY has mode 0644;
 * run chmod 600 KEY"). Then generates the leaf key pair and allocates
 * the cache (cache_cap entries, 0 = CA_CACHE_DEFAULT, at most
 * CA_CACHE_MAX). 0, or -1 with e naming the file; ca is then empty (safe
 * to ca_free).
 */
int ca_load_files(struct ca *ca, const char *cert_path, const char *key_path, size_t cache_cap,
		  struct bb_err *e);

/* Free the cache and wipe the keys. Leaves still referenced are freed by their last ca_leaf_release. Safe on a zeroed ca. */
void ca_free(struct ca *ca);

/*
 * Check a host for a leaf and write its canonical form (lower case, a
 * trailing dot dropped) into out[0..cap) (cap > CA_HOST_MAX is enough).
 * Accepted: an IPv4 dotted quad (four decimal parts 0..255, no leading
 * zeros), or a DNS name of 1..CA_HOST_MAX characters whose labels are
 * 1..63 of [A-Za-z0-9-] (also '_', which real names use), not starting or
 * ending with '-', and a last label that is not all digits (URL parsers
 * would read such a name as an address). Refused: empty, wildcards ('*'),
 * IPv6 and any other byte. *is_ipv4 (if not NULL) says which; ip (if not NULL, 4
 * bytes) gets the address. 0, or -1 with BB_EINVAL saying why.
 */
int ca_host_normalize(const char *host, char *out, size_t cap, int *is_ipv4, unsigned char ip[4],
		      struct bb_err *e);

/*
 * Mint (sign) a leaf certificate for host at time now into out (not
 * cached; ca_leaf_acquire is what the proxy uses). The host is checked
 * and normalised with ca_host_normalize. out->chain is set ([leaf, CA]);
 * out is not in any cache and must not be passed to ca_leaf_release.
 * 0, or -1 with e set (a bad host; the CA expired).
 */
int ca_mint_leaf(struct ca *ca, const char *host, time_t now, struct ca_leaf *out, struct bb_err *e);

/*
 * The leaf for host (matched case-insensitively), minting it on a miss
 * or when the cached one ends within CA_LEAF_RENEW_SECS of now; the least
 * recently used entry is evicted when the cache is full. O(1) apart from
 * the signature. The returned leaf holds a reference: call
 * ca_leaf_release(ca, leaf) when the TLS server no longer needs its chain:
 * when the connection ends, or once the handshake is over if the engine
 * has BR_OPT_NO_RENEGOTIATION set (a renegotiation would send the chain
 * again). Its key is ca->leaf_sk.
 * 0 with *out set, or -1 with e set (bad host, out of memory).
 */
int ca_leaf_acquire(struct ca *ca, const char *host, time_t now, struct ca_leaf **out, struct bb_err *e);

/* Drop a reference taken by ca_leaf_acquire; frees the leaf if the cache no longer holds it. NULL is a no-op. */
void ca_leaf_release(struct ca *ca, struct ca_leaf *leaf);

/* The CA's counters (stats->cached is computed now). */
void ca_get_stats(const struct ca *ca, struct ca_stats *stats);

/*
 * PEM-encode der[0..len) with the given label ("CERTIFICATE") into
 * out[0..cap), lines of 64 characters, ending with a newline, NUL
 * terminated; *outlen (if not NULL) gets the length without the NUL.
 * 0, or -1 with BB_ETOOBIG.
 */
int ca_pem_encode(const char *label, const void *der, size_t len, char *out, size_t cap, size_t *outlen,
		  struct bb_err *e);

/*
 * Read a certificate PEM file (the first CERTIFICATE in it) into
 * der[0..cap), checking it decodes as X.509. For `bb bottle ca show`,
 * which must not need the key. 0 with *len set, or -1 naming path.
 */
int ca_read_cert_file(const char *path, unsigned char *der, size_t cap, size_t *len, struct bb_err *e);

#endif
