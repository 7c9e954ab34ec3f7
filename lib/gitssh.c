/* gitssh.c - libgit2 over SSH: host-key pinning, key credentials, isolated home, ls-remote, mirror fetch and push. */
#include "gitssh.h"

#include <bearssl_hash.h>
#include <errno.h>
#include <git2/sys/stream.h>
#if defined(__has_include)
#if __has_include(<git2/sys/errors.h>)
#include <git2/sys/errors.h> /* git_error_set_str moved here in libgit2 1.8 */
#endif
#endif
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "dial.h"
#include "fd.h"

#define GITSSH_KEYFILE_MAX (64 * 1024)

/* Plain public-key types a server can present as its host key. */
static const char *const plain_key_types[] = {
	"ssh-ed25519",	       "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521", "ssh-rsa",	      "ssh-dss",
};

static int is_plain_key_type(struct sv t)
{
	size_t i;

	for (i = 0; i < sizeof plain_key_types / sizeof plain_key_types[0]; i++)
		if (sv_eq_str(t, plain_key_types[i]))
			return 1;
	return 0;
}

/* Take the next field separated by spaces or tabs off *rest; 0 when none is left. */
static int next_field(struct sv *rest, struct sv *field)
{
	size_t i = 0, start;

	while (i < rest->len && (rest->p[i] == ' ' || rest->p[i] == '\t'))
		i++;
	if (i == rest->len)
		return 0;
	start = i;
	while (i < rest->len && rest->p[i] != ' ' && rest->p[i] != '\t')
		i++;
	*field = sv_of(rest->p + start, i - start);
	*rest = sv_of(rest->p + i, rest->len - i);
	return 1;
}

/* The type string an SSH key blob starts with (uint32 length, then the name); 0 or -1. */
static int blob_type(const unsigned char *blob, size_t len, struct sv *type)
{
	uint32_t n;

	if (len < 4)
		return -1;
	n = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
	if (n == 0 || n > len - 4)
		return -1;
	*type = sv_of((const char *)blob + 4, n);
	return 0;
}

/* Split a key blob into its SSH strings (RFC 4251 "string": uint32 length + bytes); -1 unless they cover it exactly. */
static int blob_strings(const unsigned char *blob, size_t len, struct sv *out, size_t max, size_t *n)
{
	size_t off = 0;

	*n = 0;
	while (off < len) {
		uint32_t l;

		if (len - off < 4 || *n == max)
			return -1;
		l = (uint32_t)blob[off] << 24 | (uint32_t)blob[off + 1] << 16 | (uint32_t)blob[off + 2] << 8 |
		    blob[off + 3];
		off += 4;
		if (l > len - off)
			return -1;
		out[(*n)++] = sv_of((const char *)blob + off, l);
		off += l;
	}
	return 0;
}

/*
 * The blob must have the shape its type requires (RFC 4253 6.6, RFC 5656
 * 3.1, RFC 8709 4): a truncated or padded key would never match the
 * server's and would only fail later with a less helpful message.
 */
static int blob_shape_ok(struct sv type, const unsigned char *blob, size_t len)
{
	struct sv f[5];
	size_t n;

	if (blob_strings(blob, len, f, 5, &n) < 0)
		return 0;
	if (sv_eq_str(type, "ssh-ed25519"))
		return n == 2 && f[1].len == 32;
	if (sv_eq_str(type, "ssh-rsa"))
		return n == 3 && f[1].len > 0 && f[2].len >= 128;
	if (sv_eq_str(type, "ssh-dss"))
		return n == 5;
	if (sv_starts_with(type, SV_LIT("ecdsa-sha2-"))) {
		struct sv curve = sv_of(type.p + 11, type.len - 11);
		size_t qlen = sv_eq_str(curve, "nistp256") ? 65 : sv_eq_str(curve, "nistp384") ? 97 : 133;

		return n == 3 && sv_eq(f[1], curve) && f[2].len == qlen && f[2].p[0] == 4;
	}
	return 0;
}

