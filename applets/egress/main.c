/* main.c - `bb egress`: options, policy and tokens, the listener, signals (SIGHUP reload, SIGTERM drain), the audit trail. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applet.h"
#include "buf.h"
#include "daemon.h"
#include "dial.h"
#include "egress.h"
#include "fd.h"
#include "log.h"
#include "listenfd.h"
#include "opt.h"
#include "secrets.h"

BB_APPLET(egress, "the HTTP(S) egress proxy: routes, TLS interception, credential injection, DLP")

static const char usage[] =
	"usage: bb egress --policy FILE [OPTIONS]\n"
	"The bottle's only way out: an HTTP/1.1 forward proxy (absolute URIs and\n"
	"CONNECT, with TLS interception) and direct mode (Host names a route). Default\n"
	"deny; routes, credentials and DLP come from the plan's egress part.\n"
	"  -p, --policy FILE      the plan JSON (`bb bottle plan --json`, schema bb.plan/1)\n"
	"  -l, --listen ADDR:PORT where to listen (default 0.0.0.0:9099)\n"
	"  -F, --listen-fd N      use the listening socket inherited as fd N instead (the runtime's)\n"
	"  -L, --log FILE|-       audit log, JSON lines (default - = stderr)\n"
	"  -c, --ca DIR           CA for interception (ca.crt, ca.key; default $BB_HOME/.bb/ca)\n"
	"  -t, --token-file FILE  SLOT=VALUE lines (mode 0600) instead of BB_EGRESS_TOKEN_n variables\n"
	"  -S, --token-socket P   ask the host's dialer (unix socket P) for a slot neither gives: a\n"
	"                         credential the operator approved while the bottle runs\n"
	"  -A, --loaded FILE      after each policy load write there which file it was (inode, mtime):\n"
	"                         supervise --egress-loaded stamps an approval applied once it is loaded\n"
	"  -k, --known VAR        also block the value of environment variable VAR (repeatable)\n"
	"  -r, --rules FILE       extra scanning rules and allowlists (docs/scanning.md)\n"
	"  -H, --hosts FILE       hosts file for name resolution (default /etc/hosts)\n"
	"  -n, --nameserver A[:P] ask this DNS server instead of resolv.conf's (repeatable)\n"
	"  -d, --dialer PATH      get upstream sockets from the host's dialer (unix socket;\n"
	"                         the sidecar then needs no route out: docs/runtime.md)\n"
	"  -m, --max-conns N      concurrent agent connections (default 1024)\n"
	"  -i, --idle-timeout S   close connections idle this long (default 120)\n"
	"  -T, --head-timeout S   a request head must arrive within this (default 15)\n"
	"  -b, --inbound MODE     on prompt injection in a response: annotate (log) or block (cut)\n"
	"  -U, --upstream-idle S  keep an upstream connection an agent left this long for the next one\n"
	"                         to the same route and credential (default 4; 0: dial afresh each time)\n"
	"  -W, --ws-memory MIB    WebSocket messages held for inspection, all connections together\n"
	"                         (default 128); a message that finds no room ends with close 1013\n"
	"SIGHUP reloads the policy (a bad one is refused and the old kept); SIGTERM stops.\n"
	"Tokens never appear in the policy, the logs or any answer to the agent.";

static struct egress EG;

const char *eg_token(const struct egress *eg, const char *slot)
{
	size_t i;
	for (i = 0; slot && i < eg->ntokens; i++)
		if (!strcmp(eg->token_names[i], slot))
			return eg->token_values[i];
	return NULL;
}

static void add_token(struct egress *eg, const char *name, size_t nlen, const char *value, size_t vlen)
{
	char **nn = realloc(eg->token_names, (eg->ntokens + 1) * sizeof *nn);
	char **vv = realloc(eg->token_values, (eg->ntokens + 1) * sizeof *vv);
	if (nn)
		eg->token_names = nn;
	if (vv)
		eg->token_values = vv;
	if (!nn || !vv)
		return;
	eg->token_names[eg->ntokens] = strndup(name, nlen);
	eg->token_values[eg->ntokens] = strndup(value, vlen);
	if (eg->token_names[eg->ntokens] && eg->token_values[eg->ntokens])
		eg->ntokens++;
}

/* SLOT=VALUE lines; the file must be private, as the CA key is. */
static int load_token_file(struct egress *eg, const char *path, struct bb_err *e)
{
	struct buf b = BUF_INIT(1u << 20);
	struct stat st;
	size_t i = 0;
	if (stat(path, &st) < 0)
		return bb_errno(e, errno, "%s", path);
	if (st.st_mode & 077)
		return bb_errf(e, BB_EINVAL, "%s has mode %04o; run chmod 600 %s", path, (unsigned)(st.st_mode & 07777),
			       path);
	if (fd_read_file(path, 1u << 20, &b, e) < 0)
		return -1;
	while (i < b.len) {
		const char *line = b.p + i, *nl = memchr(line, '\n', b.len - i), *eq;
		size_t ll = nl ? (size_t)(nl - line) : b.len - i;
		i += ll + 1;
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (!ll || line[0] == '#')
			continue;
		eq = memchr(line, '=', ll);
		if (!eq || eq == line) {
			buf_free(&b);
			return bb_errf(e, BB_EINVAL, "%s: a line is not SLOT=VALUE", path);
		}
		add_token(eg, line, (size_t)(eq - line), eq + 1, ll - (size_t)(eq - line) - 1);
	}
	explicit_bzero(b.p, b.len);
	buf_free(&b);
	return 0;
}

