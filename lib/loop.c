/* loop.c - epoll event loop and a binary min-heap of timers. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fd.h"

uint64_t loop_now(struct loop *l)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	l->now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return l->now_ms;
}

int loop_init(struct loop *l, struct bb_err *e)
{
	memset(l, 0, sizeof *l);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return bb_errno(e, errno, "epoll_create1");
	loop_now(l);
	return 0;
}

void loop_fini(struct loop *l)
{
	size_t i;

	for (i = 0; i < l->nheap; i++)
		l->heap[i]->heap_idx_ = 0;
	free(l->heap);
	l->heap = NULL;
	l->nheap = l->heap_cap = 0;
	l->epfd = fd_close(l->epfd);
}

int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn, void *arg,
		struct bb_err *e)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->events = events;
	io->fn = fn;
	io->arg = arg;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return bb_errno(e, errno, "watching fd %d", fd);
	io->registered_ = 1;
	l->nio++;
	return 0;
}

int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events, struct bb_err *e)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (events == io->events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return bb_errno(e, errno, "changing events of fd %d", io->fd);
	io->events = events;
	return 0;
}

void loop_io_del(struct loop *l, struct loop_io *io)
{
	int i;

	if (!io->registered_)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->registered_ = 0;
	l->nio--;
	for (i = 0; i < l->nbatch; i++)
		if (l->batch[i].data.ptr == io)
			l->batch[i].data.ptr = NULL;
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *arg)
{
	t->due_ms = 0;
	t->fn = fn;
	t->arg = arg;
	t->heap_idx_ = 0;
}

int loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_idx_ != 0;
}

static void heap_put(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->heap_idx_ = i + 1;
}

static void sift_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (l->heap[parent]->due_ms <= t->due_ms)
			break;
		heap_put(l, i, l->heap[parent]);
		i = parent;
	}
	heap_put(l, i, t);
}

static void sift_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->due_ms < l->heap[c]->due_ms)
			c++;
		if (t->due_ms <= l->heap[c]->due_ms)
			break;
		heap_put(l, i, l->heap[c]);
		i = c;
	}
	heap_put(l, i, t);
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	size_t i;

	if (!t->heap_idx_)
		return;
	i = t->heap_idx_ - 1;
	t->heap_idx_ = 0;
	l->nheap--;
	if (i == l->nheap)
		return;
	{
		struct loop_timer *moved = l->heap[l->nheap];

		heap_put(l, i, moved);
		sift_down(l, i);
		sift_up(l, moved->heap_idx_ - 1);
	}
}

int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms, struct bb_err *e)
{
	loop_timer_cancel(l, t);
	if (l->nheap == l->heap_cap) {
		size_t ncap = l->heap_cap ? l->heap_cap * 2 : 16;
		struct loop_timer **nh = realloc(l->heap, ncap * sizeof *nh);

		if (!nh)
			return bb_errno(e, ENOMEM, "arming a timer");
		l->heap = nh;
		l->heap_cap = ncap;
	}
	/* Armed by a timer's callback for "now": the next pass, so a chain of them cannot starve I/O. */
	if (l->in_timers && ms == 0)
		ms = 1;
	t->due_ms = loop_now(l) + ms;
	heap_put(l, l->nheap, t);
	l->nheap++;
	sift_up(l, l->nheap - 1);
	return 0;
}

static void run_timers(struct loop *l)
{
	uint64_t now = loop_now(l); /* callbacks refresh l->now_ms; this pass runs what was due when it began */

	l->in_timers = 1;
	while (l->nheap && l->heap[0]->due_ms <= now) {
		struct loop_timer *t = l->heap[0];

		loop_timer_cancel(l, t);
		t->fn(l, t);
	}
	l->in_timers = 0;
}

int loop_run_once(struct loop *l, int max_wait_ms, struct bb_err *e)
{
	int wait = max_wait_ms, n, i;

	if (l->nheap) {
		uint64_t now = loop_now(l), due = l->heap[0]->due_ms;
		int until = due <= now ? 0 : (due - now > 86400000 ? 86400000 : (int)(due - now));

		if (wait < 0 || until < wait)
			wait = until;
	}
	n = epoll_wait(l->epfd, l->batch, LOOP_BATCH, wait);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return bb_errno(e, errno, "epoll_wait");
	}
	l->nbatch = n;
	loop_now(l);
	for (i = 0; i < n; i++) {
		struct loop_io *io = l->batch[i].data.ptr;

		if (io) /* NULL: deleted by an earlier callback of this batch */
			io->fn(l, io, l->batch[i].events);
	}
	l->nbatch = 0;
	run_timers(l);
	return 0;
}

int loop_run(struct loop *l, struct bb_err *e)
{
	l->stopping = 0;
	while (!l->stopping && (l->nio || l->nheap))
		if (loop_run_once(l, -1, e) < 0)
			return -1;
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stopping = 1;
}
