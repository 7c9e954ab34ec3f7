/* gitssh_send.c - a receive-pack client over one libssh2 channel: forwards a pack as it is, with a pinned host key. */
#include "gitssh.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pktline.h"

int gitssh_url_parse(const char *url, struct gitssh_url *u, struct bb_err *e)
{
	const char *rest, *at, *slash, *hp_end;
	uint64_t port = 22;

	if (gitssh_url_check(url, e) < 0)
		return -1;
	rest = url + 6;
	slash = strchr(rest, '/');
	at = memchr(rest, '@', (size_t)(slash - rest));
	if ((size_t)(at - rest) >= sizeof u->user || strlen(slash) >= sizeof u->path)
		return bb_errf(e, BB_ETOOBIG, "'%s': user or path too long", url);
	memcpy(u->user, rest, (size_t)(at - rest));
	u->user[at - rest] = 0;
	at++;
	hp_end = slash;
	if (*at == '[') {
		const char *close = memchr(at, ']', (size_t)(slash - at));

		if ((size_t)(close - at - 1) >= sizeof u->host)
			return bb_errf(e, BB_ETOOBIG, "'%s': host too long", url);
		memcpy(u->host, at + 1, (size_t)(close - at - 1));
		u->host[close - at - 1] = 0;
		if (close + 1 < slash)
			sv_to_u64(sv_of(close + 2, (size_t)(slash - close - 2)), 65535, &port, NULL);
	} else {
		const char *colon = memchr(at, ':', (size_t)(slash - at));

		if (colon) {
			sv_to_u64(sv_of(colon + 1, (size_t)(slash - colon - 1)), 65535, &port, NULL);
			hp_end = colon;
		}
		if ((size_t)(hp_end - at) >= sizeof u->host)
			return bb_errf(e, BB_ETOOBIG, "'%s': host too long", url);
		memcpy(u->host, at, (size_t)(hp_end - at));
		u->host[hp_end - at] = 0;
	}
	u->port = (unsigned)port;
	memcpy(u->path, slash, strlen(slash) + 1);
	return 0;
}

/* One upstream connection. */
struct conn {
	int sock;
	LIBSSH2_SESSION *ssh;
	LIBSSH2_CHANNEL *ch;
	char in[2 * PKT_MAX];
	size_t in_len;
	const char *url;
};

static int ssh_error(struct conn *c, struct bb_err *e, const char *what)
{
	char *msg = NULL;
	int code = c->ssh ? libssh2_session_last_error(c->ssh, &msg, NULL, 0) : 0;

	if (code == LIBSSH2_ERROR_TIMEOUT)
		return bb_errf(e, ETIMEDOUT, "%s: %s: upstream timed out", c->url, what);
	return bb_errf(e, BB_ELIB, "%s: %s: %s", c->url, what, msg && *msg ? msg : "SSH error");
}

