/* http1.h - strict HTTP/1.1 message parsing (RFC 9110/9112) over caller buffers: request and response heads, chunked bodies, helpers. */
#ifndef BB_HTTP1_H
#define BB_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Everything here is a pure function over caller-owned bytes: no
 * allocation, no I/O. Parsed fields are struct sv views INTO the caller's
 * buffer, so that buffer must stay put while they are used. The rules
 * (what is accepted and refused, and why) are in docs/http1.md.
 *
 * Errors are reported as a struct http1_error rather than a struct bb_err:
 * the proxy needs the HTTP status to answer and a short static reason, and
 * formatting a message per refused request would be wasted work.
 */

#define HTTP1_MAX_HEADERS 100              /* header fields per head; more -> 431 */
#define HTTP1_NO_LENGTH UINT64_MAX         /* content_length when there is no Content-Length */
#define HTTP1_LENGTH_MAX ((uint64_t)INT64_MAX) /* largest Content-Length / chunk total accepted */
#define HTTP1_DEFAULT_MAX_HEAD 65536       /* whole head, CRLFCRLF included */
#define HTTP1_DEFAULT_MAX_START_LINE 8192  /* request or status line, CRLF excluded */
#define HTTP1_CHUNK_LINE_MAX 18            /* 16 hex digits + CRLF: room http1_chunk_size_line needs */

/* Why a message was refused. reason is a static string, never freed. */
struct http1_error {
	int status;         /* status to answer: 400 414 417 431 501 505 (requests), 502 (responses) */
	const char *reason; /* short, lower case, no secrets: e.g. "duplicate content-length" */
	size_t offset;      /* offset into the input where the problem was seen */
};

/* Caps the caller chooses; a NULL struct http1_limits * means the defaults above. */
struct http1_limits {
	size_t max_head;       /* whole head including the final CRLFCRLF; beyond -> 431 */
	size_t max_start_line; /* request line / status line without CRLF; beyond -> 414 (request) */
};

/* One header field: name as sent (not case-folded), value with OWS trimmed at both ends. */
struct http1_header {
	struct sv name;
	struct sv value;
};

/* The four request-target forms of RFC 9112 §3.2. */
enum http1_target_form {
	HTTP1_FORM_ORIGIN = 1, /* /path?query                        */
	HTTP1_FORM_ABSOLUTE,   /* http://host[:port][/path][?query]  */
	HTTP1_FORM_AUTHORITY,  /* host:port, CONNECT only            */
	HTTP1_FORM_ASTERISK    /* *, OPTIONS only                    */
};

/* A parsed authority (host[:port]); host keeps IPv6 brackets ("[::1]"). */
struct http1_authority {
	struct sv host;
	uint16_t port; /* 0 when no port was given */
	int ip;        /* 4 or 6 when host is an IPv4 / bracketed IPv6 literal, else 0 */
};

/* A parsed request head. Views point into the parsed buffer. */
struct http1_request {
	size_t head_len;   /* bytes of the head, leading CRLF and final CRLFCRLF included */
	struct sv method;  /* a token, case-sensitive ("GET") */
	struct sv target;  /* the request-target exactly as sent */
	enum http1_target_form form;
	/*
	 * Absolute-form: scheme is "http" or "https" (as sent, any case),
	 * host/port from the authority, port = the explicit port or the
	 * scheme's default (80/443), port_explicit says which.
	 * Authority-form: host and port (always explicit).
	 * Origin-form: scheme and host empty, port 0.
	 * path: the path without query; "/" (a static string) when an
	 * absolute-form target has none. query: after '?' (without it);
	 * query.p == NULL when there is no '?'. To forward an absolute-form
	 * request as origin-form, send path, then "?" + query if query.p.
	 */
	struct sv scheme;
	struct sv host;
	uint16_t port;
	int port_explicit;
	int host_ip; /* 4 or 6 when host is an IP literal (see struct http1_authority) */
	struct sv path;
	struct sv query;
	int version_minor; /* 0 for HTTP/1.0, 1 for HTTP/1.1 */

	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t n_headers;

