/* gitgate_http.h - git's smart HTTP over the gate's sessions: routes, request bodies (length, chunked, gzip, caps), responses. */
#ifndef BB_GITGATE_HTTP_H
#define BB_GITGATE_HTTP_H

#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "gitgate.h"

/*
 * The three smart-HTTP endpoints (git's http-protocol.txt), one request
 * per connection (the response closes it):
 *   GET  /REPO/info/refs?service=git-upload-pack|git-receive-pack
 *        refresh the mirror from upstream (fail closed: an "ERR" packet the
 *        client prints), then "# service=..." and the v0 advertisement (or,
 *        with "Git-Protocol: version=2", the v2 capabilities);
 *   POST /REPO/git-upload-pack   one stateless negotiation round (and the pack after "done");
 *   POST /REPO/git-receive-pack  the commands, push options and pack; the report.
 * Request heads are parsed by lib/http1 (strict). A POST needs a valid
 * Content-Length or chunked framing (400 otherwise, 501 for other
 * transfer codings); Content-Encoding gzip is inflated. Bodies over the cap
 * (max_body for upload-pack, as the reference's 1 MiB; the server's
 * max_pack_bytes plus 1 MiB for receive-pack) get 413, checked on the
 * declared length up front and on the inflated bytes as they arrive.
 */

enum gitgate_http_kind { GITGATE_HTTP_INFO_REFS, GITGATE_HTTP_RPC };

struct gitgate_http_route {
	enum gitgate_http_kind kind;
	enum gitgate_service service;
	struct sv repo_path; /* "/app.git": the part before /info/refs or /git-*-pack */
};

/*
 * Which endpoint method, path and query name. Returns 0, or the status to
 * answer (404 not an endpoint, 405 wrong method, 403 a dumb-HTTP or unknown
 * service request) with *why a short static reason.
 */
int gitgate_http_route(struct sv method, struct sv path, struct sv query, struct gitgate_http_route *r,
		       const char **why);

/*
 * Whether a Git-Protocol header's value (colon-separated key=value
 * fields, as GIT_PROTOCOL) asks for version 2. Then info/refs answers with
 * the v2 capability advertisement (no "# service=" line, as git
 * http-backend) and each upload-pack POST carries one v2 command.
 */
int gitgate_http_wants_v2(struct sv git_protocol);

/* Serve one HTTP connection on fd (non-blocking is best). 0 when a response was sent. */
int gitgate_serve_http(const struct gitgate_server *srv, int fd, uint64_t max_body, struct bb_err *e);

#endif
