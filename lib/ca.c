/* ca.c - the TLS-interception certificate authority: CA files, leaf minting (DER written here, signed with BearSSL), the LRU leaf cache. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca.h"
#include "der.h"
#include "fd.h"

/* OIDs, as DER content bytes. */
#define OID_ECDSA_SHA256 "\x2a\x86\x48\xce\x3d\x04\x03\x02"
#define OID_EC_PUBLIC_KEY "\x2a\x86\x48\xce\x3d\x02\x01"
#define OID_P256 "\x2a\x86\x48\xce\x3d\x03\x01\x07"
#define OID_CN "\x55\x04\x03"
#define OID_O "\x55\x04\x0a"
#define OID_SKI "\x55\x1d\x0e"
#define OID_KEY_USAGE "\x55\x1d\x0f"
#define OID_SAN "\x55\x1d\x11"
#define OID_BASIC_CONSTRAINTS "\x55\x1d\x13"
#define OID_AKI "\x55\x1d\x23"
#define OID_EKU "\x55\x1d\x25"
#define OID_SERVER_AUTH "\x2b\x06\x01\x05\x05\x07\x03\x01"
#define OID(s) s, sizeof s - 1

#define CN_MAX 64 /* RFC 5280 ub-common-name: longer hosts get an empty subject and a critical SAN */
#define SERIAL_LEN 16
#define READ_MAX 16384 /* ca.key / ca.crt as read (some slack over what ca_create writes) */

/* --- small helpers --- */

static int seed_rng(br_hmac_drbg_context *rng, struct bb_err *e)
{
	br_prng_seeder seeder = br_prng_seeder_system(NULL);

	br_hmac_drbg_init(rng, &br_sha256_vtable, NULL, 0);
	if (!seeder || !seeder(&rng->vtable))
		return bb_errf(e, BB_ELIB, "no system randomness source for key generation");
	return 0;
}

/* A positive 16-byte serial whose DER INTEGER is exactly 16 bytes: top bit clear, next bit set. */
static void random_serial(br_hmac_drbg_context *rng, unsigned char serial[SERIAL_LEN])
{
	br_hmac_drbg_generate(rng, serial, SERIAL_LEN);
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
}

/* RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
static void key_identifier(const unsigned char *pub, size_t len, unsigned char id[20])
{
	br_sha1_context h;

	br_sha1_init(&h);
	br_sha1_update(&h, pub, len);
	br_sha1_out(&h, id);
}

static void write_algorithm(struct der_w *w)
{
	der_begin(w, DER_SEQUENCE);
	der_oid(w, OID(OID_ECDSA_SHA256));
	der_end(w);
}

static void write_spki(struct der_w *w, const unsigned char *pub, size_t len)
{
	der_begin(w, DER_SEQUENCE);
	der_begin(w, DER_SEQUENCE);
	der_oid(w, OID(OID_EC_PUBLIC_KEY));
	der_oid(w, OID(OID_P256));
	der_end(w);
	der_begin_bits(w);
	der_raw(w, pub, len);
	der_end(w);
	der_end(w);
}

/* One RDN (a SET holding one attribute) with a UTF8String value. */
static void write_rdn(struct der_w *w, const char *oid, size_t oid_len, const char *value, size_t n)
{
	der_begin(w, DER_SET);
	der_begin(w, DER_SEQUENCE);
	der_oid(w, oid, oid_len);
	der_tlv(w, DER_UTF8_STRING, value, n);
	der_end(w);
	der_end(w);
}

/* Extension header: SEQUENCE { OID, [critical TRUE], OCTET STRING { ... } } - caller writes the value and calls ext_end. */
static void ext_begin(struct der_w *w, const char *oid, size_t oid_len, int critical)
{
	der_begin(w, DER_SEQUENCE);
	der_oid(w, oid, oid_len);
	if (critical)
		der_true(w);
	der_begin(w, DER_OCTET_STRING);
}

static void ext_end(struct der_w *w)
{
	der_end(w);
	der_end(w);
}

/*
 * Sign the TBSCertificate at w->buf[tbs_at..w->len) and close the
 * Certificate: algorithm, signature BIT STRING, outer SEQUENCE.
 */
static int sign_and_close(struct der_w *w, size_t tbs_at, const br_ec_private_key *sk, struct bb_err *e)
{
	unsigned char hash[32], sig[80];
	br_sha256_context h;
	size_t sig_len;

	if (w->failed)
		return 0; /* der_finish reports it */
	br_sha256_init(&h);
	br_sha256_update(&h, w->buf + tbs_at, w->len - tbs_at);
	br_sha256_out(&h, hash);
	sig_len = br_ecdsa_sign_asn1_get_default()(br_ec_get_default(), &br_sha256_vtable, hash, sk, sig);
	if (sig_len == 0)
		return bb_errf(e, BB_ELIB, "ECDSA signing failed");
	write_algorithm(w);
	der_begin_bits(w);
	der_raw(w, sig, sig_len);
	der_end(w);
	der_end(w); /* Certificate */
	return 0;
}