int gitssh_hostkey_parse(struct sv line, struct gitssh_hostkey *k, struct bb_err *e)
{
	struct sv rest, f1, f2, type, data, embedded;
	size_t i;

	while (line.len && (line.p[line.len - 1] == '\n' || line.p[line.len - 1] == '\r'))
		line.len--;
	for (i = 0; i < line.len; i++)
		if ((unsigned char)line.p[i] < 0x20 && line.p[i] != '\t')
			return bb_errf(e, BB_EINVAL, "control character in key line at offset %zu", i);
	rest = line;
	if (!next_field(&rest, &f1))
		return bb_errf(e, BB_EINVAL, "empty key line");
	if (f1.p[0] == '@')
		return bb_errf(e, BB_EINVAL, "'%.*s' lines are not plain host keys", (int)(f1.len > 40 ? 40 : f1.len),
			       f1.p);
	if (is_plain_key_type(f1)) {
		type = f1;
	} else if (next_field(&rest, &f2) && is_plain_key_type(f2)) {
		type = f2; /* known_hosts style: f1 was the host field */
	} else {
		return bb_errf(e, BB_EINVAL,
			       "no supported key type in line starting '%.*s' (expected ssh-ed25519, "
			       "ecdsa-sha2-nistp256/384/521, ssh-rsa or ssh-dss)",
			       (int)(f1.len > 40 ? 40 : f1.len), f1.p);
	}
	if (!next_field(&rest, &data))
		return bb_errf(e, BB_EINVAL, "no base64 key after '%.*s'", (int)type.len, type.p);
	if (b64_decode(data.p, data.len, k->blob, sizeof k->blob, &k->len, NULL, e) < 0)
		return bb_err_wrap(e, "%.*s key", (int)type.len, type.p);
	if (blob_type(k->blob, k->len, &embedded) < 0)
		return bb_errf(e, BB_EINVAL, "%.*s key: the blob has no valid type string", (int)type.len, type.p);
	if (!sv_eq(embedded, type))
		return bb_errf(e, BB_EINVAL, "key declared as %.*s but its blob says %.*s", (int)type.len, type.p,
			       (int)(embedded.len > 40 ? 40 : embedded.len), embedded.p);
	if (!blob_shape_ok(type, k->blob, k->len))
		return bb_errf(e, BB_EINVAL, "%.*s key: the blob is truncated or malformed (%zu bytes)", (int)type.len,
			       type.p, k->len);
	if (sv_copy(type, k->type, sizeof k->type) < 0)
		return bb_errf(e, BB_ETOOBIG, "key type too long"); /* cannot happen: type is from the list */
	return 0;
}

int gitssh_hostkey_load(const char *path, struct gitssh_hostkey *k, struct bb_err *e)
{
	struct buf b = BUF_INIT(GITSSH_KEYFILE_MAX);
	struct sv rest, line, t;
	int rc = -1, more;

	if (fd_read_file(path, GITSSH_KEYFILE_MAX, &b, e) < 0)
		return -1;
	rest = sv_of(b.p ? b.p : "", b.len);
	do {
		more = sv_split(rest, '\n', &line, &rest);
		t = sv_trim(line);
		if (t.len && t.p[t.len - 1] == '\r')
			t = sv_trim(sv_of(t.p, t.len - 1));
		if (t.len == 0 || t.p[0] == '#')
			continue;
		rc = gitssh_hostkey_parse(t, k, e);
		if (rc < 0)
			bb_err_wrap(e, "%s", path);
		goto out;
	} while (more);
	bb_errf(e, BB_EINVAL, "%s: no key in the file", path);
out:
	buf_free(&b);
	return rc;
}

int gitssh_fingerprint(const void *blob, size_t len, char *out, size_t outcap, struct bb_err *e)
{
	static const char prefix[] = "SHA256:";
	unsigned char hash[32];
	br_sha256_context c;

	if (outcap < sizeof prefix)
		return bb_errf(e, BB_ETOOBIG, "no room for a fingerprint");
	br_sha256_init(&c);
	br_sha256_update(&c, blob, len);
	br_sha256_out(&c, hash);
	memcpy(out, prefix, sizeof prefix - 1);
	return b64_encode(hash, sizeof hash, B64_NOPAD, out + sizeof prefix - 1, outcap - (sizeof prefix - 1),
			  NULL, e);
}

void gitssh_session_init(struct gitssh_session *s, const struct gitssh_auth *auth)
{
	s->auth = auth;
	s->cred_calls = 0;
	s->refused = 0;
	bb_err_clear(&s->err);
}

/* Record why a callback said no; returns what libgit2 should get back. */
static int refuse(struct gitssh_session *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse(struct gitssh_session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err.msg, sizeof s->err.msg, fmt, ap);
	va_end(ap);
	s->err.code = code;
	s->refused = 1;
	return GIT_EUSER;
}

/* "TYPE SHA256:..." for a message; falls back to "unknown-type" for a blob without a type. */
static void describe_key(const unsigned char *blob, size_t len, char *out, size_t outcap)
{
	char fp[GITSSH_FINGERPRINT_MAX];
	struct sv t;

	if (gitssh_fingerprint(blob, len, fp, sizeof fp, NULL) < 0)
		fp[0] = 0;
	if (blob_type(blob, len, &t) < 0 || t.len > 40)
		t = SV_LIT("unknown-type");
	snprintf(out, outcap, "%.*s %s", (int)t.len, t.p, fp);
}

