/* test_log.c - unit tests of lib/log: redaction at the one output point, JSON lines, escaping. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ac.h"
#include "b64.h"
#include "buf.h"
#include "fd.h"
#include "json.h"
#include "log.h"
#include "secrets.h"
#include "t.h"

/* Run fn with the log pointed at a temp file; return what was written (caller frees). */
static char *capture(void (*fn)(void), enum log_format fmt)
{
	char path[] = "/tmp/bb-test-log.XXXXXX";
	int fd = mkstemp(path);
	struct buf b = BUF_INIT(1 << 20);

	unlink(path);
	log_setup("unit", fd, fmt, LOG_DEBUG);
	fn();
	lseek(fd, 0, SEEK_SET);
	fd_read_all(fd, &b, NULL);
	close(fd);
	log_setup("bb", 2, LOG_HUMAN, LOG_INFO);
	return buf_steal(&b, NULL);
}

static void emit(void)
{
	log_event(LOG_INFO, "deny", "host", "api.example.com", "token", "Bearer sk-SECRET-123456", (char *)NULL);
	log_event(LOG_DEBUG, "quote\"d", "k\n", "tab\there \"sk-SECRET-123456\"", (char *)NULL);
}

static void emit_encoded(void)
{
	log_event(LOG_INFO, "allow", "url", "https://example.com/login?pw=p%40ss%2Fw0rd%2Bs3cret&x=1",
		  "hex", "704073732f773072642b733363726574", (char *)NULL);
}

static void json_lines_redacted(void)
{
	char *out;

	secrets_clear();
	T_CHECK(secrets_add("test", "sk-SECRET-123456", 16, 0, NULL) == 0);
	out = capture(emit, LOG_JSON);
	T_CHECK(strstr(out, "SECRET") == NULL);
	T_CHECK(strstr(out, "\"event\":\"deny\"") != NULL);
	T_CHECK(strstr(out, "\"token\":\"Bearer [REDACTED]\"") != NULL);
	T_CHECK(strstr(out, "\"prog\":\"unit\"") != NULL);
	T_CHECK(strstr(out, "\"k\\n\":\"tab\\there \\\"[REDACTED]\\\"\"") != NULL);
	/* Exactly two lines, each a JSON object. */
	T_CHECK(out[0] == '{' && strchr(out, '\n') && strchr(strchr(out, '\n') + 1, '\n'));
	free(out);
	secrets_clear();
}

static void human_redacted(void)
{
	char *out;

	secrets_clear();
	T_CHECK(secrets_add("test", "sk-SECRET-123456", 16, 0, NULL) == 0);
	out = capture(emit, LOG_HUMAN);
	T_CHECK(strstr(out, "SECRET") == NULL);
	T_CHECK(strstr(out, "bb unit: deny host=api.example.com token=Bearer [REDACTED]\n") != NULL);
	free(out);
	secrets_clear();
}

static void filtered_by_level(void)
{
	char path[] = "/tmp/bb-test-log.XXXXXX";
	int fd = mkstemp(path);
	struct buf b = BUF_INIT(4096);

	unlink(path);
	log_setup("unit", fd, LOG_JSON, LOG_WARN);
	log_event(LOG_INFO, "quiet", (char *)NULL);
	log_event(LOG_ERROR, "loud", (char *)NULL);
	lseek(fd, 0, SEEK_SET);
	fd_read_all(fd, &b, NULL);
	close(fd);
	log_setup("bb", 2, LOG_HUMAN, LOG_INFO);
	T_CHECK(b.p && strstr(b.p, "loud") && !strstr(b.p, "quiet") && strstr(b.p, "\"level\":\"error\""));
	buf_free(&b);
}