/* --- the CA certificate --- */

/* Self-signed CA certificate for pub, signed by sk; DER into out. */
static int write_ca_cert(const char *name, time_t now, br_hmac_drbg_context *rng, const br_ec_private_key *sk,
			 const unsigned char *pub, size_t pub_len, unsigned char *out, size_t cap, size_t *len,
			 struct bb_err *e)
{
	unsigned char serial[SERIAL_LEN], kid[20], name_der[256];
	char cn[CA_NAME_MAX + 32];
	size_t tbs_at, name_len;
	struct der_w w, nw;
	int cn_len;

	cn_len = snprintf(cn, sizeof cn, "bb bottle CA %s", name);
	der_w_init(&nw, name_der, sizeof name_der);
	der_begin(&nw, DER_SEQUENCE);
	write_rdn(&nw, OID(OID_O), "bb", 2);
	write_rdn(&nw, OID(OID_CN), cn, (size_t)cn_len);
	der_end(&nw);
	if (der_finish(&nw, &name_len, e) < 0)
		return -1;
	random_serial(rng, serial);
	key_identifier(pub, pub_len, kid);

	der_w_init(&w, out, cap);
	der_begin(&w, DER_SEQUENCE); /* Certificate */
	tbs_at = w.len;
	der_begin(&w, DER_SEQUENCE); /* TBSCertificate */
	der_begin(&w, DER_CONTEXT_CONS(0));
	der_small_uint(&w, 2); /* v3 */
	der_end(&w);
	der_uint(&w, serial, sizeof serial);
	write_algorithm(&w);
	der_raw(&w, name_der, name_len); /* issuer */
	der_begin(&w, DER_SEQUENCE);
	der_time(&w, now - CA_BACKDATE_SECS);
	der_time(&w, now + (time_t)CA_VALID_YEARS * 365 * 86400 + (time_t)(CA_VALID_YEARS / 4) * 86400);
	der_end(&w);
	der_raw(&w, name_der, name_len); /* subject */
	write_spki(&w, pub, pub_len);
	der_begin(&w, DER_CONTEXT_CONS(3));
	der_begin(&w, DER_SEQUENCE);
	ext_begin(&w, OID(OID_BASIC_CONSTRAINTS), 1);
	der_begin(&w, DER_SEQUENCE);
	der_true(&w);
	der_small_uint(&w, 0); /* pathLenConstraint 0: leaves only */
	der_end(&w);
	ext_end(&w);
	ext_begin(&w, OID(OID_KEY_USAGE), 1);
	der_tlv(&w, DER_BIT_STRING, "\x01\x06", 2); /* keyCertSign (5), cRLSign (6); 1 unused bit */
	ext_end(&w);
	ext_begin(&w, OID(OID_SKI), 0);
	der_tlv(&w, DER_OCTET_STRING, kid, sizeof kid);
	ext_end(&w);
	der_end(&w);
	der_end(&w);
	der_end(&w); /* TBSCertificate */
	/* Only the outer der_end (after hashing) moves the TBS, so its bytes start at tbs_at until then. */
	if (sign_and_close(&w, tbs_at, sk, e) < 0)
		return -1;
	return der_finish(&w, len, e);
}

/* --- files --- */

