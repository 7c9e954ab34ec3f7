/* main.c - `bb init`: options, the three modes (plain, --sidecar, --agent), and the order they set things up in. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "applet.h"
#include "init.h"
#include "log.h"
#include "opt.h"

BB_APPLET(init, "PID 1 of the agent and sidecar containers")

static const char usage[] =
	"usage: bb init [OPTIONS] [--] CMD [ARGS...]\n"
	"       bb init --sidecar [OPTIONS]\n"
	"       bb init --agent [--uid N [--gid N]] [--gateway IP] [--dns IP] [OPTIONS] -- CMD [ARGS...]\n"
	"       bb init --vm CONF     (PID 1 of a vm bottle's guest: docs/runtime.md)\n"
	"PID 1 of a bottle's containers (also correct when not PID 1: it becomes a child\n"
	"subreaper). Reaps every zombie; forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1\n"
	"and SIGUSR2 to the process group of each child it started; after SIGTERM waits\n"
	"the grace period, then SIGKILLs whatever is left. When its children are gone,\n"
	"leftover (adopted) processes get SIGTERM, then SIGKILL after the grace period.\n"
	"Exits with the worst exit code of the children it started (death by signal n\n"
	"is 128+n; 127/126 when CMD cannot be run).\n"
	"  -g, --grace S          seconds between SIGTERM and SIGKILL (default 10; decimals ok)\n"
	"  -L, --log FILE|-       lifecycle events as JSON lines (default: --sidecar JSON on\n"
	"                         stderr; otherwise warnings only, as text on stderr)\n"
	"Sidecar mode: runs this binary's applets named in BB_SIDECAR_DAEMONS (comma list,\n"
	"default egress,git-gate,git-http,supervise,dns) as `bb NAME ARGS`, ARGS from\n"
	"BB_<NAME>_ARGS (split at spaces, no quoting; '-' becomes '_': BB_GIT_GATE_ARGS),\n"
	"else --policy $BB_POLICY (default /etc/bb/plan.json). A daemon that ends is\n"
	"restarted after a delay that doubles from --backoff up to --backoff-max; a run of\n"
	"--stable seconds resets it; after --max-failures fast failures in a row it is left\n"
	"down (a give-up event; the others keep running). SIGHUP goes to egress only\n"
	"(policy reload); SIGTERM and SIGINT stop every daemon.\n"
	"  -s, --sidecar\n"
	"  -m, --max-failures N   give up after N fast failures in a row (default 5; 0 never)\n"
	"  -b, --backoff S        first restart delay (default 0.5)\n"
	"  -B, --backoff-max S    longest restart delay (default 30)\n"
	"  -S, --stable S         uptime after which a run counts as healthy (default 60)\n"
	"Agent mode, each step fatal on failure (nothing runs): default route via IP\n"
	"(rtnetlink), /etc/resolv.conf naming IP, every capability dropped (effective,\n"
	"permitted, inheritable, bounding, ambient; securebits locked), no_new_privs, the\n"
	"uid/gid switched; then CMD runs as a child, init staying PID 1 with the same limits.\n"
	"  -a, --agent\n"
	"  -u, --uid N            run as this uid (not 0); supplementary groups cleared\n"
	"  -G, --gid N            and this gid (not 0; default: the uid)\n"
	"  -r, --gateway IP       set the default route via IP (IPv4 or IPv6)\n"
	"  -d, --dns IP           write /etc/resolv.conf with nameserver IP\n"
	"  -D, --dev-minimal      remove from /dev all but null zero full random urandom tty pts\n"
	"                         ptmx shm fd stdin stdout stderr (what an OCI runtime adds)";

/* Seconds with up to three decimals ("10", "0.5") as milliseconds, at most max_s seconds. */
static int parse_seconds(const char *s, uint64_t max_s, uint64_t *ms)
{
	uint64_t whole = 0, frac = 0, scale = 100;
	const char *p = s;
	int digits = 0;

	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > max_s)
			return -1;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++, scale /= 10)
			frac += (uint64_t)(*p - '0') * scale;
	}
	if (*p || !digits) /* "." alone is not a number; digits past the third decimal are dropped */
		return -1;
	*ms = whole * 1000 + frac;
	return *ms > max_s * 1000 ? -1 : 0;
}

/* A whole number from 0 to max. */
static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A uid or gid for the agent: never 0 (root), never -1 (the "unchanged" value of setresuid). */
static int parse_id(const char *s, unsigned long *out)
{
	return parse_count(s, 4294967294UL, out) < 0 || *out == 0 ? -1 : 0;
}

static int is_ip(const char *s)
{
	unsigned char bin[16];

	return inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1;
}

