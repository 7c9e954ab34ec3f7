/* applet.h - how an applet declares itself; scripts/gen-applets.sh builds the table from these lines. */
#ifndef BB_APPLET_H
#define BB_APPLET_H

/*
 * Each applet file has exactly one line at column 0:
 *     BB_APPLET(name, "one-line summary")
 * and defines   int name_main(int argc, char **argv)   ('-' in the name
 * becomes '_'). The generator sorts the table; nothing else registers
 * an applet. The macro expands to nothing in C.
 */
#define BB_APPLET(name, summary)

struct applet {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
};

/* The generated, sorted table (build/.../applets.c); lookup and the helper below live in applets/bb.c. */
extern const struct applet bb_applets[];
extern const unsigned bb_applet_count;

/* Look an applet up by name (binary search); NULL when there is none. */
const struct applet *applet_find(const char *name);

struct opt;

#define APPLET_OPT_EXIT (-2)

/*
 * opt_next() plus the answers every applet gives the same way: 'h' (put
 * "h(help)" in the spec) prints usage to stdout, a bad option prints the
 * parser's message and the usage to stderr. Both return APPLET_OPT_EXIT
 * with *code set (0 or BB_EXIT_USAGE) for the applet to return.
 */
int applet_opt(struct opt *o, int argc, char **argv, const char *spec, const char *usage, int *code);

/* Print a usage error (the message, then the usage) to stderr; returns BB_EXIT_USAGE. */
int applet_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * For applets whose issue has not landed: print that this applet is not
 * built yet (naming the issue) and return BB_EXIT_FAIL; with --help print
 * usage first and return 0.
 */
int applet_unbuilt(int argc, char **argv, const char *usage, int issue);

#endif