/* Read a whole regular file (not a symlink) of at most cap bytes; *mode gets its permission bits. */
static int read_small_file(const char *path, char *out, size_t cap, size_t *len, mode_t *mode, struct bb_err *e)
{
	struct stat st;
	ssize_t r;
	size_t n = 0;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return bb_errf(e, BB_EINVAL, "%s is a symbolic link; refusing to follow it", path);
		return bb_errno(e, errno, "cannot open %s", path);
	}
	if (fstat(fd, &st) < 0) {
		bb_errno(e, errno, "cannot stat %s", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return bb_errf(e, BB_EINVAL, "%s is not a regular file", path);
	}
	if (mode)
		*mode = st.st_mode & 07777;
	for (;;) {
		if (n == cap) {
			close(fd);
			return bb_errf(e, BB_ETOOBIG, "%s is larger than %zu bytes", path, cap);
		}
		r = read(fd, out + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			bb_errno(e, errno, "cannot read %s", path);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return 0;
}

struct pem_sink {
	unsigned char *buf;
	size_t cap, len;
	int overflow;
};

static void pem_sink_append(void *ctx, const void *p, size_t n)
{
	struct pem_sink *s = ctx;

	if (n > s->cap - s->len) {
		s->overflow = 1;
		return;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

/*
 * The first PEM object in text whose label is one of labels (NULL
 * terminated), decoded into der[0..cap). *label_out gets which.
 */
static int pem_first(const char *text, size_t n, const char *const *labels, unsigned char *der, size_t cap,
		     size_t *len, int *label_out, const char *path, struct bb_err *e)
{
	br_pem_decoder_context pc;
	struct pem_sink s = { der, cap, 0, 0 };
	const char *p = text;
	int want = -1, i;

	br_pem_decoder_init(&pc);
	while (n > 0) {
		size_t k = br_pem_decoder_push(&pc, p, n);

		p += k;
		n -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			want = -1;
			for (i = 0; labels[i]; i++)
				if (!strcmp(br_pem_decoder_name(&pc), labels[i]))
					want = i;
			s.len = 0;
			s.overflow = 0;
			br_pem_decoder_setdest(&pc, want >= 0 ? pem_sink_append : NULL, want >= 0 ? &s : NULL);
			break;
		case BR_PEM_END_OBJ:
			if (want >= 0) {
				if (s.overflow)
					return bb_errf(e, BB_ETOOBIG, "%s: PEM object larger than %zu bytes", path, cap);
				*len = s.len;
				*label_out = want;
				return 0;
			}
			break;
		case BR_PEM_ERROR:
			return bb_errf(e, BB_EINVAL, "%s: malformed PEM", path);
		default:
			break;
		}
	}
	return bb_errf(e, BB_EINVAL, "%s: no %s PEM block found", path, labels[0]);
}

/* Write data to a new temporary file in dir with the given mode; its name goes into tmp. */
static int write_temp(const char *dir, const char *base, const void *data, size_t n, mode_t mode, char *tmp,
		      size_t tmpcap, struct bb_err *e)
{
	int fd, k;

	k = snprintf(tmp, tmpcap, "%s/.%s.tmp.%ld", dir, base, (long)getpid());
	if (k < 0 || (size_t)k >= tmpcap)
		return bb_errf(e, BB_ETOOBIG, "path too long: %s/%s", dir, base);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 && errno == EEXIST) {
		/* A stale temporary of a crashed run with our pid: ours to remove. */
		unlink(tmp);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	}
	if (fd < 0)
		return bb_errno(e, errno, "cannot create %s", tmp);
	/* The umask must not widen or narrow what we asked for. */
	if (fchmod(fd, mode) < 0 || fd_write_all(fd, data, n) < 0 || fsync(fd) < 0) {
		bb_errno(e, errno, "cannot write %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0) {
		bb_errno(e, errno, "cannot write %s", tmp);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Move tmp to path; without replace, fail (EEXIST) rather than overwrite what appeared since the check. */
static int place_file(const char *tmp, const char *path, int replace, struct bb_err *e)
{
	if (replace) {
		if (rename(tmp, path) < 0)
			return bb_errno(e, errno, "cannot rename %s to %s", tmp, path);
		return 0;
	}
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			return bb_errf(e, EEXIST, "%s exists; refusing to overwrite it", path);
		return bb_errno(e, errno, "cannot create %s", path);
	}
	unlink(tmp);
	return 0;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int join(char *out, size_t cap, const char *dir, const char *base, struct bb_err *e)
{
	int k = snprintf(out, cap, "%s/%s", dir, base);

	if (k < 0 || (size_t)k >= cap)
		return bb_errf(e, BB_ETOOBIG, "path too long: %s/%s", dir, base);
	return 0;
}

int ca_default_dir(char *out, size_t cap, struct bb_err *e)
{
	const char *home = getenv("BB_HOME");
	int k;

	if (!home || !*home)
		home = getenv("HOME");
	if (!home || !*home)
		return bb_errf(e, BB_EINVAL, "neither BB_HOME nor HOME is set: cannot find the CA directory");
	k = snprintf(out, cap, "%s/.bb/ca", home);
	if (k < 0 || (size_t)k >= cap)
		return bb_errf(e, BB_ETOOBIG, "CA directory path too long: %s/.bb/ca", home);
	return 0;
}

static int check_ca_name(const char *name, struct bb_err *e)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0 || n > CA_NAME_MAX)
		return bb_errf(e, BB_EINVAL, "CA name must be 1 to %d characters", CA_NAME_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e)
			return bb_errf(e, BB_EINVAL, "CA name must be printable ASCII");
	return 0;
}

int ca_create(const char *dir, const char *name, time_t now, int force, struct bb_err *e)
{
	unsigned char x[BR_EC_KBUF_PRIV_MAX_SIZE], pub[BR_EC_KBUF_PUB_MAX_SIZE];
	unsigned char cert_der[CA_CERT_DER_MAX], key_der[256];
	char key_pem[CA_PEM_MAX], cert_pem[CA_PEM_MAX];
	char key_path[PATH_MAX], cert_path[PATH_MAX], key_tmp[PATH_MAX], cert_tmp[PATH_MAX];
	size_t cert_len, key_len, key_pem_len, cert_pem_len;
	br_hmac_drbg_context rng;
	br_ec_private_key sk;
	br_ec_public_key pk;
	struct stat st;
	int rc = -1;

	if (check_ca_name(name, e) < 0)
		return -1;
	if (join(key_path, sizeof key_path, dir, CA_KEY_FILE, e) < 0 ||
	    join(cert_path, sizeof cert_path, dir, CA_CERT_FILE, e) < 0)
		return -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return bb_errno(e, errno, "cannot create directory %s", dir);
	if (stat(dir, &st) < 0)
		return bb_errno(e, errno, "cannot stat %s", dir);
	if (!S_ISDIR(st.st_mode))
		return bb_errf(e, BB_EINVAL, "%s is not a directory", dir);
	if (!force) {
		if (lstat(key_path, &st) == 0)
			return bb_errf(e, EEXIST, "%s exists; refusing to overwrite it", key_path);
		if (lstat(cert_path, &st) == 0)
			return bb_errf(e, EEXIST, "%s exists; refusing to overwrite it", cert_path);
	}

	if (seed_rng(&rng, e) < 0)
		return -1;
	if (!br_ec_keygen(&rng.vtable, br_ec_get_default(), &sk, x, BR_EC_secp256r1) ||
	    !br_ec_compute_pub(br_ec_get_default(), &pk, pub, &sk)) {
		bb_errf(e, BB_ELIB, "P-256 key generation failed");
		goto out;
	}
	if (write_ca_cert(name, now, &rng, &sk, pk.q, pk.qlen, cert_der, sizeof cert_der, &cert_len, e) < 0) {
		bb_err_wrap(e, "%s", cert_path);
		goto out;
	}
	key_len = br_encode_ec_raw_der(NULL, &sk, &pk);
	if (key_len == 0 || key_len > sizeof key_der || br_encode_ec_raw_der(key_der, &sk, &pk) != key_len) {
		bb_errf(e, BB_ELIB, "%s: cannot encode the key", key_path);
		goto out;
	}
	if (ca_pem_encode("EC PRIVATE KEY", key_der, key_len, key_pem, sizeof key_pem, &key_pem_len, e) < 0 ||
	    ca_pem_encode("CERTIFICATE", cert_der, cert_len, cert_pem, sizeof cert_pem, &cert_pem_len, e) < 0)
		goto out;
	if (write_temp(dir, CA_KEY_FILE, key_pem, key_pem_len, 0600, key_tmp, sizeof key_tmp, e) < 0)
		goto out;
	if (write_temp(dir, CA_CERT_FILE, cert_pem, cert_pem_len, 0644, cert_tmp, sizeof cert_tmp, e) < 0) {
		unlink(key_tmp);
		goto out;
	}
	if (place_file(key_tmp, key_path, force, e) < 0) {
		unlink(key_tmp);
		unlink(cert_tmp);
		goto out;
	}
	if (place_file(cert_tmp, cert_path, force, e) < 0) {
		unlink(cert_tmp);
		if (!force)
			unlink(key_path); /* ours: created by the link above */
		goto out;
	}
	sync_dir(dir);
	rc = 0;
out:
	explicit_bzero(x, sizeof x);
	explicit_bzero(key_der, sizeof key_der);
	explicit_bzero(key_pem, sizeof key_pem);
	explicit_bzero(&rng, sizeof rng);
	return rc;
}

int ca_ensure(const char *dir, const char *name, time_t now, struct bb_err *e)
{
	char key_path[PATH_MAX], cert_path[PATH_MAX];
	struct stat st;
	int fd, rc, have_key, have_cert;

	if (join(key_path, sizeof key_path, dir, CA_KEY_FILE, e) < 0 ||
	    join(cert_path, sizeof cert_path, dir, CA_CERT_FILE, e) < 0)
		return -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return bb_errno(e, errno, "cannot create directory %s", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bb_errno(e, errno, "cannot open %s", dir);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			bb_errno(e, errno, "cannot lock %s", dir);
			close(fd);
			return -1;
		}
	have_key = lstat(key_path, &st) == 0;
	have_cert = lstat(cert_path, &st) == 0;
	if (have_key && have_cert)
		rc = 0;
	else if (have_key || have_cert)
		rc = bb_errf(e, BB_EINVAL, "%s holds %s without %s: remove it, or make a new CA (bb bottle ca init --force)", dir,
			     have_key ? CA_KEY_FILE : CA_CERT_FILE, have_key ? CA_CERT_FILE : CA_KEY_FILE);
	else
		rc = ca_create(dir, name, now, 0, e);
	close(fd); /* and the lock with it */
	return rc;
}

/* --- loading --- */

/* What the CA needs from its own certificate: the subject Name (raw DER) and the end of validity. */
static int parse_ca_cert(struct ca *ca, const char *path, struct bb_err *e)
{
	const unsigned char *p = ca->cert_der;
	size_t n = ca->cert_der_len;
	struct der_tlv cert, tbs, t, nb, na;

	if (der_expect(&p, &n, DER_SEQUENCE, &cert) < 0 || n != 0)
		return bb_errf(e, BB_EINVAL, "%s: not a DER certificate", path);
	p = cert.p;
	n = cert.len;
	if (der_expect(&p, &n, DER_SEQUENCE, &tbs) < 0)
		return bb_errf(e, BB_EINVAL, "%s: no TBSCertificate", path);
	p = tbs.p;
	n = tbs.len;
	if (der_read(&p, &n, &t) < 0)
		goto bad;
	if (t.tag == DER_CONTEXT_CONS(0) && der_expect(&p, &n, DER_INTEGER, &t) < 0) /* version, then serial */
		goto bad;
	if (der_expect(&p, &n, DER_SEQUENCE, &t) < 0 || /* signature algorithm */
	    der_expect(&p, &n, DER_SEQUENCE, &t) < 0 || /* issuer */
	    der_expect(&p, &n, DER_SEQUENCE, &t) < 0)   /* validity */
		goto bad;
	{
		const unsigned char *vp = t.p;
		size_t vn = t.len;

		if (der_read(&vp, &vn, &nb) < 0 || der_read(&vp, &vn, &na) < 0 || der_time_parse(&na, &ca->not_after) < 0)
			return bb_errf(e, BB_EINVAL, "%s: unreadable validity dates", path);
	}
	if (der_expect(&p, &n, DER_SEQUENCE, &t) < 0) /* subject */
		goto bad;
	if (t.raw_len > sizeof ca->subject_der)
		return bb_errf(e, BB_ETOOBIG, "%s: subject name longer than %zu bytes", path, sizeof ca->subject_der);
	memcpy(ca->subject_der, t.raw, t.raw_len);
	ca->subject_der_len = t.raw_len;
	return 0;
bad:
	return bb_errf(e, BB_EINVAL, "%s: malformed TBSCertificate", path);
}

static const char *const cert_labels[] = { "CERTIFICATE", "X509 CERTIFICATE", NULL };
static const char *const key_labels[] = { "EC PRIVATE KEY", "PRIVATE KEY", NULL };

int ca_read_cert_file(const char *path, unsigned char *der, size_t cap, size_t *len, struct bb_err *e)
{
	char text[READ_MAX];
	br_x509_decoder_context dc;
	size_t n;
	int label;

	if (read_small_file(path, text, sizeof text, &n, NULL, e) < 0)
		return -1;
	if (pem_first(text, n, cert_labels, der, cap, len, &label, path, e) < 0)
		return -1;
	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, der, *len);
	if (br_x509_decoder_last_error(&dc) != 0 || !br_x509_decoder_get_pkey(&dc))
		return bb_errf(e, BB_EINVAL, "%s: not a valid X.509 certificate (BearSSL error %d)", path,
			       br_x509_decoder_last_error(&dc));
	return 0;
}

static int cache_init(struct ca *ca, size_t cap, struct bb_err *e)
{
	size_t nb = 16;

	if (cap == 0)
		cap = CA_CACHE_DEFAULT;
	if (cap > CA_CACHE_MAX)
		return bb_errf(e, BB_EINVAL, "leaf cache capacity %zu is over the maximum %d", cap, CA_CACHE_MAX);
	while (nb < cap * 2)
		nb <<= 1;
	ca->buckets = calloc(nb, sizeof *ca->buckets);
	if (!ca->buckets)
		return bb_errno(e, ENOMEM, "leaf cache");
	ca->nbuckets = nb;
	ca->capacity = cap;
	return 0;
}

int ca_load_files(struct ca *ca, const char *cert_path, const char *key_path, size_t cache_cap, struct bb_err *e)
{
	char text[READ_MAX];
	unsigned char key_der[512], pub[BR_EC_KBUF_PUB_MAX_SIZE];
	br_x509_decoder_context dc;
	br_skey_decoder_context kc;
	const br_x509_pkey *cpk;
	const br_ec_private_key *dsk;
	br_ec_public_key pk;
	size_t n, key_len;
	mode_t mode;
	int label;

	memset(ca, 0, sizeof *ca);
	if (ca_read_cert_file(cert_path, ca->cert_der, sizeof ca->cert_der, &ca->cert_der_len, e) < 0)
		goto fail;
	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, ca->cert_der, ca->cert_der_len);
	cpk = br_x509_decoder_get_pkey(&dc);
	if (!cpk || cpk->key_type != BR_KEYTYPE_EC || cpk->key.ec.curve != BR_EC_secp256r1 ||
	    cpk->key.ec.qlen != sizeof ca->ca_pub) {
		bb_errf(e, BB_EINVAL, "%s: the certificate's key is not an ECDSA P-256 key", cert_path);
		goto fail;
	}
	if (!br_x509_decoder_isCA(&dc)) {
		bb_errf(e, BB_EINVAL, "%s: not a CA certificate (basicConstraints CA:TRUE missing)", cert_path);
		goto fail;
	}
	memcpy(ca->ca_pub, cpk->key.ec.q, sizeof ca->ca_pub);
	if (parse_ca_cert(ca, cert_path, e) < 0)
		goto fail;

	if (read_small_file(key_path, text, sizeof text, &n, &mode, e) < 0)
		goto fail;
	if (mode & 077) {
		explicit_bzero(text, n);
		bb_errf(e, EACCES, "%s has mode %04o: a CA key must not be accessible by group or other; run: chmod 600 %s",
			key_path, (unsigned)mode, key_path);
		goto fail;
	}
	if (pem_first(text, n, key_labels, key_der, sizeof key_der, &key_len, &label, key_path, e) < 0) {
		explicit_bzero(text, sizeof text);
		goto fail;
	}
	explicit_bzero(text, sizeof text);
	br_skey_decoder_init(&kc);
	br_skey_decoder_push(&kc, key_der, key_len);
	explicit_bzero(key_der, sizeof key_der);
	if (br_skey_decoder_last_error(&kc) != 0 || br_skey_decoder_key_type(&kc) != BR_KEYTYPE_EC) {
		explicit_bzero(&kc, sizeof kc);
		bb_errf(e, BB_EINVAL, "%s: not an EC private key", key_path);
		goto fail;
	}
	dsk = br_skey_decoder_get_ec(&kc);
	if (dsk->curve != BR_EC_secp256r1 || dsk->xlen == 0 || dsk->xlen > sizeof ca->ca_x) {
		explicit_bzero(&kc, sizeof kc);
		bb_errf(e, BB_EINVAL, "%s: not a P-256 key", key_path);
		goto fail;
	}
	memcpy(ca->ca_x, dsk->x, dsk->xlen);
	ca->ca_sk.curve = BR_EC_secp256r1;
	ca->ca_sk.x = ca->ca_x;
	ca->ca_sk.xlen = dsk->xlen;
	explicit_bzero(&kc, sizeof kc);
	if (br_ec_compute_pub(br_ec_get_default(), &pk, pub, &ca->ca_sk) != sizeof ca->ca_pub ||
	    memcmp(pub, ca->ca_pub, sizeof ca->ca_pub) != 0) {
		bb_errf(e, BB_EINVAL, "%s does not match the certificate %s (different key pair)", key_path, cert_path);
		goto fail;
	}
	ca->ca_pk.curve = BR_EC_secp256r1;
	ca->ca_pk.q = ca->ca_pub;
	ca->ca_pk.qlen = sizeof ca->ca_pub;
	key_identifier(ca->ca_pub, sizeof ca->ca_pub, ca->key_id);

	/* The one key pair every leaf of this CA carries. */
	if (seed_rng(&ca->rng, e) < 0)
		goto fail;
	if (br_ec_keygen(&ca->rng.vtable, br_ec_get_default(), &ca->leaf_sk, ca->leaf_x, BR_EC_secp256r1) !=
		    sizeof ca->leaf_x ||
	    br_ec_compute_pub(br_ec_get_default(), &ca->leaf_pk, ca->leaf_pub, &ca->leaf_sk) != sizeof ca->leaf_pub) {
		bb_errf(e, BB_ELIB, "leaf key generation failed");
		goto fail;
	}
	if (cache_init(ca, cache_cap, e) < 0)
		goto fail;
	return 0;
fail:
	ca_free(ca);
	return -1;
}

int ca_load(struct ca *ca, const char *dir, size_t cache_cap, struct bb_err *e)
{
	char key_path[PATH_MAX], cert_path[PATH_MAX];

	memset(ca, 0, sizeof *ca);
	if (join(key_path, sizeof key_path, dir, CA_KEY_FILE, e) < 0 ||
	    join(cert_path, sizeof cert_path, dir, CA_CERT_FILE, e) < 0)
		return -1;
	return ca_load_files(ca, cert_path, key_path, cache_cap, e);
}

/* --- host names --- */

static int parse_ipv4(const char *s, size_t n, unsigned char ip[4])
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (digits == 1 && v == 0)
				return -1; /* leading zero: some resolvers read it as octal */
			v = v * 10 + (unsigned)(s[i] - '0');
			if (v > 255)
				return -1;
			digits++;
			i++;
		}
		if (digits == 0)
			return -1;
		ip[part] = (unsigned char)v;
	}
	return i == n ? 0 : -1;
}