/* TCP connect with a bound wait. */
static int dial(const struct gitssh_url *u, int connect_ms, const char *url, struct bb_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int fd = -1, rc, err = 0;

	if (gitssh_dialer()) /* the sidecar has no route out: the host connects */
		return gitssh_dialer_connect(url, u->host, u->port, connect_ms, e);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%u", u->port);
	rc = getaddrinfo(u->host, port, &hints, &res);
	if (rc != 0)
		return bb_errf(e, BB_EINVAL, "%s: cannot resolve %s: %s", url, u->host, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t sl = sizeof err;

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		if (err == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			rc = poll(&pfd, 1, connect_ms > 0 ? connect_ms : 10000);
			if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0)
				break;
			if (rc == 0)
				err = ETIMEDOUT;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return bb_errno(e, err ? err : ECONNREFUSED, "%s: failed to connect to %s", url, u->host);
	/* libssh2 in blocking mode, bounded by its session timeout. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static const char *hostkey_pref(const char *type)
{
	if (!strcmp(type, "ssh-rsa"))
		return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
	return type;
}

/* Handshake, host key against the pin, key authentication, the exec. */
static int open_channel(struct conn *c, const struct gitssh_url *u, const struct gitssh_auth *auth,
			const struct gitssh_timeouts *to, struct bb_err *e)
{
	const char *key;
	size_t klen, i, n = 0;
	int type;
	char cmd[2200];

	c->ssh = libssh2_session_init();
	if (!c->ssh)
		return bb_errf(e, BB_ELIB, "%s: libssh2_session_init failed", c->url);
	libssh2_session_set_blocking(c->ssh, 1);
	libssh2_session_set_timeout(c->ssh, to && to->io_ms > 0 ? to->io_ms : 120000);
	/* Ask for the pinned key's type, so a server with several host keys shows that one. */
	libssh2_session_method_pref(c->ssh, LIBSSH2_METHOD_HOSTKEY, hostkey_pref(auth->host_key->type));
	if (libssh2_session_handshake(c->ssh, c->sock) != 0)
		return ssh_error(c, e, "SSH handshake");
	key = libssh2_session_hostkey(c->ssh, &klen, &type);
	if (!key || klen != auth->host_key->len || memcmp(key, auth->host_key->blob, klen) != 0) {
		char got[GITSSH_FINGERPRINT_MAX] = "?", want[GITSSH_FINGERPRINT_MAX] = "?";

		if (key)
			gitssh_fingerprint(key, klen, got, sizeof got, NULL);
		gitssh_fingerprint(auth->host_key->blob, auth->host_key->len, want, sizeof want, NULL);
		return bb_errf(e, BB_ETLS, "%s: host key of %s does not match the pinned key (got %s; pinned %s %s)", c->url,
			       u->host, got, auth->host_key->type, want);
	}
	if (libssh2_userauth_publickey_fromfile_ex(c->ssh, u->user, (unsigned)strlen(u->user), auth->pubkey_path,
						   auth->privkey_path, NULL) != 0) {
		char *msg = NULL;

		libssh2_session_last_error(c->ssh, &msg, NULL, 0);
		return bb_errf(e, BB_ELIB, "%s: SSH authentication as %s with key %s failed: %s", c->url, u->user,
			       auth->pubkey_path, msg ? msg : "refused");
	}
	c->ch = libssh2_channel_open_session(c->ssh);
	if (!c->ch)
		return ssh_error(c, e, "opening a channel");
	/* git's own quoting of the path: '...' with ' as '\'' */
	n = (size_t)snprintf(cmd, sizeof cmd, "git-receive-pack '");
	for (i = 0; u->path[i] && n + 6 < sizeof cmd; i++) {
		if (u->path[i] == '\'') {
			memcpy(cmd + n, "'\\''", 4);
			n += 4;
		} else {
			cmd[n++] = u->path[i];
		}
	}
	if (n + 2 >= sizeof cmd)
		return bb_errf(e, BB_ETOOBIG, "%s: path too long", c->url);
	cmd[n++] = '\'';
	cmd[n] = 0;
	if (libssh2_channel_exec(c->ch, cmd) != 0)
		return ssh_error(c, e, "running git-receive-pack");
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->ch) {
		libssh2_channel_close(c->ch);
		libssh2_channel_free(c->ch);
	}
	if (c->ssh) {
		libssh2_session_disconnect(c->ssh, "bb git-gate done");
		libssh2_session_free(c->ssh);
	}
	if (c->sock >= 0)
		close(c->sock);
	c->ch = NULL;
	c->ssh = NULL;
	c->sock = -1;
}

static int chan_write(struct conn *c, const void *p, size_t n, struct bb_err *e)
{
	const char *b = p;

	while (n) {
		ssize_t w = libssh2_channel_write(c->ch, b, n);

		if (w < 0)
			return ssh_error(c, e, "sending to upstream");
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The next pkt-line from the channel: 1, or -1 (upstream closed counts as an error here). */
static int chan_pkt(struct conn *c, struct pkt *p, struct bb_err *e)
{
	for (;;) {
		ssize_t r;
		int rc;

		rc = pkt_parse(c->in, c->in_len, p, e);
		if (rc < 0)
			return bb_err_wrap(e, "%s: upstream", c->url);
		if (rc == 1)
			return 1;
		if (c->in_len == sizeof c->in)
			return bb_errf(e, BB_ETOOBIG, "%s: upstream packet too long", c->url);
		r = libssh2_channel_read(c->ch, c->in + c->in_len, sizeof c->in - c->in_len);
		if (r < 0)
			return ssh_error(c, e, "reading from upstream");
		if (r == 0) {
			char err[512];
			ssize_t k = libssh2_channel_read_stderr(c->ch, err, sizeof err - 1);

			err[k > 0 ? k : 0] = 0;
			return bb_errf(e, BB_ELIB, "%s: upstream closed the connection%s%s", c->url, k > 0 ? ": " : "", err);
		}
		c->in_len += (size_t)r;
	}
}

static void chan_consume(struct conn *c, const struct pkt *p)
{
	memmove(c->in, c->in + p->wire_len, c->in_len - p->wire_len);
	c->in_len -= p->wire_len;
}

static struct gitssh_push_ref *ref_named(struct gitssh_push_ref *refs, size_t n, struct sv name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sv_eq_str(name, refs[i].dst))
			return &refs[i];
	return NULL;
}

/* Whether a space-separated capability list has word (or word=...). */
static int has_cap(const char *caps, const char *word)
{
	size_t wl = strlen(word);
	const char *p = caps;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == caps || p[-1] == ' ') && (p[wl] == 0 || p[wl] == ' ' || p[wl] == '='))
			return 1;
		p += wl;
	}
	return 0;
}

