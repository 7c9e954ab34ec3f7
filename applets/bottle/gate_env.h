/* gate_env.h - git-gate in a bottle: stage the upstream keys in the state dir, the sidecar's git-gate argv, the agent's repo list. */
#ifndef BB_BOTTLE_GATE_ENV_H
#define BB_BOTTLE_GATE_ENV_H

#include <stddef.h>

#include "err.h"

struct planfile_git_gate;

#define GATE_ENV_ARGS_MAX 8192
#define GATE_ENV_REPOS_MAX 16384

struct gate_env {
	size_t nrepos;                          /* git_gate.repos in the plan; 0: no git-gate */
	char sidecar_args[GATE_ENV_ARGS_MAX];   /* BB_GIT_GATE_ARGS for the sidecar's init */
	char agent_repos[GATE_ENV_REPOS_MAX];   /* BB_GIT_GATE_REPOS for the agent's init: "NAME=URL ..." */
};

/*
 * For a plan's git_gate (planfile_git_gate) with repos: stage each repo's upstream key pair as
 * STATE/git-keys/NAME and NAME.pub (0600 in a 0700 directory: the sidecar
 * reads them there, the agent's view hides the state dir), written relative
 * to directory fds without following links (the sidecar can write the state
 * dir). A static key is copied from key.path ("~/" meaning $HOME) and its
 * .pub; a gitea key is made and registered as a deploy key for this bottle
 * (forge_keys.h, recorded under slug for revocation). Fills g with git-gate's arguments
 * (--policy plan_path --mirrors STATE/git-mirrors --keys STATE/git-keys
 * --listen 0.0.0.0:9418 --dialer dial_sock --log STATE/git-gate.log) and
 * the agent's NAME=URL list. A plan without repos gives nrepos 0 and empty
 * strings. -1 with e: a key that cannot be read or registered, a path with
 * a space (the args are split on spaces), or a too-long result.
 */
int gate_env_prepare(const struct planfile_git_gate *gg, const char *slug, const char *state, const char *plan_path,
		     const char *dial_sock, struct gate_env *g, struct bb_err *e);

#endif