int ca_host_normalize(const char *host, char *out, size_t cap, int *is_ipv4, unsigned char ip[4], struct bb_err *e)
{
	unsigned char addr[4];
	size_t n, i, label_start = 0;
	int digits_only = 1, tld_numeric = 1;

	n = host ? strlen(host) : 0;
	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n == 0)
		return bb_errf(e, BB_EINVAL, "empty host name");
	if (n > CA_HOST_MAX)
		return bb_errf(e, BB_EINVAL, "host name longer than %d characters", CA_HOST_MAX);
	if (cap <= n)
		return bb_errf(e, BB_ETOOBIG, "host name buffer too small");
	for (i = 0; i < n; i++)
		if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.'))
			digits_only = 0;
	if (digits_only) {
		if (parse_ipv4(host, n, addr) < 0)
			return bb_errf(e, BB_EINVAL, "'%.*s' is not a valid IPv4 address", (int)n, host);
		memcpy(out, host, n);
		out[n] = 0;
		if (is_ipv4)
			*is_ipv4 = 1;
		if (ip)
			memcpy(ip, addr, 4);
		return 0;
	}
	for (i = 0; i <= n; i++) {
		char c = i < n ? host[i] : '.';

		if (c == '.') {
			size_t len = i - label_start;

			if (len == 0)
				return bb_errf(e, BB_EINVAL, "host name '%.*s' has an empty label", (int)n, host);
			if (len > 63)
				return bb_errf(e, BB_EINVAL, "host name '%.*s' has a label longer than 63 characters",
					       (int)n, host);
			if (host[label_start] == '-' || host[i - 1] == '-')
				return bb_errf(e, BB_EINVAL, "host name '%.*s' has a label starting or ending with '-'",
					       (int)n, host);
			if (i < n) {
				out[i] = '.';
				tld_numeric = 1;
			}
			label_start = i + 1;
			continue;
		}
		if (c == '*')
			return bb_errf(e, BB_EINVAL, "wildcard host names are not minted: '%.*s'", (int)n, host);
		if (c == ':')
			return bb_errf(e, BB_EINVAL, "IPv6 literals are not supported: '%.*s'", (int)n, host);
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return bb_errf(e, BB_EINVAL, "host name has a byte not allowed in a DNS name (0x%02x)",
				       (unsigned char)host[i]);
		if (!(c >= '0' && c <= '9'))
			tld_numeric = 0;
		out[i] = c;
	}
	/* A numeric last label makes the name look like an address to URL parsers: refuse the ambiguity. */
	if (tld_numeric)
		return bb_errf(e, BB_EINVAL, "host name '%.*s' ends in an all-numeric label", (int)n, host);
	out[n] = 0;
	if (is_ipv4)
		*is_ipv4 = 0;
	return 0;
}

