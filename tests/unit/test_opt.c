/* test_opt.c - unit tests of lib/opt: short, long, bundles, values, permutation, errors. */
#include "opt.h"
#include "t.h"

#define ARGV(...) char *argv[] = { "prog", __VA_ARGS__, NULL }; int argc = (int)(sizeof argv / sizeof argv[0]) - 1

static const char *spec = "h(help)v(verbose)p:(policy)l:(listen)";

static void short_and_long(void)
{
	ARGV("-v", "--policy", "a.json", "--listen=0.0.0.0:9099", "-pb.json");
	struct opt o;

	opt_init(&o);
	T_CHECK(opt_next(&o, argc, argv, spec) == 'v');
	T_CHECK(opt_next(&o, argc, argv, spec) == 'p');
	T_STREQ(o.arg, "a.json");
	T_CHECK(opt_next(&o, argc, argv, spec) == 'l');
	T_STREQ(o.arg, "0.0.0.0:9099");
	T_CHECK(opt_next(&o, argc, argv, spec) == 'p');
	T_STREQ(o.arg, "b.json");
	T_CHECK(opt_next(&o, argc, argv, spec) == -1);
	T_CHECK(o.ind == argc);
}

static void bundles(void)
{
	ARGV("-hvp", "x", "rest");
	struct opt o;

	opt_init(&o);
	T_CHECK(opt_next(&o, argc, argv, spec) == 'h');
	T_CHECK(opt_next(&o, argc, argv, spec) == 'v');
	T_CHECK(opt_next(&o, argc, argv, spec) == 'p');
	T_STREQ(o.arg, "x");
	T_CHECK(opt_next(&o, argc, argv, spec) == -1);
	T_STREQ(argv[o.ind], "rest");
}

static void permutes_operands(void)
{
	ARGV("start", "web", "--policy", "f", "-v", "more");
	struct opt o;
	int c, seen = 0;

	opt_init(&o);
	while ((c = opt_next(&o, argc, argv, spec)) != -1)
		seen += c == 'p' ? 1 : c == 'v' ? 10 : 100;
	T_CHECK(seen == 11);
	T_CHECK(argc - o.ind == 3);
	T_STREQ(argv[o.ind], "start");
	T_STREQ(argv[o.ind + 1], "web");
	T_STREQ(argv[o.ind + 2], "more");
}

static void plus_stops_at_operand(void)
{
	ARGV("-v", "cmd", "-h");
	struct opt o;

	opt_init(&o);
	T_CHECK(opt_next(&o, argc, argv, "+h(help)v") == 'v');
	T_CHECK(opt_next(&o, argc, argv, "+h(help)v") == -1);
	T_STREQ(argv[o.ind], "cmd");
}

static void double_dash(void)
{
	ARGV("-v", "--", "-h", "x");
	struct opt o;

	opt_init(&o);
	T_CHECK(opt_next(&o, argc, argv, spec) == 'v');
	T_CHECK(opt_next(&o, argc, argv, spec) == -1);
	T_STREQ(argv[o.ind], "-h");
}

static void errors(void)
{
	struct opt o;
	{
		ARGV("--polic", "x");
		opt_init(&o);
		T_CHECK(opt_next(&o, argc, argv, spec) == '?');
		T_STREQ(o.err, "unknown option '--polic'");
	}
	{
		ARGV("-x");
		opt_init(&o);
		T_CHECK(opt_next(&o, argc, argv, spec) == '?');
		T_STREQ(o.err, "unknown option '-x'");
	}
	{
		ARGV("--policy");
		opt_init(&o);
		T_CHECK(opt_next(&o, argc, argv, spec) == '?');
		T_STREQ(o.err, "option '--policy' needs a value");
	}
	{
		ARGV("-p");
		opt_init(&o);
		T_CHECK(opt_next(&o, argc, argv, spec) == '?');
		T_STREQ(o.err, "option '-p' needs a value");
	}
	{
		ARGV("--help=yes");
		opt_init(&o);
		T_CHECK(opt_next(&o, argc, argv, spec) == '?');
		T_STREQ(o.err, "option '--help' takes no value");
	}
	{
		ARGV("-:");
		opt_init(&o);
		T_CHECK(opt_next(&o, argc, argv, spec) == '?');
	}
}

static void dash_alone_is_operand(void)
{
	ARGV("-", "-v");
	struct opt o;

	opt_init(&o);
	T_CHECK(opt_next(&o, argc, argv, spec) == 'v');
	T_CHECK(opt_next(&o, argc, argv, spec) == -1);
	T_STREQ(argv[o.ind], "-");
}

int main(void)
{
	T_RUN(short_and_long);
	T_RUN(bundles);
	T_RUN(permutes_operands);
	T_RUN(plus_stops_at_operand);
	T_RUN(double_dash);
	T_RUN(errors);
	T_RUN(dash_alone_is_operand);
	T_END();
}
