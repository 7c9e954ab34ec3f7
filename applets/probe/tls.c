/* tls.c - `bb probe tls`: one HTTPS GET through lib/tls, verifying the server against the configured roots. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "applet.h"
#include "err.h"
#include "fd.h"
#include "log.h"
#include "opt.h"
#include "probe.h"
#include "tls.h"

#ifndef BB_VERSION
#define BB_VERSION "0.0.0-dev"
#endif

static const char usage[] =
	"usage: bb probe tls URL [--ca FILE] [--resolve HOST:PORT:ADDR] [--timeout SECONDS]\n"
	"HTTPS GET of URL (https://HOST[:PORT][/PATH]) with certificate verification;\n"
	"prints the status line, then the body (at most 1 MiB).\n"
	"  -c, --ca FILE        trust only the certificates in this PEM file, instead of\n"
	"                       SSL_CERT_FILE / SSL_CERT_DIR or " TLS_DEFAULT_CA_FILE "\n"
	"  -r, --resolve HOST:PORT:ADDR\n"
	"                       connect to ADDR when the URL names HOST:PORT (like curl);\n"
	"                       the certificate is still checked against HOST\n"
	"  -t, --timeout SECONDS  limit for connecting and for each read or write (default 10)\n"
	"HOST must be a DNS name: certificates are matched by name, not by IP address.\n"
	"Exit: 0 an HTTP response arrived, 1 TLS or verification failure, 2 usage,\n"
	"111 system error (resolving, connecting, reading files).";

#define RESPONSE_MAX (1u << 20)
#define RESOLVE_MAX 8
#define HOST_MAX 256
#define PATH_MAX_URL 4096

struct url {
	char host[HOST_MAX]; /* without brackets for IPv6 literals */
	int host_v6;
	unsigned port;
	char path[PATH_MAX_URL]; /* starts with '/', may carry ?query; no #fragment */
};

struct resolve {
	char host[HOST_MAX];
	unsigned port;
	char addr[64];
};

/* Exit code for an error from lib: errno values are system trouble, BB_E* are refusals. */
static int exit_for(const struct bb_err *e)
{
	return e->code > 0 && e->code < BB_EINVAL ? BB_EXIT_SYSTEM : BB_EXIT_FAIL;
}

static int parse_port(struct sv s, unsigned *port, struct bb_err *e)
{
	uint64_t v;

	if (sv_to_u64(s, 65535, &v, e) < 0 || v == 0)
		return bb_errf(e, BB_EINVAL, "bad port '%.*s'", (int)(s.len > 16 ? 16 : s.len), s.p);
	*port = (unsigned)v;
	return 0;
}

/* Bytes that could split the request line or a header, or are not allowed in a URL. */
static int url_byte_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static int host_byte_ok(unsigned char c, int v6)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.')
		return 1;
	return v6 ? c == ':' || c == '%' : c == '_';
}

