/* seccomp.h - the agent's system-call filter: what a coding agent never needs is refused with EPERM. */
#ifndef BB_SECCOMP_H
#define BB_SECCOMP_H
#include <stddef.h>

#include "err.h"

/*
 * A deny list, not an allow list: agents run compilers, interpreters and
 * test suites whose needs are open-ended, so the filter refuses only what
 * changes the system or widens the sandbox: mounts and new mount APIs,
 * pivot_root/chroot, namespace creation and entry (unshare, setns, clone
 * with namespace flags), ptrace and process_vm_*, kexec, modules, bpf,
 * perf_event_open, userfaultfd, keyrings, reboot, swap, clock setting,
 * acct, quotactl, handle-based opens, iopl/ioperm, syslog. Another
 * architecture than the one bb was built for is killed (a 32-bit syscall
 * table would bypass the list), as are x32 calls.
 */

/* One refused system call: its number here and its name (the OCI runtime spec names them, libseccomp style). */
struct seccomp_denied {
	int nr;
	const char *name;
};

/*
 * The one list: the BPF filter below and the profile the OCI and Docker
 * backends hand their runtime (seccomp_agent_profile) are built from it.
 */
extern const struct seccomp_denied seccomp_agent_denied[];
extern const size_t seccomp_agent_ndenied;

/*
 * Namespace-creating clone flags: clone with any of them is refused
 * (EPERM); clone3, whose flags the filter cannot see, fails with ENOSYS
 * so libcs fall back to clone.
 */
#define SECCOMP_NS_CLONE_FLAGS 0x7e020000UL /* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET */

/*
 * The same list as a libseccomp-style profile (a cJSON object the caller
 * deletes, NULL when out of memory): defaultAction SCMP_ACT_ALLOW, the
 * calls refused with EPERM, clone with any namespace flag refused, clone3
 * ENOSYS, only the native architecture (libseccomp kills the others and
 * x32). The OCI runtime spec's linux.seccomp and the Docker Engine's
 * seccomp profile (HostConfig.SecurityOpt seccomp=...) share this format:
 * host/oci.c and host/docker.c both send it.
 */
struct cJSON *seccomp_agent_profile(void);

/*
 * Install the filter on the calling thread, inherited across fork and exec.
 * Needs no_new_privs or CAP_SYS_ADMIN. 0, or -1 with e set.
 */
int seccomp_agent_install(struct bb_err *e);

#endif
