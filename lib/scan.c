/* scan.c - the scanning engine: keyword prefilter, windowed rule regexes, known-secret encodings, streams. */
#include "scan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ac.h"
#include "re.h"
#include "scan_int.h"
#include "secrets.h"

#define SCAN_MAX_RULES 4096

/* ---- prompt-injection patterns (docs/scanning.md lists them with their scores) ---- */

struct inj_def {
	const char *id, *desc, *regex, *keywords;
	int score;
};

static const struct inj_def injection_patterns[] = {
	{ "ignore-previous-instructions", "asks to ignore or override earlier instructions",
	  "(?i)\\b(?:ignore|disregard|forget|override)\\s+(?:all\\s+|any\\s+|the\\s+|your\\s+|of\\s+)*(?:previous|prior|above|earlier|preceding|system|original)\\s+(?:instructions?|prompts?|rules|directions|context|messages?)",
	  "ignore,disregard,forget,override", 60 },
	{ "new-instructions", "announces replacement instructions",
	  "(?i)\\b(?:new|updated|real|actual)\\s+(?:system\\s+)?instructions?\\s*(?::|follow|are)", "instruction", 30 },
	{ "role-reassignment", "tries to reassign the assistant's role",
	  "(?i)\\byou\\s+are\\s+(?:now|no\\s+longer)\\s+(?:a|an|the|in|my)?\\b", "you are", 35 },
	{ "system-prompt-exfiltration", "asks to reveal the system prompt or hidden instructions",
	  "(?i)\\b(?:reveal|print|show|output|repeat|leak)\\s+(?:me\\s+)?(?:your|the)\\s+(?:system\\s+prompt|hidden\\s+instructions|initial\\s+instructions|instructions\\s+above)",
	  "reveal,print,show,output,repeat,leak", 50 },
	{ "chat-template-tokens", "raw chat-template control tokens in content",
	  "<\\|(?:im_start|im_end|system|endoftext|start_header_id|end_header_id|eot_id)\\|>|\\[/?INST\\]|<<SYS>>",
	  "<|,[inst],[/inst],<<sys>>", 70 },
	{ "fake-role-header", "a line that impersonates a system or assistant turn",
	  "(?im)^\\s*(?:#{1,3}\\s*)?(?:system|assistant)\\s*(?:message|prompt)?\\s*:\\s*\\S", "system,assistant", 25 },
	{ "exfiltrate-secrets", "asks to send credentials or environment somewhere",
	  "(?i)\\b(?:send|post|upload|exfiltrate|leak|forward)\\b.{0,60}\\b(?:api[\\s_-]?keys?|tokens?|credentials|secrets?|passwords?|env(?:ironment)?\\s+variables|ssh\\s+keys?)\\b",
	  "send,post,upload,exfiltrate,leak,forward", 40 },
	{ "disable-safety", "asks to bypass safety, sandbox or approval",
	  "(?i)\\b(?:bypass|disable|turn\\s+off|circumvent|escape)\\s+(?:the\\s+|your\\s+|all\\s+)?(?:safety|guardrails?|sandbox|restrictions|filters?|approval|supervis\\w*)",
	  "bypass,disable,turn off,circumvent,escape", 45 },
	{ "hidden-instruction-marker", "instructions addressed to an AI reader",
	  "(?i)\\b(?:ai|llm|assistant|agent|model)\\s*(?:[,:]|\\s)\\s*(?:please\\s+)?(?:ignore|you\\s+must|do\\s+not\\s+tell|secretly)",
	  "ai,llm,assistant,agent,model", 30 },
};

/* ---- engine ------------------------------------------------------------- */

double scan_entropy(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned counts[256] = { 0 };
	double h = 0;
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		counts[b[i]]++;
	for (i = 0; i < 256; i++)
		if (counts[i]) {
			double q = (double)counts[i] / (double)n;
			h -= q * log2(q);
		}
	return h;
}

static void rule_free(struct rule *r)
{
	size_t i;

	free(r->id);
	free(r->desc);
	free(r->regex);
	free(r->keywords);
	re_free(r->re);
	re_free(r->allow);
	re_free(r->allow_match);
	for (i = 0; i < r->nstop; i++)
		free(r->stop[i]);
	free(r->stop);
}

