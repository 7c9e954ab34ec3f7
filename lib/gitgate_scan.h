/* gitgate_scan.h - the push scan: the commits a ref update brings to the gate, the lines they add, through the shared rule engine. */
#ifndef BB_GITGATE_SCAN_H
#define BB_GITGATE_SCAN_H

#include <git2.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gitgate_proto.h"
#include "scan.h"

/*
 * What is scanned for one pushed ref (old -> new), with the engine's
 * decoders on (percent-escapes, base64 and hex runs, tokens split across
 * two adjacent lines; lib/scan.h SCAN_DECODE):
 *   - the ref's name (gitgate_scan_refname, for every pushed ref);
 *   - the commits reachable from new and not from old (an update), or not
 *     from any ref the gate has (a new ref), nor from the tip of a ref
 *     found clean earlier in the same push;
 *   - of each such commit, the path of each file it adds or changes and
 *     the lines it adds against its first parent (a root commit: all its
 *     lines); a binary file (added or changed) is scanned whole, as bytes;
 *     paths on the engine's path allowlist are skipped, exact renames add
 *     nothing. For a merge, a file whose new content is exactly the other
 *     parent's is skipped (those lines were scanned, or were already on
 *     the gate, with that parent's commits);
 *   - the message, author and committer of each such commit (findings
 *     name the path "commit message");
 *   - the name and message of each annotated tag object new to the gate
 *     on the way from new to the commit it names.
 * A secret added and removed in the same push is still found: the commit
 * that added it is scanned.
 * Fail closed: what cannot be scanned whole (a blob over
 * GITGATE_BLOB_MAX, encodings nested deeper than the decoders go, more
 * lines than the line map holds) makes gitgate_scan_ref fail, naming it.
 */

#define GITGATE_FINDINGS_MAX 50
#define GITGATE_PATH_SHOW 256
#define GITGATE_BLOB_MAX (100u << 20) /* bytes of one file the scan reads; a larger one is refused */
#define GITGATE_SPANS_MAX 16          /* secrets in one name that are redacted when it is shown */

struct gitgate_finding {
	char object[GITGATE_OID_HEX + 1]; /* the commit (or tag object) that adds it */
	char path[GITGATE_PATH_SHOW];     /* the file; "tag NAME" for a tag message; "commit message" */
	unsigned line;                    /* in the new file (or the tag message) */
	char rule[64];
	char excerpt[SCAN_EXCERPT_MAX + 1]; /* the engine's: the secret itself redacted */
};

struct gitgate_scan_stats {
	size_t commits, tags, files, lines;
	uint64_t bytes;
};

struct gitgate_scan {
	git_repository *repo;       /* sees the pushed objects (the mirror's plus the quarantine's) */
	git_repository *mirror;     /* the gate's refs and its own objects: what it already has */
	git_odb *known;             /* mirror's object database */
	const struct scan_engine *eng;
	struct scan_stream *st;
	struct gitgate_scan_stats stats;
	/* Findings of the last gitgate_scan_ref call. */
	struct gitgate_finding findings[GITGATE_FINDINGS_MAX];
	size_t nfindings;
	int truncated;              /* stopped at GITGATE_FINDINGS_MAX */
	/* Tips of refs found clean earlier in this push: hidden from later walks. */
	git_oid *clean;
	size_t nclean, clean_cap;
	git_odb *odb;               /* repo's object database: blob sizes before reading them */
	/* The file being scanned (its path as it may be shown: secrets in it redacted). */
	const char *cur_object_hex;
	char cur_path[GITGATE_PATH_SHOW];
	/* A name being scanned: where its secrets are, to redact them when it is shown. */
	int collect_spans;
	size_t nspans;
	struct {
		uint64_t off;
		size_t len;
	} spans[GITGATE_SPANS_MAX];
	int cur_skip;
	uint32_t *linemap;          /* stream line (0-based) -> line in the new file */
	int identity_lines;         /* the stream is the whole file: its lines are the file's */
	size_t nlines, lines_cap;
	struct bb_err err;
	int failed;
};

/* Start a scan of the objects repo sees, against what mirror already has. 0 or -1. */
int gitgate_scan_init(struct gitgate_scan *s, git_repository *repo, git_repository *mirror,
		      const struct scan_engine *eng, struct bb_err *e);
void gitgate_scan_free(struct gitgate_scan *s);

/*
 * Scan a name the client sends besides objects: a pushed ref's name (every
 * ref of a push, before anything logs it, label "ref name"), a push option
 * ("push option"). Fills s->findings (reset first; their path is label);
 * shown (cap bytes) gets the name with each secret in it replaced by
 * [REDACTED], the form logs and messages may show. Returns the number of
 * findings (0: clean), or -1 with e when it could not be scanned whole.
 */
int gitgate_scan_name(struct gitgate_scan *s, const char *label, const char *name, char *shown, size_t cap,
		      struct bb_err *e);

/*
 * Scan ref refname moving from old (NULL: a new ref) to new_oid. Fills
 * s->findings (reset first). Returns 0 when the scan ran (clean when
 * s->nfindings == 0; the tip is then remembered as clean), -1 with e when
 * it could not (a missing object, new not leading to a commit).
 */
int gitgate_scan_ref(struct gitgate_scan *s, const char *refname, const git_oid *old, const git_oid *new_oid,
		     struct bb_err *e);

/*
 * An engine for one repo: the built-in rules, then rules_path (a rules
 * file for every repo) and repo_rules_path (that repo's rules and
 * allowlists), each optional (NULL or ""). Finished, ready for streams.
 */
int gitgate_scan_engine_build(const char *rules_path, const char *repo_rules_path, struct scan_engine **out,
			      struct bb_err *e);

/*
 * Whether every object in qodb (the pushed pack, as indexed into the
 * quarantine) is either one the gate already has (in mirror) or reachable
 * from tips through objects the gate does not have: commits not reachable
 * from mirror's refs, their new trees and blobs, and the tag objects on
 * the way from a tip to its commit. Only then may the client's pack be
 * forwarded as it is; a pack with anything else (an object no pushed ref
 * reaches, one a refused ref needed) must be rebuilt from what was
 * accepted. *covered is set to 1 or 0; returns 0, or -1 with e.
 */
int gitgate_pack_covered(git_repository *repo, git_repository *mirror, git_odb *qodb, const git_oid *tips, size_t ntips,
			 int *covered, struct bb_err *e);

#endif
