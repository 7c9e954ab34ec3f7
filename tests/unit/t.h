/* t.h - a tiny unit-test harness: each case prints "ok - NAME" or "not ok - NAME: why" for tests/run.sh. */
#ifndef BB_T_H
#define BB_T_H

#include <stdio.h>
#include <string.h>

static int t_failed_case; /* the current case has failed */
static int t_failures;    /* cases failed in this program */

/* Check a condition inside a case; on failure, say where and go on. */
#define T_CHECK(cond)                                                                     \
	do {                                                                              \
		if (!(cond)) {                                                            \
			if (!t_failed_case)                                               \
				printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			t_failed_case = 1;                                                \
		}                                                                         \
	} while (0)

#define T_STREQ(a, b)                                                                      \
	do {                                                                               \
		const char *t_a = (a), *t_b = (b);                                         \
		if (!t_a || !t_b || strcmp(t_a, t_b) != 0) {                               \
			printf("#   %s:%d: '%s' != '%s'\n", __FILE__, __LINE__, t_a ? t_a : "(null)", \
			       t_b ? t_b : "(null)");                                      \
			t_failed_case = 1;                                                 \
		}                                                                          \
	} while (0)

/* Run one case: a function taking no arguments. */
#define T_RUN(fn)                                          \
	do {                                               \
		t_failed_case = 0;                         \
		fn();                                      \
		if (t_failed_case) {                       \
			t_failures++;                      \
			printf("not ok - %s\n", #fn);      \
		} else {                                   \
			printf("ok - %s\n", #fn);          \
		}                                          \
		fflush(stdout);                            \
	} while (0)

#define T_END() return t_failures ? 1 : 0

#endif
