/* dialer.c - the host side of the dial protocol: policy re-check, resolution, connect with a timeout, SCM_RIGHTS back. */
#include "dialer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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

static int dialer_policy_from_plan(struct planfile *pf, struct dialer_policy *dp, struct bb_err *e)
{
	struct planfile_git_gate gg;
	size_t i;

	if (planfile_git_gate(pf, &gg, e) < 0)
		return -1;
	if (gg.nrepos > DIALER_GIT_MAX)
		return bb_errf(e, BB_ETOOBIG, "%s: git_gate.repos: more than %d repos", pf->what, DIALER_GIT_MAX);
	for (i = 0; i < gg.nrepos; i++) {
		const char *host = gg.repos[i].host;

		if (!host || !*host || strlen(host) >= sizeof dp->git[i].host || !gg.repos[i].port)
			return bb_errf(e, BB_EINVAL, "%s: git_gate.repos[%zu]: needs a host and a port from 1 to 65535",
				       pf->what, i);
		memcpy(dp->git[i].host, host, strlen(host) + 1);
		dp->git[i].port = (uint16_t)gg.repos[i].port;
	}
	if (route_policy_from_plan(pf, &dp->egress, e) < 0)
		return -1;
	dp->ngit = i;
	return 0;
}

PLANFILE_LOADERS(dialer_policy, struct dialer_policy)

void dialer_policy_free(struct dialer_policy *dp)
{
	route_policy_unref(dp->egress);
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

/*
 * Credentials the operator approved while the bottle runs (cred-block): values handed over on the control
 * socket, kept in this process's memory only, given to egress for a slot the dialer's own policy names.
 */
static struct {
	char slot[DIAL_SLOT_MAX + 1];
	char *value;
	size_t len;
} tokens[DIALER_TOKENS_MAX];
static size_t ntokens;

static int token_store(const char *slot, const char *value, size_t len)
{
	size_t i;
	char *v = malloc(len + 1);
	if (!v)
		return -1;
	memcpy(v, value, len);
	v[len] = 0;
	for (i = 0; i < ntokens && strcmp(tokens[i].slot, slot); i++)
		;
	if (i == DIALER_TOKENS_MAX) {
		explicit_bzero(v, len);
		free(v);
		return -1;
	}
	if (i == ntokens)
		ntokens++;
	else {
		explicit_bzero(tokens[i].value, tokens[i].len);
		free(tokens[i].value);
	}
	snprintf(tokens[i].slot, sizeof tokens[i].slot, "%s", slot);
	tokens[i].value = v;
	tokens[i].len = len;
	return 0;
}

/* TOKEN SLOT from the sidecar: the value, when the host's policy puts that slot on a route and it was handed over. */
static int token_answer(int conn, const struct dialer_policy *p, const char *slot)
{
	struct bb_err e;
	size_t i, k;
	int fd, rc;
	for (k = 0; k < p->egress->ntoken_slots && strcmp(p->egress->token_slots[k], slot); k++)
		;
	for (i = 0; i < ntokens && strcmp(tokens[i].slot, slot); i++)
		;
	if (k == p->egress->ntoken_slots || i == ntokens)
		return answer_err(conn, "no-token", "the host holds no approved credential for this slot");
	fd = dial_token_memfd(tokens[i].value, tokens[i].len, &e);
	if (fd < 0)
		return answer_err(conn, "memfd", e.msg);
	rc = dial_send(conn, "OK\n", 3, fd);
	close(fd);
	return rc;
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
	{
		char slot[DIAL_SLOT_MAX + 1];
		int t = dial_token_parse(line, (size_t)got, slot, sizeof slot, &e);
		if (t < 0)
			return answer_err(conn, "bad-request", e.msg);
		if (t > 0)
			return token_answer(conn, p, slot);
	}
	if (dial_request_parse(line, (size_t)got, &rq, &e) < 0)
		return answer_err(conn, "bad-request", e.msg);
	git = dialer_git_upstream(p, rq.host, rq.port);
	if (!git)
		r = route_policy_find(p->egress, rq.host, strlen(rq.host));
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

/*
 * One connection on the control socket, in this process (the store is its memory): from this user or root
 * only (the socket lives in the host-only record too), one TOKEN line with its memfd, at most 2 s.
 */
static void control_handle(int conn)
{
	struct ucred cr;
	socklen_t crl = sizeof cr;
	struct timeval tv = { 2, 0 };
	struct buf v = BUF_INIT(DIAL_TOKEN_MAX);
	struct bb_err e;
	char line[DIAL_LINE_MAX], slot[DIAL_SLOT_MAX + 1];
	ssize_t got;
	int fd = -1;

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0 || (cr.uid != 0 && cr.uid != geteuid())) {
		answer_err(conn, "not-allowed", "only the bottle's owner hands it credentials");
		return;
	}
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	got = dial_recv(conn, line, sizeof line, &fd);
	if (got <= 0 || dial_token_parse(line, (size_t)got, slot, sizeof slot, &e) != 1 || fd < 0) {
		answer_err(conn, "bad-request", "want TOKEN SLOT with the value in a sealed memfd");
	} else if (dial_token_read_fd(fd, &v, &e) < 0) {
		answer_err(conn, "bad-request", e.msg);
	} else if (token_store(slot, v.p, v.len) < 0) {
		answer_err(conn, "full", "no room for another credential in this bottle's host process");
	} else {
		dial_send(conn, "OK\n", 3, -1);
	}
	if (fd >= 0)
		close(fd);
	if (v.p)
		explicit_bzero(v.p, v.len);
	buf_free(&v);
}

int dialer_serve(int lfd, int ctl_fd, const char *policy_path, const char *hosts_path, volatile sig_atomic_t *stop,
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
		struct pollfd pf[2] = { { lfd, POLLIN, 0 }, { ctl_fd, POLLIN, 0 } };
		int conn;
		pid_t pid;
		if (poll(pf, ctl_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			dialer_policy_free(&p);
			return bb_errno(e, errno, "dialer: poll");
		}
		if (ctl_fd >= 0 && (pf[1].revents & POLLIN)) {
			conn = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC);
			if (conn >= 0) {
				control_handle(conn);
				close(conn);
			}
		}
		if (!(pf[0].revents & POLLIN))
			continue;
		conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
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
			if (ctl_fd >= 0)
				close(ctl_fd);
			dialer_handle(conn, &p, hosts_path);
			_exit(0);
		}
		close(conn);
	}
	dialer_policy_free(&p);
	return 0;
}