static int parse_url(const char *s, struct url *u, struct bb_err *e)
{
	static const char scheme[] = "https://";
	struct sv rest, auth, hostv, portv = { NULL, 0 };
	size_t i;

	if (strncasecmp(s, scheme, sizeof scheme - 1) != 0)
		return bb_errf(e, BB_EINVAL, "'%s' is not an https:// URL (only https is supported)", s);
	for (i = 0; s[i]; i++)
		if (!url_byte_ok((unsigned char)s[i]))
			return bb_errf(e, BB_EINVAL, "URL contains a space or control character");
	rest = sv_from(s + sizeof scheme - 1);
	for (i = 0; i < rest.len && rest.p[i] != '/' && rest.p[i] != '?' && rest.p[i] != '#'; i++)
		;
	auth = sv_of(rest.p, i);
	rest = sv_of(rest.p + i, rest.len - i);
	if (sv_index(auth, '@') >= 0)
		return bb_errf(e, BB_EINVAL, "user info in the URL is not supported");
	u->host_v6 = 0;
	if (auth.len && auth.p[0] == '[') {
		long close = sv_index(auth, ']');

		if (close < 0)
			return bb_errf(e, BB_EINVAL, "unterminated '[' in URL host");
		hostv = sv_of(auth.p + 1, (size_t)close - 1);
		auth = sv_of(auth.p + close + 1, auth.len - (size_t)close - 1);
		if (auth.len && auth.p[0] != ':')
			return bb_errf(e, BB_EINVAL, "junk after ']' in URL host");
		if (auth.len)
			portv = sv_of(auth.p + 1, auth.len - 1);
		u->host_v6 = 1;
	} else if (!sv_split(auth, ':', &hostv, &portv)) {
		portv = sv_of(NULL, 0);
	} else if (!portv.len) {
		return bb_errf(e, BB_EINVAL, "empty port in URL");
	}
	if (!hostv.len)
		return bb_errf(e, BB_EINVAL, "URL has no host");
	for (i = 0; i < hostv.len; i++)
		if (!host_byte_ok((unsigned char)hostv.p[i], u->host_v6))
			return bb_errf(e, BB_EINVAL, "bad character '%c' in URL host", hostv.p[i]);
	if (sv_copy(hostv, u->host, sizeof u->host) < 0)
		return bb_errf(e, BB_EINVAL, "URL host too long");
	u->port = 443;
	if (portv.len && parse_port(portv, &u->port, e) < 0)
		return bb_err_wrap(e, "URL");
	/* The fragment never goes to the server. */
	{
		struct sv frag;

		sv_split(rest, '#', &rest, &frag);
	}
	if (!rest.len || rest.p[0] != '/') {
		if (rest.len + 2 > sizeof u->path)
			return bb_errf(e, BB_EINVAL, "URL path too long");
		u->path[0] = '/';
		memcpy(u->path + 1, rest.p, rest.len);
		u->path[rest.len + 1] = 0;
	} else if (sv_copy(rest, u->path, sizeof u->path) < 0) {
		return bb_errf(e, BB_EINVAL, "URL path too long");
	}
	return 0;
}

/* HOST:PORT:ADDR, ADDR a numeric address, IPv6 possibly in brackets. */
static int parse_resolve(const char *s, struct resolve *r, struct bb_err *e)
{
	struct sv all = sv_from(s), host, rest, port, addr;
	struct addrinfo hints, *ai = NULL;

	if (!sv_split(all, ':', &host, &rest) || !sv_split(rest, ':', &port, &addr) || !host.len || !addr.len)
		return bb_errf(e, BB_EINVAL, "--resolve wants HOST:PORT:ADDR, got '%s'", s);
	if (sv_copy(host, r->host, sizeof r->host) < 0)
		return bb_errf(e, BB_EINVAL, "--resolve host too long");
	if (parse_port(port, &r->port, e) < 0)
		return bb_err_wrap(e, "--resolve '%s'", s);
	if (addr.len >= 2 && addr.p[0] == '[' && addr.p[addr.len - 1] == ']')
		addr = sv_of(addr.p + 1, addr.len - 2);
	if (sv_copy(addr, r->addr, sizeof r->addr) < 0)
		return bb_errf(e, BB_EINVAL, "--resolve address too long");
	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(r->addr, NULL, &hints, &ai) != 0)
		return bb_errf(e, BB_EINVAL, "--resolve: '%s' is not a numeric IP address", r->addr);
	freeaddrinfo(ai);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect to one address within timeout_s; the socket is left blocking with I/O timeouts. */
static int connect_addr(const struct addrinfo *ai, unsigned timeout_s, struct bb_err *e)
{
	long long deadline = now_ms() + (long long)timeout_s * 1000;
	struct timeval tv = { (time_t)timeout_s, 0 };
	int fd, err = 0, flags;
	socklen_t len = sizeof err;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return bb_errno(e, errno, "socket");
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			bb_errno(e, errno, "connect");
			return fd_close(fd);
		}
		for (;;) {
			struct pollfd p = { fd, POLLOUT, 0 };
			long long left = deadline - now_ms();
			int n;

			if (left <= 0) {
				bb_errno(e, ETIMEDOUT, "connect");
				return fd_close(fd);
			}
			n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				bb_errno(e, errno, "poll");
				return fd_close(fd);
			}
			if (n > 0)
				break;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			bb_errno(e, err, "connect");
			return fd_close(fd);
		}
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
		bb_errno(e, errno, "socket options");
		return fd_close(fd);
	}
	return fd;
}