static void tokens_from_env(struct egress *eg)
{
	extern char **environ;
	char **ep;
	for (ep = environ; *ep; ep++) {
		const char *eq = strchr(*ep, '=');
		char name[64];
		if (strncmp(*ep, "BB_EGRESS_TOKEN_", 16) || !eq || !eq[1] || (size_t)(eq - *ep) >= sizeof name)
			continue;
		memcpy(name, *ep, (size_t)(eq - *ep));
		name[eq - *ep] = 0;
		if (!eg_token(eg, name)) /* --token-file wins */
			add_token(eg, name, strlen(name), eq + 1, strlen(eq + 1));
	}
}

/*
 * Every token, and each --known value, is registered once (lib/secrets.h: a known secret to DLP, redacted from
 * every log line, a value registered before is not again); a new engine in *out takes them;
 * with scrub, also the set of values scrubbed from what the upstream sends back.
 */
static int build_engine(struct egress *eg, struct scan_engine **out, struct scrub_set **scrub, struct bb_err *e)
{
	struct scan_engine *eng = NULL;
	struct scrub_set *sc = NULL;
	size_t i;
	if (scan_engine_new(&eng, e) < 0)
		return -1;
	if (eg->rules_path && scan_engine_load_rules(eng, eg->rules_path, e) < 0)
		goto fail;
	if (scrub && scrub_set_new(&sc, e) < 0)
		goto fail;
	for (i = 0; i < eg->ntokens; i++) {
		const char *v = eg->token_values[i];
		if (secrets_add(eg->token_names[i], v, strlen(v), SECRET_DLP, e) < 0 ||
		    (sc && scrub_set_add(sc, v, strlen(v), eg->token_names[i], e) < 0)) {
			bb_err_wrap(e, "token %s", eg->token_names[i]);
			goto fail;
		}
	}
	for (i = 0; i < eg->nknown; i++) {
		const char *v = getenv(eg->known[i]);
		if (!v || !*v) {
			bb_errf(e, BB_EINVAL, "--known %s: the variable is not set", eg->known[i]);
			goto fail;
		}
		if (secrets_add(eg->known[i], v, strlen(v), SECRET_DLP, e) < 0 ||
		    (sc && scrub_set_add(sc, v, strlen(v), eg->known[i], e) < 0)) {
			bb_err_wrap(e, "--known %s", eg->known[i]);
			goto fail;
		}
	}
	if (scan_engine_use_secrets(eng, e) < 0 || scan_engine_finish(eng, e) < 0 || (sc && scrub_set_finish(sc, e) < 0))
		goto fail;
	*out = eng;
	if (scrub)
		*scrub = sc;
	return 0;
fail:
	scan_engine_free(eng);
	scrub_set_free(sc);
	return -1;
}

