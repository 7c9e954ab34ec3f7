/* main.c - `bb dns`: options, the policy and its SIGHUP reload, upstream choice, the loop and a bounded drain on SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "applet.h"
#include "daemon.h"
#include "dns.h"
#include "listenfd.h"
#include "log.h"
#include "opt.h"

BB_APPLET(dns, "DNS resolver that answers only names the policy allows")

static const char usage[] =
	"usage: bb dns --policy FILE [OPTIONS]\n"
	"The agent's resolver: answers only the names the plan's dns part allows (exact\n"
	"names; \"*.zone\" entries for names under zone), over UDP and TCP; refuses the\n"
	"rest and tunnelling shapes, and logs every decision as a JSON line.\n"
	"  -p, --policy FILE        the plan JSON (`bb bottle plan --json`, schema bb.plan/1)\n"
	"  -l, --listen ADDR:PORT   where to listen, UDP and TCP (default 0.0.0.0:53)\n"
	"  -F, --listen-fd N        use the UDP or TCP socket inherited as fd N instead (the\n"
	"                           runtime's; once per type)\n"
	"  -u, --upstream ADDR[:P]  forward allowed names there (repeatable, up to 3;\n"
	"                           default: the nameservers of /etc/resolv.conf)\n"
	"  -n, --nxdomain           answer names not allowed with NXDOMAIN, not REFUSED\n"
	"  -a, --answer ADDR        transparent mode: answer allowed names with ADDR (the\n"
	"                           sidecar) instead of forwarding; once per address family\n"
	"  -L, --log FILE|-         decision log, JSON lines (default - = stderr)\n"
	"  -t, --timeout MS         per try upstream (default 1500; 3 tries over the servers)\n"
	"  -m, --max-pending N      queries forwarded at once (default 512)\n"
	"  -c, --max-conns N        TCP clients at once (default 64)\n"
	"SIGHUP reloads the policy (a bad one is refused and the old kept) and re-reads\n"
	"resolv.conf; SIGTERM stops, letting queries in flight finish for up to 2 s.";

static struct dnsd D;

static void reload(struct dnsd *d)
{
	struct dnsserve_policy *p = NULL;
	struct bb_err e;
	char n[24];

	if (dnsserve_policy_load(d->policy_path, &p, &e) < 0) {
		log_event(LOG_ERROR, "reload", "result", "refused", "error", e.msg, "kept", "previous policy", (char *)NULL);
		return;
	}
	dnsserve_policy_free(d->pol);
	d->pol = p;
	if (d->up_from_conf) {
		struct resolve_server keep[RESOLVE_MAX_SERVERS];
		size_t nkeep = d->nup;

		memcpy(keep, d->up, sizeof keep);
		if (dnsd_upstreams_from_conf(d, &e) < 0 || dnsd_check_upstreams(d, &e) < 0) {
			memcpy(d->up, keep, sizeof keep);
			d->nup = nkeep;
			log_event(LOG_WARN, "reload", "what", "resolv.conf", "error", e.msg, "kept", "previous nameservers",
				  (char *)NULL);
		}
	}
	snprintf(n, sizeof n, "%zu", p->nentries);
	log_event(LOG_INFO, "reload", "result", "ok", "names", n, (char *)NULL);
}

static void stop_timer_cb(struct loop *l, struct loop_timer *t)
{
	(void)t;
	loop_stop(l);
}

static void signal_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct dnsd *d = io->arg;
	struct signalfd_siginfo si;

	(void)ev;
	while (read(d->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			reload(d);
		} else if (!d->stopping) {
			char n[24];

			snprintf(n, sizeof n, "%zu", d->npending);
			log_event(LOG_INFO, "stop", "signal", si.ssi_signo == SIGINT ? "INT" : "TERM", "in_flight", n,
				  (char *)NULL);
			d->stopping = 1;
			dnsd_stop_listening(d);
			if (d->npending == 0)
				loop_stop(l);
			else
				loop_timer_set(l, &d->stop_timer, DNSD_STOP_GRACE_MS, NULL);
		}
	}
}

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static void upstream_list(const struct dnsd *d, char *out, size_t cap)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < d->nup && o < cap; i++) {
		char a[NETADDR_TEXT_MAX];
		int n;

		if (netaddr_format(&d->up[i].addr, a, sizeof a) < 0)
			continue;
		n = snprintf(out + o, cap - o, d->up[i].addr.family == AF_INET6 ? "%s[%s]:%u" : "%s%s:%u", i ? "," : "", a,
			     d->up[i].port);
		if (n < 0)
			break;
		o += (size_t)n;
	}
}

int dns_main(int argc, char **argv)
{
	struct dnsd *d = &D;
	struct opt o;
	struct bb_err e;
	const char *logpath = "-";
	char ups[256], n[24];
	int c, code, rc = BB_EXIT_SYSTEM, loop_ok = 0;
	size_t k;

	memset(d, 0, sizeof *d);
	d->listen_spec = "0.0.0.0:53";
	d->cfg.deny_rcode = DNS_RCODE_REFUSED;
	d->try_ms = 1500;
	d->max_tries = 3;
	d->idle_ms = 10000;
	d->max_pending = 512;
	d->max_conns = 64;
	d->ufd = d->lfd = d->sfd = -1;
	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv,
			       "h(help)p:(policy)l:(listen)u:(upstream)n(nxdomain)a:(answer)L:(log)t:(timeout)"
			       "m:(max-pending)c:(max-conns)F:(listen-fd)",
			       usage, &code)) != -1) {
		unsigned long v;
		struct netaddr a;

		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 'p': d->policy_path = o.arg; break;
		case 'l': d->listen_spec = o.arg; break;
		case 'F': {
			int type = listenfd_type(o.arg, &e), *slot = type == SOCK_DGRAM ? &d->ufd : &d->lfd;
			if (type >= 0 && *slot >= 0)
				return applet_usage_error(usage, "--listen-fd: one UDP and one TCP socket at most");
			if (type < 0 || (*slot = listenfd_take(o.arg, type, &e)) < 0)
				return applet_usage_error(usage, "%s", e.msg);
			break;
		}
		case 'L': logpath = o.arg; break;
		case 'n': d->cfg.deny_rcode = DNS_RCODE_NXDOMAIN; break;
		case 'u':
			if (d->nup == RESOLVE_MAX_SERVERS)
				return applet_usage_error(usage, "at most %d --upstream", RESOLVE_MAX_SERVERS);
			if (resolve_server_parse(o.arg, strlen(o.arg), &d->up[d->nup], &e) < 0)
				return applet_usage_error(usage, "--upstream %s: %s", o.arg, e.msg);
			d->nup++;
			break;
		case 'a':
			if (netaddr_parse(o.arg, strlen(o.arg), &a, &e) < 0)
				return applet_usage_error(usage, "--answer %s: %s", o.arg, e.msg);
			if ((a.family == AF_INET && d->cfg.have_v4) || (a.family == AF_INET6 && d->cfg.have_v6))
				return applet_usage_error(usage, "--answer %s: one address per family", o.arg);
			if (a.family == AF_INET) {
				d->cfg.answer4 = a;
				d->cfg.have_v4 = 1;
			} else {
				d->cfg.answer6 = a;
				d->cfg.have_v6 = 1;
			}
			d->cfg.transparent = 1;
			break;
		case 't':
		case 'm':
		case 'c':
			if (parse_count(o.arg, c == 't' ? 60000 : 65536, &v) < 0)
				return applet_usage_error(usage, "-%c %s: want a positive number", c, o.arg);
			if (c == 't')
				d->try_ms = (unsigned)v;
			else if (c == 'm')
				d->max_pending = v;
			else
				d->max_conns = v;
			break;
		default:
			return applet_usage_error(usage, "unexpected option");
		}
	}
	if (!d->policy_path)
		return applet_usage_error(usage, "--policy FILE is required");
	if (o.ind < argc)
		return applet_usage_error(usage, "unexpected argument '%s'", argv[o.ind]);
	if (d->cfg.transparent && d->nup)
		return applet_usage_error(usage, "--answer and --upstream exclude each other (transparent mode forwards nothing)");
	if (resolve_server_parse(d->listen_spec, strlen(d->listen_spec), &d->listen, &e) < 0 ||
	    !strchr(d->listen_spec, ':'))
		return applet_usage_error(usage, "--listen %s: want ADDR:PORT", d->listen_spec);
	if (log_open("dns", logpath, LOG_INFO, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}

	if (dnsserve_policy_load(d->policy_path, &d->pol, &e) < 0) {
		rc = BB_EXIT_FAIL;
		goto fail;
	}
	if (!d->cfg.transparent && d->nup == 0) {
		d->up_from_conf = 1;
		if (dnsd_upstreams_from_conf(d, &e) < 0) {
			rc = BB_EXIT_FAIL;
			goto fail;
		}
	}
	if (dnsd_check_upstreams(d, &e) < 0) {
		rc = BB_EXIT_FAIL;
		goto fail;
	}
	d->pend = calloc(d->max_pending, sizeof *d->pend);
	d->conns = calloc(d->max_conns, sizeof *d->conns);
	if (!d->pend || !d->conns) {
		bb_errno(&e, ENOMEM, "tables");
		goto fail;
	}
	for (k = 0; k < d->max_pending; k++)
		d->pend[k].fd = -1;

	d->sfd = daemon_signalfd(&e);
	if (d->sfd < 0)
		goto fail;
	if (loop_init(&d->loop, &e) < 0)
		goto fail;
	loop_ok = 1;
	loop_timer_init(&d->stop_timer, stop_timer_cb, d);
	if (dnsd_listen(d, &e) < 0 || loop_io_add(&d->loop, &d->sio, d->sfd, EPOLLIN, signal_cb, d, &e) < 0)
		goto fail;
	upstream_list(d, ups, sizeof ups);
	snprintf(n, sizeof n, "%zu", d->pol->nentries);
	log_event(LOG_INFO, "start", "listen", d->listen_spec, "names", n, "mode",
		  d->cfg.transparent ? "transparent" : "forward", "upstream", ups, "deny_rcode",
		  d->cfg.deny_rcode == DNS_RCODE_NXDOMAIN ? "NXDOMAIN" : "REFUSED", (char *)NULL);
	if (loop_run(&d->loop, &e) < 0 && !d->stopping)
		goto fail;
	rc = BB_EXIT_OK;
	goto out;
fail:
	err_printf("%s", e.msg);
	if (rc == BB_EXIT_OK)
		rc = BB_EXIT_SYSTEM;
out:
	if (d->pend)
		for (k = 0; k < d->max_pending; k++)
			dnsd_pending_free(d, &d->pend[k]);
	if (d->conns)
		dnsd_close_conns(d);
	if (d->ufd >= 0)
		close(d->ufd);
	if (d->lfd >= 0)
		close(d->lfd);
	if (d->sfd >= 0)
		close(d->sfd);
	if (loop_ok)
		loop_fini(&d->loop);
	free(d->pend);
	free(d->conns);
	dnsserve_policy_free(d->pol);
	return rc;
}
