/* resolve.c - asynchronous resolver: hosts file, then UDP (TCP on truncation) queries to resolv.conf's nameservers. */
#include "resolve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dnsmsg.h"
#include "fd.h"

#define HOSTS_FILE_MAX (1u << 20)
#define RESOLV_CONF_MAX (64u << 10)
#define TCP_REPLY_MAX 16384   /* an A/AAAA answer this big is already absurd */
#define RECV_BUF_LEN 65536    /* any UDP datagram, so none is silently cut */
#define CNAME_HOPS_MAX 16
#define QUERY_MAX (DNS_HEADER_LEN + DNS_NAME_WIRE_MAX + 4)

enum sq_state { SQ_PENDING, SQ_ADDRS, SQ_NODATA, SQ_NXDOMAIN, SQ_FAILED };
enum sq_fail { FAIL_NONE, FAIL_TIMEOUT, FAIL_SERVFAIL, FAIL_REFUSED, FAIL_RCODE, FAIL_UNREACHABLE, FAIL_TCP };

/* One question (A or AAAA) walking the server list. */
struct subq {
	struct resolve_lookup *lk;
	uint16_t qtype, id;
	int fd;
	int tcp, tcp_writing;
	struct loop_io io;
	struct loop_timer timer;
	unsigned tries;  /* tries started */
	unsigned server; /* index of the current try's server */
	uint8_t query[QUERY_MAX + 2]; /* 2 spare bytes: the TCP length prefix goes in front */
	size_t query_len;
	uint8_t *tcpbuf; /* TCP exchange only: prefix + query, then prefix + reply */
	size_t tcp_off;
	enum sq_state state;
	enum sq_fail fail;
	unsigned fail_rcode, fail_server;
	struct netaddr addrs[RESOLVE_MAX_ADDRS];
	size_t naddrs;
	uint32_t ttl;
};

struct resolve_lookup {
	struct resolver *r;
	int in_use;
	char name[RESOLVE_NAME_MAX + 1]; /* lowercased, no trailing dot */
	size_t name_len;
	struct dns_name qname;
	resolve_fn fn;
	void *arg;
	/*
	 * On the resolver's queue until the next loop turn, which sends the
	 * queries or delivers a ready answer (never from inside resolve_start).
	 */
	struct resolve_lookup *q_prev, *q_next;
	int queued;
	uint64_t q_seq;
	int ready;              /* res holds the answer to deliver */
	int own;                /* an answer known at start, allocated on its own (not a slot) */
	struct resolve_result res;
	/* The servers and timing as they were when the lookup started. */
	struct resolve_server servers[RESOLVE_MAX_SERVERS];
	size_t nservers;
	unsigned timeout_ms, attempts;
	struct subq sq[2];
	size_t nsq;
};

struct cache_entry {
	char name[RESOLVE_NAME_MAX + 1];
	size_t name_len; /* 0 = free slot */
	uint64_t expires_ms, used_ms;
	size_t naddrs;
	struct netaddr addrs[RESOLVE_MAX_ADDRS];
};

struct resolver {
	struct loop *loop;
	struct resolve_config cfg;
	/*
	 * The queue of lookups waiting for the next turn, woken by an eventfd
	 * rather than 0 ms timers: a turn serves only what was queued before it
	 * began, so callbacks that start lookups cannot starve the loop's I/O.
	 */
	int wake_fd;
	struct loop_io wake_io;
	struct resolve_lookup *q_head, *q_tail;
	uint64_t q_seq;
	/* The hosts file as last read, reused while stat() says it is the same file. */
	struct buf hosts_text;
	struct stat hosts_st;
	time_t hosts_read_at;
	int hosts_seen;
	struct resolve_conf conf; /* resolv.conf as last read */
	struct stat conf_st;
	time_t conf_read_at;
	int conf_seen;
	struct resolve_lookup *lookups;
	size_t in_flight;
	struct cache_entry *cache;
	uint8_t *rbuf;
	uint8_t rand_pool[256];
	size_t rand_left;
};

/* ---- parsing helpers ---- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Next whitespace-separated token of [*p, end); 0 when none. */
static int next_token(const char **p, const char *end, struct sv *tok)
{
	const char *s = *p;

	while (s < end && is_space(*s))
		s++;
	if (s == end)
		return 0;
	tok->p = s;
	while (s < end && !is_space(*s))
		s++;
	tok->len = (size_t)(s - tok->p);
	*p = s;
	return 1;
}

static int parse_port(const char *s, size_t len, uint16_t *out)
{
	uint64_t v;

	if (len == 0 || len > 5 || (s[0] == '0') || sv_to_u64(sv_of(s, len), 65535, &v, NULL) < 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int resolve_server_parse(const char *s, size_t len, struct resolve_server *out, struct bb_err *e)
{
	struct resolve_server srv;
	const char *addr = s, *port = NULL;
	size_t alen = len, plen = 0;

	memset(&srv, 0, sizeof srv);
	srv.port = 53;
	if (!s || len == 0)
		return bb_errf(e, BB_EINVAL, "empty nameserver address");
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close)
			return bb_errf(e, BB_EINVAL, "%.*s: missing ']'", (int)(len > 64 ? 64 : len), s);
		addr = s + 1;
		alen = (size_t)(close - addr);
		if ((size_t)(close - s) + 1 < len) {
			if (close[1] != ':')
				return bb_errf(e, BB_EINVAL, "%.*s: expected ':PORT' after ']'", (int)(len > 64 ? 64 : len), s);
			port = close + 2;
			plen = len - (size_t)(port - s);
		}
		if (netaddr_parse6(addr, alen, &srv.addr, e) < 0)
			return -1;
	} else {
		const char *colon = memchr(s, ':', len);

		/* One colon: v4:port. More: a bare IPv6 address. */
		if (colon && !memchr(colon + 1, ':', len - (size_t)(colon - s) - 1)) {
			alen = (size_t)(colon - s);
			port = colon + 1;
			plen = len - alen - 1;
		}
		if (netaddr_parse(addr, alen, &srv.addr, e) < 0)
			return -1;
	}
	if (port && parse_port(port, plen, &srv.port) < 0)
		return bb_errf(e, BB_EINVAL, "%.*s: bad port (1-65535)", (int)(len > 64 ? 64 : len), s);
	*out = srv;
	return 0;
}

