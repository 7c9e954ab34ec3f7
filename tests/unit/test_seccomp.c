/* test_seccomp.c - lib/seccomp: the one deny list (numbers and names), the installed filter, and the profile the OCI and Docker backends send. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp.h"
#include "t.h"

static int listed(const char *name)
{
	size_t i;
	for (i = 0; i < seccomp_agent_ndenied; i++)
		if (!strcmp(seccomp_agent_denied[i].name, name))
			return 1;
	return 0;
}

static void the_list_has_names_and_numbers(void)
{
	size_t i, j;
	T_CHECK(seccomp_agent_ndenied > 30);
	for (i = 0; i < seccomp_agent_ndenied; i++) {
		T_CHECK(seccomp_agent_denied[i].name && seccomp_agent_denied[i].name[0]);
		T_CHECK(seccomp_agent_denied[i].nr >= 0);
		for (j = 0; j < i; j++)
			T_CHECK(seccomp_agent_denied[i].nr != seccomp_agent_denied[j].nr);
	}
	T_CHECK(listed("mount") && listed("ptrace") && listed("unshare") && listed("setns") && listed("bpf") &&
		listed("kexec_load") && listed("keyctl") && listed("pivot_root"));
	for (i = 0; i < seccomp_agent_ndenied; i++)
		if (!strcmp(seccomp_agent_denied[i].name, "mount"))
			T_CHECK(seccomp_agent_denied[i].nr == SYS_mount);
	T_CHECK(!listed("clone") && !listed("read") && !listed("execve"));
}

/* In a child: install, then each refused call fails as documented. */
static void the_filter_refuses_them(void)
{
	pid_t pid = fork();
	int st = 0;
	if (pid == 0) {
		struct bb_err e;
		int bad = 0;
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (seccomp_agent_install(&e) < 0)
			_exit(10);
		if (unshare(CLONE_NEWUSER) == 0 || errno != EPERM)
			bad |= 1;
		if (mount("x", "/tmp", "tmpfs", 0, NULL) == 0 || errno != EPERM)
			bad |= 2;
		if (syscall(SYS_clone, (unsigned long)CLONE_NEWNET, 0, 0, 0, 0) == 0 || errno != EPERM)
			bad |= 4;
#ifdef SYS_clone3
		if (syscall(SYS_clone3, NULL, 0) == 0 || errno != ENOSYS)
			bad |= 8;
#endif
		if (getpid() <= 0) /* an allowed call still works */
			bad |= 16;
		_exit(bad);
	}
	T_CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		printf("#   child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
}

/* The profile the OCI and Docker backends send: the same list, clone's namespace flags one rule each, clone3 ENOSYS. */
static void the_profile_holds_the_list(void)
{
	cJSON *p = seccomp_agent_profile(), *calls, *r, *names;
	int clone_rules = 0, clone3 = 0, listed_all = 0;
	unsigned long flags = 0;
	T_CHECK(p != NULL);
	T_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(p, "defaultAction")), "SCMP_ACT_ALLOW");
	T_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(p, "architectures")) == 1);
	calls = cJSON_GetObjectItem(p, "syscalls");
	cJSON_ArrayForEach(r, calls)
	{
		const char *first;
		names = cJSON_GetObjectItem(r, "names");
		first = cJSON_GetStringValue(cJSON_GetArrayItem(names, 0));
		T_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(r, "action")), "SCMP_ACT_ERRNO");
		if (first && !strcmp(first, "clone")) {
			const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "args"), 0);
			T_CHECK(cJSON_GetObjectItem(r, "errnoRet")->valueint == EPERM);
			T_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(a, "op")), "SCMP_CMP_MASKED_EQ");
			flags |= (unsigned long)cJSON_GetObjectItem(a, "value")->valuedouble;
			clone_rules++;
		} else if (first && !strcmp(first, "clone3")) {
			T_CHECK(cJSON_GetObjectItem(r, "errnoRet")->valueint == ENOSYS);
			clone3++;
		} else {
			size_t i;
			T_CHECK(cJSON_GetObjectItem(r, "errnoRet")->valueint == EPERM);
			T_CHECK(cJSON_GetArraySize(names) == (int)seccomp_agent_ndenied);
			for (i = 0; i < seccomp_agent_ndenied; i++)
				T_STREQ(cJSON_GetStringValue(cJSON_GetArrayItem(names, (int)i)), seccomp_agent_denied[i].name);
			listed_all++;
		}
	}
	T_CHECK(listed_all == 1 && clone3 == 1 && clone_rules == 7 && flags == SECCOMP_NS_CLONE_FLAGS);
	cJSON_Delete(p);
}

int main(void)
{
	T_RUN(the_list_has_names_and_numbers);
	T_RUN(the_filter_refuses_them);
	T_RUN(the_profile_holds_the_list);
	T_END();
}
