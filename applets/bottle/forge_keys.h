/* forge_keys.h - the gitea key provider on the host: deploy keys made, registered and recorded per bottle; revoked at stop and by cleanup. */
#ifndef BB_BOTTLE_FORGE_KEYS_H
#define BB_BOTTLE_FORGE_KEYS_H

#include "err.h"
#include "gitgate_gitea.h"

struct planfile_repo;

/*
 * For git-gate.repos NAME with key {provider: gitea, forge_token_env, api_url}:
 * make an Ed25519 key pair, register its public half as a deploy key of the
 * upstream repo (OWNER/REPO from upstream_path) through the Gitea API at
 * api_url (default https://HOST) with the token read from the host's
 * environment, record it in $BB_HOME/.bb/forge-keys/SLUG (host only: the
 * sidecar can write the state dir, never this); kp gets the pair, for the
 * caller to stage. The token never leaves this process. 0 or -1 (a key
 * that was registered stays recorded for forge_keys_revoke).
 */
int forge_keys_provision(const char *slug, const struct planfile_repo *r, struct gitgate_keypair *kp, struct bb_err *e);

/* One line for the operator: ok is 1 for a key revoked, 0 for a failure. */
typedef void (*forge_keys_report_fn)(void *arg, int ok, const char *msg);

/*
 * Revoke every deploy key recorded for slug (each tried 3 times, 1 s and
 * 2 s apart; a key the forge no longer has counts as revoked), reporting
 * each; those that could not be revoked stay recorded for a later cleanup.
 * 0 when all are gone (or none was recorded), else -1.
 */
int forge_keys_revoke(const char *slug, forge_keys_report_fn report, void *arg, struct bb_err *e);

/* 1 when slug has deploy keys recorded (not revoked yet). */
int forge_keys_pending(const char *slug);

#endif