static void conf_defaults(struct resolve_conf *c)
{
	memset(c, 0, sizeof *c);
	c->timeout_ms = 5000;
	c->attempts = 2;
}

int resolve_conf_parse(const char *text, size_t len, struct resolve_conf *out, struct bb_err *e)
{
	const char *p = text, *end = text + len;

	if (!out || (!text && len))
		return bb_errf(e, BB_EINVAL, "resolve_conf_parse: bad arguments");
	conf_defaults(out);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end, *q = p;
		struct sv key, tok;

		p = nl ? nl + 1 : end;
		if (q < line_end && (*q == '#' || *q == ';'))
			continue;
		if (!next_token(&q, line_end, &key))
			continue;
		if (sv_eq_str(key, "nameserver")) {
			struct resolve_server srv;

			if (out->nservers < RESOLVE_MAX_SERVERS && next_token(&q, line_end, &tok) &&
			    netaddr_parse(tok.p, tok.len, &srv.addr, NULL) == 0) {
				srv.port = 53;
				out->servers[out->nservers++] = srv;
			}
		} else if (sv_eq_str(key, "options")) {
			while (next_token(&q, line_end, &tok)) {
				uint64_t v;

				if (sv_starts_with(tok, SV_LIT("timeout:")) &&
				    sv_to_u64(sv_of(tok.p + 8, tok.len - 8), 1000000, &v, NULL) == 0)
					out->timeout_ms = (unsigned)(v < 1 ? 1 : v > 30 ? 30 : v) * 1000;
				else if (sv_starts_with(tok, SV_LIT("attempts:")) &&
					 sv_to_u64(sv_of(tok.p + 9, tok.len - 9), 1000000, &v, NULL) == 0)
					out->attempts = (unsigned)(v < 1 ? 1 : v > 5 ? 5 : v);
			}
		}
	}
	if (out->nservers == 0) {
		/* As libc: no nameserver line means the local host. */
		netaddr_parse4("127.0.0.1", 9, &out->servers[0].addr, NULL);
		out->servers[0].port = 53;
		out->nservers = 1;
	}
	return 0;
}

static int add_addr(struct resolve_result *res, const struct netaddr *a)
{
	size_t i;

	for (i = 0; i < res->naddrs; i++)
		if (netaddr_eq(&res->addrs[i], a))
			return 0;
	if (res->naddrs == RESOLVE_MAX_ADDRS)
		return 0;
	res->addrs[res->naddrs++] = *a;
	return 0;
}

static int name_eq_nocase(struct sv a, const char *name, size_t len)
{
	if (a.len > 0 && a.p[a.len - 1] == '.')
		a.len--;
	return sv_eq_nocase(a, sv_of(name, len));
}

/* The search itself, over the text of a hosts file. */
static int hosts_search(const char *text, size_t tlen, const char *name, size_t len, int want_ipv6,
			struct resolve_result *out)
{
	struct resolve_result v4, v6;
	const char *p = text, *end = text + tlen;
	size_t i;

	if (len > 0 && name[len - 1] == '.')
		len--;
	memset(&v4, 0, sizeof v4);
	memset(&v6, 0, sizeof v6);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end, *hash, *q = p;
		struct sv addr_tok, tok;
		struct netaddr a;

		p = nl ? nl + 1 : end;
		hash = memchr(q, '#', (size_t)(line_end - q));
		if (hash)
			line_end = hash;
		if (!next_token(&q, line_end, &addr_tok) || netaddr_parse(addr_tok.p, addr_tok.len, &a, NULL) < 0)
			continue;
		while (next_token(&q, line_end, &tok)) {
			if (name_eq_nocase(tok, name, len)) {
				add_addr(a.family == AF_INET ? &v4 : &v6, &a);
				break;
			}
		}
	}
	memset(out, 0, sizeof *out);
	out->source = RESOLVE_FROM_HOSTS;
	for (i = 0; i < v4.naddrs; i++)
		add_addr(out, &v4.addrs[i]);
	if (want_ipv6)
		for (i = 0; i < v6.naddrs; i++)
			add_addr(out, &v6.addrs[i]);
	return out->naddrs > 0;
}

int resolve_hosts_lookup(const char *path, const char *name, size_t len, int want_ipv6,
			 struct resolve_result *out, struct bb_err *e)
{
	struct buf file = BUF_INIT(HOSTS_FILE_MAX);
	struct bb_err re;
	int found;

