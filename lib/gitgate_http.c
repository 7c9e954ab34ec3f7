/* gitgate_http.c - git's smart HTTP over the gate's sessions: routes, request bodies (length, chunked, gzip, caps), responses. */
#include "gitgate_http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "gitgate_int.h"
#include "http1.h"

#define HEAD_MAX 65536
#define RAW_MAX 65536

int gitgate_http_route(struct sv method, struct sv path, struct sv query, struct gitgate_http_route *r,
		       const char **why)
{
	static const struct {
		const char *suffix;
		enum gitgate_http_kind kind;
		enum gitgate_service service;
	} ends[] = {
		{ "/info/refs", GITGATE_HTTP_INFO_REFS, GITGATE_UPLOAD_PACK },
		{ "/git-upload-pack", GITGATE_HTTP_RPC, GITGATE_UPLOAD_PACK },
		{ "/git-receive-pack", GITGATE_HTTP_RPC, GITGATE_RECEIVE_PACK },
	};
	size_t i;

	for (i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		struct sv suf = sv_from(ends[i].suffix);

		if (!sv_ends_with(path, suf) || path.len == suf.len)
			continue;
		r->kind = ends[i].kind;
		r->service = ends[i].service;
		r->repo_path = sv_of(path.p, path.len - suf.len);
		if (r->kind == GITGATE_HTTP_INFO_REFS) {
			struct sv rest = query, field;
			int found = 0;

			if (!sv_eq_str(method, "GET") && !sv_eq_str(method, "HEAD")) {
				*why = "info/refs takes GET";
				return 405;
			}
			while (query.p && rest.len) {
				sv_split(rest, '&', &field, &rest);
				if (sv_starts_with(field, SV_LIT("service="))) {
					if (gitgate_service_parse(sv_of(field.p + 8, field.len - 8), &r->service, NULL) < 0) {
						*why = "unknown service";
						return 403;
					}
					found = 1;
				}
			}
			if (!found) {
				*why = "only smart HTTP is served (no service= parameter)";
				return 403;
			}
			return 0;
		}
		if (!sv_eq_str(method, "POST")) {
			*why = "git-upload-pack and git-receive-pack take POST";
			return 405;
		}
		return 0;
	}
	*why = "not a git smart-HTTP endpoint";
	return 404;
}

/* The request body as the session reads it: de-framed, inflated, capped. */
struct body {
	int fd;
	char raw[RAW_MAX];
	size_t raw_off, raw_len;
	int chunked;
	uint64_t remaining; /* Content-Length mode */
	struct http1_chunked ch;
	int gzip, z_ready, z_end;
	z_stream z;
	unsigned char stage[RAW_MAX];
	size_t st_off, st_len;
	uint64_t decoded, cap;
};

/* Raw body bytes into b->raw when it is empty: >0, 0 when the peer closed, -1. */
static ssize_t raw_fill(struct body *b, int timeout_ms, struct bb_err *e)
{
	ssize_t r;

	if (b->raw_off < b->raw_len)
		return (ssize_t)(b->raw_len - b->raw_off);
	b->raw_off = b->raw_len = 0;
	r = gitgate_read_fd(b->fd, b->raw, sizeof b->raw, timeout_ms, e);
	if (r > 0)
		b->raw_len = (size_t)r;
	return r;
}