int gitssh_certificate_check(git_cert *cert, int valid, const char *host, void *payload)
{
	struct gitssh_session *s = payload;
	const struct gitssh_hostkey *pin = s->auth ? s->auth->host_key : NULL;
	const git_cert_hostkey *hk;
	char got[128], want[128];

	/* valid is libgit2's known_hosts verdict: deliberately not consulted. */
	if (!host)
		host = "the server";
	if (!cert || cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return refuse(s, BB_ETLS, "%s presented no SSH host key", host);
	hk = (const git_cert_hostkey *)cert;
	if (!(hk->type & GIT_CERT_SSH_RAW) || !hk->hostkey || hk->hostkey_len == 0)
		return refuse(s, BB_ETLS, "libgit2 did not pass the raw host key of %s; cannot compare it with the pin",
			      host);
	if (!pin || pin->len == 0)
		return refuse(s, BB_ETLS, "no pinned host key for %s", host);
	if (hk->hostkey_len == pin->len && memcmp(hk->hostkey, pin->blob, pin->len) == 0)
		return 0;
	describe_key((const unsigned char *)hk->hostkey, hk->hostkey_len, got, sizeof got);
	describe_key(pin->blob, pin->len, want, sizeof want);
	return refuse(s, BB_ETLS, "host key of %s does not match the pinned key (got %s; pinned %s)", host, got,
		      want);
}

int gitssh_credentials(git_credential **out, const char *url, const char *username_from_url,
		       unsigned int allowed_types, void *payload)
{
	struct gitssh_session *s = payload;
	const struct gitssh_auth *a = s->auth;

	*out = NULL;
	if (!a || !a->privkey_path || !a->pubkey_path)
		return refuse(s, BB_EINVAL, "no SSH key pair configured");
	/* libgit2 asks again whenever the server refuses a key; one try is all we have. */
	if (s->cred_calls++ > 0)
		return refuse(s, BB_ELIB, "SSH authentication as %s with key %s failed: the server refused it",
			      username_from_url ? username_from_url : "(no user)", a->pubkey_path);
	if (!username_from_url || !*username_from_url)
		return refuse(s, BB_EINVAL, "%s names no user (ssh://USER@HOST/PATH)", url ? url : "the URL");
	if (!(allowed_types & GIT_CREDENTIAL_SSH_KEY))
		return refuse(s, BB_ELIB, "the server does not offer public-key authentication for %s",
			      username_from_url);
	if (git_credential_ssh_key_new(out, username_from_url, a->pubkey_path, a->privkey_path, NULL) < 0) {
		const git_error *ge = git_error_last();

		return refuse(s, BB_ELIB, "SSH key credential: %s",
			      ge && ge->message ? ge->message : "git_credential_ssh_key_new failed");
	}
	return 0;
}

int gitssh_callbacks_init(git_remote_callbacks *cbs, struct gitssh_session *s, struct bb_err *e)
{
	int rc = git_remote_init_callbacks(cbs, GIT_REMOTE_CALLBACKS_VERSION);

	if (rc < 0)
		return gitssh_git_error(e, rc, NULL, "git_remote_init_callbacks");
	cbs->certificate_check = gitssh_certificate_check;
	cbs->credentials = gitssh_credentials;
	cbs->payload = s;
	return 0;
}

int gitssh_git_error(struct bb_err *e, int rc, const struct gitssh_session *s, const char *what)
{
	const git_error *ge;

	if (s && s->refused)
		return bb_errf(e, s->err.code ? s->err.code : BB_ELIB, "%s: %s", what, s->err.msg);
	ge = git_error_last();
	if (ge && ge->klass != GIT_ERROR_NONE && ge->message && *ge->message)
		return bb_errf(e, BB_ELIB, "%s: %s", what, ge->message);
	return bb_errf(e, BB_ELIB, "%s: libgit2 error %d", what, rc);
}

static int has_bad_url_char(struct sv s)
{
	size_t i;

	for (i = 0; i < s.len; i++)
		if ((unsigned char)s.p[i] <= 0x20 || (unsigned char)s.p[i] == 0x7f)
			return 1;
	return 0;
}

int gitssh_url_check(const char *url, struct bb_err *e)
{
	struct sv u, rest, authority, path, user, hostport, host, port;
	uint64_t portnum;
	long slash;

	if (!url)
		return bb_errf(e, BB_EINVAL, "no URL");
	u = sv_from(url);
	if (!sv_starts_with(u, SV_LIT("ssh://")))
		return bb_errf(e, BB_EINVAL, "'%s' is not an ssh:// URL (expected ssh://USER@HOST[:PORT]/PATH)", url);
	if (has_bad_url_char(u))
		return bb_errf(e, BB_EINVAL, "'%s': spaces or control characters in the URL", url);
	rest = sv_of(u.p + 6, u.len - 6);
	slash = sv_index(rest, '/');
	if (slash < 0)
		return bb_errf(e, BB_EINVAL, "'%s' has no repository path", url);
	authority = sv_of(rest.p, (size_t)slash);
	path = sv_of(rest.p + slash, rest.len - (size_t)slash);
	if (path.len < 2)
		return bb_errf(e, BB_EINVAL, "'%s' has no repository path", url);
	if (!sv_split(authority, '@', &user, &hostport) || user.len == 0)
		return bb_errf(e, BB_EINVAL, "'%s' names no user (expected ssh://USER@HOST[:PORT]/PATH)", url);
	if (sv_index(user, ':') >= 0)
		return bb_errf(e, BB_EINVAL, "'%s': passwords in URLs are not supported, use a key", url);
	if (sv_index(hostport, '@') >= 0)
		return bb_errf(e, BB_EINVAL, "'%s': more than one '@' before the path", url);
	host = hostport;
	port = sv_of("", 0);
	if (hostport.len && hostport.p[0] == '[') {
		long close = sv_index(hostport, ']');

		if (close < 0)
			return bb_errf(e, BB_EINVAL, "'%s': unterminated '[' in the host", url);
		host = sv_of(hostport.p + 1, (size_t)close - 1);
		rest = sv_of(hostport.p + close + 1, hostport.len - (size_t)close - 1);
		if (rest.len && (rest.p[0] != ':' || rest.len < 2))
			return bb_errf(e, BB_EINVAL, "'%s': junk after ']' in the host", url);
		if (rest.len)
			port = sv_of(rest.p + 1, rest.len - 1);
	} else {
		sv_split(hostport, ':', &host, &port);
		if (sv_index(hostport, ':') >= 0 && port.len == 0)
			return bb_errf(e, BB_EINVAL, "'%s': empty port", url);
	}
	if (host.len == 0)
		return bb_errf(e, BB_EINVAL, "'%s' names no host", url);
	if (port.len && (sv_to_u64(port, 65535, &portnum, NULL) < 0 || portnum == 0))
		return bb_errf(e, BB_EINVAL, "'%s': bad port '%.*s'", url, (int)port.len, port.p);
	return 0;
}

#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 7)
#define GITSSH_HAVE_HOMEDIR_OPT 1
#else
#define GITSSH_HAVE_HOMEDIR_OPT 0
#endif

/*
 * libgit2 picks the host-key algorithms it asks for from known_hosts: a
 * server with several host keys (GitHub: Ed25519, ECDSA and RSA) would
 * otherwise show libssh2's first choice, ECDSA, and never match an Ed25519
 * pin. One line naming the pinned key for this host and port steers it to
 * the pinned type; the pin itself is still checked byte for byte by
 * gitssh_certificate_check.
 */
static int home_pin_hostkey(const struct gitssh_home *h, const char *url, const struct gitssh_hostkey *pin,
			    struct bb_err *e)
{
	struct gitssh_url u;
	char dir[300], line[GITSSH_KEYBLOB_MAX * 2 + 600], b64[GITSSH_KEYBLOB_MAX * 2];
	size_t blen = 0;
	int n;

	if (!url || !pin || pin->len == 0)
		return 0;
	if (gitssh_url_parse(url, &u, e) < 0)
		return -1;
	if (b64_encode(pin->blob, pin->len, 0, b64, sizeof b64, &blen, e) < 0)
		return -1;
	n = snprintf(dir, sizeof dir, "%s/.ssh", h->dir);
	if (n < 0 || (size_t)n >= sizeof dir)
		return bb_errf(e, BB_ETOOBIG, "private home path too long");
	if (mkdir(dir, 0700) < 0)
		return bb_errno(e, errno, "mkdir %s", dir);
	if (u.port == 22)
		n = snprintf(line, sizeof line, "%s %s %.*s\n", u.host, pin->type, (int)blen, b64);
	else
		n = snprintf(line, sizeof line, "[%s]:%u %s %.*s\n", u.host, u.port, pin->type, (int)blen, b64);
	if (n < 0 || (size_t)n >= sizeof line)
		return bb_errf(e, BB_ETOOBIG, "known_hosts line too long");
	n = snprintf(dir, sizeof dir, "%s/.ssh/known_hosts", h->dir);
	if (n < 0 || (size_t)n >= sizeof dir)
		return bb_errf(e, BB_ETOOBIG, "private home path too long");
	return fd_write_file_atomic(dir, line, strlen(line), 0600, e);
}

/* Remove what home_pin_hostkey left, so the directory can go. */
static void home_unpin_hostkey(const struct gitssh_home *h)
{
	char p[300];

	if (snprintf(p, sizeof p, "%s/.ssh/known_hosts", h->dir) < (int)sizeof p)
		unlink(p);
	if (snprintf(p, sizeof p, "%s/.ssh", h->dir) < (int)sizeof p)
		rmdir(p);
}

int gitssh_home_isolate_pinned(struct gitssh_home *h, const char *url, const struct gitssh_hostkey *pin,
			       struct bb_err *e)
{
	if (gitssh_home_isolate(h, e) < 0)
		return -1;
	if (home_pin_hostkey(h, url, pin, e) < 0) {
		gitssh_home_restore(h);
		return -1;
	}
	return 0;
}

int gitssh_home_isolate(struct gitssh_home *h, struct bb_err *e)
{
	const char *tmp = getenv("TMPDIR");
	int n, rc = 0;

	h->active = 0;
	h->saved_home = NULL;
	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	n = snprintf(h->dir, sizeof h->dir, "%s/bb-gitssh.XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof h->dir)
		return bb_errf(e, BB_ETOOBIG, "TMPDIR is too long for a private home directory");
	if (!mkdtemp(h->dir))
		return bb_errno(e, errno, "mkdtemp %s", h->dir);
	h->active = 1;
#if GITSSH_HAVE_HOMEDIR_OPT
	rc = git_libgit2_opts(GIT_OPT_SET_HOMEDIR, h->dir);
#else
	{
		const char *home = getenv("HOME");

		if (home && !(h->saved_home = strdup(home))) {
			gitssh_home_restore(h);
			return bb_errno(e, ENOMEM, "saving HOME");
		}
		if (setenv("HOME", h->dir, 1) < 0) {
			int err = errno;

			gitssh_home_restore(h);
			return bb_errno(e, err, "setting HOME");
		}
	}
#endif
	if (rc >= 0)
		rc = git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, h->dir);
	if (rc >= 0)
		rc = git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, h->dir);
	if (rc < 0) {
		gitssh_git_error(e, rc, NULL, "pointing libgit2 at a private home directory");
		gitssh_home_restore(h);
		return -1;
	}
	return 0;
}

