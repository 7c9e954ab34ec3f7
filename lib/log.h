/* log.h - the one output point: text for people, JSON lines for machines, both redacted here. */
#ifndef BB_LOG_H
#define BB_LOG_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "secrets.h"

/*
 * Every byte bb writes to a terminal, a log or a pipe for people or
 * machines passes through out_write(), which replaces each registered
 * secret (lib/secrets.h), raw or encoded, with "[REDACTED]" and shows
 * escaped what would drive a terminal. Register a secret as soon as it is
 * read (from env, a token file, a manifest): after that it cannot reach
 * any output, whatever message carries it.
 */

#define REDACT_MARK "[REDACTED]"

/* Append in[0..n) to out with every registered secret (lib/secrets.h: secrets_add), and each of its encoded forms, replaced. */
int redact_append(struct buf *out, const char *in, size_t n, struct bb_err *e);

/*
 * Write n bytes to fd, redacted and made safe for a terminal: control
 * characters (but tab and newline), C1, bidi and invisible characters and
 * bytes that are not UTF-8 are shown escaped (lib/utf8.h), so nothing an
 * agent or a sidecar wrote (a log line, a proposal, a host name, an error
 * quoting them) can drive the operator's terminal or hide what a line
 * says. The single choke point. 0 or -1 (errno set).
 */
int out_write(int fd, const char *p, size_t n);
/*
 * The same, redacted but not escaped: only for bytes that are safe by
 * construction (a dashboard frame: its text went through tui_put_text,
 * its escape sequences are the dashboard's own) or that the user asked
 * for as data.
 */
int out_write_raw(int fd, const char *p, size_t n);
/* printf to stdout, redacted. */
void out_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* printf to stderr, redacted, as is (summaries and prompts for people). */
void err_raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "bb NAME: message\n" on stderr, redacted; NAME is log_setup's prog. */
void err_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_HUMAN, LOG_JSON };

/* Where events go (default: stderr, human, info and above, prog "bb"). */
void log_setup(const char *prog, int fd, enum log_format fmt, enum log_level min);
/*
 * Open a log destination: "-" is stderr; else a file opened for append
 * (0600, created if missing). Format is JSON lines.
 */
int log_open(const char *prog, const char *path, enum log_level min, struct bb_err *e);
const char *log_prog(void);

/*
 * Log one event: a name and NULL-terminated key, value pairs of strings.
 *   log_event(LOG_INFO, "deny", "host", h, "reason", r, (char *)NULL);
 * JSON: {"ts":"...","level":"info","prog":"egress","event":"deny","host":...}
 * Human: "bb egress: deny host=... reason=..."
 * Values are redacted before they are escaped, so a secret is caught
 * even when JSON escaping would change its bytes.
 */
int log_event(enum log_level lvl, const char *event, ...) __attribute__((sentinel));
/* ^ 0, or -1 when the line was not written whole (errno set: ENOSPC, EIO, ...): an audit log that must not
 * silently lose a line (egress) checks it and fails closed. */

#endif
