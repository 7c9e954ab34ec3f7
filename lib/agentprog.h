/* agentprog.h - the agent program found on the host, and the few host paths it needs to run inside a bottle. */
#ifndef BB_AGENTPROG_H
#define BB_AGENTPROG_H

#include <limits.h>
#include <stddef.h>

#include "err.h"

/*
 * `bb bottle start` runs the provider's program (claude, codex) the way the
 * operator runs it: found on the operator's PATH, or at the path the
 * manifest names (agent_provider.program, absolute or ~/). Users install
 * these CLIs where the agent's fixed PATH does not look (an npm prefix,
 * ~/.local/bin, nvm, /opt), often under a home directory the bottle hides.
 * So the host resolves the program, and names the least of the host the
 * agent needs to run it:
 *   - a native executable (ELF, or anything without "#!"): the file itself;
 *   - a script ("#!"): its package tree (the nearest enclosing node_modules
 *     directory: an npm launcher finds its platform binary beside itself),
 *     else the file alone; and its interpreter, found the same way for
 *     "#!/usr/bin/env NAME" (NAME on the operator's PATH), or the path
 *     the "#!" line names.
 * The runtime binds those read-only at the same paths where the agent's
 * root does not show them, and links the program (and an env-found
 * interpreter) by name in a directory first on the agent's PATH.
 */

#define AGENTPROG_NEED_MAX 2

struct agentprog {
	char name[256];                        /* what it runs by in the bottle: the name asked for (claude, codex) */
	char found[PATH_MAX];                  /* where it was found (a PATH entry's NAME, or the manifest's path) */
	char real[PATH_MAX];                   /* canonical: what runs */
	char interp_name[256];                 /* "#!/usr/bin/env NAME": NAME (linked by that name); else "" */
	char interp[PATH_MAX];                 /* the interpreter, canonical; "" for a native executable */
	char need[AGENTPROG_NEED_MAX][PATH_MAX]; /* canonical host paths the agent needs: program (or tree), interpreter */
	size_t nneed;
};

/*
 * Find the program called name: at given when it is set (absolute, or "~/"
 * relative to home), else on path_env (a PATH value; empty entries and
 * relative ones are skipped, as a root-run search should). 0, or -1 with e
 * naming what was looked for and where (every directory searched).
 */
int agentprog_find(const char *name, const char *given, const char *path_env, const char *home, struct agentprog *p,
		   struct bb_err *e);

#endif