	/* Framing (RFC 9112 §6). */
	uint64_t content_length; /* HTTP1_NO_LENGTH when absent */
	int chunked;             /* Transfer-Encoding: chunked (the only coding accepted) */
	int keep_alive;          /* persistence per version and Connection (RFC 9112 §9.3) */
	int expect_continue;     /* HTTP/1.1 with Expect: 100-continue */
	int upgrade;             /* an Upgrade header is present */
	/*
	 * The Host header value (trimmed), p == NULL when absent (allowed only
	 * for HTTP/1.0), len 0 when present and empty. host_mismatch: the
	 * target carries an authority (absolute or authority form) and Host
	 * does not name the same host and effective port. The target wins
	 * (RFC 9112 §3.2.2), but a proxy should refuse the mismatch for
	 * absolute-form. For CONNECT it is only informative: some clients
	 * (Node's http.request) send the proxy's own address as Host.
	 */
	struct sv host_header;
	int host_mismatch;
};

/* How the body of a response is delimited. */
enum http1_body {
	HTTP1_BODY_NONE = 0, /* no body: HEAD, 1xx, 204, 304, 2xx to CONNECT */
	HTTP1_BODY_LENGTH,   /* content_length bytes (may be 0) */
	HTTP1_BODY_CHUNKED,  /* chunked; decode with struct http1_chunked */
	HTTP1_BODY_CLOSE     /* until the server closes the connection */
};

/* A parsed response head. Views point into the parsed buffer. */
struct http1_response {
	size_t head_len;
	int version_minor; /* 0 or 1 */
	int status;        /* 100..599 */
	struct sv reason;  /* may be empty */

	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t n_headers;

	uint64_t content_length; /* HTTP1_NO_LENGTH when absent */
	int chunked;
	enum http1_body body;    /* given the request method passed to the parser */
	int keep_alive;          /* 0 when the body runs until close */
	int upgrade;             /* an Upgrade header is present */
};

/*
 * Parse a request head from buf[0..len) (the bytes received so far).
 * Returns the head length (> 0, <= len) when a complete, valid head was
 * parsed into *req; 0 when more bytes are needed; -1 with *err filled when
 * the head is invalid or over a cap (len past max_head without a complete
 * head -> 431; request line longer than max_start_line -> 414).
 * Errors in complete lines are found before the head is complete, so
 * garbage is refused early. Cost is linear in len: to avoid quadratic
 * work on trickled input, call it when http1_head_end() finds the end.
 * A single leading CRLF before the request line is skipped (counted in
 * head_len); a second one is refused.
 */
long http1_request_parse(const char *buf, size_t len, const struct http1_limits *lim,
			 struct http1_request *req, struct http1_error *err);

/*
 * Parse a response head; returns as http1_request_parse does (> 0 head
 * length, 0 need more, -1 error). request_method is the method of the
 * request this answers (for HEAD and CONNECT); an empty view means "not
 * HEAD/CONNECT". Every error has status 502 (what the proxy answers), a
 * head over max_head or a status line over max_start_line included. No
 * leading empty line is skipped.
 */
long http1_response_parse(const char *buf, size_t len, const struct http1_limits *lim,
			  struct sv request_method, struct http1_response *resp,
			  struct http1_error *err);

/*
 * Whether a response to request_method with this status carries a body
 * (RFC 9110 §6.4.1, RFC 9112 §6.3): not for HEAD, 1xx, 204, 304, or a 2xx
 * answer to CONNECT.
 */
int http1_response_has_body(struct sv request_method, int status);

/*
 * Where the head ends: the offset just past the first CRLFCRLF in
 * buf[0..len), or 0 if there is none yet. from is how many bytes were
 * already searched by a previous call (pass 0 the first time; the search
 * restarts 3 bytes earlier so a CRLFCRLF split across reads is found).
 */
size_t http1_head_end(const char *buf, size_t len, size_t from);

/*
 * Incremental decoder for the chunked transfer coding (RFC 9112 §7.1).
 * Chunk extensions are validated and skipped; the trailer section is
 * validated as field lines and discarded (the proxy emits its own
 * "0\r\n\r\n"). Works with input split at any byte.
 */