	if (fd_read_file(path, HOSTS_FILE_MAX, &file, &re) < 0) {
		buf_free(&file);
		if (re.code == ENOENT || re.code == ENOTDIR)
			return 0;
		if (e)
			*e = re;
		return -1;
	}
	found = hosts_search(file.p ? file.p : "", file.len, name, len, want_ipv6, out);
	buf_free(&file);
	return found;
}

/*
 * Whether a file read at read_at (wall-clock seconds) is still what stat
 * says. File times tick coarsely (a jiffy), so a same-size rewrite just
 * after our read can keep the same stat: a file modified within a second
 * of the read is never trusted (git's "racily clean" rule).
 */
static int same_file(const struct stat *now, const struct stat *then, time_t read_at)
{
	return now->st_ino == then->st_ino && now->st_dev == then->st_dev && now->st_size == then->st_size &&
	       now->st_mtim.tv_sec == then->st_mtim.tv_sec && now->st_mtim.tv_nsec == then->st_mtim.tv_nsec &&
	       now->st_mtim.tv_sec + 1 < read_at;
}

/* ---- randomness ---- */

static int rand16(struct resolver *r, uint16_t *out)
{
	if (r->rand_left < 2) {
		ssize_t n = getrandom(r->rand_pool, sizeof r->rand_pool, 0);

		if (n != (ssize_t)sizeof r->rand_pool)
			return -1;
		r->rand_left = sizeof r->rand_pool;
	}
	r->rand_left -= 2;
	*out = (uint16_t)(r->rand_pool[r->rand_left] << 8 | r->rand_pool[r->rand_left + 1]);
	return 0;
}

/* ---- resolv.conf refresh ---- */

static const char *conf_path(const struct resolver *r)
{
	return r->cfg.resolv_conf_path ? r->cfg.resolv_conf_path : "/etc/resolv.conf";
}

/* Re-read resolv.conf when it changed; a file that cannot be read keeps the last good view. */
static void conf_refresh(struct resolver *r)
{
	struct stat st;
	struct buf text = BUF_INIT(RESOLV_CONF_MAX);

	if (r->cfg.nservers)
		return;
	if (stat(conf_path(r), &st) < 0) {
		if (errno == ENOENT && r->conf_seen != 2) {
			resolve_conf_parse("", 0, &r->conf, NULL);
			r->conf_seen = 2; /* "missing" */
		}
		return;
	}
	if (r->conf_seen == 1 && same_file(&st, &r->conf_st, r->conf_read_at))
		return;
	r->conf_read_at = time(NULL);
	if (fd_read_file(conf_path(r), RESOLV_CONF_MAX, &text, NULL) == 0) {
		resolve_conf_parse(text.p, text.len, &r->conf, NULL);
		r->conf_st = st;
		r->conf_seen = 1;
	}
	buf_free(&text);
}

/*
 * The hosts file's text, re-read when stat() says it changed (an edit, a
 * rename over it, a bind mount). Missing or unreadable means empty.
 */
static void hosts_refresh(struct resolver *r)
{
	const char *path = r->cfg.hosts_path ? r->cfg.hosts_path : "/etc/hosts";
	struct stat st;

	if (stat(path, &st) < 0) {
		buf_reset(&r->hosts_text);
		r->hosts_seen = 0;
		return;
	}
	if (r->hosts_seen && same_file(&st, &r->hosts_st, r->hosts_read_at))
		return;
	r->hosts_read_at = time(NULL);
	buf_reset(&r->hosts_text);
	r->hosts_seen = 0;
	if (fd_read_file(path, HOSTS_FILE_MAX, &r->hosts_text, NULL) == 0) {
		r->hosts_st = st;
		r->hosts_seen = 1;
	} else {
		buf_reset(&r->hosts_text);
	}
}

/* ---- cache ---- */

static struct cache_entry *cache_find(struct resolver *r, const char *name, size_t len)
{
	unsigned n = r->cfg.cache_entries, i;

	for (i = 0; i < n; i++) {
		struct cache_entry *c = &r->cache[i];

		if (c->name_len == len && memcmp(c->name, name, len) == 0)
			return c;
	}
	return NULL;
}

static void cache_put(struct resolver *r, const char *name, size_t len, const struct netaddr *addrs, size_t naddrs,
		      uint32_t ttl_s)
{
	struct cache_entry *c, *victim = NULL;
	uint64_t now = loop_now(r->loop);
	unsigned i;

	if (r->cfg.no_cache || ttl_s == 0 || naddrs == 0)
		return;
	if (ttl_s > r->cfg.cache_ttl_max_s)
		ttl_s = r->cfg.cache_ttl_max_s;
	c = cache_find(r, name, len);
	for (i = 0; !c && i < r->cfg.cache_entries; i++) {
		struct cache_entry *x = &r->cache[i];

		if (x->name_len == 0 || x->expires_ms <= now) {
			c = x;
			break;
		}
		if (!victim || x->used_ms < victim->used_ms)
			victim = x;
	}
	if (!c)
		c = victim;
	if (!c)
		return;
	memcpy(c->name, name, len);
	c->name_len = len;
	c->expires_ms = now + (uint64_t)ttl_s * 1000;
	c->used_ms = now;
	c->naddrs = naddrs;
	memcpy(c->addrs, addrs, naddrs * sizeof addrs[0]);
}

void resolve_cache_clear(struct resolver *r)
{
	memset(r->cache, 0, (size_t)r->cfg.cache_entries * sizeof r->cache[0]);
}

