/* gitgate_proto.h - the git protocol's text lines, parsed as pure functions: daemon request, want/have, push commands, capabilities. */
#ifndef BB_GITGATE_PROTO_H
#define BB_GITGATE_PROTO_H

#include "buf.h"
#include "err.h"

/* Object names are SHA-1 only (object-format=sha1): 40 lower-case hex digits. */
#define GITGATE_OID_HEX 40
#define GITGATE_ZERO_OID "0000000000000000000000000000000000000000"

enum gitgate_service { GITGATE_UPLOAD_PACK, GITGATE_RECEIVE_PACK };

/* "git-upload-pack" / "git-receive-pack" to a service; -1 with BB_EINVAL for anything else. */
int gitgate_service_parse(struct sv name, enum gitgate_service *out, struct bb_err *e);
/* The wire name of a service ("git-upload-pack"). */
const char *gitgate_service_name(enum gitgate_service s);

/*
 * The first packet of a git:// connection (git daemon's request):
 *   "git-upload-pack /path\0host=HOST[:PORT]\0" [ "\0" "version=2\0" ... ]
 * The host part and the extra parameters are optional (old clients send
 * neither). Views point into payload.
 */
struct gitgate_request {
	enum gitgate_service service;
	struct sv path;
	struct sv host;    /* empty when absent */
	unsigned version;  /* 0, or the number of a "version=N" extra parameter */
};

/*
 * Parse it. A trailing "\n" after the path is tolerated (some clients sent
 * one). Refused (BB_EINVAL): unknown service, no path, a path that does not
 * start with '/', a path with control characters, "..", or a malformed
 * host= or extra parameter section.
 */
int gitgate_request_parse(struct sv payload, struct gitgate_request *r, struct bb_err *e);

/* Whether s is exactly 40 lower-case hex digits. */
int gitgate_oid_hex_ok(struct sv s);

/*
 * A "VERB OID[ REST]" line (want, have, shallow): the verb and one space,
 * 40 hex digits, then nothing or a space and the rest (capabilities on the
 * first want). oid gets the hex NUL-terminated. Returns 0, or -1 with
 * BB_EINVAL when the line is not that verb or the name is malformed.
 */
int gitgate_oid_line_parse(struct sv line, const char *verb, char oid[GITGATE_OID_HEX + 1], struct sv *rest,
			   struct bb_err *e);

/* One push command: "OLD NEW REFNAME[\0CAPS]" (the capabilities only on the first). */
struct gitgate_command {
	char old_oid[GITGATE_OID_HEX + 1];
	char new_oid[GITGATE_OID_HEX + 1];
	struct sv ref;  /* into the line */
	struct sv caps; /* empty when there were none */
};

/*
 * Parse a command line (a trailing "\n" is allowed). The ref name must be
 * non-empty, start with "refs/", and hold no spaces or control bytes (the
 * full check-ref-format rules are applied by the caller with libgit2).
 * Both ids zero is refused. Returns 0 or -1 with BB_EINVAL.
 */
int gitgate_command_parse(struct sv line, struct gitgate_command *c, struct bb_err *e);

/* Whether an id is the all-zero one (a create's old, a delete's new). */
int gitgate_oid_is_zero(const char *hex);

/*
 * Capabilities are space-separated words, some "name=value". has: the
 * word name or name=... is present. value: its value (empty for a bare
 * word); returns 1 when found, else 0.
 */
int gitgate_caps_has(struct sv caps, const char *name);
int gitgate_caps_value(struct sv caps, const char *name, struct sv *value);

/*
 * A partial clone's object filter (git's list-objects-filter spec, the
 * "filter SPEC" line): blob:none, blob:limit=N (k, m, g suffixes),
 * tree:DEPTH, object:type=commit|tree|blob|tag, and combine:A+B+... of
 * those (each %-encoded). sparse:oid= needs a sparse-checkout engine and is
 * refused, as is anything else.
 */
enum gitgate_filter_kind {
	GITGATE_FILTER_BLOB_NONE,
	GITGATE_FILTER_BLOB_LIMIT, /* value: blobs of this size or more are left out */
	GITGATE_FILTER_TREE_DEPTH, /* value: trees and blobs this deep or deeper (the root tree is 0) are left out */
	GITGATE_FILTER_OBJECT_TYPE /* value: the one type kept (1 commit, 2 tree, 3 blob, 4 tag, as in a pack) */
};

#define GITGATE_FILTER_MAX 8

struct gitgate_filter {
	size_t n; /* 0: no filter; more than 1: all must keep an object */
	struct {
		enum gitgate_filter_kind kind;
		uint64_t value;
	} f[GITGATE_FILTER_MAX];
};

/* Parse spec into f; 0, or -1 with BB_EINVAL and a message the client can be shown. */
int gitgate_filter_parse(struct sv spec, struct gitgate_filter *f, struct bb_err *e);

#endif