struct http1_chunked {
	int state;             /* internal */
	uint64_t remaining;    /* payload bytes left in the current chunk */
	uint64_t total;        /* payload bytes decoded so far */
	unsigned digits;       /* hex digits of the size seen */
	size_t ext_len;        /* bytes of the current chunk extension */
	size_t trailer_len;    /* bytes of the trailer section so far, final CRLF included (2: no trailers) */
	size_t line_len;       /* bytes of the current trailer line */
	size_t max_ext;        /* cap on one chunk extension */
	size_t max_trailers;   /* cap on the whole trailer section */
	int done;              /* the final CRLF was read; nothing more belongs to the body */
};

#define HTTP1_DEFAULT_MAX_CHUNK_EXT 1024
#define HTTP1_DEFAULT_MAX_TRAILERS 8192

/* Start decoding a body; 0 caps mean the defaults above. */
void http1_chunked_init(struct http1_chunked *c, size_t max_ext, size_t max_trailers);

/*
 * Feed in[0..len). Consumes framing bytes and stops after at most one span
 * of payload: *data is that span (a view into in; len 0 if none), and
 * *consumed is how many bytes of in were used (framing + payload). Stops
 * early when the body is complete (c->done; bytes after it belong to the
 * next message and are not consumed). Call again with in + *consumed while
 * bytes remain and !c->done. Returns 0, or -1 with *err (status 400) on a
 * malformed body; the decoder then stays failed.
 */
int http1_chunked_feed(struct http1_chunked *c, const char *in, size_t len, size_t *consumed,
		       struct sv *data, struct http1_error *err);

/*
 * Give back the last n bytes of the payload span the previous
 * http1_chunked_feed returned (n <= its length): the caller could not take
 * them, and the next feed must start with them (the caller consumed only
 * *consumed - n bytes of its input). Lets a consumer with bounded room
 * (a decoder writing into a fixed window) take part of a span.
 */
void http1_chunked_unread(struct http1_chunked *c, size_t n);

/*
 * Write the chunk-size line for a chunk of n bytes ("1a2b\r\n", lowercase
 * hex, no extension) into out (cap bytes, no NUL written). Returns its
 * length, or 0 when cap is too small (HTTP1_CHUNK_LINE_MAX always fits).
 * n == 0 gives "0\r\n": the last chunk; follow it with "\r\n".
 */
size_t http1_chunk_size_line(uint64_t n, char *out, size_t cap);

/* The first header named name (ASCII case-insensitive), or NULL. */
const struct http1_header *http1_header_get(const struct http1_header *h, size_t n,
					    const char *name);

/*
 * Index of the next header named name at or after index from, or -1;
 * iterate with from = previous index + 1.
 */
long http1_header_next(const struct http1_header *h, size_t n, size_t from, const char *name);

/*
 * Whether the comma-separated list value (RFC 9110 §5.6.1, OWS around
 * elements, empty elements ignored) has an element equal to token, ASCII
 * case-insensitively; e.g. http1_token_list_has(conn, "close").
 * Elements with parameters (";...") are compared on the part before ';'.
 */
int http1_token_list_has(struct sv value, const char *token);

/* ASCII case-insensitive equality of a view and a C string. */
int http1_eq_nocase(struct sv a, const char *s);

/*
 * Parse an authority "host[:port]" strictly: host is a DNS-style name
 * (letters, digits, '-', '_', '.'; no empty labels, at most 253 bytes,
 * labels at most 63), a dotted IPv4 address, or a bracketed IPv6 literal;
 * port, if present, is 1..65535 without sign or leading '+'. No userinfo,
 * no percent-encoding, no trailing dot. A name whose last label looks
 * numeric ("127.1", "2130706433", "0x7f.1") must be a canonical dotted
 * quad, so no resolver can read it as some other address.
 * require_port: refuse a missing port (CONNECT).
 * Returns 0 and fills *out, or -1 (out unspecified).
 */
int http1_authority_parse(struct sv a, int require_port, struct http1_authority *out);

/* Whether host (no port) is valid as in http1_authority_parse. */
int http1_host_valid(struct sv host);

/* Whether s is a non-empty token (RFC 9110 §5.6.2): a method or header name. */
int http1_is_token(struct sv s);

/* The standard reason phrase for status ("Bad Request"), or "Unknown". */
const char *http1_status_reason(int status);

#endif
