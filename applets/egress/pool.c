/* pool.c - idle upstream connections that egress keeps after an agent connection ends, for the next one to the same route and credential. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "egress.h"

void eg_idle_up_key(const struct conn *c, unsigned char key[32])
{
	static const char tag[] = "bb egress idle upstream";
	const struct route *r = c->route;
	const char *tok = r && r->auth != ROUTE_AUTH_NONE ? eg_token(c->eg, r->token_slot) : NULL;
	unsigned char port[2] = { (unsigned char)(c->port >> 8), (unsigned char)c->port };
	unsigned char scheme = (unsigned char)(c->up_tls != 0);
	br_sha256_context h;

	/* Every part with its length or terminator, so no two tuples hash alike. */
	br_sha256_init(&h);
	br_sha256_update(&h, tag, sizeof tag);
	br_sha256_update(&h, &c->pol_gen, sizeof c->pol_gen);
	br_sha256_update(&h, &scheme, 1);
	br_sha256_update(&h, c->host, strlen(c->host) + 1);
	br_sha256_update(&h, port, sizeof port);
	br_sha256_update(&h, r ? r->host : "", strlen(r ? r->host : "") + 1);
	br_sha256_update(&h, r && r->token_slot ? r->token_slot : "", strlen(r && r->token_slot ? r->token_slot : "") + 1);
	br_sha256_update(&h, tok ? tok : "", strlen(tok ? tok : "") + 1);
	br_sha256_out(&h, key);
}

static void idle_drop(struct eg_idle_up *u)
{
	loop_io_del(&u->eg->loop, &u->io);
	close(u->fd);
	free(u->tcli);
	u->tcli = NULL;
	u->live = 0;
}

/* The upstream sent something while idle: its close, a close_notify, or bytes nobody asked for. */
static void idle_io_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	(void)l;
	(void)ev;
	idle_drop(io->arg);
}

static void idle_timer_cb(struct loop *l, struct loop_timer *t)
{
	struct egress *eg = t->arg;
	uint64_t now = loop_now(l), next = 0;
	struct bb_err e;
	size_t i;

	for (i = 0; i < EG_IDLE_UP_MAX; i++) {
		struct eg_idle_up *u = &eg->idle_up[i];

		if (!u->live)
			continue;
		if (now - u->since_ms >= eg->idle_up_ms)
			idle_drop(u);
		else if (!next || u->since_ms + eg->idle_up_ms - now < next)
			next = u->since_ms + eg->idle_up_ms - now;
	}
	if (next)
		loop_timer_set(l, t, next, &e);
}

int eg_idle_up_put(struct egress *eg, int fd, struct eg_tls_client *t, const unsigned char key[32], const char *peer)
{
	struct eg_idle_up *u = NULL, *oldest = NULL;
	size_t i, same = 0;
	struct bb_err e;

	if (eg->stopping || !eg->idle_up_ms) /* --upstream-idle 0: every agent connection dials afresh */
		return -1;
	for (i = 0; i < EG_IDLE_UP_MAX; i++) {
		struct eg_idle_up *x = &eg->idle_up[i];

		if (!x->live) {
			if (!u)
				u = x;
			continue;
		}
		if (!memcmp(x->key, key, 32))
			same++;
		if (!oldest || x->since_ms < oldest->since_ms)
			oldest = x;
	}
	if (same >= EG_IDLE_UP_PER_KEY)
		return -1;
	if (!u) { /* full: the one idle longest makes room */
		idle_drop(oldest);
		u = oldest;
	}
	u->eg = eg;
	if (loop_io_add(&eg->loop, &u->io, fd, EPOLLIN | EPOLLRDHUP, idle_io_cb, u, &e) < 0)
		return -1;
	u->live = 1;
	u->fd = fd;
	u->tcli = t;
	memcpy(u->key, key, sizeof u->key);
	u->since_ms = loop_now(&eg->loop);
	snprintf(u->peer, sizeof u->peer, "%s", peer);
	if (!loop_timer_armed(&eg->idle_up_timer)) {
		loop_timer_init(&eg->idle_up_timer, idle_timer_cb, eg);
		loop_timer_set(&eg->loop, &eg->idle_up_timer, eg->idle_up_ms, &e);
	}
	return 0;
}

int eg_idle_up_take(struct egress *eg, const unsigned char key[32], struct eg_tls_client **t, char *peer, size_t peer_size)
{
	for (;;) {
		struct eg_idle_up *u = NULL;
		unsigned char b;
		ssize_t n;
		size_t i;
		int fd;

		for (i = 0; i < EG_IDLE_UP_MAX; i++) { /* the most recently parked: the least likely closed by now */
			struct eg_idle_up *x = &eg->idle_up[i];

			if (x->live && !memcmp(x->key, key, 32) && (!u || x->since_ms > u->since_ms))
				u = x;
		}
		if (!u)
			return -1;
		/* A close that epoll has not reported yet: look before handing it out. */
		n = recv(u->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			idle_drop(u);
			continue;
		}
		loop_io_del(&eg->loop, &u->io);
		fd = u->fd;
		*t = u->tcli;
		snprintf(peer, peer_size, "%s", u->peer);
		u->tcli = NULL;
		u->live = 0;
		return fd;
	}
}

void eg_idle_up_close_all(struct egress *eg)
{
	size_t i;

	for (i = 0; i < EG_IDLE_UP_MAX; i++)
		if (eg->idle_up[i].live)
			idle_drop(&eg->idle_up[i]);
	loop_timer_cancel(&eg->loop, &eg->idle_up_timer);
}
