/* dns.h - bb dns's shared state: the daemon, its UDP/TCP clients, and the upstream queries in flight. */
#ifndef BB_APPLET_DNS_H
#define BB_APPLET_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dnsmsg.h"
#include "dnsserve.h"
#include "loop.h"
#include "resolve.h"

#define DNSD_QUERY_MAX 4096  /* a query larger than this (UDP or TCP) is not a query we serve */
#define DNSD_UPQ_MAX 300     /* our upstream query: 2 + 12 + 255 + 4 + 11 bytes at most */
#define DNSD_PEER_TEXT 64    /* "[v6]:port" */
#define DNSD_RULE_TEXT 260   /* "*." and a 253-byte host name */
#define DNSD_STOP_GRACE_MS 2000
#define DNSD_DROP_LOGS_PER_S 10 /* malformed-packet log lines per second; the rest are counted */

struct dnsd;
struct tconn;

/* One allowed query forwarded upstream: who asked, what we asked, how far it got. */
struct pending {
	struct dnsd *d;
	int used;
	/* The client: a TCP connection (NULL once it went away) or a UDP peer. */
	int tcp;
	struct tconn *conn;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	char peer_text[DNSD_PEER_TEXT];
	struct dnsserve_client client;
	uint16_t qtype;
	uint16_t client_flags; /* RD and CD, for a SERVFAIL we build ourselves */
	struct dnsserve_decision dec; /* for the log line written when the answer comes */
	char rule[DNSD_RULE_TEXT];    /* the allow entry, as text: a reload may renumber entries */
	/* The upstream side of the current try. */
	uint16_t up_id;
	uint8_t query[DNSD_UPQ_MAX];
	size_t qlen;
	int fd;
	struct loop_io io;
	struct loop_timer timer;
	unsigned tries;
	size_t server;   /* index into d->up of the current try */
	size_t sent;     /* TCP: query bytes written */
	uint8_t lenbuf[2];
	size_t got;      /* TCP: answer bytes read, prefix included */
	uint8_t *answer; /* TCP: the answer body, malloc'd once its length is known */
	size_t answer_len;
	uint64_t started_ms;
	const char *fail_reason; /* the last try's failure, for the log */
};

/* A TCP client: one query answered at a time (RFC 7766 allows that), in order. */
struct tconn {
	struct dnsd *d;
	int used;
	int fd;
	struct loop_io io;
	struct loop_timer idle;
	char peer_text[DNSD_PEER_TEXT];
	uint8_t in[2 + DNSD_QUERY_MAX];
	size_t inlen;
	int eof; /* the client half-closed: finish what it sent, then close */
	uint8_t *out; /* the reply being written, length prefix included */
	size_t outlen, outoff;
	struct pending *p; /* the query waiting upstream */
};

struct dnsd {
	struct loop loop;
	const char *policy_path;
	struct dnsserve_policy *pol;
	struct dnsserve_config cfg;
	const char *listen_spec;
	struct resolve_server listen;
	struct resolve_server up[RESOLVE_MAX_SERVERS];
	size_t nup;
	int up_from_conf; /* no --upstream: resolv.conf's, re-read on SIGHUP */
	const char *resolv_conf;
	unsigned try_ms, max_tries, idle_ms;
	int ufd, lfd, sfd;
	struct loop_io uio, lio, sio;
	struct pending *pend;
	size_t max_pending, npending;
	struct tconn *conns;
	size_t max_conns, nconns;
	int stopping;
	struct loop_timer stop_timer;
	uint64_t drop_window_ms;
	unsigned drop_logged, drop_suppressed;
	uint8_t rand_pool[128];
	size_t rand_left;
	uint8_t rbuf[65536];
};

/* serve.c: the listeners and the clients */
int dnsd_listen(struct dnsd *d, struct bb_err *e);
void dnsd_stop_listening(struct dnsd *d);
void dnsd_close_conns(struct dnsd *d);
void dnsd_peer_text(const struct sockaddr *sa, socklen_t len, char *out, size_t cap);
/* Send a finished reply to the pending query's client (UDP datagram or TCP message). */
void dnsd_send_to_client(struct dnsd *d, struct pending *p, const uint8_t *msg, size_t len);
/* The allow entry as text ("*.zone" for wildcards), "" for none. */
void dnsd_rule_text(const struct dnsd *d, long entry, char *out, size_t cap);
/* Log one decision as a JSON line (name NULL when the query had no question; upstream NULL when not forwarded). */
void dnsd_log_query(struct dnsd *d, const char *proto, const char *peer, const struct dns_name *name, uint16_t qtype,
		    const struct dnsserve_decision *dec, const char *rule, unsigned rcode, const char *upstream,
		    uint64_t ms, const char *detail);
/* A TCP client's query is done (answered or failed): go on with the next one. */
void dnsd_conn_query_done(struct tconn *c);

/* upstream.c: forwarding */
/* Start forwarding query q (allowed) for a client; replies SERVFAIL itself when it cannot. */
void dnsd_forward(struct dnsd *d, const struct dns_msg *q, const struct dnsserve_decision *dec, struct tconn *conn,
		  const struct sockaddr *peer, socklen_t peerlen, const char *peer_text);
/* Abandon a pending query (its TCP client went away, or shutdown). */
void dnsd_pending_free(struct dnsd *d, struct pending *p);
/* Set d->up from resolv.conf; -1 when it names no usable server. */
int dnsd_upstreams_from_conf(struct dnsd *d, struct bb_err *e);
/* Refuse an upstream that is this very server (a query would loop until the table fills). */
int dnsd_check_upstreams(const struct dnsd *d, struct bb_err *e);

#endif
