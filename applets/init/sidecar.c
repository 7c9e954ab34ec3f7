/* sidecar.c - `bb init --sidecar`: which daemons to run (BB_SIDECAR_DAEMONS) and each one's argv (BB_<NAME>_ARGS). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applet.h"
#include "buf.h"
#include "fd.h"
#include "init.h"
#include "plan.h"

#define SIDECAR_DEFAULT_DAEMONS "egress,git-gate,git-http,supervise,dns"
#define SIDECAR_DEFAULT_POLICY "/etc/bb/plan.json"
#define SELF_EXE "/proc/self/exe"

/* BB_GIT_GATE_ARGS for git-gate. */
static void args_var_name(const char *daemon, char *out, size_t cap)
{
	size_t i, n = 0;

	n += (size_t)snprintf(out, cap, "BB_");
	for (i = 0; daemon[i] && n + 1 < cap; i++)
		out[n++] = daemon[i] == '-' ? '_' : (char)(daemon[i] >= 'a' && daemon[i] <= 'z' ? daemon[i] - 32 : daemon[i]);
	out[n] = '\0';
	if (n + 6 < cap)
		memcpy(out + n, "_ARGS", 6);
}

static int add_daemon(struct init *in, const char *name, size_t len, const char *policy, struct bb_err *e)
{
	struct init_kid *k;
	char var[INIT_NAME_MAX + 16];
	const char *args;
	size_t i;

	if (len == 0)
		return 0; /* "egress,,dns" or a trailing comma */
	if (len >= INIT_NAME_MAX)
		return bb_errf(e, BB_EINVAL, "BB_SIDECAR_DAEMONS: '%.*s' is too long", (int)len, name);
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return bb_errf(e, BB_EINVAL, "BB_SIDECAR_DAEMONS: '%.*s' is not an applet name", (int)len, name);
	if (in->nkids == INIT_MAX_KIDS)
		return bb_errf(e, BB_ETOOBIG, "BB_SIDECAR_DAEMONS: more than %d daemons", INIT_MAX_KIDS);
	k = &in->kids[in->nkids];
	memcpy(k->name, name, len);
	k->name[len] = '\0';
	if (!strcmp(k->name, "init"))
		return bb_errf(e, BB_EINVAL, "BB_SIDECAR_DAEMONS: init cannot supervise itself");
	if (!applet_find(k->name))
		return bb_errf(e, BB_EINVAL, "BB_SIDECAR_DAEMONS: no applet named '%s' (see bb --list)", k->name);
	for (i = 0; i < in->nkids; i++)
		if (!strcmp(in->kids[i].name, k->name))
			return bb_errf(e, BB_EINVAL, "BB_SIDECAR_DAEMONS: '%s' is named twice", k->name);

	k->argv_store[0] = (char *)"bb"; /* argv[0] "bb" makes the binary dispatch on argv[1] */
	k->argv_store[1] = k->name;
	args_var_name(k->name, var, sizeof var);
	args = getenv(var);
	if (args) {
		k->args_copy = strdup(args);
		if (!k->args_copy)
			return bb_errno(e, ENOMEM, "%s", var);
		if (proc_split_args(k->args_copy, k->argv_store + 2, INIT_MAX_ARGS + 1, e) < 0) {
			free(k->args_copy);
			k->args_copy = NULL;
			return bb_err_wrap(e, "%s", var);
		}
	} else {
		/* Not split: a policy path may hold spaces. */
		k->argv_store[2] = (char *)"--policy";
		k->argv_store[3] = (char *)policy;
		k->argv_store[4] = NULL;
	}
	k->argv = k->argv_store;
	k->exec_path = SELF_EXE;
	in->nkids++;
	return 0;
}

/*
 * BB_SECRETS_FD=N: the token slots come on an inherited fd (a memfd the
 * OCI backend hands over with --preserve-fds) as SLOT=VALUE lines, not in
 * the container's config.json, so no token is written to disk. They join
 * this process's environment, which the daemons inherit; the fd is closed.
 */
static int secrets_from_fd(struct bb_err *e)
{
	const char *v = getenv("BB_SECRETS_FD");
	struct buf b = BUF_INIT(1u << 20);
	char *end, *line, *save = NULL;
	long fd;
	int rc = 0;

	if (!v)
		return 0;
	fd = strtol(v, &end, 10);
	if (*end || fd < 3 || fd > 1023)
		return bb_errf(e, BB_EINVAL, "BB_SECRETS_FD=%s: not an inherited fd", v);
	/* NUL-terminated for strtok_r: a buffer holds only what was read (nothing, for a bottle without tokens). */
	if (lseek((int)fd, 0, SEEK_SET) < 0 || fd_read_all((int)fd, &b, e) < 0 || buf_append_byte(&b, 0, e) < 0) {
		rc = bb_errno(e, errno, "BB_SECRETS_FD=%ld: read", fd);
		goto out;
	}
	for (line = strtok_r(b.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq || strncmp(line, PLAN_TOKEN_SLOT_PREFIX, sizeof PLAN_TOKEN_SLOT_PREFIX - 1)) {
			rc = bb_errf(e, BB_EINVAL, "BB_SECRETS_FD: a line is not " PLAN_TOKEN_SLOT_PREFIX "N=VALUE");
			goto out;
		}
		*eq = 0;
		if (setenv(line, eq + 1, 1) < 0) {
			rc = bb_errno(e, errno, "BB_SECRETS_FD: setenv");
			goto out;
		}
	}
out:
	if (b.p)
		explicit_bzero(b.p, b.len);
	buf_free(&b);
	close((int)fd);
	unsetenv("BB_SECRETS_FD");
	return rc;
}

int init_sidecar_load(struct init *in, struct bb_err *e)
{
	const char *list = getenv("BB_SIDECAR_DAEMONS"), *policy = getenv("BB_POLICY"), *p;

	if (secrets_from_fd(e) < 0)
		return -1;

	if (!list)
		list = SIDECAR_DEFAULT_DAEMONS;
	if (!policy || !*policy)
		policy = SIDECAR_DEFAULT_POLICY;
	for (p = list;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (add_daemon(in, p, len, policy, e) < 0) {
			init_sidecar_free(in);
			return -1;
		}
		if (!end)
			break;
		p = end + 1;
	}
	if (in->nkids == 0)
		return bb_errf(e, BB_EINVAL, "BB_SIDECAR_DAEMONS names no daemon");
	return 0;
}

void init_sidecar_free(struct init *in)
{
	size_t i;

	for (i = 0; i < INIT_MAX_KIDS; i++) {
		free(in->kids[i].args_copy);
		in->kids[i].args_copy = NULL;
	}
	in->nkids = 0;
}
