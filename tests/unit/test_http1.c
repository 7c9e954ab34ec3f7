/* test_http1.c - unit tests of lib/http1: request/response heads, every refusal, smuggling vectors, chunked at every split; --bench times a 600-byte head. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http1.h"
#include "t.h"

static struct http1_request rq;
static struct http1_response rs;
static struct http1_error er;

/* Parse a request held in a literal (sizeof keeps embedded NULs). */
#define REQ(lit) http1_request_parse((lit), sizeof(lit) - 1, NULL, &rq, &er)
#define RESP(lit, method) \
	http1_response_parse((lit), sizeof(lit) - 1, NULL, SV_LIT(method), &rs, &er)

/*
 * Every strict prefix of a head must not be accepted: a head is only
 * accepted once its CRLFCRLF is in. For a complete head (may_refuse 0) each
 * prefix must ask for more bytes; for a bad one it may be refused early.
 */
static int prefixes_not_accepted(const char *s, size_t len, int response, int may_refuse)
{
	size_t k;
	struct http1_request r2;
	struct http1_response s2;
	struct http1_error e2;

	for (k = 0; k < len; k++) {
		long r = response ? http1_response_parse(s, k, NULL, SV_LIT("GET"), &s2, &e2)
				  : http1_request_parse(s, k, NULL, &r2, &e2);
		if (r > 0 || (r < 0 && !may_refuse)) {
			printf("#   prefix %zu of %zu gave %ld (%s)\n", k, len, r, r < 0 ? e2.reason : "");
			return 0;
		}
	}
	return 1;
}

#define REQ_OK(lit)                                                                       \
	do {                                                                              \
		long r_ = REQ(lit);                                                       \
		if (r_ != (long)(sizeof(lit) - 1))                                        \
			printf("#   %s:%d: got %ld (%d %s)\n", __FILE__, __LINE__, r_,      \
			       r_ < 0 ? er.status : 0, r_ < 0 ? er.reason : "");          \
		T_CHECK(r_ == (long)(sizeof(lit) - 1));                                    \
		T_CHECK(prefixes_not_accepted((lit), sizeof(lit) - 1, 0, 0));                        \
		REQ(lit);                                                                 \
	} while (0)

/* Refused with this status, and no prefix of it is accepted either. */
#define REQ_BAD(lit, want)                                                                \
	do {                                                                              \
		long r_ = REQ(lit);                                                       \
		if (r_ != -1 || er.status != (want))                                      \
			printf("#   %s:%d: got %ld status %d (%s), want %d\n", __FILE__,    \
			       __LINE__, r_, r_ < 0 ? er.status : 0,                      \
			       r_ < 0 ? er.reason : "", (want));                          \
		T_CHECK(r_ == -1 && er.status == (want));                                 \
		T_CHECK(er.reason != NULL && er.offset <= sizeof(lit) - 1);               \
		T_CHECK(prefixes_not_accepted((lit), sizeof(lit) - 1, 0, 1));                   \
	} while (0)

#define RESP_OK(lit, method)                                                              \
	do {                                                                              \
		long r_ = RESP(lit, method);                                              \
		if (r_ != (long)(sizeof(lit) - 1))                                        \
			printf("#   %s:%d: got %ld (%s)\n", __FILE__, __LINE__, r_,         \
			       r_ < 0 ? er.reason : "");                                  \
		T_CHECK(r_ == (long)(sizeof(lit) - 1));                                    \
		T_CHECK(prefixes_not_accepted((lit), sizeof(lit) - 1, 1, 0));                        \
		RESP(lit, method);                                                        \
	} while (0)

#define RESP_BAD(lit)                                                                     \
	do {                                                                              \
		long r_ = RESP(lit, "GET");                                               \
		if (r_ != -1 || er.status != 502)                                         \
			printf("#   %s:%d: got %ld (%s)\n", __FILE__, __LINE__, r_,         \
			       r_ < 0 ? er.reason : "");                                  \
		T_CHECK(r_ == -1 && er.status == 502);                                    \
		T_CHECK(prefixes_not_accepted((lit), sizeof(lit) - 1, 1, 1));                   \
	} while (0)

static int sv_is(struct sv v, const char *s)
{
	return v.p != NULL && sv_eq_str(v, s);
}

/* ---- requests: accepted forms ---- */

static void origin_form_get(void)
{
	REQ_OK("GET /a/b?x=1&y HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n");
	T_CHECK(sv_is(rq.method, "GET"));
	T_CHECK(sv_is(rq.target, "/a/b?x=1&y"));
	T_CHECK(rq.form == HTTP1_FORM_ORIGIN);
	T_CHECK(sv_is(rq.path, "/a/b"));
	T_CHECK(sv_is(rq.query, "x=1&y"));
	T_CHECK(rq.version_minor == 1);
	T_CHECK(rq.n_headers == 3);
	T_CHECK(sv_is(rq.headers[1].name, "User-Agent") && sv_is(rq.headers[1].value, "curl/8"));
	T_CHECK(rq.content_length == HTTP1_NO_LENGTH && !rq.chunked);
	T_CHECK(rq.keep_alive && !rq.expect_continue && !rq.upgrade && !rq.host_mismatch);
	T_CHECK(sv_is(rq.host_header, "example.com"));
	T_CHECK(rq.scheme.len == 0 && rq.host.len == 0 && rq.port == 0);
}

