/* agent.c - `bb init --agent`: route and resolv.conf toward the sidecar, the git-gate ~/.gitconfig, then every privilege dropped, in that order. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "fd.h"
#include "init.h"
#include "rootfs.h"

#define GITCONFIG_MAX (64u << 10)
#define GATE_WAIT_MS 10000

#define RESOLV_PATH "/etc/resolv.conf"

/*
 * Written in place when it is a file or a bind mount (runtimes bind-mount
 * it, and a rename over a mount point fails); replaced atomically only
 * when it is a symlink, so the link's target outside the bottle is never
 * written through.
 */
static int write_resolv(const char *dns, struct bb_err *e)
{
	unsigned char bin[16];
	char text[160];
	int n, fd;

	if (inet_pton(AF_INET, dns, bin) != 1 && inet_pton(AF_INET6, dns, bin) != 1)
		return bb_errf(e, BB_EINVAL, "resolv.conf: '%s' is not an IPv4 or IPv6 address", dns);
	n = snprintf(text, sizeof text, "# written by bb init --agent: names resolve through the sidecar\nnameserver %s\n",
		     dns);
	if (n < 0 || (size_t)n >= sizeof text)
		return bb_errf(e, BB_EINVAL, "resolv.conf: address too long");
	fd = open(RESOLV_PATH, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ELOOP) {
		if (fd_write_file_atomic(RESOLV_PATH, text, (size_t)n, 0644, e) < 0)
			return bb_err_wrap(e, "resolv.conf");
		return 0;
	}
	if (fd < 0)
		return bb_errno(e, errno, "resolv.conf: opening %s", RESOLV_PATH);
	if (fd_write_all(fd, text, (size_t)n) < 0 || fsync(fd) < 0) {
		bb_errno(e, errno, "resolv.conf: writing %s", RESOLV_PATH);
		fd_close(fd);
		return -1;
	}
	if (close(fd) < 0)
		return bb_errno(e, errno, "resolv.conf: writing %s", RESOLV_PATH);
	return 0;
}

/* Bytes git config takes unquoted in a subsection name and a value, and that an ssh:// URL needs. */
static int url_chars_ok(const char *s, size_t n)
{
	size_t i;
	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(":/@._~%+-=", c)))
			return 0;
	}
	return 1;
}

/*
 * One repo's url.<gate>.insteadOf entries: the ssh:// URL, and its scp-like
 * spelling (user@host:path) when the port is the default, so a plain
 * `git push origin` of a clone made either way goes to the gate.
 */
static int gitconfig_repo(struct buf *b, const char *gate, const char *name, size_t nl, const char *url, size_t ul,
			  struct bb_err *e)
{
	const char *rest, *slash, *colon;
	char line[2200];
	int n;

	if (!url_chars_ok(name, nl) || memchr(name, '=', nl) || !url_chars_ok(url, ul) || ul < 7 || memcmp(url, "ssh://", 6))
		return bb_errf(e, BB_EINVAL, "BB_GIT_GATE_REPOS: '%.*s=%.*s' is not NAME=ssh://URL", (int)nl, name, (int)ul, url);
	n = snprintf(line, sizeof line, "[url \"%s/%.*s.git\"]\n\tinsteadOf = %.*s\n", gate, (int)nl, name, (int)ul, url);
	if (n < 0 || (size_t)n >= sizeof line || buf_append(b, line, (size_t)n, e) < 0)
		return bb_errf(e, BB_ETOOBIG, "BB_GIT_GATE_REPOS: an entry is too long");
	rest = url + 6;
	slash = memchr(rest, '/', ul - 6);
	colon = slash ? memchr(rest, ':', (size_t)(slash - rest)) : NULL;
	if (slash && (!colon || (slash - colon == 3 && !memcmp(colon, ":22", 3)))) {
		size_t hl = (size_t)((colon ? colon : slash) - rest);
		n = snprintf(line, sizeof line, "\tinsteadOf = %.*s:%.*s\n", (int)hl, rest, (int)(ul - 6 - (size_t)(slash + 1 - rest)),
			     slash + 1);
		if (n < 0 || (size_t)n >= sizeof line || buf_append(b, line, (size_t)n, e) < 0)
			return bb_errf(e, BB_ETOOBIG, "BB_GIT_GATE_REPOS: an entry is too long");
	}
	return 0;
}

