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

static const char usage[] =
	"usage: bb bottle plan NAME [--json] [--agent | --bottle]\n"
	"Resolves an agent (with its bottle) or a bottle alone: extends, provider routes,\n"
	"token slots, repos, env names, daemons, ports and provisioning steps. Secrets are\n"
	"named, never shown. NAME is looked up as an agent first, then as a bottle.\n"
	"  -j, --json     the plan document (schema bb.plan/1, docs/manifest.md)\n"
	"  -a, --agent    NAME is an agent     -b, --bottle   NAME is a bottle";

static void print_text(const cJSON *p)
{
	const cJSON *it, *r;

	if ((it = cJSON_GetObjectItem(p, "agent")) && cJSON_IsObject(it))
		out_printf("agent     %s (%s)\n", cJSON_GetObjectItem(it, "name")->valuestring,
			   cJSON_GetObjectItem(it, "file")->valuestring);
	it = cJSON_GetObjectItem(p, "bottle");
	out_printf("bottle    %s (%s)\n", cJSON_GetObjectItem(it, "name")->valuestring,
		   cJSON_GetObjectItem(it, "file")->valuestring);
	it = cJSON_GetObjectItem(p, "provider");
	out_printf("provider  %s\n", cJSON_GetObjectItem(it, "template")->valuestring);
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(p, "env"))
		out_printf("env       %s (%s)\n", cJSON_GetObjectItem(r, "name")->valuestring,
			   cJSON_GetObjectItem(r, "source")->valuestring);
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(cJSON_GetObjectItem(p, "egress"), "routes")) {
		const cJSON *auth = cJSON_GetObjectItem(r, "auth"), *from = cJSON_GetObjectItem(r, "from");
		const char *origin = cJSON_GetStringValue(cJSON_GetObjectItem(r, "origin"));
		const char *rules = cJSON_GetStringValue(cJSON_GetObjectItem(from, "rules"));
		char where[160] = "";
		/* A provider's route says so, and which manifest route refines it. */
		if (origin && strcmp(origin, "manifest"))
			snprintf(where, sizeof where, " (%s%s%s)", cJSON_GetStringValue(cJSON_GetObjectItem(from, "host")),
				 rules && strcmp(rules, "default") ? "; rules from " : "",
				 rules && strcmp(rules, "default") ? rules : "");
		if (cJSON_IsObject(auth))
			out_printf("egress    %s [auth:%s from %s via %s]%s\n", cJSON_GetObjectItem(r, "host")->valuestring,
				   cJSON_GetObjectItem(auth, "scheme")->valuestring,
				   cJSON_GetObjectItem(auth, "token_ref")->valuestring,
				   cJSON_GetObjectItem(auth, "token_slot")->valuestring, where);
		else
			out_printf("egress    %s%s\n", cJSON_GetObjectItem(r, "host")->valuestring, where);
	}
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(cJSON_GetObjectItem(p, "git_gate"), "repos"))
		out_printf("git gate  %s → %s:%d\n", cJSON_GetObjectItem(r, "name")->valuestring,
			   cJSON_GetObjectItem(r, "host")->valuestring, cJSON_GetObjectItem(r, "port")->valueint);
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(p, "notes"))
		out_printf("note      %s\n", r->valuestring);
}

int bottle_plan(int argc, char **argv)
{
	struct manifest m;
	struct bb_err e = { 0 };
	struct opt o;
	int c, rc, json = 0, kind = 0;
	const char *name;
	cJSON *p;

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
	if (!p || plan_register_tokens(p, &e) < 0) {
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
	} else {
		print_text(p);
	}
	cJSON_Delete(p);
	manifest_free(&m);
	return BB_EXIT_OK;
}