void scan_engine_free(struct scan_engine *eng)
{
	size_t i;

	if (!eng)
		return;
	for (i = 0; i < eng->nrules; i++)
		rule_free(&eng->rules[i]);
	free(eng->rules);
	ac_free(eng->kw);
	ac_free(eng->kwi);
	secrets_put(eng->known);
	for (i = 0; i < eng->nallow; i++)
		re_free(eng->allow[i]);
	free(eng->allow);
	for (i = 0; i < eng->npaths; i++)
		re_free(eng->paths[i]);
	free(eng->paths);
	free(eng);
}

static int id_ok(const char *id)
{
	if (!id || !*id || !((*id >= 'a' && *id <= 'z') || (*id >= '0' && *id <= '9')))
		return 0;
	for (; *id; id++)
		if (!((*id >= 'a' && *id <= 'z') || (*id >= '0' && *id <= '9') || *id == '-' || *id == '_' || *id == '.'))
			return 0;
	return 1;
}

/* Add the keywords of rule index ri to automaton a (NULL: only count them); how many, or -1. */
static int add_keywords(struct ac *a, size_t ri, const char *kw, struct bb_err *e)
{
	const char *p = kw;
	int n = 0;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if (len) {
			if (a && ac_add(a, p, len, (uint32_t)ri, e) < 0)
				return -1;
			n++;
		}
		p = end ? end + 1 : NULL;
	}
	return n;
}

/*
 * How far before a keyword a match of r may start (r->kw_bound, see struct
 * rule), proved over an automaton of r's own keywords. Not proved (or
 * farther than the context a stream keeps): RE_NOPOS, the window search.
 */
static void rule_bounds(struct rule *r)
{
	struct ac *kw = ac_new(AC_NOCASE);
	size_t bound = RE_NOPOS;

	r->kw_bound = RE_NOPOS;
	r->max_len = re_max_length(r->re);
	if (!kw)
		return;
	if (add_keywords(kw, 0, r->keywords, NULL) < 0)
		goto out;
	if (ac_compile(kw, NULL) == 0 && re_keyword_bound(r->re, kw, &bound) && bound <= SCAN_BEFORE)
		r->kw_bound = bound;
out:
	ac_free(kw);
}

static int add_rule(struct scan_engine *eng, const struct scan_rule_def *def, enum scan_kind kind, int score,
		    struct bb_err *e)
{
	struct rule *r;
	size_t i;
	int nkw;

