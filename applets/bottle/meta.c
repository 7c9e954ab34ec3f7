/* meta.c - a bottle's metadata (meta.json in its host-only dir): slug, agent, workspace, backend, host process, status. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bottle.h"
#include "buf.h"
#include "fd.h"
#include "image.h"
#include "json.h"
#include "manifest.h"
#include "proc.h"

#define META_FILE "meta.json"
#define META_MAX (64u << 10)

/* $BB_HOME/.bb/SUB (created 0700 with its parent when create is set). */
static int bb_subdir(const char *sub, char *out, size_t cap, int create, struct bb_err *e)
{
	const char *home = getenv("BB_HOME");
	int n;

	if (!home || !*home)
		home = getenv("HOME");
	if (!home || !*home)
		return bb_errf(e, BB_EINVAL, "neither BB_HOME nor HOME is set: no place for bottle state");
	n = snprintf(out, cap, "%s/.bb", home);
	if (n < 0 || (size_t)n + strlen(sub) + 2 >= cap)
		return bb_errf(e, BB_ETOOBIG, "state path under %s is too long", home);
	if (create && mkdir(out, 0700) < 0 && errno != EEXIST)
		return bb_errno(e, errno, "create %s", out);
	snprintf(out + n, cap - (size_t)n, "/%s", sub);
	if (create && mkdir(out, 0700) < 0 && errno != EEXIST)
		return bb_errno(e, errno, "create %s", out);
	return 0;
}

int bottle_state_root(char *out, size_t cap, int create, struct bb_err *e)
{
	return bb_subdir("state", out, cap, create, e);
}

static int slug_ok(const char *slug, struct bb_err *e)
{
	if (!*slug || slug[0] == '.' || strchr(slug, '/') || strlen(slug) >= BOTTLE_SLUG_MAX)
		return bb_errf(e, BB_EINVAL, "'%s' is not a bottle slug (see 'bb bottle list')", slug);
	return 0;
}

int bottle_host_dir(const char *slug, int create, char *out, size_t cap, struct bb_err *e)
{
	char root[4096];
	int n;

	if (slug_ok(slug, e) < 0 || bb_subdir("host", root, sizeof root, create, e) < 0)
		return -1;
	n = snprintf(out, cap, "%s/%s", root, slug);
	if (n < 0 || (size_t)n >= cap)
		return bb_errf(e, BB_ETOOBIG, "host path for %s is too long", slug);
	if (create && mkdir(out, 0700) < 0 && errno != EEXIST)
		return bb_errno(e, errno, "create %s", out);
	return 0;
}

int bottle_state_dir(const char *slug, char *out, size_t cap, struct bb_err *e)
{
	char root[4096];
	int n;

	if (slug_ok(slug, e) < 0 || bottle_state_root(root, sizeof root, 0, e) < 0)
		return -1;
	n = snprintf(out, cap, "%s/%s", root, slug);
	if (n < 0 || (size_t)n >= cap)
		return bb_errf(e, BB_ETOOBIG, "state path for %s is too long", slug);
	return 0;
}

void bottle_slug_new(const char *name, char out[BOTTLE_SLUG_MAX])
{
	unsigned char r[3] = { 0 };
	size_t got = 0;

	while (got < sizeof r) { /* getrandom on a booted kernel does not fail for 3 bytes; retry EINTR */
		ssize_t k = getrandom(r + got, sizeof r - got, 0);
		if (k > 0)
			got += (size_t)k;
		else if (errno != EINTR)
			break;
	}
	snprintf(out, BOTTLE_SLUG_MAX, "%.80s-%02x%02x%02x", name, r[0], r[1], r[2]);
}

static void put_str(cJSON *o, const char *k, const char *v)
{
	cJSON_AddStringToObject(o, k, v);
}

