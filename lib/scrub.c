/* scrub.c - in-place replacement of registered secrets' forms in streams: an Aho-Corasick DFA plus each state's depth. */
#include "scrub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ac.h"
#include "scan.h"
#include "secrets.h"

struct scrub_set {
	struct ac *ac;
	char **labels;
	size_t n;
	size_t max_form;
	/*
	 * depth[ac_state_index(s)]: the length of the text state s stands for
	 * (the longest tail of the input that is the start of some form). The
	 * held-back bytes of a stream are exactly that many.
	 */
	uint32_t *depth;
	int finished;
};

int scrub_set_new(struct scrub_set **out, struct bb_err *e)
{
	struct scrub_set *s = calloc(1, sizeof *s);
	*out = NULL;
	if (!s || !(s->ac = ac_new(0))) {
		free(s);
		return bb_errno(e, ENOMEM, "scrub set");
	}
	*out = s;
	return 0;
}

void scrub_set_free(struct scrub_set *s)
{
	size_t i;
	if (!s)
		return;
	ac_free(s->ac);
	for (i = 0; i < s->n; i++)
		free(s->labels[i]);
	free(s->labels);
	free(s->depth);
	free(s);
}

int scrub_set_add(struct scrub_set *s, const char *value, size_t len, const char *label, struct bb_err *e)
{
	char **nl;
	if (s->finished)
		return bb_errf(e, BB_EINVAL, "secret '%s' added after the scrub set was compiled", label);
	if (len < SCAN_KNOWN_MIN)
		return bb_errf(e, BB_EINVAL, "secret '%s' is %zu bytes; at least %d are needed to tell it from ordinary text",
			       label, len, SCAN_KNOWN_MIN);
	nl = realloc(s->labels, (s->n + 1) * sizeof *nl);
	if (!nl)
		return bb_errno(e, ENOMEM, "scrub set");
	s->labels = nl;
	if (!(nl[s->n] = strdup(label)))
		return bb_errno(e, ENOMEM, "scrub set");
	s->n++;
	return secrets_forms_add(s->ac, value, len, (uint32_t)(s->n - 1), &s->max_form, e);
}

int scrub_set_finish(struct scrub_set *s, struct bb_err *e)
{
	size_t ns, head = 0, tail = 0, i;
	uint32_t *queue;

	if (s->finished)
		return 0;
	if (!s->n) {
		s->finished = 1;
		return 0;
	}
	if (ac_compile(s->ac, e) < 0)
		return -1;
	ns = ac_state_count(s->ac);
	s->depth = malloc(ns * sizeof *s->depth);
	queue = malloc(ns * sizeof *queue);
	if (!s->depth || !queue) {
		free(queue);
		return bb_errno(e, ENOMEM, "scrub set");
	}
	/*
	 * The shortest input that reaches a state is the text it stands for:
	 * every input reaching it ends with that text. So its depth is its
	 * breadth-first distance from the start.
	 */
	for (i = 0; i < ns; i++)
		s->depth[i] = UINT32_MAX;
	s->depth[ac_state_index(s->ac, 0)] = 0;
	queue[tail++] = 0;
	while (head < tail) {
		uint32_t st = queue[head++], d = s->depth[ac_state_index(s->ac, st)];
		for (i = 0; i < 256; i++) {
			uint32_t nx = ac_step(s->ac, st, (unsigned char)i);
			size_t k = ac_state_index(s->ac, nx);
			if (s->depth[k] == UINT32_MAX) {
				s->depth[k] = d + 1;
				queue[tail++] = nx;
			}
		}
	}
	free(queue);
	s->finished = 1;
	return 0;
}

size_t scrub_set_count(const struct scrub_set *s)
{
	return s ? s->n : 0;
}

size_t scrub_set_max_form(const struct scrub_set *s)
{
	return s ? s->max_form : 0;
}

const char *scrub_set_label(const struct scrub_set *s, uint32_t id)
{
	return s && id < s->n ? s->labels[id] : "";
}

void scrub_stream_init(struct scrub_stream *st)
{
	memset(st, 0, sizeof *st);
}

struct hit {
	unsigned char *buf;
	struct scrub_stream *st;
};

static int on_form(uint32_t id, size_t len, uint64_t end, void *arg)
{
	static const char marker[] = SCRUB_MARKER;
	struct hit *h = arg;
	unsigned char *p = h->buf + end - len;

	if (len >= sizeof marker - 1) {
		memset(p, '*', len);
		memcpy(p, marker, sizeof marker - 2);
		p[len - 1] = marker[sizeof marker - 2];
	} else {
		memset(p, '*', len);
	}
	if (!h->st->hits++)
		h->st->first = id;
	return 0;
}

size_t scrub_feed(const struct scrub_set *s, struct scrub_stream *st, unsigned char *buf, size_t held, size_t len)
{
	struct hit h = { buf, st };
	uint32_t d;

	if (!s || !s->n)
		return len;
	ac_scan(s->ac, &st->state, buf + held, len - held, held, on_form, &h);
	d = s->depth[ac_state_index(s->ac, st->state)];
	return d < len ? len - d : 0;
}

void scrub_end(struct scrub_stream *st)
{
	st->state = 0;
}

uint64_t scrub_all(const struct scrub_set *s, unsigned char *buf, size_t len)
{
	struct scrub_stream st;
	scrub_stream_init(&st);
	scrub_feed(s, &st, buf, 0, len);
	return st.hits;
}
