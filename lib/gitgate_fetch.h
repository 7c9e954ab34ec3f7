/* gitgate_fetch.h - what a fetch sends, for v0 and v2 alike: shallow boundaries, the objects (filters, tags), and the pack written from the mirror's own packs. */
#ifndef BB_GITGATE_FETCH_H
#define BB_GITGATE_FETCH_H

#include <git2.h>
#include <stdint.h>

#include "gitgate_int.h"
#include "gitgate_proto.h"
#include "oidmap.h"

#define GITGATE_INFINITE_DEPTH 0x7fffffff /* "deepen 2147483647": git's --unshallow */

/*
 * A growable list of object names, capped at max. An indexed list (made so
 * by gitgate_oids_index) answers gitgate_oids_has from a hash table, for the
 * lists a client fills (wants, haves, shallow lines: up to 100000 each).
 */
struct gitgate_oids {
	git_oid *v;
	size_t n, cap, max;
	int indexed;
	struct oidmap idx;
};

#define GITGATE_OIDS(max) { NULL, 0, 0, (max), 0, { NULL, 0, 0, 0, 0 } }

void gitgate_oids_index(struct gitgate_oids *l);
int gitgate_oids_add(struct gitgate_oids *l, const git_oid *id, struct bb_err *e);
int gitgate_oids_has(const struct gitgate_oids *l, const git_oid *id);
void gitgate_oids_free(struct gitgate_oids *l);

/*
 * One fetch: the client's request (the same in v0, where it comes as
 * capabilities and lines before the haves, and in v2's fetch command),
 * then what the gate works out from it.
 */
struct gitgate_fetch {
	/* asked */
	struct gitgate_oids wants;
	struct gitgate_oids common;     /* haves the mirror has, as commits */
	struct gitgate_oids shallow;    /* the client's shallow commits that the mirror has */
	struct gitgate_oids deepen_not; /* "deepen-not REF", resolved */
	unsigned depth;                 /* "deepen N"; 0 when not asked */
	int deepen_relative;
	uint64_t deepen_since;          /* "deepen-since T"; 0 when not asked */
	struct gitgate_filter filter;   /* filter.n == 0: none */
	int thin, ofs_delta, include_tag;
	/* worked out by gitgate_fetch_shallow */
	struct gitgate_oids new_shallow; /* "shallow X" lines: commits whose parents are not sent */
	struct gitgate_oids unshallow;   /* "unshallow X" lines: client shallows whose parents now are */
	struct oidmap grafts;            /* commits whose parents the walk does not follow */
	struct gitgate_oids edges;       /* the unshallowed commits: the client has them */
};

void gitgate_fetch_init(struct gitgate_fetch *f);
void gitgate_fetch_free(struct gitgate_fetch *f);

/* Whether the request asks for shallow work (a deepen, or a client that is shallow). */
int gitgate_fetch_is_shallow(const struct gitgate_fetch *f);
/* Whether it asks to deepen (then the shallow lines are sent). */
int gitgate_fetch_deepens(const struct gitgate_fetch *f);

/*
 * Resolve a "deepen-not" argument as git does (the name as given, then
 * refs/, refs/tags/, refs/heads/, refs/remotes/, refs/remotes/NAME/HEAD):
 * exactly one must match. Adds the commit to f->deepen_not. -1 with a
 * message for the client.
 */
int gitgate_fetch_deepen_not(git_repository *repo, struct gitgate_fetch *f, struct sv name, struct bb_err *e);

/*
 * The shallow boundary (upload-pack's semantics): for "deepen N" the
 * commits at depth N from the wants (relative: N + 1 from the client's
 * shallow commits), for "deepen-since"/"deepen-not" the border of the
 * commits newer than T and not reachable from the excluded refs; for
 * --unshallow every client shallow. Fills new_shallow, unshallow (whose
 * parents join the wants) and the grafts the object walk respects.
 * -1 with a message for the client (no commit selected).
 */
int gitgate_fetch_shallow(git_repository *repo, struct gitgate_fetch *f, struct bb_err *e);

/*
 * Whether every wanted commit has a common commit among its ancestors
 * (v2's "ready": the pack can be made now). Bounded: answers 0 for
 * requests too big to check cheaply.
 */
int gitgate_fetch_ready(git_repository *repo, const struct gitgate_fetch *f);

/*
 * The objects to send: commits reachable from the wants and not from the
 * common commits (nor past a graft), their trees and blobs less what the
 * client has (the trees of the commits on the border) and less what the
 * filter leaves out, wanted objects of any type (always, whatever the
 * filter), annotated tags on the way, and with include_tag the tags
 * pointing at anything sent. objs gets one flag per object (see
 * GITGATE_OBJ_*), list the names to send.
 */
#define GITGATE_OBJ_SEND 1u /* in the pack */
#define GITGATE_OBJ_HAVE 2u /* the client has it (a thin pack may use it as a base) */
int gitgate_fetch_objects(git_repository *repo, const struct gitgate_fetch *f, struct oidmap *objs,
			  struct gitgate_oids *list, struct bb_err *e);

/* What gitgate_fetch_pack did, for the log. */
struct gitgate_pack_stats {
	size_t objects, reused, reused_deltas, inflated;
	uint64_t bytes;
};

/*
 * Write the pack of list to write(): each object's bytes are copied from
 * the mirror's packs where they are (a delta too when its base is in this
 * pack before it, or the client has it and asked for a thin pack), else
 * the whole object is read through libgit2 and compressed. Deltas are
 * written as OFS_DELTA when ofs_delta, else REF_DELTA. Each reused entry's
 * CRC is checked against the index. The trailer is the SHA-1 of it all.
 */
typedef int (*gitgate_pack_write_fn)(void *arg, const void *p, size_t n, struct bb_err *e);
int gitgate_fetch_pack(git_repository *repo, const char *mirror_path, const struct gitgate_fetch *f,
		       struct oidmap *objs, const struct gitgate_oids *list, gitgate_pack_write_fn write, void *arg,
		       struct gitgate_pack_stats *st, struct bb_err *e);

/* ---- the protocol side (gitgate_upload.c), shared by v0 and v2 ---- */

/* A "want": any object the mirror has; -1 "not our ref" otherwise. */
int gitgate_fetch_want(struct gitgate_session *s, struct gitgate_fetch *f, const char *hex, struct bb_err *e);
/* A "have": 1 when it is a commit the mirror has and new to the common list (to be ACKed), else 0; -1 on error. */
int gitgate_fetch_have(struct gitgate_session *s, struct gitgate_fetch *f, const char *hex, struct bb_err *e);
/* A shallow, deepen, deepen-since, deepen-not or filter line: 1 when it was one, 0 when not, -1 with a message for the client. */
int gitgate_fetch_line(struct gitgate_session *s, struct gitgate_fetch *f, struct sv line, struct bb_err *e);
/* Work out the shallow boundary and queue its "shallow X" and "unshallow X" lines. */
int gitgate_fetch_shallow_lines(struct gitgate_session *s, struct gitgate_fetch *f, struct bb_err *e);
/* The objects, the pack on the negotiated side-band, a flush, the "fetch" log line. Errors are told to the client. */
int gitgate_fetch_send(struct gitgate_session *s, struct gitgate_fetch *f, const char *proto, struct bb_err *e);

#endif