	if (eng->finished)
		return bb_errf(e, BB_EINVAL, "rule '%s': the engine is already compiled", def->id ? def->id : "?");
	if (!id_ok(def->id))
		return bb_errf(e, BB_EINVAL, "rule id '%s' must be lower-case letters, digits, '-', '_' or '.'",
			       def->id ? def->id : "");
	for (i = 0; i < eng->nrules; i++)
		if (!strcmp(eng->rules[i].id, def->id))
			return bb_errf(e, BB_EINVAL, "rule '%s': the id is already taken", def->id);
	if (!def->regex || !*def->regex)
		return bb_errf(e, BB_EINVAL, "rule '%s': no regex", def->id);
	if (!def->keywords || !*def->keywords)
		return bb_errf(e, BB_EINVAL,
			       "rule '%s': no keywords (every rule needs at least one literal its matches contain)", def->id);
	if (def->entropy < 0 || def->entropy > 8)
		return bb_errf(e, BB_EINVAL, "rule '%s': entropy %.2f is outside 0..8 bits per byte", def->id, def->entropy);
	if (eng->nrules == SCAN_MAX_RULES)
		return bb_errf(e, BB_ETOOBIG, "too many rules (limit %d)", SCAN_MAX_RULES);
	if (eng->nrules == eng->rule_cap) {
		size_t ncap = eng->rule_cap ? eng->rule_cap * 2 : 256;
		struct rule *nr = realloc(eng->rules, ncap * sizeof *nr);

		if (!nr)
			return bb_errno(e, ENOMEM, "adding rule '%s'", def->id);
		eng->rules = nr;
		eng->rule_cap = ncap;
	}
	r = &eng->rules[eng->nrules];
	memset(r, 0, sizeof *r);
	r->kind = kind;
	r->score = score;
	r->group = def->secret_group;
	r->entropy = def->entropy;
	r->span = strstr(def->regex, "PRIVATE KEY") || strstr(def->regex, "PRIVATE\\s+KEY") ? SCAN_SPAN_MAX : SCAN_SPAN;
	r->id = strdup(def->id);
	r->desc = strdup(def->description ? def->description : "");
	r->regex = strdup(def->regex);
	r->keywords = strdup(def->keywords);
	if (!r->id || !r->desc || !r->regex || !r->keywords) {
		rule_free(r);
		return bb_errno(e, ENOMEM, "adding rule '%s'", def->id);
	}
	if (re_compile(def->regex, strlen(def->regex), 0, &r->re, e) < 0) {
		bb_err_wrap(e, "rule '%s': regex", def->id);
		rule_free(r);
		return -1;
	}
	if (r->group > re_ngroups(r->re) || r->group >= RE_MATCH_GROUPS) {
		bb_errf(e, BB_EINVAL, "rule '%s': secret group %u, but the regex has %u group(s)", def->id, r->group,
			re_ngroups(r->re));
		rule_free(r);
		return -1;
	}
	if (def->allow_regex && *def->allow_regex && re_compile(def->allow_regex, strlen(def->allow_regex), 0, &r->allow, e) < 0) {
		bb_err_wrap(e, "rule '%s': allowlist regex", def->id);
		rule_free(r);
		return -1;
	}
	if (def->allow_match && *def->allow_match &&
	    re_compile(def->allow_match, strlen(def->allow_match), 0, &r->allow_match, e) < 0) {
		bb_err_wrap(e, "rule '%s': allowlist match regex", def->id);
		rule_free(r);
		return -1;
	}
	if (def->stopwords && *def->stopwords) {
		const char *p = def->stopwords;
		size_t cap = 1;

		for (; *p; p++)
			cap += *p == ',';
		r->stop = calloc(cap, sizeof *r->stop);
		for (p = def->stopwords; r->stop && p && *p;) {
			const char *end = strchr(p, ',');
			size_t len = end ? (size_t)(end - p) : strlen(p), k;

			if (len && (r->stop[r->nstop] = strndup(p, len)) != NULL) {
				for (k = 0; k < len; k++)
					if (r->stop[r->nstop][k] >= 'A' && r->stop[r->nstop][k] <= 'Z')
						r->stop[r->nstop][k] = (char)(r->stop[r->nstop][k] + 32);
				r->nstop++;
			}
			p = end ? end + 1 : NULL;
		}
	}
	nkw = add_keywords(NULL, 0, def->keywords, e); /* into the automaton at scan_engine_finish */
	if (nkw <= 0) {
		rule_free(r);
		return bb_errf(e, BB_EINVAL, "rule '%s': no keywords", def->id);
	}
	rule_bounds(r);
	eng->nrules++;
	return 0;
}

int scan_engine_add_rule(struct scan_engine *eng, const struct scan_rule_def *def, struct bb_err *e)
{
	return add_rule(eng, def, SCAN_KIND_RULE, 0, e);
}

int scan_engine_new(struct scan_engine **out, struct bb_err *e)
{
	struct scan_engine *eng = calloc(1, sizeof *eng);
	size_t i;

	*out = NULL;
	if (!eng || !(eng->kw = ac_new(AC_NOCASE)) || !(eng->kwi = ac_new(AC_NOCASE))) {
		scan_engine_free(eng);
		return bb_errno(e, ENOMEM, "creating the scan engine");
	}
	for (i = 0; i < scan_builtin_count; i++)
		if (add_rule(eng, &scan_builtin_rules[i], SCAN_KIND_RULE, 0, e) < 0) {
			bb_err_wrap(e, "built-in rules");
			scan_engine_free(eng);
			return -1;
		}
	for (i = 0; i < sizeof injection_patterns / sizeof injection_patterns[0]; i++) {
		const struct inj_def *d = &injection_patterns[i];
		struct scan_rule_def def = { d->id, d->desc, d->regex, 0, 0, d->keywords, NULL, NULL, NULL };

		if (add_rule(eng, &def, SCAN_KIND_INJECTION, d->score, e) < 0) {
			bb_err_wrap(e, "injection patterns");
			scan_engine_free(eng);
			return -1;
		}
	}
	*out = eng;
	return 0;
}

