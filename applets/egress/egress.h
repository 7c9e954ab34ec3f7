/* egress.h - the egress proxy's shared state: the daemon, its connections, and the TLS-or-plain byte pipe each side uses. */
#ifndef BB_EGRESS_H
#define BB_EGRESS_H
#include <bearssl.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ca.h"
#include "http1.h"
#include "inflate.h"
#include "loop.h"
#include "netaddr.h"
#include "resolve.h"
#include "route.h"
#include "scan.h"
#include "scrub.h"
#include "tls.h"
#include "ws.h"

#define EG_HEAD_BUF 16384 /* the agent's input: a request head must fit (else 431) */
#define EG_BUF 8192       /* the other plaintext buffers */
#define EG_TLS_IN (BR_SSL_BUFSIZE_INPUT)
#define EG_TLS_OUT (4096 + 85) /* records we send are at most 4 KiB: a smaller output buffer saves 12 KiB a side */
#define EG_INFLATE_MAX (16u << 20) /* a compressed request body may decode to at most this (else 413) */
#define EG_DECODER_MEM (256u << 20) /* all body decoders together hold at most this (zstd windows reach 8 MiB) */
#define EG_POOL 16 /* idle scanner streams kept for reuse */
#define EG_RETIRED_MAX 32 /* scanner engines replaced at run time (one per credential approved) */
#define EG_GEN_SHIFT 8     /* a lent stream's mask: detector bits below, its engine's generation above */
#define EG_LINGER_MAX 64 /* refused connections draining at once; more are closed outright */
#define EG_HOLD 2048      /* body bytes held back from upstream until the scanner has seen this much more */
#define EG_BODY_MIN_RATE 500 /* bytes/s a request body must average after the head timeout's grace */
#define EG_PARK_MS 100    /* a connection with nothing in flight this long gives its buffer pages back */
#define EG_STR_(x) #x
#define EG_STR(x) EG_STR_(x) /* a number macro as a string literal */
#define EG_WS_MSG_MAX (16u << 20) /* a WebSocket message (all its fragments) is held whole up to this (else 1009) */
#define EG_WS_MEM_MIB 128         /* default of --ws-memory: every connection's held messages together (else 1013) */
#define EG_WS_KEEP (64u << 10)    /* a message buffer up to this is kept for the next message; a bigger one is freed */
#define EG_SESS_AGENT_STORE (64u << 10) /* agent-side TLS sessions kept for resumption: 100 bytes each, ~650 */
#define EG_SESS_UP_MAX 64              /* upstream TLS sessions kept, one per (host, port, route) */
#define EG_SESS_LIFE_MS (3600u * 1000) /* a TLS session is resumed for at most this long after it was made */
#define EG_IDLE_UP_MAX 16    /* idle upstream connections kept for later agent connections */
#define EG_IDLE_UP_PER_KEY 4 /* of them, to one (scheme, host, port, route, credential) */
#define EG_IDLE_UP_MS 4000   /* default of --upstream-idle: below the common server keep-alive timeouts (Node 5 s, nginx 75 s) */

/* One end of a connection: a socket, optionally with a TLS engine on it. */
struct side {
	int fd;
	struct loop_io io;
	br_ssl_engine_context *eng; /* NULL: plain TCP */
	int eof;                    /* no more bytes will come (FIN, close_notify, or truncation) */
	int failed;                 /* the socket or the TLS engine failed */
	int tls_err;                /* BearSSL error when the engine failed */
	int io_errno;
	int shut_wr;                /* we sent FIN / close_notify */
};

/* Byte counts for the audit line. */
struct eg_counts {
	uint64_t up, down;
};

enum conn_mode {
	MODE_PROXY,  /* plain-text proxy requests (absolute-form or direct) */
	MODE_MITM,   /* inside a CONNECT, TLS terminated here */
	MODE_TUNNEL  /* inside a CONNECT with tls_passthrough: bytes copied both ways */
};

enum rq_state { RQ_HEAD, RQ_CONNECTING, RQ_BODY, RQ_WAIT, RQ_WS, RQ_CLOSE };
enum rs_state { RS_IDLE, RS_HEAD, RS_BODY, RS_WS, RS_DONE };

/*
 * One direction of an upgraded WebSocket connection: frames read from the
 * sender, each message (fragments joined, unmasked) held whole until it is
 * inspected (agent to upstream: DLP; upstream to agent: scrubbed), then sent
 * on as one frame; control frames pass at once, inspected the same way.
 */
