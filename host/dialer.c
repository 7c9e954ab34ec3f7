/* dialer.c - the host side of the dial protocol: policy re-check, resolution, connect with a timeout, SCM_RIGHTS back. */
#include "dialer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <strings.h>

#include "buf.h"
#include "dial.h"
#include "fd.h"
#include "json.h"
#include "netaddr.h"
#include "resolve.h"

int dialer_policy_parse(const char *what, const char *json, size_t len, struct dialer_policy *dp, struct bb_err *e)
{
	cJSON *doc, *repo;
	size_t i = 0;

	memset(dp, 0, sizeof *dp);
	doc = json_parse(what, json, len, e);
	if (!doc)
		return -1;
	cJSON_ArrayForEach(repo, cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "git_gate"), "repos"))
	{
		const char *host = cJSON_GetStringValue(cJSON_GetObjectItem(repo, "host"));
		const cJSON *port = cJSON_GetObjectItem(repo, "port");
		if (i == DIALER_GIT_MAX) {
			bb_errf(e, BB_ETOOBIG, "%s: git_gate.repos: more than %d repos", what, DIALER_GIT_MAX);
			goto fail;
		}
		if (!host || !*host || strlen(host) >= sizeof dp->git[i].host || !cJSON_IsNumber(port) ||
		    port->valuedouble < 1 || port->valuedouble > 65535 || port->valuedouble != (double)port->valueint) {
			bb_errf(e, BB_EINVAL, "%s: git_gate.repos[%zu]: needs a host and a port from 1 to 65535", what, i);
			goto fail;
		}
		memcpy(dp->git[i].host, host, strlen(host) + 1);
		dp->git[i].port = (uint16_t)port->valueint;
		i++;
	}
	dp->ngit = i;
	cJSON_Delete(doc);
	if (policy_parse(what, json, len, &dp->egress, e) < 0) {
		dp->ngit = 0;
		return -1;
	}
	return 0;
fail:
	cJSON_Delete(doc);
	return -1;
}

int dialer_policy_load(const char *path, struct dialer_policy *dp, struct bb_err *e)
{
	struct buf b = BUF_INIT(POLICY_MAX_BYTES);
	int rc;

	memset(dp, 0, sizeof *dp);
	if (fd_read_file(path, POLICY_MAX_BYTES, &b, e) < 0) {
		buf_free(&b);
		return -1;
	}
	rc = dialer_policy_parse(path, b.p ? b.p : "", b.len, dp, e);
	buf_free(&b);
	return rc;
}

void dialer_policy_free(struct dialer_policy *dp)
{
	policy_unref(dp->egress);
	memset(dp, 0, sizeof *dp);
}

const struct dialer_git_upstream *dialer_git_upstream(const struct dialer_policy *dp, const char *host, uint16_t port)
{
	size_t i, n = strlen(host);

	if (n && host[n - 1] == '.')
		n--;
	for (i = 0; i < dp->ngit; i++) {
		const char *g = dp->git[i].host;
		size_t gn = strlen(g);
		if (gn && g[gn - 1] == '.')
			gn--;
		if (dp->git[i].port == port && gn == n && !strncasecmp(g, host, n))
			return &dp->git[i];
	}
	return NULL;
}

/* Where a git upstream the operator named may be: anywhere an ordinary server lives, not the special ranges. */
static int git_address_ok(const struct netaddr *a)
{
	switch (netaddr_classify(a)) {
	case NETADDR_PUBLIC:
	case NETADDR_LOOPBACK:
	case NETADDR_PRIVATE:
	case NETADDR_CGNAT:
	case NETADDR_ULA:
		return 1;
	default:
		return 0;
	}
}

static int answer_err(int conn, const char *rule, const char *reason)
{
	char line[DIAL_LINE_MAX];
	int n = snprintf(line, sizeof line, "ERR %s %s\n", rule, reason);
	if (n < 0 || (size_t)n >= sizeof line)
		n = snprintf(line, sizeof line, "ERR %s refused\n", rule);
	return dial_send(conn, line, (size_t)n, -1);
}

