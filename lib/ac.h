/* ac.h - Aho-Corasick multi-pattern matcher compiled to a DFA over byte classes; streams across chunks. */
#ifndef BB_AC_H
#define BB_AC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * Build: ac_add() each pattern with an id, then ac_compile(). Matching is
 * one table lookup per input byte whatever the number of patterns, and the
 * state carries over between calls, so a pattern split across two chunks
 * is found. With AC_NOCASE, ASCII letters match either case (patterns and
 * input are folded).
 */

#define AC_NOCASE 1
#define AC_MAX_STATES (1u << 22)

struct ac;

struct ac *ac_new(unsigned flags);
void ac_free(struct ac *a);
/* Add a pattern (copied); id is reported back. Empty patterns are refused. */
int ac_add(struct ac *a, const void *pat, size_t len, uint32_t id, struct bb_err *e);
int ac_compile(struct ac *a, struct bb_err *e);
size_t ac_pattern_count(const struct ac *a);
size_t ac_memory(const struct ac *a);

/* A hit: pattern id and where it ends (one past its last byte, as a stream offset). */
typedef int (*ac_cb)(uint32_t id, size_t len, uint64_t end, void *arg);

/*
 * Run over p[0..n), which starts at stream offset `at`, from *state (0 for a
 * new stream), updating it. Calls cb for every occurrence of every pattern,
 * in order of end position; stops early (returning 1) if cb returns nonzero.
 */
int ac_scan(const struct ac *a, uint32_t *state, const void *p, size_t n, uint64_t at, ac_cb cb, void *arg);

/*
 * Stepping by hand (for analyses that walk the automaton alongside
 * something else, like lib/re's keyword bound). States are opaque numbers;
 * 0 is the start. ac_step: the state after byte c (case-folded with
 * AC_NOCASE). ac_state_matches: does some pattern end in this state?
 * ac_state_index: a dense number below ac_state_count() for tables, and
 * ac_state_at its inverse. Only after ac_compile.
 */
uint32_t ac_step(const struct ac *a, uint32_t state, unsigned char c);
int ac_state_matches(const struct ac *a, uint32_t state);
size_t ac_state_count(const struct ac *a);
size_t ac_state_index(const struct ac *a, uint32_t state);
uint32_t ac_state_at(const struct ac *a, size_t index);

#endif