void gitssh_home_restore(struct gitssh_home *h)
{
	if (!h->active)
		return;
	/* NULL puts each path back to libgit2's default, worked out from the environment. */
#if GITSSH_HAVE_HOMEDIR_OPT
	git_libgit2_opts(GIT_OPT_SET_HOMEDIR, (const char *)NULL);
#else
	if (h->saved_home)
		setenv("HOME", h->saved_home, 1);
	else
		unsetenv("HOME");
	free(h->saved_home);
	h->saved_home = NULL;
#endif
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, (const char *)NULL);
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, (const char *)NULL);
	home_unpin_hostkey(h);
	rmdir(h->dir);
	h->active = 0;
}

static int check_readable(const char *what, const char *path, struct bb_err *e)
{
	if (!path || !*path)
		return bb_errf(e, BB_EINVAL, "no %s given", what);
	if (access(path, R_OK) < 0)
		return bb_errno(e, errno, "%s %s", what, path);
	return 0;
}

/* Checks every upstream call makes before touching the network. */
static int upstream_preflight(const char *url, const struct gitssh_auth *auth, struct bb_err *e)
{
	if (gitssh_url_check(url, e) < 0)
		return -1;
	if (!auth || !auth->host_key || auth->host_key->len == 0)
		return bb_errf(e, BB_EINVAL, "%s: no pinned host key given", url);
	if (check_readable("private key", auth->privkey_path, e) < 0 ||
	    check_readable("public key", auth->pubkey_path, e) < 0)
		return -1;
	return 0;
}

