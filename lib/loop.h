/* loop.h - the epoll event loop with timers that every daemon runs on (one per process, no threads). */
#ifndef BB_LOOP_H
#define BB_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "err.h"

struct loop;
struct loop_io;
struct loop_timer;

typedef void (*loop_io_fn)(struct loop *l, struct loop_io *io, uint32_t events);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t);

/* A watched fd. Caller-owned (usually inside a connection struct); must outlive its registration. */
struct loop_io {
	int fd;
	uint32_t events; /* EPOLLIN, EPOLLOUT, ... as registered */
	loop_io_fn fn;
	void *arg;
	int registered_;
};

/* A one-shot timer. Caller-owned; re-arm from its callback for periodic work. */
struct loop_timer {
	uint64_t due_ms; /* loop_now() value at which it fires */
	loop_timer_fn fn;
	void *arg;
	size_t heap_idx_; /* 0 = not armed; else index + 1 in the heap */
};

#define LOOP_BATCH 64

struct loop {
	int epfd;
	int stopping;
	int in_timers; /* running timer callbacks: a timer armed for 0 ms waits for the next pass */
	size_t nio; /* registered ios */
	uint64_t now_ms;
	struct loop_timer **heap; /* min-heap on due_ms */
	size_t nheap, heap_cap;
	/* The batch being dispatched, so loop_io_del can cancel events still pending in it. */
	struct epoll_event batch[LOOP_BATCH];
	int nbatch;
};

int loop_init(struct loop *l, struct bb_err *e);
/* Release the loop (not the registered ios/timers, which the caller owns). */
void loop_fini(struct loop *l);

/* Monotonic milliseconds, refreshed once per iteration and by this call. */
uint64_t loop_now(struct loop *l);

/* Watch fd for events (EPOLLIN/EPOLLOUT/...; EPOLLERR/HUP are always reported). */
int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn, void *arg,
		struct bb_err *e);
int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events, struct bb_err *e);
/* Stop watching (before closing the fd); safe from inside any callback. */
void loop_io_del(struct loop *l, struct loop_io *io);

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *arg);
/* Arm (or re-arm) t to fire after ms milliseconds. */
int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms, struct bb_err *e);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
int loop_timer_armed(const struct loop_timer *t);

/*
 * Wait up to max_wait_ms (-1: until something happens) for I/O or the
 * next timer, then run the callbacks of what is ready and of every timer
 * due. Returns 0, or -1 on an epoll failure other than EINTR.
 */
int loop_run_once(struct loop *l, int max_wait_ms, struct bb_err *e);
/* Run until loop_stop() is called or nothing is left to wait for. */
int loop_run(struct loop *l, struct bb_err *e);
void loop_stop(struct loop *l);

#endif