struct ws_dir {
	struct ws_hdr fh;   /* the data frame being read */
	int in_frame;
	uint64_t left, off; /* its payload bytes still to come, and read so far */
	unsigned msg_op;    /* the message being collected: WS_TEXT or WS_BINARY; 0: none */
	unsigned char *msg; /* its payload so far, unmasked */
	size_t msg_len, msg_cap;
	int emitting;       /* msg goes out: header, then payload from emit_off */
	unsigned char emit_hdr[WS_HDR_MAX], key[4];
	size_t emit_hdr_len, emit_off;
	int close_pending;  /* a close frame of egress's own goes out next */
	unsigned char close[WS_CONTROL_MAX];
	size_t close_len;
	int closed;         /* a close frame went out this way: nothing more is sent */
	uint64_t frames, messages, bytes;
};

struct eg_ws {
	struct ws_dir up, down; /* agent to upstream, upstream to agent */
	int failed;             /* refused or cut: nothing more is read either way */
	int ended;              /* the closing audit line is written */
};

struct egress;
struct conn;

/* TLS with the agent (egress is the server, with a leaf minted for the CONNECT host). */
struct eg_tls_server {
	br_ssl_server_context sc; /* first: the session cache's callbacks get this pointer */
	struct conn *conn;
	/* A session the agent offered and the cache found: which server name it was made under (1: the
	 * CONNECT host, 2: none), checked against the agent's SNI once the handshake is done. */
	int resume_sni;
	unsigned char resume_id[32];
	unsigned char in[EG_TLS_IN], out[EG_TLS_OUT];
};

/* TLS to the upstream (egress is the client, verifying against the system roots). */
struct eg_tls_client {
	br_ssl_client_context sc;
	br_x509_minimal_context xc;
	int offered; /* a cached session was offered to the upstream */
	int saved;   /* the handshake completed and its session is in the cache */
	unsigned char key[32]; /* the cache's key for this upstream (host, port, route) */
	unsigned char in[EG_TLS_IN], out[EG_TLS_OUT];
};

/*
 * Agent-side session cache: BearSSL's LRU, with each session stored under
 * a digest of (CONNECT host, port, SNI, session ID), so a session made for
 * one host is never found for another. One per daemon, and one daemon per
 * bottle: sessions are never shared across bottles (nor is the CA).
 */
struct eg_sess_agent {
	const br_ssl_session_cache_class *vtable; /* first: BearSSL calls through it */
	br_ssl_session_cache_lru lru;
	uint64_t born_ms; /* the LRU was (re)initialised then: all of it is forgotten after EG_SESS_LIFE_MS */
	int ready;
	unsigned char store[EG_SESS_AGENT_STORE];
};

/* One upstream session, under a digest of (host, port, route). */
struct eg_sess_up {
	unsigned char key[32];
	br_ssl_session_parameters p;
	uint64_t born_ms, used; /* made then; last handed out at that tick (LRU) */
	int live;
};

/*
 * An upstream connection left idle by an agent connection that ended, kept
 * for the next one with the same key: a digest of (policy generation,
 * scheme, host, port, route, the route's credential), so a connection is
 * never handed to another route or credential, nor outlives its policy
 * (whose addresses and routes it was dialed under). Anything the upstream sends while idle
 * (a close, an alert) closes it.
 */
struct eg_idle_up {
	struct egress *eg;
	int live;                   /* 0: a free slot */
	int fd;
	struct loop_io io;
	struct eg_tls_client *tcli; /* NULL: plain HTTP */
	unsigned char key[32];
	uint64_t since_ms;
	char peer[NETADDR_TEXT_MAX];
};

struct conn {
	struct egress *eg;
	struct conn *prev, *next; /* the daemon's list */
	uint64_t id;
	struct route_policy *pol; /* the policy this connection started under (a reference) */
	uint64_t pol_gen;   /* which one it is (egress's pol_gen then) */
	enum conn_mode mode;
	struct side cl, up; /* client (agent) and upstream */
	struct loop_timer timer;
	uint64_t req_started_ms, last_io_ms;

	/* Plaintext buffers: the bytes themselves are at the end (cin..uout). */
	size_t cin_len, cout_len, uin_len, uout_len;
	size_t head_searched; /* how much of cin was searched for the end of the head */

	/* The CONNECT target (MITM and tunnel), and the current request's. */
	char connect_host[256];
	uint16_t connect_port;
	char host[256];
	uint16_t port;
	int up_tls;        /* upstream speaks TLS */
	const struct route *route;
	char up_key[300];  /* "https://host:port" the open upstream connection serves */
	int up_idle;       /* its last exchange ended whole (request sent, response read, keep-alive) and none began since */