int init_main(int argc, char **argv)
{
	static struct init in; /* the loop and timers live as long as init does */
	struct init_agent agent = { 0 };
	struct init_kid *cmd = &in.kids[0];
	struct bb_err e;
	struct opt o;
	const char *logpath = NULL, *only_sidecar = NULL, *only_agent = NULL;
	unsigned long id;
	uint64_t v;
	int c, code, rc, have_gid = 0;

	if (argc == 3 && !strcmp(argv[1], "--vm")) /* the guest's setup, then this again as --agent */
		return init_vm_main(argv[2]);
	in.mode = INIT_PLAIN;
	in.sfd = -1;
	in.grace_ms = 10000;
	in.backoff = (struct proc_backoff_policy){ 500, 30000, 60000, 5 };
	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv,
			       "+h(help)s(sidecar)a(agent)g:(grace)L:(log)m:(max-failures)b:(backoff)B:(backoff-max)"
			       "S:(stable)u:(uid)G:(gid)r:(gateway)d:(dns)D(dev-minimal)",
			       usage, &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 's':
			if (in.mode == INIT_AGENT)
				return applet_usage_error(usage, "--sidecar and --agent exclude each other");
			in.mode = INIT_SIDECAR;
			break;
		case 'a':
			if (in.mode == INIT_SIDECAR)
				return applet_usage_error(usage, "--sidecar and --agent exclude each other");
			in.mode = INIT_AGENT;
			break;
		case 'g':
			if (parse_seconds(o.arg, 3600, &in.grace_ms) < 0)
				return applet_usage_error(usage, "--grace %s: want seconds, 0 to 3600", o.arg);
			break;
		case 'L':
			logpath = o.arg;
			break;
		case 'm':
			if (parse_count(o.arg, 1000, &id) < 0)
				return applet_usage_error(usage, "--max-failures %s: want a whole number, 0 to 1000", o.arg);
			in.backoff.max_failures = (unsigned)id;
			only_sidecar = "--max-failures";
			break;
		case 'b':
		case 'B':
		case 'S':
			if (parse_seconds(o.arg, 86400, &v) < 0)
				return applet_usage_error(usage, "-%c %s: want seconds, 0 to 86400", c, o.arg);
			if (c == 'b')
				in.backoff.first_ms = v;
			else if (c == 'B')
				in.backoff.max_ms = v;
			else
				in.backoff.stable_ms = v;
			only_sidecar = c == 'b' ? "--backoff" : c == 'B' ? "--backoff-max" : "--stable";
			break;
		case 'u':
		case 'G':
			if (parse_id(o.arg, &id) < 0)
				return applet_usage_error(usage, "--%s %s: want a number from 1 (0 is root, which the agent never is)",
							  c == 'u' ? "uid" : "gid", o.arg);
			if (c == 'u') {
				agent.switch_ids = 1;
				agent.uid = (uid_t)id;
			} else {
				agent.gid = (gid_t)id;
				have_gid = 1;
			}
			only_agent = c == 'u' ? "--uid" : "--gid";
			break;
		case 'D':
			agent.dev_minimal = 1;
			only_agent = "--dev-minimal";
			break;
		case 'r':
		case 'd':
			if (!is_ip(o.arg))
				return applet_usage_error(usage, "--%s %s: not an IPv4 or IPv6 address",
							  c == 'r' ? "gateway" : "dns", o.arg);
			if (c == 'r')
				agent.gateway = o.arg;
			else
				agent.dns = o.arg;
			only_agent = c == 'r' ? "--gateway" : "--dns";
			break;
		default:
			return applet_usage_error(usage, "unexpected option");
		}
	}
	if (only_sidecar && in.mode != INIT_SIDECAR)
		return applet_usage_error(usage, "%s only applies with --sidecar", only_sidecar);
	if (only_agent && in.mode != INIT_AGENT)
		return applet_usage_error(usage, "%s only applies with --agent", only_agent);
	if (have_gid && !agent.switch_ids)
		return applet_usage_error(usage, "--gid needs --uid");
	if (!have_gid)
		agent.gid = (gid_t)agent.uid;
	if (in.backoff.first_ms == 0)
		return applet_usage_error(usage, "--backoff must be more than 0 (a crashing daemon would spin)");
	if (in.backoff.max_ms < in.backoff.first_ms)
		return applet_usage_error(usage, "--backoff-max is shorter than --backoff");
	if (in.mode == INIT_SIDECAR && o.ind < argc)
		return applet_usage_error(usage, "--sidecar takes no command (it runs BB_SIDECAR_DAEMONS)");
	if (in.mode != INIT_SIDECAR && o.ind >= argc)
		return applet_usage_error(usage, "no command to run");

	if (logpath) {
		if (log_open("init", logpath, LOG_INFO, &e) < 0) {
			err_printf("%s", e.msg);
			return BB_EXIT_SYSTEM;
		}
	} else if (in.mode == INIT_SIDECAR) {
		log_setup("init", STDERR_FILENO, LOG_JSON, LOG_INFO);
	} else {
		log_setup("init", STDERR_FILENO, LOG_HUMAN, LOG_WARN);
	}

	if (in.mode == INIT_SIDECAR) {
		if (init_sidecar_load(&in, &e) < 0)
			return applet_usage_error(usage, "%s", e.msg);
	} else {
		snprintf(cmd->name, sizeof cmd->name, "%s", argv[o.ind]);
		cmd->argv = argv + o.ind;
		in.nkids = 1;
		in.tty_handover = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	}
	in.pid1 = getpid() == 1;

	rc = BB_EXIT_SYSTEM;
	if (init_signals_open(&in, &e) < 0) {
		err_printf("%s", e.msg);
		goto out;
	}
	if (in.mode == INIT_AGENT) {
		int pdeath = 0;
		prctl(PR_GET_PDEATHSIG, &pdeath);
		if (init_agent_setup(&agent, &e) < 0) {
			/* Fail closed: the agent never starts with a half-applied sandbox. */
			err_printf("agent setup failed at %s", e.msg);
			rc = e.code == BB_EINVAL ? BB_EXIT_USAGE : BB_EXIT_SYSTEM;
			goto out;
		}
		/* Switching ids cleared the parent-death signal the runtime set: the bottle must still die with its host. */
		if (pdeath)
			prctl(PR_SET_PDEATHSIG, pdeath);
	}
	rc = init_run(&in, &e);
	if (rc < 0) {
		err_printf("%s", e.msg);
		rc = BB_EXIT_SYSTEM;
	}
out:
	if (in.sfd >= 0)
		close(in.sfd);
	init_sidecar_free(&in);
	return rc;
}
