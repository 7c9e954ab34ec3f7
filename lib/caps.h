/* caps.h - dropping a process's privileges for good (capability sets, securebits, no_new_privs, ids) and proving they are gone. */
#ifndef BB_CAPS_H
#define BB_CAPS_H

#include <sys/types.h>

#include "err.h"

/*
 * What the process should end as. With switch_ids, the supplementary
 * groups are cleared and the real, effective and saved ids all become
 * uid/gid; without it the ids are left alone (the capabilities still go).
 */
struct caps_target {
	int switch_ids;
	uid_t uid;
	gid_t gid;
};

/*
 * Each step below fails with an error whose message starts with the step's
 * name ("bounding set: ...") and whose code is the errno. They are exposed
 * one by one for callers that need another order; most want
 * caps_drop_privileges().
 */

/*
 * Set and lock SECBIT_NOROOT (uid 0 gains no capabilities on exec),
 * SECBIT_NO_CAP_AMBIENT_RAISE and SECBIT_KEEP_CAPS off. Needs CAP_SETPCAP,
 * so it runs first. Already-set bits are accepted.
 */
int caps_lock_securebits(struct bb_err *e);
/* Remove every capability the kernel knows from the bounding set (needs CAP_SETPCAP). */
int caps_drop_bounding(struct bb_err *e);
/* Empty the ambient set. */
int caps_clear_ambient(struct bb_err *e);
/* setgroups(0) then setresgid then setresuid (needs CAP_SETGID and CAP_SETUID). */
int caps_switch_ids(uid_t uid, gid_t gid, struct bb_err *e);
/* capset: effective, permitted and inheritable all empty. */
int caps_clear_sets(struct bb_err *e);
/* PR_SET_NO_NEW_PRIVS: exec can never grant privileges again (setuid bits, file capabilities). */
int caps_set_no_new_privs(struct bb_err *e);

/*
 * The whole sequence, in the only order that works: securebits, bounding
 * set, ambient set (while CAP_SETPCAP is still held), ids (while
 * CAP_SETUID/SETGID are), capability sets, no_new_privs; then
 * caps_verify_dropped(). Stops at the first failure.
 */
int caps_drop_privileges(const struct caps_target *t, struct bb_err *e);

/*
 * Read the state back from the kernel: effective, permitted, inheritable,
 * bounding and ambient sets empty, no_new_privs on, and with switch_ids the
 * ids and groups as asked and setuid(0) refused. 0, or -1 naming the first
 * thing still held.
 */
int caps_verify_dropped(const struct caps_target *t, struct bb_err *e);

#endif
