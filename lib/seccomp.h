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

/* The syscall numbers refused (for tests and docs). */
extern const int seccomp_agent_denied[];
extern const size_t seccomp_agent_ndenied;

/*
 * Install the filter on the calling thread, inherited across fork and exec.
 * Needs no_new_privs or CAP_SYS_ADMIN. 0, or -1 with e set.
 */
int seccomp_agent_install(struct bb_err *e);

#endif
