/* http1.c - strict HTTP/1.1 request/response head parsers, chunked decoder and header helpers (RFC 9110/9112). */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "hex.h"
#include "http1.h"

/* Byte classes, one table so the hot loops do a single lookup per byte. */
enum {
	C_TCHAR = 1,  /* token character (RFC 9110 §5.6.2) */
	C_FIELD = 2,  /* allowed inside a field value: VCHAR, obs-text, SP, HTAB */
	C_TARGET = 4, /* allowed in a request-target: VCHAR except '#' */
	C_HEX = 8,
	C_DIGIT = 16,
	C_HOST = 32 /* reg-name characters we accept: ALPHA DIGIT - . _ */
};

static unsigned char cls[256];
static int cls_ready;

static void cls_init(void)
{
	static const char tch[] = "!#$%&'*+-.^_`|~";
	int c;

	if (cls_ready)
		return;
	for (c = 0; c < 256; c++) {
		unsigned char v = 0;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			v |= C_TCHAR | C_HOST;
		if (c && strchr(tch, c))
			v |= C_TCHAR;
		if ((c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' || c == '\t')
			v |= C_FIELD;
		if (c >= 0x21 && c <= 0x7e && c != '#')
			v |= C_TARGET;
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
			v |= C_HEX;
		if (c >= '0' && c <= '9')
			v |= C_DIGIT;
		if (c == '-' || c == '.' || c == '_')
			v |= C_HOST;
		cls[c] = v;
	}
	/* A benign race: every thread writes the same bytes. */
	cls_ready = 1;
}

#define IS(c, k) (cls[(unsigned char)(c)] & (k))

static int fail(struct http1_error *err, int status, const char *reason, size_t at)
{
	err->status = status;
	err->reason = reason;
	err->offset = at;
	return -1;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int http1_eq_nocase(struct sv a, const char *s)
{
	size_t i;

	for (i = 0; i < a.len; i++) {
		if (!s[i] || lower((unsigned char)a.p[i]) != lower((unsigned char)s[i]))
			return 0;
	}
	return s[i] == '\0';
}

int http1_is_token(struct sv s)
{
	size_t i;

	cls_init();
	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++)
		if (!IS(s.p[i], C_TCHAR))
			return 0;
	return 1;
}

static struct sv trim_ows(const char *p, size_t len)
{
	while (len && (p[0] == ' ' || p[0] == '\t'))
		p++, len--;
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	return sv_of(p, len);
}

/* Call f on each trimmed element of a comma list; stops when f returns nonzero and returns that. */
typedef int (*list_fn)(struct sv elem, void *ctx);

static int list_each(struct sv value, list_fn f, void *ctx)
{
	size_t i = 0, start = 0;
	int r;

	for (i = 0; i <= value.len; i++) {
		if (i == value.len || value.p[i] == ',') {
			r = f(trim_ows(value.p + start, i - start), ctx);
			if (r)
				return r;
			start = i + 1;
		}
	}
	return 0;
}

static int token_match(struct sv elem, void *ctx)
{
	long semi = sv_index(elem, ';');

	if (elem.len == 0)
		return 0;
	if (semi >= 0)
		elem = trim_ows(elem.p, (size_t)semi);
	return http1_eq_nocase(elem, (const char *)ctx);
}

int http1_token_list_has(struct sv value, const char *token)
{
	return list_each(value, token_match, (void *)token);
}

const struct http1_header *http1_header_get(const struct http1_header *h, size_t n,
					    const char *name)
{
	long i = http1_header_next(h, n, 0, name);

	return i < 0 ? NULL : &h[i];
}

long http1_header_next(const struct http1_header *h, size_t n, size_t from, const char *name)
{
	size_t i, nlen = strlen(name);

	for (i = from; i < n; i++)
		if (h[i].name.len == nlen && http1_eq_nocase(h[i].name, name))
			return (long)i;
	return -1;
}

/* ---- hosts and authorities ---- */

/* A canonical dotted quad: four decimal parts 0..255, no leading zeros. */
static int ipv4_canonical(struct sv h)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		size_t start = i;
		unsigned v = 0;

		while (i < h.len && h.p[i] >= '0' && h.p[i] <= '9' && i - start < 3)
			v = v * 10 + (unsigned)(h.p[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && h.p[start] == '0'))
			return 0;
		if (part < 3) {
			if (i >= h.len || h.p[i] != '.')
				return 0;
			i++;
		}
	}
	return i == h.len;
}

/* The last label reads as a number to some resolver: all digits, or 0x + hex. */
static int label_numeric(const char *p, size_t len)
{
	size_t i;

	/* "0x" alone counts: inet_aton-style parsers read it as 0. */
	if (len >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		for (i = 2; i < len; i++)
			if (!IS(p[i], C_HEX))
				return 0;
		return 1;
	}
	for (i = 0; i < len; i++)
		if (!IS(p[i], C_DIGIT))
			return 0;
	return len > 0;
}

