/* test_loop.c - unit tests of lib/loop: timer order and cancel, I/O dispatch, deletes inside a batch. */
#include <stdlib.h>
#include <unistd.h>

#include "loop.h"
#include "t.h"

static char order[64];
static size_t norder;

static void mark(struct loop *l, struct loop_timer *t)
{
	order[norder++] = *(const char *)t->arg;
}

static void timers_fire_in_order(void)
{
	struct loop l;
	struct loop_timer t[5];
	static const char names[] = "abcde";
	static const unsigned ms[] = { 30, 10, 20, 10, 40 };
	int i;

	norder = 0;
	memset(order, 0, sizeof order);
	T_CHECK(loop_init(&l, NULL) == 0);
	for (i = 0; i < 5; i++) {
		loop_timer_init(&t[i], mark, (void *)&names[i]);
		T_CHECK(loop_timer_set(&l, &t[i], ms[i], NULL) == 0);
	}
	loop_timer_cancel(&l, &t[2]); /* c never fires */
	T_CHECK(!loop_timer_armed(&t[2]) && loop_timer_armed(&t[0]));
	T_CHECK(loop_run(&l, NULL) == 0); /* returns when nothing is left */
	/* b and d tie at 10 ms: either order is right. */
	T_CHECK(strcmp(order, "bdae") == 0 || strcmp(order, "dbae") == 0);
	loop_fini(&l);
}

static void timer_timing(void)
{
	struct loop l;
	struct loop_timer t;
	uint64_t start;

	norder = 0;
	loop_init(&l, NULL);
	loop_timer_init(&t, mark, "x");
	start = loop_now(&l);
	loop_timer_set(&l, &t, 50, NULL);
	loop_run(&l, NULL);
	T_CHECK(loop_now(&l) - start >= 50);
	T_CHECK(loop_now(&l) - start < 1000);
	loop_fini(&l);
}

static void many_timers_heap(void)
{
	struct loop l;
	struct loop_timer *t = calloc(1000, sizeof *t);
	int i, armed = 0;

	loop_init(&l, NULL);
	for (i = 0; i < 1000; i++) {
		loop_timer_init(&t[i], mark, "z");
		loop_timer_set(&l, &t[i], (unsigned)(rand() % 100000) + 100000, NULL);
	}
	for (i = 0; i < 1000; i += 3)
		loop_timer_cancel(&l, &t[i]);
	/* Heap property holds after cancels from the middle. */
	for (i = 1; i < (int)l.nheap; i++)
		armed += l.heap[(i - 1) / 2]->due_ms <= l.heap[i]->due_ms;
	T_CHECK(armed == (int)l.nheap - 1);
	T_CHECK(l.nheap == 1000 - 334);
	for (i = 0; i < (int)l.nheap; i++)
		T_CHECK(l.heap[i]->heap_idx_ == (size_t)i + 1);
	loop_fini(&l);
	free(t);
}

struct pair {
	struct loop_io a, b;
	int fired_a, fired_b;
};

static void on_a(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct pair *p = io->arg;
	char c;

	p->fired_a++;
	if (read(io->fd, &c, 1) != 1)
		return;
	loop_io_del(l, &p->b); /* b is ready in this same batch: it must not run */
	loop_io_del(l, io);
}

static void on_b(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct pair *p = io->arg;

	p->fired_b++;
	loop_io_del(l, io);
	loop_io_del(l, &p->a);
}

static void delete_inside_batch(void)
{
	struct loop l;
	struct pair p = { 0 };
	int x[2], y[2];

	T_CHECK(pipe(x) == 0 && pipe(y) == 0);
	loop_init(&l, NULL);
	T_CHECK(loop_io_add(&l, &p.a, x[0], EPOLLIN, on_a, &p, NULL) == 0);
	T_CHECK(loop_io_add(&l, &p.b, y[0], EPOLLIN, on_b, &p, NULL) == 0);
	T_CHECK(write(x[1], "1", 1) == 1 && write(y[1], "1", 1) == 1);
	T_CHECK(loop_run_once(&l, 1000, NULL) == 0);
	/* Exactly one of them ran; it removed the other before its turn. */
	T_CHECK(p.fired_a + p.fired_b == 1);
	T_CHECK(l.nio == 0);
	loop_fini(&l);
	close(x[0]), close(x[1]), close(y[0]), close(y[1]);
}

static void stop_from_callback(struct loop *l, struct loop_timer *t)
{
	loop_stop(l);
}

static void stop_ends_run(void)
{
	struct loop l;
	struct loop_timer t, never;
	int p[2];
	struct loop_io io;

	T_CHECK(pipe(p) == 0);
	loop_init(&l, NULL);
	loop_io_add(&l, &io, p[0], EPOLLIN, NULL, NULL, NULL); /* never ready */
	loop_timer_init(&t, stop_from_callback, NULL);
	loop_timer_init(&never, mark, "n");
	loop_timer_set(&l, &t, 5, NULL);
	loop_timer_set(&l, &never, 60000, NULL);
	T_CHECK(loop_run(&l, NULL) == 0);
	T_CHECK(loop_timer_armed(&never));
	loop_io_del(&l, &io);
	loop_fini(&l);
	close(p[0]), close(p[1]);
}

static int chain_left, pipe_seen, chain_pipe = -1;

static void rearm_now(struct loop *l, struct loop_timer *t)
{
	if (chain_pipe >= 0) { /* readiness that appears only after the pass's epoll_wait */
		T_CHECK(write(chain_pipe, "x", 1) == 1);
		chain_pipe = -1;
	}
	if (--chain_left > 0)
		loop_timer_set(l, t, 0, NULL);
}

static void pipe_ready(struct loop *l, struct loop_io *io, uint32_t ev)
{
	pipe_seen = chain_left;
	loop_io_del(l, io);
}

/* A timer that re-arms itself for 0 ms must not keep the loop from its fds (it once did: resolver answers starved I/O). */
static void zero_ms_chain_does_not_starve_io(void)
{
	struct loop l;
	struct loop_timer t;
	struct loop_io io;
	int p[2];

	T_CHECK(pipe(p) == 0);
	T_CHECK(loop_init(&l, NULL) == 0);
	chain_pipe = p[1];
	chain_left = 100000;
	pipe_seen = -1;
	loop_timer_init(&t, rearm_now, NULL);
	T_CHECK(loop_timer_set(&l, &t, 0, NULL) == 0);
	T_CHECK(loop_io_add(&l, &io, p[0], EPOLLIN, pipe_ready, NULL, NULL) == 0);
	T_CHECK(loop_run(&l, NULL) == 0);
	T_CHECK(pipe_seen > 99000); /* the fd was served within the first passes, not after the whole chain */
	loop_fini(&l);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	T_RUN(timers_fire_in_order);
	T_RUN(timer_timing);
	T_RUN(many_timers_heap);
	T_RUN(delete_inside_batch);
	T_RUN(stop_ends_run);
	T_RUN(zero_ms_chain_does_not_starve_io);
	T_END();
}
