/* tar.h - ustar archives: a writer (files, dirs, symlinks; pax long names) and a bounded streaming reader. */
#ifndef BB_TAR_H
#define BB_TAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define TAR_BLOCK 512
/* Longest member path or link target either side accepts (bytes, without the NUL). */
#define TAR_PATH_MAX 4095
/* A pax extended header bigger than this is refused (it only carries names and numbers). */
#define TAR_PAX_MAX (64 * 1024)

/* Called with every byte the writer produces (e.g. to hash a layer); return nonzero to fail the write. */
typedef int (*tar_tap_fn)(const void *p, size_t n, void *arg);

/*
 * The writer: appends members to an fd. Headers are ustar; a path or link
 * target that does not fit ustar's fields gets a pax 'x' header first
 * (what GNU tar, Docker and podman read). Caller owns the struct; no
 * allocation.
 */
struct tar_writer {
	int fd;
	uint64_t written; /* bytes written so far (a multiple of TAR_BLOCK between members) */
	tar_tap_fn tap;   /* optional: sees every byte written */
	void *tap_arg;
};

/* What a member carries besides its name and content. */
struct tar_meta {
	mode_t mode; /* permission bits incl. setuid/setgid/sticky (07777) */
	uid_t uid;
	gid_t gid;
	int64_t mtime; /* seconds since the epoch */
};

/* Start writing to fd (tap may be NULL). */
void tar_writer_init(struct tar_writer *w, int fd, tar_tap_fn tap, void *tap_arg);
/* A regular file whose content is data[0..n). 0 or -1 with e set. */
int tar_add_file_mem(struct tar_writer *w, const char *path, const struct tar_meta *m, const void *data, size_t n,
		     struct bb_err *e);
/* A regular file of exactly size bytes read from fd (its current offset); a short read is an error. */
int tar_add_file_fd(struct tar_writer *w, const char *path, const struct tar_meta *m, int fd, uint64_t size,
		    struct bb_err *e);
/* A directory (a trailing '/' is added to the name if missing). */
int tar_add_dir(struct tar_writer *w, const char *path, const struct tar_meta *m, struct bb_err *e);
/* A symbolic link path -> target (mode is written as 0777, as tar does). */
int tar_add_symlink(struct tar_writer *w, const char *path, const char *target, const struct tar_meta *m,
		    struct bb_err *e);
/* The end-of-archive marker: two zero blocks. The fd is left open. */
int tar_finish(struct tar_writer *w, struct bb_err *e);

/* Source of archive bytes for the reader: fill p with up to n bytes; >0 bytes read, 0 at EOF, -1 with e set. */
typedef ssize_t (*tar_read_fn)(void *arg, void *p, size_t n, struct bb_err *e);

/* An archive already in memory, for tar_mem_read: the bytes, their length, how far the reader got. */
struct tar_mem {
	const void *p;
	size_t n, at;
};
/* A tar_read_fn over a struct tar_mem (arg); never fails. */
ssize_t tar_mem_read(void *arg, void *p, size_t n, struct bb_err *e);

enum tar_type {
	TAR_FILE,     /* '0', '\0', '7' */
	TAR_HARDLINK, /* '1': link names the earlier member */
	TAR_SYMLINK,  /* '2' */
	TAR_CHAR,     /* '3' */
	TAR_BLOCKDEV, /* '4' */
	TAR_DIR,      /* '5' */
	TAR_FIFO      /* '6' */
};

/* One member as the reader returns it (the path exactly as stored; see tar_clean_path). */
struct tar_entry {
	enum tar_type type;
	char path[TAR_PATH_MAX + 1];
	char link[TAR_PATH_MAX + 1]; /* symlink target or hard link's member; "" otherwise */
	struct tar_meta meta;
	uint64_t size;   /* content bytes (0 for anything but TAR_FILE) */
	uint64_t offset; /* where the content starts in the stream (for indexing a seekable archive) */
	unsigned index;  /* 0-based member number, pax/GNU helper headers not counted */
};

/*
 * The reader: pulls headers and content through a tar_read_fn. Checks
 * every header checksum, honours pax 'x' headers (path, linkpath, size,
 * uid, gid, mtime; 'g' global headers are skipped), GNU 'L'/'K' long
 * names and base-256 numbers. Refuses unknown member types (naming the
 * member), sizes past max_entry_size, more than max_entries members, a
 * stream that ends without its end marker (truncated). One zero block
 * followed by EOF is accepted as an end, as GNU tar does.
 */
struct tar_reader {
	tar_read_fn read;
	void *arg;
	uint64_t max_entries;    /* cap on members (0: no cap) */
	uint64_t max_entry_size; /* cap on one member's content (0: no cap) */
	/* private */
	uint64_t offset;  /* stream bytes consumed */
	uint64_t remain;  /* content bytes of the current member not yet read */
	uint64_t padding; /* zero bytes after the content, to the block boundary */
	unsigned count;
	int done;
};

/* Set up a reader over read(arg). Caps default to none; set the fields after. */
void tar_reader_init(struct tar_reader *r, tar_read_fn read, void *arg);
/*
 * The next member (skipping the rest of the current one's content).
 * 1 with *ent filled, 0 at the end of the archive, -1 with e set.
 */
int tar_next(struct tar_reader *r, struct tar_entry *ent, struct bb_err *e);
/* Read up to n content bytes of the current member: >0, 0 when it has no more, -1 with e set (truncated). */
ssize_t tar_read_data(struct tar_reader *r, void *p, size_t n, struct bb_err *e);

/*
 * The next component of the '/'-separated path at *p, skipping empty ones
 * and ".": its start (*n bytes; ".." is returned as is), or NULL at the
 * end. *p moves past it.
 */
const char *tar_path_next(const char **p, size_t *n);

/*
 * Clean a member path for extraction under a root, the way Docker does:
 * leading "/" and "./" are stripped, repeated '/' and "." components
 * dropped, a trailing '/' removed. A ".." component anywhere is refused
 * (Docker resolves some of those lexically; bb does not guess).
 * Writes to out (cap bytes); 0 (out may be "" for the root itself), or -1.
 */
int tar_clean_path(const char *in, char *out, size_t cap, struct bb_err *e);

/*
 * Whether a symlink at link_path (a cleaned path) pointing at target stays
 * inside the root when resolved lexically inside it: an absolute target
 * starts at the root, a relative one at the link's directory, and any
 * ".." that would climb above the root is an escape. 1 inside, 0 escapes.
 */
int tar_symlink_inside(const char *link_path, const char *target);

#endif
