/* gitssh.h - reaching a git upstream over SSH with libgit2: pinned host key (no TOFU), key auth, ls-remote. */
#ifndef BB_GITSSH_H
#define BB_GITSSH_H

#include <git2.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * Everything here expects git_libgit2_init() to have been called. The
 * home-directory isolation changes libgit2's process-wide options, so
 * drive one connection at a time (bb's daemons have one thread).
 */

#define GITSSH_KEYTYPE_MAX 64   /* "ecdsa-sha2-nistp256" and the like, with the NUL */
#define GITSSH_KEYBLOB_MAX 4096 /* an RSA-16384 public key blob is about 2.1 KB */
/* "SHA256:" + 43 unpadded base64 characters + NUL. */
#define GITSSH_FINGERPRINT_MAX 51

/*
 * A pinned SSH public key: its declared type and the raw key blob (the
 * bytes the server sends in the handshake; the base64 field of a .pub
 * file). The blob's own embedded type string equals type.
 */
struct gitssh_hostkey {
	char type[GITSSH_KEYTYPE_MAX];
	unsigned char blob[GITSSH_KEYBLOB_MAX];
	size_t len;
};

/*
 * Parse one OpenSSH public-key line: "TYPE BASE64 [COMMENT]" as in a .pub
 * file, or a known_hosts line "HOSTS TYPE BASE64 [COMMENT]" (the host field
 * is ignored: the pin belongs to whichever upstream it is configured for;
 * "@cert-authority"/"@revoked" lines are refused). TYPE must be a plain key
 * type (ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa, ssh-dss), the
 * base64 strict (lib/b64.h), and the blob's embedded type must equal TYPE.
 * Returns 0, or -1 with BB_EINVAL (or BB_ETOOBIG for an oversized key).
 */
int gitssh_hostkey_parse(struct sv line, struct gitssh_hostkey *k, struct bb_err *e);

/*
 * Read a key file (at most 64 KiB) and parse its first line that is not
 * empty and not a '#' comment; further lines are ignored. The error names
 * the path.
 */
int gitssh_hostkey_load(const char *path, struct gitssh_hostkey *k, struct bb_err *e);

/*
 * The OpenSSH-style fingerprint of a key blob, "SHA256:" followed by the
 * unpadded base64 of SHA-256(blob), into out (GITSSH_FINGERPRINT_MAX is
 * enough). Returns 0, or -1 with BB_ETOOBIG when out is too small.
 */
int gitssh_fingerprint(const void *blob, size_t len, char *out, size_t outcap, struct bb_err *e);

/* How to authenticate one upstream: a key pair and the server's pinned host key. */
struct gitssh_auth {
	const char *privkey_path; /* OpenSSH or PEM private key, no passphrase */
	const char *pubkey_path;  /* its .pub: always given, libssh2 on mbedTLS cannot derive it */
	const struct gitssh_hostkey *host_key;
};

/*
 * The payload of the callbacks below, one per connection attempt. When a
 * callback refuses, it says why in err and sets refused, so the caller can
 * report that instead of libgit2's generic "invalid or unknown remote ssh
 * hostkey" (see gitssh_git_error).
 */
struct gitssh_session {
	const struct gitssh_auth *auth;
	unsigned cred_calls; /* times libgit2 asked for credentials */
	int refused;
	struct bb_err err;
};

/* Start a session for auth (which must outlive it). */
void gitssh_session_init(struct gitssh_session *s, const struct gitssh_auth *auth);

/*
 * libgit2 certificate_check callback (payload: struct gitssh_session *).
 * Accepts only an SSH host key whose raw bytes (GIT_CERT_SSH_RAW) equal the
 * pinned blob; libgit2's own known_hosts verdict (valid) is ignored, and
 * nothing is ever learnt on first use. On mismatch records
 * "host key of HOST does not match the pinned key (got TYPE SHA256:...)"
 * (code BB_ETLS, the peer-authentication failure) and returns GIT_EUSER.
 */
int gitssh_certificate_check(git_cert *cert, int valid, const char *host, void *payload);

/*
 * libgit2 credentials callback (payload: struct gitssh_session *). Offers
 * the key pair for the user named in the URL. libgit2 asks again after a
 * refused key; the second call fails with "authentication ... failed"
 * instead of looping. Returns 0 or GIT_EUSER (reason in the session).
 */
int gitssh_credentials(git_credential **out, const char *url, const char *username_from_url,
		       unsigned int allowed_types, void *payload);

/* Initialise cbs (git_remote_init_callbacks) and point both callbacks above at s. */
int gitssh_callbacks_init(git_remote_callbacks *cbs, struct gitssh_session *s, struct bb_err *e);

/*
 * Turn a failed libgit2 call's return code into e: the session's own
 * reason when a callback refused (s may be NULL), else git_error_last()'s
 * message; prefixed with what. Code BB_ELIB unless the session's reason
 * carries its own. Always returns -1.
 */
int gitssh_git_error(struct bb_err *e, int rc, const struct gitssh_session *s, const char *what);

/*
 * Check that url is an ssh:// URL with a user and a host:
 * ssh://USER@HOST[:PORT]/PATH. scp-style "user@host:path", file paths and
 * other schemes are refused (BB_EINVAL), as is anything with a password.
 */
int gitssh_url_check(const char *url, struct bb_err *e);

/*
 * A private, empty home directory for libgit2, so nothing of the user's
 * ~/.ssh (libgit2 reads known_hosts to choose the host-key algorithms it
 * asks for) or ~/.gitconfig takes part. libgit2 >= 1.7 has an option for
 * it (GIT_OPT_SET_HOMEDIR); older versions read $HOME/.ssh/known_hosts at
 * connect time, so there HOME itself is pointed at the directory for the
 * duration and put back afterwards. The global and XDG config search paths
 * are pointed there too.
 */
struct gitssh_home {
	char dir[256];
	int active;
	char *saved_home; /* libgit2 < 1.7: HOME before, or NULL when it was unset */
};

/* Make the directory (mkdtemp under $TMPDIR or /tmp) and point libgit2 at it; 0 or -1. */
int gitssh_home_isolate(struct gitssh_home *h, struct bb_err *e);
/* Point libgit2 (and HOME) back where they were, remove the directory; safe to call twice. */
void gitssh_home_restore(struct gitssh_home *h);

/*
 * List the refs of an ssh:// remote, like `git ls-remote URL`: connect for
 * fetch with the pinned host key and the key pair in auth, inside an
 * isolated home, and call cb(refname, oid_hex, arg) for each advertised
 * ref in the server's order (HEAD and peeled "^{}" entries included, as
 * the server sends them). A non-zero return from cb stops the listing and
 * is returned as is, e untouched. Else returns 0, or -1 with e set (bad
 * URL or key file: BB_EINVAL/errno; host key refused: BB_ETLS; libgit2
 * failures, refused authentication included: BB_ELIB).
 */
int gitssh_ls_remote(const char *url, const struct gitssh_auth *auth,
		     int (*cb)(const char *refname, const char oid_hex[41], void *arg), void *arg,
		     struct bb_err *e);

#endif
