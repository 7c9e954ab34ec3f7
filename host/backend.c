/* backend.c - the backend table, and what every backend's session shares: the defaults prepare starts from, the stop. */
#include "backend.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

const struct backend *const backends[] = { &backend_embedded, &backend_oci, &backend_docker, &backend_vm, &backend_bare, NULL };

const struct backend *backend_find(const char *name)
{
	size_t i;
	for (i = 0; name && backends[i]; i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

const char *backend_choices(void)
{
	static char text[128];
	const char *names[16];
	size_t i, k = 0, len = 0;
	if (text[0])
		return text;
	for (i = 0; backends[i] && k < 16; i++)
		if (!(backends[i]->flags & BK_HOST))
			names[k++] = backends[i]->name;
	for (i = 0; i < k && len < sizeof text; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", !i ? "" : i + 1 == k ? " or " : ", ", names[i]);
	return text;
}

int backend_prepare(struct bk_run *r, const struct backend *be, struct rt_config *c, const char *runtime,
		    const char *kernel, struct bb_err *e)
{
	memset(r, 0, sizeof *r);
	r->be = be;
	r->c = c;
	r->runtime = runtime;
	r->kernel = kernel;
	snprintf(r->sidecar_addr, sizeof r->sidecar_addr, "%s", RT_SIDECAR_ADDR);
	snprintf(r->listen_addr, sizeof r->listen_addr, "0.0.0.0");
	r->egress_port = PORT_EGRESS;
	r->supervise_port = PORT_SUPERVISE;
	if ((be->flags & BK_ROOT) && geteuid() != 0)
		return bb_errf(e, BB_ELIB, "the %s backend needs root", be->name);
	return be->prepare ? be->prepare(r, e) : 0;
}

void backend_stop(struct bk_run *r)
{
	pid_t p;
	if (r->be && r->be->stop) {
		r->be->stop(r);
		return;
	}
	p = r->c && r->c->agent_pid ? *r->c->agent_pid : 0;
	if (p > 0)
		kill(p, SIGTERM);
}
