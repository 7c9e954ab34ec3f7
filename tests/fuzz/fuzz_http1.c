/* fuzz_http1.c - fuzzer for lib/http1: request/response heads and chunked bodies, with invariants checked (abort on violation). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http1.h"

/* A view is empty-and-NULL, or lies inside buf[0..len). */
static int inside(struct sv v, const char *buf, size_t len)
{
	if (v.p == NULL)
		return v.len == 0;
	return v.p >= buf && v.p + v.len <= buf + len;
}

static void check_headers(const struct http1_header *h, size_t n, const char *buf, size_t len)
{
	size_t i, k;

	CHECK(n <= HTTP1_MAX_HEADERS);
	for (i = 0; i < n; i++) {
		CHECK(inside(h[i].name, buf, len) && inside(h[i].value, buf, len));
		CHECK(http1_is_token(h[i].name));
		for (k = 0; k < h[i].value.len; k++) {
			unsigned char c = (unsigned char)h[i].value.p[k];
			CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
		}
		if (h[i].value.len) {
			CHECK(h[i].value.p[0] != ' ' && h[i].value.p[0] != '\t');
			CHECK(h[i].value.p[h[i].value.len - 1] != ' ' &&
			      h[i].value.p[h[i].value.len - 1] != '\t');
		}
	}
}

static void fuzz_request(const char *buf, size_t len)
{
	static struct http1_request r, r2;
	struct http1_error e;
	struct http1_limits lim = { 512, 128 };
	long n = http1_request_parse(buf, len, NULL, &r, &e);
	long m;

	CHECK(n >= -1 && n <= (long)len);
	if (n < 0) {
		CHECK(e.reason != NULL && e.offset <= len);
		CHECK(e.status == 400 || e.status == 414 || e.status == 417 || e.status == 431 ||
		      e.status == 501 || e.status == 505);
	}
	if (n > 0) {
		CHECK(r.head_len == (size_t)n);
		/* the head ends at the first CRLFCRLF */
		CHECK(http1_head_end(buf, len, 0) == (size_t)n);
		CHECK(http1_is_token(r.method) && inside(r.method, buf, (size_t)n));
		CHECK(inside(r.target, buf, (size_t)n) && r.target.len > 0);
		CHECK(inside(r.scheme, buf, (size_t)n) && inside(r.host, buf, (size_t)n));
		CHECK(inside(r.query, buf, (size_t)n) && inside(r.host_header, buf, (size_t)n));
		CHECK(r.version_minor == 0 || r.version_minor == 1);
		CHECK(!(r.chunked && r.content_length != HTTP1_NO_LENGTH));
		CHECK(!(r.chunked && r.version_minor == 0));
		CHECK(r.content_length == HTTP1_NO_LENGTH || r.content_length <= HTTP1_LENGTH_MAX);
		CHECK(r.version_minor == 0 || r.host_header.p != NULL);
		switch (r.form) {
		case HTTP1_FORM_ORIGIN:
			CHECK(r.path.len > 0 && r.path.p[0] == '/' && inside(r.path, buf, (size_t)n));
			break;
		case HTTP1_FORM_ABSOLUTE:
			CHECK(r.port != 0 && http1_host_valid(r.host));
			CHECK(r.path.len > 0 && r.path.p[0] == '/');
			CHECK(inside(r.path, buf, (size_t)n) || sv_eq_str(r.path, "/"));
			break;
		case HTTP1_FORM_AUTHORITY:
			CHECK(r.port != 0 && http1_host_valid(r.host) && sv_eq_str(r.method, "CONNECT"));
			break;
		case HTTP1_FORM_ASTERISK:
			CHECK(sv_eq_str(r.method, "OPTIONS"));
			break;
		default:
			CHECK(0);
		}
		check_headers(r.headers, r.n_headers, buf, (size_t)n);
		/* no shorter prefix is a complete head */
		m = http1_request_parse(buf, (size_t)n - 1, NULL, &r2, &e);
		CHECK(m <= 0);
	}
	/* small caps: never read past them, never accept a head over them */
	m = http1_request_parse(buf, len, &lim, &r2, &e);
	CHECK(m <= (long)lim.max_head);
	if (n > 0 && (size_t)n <= lim.max_head && m < 0)
		CHECK(e.status == 414); /* only the shorter line cap can newly refuse */
	if (m > 0)
		CHECK(m == n);
}

