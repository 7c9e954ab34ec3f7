/* der.c - a small DER writer and reader (ASN.1 TLVs, lengths, times) over caller-owned buffers. */
#include <string.h>

#include "der.h"

void der_w_init(struct der_w *w, unsigned char *buf, size_t cap)
{
	memset(w, 0, sizeof *w);
	w->buf = buf;
	w->cap = cap;
}

size_t der_len_size(size_t n)
{
	size_t k = 1;

	if (n < 0x80)
		return 1;
	while (n) {
		k++;
		n >>= 8;
	}
	return k;
}

size_t der_len_encode(size_t n, unsigned char *out)
{
	size_t k = der_len_size(n), i;

	if (k == 1) {
		out[0] = (unsigned char)n;
		return 1;
	}
	out[0] = (unsigned char)(0x80 | (k - 1));
	for (i = k - 1; i >= 1; i--) {
		out[i] = (unsigned char)(n & 0xff);
		n >>= 8;
	}
	return k;
}

static int room(struct der_w *w, size_t n)
{
	if (w->failed)
		return 0;
	if (n > w->cap - w->len) {
		w->failed = BB_ETOOBIG;
		return 0;
	}
	return 1;
}

void der_raw(struct der_w *w, const void *p, size_t n)
{
	if (!room(w, n))
		return;
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void der_tlv(struct der_w *w, unsigned tag, const void *p, size_t n)
{
	unsigned char hdr[10];
	size_t h;

	hdr[0] = (unsigned char)tag;
	h = 1 + der_len_encode(n, hdr + 1);
	if (!room(w, h + n))
		return;
	der_raw(w, hdr, h);
	der_raw(w, p, n);
}

void der_begin(struct der_w *w, unsigned tag)
{
	if (w->failed)
		return;
	if (w->depth == DER_DEPTH_MAX) {
		w->failed = BB_EINVAL;
		return;
	}
	if (!room(w, 2))
		return;
	/* Tag plus a one-byte length placeholder; der_end widens it if needed. */
	w->buf[w->len++] = (unsigned char)tag;
	w->open[w->depth++] = w->len;
	w->buf[w->len++] = 0;
}

void der_begin_bits(struct der_w *w)
{
	der_begin(w, DER_BIT_STRING);
	der_raw(w, "", 1);
}

void der_end(struct der_w *w)
{
	size_t at, content, k;
	unsigned char hdr[10];

	if (w->failed)
		return;
	if (w->depth == 0) {
		w->failed = BB_EINVAL;
		return;
	}
	at = w->open[--w->depth];
	content = w->len - at - 1;
	k = der_len_encode(content, hdr);
	if (k > 1) {
		if (!room(w, k - 1))
			return;
		memmove(w->buf + at + k, w->buf + at + 1, content);
		w->len += k - 1;
	}
	memcpy(w->buf + at, hdr, k);
}

void der_uint(struct der_w *w, const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned char zero = 0;

	while (n > 1 && b[0] == 0) {
		b++;
		n--;
	}
	if (n == 0) {
		b = &zero;
		n = 1;
	}
	der_begin(w, DER_INTEGER);
	if (b[0] & 0x80)
		der_raw(w, &zero, 1);
	der_raw(w, b, n);
	der_end(w);
}

void der_small_uint(struct der_w *w, unsigned long v)
{
	unsigned char b[sizeof v];
	size_t i;

	for (i = sizeof v; i > 0; i--) {
		b[i - 1] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	der_uint(w, b, sizeof b);
}

void der_oid(struct der_w *w, const void *p, size_t n)
{
	der_tlv(w, DER_OID, p, n);
}

void der_true(struct der_w *w)
{
	der_tlv(w, DER_BOOLEAN, "\xff", 1);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
	long long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	*y = (long long)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y += *m <= 2;
}

static void put_digits(char *out, unsigned long v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void der_time(struct der_w *w, time_t t)
{
	long long secs = (long long)t, days = secs / 86400, rem = secs % 86400, y;
	unsigned m, d;
	char s[16];
	int n = 0;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (y < 1950 || y > 9999) {
		if (!w->failed)
			w->failed = BB_EINVAL;
		return;
	}
	if (y < 2050) {
		put_digits(s, (unsigned long)(y % 100), 2);
		n = 2;
	} else {
		put_digits(s, (unsigned long)y, 4);
		n = 4;
	}
	put_digits(s + n, m, 2);
	put_digits(s + n + 2, d, 2);
	put_digits(s + n + 4, (unsigned long)(rem / 3600), 2);
	put_digits(s + n + 6, (unsigned long)(rem / 60 % 60), 2);
	put_digits(s + n + 8, (unsigned long)(rem % 60), 2);
	s[n + 10] = 'Z';
	der_tlv(w, y < 2050 ? DER_UTC_TIME : DER_GENERALIZED_TIME, s, (size_t)n + 11);
}

int der_finish(struct der_w *w, size_t *len, struct bb_err *e)
{
	if (!w->failed && w->depth)
		w->failed = BB_EINVAL;
	if (w->failed == BB_ETOOBIG)
		return bb_errf(e, BB_ETOOBIG, "DER encoding does not fit in %zu bytes", w->cap);
	if (w->failed)
		return bb_errf(e, BB_EINVAL, "DER encoding failed (bad value or nesting)");
	*len = w->len;
	return 0;
}

int der_read(const unsigned char **pp, size_t *np, struct der_tlv *t)
{
	const unsigned char *p = *pp;
	size_t n = *np, len, k, i, hdr;

	if (n < 2 || (p[0] & 0x1f) == 0x1f)
		return -1;
	if (p[1] < 0x80) {
		len = p[1];
		hdr = 2;
	} else {
		k = p[1] & 0x7f;
		if (k == 0 || k > 4 || n < 2 + k || p[2] == 0)
			return -1;
		len = 0;
		for (i = 0; i < k; i++)
			len = len << 8 | p[2 + i];
		if (len < 0x80)
			return -1; /* not minimal */
		hdr = 2 + k;
	}
	if (len > n - hdr)
		return -1;
	t->tag = p[0];
	t->p = p + hdr;
	t->len = len;
	t->raw = p;
	t->raw_len = hdr + len;
	*pp = p + hdr + len;
	*np = n - hdr - len;
	return 0;
}

int der_expect(const unsigned char **pp, size_t *np, unsigned tag, struct der_tlv *t)
{
	const unsigned char *p = *pp;
	size_t n = *np;

	if (der_read(&p, &n, t) < 0 || t->tag != tag)
		return -1;
	*pp = p;
	*np = n;
	return 0;
}

static int get_digits(const unsigned char *p, int n, unsigned *v)
{
	unsigned x = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		x = x * 10 + (p[i] - '0');
	}
	*v = x;
	return 0;
}

int der_time_parse(const struct der_tlv *tlv, time_t *t)
{
	const unsigned char *p = tlv->p;
	unsigned yy, mo, d, h, mi, s;
	long long y, days;
	int n;
	static const unsigned char mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (tlv->tag == DER_UTC_TIME && tlv->len == 13) {
		if (get_digits(p, 2, &yy) < 0)
			return -1;
		y = yy < 50 ? 2000 + yy : 1900 + yy;
		n = 2;
	} else if (tlv->tag == DER_GENERALIZED_TIME && tlv->len == 15) {
		if (get_digits(p, 4, &yy) < 0)
			return -1;
		y = yy;
		n = 4;
	} else {
		return -1;
	}
	if (get_digits(p + n, 2, &mo) < 0 || get_digits(p + n + 2, 2, &d) < 0 ||
	    get_digits(p + n + 4, 2, &h) < 0 || get_digits(p + n + 6, 2, &mi) < 0 ||
	    get_digits(p + n + 8, 2, &s) < 0 || p[n + 10] != 'Z')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 59)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	days = days_from_civil(y, mo, d);
	*t = (time_t)(days * 86400 + h * 3600 + mi * 60 + s);
	return 0;
}
