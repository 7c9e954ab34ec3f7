/* agentimage.c - agent_provider.dockerfile: the context tar and its name, the build on a Docker Engine, the import. */
#include "agentimage.h"

#include <bearssl.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "docker.h"
#include "fd.h"
#include "hex.h"
#include "tar.h"

/* ---------- the context ---------- */

struct walk {
	struct tar_writer w;
	br_sha256_context h;
	unsigned long long bytes, size;
	unsigned entries;
	const char *root; /* for messages */
};

static int tap(const void *p, size_t n, void *arg)
{
	struct walk *k = arg;
	br_sha256_update(&k->h, p, n);
	k->size += n;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every name in the directory dfd but . and .., sorted; *n of them (caller frees each and the array). */
static char **dir_names(int dfd, size_t *n, const char *rel, struct bb_err *e)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **v = NULL;
	size_t cap = 0;
	struct dirent *de;

	*n = 0;
	if (!d) {
		bb_errno(e, errno, "agent_provider.dockerfile: the context directory %s", rel[0] ? rel : ".");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap) {
			char **nv = realloc(v, (cap ? cap * 2 : 32) * sizeof *v);
			if (!nv)
				goto oom;
			v = nv;
			cap = cap ? cap * 2 : 32;
		}
		if (!(v[*n] = strdup(de->d_name)))
			goto oom;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof *v, cmp_names);
	return v ? v : calloc(1, sizeof *v);
oom:
	closedir(d);
	while (*n)
		free(v[--*n]);
	free(v);
	bb_errno(e, ENOMEM, "agent_provider.dockerfile: the context");
	return NULL;
}