static void addr_text(const struct addrinfo *ai, char *out, size_t n)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)n, NULL, 0, NI_NUMERICHOST) != 0)
		sv_copy(SV_LIT("?"), out, n);
}

/* Resolve (or take the --resolve address) and connect to the first address that answers. */
static int dial(const struct url *u, const struct resolve *rs, size_t nrs, unsigned timeout_s, char *used,
		size_t usedlen, struct bb_err *e)
{
	struct addrinfo hints, *list = NULL, *ai;
	const char *node = u->host;
	char port[8];
	size_t i;
	int rc, fd = -1;

	for (i = 0; i < nrs; i++)
		if (rs[i].port == u->port && sv_eq_nocase(sv_from(rs[i].host), sv_from(u->host)))
			node = rs[i].addr; /* the last match wins, as in curl */
	snprintf(port, sizeof port, "%u", u->port);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG | (node != u->host ? AI_NUMERICHOST : 0);
	rc = getaddrinfo(node, port, &hints, &list);
	if (rc == EAI_SYSTEM)
		return bb_errno(e, errno, "resolving %s", u->host);
	if (rc != 0)
		return bb_errf(e, BB_ELIB, "resolving %s: %s", u->host, gai_strerror(rc));
	bb_errf(e, BB_ELIB, "resolving %s: no address", u->host);
	for (ai = list; ai; ai = ai->ai_next) {
		addr_text(ai, used, usedlen);
		fd = connect_addr(ai, timeout_s, e);
		if (fd >= 0)
			break;
		bb_err_wrap(e, "%s port %u (%s)", u->host, u->port, used);
	}
	freeaddrinfo(list);
	return fd;
}

/* Send the GET and read the whole response (at most RESPONSE_MAX bytes) into resp. */
static int http_get(struct tls_client *c, const struct url *u, struct buf *resp, int *cut, struct bb_err *e)
{
	struct buf req = BUF_INIT(PATH_MAX_URL + 1024);
	char chunk[16384];
	char portpart[8] = "";
	int rc;

	if (u->port != 443)
		snprintf(portpart, sizeof portpart, ":%u", u->port);
	rc = buf_printf(&req, e,
			"GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUser-Agent: bb-probe/%s\r\nAccept: */*\r\n"
			"Connection: close\r\n\r\n",
			u->path, u->host_v6 ? "[" : "", u->host, u->host_v6 ? "]" : "", portpart, BB_VERSION);
	if (rc == 0)
		rc = tls_client_write_all(c, req.p, req.len, e);
	buf_free(&req);
	if (rc < 0)
		return bb_err_wrap(e, "sending the request");
	*cut = 0;
	for (;;) {
		size_t room = resp->max - resp->len;
		ssize_t n;

		if (room == 0) {
			*cut = 1; /* enough for a probe; stop here */
			return 0;
		}
		n = tls_client_read(c, chunk, room < sizeof chunk ? room : sizeof chunk, e);
		if (n < 0)
			return bb_err_wrap(e, "reading the response");
		if (n == 0)
			return 0;
		if (buf_append(resp, chunk, (size_t)n, e) < 0)
			return -1;
	}
}

/* Print the status line and the body; 0, or -1 when resp is not HTTP. */
static int print_response(const struct buf *resp, struct bb_err *e)
{
	struct sv all = sv_of(resp->p ? resp->p : "", resp->len), status, rest;
	const char *body;
	size_t i;

	if (!resp->len)
		return bb_errf(e, BB_EINVAL, "server closed the connection without a response");
	sv_split(all, '\n', &status, &rest);
	if (status.len && status.p[status.len - 1] == '\r')
		status.len--;
	if (!sv_starts_with(status, SV_LIT("HTTP/1.")) || status.len < 12 || status.p[8] != ' ')
		return bb_errf(e, BB_EINVAL, "not an HTTP response (starts with '%.*s')",
			       (int)(status.len > 40 ? 40 : status.len), status.p);
	for (i = 9; i < 12; i++)
		if (status.p[i] < '0' || status.p[i] > '9')
			return bb_errf(e, BB_EINVAL, "bad HTTP status line '%.*s'", (int)(status.len > 80 ? 80 : status.len),
				       status.p);
	out_printf("%.*s\n", (int)status.len, status.p);
	body = memmem(all.p, all.len, "\r\n\r\n", 4);
	if (body) {
		body += 4;
		if (out_write_raw(1, body, all.len - (size_t)(body - all.p)) < 0)
			return bb_errno(e, errno, "writing the body");
	}
	return 0;
}