/* ---- lookups ---- */

static void queue_remove(struct resolver *r, struct resolve_lookup *lk)
{
	if (!lk->queued)
		return;
	if (lk->q_prev)
		lk->q_prev->q_next = lk->q_next;
	else
		r->q_head = lk->q_next;
	if (lk->q_next)
		lk->q_next->q_prev = lk->q_prev;
	else
		r->q_tail = lk->q_prev;
	lk->q_prev = lk->q_next = NULL;
	lk->queued = 0;
}

/* Queue lk for the next turn; the eventfd makes the loop come back for it. */
static int queue_push(struct resolver *r, struct resolve_lookup *lk, struct bb_err *e)
{
	uint64_t one = 1;

	if (!r->q_head && write(r->wake_fd, &one, sizeof one) != (ssize_t)sizeof one && errno != EAGAIN)
		return bb_errno(e, errno, "resolver wakeup");
	lk->q_seq = r->q_seq++;
	lk->q_prev = r->q_tail;
	lk->q_next = NULL;
	if (r->q_tail)
		r->q_tail->q_next = lk;
	else
		r->q_head = lk;
	r->q_tail = lk;
	lk->queued = 1;
	return 0;
}

static void subq_close(struct resolver *r, struct subq *sq)
{
	if (sq->fd >= 0) {
		loop_io_del(r->loop, &sq->io);
		sq->fd = fd_close(sq->fd);
	}
	loop_timer_cancel(r->loop, &sq->timer);
}

static void lookup_release(struct resolver *r, struct resolve_lookup *lk)
{
	size_t i;

	for (i = 0; i < lk->nsq; i++) {
		subq_close(r, &lk->sq[i]);
		free(lk->sq[i].tcpbuf);
		lk->sq[i].tcpbuf = NULL;
	}
	queue_remove(r, lk);
	lk->in_use = 0;
	if (lk->own)
		free(lk);
	else
		r->in_flight--;
}

static void server_text(const struct resolve_server *s, char *dst, size_t n)
{
	char a[NETADDR_TEXT_MAX];

	if (netaddr_format(&s->addr, a, sizeof a) < 0)
		a[0] = '\0';
	if (s->addr.family == AF_INET6)
		snprintf(dst, n, "[%s]:%u", a, s->port);
	else
		snprintf(dst, n, "%s:%u", a, s->port);
}

/* Why a failed question failed, for the error message. */
static void fail_text(const struct resolve_lookup *lk, const struct subq *sq, struct bb_err *e)
{
	char srv[NETADDR_TEXT_MAX + 10];
	const char *why;

	server_text(&lk->servers[sq->fail_server], srv, sizeof srv);
	switch (sq->fail) {
	case FAIL_SERVFAIL: why = "server failure"; break;
	case FAIL_REFUSED: why = "refused"; break;
	case FAIL_RCODE: why = "error response"; break;
	case FAIL_UNREACHABLE: why = "unreachable"; break;
	case FAIL_TCP: why = "TCP retry failed"; break;
	default: why = "timed out"; break;
	}
	if (sq->fail == FAIL_RCODE)
		bb_errf(e, BB_EINVAL, "%s: no answer after %u tries on %zu nameservers (last: %s: %s, rcode %u)", lk->name,
			sq->tries, lk->nservers, srv, why, sq->fail_rcode);
	else
		bb_errf(e, BB_EINVAL, "%s: no answer after %u tries on %zu nameservers (last: %s: %s)", lk->name, sq->tries,
			lk->nservers, srv, why);
}

/* All questions are settled: deliver (the slot is freed first, so the callback may reuse it). */
static void lookup_finish(struct resolver *r, struct resolve_lookup *lk)
{
	struct resolve_result res;
	struct bb_err err;
	resolve_fn fn = lk->fn;
	void *arg = lk->arg;
	uint32_t ttl = UINT32_MAX;
	int nx = 0, nodata = 0;
	size_t i, k;

	memset(&res, 0, sizeof res);
	bb_err_clear(&err);
	res.source = RESOLVE_FROM_DNS;
	for (i = 0; i < lk->nsq; i++) {
		const struct subq *sq = &lk->sq[i];

		if (sq->state == SQ_ADDRS) {
			for (k = 0; k < sq->naddrs; k++)
				add_addr(&res, &sq->addrs[k]);
			if (sq->ttl < ttl)
				ttl = sq->ttl;
		}
		nx |= sq->state == SQ_NXDOMAIN;
		nodata |= sq->state == SQ_NODATA;
	}
	if (res.naddrs) {
		res.ttl_s = ttl;
		cache_put(r, lk->name, lk->name_len, res.addrs, res.naddrs, ttl);
	} else if (nx) {
		bb_errf(&err, BB_EINVAL, "%s: no such domain", lk->name);
	} else if (nodata) {
		bb_errf(&err, BB_EINVAL, "%s: no address records", lk->name);
	} else {
		fail_text(lk, &lk->sq[0], &err);
	}
	lookup_release(r, lk);
	fn(arg, res.naddrs ? &res : NULL, res.naddrs ? NULL : &err);
}

static void subq_settled(struct resolver *r, struct subq *sq)
{
	struct resolve_lookup *lk = sq->lk;
	size_t i;

	subq_close(r, sq);
	for (i = 0; i < lk->nsq; i++)
		if (lk->sq[i].state == SQ_PENDING)
			return;
	lookup_finish(r, lk);
}

