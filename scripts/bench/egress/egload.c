/* egload.c - HTTP/1.1 load generator for the egress benchmark: plain, direct TLS, or CONNECT+TLS through a proxy; keepalive or a new connection per request; or hold N connections open for RSS measurement. */
/*
 * A bench tool, not part of bb: it links OpenSSL (libssl-dev) and is built by
 * scripts/bench/egress.sh with the system compiler.
 *
 *   egload -t ADDR:PORT -H HOST:PORT [-m plain|tls|connect-tls] [-A] [-p PATH]
 *          [-c CONNS] [-d SECS] [-w WARMUP] [-n] [-r] [-C CAFILE] [--hold]
 *
 * One thread, epoll, non-blocking sockets, as wrk does. Every response must
 * be a 200 whose body is read to its end (Content-Length or chunked); any
 * other outcome counts as an error and the connection is replaced.
 * Prints one line: "requests N errors E secs S rps R total T" (T counts the warm-up too).
 * -r: resume TLS sessions, as curl and Node do: every new connection offers the
 * last session the peer gave (the line then ends "resumed K" of the TLS handshakes).
 * --hold: each connection does one request and stays open; prints
 * "ready N" once N connections are open and idle, then waits for SIGTERM.
 * SIGUSR1 then makes every held connection do one more request on the same
 * connection (after egress has given an idle one's buffers back, they must
 * still work); "again N errors E" once they are all idle again, N counting
 * the connections whose every request succeeded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum mode { M_PLAIN, M_TLS, M_CONNECT_TLS };
enum state { S_TCP, S_CONNECT_SEND, S_CONNECT_RECV, S_HANDSHAKE, S_SEND, S_RECV, S_HELD };

#define RBUF 65536

struct conn {
	int fd;
	SSL *ssl;
	enum state st;
	char rbuf[RBUF];
	size_t rlen;
	size_t sent;
	/* response parsing */
	int head_done;
	long long body_left; /* Content-Length bytes still due; -1 chunked */
	int chunk_state;     /* 0 size line, 1 data, 2 CRLF after data, 3 trailers */
	long long chunk_left;
	int done_one;
	int done; /* requests completed on this connection */
};

static enum mode mode = M_PLAIN;
static struct sockaddr_in target;
static char hostport[300], sni[256];
static char request[1024];
static size_t request_len;
static char connect_req[600];
static size_t connect_len;
static int nconns = 64, new_conn, hold, resume;
static SSL_SESSION *last_session; /* -r: offered by every new connection */
static long long resumed;
static double duration = 5, warmup = 1;
static SSL_CTX *ctx;
static int ep;
static long long requests, errors, all_requests;
static int counting;
static volatile sig_atomic_t stop, again;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	again = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "egload: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void set_events(struct conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) < 0)
		die("epoll_ctl mod");
}

static void conn_open(struct conn *c)
{
	struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS)
		die("connect");
	c->ssl = NULL;
	c->st = S_TCP;
	c->rlen = 0;
	c->sent = 0;
	c->head_done = 0;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0)
		die("epoll_ctl add");
}

static void conn_drop(struct conn *c)
{
	if (c->ssl) {
		/* Freed without a close_notify sent, a session is marked not resumable. */
		if (resume && c->done_one)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

static void conn_fail(struct conn *c)
{
	if (counting)
		errors++;
	conn_drop(c);
	if (!hold || !c->done_one)
		conn_open(c);
}

/* Byte I/O over TCP or TLS: >0 bytes, 0 would block (events set), -1 closed/failed. */
static ssize_t io_read(struct conn *c, void *p, size_t n)
{
	if (!c->ssl) {
		ssize_t r = read(c->fd, p, n);
		if (r > 0)
			return r;
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			set_events(c, EPOLLIN);
			return 0;
		}
		return -1;
	}
	int r = SSL_read(c->ssl, p, (int)n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ: set_events(c, EPOLLIN); return 0;
	case SSL_ERROR_WANT_WRITE: set_events(c, EPOLLOUT); return 0;
	default: return -1;
	}
}

static ssize_t io_write(struct conn *c, const void *p, size_t n)
{
	if (!c->ssl || c->st == S_CONNECT_SEND) {
		ssize_t r = write(c->fd, p, n);
		if (r > 0)
			return r;
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			set_events(c, EPOLLOUT);
			return 0;
		}
		return -1;
	}
	int r = SSL_write(c->ssl, p, (int)n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ: set_events(c, EPOLLIN); return 0;
	case SSL_ERROR_WANT_WRITE: set_events(c, EPOLLOUT); return 0;
	default: return -1;
	}
}

