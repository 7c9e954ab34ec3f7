/* json.h - JSON helpers: string escaping for writers, and cJSON parsing with limits and positioned errors. */
#ifndef BB_JSON_H
#define BB_JSON_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct cJSON;

/* Append s[0..n) as a quoted JSON string; bytes that are not valid UTF-8 become U+FFFD. */
int json_escape(struct buf *out, const char *s, size_t n, struct bb_err *e);

#define JSON_MAX_DEPTH 64

/*
 * Parse a whole document of n bytes with cJSON. Refuses trailing bytes,
 * NUL bytes and nesting deeper than JSON_MAX_DEPTH; the error names the
 * line and column. `what` names the source in messages (a path, "policy").
 * The caller frees the result with cJSON_Delete.
 */
struct cJSON *json_parse(const char *what, const char *s, size_t n, struct bb_err *e);

/* Serialize without spaces into out (caller's buffer, bounded by out->max). */
int json_print(const struct cJSON *doc, struct buf *out, struct bb_err *e);

#endif
