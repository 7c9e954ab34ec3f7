/* gitgate_gitea.h - the gitea key provider: an ECDSA P-256 deploy key made here, added to and revoked from a repo via the Gitea API. */
#ifndef BB_GITGATE_GITEA_H
#define BB_GITGATE_GITEA_H

#include <stddef.h>

#include "err.h"
#include "tls.h"

/*
 * Host side of `key: {provider: gitea, forge_token_env: VAR, api_url: URL}`:
 * at bottle start a fresh key pair is made, its public half registered as a
 * deploy key of the repo (write access: the gate pushes with it), the
 * private half staged for the sidecar only (git-gate --keys DIR); at
 * teardown, and on a failed start, the key is deleted from the forge.
 * ECDSA P-256 because bb's SSH stack (libssh2 on mbedTLS) has no Ed25519.
 *
 * The API calls (Gitea's documented REST API, token authentication):
 *   POST   {api_url}/api/v1/repos/{owner}/{repo}/keys   {"title","key","read_only":false} -> 201 {"id":N,...}
 *   DELETE {api_url}/api/v1/repos/{owner}/{repo}/keys/{id}                                -> 204
 * The token goes only into the Authorization header; no message carries it.
 */

#define GITGATE_KEY_PEM_MAX 1024
#define GITGATE_KEY_PUB_MAX 512

struct gitgate_keypair {
	char priv_pem[GITGATE_KEY_PEM_MAX]; /* SEC1 "EC PRIVATE KEY" PEM: what libssh2 (mbedTLS or OpenSSL) reads */
	size_t priv_len;
	char pub_line[GITGATE_KEY_PUB_MAX]; /* "ecdsa-sha2-nistp256 BASE64 COMMENT" */
};

/* Make a key pair from the system's random source; comment ends the public line (no spaces). 0 or -1. */
int gitgate_keygen_p256(struct gitgate_keypair *kp, const char *comment, struct bb_err *e);

/*
 * The same for Ed25519 (libsodium's crypto_sign_ed25519_seed_keypair on 32
 * bytes of getrandom): the private key in OpenSSH's own format ("OPENSSH
 * PRIVATE KEY", unencrypted), the public line "ssh-ed25519 BASE64 COMMENT".
 * The comment must not hold spaces and is at most 128 bytes. 0 or -1.
 */
int gitgate_keygen_ed25519(struct gitgate_keypair *kp, const char *comment, struct bb_err *e);

/* Write the private key to path (0600, replaced atomically) and the public line to path.pub (0644). 0 or -1. */
int gitgate_keypair_write(const struct gitgate_keypair *kp, const char *path, struct bb_err *e);

struct gitgate_gitea {
	const char *api_url;           /* "https://git.example.com" (a path prefix is kept); http:// for tests only */
	const char *token;
	const struct tls_trust *trust; /* for https */
	int timeout_ms;                /* connect and each read/write; 0 = 30 s */
};

/*
 * Owner and repo from the upstream URL's path ("/org/app.git", "org/app"):
 * 0, or -1 with BB_EINVAL when the path is not exactly two segments.
 */
int gitgate_gitea_repo(const char *path, char *owner, size_t ocap, char *repo, size_t rcap, struct bb_err *e);

/* Register pub_line as a read-write deploy key titled title; *id gets the forge's id. 0 or -1 (the status and the forge's message). */
int gitgate_gitea_add_key(const struct gitgate_gitea *g, const char *owner, const char *repo, const char *title,
			  const char *pub_line, long long *id, struct bb_err *e);

/* Delete deploy key id; a key already gone (404) counts as deleted. 0 or -1. */
int gitgate_gitea_delete_key(const struct gitgate_gitea *g, const char *owner, const char *repo, long long id,
			     struct bb_err *e);

#endif