/* 0 invalid, 4 IPv4 literal, 6 IPv6 literal, 1 name. */
static int host_kind(struct sv h)
{
	size_t i, label = 0, last = 0;

	cls_init();
	if (h.len == 0)
		return 0;
	if (h.p[0] == '[') {
		char tmp[INET6_ADDRSTRLEN];
		unsigned char addr[16];

		/* IPv6 only: no zone id, no IPvFuture. */
		if (h.len < 4 || h.len - 2 >= sizeof tmp || h.p[h.len - 1] != ']')
			return 0;
		for (i = 1; i + 1 < h.len; i++)
			if (!IS(h.p[i], C_HEX) && h.p[i] != ':' && h.p[i] != '.')
				return 0;
		memcpy(tmp, h.p + 1, h.len - 2);
		tmp[h.len - 2] = '\0';
		return inet_pton(AF_INET6, tmp, addr) == 1 ? 6 : 0;
	}
	if (h.len > 253)
		return 0;
	for (i = 0; i <= h.len; i++) {
		if (i == h.len || h.p[i] == '.') {
			if (label == 0 || label > 63)
				return 0; /* empty label (also a trailing dot) or too long */
			last = i - label;
			label = 0;
			continue;
		}
		if (!IS(h.p[i], C_HOST))
			return 0;
		label++;
	}
	if (label_numeric(h.p + last, h.len - last))
		return ipv4_canonical(h) ? 4 : 0;
	return 1;
}

int http1_host_valid(struct sv host)
{
	return host_kind(host) != 0;
}

int http1_authority_parse(struct sv a, int require_port, struct http1_authority *out)
{
	size_t hlen = a.len, i;
	unsigned long port = 0;
	int kind;

	if (a.len && a.p[0] == '[') {
		const char *close = memchr(a.p, ']', a.len);

		if (!close)
			return -1;
		hlen = (size_t)(close - a.p) + 1;
		if (hlen < a.len && a.p[hlen] != ':')
			return -1;
	} else {
		const char *colon = memchr(a.p, ':', a.len);

		if (colon)
			hlen = (size_t)(colon - a.p);
	}
	kind = host_kind(sv_of(a.p, hlen));
	if (!kind)
		return -1;
	if (hlen < a.len) {
		size_t digits = a.len - hlen - 1;

		if (digits == 0 || digits > 5)
			return -1;
		for (i = hlen + 1; i < a.len; i++) {
			if (a.p[i] < '0' || a.p[i] > '9')
				return -1;
			port = port * 10 + (unsigned long)(a.p[i] - '0');
		}
		if (port == 0 || port > 65535)
			return -1;
	} else if (require_port) {
		return -1;
	}
	out->host = sv_of(a.p, hlen);
	out->port = (uint16_t)port;
	out->ip = kind == 1 ? 0 : kind;
	return 0;
}

/* ---- heads ---- */

static const struct http1_limits default_limits = { HTTP1_DEFAULT_MAX_HEAD,
						     HTTP1_DEFAULT_MAX_START_LINE };

size_t http1_head_end(const char *buf, size_t len, size_t from)
{
	size_t i = from > 3 ? from - 3 : 0;
	const char *p;

	while (i + 4 <= len) {
		p = memchr(buf + i, '\r', len - i - 3);
		if (!p)
			return 0;
		i = (size_t)(p - buf);
		if (p[1] == '\n' && p[2] == '\r' && p[3] == '\n')
			return i + 4;
		i++;
	}
	return 0;
}

/*
 * Skip field-value bytes (VCHAR, obs-text, SP, HTAB) from pos; returns the
 * offset of the first other byte, or len. Eight bytes at a time while no
 * byte is below 0x20 or equal to 0x7f (SWAR), since values are most of a head.
 */
static size_t skip_field_bytes(const char *buf, size_t len, size_t pos)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

	while (pos + 8 <= len) {
		uint64_t w, del;

		memcpy(&w, buf + pos, 8);
		del = w ^ (ones * 0x7f);
		if (((w - ones * 0x20) & ~w & highs) || ((del - ones) & ~del & highs))
			break;
		pos += 8;
	}
	while (pos < len && IS(buf[pos], C_FIELD))
		pos++;
	return pos;
}

/*
 * Parse header field lines from buf[pos..len) up to the empty line.
 * Returns the offset past the final CRLF, 0 when more bytes are needed,
 * -1 on error (status 400, or 431 when there are too many fields).
 */
