/* sidecar.c - the FROM-scratch sidecar image: this one binary as /bb in a docker-archive, reproducibly. */
#include "sidecar.h"

#include <bearssl.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"
#include "hex.h"
#include "image.h"
#include "json.h"
#include "tar.h"

#ifndef BB_VERSION
#define BB_VERSION "0.0.0-dev"
#endif

int img_sidecar_ref(const char *tag, char *out, size_t cap, struct bb_err *e)
{
	char t[129];
	size_t n = 0;
	int k;

	/* A docker tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a version like "v1+dirty" is mapped into it. */
	for (const char *p = tag ? tag : BB_VERSION; *p && n < sizeof t - 1; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			 (n && (c == '.' || c == '-'));

		if (tag && !ok)
			return bb_errf(e, BB_EINVAL, "tag '%.80s' must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag);
		t[n++] = ok ? c : '_';
	}
	if (!n)
		return bb_errf(e, BB_EINVAL, "empty image tag");
	t[n] = '\0';
	k = snprintf(out, cap, "bb-sidecar:%s", t);
	if (k < 0 || (size_t)k >= cap)
		return bb_errf(e, BB_ETOOBIG, "image reference too long");
	return 0;
}

static int tap_sha256(const void *p, size_t n, void *arg)
{
	br_sha256_update(arg, p, n);
	return 0;
}

static int64_t source_date(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	uint64_t v;

	if (s && sv_to_u64(sv_from(s), INT64_MAX, &v, NULL) == 0)
		return (int64_t)v;
	return 0;
}

/* The layer is built in a temporary file first, to learn its size and digest: in $TMPDIR, else /tmp. */
static int tmp_file(struct bb_err *e)
{
	const char *dir = getenv("TMPDIR");

	return fd_tmpfile(dir && *dir ? dir : "/tmp", e);
}

int img_sidecar_archive(const char *bb_path, int out_fd, const char *tag, char *image_id_out, struct bb_err *e)
{
	char ref[160], layer_hex[65], cfg_hex[65], name[128], created[32];
	struct tar_meta dirm = { 0755, 0, 0, source_date() }, filem = dirm;
	struct tar_writer lw, ow;
	br_sha256_context h;
	unsigned char d[32];
	struct stat st;
	int bin = -1, layer = -1, rc = -1;
	cJSON *cfg = NULL, *man = NULL;
	char *cfg_text = NULL, *man_text = NULL;
	time_t ct = (time_t)dirm.mtime;
	struct tm tm;

	if (img_sidecar_ref(tag, ref, sizeof ref, e) < 0)
		return -1;
	if (!bb_path)
		bb_path = "/proc/self/exe";
	bin = open(bb_path, O_RDONLY | O_CLOEXEC);
	if (bin < 0)
		return bb_errno(e, errno, "sidecar image: open %s", bb_path);
	if (fstat(bin, &st) < 0 || !S_ISREG(st.st_mode)) {
		bb_errf(e, BB_EINVAL, "sidecar image: %s is not a regular file", bb_path);
		goto out;
	}
	layer = tmp_file(e);
	if (layer < 0)
		goto out;

	/* The one layer: what `bb init --sidecar` needs in a FROM-scratch image. */
	br_sha256_init(&h);
	tar_writer_init(&lw, layer, tap_sha256, &h);
	{
		struct tar_meta tmpm = dirm;

		tmpm.mode = 01777;
		if (tar_add_dir(&lw, "etc", &dirm, e) < 0 || tar_add_dir(&lw, "run", &dirm, e) < 0 ||
		    tar_add_dir(&lw, "tmp", &tmpm, e) < 0 || tar_add_file_fd(&lw, "bb", &filem, bin, (uint64_t)st.st_size, e) < 0 ||
		    tar_finish(&lw, e) < 0) {
			bb_err_wrap(e, "sidecar image layer");
			goto out;
		}
	}
	br_sha256_out(&h, d);
	hex_encode(d, sizeof d, layer_hex);

	gmtime_r(&ct, &tm);
	strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cfg = cJSON_CreateObject();
	cJSON_AddStringToObject(cfg, "created", created);
	cJSON_AddStringToObject(cfg, "architecture", img_build_arch());
	cJSON_AddStringToObject(cfg, "os", "linux");
	{
		cJSON *c = cJSON_AddObjectToObject(cfg, "config");
		const char *ep[] = { "/bb", "init", "--sidecar" };
		const char *env[] = { "PATH=/" };
		cJSON *labels;

		cJSON_AddItemToObject(c, "Env", cJSON_CreateStringArray(env, 1));
		cJSON_AddItemToObject(c, "Entrypoint", cJSON_CreateStringArray(ep, 3));
		cJSON_AddStringToObject(c, "WorkingDir", "/");
		labels = cJSON_AddObjectToObject(c, "Labels");
		cJSON_AddStringToObject(labels, "org.opencontainers.image.version", BB_VERSION);
		cJSON_AddStringToObject(labels, "org.opencontainers.image.title", "bb sidecar");
		/*
		 * The name in the config makes the image's id the tag's own: the Docker
		 * backend loads one per bottle, and two bottles sharing one image record
		 * sometimes left a tag behind on podman when they ended together
		 * (docker.sh's two bottles, 2 runs in 5; untagging reads the names and
		 * writes them back, which looks racy).
		 */
		cJSON_AddStringToObject(labels, "org.opencontainers.image.ref.name", ref);
	}
	{
		cJSON *rf = cJSON_AddObjectToObject(cfg, "rootfs"), *ids = cJSON_AddArrayToObject(rf, "diff_ids");
		char id[72];
		cJSON *hist = cJSON_AddArrayToObject(cfg, "history"), *h1 = cJSON_CreateObject();

		cJSON_AddStringToObject(rf, "type", "layers");
		snprintf(id, sizeof id, "sha256:%s", layer_hex);
		cJSON_AddItemToArray(ids, cJSON_CreateString(id));
		cJSON_AddStringToObject(h1, "created", created);
		cJSON_AddStringToObject(h1, "created_by", "bb bottle image sidecar");
		cJSON_AddItemToArray(hist, h1);
	}
	cfg_text = cJSON_PrintUnformatted(cfg);
	if (!cfg_text) {
		bb_errno(e, ENOMEM, "sidecar image config");
		goto out;
	}
	hex_sha256(cfg_text, strlen(cfg_text), cfg_hex);

	man = cJSON_CreateArray();
	{
		cJSON *m = cJSON_CreateObject(), *tags = cJSON_AddArrayToObject(m, "RepoTags");
		cJSON *layers = cJSON_AddArrayToObject(m, "Layers");

		snprintf(name, sizeof name, "%s.json", cfg_hex);
		cJSON_AddStringToObject(m, "Config", name);
		cJSON_AddItemToArray(tags, cJSON_CreateString(ref));
		snprintf(name, sizeof name, "%s/layer.tar", layer_hex);
		cJSON_AddItemToArray(layers, cJSON_CreateString(name));
		cJSON_AddItemToArray(man, m);
	}
	man_text = cJSON_PrintUnformatted(man);
	if (!man_text) {
		bb_errno(e, ENOMEM, "sidecar image manifest");
		goto out;
	}

	/* The archive, in the order `docker save` writes it: layer dir + layer, config, manifest. */
	if (lseek(layer, 0, SEEK_SET) < 0) {
		bb_errno(e, errno, "sidecar image: rewind layer");
		goto out;
	}
	tar_writer_init(&ow, out_fd, NULL, NULL);
	filem.mode = 0644;
	if (tar_add_dir(&ow, layer_hex, &dirm, e) < 0)
		goto out;
	snprintf(name, sizeof name, "%s/layer.tar", layer_hex);
	if (tar_add_file_fd(&ow, name, &filem, layer, lw.written, e) < 0)
		goto out;
	snprintf(name, sizeof name, "%s.json", cfg_hex);
	if (tar_add_file_mem(&ow, name, &filem, cfg_text, strlen(cfg_text), e) < 0 ||
	    tar_add_file_mem(&ow, "manifest.json", &filem, man_text, strlen(man_text), e) < 0 || tar_finish(&ow, e) < 0)
		goto out;
	if (image_id_out)
		snprintf(image_id_out, 72, "sha256:%s", cfg_hex);
	rc = 0;
out:
	if (rc < 0 && e && strncmp(e->msg, "sidecar image", 13))
		bb_err_wrap(e, "sidecar image");
	cJSON_Delete(cfg);
	cJSON_Delete(man);
	free(cfg_text);
	free(man_text);
	fd_close(bin);
	fd_close(layer);
	return rc;
}


