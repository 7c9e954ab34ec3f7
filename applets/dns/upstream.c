/* upstream.c - bb dns's forwarding: one fresh socket and random id per try, answers checked against the question, relayed or SERVFAIL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"
#include "fd.h"
#include "log.h"
#include "netaddr.h"

#define RESOLV_CONF_MAX (64u << 10)

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int rand16(struct dnsd *d, uint16_t *out)
{
	if (d->rand_left < 2) {
		ssize_t n = getrandom(d->rand_pool, sizeof d->rand_pool, 0);

		if (n != (ssize_t)sizeof d->rand_pool)
			return -1;
		d->rand_left = sizeof d->rand_pool;
	}
	d->rand_left -= 2;
	*out = (uint16_t)(d->rand_pool[d->rand_left] << 8 | d->rand_pool[d->rand_left + 1]);
	return 0;
}

static void server_text(const struct resolve_server *s, char *out, size_t cap)
{
	char a[NETADDR_TEXT_MAX];

	if (netaddr_format(&s->addr, a, sizeof a) < 0)
		snprintf(a, sizeof a, "?");
	snprintf(out, cap, s->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, s->port);
}

/* Close the current try's socket and answer buffer. */
static void try_close(struct dnsd *d, struct pending *p)
{
	loop_timer_cancel(&d->loop, &p->timer);
	if (p->fd >= 0) {
		loop_io_del(&d->loop, &p->io);
		close(p->fd);
		p->fd = -1;
	}
	free(p->answer);
	p->answer = NULL;
	p->answer_len = p->got = p->sent = 0;
}

void dnsd_pending_free(struct dnsd *d, struct pending *p)
{
	if (!p->used)
		return;
	try_close(d, p);
	if (p->conn)
		p->conn->p = NULL;
	p->conn = NULL;
	p->used = 0;
	d->npending--;
	if (d->stopping && d->npending == 0)
		loop_stop(&d->loop);
}

/* Done with p: free it, then let its TCP client go on with its next query. */
static void finish(struct dnsd *d, struct pending *p)
{
	struct tconn *conn = p->tcp ? p->conn : NULL;

	dnsd_pending_free(d, p);
	if (conn)
		dnsd_conn_query_done(conn);
}

/* SERVFAIL for a query we could not get answered (only the client's id, flags and question are left). */
static void send_servfail(struct dnsd *d, struct pending *p, const char *why)
{
	struct dns_writer w;
	struct dns_header h = { 0 };
	uint8_t out[512];
	char up[80];
	struct dnsserve_decision dec = p->dec;

	h.id = p->client.id;
	h.flags = (uint16_t)(DNS_FLAG_QR | DNS_FLAG_RA | (p->client_flags & (DNS_FLAG_RD | DNS_FLAG_CD)) |
			     DNS_RCODE_SERVFAIL);
	server_text(&d->up[p->server], up, sizeof up);
	dec.verdict = "error";
	dec.reason = "upstream failed";
	dnsd_log_query(d, p->tcp ? "tcp" : "udp", p->peer_text, &p->client.qname, p->qtype, &dec, p->rule,
		       DNS_RCODE_SERVFAIL, up,
		       loop_now(&d->loop) - p->started_ms, why);
	if (dns_writer_init(&w, out, sizeof out, &h, NULL) == 0 &&
	    dns_put_question(&w, &p->client.qname, p->qtype, DNS_CLASS_IN, NULL) == 0 &&
	    (!p->client.edns || dns_put_opt(&w, DNSSERVE_EDNS_SIZE, 0, 0, NULL) == 0))
		dnsd_send_to_client(d, p, out, w.len);
}

static void try_start(struct dnsd *d, struct pending *p);

static void try_fail(struct dnsd *d, struct pending *p, const char *why)
{
	p->fail_reason = why;
	p->tries++;
	if (p->tries >= d->max_tries) {
		try_close(d, p);
		send_servfail(d, p, why);
		finish(d, p);
		return;
	}
	p->server = (p->server + 1) % d->nup;
	try_start(d, p);
}

/*
 * An answer from the upstream: relayed to the client when it is the
 * answer to our question (1), else ignored (0: a stray or spoofed packet).
 */