static long parse_fields(const char *buf, size_t len, size_t pos, struct http1_header *hdr,
			 size_t *n_out, struct http1_error *err)
{
	size_t n = 0;

	for (;;) {
		size_t start, vstart;
		unsigned char c;

		if (pos >= len)
			return 0;
		c = (unsigned char)buf[pos];
		if (c == '\r') {
			if (pos + 1 >= len)
				return 0;
			if (buf[pos + 1] != '\n')
				return fail(err, 400, "bare CR in header section", pos);
			*n_out = n;
			return (long)(pos + 2);
		}
		if (c == '\n')
			return fail(err, 400, "bare LF line ending", pos);
		if (c == ' ' || c == '\t')
			return fail(err, 400, "obs-fold or whitespace at line start", pos);
		start = pos;
		while (pos < len && IS(buf[pos], C_TCHAR))
			pos++;
		if (pos >= len)
			return 0;
		if (buf[pos] != ':') {
			if (buf[pos] == ' ' || buf[pos] == '\t')
				return fail(err, 400, "whitespace between header name and colon", pos);
			if (buf[pos] == '\r' || buf[pos] == '\n')
				return fail(err, 400, "header line without colon", pos);
			return fail(err, 400, "invalid byte in header name", pos);
		}
		if (pos == start)
			return fail(err, 400, "empty header name", pos);
		vstart = ++pos;
		pos = skip_field_bytes(buf, len, pos);
		if (pos >= len)
			return 0;
		if (buf[pos] == '\n')
			return fail(err, 400, "bare LF line ending", pos);
		if (buf[pos] != '\r')
			return fail(err, 400, "control byte in header value", pos);
		if (pos + 1 >= len)
			return 0;
		if (buf[pos + 1] != '\n')
			return fail(err, 400, "bare CR in header value", pos);
		if (n == HTTP1_MAX_HEADERS)
			return fail(err, 431, "too many header fields", start);
		hdr[n].name = sv_of(buf + start, vstart - 1 - start);
		hdr[n].value = trim_ows(buf + vstart, pos - vstart);
		n++;
		pos += 2;
	}
}

/* Facts gathered from the framing headers both message kinds share. */
struct framing {
	uint64_t content_length;
	int te_present;
	int te_chunked_last;
	int te_chunked_count;
	int te_other;
	int te_bad;   /* an element that is empty, has parameters or is not a token */
	int conn_close;
	int conn_keep_alive;
	int upgrade;
};

static int te_elem(struct sv e, void *ctx)
{
	struct framing *f = ctx;

	if (e.len == 0 || !http1_is_token(e)) {
		f->te_bad = 1;
		return 1;
	}
	if (http1_eq_nocase(e, "chunked")) {
		f->te_chunked_count++;
		f->te_chunked_last = 1;
	} else {
		f->te_other = 1;
		f->te_chunked_last = 0;
	}
	return 0;
}

/* Content-Length: 1*DIGIT, one value, at most HTTP1_LENGTH_MAX. */
static int parse_content_length(struct sv v, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (v.len == 0)
		return -1;
	for (i = 0; i < v.len; i++) {
		unsigned d = (unsigned char)v.p[i] - '0';

		if (d > 9)
			return -1;
		if (n > (HTTP1_LENGTH_MAX - d) / 10)
			return -2;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

/*
 * Walk the headers once for the framing fields. Returns 0, or -1 with err
 * (status 400 or 501). host_hdr / expect_hdr receive those headers (NULL
 * pointers when the caller does not care, counted for duplicates).
 */
static int scan_framing(const char *buf, const struct http1_header *h, size_t n, struct framing *f,
			const struct http1_header **host_hdr, int *host_count,
			const struct http1_header **expect_hdr, struct http1_error *err)
{
	size_t i;
	int cl_seen = 0;

	memset(f, 0, sizeof *f);
	f->content_length = HTTP1_NO_LENGTH;
	for (i = 0; i < n; i++) {
		struct sv name = h[i].name;
		size_t at = (size_t)(name.p - buf);

		/* Switch on length first: most headers are none of these. */
		switch (name.len) {
		case 4:
			if (host_hdr && http1_eq_nocase(name, "host")) {
				(*host_count)++;
				*host_hdr = &h[i];
			}
			break;
		case 6:
			/* Keep the first Expect that is not 100-continue, else any. */
			if (expect_hdr && http1_eq_nocase(name, "expect") &&
			    (!*expect_hdr || http1_eq_nocase((*expect_hdr)->value, "100-continue")))
				*expect_hdr = &h[i];
			break;
		case 7:
			if (http1_eq_nocase(name, "upgrade"))
				f->upgrade = 1;
			break;
		case 10:
			if (http1_eq_nocase(name, "connection")) {
				if (http1_token_list_has(h[i].value, "close"))
					f->conn_close = 1;
				if (http1_token_list_has(h[i].value, "keep-alive"))
					f->conn_keep_alive = 1;
			}
			break;
		case 14:
			if (http1_eq_nocase(name, "content-length")) {
				int r;

				if (cl_seen++)
					return fail(err, 400, "duplicate content-length", at);
				r = parse_content_length(h[i].value, &f->content_length);
				if (r == -1)
					return fail(err, 400, "invalid content-length", at);
				if (r == -2)
					return fail(err, 400, "content-length too large", at);
			} else if (http1_eq_nocase(name, "content_length")) {
				/* Servers that map '_' to '-' (CGI, some frameworks) would see a second length. */
				return fail(err, 400, "content_length with an underscore", at);
			}
			break;
		case 17:
			if (http1_eq_nocase(name, "transfer-encoding")) {
				f->te_present = 1;
				list_each(h[i].value, te_elem, f);
				if (f->te_bad)
					return fail(err, 400, "invalid transfer-coding", at);
			} else if (http1_eq_nocase(name, "transfer_encoding")) {
				return fail(err, 400, "transfer_encoding with an underscore", at);
			}
			break;
		default:
			break;
		}
	}
	if (f->te_present) {
		if (cl_seen)
			return fail(err, 400, "both content-length and transfer-encoding", 0);
		if (f->te_chunked_count > 1)
			return fail(err, 400, "chunked applied more than once", 0);
		if (!f->te_chunked_last)
			return fail(err, 400, "chunked is not the final transfer-coding", 0);
		if (f->te_other)
			return fail(err, 501, "unsupported transfer-coding", 0);
	}
	return 0;
}

/* Check percent-encoding in a target: every '%' starts %XX. */
static int pct_ok(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] == '%' && (i + 2 >= len || !IS(p[i + 1], C_HEX) || !IS(p[i + 2], C_HEX)))
			return 0;
	return 1;
}

