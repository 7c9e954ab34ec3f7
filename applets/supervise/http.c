/* http.c - bb supervise's HTTP/1.1 side: connections on the event loop, request framing, responses, parked calls. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jsonrpc.h"
#include "log.h"
#include "supervise.h"

static void conn_io(struct loop *l, struct loop_io *io, uint32_t ev);
static void conn_timer(struct loop *l, struct loop_timer *t);
static void conn_step(struct sconn *c);

static const char *reason_phrase(int status)
{
	if (status == 406)
		return "Not Acceptable";
	if (status == 415)
		return "Unsupported Media Type";
	return http1_status_reason(status);
}

static void set_timer(struct sconn *c, uint64_t ms)
{
	loop_timer_set(&c->s->loop, &c->timer, ms, NULL);
}

void sv_accept(struct sup *s, int fd)
{
	struct sconn *c;
	struct bb_err e;
	if (s->nconns >= s->max_conns) {
		log_event(LOG_WARN, "limit", "what", "connections", (char *)NULL);
		close(fd);
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	c->s = s;
	c->fd = fd;
	c->n = ++s->next_conn;
	buf_init(&c->in, SV_HEAD_MAX + SV_BODY_MAX + 65536);
	buf_init(&c->body, SV_BODY_MAX);
	buf_init(&c->out, SV_OUT_MAX);
	loop_timer_init(&c->timer, conn_timer, c);
	if (loop_io_add(&s->loop, &c->io, fd, EPOLLIN | EPOLLRDHUP, conn_io, c, &e) < 0) {
		log_event(LOG_ERROR, "accept", "error", e.msg, (char *)NULL);
		buf_free(&c->in);
		buf_free(&c->body);
		buf_free(&c->out);
		close(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	c->state = SC_READ;
	set_timer(c, SV_HEAD_MS);
}

void sv_conn_close(struct sconn *c)
{
	struct sup *s = c->s;
	loop_io_del(&s->loop, &c->io);
	loop_timer_cancel(&s->loop, &c->timer);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	cJSON_Delete(c->rpc_id);
	buf_free(&c->in);
	buf_free(&c->body);
	buf_free(&c->out);
	free(c);
}

void sv_close_all(struct sup *s)
{
	while (s->conns)
		sv_conn_close(s->conns);
}

/* Forget the request just answered; what the client sent after it stays for the next round. */
static void request_done(struct sconn *c)
{
	buf_consume(&c->in, (size_t)c->head_len + c->body_raw);
	buf_reset(&c->body);
	c->head_len = 0;
	c->head_searched = 0;
	c->body_raw = 0;
	c->body_done = 0;
	memset(&c->req, 0, sizeof c->req);
}

static void want_out(struct sconn *c, int on)
{
	loop_io_mod(&c->s->loop, &c->io, EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0), NULL);
}

static void flush_out(struct sconn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			want_out(c, 1);
			return;
		}
		if (n <= 0) {
			sv_conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	want_out(c, 0);
	buf_reset(&c->out);
	c->out_off = 0;
	if (c->close_after || c->peer_eof) {
		sv_conn_close(c);
		return;
	}
	c->state = SC_READ;
	set_timer(c, c->in.len ? SV_HEAD_MS : SV_IDLE_MS);
	conn_step(c); /* a pipelined request may already be here */
}

void sv_reply(struct sconn *c, int status, const char *extra_headers, const char *content_type, const char *body,
	      size_t len)
{
	struct bb_err e;
	int keep = !c->close_after && c->req.keep_alive && status != 400 && status < 500;
	if (!keep)
		c->close_after = 1;
	request_done(c);
	buf_reset(&c->out);
	c->out_off = 0;
	if (buf_printf(&c->out, &e, "HTTP/1.1 %d %s\r\n%s", status, reason_phrase(status), extra_headers ? extra_headers : "") <
		    0 ||
	    (content_type && buf_printf(&c->out, &e, "Content-Type: %s\r\n", content_type) < 0) ||
	    (status != 204 && status >= 200 && buf_printf(&c->out, &e, "Content-Length: %zu\r\n", len) < 0) ||
	    buf_printf(&c->out, &e, "Cache-Control: no-store\r\nConnection: %s\r\n\r\n", keep ? "keep-alive" : "close") <
		    0 ||
	    (len && buf_append(&c->out, body, len, &e) < 0)) {
		log_event(LOG_ERROR, "reply", "error", e.msg, (char *)NULL);
		sv_conn_close(c);
		return;
	}
	c->state = SC_WRITE;
	set_timer(c, SV_WRITE_MS);
	flush_out(c);
}

void sv_reply_rpc_error(struct sconn *c, int status, const char *extra_headers, const cJSON *id, int code,
			const char *message)
{
	struct buf b = BUF_INIT(8192);
	if (jsonrpc_write_error(&b, id, code, message, NULL, NULL) < 0) {
		buf_free(&b);
		sv_conn_close(c);
		return;
	}
	sv_reply(c, status, extra_headers, "application/json", b.p, b.len);
	buf_free(&b);
}

void sv_wait(struct sconn *c, double wait_s)
{
	uint64_t ms = (uint64_t)(wait_s * 1000.0);
	c->state = SC_WAIT;
	c->wait_s = wait_s;
	set_timer(c, ms ? ms : 1);
}

/* A plain refusal before any JSON-RPC was read: a JSON-RPC error without id, as the MCP SDKs answer. */
static void refuse(struct sconn *c, int status, const char *why)
{
	char msg[200];
	snprintf(msg, sizeof msg, "%s: %s", reason_phrase(status), why);
	c->close_after = 1;
	sv_reply_rpc_error(c, status, NULL, NULL, JSONRPC_SERVER_ERROR, msg);
}