static int add_re(struct re ***arr, size_t *n, const char *regex, const char *what, struct bb_err *e)
{
	struct re *re = NULL, **na;

	if (re_compile(regex, strlen(regex), 0, &re, e) < 0)
		return bb_err_wrap(e, "%s", what);
	na = realloc(*arr, (*n + 1) * sizeof *na);
	if (!na) {
		re_free(re);
		return bb_errno(e, ENOMEM, "%s", what);
	}
	na[(*n)++] = re;
	*arr = na;
	return 0;
}

int scan_engine_allow_regex(struct scan_engine *eng, const char *regex, struct bb_err *e)
{
	return add_re(&eng->allow, &eng->nallow, regex, "allowlist regex", e);
}

int scan_engine_allow_path(struct scan_engine *eng, const char *regex, struct bb_err *e)
{
	return add_re(&eng->paths, &eng->npaths, regex, "allowlist path", e);
}

int scan_path_allowed(const struct scan_engine *eng, const char *path, size_t len)
{
	size_t i;

	for (i = 0; i < eng->npaths; i++)
		if (re_search(eng->paths[i], path, len, 0, NULL))
			return 1;
	return 0;
}

int scan_engine_use_secrets(struct scan_engine *eng, struct bb_err *e)
{
	struct secrets *set;

	if (eng->finished)
		return bb_errf(e, BB_EINVAL, "known secrets taken after the engine was compiled");
	if (!(set = secrets_get(e)))
		return -1;
	secrets_put(eng->known);
	eng->known = set;
	eng->known_ac = secrets_ac(set);
	return 0;
}

int scan_engine_finish(struct scan_engine *eng, struct bb_err *e)
{
	size_t i;

	if (eng->finished)
		return 0;
	/* Only the rules that run: a rule left out by scan_engine_select costs nothing. */
	for (i = 0; i < eng->nrules; i++)
		if (!eng->rules[i].disabled &&
		    add_keywords(eng->rules[i].kind == SCAN_KIND_INJECTION ? eng->kwi : eng->kw, i, eng->rules[i].keywords, e) < 0)
			return bb_err_wrap(e, "rule '%s': keywords", eng->rules[i].id);
	if (ac_compile(eng->kw, e) < 0 || ac_compile(eng->kwi, e) < 0)
		return -1;
	eng->finished = 1;
	return 0;
}

size_t scan_engine_rule_count(const struct scan_engine *eng)
{
	size_t i, n = 0;

	for (i = 0; i < eng->nrules; i++)
		n += eng->rules[i].kind == SCAN_KIND_RULE && !eng->rules[i].disabled;
	return n;
}

int scan_engine_select(struct scan_engine *eng, const char *const *ids, size_t n, struct bb_err *e)
{
	size_t i, k;

	if (eng->finished) /* the keyword automaton holds only the selected rules' keywords */
		return bb_errf(e, BB_EINVAL, "rules selected after the engine was compiled");

	for (k = 0; k < n; k++) {
		for (i = 0; i < eng->nrules; i++)
			if (!strcmp(eng->rules[i].id, ids[k]))
				break;
		if (i == eng->nrules)
			return bb_errf(e, BB_EINVAL, "no rule with id '%s' (see 'bb scan --list-rules')", ids[k]);
	}
	for (i = 0; i < eng->nrules; i++) {
		if (eng->rules[i].kind != SCAN_KIND_RULE)
			continue;
		for (k = 0; k < n && strcmp(eng->rules[i].id, ids[k]); k++)
			;
		eng->rules[i].disabled = k == n;
	}
	return 0;
}

size_t scan_engine_rule_total(const struct scan_engine *eng)
{
	return eng->nrules;
}

int scan_engine_rule_info(const struct scan_engine *eng, size_t i, struct scan_rule_info *info)
{
	const struct rule *r;

	if (i >= eng->nrules)
		return -1;
	r = &eng->rules[i];
	info->id = r->id;
	info->description = r->desc;
	info->regex = r->regex;
	info->keywords = r->keywords;
	info->entropy = r->entropy;
	info->injection = r->kind == SCAN_KIND_INJECTION;
	info->score = r->score;
	info->keyword_bound = r->kw_bound == RE_NOPOS ? SIZE_MAX : r->kw_bound;
	info->max_length = r->max_len == RE_NOPOS ? SIZE_MAX : r->max_len;
	return 0;
}

