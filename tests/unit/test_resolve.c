/* test_resolve.c - unit tests of lib/resolve: hosts, resolv.conf, failover, spoofing, TCP fallback, cache, cancel, and a real dnsmasq. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dnsmsg.h"
#include "resolve.h"
#include "t.h"

static char tmpdir[64];
static int t_skipped; /* the current case printed its own "skip - " line */

/* T_RUN for a case that may skip (a missing tool, no root). */
#define T_RUN_OR_SKIP(fn)                                       \
	do {                                                    \
		t_failed_case = 0;                              \
		t_skipped = 0;                                  \
		fn();                                           \
		if (t_failed_case) {                            \
			t_failures++;                           \
			printf("not ok - %s\n", #fn);           \
		} else if (!t_skipped) {                        \
			printf("ok - %s\n", #fn);               \
		}                                               \
		fflush(stdout);                                 \
	} while (0)

/* ---- a fake nameserver on the test's own loop ---- */

enum fake_mode {
	FAKE_ANSWER,   /* A/AAAA records: 192.0.2.1.. / 2001:db8::1.. */
	FAKE_SILENT,   /* never answers */
	FAKE_SERVFAIL,
	FAKE_REFUSED,
	FAKE_NXDOMAIN,
	FAKE_NODATA,   /* NOERROR, no records */
	FAKE_TC,       /* UDP: truncated, empty; TCP: the full answer */
	FAKE_SPOOF,    /* wrong id, wrong name, wrong type, a forged reply from another address, then the answer */
	FAKE_CNAME     /* CNAME to a target, the target's A, and an A for an unrelated owner */
};

struct fake {
	struct loop *l;
	enum fake_mode mode;
	int udp, tcp, conn, forger;
	struct loop_io uio, tio, cio;
	struct resolve_server at;
	unsigned nrecords; /* records per answer */
	uint32_t ttl;
	unsigned udp_queries, tcp_queries;
	uint16_t ids[512];
	uint16_t ports[512];
	size_t nids;
	uint8_t cbuf[1024];
	size_t clen;
};

static void addr_sa(const struct resolve_server *s, struct sockaddr_storage *ss, socklen_t *len)
{
	netaddr_to_sockaddr(&s->addr, s->port, ss, len);
}

/* A random 127.0.x.y with UDP and TCP bound on one port; 0 or -1. */
static int bind_pair(struct resolve_server *at, int *udp, int *tcp, uint16_t want_port)
{
	int tries;

	for (tries = 0; tries < 50; tries++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char text[32];
		int one = 1;

		snprintf(text, sizeof text, "127.0.%d.%d", 20 + rand() % 200, 2 + rand() % 250);
		netaddr_parse4(text, strlen(text), &at->addr, NULL);
		at->port = want_port;
		*udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		*tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		setsockopt(*tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		addr_sa(at, &ss, &sl);
		if (bind(*udp, (struct sockaddr *)&ss, sl) == 0) {
			struct sockaddr_in got;
			socklen_t gl = sizeof got;

			getsockname(*udp, (struct sockaddr *)&got, &gl);
			at->port = ntohs(got.sin_port);
			addr_sa(at, &ss, &sl);
			if (bind(*tcp, (struct sockaddr *)&ss, sl) == 0 && listen(*tcp, 8) == 0)
				return 0;
		} else if (errno == EACCES) {
			close(*udp);
			close(*tcp);
			return -1;
		}
		close(*udp);
		close(*tcp);
	}
	return -1;
}

static size_t fake_reply(struct fake *f, const struct dns_msg *q, uint8_t *out, size_t cap, int udp)
{
	struct dns_writer w;
	struct dns_header h = { q->h.id, DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA, 0, 0, 0, 0 };
	unsigned rcode = 0, i;
	uint16_t qt = q->q.qtype;

	switch (f->mode) {
	case FAKE_SERVFAIL: rcode = DNS_RCODE_SERVFAIL; break;
	case FAKE_REFUSED: rcode = DNS_RCODE_REFUSED; break;
	case FAKE_NXDOMAIN: rcode = DNS_RCODE_NXDOMAIN; break;
	default: break;
	}
	h.flags |= (uint16_t)rcode;
	if (f->mode == FAKE_TC && udp)
		h.flags |= DNS_FLAG_TC;
	if (dns_writer_init(&w, out, cap, &h, NULL) < 0 || dns_put_question(&w, &q->q.name, qt, q->q.qclass, NULL) < 0)
		return 0;
	if (rcode || f->mode == FAKE_NODATA || (f->mode == FAKE_TC && udp))
		return w.len;
	if (f->mode == FAKE_CNAME) {
		struct dns_name target, other;
		static const uint8_t a[] = { 198, 51, 100, 5 }, b[] = { 203, 0, 113, 9 };

		dns_name_from_text("target.example", 14, &target, NULL);
		dns_name_from_text("other.example", 13, &other, NULL);
		dns_put_rr(&w, DNS_SECTION_ANSWER, &other, DNS_TYPE_A, DNS_CLASS_IN, 5, b, 4, NULL);
		dns_put_rr(&w, DNS_SECTION_ANSWER, &q->q.name, DNS_TYPE_CNAME, DNS_CLASS_IN, 30, target.wire, target.len,
			   NULL);
		if (qt == DNS_TYPE_A)
			dns_put_rr(&w, DNS_SECTION_ANSWER, &target, DNS_TYPE_A, DNS_CLASS_IN, 600, a, 4, NULL);
		return w.len;
	}
	for (i = 0; i < f->nrecords; i++) {
		uint8_t rd[16] = { 0 };

		if (qt == DNS_TYPE_A) {
			rd[0] = 192, rd[1] = 0, rd[2] = 2, rd[3] = (uint8_t)(i + 1);
			if (dns_put_rr(&w, DNS_SECTION_ANSWER, &q->q.name, qt, DNS_CLASS_IN, f->ttl, rd, 4, NULL) < 0)
				break;
		} else if (qt == DNS_TYPE_AAAA) {
			rd[0] = 0x20, rd[1] = 0x01, rd[2] = 0x0d, rd[3] = 0xb8, rd[15] = (uint8_t)(i + 1);
			if (dns_put_rr(&w, DNS_SECTION_ANSWER, &q->q.name, qt, DNS_CLASS_IN, f->ttl, rd, 16, NULL) < 0)
				break;
		}
	}
	return w.len;
}

static void fake_on_udp(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct fake *f = io->arg;
	uint8_t in[1500], out[1500];
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	ssize_t n;

	while ((n = recvfrom(f->udp, in, sizeof in, 0, (struct sockaddr *)&from, &fl)) > 0) {
		struct dns_msg q;
		size_t len;

		if (dns_parse(in, (size_t)n, &q, NULL) < 0 || !q.has_question)
			continue;
		f->udp_queries++;
		if (f->nids < 512) {
			f->ids[f->nids] = q.h.id;
			f->ports[f->nids++] = ntohs(((struct sockaddr_in *)&from)->sin_port);
		}
		if (f->mode == FAKE_SILENT)
			continue;
		len = fake_reply(f, &q, out, f->mode == FAKE_TC ? 512 : sizeof out, 1);
		if (f->mode == FAKE_SPOOF && len >= 4) {
			/* Every junk reply carries 203.0.113.66: accepting any of them shows in the result. */
			uint8_t forged[1500], bad[1500];
			struct dns_name other;

			memcpy(forged, out, len);
			forged[len - 4] = 203, forged[len - 3] = 0, forged[len - 2] = 113, forged[len - 1] = 66;
			memcpy(bad, forged, len);
			bad[0] ^= 0x55; /* wrong id */
			sendto(f->udp, bad, len, 0, (struct sockaddr *)&from, fl);
			/* Right id, another name in the question (same length, so the message stays valid). */
			memcpy(bad, forged, len);
			dns_name_from_text("spoof", 5, &other, NULL);
			if (q.q.name.len == other.len)
				memcpy(bad + 12, other.wire, other.len);
			else
				bad[13] ^= 0x01;
			sendto(f->udp, bad, len, 0, (struct sockaddr *)&from, fl);
			/* Right id and name, another type in the question. */
			memcpy(bad, forged, len);
			bad[12 + q.q.name.len + 1] ^= 0x02;
			sendto(f->udp, bad, len, 0, (struct sockaddr *)&from, fl);
			/* Not a response (QR clear). */
			memcpy(bad, forged, len);
			bad[2] &= 0x7f;
			sendto(f->udp, bad, len, 0, (struct sockaddr *)&from, fl);
			/* All right, but from another address: the kernel must drop it (connected socket). */
			sendto(f->forger, forged, len, 0, (struct sockaddr *)&from, fl);
			/* Garbage. */
			sendto(f->udp, "\x01\x02\x03", 3, 0, (struct sockaddr *)&from, fl);
		}
		sendto(f->udp, out, len, 0, (struct sockaddr *)&from, fl);
		fl = sizeof from;
	}
}

static void fake_on_conn(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct fake *f = io->arg;
	ssize_t n = read(f->conn, f->cbuf + f->clen, sizeof f->cbuf - f->clen);
	size_t need;

	if (n <= 0) {
		loop_io_del(l, &f->cio);
		close(f->conn);
		f->conn = -1;
		return;
	}
	f->clen += (size_t)n;
	if (f->clen < 2)
		return;
	need = (size_t)(f->cbuf[0] << 8 | f->cbuf[1]);
	if (f->clen >= 2 + need) {
		struct dns_msg q;
		uint8_t out[4096];

		f->tcp_queries++;
		if (dns_parse(f->cbuf + 2, need, &q, NULL) == 0 && q.has_question) {
			size_t len = fake_reply(f, &q, out + 2, sizeof out - 2, 0);

			out[0] = (uint8_t)(len >> 8);
			out[1] = (uint8_t)len;
			/* In two writes, to exercise the reader's reassembly. */
			if (write(f->conn, out, 7) != 7 || write(f->conn, out + 7, len - 5) < 0)
				printf("#   fake: TCP write failed\n");
		}
		f->clen = 0;
	}
}

static void fake_on_accept(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct fake *f = io->arg;
	int c = accept4(f->tcp, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0)
		return;
	if (f->conn >= 0) {
		loop_io_del(l, &f->cio);
		close(f->conn);
	}
	f->conn = c;
	f->clen = 0;
	loop_io_add(l, &f->cio, c, EPOLLIN, fake_on_conn, f, NULL);
}

static int fake_start(struct fake *f, struct loop *l, enum fake_mode mode)
{
	struct sockaddr_in forge;

	memset(f, 0, sizeof *f);
	f->l = l;
	f->mode = mode;
	f->conn = -1;
	f->nrecords = 2;
	f->ttl = 120;
	if (bind_pair(&f->at, &f->udp, &f->tcp, 0) < 0)
		return -1;
	f->forger = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&forge, 0, sizeof forge);
	forge.sin_family = AF_INET;
	forge.sin_addr.s_addr = htonl(0x7f000001 + 0x10000 * (uint32_t)(1 + rand() % 10) + 7);
	bind(f->forger, (struct sockaddr *)&forge, sizeof forge);
	loop_io_add(l, &f->uio, f->udp, EPOLLIN, fake_on_udp, f, NULL);
	loop_io_add(l, &f->tio, f->tcp, EPOLLIN, fake_on_accept, f, NULL);
	return 0;
}

static void fake_stop(struct fake *f)
{
	loop_io_del(f->l, &f->uio);
	loop_io_del(f->l, &f->tio);
	close(f->udp);
	close(f->tcp);
	close(f->forger);
	if (f->conn >= 0) {
		loop_io_del(f->l, &f->cio);
		close(f->conn);
	}
}

/* ---- helpers ---- */

struct got {
	int calls;
	int ok;
	struct resolve_result res;
	char err[BB_ERR_MSG_MAX];
	int in_start; /* set while resolve_start runs: a callback then is a bug */
	int sync_call;
};

static void on_result(void *arg, const struct resolve_result *res, const struct bb_err *err)
{
	struct got *g = arg;

	g->calls++;
	if (g->in_start)
		g->sync_call = 1;
	if (res) {
		g->ok = 1;
		g->res = *res;
	} else {
		g->ok = 0;
		snprintf(g->err, sizeof g->err, "%s", err ? err->msg : "(no error)");
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void run_until(struct loop *l, const int *calls, int want, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (*calls < want && now_ms() < end)
		loop_run_once(l, 20, NULL);
}

static int lookup(struct resolver *r, struct loop *l, const char *name, struct got *g)
{
	struct bb_err e;
	int rc;

	memset(g, 0, sizeof *g);
	g->in_start = 1;
	rc = resolve_start(r, name, strlen(name), on_result, g, NULL, &e);
	g->in_start = 0;
	if (rc < 0) {
		snprintf(g->err, sizeof g->err, "%s", e.msg);
		return -1;
	}
	run_until(l, &g->calls, 1, 10000);
	return 0;
}

static int has_addr(const struct resolve_result *res, const char *text)
{
	struct netaddr a;
	size_t i;

	if (netaddr_parse(text, strlen(text), &a, NULL) < 0)
		return 0;
	for (i = 0; i < res->naddrs; i++)
		if (netaddr_eq(&res->addrs[i], &a))
			return 1;
	return 0;
}

static const char *write_tmp(const char *base, const char *text)
{
	static char path[4][128];
	static int k;
	char *p = path[k++ % 4];
	int fd;

	snprintf(p, 128, "%s/%s", tmpdir, base);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		printf("#   cannot write %s\n", p);
	close(fd);
	return p;
}

/* A config that reads no system file: an empty hosts file, the given servers. */
static struct resolve_config cfg_for(const struct fake *a, const struct fake *b)
{
	struct resolve_config c;

	memset(&c, 0, sizeof c);
	c.hosts_path = write_tmp("hosts.empty", "");
	c.resolv_conf_path = "/nonexistent/resolv.conf";
	if (a)
		c.servers[c.nservers++] = a->at;
	if (b)
		c.servers[c.nservers++] = b->at;
	c.timeout_ms = 300;
	c.attempts = 2;
	return c;
}

/* ---- cases ---- */

static void server_parse(void)
{
	struct resolve_server s;
	struct bb_err e;
	char t[64];

	T_CHECK(resolve_server_parse("127.0.0.5:5353", 14, &s, NULL) == 0 && s.port == 5353);
	netaddr_format(&s.addr, t, sizeof t);
	T_STREQ(t, "127.0.0.5");
	T_CHECK(resolve_server_parse("9.9.9.9", 7, &s, NULL) == 0 && s.port == 53);
	T_CHECK(resolve_server_parse("[::1]:53000", 11, &s, NULL) == 0 && s.port == 53000 && s.addr.family == AF_INET6);
	T_CHECK(resolve_server_parse("[2001:db8::1]", 13, &s, NULL) == 0 && s.port == 53);
	T_CHECK(resolve_server_parse("2001:db8::1", 11, &s, NULL) == 0 && s.port == 53);
	T_CHECK(resolve_server_parse("127.0.0.5:0", 11, &s, &e) < 0);
	T_CHECK(resolve_server_parse("127.0.0.5:65536", 15, &s, &e) < 0);
	T_CHECK(resolve_server_parse("127.0.0.5:053", 13, &s, &e) < 0);
	T_CHECK(resolve_server_parse("127.1:53", 8, &s, &e) < 0 && strstr(e.msg, "not a canonical IPv4"));
	T_CHECK(resolve_server_parse("[::1]x", 6, &s, &e) < 0);
	T_CHECK(resolve_server_parse("[::1", 4, &s, &e) < 0);
	T_CHECK(resolve_server_parse("", 0, &s, &e) < 0);
}

static void conf_parse(void)
{
	static const char text[] = "# comment\n"
				   "; another\n"
				   "search example.com\n"
				   "nameserver 10.0.0.1\n"
				   "nameserver fe80::1%eth0\n"
				   "nameserver bogus\n"
				   "nameserver   2001:db8::53  \n"
				   "\tnameserver 10.0.0.3\n"
				   "nameserver 10.0.0.4\n"
				   "options ndots:2 timeout:3 attempts:9 rotate\n";
	struct resolve_conf c;
	char t[64];

	T_CHECK(resolve_conf_parse(text, sizeof text - 1, &c, NULL) == 0);
	T_CHECK(c.nservers == 3);
	netaddr_format(&c.servers[0].addr, t, sizeof t);
	T_STREQ(t, "10.0.0.1");
	netaddr_format(&c.servers[1].addr, t, sizeof t);
	T_STREQ(t, "2001:db8::53");
	netaddr_format(&c.servers[2].addr, t, sizeof t);
	T_STREQ(t, "10.0.0.3");
	T_CHECK(c.servers[0].port == 53);
	T_CHECK(c.timeout_ms == 3000 && c.attempts == 5);
	T_CHECK(resolve_conf_parse("options timeout:0 attempts:0\n", 29, &c, NULL) == 0);
	T_CHECK(c.timeout_ms == 1000 && c.attempts == 1 && c.nservers == 1);
	netaddr_format(&c.servers[0].addr, t, sizeof t);
	T_STREQ(t, "127.0.0.1");
	T_CHECK(resolve_conf_parse("", 0, &c, NULL) == 0 && c.timeout_ms == 5000 && c.attempts == 2);
	/* No final newline, and a "nameserver" prefix that is another word. */
	T_CHECK(resolve_conf_parse("nameservers 1.1.1.1\nnameserver 8.8.8.8", 38, &c, NULL) == 0 && c.nservers == 1);
	netaddr_format(&c.servers[0].addr, t, sizeof t);
	T_STREQ(t, "8.8.8.8");
}

static void hosts_file(void)
{
	const char *path = write_tmp("hosts", "127.0.0.1 localhost\n"
					      "# 10.9.9.9 commented.example\n"
					      "10.1.1.1   Gitea.Internal  gitea # the forge\n"
					      "::1 localhost ip6-localhost\n"
					      "10.1.1.2 gitea.internal\n"
					      "fd00::5 gitea.internal\n"
					      "127.1 short.example\n"
					      "2001:db8::7 only6.example\n"
					      "10.1.1.1 gitea.internal\n");
	struct resolve_result res;
	struct bb_err e;
	char t[64];

	T_CHECK(resolve_hosts_lookup(path, "gitea.internal", 14, 0, &res, NULL) == 1);
	T_CHECK(res.naddrs == 2 && res.source == RESOLVE_FROM_HOSTS); /* the repeated 10.1.1.1 counted once */
	netaddr_format(&res.addrs[0], t, sizeof t);
	T_STREQ(t, "10.1.1.1");
	T_CHECK(has_addr(&res, "10.1.1.2"));
	T_CHECK(resolve_hosts_lookup(path, "GITEA.internal.", 15, 1, &res, NULL) == 1 && res.naddrs == 3);
	T_CHECK(has_addr(&res, "fd00::5"));
	netaddr_format(&res.addrs[2], t, sizeof t); /* IPv4 first */
	T_STREQ(t, "fd00::5");
	T_CHECK(resolve_hosts_lookup(path, "gitea", 5, 0, &res, NULL) == 1 && res.naddrs == 1);
	T_CHECK(resolve_hosts_lookup(path, "commented.example", 17, 0, &res, NULL) == 0);
	T_CHECK(resolve_hosts_lookup(path, "short.example", 13, 0, &res, NULL) == 0); /* 127.1 is not an address */
	T_CHECK(resolve_hosts_lookup(path, "only6.example", 13, 0, &res, NULL) == 0);
	T_CHECK(resolve_hosts_lookup(path, "only6.example", 13, 1, &res, NULL) == 1);
	T_CHECK(resolve_hosts_lookup(path, "gitea.internal.x", 16, 0, &res, NULL) == 0);
	T_CHECK(resolve_hosts_lookup("/nonexistent/hosts", "a", 1, 0, &res, &e) == 0);
	T_CHECK(resolve_hosts_lookup(tmpdir, "a", 1, 0, &res, &e) < 0); /* a directory: unreadable */
}

static void literals_and_bad_names(void)
{
	struct loop l;
	struct resolver *r = NULL;
	struct resolve_config c = cfg_for(NULL, NULL);
	struct got g;

	c.servers[0].port = 9; /* never asked */
	netaddr_parse4("127.0.0.9", 9, &c.servers[0].addr, NULL);
	c.nservers = 1;
	loop_init(&l, NULL);
	T_CHECK(resolver_new(&r, &l, &c, NULL) == 0);
	T_CHECK(lookup(r, &l, "93.184.216.34", &g) == 0 && g.ok && g.res.source == RESOLVE_FROM_LITERAL &&
		has_addr(&g.res, "93.184.216.34") && !g.sync_call);
	T_CHECK(lookup(r, &l, "[2001:db8::1]", &g) == 0 && g.ok && has_addr(&g.res, "2001:db8::1"));
	T_CHECK(lookup(r, &l, "2001:db8::2", &g) == 0 && g.ok);
	T_CHECK(lookup(r, &l, "127.1", &g) < 0 && strstr(g.err, "not a canonical IPv4 address") && g.calls == 0);
	T_CHECK(lookup(r, &l, "0x7f000001", &g) < 0 && strstr(g.err, "not a canonical IPv4 address"));
	T_CHECK(lookup(r, &l, "2130706433", &g) < 0);
	T_CHECK(lookup(r, &l, "a..b", &g) < 0);
	T_CHECK(lookup(r, &l, "exa mple.com", &g) < 0);
	T_CHECK(lookup(r, &l, "", &g) < 0);
	T_CHECK(lookup(r, &l, "evil.com/x", &g) < 0);
	T_CHECK(lookup(r, &l, "[::1", &g) < 0);
	{
		char big[300];

		memset(big, 'a', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		T_CHECK(lookup(r, &l, big, &g) < 0);
	}
	T_CHECK(resolve_in_flight(r) == 0);
	resolver_free(r);
	loop_fini(&l);
}

/* No resolv.conf and no override: 127.0.0.1:53, as libc (whatever answers there, the lookup must try it). */
static void missing_resolv_conf_means_localhost(void)
{
	struct loop l;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;

	memset(&c, 0, sizeof c);
	c.hosts_path = write_tmp("hosts.empty", "");
	c.resolv_conf_path = "/nonexistent/resolv.conf";
	c.timeout_ms = 300;
	c.attempts = 1;
	loop_init(&l, NULL);
	T_CHECK(resolver_new(&r, &l, &c, NULL) == 0);
	T_CHECK(lookup(r, &l, "nothing.invalid", &g) == 0 && !g.ok);
	if (!strstr(g.err, "127.0.0.1:53") && !strstr(g.err, "no such domain"))
		printf("#   %s\n", g.err);
	T_CHECK(strstr(g.err, "127.0.0.1:53") || strstr(g.err, "no such domain"));
	resolver_free(r);
	loop_fini(&l);
}

static void hosts_before_dns(void)
{
	struct loop l;
	struct fake f;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;

	loop_init(&l, NULL);
	if (fake_start(&f, &l, FAKE_ANSWER) < 0) {
		T_CHECK(0);
		return;
	}
	c = cfg_for(&f, NULL);
	c.hosts_path = write_tmp("hosts.mapped", "10.20.30.40 mapped.test\n");
	resolver_new(&r, &l, &c, NULL);
	T_CHECK(lookup(r, &l, "Mapped.Test.", &g) == 0 && g.ok && g.res.source == RESOLVE_FROM_HOSTS &&
		g.res.naddrs == 1 && has_addr(&g.res, "10.20.30.40") && !g.sync_call);
	T_CHECK(f.udp_queries == 0);
	/* The hosts file is read per lookup: an edit takes effect at once (tests bind-mount one). */
	write_tmp("hosts.mapped", "10.20.30.41 mapped.test\n");
	T_CHECK(lookup(r, &l, "mapped.test", &g) == 0 && g.ok && has_addr(&g.res, "10.20.30.41"));
	/* A name not there goes to DNS. */
	T_CHECK(lookup(r, &l, "dns.test", &g) == 0 && g.ok && g.res.source == RESOLVE_FROM_DNS && f.udp_queries == 1);
	resolver_free(r);
	fake_stop(&f);
	loop_fini(&l);
}

static void answer_and_cache(void)
{
	struct loop l;
	struct fake f;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;

	loop_init(&l, NULL);
	if (fake_start(&f, &l, FAKE_ANSWER) < 0) {
		T_CHECK(0);
		return;
	}
	f.nrecords = 3;
	f.ttl = 1000;
	c = cfg_for(&f, NULL);
	c.cache_ttl_max_s = 60;
	resolver_new(&r, &l, &c, NULL);
	T_CHECK(lookup(r, &l, "www.example.test", &g) == 0 && g.ok && !g.sync_call);
	T_CHECK(g.res.source == RESOLVE_FROM_DNS && g.res.naddrs == 3 && g.res.ttl_s == 1000);
	T_CHECK(has_addr(&g.res, "192.0.2.1") && has_addr(&g.res, "192.0.2.3"));
	/* Cached, capped at 60 s, under any letter case. */
	T_CHECK(lookup(r, &l, "WWW.example.test.", &g) == 0 && g.ok && g.res.source == RESOLVE_FROM_CACHE &&
		g.res.ttl_s <= 60 && g.res.ttl_s >= 59 && g.res.naddrs == 3 && !g.sync_call);
	T_CHECK(f.udp_queries == 1);
	resolve_cache_clear(r);
	T_CHECK(lookup(r, &l, "www.example.test", &g) == 0 && g.ok && g.res.source == RESOLVE_FROM_DNS);
	T_CHECK(f.udp_queries == 2);
	/* TTL 0 answers are not cached. */
	f.ttl = 0;
	T_CHECK(lookup(r, &l, "zero.example.test", &g) == 0 && g.ok);
	T_CHECK(lookup(r, &l, "zero.example.test", &g) == 0 && g.ok && g.res.source == RESOLVE_FROM_DNS);
	T_CHECK(f.udp_queries == 4);
	resolver_free(r);
	/* no_cache and a one-entry cache (LRU replacement). */
	f.ttl = 100;
	c.cache_entries = 1;
	resolver_new(&r, &l, &c, NULL);
	lookup(r, &l, "one.test", &g);
	lookup(r, &l, "two.test", &g);
	T_CHECK(lookup(r, &l, "two.test", &g) == 0 && g.res.source == RESOLVE_FROM_CACHE);
	T_CHECK(lookup(r, &l, "one.test", &g) == 0 && g.res.source == RESOLVE_FROM_DNS);
	resolver_free(r);
	c.no_cache = 1;
	resolver_new(&r, &l, &c, NULL);
	lookup(r, &l, "one.test", &g);
	T_CHECK(lookup(r, &l, "one.test", &g) == 0 && g.res.source == RESOLVE_FROM_DNS);
	resolver_free(r);
	fake_stop(&f);
	loop_fini(&l);
}

static void cname_chain(void)
{
	struct loop l;
	struct fake f;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;

	loop_init(&l, NULL);
	if (fake_start(&f, &l, FAKE_CNAME) < 0) {
		T_CHECK(0);
		return;
	}
	c = cfg_for(&f, NULL);
	resolver_new(&r, &l, &c, NULL);
	T_CHECK(lookup(r, &l, "alias.example", &g) == 0 && g.ok);
	/* The chain's address only; the unrelated owner's is ignored; TTL is the chain's minimum. */
	T_CHECK(g.res.naddrs == 1 && has_addr(&g.res, "198.51.100.5") && !has_addr(&g.res, "203.0.113.9"));
	T_CHECK(g.res.ttl_s == 30);
	resolver_free(r);
	fake_stop(&f);
	loop_fini(&l);
}

static void negative_answers(void)
{
	struct loop l;
	struct fake a, b;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;

	loop_init(&l, NULL);
	if (fake_start(&a, &l, FAKE_NXDOMAIN) < 0 || fake_start(&b, &l, FAKE_ANSWER) < 0) {
		T_CHECK(0);
		return;
	}
	c = cfg_for(&a, &b);
	resolver_new(&r, &l, &c, NULL);
	/* NXDOMAIN is an answer: the second server is not asked. */
	T_CHECK(lookup(r, &l, "nope.test", &g) == 0 && !g.ok && strstr(g.err, "nope.test: no such domain"));
	T_CHECK(a.udp_queries == 1 && b.udp_queries == 0);
	/* Nor cached. */
	T_CHECK(lookup(r, &l, "nope.test", &g) == 0 && !g.ok && a.udp_queries == 2);
	a.mode = FAKE_NODATA;
	T_CHECK(lookup(r, &l, "empty.test", &g) == 0 && !g.ok && strstr(g.err, "no address records"));
	T_CHECK(b.udp_queries == 0);
	resolver_free(r);
	fake_stop(&a);
	fake_stop(&b);
	loop_fini(&l);
}

static void failover(void)
{
	struct loop l;
	struct fake a, b;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;
	uint64_t t0;

	loop_init(&l, NULL);
	if (fake_start(&a, &l, FAKE_SERVFAIL) < 0 || fake_start(&b, &l, FAKE_ANSWER) < 0) {
		T_CHECK(0);
		return;
	}
	c = cfg_for(&a, &b);
	c.no_cache = 1;
	resolver_new(&r, &l, &c, NULL);
	T_CHECK(lookup(r, &l, "x.test", &g) == 0 && g.ok && a.udp_queries == 1 && b.udp_queries == 1);
	a.mode = FAKE_REFUSED;
	T_CHECK(lookup(r, &l, "x.test", &g) == 0 && g.ok && a.udp_queries == 2 && b.udp_queries == 2);
	/* A silent first server costs one timeout (300 ms), then the second answers. */
	a.mode = FAKE_SILENT;
	t0 = now_ms();
	T_CHECK(lookup(r, &l, "x.test", &g) == 0 && g.ok);
	T_CHECK(now_ms() - t0 >= 290 && now_ms() - t0 < 2000);
	T_CHECK(a.udp_queries == 3 && b.udp_queries == 3);
	/* Both silent: attempts x servers tries, then a message naming the last one. */
	b.mode = FAKE_SILENT;
	t0 = now_ms();
	T_CHECK(lookup(r, &l, "x.test", &g) == 0 && !g.ok);
	T_CHECK(strstr(g.err, "x.test: no answer after 4 tries on 2 nameservers") && strstr(g.err, "timed out"));
	T_CHECK(now_ms() - t0 >= 4 * 290);
	T_CHECK(a.udp_queries == 5 && b.udp_queries == 5);
	/* Both failing: the message says how. */
	a.mode = b.mode = FAKE_SERVFAIL;
	T_CHECK(lookup(r, &l, "x.test", &g) == 0 && !g.ok && strstr(g.err, "server failure"));
	resolver_free(r);
	fake_stop(&a);
	fake_stop(&b);
	loop_fini(&l);
}

/* A server port with nothing behind it answers ICMP port unreachable: no waiting for the timeout. */
static void unreachable_server_skipped_fast(void)
{
	struct loop l;
	struct fake a, b;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;
	uint64_t t0;

	loop_init(&l, NULL);
	if (fake_start(&a, &l, FAKE_ANSWER) < 0 || fake_start(&b, &l, FAKE_ANSWER) < 0) {
		T_CHECK(0);
		return;
	}
	c = cfg_for(&a, &b);
	c.timeout_ms = 3000;
	fake_stop(&a); /* a's port is closed now */
	resolver_new(&r, &l, &c, NULL);
	t0 = now_ms();
	T_CHECK(lookup(r, &l, "x.test", &g) == 0 && g.ok && b.udp_queries == 1);
	T_CHECK(now_ms() - t0 < 1000);
	resolver_free(r);
	fake_stop(&b);
	loop_fini(&l);
}

static void spoofed_replies_ignored(void)
{
	struct loop l;
	struct fake f;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;

	loop_init(&l, NULL);
	if (fake_start(&f, &l, FAKE_SPOOF) < 0) {
		T_CHECK(0);
		return;
	}
	f.nrecords = 1;
	c = cfg_for(&f, NULL);
	resolver_new(&r, &l, &c, NULL);
	T_CHECK(lookup(r, &l, "bank.test", &g) == 0 && g.ok);
	T_CHECK(g.res.naddrs == 1 && has_addr(&g.res, "192.0.2.1") && !has_addr(&g.res, "203.0.113.66"));
	T_CHECK(f.udp_queries == 1); /* answered on the first try: the junk did not derail it */
	resolver_free(r);
	fake_stop(&f);
	loop_fini(&l);
}

static void truncated_goes_tcp(void)
{
	struct loop l;
	struct fake f;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;

	loop_init(&l, NULL);
	if (fake_start(&f, &l, FAKE_TC) < 0) {
		T_CHECK(0);
		return;
	}
	f.nrecords = 40; /* 40 A records: more than 512 bytes */
	c = cfg_for(&f, NULL);
	resolver_new(&r, &l, &c, NULL);
	T_CHECK(lookup(r, &l, "big.test", &g) == 0 && g.ok);
	T_CHECK(g.res.naddrs == RESOLVE_MAX_ADDRS && has_addr(&g.res, "192.0.2.16"));
	T_CHECK(f.udp_queries == 1 && f.tcp_queries == 1);
	resolver_free(r);
	fake_stop(&f);
	loop_fini(&l);
}

static void ipv6_too(void)
{
	struct loop l;
	struct fake f;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;
	char t[64];

	loop_init(&l, NULL);
	if (fake_start(&f, &l, FAKE_ANSWER) < 0) {
		T_CHECK(0);
		return;
	}
	f.nrecords = 2;
	c = cfg_for(&f, NULL);
	c.want_ipv6 = 1;
	resolver_new(&r, &l, &c, NULL);
	T_CHECK(lookup(r, &l, "dual.test", &g) == 0 && g.ok && g.res.naddrs == 4 && f.udp_queries == 2);
	netaddr_format(&g.res.addrs[0], t, sizeof t);
	T_STREQ(t, "192.0.2.1");
	netaddr_format(&g.res.addrs[3], t, sizeof t);
	T_STREQ(t, "2001:db8::2");
	/* Only AAAA: still an answer (the CNAME fake answers A only, AAAA has no data). */
	f.mode = FAKE_CNAME;
	T_CHECK(lookup(r, &l, "cname.test", &g) == 0 && g.ok && g.res.naddrs == 1);
	resolver_free(r);
	fake_stop(&f);
	loop_fini(&l);
}

static void ids_and_ports_random(void)
{
	struct loop l;
	struct fake f;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;
	size_t i, j, same_id = 0, same_port = 0;

	loop_init(&l, NULL);
	if (fake_start(&f, &l, FAKE_ANSWER) < 0) {
		T_CHECK(0);
		return;
	}
	c = cfg_for(&f, NULL);
	c.no_cache = 1;
	resolver_new(&r, &l, &c, NULL);
	for (i = 0; i < 64; i++)
		lookup(r, &l, "rand.test", &g);
	T_CHECK(f.nids == 64);
	for (i = 0; i < f.nids; i++)
		for (j = i + 1; j < f.nids; j++) {
			same_id += f.ids[i] == f.ids[j];
			same_port += f.ports[i] == f.ports[j];
		}
	/* 64 draws from 65536 values: a few collisions at most; a counter or a fixed port would give thousands. */
	T_CHECK(same_id < 8);
	T_CHECK(same_port < 16);
	resolver_free(r);
	fake_stop(&f);
	loop_fini(&l);
}

static void cancel_and_limits(void)
{
	struct loop l;
	struct fake f;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct resolve_lookup *h1, *h2, *h3;
	struct got g1, g2, g3;
	struct bb_err e;

	loop_init(&l, NULL);
	if (fake_start(&f, &l, FAKE_SILENT) < 0) {
		T_CHECK(0);
		return;
	}
	c = cfg_for(&f, NULL);
	c.max_lookups = 2;
	c.hosts_path = write_tmp("hosts.cancel", "10.0.0.1 inhosts.test\n");
	resolver_new(&r, &l, &c, NULL);
	memset(&g1, 0, sizeof g1);
	memset(&g2, 0, sizeof g2);
	memset(&g3, 0, sizeof g3);
	T_CHECK(resolve_start(r, "slow.test", 9, on_result, &g1, &h1, NULL) == 0);
	T_CHECK(resolve_start(r, "inhosts.test", 12, on_result, &g2, &h2, NULL) == 0);
	/* An answer the hosts file gives sends nothing: it does not count against max_lookups. */
	T_CHECK(resolve_in_flight(r) == 1);
	T_CHECK(resolve_start(r, "second.test", 11, on_result, &g3, &h3, NULL) == 0);
	T_CHECK(resolve_in_flight(r) == 2);
	resolve_cancel(r, h3);
	T_CHECK(resolve_start(r, "second.test", 11, on_result, &g3, &h3, NULL) == 0);
	T_CHECK(resolve_start(r, "third.test", 10, on_result, &g3, NULL, &e) < 0 && e.code == BB_ETOOBIG);
	/* Cancelled before the loop runs: the ready hosts answer too. */
	resolve_cancel(r, h2);
	/* With the limit reached, hosts answers are still served (a burst of connections to such a host). */
	{
		struct got burst[300];
		int i, ok = 1, done = 0;

		memset(burst, 0, sizeof burst);
		for (i = 0; i < 300; i++)
			ok &= resolve_start(r, "inhosts.test", 12, on_result, &burst[i], NULL, NULL) == 0;
		T_CHECK(ok);
		loop_run_once(&l, 0, NULL);
		for (i = 0; i < 300; i++)
			done += burst[i].calls == 1 && burst[i].ok;
		T_CHECK(done == 300);
	}
	resolve_cancel(r, h3);
	loop_run_once(&l, 50, NULL);
	resolve_cancel(r, h1);
	T_CHECK(resolve_in_flight(r) == 0);
	run_until(&l, &g1.calls, 1, 800); /* past the 300 ms timeout: nothing may fire */
	T_CHECK(g1.calls == 0 && g2.calls == 0 && g3.calls == 0);
	/* The slots are free again. */
	T_CHECK(resolve_start(r, "inhosts.test", 12, on_result, &g3, &h3, NULL) == 0);
	run_until(&l, &g3.calls, 1, 1000);
	T_CHECK(g3.calls == 1 && g3.ok);
	/* Freeing the resolver with a lookup in flight: no callback afterwards. */
	memset(&g1, 0, sizeof g1);
	T_CHECK(resolve_start(r, "slow.test", 9, on_result, &g1, &h1, NULL) == 0);
	loop_run_once(&l, 50, NULL);
	resolver_free(r);
	run_until(&l, &g1.calls, 1, 500);
	T_CHECK(g1.calls == 0);
	fake_stop(&f);
	loop_fini(&l);
}

/* A callback that starts the next lookup from inside the previous one's callback, reusing the slot. */
struct chain {
	struct resolver *r;
	int left, done, fails;
};

static void on_chain(void *arg, const struct resolve_result *res, const struct bb_err *err)
{
	struct chain *ch = arg;

	if (!res)
		ch->fails++;
	if (--ch->left == 0) {
		ch->done = 1;
		return;
	}
	if (resolve_start(ch->r, "chain.test", 10, on_chain, ch, NULL, NULL) < 0)
		ch->fails++, ch->done = 1;
}

static void restart_from_callback(void)
{
	struct loop l;
	struct fake f;
	struct resolve_config c;
	struct chain ch = { NULL, 20, 0, 0 };

	loop_init(&l, NULL);
	if (fake_start(&f, &l, FAKE_ANSWER) < 0) {
		T_CHECK(0);
		return;
	}
	c = cfg_for(&f, NULL);
	c.max_lookups = 1;
	c.no_cache = 1;
	resolver_new(&ch.r, &l, &c, NULL);
	T_CHECK(resolve_start(ch.r, "chain.test", 10, on_chain, &ch, NULL, NULL) == 0);
	run_until(&l, &ch.done, 1, 5000);
	T_CHECK(ch.done && ch.fails == 0 && ch.left == 0 && f.udp_queries == 20);
	resolver_free(ch.r);
	fake_stop(&f);
	loop_fini(&l);
}

/*
 * Answers that are ready at once (hosts, cache) arrive on the next loop
 * turn; a callback that starts another such lookup must not keep the loop
 * from its I/O. An endless chain of cached lookups runs while one DNS
 * lookup is in flight: the DNS answer must still come, on its first try.
 */
struct spinner {
	struct resolver *r;
	long spins, spins_at_dns;
	int stop;
};

static void on_spin(void *arg, const struct resolve_result *res, const struct bb_err *err)
{
	struct spinner *sp = arg;

	sp->spins++;
	if (!sp->stop && sp->spins < 2000000)
		resolve_start(sp->r, "cached.test", 11, on_spin, sp, NULL, NULL);
}

static void on_dns_during_spin(void *arg, const struct resolve_result *res, const struct bb_err *err)
{
	struct spinner *sp = arg;

	sp->spins_at_dns = res ? sp->spins : -1;
	sp->stop = 1;
}

static void ready_answers_do_not_starve_io(void)
{
	struct loop l;
	struct fake f;
	struct resolve_config c;
	struct spinner sp;
	struct got g;
	int stop_seen = 0;
	uint64_t end;

	loop_init(&l, NULL);
	if (fake_start(&f, &l, FAKE_ANSWER) < 0) {
		T_CHECK(0);
		return;
	}
	memset(&sp, 0, sizeof sp);
	c = cfg_for(&f, NULL);
	c.attempts = 1;
	resolver_new(&sp.r, &l, &c, NULL);
	T_CHECK(lookup(sp.r, &l, "cached.test", &g) == 0 && g.ok); /* now in the cache */
	T_CHECK(resolve_start(sp.r, "cached.test", 11, on_spin, &sp, NULL, NULL) == 0);
	T_CHECK(resolve_start(sp.r, "fresh.test", 10, on_dns_during_spin, &sp, NULL, NULL) == 0);
	end = now_ms() + 5000;
	while (!stop_seen && now_ms() < end) {
		loop_run_once(&l, 20, NULL);
		stop_seen = sp.stop;
	}
	run_until(&l, &stop_seen, 2, 200); /* let the chain see stop */
	T_CHECK(sp.stop && sp.spins_at_dns > 0 && sp.spins_at_dns < 2000000);
	T_CHECK(f.udp_queries == 2);
	resolver_free(sp.r);
	fake_stop(&f);
	loop_fini(&l);
}

/* The real path: resolv.conf names the server (port 53, so this needs root), and edits to it are noticed. */
static void resolv_conf_followed(void)
{
	struct loop l;
	struct fake a, b;
	struct resolver *r = NULL;
	struct resolve_config c;
	struct got g;
	char text[128], addr[NETADDR_TEXT_MAX];
	const char *conf;

	loop_init(&l, NULL);
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	a.l = b.l = &l;
	a.conn = b.conn = -1;
	a.nrecords = b.nrecords = 1;
	a.ttl = b.ttl = 60;
	a.mode = FAKE_ANSWER;
	b.mode = FAKE_CNAME;
	if (bind_pair(&a.at, &a.udp, &a.tcp, 53) < 0 || bind_pair(&b.at, &b.udp, &b.tcp, 53) < 0) {
		printf("skip - resolv_conf_followed: cannot bind port 53 on 127.0.x.y (not root?)\n");
		t_skipped = 1;
		loop_fini(&l);
		return;
	}
	a.forger = b.forger = -1;
	loop_io_add(&l, &a.uio, a.udp, EPOLLIN, fake_on_udp, &a, NULL);
	loop_io_add(&l, &b.uio, b.udp, EPOLLIN, fake_on_udp, &b, NULL);
	loop_io_add(&l, &a.tio, a.tcp, EPOLLIN, fake_on_accept, &a, NULL);
	loop_io_add(&l, &b.tio, b.tcp, EPOLLIN, fake_on_accept, &b, NULL);
	netaddr_format(&a.at.addr, addr, sizeof addr);
	snprintf(text, sizeof text, "search example.com\nnameserver %s\noptions timeout:1\n", addr);
	conf = write_tmp("resolv.conf", text);
	memset(&c, 0, sizeof c);
	c.hosts_path = write_tmp("hosts.none", "");
	c.resolv_conf_path = conf;
	c.no_cache = 1;
	resolver_new(&r, &l, &c, NULL);
	T_CHECK(lookup(r, &l, "conf.test", &g) == 0 && g.ok && has_addr(&g.res, "192.0.2.1") && a.udp_queries == 1);
	/* Point resolv.conf at b (a new file renamed over it, as tools do). */
	netaddr_format(&b.at.addr, addr, sizeof addr);
	snprintf(text, sizeof text, "nameserver %s\n", addr);
	write_tmp("resolv.conf.new", text);
	{
		char from[128], to[128];

		snprintf(from, sizeof from, "%s/resolv.conf.new", tmpdir);
		snprintf(to, sizeof to, "%s/resolv.conf", tmpdir);
		rename(from, to);
	}
	T_CHECK(lookup(r, &l, "conf.test", &g) == 0 && g.ok && has_addr(&g.res, "198.51.100.5") && b.udp_queries == 1);
	T_CHECK(a.udp_queries == 1);
	resolver_free(r);
	fake_stop(&a);
	fake_stop(&b);
	loop_fini(&l);
}

/* ---- a real nameserver: dnsmasq ---- */

static const char *find_dnsmasq(void)
{
	static const char *const where[] = { "/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq", NULL };
	size_t i;

	for (i = 0; where[i]; i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

static void real_dnsmasq(void)
{
	const char *bin = find_dnsmasq();
	struct resolve_server at;
	struct resolve_config c;
	struct resolver *r = NULL;
	struct loop l;
	struct got g;
	char listen[64], port[16], hostsfile[160], addr[NETADDR_TEXT_MAX], big[4096];
	size_t i, off = 0;
	pid_t pid;
	int udp, tcp, up = 0, status;

	if (!bin) {
		printf("skip - real_dnsmasq: dnsmasq not installed (apt-get install dnsmasq-base)\n");
		t_skipped = 1;
		return;
	}
	/* Reserve an address and port, then free them for dnsmasq. */
	if (bind_pair(&at, &udp, &tcp, 0) < 0) {
		T_CHECK(0);
		return;
	}
	close(udp);
	close(tcp);
	netaddr_format(&at.addr, addr, sizeof addr);
	snprintf(listen, sizeof listen, "--listen-address=%s", addr);
	snprintf(port, sizeof port, "--port=%u", at.port);
	for (i = 1; i <= 40; i++)
		off += (size_t)snprintf(big + off, sizeof big - off, "198.18.0.%zu big.bb.test\n", i);
	write_tmp("dnsmasq.hosts", big);
	snprintf(hostsfile, sizeof hostsfile, "--addn-hosts=%s/dnsmasq.hosts", tmpdir);
	pid = fork();
	if (pid == 0) {
		char *const argv[] = { (char *)bin, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
				       "--no-hosts", "--bind-interfaces", "--pid-file=", "--user=root", "--log-facility=-",
				       "--local=/bb.test/", listen, port, hostsfile,
				       "--address=/plain.bb.test/192.0.2.77",
				       "--host-record=dual.bb.test,198.51.100.10,2001:db8::10",
				       "--cname=alias.bb.test,dual.bb.test", NULL };
		int devnull = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execv(bin, argv);
		_exit(127);
	}
	loop_init(&l, NULL);
	memset(&c, 0, sizeof c);
	c.hosts_path = write_tmp("hosts.none", "");
	c.servers[0] = at;
	c.nservers = 1;
	c.timeout_ms = 200;
	c.attempts = 1;
	c.no_cache = 1;
	resolver_new(&r, &l, &c, NULL);
	for (i = 0; i < 50 && !up; i++) {
		if (lookup(r, &l, "plain.bb.test", &g) == 0 && g.ok)
			up = 1;
		else
			usleep(100000);
	}
	T_CHECK(up);
	if (up) {
		T_CHECK(g.res.naddrs == 1 && has_addr(&g.res, "192.0.2.77"));
		/* --address covers subdomains too. */
		T_CHECK(lookup(r, &l, "deep.plain.bb.test", &g) == 0 && g.ok && has_addr(&g.res, "192.0.2.77"));
		T_CHECK(lookup(r, &l, "alias.bb.test", &g) == 0 && g.ok && g.res.naddrs == 1 &&
			has_addr(&g.res, "198.51.100.10"));
		T_CHECK(lookup(r, &l, "missing.bb.test", &g) == 0 && !g.ok && strstr(g.err, "no such domain"));
		/* 40 A records do not fit 512 bytes: TC, then TCP. */
		T_CHECK(lookup(r, &l, "big.bb.test", &g) == 0 && g.ok && g.res.naddrs == RESOLVE_MAX_ADDRS);
		resolver_free(r);
		c.want_ipv6 = 1;
		resolver_new(&r, &l, &c, NULL);
		T_CHECK(lookup(r, &l, "alias.bb.test", &g) == 0 && g.ok && g.res.naddrs == 2 &&
			has_addr(&g.res, "198.51.100.10") && has_addr(&g.res, "2001:db8::10"));
		T_CHECK(g.res.addrs[0].family == AF_INET);
	}
	resolver_free(r);
	loop_fini(&l);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
}

#include <dirent.h>

static int fds_at_start;

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Every socket, eventfd and file the cases opened is closed again (resolver_free, cancel, answers). */
static void no_descriptor_leaks(void)
{
	int now = count_fds();

	if (now != fds_at_start)
		printf("#   %d descriptors at start, %d now\n", fds_at_start, now);
	T_CHECK(now == fds_at_start);
}

int main(void)
{
	char tmpl[] = "/tmp/bb-resolve.XXXXXX";

	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	fds_at_start = count_fds();
	if (!mkdtemp(tmpl)) {
		printf("not ok - setup: mkdtemp\n");
		return 1;
	}
	snprintf(tmpdir, sizeof tmpdir, "%s", tmpl);
	T_RUN(server_parse);
	T_RUN(conf_parse);
	T_RUN(hosts_file);
	T_RUN(literals_and_bad_names);
	T_RUN(missing_resolv_conf_means_localhost);
	T_RUN(hosts_before_dns);
	T_RUN(answer_and_cache);
	T_RUN(cname_chain);
	T_RUN(negative_answers);
	T_RUN(failover);
	T_RUN(unreachable_server_skipped_fast);
	T_RUN(spoofed_replies_ignored);
	T_RUN(truncated_goes_tcp);
	T_RUN(ipv6_too);
	T_RUN(ids_and_ports_random);
	T_RUN(cancel_and_limits);
	T_RUN(restart_from_callback);
	T_RUN(ready_answers_do_not_starve_io);
	T_RUN_OR_SKIP(resolv_conf_followed);
	T_RUN_OR_SKIP(real_dnsmasq);
	T_RUN(no_descriptor_leaks);
	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
	}
	T_END();
}