static int start_tls(struct conn *c)
{
	c->ssl = SSL_new(ctx);
	if (!c->ssl)
		return -1;
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, sni);
	SSL_set1_host(c->ssl, sni);
	SSL_set_connect_state(c->ssl);
	if (resume && last_session)
		SSL_set_session(c->ssl, last_session);
	c->st = S_HANDSHAKE;
	return 0;
}

/*
 * Consume response bytes in rbuf. Returns 1 when a whole response was read,
 * 0 when more is needed, -1 on a bad or non-200 response.
 */
static int parse_response(struct conn *c)
{
	size_t i = 0;
	if (!c->head_done) {
		char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
		if (!end)
			return c->rlen == RBUF ? -1 : 0;
		size_t hl = (size_t)(end - c->rbuf) + 4;
		if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.", 7) || memcmp(c->rbuf + 9, "200", 3))
			return -1;
		c->body_left = 0;
		for (char *l = memchr(c->rbuf, '\n', hl); l && l < c->rbuf + hl - 2; l = memchr(l, '\n', (size_t)(c->rbuf + hl - l))) {
			l++;
			if (!strncasecmp(l, "content-length:", 15))
				c->body_left = strtoll(l + 15, NULL, 10);
			else if (!strncasecmp(l, "transfer-encoding:", 18) && strstr(l, "chunked") &&
				 strstr(l, "chunked") < (char *)memchr(l, '\n', (size_t)(c->rbuf + hl - l)))
				c->body_left = -1;
		}
		c->head_done = 1;
		c->chunk_state = 0;
		i = hl;
	}
	if (c->body_left >= 0) {
		size_t avail = c->rlen - i;
		if ((long long)avail > c->body_left)
			return -1; /* more than the body: nothing pipelined here, so it is garbage */
		c->body_left -= (long long)avail;
		c->rlen = 0;
		return c->body_left == 0;
	}
	/* chunked */
	for (;;) {
		if (c->chunk_state == 1) {
			size_t avail = c->rlen - i;
			size_t take = (long long)avail < c->chunk_left ? avail : (size_t)c->chunk_left;
			i += take;
			c->chunk_left -= (long long)take;
			if (c->chunk_left)
				break;
			c->chunk_state = 2;
		}
		char *nl = memchr(c->rbuf + i, '\n', c->rlen - i);
		if (!nl)
			break;
		size_t ll = (size_t)(nl - (c->rbuf + i)) + 1;
		if (c->chunk_state == 0) {
			c->chunk_left = strtoll(c->rbuf + i, NULL, 16);
			c->chunk_state = c->chunk_left ? 1 : 3;
		} else if (c->chunk_state == 2) {
			c->chunk_state = 0;
		} else if (c->chunk_state == 3 && ll <= 2) {
			if (i + ll != c->rlen)
				return -1;
			c->rlen = 0;
			return 1;
		}
		i += ll;
	}
	memmove(c->rbuf, c->rbuf + i, c->rlen - i);
	c->rlen -= i;
	return 0;
}

static void finished_one(struct conn *c)
{
	/* After a response, not the handshake: a TLS 1.3 server's ticket comes after its handshake. */
	if (resume && c->ssl) {
		if (SSL_session_reused(c->ssl)) {
			if (counting)
				resumed++;
		} else {
			SSL_SESSION *s = SSL_get1_session(c->ssl);
			if (s) {
				SSL_SESSION_free(last_session);
				last_session = s;
			}
		}
	}
	all_requests++;
	if (counting)
		requests++;
	c->done_one = 1;
	c->done++;
	if (hold) {
		c->st = S_HELD;
		set_events(c, EPOLLIN);
		return;
	}
	if (new_conn) {
		conn_drop(c);
		conn_open(c);
		return;
	}
	c->st = S_SEND;
	c->sent = 0;
	c->head_done = 0;
	set_events(c, EPOLLOUT);
}