int bottle_meta_write(const struct bottle_meta *m, struct bb_err *e)
{
	char dir[4096], path[4200];
	struct buf b = BUF_INIT(META_MAX);
	cJSON *o;
	int rc = -1;

	if (bottle_host_dir(m->slug, 1, dir, sizeof dir, e) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/" META_FILE, dir);
	o = cJSON_CreateObject();
	if (!o)
		return bb_errf(e, ENOMEM, "out of memory");
	put_str(o, "slug", m->slug);
	put_str(o, "identity", m->slug); /* bot-bottle's name for it */
	put_str(o, "agent", m->agent);
	put_str(o, "cwd", m->cwd);
	cJSON_AddBoolToObject(o, "copy_cwd", m->copy_cwd);
	put_str(o, "started_at", m->started_at);
	put_str(o, "backend", m->backend);
	put_str(o, "runtime", m->runtime);
	put_str(o, "kernel", m->kernel);
	cJSON_AddBoolToObject(o, "bare", m->bare);
	put_str(o, "command", m->command);
	put_str(o, "image", m->image);
	put_str(o, "status", m->status);
	cJSON_AddNumberToObject(o, "host_pid", m->host_pid);
	cJSON_AddNumberToObject(o, "host_start", (double)m->host_start);
	put_str(o, "boot_id", m->boot_id);
	cJSON_AddNumberToObject(o, "exit_code", m->exit_code);
	if (json_print(o, &b, e) == 0 && buf_append(&b, "\n", 1, e) == 0 &&
	    (strcmp(m->command, "run") ? fd_write_file_atomic(path, b.p, b.len, 0600, e)
				       : fd_write_file_replace(path, b.p, b.len, 0600, e)) == 0) /* a run's goes with it */
		rc = 0;
	cJSON_Delete(o);
	buf_free(&b);
	return rc;
}

static void get_str(const cJSON *o, const char *k, char *out, size_t cap)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
	snprintf(out, cap, "%s", v ? v : "");
}

static int get_int(const cJSON *o, const char *k, int dflt)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	return cJSON_IsNumber(v) ? v->valueint : dflt;
}