static void on_udp(struct loop *l, struct loop_io *io, uint32_t events);
static void on_tcp(struct loop *l, struct loop_io *io, uint32_t events);

/* Open, connect and register the socket for the current try; -1 when that fails at once. */
static int subq_connect(struct resolver *r, struct subq *sq, int type, uint32_t events, loop_io_fn fn)
{
	const struct resolve_server *srv = &sq->lk->servers[sq->server];
	struct sockaddr_storage ss;
	socklen_t sl;

	netaddr_to_sockaddr(&srv->addr, srv->port, &ss, &sl);
	sq->fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sq->fd < 0)
		return -1;
	/* For UDP, connect() makes the kernel drop datagrams from anyone but the server. */
	if (connect(sq->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		sq->fd = fd_close(sq->fd);
		return -1;
	}
	if (loop_io_add(r->loop, &sq->io, sq->fd, events, fn, sq, NULL) < 0 ||
	    loop_timer_set(r->loop, &sq->timer, sq->lk->timeout_ms, NULL) < 0) {
		subq_close(r, sq);
		return -1;
	}
	return 0;
}

/* Move to the next try (next server, then next round), or give up. */
static void subq_next_try(struct resolver *r, struct subq *sq)
{
	struct resolve_lookup *lk = sq->lk;

	for (;;) {
		size_t qlen;

		subq_close(r, sq);
		sq->tcp = 0;
		if (sq->tries >= lk->attempts * lk->nservers) {
			sq->state = SQ_FAILED;
			subq_settled(r, sq);
			return;
		}
		sq->server = sq->tries % lk->nservers;
		sq->tries++;
		/* A fresh id and (by a new socket) a fresh source port each try. */
		if (rand16(r, &sq->id) < 0 ||
		    dns_build_query(sq->query + 2, QUERY_MAX, &qlen, sq->id, &lk->qname, sq->qtype, 0, NULL) < 0) {
			sq->fail = FAIL_UNREACHABLE;
			sq->fail_server = sq->server;
			continue;
		}
		sq->query_len = qlen;
		if (subq_connect(r, sq, SOCK_DGRAM, EPOLLIN, on_udp) == 0 &&
		    send(sq->fd, sq->query + 2, sq->query_len, 0) == (ssize_t)sq->query_len)
			return;
		sq->fail = FAIL_UNREACHABLE;
		sq->fail_server = sq->server;
	}
}

static void subq_failed(struct resolver *r, struct subq *sq, enum sq_fail why, unsigned rcode)
{
	sq->fail = why;
	sq->fail_rcode = rcode;
	sq->fail_server = sq->server;
	subq_next_try(r, sq);
}

/* Ask the same server again over TCP (RFC 7766), after a truncated UDP answer. */
static void subq_start_tcp(struct resolver *r, struct subq *sq)
{
	subq_close(r, sq);
	if (!sq->tcpbuf)
		sq->tcpbuf = malloc(2 + TCP_REPLY_MAX);
	if (!sq->tcpbuf) {
		subq_failed(r, sq, FAIL_TCP, 0);
		return;
	}
	sq->tcp = 1;
	sq->tcp_writing = 1;
	sq->tcp_off = 0;
	sq->tcpbuf[0] = (uint8_t)(sq->query_len >> 8);
	sq->tcpbuf[1] = (uint8_t)sq->query_len;
	memcpy(sq->tcpbuf + 2, sq->query + 2, sq->query_len);
	if (subq_connect(r, sq, SOCK_STREAM, EPOLLOUT, on_tcp) < 0)
		subq_failed(r, sq, FAIL_TCP, 0);
}

/*
 * The addresses for the question in an answer section: records owned by
 * the question name, or by the end of a CNAME chain starting there. Other
 * owners are ignored (a server has no business answering them).
 */
static void collect_addrs(const struct dns_msg *m, struct subq *sq)
{
	struct dns_name want = sq->lk->qname, owner, target;
	uint32_t ttl = UINT32_MAX;
	unsigned hops;
	size_t i;

	sq->naddrs = 0;
	for (hops = 0; hops <= CNAME_HOPS_MAX; hops++) {
		int followed = 0;

		for (i = 0; i < m->nrr; i++) {
			const struct dns_rr *rr = &m->rr[i];
			uint32_t t = rr->ttl > 0x7fffffffu ? 0 : rr->ttl; /* RFC 2181 8: top bit set means 0 */

			if (rr->section != DNS_SECTION_ANSWER || rr->rclass != DNS_CLASS_IN ||
			    dns_rr_owner(m, i, &owner, NULL) < 0 || !dns_name_eq(&owner, &want))
				continue;
			if (rr->type == sq->qtype && sq->naddrs < RESOLVE_MAX_ADDRS) {
				struct netaddr a;

				memset(&a, 0, sizeof a);
				a.family = sq->qtype == DNS_TYPE_A ? AF_INET : AF_INET6;
				memcpy(a.b, m->buf + rr->rdata_off, rr->rdlen);
				sq->addrs[sq->naddrs++] = a;
				if (t < ttl)
					ttl = t;
			}
		}
		if (sq->naddrs)
			break;
		for (i = 0; i < m->nrr && !followed; i++) {
			const struct dns_rr *rr = &m->rr[i];

			if (rr->section == DNS_SECTION_ANSWER && rr->type == DNS_TYPE_CNAME &&
			    rr->rclass == DNS_CLASS_IN && dns_rr_owner(m, i, &owner, NULL) == 0 &&
			    dns_name_eq(&owner, &want) && dns_rr_target(m, i, &target, NULL) == 0) {
				uint32_t t = rr->ttl > 0x7fffffffu ? 0 : rr->ttl;

				if (t < ttl)
					ttl = t;
				want = target;
				followed = 1;
			}
		}
		if (!followed)
			break;
	}
	sq->ttl = sq->naddrs ? ttl : 0;
}

