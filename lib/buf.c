/* buf.c - bounded growable byte buffers and string views. */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
}

int buf_reserve(struct buf *b, size_t n, struct bb_err *e)
{
	size_t need, ncap;
	char *np;

	if (n > b->max || b->len > b->max - n)
		return bb_errf(e, BB_ETOOBIG, "buffer limit of %zu bytes reached", b->max);
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	np = realloc(b->p, ncap);
	if (!np)
		return bb_errno(e, ENOMEM, "growing a buffer to %zu bytes", ncap);
	b->p = np;
	b->cap = ncap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n, struct bb_err *e)
{
	if (buf_reserve(b, n, e) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

int buf_append_str(struct buf *b, const char *s, struct bb_err *e)
{
	return buf_append(b, s, strlen(s), e);
}

int buf_append_byte(struct buf *b, char c, struct bb_err *e)
{
	return buf_append(b, &c, 1, e);
}

int buf_printf(struct buf *b, struct bb_err *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return bb_errf(e, BB_EINVAL, "bad format string");
	if (buf_reserve(b, (size_t)n, e) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = 0;
}

char *buf_steal(struct buf *b, size_t *len)
{
	char *p = b->p;

	if (!p)
		p = calloc(1, 1);
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

struct sv sv_from(const char *s)
{
	struct sv v = { s, s ? strlen(s) : 0 };
	return v;
}

struct sv sv_of(const char *p, size_t len)
{
	struct sv v = { p, len };
	return v;
}

int sv_eq(struct sv a, struct sv b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int sv_eq_str(struct sv a, const char *s)
{
	return sv_eq(a, sv_from(s));
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int sv_eq_nocase(struct sv a, struct sv b)
{
	size_t i;

	if (a.len != b.len)
		return 0;
	for (i = 0; i < a.len; i++)
		if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
			return 0;
	return 1;
}

int sv_starts_with(struct sv a, struct sv prefix)
{
	return a.len >= prefix.len && sv_eq(sv_of(a.p, prefix.len), prefix);
}

int sv_ends_with(struct sv a, struct sv suffix)
{
	return a.len >= suffix.len && sv_eq(sv_of(a.p + a.len - suffix.len, suffix.len), suffix);
}

long sv_index(struct sv a, char c)
{
	const char *q = a.len ? memchr(a.p, c, a.len) : NULL;

	return q ? (long)(q - a.p) : -1;
}

struct sv sv_trim(struct sv a)
{
	while (a.len && (a.p[0] == ' ' || a.p[0] == '\t')) {
		a.p++;
		a.len--;
	}
	while (a.len && (a.p[a.len - 1] == ' ' || a.p[a.len - 1] == '\t'))
		a.len--;
	return a;
}

int sv_split(struct sv a, char c, struct sv *head, struct sv *tail)
{
	long i = sv_index(a, c);

	if (i < 0) {
		*head = a;
		*tail = sv_of(a.p + a.len, 0);
		return 0;
	}
	*head = sv_of(a.p, (size_t)i);
	*tail = sv_of(a.p + i + 1, a.len - (size_t)i - 1);
	return 1;
}

int sv_to_u64(struct sv a, uint64_t max, uint64_t *out, struct bb_err *e)
{
	uint64_t v = 0;
	size_t i;

	if (a.len == 0)
		return bb_errf(e, BB_EINVAL, "empty number");
	for (i = 0; i < a.len; i++) {
		unsigned d = (unsigned char)a.p[i] - '0';

		if (d > 9)
			return bb_errf(e, BB_EINVAL, "'%.*s' is not a number (byte %zu is '%c')",
				       (int)(a.len > 64 ? 64 : a.len), a.p, i, a.p[i]);
		if (d > max || v > (max - d) / 10)
			return bb_errf(e, BB_EINVAL, "'%.*s' is larger than %llu",
				       (int)(a.len > 64 ? 64 : a.len), a.p, (unsigned long long)max);
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int sv_copy(struct sv a, char *dst, size_t n)
{
	size_t k;

	if (n == 0)
		return -1;
	k = a.len < n - 1 ? a.len : n - 1;
	memcpy(dst, a.p, k);
	dst[k] = 0;
	return k == a.len ? 0 : -1;
}
