/* scan.h - the one scanning engine: credential rules, known secrets and prompt-injection patterns, over streams. */
#ifndef BB_SCAN_H
#define BB_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "secrets.h"

/*
 * egress (every request and response body, header and URL) and git-gate
 * (every line a push adds) call this engine; `bb scan` exposes it.
 *
 * Rules follow gitleaks' semantics: a regex, an optional secret group, an
 * optional Shannon-entropy floor on the secret, keywords (the regex runs
 * only near a place where one occurs; matching is case-insensitive), and
 * allowlists (regexes and stopwords on the secret, regexes on the path).
 * Matching never backtracks (lib/re): hostile input costs linear time.
 */

/* A rule as written in the built-in table (lib/scan_rules.c) or a user rules file. */
struct scan_rule_def {
	const char *id;          /* kebab-case, unique: "aws-access-key-id" */
	const char *description; /* one line, for people */
	const char *regex;       /* lib/re syntax (RE2-like) */
	unsigned secret_group;   /* capture group holding the secret; 0 = the whole match */
	double entropy;          /* minimum Shannon entropy (bits/byte) of the secret; 0 = no check */
	const char *keywords;    /* comma-separated, lower-case; NULL = run everywhere (avoid) */
	const char *allow_regex; /* optional: a secret matching this is not a finding */
	const char *stopwords;   /* optional, comma-separated: a secret containing one is not a finding */
	/* optional: a whole match (name, operator and all) matching this is not a finding
	 * (gitleaks' allowlist regexTarget = "match") */
	const char *allow_match;
};

extern const struct scan_rule_def scan_builtin_rules[];
extern const size_t scan_builtin_count;

/* What found something. */
enum scan_kind { SCAN_KIND_RULE, SCAN_KIND_KNOWN, SCAN_KIND_INJECTION };

#define SCAN_EXCERPT_MAX 96

struct scan_finding {
	enum scan_kind kind;
	const char *id;          /* rule id, known-secret label, or injection pattern id */
	const char *description;
	uint64_t offset;         /* of the secret, from the start of the stream */
	size_t length;           /* of the secret */
	unsigned line;           /* 1-based line of the secret in the stream */
	int score;               /* injection patterns: their weight; else 0 */
	/* The line around the secret with the secret itself replaced by a
	 * marker that keeps only its first 4 bytes: "token = ghp_...[REDACTED 36 bytes]".
	 * For a decoded finding, the decoded text around it. */
	char excerpt[SCAN_EXCERPT_MAX + 1];
	/*
	 * NULL: found in the text as it is. Else the decodings that showed it,
	 * outermost first ("base64", "percent,hex,base64", "split-lines"); offset
	 * and length are then those of the encoded text in the stream (the
	 * escaped span, the whole base64 run), line the line it starts on.
	 */
	const char *decoded;
};

/*
 * Called for each finding; return nonzero to stop scanning. One rule's
 * findings come in stream order; different rules' may interleave (each
 * rule's search runs when the input it needs is there).
 */
typedef int (*scan_cb)(const struct scan_finding *f, void *arg);

struct scan_engine;

/* Which detectors a stream runs (the manifest's dlp names). */
enum {
	SCAN_TOKEN_PATTERNS = 1, /* the rules */
	SCAN_KNOWN_SECRETS = 2,  /* exact values and their encodings */
	SCAN_INJECTION = 4,      /* prompt-injection patterns (inbound text) */
	/*
	 * Also look inside encodings (for the rules and known secrets): text
	 * with percent-escapes decoded and tokens split across two lines
	 * joined, and every base64 or hex run (SCAN_RUN_MIN bytes or more)
	 * decoded, to SCAN_DECODE_DEPTH levels (docs/scanning.md, "Encoded
	 * secrets").
	 */
	SCAN_DECODE = 8
};

#define SCAN_RUN_MIN 24     /* shorter base64/hex runs are not decoded (an 18-byte secret is 24 in base64) */
#define SCAN_DECODE_DEPTH 3 /* decodings applied one inside another, at most */

