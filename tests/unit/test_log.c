/* test_log.c - unit tests of lib/log: redaction at the one output point, JSON lines, escaping. */
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"
#include "json.h"
#include "log.h"
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

static void json_lines_redacted(void)
{
	char *out;

	redact_clear();
	T_CHECK(redact_add("sk-SECRET-123456", 16, NULL) == 0);
	out = capture(emit, LOG_JSON);
	T_CHECK(strstr(out, "SECRET") == NULL);
	T_CHECK(strstr(out, "\"event\":\"deny\"") != NULL);
	T_CHECK(strstr(out, "\"token\":\"Bearer [REDACTED]\"") != NULL);
	T_CHECK(strstr(out, "\"prog\":\"unit\"") != NULL);
	T_CHECK(strstr(out, "\"k\\n\":\"tab\\there \\\"[REDACTED]\\\"\"") != NULL);
	/* Exactly two lines, each a JSON object. */
	T_CHECK(out[0] == '{' && strchr(out, '\n') && strchr(strchr(out, '\n') + 1, '\n'));
	free(out);
	redact_clear();
}

static void human_redacted(void)
{
	char *out;

	redact_clear();
	T_CHECK(redact_add("sk-SECRET-123456", 16, NULL) == 0);
	out = capture(emit, LOG_HUMAN);
	T_CHECK(strstr(out, "SECRET") == NULL);
	T_CHECK(strstr(out, "bb unit: deny host=api.example.com token=Bearer [REDACTED]\n") != NULL);
	free(out);
	redact_clear();
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

	redact_clear();
	T_CHECK(redact_add("abcd", 4, NULL) == 0);
	T_CHECK(redact_add("abcdefgh", 8, NULL) == 0);
	T_CHECK(redact_append(&b, "xabcdefghyabcdz", 15, NULL) == 0);
	T_STREQ(b.p, "x[REDACTED]y[REDACTED]z");
	buf_free(&b);
	redact_clear();
}

static void short_secret_refused(void)
{
	struct bb_err e = { 0 };

	T_CHECK(redact_add("abc", 3, &e) == -1);
	T_CHECK(strstr(e.msg, "too short") != NULL);
}

static void out_write_redacts(void)
{
	char path[] = "/tmp/bb-test-log.XXXXXX";
	int fd = mkstemp(path);
	struct buf b = BUF_INIT(4096);
	static const char msg[] = "pw=hunter22 and pw=hunter22\n";

	unlink(path);
	redact_clear();
	redact_add("hunter22", 8, NULL);
	T_CHECK(out_write(fd, msg, sizeof msg - 1) == 0);
	lseek(fd, 0, SEEK_SET);
	fd_read_all(fd, &b, NULL);
	close(fd);
	T_STREQ(b.p, "pw=[REDACTED] and pw=[REDACTED]\n");
	buf_free(&b);
	redact_clear();
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
	redact_clear();
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

int main(void)
{
	T_RUN(json_lines_redacted);
	T_RUN(human_redacted);
	T_RUN(filtered_by_level);
	T_RUN(longest_secret_first);
	T_RUN(short_secret_refused);
	T_RUN(out_write_redacts);
	T_RUN(escape_invalid_utf8);
	T_RUN(terminal_controls_escaped);
	T_END();
}
