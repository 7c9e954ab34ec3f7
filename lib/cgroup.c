/* cgroup.c - per-side cgroups: finding each controller's hierarchy, limits, joining, removal. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"

#define LINE_MAX_CG 4096

/* Does the list `words` (separated by commas, spaces or newlines) hold word w? */
static int has_word(const char *words, const char *w)
{
	size_t n = strlen(w);
	const char *p = words;
	while ((p = strstr(p, w)) != NULL) {
		if ((p == words || strchr(", \n", p[-1])) && (p[n] == 0 || strchr(", \n", p[n])))
			return 1;
		p += n;
	}
	return 0;
}

/* The caller's cgroup path in the v1 hierarchy holding ctl, or the v2 one (ctl NULL). 0 or -1. */
static int own_path(const char *ctl, char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[LINE_MAX_CG];
	int rc = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		size_t n;
		if (!c2)
			continue;
		*c2 = 0;
		if (ctl ? !has_word(c1 + 1, ctl) : strcmp(line, "0") != 0 || c1[1] != 0)
			continue;
		n = strcspn(c2 + 1, "\n");
		if (n >= cap)
			break;
		memcpy(out, c2 + 1, n);
		out[n] = 0;
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

/*
 * The directory of the caller's cgroup for ctl: from /proc/self/mountinfo,
 * the v2 mount when its root offers ctl, else the v1 mount carrying ctl.
 */
static int find_dir(const char *ctl, char *dir, size_t cap, int *v2)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[LINE_MAX_CG], v1mnt[PATH_MAX] = "", v1root[PATH_MAX] = "", v2mnt[PATH_MAX] = "", v2root[PATH_MAX] = "";
	char own[PATH_MAX], path[PATH_MAX + 64];
	const char *mnt, *root;
	size_t rl;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *sep = strstr(line, " - "), *fs, *src, *sopts, *f4, *f5, *save = NULL;
		if (!sep)
			continue;
		*sep = 0;
		fs = strtok_r(sep + 3, " ", &save);
		src = strtok_r(NULL, " ", &save);
		sopts = strtok_r(NULL, " \n", &save);
		(void)src;
		save = NULL;
		strtok_r(line, " ", &save);
		strtok_r(NULL, " ", &save);
		strtok_r(NULL, " ", &save);
		f4 = strtok_r(NULL, " ", &save);
		f5 = strtok_r(NULL, " ", &save);
		if (!fs || !f4 || !f5)
			continue;
		if (!strcmp(fs, "cgroup2") && !v2mnt[0]) {
			snprintf(v2mnt, sizeof v2mnt, "%s", f5);
			snprintf(v2root, sizeof v2root, "%s", f4);
		} else if (!strcmp(fs, "cgroup") && sopts && has_word(sopts, ctl) && !v1mnt[0]) {
			snprintf(v1mnt, sizeof v1mnt, "%s", f5);
			snprintf(v1root, sizeof v1root, "%s", f4);
		}
	}
	fclose(f);
	*v2 = 0;
	if (v2mnt[0] && own_path(NULL, own, sizeof own) == 0) {
		struct buf b = BUF_INIT(4096);
		struct bb_err e;
		int offers;
		snprintf(path, sizeof path, "%s/cgroup.controllers", v2mnt);
		offers = fd_read_file(path, 4096, &b, &e) == 0 && buf_append(&b, "", 1, &e) == 0 && has_word(b.p, ctl);
		buf_free(&b);
		if (offers) {
			*v2 = 1;
			mnt = v2mnt;
			root = v2root;
			goto join;
		}
	}
	if (!v1mnt[0] || own_path(ctl, own, sizeof own) < 0)
		return -1;
	mnt = v1mnt;
	root = v1root;
join:
	/* A mount of a sub-hierarchy (containers) shows the part of our path below its root. */
	rl = strlen(root);
	if (strcmp(root, "/") && !strncmp(own, root, rl) && (own[rl] == '/' || own[rl] == 0))
		memmove(own, own + rl, strlen(own + rl) + 1);
	if ((size_t)snprintf(dir, cap, "%s%s", mnt, strcmp(own, "/") ? own : "") >= cap)
		return -1;
	return 0;
}

static int write_str(const char *dir, const char *file, const char *val, struct bb_err *e)
{
	char path[PATH_MAX + 300];
	int fd;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return bb_errno(e, errno, "cgroup: open %s", path);
	if (write(fd, val, strlen(val)) < 0) {
		int err = errno;
		close(fd);
		return bb_errno(e, err, "cgroup: write %s to %s", val, path);
	}
	close(fd);
	return 0;
}

