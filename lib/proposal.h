/* proposal.h - the supervise queue: one JSON file per proposal, the agent's requests checked, decisions, route merges. */
#ifndef BB_PROPOSAL_H
#define BB_PROPOSAL_H

#include <stddef.h>
#include <time.h>

#include "err.h"

struct cJSON;

/*
 * A queue directory holds ID.json files (mode 0600), written whole through
 * a temporary file and rename, so a reader sees the old or the new
 * document, never a mix. The sidecar's `bb supervise` creates them; the
 * host's `bb bottle approve|reject` decides them; supervise then applies an
 * approved egress route and records that. Read-modify-write steps hold
 * flock on DIR/.lock so a decision and an "applied" stamp cannot overwrite
 * each other (the directory is one bind mount seen by one kernel).
 *
 * The document (schema "bb.proposal/1", docs/supervise.md):
 *   {"schema":"bb.proposal/1","id":"…","bottle":"dev","tool":"egress-block",
 *    "created":"2025-01-02T03:04:05Z","status":"pending",
 *    "request":{…the tool arguments, checked and normalised…},
 *    "note":"…operator's reply…","decided_at":"…",
 *    "applied":{"at":"…","result":"ok"|"error","detail":"…"}}
 * note, decided_at and applied appear once they exist.
 */

#define PROPOSAL_SCHEMA "bb.proposal/1"
#define PROPOSAL_ID_MAX 65      /* ids are [a-z0-9][a-z0-9-]{0,63}; this includes the NUL */
#define PROPOSAL_MAX_BYTES (256u << 10) /* a proposal file larger than this is refused */
#define PROPOSAL_NOTE_MAX 4000  /* bytes of an operator note */

/* The tools that file proposals (names as bot-bottle's supervise used them, generalised). */
#define PROPOSAL_TOOL_EGRESS "egress-block"         /* a new or widened egress route */
#define PROPOSAL_TOOL_CRED "cred-block"             /* a credential for a route */
#define PROPOSAL_TOOL_DLP "dlp-block"               /* a DLP block the agent thinks is a false positive */
#define PROPOSAL_TOOL_CAPABILITY "capability-block" /* a capability change of the bottle */
#define PROPOSAL_TOOL_QUESTION "ask-operator"       /* a free-form question */

/* Whether s[0..n) is a well-formed proposal id (safe as a file name). */
int proposal_id_valid(const char *s, size_t n);

/* A fresh id: 24 lowercase hex digits from getrandom(). */
int proposal_id_new(char out[PROPOSAL_ID_MAX], struct bb_err *e);

/* Whether tool names one of the PROPOSAL_TOOL_* tools. */
int proposal_tool_known(const char *tool);

/*
 * Check an agent's arguments for tool and build the normalised request
 * (host lower-cased, methods upper-cased, defaults filled). Unknown
 * arguments, wrong types, bad hosts/paths/methods and over-long text are
 * refused with a message meant for the agent ("host: 'x y' is not a DNS
 * name"). *out is a new object the caller frees.
 */
int proposal_request_check(const char *tool, const struct cJSON *args, struct cJSON **out, struct bb_err *e);

/* Build a new pending proposal document (request is copied). NULL with e set on failure. */
struct cJSON *proposal_create(const char *id, const char *bottle, const char *tool, const struct cJSON *request,
			      time_t now, struct bb_err *e);

/* The path DIR/ID.json into out (cap bytes); -1 when it does not fit or the id is malformed. */
int proposal_path(const char *dir, const char *id, char *out, size_t cap, struct bb_err *e);

/* Write doc (which must have a valid "id") as DIR/ID.json, atomically, mode 0600. */
int proposal_write(const char *dir, const struct cJSON *doc, struct bb_err *e);

/*
 * Read and check DIR/ID.json: the schema, the id matching the file name,
 * a known tool, a status of pending/approved/rejected, string fields
 * where strings belong. *out is freed by the caller. A missing file
 * fails with code ENOENT.
 */
int proposal_read(const char *dir, const char *id, struct cJSON **out, struct bb_err *e);