static void apply_timeouts(const struct gitssh_timeouts *to);

/* An upstream connected for fetching, its refs as listed, and what it took to get there. */
struct upstream {
	struct gitssh_home home;
	struct gitssh_session s; /* the callbacks' payload: the struct must not move while open */
	git_remote_callbacks cbs;
	git_remote *remote;
	const git_remote_head **heads;
	size_t n;
};

/*
 * Connect to url for fetching, with the pinned host key in a private home,
 * and list its refs into u->heads and u->n. set_timeouts: apply to (which
 * may be NULL) first. On failure e is set; upstream_close undoes either way.
 */
static int upstream_list(struct upstream *u, git_repository *repo, const char *url, const struct gitssh_auth *auth,
			 int set_timeouts, const struct gitssh_timeouts *to, struct bb_err *e)
{
	int rc;

	memset(u, 0, sizeof *u);
	if (upstream_preflight(url, auth, e) < 0)
		return -1;
	gitssh_session_init(&u->s, auth);
	if (gitssh_callbacks_init(&u->cbs, &u->s, e) < 0)
		return -1;
	if (gitssh_home_isolate_pinned(&u->home, url, auth->host_key, e) < 0)
		return -1;
	if (set_timeouts)
		apply_timeouts(to);
	rc = git_remote_create_anonymous(&u->remote, repo, url);
	if (rc < 0)
		return gitssh_git_error(e, rc, NULL, url);
	rc = git_remote_connect(u->remote, GIT_DIRECTION_FETCH, &u->cbs, NULL, NULL);
	if (rc >= 0)
		rc = git_remote_ls(&u->heads, &u->n, u->remote);
	if (rc < 0)
		return gitssh_git_error(e, rc, &u->s, url);
	return 0;
}

static void upstream_close(struct upstream *u)
{
	if (u->remote) {
		git_remote_disconnect(u->remote);
		git_remote_free(u->remote);
		u->remote = NULL;
	}
	gitssh_home_restore(&u->home);
}

int gitssh_ls_remote(const char *url, const struct gitssh_auth *auth,
		     int (*cb)(const char *refname, const char oid_hex[41], void *arg), void *arg,
		     struct bb_err *e)
{
	struct upstream u;
	size_t i;
	int rc, ret = -1;

	if (upstream_list(&u, NULL, url, auth, 0, NULL, e) < 0)
		goto out;
	for (i = 0; i < u.n; i++) {
		char hex[41];

		git_oid_tostr(hex, sizeof hex, &u.heads[i]->oid);
		rc = cb(u.heads[i]->name, hex, arg);
		if (rc != 0) {
			ret = rc;
			goto out;
		}
	}
	ret = 0;
out:
	upstream_close(&u);
	return ret;
}

#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 7)
#define GITSSH_HAVE_TIMEOUT_OPTS 1
#else
#define GITSSH_HAVE_TIMEOUT_OPTS 0
#endif

static int dialer_connect_ms; /* the last connect timeout asked for, for the dialer's wait */

/* Process-wide in libgit2: set before each connection (bb's daemons serve one connection per process). */
static void apply_timeouts(const struct gitssh_timeouts *to)
{
	dialer_connect_ms = to && to->connect_ms > 0 ? to->connect_ms : 0;
#if GITSSH_HAVE_TIMEOUT_OPTS
	if (to && to->connect_ms > 0)
		git_libgit2_opts(GIT_OPT_SET_SERVER_CONNECT_TIMEOUT, to->connect_ms);
	if (to && to->io_ms > 0)
		git_libgit2_opts(GIT_OPT_SET_SERVER_TIMEOUT, to->io_ms);
#else
	(void)to;
#endif
}

/* An upstream ref as listed: name and id, sorted by name for lookups. */
struct listed_ref {
	char *name;
	git_oid oid;
};