/*
 * "\tKEY = "VALUE"\n" for the [user] section: the value quoted, with the
 * escapes git config reads back (\\ \" \n \t). Any other control byte is
 * refused: a value is one line of the agent's config, never more.
 */
static int gitconfig_value(struct buf *b, const char *key, const char *val, struct bb_err *e)
{
	const unsigned char *c;

	if (buf_printf(b, e, "\t%s = \"", key) < 0)
		return -1;
	for (c = (const unsigned char *)val; *c; c++) {
		const char *esc = *c == '\\' ? "\\\\" : *c == '"' ? "\\\"" : *c == '\n' ? "\\n" : *c == '\t' ? "\\t" : NULL;

		if (!esc && (*c < 0x20 || *c == 0x7f))
			return bb_errf(e, BB_EINVAL, "gitconfig: user.%s holds control character 0x%02x", key, *c);
		if (esc ? buf_append(b, esc, 2, e) < 0 : buf_append(b, c, 1, e) < 0)
			return -1;
	}
	return buf_append(b, "\"\n", 2, e);
}

/*
 * The agent's ~/.gitconfig. From BB_GIT_USER_NAME and BB_GIT_USER_EMAIL
 * (git-gate.user in the manifest) its commit identity, `git config --global
 * user.name/user.email` as bot-bottle sets it; from BB_GIT_GATE_REPOS
 * ("NAME=ssh://URL ...", what bb bottle run puts in the agent's
 * environment) and GIT_GATE_URL: every gated repo's upstream URL is
 * rewritten to the gate, so the agent pushes with plain git and never needs
 * (or sees) the upstream key. Made fresh (O_EXCL) in the agent's own tmpfs
 * home and given to the agent's user. Nothing to do when none is set.
 */