	/* The request being forwarded. */
	enum rq_state rq;
	char method[16];
	char path[512]; /* for logs: path without query, truncated */
	uint64_t body_left;  /* CONTENT-LENGTH bytes still to read */
	int body_chunked;
	struct http1_chunked chunk;
	size_t body_dec;  /* raw body bytes at the front of cin that were scanned */
	int body_done;
	uint64_t body_due_ms; /* the rest of the body must have come by then (EG_BODY_MIN_RATE) */
	int req_keep_alive;
	struct scan_stream *scan_out; /* outbound DLP on the request */
	struct inflate_stream *zin;   /* decoding a gzip/deflate request body for the scanner */
	unsigned dlp_out, dlp_in;

	/* The response. */
	enum rs_state rs;
	uint64_t rbody_left;
	int rbody_chunked;
	int rbody_close;
	struct http1_chunked rchunk;
	int resp_keep_alive;
	int head_method; /* the request was HEAD */
	int status;
	struct scan_stream *scan_in; /* inbound injection scan */
	int injection_hits;
	int req_minor;      /* the agent's HTTP version: 0 for HTTP/1.0 */
	int rbody_in_done;  /* the upstream's body framing is complete */
	/* The body on its way to the agent: decoded, scrubbed of registered secrets, framed again. */
	struct inflate_stream *rdec; /* the response's Content-Encoding, decoded so secrets in it can be replaced */
	unsigned char *rbuf;         /* EG_BUF while a body flows: [0..rbuf_len) not yet sent (held back by the scrubber) */
	size_t rbuf_len;
	struct scrub_stream scrub;   /* registered secrets replaced in this response so far */
	enum { ROUT_RAW, ROUT_CHUNKED, ROUT_CLOSE } rout; /* how the body is framed for the agent */
	int ws_req;         /* the request asks for a WebSocket upgrade */
	char ws_key_agent[25], ws_key_up[25]; /* its Sec-WebSocket-Key, and egress's own toward the upstream */
	struct eg_ws *ws;   /* after the upgrade (RQ_WS, RS_WS) */

	/* Upstream connect. */
	struct resolve_lookup *lookup;
	int dial_fd; /* asking the host dialer (--dialer) */
	struct loop_io dial_io;
	struct netaddr addrs[RESOLVE_MAX_ADDRS];
	size_t naddrs, addr_i;
	char peer[NETADDR_TEXT_MAX];

	/* TLS state (allocated only when used). */
	struct eg_tls_server *tsrv;
	struct eg_tls_client *tcli;
	struct ca_leaf *leaf;

	struct eg_counts bytes;
	int closing; /* close once cout is flushed */
	int again;   /* conn_run stopped at its round limit with work left: run again on the next loop turn */
	int lingering; /* FIN sent; dropping the agent's last bytes until EOF or linger_until_ms */
	uint64_t linger_until_ms;
	int sni_checked;
	int scan_inbound;
	unsigned scan_out_mask, scan_in_mask;
	int audited; /* the current request has its audit line */
	int parked;  /* idle with the buffers' pages given back (conn_park); cleared when bytes move */
	char idstr[24];

	/*
	 * Last, so the fields above share the first page and an idle connection's buffer pages can be given
	 * back (conn_park) without touching them: agent in, agent out, upstream in, upstream out.
	 */
	unsigned char cin[EG_HEAD_BUF], cout[EG_BUF], uin[EG_BUF], uout[EG_BUF];
};