static void drop_tokens_from(struct egress *eg, size_t n)
{
	while (eg->ntokens > n) {
		eg->ntokens--;
		explicit_bzero(eg->token_values[eg->ntokens], strlen(eg->token_values[eg->ntokens]));
		free(eg->token_values[eg->ntokens]);
		free(eg->token_names[eg->ntokens]);
	}
}

/*
 * Values for the slots p names that neither the environment nor --token-file gave: a credential the
 * operator approved while the bottle runs, asked of the host (--token-socket). A value that came makes
 * a new scanner engine with it as a known secret (before the caller builds the first one: nothing to
 * replace). 0, or -1 with e set and no token added.
 */
static int fetch_tokens(struct egress *eg, const struct route_policy *p, struct bb_err *e)
{
	size_t i, before = eg->ntokens;
	struct scan_engine *eng;

	for (i = 0; eg->token_socket && i < p->ntoken_slots; i++) {
		struct buf v = BUF_INIT(DIAL_TOKEN_MAX);
		const char *slot = p->token_slots[i];
		int rc;
		if (eg_token(eg, slot))
			continue;
		rc = dial_token_fetch(eg->token_socket, slot, 3000, &v, e);
		if (rc == 0)
			add_token(eg, slot, strlen(slot), v.p, v.len);
		if (v.p)
			explicit_bzero(v.p, v.len);
		buf_free(&v);
		if (rc == 0 && !eg_token(eg, slot))
			rc = bb_errf(e, ENOMEM, "out of memory");
		if (rc < 0) {
			drop_tokens_from(eg, before);
			return -1;
		}
		log_event(LOG_INFO, "token", "slot", slot, "source", "host (approved while running)", (char *)NULL);
	}
	if (eg->ntokens == before || !eg->scan)
		return 0;
	if (eg->nretired == EG_RETIRED_MAX) {
		drop_tokens_from(eg, before);
		return bb_errf(e, BB_ETOOBIG, "more than %d credentials added while egress runs: restart the bottle",
			       EG_RETIRED_MAX);
	}
	/* The scrub set stays as built at start: response streams in flight hold states of its automaton. */
	if (build_engine(eg, &eng, NULL, e) < 0) {
		drop_tokens_from(eg, before);
		return -1;
	}
	/* Streams lent out keep the engine they were made from; idle ones go, and the rest are freed when returned. */
	eg->retired[eg->nretired++] = eg->scan;
	eg->scan = eng;
	eg->scan_gen++;
	for (i = 0; i < EG_POOL; i++) {
		scan_stream_free(eg->pool[i]);
		eg->pool[i] = NULL;
	}
	return 0;
}

/* Every token slot the policy names must have a value, or its route could only fail. */
static int check_slots(const struct egress *eg, const struct route_policy *p, struct bb_err *e)
{
	size_t i;
	for (i = 0; i < p->ntoken_slots; i++)
		if (!eg_token(eg, p->token_slots[i]))
			return bb_errf(e, BB_EINVAL, "token slot %s is named by the policy but not set (environment, --token-file%s)",
				       p->token_slots[i], eg->token_socket ? " or the host" : "");
	return 0;
}

