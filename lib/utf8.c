/* utf8.c - UTF-8 decoding and the terminal-safety class of code points (one table for logs, lists, frames and JSON). */
#include "utf8.h"

#include <stdio.h>

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c;
	size_t len, i;
	uint32_t v;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, v = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) || (len == 4 && (v < 0x10000 || v > 0x10ffff)))
		return 0;
	*cp = v;
	return len;
}

size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n && (k = utf8_decode(s + i, n - i, &cp)) != 0)
		i += k;
	return i;
}

/* Ranges of code points that change the display instead of being displayed (see utf8.h), sorted. */
static const uint32_t unsafe_ranges[][2] = {
	{ 0x0000, 0x001f },   { 0x007f, 0x009f },   { 0x00ad, 0x00ad },   { 0x034f, 0x034f },
	{ 0x061c, 0x061c },   { 0x115f, 0x1160 },   { 0x17b4, 0x17b5 },   { 0x180b, 0x180f },
	{ 0x200b, 0x200f },   { 0x2028, 0x202e },   { 0x2060, 0x206f },   { 0x3164, 0x3164 },
	{ 0xfe00, 0xfe0f },   { 0xfeff, 0xfeff },   { 0xffa0, 0xffa0 },   { 0xfff9, 0xfffb },
	{ 0xfffe, 0xffff },   { 0x1d173, 0x1d17a }, { 0xe0000, 0xe007f }, { 0xe0100, 0xe01ef },
};

int utf8_cp_unsafe(uint32_t cp)
{
	size_t lo = 0, hi = sizeof unsafe_ranges / sizeof unsafe_ranges[0];

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < unsafe_ranges[mid][0])
			hi = mid;
		else if (cp > unsafe_ranges[mid][1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

int utf8_text_safe(const char *s, size_t n, int keep_ws)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		if (u[i] >= 0x20 && u[i] < 0x7f) {
			i++;
			continue;
		}
		k = utf8_decode(u + i, n - i, &cp);
		if (!k || (utf8_cp_unsafe(cp) && !(keep_ws && (cp == '\t' || cp == '\n'))))
			return 0;
		i += k;
	}
	return 1;
}

int utf8_escape_unsafe(struct buf *out, const char *s, size_t n, int keep_ws, struct bb_err *e)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0, k;
	uint32_t cp;

	while (i < n) {
		char esc[16];
		int elen;

		if (u[i] >= 0x20 && u[i] < 0x7f) {
			i++;
			continue;
		}
		k = utf8_decode(u + i, n - i, &cp);
		if (k && (!utf8_cp_unsafe(cp) || (keep_ws && (cp == '\t' || cp == '\n')))) {
			i += k;
			continue;
		}
		if (!k)
			elen = snprintf(esc, sizeof esc, "\\x%02x", u[i]);
		else if (cp == '\t' || cp == '\n' || cp == '\r' || cp == 0x1b)
			elen = snprintf(esc, sizeof esc, "\\%c", cp == '\t' ? 't' : cp == '\n' ? 'n' : cp == '\r' ? 'r' : 'e');
		else if (cp < 0x80)
			elen = snprintf(esc, sizeof esc, "\\x%02x", (unsigned)cp);
		else
			elen = snprintf(esc, sizeof esc, "\\u{%04x}", (unsigned)cp);
		if (buf_append(out, s + run, i - run, e) < 0 || buf_append(out, esc, (size_t)elen, e) < 0)
			return -1;
		i += k ? k : 1;
		run = i;
	}
	return buf_append(out, s + run, n - run, e);
}
