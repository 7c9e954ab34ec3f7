/* bb.c - the multi-call entry point: applet lookup and dispatch on argv[0] or argv[1], --list, --help, --version. */
#include <bearssl.h>
#include <cjson/cJSON.h>
#include <git2.h>
#include <libssh2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <zlib.h>
#ifdef BB_HAVE_MBEDTLS
#include <mbedtls/version.h>
#endif

#include "applet.h"
#include "err.h"
#include "log.h"
#include "opt.h"

#ifndef BB_VERSION
#define BB_VERSION "0.0.0-dev"
#endif
#ifndef BB_BEARSSL_VERSION
#define BB_BEARSSL_VERSION "unknown"
#endif

static int by_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct applet *)elem)->name);
}

const struct applet *applet_find(const char *name)
{
	return bsearch(name, bb_applets, bb_applet_count, sizeof bb_applets[0], by_name);
}

int applet_unbuilt(int argc, char **argv, const char *usage, int issue)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			out_printf("%s\n(not built yet: issue %d)\n", usage, issue);
			return BB_EXIT_OK;
		}
	}
	err_printf("%s is not built yet (issue %d); nothing was done", argv[0], issue);
	return BB_EXIT_FAIL;
}

int applet_opt(struct opt *o, int argc, char **argv, const char *spec, const char *usage, int *code)
{
	int c = opt_next(o, argc, argv, spec);

	if (c == 'h') {
		out_printf("%s\n", usage);
		*code = BB_EXIT_OK;
		return APPLET_OPT_EXIT;
	}
	if (c == '?') {
		err_printf("%s\n%s", o->err, usage);
		*code = BB_EXIT_USAGE;
		return APPLET_OPT_EXIT;
	}
	return c;
}

int applet_usage_error(const char *usage, const char *fmt, ...)
{
	struct buf msg = BUF_INIT(4096);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n >= 0 && buf_reserve(&msg, (size_t)n, NULL) == 0) {
		va_start(ap, fmt);
		vsnprintf(msg.p, (size_t)n + 1, fmt, ap);
		va_end(ap);
		msg.len = (size_t)n;
	}
	err_printf("%s\n%s", msg.p ? msg.p : "", usage);
	buf_free(&msg);
	return BB_EXIT_USAGE;
}

static void usage_short(int fd)
{
	static const char msg[] =
		"usage: bb APPLET [ARGS...]   (or a link to bb named APPLET)\n"
		"       bb --list | --help | --version\n";
	out_write(fd, msg, sizeof msg - 1);
}

static void help(void)
{
	unsigned i;

	usage_short(1);
	out_printf("\nbb runs coding agents in a bottle whose only way out is a policy-checking sidecar.\n\n"
		   "applets:\n");
	for (i = 0; i < bb_applet_count; i++)
		out_printf("  %-10s %s\n", bb_applets[i].name, bb_applets[i].summary);
	out_printf("\n'bb APPLET --help' describes one applet.\n");
}

/*
 * BearSSL has no version API, so its version is the one scripts/deps.sh
 * pinned; running its SHA-256 on a known vector shows the code is linked
 * and working rather than trusting the label alone.
 */
static const char *bearssl_selftest(void)
{
	static const unsigned char want[4] = { 0xba, 0x78, 0x16, 0xbf }; /* SHA-256("abc") */
	unsigned char out[32];
	br_sha256_context c;

	br_sha256_init(&c);
	br_sha256_update(&c, "abc", 3);
	br_sha256_out(&c, out);
	return memcmp(out, want, sizeof want) == 0 ? "sha256 self-test ok" : "sha256 self-test FAILED";
}

static int version(void)
{
	int maj, min, rev, feat;

	git_libgit2_version(&maj, &min, &rev);
	feat = git_libgit2_features();
	out_printf("bb %s\n", BB_VERSION);
	out_printf("BearSSL %s (%s)\n", BB_BEARSSL_VERSION, bearssl_selftest());
	out_printf("libyaml %s\n", yaml_get_version_string());
	out_printf("cJSON %s\n", cJSON_Version());
	out_printf("libgit2 %d.%d.%d (ssh %s, https %s, threads %s)\n", maj, min, rev,
		   feat & GIT_FEATURE_SSH ? "on" : "off", feat & GIT_FEATURE_HTTPS ? "on" : "off",
		   feat & GIT_FEATURE_THREADS ? "on" : "off");
	out_printf("libssh2 %s\n", libssh2_version(0));
#ifdef BB_HAVE_MBEDTLS
	{
		char v[18];
		mbedtls_version_get_string(v);
		out_printf("mbedTLS %s\n", v);
	}
#endif
	out_printf("zlib %s\n", zlibVersion());
	return BB_EXIT_OK;
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static int run(const struct applet *a, int argc, char **argv)
{
	log_setup(a->name, 2, LOG_HUMAN, LOG_INFO);
	return a->main(argc, argv);
}

int main(int argc, char **argv)
{
	const struct applet *a;
	const char *name = argc > 0 ? base(argv[0]) : "bb";
	unsigned i;

	if (strcmp(name, "bb") != 0 && (a = applet_find(name)) != NULL)
		return run(a, argc, argv);
	if (argc < 2) {
		usage_short(2);
		return BB_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--list") == 0) {
		for (i = 0; i < bb_applet_count; i++)
			out_printf("%s\n", bb_applets[i].name);
		return BB_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help();
		return BB_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return version();
	a = applet_find(argv[1]);
	if (!a) {
		if (strcmp(name, "bb") != 0)
			err_printf("no applet named '%s' (this binary was called as '%s'); see 'bb --list'",
				   argv[1], name);
		else
			err_printf("no applet named '%s'; see 'bb --list'", argv[1]);
		return BB_EXIT_USAGE;
	}
	return run(a, argc - 1, argv + 1);
}