/* --- leaves --- */

int ca_mint_leaf(struct ca *ca, const char *host, time_t now, struct ca_leaf *out, struct bb_err *e)
{
	unsigned char serial[SERIAL_LEN], ip[4];
	time_t not_before, not_after;
	size_t tbs_at, hlen;
	struct der_w w;
	int is_ip;

	if (ca_host_normalize(host, out->host, sizeof out->host, &is_ip, ip, e) < 0)
		return -1;
	if (now >= ca->not_after)
		return bb_errf(e, BB_EINVAL, "the CA certificate has expired; create a new one (bb bottle ca init --force)");
	hlen = strlen(out->host);
	not_before = now - CA_BACKDATE_SECS;
	not_after = now + (time_t)CA_LEAF_DAYS * 86400;
	if (not_after > ca->not_after)
		not_after = ca->not_after;
	random_serial(&ca->rng, serial);

	der_w_init(&w, out->der_, sizeof out->der_);
	der_begin(&w, DER_SEQUENCE); /* Certificate */
	tbs_at = w.len;
	der_begin(&w, DER_SEQUENCE); /* TBSCertificate */
	der_begin(&w, DER_CONTEXT_CONS(0));
	der_small_uint(&w, 2);
	der_end(&w);
	der_uint(&w, serial, sizeof serial);
	write_algorithm(&w);
	der_raw(&w, ca->subject_der, ca->subject_der_len); /* issuer */
	der_begin(&w, DER_SEQUENCE);
	der_time(&w, not_before);
	der_time(&w, not_after);
	der_end(&w);
	der_begin(&w, DER_SEQUENCE); /* subject */
	if (hlen <= CN_MAX)
		write_rdn(&w, OID(OID_CN), out->host, hlen);
	der_end(&w);
	write_spki(&w, ca->leaf_pub, sizeof ca->leaf_pub);
	der_begin(&w, DER_CONTEXT_CONS(3));
	der_begin(&w, DER_SEQUENCE);
	ext_begin(&w, OID(OID_BASIC_CONSTRAINTS), 1);
	der_begin(&w, DER_SEQUENCE); /* cA FALSE is the default, so empty */
	der_end(&w);
	ext_end(&w);
	ext_begin(&w, OID(OID_KEY_USAGE), 1);
	der_tlv(&w, DER_BIT_STRING, "\x07\x80", 2); /* digitalSignature (0); 7 unused bits */
	ext_end(&w);
	ext_begin(&w, OID(OID_EKU), 0);
	der_begin(&w, DER_SEQUENCE);
	der_oid(&w, OID(OID_SERVER_AUTH));
	der_end(&w);
	ext_end(&w);
	ext_begin(&w, OID(OID_AKI), 0);
	der_begin(&w, DER_SEQUENCE);
	der_tlv(&w, DER_CONTEXT(0), ca->key_id, sizeof ca->key_id);
	der_end(&w);
	ext_end(&w);
	/* RFC 5280 4.2.1.6: with an empty subject the SAN is critical. */
	ext_begin(&w, OID(OID_SAN), hlen > CN_MAX);
	der_begin(&w, DER_SEQUENCE);
	if (is_ip)
		der_tlv(&w, DER_CONTEXT(7), ip, 4);
	else
		der_tlv(&w, DER_CONTEXT(2), out->host, hlen);
	der_end(&w);
	ext_end(&w);
	der_end(&w);
	der_end(&w);
	der_end(&w); /* TBSCertificate */
	if (sign_and_close(&w, tbs_at, &ca->ca_sk, e) < 0 || der_finish(&w, &out->der_len_, e) < 0)
		return bb_err_wrap(e, "leaf for %s", out->host);

	out->chain[0].data = out->der_;
	out->chain[0].data_len = out->der_len_;
	out->chain[1].data = ca->cert_der;
	out->chain[1].data_len = ca->cert_der_len;
	out->chain_len = 2;
	out->not_before = not_before;
	out->not_after = not_after;
	out->lru_prev_ = out->lru_next_ = out->hash_next_ = NULL;
	out->refs_ = 0;
	out->cached_ = 0;
	ca->stats.mints++;
	return 0;
}