/* A reply for sq's current try: 0 when it is not an answer to our question (ignored), 1 when acted on. */
static int subq_reply(struct resolver *r, struct subq *sq, const uint8_t *buf, size_t len)
{
	struct dns_msg m;
	unsigned rcode;

	if (dns_parse(buf, len, &m, NULL) < 0)
		return 0;
	if (!(m.h.flags & DNS_FLAG_QR) || DNS_OPCODE(m.h.flags) != 0 || m.h.id != sq->id || !m.has_question ||
	    m.q.qtype != sq->qtype || m.q.qclass != DNS_CLASS_IN || !dns_name_eq(&m.q.name, &sq->lk->qname))
		return 0;
	if ((m.h.flags & DNS_FLAG_TC) && !sq->tcp) {
		subq_start_tcp(r, sq);
		return 1;
	}
	rcode = DNS_RCODE(m.h.flags);
	switch (rcode) {
	case DNS_RCODE_NOERROR:
		collect_addrs(&m, sq);
		sq->state = sq->naddrs ? SQ_ADDRS : SQ_NODATA;
		subq_settled(r, sq);
		break;
	case DNS_RCODE_NXDOMAIN:
		sq->state = SQ_NXDOMAIN;
		subq_settled(r, sq);
		break;
	case DNS_RCODE_SERVFAIL:
		subq_failed(r, sq, FAIL_SERVFAIL, rcode);
		break;
	case DNS_RCODE_REFUSED:
		subq_failed(r, sq, FAIL_REFUSED, rcode);
		break;
	default:
		subq_failed(r, sq, FAIL_RCODE, rcode);
		break;
	}
	return 1;
}

static void on_udp(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct subq *sq = io->arg;
	struct resolver *r = sq->lk->r;

	for (;;) {
		ssize_t n = recv(sq->fd, r->rbuf, RECV_BUF_LEN, 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/* ECONNREFUSED: an ICMP port unreachable; no use waiting for the timeout. */
			subq_failed(r, sq, FAIL_UNREACHABLE, 0);
			return;
		}
		if (subq_reply(r, sq, r->rbuf, (size_t)n))
			return; /* sq may be settled and its lookup gone */
	}
}

static void on_tcp(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct subq *sq = io->arg;
	struct resolver *r = sq->lk->r;

	if (sq->tcp_writing) {
		size_t total = sq->query_len + 2;
		ssize_t n = send(sq->fd, sq->tcpbuf + sq->tcp_off, total - sq->tcp_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			subq_failed(r, sq, FAIL_TCP, 0);
			return;
		}
		sq->tcp_off += (size_t)n;
		if (sq->tcp_off < total)
			return;
		sq->tcp_writing = 0;
		sq->tcp_off = 0;
		if (loop_io_mod(l, &sq->io, EPOLLIN, NULL) < 0)
			subq_failed(r, sq, FAIL_TCP, 0);
		return;
	}
	for (;;) {
		size_t want = sq->tcp_off < 2 ? 2 - sq->tcp_off
					      : 2 + (size_t)(sq->tcpbuf[0] << 8 | sq->tcpbuf[1]) - sq->tcp_off;
		ssize_t n = recv(sq->fd, sq->tcpbuf + sq->tcp_off, want, 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			subq_failed(r, sq, FAIL_TCP, 0);
			return;
		}
		sq->tcp_off += (size_t)n;
		if (sq->tcp_off == 2) {
			size_t mlen = (size_t)(sq->tcpbuf[0] << 8 | sq->tcpbuf[1]);

			if (mlen < DNS_HEADER_LEN || mlen > TCP_REPLY_MAX) {
				subq_failed(r, sq, FAIL_TCP, 0);
				return;
			}
		} else if (sq->tcp_off > 2 && sq->tcp_off == 2 + (size_t)(sq->tcpbuf[0] << 8 | sq->tcpbuf[1])) {
			/* A TCP peer is the server we connected to: a reply that is not ours is a failure. */
			if (!subq_reply(r, sq, sq->tcpbuf + 2, sq->tcp_off - 2))
				subq_failed(r, sq, FAIL_TCP, 0);
			return;
		}
	}
}

static void on_subq_timeout(struct loop *l, struct loop_timer *t)
{
	struct subq *sq = t->arg;

	subq_failed(sq->lk->r, sq, FAIL_TIMEOUT, 0);
}

/* Start the queries of a lookup that needs DNS. */
static void lookup_send(struct resolver *r, struct resolve_lookup *lk)
{
	size_t i, n = lk->nsq;

	/* A question can settle at once (every server unreachable) and finish the lookup. */
	for (i = 0; i < n && lk->in_use; i++)
		subq_next_try(r, &lk->sq[i]);
}

