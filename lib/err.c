/* err.c - error values: formatting and wrapping of messages. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bb_errf(struct bb_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int bb_errno(struct bb_err *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!e)
		return -1;
	e->code = errnum;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	if (n < sizeof e->msg)
		snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(errnum));
	return -1;
}

int bb_err_wrap(struct bb_err *e, const char *fmt, ...)
{
	char old[BB_ERR_MSG_MAX];
	va_list ap;
	size_t n;

	if (!e)
		return -1;
	memcpy(old, e->msg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	if (n < sizeof e->msg)
		snprintf(e->msg + n, sizeof e->msg - n, ": %s", old);
	return -1;
}

void bb_err_clear(struct bb_err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = 0;
	}
}