/* Read the advertisement: upstream's refs checked against each expect_old, and its capabilities. */
static int read_advert(struct conn *c, struct gitssh_push_ref *refs, size_t n, char *caps, size_t capcap,
		       struct bb_err *e)
{
	struct pkt p;
	int first = 1;
	size_t i;
	char *seen = calloc(n ? n : 1, 1);

	if (!seen)
		return bb_errno(e, ENOMEM, "advertisement");
	caps[0] = 0;
	for (;;) {
		struct sv line, ref;
		long nul;

		if (chan_pkt(c, &p, e) < 0)
			goto fail;
		if (p.kind == PKT_FLUSH) {
			chan_consume(c, &p);
			break;
		}
		line = pkt_text(&p);
		if (sv_starts_with(line, SV_LIT("ERR "))) {
			bb_errf(e, BB_ELIB, "%s: upstream says: %.*s", c->url, (int)(line.len > 300 ? 300 : line.len) - 4,
				line.p + 4);
			goto fail;
		}
		nul = sv_index(line, '\0');
		if (first && nul >= 0)
			snprintf(caps, capcap, "%.*s", (int)(line.len - (size_t)nul - 1), line.p + nul + 1);
		first = 0;
		if (nul >= 0)
			line.len = (size_t)nul;
		if (line.len > 41 && line.p[40] == ' ') {
			struct gitssh_push_ref *r;

			ref = sv_of(line.p + 41, line.len - 41);
			r = ref_named(refs, n, ref);
			if (r) {
				seen[r - refs] = 1;
				if (r->expect_old && memcmp(r->expect_old, line.p, 40) != 0) {
					bb_errf(e, BB_EINVAL,
						"upstream %s is at %.12s, not %.12s as the gate last saw it: fetch and push again",
						r->dst, line.p, r->expect_old);
					goto fail;
				}
			}
		}
		chan_consume(c, &p);
	}
	/* A ref upstream does not have must be expected absent. */
	for (i = 0; i < n; i++)
		if (!seen[i] && refs[i].expect_old && strspn(refs[i].expect_old, "0") != strlen(refs[i].expect_old)) {
			bb_errf(e, BB_EINVAL, "upstream no longer has %s (the gate had it at %.12s): fetch and push again",
				refs[i].dst, refs[i].expect_old);
			goto fail;
		}
	free(seen);
	return 0;
fail:
	free(seen);
	return -1;
}

