/* plan.h - the resolved plan of a bottle: the one JSON contract between `bb bottle` and the sidecar daemons. */
#ifndef BB_PLAN_H
#define BB_PLAN_H

#include "err.h"
#include "manifest.h"

struct cJSON;

#define PLAN_SCHEMA "bb.plan/1"

/* Ports the sidecar serves (bot-bottle's, kept). */
#define PORT_EGRESS 9099
#define PORT_GIT_GATE 9418
#define PORT_GIT_HTTP 9420
#define PORT_SUPERVISE 9100
#define PORT_DNS 53

/* Environment slot that carries route token n into the sidecar: BB_EGRESS_TOKEN_<n>. */
#define PLAN_TOKEN_SLOT_PREFIX "BB_EGRESS_TOKEN_"

/*
 * Build the plan for an agent (with its bottle) or for a bottle alone.
 * The document is documented in docs/manifest.md ("The plan"). It holds
 * names of secrets, never their values: env values, token values and key
 * contents stay out. It registers nothing: the caller that will hold the
 * values registers them (plan_register_tokens). Returns NULL with e set
 * when name is neither, or when the manifest it names is invalid.
 */
struct planfile;

struct cJSON *plan_build(const struct manifest *m, const char *agent, const char *bottle, struct bb_err *e);

/*
 * Register with the secrets registry (lib/secrets.h, labelled by the
 * variable) the host values the plan's token slots name (source host_env)
 * that are set in this process's environment, so none can reach any
 * output. A command that read its plan calls this before it says anything;
 * it reads the slots through planfile (planfile_wrap for plan_build's).
 * Values shorter than REDACT_MIN_LEN are left out (they would redact
 * ordinary text). 0, or -1 with e set.
 */
int plan_register_tokens(struct planfile *pf, struct bb_err *e);

#endif
