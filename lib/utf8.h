/* utf8.h - UTF-8 decoding, and the characters a person's terminal must never receive raw. */
#ifndef BB_UTF8_H
#define BB_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/*
 * The length (1-4) of the valid UTF-8 sequence at s (n bytes available),
 * its code point in *cp; 0 when the bytes there are not one: a stray
 * continuation byte, an overlong form, a surrogate, a value past
 * U+10FFFF, or a sequence cut short by n.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* How many bytes of s[0..n) are whole valid UTF-8 sequences from the start: n when all of it is UTF-8. */
size_t utf8_valid_prefix(const unsigned char *s, size_t n);

/*
 * Whether a code point must not reach a terminal as it is, because it
 * changes what the screen shows rather than being shown: C0 controls (tab
 * and newline included: callers that keep them say so), DEL, C1 controls
 * (U+0080-U+009F: U+009B is a CSI), bidirectional controls (U+061C,
 * U+200E/F, U+202A-U+202E, U+2066-U+2069), invisible and format characters
 * (zero-width space and joiners, word joiner and invisible operators,
 * soft hyphen, U+FEFF, fillers, variation selectors, tag characters,
 * interlinear annotation), the line and paragraph separators U+2028/9,
 * and the noncharacters U+FFFE/F.
 */
int utf8_cp_unsafe(uint32_t cp);

/*
 * Append s[0..n) to out as text safe for a terminal: every unsafe code
 * point shown escaped (\t \n \r \e, \xNN for other C0 bytes and DEL,
 * \u{XXXX} for the rest) and every byte that is not UTF-8 as \xNN; tab
 * and newline are kept as they are when keep_ws is set. 0, or -1 when out
 * hits its cap.
 */
int utf8_escape_unsafe(struct buf *out, const char *s, size_t n, int keep_ws, struct bb_err *e);

/* Whether s[0..n) holds nothing utf8_escape_unsafe would change (tab and newline allowed when keep_ws). */
int utf8_text_safe(const char *s, size_t n, int keep_ws);

#endif