static int listed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct listed_ref *)a)->name, ((const struct listed_ref *)b)->name);
}

static int listed_has(const struct listed_ref *v, size_t n, const char *name)
{
	struct listed_ref key = { (char *)name, { { 0 } } };

	return bsearch(&key, v, n, sizeof *v, listed_cmp) != NULL;
}

static int mirrored_name(const char *name)
{
	size_t n = strlen(name);

	if (n >= 3 && strcmp(name + n - 3, "^{}") == 0)
		return 0;
	return strncmp(name, "refs/heads/", 11) == 0 || strncmp(name, "refs/tags/", 10) == 0;
}

/* Delete the local refs matching glob that upstream does not list. */
static int prune_glob(git_repository *repo, const char *glob, const struct listed_ref *v, size_t n, size_t *pruned,
		      struct bb_err *e)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	int rc;

	rc = git_reference_iterator_glob_new(&it, repo, glob);
	if (rc < 0)
		return gitssh_git_error(e, rc, NULL, "listing mirror refs");
	while ((rc = git_reference_next(&ref, it)) == 0) {
		if (!listed_has(v, n, git_reference_name(ref))) {
			rc = git_reference_delete(ref);
			if (rc < 0) {
				gitssh_git_error(e, rc, NULL, git_reference_name(ref));
				git_reference_free(ref);
				git_reference_iterator_free(it);
				return -1;
			}
			(*pruned)++;
		}
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	if (rc != GIT_ITEROVER)
		return gitssh_git_error(e, rc, NULL, "listing mirror refs");
	return 0;
}

