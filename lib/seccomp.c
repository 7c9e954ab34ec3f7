/* seccomp.c - the agent's deny-list filter as classic BPF. */
#include "seccomp.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define BB_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define BB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "seccomp: add this architecture's AUDIT_ARCH"
#endif

#define D(x) { SYS_##x, #x }
const struct seccomp_denied seccomp_agent_denied[] = {
	D(mount), D(umount2), D(pivot_root), D(chroot), D(unshare), D(setns),
#ifdef SYS_open_tree
	D(open_tree), D(move_mount), D(fsopen), D(fsconfig), D(fsmount), D(fspick),
#endif
#ifdef SYS_mount_setattr
	D(mount_setattr),
#endif
	D(ptrace), D(process_vm_readv), D(process_vm_writev), D(kexec_load),
#ifdef SYS_kexec_file_load
	D(kexec_file_load),
#endif
	D(init_module), D(finit_module), D(delete_module), D(bpf), D(perf_event_open), D(userfaultfd),
	D(keyctl), D(add_key), D(request_key), D(reboot), D(swapon), D(swapoff), D(settimeofday),
	D(clock_settime), D(clock_adjtime), D(adjtimex), D(acct), D(quotactl), D(open_by_handle_at),
	D(name_to_handle_at), D(syslog), D(lookup_dcookie),
#ifdef SYS_iopl
	D(iopl), D(ioperm),
#endif
#ifdef SYS_fanotify_init
	D(fanotify_init),
#endif
};
#undef D
const size_t seccomp_agent_ndenied = sizeof seccomp_agent_denied / sizeof seccomp_agent_denied[0];

#define NS_CLONE_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)
_Static_assert(NS_CLONE_FLAGS == SECCOMP_NS_CLONE_FLAGS, "seccomp.h's copy of the namespace clone flags");

int seccomp_agent_install(struct bb_err *e)
{
	/* arch check, x32 check, clone flags, the list, allow. */
	struct sock_filter prog[8 + 2 * (sizeof seccomp_agent_denied / sizeof seccomp_agent_denied[0]) + 8];
	struct sock_fprog fp;
	size_t n = 0, i;

	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BB_AUDIT_ARCH, 1, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1); /* x32 ABI */
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
	for (i = 0; i < seccomp_agent_ndenied; i++) {
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)seccomp_agent_denied[i].nr, 0, 1);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	}
	/* clone/clone3 creating namespaces: clone's flags are argument 0; clone3 hides them in a struct, so it is refused outright (libcs fall back to clone). */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_CLONE_FLAGS, 0, 1);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
#ifdef SYS_clone3
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
#endif
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	fp.len = (unsigned short)n;
	fp.filter = prog;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) < 0)
		return bb_errno(e, errno, "seccomp filter");
	return 0;
}

/* One masked-equal rule per namespace flag (rules are ORed); see seccomp.h. */
cJSON *seccomp_agent_profile(void)
{
	static const unsigned long ns_flags[] = { 0x00020000UL, 0x02000000UL, 0x04000000UL, 0x08000000UL,
						  0x10000000UL, 0x20000000UL, 0x40000000UL };
	cJSON *sc = cJSON_CreateObject(), *arches, *calls, *rule, *names;
	size_t i;
	_Static_assert((0x00020000UL | 0x02000000UL | 0x04000000UL | 0x08000000UL | 0x10000000UL | 0x20000000UL |
			0x40000000UL) == SECCOMP_NS_CLONE_FLAGS,
		       "one rule per namespace flag");
	cJSON_AddStringToObject(sc, "defaultAction", "SCMP_ACT_ALLOW");
	arches = cJSON_AddArrayToObject(sc, "architectures");
#if defined(__x86_64__)
	cJSON_AddItemToArray(arches, cJSON_CreateString("SCMP_ARCH_X86_64"));
#elif defined(__aarch64__)
	cJSON_AddItemToArray(arches, cJSON_CreateString("SCMP_ARCH_AARCH64"));
#endif
	calls = cJSON_AddArrayToObject(sc, "syscalls");
	rule = cJSON_CreateObject();
	names = cJSON_AddArrayToObject(rule, "names");
	for (i = 0; i < seccomp_agent_ndenied; i++)
		cJSON_AddItemToArray(names, cJSON_CreateString(seccomp_agent_denied[i].name));
	cJSON_AddStringToObject(rule, "action", "SCMP_ACT_ERRNO");
	cJSON_AddNumberToObject(rule, "errnoRet", EPERM);
	cJSON_AddItemToArray(calls, rule);
	for (i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++) {
		cJSON *args, *arg;
		rule = cJSON_CreateObject();
		cJSON_AddItemToArray(cJSON_AddArrayToObject(rule, "names"), cJSON_CreateString("clone"));
		cJSON_AddStringToObject(rule, "action", "SCMP_ACT_ERRNO");
		cJSON_AddNumberToObject(rule, "errnoRet", EPERM);
		args = cJSON_AddArrayToObject(rule, "args");
		arg = cJSON_CreateObject();
		cJSON_AddNumberToObject(arg, "index", 0);
		cJSON_AddNumberToObject(arg, "value", (double)ns_flags[i]);
		cJSON_AddNumberToObject(arg, "valueTwo", (double)ns_flags[i]);
		cJSON_AddStringToObject(arg, "op", "SCMP_CMP_MASKED_EQ");
		cJSON_AddItemToArray(args, arg);
		cJSON_AddItemToArray(calls, rule);
	}
	rule = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(rule, "names"), cJSON_CreateString("clone3"));
	cJSON_AddStringToObject(rule, "action", "SCMP_ACT_ERRNO");
	cJSON_AddNumberToObject(rule, "errnoRet", ENOSYS);
	cJSON_AddItemToArray(calls, rule);
	return sc;
}