/* Connect to a:port within DIALER_CONNECT_MS; the socket, or -1 with errno. */
static int connect_timeout(const struct netaddr *a, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct pollfd pf;
	int fd, err = 0;
	socklen_t el = sizeof err;

	netaddr_to_sockaddr(a, port, &ss, &sl);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	pf = (struct pollfd){ fd, POLLOUT, 0 };
	if (poll(&pf, 1, DIALER_CONNECT_MS) != 1) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		errno = err ? err : errno;
		goto fail;
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* Addresses for host: an IP literal, the hosts file, then the system resolver. */
static size_t resolve_all(const char *host, const char *hosts_path, struct netaddr *out, size_t cap)
{
	struct resolve_result rr;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	struct bb_err e;
	size_t n = 0;

	if (netaddr_parse(host, strlen(host), &out[0], &e) == 0)
		return 1;
	if (resolve_hosts_lookup(hosts_path ? hosts_path : "/etc/hosts", host, strlen(host), 1, &rr, &e) == 1) {
		for (n = 0; n < rr.naddrs && n < cap; n++)
			out[n] = rr.addrs[n];
		return n;
	}
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	for (ai = res; ai && n < cap; ai = ai->ai_next)
		if (netaddr_from_sockaddr(ai->ai_addr, ai->ai_addrlen, &out[n], &e) == 0)
			n++;
	freeaddrinfo(res);
	return n;
}

int dialer_handle(int conn, const struct dialer_policy *p, const char *hosts_path)
{
	char line[DIAL_LINE_MAX], why[DIAL_LINE_MAX], text[NETADDR_TEXT_MAX];
	struct dial_request rq;
	struct netaddr addrs[RESOLVE_MAX_ADDRS];
	const struct route *r = NULL;
	const struct dialer_git_upstream *git;
	struct bb_err e;
	size_t n, i, allowed = 0;
	ssize_t got;
	int fd, last_errno = 0;

	got = recv(conn, line, sizeof line - 1, 0);
	if (got <= 0)
		return -1;
	line[got] = 0;
	if (dial_request_parse(line, (size_t)got, &rq, &e) < 0)
		return answer_err(conn, "bad-request", e.msg);
	git = dialer_git_upstream(p, rq.host, rq.port);
	if (!git)
		r = policy_route(p->egress, rq.host, strlen(rq.host));
	if (!git && !r)
		return answer_err(conn, "no-route",
				  "no egress route allows this host, and it is no git upstream's host and port (checked by the host)");
	n = resolve_all(rq.host, hosts_path, addrs, RESOLVE_MAX_ADDRS);
	if (!n) {
		snprintf(why, sizeof why, "cannot resolve %s", rq.host);
		return answer_err(conn, "resolve", why);
	}
	for (i = 0; i < n; i++) {
		if (git ? !git_address_ok(&addrs[i]) : !netaddr_is_public(&addrs[i]) && !route_ssrf_allowed(r, &addrs[i]))
			continue;
		allowed++;
		fd = connect_timeout(&addrs[i], rq.port);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		netaddr_format(&addrs[i], text, sizeof text);
		snprintf(line, sizeof line, "OK %s\n", text);
		last_errno = dial_send(conn, line, strlen(line), fd);
		close(fd);
		return last_errno;
	}
	if (!allowed) {
		netaddr_format(&addrs[0], text, sizeof text);
		snprintf(why, sizeof why, "%s resolves to %s, a %s address; %s", rq.host, text,
			 netaddr_class_name(netaddr_classify(&addrs[0])),
			 git ? "a git upstream may not be link-local, metadata or a reserved range"
			     : "egress connects only to public addresses");
		return answer_err(conn, "private-address", why);
	}
	snprintf(why, sizeof why, "cannot connect to %s port %u: %s", rq.host, rq.port, strerror(last_errno));
	return answer_err(conn, "upstream-connect", why);
}

/* Identity of the policy file as last read: a rename over it changes the inode, an edit the mtime. */
struct file_id {
	dev_t dev;
	ino_t ino;
	struct timespec mtim;
	off_t size;
};

static int file_changed(const char *path, struct file_id *id)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	if (st.st_dev == id->dev && st.st_ino == id->ino && st.st_size == id->size &&
	    st.st_mtim.tv_sec == id->mtim.tv_sec && st.st_mtim.tv_nsec == id->mtim.tv_nsec)
		return 0;
	*id = (struct file_id){ st.st_dev, st.st_ino, st.st_mtim, st.st_size };
	return 1;
}

int dialer_serve(int lfd, const char *policy_path, const char *hosts_path, volatile sig_atomic_t *stop,
		 struct bb_err *e)
{
	struct sigaction sa = { .sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT };
	struct file_id id = { 0 };
	struct dialer_policy p;

	file_changed(policy_path, &id);
	if (dialer_policy_load(policy_path, &p, e) < 0)
		return -1;
	sigaction(SIGCHLD, &sa, NULL);
	while (!*stop) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pid_t pid;
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			dialer_policy_free(&p);
			return bb_errno(e, errno, "dialer: accept");
		}
		if (file_changed(policy_path, &id)) {
			struct dialer_policy np;
			struct bb_err ne;
			if (dialer_policy_load(policy_path, &np, &ne) == 0) {
				dialer_policy_free(&p);
				p = np;
			}
		}
		pid = fork();
		if (pid == 0) {
			close(lfd);
			dialer_handle(conn, &p, hosts_path);
			_exit(0);
		}
		close(conn);
	}
	dialer_policy_free(&p);
	return 0;
}
