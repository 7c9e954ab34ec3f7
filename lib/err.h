/* err.h - error values that carry a message; lib/ reports through these, never by printing. */
#ifndef BB_ERR_H
#define BB_ERR_H

#include <stddef.h>

/* Exit codes shared by every applet (docs/exit-codes.md). */
enum {
	BB_EXIT_OK = 0,
	BB_EXIT_FAIL = 1,    /* policy refusal or operation failed */
	BB_EXIT_USAGE = 2,   /* bad command line */
	BB_EXIT_SYSTEM = 111 /* system error: out of memory, I/O, missing resource */
};

#define BB_ERR_MSG_MAX 512

/*
 * An error: a code (an errno value when one applies, else a BB_E* value)
 * and a human-readable message. Callers own it, usually on the stack.
 * A function that fails fills it and returns -1; one that succeeds leaves
 * it alone. NULL is accepted wherever a struct bb_err * is taken.
 */
struct bb_err {
	int code;
	char msg[BB_ERR_MSG_MAX];
};

enum {
	BB_EINVAL = 1000, /* malformed input */
	BB_ETOOBIG,       /* a hard cap was hit */
	BB_ETLS,          /* TLS handshake or certificate failure */
	BB_ELIB,          /* a library call failed; message says which */
	BB_ENOTIMPL       /* not built yet */
};

/* Set code and message (printf format, truncated to fit); returns -1. */
int bb_errf(struct bb_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like bb_errf, and appends ": strerror(errnum)"; code = errnum; returns -1. */
int bb_errno(struct bb_err *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the existing message with "fmt: " (adds context while unwinding); returns -1. */
int bb_err_wrap(struct bb_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void bb_err_clear(struct bb_err *e);

#endif
