/* json.c - JSON escaping and bounded cJSON parsing. */
#include "json.h"
#include "utf8.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int json_escape(struct buf *out, const char *s, size_t n, struct bb_err *e)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	if (buf_append_byte(out, '"', e) < 0)
		return -1;
	while (i < n) {
		unsigned c = u[i];
		uint32_t cp;
		char esc[8];
		size_t elen = 0;

		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c, elen = 2;
		} else if (c == '\n') {
			esc[0] = '\\', esc[1] = 'n', elen = 2;
		} else if (c == '\r') {
			esc[0] = '\\', esc[1] = 'r', elen = 2;
		} else if (c == '\t') {
			esc[0] = '\\', esc[1] = 't', elen = 2;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4], esc[5] = hex[c & 15], elen = 6;
		}
		if (elen) {
			if (buf_append(out, esc, elen, e) < 0)
				return -1;
			i++;
			continue;
		}
		k = utf8_decode(u + i, n - i, &cp);
		if (k == 0) {
			if (buf_append_str(out, "\\ufffd", e) < 0)
				return -1;
			i++;
			continue;
		}
		if (utf8_cp_unsafe(cp)) {
			/* C1, bidi and invisible characters as \uXXXX (a surrogate pair past U+FFFF): the JSON means the
			 * same, and a log printed to a terminal cannot drive it or hide what a line says. */
			uint32_t v = cp >= 0x10000 ? 0xd800 + ((cp - 0x10000) >> 10) : cp;
			char u16[13];
			int len = snprintf(u16, sizeof u16, "\\u%04x", (unsigned)v);
			if (cp >= 0x10000)
				len += snprintf(u16 + len, sizeof u16 - (size_t)len, "\\u%04x",
						(unsigned)(0xdc00 + ((cp - 0x10000) & 0x3ff)));
			if (buf_append(out, u16, (size_t)len, e) < 0)
				return -1;
			i += k;
			continue;
		}
		if (buf_append(out, s + i, k, e) < 0)
			return -1;
		i += k;
	}
	return buf_append_byte(out, '"', e);
}

static void position(const char *s, size_t off, unsigned *line, unsigned *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (s[i] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
}

/* cJSON limits nesting to CJSON_NESTING_LIMIT (1000); we want less, so measure first. */
static int too_deep(const char *s, size_t n, size_t *where)
{
	size_t i;
	int depth = 0, in_str = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '[' || c == '{') {
			if (++depth > JSON_MAX_DEPTH) {
				*where = i;
				return 1;
			}
		} else if (c == ']' || c == '}')
			depth--;
	}
	return 0;
}

struct cJSON *json_parse(const char *what, const char *s, size_t n, struct bb_err *e)
{
	const char *end = NULL;
	const char *nul = memchr(s, 0, n);
	unsigned line, col;
	size_t where;
	cJSON *doc;

	if (nul) {
		position(s, (size_t)(nul - s), &line, &col);
		bb_errf(e, BB_EINVAL, "%s: NUL byte at line %u column %u", what, line, col);
		return NULL;
	}
	if (too_deep(s, n, &where)) {
		position(s, where, &line, &col);
		bb_errf(e, BB_EINVAL, "%s: nesting deeper than %d at line %u column %u", what, JSON_MAX_DEPTH,
			line, col);
		return NULL;
	}
	doc = cJSON_ParseWithLengthOpts(s, n, &end, 0);
	if (doc) {
		/* cJSON stops after the first value; only whitespace may follow. */
		size_t off = (size_t)(end - s);

		while (off < n && strchr(" \t\r\n", s[off]))
			off++;
		if (off == n)
			return doc;
		cJSON_Delete(doc);
		position(s, off, &line, &col);
		bb_errf(e, BB_EINVAL, "%s: unexpected data after the document at line %u column %u", what,
			line, col);
		return NULL;
	}
	where = end && end >= s && end <= s + n ? (size_t)(end - s) : 0;
	position(s, where, &line, &col);
	bb_errf(e, BB_EINVAL, "%s: invalid JSON at line %u column %u", what, line, col);
	return NULL;
}

int json_print(const struct cJSON *doc, struct buf *out, struct bb_err *e)
{
	char *txt = cJSON_PrintUnformatted(doc);
	int rc;

	if (!txt)
		return bb_errf(e, BB_ELIB, "cJSON could not serialize the document");
	rc = buf_append_str(out, txt, e);
	cJSON_free(txt);
	return rc;
}