/* A path segment that is "." or "..", also with dots percent-encoded (%2e). */
static int dot_segment(const char *p, size_t len)
{
	size_t i = 0, dots = 0;

	while (i < len) {
		if (p[i] == '.')
			i++;
		else if (i + 2 < len && p[i] == '%' && p[i + 1] == '2' && (p[i + 2] | 0x20) == 'e')
			i += 3;
		else
			return 0;
		dots++;
	}
	return dots == 1 || dots == 2;
}

/*
 * Paths go to route matching as sent, so refuse what an upstream could
 * normalize into another path: dot-segments and backslashes (which some
 * servers treat as '/'). %2F and %5C also end a segment here, for servers
 * that decode them before removing dot-segments.
 */
static int path_ok(struct sv path)
{
	size_t i = 0, seg = 0, sep;

	while (i <= path.len) {
		sep = 0;
		if (i == path.len || path.p[i] == '/')
			sep = 1;
		else if (path.p[i] == '\\')
			return 0;
		else if (path.p[i] == '%' && i + 2 < path.len &&
			 ((path.p[i + 1] == '2' && (path.p[i + 2] | 0x20) == 'f') ||
			  (path.p[i + 1] == '5' && (path.p[i + 2] | 0x20) == 'c')))
			sep = 3;
		if (!sep) {
			i++;
			continue;
		}
		if (i > seg && dot_segment(path.p + seg, i - seg))
			return 0;
		i += sep;
		seg = i;
	}
	return 1;
}

/* Split a path-and-query span at '?'. */
static void split_query(const char *p, size_t len, struct sv *path, struct sv *query)
{
	const char *q = memchr(p, '?', len);

	if (q) {
		*path = sv_of(p, (size_t)(q - p));
		*query = sv_of(q + 1, len - (size_t)(q - p) - 1);
	} else {
		*path = sv_of(p, len);
		*query = sv_of(NULL, 0);
	}
}

