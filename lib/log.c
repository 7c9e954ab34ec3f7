/* log.c - redacted output (the secrets registry's values and their forms) and the event logger. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fd.h"
#include "json.h"
#include "secrets.h"
#include "utf8.h"

#define LINE_MAX_BYTES (64 * 1024)

int redact_append(struct buf *out, const char *in, size_t n, struct bb_err *e)
{
	struct secrets *set;
	int rc;

	if (!secrets_count())
		return buf_append(out, in, n, e);
	if (!(set = secrets_get(e)))
		return -1;
	rc = secrets_redact(set, out, in, n, REDACT_MARK, e);
	secrets_put(set);
	return rc;
}

/* Redact, then (when safe) show escaped what would drive the terminal; write. */
static int write_out(int fd, const char *p, size_t n, int safe)
{
	struct buf r = BUF_INIT(n * 3 + 64), t = BUF_INIT(n * 12 + 64); /* "[REDACTED]" <= 2.5x; "\u{xxxxx}" <= 10x a byte */
	const char *q = p;
	size_t qn = n;
	int rc;

	if (secrets_count() > 0) {
		if (redact_append(&r, p, n, NULL) < 0)
			goto withheld; /* never fall back to the raw bytes */
		q = r.p ? r.p : "";
		qn = r.len;
	}
	if (safe && !utf8_text_safe(q, qn, 1)) {
		if (utf8_escape_unsafe(&t, q, qn, 1, NULL) < 0)
			goto withheld;
		q = t.p;
		qn = t.len;
	}
	rc = fd_write_all(fd, q, qn);
	buf_free(&r);
	buf_free(&t);
	return rc;
withheld:
	buf_free(&r);
	buf_free(&t);
	{
		static const char msg[] = "[output withheld: redaction failed]\n";
		return fd_write_all(fd, msg, sizeof msg - 1);
	}
}

int out_write(int fd, const char *p, size_t n)
{
	return write_out(fd, p, n, 1);
}

int out_write_raw(int fd, const char *p, size_t n)
{
	return write_out(fd, p, n, 0);
}

__attribute__((format(printf, 3, 0)))
static void vout(int fd, const char *prefix, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT(LINE_MAX_BYTES);
	va_list aq;
	int n;

	if (prefix)
		buf_append_str(&b, prefix, NULL);
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n >= 0 && buf_reserve(&b, (size_t)n, NULL) == 0) {
		vsnprintf(b.p + b.len, (size_t)n + 1, fmt, ap);
		b.len += (size_t)n;
	}
	if (prefix && (b.len == 0 || b.p[b.len - 1] != '\n'))
		buf_append_byte(&b, '\n', NULL);
	out_write(fd, b.p ? b.p : "", b.len);
	buf_free(&b);
}

static const char *prog = "bb";
static int log_fd = 2;
static enum log_format log_fmt = LOG_HUMAN;
static enum log_level log_min = LOG_INFO;

void out_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vout(1, NULL, fmt, ap);
	va_end(ap);
}

void err_raw(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vout(2, NULL, fmt, ap);
	va_end(ap);
}

void err_printf(const char *fmt, ...)
{
	char prefix[80];
	va_list ap;

	if (strcmp(prog, "bb") == 0)
		snprintf(prefix, sizeof prefix, "bb: ");
	else
		snprintf(prefix, sizeof prefix, "bb %s: ", prog);
	va_start(ap, fmt);
	vout(2, prefix, fmt, ap);
	va_end(ap);
}

void log_setup(const char *name, int fd, enum log_format fmt, enum log_level min)
{
	prog = name;
	log_fd = fd;
	log_fmt = fmt;
	log_min = min;
}

int log_open(const char *name, const char *path, enum log_level min, struct bb_err *e)
{
	int fd = 2;

	if (strcmp(path, "-") != 0) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0)
			return bb_errno(e, errno, "opening log file %s", path);
	}
	log_setup(name, fd, LOG_JSON, min);
	return 0;
}

const char *log_prog(void)
{
	return prog;
}

static const char *level_name[] = { "debug", "info", "warn", "error" };

/* Append a value: redacted first, then JSON-escaped if asked. */
static int put_value(struct buf *line, const char *v, int json)
{
	struct buf r = BUF_INIT(LINE_MAX_BYTES);
	int rc;

	if (redact_append(&r, v, strlen(v), NULL) < 0) {
		buf_free(&r);
		return buf_append_str(line, json ? "\"[withheld]\"" : "[withheld]", NULL);
	}
	rc = json ? json_escape(line, r.p ? r.p : "", r.len, NULL)
		  : buf_append(line, r.p ? r.p : "", r.len, NULL);
	buf_free(&r);
	return rc;
}

int log_event(enum log_level lvl, const char *event, ...)
{
	struct buf line = BUF_INIT(LINE_MAX_BYTES);
	const char *k, *v;
	va_list ap;
	int json = log_fmt == LOG_JSON, rc;

	if (lvl < log_min)
		return 0;
	if (json) {
		struct timespec ts;
		struct tm tm;
		char when[40];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
		buf_printf(&line, NULL, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"prog\":", when,
			   ts.tv_nsec / 1000000, level_name[lvl]);
		json_escape(&line, prog, strlen(prog), NULL);
		buf_append_str(&line, ",\"event\":", NULL);
		put_value(&line, event, 1);
	} else {
		buf_printf(&line, NULL, "bb %s: ", prog);
		if (lvl >= LOG_WARN)
			buf_printf(&line, NULL, "%s: ", level_name[lvl]);
		put_value(&line, event, 0);
	}
	va_start(ap, event);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (!v)
			v = "";
		if (json) {
			buf_append_byte(&line, ',', NULL);
			json_escape(&line, k, strlen(k), NULL);
			buf_append_byte(&line, ':', NULL);
			put_value(&line, v, 1);
		} else {
			buf_printf(&line, NULL, " %s=", k);
			put_value(&line, v, 0);
		}
	}
	va_end(ap);
	/* A line that did not fit its buffer is a failure too: an audit trail must not be cut mid-line. */
	errno = 0;
	rc = buf_append_str(&line, json ? "}\n" : "\n", NULL) < 0 ? -1 : out_write(log_fd, line.p, line.len);
	if (rc < 0 && errno == 0)
		errno = ENOSPC;
	buf_free(&line);
	return rc;
}