/* A field of meta.json that is not what bb writes there: the record is refused, naming it. */
static int meta_field_ok(const struct bottle_meta *m, const char **bad)
{
	static const char *const statuses[] = { "running", "stopped", NULL }, *const commands[] = { "start", "run", NULL },
				 *const backends[] = { "embedded", "oci", "docker", "vm", NULL };
	const char *const *k;
	struct bb_err ignore;
	const char *c;

	for (k = statuses; *k && strcmp(*k, m->status); k++)
		;
	if (!*k)
		return *bad = "status", 0;
	for (k = commands; *k && strcmp(*k, m->command); k++)
		;
	if (!*k)
		return *bad = "command", 0;
	for (k = backends; *k && strcmp(*k, m->backend); k++)
		;
	if (!*k)
		return *bad = "backend", 0;
	if (!manifest_name_ok(m->agent, strlen(m->agent)))
		return *bad = "agent", 0;
	if (m->cwd[0] != '/')
		return *bad = "cwd", 0;
	for (c = m->cwd; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return *bad = "cwd", 0;
	if (m->image[0] && img_name_check(m->image, &ignore) < 0)
		return *bad = "image", 0;
	for (c = m->started_at; *c; c++)
		if (!strchr("0123456789-:TZ.", *c))
			return *bad = "started_at", 0;
	return 1;
}

int bottle_meta_read(const char *slug, struct bottle_meta *m, struct bb_err *e)
{
	char dir[4096], path[4200];
	struct buf b = BUF_INIT(META_MAX);
	const char *bad = NULL;
	const cJSON *start;
	cJSON *o;

	if (bottle_host_dir(slug, 0, dir, sizeof dir, e) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/" META_FILE, dir);
	if (fd_read_file(path, META_MAX, &b, e) < 0) {
		buf_free(&b);
		if (e && e->code == ENOENT)
			return bb_errf(e, ENOENT, "no bottle '%s' (see 'bb bottle list')", slug);
		return -1;
	}
	o = json_parse(path, b.p ? b.p : "", b.len, e);
	buf_free(&b);
	if (!o)
		return -1;
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return bb_errf(e, BB_EINVAL, "%s: not a JSON object", path);
	}
	memset(m, 0, sizeof *m);
	snprintf(m->slug, sizeof m->slug, "%s", slug); /* the directory names it, whatever the file says */
	get_str(o, "agent", m->agent, sizeof m->agent);
	get_str(o, "cwd", m->cwd, sizeof m->cwd);
	get_str(o, "started_at", m->started_at, sizeof m->started_at);
	get_str(o, "backend", m->backend, sizeof m->backend);
	get_str(o, "runtime", m->runtime, sizeof m->runtime);
	get_str(o, "kernel", m->kernel, sizeof m->kernel);
	get_str(o, "status", m->status, sizeof m->status);
	get_str(o, "command", m->command, sizeof m->command);
	get_str(o, "image", m->image, sizeof m->image);
	get_str(o, "boot_id", m->boot_id, sizeof m->boot_id);
	m->bare = cJSON_IsTrue(cJSON_GetObjectItem(o, "bare"));
	m->copy_cwd = cJSON_IsTrue(cJSON_GetObjectItem(o, "copy_cwd"));
	m->host_pid = get_int(o, "host_pid", 0);
	start = cJSON_GetObjectItem(o, "host_start");
	m->host_start = cJSON_IsNumber(start) && start->valuedouble >= 0 ? (unsigned long long)start->valuedouble : 0;
	m->exit_code = get_int(o, "exit_code", -1);
	cJSON_Delete(o);
	if (!meta_field_ok(m, &bad))
		return bb_errf(e, BB_EINVAL, "%s: %s is not a value bb writes there: refused", path, bad);
	if (!strcmp(m->status, "running") && bottle_host_alive(m) != 1)
		snprintf(m->status, sizeof m->status, "dead");
	return 0;
}

int bottle_host_alive(const struct bottle_meta *m)
{
	return proc_signal_identified(m->host_pid, m->host_start, m->boot_id, 0, NULL);
}

int bottle_host_signal(const struct bottle_meta *m, int sig, struct bb_err *e)
{
	return proc_signal_identified(m->host_pid, m->host_start, m->boot_id, sig, e);
}

int bottle_host_identify(struct bottle_meta *m, struct bb_err *e)
{
	m->host_pid = (int)getpid();
	if (proc_start_time(getpid(), &m->host_start, e) < 0 || proc_boot_id(m->boot_id, sizeof m->boot_id, e) < 0)
		return bb_err_wrap(e, "this process's identity");
	return 0;
}

static int meta_cmp(const void *a, const void *b)
{
	const struct bottle_meta *x = a, *y = b;
	int c = strcmp(x->started_at, y->started_at);
	return c ? c : strcmp(x->slug, y->slug);
}

int bottle_meta_list(struct bottle_meta **out, size_t *n, struct bb_err *e)
{
	char root[4096];
	struct bottle_meta *v = NULL;
	size_t cap = 0;
	DIR *d;
	struct dirent *de;

	*out = NULL;
	*n = 0;
	if (bb_subdir("host", root, sizeof root, 0, e) < 0)
		return -1;
	d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : bb_errno(e, errno, "open %s", root);
	while ((de = readdir(d)) != NULL) {
		struct bb_err ignored = { 0 };
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			struct bottle_meta *nv = realloc(v, (cap ? cap * 2 : 8) * sizeof *v);
			if (!nv) {
				closedir(d);
				free(v);
				*n = 0;
				return bb_errf(e, ENOMEM, "out of memory");
			}
			v = nv;
			cap = cap ? cap * 2 : 8;
		}
		if (bottle_meta_read(de->d_name, &v[*n], &ignored) == 0) /* no meta.json: not a bottle (yet) */
			(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof *v, meta_cmp);
	*out = v;
	return 0;
}

void bottle_age(const char *iso, long long now, char *out, size_t cap)
{
	struct tm tm = { 0 };
	long s;

	if (!iso || !strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(out, cap, "?");
		return;
	}
	s = (long)(now - timegm(&tm));
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, cap, "%lds", s);
	else if (s < 7200)
		snprintf(out, cap, "%ldm", s / 60);
	else if (s < 172800)
		snprintf(out, cap, "%ldh", s / 3600);
	else
		snprintf(out, cap, "%ldd", s / 86400);
}

int bottle_dialer_policy(const char *slug, int create, char *out, size_t cap, struct bb_err *e)
{
	char dir[4096];
	int n;

	if (bottle_host_dir(slug, create, dir, sizeof dir, e) < 0)
		return -1;
	n = snprintf(out, cap, "%s/dialer.json", dir);
	if (n < 0 || (size_t)n >= cap)
		return bb_errf(e, BB_ETOOBIG, "dialer path too long");
	return 0;
}