/* De-framed body bytes into dst (at most cap): >0, 0 at the end of the body, -1. */
static ssize_t unframe(struct body *b, void *dst, size_t cap, int timeout_ms, struct bb_err *e)
{
	for (;;) {
		size_t avail, n, consumed;
		struct sv span;
		struct http1_error herr;
		ssize_t r;

		if (b->chunked ? b->ch.done : b->remaining == 0)
			return 0;
		r = raw_fill(b, timeout_ms, e);
		if (r < 0)
			return -1;
		if (r == 0)
			return bb_errf(e, BB_EINVAL, "the request body ended early");
		avail = b->raw_len - b->raw_off;
		if (!b->chunked) {
			n = avail < cap ? avail : cap;
			if (n > b->remaining)
				n = (size_t)b->remaining;
			memcpy(dst, b->raw + b->raw_off, n);
			b->raw_off += n;
			b->remaining -= n;
			return (ssize_t)n;
		}
		/* At most cap bytes in: the payload span cannot be longer. */
		if (http1_chunked_feed(&b->ch, b->raw + b->raw_off, avail < cap ? avail : cap, &consumed, &span, &herr) < 0)
			return bb_errf(e, BB_EINVAL, "bad chunked body: %s", herr.reason);
		if (span.len)
			memmove(dst, span.p, span.len);
		b->raw_off += consumed;
		if (span.len)
			return (ssize_t)span.len;
	}
}

static ssize_t body_read(void *arg, void *p, size_t n, int timeout_ms, struct bb_err *e)
{
	struct body *b = arg;
	ssize_t r;

	if (!b->gzip) {
		r = unframe(b, p, n, timeout_ms, e);
	} else {
		for (;;) {
			int zr;

			if (b->z_end)
				return 0;
			if (b->st_off == b->st_len) {
				r = unframe(b, b->stage, sizeof b->stage, timeout_ms, e);
				if (r < 0)
					return -1;
				if (r == 0)
					return bb_errf(e, BB_EINVAL, "the gzip request body ended early");
				b->st_off = 0;
				b->st_len = (size_t)r;
			}
			b->z.next_in = b->stage + b->st_off;
			b->z.avail_in = (uInt)(b->st_len - b->st_off);
			b->z.next_out = p;
			b->z.avail_out = (uInt)(n > 0x40000000u ? 0x40000000u : n);
			zr = inflate(&b->z, Z_NO_FLUSH);
			b->st_off = b->st_len - b->z.avail_in;
			if (zr == Z_STREAM_END)
				b->z_end = 1;
			else if (zr != Z_OK && zr != Z_BUF_ERROR)
				return bb_errf(e, BB_EINVAL, "the gzip request body is corrupt");
			r = (ssize_t)((size_t)(b->z.next_out - (unsigned char *)p));
			if (r > 0 || b->z_end)
				break;
		}
	}
	if (r > 0) {
		b->decoded += (uint64_t)r;
		if (b->decoded > b->cap)
			return bb_errf(e, BB_ETOOBIG, "the request body is over this gate's limit of %llu bytes",
				       (unsigned long long)b->cap);
	}
	return r;
}

/* The response: its head goes out just before the first body bytes. */
struct reply {
	int fd;
	int head_sent;
	const char *content_type;
};

static int reply_write(void *arg, const void *p, size_t n, int timeout_ms, struct bb_err *e)
{
	struct reply *rp = arg;

	if (!rp->head_sent) {
		char head[256];
		int hl = snprintf(head, sizeof head,
				  "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
				  rp->content_type);

		if (gitgate_write_fd(rp->fd, head, (size_t)hl, timeout_ms, e) < 0)
			return -1;
		rp->head_sent = 1;
	}
	return gitgate_write_fd(rp->fd, p, n, timeout_ms, e);
}

/* A complete error response with a one-line text body. */
static int send_status(int fd, int status, const char *msg, int timeout_ms)
{
	char out[1024];
	int n = snprintf(out, sizeof out,
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s\n",
			 status, http1_status_reason(status), strlen(msg) + 1, msg);

	if (n < 0 || (size_t)n >= sizeof out)
		return -1;
	return gitgate_write_fd(fd, out, (size_t)n, timeout_ms, NULL);
}

static const char *content_type(enum gitgate_service s, int advert)
{
	if (advert)
		return s == GITGATE_UPLOAD_PACK ? "application/x-git-upload-pack-advertisement"
						: "application/x-git-receive-pack-advertisement";
	return s == GITGATE_UPLOAD_PACK ? "application/x-git-upload-pack-result" : "application/x-git-receive-pack-result";
}