/* --loaded: "INODE MTIME_S MTIME_NS" of the policy file just loaded, when it was not replaced meanwhile (before is its stat from before the load). */
static void note_loaded(const struct egress *eg, const struct stat *before)
{
	struct stat st;
	struct bb_err e;
	char line[96];
	int n;
	if (!eg->loaded_path || stat(eg->policy_path, &st) < 0 || st.st_ino != before->st_ino ||
	    st.st_mtim.tv_sec != before->st_mtim.tv_sec || st.st_mtim.tv_nsec != before->st_mtim.tv_nsec)
		return;
	n = snprintf(line, sizeof line, "%llu %lld %lld\n", (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec,
		     (long long)st.st_mtim.tv_nsec);
	if (fd_write_file_replace(eg->loaded_path, line, (size_t)n, 0644, &e) < 0)
		log_event(LOG_WARN, "loaded", "file", eg->loaded_path, "error", e.msg, (char *)NULL);
}

static void reload(struct egress *eg)
{
	struct route_policy *p = NULL;
	struct bb_err e;
	struct stat before;
	char n[24];
	if (stat(eg->policy_path, &before) < 0)
		memset(&before, 0, sizeof before);
	if (route_policy_load(eg->policy_path, &p, &e) < 0 || fetch_tokens(eg, p, &e) < 0 || check_slots(eg, p, &e) < 0) {
		route_policy_unref(p);
		log_event(LOG_ERROR, "reload", "result", "refused", "error", e.msg, "kept", "previous policy",
			  (char *)NULL);
		return;
	}
	route_policy_unref(eg->pol);
	eg->pol = p;
	eg->pol_gen++;
	if (eg->res)
		resolve_cache_clear(eg->res);
	/* Idle upstream connections were dialed under the old policy: none serves the new one. */
	eg_idle_up_close_all(eg);
	snprintf(n, sizeof n, "%zu", p->nroutes);
	log_event(LOG_INFO, "reload", "result", "ok", "routes", n, (char *)NULL);
	note_loaded(eg, &before);
}

static void accept_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct egress *eg = io->arg;
	int i;
	(void)l;
	(void)ev;
	for (i = 0; i < 64; i++) {
		int fd = accept4(eg->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_event(LOG_WARN, "limit", "what", "file descriptors", (char *)NULL);
			return;
		}
		conn_accept(eg, fd);
	}
}

static void signal_cb(struct loop *l, struct loop_io *io, uint32_t ev)
{
	struct egress *eg = io->arg;
	struct signalfd_siginfo si;
	(void)ev;
	while (read(eg->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			reload(eg);
		} else {
			log_event(LOG_INFO, "stop", "signal", si.ssi_signo == SIGINT ? "INT" : "TERM", (char *)NULL);
			eg->stopping = 1;
			loop_stop(l);
		}
	}
}

void eg_audit(struct conn *c, const char *verdict, const char *rule, const char *reason)
{
	char st[8], up[24], down[24], ms[24];
	snprintf(st, sizeof st, "%d", c->status);
	snprintf(up, sizeof up, "%llu", (unsigned long long)c->bytes.up);
	snprintf(down, sizeof down, "%llu", (unsigned long long)c->bytes.down);
	snprintf(ms, sizeof ms, "%llu", (unsigned long long)(loop_now(&c->eg->loop) - c->req_started_ms));
	c->audited = 1;
	if (log_event(!strcmp(verdict, "allow") ? LOG_INFO : LOG_WARN, "request", "conn", c->idstr, "host", c->host,
		      "method", c->method, "path", c->path, "route", c->route ? c->route->host : "", "verdict", verdict,
		      "rule", rule ? rule : "", "reason", reason ? reason : "", "status", st, "bytes_up", up, "bytes_down",
		      down, "ms", ms, (char *)NULL) < 0) {
		/* Nothing may pass unaudited: until a line can be written again, allowed requests are refused. */
		if (!c->eg->audit_broken)
			err_printf("audit log: cannot write (%s): refusing every request until it can", strerror(errno));
		c->eg->audit_broken = 1;
	} else if (c->eg->audit_broken) {
		err_printf("audit log: writable again: requests pass as policy says");
		c->eg->audit_broken = 0;
	}
}