static void longest_secret_first(void)
{
	struct buf b = BUF_INIT(4096);

	secrets_clear();
	T_CHECK(secrets_add("test", "abcd", 4, 0, NULL) == 0);
	T_CHECK(secrets_add("test", "abcdefgh", 8, 0, NULL) == 0);
	T_CHECK(redact_append(&b, "xabcdefghyabcdz", 15, NULL) == 0);
	T_STREQ(b.p, "x[REDACTED]y[REDACTED]z");
	buf_free(&b);
	secrets_clear();
}

/* A value past SECRET_VALUE_MAX (a key file in a variable) is still redacted, as its bytes. */
static void long_secret_redacted(void)
{
	enum { LEN = SECRET_VALUE_MAX + 904 };
	char *v = malloc(LEN + 2);
	struct buf b = BUF_INIT(LEN * 2);
	size_t i;

	T_CHECK(v != NULL);
	if (!v)
		return;
	for (i = 0; i < LEN; i++)
		v[i] = (char)('a' + i * 7 % 26);
	secrets_clear();
	T_CHECK(secrets_add("KEY", v, LEN, 0, NULL) == 0);
	T_CHECK(secrets_add("KEY", v, LEN, SECRET_DLP, NULL) == -1);
	v[LEN] = '!';
	T_CHECK(redact_append(&b, v, LEN + 1, NULL) == 0);
	T_CHECK(b.len == strlen(REDACT_MARK) + 1 && !memcmp(b.p, REDACT_MARK "!", b.len));
	buf_free(&b);
	free(v);
	secrets_clear();
}

static void short_secret_refused(void)
{
	struct bb_err e = { 0 };

	T_CHECK(secrets_add("test", "abc", 3, 0, &e) == -1);
	T_CHECK(strstr(e.msg, "too short") != NULL);
}

static void out_write_redacts(void)
{
	char path[] = "/tmp/bb-test-log.XXXXXX";
	int fd = mkstemp(path);
	struct buf b = BUF_INIT(4096);
	static const char msg[] = "pw=hunter22 and pw=hunter22\n";

	unlink(path);
	secrets_clear();
	secrets_add("test", "hunter22", 8, 0, NULL);
	T_CHECK(out_write(fd, msg, sizeof msg - 1) == 0);
	lseek(fd, 0, SEEK_SET);
	fd_read_all(fd, &b, NULL);
	close(fd);
	T_STREQ(b.p, "pw=[REDACTED] and pw=[REDACTED]\n");
	buf_free(&b);
	secrets_clear();
}

static void escape_invalid_utf8(void)
{
	struct buf b = BUF_INIT(256);

	T_CHECK(json_escape(&b, "a\xff" "b\x01\xc3\xa9\xed\xa0\x80", 9, NULL) == 0);
	T_STREQ(b.p, "\"a\\ufffdb\\u0001\xc3\xa9\\ufffd\\ufffd\\ufffd\"");
	buf_free(&b);
}

/* What would drive a terminal leaves out_write escaped; in JSON, C1, bidi and invisible characters are \u escapes. */
static void terminal_controls_escaped(void)
{
	static const char raw[] = "host \x1b]52;c;cHduZWQ=\x07 \xc2\x9b" "2J \xe2\x80\xae" "evil\n";
	char path[] = "/tmp/bb-test-log.XXXXXX";
	int fd = mkstemp(path);
	struct buf b = BUF_INIT(1 << 16), j = BUF_INIT(1024);

	unlink(path);
	secrets_clear();
	T_CHECK(out_write(fd, raw, sizeof raw - 1) == 0);
	lseek(fd, 0, SEEK_SET);
	fd_read_all(fd, &b, NULL);
	close(fd);
	T_STREQ(b.p, "host \\e]52;c;cHduZWQ=\\x07 \\u{009b}2J \\u{202e}evil\n");
	T_CHECK(json_escape(&j, "a\xc2\x9b\xe2\x80\xae\xf3\xa0\x81\x81\xc3\xa9", 12, NULL) == 0);
	T_STREQ(j.p, "\"a\\u009b\\u202e\\udb40\\udc41\xc3\xa9\"");
	buf_free(&b);
	buf_free(&j);
}

