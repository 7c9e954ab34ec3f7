/* dialer.c - `bb bottle dialer`: serve the dial protocol for a sidecar (bb bottle run starts it; tests run it alone). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "applet.h"
#include "bottle.h"
#include "dialer.h"
#include "log.h"
#include "opt.h"

static const char usage[] =
	"usage: bb bottle dialer --policy PLAN.json --socket PATH [--hosts FILE] [--control PATH]\n"
	"The host half of egress and git-gate: answers DIAL requests from a sidecar that\n"
	"has no route out, re-checking each host against the policy's egress routes (or\n"
	"host and port against its git upstreams) and each address against the\n"
	"private-address rule, and passes back the connected socket. `bb bottle run`\n"
	"starts one per bottle; this form is for tests and debugging. SIGTERM stops it.\n"
	"  -p, --policy FILE   the bottle's plan (bb bottle plan NAME --json)\n"
	"  -s, --socket PATH   the unix socket to create (mode 0600)\n"
	"  -H, --hosts FILE    hosts file consulted before the system resolver\n"
	"  -c, --control PATH  also listen here (0600) for credentials the operator approves\n"
	"                      (TOKEN SLOT + a memfd: lib/dial.h), handed to egress on request";

static volatile sig_atomic_t stop_flag;

static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* A listening unix socket at path, private to its owner. The fd, or -1 with e set. */
int bottle_dialer_listen(const char *path, struct bb_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	mode_t old;
	if (strlen(path) >= sizeof sa.sun_path)
		return bb_errf(e, BB_EINVAL, "socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bb_errno(e, errno, "socket");
	unlink(path);
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
		int err = errno;
		umask(old);
		close(fd);
		return bb_errno(e, err, "cannot listen on %s", path);
	}
	umask(old);
	return fd;
}

int bottle_dialer(int argc, char **argv)
{
	struct opt o;
	struct bb_err e;
	struct dialer_policy p;
	struct sigaction sa = { .sa_handler = on_term };
	const char *policy = NULL, *sock = NULL, *hosts = NULL, *ctl = NULL;
	int c, code, lfd, cfd = -1, rc;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)p:(policy)s:(socket)H:(hosts)c:(control)", usage, &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return code;
		case 'p': policy = o.arg; break;
		case 's': sock = o.arg; break;
		case 'H': hosts = o.arg; break;
		case 'c': ctl = o.arg; break;
		default: return applet_usage_error(usage, "unexpected option");
		}
	}
	if (!policy || !sock)
		return applet_usage_error(usage, "--policy and --socket are required");
	if (dialer_policy_load(policy, &p, &e) < 0) { /* checked before the socket exists */
		err_printf("%s", e.msg);
		return BB_EXIT_FAIL;
	}
	dialer_policy_free(&p);
	lfd = bottle_dialer_listen(sock, &e);
	if (lfd < 0 || (ctl && (cfd = bottle_dialer_listen(ctl, &e)) < 0)) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rc = dialer_serve(lfd, cfd, policy, hosts, &stop_flag, &e);
	close(lfd);
	unlink(sock);
	if (cfd >= 0) {
		close(cfd);
		unlink(ctl);
	}
	if (rc < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	return 0;
}
