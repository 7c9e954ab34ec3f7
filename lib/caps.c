/* caps.c - privilege dropping over raw prctl/capset (musl ships no kernel headers, so the ABI values are here). */
#include "caps.h"

#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* linux/capability.h and linux/securebits.h: stable kernel ABI. */
#define CAPS_ABI_VERSION_3 0x20080522u
#define CAPS_MAX_PROBE 64 /* far above the last capability any kernel defines (40 in 6.x) */

struct caps_abi_header {
	uint32_t version;
	int pid;
};

struct caps_abi_data {
	uint32_t effective;
	uint32_t permitted;
	uint32_t inheritable;
};

#define SECBIT_NOROOT (1u << 0)
#define SECBIT_NOROOT_LOCKED (1u << 1)
#define SECBIT_KEEP_CAPS (1u << 4)
#define SECBIT_KEEP_CAPS_LOCKED (1u << 5)
#define SECBIT_NO_CAP_AMBIENT_RAISE (1u << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED (1u << 7)

#define SECBITS_WANTED                                                                        \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | \
	 SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

int caps_lock_securebits(struct bb_err *e)
{
	int cur = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	unsigned want;

	/*
	 * A kernel with no securebits at all (gVisor's Sentry) answers EINVAL.
	 * What they lock is still locked there: the bounding set is emptied
	 * next and no_new_privs set, so no exec, setuid or not, can bring a
	 * capability back (caps_verify_dropped proves both).
	 */
	if (cur < 0 && errno == EINVAL)
		return 0;
	if (cur < 0)
		return bb_errno(e, errno, "securebits: PR_GET_SECUREBITS");
	if (((unsigned)cur & SECBITS_WANTED) == SECBITS_WANTED && !((unsigned)cur & SECBIT_KEEP_CAPS))
		return 0;
	want = ((unsigned)cur | SECBITS_WANTED) & ~SECBIT_KEEP_CAPS;
	if (prctl(PR_SET_SECUREBITS, (unsigned long)want, 0, 0, 0) < 0)
		return bb_errno(e, errno, "securebits: PR_SET_SECUREBITS");
	return 0;
}

int caps_drop_bounding(struct bb_err *e)
{
	int cap;

	for (cap = 0; cap < CAPS_MAX_PROBE; cap++) {
		int r = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);

		if (r < 0 && errno == EINVAL)
			return 0; /* past the last capability this kernel knows */
		if (r < 0)
			return bb_errno(e, errno, "bounding set: reading capability %d", cap);
		if (r == 1 && prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0)
			return bb_errno(e, errno, "bounding set: dropping capability %d", cap);
	}
	return 0;
}

int caps_clear_ambient(struct bb_err *e)
{
	/* EINVAL: a kernel without ambient capabilities (gVisor), where none can be held. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return bb_errno(e, errno, "ambient set: PR_CAP_AMBIENT_CLEAR_ALL");
	return 0;
}

int caps_switch_ids(uid_t uid, gid_t gid, struct bb_err *e)
{
	if (setgroups(0, NULL) < 0)
		return bb_errno(e, errno, "groups: setgroups to none");
	if (setresgid(gid, gid, gid) < 0)
		return bb_errno(e, errno, "gid: setresgid %u", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return bb_errno(e, errno, "uid: setresuid %u", (unsigned)uid);
	return 0;
}

int caps_clear_sets(struct bb_err *e)
{
	struct caps_abi_header h = { CAPS_ABI_VERSION_3, 0 };
	struct caps_abi_data d[2] = { { 0, 0, 0 }, { 0, 0, 0 } };

	if (syscall(SYS_capset, &h, d) < 0)
		return bb_errno(e, errno, "capabilities: capset to empty");
	return 0;
}

int caps_set_no_new_privs(struct bb_err *e)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return bb_errno(e, errno, "no_new_privs: PR_SET_NO_NEW_PRIVS");
	return 0;
}

int caps_drop_privileges(const struct caps_target *t, struct bb_err *e)
{
	if (caps_lock_securebits(e) < 0 || caps_drop_bounding(e) < 0 || caps_clear_ambient(e) < 0)
		return -1;
	if (t->switch_ids && caps_switch_ids(t->uid, t->gid, e) < 0)
		return -1;
	if (caps_clear_sets(e) < 0 || caps_set_no_new_privs(e) < 0)
		return -1;
	return caps_verify_dropped(t, e);
}

int caps_verify_dropped(const struct caps_target *t, struct bb_err *e)
{
	struct caps_abi_header h = { CAPS_ABI_VERSION_3, 0 };
	struct caps_abi_data d[2];
	int cap, r;

	if (syscall(SYS_capget, &h, d) < 0)
		return bb_errno(e, errno, "verify: capget");
	if (d[0].effective | d[1].effective | d[0].permitted | d[1].permitted | d[0].inheritable | d[1].inheritable)
		return bb_errf(e, EPERM, "verify: capabilities still held (effective %08x%08x, permitted %08x%08x)",
			       d[1].effective, d[0].effective, d[1].permitted, d[0].permitted);
	for (cap = 0; cap < CAPS_MAX_PROBE; cap++) {
		r = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);
		if (r < 0)
			break;
		if (r == 1)
			return bb_errf(e, EPERM, "verify: capability %d still in the bounding set", cap);
		r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, (unsigned long)cap, 0, 0);
		if (r == 1)
			return bb_errf(e, EPERM, "verify: capability %d still in the ambient set", cap);
	}
	if (cap == 0)
		return bb_errno(e, errno, "verify: reading the bounding set");
	r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (r != 1)
		return bb_errf(e, EPERM, "verify: no_new_privs is not set");
	if (t->switch_ids) {
		uid_t ru, eu, su;
		gid_t rg, eg, sg;

		if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
			return bb_errno(e, errno, "verify: reading ids");
		if (ru != t->uid || eu != t->uid || su != t->uid || rg != t->gid || eg != t->gid || sg != t->gid)
			return bb_errf(e, EPERM, "verify: ids are uid %u/%u/%u gid %u/%u/%u, not %u/%u", (unsigned)ru,
				       (unsigned)eu, (unsigned)su, (unsigned)rg, (unsigned)eg, (unsigned)sg,
				       (unsigned)t->uid, (unsigned)t->gid);
		if (getgroups(0, NULL) != 0)
			return bb_errf(e, EPERM, "verify: supplementary groups remain");
		/* The proof that matters: the way back to root is closed. */
		if (t->uid != 0 && setuid(0) == 0)
			return bb_errf(e, EPERM, "verify: setuid(0) succeeded");
	}
	return 0;
}
