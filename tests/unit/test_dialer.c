/* test_dialer.c - unit tests of host/dialer: which DIAL requests the host answers with a socket (egress routes, git upstreams) and which it refuses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dial.h"
#include "dialer.h"
#include "t.h"

static char hosts_path[] = "/tmp/bb-test-dialer-hosts-XXXXXX";
static int lfd = -1; /* a listener on 127.0.0.1, the "upstream" */
static unsigned lport;

/* The plan: one egress route with no private allowance, git upstreams named by host and port. */
static int load(struct dialer_policy *dp, unsigned git_port)
{
	char json[2048];
	struct bb_err e = { 0 };
	snprintf(json, sizeof json,
		 "{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[{\"host\":\"web.test\"}]},"
		 "\"git_gate\":{\"user\":{\"name\":\"\",\"email\":\"\"},\"repos\":["
		 "{\"name\":\"app\",\"url\":\"ssh://git@Git.Test:%u/app.git\",\"host\":\"Git.Test\",\"port\":%u},"
		 "{\"name\":\"ip\",\"url\":\"ssh://git@127.0.0.1:%u/ip.git\",\"host\":\"127.0.0.1\",\"port\":%u},"
		 "{\"name\":\"meta\",\"url\":\"ssh://git@meta.test:22/m.git\",\"host\":\"meta.test\",\"port\":22},"
		 "{\"name\":\"ll\",\"url\":\"ssh://git@ll.test:22/m.git\",\"host\":\"ll.test\",\"port\":22}]}}",
		 git_port, git_port, git_port, git_port);
	if (dialer_policy_parse("plan.json", json, strlen(json), dp, &e) < 0) {
		printf("#   dialer_policy_parse: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* Ask the dialer for host:port over a socketpair; the answer line into out, the fd (or -1) returned. */
static int ask(const struct dialer_policy *dp, const char *host, unsigned port, char *out, size_t cap)
{
	int sv[2], fd = -1;
	char line[DIAL_LINE_MAX];
	struct dial_request rq = { .port = (uint16_t)port };
	int n;

	snprintf(rq.host, sizeof rq.host, "%s", host);
	n = dial_request_format(&rq, line, sizeof line);
	out[0] = 0;
	if (n < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (dial_send(sv[0], line, (size_t)n, -1) == 0 && dialer_handle(sv[1], dp, hosts_path) == 0)
		dial_recv(sv[0], out, cap, &fd);
	close(sv[0]);
	close(sv[1]);
	return fd;
}

static void git_upstream_by_host_and_port(void)
{
	struct dialer_policy dp;
	char ans[DIAL_LINE_MAX];
	int fd;
	T_CHECK(load(&dp, lport) == 0);
	/* Named by host (any case, resolved through the hosts file to loopback) and port: a socket. */
	fd = ask(&dp, "git.test", lport, ans, sizeof ans);
	T_CHECK(fd >= 0);
	T_STREQ(ans, "OK 127.0.0.1");
	if (fd >= 0)
		close(fd);
	fd = ask(&dp, "127.0.0.1", lport, ans, sizeof ans);
	T_CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	T_CHECK(dialer_git_upstream(&dp, "GIT.TEST.", (uint16_t)lport) != NULL);
	dialer_policy_free(&dp);
}

static void git_upstream_other_port_refused(void)
{
	struct dialer_policy dp;
	char ans[DIAL_LINE_MAX];
	int fd;
	T_CHECK(load(&dp, lport) == 0);
	/* The host alone is not enough: the port must be the repo's. */
	fd = ask(&dp, "git.test", lport == 65535 ? 1 : lport + 1, ans, sizeof ans);
	T_CHECK(fd < 0);
	T_CHECK(!strncmp(ans, "ERR no-route ", 13));
	fd = ask(&dp, "127.0.0.1", 22, ans, sizeof ans);
	T_CHECK(fd < 0);
	T_CHECK(!strncmp(ans, "ERR no-route ", 13));
	/* A host no repo and no route names. */
	fd = ask(&dp, "evil.test", lport, ans, sizeof ans);
	T_CHECK(fd < 0);
	T_CHECK(!strncmp(ans, "ERR no-route ", 13));
	dialer_policy_free(&dp);
}

static void git_upstream_special_addresses_refused(void)
{
	struct dialer_policy dp;
	char ans[DIAL_LINE_MAX];
	int fd;
	T_CHECK(load(&dp, lport) == 0);
	fd = ask(&dp, "meta.test", 22, ans, sizeof ans);
	T_CHECK(fd < 0);
	T_CHECK(!strncmp(ans, "ERR private-address ", 20) && strstr(ans, "metadata"));
	fd = ask(&dp, "ll.test", 22, ans, sizeof ans);
	T_CHECK(fd < 0);
	T_CHECK(!strncmp(ans, "ERR private-address ", 20) && strstr(ans, "link-local"));
	dialer_policy_free(&dp);
}

static void egress_route_keeps_public_only(void)
{
	struct dialer_policy dp;
	char ans[DIAL_LINE_MAX];
	int fd;
	T_CHECK(load(&dp, lport) == 0);
	/* web.test has a route but resolves to loopback, and no ssrf allowance: refused, on any port. */
	fd = ask(&dp, "web.test", lport, ans, sizeof ans);
	T_CHECK(fd < 0);
	T_CHECK(!strncmp(ans, "ERR private-address ", 20));
	/* A git host is no egress route: its name on another port does not open the private rule. */
	fd = ask(&dp, "git.test", 443, ans, sizeof ans);
	T_CHECK(fd < 0);
	T_CHECK(!strncmp(ans, "ERR no-route ", 13));
	dialer_policy_free(&dp);
}

static void bad_git_repos_refused(void)
{
	struct dialer_policy dp;
	struct bb_err e = { 0 };
	static const char no_port[] = "{\"git_gate\":{\"repos\":[{\"name\":\"a\",\"host\":\"h\"}]}}";
	static const char big_port[] = "{\"git_gate\":{\"repos\":[{\"name\":\"a\",\"host\":\"h\",\"port\":70000}]}}";
	static const char no_host[] = "{\"git_gate\":{\"repos\":[{\"name\":\"a\",\"port\":22}]}}";
	static const char none[] = "{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[]}}";
	T_CHECK(dialer_policy_parse("p", no_port, sizeof no_port - 1, &dp, &e) < 0);
	T_CHECK(strstr(e.msg, "git_gate.repos[0]") != NULL);
	T_CHECK(dialer_policy_parse("p", big_port, sizeof big_port - 1, &dp, &e) < 0);
	T_CHECK(dialer_policy_parse("p", no_host, sizeof no_host - 1, &dp, &e) < 0);
	T_CHECK(dialer_policy_parse("p", none, sizeof none - 1, &dp, &e) == 0);
	T_CHECK(dp.ngit == 0);
	dialer_policy_free(&dp);
}

/* The blocking client against a real dialer child: a socket for the git upstream, the rule for a refusal. */
static void dial_connect_client(void)
{
	char sock[] = "/tmp/bb-test-dialer-sock-XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct dialer_policy dp;
	struct bb_err e = { 0 };
	int s, fd, i;
	pid_t pid;

	T_CHECK(load(&dp, lport) == 0);
	if (!mkdtemp(sock))
		return;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/d", sock);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_CHECK(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(s, 8) == 0);
	pid = fork();
	if (pid == 0) {
		for (i = 0; i < 2; i++) {
			int c = accept(s, NULL, NULL);
			if (c >= 0) {
				dialer_handle(c, &dp, hosts_path);
				close(c);
			}
		}
		_exit(0);
	}
	fd = dial_connect(sa.sun_path, "git.test", (uint16_t)lport, 5000, &e);
	T_CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	fd = dial_connect(sa.sun_path, "git.test", 1, 5000, &e);
	T_CHECK(fd < 0 && e.code == EACCES && strstr(e.msg, "no-route"));
	close(s);
	waitpid(pid, NULL, 0);
	unlink(sa.sun_path);
	rmdir(sock);
	/* No dialer there: the error says so. */
	fd = dial_connect(sa.sun_path, "git.test", (uint16_t)lport, 1000, &e);
	T_CHECK(fd < 0 && strstr(e.msg, "cannot reach the host dialer"));
	dialer_policy_free(&dp);
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	static const char hosts[] = "127.0.0.1 git.test web.test\n169.254.169.254 meta.test\n169.254.1.1 ll.test\n";
	int hfd = mkstemp(hosts_path);

	if (hfd < 0 || write(hfd, hosts, sizeof hosts - 1) != (ssize_t)(sizeof hosts - 1)) {
		printf("not ok - setup: hosts file\n");
		return 1;
	}
	close(hfd);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
		printf("not ok - setup: listener\n");
		unlink(hosts_path);
		return 1;
	}
	lport = ntohs(a.sin_port);
	T_RUN(git_upstream_by_host_and_port);
	T_RUN(git_upstream_other_port_refused);
	T_RUN(git_upstream_special_addresses_refused);
	T_RUN(egress_route_keeps_public_only);
	T_RUN(bad_git_repos_refused);
	T_RUN(dial_connect_client);
	close(lfd);
	unlink(hosts_path);
	T_END();
}
