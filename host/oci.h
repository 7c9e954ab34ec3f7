/* oci.h - the OCI backend: the bottle's two sandboxes as runtime-spec bundles that runc or crun run. */
#ifndef BB_HOST_OCI_H
#define BB_HOST_OCI_H

#include "err.h"
#include "runtime.h"

/*
 * The same bottle as rt_run, with the namespaces and mounts made by an
 * installed OCI runtime (runtime: "runc", "crun" or a path) from bundles
 * staged in the state directory (config.json 0600: the sidecar's holds
 * the tokens). The veth is wired between `create` and `start`. The caller
 * must be a child subreaper (the containers' processes are reparented to
 * it). Not applied here yet: the seccomp filter (bb's own runtime has it).
 */
int oci_run(const struct rt_config *c, const char *runtime, int *exit_code, struct bb_err *e);

#endif