/* Advance one connection as far as it goes without blocking. */
static void drive(struct conn *c)
{
	for (;;) {
		switch (c->st) {
		case S_TCP: {
			int err = 0;
			socklen_t el = sizeof err;
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err)
				return conn_fail(c);
			if (mode == M_CONNECT_TLS) {
				c->st = S_CONNECT_SEND;
			} else if (mode == M_TLS) {
				if (start_tls(c) < 0)
					return conn_fail(c);
			} else {
				c->st = S_SEND;
			}
			break;
		}
		case S_CONNECT_SEND: {
			ssize_t r = write(c->fd, connect_req + c->sent, connect_len - c->sent);
			if (r < 0 && errno == EAGAIN)
				return set_events(c, EPOLLOUT);
			if (r <= 0)
				return conn_fail(c);
			c->sent += (size_t)r;
			if (c->sent == connect_len) {
				c->sent = 0;
				c->st = S_CONNECT_RECV;
			}
			break;
		}
		case S_CONNECT_RECV: {
			ssize_t r = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
			if (r < 0 && errno == EAGAIN)
				return set_events(c, EPOLLIN);
			if (r <= 0)
				return conn_fail(c);
			c->rlen += (size_t)r;
			char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
			if (!end)
				break;
			if (c->rlen < 12 || memcmp(c->rbuf + 9, "200", 3) || end + 4 != c->rbuf + c->rlen)
				return conn_fail(c);
			c->rlen = 0;
			if (start_tls(c) < 0)
				return conn_fail(c);
			break;
		}
		case S_HANDSHAKE: {
			int r = SSL_do_handshake(c->ssl);
			if (r == 1) {
				c->st = S_SEND;
				c->sent = 0;
				break;
			}
			switch (SSL_get_error(c->ssl, r)) {
			case SSL_ERROR_WANT_READ: return set_events(c, EPOLLIN);
			case SSL_ERROR_WANT_WRITE: return set_events(c, EPOLLOUT);
			default:
				if (getenv("EGLOAD_DEBUG"))
					ERR_print_errors_fp(stderr);
				return conn_fail(c);
			}
		}
		case S_SEND: {
			ssize_t r = io_write(c, request + c->sent, request_len - c->sent);
			if (r == 0)
				return;
			if (r < 0)
				return conn_fail(c);
			c->sent += (size_t)r;
			if (c->sent == request_len) {
				c->st = S_RECV;
				c->rlen = 0;
				c->head_done = 0;
			}
			break;
		}
		case S_RECV: {
			ssize_t r = io_read(c, c->rbuf + c->rlen, RBUF - c->rlen);
			if (r == 0)
				return;
			if (r < 0)
				return conn_fail(c);
			c->rlen += (size_t)r;
			int pr = parse_response(c);
			if (pr < 0) {
				if (getenv("EGLOAD_DEBUG"))
					fprintf(stderr, "egload: bad response: %.*s\n", (int)(c->rlen < 200 ? c->rlen : 200), c->rbuf);
				return conn_fail(c);
			}
			if (pr == 1) {
				finished_one(c);
				if (hold || new_conn)
					return;
			}
			break;
		}
		case S_HELD: {
			char b[256];
			ssize_t r = io_read(c, b, sizeof b);
			if (r == 0)
				return;
			/* the peer closed a held connection (or sent something): it no longer counts */
			c->done_one = 0;
			if (counting)
				errors++;
			conn_drop(c);
			return;
		}
		}
	}
}