struct egress {
	struct loop loop;
	struct loop_io lio;
	int lfd;
	struct loop_io sio; /* signalfd */
	int sfd;
	struct route_policy *pol;
	uint64_t pol_gen; /* counts reloads: an idle upstream connection serves only connections under its policy */
	const char *policy_path;
	struct scan_engine *scan; /* the engine for the current policy's known secrets */
	struct scrub_set *scrub;  /* the same secrets (tokens, --known values), replaced in what flows back to the agent */
	size_t dec_mem;           /* bytes the body decoders of every connection hold (at most EG_DECODER_MEM) */
	size_t ws_mem, ws_mem_max; /* bytes every WebSocket message buffer holds, and the most they may (--ws-memory) */
	struct tls_trust trust;
	struct ca ca;
	int have_ca;
	struct resolver *res;
	const char *dialer; /* --dialer PATH: upstream sockets come from the host */
	struct conn *conns;
	size_t nconns, max_conns;
	uint64_t next_id;
	unsigned idle_ms, head_ms, connect_ms;
	int inbound_block;
	int stopping;
	int audit_broken; /* the last audit line could not be written: allowed requests are refused (fail closed) */
	/* Parsed heads are big (100 header views): one of each, used and dropped within a call. */
	struct http1_request scratch_req;
	struct http1_response scratch_resp;
	/* Idle scanner streams (64 KiB each), lent to connections while they scan. */
	struct scan_stream *pool[EG_POOL];
	unsigned pool_mask[EG_POOL];
	/* Connections refused at the limit, draining before close. */
	int linger_fd[EG_LINGER_MAX];
	uint64_t linger_until[EG_LINGER_MAX];
	size_t nlinger;
	struct loop_timer linger_timer;
	/* Token slot values (BB_EGRESS_TOKEN_n from the environment or --token-file). */
	char **token_names, **token_values;
	size_t ntokens;
	/*
	 * --token-socket: slots the policy names that the environment lacks (a credential the operator
	 * approved while the bottle runs) are asked of the host there, at start and at each reload. A new
	 * value rebuilds the scanner (it becomes a known secret); earlier engines stay alive for the
	 * streams lent out (a stream's mask carries its engine's generation above EG_GEN_SHIFT).
	 */
	const char *token_socket;
	const char *loaded_path; /* --loaded: which policy file was last loaded, for supervise */
	const char *rules_path;
	char **known;
	size_t nknown;
	unsigned scan_gen;
	struct scan_engine *retired[EG_RETIRED_MAX];
	size_t nretired;
	/* TLS session caches: the agent's resumptions (egress as server) and egress's own to upstreams. */
	struct eg_sess_agent sess_agent;
	struct eg_sess_up sess_up[EG_SESS_UP_MAX];
	uint64_t sess_up_tick;
	struct eg_idle_up idle_up[EG_IDLE_UP_MAX];
	struct loop_timer idle_up_timer; /* closes the idle upstream connections past idle_up_ms */
	uint64_t idle_up_ms;             /* --upstream-idle: how long one is kept (0: none is) */
};

/* The value of a token slot, or NULL. */
const char *eg_token(const struct egress *eg, const char *slot);

/* conn.c */
void conn_accept(struct egress *eg, int fd);
void conn_close_all(struct egress *eg);

/* side.c: a byte pipe over a plain or TLS socket. Return: >0 bytes, 0 would block, -1 eof/failed (see flags). */
void side_init(struct side *s, int fd);
ssize_t side_read(struct side *s, void *p, size_t n);
ssize_t side_write(struct side *s, const void *p, size_t n);
void side_flush(struct side *s);
/* Move TLS records between the engine and the socket as far as possible; 1 if anything moved. */
int side_pump(struct side *s);
/* The epoll events this side needs, given whether the proxy wants to read from it. */
uint32_t side_events(const struct side *s, int want_read, int have_plain_out);
/* TLS: the handshake is done (application data may flow). */
int side_ready(const struct side *s);
void side_close_write(struct side *s);

/* sess.c: TLS session resumption, both sides. */
/* Give t (reset, before the agent's ClientHello) the daemon's session cache. */
void eg_sess_agent_attach(struct egress *eg, struct eg_tls_server *t);
/* After the agent's handshake: 0 if it was a full one or resumed a session made under the same SNI, else -1. */
int eg_sess_agent_check(const struct eg_tls_server *t, const char *sni);
/* Set up t's engine for c's upstream, offering a cached session when there is one; 0, or -1 (BearSSL refused). */
int eg_sess_up_reset(struct egress *eg, const struct conn *c, struct eg_tls_client *t);
/* After the upstream's handshake: keep its session for the next connection to the same (host, port, route). */
void eg_sess_up_save(struct egress *eg, struct eg_tls_client *t);
/* The upstream connection ends: a session offered that never completed a handshake is forgotten. */
void eg_sess_up_end(struct egress *eg, struct eg_tls_client *t);

/* pool.c: idle upstream connections, reused across agent connections. */
/* The pool's key for c's current upstream (its policy generation, scheme, host, port, route and the route's credential). */
void eg_idle_up_key(const struct conn *c, unsigned char key[32]);
/* Keep fd (with t, when TLS) idle under key; 0, or -1 when there is no room (the caller closes it). */
int eg_idle_up_put(struct egress *eg, int fd, struct eg_tls_client *t, const unsigned char key[32], const char *peer);
/* Take the most recently parked connection under key that is still open: its fd (t and peer set), or -1. */
int eg_idle_up_take(struct egress *eg, const unsigned char key[32], struct eg_tls_client **t, char *peer, size_t peer_size);
/* Close every idle connection (shutdown). */
void eg_idle_up_close_all(struct egress *eg);

/* main.c: the audit trail. One JSON line per decision: eg_audit for refusals and errors, eg_audit_done when an exchange completes. */
void eg_audit(struct conn *c, const char *verdict, const char *rule, const char *reason);
void eg_audit_done(struct conn *c);

#endif
