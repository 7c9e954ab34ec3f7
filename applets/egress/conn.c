/* conn.c - one agent connection through egress: parse, decide, inject, scan, forward; CONNECT with TLS interception or passthrough. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dial.h"
#include "egress.h"
#include "inflate.h"
#include "log.h"
#include "scrub.h"

static const char *alpn_http11[] = { "http/1.1" };

static void conn_run(struct conn *c);
static void conn_free(struct conn *c);

/* ---------- small helpers ---------- */

static size_t room(size_t len, size_t cap)
{
	return cap - len;
}

static int put(unsigned char *buf, size_t *len, size_t cap, const void *p, size_t n)
{
	if (n > cap - *len)
		return -1;
	memcpy(buf + *len, p, n);
	*len += n;
	return 0;
}

static int putf(unsigned char *buf, size_t *len, size_t cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int putf(unsigned char *buf, size_t *len, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf((char *)buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

static void consume(unsigned char *buf, size_t *len, size_t n)
{
	memmove(buf, buf + n, *len - n);
	*len -= n;
}

static void sv_to(struct sv v, char *dst, size_t cap)
{
	size_t n = v.len < cap - 1 ? v.len : cap - 1;
	memcpy(dst, v.p, n);
	dst[n] = 0;
}

/* ---------- answers the proxy writes itself ---------- */

/*
 * Answer the agent and close after it. The body says what was refused and
 * how to ask for it: an agent reads this and can act on it.
 */
static void respond(struct conn *c, int status, const char *rule, const char *text)
{
	char body[900];
	int bl;

	if (status == 403)
		bl = snprintf(body, sizeof body,
			      "bb egress refused %s %s%s%s\nrule: %s\nreason: %s\n"
			      "To ask the operator for access, call the supervise MCP tool `egress-block` "
			      "(or `ask-operator`) with the host, methods, paths and why you need it.\n",
			      c->method[0] ? c->method : "the request to", c->host, c->path[0] ? " " : "", c->path,
			      rule, text);
	else
		bl = snprintf(body, sizeof body, "bb egress: %d %s: %s\n", status, http1_status_reason(status), text);
	if (bl < 0 || (size_t)bl >= sizeof body)
		bl = (int)strlen(body);
	c->cout_len = 0; /* nothing of an answer was sent yet when the proxy answers itself */
	putf(c->cout, &c->cout_len, sizeof c->cout,
	     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
	     "X-BB-Egress-Rule: %s\r\nConnection: close\r\n\r\n",
	     status, http1_status_reason(status), bl, rule);
	put(c->cout, &c->cout_len, sizeof c->cout, body, (size_t)bl);
	c->closing = 1;
	c->status = status;
	c->rq = RQ_CLOSE;
}

static void deny(struct conn *c, int status, const char *rule, const char *text)
{
	c->status = status;
	eg_audit(c, status == 403 ? "deny" : "error", rule, text);
	respond(c, status, rule, text);
}

/* ---------- upstream ---------- */

static void up_close(struct conn *c)
{
	if (c->dial_fd >= 0) {
		loop_io_del(&c->eg->loop, &c->dial_io);
		close(c->dial_fd);
		c->dial_fd = -1;
	}
	if (c->lookup) {
		resolve_cancel(c->eg->res, c->lookup);
		c->lookup = NULL;
	}
	if (c->up.fd >= 0) {
		/*
		 * Between exchanges, a close_notify (best effort): a server that sees none may forget the
		 * session (OpenSSL does). Never mid-request: a request egress cut must look cut.
		 */
		if (c->up_idle && c->up.eng && !c->up.failed && side_ready(&c->up))
			side_close_write(&c->up);
		loop_io_del(&c->eg->loop, &c->up.io);
		close(c->up.fd);
	}
	side_init(&c->up, -1);
	if (c->tcli)
		eg_sess_up_end(c->eg, c->tcli);
	free(c->tcli);
	c->tcli = NULL;
	c->up_key[0] = 0;
	c->up_idle = 0;
	c->uin_len = 0;
}

static void io_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	(void)l;
	(void)ev;
	conn_run(io->arg);
}

/*
 * Between exchanges, hand the open upstream connection to the daemon's idle
 * pool for a later agent connection, when it is clean: the last response was
 * framed for keep-alive and read whole, nothing is buffered either way, and
 * its TLS (if any) is open with nothing pending.
 */
static void up_park(struct conn *c)
{
	unsigned char key[32];
	unsigned st = c->up.eng ? br_ssl_engine_current_state(c->up.eng) : 0;

	if (!c->up_idle || c->up.fd < 0 || c->mode == MODE_TUNNEL || c->ws || !c->up_key[0] || c->rs != RS_IDLE ||
	    (c->rq != RQ_HEAD && c->rq != RQ_CLOSE) || c->uin_len || c->uout_len || c->up.eof || c->up.failed ||
	    c->up.shut_wr || (c->up.eng && (!side_ready(&c->up) || (st & (BR_SSL_RECVAPP | BR_SSL_SENDREC)))))
		return;
	eg_idle_up_key(c, key);
	loop_io_del(&c->eg->loop, &c->up.io);
	if (eg_idle_up_put(c->eg, c->up.fd, c->tcli, key, c->peer) < 0) {
		struct bb_err e;
		loop_io_add(&c->eg->loop, &c->up.io, c->up.fd, EPOLLIN, io_cb, c, &e);
		return; /* no room: up_close closes it */
	}
	side_init(&c->up, -1);
	c->tcli = NULL;
	c->up_key[0] = 0;
	c->up_idle = 0;
}

static int up_start_tls(struct conn *c)
{
	struct eg_tls_client *t = c->tcli;
	if (!t && !(t = c->tcli = malloc(sizeof *t)))
		return -1;
	br_ssl_client_init_full(&t->sc, &t->xc, c->eg->trust.anchors, c->eg->trust.len);
	br_ssl_engine_set_versions(&t->sc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_buffers_bidi(&t->sc.eng, t->in, sizeof t->in, t->out, sizeof t->out);
	br_ssl_engine_set_protocol_names(&t->sc.eng, alpn_http11, 1);
	if (eg_sess_up_reset(c->eg, c, t) < 0)
		return -1;
	c->up.eng = &t->sc.eng;
	return 0;
}

/* Once the upstream's handshake is done, its session is kept for the next connection there. */
static void up_tls_note(struct conn *c)
{
	if (c->tcli && !c->tcli->saved && c->up.eng && side_ready(&c->up))
		eg_sess_up_save(c->eg, c->tcli);
}

static void up_connect_next(struct conn *c);

/* Heads and bodies go out in separate writes: without this the second waits for the peer's delayed ACK. */
static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void up_connected(struct conn *c)
{
	nodelay(c->up.fd);
	if (c->up_tls && up_start_tls(c) < 0) {
		deny(c, 502, "upstream-tls", "cannot start TLS to the upstream");
		return;
	}
	snprintf(c->up_key, sizeof c->up_key, "%s://%s:%u", c->up_tls ? "https" : "http", c->host, c->port);
	if (c->mode == MODE_TUNNEL) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		put(c->cout, &c->cout_len, sizeof c->cout, ok, sizeof ok - 1);
		eg_audit(c, "allow", "tunnel", "tls_passthrough");
		c->rq = RQ_BODY;
		return;
	}
	c->rq = RQ_BODY;
}

static void up_connect_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct conn *c = io->arg;
	int err = 0;
	socklen_t sl = sizeof err;
	struct bb_err e;
	(void)l;
	(void)ev;
	if (getsockopt(c->up.fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
		err = errno;
	if (err == EINPROGRESS)
		return;
	if (err) {
		c->up.io_errno = err;
		loop_io_del(&c->eg->loop, &c->up.io);
		close(c->up.fd);
		c->up.fd = -1;
		up_connect_next(c);
		conn_run(c);
		return;
	}
	loop_io_mod(&c->eg->loop, &c->up.io, EPOLLIN, &e);
	c->up.io.fn = io_cb;
	up_connected(c);
	conn_run(c);
}

static void up_connect_next(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct bb_err e;
	int fd;

	while (c->addr_i < c->naddrs) {
		const struct netaddr *a = &c->addrs[c->addr_i++];
		netaddr_format(a, c->peer, sizeof c->peer);
		netaddr_to_sockaddr(a, c->port, &ss, &sl);
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			c->up.io_errno = errno;
			continue;
		}
		if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
			c->up.io_errno = errno;
			close(fd);
			continue;
		}
		side_init(&c->up, fd);
		if (loop_io_add(&c->eg->loop, &c->up.io, fd, EPOLLOUT, up_connect_cb, c, &e) < 0) {
			close(fd);
			c->up.fd = -1;
			continue;
		}
		return;
	}
	{
		char why[800];
		snprintf(why, sizeof why, "cannot connect to %s port %u%s%s: %s", c->host, c->port, c->peer[0] ? " at " : "",
			 c->peer, c->up.io_errno ? strerror(c->up.io_errno) : "no address");
		deny(c, 502, "upstream-connect", why);
	}
}

static void resolved(void *arg, const struct resolve_result *res, const struct bb_err *err)
{
	struct conn *c = arg;
	const char *denied = NULL;
	char why[800];
	size_t i;

	c->lookup = NULL;
	if (!res) {
		snprintf(why, sizeof why, "cannot resolve %s: %s", c->host, err ? err->msg : "failed");
		deny(c, 502, "resolve", why);
		conn_run(c);
		return;
	}
	c->naddrs = c->addr_i = 0;
	for (i = 0; i < res->naddrs; i++) {
		const struct netaddr *a = &res->addrs[i];
		/* The address we will connect to is the one checked: no rebinding gap. */
		if (netaddr_is_public(a) || route_ssrf_allowed(c->route, a)) {
			c->addrs[c->naddrs++] = *a;
		} else if (!denied) {
			denied = netaddr_class_name(netaddr_classify(a));
			netaddr_format(a, c->peer, sizeof c->peer);
		}
	}
	if (!c->naddrs) {
		snprintf(why, sizeof why, "%s resolves to %s, a %s address; egress connects only to public addresses",
			 c->host, c->peer, denied ? denied : "non-public");
		deny(c, 403, "private-address", why);
		conn_run(c);
		return;
	}
	c->peer[0] = 0;
	up_connect_next(c);
	conn_run(c);
}

/* The host dialer answered: a connected socket, or why not. */
static void dial_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct conn *c = io->arg;
	char line[DIAL_LINE_MAX], why[DIAL_LINE_MAX + 64];
	int fd;
	ssize_t n = dial_recv(c->dial_fd, line, sizeof line, &fd);
	struct bb_err e;
	(void)l;
	(void)ev;
	if (n == 0)
		return;
	loop_io_del(&c->eg->loop, &c->dial_io);
	close(c->dial_fd);
	c->dial_fd = -1;
	if (n > 3 && !strncmp(line, "OK ", 3) && fd >= 0) {
		snprintf(c->peer, sizeof c->peer, "%s", line + 3);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		side_init(&c->up, fd);
		if (loop_io_add(&c->eg->loop, &c->up.io, fd, EPOLLIN, io_cb, c, &e) < 0) {
			close(fd);
			c->up.fd = -1;
			deny(c, 502, "upstream-connect", e.msg);
		} else {
			up_connected(c);
		}
	} else {
		/* "ERR rule reason": the host's policy check speaks for itself. */
		char rule[32] = "dialer";
		const char *reason = "the host dialer did not answer";
		if (fd >= 0)
			close(fd);
		if (n > 4 && !strncmp(line, "ERR ", 4)) {
			const char *sp = strchr(line + 4, ' ');
			size_t rl = sp ? (size_t)(sp - line - 4) : strlen(line + 4);
			snprintf(rule, sizeof rule, "%.*s", (int)(rl < sizeof rule ? rl : sizeof rule - 1), line + 4);
			reason = sp ? sp + 1 : "refused";
		}
		snprintf(why, sizeof why, "%s", reason);
		deny(c, !strcmp(rule, "no-route") || !strcmp(rule, "private-address") || !strcmp(rule, "raw-ip") ? 403 : 502,
		     rule, why);
	}
	conn_run(c);
}

