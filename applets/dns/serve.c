/* serve.c - bb dns's client side: the UDP socket and TCP listener, one decision per query, local replies, the decision log. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "netaddr.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void dnsd_peer_text(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
	struct netaddr a;
	char t[NETADDR_TEXT_MAX];
	unsigned port;

	if (netaddr_from_sockaddr(sa, len, &a, NULL) < 0 || netaddr_format(&a, t, sizeof t) < 0) {
		snprintf(out, cap, "?");
		return;
	}
	port = sa->sa_family == AF_INET ? ntohs(((const struct sockaddr_in *)sa)->sin_port)
					: ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	if (a.family == AF_INET6)
		snprintf(out, cap, "[%s]:%u", t, port);
	else
		snprintf(out, cap, "%s:%u", t, port);
}

void dnsd_rule_text(const struct dnsd *d, long entry, char *out, size_t cap)
{
	char t[DNS_NAME_TEXT_MAX];
	const struct dnsserve_entry *en;

	out[0] = '\0';
	if (entry < 0 || !d->pol || (size_t)entry >= d->pol->nentries)
		return;
	en = &d->pol->entries[entry];
	if (dns_name_to_text(&en->name, t, sizeof t) >= 0)
		snprintf(out, cap, "%s%s", en->wildcard ? "*." : "", t);
}

void dnsd_log_query(struct dnsd *d, const char *proto, const char *peer, const struct dns_name *qname, uint16_t qtype,
		    const struct dnsserve_decision *dec, const char *rule, unsigned rcode, const char *upstream, uint64_t ms,
		    const char *detail)
{
	char name[DNS_NAME_TEXT_MAX], type[16], rc[16], mstext[24];

	(void)d;
	if (!qname || dns_name_to_text(qname, name, sizeof name) < 0)
		name[0] = '\0';
	dnsserve_type_name(qname ? qtype : 0, type, sizeof type);
	dnsserve_rcode_name(rcode, rc, sizeof rc);
	if (upstream) {
		snprintf(mstext, sizeof mstext, "%llu", (unsigned long long)ms);
		log_event(rcode == DNS_RCODE_SERVFAIL ? LOG_WARN : LOG_INFO, "query", "proto", proto, "client", peer,
			  "name", name, "type", type, "verdict", dec->verdict, "reason", dec->reason, "rule", rule, "rcode",
			  rc, "upstream", upstream, "ms", mstext, "detail", detail ? detail : "", (char *)NULL);
	} else {
		log_event(strcmp(dec->verdict, "allow") ? LOG_WARN : LOG_INFO, "query", "proto", proto, "client", peer,
			  "name", name, "type", type, "verdict", dec->verdict, "reason", dec->reason, "rule", rule, "rcode",
			  rc, (char *)NULL);
	}
}

/* Malformed packets are logged at most DNSD_DROP_LOGS_PER_S a second, so garbage cannot flood the log. */
static void log_drop(struct dnsd *d, const char *proto, const char *peer, const char *reason)
{
	uint64_t now = loop_now(&d->loop);

	if (now - d->drop_window_ms >= 1000) {
		if (d->drop_suppressed) {
			char n[24];

			snprintf(n, sizeof n, "%u", d->drop_suppressed);
			log_event(LOG_WARN, "drop", "suppressed", n, "reason", "log rate limit", (char *)NULL);
		}
		d->drop_window_ms = now;
		d->drop_logged = 0;
		d->drop_suppressed = 0;
	}
	if (d->drop_logged < DNSD_DROP_LOGS_PER_S) {
		d->drop_logged++;
		log_event(LOG_WARN, "drop", "proto", proto, "client", peer, "reason", reason, (char *)NULL);
	} else {
		d->drop_suppressed++;
	}
}

/* ---- TCP clients ---- */

static void conn_close(struct tconn *c)
{
	struct dnsd *d = c->d;

	if (!c->used)
		return;
	if (c->p)
		dnsd_pending_free(d, c->p); /* the answer has nowhere to go */
	c->p = NULL;
	loop_io_del(&d->loop, &c->io);
	loop_timer_cancel(&d->loop, &c->idle);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->used = 0;
	d->nconns--;
}

static void conn_set_events(struct tconn *c)
{
	uint32_t ev = 0;

	if (c->out)
		ev = EPOLLOUT;
	else if (!c->p && !c->eof)
		ev = EPOLLIN;
	if (ev != c->io.events)
		loop_io_mod(&c->d->loop, &c->io, ev, NULL);
}

static void handle_query(struct dnsd *d, const uint8_t *buf, size_t len, struct tconn *conn,
			 const struct sockaddr *peer, socklen_t peerlen, const char *peer_text);

