/* supervise.h - bb supervise's shared state: the daemon, its HTTP connections, MCP sessions, and what they call. */
#ifndef BB_SUPERVISE_H
#define BB_SUPERVISE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http1.h"
#include "loop.h"
#include "proposal.h"

struct cJSON;

#define SV_HEAD_MAX 16384            /* a request head must fit (else 431) */
#define SV_BODY_MAX (1u << 20)        /* a request body (else 413), bot-bottle's cap */
#define SV_OUT_MAX (2u << 20)         /* one response */
#define SV_SESSION_MAX 256            /* live MCP sessions; the least recently used goes first */
#define SV_SESSION_ID_LEN 32          /* hex digits */
#define SV_PENDING_MAX 32             /* pending proposals in the queue before new ones are refused */
#define SV_HEAD_MS 15000              /* a request head must arrive within this */
#define SV_IDLE_MS 120000             /* an idle keep-alive connection is closed after this */
#define SV_WRITE_MS 30000             /* a response must drain within this */
#define SV_DEFAULT_TIMEOUT_S 30.0     /* BB_SUPERVISE_RESPONSE_TIMEOUT_SECONDS default */
#define SV_TIMEOUT_MAX_S 3600.0

/* The protocol versions spoken, newest first (docs/supervise.md). */
extern const char *const sv_versions[];
extern const size_t sv_nversions;

struct session {
	char id[SV_SESSION_ID_LEN + 1]; /* "" = free slot */
	char version[16];               /* negotiated protocol version */
	char client[64];                /* clientInfo.name, for the log */
	int initialized;                /* notifications/initialized seen */
	uint64_t last_ms;
};

enum sconn_state {
	SC_READ,  /* reading a request (head, then body) */
	SC_WAIT,  /* a tool call waits for the operator */
	SC_WRITE  /* a response is draining */
};

enum wait_kind { WAIT_NONE, WAIT_PROPOSAL, WAIT_STATUS };

struct sup;

/* One agent connection (HTTP/1.1, keep-alive, one request at a time). */
struct sconn {
	struct sup *s;
	struct sconn *prev, *next;
	uint64_t n;      /* connection number, for the log */
	int fd;
	struct loop_io io;
	struct loop_timer timer;
	enum sconn_state state;
	int peer_eof;
	int close_after; /* close once the response is written */

	struct buf in;      /* raw bytes from the client: the current request first */
	size_t head_searched;
	long head_len;      /* > 0 once the head is parsed */
	struct http1_request req;
	struct http1_chunked ch;
	size_t body_raw;    /* bytes of in after the head that belong to this request's body */
	struct buf body;    /* the decoded body */
	int body_done;

	struct buf out;
	size_t out_off;

	/* The call waiting for the operator (SC_WAIT). */
	enum wait_kind wait;
	char wait_id[PROPOSAL_ID_MAX];
	struct cJSON *rpc_id;          /* a copy of the JSON-RPC id to answer with */
	char session[SV_SESSION_ID_LEN + 1];
	double wait_s;                 /* how long it was allowed to wait, for the pending answer */
};

enum reload_target { RELOAD_NONE, RELOAD_PARENT, RELOAD_PIDFILE };

/*
 * An approval merged into the policy, waiting for egress to say it loaded that file (--egress-loaded)
 * before the proposal is stamped applied: the agent's answer then means its next request sees the change.
 */
#define SV_APPLY_WAIT_MAX 16
#define SV_APPLY_WAIT_MS 20000
struct sv_apply_wait {
	char id[PROPOSAL_ID_MAX];
	char detail[1100];
	unsigned long long ino;
	long long mtime_s, mtime_ns;
	uint64_t until_ms;
};

struct sup {
	struct loop loop;
	const char *policy_path;
	const char *queue_dir;
	const char *bottle;
	enum reload_target reload;
	const char *pid_file;
	double timeout_s;
	size_t max_conns;

	int lfd, sfd, ifd; /* listener, signalfd, inotify (-1 when polling) */
	struct loop_io lio, sio, iio;
	struct loop_timer poll_timer; /* rescans the queue when inotify is unavailable */
	int stopping;

	struct sconn *conns;
	size_t nconns;
	uint64_t next_conn;

	struct session sessions[SV_SESSION_MAX];
	char *tools_result;  /* the tools/list result {"tools":[...]}, printed once */
	size_t tools_result_len;

	const char *loaded_path; /* --egress-loaded: what egress writes after each policy load */
	struct sv_apply_wait applying[SV_APPLY_WAIT_MAX];
	size_t napplying;
	struct loop_timer apply_timer;

	/* Ids whose decision was already logged (a ring), so repeated file events log it once. */
	char seen[256][PROPOSAL_ID_MAX];
	size_t nseen;
};

/* http.c */
void sv_accept(struct sup *s, int fd);
/* Queue a complete response; extra_headers is "" or CRLF-terminated lines. body may be NULL with len 0. */
void sv_reply(struct sconn *c, int status, const char *extra_headers, const char *content_type, const char *body,
	      size_t len);
/* Queue a JSON-RPC error body (id may be NULL) with an HTTP status. */
void sv_reply_rpc_error(struct sconn *c, int status, const char *extra_headers, const struct cJSON *id, int code,
			const char *message);
/* Park c until the operator decides wait_id or wait_s seconds pass. */
void sv_wait(struct sconn *c, double wait_s);
void sv_conn_close(struct sconn *c);
void sv_close_all(struct sup *s);

/* mcp.c */
int sv_tools_build(struct sup *s);
/* Handle one complete HTTP request on c (head in c->req, body in c->body). */
void sv_handle(struct sconn *c);
/* The operator decided, or the wait ran out (doc NULL: still pending). Answers and frees the wait. */
void sv_answer(struct sconn *c, const struct cJSON *doc);
/* A cancellation for request id in session: drop that wait. */
void sv_cancel(struct sup *s, const char *session, const struct cJSON *id);

/* main.c */
/* A proposal file changed (or may have): apply an approval, log the decision, answer its waiting calls. */
void sv_proposal_event(struct sup *s, const char *id);
/* Pending proposals in the queue now. */
size_t sv_pending_count(struct sup *s);

#endif