/* Parse the report-status pkt-lines in r[0..n). */
static int parse_report(struct conn *c, const char *r, size_t n, struct gitssh_push_ref *refs, size_t nrefs,
			struct bb_err *e)
{
	size_t off = 0;
	struct pkt p;
	int unpack_seen = 0;

	while (off < n && pkt_parse(r + off, n - off, &p, e) == 1) {
		struct sv t = pkt_text(&p), name, why;

		off += p.wire_len;
		if (p.kind == PKT_FLUSH)
			break;
		if (sv_starts_with(t, SV_LIT("unpack "))) {
			unpack_seen = 1;
			if (!sv_eq_str(t, "unpack ok")) {
				char why_s[300];

				snprintf(why_s, sizeof why_s, "upstream could not unpack: %.*s", (int)(t.len - 7 > 250 ? 250 : t.len - 7),
					 t.p + 7);
				gitssh_push_fail_all(refs, nrefs, why_s);
				return 0;
			}
		} else if (sv_starts_with(t, SV_LIT("ok ")) || sv_starts_with(t, SV_LIT("ng "))) {
			struct gitssh_push_ref *ref;

			name = sv_of(t.p + 3, t.len - 3);
			why = sv_of("", 0);
			if (t.p[0] == 'n')
				sv_split(name, ' ', &name, &why);
			ref = ref_named(refs, nrefs, name);
			if (!ref)
				continue;
			ref->ok = t.p[0] == 'o';
			snprintf(ref->status, sizeof ref->status, "%.*s", (int)(why.len > 400 ? 400 : why.len), why.p);
		}
	}
	if (!unpack_seen)
		return bb_errf(e, BB_ELIB, "%s: upstream sent no report", c->url);
	return 0;
}

/* Upstream's answer: side-band demultiplexed into the report (band 1) and messages (band 2); band 3 is fatal. */
static int read_answer(struct conn *c, struct gitssh_push_ref *refs, size_t n, int sideband, gitssh_msg_fn msg,
		       void *arg, struct bb_err *e)
{
	struct buf report = BUF_INIT(4 * 1024 * 1024);
	struct pkt p;
	int rc = -1;

	for (;;) {
		int band;
		struct sv d;

		if (chan_pkt(c, &p, e) < 0)
			goto out;
		if (p.kind == PKT_FLUSH && sideband) {
			chan_consume(c, &p);
			break;
		}
		if (!sideband) {
			/* The report itself, up to its flush. */
			if (p.kind == PKT_DATA ? pkt_append(&report, p.data, p.len, e) : pkt_append_special(&report, p.kind, e))
				goto out;
			chan_consume(c, &p);
			if (p.kind == PKT_FLUSH)
				break;
			continue;
		}
		if (pkt_sideband_split(&p, &band, &d, e) < 0)
			goto out;
		if (band == PKT_BAND_DATA) {
			if (buf_append(&report, d.p, d.len, e) < 0)
				goto out;
		} else if (band == PKT_BAND_PROGRESS) {
			if (msg)
				msg(arg, d.p, d.len);
		} else {
			bb_errf(e, BB_ELIB, "%s: upstream: %.*s", c->url, (int)(d.len > 300 ? 300 : d.len), d.p);
			goto out;
		}
		chan_consume(c, &p);
	}
	rc = parse_report(c, report.p ? report.p : "", report.len, refs, n, e);
out:
	buf_free(&report);
	return rc;
}