int probe_tls(int argc, char **argv)
{
	static struct tls_client client; /* ~40 KiB: not on the stack */
	static const char spec[] = "c:(ca)r:(resolve)t:(timeout)h(help)";
	struct resolve rs[RESOLVE_MAX];
	struct tls_trust trust;
	struct buf resp = BUF_INIT(RESPONSE_MAX);
	struct bb_err e = { 0, "" };
	struct opt o;
	struct url u;
	const char *ca = NULL;
	char addr[64] = "";
	unsigned timeout_s = 10;
	size_t nrs = 0;
	int c, fd, rc = BB_EXIT_OK, cut = 0;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, spec, usage, &rc)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return rc;
		case 'c':
			ca = o.arg;
			break;
		case 'r':
			if (nrs == RESOLVE_MAX) {
				err_printf("tls: at most %d --resolve options", RESOLVE_MAX);
				return BB_EXIT_USAGE;
			}
			if (parse_resolve(o.arg, &rs[nrs], &e) < 0) {
				err_printf("tls: %s", e.msg);
				return BB_EXIT_USAGE;
			}
			nrs++;
			break;
		case 't': {
			uint64_t v;

			if (sv_to_u64(sv_from(o.arg), 3600, &v, &e) < 0 || v == 0) {
				err_printf("tls: --timeout wants 1 to 3600 seconds, got '%s'", o.arg);
				return BB_EXIT_USAGE;
			}
			timeout_s = (unsigned)v;
			break;
		}
		}
	}
	if (argc - o.ind != 1) {
		err_printf("tls: %s\n%s", argc - o.ind ? "one URL expected" : "missing URL", usage);
		return BB_EXIT_USAGE;
	}
	if (parse_url(argv[o.ind], &u, &e) < 0) {
		err_printf("tls: %s", e.msg);
		return BB_EXIT_USAGE;
	}

	/* Load the trust first: a bad --ca should not cost a connection. */
	tls_trust_init(&trust);
	if ((ca ? tls_trust_add_file(&trust, ca, &e) : tls_trust_load_default(&trust, &e)) < 0) {
		err_printf("tls: %s%s", ca ? "--ca: " : "", e.msg);
		tls_trust_free(&trust);
		return exit_for(&e);
	}
	if (trust.len == 0) {
		err_printf("tls: %s: no usable certificate (%zu skipped: key types BearSSL cannot use)",
			   ca ? ca : "default trust", trust.skipped);
		tls_trust_free(&trust);
		return BB_EXIT_FAIL;
	}

	fd = dial(&u, rs, nrs, timeout_s, addr, sizeof addr, &e);
	if (fd < 0) {
		err_printf("tls: %s", e.msg);
		tls_trust_free(&trust);
		return BB_EXIT_SYSTEM;
	}
	if (tls_client_connect(&client, fd, u.host, &trust, &e) < 0) {
		err_printf("tls: %s port %u (%s): TLS handshake failed: %s", u.host, u.port, addr, e.msg);
		rc = exit_for(&e);
	} else if (http_get(&client, &u, &resp, &cut, &e) < 0) {
		err_printf("tls: %s port %u (%s): %s", u.host, u.port, addr, e.msg);
		rc = exit_for(&e);
	} else {
		tls_client_close(&client, NULL);
		if (print_response(&resp, &e) < 0) {
			err_printf("tls: %s port %u (%s): %s", u.host, u.port, addr, e.msg);
			rc = exit_for(&e);
		} else if (cut) {
			err_printf("tls: note: response cut at %u bytes", RESPONSE_MAX);
		} else if (client.truncated) {
			err_printf("tls: note: the server closed the connection without close_notify");
		}
	}
	fd_close(fd);
	buf_free(&resp);
	tls_trust_free(&trust);
	return rc;
}
