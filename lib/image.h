/* image.h - agent images: docker-archive / OCI layout imported into a rootfs (the sidecar image is image/sidecar.h). */
#ifndef BB_IMAGE_H
#define BB_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tar.h"

/*
 * Images live in $BB_HOME/.bb/images/NAME/ (BB_HOME defaults to HOME):
 *   rootfs/       the layers applied in order
 *   image.json    where it came from and the config's Env, Entrypoint,
 *                 Cmd, WorkingDir, User
 * An import is staged in images/.import-NAME-XXXXXX and renamed into
 * place only when complete; any failure removes the staging directory.
 * docs/image.md has the formats and the refusal rules.
 */

#define IMG_NAME_MAX 64
#define IMG_DEFAULT_MAX_BYTES (16ULL << 30) /* uncompressed layer bytes per import */
#define IMG_DEFAULT_MAX_ENTRIES 1000000ULL  /* tar members per import, all layers */
#define IMG_LIST_MAX 256

/* Progress and warnings for people (one line each, no newline); lib/ never prints itself. */
typedef void (*img_note_fn)(void *arg, const char *line);

/* This build's architecture as OCI names it (amd64, arm64, ...): what an imported image must be for. */
const char *img_build_arch(void);

/* A valid image name: [a-z0-9][a-z0-9._-]*, at most IMG_NAME_MAX bytes. 0 or -1 with e naming the rule. */
int img_name_check(const char *name, struct bb_err *e);

/* "$BB_HOME/.bb/images" into out (cap bytes). 0 or -1 (no BB_HOME/HOME, too long). */
int img_dir(char *out, size_t cap, struct bb_err *e);

/*
 * The rootfs directory of imported image name ("$BB_HOME/.bb/images/NAME/rootfs")
 * into out; fails (naming the image) if the name is invalid or the image
 * has not been imported. For the runtime, which uses it as the agent's root.
 */
int img_rootfs_path(const char *name, char *out, size_t cap, struct bb_err *e);

/* What one layer application does and how it ended. */
struct img_apply_opts {
	uint64_t max_bytes;   /* cap on content bytes written (0: none) */
	uint64_t max_entries; /* cap on members (0: none) */
	img_note_fn note;     /* warnings (skipped device nodes); may be NULL */
	void *note_arg;
	int chown;            /* apply the members' uid/gid (root imports) */
};
struct img_apply_stats {
	uint64_t bytes, entries, skipped, whiteouts;
};

/*
 * Apply one layer read through r onto the directory root_fd, as an image
 * layer: whiteouts (".wh.NAME" removes NAME from lower layers,
 * ".wh..wh..opq" empties the directory of lower-layer content), later
 * members replace earlier ones. Every path component is opened relative to
 * root_fd with O_NOFOLLOW (mkdirat when missing), so nothing is ever
 * written through a symlink. Refuses, naming the member: ".." components,
 * symlinks whose target climbs out of the root, hard links through
 * symlinks or to missing members, writes through a symlink or a
 * non-directory, sizes and counts past the caps. Device nodes and fifos
 * are skipped with a warning. The stats accumulate (pass zeroed stats for
 * the first layer; the caps cover the running totals). 0 or -1 with e set;
 * after a failure the tree under root_fd is partial (callers discard it).
 */
int img_apply_layer(int root_fd, struct tar_reader *r, const struct img_apply_opts *o, struct img_apply_stats *st,
		    struct bb_err *e);

struct img_import_opts {
	const char *name;     /* NULL: derived from the archive's tag, else the file name */
	uint64_t max_bytes;   /* 0: IMG_DEFAULT_MAX_BYTES */
	uint64_t max_entries; /* 0: IMG_DEFAULT_MAX_ENTRIES */
	img_note_fn note;     /* progress (a line per layer with its size) and warnings */
	void *note_arg;
};

/*
 * Import a docker-archive or OCI-layout tarball (plain or gzip; an OCI
 * layout directory works too) as image NAME. Each blob is checked against
 * its sha256 digest, each layer's uncompressed content against the
 * config's diff_ids; layers may be gzip or plain tar. name_out (cap bytes)
 * gets the name used. Refuses an existing name. 0 or -1 with e set, and
 * then nothing is left behind.
 */
int img_import(const char *file, const struct img_import_opts *o, char *name_out, size_t cap, struct bb_err *e);

/* One imported image, as image.json describes it. */
struct img_info {
	char name[IMG_NAME_MAX + 1];
	char format[24];     /* "docker-archive" or "oci" */
	char source[256];    /* the file imported (as given) */
	char imported_at[32];
	uint64_t bytes;
	unsigned layers;
};

/* Imported images sorted by name into out[cap]; *n gets the count. Unreadable entries are skipped. */
int img_list(struct img_info *out, size_t cap, size_t *n, struct bb_err *e);

/* Remove image name and its rootfs. -1 with e set if there is no such image. */
int img_remove(const char *name, struct bb_err *e);

#endif
