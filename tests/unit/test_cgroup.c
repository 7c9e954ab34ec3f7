/* test_cgroup.c - lib/cgroup: a pids limit that holds, removal, and cleanup of a dead bottle's cgroups (root and a writable hierarchy needed). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "t.h"

static int have_pids;

static void pids_limit_holds_and_goes_away(void)
{
	struct cgroup cg;
	struct bb_err e;
	char name[64], why[256];
	int p[2], r[2], st;
	unsigned char n = 255;
	pid_t kid;
	snprintf(name, sizeof name, "bb-test-%d", (int)getpid());
	memset(&cg, 0, sizeof cg);
	cgroup_make(&cg, name, why, sizeof why);
	if (!cg.pids.dir[0]) {
		printf("# no pids hierarchy here: %s\n", why);
		cgroup_remove(&cg, &e);
		return;
	}
	have_pids = 1;
	T_CHECK(cgroup_set_pids(&cg, 4, &e) == 0);
	T_CHECK(pipe(p) == 0 && pipe(r) == 0);
	kid = fork();
	if (kid == 0) {
		/* Wait until moved, then fork until refused: 4 tasks at most (this one included). */
		char c;
		unsigned char made = 0;
		int i;
		setpgid(0, 0);
		close(p[1]);
		close(r[0]);
		if (read(p[0], &c, 1) != 1)
			_exit(100);
		for (i = 0; i < 10; i++) {
			pid_t g = fork();
			if (g == 0) {
				pause();
				_exit(0);
			}
			if (g < 0)
				break;
			made++;
		}
		(void)!write(r[1], &made, 1);
		kill(0, SIGKILL); /* its own process group: the forked sleepers and itself */
		_exit(0);
	}
	close(p[0]);
	close(r[1]);
	if (kid > 0)
		setpgid(kid, kid);
	T_CHECK(kid > 0 && cgroup_add(&cg, kid, &e) == 0);
	(void)!write(p[1], "g", 1);
	close(p[1]);
	T_CHECK(read(r[0], &n, 1) == 1);
	close(r[0]);
	T_CHECK(waitpid(kid, &st, 0) == kid);
	/* pids.max 4: the child and 3 more; the 4th fork is refused. */
	T_CHECK(n == 3);
	if (n != 3)
		printf("#   forks made: %u\n", n);
	T_CHECK(cgroup_remove(&cg, &e) == 0);
	T_CHECK(access(cg.pids.dir, F_OK) < 0 && errno == ENOENT);
}

static void cleanup_removes_a_dead_bottles_cgroup(void)
{
	struct cgroup cg;
	struct bb_err e;
	char name[64], why[256], found[4096], path[PATH_MAX + 300];
	pid_t dead = fork();
	int st;
	if (dead == 0)
		_exit(0);
	waitpid(dead, &st, 0);
	if (!have_pids)
		return;
	snprintf(name, sizeof name, CGROUP_PREFIX "%d-agent", (int)dead);
	memset(&cg, 0, sizeof cg);
	cgroup_make(&cg, name, why, sizeof why);
	T_CHECK(cg.pids.dir[0]);
	snprintf(path, sizeof path, "%s", cg.pids.dir);
	T_CHECK(cgroup_cleanup_stale(found, sizeof found, &e) >= 1);
	T_CHECK(strstr(found, name) != NULL);
	T_CHECK(access(path, F_OK) < 0);
	/* One of a live process stays. */
	snprintf(name, sizeof name, CGROUP_PREFIX "%d-agent", (int)getpid());
	memset(&cg, 0, sizeof cg);
	cgroup_make(&cg, name, why, sizeof why);
	cgroup_cleanup_stale(found, sizeof found, &e);
	T_CHECK(strstr(found, name) == NULL && access(cg.pids.dir, F_OK) == 0);
	T_CHECK(cgroup_remove(&cg, &e) == 0);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("# not root: cgroup cases skipped\n");
		return 0;
	}
	T_RUN(pids_limit_holds_and_goes_away);
	T_RUN(cleanup_removes_a_dead_bottles_cgroup);
	T_END();
}
