/* test_dialer.c - unit tests of host/dialer: which DIAL requests the host answers with a socket (egress routes, git upstreams) and which it refuses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "dial.h"
#include "fd.h"
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
	static const char no_port[] = "{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[]},\"git_gate\":{\"repos\":[{\"name\":\"a\",\"host\":\"h\"}]}}";
	static const char big_port[] = "{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[]},\"git_gate\":{\"repos\":[{\"name\":\"a\",\"host\":\"h\",\"port\":70000}]}}";
	static const char no_host[] = "{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[]},\"git_gate\":{\"repos\":[{\"name\":\"a\",\"port\":22}]}}";
	static const char none[] = "{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[]}}";
	T_CHECK(dialer_policy_parse("p", no_port, sizeof no_port - 1, &dp, &e) < 0);
	T_CHECK(strstr(e.msg, "git_gate.repos[0]") != NULL);
	T_CHECK(dialer_policy_parse("p", big_port, sizeof big_port - 1, &dp, &e) < 0);
	T_CHECK(strstr(e.msg, "p: git_gate.repos[0].port: must be a whole number from 1 to 65535") != NULL);
	T_CHECK(dialer_policy_parse("p", no_host, sizeof no_host - 1, &dp, &e) < 0);
	T_CHECK(strstr(e.msg, "p: git_gate.repos[0]: needs a host and a port") != NULL);
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

/* A unix listener at dir/name; its fd. */
static int listen_at(const char *dir, const char *name, char *path, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(path, cap, "%s/%s", dir, name);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 8) < 0)
		return -1;
	return s;
}

static void token_lines(void)
{
	char slot[DIAL_SLOT_MAX + 1];
	struct bb_err e;
	T_CHECK(dial_token_parse("TOKEN BB_EGRESS_TOKEN_0\n", 23, slot, sizeof slot, &e) == 1 && !strcmp(slot, "BB_EGRESS_TOKEN_0"));
	T_CHECK(dial_token_parse("DIAL a.test 443\n", 16, slot, sizeof slot, &e) == 0);
	T_CHECK(dial_token_parse("TOKEN lower\n", 12, slot, sizeof slot, &e) == -1);
	T_CHECK(dial_token_parse("TOKEN A B\n", 10, slot, sizeof slot, &e) == -1);
	T_CHECK(dial_token_parse("TOKEN \n", 7, slot, sizeof slot, &e) == -1);
}

/* Only a sealed memfd is taken for a token: not a file, not an unsealed memfd, not one holding a newline. */
static void token_memfds(void)
{
	struct buf b = BUF_INIT(DIAL_TOKEN_MAX);
	struct bb_err e;
	char path[] = "/tmp/bb-test-token-XXXXXX";
	int fd = dial_token_memfd("sk-value-123", 12, &e), f;
	T_CHECK(fd >= 0 && dial_token_read_fd(fd, &b, &e) == 0 && b.len == 12 && !memcmp(b.p, "sk-value-123", 12));
	T_CHECK(fd >= 0 && write(fd, "x", 1) < 0); /* sealed */
	close(fd);
	f = mkstemp(path);
	T_CHECK(f >= 0 && write(f, "sk-value-123", 12) == 12 && dial_token_read_fd(f, &b, &e) == -1);
	close(f);
	unlink(path);
	f = memfd_create("t", MFD_CLOEXEC);
	T_CHECK(f >= 0 && write(f, "sk-value-123", 12) == 12 && dial_token_read_fd(f, &b, &e) == -1);
	close(f);
	fd = dial_token_memfd("sk-value\n123", 12, &e);
	T_CHECK(fd >= 0 && dial_token_read_fd(fd, &b, &e) == -1 && strstr(e.msg, "CR or LF"));
	close(fd);
	T_CHECK(dial_token_memfd("", 0, &e) == -1);
	buf_free(&b);
}

/*
 * The operator hands a credential to a running dialer (control socket); egress asks for it (dial socket):
 * only for a slot the dialer's own policy puts on a route, and only one it was handed.
 */
static void token_handover(void)
{
	static const char plan[] = "{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[{\"host\":\"web.test\",\"auth\":{\"scheme\":\"Bearer\","
				   "\"token_slot\":\"BB_EGRESS_TOKEN_APPROVED_X\"}},{\"host\":\"other.test\"}]}}";
	char dir[] = "/tmp/bb-test-dialer-tok-XXXXXX", pol[64], sock[64], ctl[64];
	struct buf v = BUF_INIT(DIAL_TOKEN_MAX);
	struct bb_err e = { 0 };
	volatile sig_atomic_t stop = 0;
	int s, c;
	pid_t pid;

	if (!mkdtemp(dir))
		return;
	snprintf(pol, sizeof pol, "%s/plan.json", dir);
	T_CHECK(fd_write_file_atomic(pol, plan, sizeof plan - 1, 0600, &e) == 0);
	s = listen_at(dir, "d", sock, sizeof sock);
	c = listen_at(dir, "c", ctl, sizeof ctl);
	T_CHECK(s >= 0 && c >= 0);
	pid = fork();
	if (pid == 0) {
		alarm(20);
		dialer_serve(s, c, pol, hosts_path, &stop, &e);
		_exit(0);
	}
	close(s);
	close(c);
	T_CHECK(dial_token_fetch(sock, "BB_EGRESS_TOKEN_APPROVED_X", 5000, &v, &e) == -1 && e.code == EACCES &&
		strstr(e.msg, "no-token")); /* not handed over yet */
	T_CHECK(dial_token_push(ctl, "BB_EGRESS_TOKEN_APPROVED_X", "sk-approved-1", 13, 5000, &e) == 0);
	T_CHECK(dial_token_fetch(sock, "BB_EGRESS_TOKEN_APPROVED_X", 5000, &v, &e) == 0 && v.len == 13 &&
		!memcmp(v.p, "sk-approved-1", 13));
	/* handed over, but no route of the dialer's policy uses the slot: refused */
	T_CHECK(dial_token_push(ctl, "BB_EGRESS_TOKEN_APPROVED_Y", "sk-approved-2", 13, 5000, &e) == 0);
	T_CHECK(dial_token_fetch(sock, "BB_EGRESS_TOKEN_APPROVED_Y", 5000, &v, &e) == -1 && e.code == EACCES);
	/* the dial socket (the sidecar's side) takes no credential: a value sent there changes nothing */
	dial_token_push(sock, "BB_EGRESS_TOKEN_APPROVED_X", "sk-evil-value", 13, 5000, &e);
	T_CHECK(dial_token_fetch(sock, "BB_EGRESS_TOKEN_APPROVED_X", 5000, &v, &e) == 0 && !memcmp(v.p, "sk-approved-1", 13));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(sock);
	unlink(ctl);
	unlink(pol);
	rmdir(dir);
	buf_free(&v);
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
	T_RUN(token_lines);
	T_RUN(token_memfds);
	T_RUN(token_handover);
	close(lfd);
	unlink(hosts_path);
	T_END();
}