/* A string member of a proposal ("status", "tool", "id", "note", ...), or "" when absent. */
const char *proposal_get(const struct cJSON *doc, const char *key);

/*
 * Decide a pending proposal: status is "approved" or "rejected"; note may
 * be NULL. Under the queue lock: read, refuse unless pending (code
 * BB_EINVAL, "… is already approved"), set status, note and decided_at,
 * write. *out (if not NULL) gets the written document.
 */
int proposal_decide(const char *dir, const char *id, const char *status, const char *note, time_t now,
		    struct cJSON **out, struct bb_err *e);

/*
 * proposal_decide, with what the host did on approval recorded as "applied" (result ok, detail applied)
 * in the same write, when applied is not NULL (one line, at most 1024 bytes): a capability recorded for
 * the next resume, so the agent's answer says when it applies.
 */
int proposal_decide_applied(const char *dir, const char *id, const char *status, const char *note, const char *applied,
			    time_t now, struct cJSON **out, struct bb_err *e);

/* Record under the queue lock that an approved proposal was applied (ok) or failed to be (detail says why). */
int proposal_mark_applied(const char *dir, const char *id, int ok, const char *detail, time_t now, struct bb_err *e);

/* Every readable proposal of a directory, oldest first (created, then id). */
struct proposal_list {
	struct cJSON **docs;
	size_t n;
	size_t skipped; /* files named like proposals that failed proposal_read */
};

/* Read every DIR/ID.json. A missing directory is an empty list. */
int proposal_list_read(const char *dir, struct proposal_list *out, struct bb_err *e);
void proposal_list_free(struct proposal_list *l);

/* A one-line description of the request for people ("GET,POST api.example.com /v1/"), into out. */
void proposal_summary(const struct cJSON *doc, char *out, size_t cap);

/*
 * Merge an approved egress-block request into a plan document, in place
 * (egress.routes and dns.allow found through lib/planfile). A host without a route gets a new
 * one (origin "supervise", no credential, every DLP detector, the asked
 * methods and path prefixes as one `matches` entry); an existing route is
 * widened (the paths join its path_allowlist, a `matches` entry is added).
 * The host joins dns.allow when the plan has that list. The result is
 * checked with route_policy_parse before the function returns 1 (changed);
 * 0 means the route already allowed everything asked (doc untouched).
 * what_changed (cap bytes) says which, for the agent and the audit log.
 */
int proposal_route_merge(struct cJSON *plan, const struct cJSON *request, char *what_changed, size_t cap,
			 struct bb_err *e);

/*
 * The token slot of an approved cred-block's credential: PROPOSAL_CRED_SLOT_PREFIX and the id upper-cased
 * ('-' as '_'), so supervise (which merges the route) and the host (which holds the value) name it alike.
 */
#define PROPOSAL_CRED_SLOT_PREFIX "BB_EGRESS_TOKEN_APPROVED_"
void proposal_cred_slot(const char *id, char *out, size_t cap);

/*
 * Apply an approved proposal's change to a plan document, in place:
 * egress-block as proposal_route_merge; cred-block gives the route for its host the credential's slot
 * (auth: scheme, token_slot proposal_cred_slot(id); refused when there is no such route or it already
 * injects another credential); dlp-block adds its rule to that route's dlp.outbound_allow or
 * dlp.inbound_allow, and nothing else. Other tools change no policy (0). The result is checked with
 * route_policy_parse. 1 changed, 0 nothing to change (doc untouched), -1 with e set; what (cap bytes) says which.
 */
int proposal_policy_apply(struct cJSON *plan, const struct cJSON *doc, char *what, size_t cap, struct bb_err *e);

/*
 * The host-side directory of a bottle's queue: $BB_HOME/.bb/state/BOTTLE/supervise
 * (BB_HOME defaults to HOME), which `bb bottle start` bind-mounts into the
 * sidecar. bottle NULL gives the state root $BB_HOME/.bb/state.
 */
int proposal_host_dir(const char *bottle, char *out, size_t cap, struct bb_err *e);

/* RFC 3339 UTC ("2025-01-02T03:04:05Z") into out (at least 21 bytes). */
void proposal_timestamp(time_t t, char *out, size_t cap);

#endif