static int parse_target(const char *buf, struct http1_request *r, struct http1_error *err)
{
	struct sv t = r->target;
	size_t at = (size_t)(t.p - buf), i;
	struct http1_authority a;

	if (!pct_ok(t.p, t.len))
		return fail(err, 400, "bad percent-encoding in request target", at);
	if (t.len == 1 && t.p[0] == '*') {
		if (!sv_eq_str(r->method, "OPTIONS"))
			return fail(err, 400, "asterisk target is only for OPTIONS", at);
		r->form = HTTP1_FORM_ASTERISK;
		return 0;
	}
	if (sv_eq_str(r->method, "CONNECT")) {
		if (http1_authority_parse(t, 1, &a) < 0)
			return fail(err, 400, "CONNECT target must be host:port", at);
		r->form = HTTP1_FORM_AUTHORITY;
		r->host = a.host;
		r->port = a.port;
		r->port_explicit = 1;
		r->host_ip = a.ip;
		return 0;
	}
	if (t.p[0] == '/') {
		r->form = HTTP1_FORM_ORIGIN;
		split_query(t.p, t.len, &r->path, &r->query);
		if (!path_ok(r->path))
			return fail(err, 400, "dot-segment or backslash in path", at);
		return 0;
	}
	/* absolute-form: scheme "://" authority [ path-abempty ] [ "?" query ] */
	for (i = 0; i < t.len && t.p[i] != ':'; i++)
		;
	r->scheme = sv_of(t.p, i);
	if (http1_eq_nocase(r->scheme, "http"))
		r->port = 80;
	else if (http1_eq_nocase(r->scheme, "https"))
		r->port = 443;
	else
		return fail(err, 400, "request target is not origin or http(s) absolute form", at);
	if (t.len < i + 3 || t.p[i + 1] != '/' || t.p[i + 2] != '/')
		return fail(err, 400, "absolute target without //authority", at);
	{
		const char *auth = t.p + i + 3, *end = t.p + t.len, *p = auth;
		struct sv authority;

		while (p < end && *p != '/' && *p != '?')
			p++;
		authority = sv_of(auth, (size_t)(p - auth));
		if (memchr(authority.p, '@', authority.len))
			return fail(err, 400, "userinfo in request target", at);
		if (http1_authority_parse(authority, 0, &a) < 0)
			return fail(err, 400, "invalid host in request target", at);
		r->form = HTTP1_FORM_ABSOLUTE;
		r->host = a.host;
		r->host_ip = a.ip;
		if (a.port) {
			r->port = a.port;
			r->port_explicit = 1;
		}
		if (p < end && *p == '/') {
			split_query(p, (size_t)(end - p), &r->path, &r->query);
			if (!path_ok(r->path))
				return fail(err, 400, "dot-segment or backslash in path", at);
		} else {
			r->path = SV_LIT("/");
			r->query = p < end ? sv_of(p + 1, (size_t)(end - p - 1)) : sv_of(NULL, 0);
		}
	}
	return 0;
}

/* Whether a version span is HTTP/DIGIT.DIGIT (then it is only unsupported, 505). */
static int version_shaped(const char *p, size_t len)
{
	return len == 8 && memcmp(p, "HTTP/", 5) == 0 && IS(p[5], C_DIGIT) && p[6] == '.' &&
	       IS(p[7], C_DIGIT);
}

/* Whether more bytes could still complete a head: else the head is over the cap. */
static long need_more(size_t len, size_t max_head, int status, struct http1_error *err)
{
	if (len >= max_head)
		return fail(err, status, "header section too large", max_head);
	return 0;
}

long http1_request_parse(const char *buf, size_t len, const struct http1_limits *lim,
			 struct http1_request *req, struct http1_error *err)
{
	size_t pos = 0, line, i, L;
	long r;
	struct framing f;
	const struct http1_header *host_hdr = NULL, *expect_hdr = NULL;
	int host_count = 0;

	cls_init();
	if (!lim)
		lim = &default_limits;
	L = len < lim->max_head ? len : lim->max_head;
	/* Clear all but the header array, which is large and filled as parsed. */
	memset(req, 0, offsetof(struct http1_request, headers));
	memset(&req->n_headers, 0, sizeof *req - offsetof(struct http1_request, n_headers));

	/* RFC 9112 §2.2: ignore one empty line before the request line. */
	if (L >= 1 && buf[0] == '\r') {
		if (L < 2)
			return need_more(len, lim->max_head, 431, err);
		if (buf[1] != '\n')
			return fail(err, 400, "bare CR before request line", 0);
		pos = 2;
	}
	line = pos;

	/* method SP */
	for (i = pos; i < L && IS(buf[i], C_TCHAR); i++)
		;
	if (i >= L)
		goto partial_line;
	if (buf[i] != ' ') {
		if (i == line && (buf[i] == '\r' || buf[i] == '\n'))
			return fail(err, 400, "empty request line", i);
		return fail(err, 400, i == line ? "invalid method" : "invalid byte in method", i);
	}
	if (i == line)
		return fail(err, 400, "empty method", i);
	req->method = sv_of(buf + line, i - line);
	pos = i + 1;

	/* request-target SP */
	for (i = pos; i < L && IS(buf[i], C_TARGET); i++)
		;
	if (i >= L)
		goto partial_line;
	if (buf[i] != ' ') {
		if (i == pos && buf[i] == ' ')
			return fail(err, 400, "extra space in request line", i);
		if (buf[i] == '\r' || buf[i] == '\n')
			return fail(err, 400, "request line without http version", i);
		return fail(err, 400, "invalid byte in request target", i);
	}
	if (i == pos)
		return fail(err, 400, "extra space in request line", i);
	req->target = sv_of(buf + pos, i - pos);
	pos = i + 1;

