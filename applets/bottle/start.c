/* start.c - `bb bottle start AGENT` and `bb bottle resume SLUG`: a preflight summary, a y/N on a terminal, then the agent in its bottle. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentprog.h"
#include "applet.h"
#include "backend.h"
#include "bottle.h"
#include "log.h"
#include "opt.h"
#include "plan.h"
#include "planfile.h"

static const char start_usage[] =
	"usage: bb bottle start AGENT [OPTIONS]\n"
	"Starts a bottle for AGENT (an agent or bottle manifest) and runs its provider's\n"
	"agent program (claude or codex) in it, attached to this terminal. First prints\n"
	"what the agent will get and, on a terminal, asks y/N. The bottle's state (plan,\n"
	"logs, the agent's home, a copied workspace) is kept when the agent exits: see\n"
	"'bb bottle list', 'logs', 'inspect', 'resume', and 'cleanup --all' to remove it.\n"
	"  -C, --cwd DIR        the workspace (default: the current directory)\n"
	"      --copy-cwd       the agent works on a copy of it kept with the bottle\n"
	"  -n, --dry-run        print the summary and the steps the start takes, and stop\n"
	"  -b, --backend NAME   embedded (default), oci, docker or vm\n"
	"  -r, --runtime PROG   with --backend oci: runc (default), crun or runsc (gVisor)\n"
	"  -k, --kernel FILE    with --backend vm: the guest's kernel (default: the newest\n"
	"                       /boot/vmlinuz-*; docs/runtime.md)\n"
	"  -i, --image NAME     the agent's root is this imported image ('bb bottle image')\n"
	"      --bare           NO isolation (explicit opt-out; also BB_BARE=1)\n"
	"  -y, --yes            do not ask\n"
	"  -H, --hosts FILE     hosts file the host-side dialer resolves with first (tests)";

static const char resume_usage[] =
	"usage: bb bottle resume SLUG [-y]\n"
	"Starts a stopped bottle again with its state: the same workspace (or its copy),\n"
	"the agent's home, the logs; the provider's agent continues its last session.\n"
	"  -y, --yes            do not ask\n"
	"  -H, --hosts FILE     hosts file the host-side dialer resolves with first (tests)";

static void line(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(const char *label, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	err_raw("  %-10s %s\n", label, text);
}

/* What the agent will get, from the plan: routes, repos, env names, mounts, backend. Values never shown. */
static int preflight(const struct session *s, const char *slug)
{
	struct manifest m;
	struct bb_err e = { 0 };
	cJSON *plan;
	struct planfile pf;
	struct planfile_provider prov;
	const struct planfile_route *routes = NULL;
	const struct planfile_env *env = NULL;
	struct planfile_git_gate gg;
	size_t nroutes = 0, nenv = 0, i;
	const char *df;
	int code, first, sup = 0;
	char buf[1024];

	if ((code = bottle_load(&m)) != 0)
		return code;
	plan = plan_build(&m, s->name, NULL, &e);
	if (!plan)
		plan = plan_build(&m, NULL, s->name, &e);
	if (!plan) {
		err_printf("%s", e.msg);
		manifest_free(&m);
		return BB_EXIT_FAIL;
	}
	if (planfile_wrap(&pf, s->name, plan, &e) < 0 || plan_register_tokens(&pf, &e) < 0 ||
	    planfile_provider(&pf, &prov, &e) < 0 ||
	    planfile_egress_routes(&pf, &routes, &nroutes, &e) < 0 || planfile_git_gate(&pf, &gg, &e) < 0 ||
	    planfile_env(&pf, &env, &nenv, &e) < 0 || planfile_supervise(&pf, &sup, &e) < 0) {
		err_printf("%s", e.msg);
		code = BB_EXIT_FAIL;
		goto out;
	}
	err_raw("bottle %s%s\n", slug ? slug : s->name, slug ? " (resume)" : "");
	line("agent", "%s (provider %s)", s->name, prov.template_);
	if (s->bare)
		line("backend", "NONE: --bare, the agent runs on this host without isolation");
	else if (!strcmp(s->backend, "oci"))
		line("backend", "oci (%s on bb's bundles)", s->runtime ? s->runtime : "runc");
	else
		line("backend", "%s", s->backend);
	{
		/* The program the bottle runs, as found on the host now: a missing one stops here, named. */
		const struct mf_agent *a = manifest_agent(&m, s->name);
		const struct mf_bottle *b = manifest_bottle(&m, a ? a->bottle : s->name);
		struct agentprog p;
		int own_root = !s->bare && ((s->image && *s->image) || (b && b->provider.dockerfile[0]));
		if (b && provider_program(b, &p, &e) < 0) {
			if (!own_root || b->provider.program[0]) {
				err_printf("%s: %s", s->name, e.msg);
				code = BB_EXIT_FAIL;
				goto out;
			}
			/* The agent's root is an image: it may bring the program (looked for there first at the start). */
			line("program", "%s, from the image (not on this host)", b->provider.template_);
			p.nneed = 0;
		}
		if (b && p.nneed) {
			snprintf(buf, sizeof buf, "%s%s%s", p.found, strcmp(p.found, p.real) ? " -> " : "",
				 strcmp(p.found, p.real) ? p.real : "");
			line("program", "%s", buf);
			if (p.interp[0])
				line("", "run by %s", p.interp);
		}
	}
	df = prov.dockerfile;
	line("workspace", "%s (%s)", s->workspace, s->copy_cwd ? "a copy, kept with the bottle" : "read-write");
	if (s->image && *s->image)
		line("mounts", "image %s read-only, the workspace at /workspace; /tmp, /run fresh; home kept", s->image);
	else if (!s->bare && df && *df)
		line("mounts", "an image built from %s (agent_provider.dockerfile; reused while unchanged) read-only; "
			       "/tmp, /run fresh; home kept", df);
	else
		line("mounts", "host filesystem read-only; /tmp, /run fresh; home kept with the bottle");
	first = 1;
	for (i = 0; i < nroutes; i++) {
		const char *ref = routes[i].token_ref;
		snprintf(buf, sizeof buf, "%s%s%s%s", routes[i].host, ref ? " [token from $" : "", ref ? ref : "",
			 ref ? ", injected by egress]" : "");
		line(first ? "egress" : "", "%s", buf);
		first = 0;
	}
	if (first)
		line("egress", "(no route: nothing outside is reachable)");
	first = 1;
	for (i = 0; i < gg.nrepos; i++) {
		line(first ? "git-gate" : "", "%s -> %s", gg.repos[i].name, gg.repos[i].url);
		first = 0;
	}
	buf[0] = 0;
	for (i = 0; i < nenv; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, sizeof buf - l, "%s%s", l ? ", " : "", env[i].name);
	}
	line("env", "%s", buf[0] ? buf : "(none from the manifest)");
	line("supervise", "%s", sup ? "on: the agent may ask for more over MCP" : "off");
	code = 0;