void eg_audit_done(struct conn *c)
{
	char why[300];
	if (c->audited)
		return;
	if (c->scrub.hits) {
		/* The upstream sent a registered secret back (an echo, an error page, a redirect): replaced, and said so. */
		snprintf(why, sizeof why, "response scrubbed: %llu occurrence%s of %s (or an encoding of it) replaced%s",
			 (unsigned long long)c->scrub.hits, c->scrub.hits == 1 ? "" : "s",
			 scrub_set_label(c->eg->scrub, c->scrub.first), c->injection_hits ? "; injection pattern seen" : "");
		eg_audit(c, "allow", "scrub", why);
		return;
	}
	eg_audit(c, "allow", c->mode == MODE_MITM ? "mitm" : "proxy", c->injection_hits ? "injection pattern seen" : NULL);
}

int egress_main(int argc, char **argv)
{
	struct egress *eg = &EG;
	struct opt o;
	struct bb_err e;
	struct resolve_config rc = { 0 };
	const char *listen_spec = "0.0.0.0:9099", *logpath = "-", *cadir = NULL, *token_file = NULL, *rules = NULL;
	const char *listen_fd = NULL;
	char *known[32], cadef[512], n[24];
	size_t nknown = 0;
	int c, code;

	eg->max_conns = 1024;
	eg->idle_ms = 120000;
	eg->head_ms = 15000;
	eg->connect_ms = 10000;
	eg->ws_mem_max = (size_t)EG_WS_MEM_MIB << 20;
	eg->idle_up_ms = EG_IDLE_UP_MS;
	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv,
			       "h(help)p:(policy)l:(listen)L:(log)c:(ca)t:(token-file)k:(known)r:(rules)H:(hosts)"
			       "n:(nameserver)d:(dialer)m:(max-conns)i:(idle-timeout)T:(head-timeout)b:(inbound)F:(listen-fd)"
			       "S:(token-socket)A:(loaded)W:(ws-memory)U:(upstream-idle)",
			       usage, &code)) != -1) {
		unsigned long v;
		char *end;
		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 'p': eg->policy_path = o.arg; break;
		case 'l': listen_spec = o.arg; break;
		case 'F': listen_fd = o.arg; break;
		case 'L': logpath = o.arg; break;
		case 'c': cadir = o.arg; break;
		case 't': token_file = o.arg; break;
		case 'r': rules = o.arg; break;
		case 'H': rc.hosts_path = o.arg; break;
		case 'd': eg->dialer = o.arg; break;
		case 'S': eg->token_socket = o.arg; break;
		case 'A': eg->loaded_path = o.arg; break;
		case 'k':
			if (nknown == 32)
				return applet_usage_error(usage, "at most 32 --known variables");
			known[nknown++] = (char *)o.arg;
			break;
		case 'n':
			if (rc.nservers == RESOLVE_MAX_SERVERS)
				return applet_usage_error(usage, "at most %d --nameserver", RESOLVE_MAX_SERVERS);
			if (resolve_server_parse(o.arg, strlen(o.arg), &rc.servers[rc.nservers++], &e) < 0)
				return applet_usage_error(usage, "--nameserver %s: %s", o.arg, e.msg);
			break;
		case 'm':
		case 'i':
		case 'T':
		case 'W':
			v = strtoul(o.arg, &end, 10);
			if (*end || !*o.arg || v == 0 || v > 1000000)
				return applet_usage_error(usage, "-%c %s: want a positive number", c, o.arg);
			if (c == 'W')
				eg->ws_mem_max = (size_t)v << 20;
			else if (c == 'm')
				eg->max_conns = v;
			else if (c == 'i')
				eg->idle_ms = (unsigned)v * 1000;
			else
				eg->head_ms = (unsigned)v * 1000;
			break;
		case 'U':
			v = strtoul(o.arg, &end, 10);
			if (*end || !*o.arg || v > 3600)
				return applet_usage_error(usage, "--upstream-idle %s: want seconds, 0 to 3600", o.arg);
			eg->idle_up_ms = (uint64_t)v * 1000;
			break;
		case 'b':
			if (strcmp(o.arg, "block") && strcmp(o.arg, "annotate"))
				return applet_usage_error(usage, "--inbound %s: want block or annotate", o.arg);
			eg->inbound_block = !strcmp(o.arg, "block");
			break;
		default:
			return applet_usage_error(usage, "unexpected option");
		}
	}
	if (!eg->policy_path)
		return applet_usage_error(usage, "--policy FILE is required");
	if (o.ind < argc)
		return applet_usage_error(usage, "unexpected argument '%s'", argv[o.ind]);
	if (log_open("egress", logpath, LOG_INFO, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}

	if (token_file && load_token_file(eg, token_file, &e) < 0)
		goto fail;
	tokens_from_env(eg);
	eg->rules_path = rules;
	eg->known = known;
	eg->nknown = nknown;
	{
		struct stat before;
		if (stat(eg->policy_path, &before) < 0)
			memset(&before, 0, sizeof before);
		if (route_policy_load(eg->policy_path, &eg->pol, &e) < 0 || fetch_tokens(eg, eg->pol, &e) < 0 ||
		    check_slots(eg, eg->pol, &e) < 0 || build_engine(eg, &eg->scan, &eg->scrub, &e) < 0)
			goto fail;
		note_loaded(eg, &before);
	}
	tls_trust_init(&eg->trust);
	if (tls_trust_load_default(&eg->trust, &e) < 0)
		goto fail;
	if (!cadir && ca_default_dir(cadef, sizeof cadef, &e) == 0)
		cadir = cadef;
	if (cadir) {
		char crt[600];
		snprintf(crt, sizeof crt, "%s/%s", cadir, CA_CERT_FILE);
		if (access(crt, F_OK) == 0) {
			if (ca_load(&eg->ca, cadir, 0, &e) < 0)
				goto fail;
			eg->have_ca = 1;
		} else {
			log_event(LOG_WARN, "ca", "dir", cadir, "note", "no CA there: CONNECT is refused unless tls_passthrough",
				  (char *)NULL);
		}
	}

	eg->sfd = daemon_signalfd(&e);
	if (eg->sfd < 0)
		goto fail;
	/* With --dialer the host resolves; the sidecar's egress never looks a name up itself. */
	if (loop_init(&eg->loop, &e) < 0 || (!eg->dialer && resolver_new(&eg->res, &eg->loop, &rc, &e) < 0))
		goto fail;
	eg->lfd = listen_fd ? listenfd_take(listen_fd, SOCK_STREAM, &e) : daemon_listen_tcp(listen_spec, 1024, &e);
	if (eg->lfd < 0)
		goto fail;
	if (loop_io_add(&eg->loop, &eg->lio, eg->lfd, EPOLLIN, accept_cb, eg, &e) < 0 ||
	    loop_io_add(&eg->loop, &eg->sio, eg->sfd, EPOLLIN, signal_cb, eg, &e) < 0)
		goto fail;
	snprintf(n, sizeof n, "%zu", eg->pol->nroutes);
	log_event(LOG_INFO, "start", "listen", listen_spec, "routes", n, "interception", eg->have_ca ? "on" : "off",
		  (char *)NULL);
	if (loop_run(&eg->loop, &e) < 0 && !eg->stopping)
		goto fail;
	conn_close_all(eg);
	resolver_free(eg->res);
	close(eg->lfd);
	close(eg->sfd);
	loop_fini(&eg->loop);
	route_policy_unref(eg->pol);
	scan_engine_free(eg->scan);
	scrub_set_free(eg->scrub);
	while (eg->nretired)
		scan_engine_free(eg->retired[--eg->nretired]);
	tls_trust_free(&eg->trust);
	ca_free(&eg->ca);
	for (size_t i = 0; i < eg->ntokens; i++) {
		explicit_bzero(eg->token_values[i], strlen(eg->token_values[i]));
		free(eg->token_values[i]);
		free(eg->token_names[i]);
	}
	free(eg->token_values);
	free(eg->token_names);
	return 0;
fail:
	err_printf("%s", e.msg);
	return e.code == BB_EINVAL || e.code == BB_ETLS ? BB_EXIT_FAIL : BB_EXIT_SYSTEM;
}
