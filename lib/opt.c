/* opt.c - the optstring option parser. */
#include "opt.h"

#include <stdio.h>
#include <string.h>

void opt_init(struct opt *o)
{
	o->ind = 1;
	o->arg = NULL;
	o->err[0] = 0;
	o->next_ = NULL;
}

static int is_option(const char *a)
{
	return a[0] == '-' && a[1] != 0;
}

/* Find short option c in spec; returns its entry or NULL. */
static const char *find_short(const char *spec, char c)
{
	const char *s;

	for (s = spec; *s; s++) {
		if (*s == '(') {
			s = strchr(s, ')');
			if (!s)
				return NULL;
			continue;
		}
		if (*s == ':' || *s == '+')
			continue;
		if (*s == c)
			return s;
	}
	return NULL;
}

/* Find long name (len n) in spec; returns the entry's option character or NULL. */
static const char *find_long(const char *spec, const char *name, size_t n)
{
	const char *s, *entry = NULL, *end;

	for (s = spec; *s; s++) {
		if (*s == '(') {
			end = strchr(s, ')');
			if (!end)
				return NULL;
			if ((size_t)(end - s - 1) == n && memcmp(s + 1, name, n) == 0)
				return entry;
			s = end;
			continue;
		}
		if (*s != ':' && *s != '+')
			entry = s;
	}
	return NULL;
}

enum { UNKNOWN, NEEDS_VALUE, NO_VALUE };

static int fail(struct opt *o, int why, const char *dashes, const char *what, int wlen)
{
	static const char *const msg[] = { "unknown option", "needs a value", "takes no value" };

	if (why == UNKNOWN)
		snprintf(o->err, sizeof o->err, "%s '%s%.*s'", msg[why], dashes, wlen, what);
	else
		snprintf(o->err, sizeof o->err, "option '%s%.*s' %s", dashes, wlen, what, msg[why]);
	return '?';
}

/* Parse the option at argv[o->ind] (or the bundle in progress). */
static int parse_here(struct opt *o, int argc, char **argv, const char *spec)
{
	const char *a, *entry;
	int c;

	o->arg = NULL;
	if (!o->next_) {
		if (o->ind >= argc || !is_option(argv[o->ind]))
			return -1;
		a = argv[o->ind];
		if (strcmp(a, "--") == 0) {
			o->ind++;
			return -1;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);

			entry = find_long(spec, name, n);
			o->ind++;
			if (!entry)
				return fail(o, UNKNOWN, "--", name, (int)n);
			if (entry[1] == ':') {
				if (eq)
					o->arg = eq + 1;
				else if (o->ind < argc)
					o->arg = argv[o->ind++];
				else
					return fail(o, NEEDS_VALUE, "--", name, (int)n);
			} else if (eq) {
				return fail(o, NO_VALUE, "--", name, (int)n);
			}
			return (unsigned char)*entry;
		}
		o->next_ = a + 1;
	}
	c = (unsigned char)*o->next_++;
	entry = c == ':' || c == '(' || c == ')' || c == '+' ? NULL : find_short(spec, (char)c);
	if (!*o->next_) {
		o->next_ = NULL;
		o->ind++;
	}
	if (!entry) {
		char ch = (char)c;
		return fail(o, UNKNOWN, "-", &ch, 1);
	}
	if (entry[1] == ':') {
		if (o->next_) {
			o->arg = o->next_;
			o->next_ = NULL;
			o->ind++;
		} else if (o->ind < argc) {
			o->arg = argv[o->ind++];
		} else {
			char ch = (char)c;
			return fail(o, NEEDS_VALUE, "-", &ch, 1);
		}
	}
	return c;
}

int opt_next(struct opt *o, int argc, char **argv, const char *spec)
{
	int skipped, resumed, i, n, c, k;

	o->err[0] = 0;
	if (spec[0] == '+' || o->next_)
		return parse_here(o, argc, argv, spec);

	/* Look past operands for the next option, parse it there, then move
	 * what it consumed in front of the operands (musl's getopt_long does
	 * the same). */
	skipped = o->ind;
	for (i = o->ind; i < argc && !is_option(argv[i]); i++)
		;
	if (i >= argc)
		return -1;
	resumed = i;
	o->ind = i;
	c = parse_here(o, argc, argv, spec);
	if (resumed > skipped) {
		n = (o->next_ ? resumed + 1 : o->ind) - resumed;
		for (k = 0; k < n; k++) {
			char *moved = argv[resumed + k];

			for (i = resumed + k; i > skipped + k; i--)
				argv[i] = argv[i - 1];
			argv[skipped + k] = moved;
		}
		o->ind = o->next_ ? skipped : skipped + n;
	}
	return c;
}