out:
	planfile_free(&pf);
	cJSON_Delete(plan);
	manifest_free(&m);
	return code;
}

/* y/N on the terminal: 0 for yes; BB_EXIT_FAIL otherwise. Without a terminal, yes (scripts pass -y anyway). */
static int confirm(int yes)
{
	char a[16] = "";
	if (yes || !isatty(0) || !isatty(2))
		return 0;
	err_raw("start it? [y/N] ");
	if (!fgets(a, sizeof a, stdin) || (a[0] != 'y' && a[0] != 'Y')) {
		err_raw("not started\n");
		return BB_EXIT_FAIL;
	}
	return 0;
}

int bottle_bare_asked(int flag)
{
	const char *v = getenv("BB_BARE");
	return flag || (v && !strcmp(v, "1"));
}

int bottle_start(int argc, char **argv)
{
	struct opt o;
	struct session s = { .backend = "embedded", .keep_state = 1 };
	char ws[PATH_MAX];
	const char *workspace = NULL;
	int c, code, dry = 0, yes = 0, bare = 0;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)C:(cwd)c(copy-cwd)n(dry-run)b:(backend)r:(runtime)k:(kernel)B(bare)y(yes)H:(hosts)i:(image)",
			       start_usage, &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 'C': workspace = o.arg; break;
		case 'c': s.copy_cwd = 1; break;
		case 'n': dry = 1; break;
		case 'b':
			if (!backend_find(o.arg) || (backend_find(o.arg)->flags & BK_HOST))
				return applet_usage_error(start_usage, "--backend %s: want %s", o.arg, backend_choices());
			s.backend = o.arg;
			break;
		case 'r': s.runtime = o.arg; break;
		case 'k': s.kernel = o.arg; break;
		case 'B': bare = 1; break;
		case 'y': yes = 1; break;
		case 'H': s.hosts = o.arg; break;
		case 'i': s.image = o.arg; break;
		default: return applet_usage_error(start_usage, "unexpected option");
		}
	}
	if (o.ind >= argc)
		return applet_usage_error(start_usage, "which agent?");
	s.name = argv[o.ind++];
	if (o.ind < argc)
		return applet_usage_error(start_usage, "unexpected argument '%s' (to run a command: bb bottle run %s -- CMD)",
					  argv[o.ind], s.name);
	if ((code = bottle_workspace(workspace, ws)) != 0)
		return code;
	s.workspace = ws;
	s.bare = bottle_bare_asked(bare);
	if (s.bare)
		err_raw("bb: WARNING: --bare: this agent runs WITHOUT isolation: it can reach the network, read your "
			"files and your credentials directly\n");
	if ((code = preflight(&s, NULL)) != 0)
		return code;
	s.dry_run = dry; /* the session lists its steps, resolving only */
	if (!dry && (code = confirm(yes)) != 0)
		return code;
	return bottle_session(&s);
}

int bottle_resume(int argc, char **argv)
{
	struct opt o;
	struct session s = { .keep_state = 1 };
	struct bottle_meta meta;
	struct bb_err e = { 0 };
	int c, code, yes = 0;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)y(yes)H:(hosts)", resume_usage, &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 'y': yes = 1; break;
		case 'H': s.hosts = o.arg; break;
		default: return applet_usage_error(resume_usage, "unexpected option");
		}
	}
	if (o.ind + 1 != argc)
		return applet_usage_error(resume_usage, "which bottle? (its slug, from 'bb bottle list')");
	if (bottle_meta_read(argv[o.ind], &meta, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_FAIL;
	}
	if (!strcmp(meta.status, "running")) {
		err_printf("bottle %s is running (host process %d)", meta.slug, meta.host_pid);
		return BB_EXIT_FAIL;
	}
	if (strcmp(meta.command, "start")) {
		err_printf("bottle %s ran one command ('bb bottle run'); only started bottles resume", meta.slug);
		return BB_EXIT_FAIL;
	}
	s.name = meta.agent;
	s.resume = meta.slug;
	s.workspace = meta.cwd;
	s.backend = meta.backend;
	s.runtime = meta.runtime[0] ? meta.runtime : NULL;
	s.kernel = meta.kernel[0] ? meta.kernel : NULL;
	s.bare = meta.bare;
	s.copy_cwd = meta.copy_cwd;
	s.image = meta.image[0] ? meta.image : NULL;
	if (s.bare)
		err_raw("bb: WARNING: --bare: this agent runs WITHOUT isolation\n");
	if ((code = preflight(&s, meta.slug)) != 0 || (code = confirm(yes)) != 0)
		return code;
	return bottle_session(&s);
}