/* Answer the queries already read, one at a time; close once the client is done and so are we. */
static void conn_process(struct tconn *c)
{
	while (c->used && !c->p && !c->out && c->inlen >= 2) {
		uint8_t q[DNSD_QUERY_MAX];
		size_t qlen = (size_t)c->in[0] << 8 | c->in[1];

		if (qlen < DNS_HEADER_LEN || qlen > DNSD_QUERY_MAX) {
			log_drop(c->d, "tcp", c->peer_text, qlen < DNS_HEADER_LEN ? "shorter than a header" : "query too long");
			conn_close(c);
			return;
		}
		if (c->inlen < 2 + qlen)
			break;
		memcpy(q, c->in + 2, qlen);
		memmove(c->in, c->in + 2 + qlen, c->inlen - 2 - qlen);
		c->inlen -= 2 + qlen;
		handle_query(c->d, q, qlen, c, NULL, 0, c->peer_text);
	}
	if (!c->used)
		return;
	if (c->eof && !c->p && !c->out) {
		conn_close(c);
		return;
	}
	conn_set_events(c);
}

static void conn_flush(struct tconn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(c);
			return;
		}
		c->outoff += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->outlen = c->outoff = 0;
}

/* Queue one DNS message (length-prefixed) and write what the socket takes. */
static void conn_write(struct tconn *c, const uint8_t *msg, size_t len)
{
	free(c->out);
	c->out = malloc(len + 2);
	if (!c->out) {
		conn_close(c);
		return;
	}
	put16(c->out, (uint16_t)len);
	memcpy(c->out + 2, msg, len);
	c->outlen = len + 2;
	c->outoff = 0;
	conn_flush(c);
}

void dnsd_conn_query_done(struct tconn *c)
{
	if (!c->used)
		return;
	loop_timer_set(&c->d->loop, &c->idle, c->d->idle_ms, NULL);
	conn_process(c);
}

static void conn_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct tconn *c = io->arg;

	(void)l;
	if (ev & (EPOLLERR | EPOLLHUP) && !(ev & EPOLLIN)) {
		conn_close(c);
		return;
	}
	if (ev & EPOLLOUT && c->out) {
		conn_flush(c);
		if (!c->used)
			return;
	}
	if (ev & EPOLLIN && !c->p && !c->out && !c->eof) {
		ssize_t n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			conn_close(c);
			return;
		}
		if (n == 0)
			c->eof = 1; /* a client may half-close after its query: still answer it */
		c->inlen += (size_t)n;
		loop_timer_set(&c->d->loop, &c->idle, c->d->idle_ms, NULL);
	}
	conn_process(c);
}

static void conn_idle_cb(struct loop *l, struct loop_timer *t)
{
	struct tconn *c = t->arg;

	if (c->p || c->out) { /* the upstream's own timeouts bound this */
		loop_timer_set(l, t, c->d->idle_ms, NULL);
		return;
	}
	conn_close(c);
}

static void accept_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct dnsd *d = io->arg;
	int i;

	(void)ev;
	for (i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		struct tconn *c = NULL;
		size_t k;
		int fd = accept4(d->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_event(LOG_WARN, "limit", "what", "file descriptors", (char *)NULL);
			return;
		}
		for (k = 0; k < d->max_conns; k++)
			if (!d->conns[k].used) {
				c = &d->conns[k];
				break;
			}
		if (!c) {
			char peer[DNSD_PEER_TEXT];

			dnsd_peer_text((struct sockaddr *)&ss, sl, peer, sizeof peer);
			log_event(LOG_WARN, "limit", "what", "tcp connections", "client", peer, (char *)NULL);
			close(fd);
			continue;
		}
		memset(c, 0, sizeof *c);
		c->d = d;
		c->fd = fd;
		dnsd_peer_text((struct sockaddr *)&ss, sl, c->peer_text, sizeof c->peer_text);
		loop_timer_init(&c->idle, conn_idle_cb, c);
		if (loop_io_add(l, &c->io, fd, EPOLLIN, conn_cb, c, NULL) < 0) {
			close(fd);
			continue;
		}
		c->used = 1;
		d->nconns++;
		loop_timer_set(l, &c->idle, d->idle_ms, NULL);
	}
}

/* ---- one query ---- */

static void reply_local(struct dnsd *d, const struct dns_msg *q, const struct dnsserve_decision *dec,
			struct tconn *conn, const struct sockaddr *peer, socklen_t peerlen, const char *peer_text)
{
	uint8_t out[1024];
	size_t n = 0;
	struct bb_err e;
	char rule[DNSD_RULE_TEXT];