static int deliver(struct dnsd *d, struct pending *p, const uint8_t *buf, size_t len)
{
	struct dns_msg r;
	struct bb_err e;
	uint8_t small[DNSSERVE_EDNS_SIZE], *out = small;
	size_t cap = sizeof small, n = 0;
	char up[80];
	unsigned rcode;

	if (dns_parse(buf, len, &r, NULL) < 0 ||
	    !dnsserve_upstream_matches(&r, p->up_id, &p->client.qname, p->qtype, DNS_CLASS_IN))
		return 0;
	if (p->tcp) {
		cap = len + 11 > 65535 ? 65535 : len + 11;
		out = malloc(cap);
		if (!out) {
			try_fail(d, p, "out of memory");
			return 1;
		}
	}
	if (dnsserve_relay(&r, &p->client, out, cap, &n, &e) < 0) {
		if (out != small)
			free(out);
		try_fail(d, p, "answer cannot be relayed");
		return 1;
	}
	rcode = DNS_RCODE(r.h.flags) | (r.edns.present ? (unsigned)r.edns.ext_rcode << 4 : 0);
	server_text(&d->up[p->server], up, sizeof up);
	dnsd_log_query(d, p->tcp ? "tcp" : "udp", p->peer_text, &p->client.qname, p->qtype, &p->dec, p->rule, rcode, up,
		       loop_now(&d->loop) - p->started_ms,
		       (out[2] & 0x02) && !(r.h.flags & DNS_FLAG_TC) ? "truncated to the client's size"
		       : (r.h.flags & DNS_FLAG_TC)                   ? "truncated by the upstream"
								     : "");
	dnsd_send_to_client(d, p, out, n);
	if (out != small)
		free(out);
	finish(d, p);
	return 1;
}

static void up_udp_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct pending *p = io->arg;
	struct dnsd *d = p->d;
	int i;

	(void)l;
	(void)ev;
	for (i = 0; i < 16; i++) {
		ssize_t n = recv(p->fd, d->rbuf, sizeof d->rbuf, 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			try_fail(d, p, errno == ECONNREFUSED ? "connection refused" : "receive failed");
			return;
		}
		if (deliver(d, p, d->rbuf, (size_t)n))
			return;
	}
}

static void up_tcp_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct pending *p = io->arg;
	struct dnsd *d = p->d;

	if (p->sent < p->qlen) {
		int err = 0;
		socklen_t el = sizeof err;

		if (p->sent == 0 && (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)) {
			try_fail(d, p, err == ECONNREFUSED ? "connection refused" : "connect failed");
			return;
		}
		while (p->sent < p->qlen) {
			ssize_t n = send(p->fd, p->query + p->sent, p->qlen - p->sent, MSG_NOSIGNAL);

			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return;
				try_fail(d, p, "send failed");
				return;
			}
			p->sent += (size_t)n;
		}
		loop_io_mod(l, io, EPOLLIN, NULL);
		return;
	}
	if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n;

		if (p->got < 2) {
			n = recv(p->fd, p->lenbuf + p->got, 2 - p->got, 0);
		} else {
			n = recv(p->fd, p->answer + (p->got - 2), p->answer_len - (p->got - 2), 0);
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			try_fail(d, p, n == 0 ? "closed by the upstream" : "receive failed");
			return;
		}
		p->got += (size_t)n;
		if (p->got == 2) {
			p->answer_len = (size_t)p->lenbuf[0] << 8 | p->lenbuf[1];
			if (p->answer_len < DNS_HEADER_LEN) {
				try_fail(d, p, "malformed answer");
				return;
			}
			p->answer = malloc(p->answer_len);
			if (!p->answer) {
				try_fail(d, p, "out of memory");
				return;
			}
		} else if (p->got == 2 + p->answer_len) {
			if (!deliver(d, p, p->answer, p->answer_len))
				try_fail(d, p, "answer does not match the question");
			return;
		}
	}
}

static void up_timer_cb(struct loop *l, struct loop_timer *t)
{
	struct pending *p = t->arg;

	(void)l;
	try_fail(p->d, p, "timed out");
}

static void try_start(struct dnsd *d, struct pending *p)
{
	const struct resolve_server *s = &d->up[p->server];
	struct sockaddr_storage ss;
	socklen_t sl;
	size_t idoff = p->tcp ? 2 : 0;
	int fd;

	try_close(d, p);
	if (rand16(d, &p->up_id) < 0) {
		try_fail(d, p, "no randomness");
		return;
	}
	put16(p->query + idoff, p->up_id);
	netaddr_to_sockaddr(&s->addr, s->port, &ss, &sl);
	fd = socket(ss.ss_family, (p->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		try_fail(d, p, errno == EMFILE || errno == ENFILE ? "out of file descriptors" : "socket failed");
		return;
	}
	/* Connected: the kernel picks a random source port and drops datagrams from anyone but the server. */
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int err = errno;

		close(fd);
		try_fail(d, p, err == ECONNREFUSED ? "connection refused" : "connect failed");
		return;
	}
	p->fd = fd;
	if (loop_io_add(&d->loop, &p->io, fd, p->tcp ? EPOLLOUT : EPOLLIN, p->tcp ? up_tcp_cb : up_udp_cb, p, NULL) < 0) {
		close(fd);
		p->fd = -1;
		try_fail(d, p, "cannot watch the socket");
		return;
	}
	loop_timer_set(&d->loop, &p->timer, d->try_ms, NULL);
	if (!p->tcp && send(fd, p->query, p->qlen, 0) < 0 && errno != EAGAIN)
		try_fail(d, p, errno == ECONNREFUSED ? "connection refused" : "send failed");
}

