/* gitssh.h - reaching a git upstream over SSH: pinned host key (no TOFU), key auth, ls-remote, mirror fetch, push (libgit2, or a pack as it is over libssh2). */
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
/*
 * The same, plus DIR/.ssh/known_hosts holding the one line "[HOST]:PORT
 * TYPE BASE64" of pin for url's host: libgit2 then asks the server for the
 * pinned key's type (ssh-ed25519 on a server that also has ECDSA and RSA
 * keys). The pin is still compared byte for byte by the certificate check.
 */
int gitssh_home_isolate_pinned(struct gitssh_home *h, const char *url, const struct gitssh_hostkey *pin,
			       struct bb_err *e);
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

/*
 * Upstream timeouts for the calls below (libgit2 >= 1.7 applies them to
 * the SSH socket; older versions use the system's): connecting, and any
 * one read or write. 0 leaves libgit2's default.
 */
struct gitssh_timeouts {
	int connect_ms;
	int io_ms;
};

/* What gitssh_mirror_fetch did. */
struct gitssh_fetch_stats {
	size_t refs;            /* upstream heads and tags now mirrored */
	size_t updated;         /* local refs created or moved */
	size_t pruned;          /* local refs deleted: upstream no longer has them */
	size_t objects;         /* objects received */
	size_t bytes;           /* pack bytes received */
	char head[256];         /* the branch HEAD now names ("" when upstream has no HEAD) */
};

/*
 * Make the bare repository repo a mirror of url's branches and tags: fetch
 * what is missing over SSH (pinned host key, key pair in auth, isolated
 * home), then set every refs/heads/ and refs/tags/ ref to upstream's value,
 * delete those upstream no longer has, and point HEAD at upstream's
 * default branch. Other refs are left alone. Objects are never deleted.
 * Returns 0, or -1 with e set as gitssh_ls_remote does (the message names
 * the URL); the mirror is then unchanged or partly updated, never corrupt.
 */
int gitssh_mirror_fetch(git_repository *repo, const char *url, const struct gitssh_auth *auth,
			const struct gitssh_timeouts *to, struct gitssh_fetch_stats *st, struct bb_err *e);

/* One ref to push. */
struct gitssh_push_ref {
	const char *dst;        /* full ref name on the upstream */
	const char *src;        /* a ref in repo naming what to push (libgit2 1.5 wants a ref, not an id); NULL: delete dst */
	const char *expect_old; /* hex (zeros: must not exist); NULL: no check */
	const char *new_hex;    /* gitssh_push_pack: the new id of the ref (NULL: delete) */
	int force;              /* allow a non-fast-forward update */
	/* Out: */
	int ok;                 /* upstream accepted it */
	char status[BB_ERR_MSG_MAX]; /* why not, when !ok */
};

/* Every ref refused with why (ok 0, status why): how both push paths answer a push that failed as a whole. */
void gitssh_push_fail_all(struct gitssh_push_ref *refs, size_t n, const char *why);

/* Whether this build can pass push options upstream (libgit2 >= 1.8). */
int gitssh_push_options_supported(void);

/*
 * Push refs[0..n) from repo to url in one connection, with nopts push
 * options (refused with BB_ENOTIMPL when !gitssh_push_options_supported()
 * and nopts > 0). The objects come from repo's object database, including
 * any in-memory alternate the caller added (a quarantine). When a ref has
 * expect_old and upstream's current value differs, nothing is pushed (the
 * upstream moved since the caller looked: a lease) and every ref's status
 * says so. Returns 0 when the push ran (each ref's ok/status say what
 * upstream did with it), or -1 with e when it could not (connection, host
 * key, authentication, lease), with every ref's status set to the reason.
 */
int gitssh_push(git_repository *repo, const char *url, const struct gitssh_auth *auth, const struct gitssh_timeouts *to,
		struct gitssh_push_ref *refs, size_t n, const char *const *push_options, size_t nopts, struct bb_err *e);

/*
 * Upstream connections through the host dialer (lib/dial.h): after
 * gitssh_dialer_set(PATH), every SSH connection this process makes (libgit2's
 * transport and gitssh_push_pack alike) is a socket asked of the dialer at
 * PATH ("DIAL host port") instead of one connected here; NULL goes back to
 * connecting directly. For libgit2 it registers a GIT_STREAM_STANDARD
 * stream, so call it after git_libgit2_init(). Process-wide, like the
 * rest. 0, or -1 with e (path too long, or libgit2 refused the stream).
 */
int gitssh_dialer_set(const char *sock_path, struct bb_err *e);
/* The dialer socket set above, or NULL when connections are made directly. */
const char *gitssh_dialer(void);
/* A connected socket to host:port from the dialer (blocking), or -1 with e naming url. */
int gitssh_dialer_connect(const char *url, const char *host, unsigned port, int connect_ms, struct bb_err *e);

/* The parts of an ssh:// URL that gitssh_url_check accepts; 0, or -1 with BB_EINVAL / BB_ETOOBIG. */
struct gitssh_url {
	char user[128];
	char host[256];
	unsigned port; /* 22 when absent */
	char path[1024];
};
int gitssh_url_parse(const char *url, struct gitssh_url *u, struct bb_err *e);

/* Upstream's text (side-band 2) during gitssh_push_pack, a line or part of one. */
typedef void (*gitssh_msg_fn)(void *arg, const char *text, size_t n);

/*
 * Push by sending a pack the caller already has, byte for byte: run
 * git-receive-pack on the upstream over one SSH channel (libssh2 directly:
 * the pinned host key, the key pair), send "expect_old new_hex dst" for each
 * ref (receive-pack itself refuses a ref whose value is no longer expect_old:
 * a compare-and-swap), the push options, then pack_fd's bytes from its
 * current offset to its end (none when every ref is a delete), and read the
 * report. libgit2 would rebuild the pack with a fresh delta search; this
 * forwards the client's own.
 * Returns 0 when upstream reported (each ref's ok/status set), -1 with e
 * when it could not (every ref's status set to the reason). BB_ENOTIMPL
 * when upstream lacks what the pack needs (ofs-delta, thin packs,
 * delete-refs, push-options): nothing was sent, the caller can rebuild
 * the pack and use gitssh_push instead.
 */
int gitssh_push_pack(const char *url, const struct gitssh_auth *auth, const struct gitssh_timeouts *to,
		     struct gitssh_push_ref *refs, size_t n, const char *const *push_options, size_t nopts, int pack_fd,
		     gitssh_msg_fn msg, void *msg_arg, struct bb_err *e);

#endif