/* One turn of the queue: what was queued before it began, oldest first. */
static void on_wake(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct resolver *r = io->arg;
	uint64_t count, end = r->q_seq;

	if (read(r->wake_fd, &count, sizeof count) < 0 && errno != EAGAIN)
		return;
	while (r->q_head && r->q_head->q_seq < end) {
		struct resolve_lookup *lk = r->q_head;

		queue_remove(r, lk);
		if (lk->ready) {
			resolve_fn fn = lk->fn;
			void *arg = lk->arg;
			struct resolve_result res = lk->res;

			lookup_release(r, lk);
			fn(arg, &res, NULL);
		} else {
			lookup_send(r, lk);
		}
	}
	if (r->q_head) {
		uint64_t one = 1;

		/* Queued during this turn: come back on the next one. */
		if (write(r->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
			return;
	}
}

/* ---- public entry points ---- */

int resolver_new(struct resolver **out, struct loop *l, const struct resolve_config *cfg, struct bb_err *e)
{
	struct resolver *r = calloc(1, sizeof *r);
	size_t i;

	if (!r)
		return bb_errno(e, ENOMEM, "resolver");
	r->loop = l;
	if (cfg)
		r->cfg = *cfg;
	if (r->cfg.nservers > RESOLVE_MAX_SERVERS) {
		free(r);
		return bb_errf(e, BB_EINVAL, "at most %d nameservers", RESOLVE_MAX_SERVERS);
	}
	for (i = 0; i < r->cfg.nservers; i++) {
		int fam = r->cfg.servers[i].addr.family;

		if ((fam != AF_INET && fam != AF_INET6) || r->cfg.servers[i].port == 0) {
			free(r);
			return bb_errf(e, BB_EINVAL, "nameserver %zu: no address or port", i + 1);
		}
	}
	if (!r->cfg.max_lookups)
		r->cfg.max_lookups = 256;
	if (!r->cfg.cache_entries)
		r->cfg.cache_entries = 256;
	if (!r->cfg.cache_ttl_max_s)
		r->cfg.cache_ttl_max_s = 300;
	r->wake_fd = -1;
	buf_init(&r->hosts_text, HOSTS_FILE_MAX);
	r->lookups = calloc(r->cfg.max_lookups, sizeof r->lookups[0]);
	r->cache = calloc(r->cfg.cache_entries, sizeof r->cache[0]);
	r->rbuf = malloc(RECV_BUF_LEN);
	if (!r->lookups || !r->cache || !r->rbuf) {
		resolver_free(r);
		return bb_errno(e, ENOMEM, "resolver");
	}
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->wake_fd < 0) {
		bb_errno(e, errno, "resolver: eventfd");
		resolver_free(r);
		return -1;
	}
	if (loop_io_add(l, &r->wake_io, r->wake_fd, EPOLLIN, on_wake, r, e) < 0) {
		resolver_free(r);
		return -1;
	}
	resolve_conf_parse("", 0, &r->conf, NULL); /* libc's defaults, 127.0.0.1 included, until a file says more */
	conf_refresh(r);
	*out = r;
	return 0;
}

void resolver_free(struct resolver *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; r->lookups && i < r->cfg.max_lookups; i++)
		if (r->lookups[i].in_use)
			lookup_release(r, &r->lookups[i]);
	while (r->q_head) /* answers known at start, not yet delivered */
		lookup_release(r, r->q_head);
	if (r->wake_fd >= 0) {
		loop_io_del(r->loop, &r->wake_io);
		r->wake_fd = fd_close(r->wake_fd);
	}
	free(r->lookups);
	free(r->cache);
	free(r->rbuf);
	buf_free(&r->hosts_text);
	free(r);
}

/* Host name syntax: labels of letters, digits, '-' and '_', 1-63 long, 253 in all. */
static int check_host_name(const char *s, size_t len, struct bb_err *e)
{
	size_t i, label = 0;

	if (len == 0)
		return bb_errf(e, BB_EINVAL, "empty host name");
	if (len > RESOLVE_NAME_MAX)
		return bb_errf(e, BB_EINVAL, "host name longer than %d characters", RESOLVE_NAME_MAX);
	for (i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (label == 0 || label > DNS_LABEL_MAX)
				return bb_errf(e, BB_EINVAL, "%.*s: empty or over-long label", (int)(len > 64 ? 64 : len), s);
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '_') {
			label++;
		} else {
			return bb_errf(e, BB_EINVAL, "%.*s: not a valid host name", (int)(len > 64 ? 64 : len), s);
		}
	}
	return 0;
}

/*
 * A lookup whose answer is known at start (hosts file, cache, literal) sends nothing and lives only
 * until the next loop turn: it takes no slot and does not count against max_lookups, which bounds
 * the queries on the wire (a burst of connections to a host in the hosts file is not refused).
 */
static struct resolve_lookup *lookup_alloc_ready(struct bb_err *e)
{
	struct resolve_lookup *lk = calloc(1, sizeof *lk);

	if (!lk) {
		bb_errno(e, ENOMEM, "name lookup");
		return NULL;
	}
	lk->in_use = lk->own = lk->ready = 1;
	return lk;
}

static void lookup_slot_init(struct resolver *r, struct resolve_lookup *lk)
{
	size_t k;

	lk->r = r;
	for (k = 0; k < 2; k++) {
		lk->sq[k].lk = lk;
		lk->sq[k].fd = -1;
		loop_timer_init(&lk->sq[k].timer, on_subq_timeout, &lk->sq[k]);
	}
}

static struct resolve_lookup *lookup_alloc(struct resolver *r, struct bb_err *e)
{
	size_t i;

