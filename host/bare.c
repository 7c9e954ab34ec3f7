/* bare.c - --bare: the sidecar's daemons and the agent as plain host processes; no namespace, no filter, nothing confined. */
#include "bare.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "buf.h"
#include "fd.h"
#include "proc.h"

static int free_port(struct bb_err *e)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(s, (struct sockaddr *)&a, &len) < 0) {
		bb_errno(e, errno, "bare: pick a port on 127.0.0.1");
		if (s >= 0)
			close(s);
		return -1;
	}
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

int bare_pick_ports(struct bare_ports *p, struct bb_err *e)
{
	/* Picked in turn, each released before the daemons bind it: a race with another program is possible
	 * and would show as egress failing to listen (the start then stops, saying so). */
	if ((p->egress = free_port(e)) < 0 || (p->supervise = free_port(e)) < 0)
		return -1;
	if (p->supervise == p->egress && (p->supervise = free_port(e)) < 0)
		return -1;
	return 0;
}

int bare_write_bundle(const struct rt_config *c, const char *path, struct bb_err *e)
{
	struct buf b = BUF_INIT(RT_CA_BUNDLE_MAX);
	int rc = rt_agent_ca_bundle(c, &b, e) == 0 && fd_write_file_atomic(path, b.p, b.len, 0644, e) == 0 ? 0 : -1;
	buf_free(&b);
	return rc;
}

static int accepts(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
	if (s < 0)
		return 0;
	ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
	close(s);
	return ok;
}

static void stop_child(pid_t pid, int grace_ms)
{
	int st, waited;
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (waited = 0; waited < grace_ms; waited += 20) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return;
		usleep(20 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/* PATH from the agent's environment, for the program lookup (execvpe reads the caller's). */
static void use_path_of(char **env)
{
	size_t i;
	for (i = 0; env && env[i]; i++)
		if (!strncmp(env[i], "PATH=", 5)) {
			setenv("PATH", env[i] + 5, 1);
			return;
		}
}

int bare_run(const struct rt_config *c, const struct bare_ports *p, int *exit_code, struct bb_err *e)
{
	pid_t side, agent;
	int st, waited, rc = -1;

	side = fork();
	if (side < 0)
		return bb_errno(e, errno, "bare: start the sidecar");
	if (side == 0) {
		char *argv[] = { "bb", "init", "--sidecar", NULL }, log[4200];
		int fd;
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* the host process went away: its daemons go too */
		snprintf(log, sizeof log, "%s/sidecar.log", c->state_dir); /* init's lifecycle events, not the agent's terminal */
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execve(c->bb_path, argv, c->sidecar_env);
		_exit(127);
	}
	for (waited = 0; !accepts(p->egress); waited += 20) {
		if (waited >= 10000 || waitpid(side, &st, WNOHANG) == side) {
			bb_errf(e, BB_ELIB, "bare: egress did not listen on 127.0.0.1:%d (see %s/sidecar.log)",
				p->egress, c->state_dir);
			side = waited >= 10000 ? side : 0;
			goto out;
		}
		usleep(20 * 1000);
	}
	agent = fork();
	if (agent < 0) {
		bb_errno(e, errno, "bare: start the agent");
		goto out;
	}
	if (agent == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (chdir(c->workspace) < 0)
			_exit(126);
		use_path_of(c->agent_env);
		execvpe(c->argv[0], c->argv, c->agent_env);
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (c->agent_pid)
		*c->agent_pid = agent;
	while (waitpid(agent, &st, 0) < 0)
		if (errno != EINTR) {
			bb_errno(e, errno, "bare: wait for the agent");
			goto out;
		}
	if (c->agent_pid)
		*c->agent_pid = 0;
	*exit_code = proc_exit_code(st);
	rc = 0;
out:
	stop_child(side, 5000);
	return rc;
}

/* ---------- the backend table's entry (host/backend.h) ---------- */

static int bare_prepare(struct bk_run *r, struct bb_err *e)
{
	struct bare_ports p;
	if (bare_pick_ports(&p, e) < 0)
		return -1;
	r->egress_port = p.egress;
	r->supervise_port = p.supervise;
	snprintf(r->sidecar_addr, sizeof r->sidecar_addr, "127.0.0.1");
	snprintf(r->listen_addr, sizeof r->listen_addr, "127.0.0.1");
	return 0;
}

static int bare_backend_run(struct bk_run *r, int *exit_code, struct bb_err *e)
{
	struct bare_ports p = { r->egress_port, r->supervise_port };
	char bundle[4200];
	snprintf(bundle, sizeof bundle, "%s/ca-bundle.crt", r->c->state_dir); /* no /run/bb on the host */
	if (bare_write_bundle(r->c, bundle, e) < 0)
		return -1;
	return bare_run(r->c, &p, exit_code, e);
}

const struct backend backend_bare = {
	.name = "bare",
	.isolates = "NONE: --bare, the agent runs on this host without isolation",
	.flags = BK_HOST,
	.prepare = bare_prepare,
	.run = bare_backend_run,
};
