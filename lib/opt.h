/* opt.h - the one command-line option parser every applet uses (optstring style, like toybox). */
#ifndef BB_OPT_H
#define BB_OPT_H

/*
 * The spec is a string of entries, each: a character (the short option and
 * the value opt_next returns), then ':' if it takes a value, then optional
 * long names in parentheses.  Example: "h(help)p:(policy)l:(listen)".
 *   -p FILE, -pFILE, --policy FILE, --policy=FILE are the same; flags may be
 *   bundled (-hv); "--" ends options.
 * A leading '+' stops at the first operand (for commands that take another
 * command after their options, like `bb init --agent -- CMD`). Without it,
 * options and operands may be mixed and the operands are moved, in order, to
 * the end of argv, as GNU getopt does.
 * Long names must be given in full: an abbreviation is an unknown option.
 */
struct opt {
	int ind;         /* index of the next argv element; the first operand once done */
	const char *arg; /* value of the option just returned, else NULL */
	char err[160];   /* why '?' was returned */
	const char *next_; /* private: rest of a bundle like -abc */
};

void opt_init(struct opt *o);

/* The next option's character, -1 when options end, '?' on an error (see o->err). */
int opt_next(struct opt *o, int argc, char **argv, const char *spec);

#endif