/* Read what the socket has; 0, or -1 when the connection was closed here. */
static int read_in(struct sconn *c)
{
	struct bb_err e;
	char tmp[16384];
	for (;;) {
		ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			sv_conn_close(c);
			return -1;
		}
		if (n == 0) {
			c->peer_eof = 1;
			return 0;
		}
		if (buf_append(&c->in, tmp, (size_t)n, &e) < 0) {
			/* more than a request can be: stop reading; the parser refuses what is there */
			c->peer_eof = 1;
			return 0;
		}
	}
}

/* Frame the body once the head is known; 1 when the whole request is here, 0 for more, -1 when answered. */
static int frame_body(struct sconn *c)
{
	struct bb_err e;
	const char *p = c->in.p + c->head_len;
	size_t avail = c->in.len - (size_t)c->head_len;

	if (c->req.chunked) {
		while (!c->ch.done && c->body_raw < avail) {
			struct http1_error he;
			struct sv data;
			size_t used;
			if (http1_chunked_feed(&c->ch, p + c->body_raw, avail - c->body_raw, &used, &data, &he) < 0) {
				refuse(c, 400, he.reason);
				return -1;
			}
			c->body_raw += used;
			if (data.len && buf_append(&c->body, data.p, data.len, &e) < 0) {
				refuse(c, 413, "the body is larger than 1 MiB");
				return -1;
			}
			if (!used && !data.len)
				break;
		}
		return c->ch.done ? 1 : 0;
	}
	if (c->req.content_length == HTTP1_NO_LENGTH)
		return 1; /* no body */
	if (avail < c->req.content_length)
		return 0;
	c->body_raw = (size_t)c->req.content_length;
	if (buf_append(&c->body, p, c->body_raw, &e) < 0) {
		refuse(c, 413, "the body is larger than 1 MiB");
		return -1;
	}
	return 1;
}

/* Advance the request being read as far as the bytes allow. */
static void conn_step(struct sconn *c)
{
	int r;
	if (c->state != SC_READ)
		return;
	if (!c->head_len) {
		struct http1_limits lim = { SV_HEAD_MAX, HTTP1_DEFAULT_MAX_START_LINE };
		struct http1_error he;
		size_t end = http1_head_end(c->in.p, c->in.len, c->head_searched);
		long n;
		if (!end) {
			c->head_searched = c->in.len;
			if (c->in.len > SV_HEAD_MAX) {
				refuse(c, 431, "the request head is larger than 16 KiB");
			} else if (c->peer_eof) {
				sv_conn_close(c);
			}
			return;
		}
		n = http1_request_parse(c->in.p, end, &lim, &c->req, &he);
		if (n <= 0) {
			refuse(c, n < 0 ? he.status : 400, n < 0 ? he.reason : "incomplete head");
			return;
		}
		c->head_len = n;
		if (c->req.version_minor == 0)
			c->close_after = 1;
		if (c->req.content_length != HTTP1_NO_LENGTH && c->req.content_length > SV_BODY_MAX) {
			refuse(c, 413, "the body is larger than 1 MiB");
			return;
		}
		if (c->req.chunked)
			http1_chunked_init(&c->ch, 0, 0);
		if (c->req.expect_continue) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			if (send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				sv_conn_close(c);
				return;
			}
		}
	}
	r = frame_body(c);
	if (r < 0)
		return;
	if (r == 0) {
		if (c->peer_eof)
			sv_conn_close(c);
		return;
	}
	loop_timer_cancel(&c->s->loop, &c->timer);
	{
		/* Reading the body may have moved c->in: parse the (unchanged) head again so its views point into it. */
		struct http1_limits lim = { SV_HEAD_MAX, HTTP1_DEFAULT_MAX_START_LINE };
		struct http1_error he;
		if (http1_request_parse(c->in.p, (size_t)c->head_len, &lim, &c->req, &he) != c->head_len) {
			refuse(c, 400, "request head");
			return;
		}
	}
	sv_handle(c);
}

static void conn_io(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct sconn *c = io->arg;
	(void)l;
	if (ev & EPOLLERR) {
		sv_conn_close(c);
		return;
	}
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
		if (read_in(c) < 0)
			return;
		if (c->state == SC_WAIT && c->peer_eof) {
			char n[24];
			snprintf(n, sizeof n, "%llu", (unsigned long long)c->n);
			log_event(LOG_INFO, "gone", "conn", n, "id", c->wait_id, "note",
				  "the client left while waiting; the proposal stays queued", (char *)NULL);
			sv_conn_close(c);
			return;
		}
		if (c->state == SC_READ) {
			conn_step(c);
			return;
		}
		if (c->peer_eof && c->state == SC_WRITE) {
			/* keep draining; flush_out closes once the response is out */
			loop_io_mod(&c->s->loop, &c->io, EPOLLOUT, NULL);
		}
	}
	if ((ev & EPOLLOUT) && c->state == SC_WRITE)
		flush_out(c);
}

static void conn_timer(struct loop *l, struct loop_timer *t)
{
	struct sconn *c = t->arg;
	(void)l;
	if (c->state == SC_WAIT) {
		sv_answer(c, NULL);
		return;
	}
	if (c->state == SC_READ && c->in.len) {
		refuse(c, 408, "the request did not arrive in time");
		return;
	}
	sv_conn_close(c);
}
