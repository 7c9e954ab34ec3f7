/* test_scrub.c - unit tests of lib/scrub: every encoded form replaced in place, split at any byte, nothing of a form released early. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "scan.h"
#include "scrub.h"
#include "t.h"

static const char TOKEN[] = "sk-live-0123456789abcdef0123456789abcdef/+x";

static struct scrub_set *set_with(const char *v)
{
	struct scrub_set *s;
	struct bb_err e = { 0 };
	if (scrub_set_new(&s, &e) < 0 || scrub_set_add(s, v, strlen(v), "BB_EGRESS_TOKEN_0", &e) < 0 ||
	    scrub_set_finish(s, &e) < 0) {
		printf("#   set: %s\n", e.msg);
		return NULL;
	}
	return s;
}

struct forms {
	char f[64][200];
	size_t n;
};

static int collect(const char *p, size_t n, void *arg, struct bb_err *e)
{
	struct forms *fs = arg;
	(void)e;
	if (fs->n < 64 && n < 200) {
		memcpy(fs->f[fs->n], p, n);
		fs->f[fs->n++][n] = 0;
	}
	return 0;
}

/* Scrub text whole; returns its copy (static). */
static char *scrubbed(const struct scrub_set *s, const char *text, uint64_t *hits)
{
	static char buf[4096];
	size_t n = strlen(text);
	memcpy(buf, text, n + 1);
	*hits = scrub_all(s, (unsigned char *)buf, n);
	return buf;
}

static void every_form_is_replaced_in_place(void)
{
	struct scrub_set *s = set_with(TOKEN);
	struct forms fs = { .n = 0 };
	struct bb_err e = { 0 };
	char text[1024], b64[128];
	size_t blen;
	uint64_t hits;

	T_CHECK(s != NULL);
	T_CHECK(secrets_forms(TOKEN, strlen(TOKEN), collect, &fs, &e) == 0);
	T_CHECK(fs.n >= 10); /* bytes, 3+3 base64 alignments, hex x2, percent x2 */
	for (size_t i = 0; i < fs.n; i++) {
		char *out;
		snprintf(text, sizeof text, "{\"echo\": \"Bearer %s\", \"n\": %zu}", fs.f[i], i);
		out = scrubbed(s, text, &hits);
		T_CHECK(strlen(out) == strlen(text));
		T_CHECK(strstr(out, fs.f[i]) == NULL && strstr(out, "[bb:scrubbed") != NULL && hits >= 1);
		T_CHECK(!strncmp(out, "{\"echo\": \"Bearer ", 17)); /* the text around it is untouched */
	}
	/* base64 of a whole Authorization header (the token at an offset inside it) */
	snprintf(text, sizeof text, "Authorization: Bearer %s", TOKEN);
	T_CHECK(b64_encode(text, strlen(text), B64_PAD, b64, sizeof b64, &blen, &e) == 0);
	T_CHECK(scrub_all(s, (unsigned char *)b64, blen) >= 1); /* the base64 and base64url forms may be the same bytes */
	T_CHECK(strstr(b64, "[bb:scrubbed") != NULL);
	/* ordinary text is left alone */
	T_STREQ(scrubbed(s, "sk-live-0123 is not it; neither is 0123456789abcdef", &hits), "sk-live-0123 is not it; neither is 0123456789abcdef");
	T_CHECK(hits == 0);
	T_STREQ(scrub_set_label(s, 0), "BB_EGRESS_TOKEN_0");
	scrub_set_free(s);
}

/*
 * Fed a few bytes at a time, keeping what is held at the front: the result
 * equals scrubbing the whole text, and a released byte is final (never
 * changed afterwards), so no byte of a secret leaves before it is replaced.
 */
