/* docker.h - the Docker/Podman backend: a small Docker Engine API client over a unix socket, and a bottle run on it. */
#ifndef BB_HOST_DOCKER_H
#define BB_HOST_DOCKER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "runtime.h"

struct cJSON;

/*
 * bb speaks the Engine API itself (HTTP/1.1 on the unix socket, one
 * connection per call, "Connection: close"): no docker CLI. Everything it
 * creates carries the label DK_LABEL=<slug> (and DK_LABEL_PID=<pid of the
 * host process>), so docker_cleanup finds what a dead run left behind.
 * docs/docker.md tells the whole story (networks, mounts, what podman
 * needs).
 */

#define DK_DEFAULT_SOCKET "/var/run/docker.sock"
#define DK_LABEL "bb.bottle"
#define DK_LABEL_PID "bb.pid"
#define DK_BODY_MAX (16u << 20) /* a response body kept in memory (JSON, logs) */
#define DK_API_DEFAULT "1.41"   /* used when /version names none */

/* A connection target: the socket path and the API version prefix ("1.41"). */
struct dk_client {
	char socket_path[108]; /* sun_path's size */
	char api_version[16];
	int podman; /* /version names a Podman engine (its quirks are handled) */
};

/* A complete response: status, decoded body (chunked framing removed), what the engine says it is. */
struct dk_reply {
	int status;
	struct buf body;       /* caller frees (buf_free); capped at DK_BODY_MAX */
	char api_version[16];  /* the Api-Version header ("" when absent or not digits and dots) */
	int podman;            /* a Libpod-Api-Version header was sent */
};

/*
 * The socket named by docker_host (a DOCKER_HOST value): "unix:///path"
 * or NULL/"" for DK_DEFAULT_SOCKET; other schemes (tcp://, ssh://) are
 * refused. Fills d->socket_path; d->api_version is DK_API_DEFAULT until
 * dk_connect asks. 0, or -1 with e set.
 */
int dk_client_init(struct dk_client *d, const char *docker_host, struct bb_err *e);

/*
 * Ping the engine (GET /_ping: /version makes podman run its helpers, 1.5 s)
 * and take its Api-Version header as the prefix of every call. 0, or -1.
 */
int dk_connect(struct dk_client *d, struct bb_err *e);

/*
 * One call: METHOD /vAPI/PATH (path starts with '/', query included) with
 * a body of len bytes from body (or, when body_fd >= 0, len bytes streamed
 * from that fd), content type ctype (NULL when there is no body). The
 * reply is filled whatever the status; returns 0 for 2xx, -1 otherwise
 * with e = "docker: METHOD PATH: MESSAGE (HTTP STATUS)", MESSAGE being the
 * API's own error text, or on a transport error.
 */
int dk_call(const struct dk_client *d, const char *method, const char *path, const char *ctype, const void *body,
	    size_t len, int body_fd, struct dk_reply *r, struct bb_err *e);

/*
 * A call without a body whose 2xx answer is streamed into out_fd (an image
 * export: larger than any buffer), at most max bytes (0: no cap). Errors as
 * dk_call. 0, or -1 with e set (out_fd then holds part of the answer).
 */
int dk_call_to_fd(const struct dk_client *d, const char *method, const char *path, int out_fd, uint64_t max,
		  struct bb_err *e);

/* Same, with a JSON body given as a C string (or NULL: no body). */
int dk_call_json(const struct dk_client *d, const char *method, const char *path, const char *json, struct dk_reply *r,
		 struct bb_err *e);

/*
 * Parse a whole response raw[0..len) read until the server closed into r:
 * status, the Api-Version and Libpod-Api-Version headers, and the body
 * (Content-Length, chunked or until close) appended to r->body, which the
 * caller initialised. Pure. 0, or -1 with e naming what is malformed (a
 * truncated body included).
 */
int dk_response_parse(const char *raw, size_t len, const char *method, struct dk_reply *r, struct bb_err *e);

/*
 * The error text of an API error body: Docker's {"message": "..."} (podman
 * adds "cause"), else the body itself as text (trimmed, control bytes
 * replaced by '?'), into out (cap bytes, NUL-terminated).
 */
void dk_error_text(const char *body, size_t len, char *out, size_t cap);

/*
 * The attach/logs stream when the container has no TTY: frames of an
 * 8-byte header (stream 0 stdin, 1 stdout, 2 stderr; three zero bytes; a
 * big-endian 32-bit length) then the payload. Incremental over any split.
 */
struct dk_demux {
	unsigned char head[8];
	size_t head_len;   /* header bytes held */
	uint32_t left;     /* payload bytes of the current frame still to come */
	int stream;        /* of the current frame */
};

/*
 * Feed in[0..len): at most one payload span per call: its stream in
 * *stream, the span in *data and *data_len (0 when none yet), and the
 * bytes of in used in *consumed.
 * Call again with in + *consumed while bytes remain. Returns 0, or -1 on a
 * header that is not a frame (stream > 2 or non-zero padding).
 */
int dk_demux_feed(struct dk_demux *m, const char *in, size_t len, size_t *consumed, int *stream, const char **data,
		  size_t *data_len);

/*
 * The container's Env (a cJSON array the caller deletes) from a bottle
 * environment built for bb's runtime: RT_SIDECAR_ADDR (not when followed
 * by a digit) becomes ip, the sidecar's address on the internal network.
 * Intermediate copies are wiped (tokens).
 */
struct cJSON *dk_env_for_container(char *const *env, const char *ip);

/*
 * The bottle on the Docker/Podman engine named by DOCKER_HOST (see
 * dk_client_init): loads the sidecar image (this binary, lib/image.h) with
 * POST /images/load, makes an
 * internal network (agent <-> sidecar, no route out), runs the sidecar
 * (bb init --sidecar, egress dialing upstreams through the host's dialer,
 * whose socket is in the bound state directory) and the agent (bb init --agent, only on the internal network,
 * the host's directories read-only, caps dropped, no-new-privileges,
 * read-only rootfs), streams the agent's stdin/stdout/stderr and returns
 * its status in *exit_code. The host's address on the internal bridge is
 * removed before the agent starts, so the agent reaches the sidecar and
 * nothing else. Everything made is removed on success and on every
 * failure; a failed call stops the run with e naming it.
 */
int docker_run(const struct rt_config *c, int *exit_code, struct bb_err *e);

/*
 * Remove what bottles left on the engine: containers and networks labelled
 * DK_LABEL whose DK_LABEL_PID process is gone (all != 0: every labelled
 * one), and images tagged bb-sidecar:* that no container uses any more.
 * *removed counts the objects removed. No engine at the socket (missing,
 * or nobody listening) is 0 with nothing removed; any other failure is -1
 * with e set.
 */
int docker_cleanup(int all, int *removed, struct bb_err *e);

#endif