/* --- the cache --- */

static size_t host_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ull;
	}
	return (size_t)(h ^ (h >> 32));
}

static void lru_unlink(struct ca *ca, struct ca_leaf *l)
{
	if (l->lru_prev_)
		l->lru_prev_->lru_next_ = l->lru_next_;
	else
		ca->lru_head = l->lru_next_;
	if (l->lru_next_)
		l->lru_next_->lru_prev_ = l->lru_prev_;
	else
		ca->lru_tail = l->lru_prev_;
	l->lru_prev_ = l->lru_next_ = NULL;
}

static void lru_push_front(struct ca *ca, struct ca_leaf *l)
{
	l->lru_prev_ = NULL;
	l->lru_next_ = ca->lru_head;
	if (ca->lru_head)
		ca->lru_head->lru_prev_ = l;
	ca->lru_head = l;
	if (!ca->lru_tail)
		ca->lru_tail = l;
}

/* Take l out of the cache; free it unless a caller still holds it. */
static void cache_drop(struct ca *ca, struct ca_leaf *l)
{
	struct ca_leaf **pp = &ca->buckets[host_hash(l->host) & (ca->nbuckets - 1)];

	while (*pp && *pp != l)
		pp = &(*pp)->hash_next_;
	if (*pp)
		*pp = l->hash_next_;
	l->hash_next_ = NULL;
	lru_unlink(ca, l);
	l->cached_ = 0;
	ca->stats.cached--;
	if (l->refs_ == 0) {
		explicit_bzero(l, sizeof *l);
		free(l);
	}
}