	/* HTTP-version CRLF */
	for (i = pos; i < L && buf[i] != '\r' && buf[i] != '\n' && buf[i] != ' '; i++)
		;
	if (i >= L)
		goto partial_line;
	if (buf[i] == ' ')
		return fail(err, 400, "extra space in request line", i);
	if (i - line > lim->max_start_line)
		return fail(err, 414, "request line too long", line);
	if (buf[i] == '\n')
		return fail(err, 400, "bare LF line ending", i);
	if (i + 1 >= L)
		goto partial_line;
	if (buf[i + 1] != '\n')
		return fail(err, 400, "bare CR in request line", i);
	if (i - pos == 8 && memcmp(buf + pos, "HTTP/1.1", 8) == 0)
		req->version_minor = 1;
	else if (i - pos == 8 && memcmp(buf + pos, "HTTP/1.0", 8) == 0)
		req->version_minor = 0;
	else if (version_shaped(buf + pos, i - pos))
		return fail(err, 505, "http version not supported", pos);
	else
		return fail(err, 400, "invalid http version", pos);
	pos = i + 2;

	r = parse_fields(buf, L, pos, req->headers, &req->n_headers, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return need_more(len, lim->max_head, 431, err);
	req->head_len = (size_t)r;

	if (parse_target(buf, req, err) < 0)
		return -1;
	if (scan_framing(buf, req->headers, req->n_headers, &f, &host_hdr, &host_count,
			 &expect_hdr, err) < 0)
		return -1;
	if (f.te_present && req->version_minor == 0)
		return fail(err, 400, "transfer-encoding in an HTTP/1.0 request", 0);
	req->content_length = f.content_length;
	req->chunked = f.te_present;
	req->upgrade = f.upgrade;
	req->keep_alive = req->version_minor == 1 ? !f.conn_close : f.conn_keep_alive && !f.conn_close;

	if (host_count > 1)
		return fail(err, 400, "more than one host header", (size_t)(host_hdr->name.p - buf));
	if (host_count == 0 && req->version_minor == 1)
		return fail(err, 400, "missing host header", req->head_len);
	if (host_hdr) {
		struct http1_authority a = { { NULL, 0 }, 0, 0 };

		req->host_header = host_hdr->value; /* p is never NULL for a present header */
		if (host_hdr->value.len &&
		    http1_authority_parse(host_hdr->value, 0, &a) < 0)
			return fail(err, 400, "invalid host header", (size_t)(host_hdr->name.p - buf));
		if (req->form == HTTP1_FORM_ABSOLUTE || req->form == HTTP1_FORM_AUTHORITY) {
			/* A Host without a port means the scheme's default (the target's port for CONNECT). */
			uint16_t hport = a.port ? a.port : req->form == HTTP1_FORM_ABSOLUTE
				? (http1_eq_nocase(req->scheme, "https") ? 443 : 80) : req->port;

			if (!host_hdr->value.len || hport != req->port ||
			    a.host.len != req->host.len ||
			    strncasecmp(a.host.p, req->host.p, a.host.len) != 0)
				req->host_mismatch = 1;
		}
	}
	if (expect_hdr && req->version_minor == 1) {
		/* RFC 9110 §10.1.1: 100-continue is the only expectation defined. */
		if (!http1_eq_nocase(expect_hdr->value, "100-continue"))
			return fail(err, 417, "unsupported expectation",
				    (size_t)(expect_hdr->name.p - buf));
		req->expect_continue = 1;
	}
	return (long)req->head_len;

partial_line:
	if (L - line > lim->max_start_line)
		return fail(err, 414, "request line too long", line);
	return need_more(len, lim->max_head, 431, err);
}

int http1_response_has_body(struct sv request_method, int status)
{
	if (sv_eq_str(request_method, "HEAD"))
		return 0;
	if ((status >= 100 && status < 200) || status == 204 || status == 304)
		return 0;
	if (sv_eq_str(request_method, "CONNECT") && status >= 200 && status < 300)
		return 0;
	return 1;
}

long http1_response_parse(const char *buf, size_t len, const struct http1_limits *lim,
			  struct sv request_method, struct http1_response *resp,
			  struct http1_error *err)
{
	size_t pos, i, L;
	long r;
	struct framing f;

	cls_init();
	if (!lim)
		lim = &default_limits;
	L = len < lim->max_head ? len : lim->max_head;
	memset(resp, 0, offsetof(struct http1_response, headers));
	memset(&resp->n_headers, 0, sizeof *resp - offsetof(struct http1_response, n_headers));