	if (r->in_flight >= r->cfg.max_lookups) {
		bb_errf(e, BB_ETOOBIG, "too many name lookups in flight (%u)", r->cfg.max_lookups);
		return NULL;
	}
	for (i = 0; i < r->cfg.max_lookups; i++) {
		struct resolve_lookup *lk = &r->lookups[i];

		if (!lk->in_use) {
			if (!lk->r) /* first use: slots are set up when taken, so an idle resolver's table is not resident */
				lookup_slot_init(r, lk);
			lk->in_use = 1;
			lk->ready = 0;
			lk->nsq = 0;
			r->in_flight++;
			return lk;
		}
	}
	bb_errf(e, BB_ETOOBIG, "too many name lookups in flight");
	return NULL;
}

int resolve_start(struct resolver *r, const char *name, size_t len, resolve_fn fn, void *arg,
		  struct resolve_lookup **handle, struct bb_err *e)
{
	struct resolve_lookup *lk;
	struct resolve_result res;
	struct netaddr lit;
	char lname[RESOLVE_NAME_MAX + 1];
	size_t i;
	int found;

	if (handle)
		*handle = NULL;
	if (!name || !fn)
		return bb_errf(e, BB_EINVAL, "resolve_start: no name or callback");
	if (len >= 2 && name[0] == '[' && name[len - 1] == ']') {
		if (netaddr_parse6(name + 1, len - 2, &lit, e) < 0)
			return -1;
		goto literal;
	}
	if (netaddr_host_is_ip(name, len)) {
		if (netaddr_parse(name, len, &lit, e) < 0)
			return -1;
		goto literal;
	}
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (check_host_name(name, len, e) < 0)
		return -1;
	for (i = 0; i < len; i++)
		lname[i] = ascii_lower(name[i]);
	lname[len] = '\0';
	memset(&res, 0, sizeof res);
	hosts_refresh(r);
	found = hosts_search(r->hosts_text.p ? r->hosts_text.p : "", r->hosts_text.len, lname, len, r->cfg.want_ipv6,
			     &res);
	if (found <= 0) {
		struct cache_entry *c = r->cfg.no_cache ? NULL : cache_find(r, lname, len);
		uint64_t now = loop_now(r->loop);

		found = c && c->expires_ms > now;
		if (found) {
			c->used_ms = now;
			res.naddrs = c->naddrs;
			memcpy(res.addrs, c->addrs, c->naddrs * sizeof c->addrs[0]);
			res.ttl_s = (uint32_t)((c->expires_ms - now) / 1000);
			res.source = RESOLVE_FROM_CACHE;
		}
	}
	lk = found > 0 ? lookup_alloc_ready(e) : lookup_alloc(r, e);
	if (!lk)
		return -1;
	memcpy(lk->name, lname, len + 1);
	lk->name_len = len;
	lk->fn = fn;
	lk->arg = arg;
	lk->res = res;
	if (!lk->ready) {
		conf_refresh(r);
		if (r->cfg.nservers) {
			memcpy(lk->servers, r->cfg.servers, sizeof lk->servers);
			lk->nservers = r->cfg.nservers;
		} else {
			memcpy(lk->servers, r->conf.servers, sizeof lk->servers);
			lk->nservers = r->conf.nservers;
		}
		lk->timeout_ms = r->cfg.timeout_ms ? r->cfg.timeout_ms : r->conf.timeout_ms;
		lk->attempts = r->cfg.attempts ? r->cfg.attempts : r->conf.attempts;
		if (dns_name_from_text(lk->name, len, &lk->qname, e) < 0) {
			lookup_release(r, lk);
			return -1;
		}
		lk->nsq = r->cfg.want_ipv6 ? 2 : 1;
		for (i = 0; i < lk->nsq; i++) {
			struct subq *sq = &lk->sq[i];

			sq->qtype = i == 0 ? DNS_TYPE_A : DNS_TYPE_AAAA;
			sq->fd = -1;
			sq->tcp = sq->tcp_writing = 0;
			sq->tries = sq->server = 0;
			sq->state = SQ_PENDING;
			sq->fail = FAIL_TIMEOUT;
			sq->fail_server = 0;
			sq->naddrs = 0;
		}
	}
	if (queue_push(r, lk, e) < 0) {
		lookup_release(r, lk);
		return -1;
	}
	if (handle)
		*handle = lk;
	return 0;

literal:
	lk = lookup_alloc_ready(e);
	if (!lk)
		return -1;
	snprintf(lk->name, sizeof lk->name, "%.*s", (int)(len > RESOLVE_NAME_MAX ? RESOLVE_NAME_MAX : len), name);
	lk->name_len = strlen(lk->name);
	lk->fn = fn;
	lk->arg = arg;
	memset(&lk->res, 0, sizeof lk->res);
	lk->res.naddrs = 1;
	lk->res.addrs[0] = lit;
	lk->res.source = RESOLVE_FROM_LITERAL;
	lk->ready = 1;
	if (queue_push(r, lk, e) < 0) {
		lookup_release(r, lk);
		return -1;
	}
	if (handle)
		*handle = lk;
	return 0;
}

void resolve_cancel(struct resolver *r, struct resolve_lookup *handle)
{
	if (handle && handle->in_use)
		lookup_release(r, handle);
}

size_t resolve_in_flight(const struct resolver *r)
{
	return r->in_flight;
}