int gitssh_push_pack(const char *url, const struct gitssh_auth *auth, const struct gitssh_timeouts *to,
		     struct gitssh_push_ref *refs, size_t n, const char *const *push_options, size_t nopts, int pack_fd,
		     gitssh_msg_fn msg, void *msg_arg, struct bb_err *e)
{
	struct conn c = { .sock = -1, .ssh = NULL, .ch = NULL, .in_len = 0, .url = url };
	struct gitssh_url u;
	struct buf cmds = BUF_INIT(8 * 1024 * 1024);
	char caps[1024], *chunk = NULL;
	size_t i;
	int any_pack = 0, any_delete = 0, sideband, rc = -1, notimpl = 0;

	gitssh_push_fail_all(refs, n, "upstream did not report this ref");
	for (i = 0; i < n; i++) {
		if (refs[i].new_hex)
			any_pack = 1;
		else
			any_delete = 1;
	}
	if (gitssh_url_parse(url, &u, e) < 0)
		goto out;
	if (!auth || !auth->host_key || !auth->host_key->len) {
		bb_errf(e, BB_EINVAL, "%s: no pinned host key given", url);
		goto out;
	}
	if (access(auth->privkey_path, R_OK) < 0 || access(auth->pubkey_path, R_OK) < 0) {
		bb_errno(e, errno, "%s: key %s", url, auth->privkey_path);
		goto out;
	}
	libssh2_init(0);
	c.sock = dial(&u, to ? to->connect_ms : 0, url, e);
	if (c.sock < 0 || open_channel(&c, &u, auth, to, e) < 0 || read_advert(&c, refs, n, caps, sizeof caps, e) < 0)
		goto out;
	/* What this pack needs of upstream; without it, nothing is sent and the caller falls back. */
	if ((any_pack && (!has_cap(caps, "ofs-delta") || has_cap(caps, "no-thin"))) ||
	    (any_delete && !has_cap(caps, "delete-refs")) || (nopts && !has_cap(caps, "push-options")) ||
	    !has_cap(caps, "report-status")) {
		notimpl = 1;
		bb_errf(e, BB_ENOTIMPL, "%s: upstream lacks a capability this push needs (it offers: %.200s)", url, caps);
		goto out;
	}
	sideband = has_cap(caps, "side-band-64k");
	for (i = 0; i < n; i++) {
		const char *old = refs[i].expect_old ? refs[i].expect_old : "0000000000000000000000000000000000000000";
		const char *nw = refs[i].new_hex ? refs[i].new_hex : "0000000000000000000000000000000000000000";

		if (i == 0)
			rc = pkt_appendf(&cmds, e, "%s %s %s%creport-status%s%s agent=bb-git-gate\n", old, nw, refs[i].dst, 0,
					 sideband ? " side-band-64k quiet" : "", nopts ? " push-options" : "");
		else
			rc = pkt_appendf(&cmds, e, "%s %s %s\n", old, nw, refs[i].dst);
		if (rc < 0)
			goto out;
	}
	rc = -1;
	if (pkt_append_special(&cmds, PKT_FLUSH, e) < 0)
		goto out;
	for (i = 0; i < nopts; i++)
		if (pkt_appendf(&cmds, e, "%s\n", push_options[i]) < 0)
			goto out;
	if (nopts && pkt_append_special(&cmds, PKT_FLUSH, e) < 0)
		goto out;
	if (chan_write(&c, cmds.p, cmds.len, e) < 0)
		goto out;
	if (any_pack) {
		chunk = malloc(65536);
		if (!chunk) {
			bb_errno(e, ENOMEM, "pack buffer");
			goto out;
		}
		for (;;) {
			ssize_t r = read(pack_fd, chunk, 65536);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				bb_errno(e, errno, "reading the pack to forward");
				goto out;
			}
			if (r == 0)
				break;
			if (chan_write(&c, chunk, (size_t)r, e) < 0)
				goto out;
		}
	}
	if (read_answer(&c, refs, n, sideband, msg, msg_arg, e) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0 && !notimpl)
		gitssh_push_fail_all(refs, n, e ? e->msg : "push failed");
	free(chunk);
	buf_free(&cmds);
	conn_close(&c);
	return rc;
}
