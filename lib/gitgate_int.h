/* gitgate_int.h - what gitgate.c, gitgate_upload.c and gitgate_receive.c share, not for other modules. */
#ifndef BB_GITGATE_INT_H
#define BB_GITGATE_INT_H

#include "gitgate.h"

/* Log an event through the server's callback with repo and peer added; NULL-terminated key, value pairs. */
void gitgate_log(const struct gitgate_session *s, const char *event, ...) __attribute__((sentinel));

/* Take the mirror's lock (waiting up to lock_timeout_ms); 0 or -1. Held until gitgate_unlock or close. */
int gitgate_lock(struct gitgate_session *s, struct bb_err *e);
void gitgate_unlock(struct gitgate_session *s);

/*
 * Tell the client msg as a fatal error (side-band 3 once side-band is on,
 * else an ERR packet), and set e to it. Returns -1.
 */
int gitgate_fail(struct gitgate_session *s, const char *msg, struct bb_err *e);

/* A ref of the mirror, for advertisements (v0) and ls-refs (v2). */
struct gitgate_ref {
	char *name;
	git_oid oid;
	git_oid peeled; /* what an annotated tag finally points at */
	int has_peeled;
};

/* Every direct ref of the mirror, sorted by name, tags peeled; free with gitgate_refs_free. */
int gitgate_refs_list(git_repository *repo, struct gitgate_ref **out, size_t *n, struct bb_err *e);
void gitgate_refs_free(struct gitgate_ref *v, size_t n);

#endif