static void split_at_any_byte_releases_nothing_early(void)
{
	struct scrub_set *s = set_with(TOKEN);
	char text[600], want[600];
	uint64_t hits;
	size_t n;

	snprintf(text, sizeof text, "data: {\"a\":\"%s\"}\n\ndata: {\"b\":\"x%sy\"}\n\nsk-live-01 tail %s", TOKEN, TOKEN, TOKEN);
	n = strlen(text);
	memcpy(want, scrubbed(s, text, &hits), n + 1);
	T_CHECK(hits == 3);
	for (size_t step = 1; step <= 9; step++) {
		unsigned char buf[600], out[600];
		size_t held = 0, given = 0, outn = 0;
		struct scrub_stream st;
		scrub_stream_init(&st);
		while (given < n) {
			size_t k = n - given < step ? n - given : step, rel;
			memcpy(buf + held, text + given, k);
			given += k;
			rel = scrub_feed(s, &st, buf, held, held + k);
			memcpy(out + outn, buf, rel);
			outn += rel;
			held = held + k - rel;
			memmove(buf, buf + rel, held);
			T_CHECK(held <= scrub_set_max_form(s));
			T_CHECK(!memcmp(out, want, outn)); /* what was released is what the whole-text result has there */
		}
		scrub_end(&st);
		memcpy(out + outn, buf, held);
		outn += held;
		T_CHECK(outn == n && !memcmp(out, want, n) && st.hits == 3);
	}
	scrub_set_free(s);
}

/* An SSE event ends in "\n\n", which no form starts with: nothing of it is held back. */
static void event_boundaries_are_never_held(void)
{
	struct scrub_set *s = set_with(TOKEN);
	struct scrub_stream st;
	unsigned char ev[] = "data: {\"delta\": \"hello s\"}\n\n";
	size_t n = sizeof ev - 1;
	scrub_stream_init(&st);
	T_CHECK(scrub_feed(s, &st, ev, 0, n) == n);
	/* a tail that starts a form is held: "...sk-li" */
	{
		unsigned char part[] = "data: sk-li";
		T_CHECK(scrub_feed(s, &st, part, 0, sizeof part - 1) == sizeof part - 1 - 5);
	}
	scrub_set_free(s);
}

static void no_secrets_means_everything_goes(void)
{
	struct scrub_set *s;
	struct scrub_stream st;
	struct bb_err e = { 0 };
	unsigned char b[] = "anything at all";
	T_CHECK(scrub_set_new(&s, &e) == 0 && scrub_set_finish(s, &e) == 0);
	scrub_stream_init(&st);
	T_CHECK(scrub_feed(s, &st, b, 0, sizeof b - 1) == sizeof b - 1);
	T_CHECK(scrub_feed(NULL, &st, b, 0, sizeof b - 1) == sizeof b - 1);
	T_CHECK(scrub_set_count(s) == 0);
	T_CHECK(scrub_set_add(s, "x", 1, "short", &e) < 0); /* added after finish, and too short anyway */
	scrub_set_free(s);
	T_CHECK(scrub_set_new(&s, &e) == 0);
	T_CHECK(scrub_set_add(s, "short", 5, "short", &e) < 0 && strstr(e.msg, "at least") != NULL);
	scrub_set_free(s);
}

/* Two secrets: each found, the first hit's label kept. */
static void several_secrets(void)
{
	struct scrub_set *s;
	struct bb_err e = { 0 };
	struct scrub_stream st;
	char text[] = "one=AAAAsecondsecret999 two=sk-live-0123456789abcdef0123456789abcdef/+x";
	T_CHECK(scrub_set_new(&s, &e) == 0 && scrub_set_add(s, TOKEN, strlen(TOKEN), "T0", &e) == 0 &&
		scrub_set_add(s, "secondsecret999", 15, "T1", &e) == 0 && scrub_set_finish(s, &e) == 0);
	scrub_stream_init(&st);
	scrub_feed(s, &st, (unsigned char *)text, 0, strlen(text));
	scrub_end(&st);
	T_CHECK(st.hits == 2 && st.first == 1);
	T_CHECK(strstr(text, "secondsecret") == NULL && strstr(text, "sk-live") == NULL);
	T_CHECK(scrub_set_count(s) == 2);
	scrub_set_free(s);
}

int main(void)
{
	T_RUN(every_form_is_replaced_in_place);
	T_RUN(split_at_any_byte_releases_nothing_early);
	T_RUN(event_boundaries_are_never_held);
	T_RUN(no_secrets_means_everything_goes);
	T_RUN(several_secrets);
	T_END();
}
