/* secrets.h - the one registry of secret values: each registered once under a label, its encoded forms derived once, one automaton for redaction and DLP. */
#ifndef BB_SECRETS_H
#define BB_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct ac;

/*
 * The code that reads a secret (from env, a token file, a prompt, the
 * host's dialer) registers it here at once, under a label that names it
 * (a variable, a token slot: never the value). From then on:
 *  - every output (lib/log.c: out_write, log_event, err_printf) shows
 *    "[REDACTED]" for the value and for each of its encoded forms;
 *  - registered with SECRET_DLP, it is a known secret to every scan engine
 *    that takes the registry's set (scan_engine_use_secrets): each form is
 *    a finding named by the label.
 * The values and their forms go into one Aho-Corasick automaton (one table
 * lookup per byte however many secrets), compiled when first needed after
 * a registration. A compiled set is immutable and counted: a scan engine,
 * and the streams holding states of its automaton, keep the set they were
 * made with while later registrations compile the next one.
 */

#define REDACT_MIN_LEN 4   /* shorter values would redact ordinary text */
#define SECRET_FORM_MIN 8  /* shorter encoded forms, and DLP values, would match ordinary text */
#define SECRET_VALUE_MAX 4096
#define SECRETS_MAX 256    /* values one process registers */

enum {
	/* Also a known secret to DLP (and refused below SECRET_FORM_MIN bytes, so a
	 * credential too short to be told from text fails loudly instead of passing). */
	SECRET_DLP = 1
};

/*
 * Register a value (copied) under label (copied; NULL: "secret"). A value
 * registered again keeps its first label and gains the new flags. Fails
 * below REDACT_MIN_LEN (SECRET_FORM_MIN with SECRET_DLP), or past
 * SECRETS_MAX values; with SECRET_DLP, also above SECRET_VALUE_MAX (a
 * longer value is redacted as its bytes only: its encodings are not derived).
 */
int secrets_add(const char *label, const char *value, size_t len, unsigned flags, struct bb_err *e);
/* Forget every value, zeroing the copies (tests, and a process about to exec). Sets already taken stay valid. */
void secrets_clear(void);
/* Values registered. */
size_t secrets_count(void);

/* A compiled set: the values registered when it was made. */
struct secrets;

/* The set of everything registered so far, compiled if need be: a reference to give back with secrets_put. */
struct secrets *secrets_get(struct bb_err *e);
void secrets_put(struct secrets *s);

/* Its automaton (NULL when the set is empty); a pattern's id is its value's index below secrets_set_count. */
const struct ac *secrets_ac(const struct secrets *s);
size_t secrets_set_count(const struct secrets *s);
const char *secrets_label(const struct secrets *s, uint32_t id);
/* Was value id registered with SECRET_DLP? */
int secrets_is_dlp(const struct secrets *s, uint32_t id);

/*
 * Append in[0..n) to out with every form of every value in s replaced by
 * mark: the leftmost occurrence first, and of those starting at one place
 * the longest (so a secret that contains another is caught whole).
 */
int secrets_redact(const struct secrets *s, struct buf *out, const char *in, size_t n, const char *mark,
		   struct bb_err *e);

/*
 * The forms a value is found under, the one list redaction, DLP and
 * response scrubbing (lib/scrub.c) share: its bytes, base64 and base64url
 * as they appear at each of the three alignments inside a longer text, hex
 * in both cases, and percent-encoding in both cases (when the value has a
 * byte outside the unreserved set); forms shorter than SECRET_FORM_MIN are
 * left out. cb gets each form (a temporary view); a nonzero return stops
 * the walk and is returned. -1 with e when the value is too long or memory
 * runs out.
 */
typedef int (*secret_form_cb)(const char *form, size_t n, void *arg, struct bb_err *e);
int secrets_forms(const char *value, size_t len, secret_form_cb cb, void *arg, struct bb_err *e);
/* Add each of value's forms to ac (lib/ac.h, not yet compiled) as pattern id, raising *max_form to the longest. */
int secrets_forms_add(struct ac *ac, const char *value, size_t len, uint32_t id, size_t *max_form, struct bb_err *e);

#endif