static void make_one(struct cgroup_ctl *c, const char *ctl, const char *name, char *why, size_t cap)
{
	char parent[PATH_MAX];
	size_t used = strlen(why);
	c->dir[0] = 0;
	c->made = 0;
	if (find_dir(ctl, parent, sizeof parent, &c->v2) < 0) {
		snprintf(why + used, cap - used, "%s%s: no hierarchy offers it", used ? "; " : "", ctl);
		return;
	}
	snprintf(c->dir, sizeof c->dir, "%s/%s", parent, name);
	if (mkdir(c->dir, 0755) < 0 && errno != EEXIST) {
		snprintf(why + used, cap - used, "%s%s: cannot create %s: %s", used ? "; " : "", ctl, c->dir, strerror(errno));
		c->dir[0] = 0;
		return;
	}
	c->made = 1;
	if (c->v2) {
		/* v2 hands a controller to children only when the parent's subtree_control names it. */
		char want[32], path[PATH_MAX + 300];
		struct buf b = BUF_INIT(4096);
		struct bb_err e;
		int have;
		snprintf(path, sizeof path, "%s/cgroup.controllers", c->dir);
		have = fd_read_file(path, 4096, &b, &e) == 0 && buf_append(&b, "", 1, &e) == 0 && has_word(b.p, ctl);
		buf_free(&b);
		snprintf(want, sizeof want, "+%s", ctl);
		if (!have && write_str(parent, "cgroup.subtree_control", want, &e) < 0) {
			snprintf(why + used, cap - used, "%s%s: %s", used ? "; " : "", ctl, e.msg);
			rmdir(c->dir);
			c->dir[0] = 0;
			c->made = 0;
		}
	}
}

int cgroup_make(struct cgroup *cg, const char *name, char *why, size_t cap)
{
	if (cap)
		why[0] = 0;
	make_one(&cg->mem, "memory", name, why, cap);
	make_one(&cg->pids, "pids", name, why, cap);
	return 0;
}

int cgroup_set_memory(struct cgroup *cg, long long bytes, struct bb_err *e)
{
	char v[32];
	if (!cg->mem.dir[0])
		return bb_errf(e, BB_ELIB, "cgroup: no memory controller");
	snprintf(v, sizeof v, "%lld", bytes);
	if (cg->mem.v2) {
		if (write_str(cg->mem.dir, "memory.max", v, e) < 0)
			return -1;
		write_str(cg->mem.dir, "memory.swap.max", "0", e); /* no swap to spill into; absent without swap accounting */
		return 0;
	}
	if (write_str(cg->mem.dir, "memory.limit_in_bytes", v, e) < 0)
		return -1;
	{
		char p[PATH_MAX + 300];
		snprintf(p, sizeof p, "%s/memory.memsw.limit_in_bytes", cg->mem.dir);
		if (access(p, F_OK) == 0 && write_str(cg->mem.dir, "memory.memsw.limit_in_bytes", v, e) < 0)
			return -1;
	}
	return 0;
}

int cgroup_set_pids(struct cgroup *cg, long max, struct bb_err *e)
{
	char v[32];
	if (!cg->pids.dir[0])
		return bb_errf(e, BB_ELIB, "cgroup: no pids controller");
	snprintf(v, sizeof v, "%ld", max);
	return write_str(cg->pids.dir, "pids.max", v, e);
}

int cgroup_add(struct cgroup *cg, pid_t pid, struct bb_err *e)
{
	char v[24];
	snprintf(v, sizeof v, "%d", (int)pid);
	if (cg->mem.dir[0] && write_str(cg->mem.dir, "cgroup.procs", v, e) < 0)
		return -1;
	if (cg->pids.dir[0] && write_str(cg->pids.dir, "cgroup.procs", v, e) < 0)
		return -1;
	return 0;
}

/* SIGKILL every process listed in dir/cgroup.procs; how many were listed. */
static int kill_procs(const char *dir)
{
	char path[PATH_MAX + 300], line[32];
	FILE *f;
	int n = 0;
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		long pid = strtol(line, NULL, 10);
		if (pid > 0) {
			kill((pid_t)pid, SIGKILL);
			n++;
		}
	}
	fclose(f);
	return n;
}

static int remove_one(struct cgroup_ctl *c, struct bb_err *e)
{
	int i;
	if (!c->made || !c->dir[0])
		return 0;
	for (i = 0; i < 100; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		if (rmdir(c->dir) == 0 || errno == ENOENT) {
			c->made = 0;
			return 0;
		}
		if (errno != EBUSY)
			break;
		kill_procs(c->dir);
		nanosleep(&ts, NULL);
	}
	return bb_errno(e, errno, "cgroup: remove %s", c->dir);
}

int cgroup_remove(struct cgroup *cg, struct bb_err *e)
{
	int a = remove_one(&cg->mem, e), b = remove_one(&cg->pids, e);
	return a < 0 || b < 0 ? -1 : 0;
}

/* In the caller's cgroup for ctl: remove bb-PID-* whose PID is gone. */
static int cleanup_ctl(const char *ctl, char *found, size_t cap, struct bb_err *e)
{
	char parent[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int v2, n = 0;
	if (find_dir(ctl, parent, sizeof parent, &v2) < 0)
		return 0;
	d = opendir(parent);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		struct cgroup_ctl c = { "", v2, 1 };
		char *end;
		long pid;
		size_t used;
		if (strncmp(de->d_name, CGROUP_PREFIX, sizeof CGROUP_PREFIX - 1))
			continue;
		pid = strtol(de->d_name + sizeof CGROUP_PREFIX - 1, &end, 10);
		if (pid <= 0 || *end != '-' || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(c.dir, sizeof c.dir, "%s/%s", parent, de->d_name);
		if (remove_one(&c, e) < 0)
			continue;
		used = strlen(found);
		snprintf(found + used, cap - used, "%s\n", c.dir);
		n++;
	}
	closedir(d);
	return n;
}

int cgroup_cleanup_stale(char *found, size_t cap, struct bb_err *e)
{
	if (cap)
		found[0] = 0;
	return cleanup_ctl("memory", found, cap, e) + cleanup_ctl("pids", found, cap, e);
}
