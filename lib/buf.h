/* buf.h - bounded growable byte buffers and string views. */
#ifndef BB_BUF_H
#define BB_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * A growable byte buffer with a hard cap (curl's dynbuf idea): it never
 * holds more than `max` bytes, and an append that would pass the cap fails
 * with BB_ETOOBIG and leaves the buffer as it was. The bytes are always
 * followed by a NUL (not counted in len), so p can be used as a C string
 * when the content has no NUL of its own.
 */
struct buf {
	char *p;
	size_t len;
	size_t cap; /* allocated, including the trailing NUL */
	size_t max; /* hard cap on len */
};

#define BUF_INIT(maxlen) { NULL, 0, 0, (maxlen) }

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Empty the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Make room for n more bytes; 0 or -1 (BB_ETOOBIG, ENOMEM). */
int buf_reserve(struct buf *b, size_t n, struct bb_err *e);
int buf_append(struct buf *b, const void *data, size_t n, struct bb_err *e);
int buf_append_str(struct buf *b, const char *s, struct bb_err *e);
int buf_append_byte(struct buf *b, char c, struct bb_err *e);
int buf_printf(struct buf *b, struct bb_err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Drop the first n bytes (n > len drops all). */
void buf_consume(struct buf *b, size_t n);
/* Take the buffer's memory (NUL-terminated); the buffer is left empty. */
char *buf_steal(struct buf *b, size_t *len);

/* A string view: a pointer and a length, not owned, not NUL-terminated. */
struct sv {
	const char *p;
	size_t len;
};

#define SV_LIT(s) ((struct sv){ (s), sizeof(s) - 1 })

struct sv sv_from(const char *s);
struct sv sv_of(const char *p, size_t len);
int sv_eq(struct sv a, struct sv b);
int sv_eq_str(struct sv a, const char *s);
/* ASCII case-insensitive equality (HTTP header names, hostnames). */
int sv_eq_nocase(struct sv a, struct sv b);
int sv_starts_with(struct sv a, struct sv prefix);
int sv_ends_with(struct sv a, struct sv suffix);
/* Index of the first c, or -1. */
long sv_index(struct sv a, char c);
/* Strip ASCII spaces and tabs at both ends. */
struct sv sv_trim(struct sv a);
/*
 * Split at the first c: head gets what precedes it, tail what follows.
 * Returns 1 when c was found; else head = a, tail empty, returns 0.
 */
int sv_split(struct sv a, char c, struct sv *head, struct sv *tail);
/*
 * Parse a decimal unsigned integer that is the whole view: no sign, no
 * spaces, no empty string, nothing above max. The replacement for atoi.
 */
int sv_to_u64(struct sv a, uint64_t max, uint64_t *out, struct bb_err *e);
/* Copy into dst (size n), always NUL-terminated; returns -1 if truncated. */
int sv_copy(struct sv a, char *dst, size_t n);

#endif
