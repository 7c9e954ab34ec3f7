/* gitssh.c - libgit2 over SSH: host-key pinning, key credentials, isolated home, ls-remote. */
#include "gitssh.h"

#include <bearssl_hash.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
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

int gitssh_ls_remote(const char *url, const struct gitssh_auth *auth,
		     int (*cb)(const char *refname, const char oid_hex[41], void *arg), void *arg,
		     struct bb_err *e)
{
	struct gitssh_home home = { .active = 0, .saved_home = NULL };
	struct gitssh_session s;
	git_remote_callbacks cbs;
	git_remote *remote = NULL;
	const git_remote_head **heads;
	size_t n, i;
	int rc, ret = -1;

	if (gitssh_url_check(url, e) < 0)
		return -1;
	if (!auth || !auth->host_key || auth->host_key->len == 0)
		return bb_errf(e, BB_EINVAL, "%s: no pinned host key given", url);
	if (check_readable("private key", auth->privkey_path, e) < 0 ||
	    check_readable("public key", auth->pubkey_path, e) < 0)
		return -1;
	gitssh_session_init(&s, auth);
	if (gitssh_callbacks_init(&cbs, &s, e) < 0)
		return -1;
	if (gitssh_home_isolate(&home, e) < 0)
		return -1;

	rc = git_remote_create_anonymous(&remote, NULL, url);
	if (rc < 0) {
		gitssh_git_error(e, rc, NULL, url);
		goto out;
	}
	rc = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cbs, NULL, NULL);
	if (rc < 0) {
		gitssh_git_error(e, rc, &s, url);
		goto out;
	}
	rc = git_remote_ls(&heads, &n, remote);
	if (rc < 0) {
		gitssh_git_error(e, rc, &s, url);
		goto out;
	}
	for (i = 0; i < n; i++) {
		char hex[41];

		git_oid_tostr(hex, sizeof hex, &heads[i]->oid);
		rc = cb(heads[i]->name, hex, arg);
		if (rc != 0) {
			ret = rc;
			goto out;
		}
	}
	ret = 0;
out:
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	gitssh_home_restore(&home);
	return ret;
}
