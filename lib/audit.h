/* audit.h - reading egress's audit log back: the refused requests of a bottle, summed up for the operator. */
#ifndef BB_AUDIT_H
#define BB_AUDIT_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define AUDIT_SUMMARY_ROWS 12 /* one screen: the most frequent (host, rule) pairs, then a count of the rest */

/*
 * The refusals in an egress audit log (JSON lines; "event":"request" with a
 * verdict other than "allow" or "abort"), and the answers egress scrubbed
 * of a credential the upstream sent back (allowed, rule "scrub"), grouped
 * by host and rule, the most frequent first, each with its count and the
 * first reason given, appended to out as plain text lines of at most width
 * columns. Every value came from the sidecar's log and is made safe for a
 * terminal (controls and escapes shown as '?'). Lines that are not JSON
 * are skipped. Nothing is appended when there was neither. Returns the
 * number of refused requests, *scrubbed the number of scrubbed answers;
 * -1 with e set when out of memory.
 */
long audit_refused_summary(const char *log, size_t n, int width, struct buf *out, long *scrubbed, struct bb_err *e);

#endif