/* The members under directory dfd (its path in the tar: rel, "" for the root), depth-first in name order. */
static int walk_dir(struct walk *k, int dfd, const char *rel, int depth, struct bb_err *e)
{
	size_t n, i;
	char **names = dir_names(dfd, &n, rel, e);
	int rc = -1;

	if (!names)
		return -1;
	if (depth > AI_CONTEXT_MAX_DEPTH) {
		bb_errf(e, BB_ETOOBIG, "agent_provider.dockerfile: the context under %s nests deeper than %d directories",
			k->root, AI_CONTEXT_MAX_DEPTH);
		goto out;
	}
	for (i = 0; i < n; i++) {
		char path[TAR_PATH_MAX + 1];
		struct stat st;
		struct tar_meta m = { 0 };
		int fd;

		if (snprintf(path, sizeof path, "%s%s%s", rel, rel[0] ? "/" : "", names[i]) >= (int)sizeof path) {
			bb_errf(e, BB_ETOOBIG, "agent_provider.dockerfile: a path in the context is longer than %d bytes",
				TAR_PATH_MAX);
			goto out;
		}
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			bb_errno(e, errno, "agent_provider.dockerfile: the context's %s", path);
			goto out;
		}
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
			continue; /* fifos, sockets, devices: nothing a build copies */
		if (++k->entries > AI_CONTEXT_MAX_ENTRIES) {
			bb_errf(e, BB_ETOOBIG, "agent_provider.dockerfile: the context %s holds more than %u entries", k->root,
				AI_CONTEXT_MAX_ENTRIES);
			goto out;
		}
		m.mode = st.st_mode & 07777;
		if (S_ISLNK(st.st_mode)) {
			char target[TAR_PATH_MAX + 1];
			ssize_t t = readlinkat(dfd, names[i], target, sizeof target - 1);
			if (t < 0) {
				bb_errno(e, errno, "agent_provider.dockerfile: the context's %s", path);
				goto out;
			}
			target[t] = 0;
			if (tar_add_symlink(&k->w, path, target, &m, e) < 0)
				goto out;
			continue;
		}
		fd = openat(dfd, names[i],
			    (S_ISDIR(st.st_mode) ? O_DIRECTORY : O_NONBLOCK) | O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 || fstat(fd, &st) < 0) {
			bb_errno(e, errno, "agent_provider.dockerfile: the context's %s", path);
			fd_close(fd);
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			int r = tar_add_dir(&k->w, path, &m, e) < 0 ? -1 : walk_dir(k, fd, path, depth + 1, e);
			close(fd);
			if (r < 0)
				goto out;
			continue;
		}
		if (!S_ISREG(st.st_mode)) { /* replaced between the two looks */
			close(fd);
			continue;
		}
		k->bytes += (unsigned long long)st.st_size;
		if (k->bytes > AI_CONTEXT_MAX_BYTES) {
			close(fd);
			bb_errf(e, BB_ETOOBIG, "agent_provider.dockerfile: the context %s is larger than %llu bytes", k->root,
				AI_CONTEXT_MAX_BYTES);
			goto out;
		}
		if (tar_add_file_fd(&k->w, path, &m, fd, (uint64_t)st.st_size, e) < 0) {
			close(fd);
			goto out;
		}
		close(fd);
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* dockerfile's directory into dir and its last component into base. */
static int split_path(const char *dockerfile, char dir[PATH_MAX], char base[NAME_MAX + 1], struct bb_err *e)
{
	const char *slash = strrchr(dockerfile, '/');
	if (dockerfile[0] != '/' || !slash || !slash[1] || strlen(slash + 1) > NAME_MAX || strlen(dockerfile) >= PATH_MAX)
		return bb_errf(e, BB_EINVAL, "agent_provider.dockerfile: '%s' is not an absolute path to a file", dockerfile);
	memcpy(dir, dockerfile, (size_t)(slash - dockerfile));
	dir[slash - dockerfile] = 0;
	if (!dir[0])
		memcpy(dir, "/", 2);
	memcpy(base, slash + 1, strlen(slash + 1) + 1);
	return 0;
}

int agentimage_context(const char *dockerfile, int out_fd, char name[IMG_NAME_MAX + 1], unsigned long long *size,
		       struct bb_err *e)
{
	char dir[PATH_MAX], base[NAME_MAX + 1], hex[65];
	unsigned char sum[32];
	struct walk k = { .root = dir };
	struct stat st;
	int dfd, null = -1, rc = -1;

	if (split_path(dockerfile, dir, base, e) < 0)
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return bb_errno(e, errno, "agent_provider.dockerfile %s: its directory", dockerfile);
	/* The Dockerfile itself must be a regular file in it, not a link out of it. */
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		bb_errno(e, errno, "agent_provider.dockerfile %s", dockerfile);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		bb_errf(e, BB_EINVAL, "agent_provider.dockerfile %s: not a regular file (a link or a directory is refused)",
			dockerfile);
		goto out;
	}
	if (out_fd < 0 && (null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		bb_errno(e, errno, "open /dev/null");
		goto out;
	}
	br_sha256_init(&k.h);
	tar_writer_init(&k.w, out_fd >= 0 ? out_fd : null, tap, &k);
	if (walk_dir(&k, dfd, "", 0, e) < 0 || tar_finish(&k.w, e) < 0)
		goto out;
	br_sha256_out(&k.h, sum);
	hex_encode(sum, sizeof sum, hex);
	snprintf(name, IMG_NAME_MAX + 1, "%s%.24s", AI_NAME_PREFIX, hex);
	*size = k.size;
	rc = 0;
out:
	fd_close(null);
	close(dfd);
	return rc;
}

/* ---------- the build ---------- */

/* The build's answer: one JSON document a line; "stream" lines go to note, an "error" fails the build. */
static int build_answer(const char *dockerfile, const struct buf *body, img_note_fn note, void *arg, struct bb_err *e)
{
	const char *p = body->p ? body->p : "", *end = p + body->len;
	int rc = 0;

	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		cJSON *doc = cJSON_ParseWithLength(p, (size_t)(le - p));
		const char *s = doc ? cJSON_GetStringValue(cJSON_GetObjectItem(doc, "stream")) : NULL;
		const char *err = doc ? cJSON_GetStringValue(cJSON_GetObjectItem(doc, "error")) : NULL;
		if (s && note) {
			char line[512];
			size_t n = strcspn(s, "\n");
			if (n) {
				snprintf(line, sizeof line, "build: %.*s", (int)(n < 400 ? n : 400), s);
				note(arg, line);
			}
		}
		if (err) {
			size_t n = strlen(err);
			while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
				n--;
			rc = bb_errf(e, BB_ELIB, "agent_provider.dockerfile %s: the build failed: %.*s", dockerfile,
				     (int)(n < 600 ? n : 600), err);
		}
		cJSON_Delete(doc);
		p = le + 1;
	}
	return rc;
}

/* name percent-encoded for a query string (the Dockerfile's name). */
static void query_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	for (; *s && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._-~", c))
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
	}
	out[o] = 0;
}