/* ---- streams ------------------------------------------------------------ */

/* Top stream with the decoding layer: bytes kept beyond SCAN_HOLD, for what the decoder has yet to look at. */
#define SCAN_DEC_SLACK 1024

int scan_stream_make(struct scan_stream **out, const struct scan_engine *eng, unsigned detectors,
		     enum scan_layer layer, size_t size, struct bb_err *e)
{
	struct scan_stream *s;
	size_t n = eng->nrules + 1;

	*out = NULL;
	if (!eng->finished)
		return bb_errf(e, BB_EINVAL, "scan engine used before scan_engine_finish");
	s = calloc(1, sizeof *s);
	if (!s || !(s->buf = malloc(size)) || !(s->pend = calloc(n, sizeof *s->pend)) ||
	    !(s->reported_to = calloc(n, sizeof *s->reported_to)) || !(s->active = malloc(n * sizeof *s->active)) ||
	    !(s->touched = malloc(n * sizeof *s->touched)) || !(s->is_touched = calloc(n, 1)) ||
	    (layer == LAYER_VIEW && !(s->own = malloc(size)))) {
		scan_stream_free(s);
		return bb_errno(e, ENOMEM, "creating a scan stream");
	}
	s->eng = eng;
	s->detectors = detectors;
	s->layer = layer;
	s->top = s;
	s->size = size;
	s->hold = layer == LAYER_DEC ? size : SCAN_HOLD;
	*out = s;
	return 0;
}

int scan_stream_new(struct scan_stream **out, const struct scan_engine *eng, unsigned detectors, struct bb_err *e)
{
	struct scan_stream *s;

	if (scan_stream_make(&s, eng, detectors, LAYER_TOP, SCAN_BUF, e) < 0)
		return -1;
	if ((detectors & SCAN_DECODE) && (detectors & (SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS))) {
		s->hold = SCAN_HOLD + SCAN_DEC_SLACK;
		if (scan_decoder_new(s, e) < 0) {
			scan_stream_free(s);
			return -1;
		}
	}
	*out = s;
	return 0;
}

void scan_stream_free(struct scan_stream *s)
{
	if (!s)
		return;
	scan_decoder_free(s->dec);
	free(s->buf);
	free(s->own);
	free(s->pend);
	free(s->reported_to);
	free(s->active);
	free(s->touched);
	free(s->is_touched);
	free(s);
}

/* Back to an empty stream: only the rules that were touched are cleared, so a small text costs a small reset. */
void scan_stream_clear(struct scan_stream *s)
{
	size_t i;

	for (i = 0; i < s->nactive; i++)
		s->pend[s->active[i]].active = 0;
	for (i = 0; i < s->ntouched; i++) {
		s->reported_to[s->touched[i]] = 0;
		s->is_touched[s->touched[i]] = 0;
	}
	s->nactive = s->ntouched = 0;
	s->len = 0;
	s->base = s->lines_at_base = s->raw_at_base = 0;
	s->kw_state = s->kwi_state = s->known_state = 0;
	s->known_to = 0;
	s->stopped = 0;
}

void scan_stream_reset(struct scan_stream *s)
{
	scan_stream_clear(s);
	if (s->dec)
		scan_decoder_reset(s->dec);
}

const char *scan_stream_incomplete(const struct scan_stream *s)
{
	return s->dec ? scan_decoder_incomplete(s->dec) : NULL;
}

static int is_tokenish(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("+/=_-.", c);
}

/*
 * The line around the secret, with the secret replaced by a marker keeping
 * at most its first 4 bytes (only when it is long enough that 4 bytes give
 * nothing away), and any other long token in the context shortened, since
 * it may be a secret this rule did not catch.
 */