	/* HTTP-version SP 3DIGIT [SP reason] CRLF; the SP before an empty reason may be missing. */
	for (i = 0; i < L && i < 8; i++)
		if (buf[i] != "HTTP/1.1"[i] && !(i == 7 && buf[i] == '0'))
			break;
	if (i < 8) {
		if (i == L)
			goto partial_line;
		if (i == 7 && IS(buf[i], C_DIGIT))
			return fail(err, 502, "unsupported http version in response", 0);
		if (i == 5 && IS(buf[i], C_DIGIT) && L > 7 && buf[6] == '.' && IS(buf[7], C_DIGIT))
			return fail(err, 502, "unsupported http version in response", 0);
		return fail(err, 502, "invalid status line", i);
	}
	resp->version_minor = buf[7] - '0';
	if (L < 9)
		goto partial_line;
	if (buf[8] != ' ')
		return fail(err, 502, "invalid status line", 8);
	for (i = 9; i < 12 && i < L; i++)
		if (!IS(buf[i], C_DIGIT))
			return fail(err, 502, "invalid status code", i);
	if (i < 12)
		goto partial_line;
	resp->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (resp->status < 100 || resp->status > 599)
		return fail(err, 502, "invalid status code", 9);
	pos = 12;
	if (pos >= L)
		goto partial_line;
	if (buf[pos] == ' ') {
		pos++;
		for (i = pos; i < L && IS(buf[i], C_FIELD); i++)
			;
		if (i >= L)
			goto partial_line;
		resp->reason = sv_of(buf + pos, i - pos);
		pos = i;
	} else {
		resp->reason = sv_of(buf + pos, 0);
	}
	if (buf[pos] == '\n')
		return fail(err, 502, "bare LF line ending", pos);
	if (buf[pos] != '\r')
		return fail(err, 502, "invalid byte in status line", pos);
	if (pos > lim->max_start_line)
		return fail(err, 502, "status line too long", 0);
	if (pos + 1 >= L)
		goto partial_line;
	if (buf[pos + 1] != '\n')
		return fail(err, 502, "bare CR in status line", pos);
	pos += 2;

	r = parse_fields(buf, L, pos, resp->headers, &resp->n_headers, err);
	if (r == 0)
		return need_more(len, lim->max_head, 502, err);
	if (r < 0 || scan_framing(buf, resp->headers, resp->n_headers, &f, NULL, NULL, NULL, err) < 0) {
		err->status = 502;
		return -1;
	}
	resp->head_len = (size_t)r;
	if (f.te_present && resp->version_minor == 0)
		return fail(err, 502, "transfer-encoding in an HTTP/1.0 response", 0);
	resp->content_length = f.content_length;
	resp->chunked = f.te_present;
	resp->upgrade = f.upgrade;
	resp->keep_alive = resp->version_minor == 1 ? !f.conn_close : f.conn_keep_alive && !f.conn_close;
	if (!http1_response_has_body(request_method, resp->status))
		resp->body = HTTP1_BODY_NONE;
	else if (resp->chunked)
		resp->body = HTTP1_BODY_CHUNKED;
	else if (resp->content_length != HTTP1_NO_LENGTH)
		resp->body = HTTP1_BODY_LENGTH;
	else {
		resp->body = HTTP1_BODY_CLOSE;
		resp->keep_alive = 0;
	}
	return (long)resp->head_len;

partial_line:
	if (L > lim->max_start_line)
		return fail(err, 502, "status line too long", 0);
	return need_more(len, lim->max_head, 502, err);
}

/* ---- chunked ---- */

enum {
	CH_SIZE = 0,   /* hex digits of the chunk size */
	CH_SIZE_WS,    /* BWS after the size, before ';' */
	CH_EXT,        /* chunk extension, up to CR */
	CH_SIZE_LF,    /* LF ending the size line */
	CH_DATA,       /* payload */
	CH_DATA_CR,    /* CRLF after the payload */
	CH_DATA_LF,
	CH_TRAILER,    /* start of a trailer line (or the final CRLF) */
	CH_TR_NAME,
	CH_TR_VALUE,
	CH_TR_LF,
	CH_FINAL_LF,
	CH_DONE,
	CH_FAILED
};

void http1_chunked_init(struct http1_chunked *c, size_t max_ext, size_t max_trailers)
{
	cls_init();
	memset(c, 0, sizeof *c);
	c->state = CH_SIZE;
	c->max_ext = max_ext ? max_ext : HTTP1_DEFAULT_MAX_CHUNK_EXT;
	c->max_trailers = max_trailers ? max_trailers : HTTP1_DEFAULT_MAX_TRAILERS;
}

static int chunk_fail(struct http1_chunked *c, struct http1_error *err, const char *why,
		      size_t at, size_t *consumed)
{
	c->state = CH_FAILED;
	*consumed = at;
	return fail(err, 400, why, at);
}

void http1_chunked_unread(struct http1_chunked *c, size_t n)
{
	if (!n || c->state == CH_FAILED)
		return;
	c->remaining += n;
	c->total -= n;
	c->state = CH_DATA;
}

int http1_chunked_feed(struct http1_chunked *c, const char *in, size_t len, size_t *consumed,
		       struct sv *data, struct http1_error *err)
{
	size_t i;