int gitssh_mirror_fetch(git_repository *repo, const char *url, const struct gitssh_auth *auth,
			const struct gitssh_timeouts *to, struct gitssh_fetch_stats *st, struct bb_err *e)
{
	static char *specs[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
	git_strarray refspecs = { specs, 2 };
	struct upstream u;
	git_fetch_options fo;
	const git_indexer_progress *prog;
	struct listed_ref *v = NULL;
	git_buf head = { 0 };
	size_t i, nv = 0;
	int rc, ret = -1;

	memset(st, 0, sizeof *st);
	if (upstream_list(&u, repo, url, auth, 1, to, e) < 0)
		goto out;
	v = calloc(u.n ? u.n : 1, sizeof *v);
	if (!v) {
		bb_errno(e, ENOMEM, "%s: listing %zu refs", url, u.n);
		goto out;
	}
	for (i = 0; i < u.n; i++) {
		if (!mirrored_name(u.heads[i]->name))
			continue;
		v[nv].name = strdup(u.heads[i]->name);
		if (!v[nv].name) {
			bb_errno(e, ENOMEM, "%s: listing refs", url);
			goto out;
		}
		git_oid_cpy(&v[nv].oid, &u.heads[i]->oid);
		nv++;
	}
	qsort(v, nv, sizeof *v, listed_cmp);
	if (git_remote_default_branch(&head, u.remote) == 0 && head.ptr)
		snprintf(st->head, sizeof st->head, "%s", head.ptr);
	rc = git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	if (rc < 0) {
		gitssh_git_error(e, rc, NULL, "git_fetch_options_init");
		goto out;
	}
	fo.callbacks = u.cbs;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.update_fetchhead = 0;
	if (nv) {
		rc = git_remote_download(u.remote, &refspecs, &fo);
		if (rc < 0) {
			gitssh_git_error(e, rc, &u.s, url);
			goto out;
		}
	}
	prog = git_remote_stats(u.remote);
	if (prog) {
		st->objects = prog->received_objects;
		st->bytes = prog->received_bytes;
	}
	git_remote_disconnect(u.remote);
	/* The refs, as upstream lists them; then what upstream no longer has goes. */
	for (i = 0; i < nv; i++) {
		git_reference *ref = NULL;
		git_oid cur;

		if (git_reference_name_to_id(&cur, repo, v[i].name) == 0 && git_oid_equal(&cur, &v[i].oid))
			continue;
		rc = git_reference_create(&ref, repo, v[i].name, &v[i].oid, 1, "bb git-gate: mirror from upstream");
		if (rc < 0) {
			gitssh_git_error(e, rc, NULL, v[i].name);
			bb_err_wrap(e, "%s: mirroring", url);
			goto out;
		}
		git_reference_free(ref);
		st->updated++;
	}
	st->refs = nv;
	if (prune_glob(repo, "refs/heads/*", v, nv, &st->pruned, e) < 0 ||
	    prune_glob(repo, "refs/tags/*", v, nv, &st->pruned, e) < 0)
		goto out;
	if (st->head[0] && listed_has(v, nv, st->head)) {
		git_reference *ref = NULL;

		rc = git_reference_symbolic_create(&ref, repo, "HEAD", st->head, 1, "bb git-gate: upstream HEAD");
		if (rc < 0) {
			gitssh_git_error(e, rc, NULL, "setting the mirror's HEAD");
			goto out;
		}
		git_reference_free(ref);
	}
	ret = 0;
out:
	for (i = 0; i < nv; i++)
		free(v[i].name);
	free(v);
	git_buf_dispose(&head);
	upstream_close(&u);
	return ret;
}

#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 8)
#define GITSSH_HAVE_PUSH_OPTIONS 1
#else
#define GITSSH_HAVE_PUSH_OPTIONS 0
#endif

int gitssh_push_options_supported(void)
{
	return GITSSH_HAVE_PUSH_OPTIONS;
}

/* The callbacks' payload for a push: the session first, so the SSH callbacks can take it as theirs. */
struct push_ctx {
	struct gitssh_session s;
	struct gitssh_push_ref *refs;
	size_t n;
	int lease_broken;
	char lease_msg[256];
};

static struct gitssh_push_ref *push_ref_by_name(struct push_ctx *c, const char *name)
{
	size_t i;

	for (i = 0; name && i < c->n; i++)
		if (strcmp(c->refs[i].dst, name) == 0)
			return &c->refs[i];
	return NULL;
}

/* Before any pack is sent: upstream's current value must be what the caller expected. */
static int push_negotiation(const git_push_update **updates, size_t len, void *payload)
{
	struct push_ctx *c = payload;
	size_t i;

	for (i = 0; i < len; i++) {
		struct gitssh_push_ref *r = push_ref_by_name(c, updates[i]->dst_refname);
		char have[GIT_OID_HEXSZ + 1];

		if (!r || !r->expect_old)
			continue;
		git_oid_tostr(have, sizeof have, &updates[i]->src);
		if (strcmp(have, r->expect_old) != 0) {
			snprintf(c->lease_msg, sizeof c->lease_msg,
				 "upstream %s is at %.12s, not %.12s as the gate last saw it: fetch and push again", r->dst,
				 have, r->expect_old);
			c->lease_broken = 1;
			return GIT_EUSER;
		}
	}
	return 0;
}

static int push_update_reference(const char *refname, const char *status, void *payload)
{
	struct push_ctx *c = payload;
	struct gitssh_push_ref *r = push_ref_by_name(c, refname);

	if (!r)
		return 0;
	r->ok = status == NULL;
	snprintf(r->status, sizeof r->status, "%s", status ? status : "");
	return 0;
}

void gitssh_push_fail_all(struct gitssh_push_ref *refs, size_t n, const char *why)
{
	size_t i;

	for (i = 0; i < n; i++) {
		refs[i].ok = 0;
		snprintf(refs[i].status, sizeof refs[i].status, "%s", why);
	}
}

int gitssh_push(git_repository *repo, const char *url, const struct gitssh_auth *auth, const struct gitssh_timeouts *to,
		struct gitssh_push_ref *refs, size_t n, const char *const *push_options, size_t nopts, struct bb_err *e)
{
	struct gitssh_home home = { .active = 0, .saved_home = NULL };
	struct push_ctx c;
	git_push_options po;
	git_remote *remote = NULL;
	git_strarray specs = { NULL, 0 };
	size_t i;
	int rc, ret = -1;

	gitssh_push_fail_all(refs, n, "upstream did not report this ref");
	if (nopts && !GITSSH_HAVE_PUSH_OPTIONS) {
		bb_errf(e, BB_ENOTIMPL, "push options cannot be forwarded: this build's libgit2 (%d.%d) has no support for them",
			LIBGIT2_VER_MAJOR, LIBGIT2_VER_MINOR);
		gitssh_push_fail_all(refs, n, e ? e->msg : "push options are not supported");
		return -1;
	}
	if (upstream_preflight(url, auth, e) < 0) {
		gitssh_push_fail_all(refs, n, e ? e->msg : "bad upstream configuration");
		return -1;
	}
	memset(&c, 0, sizeof c);
	gitssh_session_init(&c.s, auth);
	c.refs = refs;
	c.n = n;
	specs.strings = calloc(n ? n : 1, sizeof *specs.strings);
	if (!specs.strings) {
		bb_errno(e, ENOMEM, "push");
		gitssh_push_fail_all(refs, n, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		int del = !refs[i].src;
		size_t len = strlen(refs[i].dst) + (del ? 0 : strlen(refs[i].src)) + 3;

		specs.strings[i] = malloc(len);
		if (!specs.strings[i]) {
			bb_errno(e, ENOMEM, "push");
			goto out;
		}
		specs.count++;
		if (del)
			snprintf(specs.strings[i], len, ":%s", refs[i].dst);
		else
			snprintf(specs.strings[i], len, "%s%s:%s", refs[i].force ? "+" : "", refs[i].src, refs[i].dst);
	}
	rc = git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	if (rc < 0) {
		gitssh_git_error(e, rc, NULL, "git_push_options_init");
		goto out;
	}
	if (gitssh_callbacks_init(&po.callbacks, &c.s, e) < 0)
		goto out;
	po.pb_parallelism = 0; /* the pack for upstream: delta search on every core */
	po.callbacks.push_negotiation = push_negotiation;
	po.callbacks.push_update_reference = push_update_reference;
	po.callbacks.payload = &c;
#if GITSSH_HAVE_PUSH_OPTIONS
	po.remote_push_options.strings = (char **)push_options;
	po.remote_push_options.count = nopts;
#else
	(void)push_options;
#endif
	if (gitssh_home_isolate_pinned(&home, url, auth->host_key, e) < 0)
		goto out;
	apply_timeouts(to);
	rc = git_remote_create_anonymous(&remote, repo, url);
	if (rc < 0) {
		gitssh_git_error(e, rc, NULL, url);
		goto out;
	}
	rc = git_remote_push(remote, &specs, &po);
	if (rc < 0) {
		if (c.lease_broken)
			bb_errf(e, BB_EINVAL, "%s", c.lease_msg);
		else
			gitssh_git_error(e, rc, &c.s, url);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		gitssh_push_fail_all(refs, n, e ? e->msg : "push failed");
	for (i = 0; i < specs.count; i++)
		free(specs.strings[i]);
	free(specs.strings);
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	gitssh_home_restore(&home);
	return ret;
}

/*
 * The dialer stream. libgit2's libssh2 transport does not talk through the
 * stream's read/write: it takes the socket out of it, assuming libgit2's own
 * git_socket_stream layout { git_stream parent; char *host; char *port;
 * int s; } (src/libgit2/streams/socket.h, the same in 1.5 and 1.9). So this
 * struct keeps that layout exactly; read/write are there for any other user.
 */
struct dialer_stream {
	git_stream parent;
	char *host;
	char *port;
	int s;
};

static char dialer_path[108]; /* sizeof sun_path; "" when connecting directly */

int gitssh_dialer_connect(const char *url, const char *host, unsigned port, int connect_ms, struct bb_err *e)
{
	/* The dialer tries each address for up to 10 s itself: give it that and a little more. */
	int fd = dial_connect(dialer_path, host, (uint16_t)port, (connect_ms > 0 ? connect_ms : 10000) + 2000, e);
	if (fd < 0)
		return bb_err_wrap(e, "%s", url);
	return fd;
}

static int dialer_stream_connect(git_stream *gs)
{
	struct dialer_stream *st = (struct dialer_stream *)gs;
	struct bb_err e = { 0 };
	unsigned long port = 0;
	const char *p;

	for (p = st->port; p && *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (!p || *p || !port || port > 65535) {
		git_error_set_str(GIT_ERROR_NET, "bb dialer: the upstream port is not a number");
		return -1;
	}
	st->s = dial_connect(dialer_path, st->host, (uint16_t)port, (dialer_connect_ms > 0 ? dialer_connect_ms : 10000) + 2000,
			     &e);
	if (st->s < 0) {
		git_error_set_str(GIT_ERROR_NET, e.msg);
		return -1;
	}
	return 0;
}

static ssize_t dialer_stream_read(git_stream *gs, void *buf, size_t n)
{
	struct dialer_stream *st = (struct dialer_stream *)gs;
	ssize_t r;
	do
		r = recv(st->s, buf, n, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		git_error_set_str(GIT_ERROR_NET, "bb dialer stream: read failed");
	return r;
}

static ssize_t dialer_stream_write(git_stream *gs, const char *buf, size_t n, int flags)
{
	struct dialer_stream *st = (struct dialer_stream *)gs;
	ssize_t r;
	(void)flags;
	do
		r = send(st->s, buf, n, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		git_error_set_str(GIT_ERROR_NET, "bb dialer stream: write failed");
	return r;
}

static int dialer_stream_close(git_stream *gs)
{
	struct dialer_stream *st = (struct dialer_stream *)gs;
	if (st->s >= 0)
		close(st->s);
	st->s = -1;
	return 0;
}

static void dialer_stream_free(git_stream *gs)
{
	struct dialer_stream *st = (struct dialer_stream *)gs;
	if (st->s >= 0)
		close(st->s);
	free(st->host);
	free(st->port);
	free(st);
}

static int dialer_stream_new(git_stream **out, const char *host, const char *port)
{
	struct dialer_stream *st = calloc(1, sizeof *st);

	if (st) {
		st->host = strdup(host);
		st->port = strdup(port ? port : "22");
	}
	if (!st || !st->host || !st->port) {
		if (st) {
			free(st->host);
			free(st->port);
		}
		free(st);
		git_error_set_str(GIT_ERROR_NOMEMORY, "out of memory");
		return -1;
	}
	st->s = -1;
	st->parent.version = GIT_STREAM_VERSION;
	st->parent.connect = dialer_stream_connect;
	st->parent.read = dialer_stream_read;
	st->parent.write = dialer_stream_write;
	st->parent.close = dialer_stream_close;
	st->parent.free = dialer_stream_free;
	*out = &st->parent;
	return 0;
}

int gitssh_dialer_set(const char *sock_path, struct bb_err *e)
{
	static git_stream_registration reg = { GIT_STREAM_VERSION, dialer_stream_new, NULL };

	if (!sock_path) {
		dialer_path[0] = 0;
		if (git_stream_register(GIT_STREAM_STANDARD, NULL) < 0)
			return gitssh_git_error(e, -1, NULL, "unregistering the dialer stream");
		return 0;
	}
	if (!*sock_path || strlen(sock_path) >= sizeof dialer_path)
		return bb_errf(e, BB_EINVAL, "dialer socket path empty or too long: %s", sock_path);
	memcpy(dialer_path, sock_path, strlen(sock_path) + 1);
	if (git_stream_register(GIT_STREAM_STANDARD, &reg) < 0) {
		dialer_path[0] = 0;
		return gitssh_git_error(e, -1, NULL, "registering the dialer stream");
	}
	return 0;
}

const char *gitssh_dialer(void)
{
	return dialer_path[0] ? dialer_path : NULL;
}