void dnsd_forward(struct dnsd *d, const struct dns_msg *q, const struct dnsserve_decision *dec, struct tconn *conn,
		  const struct sockaddr *peer, socklen_t peerlen, const char *peer_text)
{
	struct pending *p = NULL;
	struct bb_err e;
	size_t k;

	for (k = 0; k < d->max_pending; k++) {
		struct pending *o = &d->pend[k];

		/* A UDP client's retransmission while we still wait: the first answer serves both. */
		if (o->used && !conn && !o->tcp && o->peerlen == peerlen && !memcmp(&o->peer, peer, peerlen) &&
		    o->client.id == q->h.id && o->qtype == q->q.qtype && dns_name_eq(&o->client.qname, &q->q.name))
			return;
		if (!o->used && !p)
			p = o;
	}
	if (!p) {
		struct dnsserve_decision full = *dec;
		uint8_t out[600];
		size_t n;

		full.action = DNSSERVE_REPLY;
		full.rcode = DNS_RCODE_SERVFAIL;
		full.verdict = "error";
		full.reason = "too many queries in flight";
		char rule[DNSD_RULE_TEXT];

		dnsd_rule_text(d, dec->entry, rule, sizeof rule);
		dnsd_log_query(d, conn ? "tcp" : "udp", peer_text, &q->q.name, q->q.qtype, &full, rule, DNS_RCODE_SERVFAIL,
			       NULL, 0, NULL);
		if (dnsserve_reply(q, &d->cfg, &full, dnsserve_client_limit(q, conn != NULL), out, sizeof out, &n, NULL) == 0) {
			struct pending tmp = { 0 };

			tmp.tcp = conn != NULL;
			tmp.conn = conn;
			if (peer)
				memcpy(&tmp.peer, peer, peerlen);
			tmp.peerlen = peerlen;
			dnsd_send_to_client(d, &tmp, out, n);
		}
		return;
	}
	memset(p, 0, sizeof *p);
	p->d = d;
	p->fd = -1;
	p->tcp = conn != NULL;
	p->conn = conn;
	if (peer) {
		memcpy(&p->peer, peer, peerlen);
		p->peerlen = peerlen;
	}
	snprintf(p->peer_text, sizeof p->peer_text, "%s", peer_text);
	p->client.id = q->h.id;
	p->client.qname = q->q.name;
	p->client.edns = q->edns.present;
	p->client.limit = dnsserve_client_limit(q, p->tcp);
	p->client_flags = q->h.flags;
	p->qtype = q->q.qtype;
	p->dec = *dec;
	dnsd_rule_text(d, dec->entry, p->rule, sizeof p->rule);
	p->started_ms = loop_now(&d->loop);
	loop_timer_init(&p->timer, up_timer_cb, p);
	if (dnsserve_upstream_query(q, 0, p->tcp, p->query, sizeof p->query, &p->qlen, &e) < 0) {
		log_event(LOG_ERROR, "forward", "client", peer_text, "error", e.msg, (char *)NULL);
		return;
	}
	p->used = 1;
	d->npending++;
	if (conn)
		conn->p = p;
	try_start(d, p);
}

int dnsd_upstreams_from_conf(struct dnsd *d, struct bb_err *e)
{
	struct buf text = BUF_INIT(RESOLV_CONF_MAX);
	struct resolve_conf rc;
	struct bb_err re;
	const char *path = d->resolv_conf ? d->resolv_conf : "/etc/resolv.conf";
	size_t i;

	/* A missing file means 127.0.0.1, as libc reads it (and dnsd_check_upstreams catches a loop). */
	if (fd_read_file(path, RESOLV_CONF_MAX, &text, &re) < 0 && re.code != ENOENT) {
		buf_free(&text);
		return bb_errf(e, re.code, "%s", re.msg);
	}
	if (resolve_conf_parse(text.p ? text.p : "", text.len, &rc, e) < 0) {
		buf_free(&text);
		return -1;
	}
	buf_free(&text);
	if (rc.nservers == 0)
		return bb_errf(e, BB_EINVAL, "%s names no usable nameserver; give --upstream", path);
	for (i = 0; i < rc.nservers; i++)
		d->up[i] = rc.servers[i];
	d->nup = rc.nservers;
	return 0;
}

int dnsd_check_upstreams(const struct dnsd *d, struct bb_err *e)
{
	static const uint8_t zero[16];
	int listen_any = !memcmp(d->listen.addr.b, zero, sizeof zero);
	size_t i;

	for (i = 0; i < d->nup; i++) {
		const struct resolve_server *s = &d->up[i];
		enum netaddr_class c = netaddr_classify(&s->addr);
		char t[80];

		if (s->port != d->listen.port)
			continue;
		if (netaddr_eq(&s->addr, &d->listen.addr) ||
		    (listen_any && (c == NETADDR_LOOPBACK || c == NETADDR_UNSPECIFIED))) {
			server_text(s, t, sizeof t);
			return bb_errf(e, BB_EINVAL, "upstream %s is this server (%s): queries would loop", t, d->listen_spec);
		}
	}
	return 0;
}