	if (dnsserve_reply(q, &d->cfg, dec, dnsserve_client_limit(q, conn != NULL), out, sizeof out, &n, &e) < 0) {
		log_event(LOG_ERROR, "reply", "client", peer_text, "error", e.msg, (char *)NULL);
		return;
	}
	dnsd_rule_text(d, dec->entry, rule, sizeof rule);
	dnsd_log_query(d, conn ? "tcp" : "udp", peer_text, q->has_question ? &q->q.name : NULL, q->q.qtype, dec, rule,
		       dec->action == DNSSERVE_ANSWER ? 0 : dec->rcode, NULL, 0, NULL);
	if (conn)
		conn_write(conn, out, n);
	else
		sendto(d->ufd, out, n, MSG_DONTWAIT, peer, peerlen);
}

static void handle_query(struct dnsd *d, const uint8_t *buf, size_t len, struct tconn *conn,
			 const struct sockaddr *peer, socklen_t peerlen, const char *peer_text)
{
	struct dns_msg q;
	struct dnsserve_decision dec;

	dnsserve_decide_packet(d->pol, &d->cfg, buf, len, &q, &dec);
	switch (dec.action) {
	case DNSSERVE_DROP:
		log_drop(d, conn ? "tcp" : "udp", peer_text, dec.reason);
		if (conn)
			conn_close(conn); /* a TCP client that sends garbage gets no more of our time */
		return;
	case DNSSERVE_REPLY:
	case DNSSERVE_ANSWER:
		reply_local(d, &q, &dec, conn, peer, peerlen, peer_text);
		return;
	case DNSSERVE_FORWARD:
		dnsd_forward(d, &q, &dec, conn, peer, peerlen, peer_text);
		return;
	}
}

void dnsd_send_to_client(struct dnsd *d, struct pending *p, const uint8_t *msg, size_t len)
{
	if (p->tcp) {
		if (p->conn)
			conn_write(p->conn, msg, len);
	} else {
		sendto(d->ufd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&p->peer, p->peerlen);
	}
}

static void udp_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct dnsd *d = io->arg;
	int i;

	(void)l;
	(void)ev;
	for (i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char peer[DNSD_PEER_TEXT];
		ssize_t n = recvfrom(d->ufd, d->rbuf, sizeof d->rbuf, MSG_TRUNC, (struct sockaddr *)&ss, &sl);

		if (n < 0)
			return; /* EAGAIN, or an ICMP error from an earlier reply */
		dnsd_peer_text((struct sockaddr *)&ss, sl, peer, sizeof peer);
		if ((size_t)n > DNSD_QUERY_MAX) {
			log_drop(d, "udp", peer, "query too long");
			continue;
		}
		handle_query(d, d->rbuf, (size_t)n, NULL, (struct sockaddr *)&ss, sl, peer);
		if (d->stopping)
			return;
	}
}

/* ---- listeners ---- */

static int bind_socket(struct dnsd *d, int type, struct bb_err *e)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	netaddr_to_sockaddr(&d->listen.addr, d->listen.port, &ss, &sl);
	fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bb_errno(e, errno, "socket");
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		int err = errno;

		close(fd);
		return bb_errno(e, err, "cannot listen on %s (%s)", d->listen_spec, type == SOCK_STREAM ? "tcp" : "udp");
	}
	return fd;
}

int dnsd_listen(struct dnsd *d, struct bb_err *e)
{
	if (d->ufd < 0 && (d->ufd = bind_socket(d, SOCK_DGRAM, e)) < 0) /* else inherited (--listen-fd) */
		return -1;
	if (d->lfd < 0 && (d->lfd = bind_socket(d, SOCK_STREAM, e)) < 0)
		return -1;
	if (loop_io_add(&d->loop, &d->uio, d->ufd, EPOLLIN, udp_cb, d, e) < 0 ||
	    loop_io_add(&d->loop, &d->lio, d->lfd, EPOLLIN, accept_cb, d, e) < 0)
		return -1;
	return 0;
}

void dnsd_stop_listening(struct dnsd *d)
{
	size_t k;

	/* The UDP socket stays open: answers still in flight leave through it. */
	loop_io_del(&d->loop, &d->uio);
	if (d->lfd >= 0) {
		loop_io_del(&d->loop, &d->lio);
		close(d->lfd);
		d->lfd = -1;
	}
	for (k = 0; k < d->max_conns; k++)
		if (d->conns[k].used && !d->conns[k].p && !d->conns[k].out)
			conn_close(&d->conns[k]);
}

void dnsd_close_conns(struct dnsd *d)
{
	size_t k;

	for (k = 0; k < d->max_conns; k++)
		conn_close(&d->conns[k]);
}