	*data = sv_of(in, 0);
	if (c->state == CH_FAILED)
		return chunk_fail(c, err, "chunked decoder already failed", 0, consumed);
	for (i = 0; i < len && c->state != CH_DONE; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (c->state >= CH_TRAILER && c->state <= CH_FINAL_LF &&
		    ++c->trailer_len > c->max_trailers)
			return chunk_fail(c, err, "trailer section too large", i, consumed);
		switch (c->state) {
		case CH_SIZE:
			if (IS(ch, C_HEX)) {
				unsigned v = (unsigned)hex_val(ch);

				if (++c->digits > 16)
					return chunk_fail(c, err, "chunk size too long", i, consumed);
				c->remaining = c->remaining << 4 | v;
				break;
			}
			if (c->digits == 0)
				return chunk_fail(c, err, "invalid chunk size", i, consumed);
			if (c->remaining > HTTP1_LENGTH_MAX - c->total)
				return chunk_fail(c, err, "chunked body too large", i, consumed);
			if (ch == ';')
				c->state = CH_EXT;
			else if (ch == ' ' || ch == '\t')
				c->state = CH_SIZE_WS;
			else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else
				return chunk_fail(c, err, "invalid byte after chunk size", i, consumed);
			break;
		case CH_SIZE_WS:
			if (++c->ext_len > c->max_ext)
				return chunk_fail(c, err, "chunk extension too long", i, consumed);
			if (ch == ';')
				c->state = CH_EXT;
			else if (ch != ' ' && ch != '\t')
				return chunk_fail(c, err, "whitespace after chunk size", i, consumed);
			break;
		case CH_EXT:
			if (++c->ext_len > c->max_ext)
				return chunk_fail(c, err, "chunk extension too long", i, consumed);
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n')
				return chunk_fail(c, err, "bare LF in chunk extension", i, consumed);
			else if (!IS(ch, C_FIELD))
				return chunk_fail(c, err, "control byte in chunk extension", i, consumed);
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return chunk_fail(c, err, "bare CR in chunk size line", i, consumed);
			c->state = c->remaining ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t n = len - i;

			if ((uint64_t)n > c->remaining)
				n = (size_t)c->remaining;
			*data = sv_of(in + i, n);
			c->remaining -= n;
			c->total += n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			*consumed = i + n;
			return 0;
		}
		case CH_DATA_CR:
			if (ch != '\r')
				return chunk_fail(c, err, "missing CRLF after chunk data", i, consumed);
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return chunk_fail(c, err, "missing CRLF after chunk data", i, consumed);
			c->state = CH_SIZE;
			c->digits = 0;
			c->ext_len = 0;
			break;
		case CH_TRAILER:
			if (ch == '\r')
				c->state = CH_FINAL_LF;
			else if (IS(ch, C_TCHAR))
				c->state = CH_TR_NAME;
			else if (ch == ' ' || ch == '\t')
				return chunk_fail(c, err, "obs-fold in trailer section", i, consumed);
			else if (ch == ':')
				return chunk_fail(c, err, "empty trailer name", i, consumed);
			else if (ch == '\n')
				return chunk_fail(c, err, "bare LF in trailer section", i, consumed);
			else
				return chunk_fail(c, err, "invalid byte in trailer name", i, consumed);
			break;
		case CH_TR_NAME:
			if (ch == ':')
				c->state = CH_TR_VALUE;
			else if (ch == ' ' || ch == '\t')
				return chunk_fail(c, err, "whitespace between trailer name and colon", i, consumed);
			else if (!IS(ch, C_TCHAR))
				return chunk_fail(c, err, "invalid byte in trailer name", i, consumed);
			break;
		case CH_TR_VALUE:
			if (ch == '\r')
				c->state = CH_TR_LF;
			else if (ch == '\n')
				return chunk_fail(c, err, "bare LF in trailer section", i, consumed);
			else if (!IS(ch, C_FIELD))
				return chunk_fail(c, err, "control byte in trailer value", i, consumed);
			break;
		case CH_TR_LF:
			if (ch != '\n')
				return chunk_fail(c, err, "bare CR in trailer section", i, consumed);
			c->state = CH_TRAILER;
			break;
		case CH_FINAL_LF:
			if (ch != '\n')
				return chunk_fail(c, err, "bare CR at end of chunked body", i, consumed);
			c->state = CH_DONE;
			c->done = 1;
			break;
		default:
			break;
		}
	}
	*consumed = i;
	return 0;
}

size_t http1_chunk_size_line(uint64_t n, char *out, size_t cap)
{
	char tmp[16];
	size_t k = 0, i;

	do {
		tmp[k++] = "0123456789abcdef"[n & 15];
		n >>= 4;
	} while (n);
	if (cap < k + 2)
		return 0;
	for (i = 0; i < k; i++)
		out[i] = tmp[k - 1 - i];
	out[k] = '\r';
	out[k + 1] = '\n';
	return k + 2;
}

const char *http1_status_reason(int status)
{
	/* Every status RFC 9110 defines, and the registered ones clients and APIs commonly send. */
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 208: return "Already Reported";
	case 226: return "IM Used";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 511: return "Network Authentication Required";
	default: return "Unknown";
	}
}