static int write_gitconfig(const struct init_agent *a, struct bb_err *e)
{
	static const char head[] = "# written by bb init --agent: the bottle's git identity and repos (through git-gate)\n";
	const char *repos = getenv("BB_GIT_GATE_REPOS"), *gate = getenv("GIT_GATE_URL"), *home = getenv("HOME"), *p;
	const char *uname = getenv("BB_GIT_USER_NAME"), *umail = getenv("BB_GIT_USER_EMAIL");
	struct buf b = BUF_INIT(GITCONFIG_MAX);
	char path[4096];
	int fd, n;

	if (uname && !*uname)
		uname = NULL;
	if (umail && !*umail)
		umail = NULL;
	if (repos && !*repos)
		repos = NULL;
	if (!repos && !uname && !umail)
		return 0;
	if (repos && (!gate || !url_chars_ok(gate, strlen(gate))))
		return bb_errf(e, BB_EINVAL, "gitconfig: BB_GIT_GATE_REPOS needs GIT_GATE_URL and an absolute HOME");
	if (!home || home[0] != '/')
		return bb_errf(e, BB_EINVAL, "gitconfig: the agent's HOME must be absolute");
	if (buf_append(&b, head, sizeof head - 1, e) < 0)
		goto fail;
	if ((uname || umail) && (buf_append(&b, "[user]\n", 7, e) < 0 || (uname && gitconfig_value(&b, "name", uname, e) < 0) ||
				 (umail && gitconfig_value(&b, "email", umail, e) < 0)))
		goto fail;
	for (p = repos ? repos : ""; *p;) {
		const char *end = strchr(p, ' '), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		eq = memchr(p, '=', len);
		if (len && (!eq || gitconfig_repo(&b, gate, p, (size_t)(eq - p), eq + 1, len - (size_t)(eq + 1 - p), e) < 0)) {
			if (!eq)
				bb_errf(e, BB_EINVAL, "BB_GIT_GATE_REPOS: '%.*s' is not NAME=URL", (int)len, p);
			goto fail;
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	n = snprintf(path, sizeof path, "%s/.gitconfig", home);
	if (n < 0 || (size_t)n >= sizeof path) {
		bb_errf(e, BB_EINVAL, "gitconfig: HOME too long");
		goto fail;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		bb_errno(e, errno, "gitconfig: creating %s", path);
		goto fail;
	}
	if (fd_write_all(fd, b.p, b.len) < 0 || (a->switch_ids && fchown(fd, a->uid, a->gid) < 0)) {
		bb_errno(e, errno, "gitconfig: writing %s", path);
		fd_close(fd);
		goto fail;
	}
	fd_close(fd);
	buf_free(&b);
	return 0;
fail:
	buf_free(&b);
	return -1;
}

/*
 * The sidecar's runtime waits for egress only; git-gate starts beside it.
 * So the agent's first `git clone` does not meet a refused connection, wait
 * (at most GATE_WAIT_MS) until GIT_GATE_URL (git://IPv4:PORT) accepts. The
 * gate takes a connection closed without a word as a port probe. Never an
 * error: a gate that does not come up shows as git's own refusal.
 */
static void wait_for_gate(void)
{
	const char *url = getenv("GIT_GATE_URL"), *colon;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	char host[64];
	unsigned long port = 0;
	int waited, fd;

	if (!getenv("BB_GIT_GATE_REPOS") || !url || strncmp(url, "git://", 6))
		return;
	colon = strchr(url + 6, ':');
	if (!colon || (size_t)(colon - url - 6) >= sizeof host)
		return;
	memcpy(host, url + 6, (size_t)(colon - url - 6));
	host[colon - url - 6] = 0;
	for (colon++; *colon >= '0' && *colon <= '9' && port < 65536; colon++)
		port = port * 10 + (unsigned long)(*colon - '0');
	if ((*colon && *colon != '/') || !port || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return;
	sa.sin_port = htons((uint16_t)port);
	for (waited = 0; waited < GATE_WAIT_MS; waited += 50) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return;
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
			close(fd);
			return;
		}
		close(fd);
		nanosleep(&nap, NULL);
	}
}

/*
 * --dev-minimal: remove from /dev every entry not in the set every backend
 * gives the agent (rootfs_dev_kept; crun's core
 * link, gVisor's fuse and net/tun), so the agent meets the same /dev on
 * every backend. An entry that will not go (a mount point) stops the start.
 */
static int dev_minimal(struct bb_err *e)
{
	int dfd = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rfd;
	DIR *d;
	struct dirent *de;

	if (dfd < 0 || (rfd = dup(dfd)) < 0 || !(d = fdopendir(rfd))) {
		int err = errno;
		if (dfd >= 0)
			close(dfd);
		return bb_errno(e, err, "/dev: cannot read it");
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || rootfs_dev_kept(de->d_name))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			fd_remove_tree_at(dfd, de->d_name);
		else
			unlinkat(dfd, de->d_name, 0);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) {
			closedir(d);
			close(dfd);
			return bb_errf(e, BB_ELIB, "/dev/%s: the runtime put it there and it cannot be removed", de->d_name);
		}
	}
	closedir(d);
	close(dfd);
	return 0;
}

int init_agent_setup(const struct init_agent *a, struct bb_err *e)
{
	struct caps_target t = { a->switch_ids, a->uid, a->gid };

	/* The network steps need CAP_NET_ADMIN and root's write access to /etc, so they come first. */
	if (a->gateway && init_route_default_via(a->gateway, e) < 0)
		return -1;
	if (a->dns && write_resolv(a->dns, e) < 0)
		return -1;
	if (write_gitconfig(a, e) < 0)
		return -1;
	if (a->dev_minimal && dev_minimal(e) < 0)
		return -1;
	wait_for_gate();
	if (caps_drop_privileges(&t, e) < 0)
		return -1;
	/* The kernel clears the parent-death signal when the uid changes: armed again, so the bottle still
	 * dies with its host process (this is PID 1 of the agent's pid namespace: all of it goes). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return bb_errno(e, errno, "parent-death signal");
	return 0;
}