struct forms {
	char *f[32];
	size_t n;
};

static int collect(const char *form, size_t n, void *arg, struct bb_err *e)
{
	struct forms *fs = arg;

	(void)e;
	if (fs->n < 32)
		fs->f[fs->n++] = strndup(form, n);
	return 0;
}

/* A registered secret is redacted in its encodings too: a Basic header's base64, a URL's percent-escapes. */
static void encoded_forms_redacted(void)
{
	static const char secret[] = "p@ss/w0rd+s3cret";
	char b64[128], line[256];
	struct forms fs = { { 0 }, 0 };
	size_t blen, i;
	char *out;
	struct buf b = BUF_INIT(4096);

	secrets_clear();
	T_CHECK(secrets_add("PW", secret, strlen(secret), 0, NULL) == 0);
	T_CHECK(b64_encode((const unsigned char *)"user:p@ss/w0rd+s3cret", 21, B64_PAD, b64, sizeof b64, &blen, NULL) == 0);
	b64[blen] = 0;
	snprintf(line, sizeof line, "Authorization: Basic %s", b64);
	T_CHECK(redact_append(&b, line, strlen(line), NULL) == 0 && buf_append_byte(&b, 0, NULL) == 0);
	T_CHECK(b.p && strstr(b.p, "Authorization: Basic dXNlcjp") && strstr(b.p, REDACT_MARK));
	T_CHECK(secrets_forms(secret, strlen(secret), collect, &fs, NULL) == 0 && fs.n >= 8);
	for (i = 0; i < fs.n; i++) {
		T_CHECK(!b.p || !strstr(b.p, fs.f[i]));
		free(fs.f[i]);
	}
	buf_free(&b);
	out = capture(emit_encoded, LOG_JSON);
	T_CHECK(strstr(out, "\"url\":\"https://example.com/login?pw=[REDACTED]&x=1\"") != NULL);
	T_CHECK(strstr(out, "\"hex\":\"[REDACTED]\"") != NULL);
	T_CHECK(strstr(out, "p%40ss") == NULL && strstr(out, "P%40SS") == NULL);
	free(out);
	secrets_clear();
}

/* The old redactor, over a list of patterns: at each position the longest that matches, else move on. */
static void naive_redact(struct buf *out, const char *in, size_t n, char **pats, size_t np)
{
	size_t i = 0, run = 0, k, best;

	while (i < n) {
		best = 0;
		for (k = 0; k < np; k++) {
			size_t l = strlen(pats[k]);
			if (l > best && l <= n - i && !memcmp(in + i, pats[k], l))
				best = l;
		}
		if (!best) {
			i++;
			continue;
		}
		buf_append(out, in + run, i - run, NULL);
		buf_append_str(out, REDACT_MARK, NULL);
		i += best;
		run = i;
	}
	buf_append(out, in + run, n - run, NULL);
}

/* Leftmost, then longest, never overlapping: the automaton's redaction agrees with the old one on random text. */
static void redaction_agrees_with_naive(void)
{
	unsigned seed = 12345, round;

	for (round = 0; round < 300; round++) {
		struct forms fs = { { 0 }, 0 };
		struct buf got = BUF_INIT(1 << 16), want = BUF_INIT(1 << 16);
		char text[600], sec[16];
		size_t i, k, ns = 1 + round % 4, n = 50 + round % 500;

		secrets_clear();
		for (k = 0; k < ns; k++) {
			size_t len = 4 + (seed = seed * 1103515245 + 12345) % 6;
			for (i = 0; i < len; i++)
				sec[i] = "ab"[((seed = seed * 1103515245 + 12345) >> 16) & 1];
			if (secrets_add("s", sec, len, 0, NULL) == 0 && fs.n < 32)
				fs.f[fs.n++] = strndup(sec, len);
			secrets_forms(sec, len, collect, &fs, NULL);
		}
		for (i = 0; i < n; i++)
			text[i] = "ab"[((seed = seed * 1103515245 + 12345) >> 16) & 1];
		T_CHECK(redact_append(&got, text, n, NULL) == 0);
		naive_redact(&want, text, n, fs.f, fs.n);
		T_CHECK(got.len == want.len && !memcmp(got.p, want.p, got.len));
		for (i = 0; i < fs.n; i++)
			free(fs.f[i]);
		buf_free(&got);
		buf_free(&want);
	}
	secrets_clear();
}