static void origin_form_without_query(void)
{
	REQ_OK("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	T_CHECK(sv_is(rq.path, "/") && rq.query.p == NULL);
	REQ_OK("GET /p? HTTP/1.1\r\nHost: h\r\n\r\n");
	T_CHECK(sv_is(rq.path, "/p") && rq.query.p != NULL && rq.query.len == 0);
}

static void absolute_form_with_port_path_query(void)
{
	REQ_OK("POST http://Example.COM:8080/v1/x?k=v HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 3\r\n\r\n");
	T_CHECK(rq.form == HTTP1_FORM_ABSOLUTE);
	T_CHECK(sv_is(rq.scheme, "http"));
	T_CHECK(sv_is(rq.host, "Example.COM"));
	T_CHECK(rq.port == 8080 && rq.port_explicit && rq.host_ip == 0);
	T_CHECK(sv_is(rq.path, "/v1/x") && sv_is(rq.query, "k=v"));
	T_CHECK(rq.content_length == 3);
	T_CHECK(!rq.host_mismatch);
}

static void absolute_form_defaults(void)
{
	REQ_OK("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
	T_CHECK(sv_is(rq.path, "/") && rq.query.p == NULL && rq.port == 80 && !rq.port_explicit);
	T_CHECK(!rq.host_mismatch);
	REQ_OK("GET http://example.com?q=1 HTTP/1.1\r\nHost: example.com:80\r\n\r\n");
	T_CHECK(sv_is(rq.path, "/") && sv_is(rq.query, "q=1"));
	T_CHECK(!rq.host_mismatch);
	REQ_OK("GET HTTPS://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
	T_CHECK(rq.port == 443 && sv_is(rq.scheme, "HTTPS") && !rq.host_mismatch);
	REQ_OK("GET http://[::1]:81/ HTTP/1.1\r\nHost: [::1]:81\r\n\r\n");
	T_CHECK(sv_is(rq.host, "[::1]") && rq.port == 81 && rq.host_ip == 6 && !rq.host_mismatch);
	REQ_OK("GET http://10.0.0.1/ HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n");
	T_CHECK(rq.host_ip == 4);
}

static void absolute_form_host_mismatch_is_flagged(void)
{
	REQ_OK("GET http://allowed.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n");
	T_CHECK(rq.host_mismatch && sv_is(rq.host, "allowed.example"));
	REQ_OK("GET http://a.example/ HTTP/1.1\r\nHost: a.example:8080\r\n\r\n");
	T_CHECK(rq.host_mismatch);
	REQ_OK("GET http://a.example:8080/ HTTP/1.1\r\nHost: a.example\r\n\r\n");
	T_CHECK(rq.host_mismatch);
	REQ_OK("GET https://a.example/ HTTP/1.1\r\nHost: a.example:80\r\n\r\n");
	T_CHECK(rq.host_mismatch);
	REQ_OK("GET http://a.example/ HTTP/1.1\r\nHost:\r\n\r\n");
	T_CHECK(rq.host_mismatch && rq.host_header.p != NULL && rq.host_header.len == 0);
	REQ_OK("GET http://a.example/ HTTP/1.1\r\nHost: A.Example:80\r\n\r\n");
	T_CHECK(!rq.host_mismatch);
	REQ_OK("GET http://a.example/ HTTP/1.0\r\n\r\n");
	T_CHECK(!rq.host_mismatch && rq.host_header.p == NULL);
	REQ_OK("CONNECT a.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n");
	T_CHECK(rq.host_mismatch);
}

static void connect_authority_form(void)
{
	REQ_OK("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\nProxy-Connection: Keep-Alive\r\n\r\n");
	T_CHECK(rq.form == HTTP1_FORM_AUTHORITY);
	T_CHECK(sv_is(rq.host, "api.example.com") && rq.port == 443 && rq.port_explicit);
	T_CHECK(!rq.host_mismatch && rq.path.p == NULL);
	REQ_OK("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com\r\n\r\n");
	T_CHECK(!rq.host_mismatch);
	REQ_OK("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n");
	T_CHECK(rq.host_ip == 6 && rq.port == 8443);
}

static void dots_that_are_not_dot_segments(void)
{
	REQ_OK("GET /a/.../b/.c/d./..e/%2e%2e%2e HTTP/1.1\r\nHost: h\r\n\r\n");
	T_CHECK(sv_is(rq.path, "/a/.../b/.c/d./..e/%2e%2e%2e"));
	REQ_OK("GET /a?p=/../x HTTP/1.1\r\nHost: h\r\n\r\n");
	T_CHECK(sv_is(rq.query, "p=/../x"));
	REQ_OK("GET /api/v4/projects/group%2Fproject HTTP/1.1\r\nHost: h\r\n\r\n");
	REQ_OK("GET //a//b/ HTTP/1.1\r\nHost: h\r\n\r\n");
}

static void options_asterisk_form(void)
{
	REQ_OK("OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n");
	T_CHECK(rq.form == HTTP1_FORM_ASTERISK);
}

static void http10_rules(void)
{
	REQ_OK("GET / HTTP/1.0\r\n\r\n");
	T_CHECK(rq.version_minor == 0 && !rq.keep_alive && rq.host_header.p == NULL);
	REQ_OK("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	T_CHECK(rq.keep_alive);
	REQ_OK("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
	T_CHECK(!rq.keep_alive);
	/* RFC 9110 §10.1.1: 100-continue from an HTTP/1.0 client is ignored */
	REQ_OK("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
	T_CHECK(!rq.expect_continue && rq.content_length == 1);
}

static void connection_close_and_upgrade(void)
{
	REQ_OK("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n");
	T_CHECK(!rq.keep_alive);
	REQ_OK("GET / HTTP/1.1\r\nHost: h\r\nConnection: x\r\nConnection: close\r\n\r\n");
	T_CHECK(!rq.keep_alive);
	REQ_OK("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n");
	T_CHECK(rq.keep_alive);
	REQ_OK("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
	T_CHECK(rq.upgrade);
}

static void framing_fields(void)
{
	REQ_OK("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
	T_CHECK(rq.chunked && rq.content_length == HTTP1_NO_LENGTH);
	REQ_OK("POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: \tCHUNKED \r\n\r\n");
	T_CHECK(rq.chunked);
	REQ_OK("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
	T_CHECK(rq.content_length == 0 && !rq.chunked);
	REQ_OK("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n");
	T_CHECK(rq.content_length == 7);
	REQ_OK("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n");
	T_CHECK(rq.content_length == (uint64_t)INT64_MAX);
	REQ_OK("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n");
	T_CHECK(rq.expect_continue);
}

static void leading_crlf_is_skipped_once(void)
{
	REQ_OK("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
	T_CHECK(sv_is(rq.method, "GET") && rq.head_len == 29);
	REQ_BAD("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

static void header_values_are_trimmed_and_may_hold_obs_text(void)
{
	REQ_OK("GET / HTTP/1.1\r\nHost:h\r\nX-A:  a b\t \r\nX-B: \xe2\x82\xac\r\nX-C:\r\nX-D: \t\r\n\r\n");
	T_CHECK(sv_is(rq.host_header, "h"));
	T_CHECK(sv_is(rq.headers[1].value, "a b"));
	T_CHECK(sv_is(rq.headers[2].value, "\xe2\x82\xac"));
	T_CHECK(rq.headers[3].value.len == 0 && rq.headers[4].value.len == 0);
	T_CHECK(rq.n_headers == 5);
}

static void lowercase_and_extension_methods_are_tokens(void)
{
	REQ_OK("get / HTTP/1.1\r\nHost: h\r\n\r\n");
	T_CHECK(sv_is(rq.method, "get"));
	REQ_OK("PROPFIND /x HTTP/1.1\r\nHost: h\r\n\r\n");
	REQ_OK("M-SEARCH /x HTTP/1.1\r\nHost: h\r\n\r\n");
}

/* The head ends at the first empty line; the bytes after it are the body or the next request. */
static void head_length_stops_at_the_empty_line(void)
{
	static const char two[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
	long r = http1_request_parse(two, sizeof two - 1, NULL, &rq, &er);

	T_CHECK(r == 28);
	T_CHECK(sv_is(rq.path, "/1"));
	r = http1_request_parse(two + r, sizeof two - 1 - (size_t)r, NULL, &rq, &er);
	T_CHECK(r == 28 && sv_is(rq.path, "/2"));
}

/* ---- requests: refusals ---- */

static void refuses_cl_and_te_together(void)
{
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400);
}

static void refuses_bad_content_length(void)
{
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5.0\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551621\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400);
}

static void refuses_transfer_codings_other_than_chunked(void)
{
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ch unked\r\n\r\n", 400);
	/* RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing */
	REQ_BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

static void refuses_obs_fold_and_bad_header_lines(void)
{
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX(y): z\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX y: z\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX-\xc3\xa9: z\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\n\"X\": z\r\n\r\n", 400);
}

static void refuses_bare_cr_and_bare_lf(void)
{
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\rHost: h\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\n\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\n\n", 400);
	REQ_BAD("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

static void refuses_control_bytes_in_values(void)
{
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX-A: \x01\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7f\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: h\r\nX-A: \x1b[31m\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0b" "chunked\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0c" "chunked\r\n\r\n", 400);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\x00\r\n\r\n", 400);
}

static void refuses_bad_request_lines(void)
{
	REQ_BAD("G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400);
	REQ_BAD(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET\t/\tHTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /\r\n\r\n", 400);
	REQ_BAD("GET\r\n\r\n", 400);
	REQ_BAD("\r\n\r\n", 400);
	REQ_BAD("/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400); /* a TLS ClientHello */
	REQ_BAD("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
}

static void refuses_unsupported_versions(void)
{
	REQ_BAD("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
	REQ_BAD("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505);
	REQ_BAD("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505);
	REQ_BAD("GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505);
	REQ_BAD("GET / http/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/11\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET / HTTPS/1.1\r\nHost: h\r\n\r\n", 400);
}

static void refuses_bad_targets(void)
{
	REQ_BAD("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a% HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http:/h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http:h HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http://user:pw@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http://evil@good.example/ HTTP/1.1\r\nHost: good.example\r\n\r\n", 400);
	REQ_BAD("GET http://h:0/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http://h:65536/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http://h:/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http://h:8a/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http://h%2e.example/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http://127.1/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http://2130706433/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http://[fe80::1%25eth0]/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a/../b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a/./b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /.. HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a/.. HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a/..?x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a/%2e%2E/b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a/.%2e/b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a/%2e HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a/..%2fadmin HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a/%2e%2e%2Fadmin HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a%2f..%5cadmin HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET http://h/a/../b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("GET example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	REQ_BAD("CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 400);
	REQ_BAD("CONNECT / HTTP/1.1\r\nHost: example.com\r\n\r\n", 400);
	REQ_BAD("CONNECT http://example.com:443/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400);
	REQ_BAD("CONNECT user@example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 400);
}

static void refuses_bad_host_headers(void)
{
	REQ_BAD("GET / HTTP/1.1\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: a.example.\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: a..example\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: 127.1\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: a.example:99999\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: u@a.example\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: a.example/x\r\n\r\n", 400);
	REQ_BAD("GET / HTTP/1.1\r\nHost: a.example, b.example\r\n\r\n", 400);
}

static void refuses_unknown_expectations(void)
{
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n", 417);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x\r\nContent-Length: 1\r\n\r\n", 417);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nExpect: x\r\nContent-Length: 1\r\n\r\n", 417);
	REQ_BAD("POST / HTTP/1.1\r\nHost: h\r\nExpect: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", 417);
}

static void too_many_headers_is_431(void)
{
	static char buf[8192];
	size_t n = 0;
	int i;
	long r;

	n += (size_t)snprintf(buf + n, sizeof buf - n, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (i = 1; i < HTTP1_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
	r = http1_request_parse(buf, n, NULL, &rq, &er);
	T_CHECK(r == (long)n && rq.n_headers == HTTP1_MAX_HEADERS);
	n -= 2;
	n += (size_t)snprintf(buf + n, sizeof buf - n, "X-last: v\r\n\r\n");
	r = http1_request_parse(buf, n, NULL, &rq, &er);
	T_CHECK(r == -1 && er.status == 431);
}

static void head_cap_is_431(void)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: 0123456789\r\n\r\n";
	size_t n = sizeof head - 1;
	struct http1_limits lim = { n, 100 };
	long r;

	r = http1_request_parse(head, n, &lim, &rq, &er);
	T_CHECK(r == (long)n); /* exactly at the cap */
	lim.max_head = n - 1;
	r = http1_request_parse(head, n, &lim, &rq, &er);
	T_CHECK(r == -1 && er.status == 431); /* complete but one byte over */
	r = http1_request_parse(head, n - 2, &lim, &rq, &er);
	T_CHECK(r == 0); /* below the cap: still waiting */
	r = http1_request_parse(head, n - 1, &lim, &rq, &er);
	T_CHECK(r == -1 && er.status == 431); /* cap reached without the end */
	/* the default cap: 64 KiB of one header with no end in sight */
	{
		static char big[HTTP1_DEFAULT_MAX_HEAD + 10];
		memset(big, 'a', sizeof big);
		memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
		T_CHECK(http1_request_parse(big, HTTP1_DEFAULT_MAX_HEAD - 1, NULL, &rq, &er) == 0);
		T_CHECK(http1_request_parse(big, sizeof big, NULL, &rq, &er) == -1 && er.status == 431);
	}
}

static void long_request_line_is_414(void)
{
	static char buf[300];
	struct http1_limits lim = { 4096, 64 };
	size_t n;
	long r;

	memset(buf, 'a', sizeof buf);
	memcpy(buf, "GET /", 5);
	/* incomplete, already past the cap */
	r = http1_request_parse(buf, 100, &lim, &rq, &er);
	T_CHECK(r == -1 && er.status == 414);
	/* incomplete, under the cap */
	r = http1_request_parse(buf, 60, &lim, &rq, &er);
	T_CHECK(r == 0);
	/* complete line of 65 bytes */
	memcpy(buf + 56, " HTTP/1.1\r\nHost: h\r\n\r\n", 22);
	n = 56 + 22;
	r = http1_request_parse(buf, n, &lim, &rq, &er);
	T_CHECK(r == -1 && er.status == 414);
	/* 64 bytes exactly is fine */
	memcpy(buf + 55, " HTTP/1.1\r\nHost: h\r\n\r\n", 22);
	n = 55 + 22;
	r = http1_request_parse(buf, n, &lim, &rq, &er);
	T_CHECK(r == (long)n);
}

static void errors_are_found_before_the_head_ends(void)
{
	static const char s[] = "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb";
	static const char s2[] = "G\x01";
	long r = http1_request_parse(s, sizeof s - 1, NULL, &rq, &er);

	T_CHECK(r == -1 && er.status == 400 && er.offset == 31);
	r = http1_request_parse(s2, sizeof s2 - 1, NULL, &rq, &er);
	T_CHECK(r == -1 && er.status == 400 && er.offset == 1);
}

/*
 * Smuggling vectors from the literature (CL.TE, TE.CL, TE.TE obfuscation,
 * header-name tricks): each is refused, or accepted with one unambiguous
 * framing that the proxy then re-emits itself.
 */
static void smuggling_vector_table(void)
{
	static const struct {
		const char *head;
		int status;   /* 0: accepted */
		int chunked;  /* when accepted */
		long long cl; /* when accepted; -1 none */
	} v[] = {
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\x0b" "chunked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\r\n\r\n", 0, 1, -1 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked \r\n\r\n", 0, 1, -1 },
		{ "POST / HTTP/1.1\r\nHost: h\r\n Transfer-Encoding: chunked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding\r\n : chunked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, cow\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: cow, chunked\r\n\r\n", 501, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent_Length: 5\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chun\xc2\xa0ked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length : 6\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nContent-Length: 6\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nContent-length: 7\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\t6\t\r\n\r\n", 0, 0, 6 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\rX: y\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nFoo: bar\rTransfer-Encoding: chunked\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 0, 0, 0 },
		{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n", 400, 0, 0 },
		{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, 0 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nHost: evil\r\n\r\n", 400, 0, 0 },
		{ "GET http://good/ HTTP/1.1\r\nHost: evil\r\n\r\n", 0, 0, -1 }, /* flagged host_mismatch */
	};
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		long r = http1_request_parse(v[i].head, strlen(v[i].head), NULL, &rq, &er);
		int ok = v[i].status ? (r == -1 && er.status == v[i].status)
				     : (r == (long)strlen(v[i].head) && rq.chunked == v[i].chunked &&
					(v[i].cl < 0 ? rq.content_length == HTTP1_NO_LENGTH
						     : rq.content_length == (uint64_t)v[i].cl));
		if (!ok)
			printf("#   vector %zu: got %ld status %d (%s)\n", i, r, r < 0 ? er.status : 0,
			       r < 0 ? er.reason : "");
		T_CHECK(ok);
	}
	T_CHECK(rq.host_mismatch); /* the last vector */
}

/* ---- responses ---- */

static void response_framings(void)
{
	RESP_OK("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\n", "GET");
	T_CHECK(rs.status == 200 && sv_is(rs.reason, "OK") && rs.version_minor == 1);
	T_CHECK(rs.body == HTTP1_BODY_LENGTH && rs.content_length == 12 && rs.keep_alive);
	T_CHECK(rs.n_headers == 2);
	RESP_OK("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "POST");
	T_CHECK(rs.body == HTTP1_BODY_CHUNKED && rs.chunked && rs.keep_alive);
	RESP_OK("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", "GET");
	T_CHECK(rs.body == HTTP1_BODY_CLOSE && !rs.keep_alive);
	RESP_OK("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "HEAD");
	T_CHECK(rs.body == HTTP1_BODY_NONE && rs.content_length == 12);
	RESP_OK("HTTP/1.1 204 No Content\r\n\r\n", "DELETE");
	T_CHECK(rs.body == HTTP1_BODY_NONE && rs.keep_alive);
	RESP_OK("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", "GET");
	T_CHECK(rs.body == HTTP1_BODY_NONE);
	RESP_OK("HTTP/1.1 100 Continue\r\n\r\n", "POST");
	T_CHECK(rs.status == 100 && rs.body == HTTP1_BODY_NONE);
	RESP_OK("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "GET");
	T_CHECK(rs.body == HTTP1_BODY_NONE && rs.upgrade);
	RESP_OK("HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT");
	T_CHECK(rs.body == HTTP1_BODY_NONE);
	RESP_OK("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\n", "CONNECT");
	T_CHECK(rs.body == HTTP1_BODY_LENGTH);
	RESP_OK("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET");
	T_CHECK(rs.version_minor == 0 && !rs.keep_alive);
	RESP_OK("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", "GET");
	T_CHECK(rs.keep_alive);
	RESP_OK("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", "GET");
	T_CHECK(!rs.keep_alive && rs.body == HTTP1_BODY_LENGTH);
}

static void response_reason_phrases(void)
{
	RESP_OK("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET");
	T_CHECK(rs.status == 200 && rs.reason.len == 0);
	RESP_OK("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET");
	T_CHECK(rs.reason.len == 0);
	RESP_OK("HTTP/1.1 404 Not  Found\t!\r\nContent-Length: 0\r\n\r\n", "GET");
	T_CHECK(rs.status == 404 && sv_is(rs.reason, "Not  Found\t!"));
	RESP_OK("HTTP/1.1 599 \xc3\xa9t\xc3\xa9\r\nContent-Length: 0\r\n\r\n", "GET");
	T_CHECK(rs.status == 599);
}

static void response_refusals_are_502(void)
{
	RESP_BAD("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
	RESP_BAD("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
	RESP_BAD("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
	RESP_BAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n");
	RESP_BAD("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	RESP_BAD("HTTP/1.1 20 OK\r\n\r\n");
	RESP_BAD("HTTP/1.1 2000 OK\r\n\r\n");
	RESP_BAD("HTTP/1.1 600 Nope\r\n\r\n");
	RESP_BAD("HTTP/1.1 099 Nope\r\n\r\n");
	RESP_BAD("HTTP/1.1 20x OK\r\n\r\n");
	RESP_BAD("HTTP/1.1  200 OK\r\n\r\n");
	RESP_BAD("HTTP/2 200 OK\r\n\r\n");
	RESP_BAD("HTTP/2.0 200 OK\r\n\r\n");
	RESP_BAD("HTTP/1.2 200 OK\r\n\r\n");
	RESP_BAD("http/1.1 200 OK\r\n\r\n");
	RESP_BAD("ICY 200 OK\r\n\r\n");
	RESP_BAD("HTTP/1.1 200 OK\n\r\n");
	RESP_BAD("HTTP/1.1 200 OK\rX\r\n\r\n");
	RESP_BAD("HTTP/1.1 200 O\x01K\r\n\r\n");
	RESP_BAD("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n");
	RESP_BAD("HTTP/1.1 200 OK\r\nX : a\r\n\r\n");
	RESP_BAD("HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n");
	RESP_BAD("\r\nHTTP/1.1 200 OK\r\n\r\n");
	/* the framing is checked even where no body follows */
	{
		static const char s[] = "HTTP/1.1 304 NM\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
		T_CHECK(http1_response_parse(s, sizeof s - 1, NULL, SV_LIT("HEAD"), &rs, &er) == -1);
	}
}

static void response_head_cap(void)
{
	static char big[300];
	struct http1_limits lim = { 200, 100 };

	memset(big, 'a', sizeof big);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	T_CHECK(http1_response_parse(big, 199, &lim, SV_LIT("GET"), &rs, &er) == 0);
	T_CHECK(http1_response_parse(big, 200, &lim, SV_LIT("GET"), &rs, &er) == -1 && er.status == 502);
	memset(big, 'a', sizeof big);
	memcpy(big, "HTTP/1.1 200 ", 13);
	T_CHECK(http1_response_parse(big, 150, &lim, SV_LIT("GET"), &rs, &er) == -1 && er.status == 502);
}

static void response_has_body_rules(void)
{
	T_CHECK(http1_response_has_body(SV_LIT("GET"), 200));
	T_CHECK(!http1_response_has_body(SV_LIT("HEAD"), 200));
	T_CHECK(!http1_response_has_body(SV_LIT("HEAD"), 404));
	T_CHECK(!http1_response_has_body(SV_LIT("GET"), 100));
	T_CHECK(!http1_response_has_body(SV_LIT("GET"), 199));
	T_CHECK(!http1_response_has_body(SV_LIT("GET"), 204));
	T_CHECK(!http1_response_has_body(SV_LIT("GET"), 304));
	T_CHECK(http1_response_has_body(SV_LIT("GET"), 205));
	T_CHECK(!http1_response_has_body(SV_LIT("CONNECT"), 200));
	T_CHECK(!http1_response_has_body(SV_LIT("CONNECT"), 299));
	T_CHECK(http1_response_has_body(SV_LIT("CONNECT"), 403));
	T_CHECK(http1_response_has_body(sv_of(NULL, 0), 200));
	T_CHECK(http1_response_has_body(SV_LIT("head"), 200)); /* methods are case-sensitive */
}

/* ---- chunked ---- */

/* Decode in[0..len) fed in pieces of the given sizes (cycled); payload into out. */
static int decode_pieces(const char *in, size_t len, const size_t *cuts, size_t ncuts, char *out,
			 size_t outcap, size_t *outlen, size_t *used, struct http1_error *e)
{
	struct http1_chunked c;
	size_t pos = 0, k = 0;

	http1_chunked_init(&c, 0, 0);
	*outlen = 0;
	while (pos < len && !c.done) {
		size_t piece = ncuts ? cuts[k++ % ncuts] : len - pos, off = 0;

		if (piece > len - pos)
			piece = len - pos;
		while (off < piece && !c.done) {
			size_t used1;
			struct sv d;

			if (http1_chunked_feed(&c, in + pos + off, piece - off, &used1, &d, e) < 0)
				return -1;
			if (used1 == 0 && !c.done)
				return -2; /* no progress: a decoder bug */
			if (d.len) {
				if (d.p < in + pos + off || d.p + d.len > in + pos + piece ||
				    *outlen + d.len > outcap)
					return -3;
				memcpy(out + *outlen, d.p, d.len);
				*outlen += d.len;
			}
			off += used1;
		}
		pos += off;
		if (off < piece)
			break; /* done inside this piece */
	}
	*used = pos;
	return c.done ? 0 : 1;
}

static const char chunked_body[] =
	"5\r\nhello\r\n"
	"1A;name=value;q=\"x y\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
	"3 ; ext\r\n\r\n\r\r\n"
	"000\r\n"
	"Trailer-One: a\r\n"
	"X-Checksum:\tdeadbeef \r\n"
	"\r\n";
static const char chunked_payload[] = "helloabcdefghijklmnopqrstuvwxyz\r\n\r";

static void chunked_decodes_whole(void)
{
	char out[128];
	size_t n, used;
	struct http1_error e;

	T_CHECK(decode_pieces(chunked_body, sizeof chunked_body - 1, NULL, 0, out, sizeof out, &n,
			      &used, &e) == 0);
	T_CHECK(n == sizeof chunked_payload - 1 && memcmp(out, chunked_payload, n) == 0);
	T_CHECK(used == sizeof chunked_body - 1);
}

static void chunked_every_split_point(void)
{
	char out[128];
	size_t n, used, k, j, len = sizeof chunked_body - 1, bad = 0;
	struct http1_error e;

	/* two pieces, split at every position */
	for (k = 0; k <= len; k++) {
		size_t cuts[2] = { k, len };

		if (decode_pieces(chunked_body, len, cuts, 2, out, sizeof out, &n, &used, &e) != 0 ||
		    n != sizeof chunked_payload - 1 || memcmp(out, chunked_payload, n) != 0 ||
		    used != len)
			bad++;
	}
	/* three pieces, every pair of split points */
	for (k = 0; k <= len; k++)
		for (j = k; j <= len; j++) {
			size_t cuts[3] = { k, j - k, len };

			if (decode_pieces(chunked_body, len, cuts, 3, out, sizeof out, &n, &used, &e) != 0 ||
			    n != sizeof chunked_payload - 1 || memcmp(out, chunked_payload, n) != 0)
				bad++;
		}
	/* byte by byte */
	{
		size_t one = 1;
		T_CHECK(decode_pieces(chunked_body, len, &one, 1, out, sizeof out, &n, &used, &e) == 0);
		T_CHECK(n == sizeof chunked_payload - 1 && memcmp(out, chunked_payload, n) == 0);
	}
	if (bad)
		printf("#   %zu split decodings differ\n", bad);
	T_CHECK(bad == 0);
}

static void chunked_stops_at_the_end_of_the_body(void)
{
	static const char s[] = "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
	struct http1_chunked c;
	struct http1_error e;
	struct sv d;
	size_t used, pos = 0;

	http1_chunked_init(&c, 0, 0);
	T_CHECK(http1_chunked_feed(&c, s, sizeof s - 1, &used, &d, &e) == 0);
	T_CHECK(d.len == 2 && memcmp(d.p, "hi", 2) == 0 && used == 5);
	pos += used;
	T_CHECK(http1_chunked_feed(&c, s + pos, sizeof s - 1 - pos, &used, &d, &e) == 0);
	T_CHECK(c.done && d.len == 0 && pos + used == 12 && c.total == 2);
	/* a done decoder consumes nothing more */
	T_CHECK(http1_chunked_feed(&c, s + 12, 4, &used, &d, &e) == 0 && used == 0);
}

/* A consumer that takes k bytes of each span and gives the rest back gets the same payload. */
static void chunked_unread_gives_back_part_of_a_span(void)
{
	static const char s[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
	for (size_t k = 1; k <= 6; k++) {
		struct http1_chunked c;
		struct http1_error e;
		struct sv d;
		char out[32];
		size_t used, pos = 0, n = 0, spins = 0;

		http1_chunked_init(&c, 0, 0);
		while (!c.done && spins++ < 100) {
			T_CHECK(http1_chunked_feed(&c, s + pos, sizeof s - 1 - pos, &used, &d, &e) == 0);
			if (d.len > k) {
				http1_chunked_unread(&c, d.len - k);
				used -= d.len - k;
				d.len = k;
			}
			memcpy(out + n, d.p, d.len);
			n += d.len;
			pos += used;
		}
		T_CHECK(c.done && pos == sizeof s - 1 && n == 11 && !memcmp(out, "hello world", 11) && c.total == 11);
	}
}

/* Expect body to be refused at some point of a byte-by-byte feed, and in one piece. */
static int chunked_refused(const char *body, size_t len, struct http1_chunked *cfg)
{
	struct http1_chunked c;
	struct http1_error e;
	struct sv d;
	size_t used, pos = 0;
	int whole = 0, bytewise = 0;

	c = *cfg;
	while (pos < len) {
		if (http1_chunked_feed(&c, body + pos, len - pos, &used, &d, &e) < 0) {
			whole = e.status == 400 && e.reason != NULL;
			break;
		}
		if (c.done)
			break;
		pos += used;
	}
	c = *cfg;
	for (pos = 0; pos < len; pos++) {
		if (http1_chunked_feed(&c, body + pos, 1, &used, &d, &e) < 0) {
			bytewise = 1;
			/* a failed decoder stays failed */
			bytewise = http1_chunked_feed(&c, "0", 1, &used, &d, &e) < 0;
			break;
		}
		if (c.done)
			break;
	}
	return whole && bytewise;
}

#define CHUNK_BAD(lit)                                                               \
	do {                                                                         \
		if (!chunked_refused((lit), sizeof(lit) - 1, &cfg)) {                  \
			printf("#   %s:%d: accepted: %s\n", __FILE__, __LINE__, #lit); \
			t_failed_case = 1;                                           \
		}                                                                    \
	} while (0)

static void chunked_refusals(void)
{
	struct http1_chunked cfg;

	http1_chunked_init(&cfg, 16, 32);
	CHUNK_BAD("\r\n");
	CHUNK_BAD("x\r\n");
	CHUNK_BAD("-1\r\n");
	CHUNK_BAD("+1\r\nA\r\n0\r\n\r\n");
	CHUNK_BAD("0x5\r\nhello\r\n0\r\n\r\n");
	CHUNK_BAD(";ext\r\n");
	CHUNK_BAD("5 \r\nhello\r\n0\r\n\r\n");
	CHUNK_BAD("5\t\r\nhello\r\n0\r\n\r\n");
	CHUNK_BAD("5 5\r\nhello\r\n0\r\n\r\n");
	CHUNK_BAD("5\nhello\r\n0\r\n\r\n");
	CHUNK_BAD("5\rhello\r\n0\r\n\r\n");
	CHUNK_BAD("5\r\nhello\n0\r\n\r\n");
	CHUNK_BAD("5\r\nhelloX\r\n0\r\n\r\n");
	CHUNK_BAD("5\r\nhello\r\r\n0\r\n\r\n");
	CHUNK_BAD("5;a\nb\r\nhello\r\n0\r\n\r\n");
	CHUNK_BAD("5;a\x01\r\nhello\r\n0\r\n\r\n");
	CHUNK_BAD("5;0123456789abcdefg\r\nhello\r\n0\r\n\r\n"); /* extension over 16 */
	CHUNK_BAD("10000000000000000\r\n");                      /* 17 hex digits */
	CHUNK_BAD("00000000000000001\r\n");                      /* 17 digits, leading zeros count */
	CHUNK_BAD("ffffffffffffffff\r\n");                       /* over INT64_MAX */
	CHUNK_BAD("0\r\nX: a\r\n b\r\n\r\n");                    /* obs-fold in trailers */
	CHUNK_BAD("0\r\n X: a\r\n\r\n");
	CHUNK_BAD("0\r\nX : a\r\n\r\n");
	CHUNK_BAD("0\r\n: a\r\n\r\n");
	CHUNK_BAD("0\r\nX\r\n\r\n");
	CHUNK_BAD("0\r\nX: a\0\r\n\r\n");
	CHUNK_BAD("0\r\nX: a\n\r\n");
	CHUNK_BAD("0\r\nX: a\rb\r\n\r\n");
	CHUNK_BAD("0\r\n\n");
	CHUNK_BAD("0\r\n\rX");
	CHUNK_BAD("0\r\nX-Long: 0123456789012345678901234567890\r\n\r\n"); /* trailers over 32 */
}

static void chunked_accepts_max_sizes(void)
{
	struct http1_chunked c;
	struct http1_error e;
	struct sv d;
	size_t used;
	static const char s[] = "7fffffffffffffff\r\nabc";
	static const char s2[] = "000000000000000A\r\n";

	http1_chunked_init(&c, 0, 0);
	T_CHECK(http1_chunked_feed(&c, s, sizeof s - 1, &used, &d, &e) == 0);
	T_CHECK(d.len == 3 && c.remaining == (uint64_t)INT64_MAX - 3);
	http1_chunked_init(&c, 0, 0);
	T_CHECK(http1_chunked_feed(&c, s2, sizeof s2 - 1, &used, &d, &e) == 0 && c.remaining == 10);
	T_CHECK(used == sizeof s2 - 1);
}

static void chunk_size_lines(void)
{
	char out[HTTP1_CHUNK_LINE_MAX];
	size_t n;

	n = http1_chunk_size_line(0, out, sizeof out);
	T_CHECK(n == 3 && memcmp(out, "0\r\n", 3) == 0);
	n = http1_chunk_size_line(0x1a2b, out, sizeof out);
	T_CHECK(n == 6 && memcmp(out, "1a2b\r\n", 6) == 0);
	n = http1_chunk_size_line(UINT64_MAX, out, sizeof out);
	T_CHECK(n == 18 && memcmp(out, "ffffffffffffffff\r\n", 18) == 0);
	T_CHECK(http1_chunk_size_line(UINT64_MAX, out, 17) == 0);
	T_CHECK(http1_chunk_size_line(255, out, 4) == 4 && memcmp(out, "ff\r\n", 4) == 0);
	T_CHECK(http1_chunk_size_line(256, out, 4) == 0);
}

/* What the proxy does: decode one body and re-emit it with its own chunk lines; decode that back. */
static void chunked_reencode_round_trip(void)
{
	char mid[256], out[128], line[HTTP1_CHUNK_LINE_MAX];
	struct http1_chunked c;
	struct http1_error e;
	struct sv d;
	size_t used, pos = 0, m = 0, n, used2, k;

	http1_chunked_init(&c, 0, 0);
	while (!c.done) {
		T_CHECK(http1_chunked_feed(&c, chunked_body + pos, sizeof chunked_body - 1 - pos, &used, &d, &e) == 0);
		if (d.len) {
			k = http1_chunk_size_line(d.len, line, sizeof line);
			memcpy(mid + m, line, k), m += k;
			memcpy(mid + m, d.p, d.len), m += d.len;
			memcpy(mid + m, "\r\n", 2), m += 2;
		}
		pos += used;
	}
	memcpy(mid + m, "0\r\n\r\n", 5), m += 5;
	T_CHECK(decode_pieces(mid, m, NULL, 0, out, sizeof out, &n, &used2, &e) == 0);
	T_CHECK(n == sizeof chunked_payload - 1 && memcmp(out, chunked_payload, n) == 0 && used2 == m);
}

/* ---- helpers ---- */

static void token_lists(void)
{
	T_CHECK(http1_token_list_has(SV_LIT("close"), "close"));
	T_CHECK(http1_token_list_has(SV_LIT("keep-alive, Close"), "close"));
	T_CHECK(http1_token_list_has(SV_LIT(" ,\tCLOSE\t, "), "close"));
	T_CHECK(http1_token_list_has(SV_LIT("a;q=1, gzip ;q=0.5"), "gzip"));
	T_CHECK(!http1_token_list_has(SV_LIT("closed"), "close"));
	T_CHECK(!http1_token_list_has(SV_LIT("xclose"), "close"));
	T_CHECK(!http1_token_list_has(SV_LIT("clo se"), "close"));
	T_CHECK(!http1_token_list_has(SV_LIT(""), "close"));
	T_CHECK(!http1_token_list_has(SV_LIT(","), ""));
}

static void header_lookup(void)
{
	REQ_OK("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nX-B: 3\r\nX-a: 4\r\n\r\n");
	T_CHECK(http1_header_get(rq.headers, rq.n_headers, "x-A") == &rq.headers[1]);
	T_CHECK(http1_header_get(rq.headers, rq.n_headers, "X-C") == NULL);
	T_CHECK(http1_header_get(rq.headers, rq.n_headers, "X-") == NULL);
	T_CHECK(http1_header_next(rq.headers, rq.n_headers, 2, "X-A") == 2);
	T_CHECK(http1_header_next(rq.headers, rq.n_headers, 3, "X-A") == 4);
	T_CHECK(http1_header_next(rq.headers, rq.n_headers, 5, "X-A") == -1);
	T_CHECK(http1_header_next(rq.headers, rq.n_headers, 99, "X-A") == -1);
	T_CHECK(http1_eq_nocase(SV_LIT("Content-LENGTH"), "content-length"));
	T_CHECK(!http1_eq_nocase(SV_LIT("Content-Length"), "content-lengt"));
	T_CHECK(!http1_eq_nocase(SV_LIT("Content-Lengt"), "content-length"));
	T_CHECK(http1_eq_nocase(sv_of(NULL, 0), ""));
	T_CHECK(!http1_eq_nocase(SV_LIT("["), "{")); /* 0x5b vs 0x7b: not letters */
}

static void authorities(void)
{
	struct http1_authority a;

	T_CHECK(http1_authority_parse(SV_LIT("example.com"), 0, &a) == 0 && a.port == 0 && a.ip == 0);
	T_CHECK(sv_is(a.host, "example.com"));
	T_CHECK(http1_authority_parse(SV_LIT("example.com"), 1, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("a-b_c.example.com:65535"), 1, &a) == 0 && a.port == 65535);
	T_CHECK(http1_authority_parse(SV_LIT("x:1"), 1, &a) == 0 && a.port == 1);
	T_CHECK(http1_authority_parse(SV_LIT("1.2.3.4:80"), 1, &a) == 0 && a.ip == 4);
	T_CHECK(http1_authority_parse(SV_LIT("0.0.0.0"), 0, &a) == 0 && a.ip == 4);
	T_CHECK(http1_authority_parse(SV_LIT("[::1]"), 0, &a) == 0 && a.ip == 6 && sv_is(a.host, "[::1]"));
	T_CHECK(http1_authority_parse(SV_LIT("[::ffff:1.2.3.4]:443"), 1, &a) == 0 && a.ip == 6);
	T_CHECK(http1_authority_parse(SV_LIT("1.example.com"), 0, &a) == 0 && a.ip == 0);
	T_CHECK(http1_authority_parse(SV_LIT("example.0x"), 0, &a) == -1); /* "0x" reads as 0 */
	T_CHECK(http1_authority_parse(SV_LIT("example.0x1g"), 0, &a) == 0);
	/* refused */
	T_CHECK(http1_authority_parse(SV_LIT(""), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT(":80"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("h:"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("h:0"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("h:065536"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("h:-1"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("h:+80"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("h:80:80"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("u@h"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("h.example."), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT(".h.example"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("h%41"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("1.2.3"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("1.2.3.256"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("01.2.3.4"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("1.2.3.4.5"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("0x7f.0.0.1"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("127.0.0.0x1"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("4294967295"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("::1"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("[::1"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("[::1]x"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("[::g]"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("[1.2.3.4]"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("[fe80::1%eth0]"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("[v1.x]"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("[]"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("ex ample"), 0, &a) == -1);
	T_CHECK(http1_authority_parse(SV_LIT("\xc3\xa9.example"), 0, &a) == -1);
}

static void host_names(void)
{
	char name[300];

	T_CHECK(http1_host_valid(SV_LIT("localhost")));
	T_CHECK(http1_host_valid(SV_LIT("xn--bcher-kva.example")));
	T_CHECK(http1_host_valid(SV_LIT("[2001:db8::1]")));
	T_CHECK(!http1_host_valid(SV_LIT("example.com:80")));
	memset(name, 'a', sizeof name);
	T_CHECK(http1_host_valid(sv_of(name, 63)));
	T_CHECK(!http1_host_valid(sv_of(name, 64)));
	memset(name, 'a', sizeof name);
	{
		size_t i;
		for (i = 63; i < sizeof name; i += 64)
			name[i] = '.';
	}
	T_CHECK(http1_host_valid(sv_of(name, 253)));
	T_CHECK(!http1_host_valid(sv_of(name, 254)));
	T_CHECK(http1_is_token(SV_LIT("GET")) && http1_is_token(SV_LIT("!#$%&'*+-.^_`|~09azAZ")));
	T_CHECK(!http1_is_token(SV_LIT("")) && !http1_is_token(SV_LIT("a b")) &&
		!http1_is_token(SV_LIT("a:")) && !http1_is_token(SV_LIT("a\"")));
	T_STREQ(http1_status_reason(431), "Request Header Fields Too Large");
	T_STREQ(http1_status_reason(502), "Bad Gateway");
	T_STREQ(http1_status_reason(999), "Unknown");
	/* Every status RFC 9110 defines has its phrase (415 was "Unknown" when egress refused zstd bodies). */
	{
		static const int rfc9110[] = { 100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305,
					       307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412,
					       413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505 };
		for (size_t i = 0; i < sizeof rfc9110 / sizeof rfc9110[0]; i++)
			if (!strcmp(http1_status_reason(rfc9110[i]), "Unknown")) {
				printf("#   status %d has no reason phrase\n", rfc9110[i]);
				T_CHECK(0);
			}
		T_STREQ(http1_status_reason(415), "Unsupported Media Type");
		T_STREQ(http1_status_reason(426), "Upgrade Required");
	}
}

static void head_end_search(void)
{
	static const char s[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\nBODY";
	size_t len = sizeof s - 1, k, want = 27;

	T_CHECK(http1_head_end(s, len, 0) == want);
	T_CHECK(http1_head_end(s, want - 1, 0) == 0);
	T_CHECK(http1_head_end(s, 3, 0) == 0 && http1_head_end(s, 0, 0) == 0);
	/* incremental: the end is found whatever the earlier searched prefix was */
	for (k = 0; k < want; k++)
		T_CHECK(http1_head_end(s, want, k) == want);
	T_CHECK(http1_head_end("\r\r\n\r\n", 5, 0) == 5);
	T_CHECK(http1_head_end("\r\n\r\r\n", 5, 0) == 0);
}

/* ---- bench ---- */

static const char bench_head[] =
	"POST http://api.example.com/v1/messages?beta=true HTTP/1.1\r\n"
	"Host: api.example.com\r\n"
	"User-Agent: claude-cli/1.0.0 (external, cli)\r\n"
	"Accept: application/json\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 1834\r\n"
	"Authorization: Bearer egress-placeholder\r\n"
	"Anthropic-Version: 2023-06-01\r\n"
	"Anthropic-Beta: oauth-2025-04-20,interleaved-thinking-2025-05-14\r\n"
	"X-Stainless-Lang: js\r\n"
	"X-Stainless-Package-Version: 0.51.0\r\n"
	"X-Stainless-Os: Linux\r\n"
	"X-Stainless-Arch: x64\r\n"
	"X-Stainless-Runtime: node\r\n"
	"X-Stainless-Runtime-Version: v22.14.0\r\n"
	"X-App: cli\r\n"
	"X-Stainless-Retry-Count: 0\r\n"
	"X-Stainless-Timeout: 600\r\n"
	"Connection: keep-alive\r\n"
	"\r\n";

static int bench(void)
{
	struct timespec a, b;
	long i, iters = 2000000, ok = 0;
	double ns;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < iters; i++)
		ok += http1_request_parse(bench_head, sizeof bench_head - 1, NULL, &rq, &er) > 0;
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)iters;
	printf("# request head %zu bytes, %d headers: %.0f ns/request, %.0f MB/s (%ld ok)\n",
	       sizeof bench_head - 1, (int)rq.n_headers, ns, (double)(sizeof bench_head - 1) / ns * 1e3, ok);
	return ok == iters ? 0 : 1;
}

static void bench_head_parses(void)
{
	REQ_OK(bench_head);
	T_CHECK(rq.n_headers == 19 && rq.content_length == 1834 && !rq.host_mismatch);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return bench();
	T_RUN(origin_form_get);
	T_RUN(origin_form_without_query);
	T_RUN(absolute_form_with_port_path_query);
	T_RUN(absolute_form_defaults);
	T_RUN(absolute_form_host_mismatch_is_flagged);
	T_RUN(connect_authority_form);
	T_RUN(dots_that_are_not_dot_segments);
	T_RUN(options_asterisk_form);
	T_RUN(http10_rules);
	T_RUN(connection_close_and_upgrade);
	T_RUN(framing_fields);
	T_RUN(leading_crlf_is_skipped_once);
	T_RUN(header_values_are_trimmed_and_may_hold_obs_text);
	T_RUN(lowercase_and_extension_methods_are_tokens);
	T_RUN(head_length_stops_at_the_empty_line);
	T_RUN(refuses_cl_and_te_together);
	T_RUN(refuses_bad_content_length);
	T_RUN(refuses_transfer_codings_other_than_chunked);
	T_RUN(refuses_obs_fold_and_bad_header_lines);
	T_RUN(refuses_bare_cr_and_bare_lf);
	T_RUN(refuses_control_bytes_in_values);
	T_RUN(refuses_bad_request_lines);
	T_RUN(refuses_unsupported_versions);
	T_RUN(refuses_bad_targets);
	T_RUN(refuses_bad_host_headers);
	T_RUN(refuses_unknown_expectations);
	T_RUN(too_many_headers_is_431);
	T_RUN(head_cap_is_431);
	T_RUN(long_request_line_is_414);
	T_RUN(errors_are_found_before_the_head_ends);
	T_RUN(smuggling_vector_table);
	T_RUN(response_framings);
	T_RUN(response_reason_phrases);
	T_RUN(response_refusals_are_502);
	T_RUN(response_head_cap);
	T_RUN(response_has_body_rules);
	T_RUN(chunked_decodes_whole);
	T_RUN(chunked_every_split_point);
	T_RUN(chunked_stops_at_the_end_of_the_body);
	T_RUN(chunked_unread_gives_back_part_of_a_span);
	T_RUN(chunked_refusals);
	T_RUN(chunked_accepts_max_sizes);
	T_RUN(chunk_size_lines);
	T_RUN(chunked_reencode_round_trip);
	T_RUN(token_lists);
	T_RUN(header_lookup);
	T_RUN(authorities);
	T_RUN(host_names);
	T_RUN(head_end_search);
	T_RUN(bench_head_parses);
	T_END();
}
