/* secrets.c - the secrets registry: values and labels, their encoded forms, one compiled automaton shared by redaction and DLP. */
#include "secrets.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ac.h"
#include "b64.h"

struct entry {
	char *label, *value;
	size_t len;
	unsigned flags;
};

/* The registry: one per process, as the output it protects is. */
static struct entry reg[SECRETS_MAX];
static size_t nreg;
static struct secrets *current; /* compiled from reg[0..nreg); NULL when a registration made it stale */

struct secrets {
	unsigned refs;
	struct ac *ac; /* NULL: no values */
	size_t n;
	char **labels;
	unsigned char *dlp;
	size_t max_form; /* the longest pattern: how far back a match can start */
};

/* ---- forms ---- */

/* One form, if it is long enough to tell from ordinary text. */
static int form(const char *p, size_t n, secret_form_cb cb, void *arg, struct bb_err *e)
{
	return n >= SECRET_FORM_MIN ? cb(p, n, arg, e) : 0;
}

/* base64 of value as it appears at each of the three alignments inside a longer base64 text. */
static int forms_b64(const char *v, size_t n, int url, secret_form_cb cb, void *arg, struct bb_err *e)
{
	unsigned char tmp[SECRET_VALUE_MAX + 2];
	char enc[B64_ENCODED_LEN(SECRET_VALUE_MAX + 2) + 1];
	size_t k, elen, i;
	int rc;

	for (k = 0; k < 3; k++) {
		size_t from = (8 * k + 5) / 6, to = (8 * (k + n)) / 6;

		memset(tmp, 0, k);
		memcpy(tmp + k, v, n);
		if (b64_encode(tmp, k + n, B64_NOPAD, enc, sizeof enc, &elen, e) < 0)
			return -1;
		if (url)
			for (i = 0; i < elen; i++)
				enc[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
		if (to > from && (rc = form(enc + from, to - from, cb, arg, e)) != 0)
			return rc;
	}
	return 0;
}

int secrets_forms(const char *value, size_t len, secret_form_cb cb, void *arg, struct bb_err *e)
{
	static const char lhex[] = "0123456789abcdef", uhex[] = "0123456789ABCDEF";
	static const char unreserved[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
	char *buf;
	size_t i, o;
	int pct = 0, rc, pass;

	if (len > SECRET_VALUE_MAX)
		return bb_errf(e, BB_ETOOBIG, "a secret is longer than %d bytes", SECRET_VALUE_MAX);
	buf = malloc(len * 3 + 1);
	if (!buf)
		return bb_errno(e, ENOMEM, "encoding a secret");
	if ((rc = form(value, len, cb, arg, e)) != 0 || (rc = forms_b64(value, len, 0, cb, arg, e)) != 0 ||
	    (rc = forms_b64(value, len, 1, cb, arg, e)) != 0)
		goto out;
	for (pass = 0; pass < 2; pass++) { /* hex, both cases */
		const char *hx = pass ? uhex : lhex;
		for (i = 0; i < len; i++) {
			buf[2 * i] = hx[(unsigned char)value[i] >> 4];
			buf[2 * i + 1] = hx[(unsigned char)value[i] & 15];
		}
		if ((rc = form(buf, 2 * len, cb, arg, e)) != 0)
			goto out;
	}
	/* Percent-encoding, as encodeURIComponent would: both hex cases. */
	for (i = 0; i < len; i++)
		if (!value[i] || !strchr(unreserved, value[i]))
			pct = 1;
	for (pass = 0; pct && pass < 2; pass++) {
		const char *hx = pass ? uhex : lhex;

		for (i = o = 0; i < len; i++) {
			unsigned char c = (unsigned char)value[i];

			if (c && strchr(unreserved, c)) {
				buf[o++] = (char)c;
			} else {
				buf[o++] = '%';
				buf[o++] = hx[c >> 4];
				buf[o++] = hx[c & 15];
			}
		}
		if ((rc = form(buf, o, cb, arg, e)) != 0)
			goto out;
	}
out:
	free(buf);
	return rc;
}

/* ---- the registry ---- */

static void stale(void)
{
	secrets_put(current);
	current = NULL;
}

int secrets_add(const char *label, const char *value, size_t len, unsigned flags, struct bb_err *e)
{
	size_t i;
	struct entry *en;

	if (!label)
		label = "secret";
	/* DLP's floor first: a credential refused there is refused by name. */
	if ((flags & SECRET_DLP) && len < SECRET_FORM_MIN)
		return bb_errf(e, BB_EINVAL,
			       "known secret '%s' is %zu bytes; at least %d are needed to tell it from ordinary text",
			       label, len, SECRET_FORM_MIN);
	if (len < REDACT_MIN_LEN)
		return bb_errf(e, BB_EINVAL, "secret too short to redact safely (%zu bytes, minimum %d)", len,
			       REDACT_MIN_LEN);
	if ((flags & SECRET_DLP) && len > SECRET_VALUE_MAX)
		return bb_errf(e, BB_ETOOBIG, "known secret '%s' is longer than %d bytes", label, SECRET_VALUE_MAX);
	for (i = 0; i < nreg; i++)
		if (reg[i].len == len && memcmp(reg[i].value, value, len) == 0) {
			if ((reg[i].flags | flags) != reg[i].flags)
				stale();
			reg[i].flags |= flags;
			return 0;
		}
	if (nreg == SECRETS_MAX)
		return bb_errf(e, BB_ETOOBIG, "too many secrets registered (limit %d)", SECRETS_MAX);
	en = &reg[nreg];
	en->value = malloc(len);
	en->label = strdup(label);
	if (!en->value || !en->label) {
		free(en->value);
		free(en->label);
		return bb_errno(e, ENOMEM, "registering a secret");
	}
	memcpy(en->value, value, len);
	en->len = len;
	en->flags = flags;
	nreg++;
	stale();
	return 0;
}

void secrets_clear(void)
{
	size_t i;

	for (i = 0; i < nreg; i++) {
		explicit_bzero(reg[i].value, reg[i].len);
		free(reg[i].value);
		free(reg[i].label);
	}
	nreg = 0;
	stale();
}

size_t secrets_count(void)
{
	return nreg;
}

struct add {
	struct ac *ac;
	uint32_t id;
	size_t *max_form;
};

static int add_form(const char *p, size_t n, void *arg, struct bb_err *e)
{
	struct add *a = arg;

	if (n > *a->max_form)
		*a->max_form = n;
	return ac_add(a->ac, p, n, a->id, e);
}

int secrets_forms_add(struct ac *ac, const char *value, size_t len, uint32_t id, size_t *max_form, struct bb_err *e)
{
	struct add a = { ac, id, max_form };

	return secrets_forms(value, len, add_form, &a, e) < 0 ? -1 : 0;
}

static struct secrets *compile(struct bb_err *e)
{
	struct secrets *s = calloc(1, sizeof *s);
	size_t i;

	if (!s || (nreg && (!(s->ac = ac_new(0)) || !(s->labels = calloc(nreg, sizeof *s->labels)) ||
			    !(s->dlp = calloc(nreg, 1))))) {
		bb_errno(e, ENOMEM, "compiling the secrets");
		goto fail;
	}
	s->refs = 1;
	for (i = 0; i < nreg; i++) {
		struct add a = { s->ac, (uint32_t)i, &s->max_form };

		s->n++;
		s->dlp[i] = (reg[i].flags & SECRET_DLP) != 0;
		if (!(s->labels[i] = strdup(reg[i].label))) {
			bb_errno(e, ENOMEM, "compiling the secrets");
			goto fail;
		}
		/*
		 * Redaction takes values from REDACT_MIN_LEN, every encoded form is at least SECRET_FORM_MIN; a value
		 * past SECRET_VALUE_MAX (a key file in a variable: never DLP's) is redacted as its bytes only.
		 */
		if (reg[i].len < SECRET_FORM_MIN || reg[i].len > SECRET_VALUE_MAX) {
			if (add_form(reg[i].value, reg[i].len, &a, e) < 0)
				goto fail;
		} else if (secrets_forms_add(s->ac, reg[i].value, reg[i].len, (uint32_t)i, &s->max_form, e) < 0) {
			goto fail;
		}
	}
	if (s->ac && ac_compile(s->ac, e) < 0)
		goto fail;
	return s;
fail:
	if (s)
		s->refs = 1;
	secrets_put(s);
	return NULL;
}

struct secrets *secrets_get(struct bb_err *e)
{
	if (!current && !(current = compile(e)))
		return NULL;
	current->refs++;
	return current;
}

void secrets_put(struct secrets *s)
{
	size_t i;

	if (!s || --s->refs)
		return;
	ac_free(s->ac);
	for (i = 0; i < s->n; i++)
		free(s->labels[i]);
	free(s->labels);
	free(s->dlp);
	free(s);
}

const struct ac *secrets_ac(const struct secrets *s)
{
	return s ? s->ac : NULL;
}

size_t secrets_set_count(const struct secrets *s)
{
	return s ? s->n : 0;
}

const char *secrets_label(const struct secrets *s, uint32_t id)
{
	return s && id < s->n ? s->labels[id] : "";
}

int secrets_is_dlp(const struct secrets *s, uint32_t id)
{
	return s && id < s->n && s->dlp[id];
}

/* ---- redaction ---- */

/*
 * The automaton reports matches by where they end; the replacement wants
 * them by where they start (leftmost, then longest). best[] holds, per
 * start position not yet decided, the longest match starting there, in a
 * ring of max_form slots: once the scan is max_form bytes past a position
 * no later match can start there, so it is decided in order.
 */
struct redactor {
	const char *in;
	struct buf *out;
	const char *mark;
	struct bb_err *e;
	uint32_t *best;
	size_t ring;
	size_t pending;      /* nonzero slots */
	uint64_t fin;        /* positions below are decided */
	uint64_t cursor;     /* end of the last replacement: nothing starts before it */
	int failed;
};

static void decide_to(struct redactor *r, uint64_t lim)
{
	while (r->fin < lim && !r->failed) {
		size_t slot = (size_t)(r->fin % r->ring);
		uint32_t len = r->best[slot];

		if (!r->pending) {
			r->fin = lim;
			break;
		}
		if (len) {
			r->best[slot] = 0;
			r->pending--;
			if (r->fin >= r->cursor) {
				if (buf_append(r->out, r->in + r->cursor, (size_t)(r->fin - r->cursor), r->e) < 0 ||
				    buf_append_str(r->out, r->mark, r->e) < 0)
					r->failed = 1;
				r->cursor = r->fin + len;
			}
		}
		r->fin++;
	}
}

static int on_match(uint32_t id, size_t len, uint64_t end, void *arg)
{
	struct redactor *r = arg;
	uint64_t start = end - len;
	size_t slot;

	(void)id;
	if (end > r->ring)
		decide_to(r, end - r->ring);
	if (r->failed)
		return 1;
	if (start < r->cursor)
		return 0; /* inside a replacement already made */
	slot = (size_t)(start % r->ring);
	if (!r->best[slot])
		r->pending++;
	if (len > r->best[slot])
		r->best[slot] = (uint32_t)len;
	return 0;
}

int secrets_redact(const struct secrets *s, struct buf *out, const char *in, size_t n, const char *mark,
		   struct bb_err *e)
{
	struct redactor r = { in, out, mark, e, NULL, 0, 0, 0, 0, 0 };
	uint32_t st = 0;

	if (!s || !s->ac)
		return buf_append(out, in, n, e);
	r.ring = s->max_form;
	if (!(r.best = calloc(r.ring, sizeof *r.best)))
		return bb_errno(e, ENOMEM, "redacting");
	ac_scan(s->ac, &st, in, n, 0, on_match, &r);
	decide_to(&r, n);
	free(r.best);
	if (r.failed)
		return -1;
	return buf_append(out, in + r.cursor, (size_t)(n - r.cursor), e);
}