int ca_leaf_acquire(struct ca *ca, const char *host, time_t now, struct ca_leaf **out, struct bb_err *e)
{
	char norm[CA_HOST_MAX + 1];
	struct ca_leaf *l, *fresh;
	size_t slot;

	if (!ca->buckets)
		return bb_errf(e, BB_EINVAL, "CA not loaded");
	if (ca_host_normalize(host, norm, sizeof norm, NULL, NULL, e) < 0)
		return -1;
	slot = host_hash(norm) & (ca->nbuckets - 1);
	for (l = ca->buckets[slot]; l; l = l->hash_next_)
		if (!strcmp(l->host, norm))
			break;
	if (l) {
		/* Fresh enough, and not from a clock that has since gone backwards past its start. */
		if (now + CA_LEAF_RENEW_SECS < l->not_after && now >= l->not_before) {
			ca->stats.hits++;
			lru_unlink(ca, l);
			lru_push_front(ca, l);
			l->refs_++;
			*out = l;
			return 0;
		}
		ca->stats.renewals++;
		cache_drop(ca, l);
	}
	fresh = malloc(sizeof *fresh);
	if (!fresh)
		return bb_errno(e, ENOMEM, "leaf for %s", norm);
	if (ca_mint_leaf(ca, norm, now, fresh, e) < 0) {
		free(fresh);
		return -1;
	}
	if (ca->stats.cached >= ca->capacity) {
		ca->stats.evictions++;
		cache_drop(ca, ca->lru_tail);
	}
	slot = host_hash(fresh->host) & (ca->nbuckets - 1); /* the same name; hashed as cache_drop will */
	fresh->hash_next_ = ca->buckets[slot];
	ca->buckets[slot] = fresh;
	lru_push_front(ca, fresh);
	fresh->cached_ = 1;
	fresh->refs_ = 1;
	ca->stats.cached++;
	*out = fresh;
	return 0;
}

void ca_leaf_release(struct ca *ca, struct ca_leaf *leaf)
{
	(void)ca;
	if (!leaf || leaf->refs_ == 0)
		return;
	if (--leaf->refs_ == 0 && !leaf->cached_) {
		explicit_bzero(leaf, sizeof *leaf);
		free(leaf);
	}
}

void ca_get_stats(const struct ca *ca, struct ca_stats *stats)
{
	*stats = ca->stats;
}

void ca_free(struct ca *ca)
{
	while (ca->lru_head)
		cache_drop(ca, ca->lru_head);
	free(ca->buckets);
	explicit_bzero(ca, sizeof *ca);
}

int ca_pem_encode(const char *label, const void *der, size_t len, char *out, size_t cap, size_t *outlen,
		  struct bb_err *e)
{
	size_t need = br_pem_encode(NULL, der, len, label, BR_PEM_LINE64);

	if (need + 1 > cap)
		return bb_errf(e, BB_ETOOBIG, "PEM %s needs %zu bytes, buffer holds %zu", label, need + 1, cap);
	br_pem_encode(out, der, len, label, BR_PEM_LINE64);
	if (outlen)
		*outlen = need;
	return 0;
}