int gitgate_http_wants_v2(struct sv git_protocol)
{
	struct sv rest = git_protocol, field;

	while (rest.len) {
		sv_split(rest, ':', &field, &rest);
		if (sv_eq_str(sv_trim(field), "version=2"))
			return 1;
	}
	return 0;
}

static int info_refs(struct gitgate_session *s, struct reply *rp, enum gitgate_service svc, int v2, struct bb_err *e)
{
	struct bb_err why = { 0 };

	rp->content_type = content_type(svc, 1);
	if (gitgate_session_mirror(s, 1, &why) < 0) {
		/* 200 with an ERR packet: git prints "remote error: <why>", where a status would say nothing. */
		gitgate_send_err(s->io, why.msg, NULL);
		return bb_errf(e, why.code ? why.code : BB_EINVAL, "%s", why.msg);
	}
	if (v2)
		return gitgate_v2_advertise(s, e); /* as git http-backend: no "# service=" line in v2 */
	if (gitgate_io_pktf(s->io, e, "# service=%s\n", gitgate_service_name(svc)) < 0 ||
	    gitgate_io_flush_pkt(s->io, e) < 0)
		return -1;
	return gitgate_advertise(s, svc, e);
}

/* Set up the body reader from the request's framing; 0, or the status to answer. */
static int body_setup(struct body *b, const struct http1_request *req, int fd, uint64_t cap, const char **why)
{
	const struct http1_header *ce = http1_header_get(req->headers, req->n_headers, "Content-Encoding");

	memset(b, 0, sizeof *b);
	b->fd = fd;
	b->cap = cap;
	if (req->chunked) {
		b->chunked = 1;
		http1_chunked_init(&b->ch, 0, 0);
	} else if (req->content_length == HTTP1_NO_LENGTH) {
		*why = "a POST needs a Content-Length (or chunked framing)";
		return 400;
	} else if (req->content_length > cap) {
		*why = "request body too large";
		return 413;
	} else {
		b->remaining = req->content_length;
	}
	if (ce && (http1_eq_nocase(ce->value, "gzip") || http1_eq_nocase(ce->value, "x-gzip"))) {
		if (inflateInit2(&b->z, 16 + MAX_WBITS) != Z_OK) {
			*why = "cannot inflate";
			return 500;
		}
		b->gzip = b->z_ready = 1;
	} else if (ce && !http1_eq_nocase(ce->value, "identity")) {
		*why = "unsupported Content-Encoding (gzip and identity are)";
		return 415;
	}
	return 0;
}