void scan_excerpt(const struct scan_stream *s, uint64_t off, size_t len, char *out)
{
	char tmp[SCAN_EXCERPT_MAX * 2];
	size_t o = 0, a, b, i, cs, ce, keep = len >= 16 ? 4 : 0;

	if (off < s->base || off + len > s->base + s->len) {
		snprintf(out, SCAN_EXCERPT_MAX + 1, "[REDACTED %zu bytes]", len);
		return;
	}
	a = (size_t)(off - s->base);
	b = a + len;
	cs = a;
	while (cs > 0 && a - cs < 32 && s->buf[cs - 1] != '\n')
		cs--;
	ce = b;
	while (ce < s->len && ce - b < 24 && s->buf[ce] != '\n' && s->buf[ce] != '\r')
		ce++;
	for (i = cs; i < ce && o < sizeof tmp - 40;) {
		if (i == a) {
			size_t k;

			for (k = 0; k < keep; k++) {
				unsigned char c = (unsigned char)s->buf[a + k];
				tmp[o++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
			}
			o += (size_t)snprintf(tmp + o, sizeof tmp - o, "...[REDACTED %zu bytes]", len);
			i = b;
			continue;
		}
		if (is_tokenish((unsigned char)s->buf[i])) {
			size_t j = i;

			while (j < ce && j != a && is_tokenish((unsigned char)s->buf[j]))
				j++;
			if (j - i > 12) {
				tmp[o++] = s->buf[i];
				tmp[o++] = s->buf[i + 1];
				o += (size_t)snprintf(tmp + o, sizeof tmp - o, "...");
				i = j;
				continue;
			}
		}
		tmp[o++] = (unsigned char)s->buf[i] >= 0x20 && (unsigned char)s->buf[i] < 0x7f ? s->buf[i] : '.';
		i++;
	}
	if (o > SCAN_EXCERPT_MAX)
		o = SCAN_EXCERPT_MAX;
	memcpy(out, tmp, o);
	out[o] = 0;
}

/* Newlines in p[0..n). */
static uint64_t count_lines(const char *p, size_t n)
{
	return scan_count_byte(p, n, '\n');
}

/* Lines of a view's bytes: its own newlines, not decoded ones. */
static uint64_t count_view_lines(const struct scan_stream *s, size_t from, size_t to)
{
	uint64_t k = 0;
	size_t i;

	for (i = from; i < to; i++)
		k += s->buf[i] == '\n' && s->own[i] == 1;
	return k;
}

unsigned scan_line_of(const struct scan_stream *s, uint64_t off)
{
	size_t end = off > s->base ? (size_t)(off - s->base) : 0;

	if (end > s->len)
		end = s->len;
	return (unsigned)(s->lines_at_base + (s->own ? count_view_lines(s, 0, end) : count_lines(s->buf, end)) + 1);
}

static int report(struct scan_stream *s, enum scan_kind kind, const char *id, const char *desc, int score,
		  uint64_t off, size_t len, uint64_t mstart, uint64_t mend)
{
	struct scan_finding f;

	if (s->stopped)
		return 1;
	memset(&f, 0, sizeof f);
	f.kind = kind;
	f.id = id;
	f.description = desc;
	f.offset = off;
	f.length = len;
	f.score = score;
	f.line = scan_line_of(s, off);
	scan_excerpt(s, off, len, f.excerpt);
	if (s->layer != LAYER_TOP)
		return scan_decode_report(s, &f, mstart, mend);
	if (s->cb(&f, s->arg))
		s->stopped = 1;
	return s->stopped;
}

static int stopword(const struct rule *r, const char *p, size_t n)
{
	size_t i, j, k;

	for (k = 0; k < r->nstop; k++) {
		size_t sl = strlen(r->stop[k]);

		for (i = 0; sl && i + sl <= n; i++) {
			for (j = 0; j < sl; j++) {
				char c = p[i + j];

				if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != r->stop[k][j])
					break;
			}
			if (j == sl)
				return 1;
		}
	}
	return 0;
}

static void touch(struct scan_stream *s, size_t ri)
{
	if (!s->is_touched[ri]) {
		s->is_touched[ri] = 1;
		s->touched[s->ntouched++] = (uint32_t)ri;
	}
}

