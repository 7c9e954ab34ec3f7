/* image.c - `bb bottle image`: import agent images (docker-archive / OCI), list, remove, write the sidecar image. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applet.h"
#include "bottle.h"
#include "buf.h"
#include "fd.h"
#include "image.h"
#include "sidecar.h"
#include "json.h"
#include "log.h"
#include "opt.h"

static const char usage[] =
	"usage: bb bottle image COMMAND [ARGS...]\n"
	"  import FILE [--name NAME]   unpack a docker-archive or OCI layout tarball as an agent rootfs\n"
	"  list [--json]               imported images\n"
	"  rm NAME...                  remove imported images\n"
	"  sidecar [-o FILE] [--tag T] the sidecar image (just bb) as a docker-archive tar\n"
	"Images live in $BB_HOME/.bb/images/NAME (BB_HOME defaults to HOME); see docs/image.md.\n"
	"'bb bottle image COMMAND --help' for each command's options.";

static const char usage_import[] =
	"usage: bb bottle image import FILE [OPTIONS]\n"
	"Unpacks a docker-archive (docker/podman save) or OCI layout (podman save\n"
	"--format oci-archive, or an OCI layout directory) into\n"
	"$BB_HOME/.bb/images/NAME/rootfs, with its config in image.json. Every blob\n"
	"is checked against its sha256 digest; whiteouts are applied; paths with\n"
	"'..', symlinks climbing out of the root and writes through symlinks are\n"
	"refused, device nodes and fifos skipped (docs/image.md). Nothing is left\n"
	"behind on failure. Progress (a line per layer) goes to stderr.\n"
	"  -n, --name NAME         image name (default: from the archive's tag, else the file name)\n"
	"  -s, --max-size BYTES    cap on uncompressed layer bytes (default 16 GiB)\n"
	"  -e, --max-entries N     cap on tar members over all layers (default 1000000)\n"
	"  -q, --quiet             no progress lines";

static const char usage_list[] =
	"usage: bb bottle image list [--json]\n"
	"Imported images: NAME FORMAT LAYERS SIZE IMPORTED SOURCE, sorted by name.\n"
	"  -j, --json   a JSON array of objects with those fields";

static const char usage_rm[] =
	"usage: bb bottle image rm NAME...\n"
	"Removes imported images (their rootfs and image.json). Exit 1 if one is missing.";

static const char usage_sidecar[] =
	"usage: bb bottle image sidecar [-o FILE] [--tag TAG] [--bb PATH]\n"
	"Writes the sidecar image, FROM scratch plus the bb binary (entrypoint\n"
	"/bb init --sidecar), as a docker-archive tar that `docker load`, `podman\n"
	"load` and the Engine API's POST /images/load accept. Prints the reference\n"
	"and image ID on stdout (stderr when the archive goes to stdout).\n"
	"  -o, --output FILE   where to write (default: stdout, if it is not a terminal)\n"
	"  -t, --tag TAG       tag of bb-sidecar (default: this build's version)\n"
	"  -b, --bb PATH       the binary to put in (default: this one)";

static void note_stderr(void *arg, const char *line)
{
	(void)arg;
	err_printf("%s", line);
}

static int parse_size(const char *s, uint64_t *out)
{
	struct bb_err e = { 0 };
	size_t n = strlen(s);
	uint64_t mul = 1, v;

	if (n && (s[n - 1] == 'K' || s[n - 1] == 'M' || s[n - 1] == 'G')) {
		mul = s[n - 1] == 'K' ? 1ULL << 10 : s[n - 1] == 'M' ? 1ULL << 20 : 1ULL << 30;
		n--;
	}
	if (sv_to_u64(sv_of(s, n), UINT64_MAX / mul, &v, &e) < 0 || v == 0)
		return -1;
	*out = v * mul;
	return 0;
}

static int cmd_import(int argc, char **argv)
{
	struct img_import_opts io = { 0 };
	struct bb_err e = { 0 };
	char name[IMG_NAME_MAX + 1], root[PATH_MAX];
	struct opt o;
	int c, rc, quiet = 0;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)n:(name)s:(max-size)e:(max-entries)q(quiet)", usage_import,
			       &rc)) != -1) {
		if (c == APPLET_OPT_EXIT)
			return rc;
		if (c == 'n')
			io.name = o.arg;
		else if (c == 's' && parse_size(o.arg, &io.max_bytes) < 0)
			return applet_usage_error(usage_import, "--max-size wants a positive number of bytes (K, M, G suffixes)");
		else if (c == 'e' && parse_size(o.arg, &io.max_entries) < 0)
			return applet_usage_error(usage_import, "--max-entries wants a positive number");
		else if (c == 'q')
			quiet = 1;
	}
	if (o.ind >= argc)
		return applet_usage_error(usage_import, "missing FILE");
	if (o.ind + 1 < argc)
		return applet_usage_error(usage_import, "unexpected argument '%s'", argv[o.ind + 1]);
	if (io.name && img_name_check(io.name, &e) < 0)
		return applet_usage_error(usage_import, "%s", e.msg);
	io.note = quiet ? NULL : note_stderr;
	if (img_import(argv[o.ind], &io, name, sizeof name, &e) < 0) {
		err_printf("import %s: %s", argv[o.ind], e.msg);
		return e.code == BB_EINVAL || e.code == BB_ETOOBIG || e.code == EEXIST ? BB_EXIT_FAIL : BB_EXIT_SYSTEM;
	}
	if (img_rootfs_path(name, root, sizeof root, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	out_printf("imported %s: %s\n", name, root);
	return BB_EXIT_OK;
}

static void human_size(uint64_t b, char *out, size_t cap)
{
	if (b >= 1ULL << 30)
		snprintf(out, cap, "%.1fG", (double)b / (1ULL << 30));
	else if (b >= 1ULL << 20)
		snprintf(out, cap, "%.1fM", (double)b / (1ULL << 20));
	else if (b >= 1ULL << 10)
		snprintf(out, cap, "%.1fK", (double)b / (1ULL << 10));
	else
		snprintf(out, cap, "%lluB", (unsigned long long)b);
}

static int cmd_list(int argc, char **argv)
{
	static struct img_info imgs[IMG_LIST_MAX];
	struct bb_err e = { 0 };
	struct opt o;
	size_t n = 0;
	int c, rc, json = 0;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)j(json)", usage_list, &rc)) != -1) {
		if (c == APPLET_OPT_EXIT)
			return rc;
		json = 1;
	}
	if (o.ind < argc)
		return applet_usage_error(usage_list, "unexpected argument '%s'", argv[o.ind]);
	if (img_list(imgs, IMG_LIST_MAX, &n, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	if (json) {
		cJSON *arr = cJSON_CreateArray();
		char *s;

		for (size_t i = 0; i < n; i++) {
			cJSON *it = cJSON_CreateObject();

			cJSON_AddStringToObject(it, "name", imgs[i].name);
			cJSON_AddStringToObject(it, "format", imgs[i].format);
			cJSON_AddNumberToObject(it, "layers", imgs[i].layers);
			cJSON_AddNumberToObject(it, "size", (double)imgs[i].bytes);
			cJSON_AddStringToObject(it, "imported_at", imgs[i].imported_at);
			cJSON_AddStringToObject(it, "source", imgs[i].source);
			cJSON_AddItemToArray(arr, it);
		}
		s = cJSON_Print(arr);
		cJSON_Delete(arr);
		if (!s) {
			err_printf("out of memory");
			return BB_EXIT_SYSTEM;
		}
		out_printf("%s\n", s);
		free(s);
		return BB_EXIT_OK;
	}
	if (n)
		out_printf("%-24s %-15s %6s %8s  %-20s  %s\n", "NAME", "FORMAT", "LAYERS", "SIZE", "IMPORTED", "SOURCE");
	for (size_t i = 0; i < n; i++) {
		char sz[32];

		human_size(imgs[i].bytes, sz, sizeof sz);
		out_printf("%-24s %-15s %6u %8s  %-20s  %s\n", imgs[i].name, imgs[i].format, imgs[i].layers, sz,
			   imgs[i].imported_at, imgs[i].source);
	}
	return BB_EXIT_OK;
}

static int cmd_rm(int argc, char **argv)
{
	struct opt o;
	int c, rc, worst = BB_EXIT_OK;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)", usage_rm, &rc)) != -1)
		if (c == APPLET_OPT_EXIT)
			return rc;
	if (o.ind >= argc)
		return applet_usage_error(usage_rm, "missing NAME");
	for (int i = o.ind; i < argc; i++) {
		struct bb_err e = { 0 };

		if (img_remove(argv[i], &e) < 0) {
			err_printf("rm %s: %s", argv[i], e.msg);
			worst = BB_EXIT_FAIL;
			continue;
		}
		out_printf("removed %s\n", argv[i]);
	}
	return worst;
}

static int cmd_sidecar(int argc, char **argv)
{
	const char *out = NULL, *tag = NULL, *bb = NULL;
	char tmp[PATH_MAX], ref[160], id[72];
	struct bb_err e = { 0 };
	struct opt o;
	int c, rc, fd;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)o:(output)t:(tag)b:(bb)", usage_sidecar, &rc)) != -1) {
		if (c == APPLET_OPT_EXIT)
			return rc;
		if (c == 'o')
			out = o.arg;
		else if (c == 't')
			tag = o.arg;
		else if (c == 'b')
			bb = o.arg;
	}
	if (o.ind < argc)
		return applet_usage_error(usage_sidecar, "unexpected argument '%s'", argv[o.ind]);
	if (img_sidecar_ref(tag, ref, sizeof ref, &e) < 0)
		return applet_usage_error(usage_sidecar, "%s", e.msg);
	if (!out || !strcmp(out, "-")) {
		if (isatty(1))
			return applet_usage_error(usage_sidecar, "stdout is a terminal: give -o FILE (or redirect)");
		if (img_sidecar_archive(bb, 1, tag, id, &e) < 0) {
			err_printf("%s", e.msg);
			return BB_EXIT_SYSTEM;
		}
		err_printf("%s %s", ref, id);
		return BB_EXIT_OK;
	}
	/* Written beside the target and renamed, so a reader never loads half an archive. */
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", out, (int)getpid()) >= (int)sizeof tmp)
		return applet_usage_error(usage_sidecar, "output path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		err_printf("cannot create %s: %s", tmp, strerror(errno));
		return BB_EXIT_SYSTEM;
	}
	rc = img_sidecar_archive(bb, fd, tag, id, &e);
	if (rc == 0 && fsync(fd) < 0)
		rc = bb_errno(&e, errno, "fsync %s", tmp);
	if (close(fd) < 0 && rc == 0)
		rc = bb_errno(&e, errno, "close %s", tmp);
	if (rc == 0 && rename(tmp, out) < 0)
		rc = bb_errno(&e, errno, "rename to %s", out);
	if (rc < 0) {
		err_printf("%s", e.msg);
		unlink(tmp);
		return BB_EXIT_SYSTEM;
	}
	out_printf("%s %s\n", ref, id);
	return BB_EXIT_OK;
}

int bottle_image(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = { { "import", cmd_import }, { "list", cmd_list }, { "rm", cmd_rm }, { "sidecar", cmd_sidecar } };

	if (argc < 2)
		return applet_usage_error(usage, "missing command");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		out_printf("%s\n", usage);
		return BB_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	return applet_usage_error(usage, "unknown command '%s'", argv[1]);
}