/* Ask the host for the upstream socket (the sidecar has no route out of its namespace). */
static void up_dial(struct conn *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct dial_request r;
	char line[DIAL_LINE_MAX];
	struct bb_err e;
	int len;

	snprintf(r.host, sizeof r.host, "%s", c->host);
	r.port = c->port;
	len = dial_request_format(&r, line, sizeof line);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", c->eg->dialer);
	c->dial_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (len < 0 || c->dial_fd < 0 || connect(c->dial_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    dial_send(c->dial_fd, line, (size_t)len, -1) < 0 ||
	    loop_io_add(&c->eg->loop, &c->dial_io, c->dial_fd, EPOLLIN, dial_cb, c, &e) < 0) {
		char why[300];
		snprintf(why, sizeof why, "cannot reach the host dialer at %s: %s", c->eg->dialer, strerror(errno));
		if (c->dial_fd >= 0)
			close(c->dial_fd);
		c->dial_fd = -1;
		deny(c, 502, "dialer", why);
	}
}

/* Open the upstream for c->host:c->port unless the open one already serves it. */
static void up_open(struct conn *c)
{
	char key[300];
	struct bb_err e;
	if (c->eg->audit_broken) { /* this refusal's line is another try at the log: it clears the state if it gets through */
		deny(c, 503, "audit", "the audit log cannot be written; nothing passes unaudited");
		return;
	}
	c->up_idle = 0; /* a request begins on whichever upstream serves it */
	snprintf(key, sizeof key, "%s://%s:%u", c->up_tls ? "https" : "http", c->host, c->port);
	if (c->up.fd >= 0 && !c->up.eof && !c->up.failed && !strcmp(key, c->up_key)) {
		c->rq = RQ_BODY;
		return;
	}
	up_close(c);
	c->req_started_ms = loop_now(&c->eg->loop);
	if (c->mode != MODE_TUNNEL) { /* an idle connection another agent connection left, same route and credential */
		unsigned char ikey[32];
		struct eg_tls_client *t = NULL;
		int fd;
		eg_idle_up_key(c, ikey);
		fd = eg_idle_up_take(c->eg, ikey, &t, c->peer, sizeof c->peer);
		if (fd >= 0) {
			side_init(&c->up, fd);
			if (loop_io_add(&c->eg->loop, &c->up.io, fd, EPOLLIN, io_cb, c, &e) < 0) {
				close(fd);
				free(t);
				side_init(&c->up, -1);
			} else {
				c->tcli = t;
				c->up.eng = t ? &t->sc.eng : NULL;
				snprintf(c->up_key, sizeof c->up_key, "%s", key);
				c->rq = RQ_BODY;
				return;
			}
		}
	}
	c->rq = RQ_CONNECTING;
	if (c->eg->dialer) {
		up_dial(c);
		return;
	}
	if (resolve_start(c->eg->res, c->host, strlen(c->host), resolved, c, &c->lookup, &e) < 0) {
		char why[800];
		snprintf(why, sizeof why, "cannot resolve %s: %s", c->host, e.msg);
		deny(c, 502, "resolve", why);
	}
}

/* ---------- DLP ---------- */

/*
 * Scanner state is 64 KiB a stream: a connection borrows one per direction
 * only while it scans, from a small daemon-wide pool, so idle connections
 * stay small and a busy one does not pay an allocation per request.
 */
static void stream_put(struct egress *eg, struct scan_stream *s, unsigned mask)
{
	size_t i;
	if (!s)
		return;
	if (mask >> EG_GEN_SHIFT != eg->scan_gen) { /* made from an engine since replaced */
		scan_stream_free(s);
		return;
	}
	for (i = 0; i < EG_POOL; i++)
		if (!eg->pool[i]) {
			scan_stream_reset(s);
			eg->pool[i] = s;
			eg->pool_mask[i] = mask;
			return;
		}
	scan_stream_free(s);
}

static int ensure_stream(struct conn *c, struct scan_stream **s, unsigned *mask, unsigned want)
{
	struct egress *eg = c->eg;
	struct bb_err e;
	unsigned gwant = want | eg->scan_gen << EG_GEN_SHIFT;
	size_t i;
	if (*s && *mask == gwant) {
		scan_stream_reset(*s);
		return 0;
	}
	stream_put(eg, *s, *mask);
	*s = NULL;
	*mask = gwant;
	for (i = 0; i < EG_POOL; i++)
		if (eg->pool[i] && eg->pool_mask[i] == gwant) {
			*s = eg->pool[i];
			eg->pool[i] = NULL;
			return 0;
		}
	return scan_stream_new(s, eg->scan, want, &e);
}

/* Give the connection's scanners back to the pool (between requests, and at close). */
static void streams_release(struct conn *c)
{
	stream_put(c->eg, c->scan_out, c->scan_out_mask);
	stream_put(c->eg, c->scan_in, c->scan_in_mask);
	c->scan_out = c->scan_in = NULL;
}

/* Between exchanges a connection holds no decoder and no body buffer either. */
static void response_release(struct conn *c)
{
	inflate_end(c->zin);
	c->zin = NULL;
	inflate_end(c->rdec);
	c->rdec = NULL;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rbuf_len = 0;
}

struct hit {
	struct conn *c;
	char rule[64];
	char excerpt[SCAN_EXCERPT_MAX + 1];
	int n;
};

static int on_finding(const struct scan_finding *f, void *arg)
{
	struct hit *h = arg;
	/* A credential rule the operator allowlisted for this route (dlp-block approved): noted, not blocked. */
	if (f->kind == SCAN_KIND_RULE && h->c && h->c->route && route_dlp_allowed(h->c->route, 0, f->id)) {
		log_event(LOG_INFO, "dlp-allowed", "conn", h->c->idstr, "host", h->c->host, "rule", f->id, "direction",
			  "outbound", (char *)NULL);
		return 0;
	}
	if (!h->n++) {
		snprintf(h->rule, sizeof h->rule, "%s", f->id);
		snprintf(h->excerpt, sizeof h->excerpt, "%s", f->excerpt);
	}
	return 1; /* the first finding decides */
}

/*
 * Outbound DLP also looks inside encodings (SCAN_DECODE: percent-escapes,
 * base64 and hex runs, tokens split across lines, lib/scan_decode.c): a
 * secret the agent encoded is a secret all the same.
 */
#define OUT_SCAN(c) ((c)->dlp_out | SCAN_DECODE)

struct zscan {
	struct conn *c;
	struct hit *h;
};

static int scan_inflated(const void *p, size_t n, void *arg)
{
	struct zscan *z = arg;
	return scan_feed(z->c->scan_out, p, n, on_finding, z->h);
}

/* Scan body bytes as sent, or decoded first when the body is gzip/deflate. 0, or -1 when the body could not be decoded (answered). */
static int scan_body(struct conn *c, const void *p, size_t n, struct hit *h)
{
	struct zscan z = { c, h };
	struct bb_err e;
	int rc;
	if (!c->zin) {
		scan_feed(c->scan_out, p, n, on_finding, h);
		return 0;
	}
	rc = inflate_feed(c->zin, p, n, scan_inflated, &z, &e);
	if (rc < 0) {
		up_close(c);
		deny(c, e.code == BB_ETOOBIG ? 413 : e.code == ENOMEM ? 503 : 400, e.code == ENOMEM ? "memory" : "bad-request",
		     e.msg);
		return -1;
	}
	return 0;
}

static void dlp_block(struct conn *c, struct hit *h, const char *where)
{
	char why[800];
	snprintf(why, sizeof why, "the request %s carries a secret (%s): %s", where, h->rule, h->excerpt);
	up_close(c); /* the upstream never sees the end of this request */
	deny(c, 403, "dlp", why);
}

/*
 * Outbound DLP on a text that is whole (a request head, a WebSocket
 * message), with the scanner's decoders. 0 (h says what was found), or -1
 * when no scanner was to be had.
 */
static int dlp_text(struct conn *c, const unsigned char *p, size_t n, struct hit *h)
{
	if (ensure_stream(c, &c->scan_out, &c->scan_out_mask, OUT_SCAN(c)) < 0)
		return -1;
	scan_feed(c->scan_out, p, n, on_finding, h);
	if (!h->n)
		scan_end(c->scan_out, on_finding, h);
	scan_stream_reset(c->scan_out);
	return 0;
}

/* ---------- the request ---------- */

static int hop_by_hop(struct sv name, const struct http1_request *rq)
{
	static const char *const hop[] = { "connection", "keep-alive", "proxy-connection", "proxy-authorization",
					   "proxy-authenticate", "te", "trailer", "upgrade", "expect" };
	size_t i;
	const struct http1_header *conn;
	for (i = 0; i < sizeof hop / sizeof hop[0]; i++)
		if (http1_eq_nocase(name, hop[i]))
			return 1;
	/* Headers the agent named in Connection are hop-by-hop too (RFC 9110 §7.6.1). */
	if (rq) {
		long k = -1;
		while ((k = http1_header_next(rq->headers, rq->n_headers, (size_t)(k + 1), "connection")) >= 0) {
			char tmp[64];
			conn = &rq->headers[k];
			if (name.len >= sizeof tmp)
				continue;
			sv_to(name, tmp, sizeof tmp);
			if (http1_token_list_has(conn->value, tmp))
				return 1;
		}
	}
	return 0;
}

/* The header carries the agent's own credential: replaced (auth routes) or dropped (all routes, as bot-bottle did). */
static int credential_header(struct sv name)
{
	return http1_eq_nocase(name, "authorization") || http1_eq_nocase(name, "x-api-key") ||
	       http1_eq_nocase(name, "api-key");
}


/* Write the upstream request head into uout. */
static int write_up_head(struct conn *c, const struct http1_request *rq, struct sv target)
{
	size_t i;
	const struct route *r = c->route;
	int has_host = 0;

	if (putf(c->uout, &c->uout_len, sizeof c->uout, "%.*s %.*s HTTP/1.1\r\n", (int)rq->method.len, rq->method.p,
		 (int)target.len, target.p) < 0)
		return -1;
	for (i = 0; i < rq->n_headers; i++) {
		const struct http1_header *h = &rq->headers[i];
		if (hop_by_hop(h->name, rq) || credential_header(h->name))
			continue;
		/* No extension is offered: permessage-deflate would hide the payloads from the scanner. */
		if (c->ws_req && (http1_eq_nocase(h->name, "sec-websocket-extensions") ||
				  http1_eq_nocase(h->name, "sec-websocket-key")))
			continue;
		if (http1_eq_nocase(h->name, "host")) {
			has_host = 1;
			if (rq->form == HTTP1_FORM_ABSOLUTE) { /* the target's authority wins (RFC 9112 §3.2.2) */
				if (putf(c->uout, &c->uout_len, sizeof c->uout, "Host: %.*s", (int)rq->host.len, rq->host.p) < 0 ||
				    (rq->port_explicit && putf(c->uout, &c->uout_len, sizeof c->uout, ":%u", rq->port) < 0) ||
				    put(c->uout, &c->uout_len, sizeof c->uout, "\r\n", 2) < 0)
					return -1;
				continue;
			}
		}
		if (put(c->uout, &c->uout_len, sizeof c->uout, h->name.p, h->name.len) < 0 ||
		    put(c->uout, &c->uout_len, sizeof c->uout, ": ", 2) < 0 ||
		    put(c->uout, &c->uout_len, sizeof c->uout, h->value.p, h->value.len) < 0 ||
		    put(c->uout, &c->uout_len, sizeof c->uout, "\r\n", 2) < 0)
			return -1;
	}
	if (!has_host && putf(c->uout, &c->uout_len, sizeof c->uout, "Host: %s\r\n", c->host) < 0)
		return -1;
	if (c->ws_req && putf(c->uout, &c->uout_len, sizeof c->uout, "Connection: Upgrade\r\nUpgrade: websocket\r\n") < 0)
		return -1;
	/*
	 * Outbound DLP on the request line and headers exactly as they will
	 * leave, before a byte does: the agent's own credentials were dropped
	 * above, and our token is added only after this.
	 */
	if (c->dlp_out) {
		struct hit h = { .c = c };
		if (dlp_text(c, c->uout, c->uout_len, &h) < 0) {
			deny(c, 503, "memory", "out of memory");
			return -1;
		}
		if (h.n) {
			dlp_block(c, &h, "line or headers");
			return -1;
		}
	}
	if (c->ws_req && (ws_key_new(c->ws_key_up) < 0 ||
			  putf(c->uout, &c->uout_len, sizeof c->uout, "Sec-WebSocket-Key: %s\r\n", c->ws_key_up) < 0))
		return -1;
	if (r->auth != ROUTE_AUTH_NONE) {
		const char *tok = eg_token(c->eg, r->token_slot);
		int rc = r->auth == ROUTE_AUTH_API_KEY
				 ? putf(c->uout, &c->uout_len, sizeof c->uout, "x-api-key: %s\r\n", tok ? tok : "")
				 : putf(c->uout, &c->uout_len, sizeof c->uout, "Authorization: %s %s\r\n",
					r->auth == ROUTE_AUTH_BEARER ? "Bearer" : "token", tok ? tok : "");
		if (rc < 0)
			return -1;
	}
	return put(c->uout, &c->uout_len, sizeof c->uout, "\r\n", 2);
}

static void start_mitm(struct conn *c);
static void start_tunnel(struct conn *c);

/*
 * A compressed body is scanned decoded; one that cannot be decoded cannot
 * be inspected and is refused (415), naming its coding. 0, or -1 when the
 * request was answered.
 */
static int request_decoder(struct conn *c, const struct http1_request *rq)
{
	const struct http1_header *ce = http1_header_get(rq->headers, rq->n_headers, "content-encoding");
	struct inflate_limits lim = { EG_INFLATE_MAX, &c->eg->dec_mem, EG_DECODER_MEM };
	struct bb_err e;
	char why[300];

	if (!ce || http1_eq_nocase(ce->value, "identity"))
		return 0;
	if (http1_header_next(rq->headers, rq->n_headers, (size_t)(ce - rq->headers) + 1, "content-encoding") >= 0 ||
	    memchr(ce->value.p, ',', ce->value.len)) {
		snprintf(why, sizeof why,
			 "request bodies are inspected for secrets: one content coding at most, and this body has several "
			 "(%.*s%s)", (int)(ce->value.len > 60 ? 60 : ce->value.len), ce->value.p, ce->value.len > 60 ? "..." : "");
		goto refuse;
	}
	if (!inflate_format_known(ce->value.p, ce->value.len)) {
		snprintf(why, sizeof why,
			 "request bodies are inspected for secrets, and content coding '%.*s' cannot be decoded: send them "
			 "uncompressed, gzip, deflate, zstd or br", (int)(ce->value.len > 60 ? 60 : ce->value.len), ce->value.p);
		goto refuse;
	}
	if (inflate_begin_limits(&c->zin, ce->value.p, ce->value.len, &lim, &e) < 0) {
		c->uout_len = 0;
		deny(c, 503, "memory", e.msg);
		return -1;
	}
	return 0;
refuse:
	c->uout_len = 0;
	deny(c, 415, "content-encoding", why);
	return -1;
}

/* A complete head is in cin[0..end): decide and start forwarding. */
static void request_head(struct conn *c, size_t end)
{
	struct http1_request *rq = &c->eg->scratch_req;
	struct http1_error err;
	struct http1_limits lim = { EG_HEAD_BUF, 8192 };
	struct route_hdr hdrs[HTTP1_MAX_HEADERS];
	struct route_req q;
	struct route_verdict v;
	struct sv target;
	char tbuf[8200];
	size_t i;
	int is_connect;

	c->method[0] = c->path[0] = 0;
	c->audited = 0;
	c->req_started_ms = loop_now(&c->eg->loop);
	c->bytes.up = c->bytes.down = 0;
	c->status = 0;
	if (http1_request_parse((const char *)c->cin, end, &lim, rq, &err) < 0) {
		deny(c, err.status ? err.status : 400, "bad-request", err.reason);
		return;
	}
	sv_to(rq->method, c->method, sizeof c->method);
	is_connect = sv_eq_str(rq->method, "CONNECT");
	c->ws_req = 0;
	if (rq->upgrade) {
		const struct http1_header *up = http1_header_get(rq->headers, rq->n_headers, "upgrade");
		/* WebSocket only, and as RFC 6455 asks: one GET over HTTP/1.1, no body; h2c and the rest stay refused. */
		if (is_connect || !up || !http1_token_list_has(up->value, "websocket") ||
		    http1_header_next(rq->headers, rq->n_headers, (size_t)(up - rq->headers) + 1, "upgrade") >= 0 ||
		    memchr(up->value.p, ',', up->value.len)) {
			deny(c, 501, "upgrade", "protocol upgrades other than WebSocket (h2c, ...) are not proxied");
			return;
		}
		if (!sv_eq_str(rq->method, "GET") || rq->version_minor != 1 || rq->chunked ||
		    (rq->content_length != HTTP1_NO_LENGTH && rq->content_length)) {
			deny(c, 400, "upgrade", "a WebSocket upgrade is a GET over HTTP/1.1 without a body");
			return;
		}
		/*
		 * The agent's nonce stays here: the upstream gets egress's own, so the
		 * key is no channel out (16 bytes of the agent's choosing a connection).
		 */
		up = http1_header_get(rq->headers, rq->n_headers, "sec-websocket-key");
		if (!up || http1_header_next(rq->headers, rq->n_headers, (size_t)(up - rq->headers) + 1, "sec-websocket-key") >= 0 ||
		    ws_key_valid(up->value.p, up->value.len) < 0) {
			deny(c, 400, "upgrade", "a WebSocket upgrade needs one Sec-WebSocket-Key: base64 of 16 bytes");
			return;
		}
		sv_to(up->value, c->ws_key_agent, sizeof c->ws_key_agent);
		c->ws_req = 1;
	}

	/*
	 * An absolute URI and a Host naming different hosts is the confusion
	 * smuggling relies on. CONNECT is exempt: only its authority counts, and
	 * real clients (Node) send the proxy's own address as Host.
	 */
	if (rq->host_mismatch && !is_connect) {
		deny(c, 400, "host-mismatch", "the Host header does not match the request target");
		return;
	}

	/* Where to: the CONNECT authority, the absolute URI, the MITM'd host, or (direct mode) the Host header. */
	if (is_connect) {
		if (c->mode != MODE_PROXY || rq->form != HTTP1_FORM_AUTHORITY) {
			deny(c, 400, "bad-request", "CONNECT is only accepted as the first request, to host:port");
			return;
		}
		sv_to(rq->host, c->host, sizeof c->host);
		c->port = rq->port;
		snprintf(c->path, sizeof c->path, ":%u", c->port);
	} else if (c->mode == MODE_MITM) {
		struct http1_authority a;
		if (rq->form != HTTP1_FORM_ORIGIN) {
			deny(c, 400, "bad-request", "inside CONNECT, requests must use origin-form targets");
			return;
		}
		if (!rq->host_header.p || http1_authority_parse(rq->host_header, 0, &a) < 0 ||
		    a.host.len != strlen(c->connect_host) || strncasecmp(a.host.p, c->connect_host, a.host.len)) {
			snprintf(c->host, sizeof c->host, "%s", c->connect_host);
			deny(c, 403, "host-mismatch",
			     "the Host header names another host than the CONNECT target (domain fronting)");
			return;
		}
		snprintf(c->host, sizeof c->host, "%s", c->connect_host);
		c->port = c->connect_port;
		c->up_tls = 1;
	} else if (rq->form == HTTP1_FORM_ABSOLUTE) {
		sv_to(rq->host, c->host, sizeof c->host);
		c->port = rq->port;
		c->up_tls = http1_eq_nocase(rq->scheme, "https");
	} else if (rq->form == HTTP1_FORM_ORIGIN && rq->host_header.p) {
		/* Direct mode: the agent dials the sidecar with the route's name in Host; upstream is HTTPS. */
		struct http1_authority a;
		if (http1_authority_parse(rq->host_header, 0, &a) < 0) {
			deny(c, 400, "bad-request", "the Host header is not a valid host[:port]");
			return;
		}
		sv_to(a.host, c->host, sizeof c->host);
		c->port = a.port ? a.port : 443;
		c->up_tls = 1;
	} else {
		deny(c, 400, "bad-request", "no host to forward to (use an absolute URI, CONNECT, or a Host header)");
		return;
	}
	if (!is_connect) {
		if (rq->form == HTTP1_FORM_ABSOLUTE) {
			/* Forwarded as origin-form: path, then ?query. */
			size_t tl = 0;
			if (rq->path.len + rq->query.len + 2 > sizeof tbuf) {
				deny(c, 414, "bad-request", "request target too long");
				return;
			}
			memcpy(tbuf, rq->path.p, rq->path.len);
			tl = rq->path.len;
			if (rq->query.p) {
				tbuf[tl++] = '?';
				memcpy(tbuf + tl, rq->query.p, rq->query.len);
				tl += rq->query.len;
			}
			target = sv_of(tbuf, tl);
		} else {
			target = rq->target;
		}
		sv_to(sv_of(target.p, route_path_len(target.p, target.len)), c->path, sizeof c->path);
	}

	/* Raw IPs: an address the policy never named is refused with its own reason. */
	c->route = route_policy_find(c->pol, c->host, strlen(c->host));
	if (!c->route && netaddr_host_is_ip(c->host, strlen(c->host))) {
		deny(c, 403, "raw-ip", "requests to raw IP addresses are not allowed; use a host name from the policy");
		return;
	}
	if (!c->route) {
		deny(c, 403, "no-route", "no egress route allows this host");
		return;
	}
	c->dlp_out = c->route->dlp_out;
	c->dlp_in = c->route->dlp_in;

	if (is_connect) {
		consume(c->cin, &c->cin_len, end);
		c->head_searched = 0;
		if (c->route->tls_passthrough)
			start_tunnel(c);
		else
			start_mitm(c);
		return;
	}

	for (i = 0; i < rq->n_headers; i++)
		hdrs[i] = (struct route_hdr){ rq->headers[i].name.p, rq->headers[i].name.len, rq->headers[i].value.p,
					      rq->headers[i].value.len };
	q = (struct route_req){ rq->method.p, rq->method.len, target.p, target.len, hdrs, rq->n_headers };
	route_decide(c->route, &q, &v);
	if (!v.allow) {
		deny(c, 403, v.rule, v.reason);
		return;
	}
	if (c->route->auth != ROUTE_AUTH_NONE && !c->up_tls) {
		deny(c, 403, "auth-over-http", "this route injects a credential, which is never sent over plain HTTP; use https");
		return;
	}

	c->uout_len = 0;
	if (write_up_head(c, rq, target) < 0) {
		if (c->rq != RQ_CLOSE)
			deny(c, 431, "bad-request", "request head too large after rewriting");
		return;
	}
	c->head_method = http1_eq_nocase(rq->method, "HEAD");
	c->req_minor = rq->version_minor;
	c->req_keep_alive = rq->keep_alive;
	c->body_chunked = rq->chunked;
	c->body_left = rq->content_length == HTTP1_NO_LENGTH ? 0 : rq->content_length;
	c->body_done = !rq->chunked && c->body_left == 0;
	c->body_due_ms = loop_now(&c->eg->loop) + c->eg->head_ms;
	c->body_dec = 0;
	if (rq->chunked)
		http1_chunked_init(&c->chunk, 0, 0);
	inflate_end(c->zin);
	c->zin = NULL;
	if (c->dlp_out && !c->body_done && request_decoder(c, rq) < 0)
		return;
	if (rq->expect_continue) /* we read the body anyway; answer for the upstream */
		putf(c->cout, &c->cout_len, sizeof c->cout, "HTTP/1.1 100 Continue\r\n\r\n");
	consume(c->cin, &c->cin_len, end);
	c->head_searched = 0;
	c->rs = RS_HEAD;
	up_open(c);
}

/* Body bytes: scan, then forward what the scanner is EG_HOLD bytes past. 1 if anything moved. */
static int request_body(struct conn *c)
{
	int moved = 0;
	struct hit h = { .c = c };

	while (!c->body_done && c->body_dec < c->cin_len) {
		size_t avail = c->cin_len - c->body_dec;
		if (c->body_chunked) {
			size_t used = 0;
			struct sv data = { 0 };
			struct http1_error err;
			if (http1_chunked_feed(&c->chunk, (const char *)c->cin + c->body_dec, avail, &used, &data, &err) <
			    0) {
				up_close(c);
				deny(c, 400, "bad-request", err.reason);
				return 1;
			}
			/*
			 * Chunk extensions travel upstream with the framing the scanner
			 * never sees ("5;k=SECRET"), and no client needs them: refused.
			 */
			if (c->chunk.ext_len) {
				up_close(c);
				deny(c, 400, "bad-request", "chunk extensions are not accepted in request bodies");
				return 1;
			}
			if (data.len && c->dlp_out && scan_body(c, data.p, data.len, &h) < 0)
				return 1;
			c->body_dec += used;
			if (c->chunk.done) {
				c->body_done = 1;
				if (c->chunk.trailer_len > 2) { /* more than the final CRLF */
					up_close(c);
					deny(c, 400, "bad-request", "request trailers are not accepted");
					return 1;
				}
			}
			if (!used)
				break;
		} else {
			if (avail > c->body_left)
				avail = (size_t)c->body_left;
			if (c->dlp_out && scan_body(c, c->cin + c->body_dec, avail, &h) < 0)
				return 1;
			c->body_dec += avail;
			c->body_left -= avail;
			if (!c->body_left)
				c->body_done = 1;
		}
		moved = 1;
		if (c->body_done && c->zin && !inflate_complete(c->zin)) {
			char why[120];
			snprintf(why, sizeof why, "the %s body ends before its compressed stream does", inflate_format(c->zin));
			up_close(c);
			deny(c, 400, "bad-request", why);
			return 1;
		}
		if (c->body_done && c->dlp_out && !h.n)
			scan_end(c->scan_out, on_finding, &h);
		if (h.n) {
			dlp_block(c, &h, "body");
			return 1;
		}
	}
	if (c->rq == RQ_BODY) {
		size_t limit = c->body_done ? c->body_dec : (c->body_dec > EG_HOLD ? c->body_dec - EG_HOLD : 0);
		size_t n = limit < room(c->uout_len, sizeof c->uout) ? limit : room(c->uout_len, sizeof c->uout);
		if (n) {
			put(c->uout, &c->uout_len, sizeof c->uout, c->cin, n);
			consume(c->cin, &c->cin_len, n);
			c->body_dec -= n;
			c->bytes.up += n;
			moved = 1;
		}
		if (c->body_done && !c->body_dec)
			c->rq = RQ_WAIT;
	}
	return moved;
}

static int ws_step(struct conn *c);

static int request_step(struct conn *c)
{
	size_t end;
	if (c->rq == RQ_HEAD) {
		if (!c->cin_len || c->closing)
			return 0;
		end = http1_head_end((const char *)c->cin, c->cin_len, c->head_searched);
		if (!end) {
			c->head_searched = c->cin_len;
			if (c->cin_len >= sizeof c->cin) {
				deny(c, 431, "bad-request", "request head larger than 16 KiB");
				return 1;
			}
			return 0;
		}
		request_head(c, end);
		return 1;
	}
	if (c->rq == RQ_WS)
		return ws_step(c);
	if (c->rq == RQ_BODY || (c->rq == RQ_CONNECTING && !c->body_done))
		return c->mode == MODE_TUNNEL ? 0 : request_body(c);
	return 0;
}

/* ---------- the response ---------- */

static int text_type(const struct http1_response *rs)
{
	const struct http1_header *ct = http1_header_get(rs->headers, rs->n_headers, "content-type");
	if (!ct)
		return 1; /* unlabelled: look at it */
	return ct->value.len >= 5 && (!strncasecmp(ct->value.p, "text/", 5) || memmem(ct->value.p, ct->value.len, "json", 4) ||
				       memmem(ct->value.p, ct->value.len, "xml", 3) ||
				       memmem(ct->value.p, ct->value.len, "event-stream", 12));
}

/* Replace registered secrets in a block that leaves whole (a response head), counting them with the body's. */
static void scrub_block(struct conn *c, unsigned char *p, size_t n)
{
	struct scrub_stream t;
	scrub_stream_init(&t);
	scrub_feed(c->eg->scrub, &t, p, 0, n);
	if (t.hits && !c->scrub.hits)
		c->scrub.first = t.first;
	c->scrub.hits += t.hits;
}

/*
 * How the body reaches the agent. Every body goes through rbuf, where
 * registered secrets are replaced (lib/scrub: same length, so a
 * Content-Length stays true); a compressed one is decoded first, since a
 * secret inside it could not be replaced, and reaches the agent decoded;
 * a chunked or decoded one is framed again as chunked (close-delimited
 * for an HTTP/1.0 agent). 0, or -1 when the response was refused.
 */
static int response_plan(struct conn *c, const struct http1_response *rs, int *decode)
{
	const struct http1_header *ce = http1_header_get(rs->headers, rs->n_headers, "content-encoding");
	struct inflate_limits lim = { UINT64_MAX, &c->eg->dec_mem, EG_DECODER_MEM };
	struct bb_err e;
	char why[300];

	*decode = 0;
	if (rs->body == HTTP1_BODY_NONE)
		return 0;
	if (scrub_set_count(c->eg->scrub) && ce && !http1_eq_nocase(ce->value, "identity")) {
		if (http1_header_next(rs->headers, rs->n_headers, (size_t)(ce - rs->headers) + 1, "content-encoding") >= 0 ||
		    !inflate_format_known(ce->value.p, ce->value.len)) {
			snprintf(why, sizeof why,
				 "the upstream's response is encoded as '%.*s', which egress cannot decode to keep the bottle's "
				 "credentials out of it", (int)(ce->value.len > 60 ? 60 : ce->value.len), ce->value.p);
			up_close(c);
			deny(c, 502, "scrub", why);
			return -1;
		}
		if (inflate_begin_limits(&c->rdec, ce->value.p, ce->value.len, &lim, &e) < 0) {
			up_close(c);
			deny(c, 503, "memory", e.msg);
			return -1;
		}
		*decode = 1;
	}
	if (!c->rbuf && !(c->rbuf = malloc(EG_BUF))) {
		up_close(c);
		deny(c, 503, "memory", "out of memory");
		return -1;
	}
	c->rbuf_len = 0;
	/* Framed as the upstream framed it when the bytes keep their length; else chunked (HTTP/1.0: until close). */
	c->rout = rs->body == HTTP1_BODY_LENGTH && !*decode ? ROUT_RAW
		: rs->body == HTTP1_BODY_CLOSE && !*decode ? ROUT_RAW
		: c->req_minor ? ROUT_CHUNKED : ROUT_CLOSE;
	return 0;
}

static void ws_accept(struct conn *c, const struct http1_response *rs, size_t end);

static void response_head(struct conn *c, size_t end)
{
	struct http1_response *rs = &c->eg->scratch_resp;
	struct http1_error err;
	struct sv method = c->head_method ? SV_LIT("HEAD") : sv_of("", 0);
	size_t i, head_at;
	int decode;

	if (http1_response_parse((const char *)c->uin, end, NULL, method, rs, &err) < 0) {
		up_close(c);
		deny(c, 502, "bad-response", err.reason);
		return;
	}
	if (rs->status == 101 && c->ws_req) {
		ws_accept(c, rs, end);
		return;
	}
	if (rs->status >= 100 && rs->status < 200) { /* interim: we answered 100 ourselves; drop */
		consume(c->uin, &c->uin_len, end);
		if (rs->status == 101) {
			up_close(c);
			deny(c, 502, "bad-response", "the upstream switched protocols without being asked");
		}
		return;
	}
	c->status = rs->status;
	c->rbody_chunked = rs->body == HTTP1_BODY_CHUNKED;
	c->rbody_close = rs->body == HTTP1_BODY_CLOSE;
	c->rbody_left = rs->body == HTTP1_BODY_LENGTH ? rs->content_length : 0;
	c->rbody_in_done = 0;
	if (c->rbody_chunked)
		http1_chunked_init(&c->rchunk, 0, 0);
	scrub_stream_init(&c->scrub);
	inflate_end(c->rdec);
	c->rdec = NULL;
	c->rout = ROUT_RAW;
	if (response_plan(c, rs, &decode) < 0)
		return;
	c->resp_keep_alive = rs->keep_alive && !c->rbody_close && c->rout != ROUT_CLOSE;
	head_at = c->cout_len;
	putf(c->cout, &c->cout_len, sizeof c->cout, "HTTP/1.1 %d %.*s\r\n", rs->status, (int)rs->reason.len, rs->reason.p);
	for (i = 0; i < rs->n_headers; i++) {
		const struct http1_header *h = &rs->headers[i];
		if (hop_by_hop(h->name, NULL))
			continue;
		/* A body egress frames (or decodes) itself goes out with its own framing headers. */
		if (rs->body != HTTP1_BODY_NONE && (http1_eq_nocase(h->name, "transfer-encoding") ||
						    (decode && (http1_eq_nocase(h->name, "content-encoding") ||
								http1_eq_nocase(h->name, "content-length")))))
			continue;
		put(c->cout, &c->cout_len, sizeof c->cout, h->name.p, h->name.len);
		put(c->cout, &c->cout_len, sizeof c->cout, ": ", 2);
		put(c->cout, &c->cout_len, sizeof c->cout, h->value.p, h->value.len);
		put(c->cout, &c->cout_len, sizeof c->cout, "\r\n", 2);
	}
	if (rs->body != HTTP1_BODY_NONE && c->rout == ROUT_CHUNKED)
		putf(c->cout, &c->cout_len, sizeof c->cout, "Transfer-Encoding: chunked\r\n");
	if (!c->req_keep_alive || !c->resp_keep_alive)
		putf(c->cout, &c->cout_len, sizeof c->cout, "Connection: close\r\n");
	if (putf(c->cout, &c->cout_len, sizeof c->cout, "\r\n") < 0) {
		up_close(c);
		deny(c, 502, "bad-response", "response head too large");
		return;
	}
	/* The head leaves whole, so it is scrubbed whole: reflected headers, a Location, the reason phrase. */
	scrub_block(c, c->cout + head_at, c->cout_len - head_at);
	consume(c->uin, &c->uin_len, end);
	c->injection_hits = 0;
	if ((c->dlp_in & SCAN_INJECTION) && rs->body != HTTP1_BODY_NONE && text_type(rs) &&
	    ensure_stream(c, &c->scan_in, &c->scan_in_mask, SCAN_INJECTION) == 0) {
		c->scan_inbound = 1;
	} else {
		c->scan_inbound = 0;
	}
	c->rs = rs->body == HTTP1_BODY_NONE ? RS_DONE : RS_BODY;
}

static int on_injection(const struct scan_finding *f, void *arg)
{
	struct conn *c = arg;
	char score[16];
	if (c->route && route_dlp_allowed(c->route, 1, f->id)) { /* allowlisted for this route by the operator */
		log_event(LOG_INFO, "dlp-allowed", "conn", c->idstr, "host", c->host, "rule", f->id, "direction", "inbound",
			  (char *)NULL);
		return 0;
	}
	c->injection_hits++;
	snprintf(score, sizeof score, "%d", f->score);
	log_event(LOG_WARN, "injection", "conn", c->idstr, "host", c->host, "path", c->path, "pattern", f->id, "score",
		  score, "excerpt", f->excerpt, "action", c->eg->inbound_block ? "block" : "annotate", (char *)NULL);
	return c->eg->inbound_block;
}

/* The response cannot be passed on whole: what the agent has is scrubbed; the rest never comes. */
static void response_cut(struct conn *c, const char *verdict, const char *rule, const char *why)
{
	eg_audit(c, verdict, rule, why);
	up_close(c);
	c->closing = 1;
	c->rs = RS_DONE;
	c->rout = ROUT_RAW; /* no final chunk: the agent sees the body end early */
}

/*
 * Body bytes from uin into rbuf after its rbuf_len bytes, at most want:
 * the upstream's framing undone, its coding decoded. Returns the bytes
 * added, or -1 when the response was cut; *moved says whether anything
 * was consumed or produced; c->rbody_in_done when the upstream's body is
 * complete.
 */
static long body_pull(struct conn *c, size_t want, int *moved)
{
	size_t produced = 0;
	struct bb_err e;

	while (produced < want) {
		const unsigned char *p = NULL;
		size_t len = 0, consumed = 0, take, got = 0;

		if (!c->rbody_in_done && c->uin_len) {
			if (c->rbody_chunked) {
				struct sv data = { 0 };
				struct http1_error err;
				if (http1_chunked_feed(&c->rchunk, (const char *)c->uin, c->uin_len, &consumed, &data, &err) < 0) {
					response_cut(c, "error", "bad-response", err.reason);
					return -1;
				}
				p = (const unsigned char *)data.p;
				len = data.len;
				if (c->rchunk.done)
					c->rbody_in_done = 1;
			} else {
				p = c->uin;
				len = c->rbody_close || c->uin_len < c->rbody_left ? c->uin_len : (size_t)c->rbody_left;
				consumed = len;
			}
		}
		if (c->rdec) {
			int rc = inflate_step(c->rdec, p, len, &take, c->rbuf + c->rbuf_len + produced, want - produced, &got, &e);
			if (rc < 0) {
				char why[600];
				snprintf(why, sizeof why, "response cut: %s", e.msg);
				response_cut(c, "cut", "scrub", why);
				return -1;
			}
		} else {
			take = len < want - produced ? len : want - produced;
			if (take)
				memcpy(c->rbuf + c->rbuf_len + produced, p, take);
			got = take;
		}
		/* What the decoder or rbuf could not take stays in uin for the next round. */
		if (take < len) {
			if (c->rbody_chunked)
				http1_chunked_unread(&c->rchunk, len - take);
			consumed -= len - take;
		}
		if (!c->rbody_chunked && !c->rbody_close) {
			c->rbody_left -= take;
			if (!c->rbody_left)
				c->rbody_in_done = 1;
		}
		consume(c->uin, &c->uin_len, consumed);
		c->bytes.down += consumed;
		produced += got;
		if (consumed || got)
			*moved = 1;
		else
			break;
	}
	if (c->rbody_close && c->up.eof && !c->uin_len)
		c->rbody_in_done = 1;
	return (long)produced;
}

/* Send rbuf[0..n) to the agent in the response's framing. */
static void body_emit(struct conn *c, size_t n)
{
	char line[HTTP1_CHUNK_LINE_MAX];
	if (!n)
		return;
	if (c->rout == ROUT_CHUNKED) {
		size_t ll = http1_chunk_size_line(n, line, sizeof line);
		put(c->cout, &c->cout_len, sizeof c->cout, line, ll);
	}
	put(c->cout, &c->cout_len, sizeof c->cout, c->rbuf, n);
	if (c->rout == ROUT_CHUNKED)
		put(c->cout, &c->cout_len, sizeof c->cout, "\r\n", 2);
	consume(c->rbuf, &c->rbuf_len, n);
}

static int response_body(struct conn *c)
{
	int moved = 0;

	while (c->rs == RS_BODY) {
		size_t over = c->rout == ROUT_CHUNKED ? HTTP1_CHUNK_LINE_MAX + 2 + 5 : 0; /* a chunk's framing, and the last chunk */
		size_t room_out = room(c->cout_len, sizeof c->cout), want, before = c->rbuf_len, rel;
		int pulled = 0;
		long got;

		if (room_out <= over + c->rbuf_len)
			break; /* nothing more fits until the agent reads */
		want = EG_BUF - c->rbuf_len;
		if (want > room_out - over - c->rbuf_len)
			want = room_out - over - c->rbuf_len;
		got = body_pull(c, want, &pulled);
		if (got < 0)
			return 1;
		if (got) {
			if (c->scan_inbound && scan_feed(c->scan_in, c->rbuf + before, (size_t)got, on_injection, c))
				goto blocked;
			rel = scrub_feed(c->eg->scrub, &c->scrub, c->rbuf, before, before + (size_t)got);
			c->rbuf_len = before + (size_t)got;
			body_emit(c, rel);
		}
		if (c->rbody_in_done && !got) {
			/* The upstream's body is complete and the decoder has nothing more to give. */
			if (c->rdec && !inflate_complete(c->rdec)) {
				char why[120];
				snprintf(why, sizeof why, "response cut: the %s body ends before its compressed stream does",
					 inflate_format(c->rdec));
				response_cut(c, "cut", "scrub", why);
				return 1;
			}
			if (c->scan_inbound && scan_end(c->scan_in, on_injection, c))
				goto blocked;
			scrub_end(&c->scrub);
			body_emit(c, c->rbuf_len);
			if (c->rout == ROUT_CHUNKED)
				put(c->cout, &c->cout_len, sizeof c->cout, "0\r\n\r\n", 5);
			c->rs = RS_DONE;
			return 1;
		}
		if (!pulled)
			break;
		moved = 1;
	}
	return moved;
blocked:
	/* The head is out already: cutting the connection is the only way to keep the rest from the agent. */
	eg_audit(c, "deny", "injection", "prompt-injection pattern in the response; connection cut");
	c->cout_len = 0;
	up_close(c);
	c->closing = 1;
	c->cl.failed = 1;
	return 1;
}

static int response_step(struct conn *c)
{
	size_t end;
	if (c->mode == MODE_TUNNEL)
		return 0;
	if (c->rs == RS_HEAD && c->uin_len && c->rq >= RQ_BODY && c->rq != RQ_CLOSE) {
		end = http1_head_end((const char *)c->uin, c->uin_len, 0);
		if (!end) {
			if (c->uin_len >= sizeof c->uin) {
				up_close(c);
				deny(c, 502, "bad-response", "response head larger than 8 KiB");
				return 1;
			}
			return 0;
		}
		response_head(c, end);
		return 1;
	}
	if (c->rs == RS_BODY)
		return response_body(c);
	if (c->rs == RS_WS)
		return ws_step(c);
	return 0;
}

/* ---------- WebSocket (RFC 6455) after an upgrade ---------- */

/* Give one direction's message buffer back to the daemon's WebSocket budget. */
static void ws_buf_free(struct egress *eg, struct ws_dir *d)
{
	eg->ws_mem -= d->msg_cap;
	free(d->msg);
	d->msg = NULL;
	d->msg_cap = 0;
}

static void ws_release(struct conn *c)
{
	if (!c->ws)
		return;
	ws_buf_free(c->eg, &c->ws->up);
	ws_buf_free(c->eg, &c->ws->down);
	free(c->ws);
	c->ws = NULL;
}

/* "N messages in N frames, N bytes" each way, for the audit line. */
static void ws_counts(const struct conn *c, char *out, size_t cap)
{
	const struct eg_ws *w = c->ws;
	snprintf(out, cap,
		 "agent to upstream %llu message%s in %llu frame%s (%llu bytes); upstream to agent %llu message%s in %llu "
		 "frame%s (%llu bytes)",
		 (unsigned long long)w->up.messages, w->up.messages == 1 ? "" : "s", (unsigned long long)w->up.frames,
		 w->up.frames == 1 ? "" : "s", (unsigned long long)w->up.bytes, (unsigned long long)w->down.messages,
		 w->down.messages == 1 ? "" : "s", (unsigned long long)w->down.frames, w->down.frames == 1 ? "" : "s",
		 (unsigned long long)w->down.bytes);
}

/* One audit line for the end of the connection (refused, cut or closed), with the counts. */
static void ws_audit_end(struct conn *c, const char *verdict, const char *rule, const char *why)
{
	char counts[400], line[1400];
	if (c->ws->ended)
		return;
	c->ws->ended = 1;
	ws_counts(c, counts, sizeof counts);
	if (c->scrub.hits && !strcmp(verdict, "allow"))
		snprintf(line, sizeof line, "%s; %s; %llu occurrence%s of %s (or an encoding of it) scrubbed", why, counts,
			 (unsigned long long)c->scrub.hits, c->scrub.hits == 1 ? "" : "s",
			 scrub_set_label(c->eg->scrub, c->scrub.first));
	else
		snprintf(line, sizeof line, "%s; %s", why, counts);
	c->bytes.up = c->ws->up.bytes;
	c->bytes.down = c->ws->down.bytes;
	eg_audit(c, verdict, c->scrub.hits && !strcmp(verdict, "allow") ? "scrub" : rule, line);
}

static void ws_close_to(struct ws_dir *d, unsigned code, const char *reason)
{
	if (d->closed || d->close_pending)
		return;
	d->close_len = ws_close_payload(d->close, code, reason);
	d->close_pending = 1;
}

/*
 * End the connection on egress's terms: the agent gets a close frame with
 * code and reason, the upstream a plain "going away"; messages not yet
 * inspected never leave (one already going out is finished first, so the
 * close frame follows whole frames). Nothing more is read either way.
 */
static void ws_fail(struct conn *c, unsigned code, const char *reason, const char *verdict, const char *rule,
		    const char *why)
{
	struct eg_ws *w = c->ws;
	ws_audit_end(c, verdict, rule, why);
	w->failed = 1;
	ws_close_to(&w->down, code, reason);
	ws_close_to(&w->up, 1001, "going away");
}

/*
 * Room for need bytes of message, within the daemon-wide budget (--ws-memory):
 * 0, -1 out of memory, -2 the budget is spent (by every connection together).
 */
static int ws_grow(struct egress *eg, struct ws_dir *d, size_t need)
{
	unsigned char *p;
	size_t cap = d->msg_cap ? d->msg_cap : 4096;
	if (need <= d->msg_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap - d->msg_cap > eg->ws_mem_max - eg->ws_mem) {
		if (need - d->msg_cap > eg->ws_mem_max - eg->ws_mem)
			return -2;
		cap = d->msg_cap + (eg->ws_mem_max - eg->ws_mem); /* the last of the budget, not a doubling past it */
	}
	if (!(p = realloc(d->msg, cap)))
		return -1;
	eg->ws_mem += cap - d->msg_cap;
	d->msg = p;
	d->msg_cap = cap;
	return 0;
}

/* Write a frame egress composes whole (a control frame) into out, masked toward the upstream. -1: no room yet. */
static int ws_put_frame(struct conn *c, int to_up, unsigned op, const unsigned char *p, size_t n)
{
	unsigned char hdr[WS_HDR_MAX], key[4], tmp[WS_CONTROL_MAX];
	unsigned char *out = to_up ? c->uout : c->cout;
	size_t *len = to_up ? &c->uout_len : &c->cout_len, hl;
	if (to_up && getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
		memset(key, 0x5a, sizeof key);
	hl = ws_hdr_write(hdr, 1, op, n, to_up ? key : NULL);
	if (room(*len, EG_BUF) < hl + n)
		return -1;
	memcpy(tmp, p, n);
	if (to_up)
		ws_mask(tmp, n, key, 0);
	put(out, len, EG_BUF, hdr, hl);
	put(out, len, EG_BUF, tmp, n);
	return 0;
}

/* The message in d->msg is inspected and goes out as one frame. */
static void ws_emit_start(struct ws_dir *d, int to_up, unsigned op)
{
	if (to_up && getrandom(d->key, sizeof d->key, 0) != (ssize_t)sizeof d->key)
		memset(d->key, 0x5a, sizeof d->key);
	d->emit_hdr_len = ws_hdr_write(d->emit_hdr, 1, op, d->msg_len, to_up ? d->key : NULL);
	d->emit_off = 0;
	d->emitting = 1;
	d->messages++;
}

static int ws_emit(struct conn *c, struct ws_dir *d, int to_up)
{
	unsigned char *out = to_up ? c->uout : c->cout;
	size_t *len = to_up ? &c->uout_len : &c->cout_len, n;
	int moved = 0;
	if (d->emit_hdr_len) {
		if (room(*len, EG_BUF) < d->emit_hdr_len)
			return 0;
		put(out, len, EG_BUF, d->emit_hdr, d->emit_hdr_len);
		d->emit_hdr_len = 0;
		moved = 1;
	}
	n = d->msg_len - d->emit_off;
	if (n > room(*len, EG_BUF))
		n = room(*len, EG_BUF);
	if (n) {
		memcpy(out + *len, d->msg + d->emit_off, n);
		if (to_up)
			ws_mask(out + *len, n, d->key, d->emit_off);
		*len += n;
		d->emit_off += n;
		d->bytes += n;
		moved = 1;
	}
	if (d->emit_off == d->msg_len) {
		d->emitting = 0;
		d->msg_len = 0;
		if (d->msg_cap > EG_WS_KEEP) /* a big message's buffer goes back to the budget, not kept for small ones */
			ws_buf_free(c->eg, d);
	}
	return moved;
}

/*
 * Inspect a payload that is whole: toward the upstream, DLP (a finding
 * ends the connection: 1008 to the agent, and the payload never leaves);
 * toward the agent, the bottle's credentials replaced. 0, or -1 when the
 * connection was refused.
 */
static int ws_inspect(struct conn *c, int to_up, unsigned char *p, size_t n, const char *what)
{
	struct hit h = { .c = c };
	char why[800], reason[WS_CONTROL_MAX];
	if (!to_up) {
		scrub_block(c, p, n);
		return 0;
	}
	if (!c->dlp_out)
		return 0;
	if (dlp_text(c, p, n, &h) < 0) {
		ws_fail(c, 1011, "bb egress: out of memory", "error", "memory", "out of memory");
		return -1;
	}
	if (!h.n)
		return 0;
	snprintf(why, sizeof why, "the WebSocket %s carries a secret (%s): %s; connection closed (1008)", what, h.rule,
		 h.excerpt);
	snprintf(reason, sizeof reason, "bb egress: a secret (%s) in a message; rule dlp", h.rule);
	ws_fail(c, 1008, reason, "deny", "dlp", why);
	return -1;
}

/* Frames from one side, inspected, to the other. 1 if anything moved. */
static int ws_dir_step(struct conn *c, int to_up)
{
	struct eg_ws *w = c->ws;
	struct ws_dir *d = to_up ? &w->up : &w->down;
	unsigned char *in = to_up ? c->cin : c->uin;
	size_t *in_len = to_up ? &c->cin_len : &c->uin_len;
	int moved = 0;

	for (;;) {
		struct ws_hdr h;
		const char *why = NULL;
		char text[256];
		size_t take;
		int r;

		if (d->emitting) {
			moved |= ws_emit(c, d, to_up);
			if (d->emitting)
				break;
		}
		if (d->close_pending) {
			if (ws_put_frame(c, to_up, WS_CLOSE, d->close, d->close_len) < 0)
				break;
			d->close_pending = 0;
			d->closed = 1;
			moved = 1;
		}
		if (d->closed || w->failed)
			break;
		if (!d->in_frame) {
			r = ws_hdr_parse(in, *in_len, &h, &why);
			if (r == 0)
				break;
			if (r > 0 && h.masked != (unsigned)to_up)
				why = to_up ? "the agent sent an unmasked frame" : "the upstream sent a masked frame";
			else if (r > 0 && h.rsv)
				why = "a frame has RSV bits set, and no extension was negotiated";
			else if (r > 0 && h.opcode == WS_CONT && !d->msg_op)
				why = "a continuation frame with no message to continue";
			else if (r > 0 && (h.opcode == WS_TEXT || h.opcode == WS_BINARY) && d->msg_op)
				why = "a new message before the last one ended";
			else if (r > 0 && h.opcode < WS_CLOSE && h.len > EG_WS_MSG_MAX - d->msg_len)
				why = "message too big";
			if (why) {
				int big = !strcmp(why, "message too big");
				snprintf(text, sizeof text, "WebSocket protocol error from the %s: %s%s", to_up ? "agent" : "upstream",
					 why, big ? " (egress holds messages of at most 16 MiB whole to inspect them)" : "");
				ws_fail(c, big ? 1009 : to_up ? 1002 : 1011,
					big ? "bb egress: message too big" : to_up ? "bb egress: protocol error" : "bb egress: the upstream broke the protocol",
					"deny", "websocket", text);
				return 1;
			}
			if (h.opcode >= WS_CLOSE) {
				unsigned char p[WS_CONTROL_MAX];
				if (*in_len < h.size + h.len)
					break;
				/* Room for it on the other side first: a control frame is passed on as it is read. */
				if (room(to_up ? c->uout_len : c->cout_len, EG_BUF) < WS_HDR_MAX + h.len)
					break;
				memcpy(p, in + h.size, (size_t)h.len);
				ws_mask(p, (size_t)h.len, h.key, 0);
				consume(in, in_len, h.size + (size_t)h.len);
				d->frames++;
				moved = 1;
				if (ws_inspect(c, to_up, p, (size_t)h.len, h.opcode == WS_CLOSE ? "close frame" : "ping or pong") < 0)
					return 1;
				ws_put_frame(c, to_up, h.opcode, p, (size_t)h.len);
				d->bytes += h.len;
				if (h.opcode == WS_CLOSE)
					d->closed = 1;
				continue;
			}
			consume(in, in_len, h.size);
			d->fh = h;
			d->in_frame = 1;
			d->left = h.len;
			d->off = 0;
			if (h.opcode != WS_CONT)
				d->msg_op = h.opcode;
			moved = 1;
		}
		take = *in_len < d->left ? *in_len : (size_t)d->left;
		if (take) {
			if ((r = ws_grow(c->eg, d, d->msg_len + take)) < 0) {
				if (r == -1) {
					ws_fail(c, 1011, "bb egress: out of memory", "error", "memory", "out of memory");
					return 1;
				}
				snprintf(text, sizeof text,
					 "WebSocket memory full: the connections hold %zu KiB of messages to inspect (--ws-memory %zu MiB); "
					 "the %s's message finds no room", c->eg->ws_mem >> 10, c->eg->ws_mem_max >> 20,
					 to_up ? "agent" : "upstream");
				ws_fail(c, 1013, "bb egress: busy, try again later", "deny", "memory", text);
				return 1;
			}
			memcpy(d->msg + d->msg_len, in, take);
			ws_mask(d->msg + d->msg_len, take, d->fh.key, d->off);
			consume(in, in_len, take);
			d->msg_len += take;
			d->left -= take;
			d->off += take;
			moved = 1;
		}
		if (d->left)
			break;
		d->in_frame = 0;
		d->frames++;
		if (!d->fh.fin)
			continue;
		if (ws_inspect(c, to_up, d->msg, d->msg_len, "message") < 0)
			return 1;
		ws_emit_start(d, to_up, d->msg_op);
		d->msg_op = 0;
	}
	return moved;
}

static int ws_step(struct conn *c)
{
	struct eg_ws *w = c->ws;
	int moved = ws_dir_step(c, 1) | ws_dir_step(c, 0);
	int up_dead = c->up.fd < 0 || c->up.failed || (c->up.eof && !c->uin_len);

	/* A side that went away without a close frame: the other side is told, with one. */
	if (!w->failed && !w->down.closed && up_dead && !w->down.emitting) {
		ws_fail(c, 1001, "bb egress: the upstream closed the connection", "allow", "websocket",
			"closed: the upstream ended the connection");
		moved = 1;
	}
	if (!w->failed && !w->up.closed && (c->cl.failed || (c->cl.eof && !c->cin_len)) && !w->up.emitting) {
		ws_fail(c, 1001, "going away", "allow", "websocket", "closed: the agent ended the connection");
		w->down.closed = 1; /* nothing more can reach it */
		w->down.close_pending = 0;
		moved = 1;
	}
	if (up_dead && !w->up.closed) {
		w->up.closed = 1; /* nothing more can reach it */
		w->up.close_pending = w->up.emitting = 0;
	}
	/* Both ways closed (a close frame sent, or the side gone): the line, the upstream, then the agent's FIN. */
	if (w->up.closed && w->down.closed && (!c->uout_len || up_dead)) {
		ws_audit_end(c, "allow", "websocket", "closed");
		up_close(c);
		c->closing = 1;
		c->rq = RQ_CLOSE;
		c->rs = RS_DONE;
		moved = 1;
	}
	return moved;
}

/* The upstream answered 101 to a WebSocket upgrade: checked, passed on, and the connection relays frames from now on. */
static void ws_accept(struct conn *c, const struct http1_response *rs, size_t end)
{
	const struct http1_header *up = http1_header_get(rs->headers, rs->n_headers, "upgrade"), *acc;
	char want[29];
	size_t i, head_at;

	if (!up || !http1_token_list_has(up->value, "websocket")) {
		up_close(c);
		deny(c, 502, "bad-response", "the upstream switched to another protocol than WebSocket");
		return;
	}
	acc = http1_header_get(rs->headers, rs->n_headers, "sec-websocket-accept");
	ws_accept_for(c->ws_key_up, strlen(c->ws_key_up), want);
	if (!acc || !sv_eq_str(acc->value, want)) {
		up_close(c);
		deny(c, 502, "bad-response", "the upstream's Sec-WebSocket-Accept does not answer the key egress sent");
		return;
	}
	if (http1_header_get(rs->headers, rs->n_headers, "sec-websocket-extensions")) {
		up_close(c);
		deny(c, 502, "bad-response", "the upstream chose a WebSocket extension egress did not offer");
		return;
	}
	if (!(c->ws = calloc(1, sizeof *c->ws))) {
		up_close(c);
		deny(c, 503, "memory", "out of memory");
		return;
	}
	scrub_stream_init(&c->scrub);
	head_at = c->cout_len;
	putf(c->cout, &c->cout_len, sizeof c->cout, "HTTP/1.1 101 %.*s\r\n", (int)rs->reason.len, rs->reason.p);
	for (i = 0; i < rs->n_headers; i++) {
		const struct http1_header *h = &rs->headers[i];
		if (hop_by_hop(h->name, NULL) || http1_eq_nocase(h->name, "sec-websocket-accept"))
			continue;
		put(c->cout, &c->cout_len, sizeof c->cout, h->name.p, h->name.len);
		put(c->cout, &c->cout_len, sizeof c->cout, ": ", 2);
		put(c->cout, &c->cout_len, sizeof c->cout, h->value.p, h->value.len);
		put(c->cout, &c->cout_len, sizeof c->cout, "\r\n", 2);
	}
	ws_accept_for(c->ws_key_agent, strlen(c->ws_key_agent), want);
	if (putf(c->cout, &c->cout_len, sizeof c->cout, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		 want) < 0) {
		ws_release(c);
		up_close(c);
		deny(c, 502, "bad-response", "response head too large");
		return;
	}
	scrub_block(c, c->cout + head_at, c->cout_len - head_at);
	consume(c->uin, &c->uin_len, end);
	c->status = 101;
	c->rq = RQ_WS;
	c->rs = RS_WS;
	eg_audit(c, "allow", "websocket", c->dlp_out ? "upgraded: messages to the upstream are scanned, messages back scrubbed"
						    : "upgraded: messages back are scrubbed");
	c->audited = 0; /* the connection's end has a line of its own */
	c->req_started_ms = loop_now(&c->eg->loop);
}

/* ---------- CONNECT ---------- */

static void start_tunnel(struct conn *c)
{
	c->mode = MODE_TUNNEL;
	c->up_tls = 0;
	snprintf(c->connect_host, sizeof c->connect_host, "%s", c->host);
	c->connect_port = c->port;
	up_open(c);
}

static void start_mitm(struct conn *c)
{
	struct eg_tls_server *t;
	struct bb_err e;
	size_t len;
	unsigned char *buf;

	if (!c->eg->have_ca) {
		deny(c, 403, "no-ca", "TLS interception is not configured (no CA); HTTPS cannot be inspected");
		return;
	}
	if (ca_leaf_acquire(&c->eg->ca, c->host, time(NULL), &c->leaf, &e) < 0) {
		deny(c, 403, "bad-host", e.msg);
		return;
	}
	t = c->tsrv = malloc(sizeof *t);
	if (!t) {
		deny(c, 503, "memory", "out of memory");
		return;
	}
	/* The 200 goes out in clear before the engine owns the socket. */
	{
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		if (send(c->cl.fd, ok, sizeof ok - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof ok - 1)) {
			c->closing = 1;
			c->cl.failed = 1;
			return;
		}
	}
	br_ssl_server_init_full_ec(&t->sc, c->leaf->chain, c->leaf->chain_len, BR_KEYTYPE_EC, &c->eg->ca.leaf_sk);
	br_ssl_engine_set_versions(&t->sc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_buffers_bidi(&t->sc.eng, t->in, sizeof t->in, t->out, sizeof t->out);
	br_ssl_engine_set_protocol_names(&t->sc.eng, alpn_http11, 1);
	/* The leaf is released after the handshake, so there is no second one; the agent has no need of it either. */
	br_ssl_engine_add_flags(&t->sc.eng, BR_OPT_NO_RENEGOTIATION);
	t->conn = c;
	/* The session cache keys on the CONNECT target: set before the engine reads a ClientHello below. */
	snprintf(c->connect_host, sizeof c->connect_host, "%s", c->host);
	c->connect_port = c->port;
	eg_sess_agent_attach(c->eg, t);
	br_ssl_server_reset(&t->sc);
	c->cl.eng = &t->sc.eng;
	/* Bytes the agent sent after CONNECT (its ClientHello) belong to the engine. */
	while (c->cin_len) {
		buf = br_ssl_engine_recvrec_buf(c->cl.eng, &len);
		if (!buf || !len)
			break;
		if (len > c->cin_len)
			len = c->cin_len;
		memcpy(buf, c->cin, len);
		br_ssl_engine_recvrec_ack(c->cl.eng, len);
		consume(c->cin, &c->cin_len, len);
	}
	c->mode = MODE_MITM;
	c->sni_checked = 0;
	c->rq = RQ_HEAD;
	eg_audit(c, "allow", "connect", NULL);
	c->method[0] = c->path[0] = 0;
}

/* After the agent's handshake: its SNI must name the CONNECT host, and a resumed session the SNI it was made under. */
static int check_sni(struct conn *c)
{
	const char *sni;
	char why[400];
	if (c->mode != MODE_MITM || c->sni_checked || !side_ready(&c->cl))
		return 0;
	c->sni_checked = 1;
	ca_leaf_release(&c->eg->ca, c->leaf);
	c->leaf = NULL;
	sni = br_ssl_engine_get_server_name(c->cl.eng);
	if (sni && *sni && strcasecmp(sni, c->connect_host))
		snprintf(why, sizeof why, "TLS server name %.120s differs from the CONNECT host (domain fronting)", sni);
	else if (eg_sess_agent_check(c->tsrv, sni) < 0)
		snprintf(why, sizeof why, "TLS session resumed under a server name (%.120s) other than it was made under",
			 sni && *sni ? sni : "none");
	else
		return 0;
	eg_audit(c, "deny", "sni-mismatch", why);
	c->closing = 1;
	c->cl.failed = 1;
	return 1;
}

/* ---------- the pump ---------- */

static int read_into(struct side *s, unsigned char *buf, size_t *len, size_t cap, uint64_t *count)
{
	ssize_t n;
	int moved = 0;
	while (*len < cap) {
		n = side_read(s, buf + *len, cap - *len);
		if (n <= 0)
			break;
		*len += (size_t)n;
		if (count)
			*count += (uint64_t)n;
		moved = 1;
	}
	return moved;
}

static int write_from(struct side *s, unsigned char *buf, size_t *len)
{
	ssize_t n;
	int moved = 0;
	while (*len) {
		n = side_write(s, buf, *len);
		if (n <= 0)
			break;
		consume(buf, len, (size_t)n);
		moved = 1;
	}
	if (moved)
		side_flush(s);
	return moved;
}

/*
 * A request body still coming from the agent. It must keep up EG_BODY_MIN_RATE after a grace of the
 * head timeout (a body dribbled a byte at a time would otherwise hold its slot forever, never idle
 * long enough for the idle timeout); time egress spends not reading (the upstream is slow to take
 * the body) is not the agent's and does not count.
 */
static int body_pending(const struct conn *c)
{
	return c->mode != MODE_TUNNEL && !c->body_done && (c->rq == RQ_BODY || c->rq == RQ_CONNECTING);
}

static int want_client_bytes(const struct conn *c)
{
	if (c->closing || c->rq == RQ_CLOSE)
		return 0;
	return c->cin_len < sizeof c->cin;
}

/*
 * A TLS engine with nothing in flight (or none): the handshake done, no plaintext waiting either way,
 * no record part-read or being sent. In BearSSL's registers (ssl_engine.c): ixb == 0 waits for a
 * record header with none of it read; oxa == oxc != oxb gathers a record with nothing in it yet.
 * Its I/O buffers then hold only dead bytes.
 */
static int tls_idle(const br_ssl_engine_context *eng)
{
	unsigned st;
	if (!eng)
		return 1;
	st = br_ssl_engine_current_state(eng);
	return (st & (BR_SSL_SENDAPP | BR_SSL_SENDREC | BR_SSL_RECVAPP | BR_SSL_CLOSED)) == BR_SSL_SENDAPP &&
	       eng->ixb == 0 && eng->oxa == eng->oxc && eng->oxa != eng->oxb;
}

/* Between exchanges (a tunnel: between bytes) with every buffer empty. */
static int parkable(const struct conn *c)
{
	if (c->parked || c->closing || c->lingering || c->again || c->cin_len || c->cout_len || c->uin_len ||
	    c->uout_len)
		return 0;
	if (c->mode == MODE_TUNNEL ? c->rq != RQ_BODY : c->rq != RQ_HEAD || c->rs != RS_IDLE)
		return 0;
	return tls_idle(c->cl.eng) && tls_idle(c->up.eng);
}

/* Give back the pages wholly inside [p, p + n): the kernel maps zero pages again on the next touch. */
static void release_pages(void *p, size_t n)
{
	static uintptr_t page;
	uintptr_t a, b;
	if (!page)
		page = (uintptr_t)sysconf(_SC_PAGESIZE);
	a = ((uintptr_t)p + page - 1) & ~(page - 1);
	b = ((uintptr_t)p + n) & ~(page - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/*
 * An idle keepalive connection keeps its fields and TLS state but not the pages its buffers touched
 * (plaintext and TLS records: about 40 KiB intercepted, 16 plain): a daemon holding many idle agents
 * stays small. Only after EG_PARK_MS without traffic, so a busy connection never pays the page faults.
 */
static void conn_park(struct conn *c)
{
	release_pages(c->cin, offsetof(struct conn, uout) + sizeof c->uout - offsetof(struct conn, cin));
	if (c->tsrv)
		release_pages(c->tsrv->in, sizeof c->tsrv->in + sizeof c->tsrv->out);
	if (c->tcli)
		release_pages(c->tcli->in, sizeof c->tcli->in + sizeof c->tcli->out);
	c->parked = 1;
}

static void update_timer(struct conn *c);

static void conn_run(struct conn *c)
{
	int iter, moved;
	struct bb_err e;

	for (iter = 0; iter < 256; iter++) {
		moved = side_pump(&c->cl) | side_pump(&c->up);
		if (check_sni(c))
			break;
		up_tls_note(c);
		if (c->mode == MODE_TUNNEL && c->rq == RQ_BODY) {
			moved |= read_into(&c->cl, c->uout, &c->uout_len, sizeof c->uout, &c->bytes.up);
			moved |= read_into(&c->up, c->cout, &c->cout_len, sizeof c->cout, &c->bytes.down);
		} else if (want_client_bytes(c) && (c->mode != MODE_MITM || side_ready(&c->cl))) {
			size_t had = c->cin_len;
			moved |= read_into(&c->cl, c->cin, &c->cin_len, sizeof c->cin, NULL);
			if (body_pending(c))
				c->body_due_ms += (uint64_t)(c->cin_len - had) * 1000 / EG_BODY_MIN_RATE;
		}
		{
			/*
			 * A head just read: the body bytes that came with it are scanned
			 * before the head leaves. A pooled upstream is ready at once, and
			 * the head of a request DLP refuses must not reach it first.
			 */
			enum rq_state was = c->rq;
			moved |= request_step(c);
			if (was == RQ_HEAD && c->rq != RQ_HEAD && c->cin_len)
				moved |= request_step(c);
		}
		if (c->up.fd >= 0 && c->rq >= RQ_BODY && c->rq != RQ_CLOSE && side_ready(&c->up))
			moved |= write_from(&c->up, c->uout, &c->uout_len);
		else if (c->up.fd >= 0 && c->rq >= RQ_BODY)
			side_flush(&c->up);
		if (c->mode != MODE_TUNNEL && c->up.fd >= 0 && c->rs >= RS_HEAD && c->rs != RS_DONE)
			moved |= read_into(&c->up, c->uin, &c->uin_len, sizeof c->uin, NULL);
		moved |= response_step(c);
		moved |= write_from(&c->cl, c->cout, &c->cout_len);

		/* A response finished: back to the next request on this connection, or close. */
		if (c->rq == RQ_WAIT && c->rs == RS_DONE && !c->cout_len) {
			eg_audit_done(c);
			if (!c->req_keep_alive || !c->resp_keep_alive)
				c->closing = 1;
			if (!c->resp_keep_alive)
				up_close(c);
			c->up_idle = c->resp_keep_alive && c->up.fd >= 0;
			c->rq = c->closing ? RQ_CLOSE : RQ_HEAD;
			c->rs = RS_IDLE;
			if (c->closing) /* the agent is going: its upstream can serve the next one now */
				up_park(c);
			/* Between requests a connection holds no scanner state (64 KiB each): idle ones stay small. */
			streams_release(c);
			response_release(c);
			moved = 1;
		}
		/* The upstream died mid-response. */
		if (c->mode != MODE_TUNNEL && c->rs >= RS_HEAD && c->rs != RS_DONE && c->rs != RS_WS && c->up.fd >= 0 && c->up.eof &&
		    !c->uin_len && !(c->rs == RS_BODY && (c->rbody_close || c->rbody_in_done))) {
			if (c->rs == RS_HEAD && c->rq != RQ_CLOSE) {
				char why[800];
				if (c->up.tls_err)
					tls_err_from_engine(&e, c->up.tls_err, c->up.io_errno, c->host);
				snprintf(why, sizeof why, "the upstream closed the connection%s%s",
					 c->up.tls_err ? ": " : " before answering", c->up.tls_err ? e.msg : "");
				up_close(c);
				deny(c, 502, c->up.tls_err ? "upstream-tls" : "upstream-closed", why);
			} else {
				c->closing = 1;
				c->cl.failed = c->cout_len == 0;
				up_close(c);
			}
			moved = 1;
		}
		if (c->mode == MODE_TUNNEL && ((c->cl.eof && !c->uout_len) || (c->up.eof && !c->cout_len))) {
			if (c->cl.eof)
				side_close_write(&c->up);
			if (c->up.eof)
				side_close_write(&c->cl);
			if (c->cl.eof && c->up.eof) {
				c->closing = 1;
			}
		}
		if (!moved)
			break;
		c->last_io_ms = loop_now(&c->eg->loop);
		c->parked = 0;
	}
	/*
	 * Still moving after the last round (a long body: each round moves a
	 * buffer's worth): come back on the next loop turn. epoll cannot be
	 * relied on to call: bytes already inside a TLS engine (a record read
	 * but not yet taken out) make no socket readable.
	 */
	c->again = iter == 256;

	/*
	 * Closing after an answer: send FIN, then read and drop what the agent
	 * still sends for a moment. Closing with unread bytes would make the
	 * kernel answer with a reset that can destroy our answer in flight.
	 */
	if (c->closing && !c->cout_len && !c->cl.failed && !c->lingering) {
		side_close_write(&c->cl);
		if (!c->cl.eng || !(br_ssl_engine_current_state(c->cl.eng) & BR_SSL_SENDREC)) {
			shutdown(c->cl.fd, SHUT_WR);
			c->lingering = 1;
			c->linger_until_ms = loop_now(&c->eg->loop) + 2000;
		}
	}
	if (c->lingering) {
		char sink[4096];
		ssize_t n;
		while ((n = recv(c->cl.fd, sink, sizeof sink, 0)) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EINTR) || loop_now(&c->eg->loop) >= c->linger_until_ms) {
			conn_free(c);
			return;
		}
		loop_io_mod(&c->eg->loop, &c->cl.io, EPOLLIN, &e);
		loop_timer_set(&c->eg->loop, &c->timer, c->linger_until_ms - loop_now(&c->eg->loop), &e);
		return;
	}
	if (c->closing && !c->cout_len && !c->cl.failed)
		return; /* close_notify still on its way out */

	/* Done with this connection? (An agent whose TLS is closed can be sent nothing more: it gave up mid-answer.) */
	if (c->cl.failed || (c->cl.eng && (br_ssl_engine_current_state(c->cl.eng) & BR_SSL_CLOSED)) ||
	    (c->cl.eof && c->rq == RQ_HEAD && !c->cin_len) || (c->cl.eof && c->mode == MODE_TUNNEL && c->up.fd < 0)) {
		if (c->closing && !c->cl.failed && c->mode == MODE_MITM)
			side_close_write(&c->cl);
		conn_free(c);
		return;
	}
	{
		uint32_t cev = side_events(&c->cl, c->mode == MODE_TUNNEL ? c->uout_len < sizeof c->uout
									 : want_client_bytes(c) || !side_ready(&c->cl),
					   c->cout_len > 0);
		loop_io_mod(&c->eg->loop, &c->cl.io, cev, &e);
		if (c->up.fd >= 0 && c->rq != RQ_CONNECTING) {
			uint32_t uev = side_events(&c->up,
						   c->mode == MODE_TUNNEL ? c->cout_len < sizeof c->cout
									  : (c->rs >= RS_HEAD && c->rs != RS_DONE &&
									     c->uin_len < sizeof c->uin) ||
										    !side_ready(&c->up),
						   c->uout_len > 0);
			if (c->up.io.fn == io_cb)
				loop_io_mod(&c->eg->loop, &c->up.io, uev, &e);
		}
	}
	update_timer(c);
}

/* ---------- timers, accept, free ---------- */

static void timer_cb(struct loop *l, struct loop_timer *t)
{
	struct conn *c = t->arg;
	uint64_t now = loop_now(l);
	if (c->lingering) {
		conn_run(c);
		return;
	}
	if (now < c->last_io_ms + c->eg->idle_ms && now >= c->last_io_ms + EG_PARK_MS && parkable(c)) {
		conn_park(c);
		update_timer(c);
		return;
	}
	if (c->rq == RQ_HEAD && c->cin_len && now >= c->req_started_ms + c->eg->head_ms) {
		deny(c, 408, "timeout", "the request head did not arrive in time");
		c->cl.failed = 0;
	} else if (body_pending(c) && want_client_bytes(c) && now >= c->body_due_ms && c->rs <= RS_HEAD) {
		up_close(c);
		deny(c, 408, "timeout", "the request body did not arrive in time (slower than " EG_STR(EG_BODY_MIN_RATE) " bytes/s)");
		c->cl.failed = 0;
	} else if (c->rq == RQ_CONNECTING && now >= c->req_started_ms + c->eg->connect_ms) {
		up_close(c);
		deny(c, 504, "upstream-timeout", "the upstream did not answer the connection in time");
	} else if (now >= c->last_io_ms + c->eg->idle_ms) {
		if (c->rq == RQ_WS && !c->ws->failed) {
			c->last_io_ms = now; /* the close handshake gets an idle period of its own */
			ws_fail(c, 1001, "bb egress: the connection was idle too long", "allow", "websocket", "closed: idle");
			conn_run(c);
			return;
		}
		if (c->rq == RQ_HEAD && !c->cin_len) {
			conn_free(c);
			return;
		}
		up_close(c);
		if (c->rs <= RS_HEAD && c->rq != RQ_CLOSE)
			deny(c, 504, "timeout", "the connection was idle too long");
		else
			c->cl.failed = 1;
	}
	conn_run(c);
}

static void update_timer(struct conn *c)
{
	uint64_t now = loop_now(&c->eg->loop), due = c->last_io_ms + c->eg->idle_ms;
	struct bb_err e;
	if (c->rq == RQ_HEAD && c->cin_len && c->req_started_ms + c->eg->head_ms < due)
		due = c->req_started_ms + c->eg->head_ms;
	if (c->rq == RQ_CONNECTING && c->req_started_ms + c->eg->connect_ms < due)
		due = c->req_started_ms + c->eg->connect_ms;
	if (body_pending(c)) {
		if (!want_client_bytes(c) && c->body_due_ms < now + c->eg->head_ms)
			c->body_due_ms = now + c->eg->head_ms; /* egress is not reading: not the agent's time */
		if (c->body_due_ms < due)
			due = c->body_due_ms;
	}
	if (parkable(c) && c->last_io_ms + EG_PARK_MS < due)
		due = c->last_io_ms + EG_PARK_MS;
	if (c->again)
		due = now;
	loop_timer_set(&c->eg->loop, &c->timer, due > now ? due - now : 0, &e);
}

/* Refused connections wait here, FIN sent, until the agent closes too (or 2 s pass), so the 503 is not lost to a reset. */
static void linger_cb(struct loop *l, struct loop_timer *t)
{
	struct egress *eg = t->arg;
	uint64_t now = loop_now(l);
	size_t i = 0;
	struct bb_err e;
	while (i < eg->nlinger) {
		char sink[1024];
		ssize_t n;
		while ((n = recv(eg->linger_fd[i], sink, sizeof sink, MSG_DONTWAIT)) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EINTR) || now >= eg->linger_until[i]) {
			close(eg->linger_fd[i]);
			eg->linger_fd[i] = eg->linger_fd[--eg->nlinger];
			eg->linger_until[i] = eg->linger_until[eg->nlinger];
			continue;
		}
		i++;
	}
	if (eg->nlinger)
		loop_timer_set(l, t, 50, &e);
}

static void refuse_busy(struct egress *eg, int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: "
				   "45\r\nConnection: close\r\n\r\nbb egress: too many connections; retry later\n";
	struct bb_err e;
	log_event(LOG_WARN, "limit", "what", "max connections", (char *)NULL);
	(void)!send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	if (eg->nlinger == EG_LINGER_MAX) {
		close(fd);
		return;
	}
	eg->linger_fd[eg->nlinger] = fd;
	eg->linger_until[eg->nlinger++] = loop_now(&eg->loop) + 2000;
	if (!loop_timer_armed(&eg->linger_timer)) {
		loop_timer_init(&eg->linger_timer, linger_cb, eg);
		loop_timer_set(&eg->loop, &eg->linger_timer, 50, &e);
	}
}

/*
 * A connection's state is mapped, not calloc'd: it is mostly buffers (about 46 KiB), and the kernel's
 * zero pages cost memory only once a buffer is used, so a held idle connection stays small. calloc
 * would clear every byte of a reused heap slot, making all of it resident (tests/sh/load.sh).
 */
static struct conn *conn_map(void)
{
	void *p = mmap(NULL, sizeof(struct conn), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void conn_accept(struct egress *eg, int fd)
{
	struct conn *c;
	struct bb_err e;

	if (eg->nconns >= eg->max_conns || !(c = conn_map())) {
		refuse_busy(eg, fd);
		return;
	}
	nodelay(fd);
	c->eg = eg;
	c->id = ++eg->next_id;
	snprintf(c->idstr, sizeof c->idstr, "%llu", (unsigned long long)c->id);
	c->pol = eg->pol;
	c->pol_gen = eg->pol_gen;
	c->pol->refs++;
	side_init(&c->cl, fd);
	side_init(&c->up, -1);
	c->dial_fd = -1;
	c->last_io_ms = c->req_started_ms = loop_now(&eg->loop);
	loop_timer_init(&c->timer, timer_cb, c);
	if (loop_io_add(&eg->loop, &c->cl.io, fd, EPOLLIN, io_cb, c, &e) < 0) {
		log_event(LOG_ERROR, "accept", "error", e.msg, (char *)NULL);
		route_policy_unref(c->pol);
		close(fd);
		munmap(c, sizeof *c);
		return;
	}
	c->next = eg->conns;
	if (eg->conns)
		eg->conns->prev = c;
	eg->conns = c;
	eg->nconns++;
	update_timer(c);
}

static void conn_free(struct conn *c)
{
	struct egress *eg = c->eg;
	if (c->rq != RQ_HEAD && c->rq != RQ_CLOSE && c->mode != MODE_TUNNEL && !c->audited)
		eg_audit(c, "abort", "closed", "the connection ended before the exchange completed");
	up_park(c);
	up_close(c);
	loop_timer_cancel(&eg->loop, &c->timer);
	if (c->cl.fd >= 0) {
		loop_io_del(&eg->loop, &c->cl.io);
		close(c->cl.fd);
	}
	if (c->leaf)
		ca_leaf_release(&eg->ca, c->leaf);
	free(c->tsrv);
	streams_release(c);
	response_release(c);
	ws_release(c);
	route_policy_unref(c->pol);
	if (c->prev)
		c->prev->next = c->next;
	else
		eg->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	eg->nconns--;
	munmap(c, sizeof *c);
}

void conn_close_all(struct egress *eg)
{
	while (eg->conns)
		conn_free(eg->conns);
	eg_idle_up_close_all(eg);
	while (eg->nlinger)
		close(eg->linger_fd[--eg->nlinger]);
	for (size_t i = 0; i < EG_POOL; i++) {
		scan_stream_free(eg->pool[i]);
		eg->pool[i] = NULL;
	}
	loop_timer_cancel(&eg->loop, &eg->linger_timer);
}