/* Run rule ri over its pending search (clipped to what the buffer holds). */
static void run_rule(struct scan_stream *s, size_t ri)
{
	const struct rule *r = &s->eng->rules[ri];
	struct pending *p = &s->pend[ri];
	uint64_t ws = p->start < s->base ? s->base : p->start;
	uint64_t we = p->end > s->base + s->len ? s->base + s->len : p->end;
	size_t pos, end, last;
	struct re_match m;

	p->active = 0;
	/* Go on after the last match looked at, as one search over the whole stream would. */
	if (ws < s->reported_to[ri])
		ws = s->reported_to[ri];
	if (we <= ws || p->last < ws)
		return;
	pos = (size_t)(ws - s->base);
	end = (size_t)(we - s->base);
	last = p->last >= we ? end : (size_t)(p->last - s->base);
	while (pos <= last && !s->stopped && re_search_bounded(r->re, s->buf, end, pos, last, &m)) {
		struct re_span g = m.group[r->group < m.ngroups ? r->group : 0];
		const char *sec;
		size_t slen, k;
		int allowed = 0;

		if (g.start == RE_NOPOS)
			g = m.group[0];
		pos = m.group[0].end > m.group[0].start ? m.group[0].end : m.group[0].start + 1;
		touch(s, ri);
		s->reported_to[ri] = s->base + pos;
		sec = s->buf + g.start;
		slen = g.end - g.start;
		if (slen == 0)
			continue;
		if (r->entropy > 0 && scan_entropy(sec, slen) < r->entropy)
			continue;
		if (r->allow && re_search(r->allow, sec, slen, 0, NULL))
			continue;
		if (r->allow_match &&
		    re_search(r->allow_match, s->buf + m.group[0].start, m.group[0].end - m.group[0].start, 0, NULL))
			continue;
		for (k = 0; k < s->eng->nallow && !allowed; k++)
			allowed = re_search(s->eng->allow[k], sec, slen, 0, NULL);
		if (allowed || stopword(r, sec, slen))
			continue;
		report(s, r->kind, r->id, r->desc, r->score, s->base + g.start, slen, s->base + m.group[0].start,
		       s->base + m.group[0].end);
	}
}

static int on_keyword(uint32_t id, size_t len, uint64_t end, void *arg)
{
	struct scan_stream *s = arg;
	const struct rule *r = &s->eng->rules[id];
	struct pending *p = &s->pend[id];
	uint64_t start = end - len, ws, last, we;

	if (r->disabled || !(s->detectors & (r->kind == SCAN_KIND_INJECTION ? SCAN_INJECTION : SCAN_TOKEN_PATTERNS)))
		return 0;
	if (r->kw_bound != RE_NOPOS) {
		/*
		 * A match holding this keyword starts in [end - kw_bound, start]; one
		 * byte past the longest match is context for $ and \b.
		 */
		ws = end > r->kw_bound ? end - r->kw_bound : 0;
		last = start;
		we = r->max_len != RE_NOPOS && r->max_len < r->span ? start + r->max_len + 1 : end + r->span;
	} else {
		ws = start > SCAN_BEFORE ? start - SCAN_BEFORE : 0;
		last = UINT64_MAX;
		we = end + r->span;
	}
	if (p->active) {
		/*
		 * Merge with the pending search when the starts touch, or when that
		 * one still waits for input (it then covers every start between:
		 * more work, the same matches). Else it can run now.
		 */
		int near = r->kw_bound != RE_NOPOS ? ws <= p->last + 1 : ws <= p->end;

		if (near || p->end > s->base + s->len) {
			if (last > p->last)
				p->last = last;
			if (we > p->end)
				p->end = we;
			return 0;
		}
		run_rule(s, id); /* it stays on the active list: its next search starts below */
	} else {
		s->active[s->nactive++] = id;
	}
	p->start = ws;
	p->last = last;
	p->end = we;
	p->active = 1;
	return s->stopped;
}

static int on_known(uint32_t id, size_t len, uint64_t end, void *arg)
{
	struct scan_stream *s = arg;
	uint64_t start = end - len;

	if (!secrets_is_dlp(s->eng->known, id))
		return 0; /* registered for redaction only */
	if (start < s->known_to)
		return 0; /* another form of the same occurrence */
	s->known_to = end;
	return report(s, SCAN_KIND_KNOWN, secrets_label(s->eng->known, id), "a registered secret value (or its encoding)", 0, start,
		      len, start, end);
}