#define SCAN_KNOWN_MIN SECRET_FORM_MIN /* shorter known secrets are refused: they would match ordinary text */

/*
 * Build an engine with the built-in rules (and the injection patterns).
 * The engine is immutable once streams use it; build a new one to change it.
 */
int scan_engine_new(struct scan_engine **out, struct bb_err *e);
void scan_engine_free(struct scan_engine *eng);
/* Add rules from a YAML file (docs/scanning.md); errors name the rule id and what is wrong. */
int scan_engine_load_rules(struct scan_engine *eng, const char *path, struct bb_err *e);
/* Add one rule (used by the loader and by tests). */
int scan_engine_add_rule(struct scan_engine *eng, const struct scan_rule_def *def, struct bb_err *e);
/* Add a global allowlist regex (matched against every secret). */
int scan_engine_allow_regex(struct scan_engine *eng, const char *regex, struct bb_err *e);
/* Add a path allowlist regex: scan_path_allowed() says whether a path is exempt. */
int scan_engine_allow_path(struct scan_engine *eng, const char *regex, struct bb_err *e);
int scan_path_allowed(const struct scan_engine *eng, const char *path, size_t len);
/*
 * Find the known secrets: every value registered with SECRET_DLP
 * (lib/secrets.h) so far, in each of its forms (secrets_forms: the bytes,
 * base64 at three alignments, base64url, hex and percent-encoding in both
 * cases); findings are named by the value's label (never the value). The
 * engine keeps the set it took: values registered later need a new engine.
 * Before scan_engine_finish.
 */
int scan_engine_use_secrets(struct scan_engine *eng, struct bb_err *e);
/*
 * Keep only the rules whose ids are listed (n of them); the rest stay
 * loaded but never run. Every id must exist. Before scan_engine_finish.
 */
int scan_engine_select(struct scan_engine *eng, const char *const *ids, size_t n, struct bb_err *e);
/* The i-th rule (i < scan_engine_rule_total), for listings; 0, or -1 past the end. */
struct scan_rule_info {
	const char *id, *description, *regex, *keywords;
	double entropy;
	int injection, score;
	/* How the rule is searched near a keyword: matches start at most
	 * keyword_bound bytes before it (proved from the regex; SIZE_MAX: not
	 * proved, a window around the keyword is searched instead) and are at
	 * most max_length bytes long (SIZE_MAX: unbounded). */
	size_t keyword_bound, max_length;
};
size_t scan_engine_rule_total(const struct scan_engine *eng);
int scan_engine_rule_info(const struct scan_engine *eng, size_t i, struct scan_rule_info *info);
/* Compile what was added (keyword automaton); call once before streams start. */
int scan_engine_finish(struct scan_engine *eng, struct bb_err *e);
size_t scan_engine_rule_count(const struct scan_engine *eng);

/*
 * A stream: feed chunks of any size; a secret that spans chunk boundaries
 * is found; memory is fixed when the stream is created (no allocation in
 * scan_feed). Each finding is reported once.
 */
struct scan_stream;

int scan_stream_new(struct scan_stream **out, const struct scan_engine *eng, unsigned detectors,
		    struct bb_err *e);
void scan_stream_free(struct scan_stream *s);
/* Scan more bytes. Returns 0, or 1 when a callback asked to stop. */
int scan_feed(struct scan_stream *s, const void *data, size_t n, scan_cb cb, void *arg);
/* The stream is complete: scan what was held back for context. Returns 0 or 1 as scan_feed. */
int scan_end(struct scan_stream *s, scan_cb cb, void *arg);
/* Start over on a new stream with the same engine and detectors. */
void scan_stream_reset(struct scan_stream *s);
/*
 * NULL when everything fed so far was scanned; else why some of it could
 * not be (encodings nested deeper than SCAN_DECODE_DEPTH). A gate that must
 * fail closed refuses such input, naming the reason.
 */
const char *scan_stream_incomplete(const struct scan_stream *s);

/* Shannon entropy of p[0..n) in bits per byte. */
double scan_entropy(const void *p, size_t n);

#endif
