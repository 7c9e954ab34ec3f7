/* plan.c - `bb bottle plan NAME [--json]`: the fully resolved configuration `start` would use. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "applet.h"
#include "bottle.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "opt.h"
#include "plan.h"
#include "planfile.h"

static const char usage[] =
	"usage: bb bottle plan NAME [--json] [--agent | --bottle]\n"
	"Resolves an agent (with its bottle) or a bottle alone: extends, provider routes,\n"
	"token slots, repos, env names, daemons, ports and provisioning steps. Secrets are\n"
	"named, never shown. NAME is looked up as an agent first, then as a bottle.\n"
	"  -j, --json     the plan document (schema bb.plan/1, docs/manifest.md)\n"
	"  -a, --agent    NAME is an agent     -b, --bottle   NAME is a bottle";

/* The plan as text, read through planfile; -1 (e set) when a part does not read. */
static int print_text(struct planfile *pf, struct bb_err *e)
{
	struct planfile_source agent, bottle;
	struct planfile_provider prov;
	const struct planfile_env *env;
	const struct planfile_route *r;
	struct planfile_git_gate gg;
	struct planfile_strs notes;
	size_t nenv, nr, i;

	if (planfile_agent(pf, &agent, e) < 0 || planfile_bottle(pf, &bottle, e) < 0 ||
	    planfile_provider(pf, &prov, e) < 0 || planfile_env(pf, &env, &nenv, e) < 0 ||
	    planfile_egress_routes(pf, &r, &nr, e) < 0 || planfile_git_gate(pf, &gg, e) < 0 ||
	    planfile_notes(pf, &notes, e) < 0)
		return -1;
	if (agent.present)
		out_printf("agent     %s (%s)\n", agent.name, agent.file);
	out_printf("bottle    %s (%s)\n", bottle.name, bottle.file);
	out_printf("provider  %s\n", prov.template_);
	for (i = 0; i < nenv; i++)
		out_printf("env       %s (%s)\n", env[i].name, env[i].source);
	for (i = 0; i < nr; i++) {
		const char *rules = r[i].from_rules;
		char where[160] = "";
		/* A provider's route says so, and which manifest route refines it. */
		if (r[i].origin && strcmp(r[i].origin, "manifest"))
			snprintf(where, sizeof where, " (%s%s%s)", r[i].from_host,
				 rules && strcmp(rules, "default") ? "; rules from " : "",
				 rules && strcmp(rules, "default") ? rules : "");
		if (r[i].scheme)
			out_printf("egress    %s [auth:%s from %s via %s]%s\n", r[i].host, r[i].scheme, r[i].token_ref,
				   r[i].token_slot, where);
		else
			out_printf("egress    %s%s\n", r[i].host, where);
	}
	for (i = 0; i < gg.nrepos; i++)
		out_printf("git gate  %s → %s:%u\n", gg.repos[i].name, gg.repos[i].host, gg.repos[i].port);
	for (i = 0; i < notes.n; i++)
		out_printf("note      %s\n", notes.v[i]);
	return 0;
}

int bottle_plan(int argc, char **argv)
{
	struct manifest m;
	struct bb_err e = { 0 };
	struct opt o;
	int c, rc, json = 0, kind = 0;
	const char *name;
	cJSON *p;
	struct planfile pf;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)j(json)a(agent)b(bottle)", usage, &rc)) != -1) {
		if (c == APPLET_OPT_EXIT)
			return rc;
		if (c == 'j')
			json = 1;
		else
			kind = c;
	}
	if (argc - o.ind != 1)
		return applet_usage_error(usage, "expected one NAME");
	name = argv[o.ind];
	if ((rc = bottle_load(&m)) != 0)
		return rc;
	if (kind == 'a' || (kind == 0 && manifest_agent(&m, name)))
		p = plan_build(&m, name, NULL, &e);
	else
		p = plan_build(&m, NULL, name, &e);
	if (!p || planfile_wrap(&pf, "the plan", p, &e) < 0 || plan_register_tokens(&pf, &e) < 0) {
		if (p)
			planfile_free(&pf);
		cJSON_Delete(p);
		err_printf("%s", e.msg);
		manifest_free(&m);
		return BB_EXIT_FAIL;
	}
	if (json) {
		struct buf out = BUF_INIT(64 << 20);
		char *txt = cJSON_Print(p);

		if (txt) {
			out_printf("%s\n", txt);
			cJSON_free(txt);
		}
		buf_free(&out);
	} else if (print_text(&pf, &e) < 0) {
		err_printf("%s", e.msg);
		rc = BB_EXIT_FAIL;
	}
	planfile_free(&pf);
	cJSON_Delete(p);
	manifest_free(&m);
	return rc ? rc : BB_EXIT_OK;
}
