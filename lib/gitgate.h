/* gitgate.h - the git server side of git-gate and git-http on libgit2: mirrors, ref advertisement, upload-pack, receive-pack. */
#ifndef BB_GITGATE_H
#define BB_GITGATE_H

#include <git2.h>
#include <limits.h>
#include <stdint.h>

#include "err.h"
#include "gitgate_io.h"
#include "gitgate_policy.h"
#include "gitgate_proto.h"
#include "gitssh.h"

/*
 * One process serves one connection (the daemons fork per connection, as
 * git daemon does), and calls git_libgit2_init() itself, after the fork.
 * Each served repo has a bare mirror MIRRORS/NAME.git, made on first use,
 * and a lock file MIRRORS/NAME.lock that serialises every change to the
 * mirror (a refresh from upstream, a push) across processes.
 *
 *   clone/fetch:  refresh the mirror from upstream over SSH (fail closed),
 *                 advertise, negotiate (multi_ack_detailed), send a pack
 *                 built by git_packbuilder on side-band-64k.
 *   push:         refresh, advertise, read the commands, push options and
 *                 pack; index the pack into a quarantine directory beside
 *                 the mirror (nothing is visible to others); then, under the
 *                 lock: check each ref still has the value the client saw,
 *                 scan what it adds (lib/gitgate_scan.h), forward the clean
 *                 refs upstream in one SSH push with a lease on upstream's
 *                 current values (the client's own pack when it holds only
 *                 what those refs reach, else a pack libgit2 rebuilds from
 *                 them), move the pack into the mirror and update the
 *                 mirror's refs only for what upstream accepted; report per
 *                 ref (report-status), with the findings as "error:" lines
 *                 on side-band 2.
 */

/* Called for each event worth a log line: kv is NULL-terminated key, value, ... */
typedef void (*gitgate_log_fn)(void *arg, const char *event, const char *const *kv);

struct gitgate_server {
	const struct gitgate_policy *policy;
	const char *mirrors_dir;
	struct gitssh_timeouts upstream;
	uint64_t max_pack_bytes;   /* a pushed pack larger than this is refused */
	int lock_timeout_ms;       /* waiting for another process's change to the mirror */
	int timeout_ms;            /* client idle timeout (also in each gitgate_io) */
	int pack_timeout_ms;       /* waiting for pushed pack bytes: the client may compress for a long while first */
	const char *agent;         /* "bb/VERSION", sent as agent= */
	const char *peer;          /* the client's address, for logs */
	gitgate_log_fn log;
	void *log_arg;
};

/* A repo being served on one connection. */
struct gitgate_session {
	const struct gitgate_server *srv;
	const struct gitgate_repo *repo;
	struct gitgate_io *io;
	int stateless;             /* git-http: a request carries one exchange, there was no advertisement before it */
	git_repository *mirror;
	int lock_fd;
	char mirror_path[PATH_MAX];
	char lock_path[PATH_MAX];
};

/*
 * Serve one git:// connection on fd (non-blocking is best): read the
 * daemon request, then the service. Errors the client should see go to
 * it as "ERR" packets or side-band 3 messages; e says what went wrong for
 * the log. 0 when the exchange completed (a rejected push included).
 */
int gitgate_serve_daemon(const struct gitgate_server *srv, int fd, struct bb_err *e);

/* Bind a session to repo (mirror opened later by gitgate_session_mirror). */
void gitgate_session_init(struct gitgate_session *s, const struct gitgate_server *srv, const struct gitgate_repo *repo,
			  struct gitgate_io *io, int stateless);
void gitgate_session_close(struct gitgate_session *s);

/*
 * Open the mirror (creating it when missing) and, when refresh, bring it up
 * to date from upstream under the lock. On failure the message is what the
 * client should be told (upstream unreachable, host key refused, the repo
 * is unusable); nothing is sent.
 */
int gitgate_session_mirror(struct gitgate_session *s, int refresh, struct bb_err *e);

/*
 * Send the ref advertisement of service (v0: capabilities on the first
 * line, peeled tags, a flush). git-http writes its "# service=" header
 * first. Needs the mirror open.
 */
int gitgate_advertise(struct gitgate_session *s, enum gitgate_service service, struct bb_err *e);

/*
 * Protocol v2 (upload-pack only: v2 has no push). The advertisement:
 * "version 2", then agent, ls-refs=unborn, fetch=shallow wait-for-done
 * filter, server-option, object-format=sha1, a flush. Then commands:
 * ls-refs (ref-prefix, symrefs, peel, unborn) and fetch (want, have, done,
 * thin-pack, ofs-delta, include-tag, no-progress, shallow, deepen,
 * deepen-relative, deepen-since, deepen-not, filter, wait-for-done), one
 * per request; a stateless session (git-http) serves one request. Ends at
 * an empty request or the end of input.
 */
int gitgate_v2_advertise(struct gitgate_session *s, struct bb_err *e);
int gitgate_serve_v2(struct gitgate_session *s, struct bb_err *e);

/* The client's side of upload-pack after the advertisement (or a git-http POST). */
int gitgate_upload_pack(struct gitgate_session *s, struct bb_err *e);
/* The client's side of receive-pack after the advertisement (or a git-http POST). */
int gitgate_receive_pack(struct gitgate_session *s, struct bb_err *e);

/* Tell the client why it cannot be served, before any side-band: an "ERR msg" packet. */
int gitgate_send_err(struct gitgate_io *io, const char *msg, struct bb_err *e);

#endif