static void fuzz_response(const char *buf, size_t len, struct sv method)
{
	static struct http1_response r;
	struct http1_error e;
	long n = http1_response_parse(buf, len, NULL, method, &r, &e);

	CHECK(n >= -1 && n <= (long)len);
	if (n < 0)
		CHECK(e.status == 502 && e.reason != NULL && e.offset <= len);
	if (n > 0) {
		CHECK(r.head_len == (size_t)n && http1_head_end(buf, len, 0) == (size_t)n);
		CHECK(r.status >= 100 && r.status <= 599);
		CHECK(inside(r.reason, buf, (size_t)n));
		CHECK(!(r.chunked && r.content_length != HTTP1_NO_LENGTH));
		CHECK(r.body != HTTP1_BODY_CLOSE || !r.keep_alive);
		CHECK((r.body == HTTP1_BODY_NONE) == !http1_response_has_body(method, r.status));
		check_headers(r.headers, r.n_headers, buf, (size_t)n);
	}
}

/* Decode buf as a chunked body fed in pieces of `step` bytes (0: all at once). */
static int decode(const char *buf, size_t len, size_t step, uint64_t *payload, uint32_t *sum,
		  size_t *used)
{
	struct http1_chunked c;
	struct http1_error e;
	size_t pos = 0;

	http1_chunked_init(&c, 64, 256);
	*payload = 0;
	*sum = 0;
	while (pos < len && !c.done) {
		size_t piece = step && step < len - pos ? step : len - pos, off = 0;

		while (off < piece && !c.done) {
			size_t u, k;
			struct sv d;

			if (http1_chunked_feed(&c, buf + pos + off, piece - off, &u, &d, &e) < 0) {
				CHECK(e.status == 400 && e.reason != NULL);
				return -1;
			}
			CHECK(u <= piece - off && (u > 0 || c.done));
			CHECK(d.len == 0 || (d.p >= buf + pos + off && d.p + d.len <= buf + pos + off + u));
			for (k = 0; k < d.len; k++)
				*sum = *sum * 31 + (unsigned char)d.p[k];
			*payload += d.len;
			off += u;
		}
		pos += off;
	}
	CHECK(*payload == c.total);
	*used = pos;
	return c.done;
}

static void fuzz_chunked(const char *buf, size_t len, size_t step)
{
	uint64_t p1, p2;
	uint32_t s1, s2;
	size_t u1, u2;
	int r1 = decode(buf, len, 0, &p1, &s1, &u1);
	int r2 = decode(buf, len, step, &p2, &s2, &u2);

	/* the split must not change the outcome */
	CHECK(r1 == r2);
	if (r1 >= 0)
		CHECK(p1 == p2 && s1 == s2 && u1 == u2);
}

static void fuzz_authority(const char *buf, size_t len)
{
	struct http1_authority a;

	if (http1_authority_parse(sv_of(buf, len), 0, &a) == 0) {
		CHECK(inside(a.host, buf, len) && a.host.len > 0 && http1_host_valid(a.host));
		CHECK(a.ip == 0 || a.ip == 4 || a.ip == 6);
	}
	(void)http1_token_list_has(sv_of(buf, len), "close");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "HEAD", "CONNECT", "POST" };
	const char *buf;
	size_t len;
	unsigned sel;

	/* First byte picks the response's request method and the chunked split step. */
	if (size < 1)
		return 0;
	sel = data[0];
	buf = (const char *)data + 1;
	len = size - 1;
	fuzz_request(buf, len);
	fuzz_response(buf, len, sv_from(methods[sel & 3]));
	fuzz_chunked(buf, len, (sel >> 2) + 1);
	if (len < 300)
		fuzz_authority(buf, len);
	return 0;
}