struct known_probe {
	uint32_t id;
	int found;
};

static int on_known_probe(uint32_t id, size_t len, uint64_t end, void *arg)
{
	struct known_probe *k = arg;

	(void)len;
	(void)end;
	if (id != k->id)
		return 0;
	k->found = 1;
	return 1;
}

int scan_known_in(const struct scan_engine *eng, uint32_t id, const char *p, size_t n)
{
	struct known_probe k = { id, 0 };
	uint32_t st = 0;

	if (eng->known_ac)
		ac_scan(eng->known_ac, &st, p, n, 0, on_known_probe, &k);
	return k.found;
}

/*
 * Run the pending searches that can run: all of them (the stream ended),
 * those whose input is complete, and those starting before `before` (their
 * bytes are about to be dropped). The active list keeps the rest.
 */
static void run_pending(struct scan_stream *s, int all, uint64_t before)
{
	size_t i, k = 0;

	for (i = 0; i < s->nactive; i++) {
		uint32_t r = s->active[i];
		struct pending *p = &s->pend[r];

		if (!s->stopped && p->active && (all || p->end <= s->base + s->len || p->start < before))
			run_rule(s, r);
		if (p->active)
			s->active[k++] = r;
	}
	s->nactive = k;
}

/* Drop old bytes to make room, keeping the last `hold` (searches that need them run first). */
static void make_room(struct scan_stream *s)
{
	size_t drop = s->len > s->hold ? s->len - s->hold : 0, i;
	uint64_t keep = s->base + drop;

	if (s->dec) {
		/* The decoder's invariant keeps it within the slack; never drop what it has not read. */
		uint64_t need = scan_decoder_keep_from(s);

		if (need < keep && need >= s->base && need - s->base >= s->len / 4)
			keep = need;
		drop = (size_t)(keep - s->base);
	}
	run_pending(s, 0, keep);
	if (s->own) {
		s->lines_at_base += count_view_lines(s, 0, drop);
		for (i = 0; i < drop; i++)
			s->raw_at_base += s->own[i];
		memmove(s->own, s->own + drop, s->len - drop);
	} else {
		s->lines_at_base += count_lines(s->buf, drop);
	}
	memmove(s->buf, s->buf + drop, s->len - drop);
	s->len -= drop;
	s->base = keep;
}

void scan_stream_put(struct scan_stream *s, const char *d, size_t n, const uint8_t *own)
{
	while (n && !s->stopped) {
		size_t take, at;

		if (s->len == s->size)
			make_room(s);
		take = s->size - s->len < n ? s->size - s->len : n;
		at = s->len;
		memcpy(s->buf + at, d, take);
		if (s->own) {
			if (own)
				memcpy(s->own + at, own, take);
			else
				memset(s->own + at, 1, take);
		}
		s->len += take;
		if (s->detectors & SCAN_TOKEN_PATTERNS)
			ac_scan(s->eng->kw, &s->kw_state, s->buf + at, take, s->base + at, on_keyword, s);
		if ((s->detectors & SCAN_INJECTION) && !s->stopped)
			ac_scan(s->eng->kwi, &s->kwi_state, s->buf + at, take, s->base + at, on_keyword, s);
		if ((s->detectors & SCAN_KNOWN_SECRETS) && s->eng->known_ac && !s->stopped)
			ac_scan(s->eng->known_ac, &s->known_state, s->buf + at, take, s->base + at, on_known, s);
		run_pending(s, 0, 0);
		if (s->dec && !s->stopped)
			scan_decoder_advance(s, 0);
		d += take;
		n -= take;
		if (own)
			own += take;
	}
}

void scan_stream_finish(struct scan_stream *s)
{
	run_pending(s, 1, 0);
	if (s->dec && !s->stopped)
		scan_decoder_advance(s, 1);
}

int scan_feed(struct scan_stream *s, const void *data, size_t n, scan_cb cb, void *arg)
{
	s->cb = cb;
	s->arg = arg;
	scan_stream_put(s, data, n, NULL);
	return s->stopped;
}

int scan_end(struct scan_stream *s, scan_cb cb, void *arg)
{
	s->cb = cb;
	s->arg = arg;
	scan_stream_finish(s);
	return s->stopped;
}