int gitgate_serve_http(const struct gitgate_server *srv, int fd, uint64_t max_body, struct bb_err *e)
{
	static char head[HEAD_MAX];
	static struct body body;
	struct http1_request req;
	struct http1_error herr;
	struct gitgate_http_route route;
	const struct gitgate_repo *repo;
	struct gitgate_session s;
	struct gitgate_io io;
	struct reply rp = { fd, 0, "" };
	const char *why = NULL;
	size_t len = 0, end = 0, searched = 0;
	long hl;
	int status, rc = -1, to = srv->timeout_ms, v2;

	memset(&body, 0, sizeof body);
	/* The head, within the idle timeout per read. */
	while (!(end = http1_head_end(head, len, searched))) {
		ssize_t r;

		searched = len;

		if (len == sizeof head) {
			send_status(fd, 431, "request head too large", to);
			return bb_errf(e, BB_ETOOBIG, "request head over %d bytes", HEAD_MAX);
		}
		r = gitgate_read_fd(fd, head + len, sizeof head - len, to, e);
		if (r < 0)
			return -1;
		if (r == 0)
			return len ? bb_errf(e, BB_EINVAL, "the client closed inside the request head") : 0;
		len += (size_t)r;
	}
	hl = http1_request_parse(head, len, NULL, &req, &herr);
	if (hl <= 0) {
		send_status(fd, hl < 0 ? herr.status : 400, hl < 0 ? herr.reason : "bad request", to);
		return bb_errf(e, BB_EINVAL, "bad request: %s", hl < 0 ? herr.reason : "incomplete");
	}
	status = gitgate_http_route(req.method, req.path, req.query, &route, &why);
	if (status) {
		send_status(fd, status, why, to);
		return bb_errf(e, BB_EINVAL, "%.*s %.*s: %s", (int)req.method.len, req.method.p,
			       (int)(req.path.len > 200 ? 200 : req.path.len), req.path.p, why);
	}
	repo = gitgate_policy_find(srv->policy, route.repo_path);
	if (!repo) {
		send_status(fd, 404, "no such repository here (this gate serves the bottle's git-gate.repos)", to);
		return bb_errf(e, BB_EINVAL, "no repository '%.*s'", (int)(route.repo_path.len > 200 ? 200 : route.repo_path.len),
			       route.repo_path.p);
	}
	{
		const struct http1_header *gp = http1_header_get(req.headers, req.n_headers, "Git-Protocol");

		/* Protocol v2 when the client asks (git 2.26+ does); fetches only, v2 has no push. */
		v2 = route.service == GITGATE_UPLOAD_PACK && gp && gitgate_http_wants_v2(gp->value);
	}
	gitgate_io_init(&io, fd, fd, to);
	io.write_fn = reply_write;
	io.write_arg = &rp;
	gitgate_session_init(&s, srv, repo, &io, route.kind == GITGATE_HTTP_RPC);
	gitgate_log(&s, "request", "service", gitgate_service_name(route.service), "http",
		    route.kind == GITGATE_HTTP_INFO_REFS ? "info/refs" : "rpc", (char *)NULL);
	if (route.kind == GITGATE_HTTP_INFO_REFS) {
		rc = info_refs(&s, &rp, route.service, v2, e);
		goto done;
	}
	{
		const struct http1_header *ct = http1_header_get(req.headers, req.n_headers, "Content-Type");
		char want[64];
		uint64_t cap = route.service == GITGATE_UPLOAD_PACK ? max_body : srv->max_pack_bytes + (1 << 20);

		snprintf(want, sizeof want, "application/x-%s-request", gitgate_service_name(route.service));
		if (ct && !http1_eq_nocase(ct->value, want)) {
			send_status(fd, 415, "wrong Content-Type for this endpoint", to);
			bb_errf(e, BB_EINVAL, "wrong Content-Type");
			goto done;
		}
		status = body_setup(&body, &req, fd, cap, &why);
		if (status) {
			send_status(fd, status, why, to);
			bb_errf(e, status == 413 ? BB_ETOOBIG : BB_EINVAL, "%s", why);
			goto done;
		}
	}
	/* Body bytes that came with the head. */
	memcpy(body.raw, head + hl, len - (size_t)hl);
	body.raw_len = len - (size_t)hl;
	if (req.expect_continue && gitgate_write_fd(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, to, e) < 0)
		goto done;
	io.read_fn = body_read;
	io.read_arg = &body;
	rp.content_type = content_type(route.service, 0);
	if (gitgate_session_mirror(&s, 0, e) < 0) {
		send_status(fd, 502, e->msg, to);
		goto done;
	}
	if (v2)
		rc = gitgate_serve_v2(&s, e);
	else
		rc = route.service == GITGATE_UPLOAD_PACK ? gitgate_upload_pack(&s, e) : gitgate_receive_pack(&s, e);
	if (rc < 0 && !rp.head_sent) {
		send_status(fd, e->code == BB_ETOOBIG ? 413 : 400, e->msg, to);
	} else if (rc == 0 && !rp.head_sent) {
		/* Nothing to say (a probe, or an up-to-date client): an empty result. */
		rc = reply_write(&rp, "", 0, to, e);
	}
done:
	if (rc == 0)
		rc = gitgate_io_flush(&io, e);
	if (body.z_ready)
		inflateEnd(&body.z);
	gitgate_session_close(&s);
	gitgate_io_free(&io);
	return rc;
}