static int build_and_import(const struct dk_client *d, const char *dockerfile, int ctx_fd, unsigned long long size,
			    const char *name, img_note_fn note, void *arg, struct bb_err *e)
{
	char base[NAME_MAX + 1], dir[PATH_MAX], qbase[3 * NAME_MAX + 1], path[4 * NAME_MAX + 128], tag[64];
	char tmp[] = "/var/tmp/bb-agentimage-XXXXXX";
	struct img_import_opts io = { .name = name, .note = note, .note_arg = arg };
	char got[IMG_NAME_MAX + 1];
	struct dk_reply r;
	int out = -1, rc = -1;

	if (split_path(dockerfile, dir, base, e) < 0)
		return -1;
	query_escape(base, qbase, sizeof qbase);
	snprintf(tag, sizeof tag, "%s%s", AI_TAG_PREFIX, name + strlen(AI_NAME_PREFIX));
	snprintf(path, sizeof path, "/build?t=%s&dockerfile=%s&rm=1&forcerm=1", tag, qbase);
	if (lseek(ctx_fd, 0, SEEK_SET) < 0)
		return bb_errno(e, errno, "agent_provider.dockerfile: the context");
	if (note) {
		char line[PATH_MAX + 64];
		snprintf(line, sizeof line, "building %s (image %s, a %llu-byte context)", dockerfile, name, size);
		note(arg, line);
	}
	if (dk_call(d, "POST", path, "application/x-tar", NULL, (size_t)size, ctx_fd, &r, e) < 0) {
		buf_free(&r.body);
		return bb_err_wrap(e, "agent_provider.dockerfile %s", dockerfile);
	}
	rc = build_answer(dockerfile, &r.body, note, arg, e);
	buf_free(&r.body);
	if (rc < 0)
		return -1;
	rc = -1;
	out = mkstemp(tmp);
	if (out < 0)
		return bb_errno(e, errno, "agent_provider.dockerfile: a file for the exported image in /var/tmp");
	snprintf(path, sizeof path, "/images/%s/get", tag);
	if (dk_call_to_fd(d, "GET", path, out, AI_EXPORT_MAX_BYTES, e) < 0) {
		bb_err_wrap(e, "agent_provider.dockerfile %s: export the built image", dockerfile);
		goto done;
	}
	if (img_import(tmp, &io, got, sizeof got, e) < 0) {
		char probe[PATH_MAX];
		struct bb_err e2 = { 0 };
		/* Another bottle imported the same build meanwhile: that one is as good. */
		if (img_rootfs_path(name, probe, sizeof probe, &e2) == 0)
			rc = 0;
		else
			bb_err_wrap(e, "agent_provider.dockerfile %s: import the built image", dockerfile);
		goto done;
	}
	rc = 0;
done:
	close(out);
	unlink(tmp);
	snprintf(path, sizeof path, "/images/%s", tag);
	{
		struct bb_err e3 = { 0 };
		struct dk_reply rr;
		/* The engine's copy is not needed any more: the imported rootfs is what bb keeps. */
		if (dk_call(d, "DELETE", path, NULL, NULL, 0, -1, &rr, &e3) < 0 && note)
			note(arg, e3.msg);
		buf_free(&rr.body);
	}
	return rc;
}

int agentimage_ensure(const char *dockerfile, const char *docker_host, char name[IMG_NAME_MAX + 1], int *built,
		      img_note_fn note, void *note_arg, struct bb_err *e)
{
	char probe[PATH_MAX];
	unsigned long long size = 0;
	struct bb_err e2 = { 0 };
	struct dk_client d;
	int ctx, rc = -1;

	*built = 0;
	ctx = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (ctx < 0)
		return bb_errno(e, errno, "agent_provider.dockerfile: a file for the build context in /var/tmp");
	if (agentimage_context(dockerfile, ctx, name, &size, e) < 0)
		goto out;
	if (img_rootfs_path(name, probe, sizeof probe, &e2) == 0) {
		rc = 0; /* built from this very Dockerfile and context before */
		goto out;
	}
	if (dk_client_init(&d, docker_host, e) < 0 || dk_connect(&d, e) < 0) {
		char why[sizeof e->msg];
		snprintf(why, sizeof why, "%s", e->msg);
		bb_errf(e, BB_ELIB,
			"agent_provider.dockerfile %s: building it needs a Docker Engine API (Docker, or `podman system "
			"service`; DOCKER_HOST=unix:///PATH names its socket): %s. Start one, or give the agent an imported "
			"image with --image NAME, or remove the dockerfile key",
			dockerfile, why);
		goto out;
	}
	if (build_and_import(&d, dockerfile, ctx, size, name, note, note_arg, e) < 0)
		goto out;
	*built = 1;
	rc = 0;
out:
	close(ctx);
	return rc;
}