/* Redaction speed on 1 MiB of log text with 50 registered 40-byte secrets, 20 of them present (printed, not judged). */
static void redaction_speed(void)
{
	enum { SIZE = 1 << 20, NSEC = 50 };
	char *text = malloc(SIZE), sec[NSEC][41];
	struct buf out = BUF_INIT(4u << 20);
	struct timespec t0, t1;
	size_t i, k, at = 0;
	unsigned seed = 7;
	double ms, compile_ms;
	struct secrets *set;

	secrets_clear();
	for (k = 0; k < NSEC; k++) {
		for (i = 0; i < 40; i++)
			sec[k][i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[((seed = seed * 1103515245 + 12345) >> 16) % 62];
		sec[k][40] = 0;
		T_CHECK(secrets_add("bench", sec[k], 40, 0, NULL) == 0);
	}
	for (k = 0; text && at < SIZE; k++) {
		char line[256];
		int n = snprintf(line, sizeof line,
				 "{\"ts\":\"2026-12-07T23:00:%02zu.000Z\",\"level\":\"info\",\"prog\":\"egress\",\"event\":\"allow\",\"host\":\"api%zu.example.com\",\"path\":\"/v1/items/%zu\"%s%s}\n",
				 k % 60, k % 97, k, k % 500 == 0 ? ",\"auth\":\"" : "", k % 500 == 0 ? sec[k / 500 % NSEC] : "");
		if (k % 500 == 0 && n > 0 && (size_t)n < sizeof line - 2) {
			line[n - 2] = '"';
			line[n - 1] = '}';
			line[n] = '\n';
			n++;
		}
		if (n <= 0 || at + (size_t)n > SIZE)
			break;
		memcpy(text + at, line, (size_t)n);
		at += (size_t)n;
	}
	T_CHECK(text != NULL);
	/* the first output after a registration compiles the automaton: timed on its own */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	T_CHECK(redact_append(&out, "x", 1, NULL) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	compile_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	out.len = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	T_CHECK(text && redact_append(&out, text, at, NULL) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	T_CHECK(out.p && !memmem(out.p, out.len, sec[0], 40) && memmem(out.p, out.len, REDACT_MARK, strlen(REDACT_MARK)));
	set = secrets_get(NULL);
	printf("# redact: %zu bytes, %d secrets: %.2f ms (%.0f MB/s); compiling the automaton once: %.2f ms, %zu KiB\n", at,
	       NSEC, ms, ms > 0 ? (double)at / 1e3 / ms : 0, compile_ms, set ? ac_memory(secrets_ac(set)) / 1024 : 0);
	secrets_put(set);
	free(text);
	buf_free(&out);
	secrets_clear();
}

int main(void)
{
	T_RUN(json_lines_redacted);
	T_RUN(human_redacted);
	T_RUN(filtered_by_level);
	T_RUN(longest_secret_first);
	T_RUN(short_secret_refused);
	T_RUN(long_secret_redacted);
	T_RUN(out_write_redacts);
	T_RUN(escape_invalid_utf8);
	T_RUN(terminal_controls_escaped);
	T_RUN(encoded_forms_redacted);
	T_RUN(redaction_agrees_with_naive);
	T_RUN(redaction_speed);
	T_END();
}