static void usage(void)
{
	fputs("usage: egload -t ADDR:PORT -H HOST:PORT [-m plain|tls|connect-tls] [-A] [-p PATH] [-c CONNS]\n"
	      "              [-d SECS] [-w WARMUP] [-n] [-r] [-C CAFILE] [--hold]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *tgt = NULL, *path = "/1k", *cafile = NULL;
	int absolute = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-t") && v) tgt = v, i++;
		else if (!strcmp(a, "-H") && v) snprintf(hostport, sizeof hostport, "%s", v), i++;
		else if (!strcmp(a, "-p") && v) path = v, i++;
		else if (!strcmp(a, "-c") && v) nconns = (int)strtol(v, NULL, 10), i++;
		else if (!strcmp(a, "-d") && v) duration = strtod(v, NULL), i++;
		else if (!strcmp(a, "-w") && v) warmup = strtod(v, NULL), i++;
		else if (!strcmp(a, "-C") && v) cafile = v, i++;
		else if (!strcmp(a, "-m") && v) {
			i++;
			if (!strcmp(v, "plain")) mode = M_PLAIN;
			else if (!strcmp(v, "tls")) mode = M_TLS;
			else if (!strcmp(v, "connect-tls")) mode = M_CONNECT_TLS;
			else usage();
		} else if (!strcmp(a, "-A")) absolute = 1;
		else if (!strcmp(a, "-n")) new_conn = 1;
		else if (!strcmp(a, "-r")) resume = 1;
		else if (!strcmp(a, "--hold")) hold = 1;
		else usage();
	}
	if (!tgt || !hostport[0] || nconns < 1)
		usage();
	{
		char addr[64];
		const char *colon = strrchr(tgt, ':');
		if (!colon || (size_t)(colon - tgt) >= sizeof addr)
			usage();
		memcpy(addr, tgt, (size_t)(colon - tgt));
		addr[colon - tgt] = 0;
		target.sin_family = AF_INET;
		target.sin_port = htons((unsigned short)strtol(colon + 1, NULL, 10));
		if (inet_pton(AF_INET, addr, &target.sin_addr) != 1)
			usage();
	}
	{
		const char *colon = strrchr(hostport, ':');
		size_t n = colon ? (size_t)(colon - hostport) : strlen(hostport);
		if (n >= sizeof sni)
			usage();
		memcpy(sni, hostport, n);
		sni[n] = 0;
	}
	request_len = (size_t)snprintf(request, sizeof request, "GET %s%s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: egload\r\n%s\r\n",
				       absolute ? "http://" : "", absolute ? hostport : "", path, hostport,
				       new_conn ? "Connection: close\r\n" : "");
	connect_len = (size_t)snprintf(connect_req, sizeof connect_req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", hostport,
				       hostport);
	if (mode != M_PLAIN) {
		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx || !cafile || SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
			fprintf(stderr, "egload: TLS modes need -C CAFILE\n");
			return 2;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		/* Without -r every new connection pays a full handshake: no session reuse. With it, sessions
		 * are kept by hand (last_session), from IDs or tickets, whichever the server gives. */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		if (!resume)
			SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		static const unsigned char alpn[] = "\x08http/1.1";
		SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGUSR1, on_usr1);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	struct conn *conns = calloc((size_t)nconns, sizeof *conns);
	if (!conns)
		die("calloc");
	for (int i = 0; i < nconns; i++)
		conn_open(&conns[i]);

	struct epoll_event evs[256];
	double t0 = now(), tstart = 0, tend = 0;
	int ready_said = 0, round = 1, round_said = 1;
	if (hold || warmup <= 0) {
		counting = 1;
		tstart = t0;
	}
	while (!stop) {
		int n = epoll_wait(ep, evs, 256, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++)
			drive(evs[i].data.ptr);
		double t = now();
		if (hold) {
			int held = 0;
			for (int i = 0; i < nconns; i++)
				held += conns[i].st == S_HELD && conns[i].fd >= 0;
			if (held == nconns && !ready_said) {
				printf("ready %d\n", held);
				fflush(stdout);
				ready_said = 1;
			}
			if (again && ready_said) {
				again = 0;
				round++;
				for (int i = 0; i < nconns; i++)
					if (conns[i].st == S_HELD && conns[i].fd >= 0) {
						conns[i].st = S_SEND;
						conns[i].sent = 0;
						conns[i].head_done = 0;
						set_events(&conns[i], EPOLLOUT);
					}
			}
			if (round_said < round) {
				int busy = 0, good = 0;
				for (int i = 0; i < nconns; i++) {
					busy += conns[i].fd >= 0 && conns[i].st != S_HELD;
					good += conns[i].fd >= 0 && conns[i].done == round;
				}
				if (!busy) {
					printf("again %d errors %lld\n", good, errors);
					fflush(stdout);
					round_said = round;
				}
			}
			if (t - t0 > duration + warmup)
				break;
			continue;
		}
		if (!counting && t - t0 >= warmup) {
			counting = 1;
			tstart = t;
		}
		if (counting && t - tstart >= duration) {
			tend = t;
			break;
		}
	}
	if (hold) {
		int held = 0;
		for (int i = 0; i < nconns; i++)
			held += conns[i].st == S_HELD && conns[i].fd >= 0;
		printf("held %d errors %lld\n", held, errors);
		return held == nconns ? 0 : 1;
	}
	if (!tend)
		tend = now();
	double secs = tend - tstart;
	printf("requests %lld errors %lld secs %.2f rps %.0f total %lld", requests, errors, secs,
	       secs > 0 ? (double)requests / secs : 0, all_requests);
	if (resume)
		printf(" resumed %lld", resumed);
	printf("\n");
	return 0;
}
