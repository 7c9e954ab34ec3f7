/* bare.h - --bare: the sidecar's daemons and the agent as plain host processes, with no isolation at all (only when asked). */
#ifndef BB_HOST_BARE_H
#define BB_HOST_BARE_H

#include "err.h"
#include "runtime.h"

/*
 * Without isolation the agent is not confined to the sidecar: it can
 * reach anything the host can. What bare keeps is the rest of the
 * bottle: egress (the proxy the agent's environment names, with token
 * injection, DLP and the audit log), supervise, the dialer's policy
 * re-check for what goes through egress. The daemons listen on 127.0.0.1
 * ports picked at start; dns and git-gate are not run.
 */
struct bare_ports {
	int egress, supervise;
};

/* Two free TCP ports on 127.0.0.1 (bound, read back, released). 0, or -1 with e set. */
int bare_pick_ports(struct bare_ports *p, struct bb_err *e);

/*
 * Write the agent's CA bundle (rt_agent_ca_bundle) to path, 0644. 0, or
 * -1 with e set.
 */
int bare_write_bundle(const struct rt_config *c, const char *path, struct bb_err *e);

/*
 * Run c's sidecar (`bb init --sidecar` with c->sidecar_env) and, once
 * egress accepts on 127.0.0.1:p->egress, c->argv in c->workspace with
 * c->agent_env, as this process's user; then stop the sidecar. On
 * success *exit_code is the command's status (128+n for a signal).
 * 0, or -1 with e naming the step.
 */
int bare_run(const struct rt_config *c, const struct bare_ports *p, int *exit_code, struct bb_err *e);

#endif
