/* backend.h - the bottle backends as one table (embedded, oci, docker, vm, bare): each fills in the same operations, the session calls them in order. */
#ifndef BB_HOST_BACKEND_H
#define BB_HOST_BACKEND_H

#include <sys/types.h>

#include "err.h"
#include "runtime.h"

/*
 * A bottle's session (applets/bottle/run.c) is the same on every backend:
 * plan, state directory, the two environments, the host-side dialer; then
 *   prepare  before anything is started: is the backend usable here (root,
 *            the runtime, qemu and a kernel...), where does the agent find
 *            the sidecar; a refusal leaves nothing behind;
 *   run      start both sides, wire them, run the agent to its end, tear
 *            everything down; one operation, because the embedded runtime
 *            run rootless does all of it inside a keeper process of its own;
 *   stop     from a signal handler (bb bottle stop, a closed terminal): ask
 *            the agent to end; run then tears down as usual;
 *   inspect  what `bb bottle inspect` adds for a bottle on this backend;
 *   cleanup  `bb bottle cleanup`: what bottles whose host process is gone
 *            left on this backend (containers, networks, cgroups).
 */

#define BK_ROOT 0x1    /* needs root (the embedded runtime also runs rootless) */
#define BK_RUNTIME 0x2 /* takes --runtime PROG */
#define BK_IMAGE 0x4   /* an imported image can be the agent's root */
#define BK_HOST 0x8    /* no isolation: the agent runs on the host as the user (bare) */

/* One bottle on one backend. The session fills c and runtime; prepare the rest. */
struct bk_run {
	const struct backend *be;
	struct rt_config *c;
	const char *runtime;     /* --runtime (oci: runc, crun, runsc); NULL: the backend's default */
	const char *kernel;      /* --kernel (vm): the guest kernel; NULL: found (docs/vm.md) */
	/* Where the agent finds the sidecar and where the sidecar's daemons listen (set by prepare). */
	char sidecar_addr[64];   /* the host part of the agent's proxy URL: RT_SIDECAR_ADDR, or 127.0.0.1 (bare) */
	char listen_addr[64];    /* the daemons' --listen host: 0.0.0.0, or 127.0.0.1 (bare) */
	int egress_port, supervise_port;
	void *priv;              /* the backend's own, freed by its run (or by backend_release) */
};

/* What inspect and cleanup are told about a bottle (from its meta.json). */
struct bk_bottle {
	const char *slug;
	const char *state_dir;
	const char *runtime;     /* oci's --runtime, or "" */
	int host_pid;
	int running;
};

/* inspect's output: one labelled line at a time ("label", "text"). */
typedef void (*bk_line_fn)(void *arg, const char *label, const char *text);

struct backend {
	const char *name;
	const char *isolates;    /* the preflight's one line: what keeps the agent in */
	unsigned flags;
	int (*prepare)(struct bk_run *r, struct bb_err *e);
	int (*run)(struct bk_run *r, int *exit_code, struct bb_err *e);
	void (*stop)(struct bk_run *r);          /* async-signal-safe; NULL: SIGTERM to *c->agent_pid */
	void (*inspect)(const struct bk_bottle *b, bk_line_fn line, void *arg); /* NULL: nothing to add */
	/* Remove what bottles whose host process is gone left on this backend, each reported with line
	 * ("removed", what). The number removed, or -1 with e set. NULL: nothing is ever left. */
	int (*cleanup)(bk_line_fn line, void *arg, struct bb_err *e);
};

/* Every backend, NULL-terminated, in the order `--backend` lists them. */
extern const struct backend *const backends[];

/* The backend named name ("embedded", "oci", "docker", "vm", "bare"), or NULL. */
const struct backend *backend_find(const char *name);

/* The names --backend takes ("embedded, oci, docker or vm"), for usage errors. */
const char *backend_choices(void);

/*
 * r for be with c: the defaults (the sidecar at RT_SIDECAR_ADDR:9099 and
 * :9100, daemons on 0.0.0.0), then be's prepare. 0, or -1 with e saying
 * why the backend cannot run here (nothing was started).
 */
int backend_prepare(struct bk_run *r, const struct backend *be, struct rt_config *c, const char *runtime,
		    const char *kernel, struct bb_err *e);

/* Ask the running agent to end (signal handler safe). */
void backend_stop(struct bk_run *r);

/* The backends' operations (each in its own file). */
extern const struct backend backend_embedded, backend_oci, backend_docker, backend_vm, backend_bare;

#endif
