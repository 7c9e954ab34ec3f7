/* docker.c - the Docker/Podman backend: Engine API calls over the unix socket, and the bottle's two containers on it. */
#include "docker.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "dial.h"
#include "fd.h"
#include "http1.h"
#include "image.h"
#include "sidecar.h"
#include "json.h"
#include "rootfs.h"
#include "seccomp.h"

#define DK_IO_TIMEOUT_S 300 /* one call (an image import of a large binary included) */
#define DK_READY_MS 20000   /* until the sidecar's egress accepts */
#define DK_SUBNET_TRIES 32  /* internal networks tried (10.231.N.0/24) before giving up */

/* ---------- transport ---------- */

int dk_client_init(struct dk_client *d, const char *docker_host, struct bb_err *e)
{
	const char *path = DK_DEFAULT_SOCKET;
	memset(d, 0, sizeof *d);
	if (docker_host && *docker_host) {
		if (strncmp(docker_host, "unix://", 7) != 0)
			return bb_errf(e, BB_EINVAL,
				       "docker: DOCKER_HOST=%s: only unix:///path sockets are supported (bb talks to a local engine)",
				       docker_host);
		path = docker_host + 7;
	}
	if (path[0] != '/')
		return bb_errf(e, BB_EINVAL, "docker: DOCKER_HOST socket '%s' is not an absolute path", path);
	if (strlen(path) >= sizeof d->socket_path)
		return bb_errf(e, BB_ETOOBIG, "docker: socket path too long: %s", path);
	memcpy(d->socket_path, path, strlen(path) + 1);
	memcpy(d->api_version, DK_API_DEFAULT, sizeof DK_API_DEFAULT);
	return 0;
}

static int dk_dial(const struct dk_client *d, struct bb_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { DK_IO_TIMEOUT_S, 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bb_errno(e, errno, "docker: socket");
	memcpy(sa.sun_path, d->socket_path, strlen(d->socket_path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		bb_errno(e, errno, "docker: connect to %s (is the engine running? DOCKER_HOST names another socket)",
			 d->socket_path);
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The request head; body_len < 0: no body. */
static int send_head(int fd, const struct dk_client *d, const char *method, const char *path, const char *ctype,
		     long long body_len, const char *extra, struct bb_err *e)
{
	char head[2048];
	int n = snprintf(head, sizeof head, "%s /v%s%s HTTP/1.1\r\nHost: docker\r\nUser-Agent: bb\r\n%s", method,
			 d->api_version, path, extra ? extra : "Connection: close\r\n");
	if (n > 0 && (size_t)n < sizeof head && body_len >= 0)
		n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\nContent-Length: %lld\r\n",
			      ctype ? ctype : "application/octet-stream", body_len);
	if (n > 0 && (size_t)n < sizeof head)
		n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
	if (n <= 0 || (size_t)n >= sizeof head)
		return bb_errf(e, BB_ETOOBIG, "docker: %s %s: request line too long", method, path);
	if (send_all(fd, head, (size_t)n) < 0)
		return bb_errno(e, errno, "docker: %s %s: send", method, path);
	return 0;
}

int dk_response_parse(const char *raw, size_t len, const char *method, struct dk_reply *out, struct bb_err *e)
{
	struct buf *body = &out->body;
	const struct http1_header *h;
	struct http1_response *r = malloc(sizeof *r); /* 100 headers: too big for small stacks */
	struct http1_error he;
	long hl;
	int rc = -1;
	if (!r)
		return bb_errno(e, ENOMEM, "docker: response");
	hl = http1_response_parse(raw, len, NULL, sv_from(method), r, &he);
	if (hl == 0) {
		bb_errf(e, BB_EINVAL, "docker: the engine closed the connection before a whole response head (%zu bytes)",
			len);
		goto out;
	}
	if (hl < 0) {
		bb_errf(e, BB_EINVAL, "docker: malformed response: %s at byte %zu", he.reason, he.offset);
		goto out;
	}
	out->status = r->status;
	out->api_version[0] = 0;
	h = http1_header_get(r->headers, r->n_headers, "Api-Version");
	if (h && h->value.len && h->value.len < sizeof out->api_version &&
	    strspn(h->value.p, "0123456789.") >= h->value.len)
		sv_copy(h->value, out->api_version, sizeof out->api_version);
	out->podman = http1_header_get(r->headers, r->n_headers, "Libpod-Api-Version") != NULL;
	raw += hl;
	len -= (size_t)hl;
	switch (r->body) {
	case HTTP1_BODY_NONE:
		rc = 0;
		break;
	case HTTP1_BODY_LENGTH:
		if (r->content_length > len) {
			bb_errf(e, BB_EINVAL, "docker: response body truncated (%zu of %llu bytes)", len,
				(unsigned long long)r->content_length);
			break;
		}
		rc = buf_append(body, raw, (size_t)r->content_length, e);
		break;
	case HTTP1_BODY_CLOSE:
		rc = buf_append(body, raw, len, e);
		break;
	case HTTP1_BODY_CHUNKED: {
		struct http1_chunked ch;
		http1_chunked_init(&ch, 0, 0);
		while (!ch.done) {
			size_t used;
			struct sv data;
			if (http1_chunked_feed(&ch, raw, len, &used, &data, &he) < 0) {
				bb_errf(e, BB_EINVAL, "docker: malformed chunked body: %s", he.reason);
				goto out;
			}
			if (data.len && buf_append(body, data.p, data.len, e) < 0)
				goto out;
			raw += used;
			len -= used;
			if (!ch.done && !used && !data.len) {
				bb_errf(e, BB_EINVAL, "docker: chunked response body truncated");
				goto out;
			}
		}
		rc = 0;
		break;
	}
	}
out:
	free(r);
	return rc;
}

void dk_error_text(const char *body, size_t len, char *out, size_t cap)
{
	cJSON *doc = len ? cJSON_ParseWithLength(body, len) : NULL;
	const char *msg = doc ? cJSON_GetStringValue(cJSON_GetObjectItem(doc, "message")) : NULL;
	size_t i, n;
	if (!cap)
		return;
	if (msg) {
		body = msg;
		len = strlen(msg);
	}
	while (len && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' '))
		len--;
	n = len < cap - 1 ? len : cap - 1;
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)body[i] < 0x20 || body[i] == 0x7f ? '?' : body[i];
	out[n] = 0;
	if (!n)
		snprintf(out, cap, "(no message)");
	cJSON_Delete(doc);
}

int dk_call(const struct dk_client *d, const char *method, const char *path, const char *ctype, const void *body,
	    size_t len, int body_fd, struct dk_reply *r, struct bb_err *e)
{
	struct buf raw = BUF_INIT(DK_BODY_MAX + 65536);
	int fd, rc = -1;
	buf_init(&r->body, DK_BODY_MAX);
	r->status = 0;
	r->api_version[0] = 0;
	r->podman = 0;
	fd = dk_dial(d, e);
	if (fd < 0)
		return bb_err_wrap(e, "%s %s", method, path);
	if (send_head(fd, d, method, path, ctype, body || body_fd >= 0 ? (long long)len : -1, NULL, e) < 0)
		goto out;
	if (body && len && send_all(fd, body, len) < 0) {
		bb_errno(e, errno, "docker: %s %s: send the body", method, path);
		goto out;
	}
	if (body_fd >= 0) {
		char chunk[65536];
		size_t left = len;
		while (left) {
			ssize_t n = read(body_fd, chunk, left < sizeof chunk ? left : sizeof chunk);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || send_all(fd, chunk, (size_t)n) < 0) {
				bb_errno(e, n == 0 ? EIO : errno, "docker: %s %s: send the body", method, path);
				goto out;
			}
			left -= (size_t)n;
		}
	}
	if (fd_read_all(fd, &raw, e) < 0) {
		bb_err_wrap(e, "docker: %s %s: read the response", method, path);
		goto out;
	}
	if (dk_response_parse(raw.p ? raw.p : "", raw.len, method, r, e) < 0) {
		bb_err_wrap(e, "%s %s", method, path);
		goto out;
	}
	if (r->status < 200 || r->status > 299) {
		char msg[1024];
		dk_error_text(r->body.p, r->body.len, msg, sizeof msg);
		bb_errf(e, BB_ELIB, "docker: %s %s: %s (HTTP %d)", method, path, msg, r->status);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	buf_free(&raw);
	return rc;
}

int dk_call_to_fd(const struct dk_client *d, const char *method, const char *path, int out_fd, uint64_t max,
		  struct bb_err *e)
{
	struct buf in = BUF_INIT(DK_BODY_MAX + 65536);
	struct http1_response *r = malloc(sizeof *r);
	struct http1_error he;
	struct http1_chunked ch;
	uint64_t written = 0;
	size_t used = 0;
	long hl = 0;
	int fd, rc = -1, eof = 0;

	if (!r)
		return bb_errno(e, ENOMEM, "docker: %s %s", method, path);
	fd = dk_dial(d, e);
	if (fd < 0) {
		free(r);
		return bb_err_wrap(e, "%s %s", method, path);
	}
	if (send_head(fd, d, method, path, NULL, -1, NULL, e) < 0)
		goto out;
	/* read(): more bytes into in; 0 at the end of the stream */
#define DK_MORE()                                                                                            \
	do {                                                                                                 \
		char chunk_[65536];                                                                          \
		ssize_t n_ = read(fd, chunk_, sizeof chunk_);                                                \
		if (n_ < 0 && errno == EINTR)                                                                \
			continue;                                                                            \
		if (n_ < 0) {                                                                                \
			bb_errno(e, errno, "docker: %s %s: read the response", method, path);                \
			goto out;                                                                            \
		}                                                                                            \
		eof = n_ == 0;                                                                               \
		if (n_ > 0 && buf_append(&in, chunk_, (size_t)n_, e) < 0)                                   \
			goto out;                                                                            \
	} while (0)
	while ((hl = http1_response_parse(in.p ? in.p : "", in.len, NULL, sv_from(method), r, &he)) == 0) {
		if (eof) {
			bb_errf(e, BB_EINVAL, "docker: %s %s: the engine closed the connection before a whole response head",
				method, path);
			goto out;
		}
		DK_MORE();
	}
	if (hl < 0) {
		bb_errf(e, BB_EINVAL, "docker: %s %s: malformed response: %s", method, path, he.reason);
		goto out;
	}
	if (r->status < 200 || r->status > 299) {
		/* An error: its body is small JSON; read it whole for the message. */
		struct dk_reply rep = { 0 };
		char msg[1024];
		while (!eof)
			DK_MORE();
		buf_init(&rep.body, DK_BODY_MAX);
		if (dk_response_parse(in.p, in.len, method, &rep, e) == 0)
			dk_error_text(rep.body.p, rep.body.len, msg, sizeof msg);
		else
			snprintf(msg, sizeof msg, "(no readable message)");
		buf_free(&rep.body);
		bb_errf(e, BB_ELIB, "docker: %s %s: %s (HTTP %d)", method, path, msg, r->status);
		goto out;
	}
	used = (size_t)hl;
	http1_chunked_init(&ch, 0, 0);
	for (;;) {
		struct sv data = { 0 };
		int stuck;
		if (r->body == HTTP1_BODY_NONE || (r->body == HTTP1_BODY_CHUNKED && ch.done) ||
		    (r->body == HTTP1_BODY_LENGTH && written == r->content_length))
			break;
		if (r->body == HTTP1_BODY_CHUNKED) {
			size_t n = 0;
			if (http1_chunked_feed(&ch, in.p + used, in.len - used, &n, &data, &he) < 0) {
				bb_errf(e, BB_EINVAL, "docker: %s %s: malformed chunked body: %s", method, path, he.reason);
				goto out;
			}
			used += n;
			stuck = !n && !data.len;
		} else {
			size_t take = in.len - used;
			if (r->body == HTTP1_BODY_LENGTH && take > r->content_length - written)
				take = (size_t)(r->content_length - written);
			data.p = in.p + used;
			data.len = take;
			used += take;
			stuck = !take;
		}
		if (data.len) {
			if (max && written + data.len > max) {
				bb_errf(e, BB_ETOOBIG, "docker: %s %s: the answer is larger than %llu bytes", method, path,
					(unsigned long long)max);
				goto out;
			}
			if (fd_write_all(out_fd, data.p, data.len) < 0) {
				bb_errno(e, errno, "docker: %s %s: write", method, path);
				goto out;
			}
			written += data.len;
		}
		if (stuck || used == in.len) {
			/* what is held is used (or the decoder needs bytes past it): keep the rest, read more */
			if (used)
				memmove(in.p, in.p + used, in.len - used);
			in.len -= used;
			used = 0;
			if (eof && stuck) {
				if (r->body == HTTP1_BODY_CLOSE)
					break;
				bb_errf(e, BB_EINVAL, "docker: %s %s: the answer was cut short (%llu bytes)", method, path,
					(unsigned long long)written);
				goto out;
			}
			if (!eof)
				DK_MORE();
		}
	}
#undef DK_MORE
	rc = 0;
out:
	close(fd);
	buf_free(&in);
	free(r);
	return rc;
}

int dk_call_json(const struct dk_client *d, const char *method, const char *path, const char *json, struct dk_reply *r,
		 struct bb_err *e)
{
	return dk_call(d, method, path, json ? "application/json" : NULL, json, json ? strlen(json) : 0, -1, r, e);
}

/* A call whose reply is not needed. */
static int dk_do(const struct dk_client *d, const char *method, const char *path, const char *json, struct bb_err *e)
{
	struct dk_reply r;
	int rc = dk_call_json(d, method, path, json, &r, e);
	buf_free(&r.body);
	return rc;
}

/* A call whose reply is JSON: the parsed document (caller deletes), or NULL with e set. */
static cJSON *dk_get_json(const struct dk_client *d, const char *method, const char *path, const char *json,
			  struct bb_err *e)
{
	struct dk_reply r;
	cJSON *doc = NULL;
	if (dk_call_json(d, method, path, json, &r, e) == 0) {
		doc = json_parse("docker reply", r.body.p ? r.body.p : "", r.body.len, e);
		if (!doc)
			bb_err_wrap(e, "docker: %s %s", method, path);
	}
	buf_free(&r.body);
	return doc;
}

int dk_connect(struct dk_client *d, struct bb_err *e)
{
	struct dk_reply r;
	if (dk_call(d, "GET", "/_ping", NULL, NULL, 0, -1, &r, e) < 0) {
		buf_free(&r.body);
		return -1;
	}
	if (r.api_version[0])
		memcpy(d->api_version, r.api_version, sizeof d->api_version);
	d->podman = r.podman;
	buf_free(&r.body);
	return 0;
}

/* ---------- the multiplexed stream ---------- */

int dk_demux_feed(struct dk_demux *m, const char *in, size_t len, size_t *consumed, int *stream, const char **data,
		  size_t *data_len)
{
	size_t used = 0;
	*data = NULL;
	*data_len = 0;
	*stream = m->stream;
	while (used < len && m->left == 0) {
		m->head[m->head_len++] = (unsigned char)in[used++];
		if (m->head_len < 8)
			continue;
		m->head_len = 0;
		if (m->head[0] > 2 || m->head[1] || m->head[2] || m->head[3]) {
			*consumed = used;
			return -1;
		}
		m->stream = m->head[0];
		m->left = (uint32_t)m->head[4] << 24 | (uint32_t)m->head[5] << 16 | (uint32_t)m->head[6] << 8 | m->head[7];
		*stream = m->stream;
	}
	if (used < len && m->left) {
		size_t n = len - used < m->left ? len - used : m->left;
		*data = in + used;
		*data_len = n;
		m->left -= (uint32_t)n;
		used += n;
	}
	*consumed = used;
	return 0;
}

/* ---------- host-side isolation of the internal network ---------- */

/* Delete the IPv4 address addr/prefix from interface ifindex (RTM_DELADDR), waiting for the kernel's answer. */
static int addr4_del(int ifindex, struct in_addr addr, unsigned prefix, struct bb_err *e)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		char attrs[64];
	} req;
	struct rtattr *rta;
	char ack[1024];
	ssize_t n;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return bb_errno(e, errno, "netlink socket");
	memset(&req, 0, sizeof req);
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.ifa);
	req.nh.nlmsg_type = RTM_DELADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.ifa.ifa_family = AF_INET;
	req.ifa.ifa_prefixlen = (unsigned char)prefix;
	req.ifa.ifa_index = (unsigned)ifindex;
	rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	rta->rta_type = IFA_LOCAL;
	rta->rta_len = RTA_LENGTH(4);
	memcpy(RTA_DATA(rta), &addr, 4);
	req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
		close(fd);
		return bb_errno(e, errno, "netlink send");
	}
	n = recv(fd, ack, sizeof ack, 0);
	close(fd);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		return bb_errf(e, BB_ELIB, "netlink: no answer to RTM_DELADDR");
	{
		struct nlmsghdr *h = (struct nlmsghdr *)ack;
		struct nlmsgerr *ne = NLMSG_DATA(h);
		if (h->nlmsg_type == NLMSG_ERROR && ne->error)
			return bb_errno(e, -ne->error, "netlink RTM_DELADDR");
	}
	return 0;
}

/*
 * The engine puts the internal network's gateway address on a host bridge:
 * the agent could reach every host service listening on 0.0.0.0 through
 * it (and the engine's DNS forwarder on it). Take that address (and IPv6)
 * off the bridge: the agent's link then reaches the sidecar and nothing.
 */
static int isolate_bridge(const char *gateway, struct bb_err *e)
{
	struct ifaddrs *ifs, *i;
	struct in_addr gw;
	char ifname[IF_NAMESIZE + 1] = "";
	unsigned prefix = 24;
	if (inet_pton(AF_INET, gateway, &gw) != 1)
		return bb_errf(e, BB_EINVAL, "docker: internal gateway '%s' is not an IPv4 address", gateway);
	if (getifaddrs(&ifs) < 0)
		return bb_errno(e, errno, "docker: list the host's addresses");
	for (i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == gw.s_addr) {
			uint32_t m = i->ifa_netmask ? ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr) : 0;
			snprintf(ifname, sizeof ifname, "%s", i->ifa_name);
			for (prefix = 0; m & 0x80000000u; m <<= 1)
				prefix++;
			break;
		}
	freeifaddrs(ifs);
	if (!ifname[0])
		return bb_errf(e, BB_ELIB,
			       "docker: no host interface holds the internal network's gateway %s: the engine is not on "
			       "this host's network (rootless or remote), so the agent's isolation cannot be checked",
			       gateway);
	{
		char p[128];
		int fd;
		snprintf(p, sizeof p, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
		fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
	}
	if (addr4_del((int)if_nametoindex(ifname), gw, prefix, e) < 0)
		return bb_err_wrap(e, "docker: take %s off bridge %s", gateway, ifname);
	return 0;
}

/* ---------- the bottle ---------- */

cJSON *dk_env_for_container(char *const *env, const char *ip)
{
	cJSON *a = cJSON_CreateArray(), *item;
	size_t k = strlen(RT_SIDECAR_ADDR);
	int bad = !a;
	for (; !bad && env && *env; env++) {
		struct buf b = BUF_INIT(1u << 20);
		const char *s = *env, *hit;
		while ((hit = strstr(s, RT_SIDECAR_ADDR)) != NULL) {
			bad |= buf_append(&b, s, (size_t)(hit - s), NULL);
			if (hit[k] >= '0' && hit[k] <= '9') /* 10.231.0.10 is another address */
				bad |= buf_append(&b, hit, k, NULL);
			else
				bad |= buf_append_str(&b, ip, NULL);
			s = hit + k;
		}
		bad |= buf_append_str(&b, s, NULL);
		bad |= buf_append_byte(&b, 0, NULL);
		item = bad ? NULL : cJSON_CreateString(b.p);
		if (!item || !cJSON_AddItemToArray(a, item))
			bad = 1;
		if (b.p)
			explicit_bzero(b.p, b.len); /* token values */
		buf_free(&b);
	}
	if (bad) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

static void add_bind(cJSON *mounts, const char *src, const char *dst, int ro)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "Type", "bind");
	cJSON_AddStringToObject(m, "Source", src);
	cJSON_AddStringToObject(m, "Target", dst);
	cJSON_AddBoolToObject(m, "ReadOnly", ro);
	cJSON_AddItemToArray(mounts, m);
}

static void add_tmpfs(cJSON *mounts, const char *dst, long long size, int mode, int ro)
{
	cJSON *m = cJSON_CreateObject(), *o;
	cJSON_AddStringToObject(m, "Type", "tmpfs");
	cJSON_AddStringToObject(m, "Target", dst);
	cJSON_AddBoolToObject(m, "ReadOnly", ro);
	o = cJSON_AddObjectToObject(m, "TmpfsOptions");
	cJSON_AddNumberToObject(o, "SizeBytes", (double)size);
	cJSON_AddNumberToObject(o, "Mode", mode);
	cJSON_AddItemToArray(mounts, m);
}

static cJSON *str_array(const char *const *v)
{
	cJSON *a = cJSON_CreateArray();
	for (; v && *v; v++)
		cJSON_AddItemToArray(a, cJSON_CreateString(*v));
	return a;
}

/* What docker_entry binds into: the Mounts array, and the image's rootfs (NULL: the host's root). */
struct dk_walk {
	cJSON *mounts;
	const char *image_root;
};

/*
 * A top-level symlink of an image's root resolved as the agent would see it: inside the root
 * (openat2 RESOLVE_IN_ROOT: absolute targets and ".." stay in it), into out as the directory's
 * real path on the host. 0, or -1 (not a directory in the image, or no openat2).
 */
static int image_link_dir(const char *root, const char *name, char *out, size_t cap)
{
	char proc[64], real[PATH_MAX];
	int fd;
	size_t rl;
	ssize_t n;
	if (!realpath(root, real))
		return -1;
	rl = strlen(real);
	fd = fd_open_in_root(real, name, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return -1;
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	n = readlink(proc, out, cap - 1);
	close(fd);
	if (n <= 0 || (size_t)n >= cap - 1)
		return -1;
	out[n] = 0;
	if ((size_t)n <= rl || strncmp(out, real, rl) || out[rl] != '/')
		return -1; /* the root itself, or not under it: never bound */
	return 0;
}

/*
 * The Docker backend's action for one top-level entry of the agent's root
 * (lib/rootfs.h): directories bound read-only at the same place; a
 * symlink to a directory (/bin -> usr/bin) bound as the directory it
 * names (an image of one file has nowhere to copy the link): on the host's
 * root as the host resolves it, in an imported image resolved inside the
 * image (the engine would follow an absolute link out of it onto the
 * host's); files and names the container provides (hidden ones get a
 * tmpfs below) left out, and /bb, which is bb in the image.
 */
static int docker_entry(void *arg, const struct rootfs_entry *en)
{
	const struct dk_walk *w = arg;
	char at[NAME_MAX + 2], src[PATH_MAX];
	struct stat st;
	if (!strcmp(en->name, "bb") || (en->kind != ROOTFS_DIR && en->kind != ROOTFS_LINK))
		return 0;
	snprintf(at, sizeof at, "/%s", en->name);
	if (w->image_root && en->kind == ROOTFS_LINK) {
		if (image_link_dir(w->image_root, en->name, src, sizeof src) == 0)
			add_bind(w->mounts, src, at, 1);
		return 0;
	}
	if (stat(en->src, &st) == 0 && S_ISDIR(st.st_mode))
		add_bind(w->mounts, en->src, at, 1);
	return 0;
}

/* Labels, ulimits, caps, no-new-privileges, read-only rootfs: what both containers share. */
static cJSON *container_base(const char *image, char *const *argv, cJSON *env, const char *slug, const char *pid,
			     const char *const *caps, cJSON **host)
{
	static const char *const drop_all[] = { "ALL", NULL };
	static const char *const nnp[] = { "no-new-privileges", NULL };
	static const char *const limits[] = { "nofile", "nproc", NULL };
	cJSON *c = cJSON_CreateObject(), *l, *u;
	const char *const *k;
	cJSON_AddStringToObject(c, "Image", image);
	cJSON_AddItemToObject(c, "Entrypoint", str_array((const char *const *)argv));
	cJSON_AddItemToObject(c, "Cmd", cJSON_CreateArray());
	cJSON_AddItemToObject(c, "Env", env);
	cJSON_AddStringToObject(c, "User", "0:0"); /* bb init switches the agent to its uid after dropping */
	l = cJSON_AddObjectToObject(c, "Labels");
	cJSON_AddStringToObject(l, DK_LABEL, slug);
	cJSON_AddStringToObject(l, DK_LABEL_PID, pid);
	*host = cJSON_AddObjectToObject(c, "HostConfig");
	cJSON_AddBoolToObject(*host, "ReadonlyRootfs", 1);
	cJSON_AddItemToObject(*host, "CapDrop", str_array(drop_all));
	cJSON_AddItemToObject(*host, "CapAdd", str_array(caps));
	cJSON_AddItemToObject(*host, "SecurityOpt", str_array(nnp));
	/* Podman run as a service here needs explicit limits (the defaults exceed the host's hard ones). */
	u = cJSON_AddArrayToObject(*host, "Ulimits");
	for (k = limits; *k; k++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "Name", *k);
		cJSON_AddNumberToObject(o, "Soft", 1024);
		cJSON_AddNumberToObject(o, "Hard", 1024);
		cJSON_AddItemToArray(u, o);
	}
	return c;
}

/*
 * bb's seccomp list (lib/seccomp.h) as the agent's profile, in place of the
 * engine's default. Docker takes the profile itself in SecurityOpt (its CLI
 * reads the file and inlines it); podman 4 opens the value as a path
 * ("opening seccomp profile failed: open {..."), so for podman it goes into
 * a sealed memfd named by its /proc path: not a file in the state directory,
 * which the running sidecar can write (it could swap the profile between
 * this write and the engine's read). *keep: the memfd, open until the
 * container is created (the caller closes it), or -1.
 */
static int add_seccomp(const struct dk_client *d, cJSON *host, int *keep, struct bb_err *e)
{
	cJSON *prof = seccomp_agent_profile(), *opt = NULL;
	char *js = prof ? cJSON_PrintUnformatted(prof) : NULL;
	struct buf v = BUF_INIT(1u << 20);
	int rc = -1;
	cJSON_Delete(prof);
	if (!js) {
		bb_errno(e, ENOMEM, "docker: the seccomp profile");
		goto out;
	}
	if (d->podman) {
		char f[64];
		if ((*keep = dial_token_memfd(js, strlen(js), e)) < 0)
			goto out;
		snprintf(f, sizeof f, "/proc/%d/fd/%d", (int)getpid(), *keep);
		if (buf_append_str(&v, "seccomp=", e) < 0 || buf_append_str(&v, f, e) < 0)
			goto out;
	} else if (buf_append_str(&v, "seccomp=", e) < 0 || buf_append_str(&v, js, e) < 0) {
		goto out;
	}
	if (buf_append_byte(&v, 0, e) < 0)
		goto out;
	opt = cJSON_CreateString(v.p);
	if (!opt || !cJSON_AddItemToArray(cJSON_GetObjectItem(host, "SecurityOpt"), opt)) {
		cJSON_Delete(opt);
		bb_errno(e, ENOMEM, "docker: the seccomp profile");
		goto out;
	}
	rc = 0;
out:
	free(js);
	buf_free(&v);
	return rc;
}

/* Whether file (/etc/subuid, /etc/subgid) gives the user "containers" a range of ids. */
static int has_containers_range(const char *file)
{
	char line[256];
	int found = 0;
	FILE *f = fopen(file, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof line, f))
		found = !strncmp(line, "containers:", 11);
	fclose(f);
	return found;
}

/*
 * The agent's user namespace, where the engine can make one: rootful
 * podman's UsernsMode "auto" maps the container's ids to unused host ids of
 * the "containers" ranges of /etc/subuid and /etc/subgid (the engine is on
 * this host: isolate_bridge checks it), with the workspace owner's uid and
 * gid mapped 1:1 so the agent's files in the workspace stay the operator's
 * (runc 1.1 has no idmapped mounts). Without those ranges podman refuses
 * "auto" ("no subuid ranges found for user containers"), and a map of
 * bb's own cannot be sent: the Docker-format HostConfig has no field for
 * one, and "ns:PATH" (a namespace bb made) leaves runc unable to mount the
 * root podman did not chown for it. Docker knows only its daemon-wide
 * userns-remap. Those engines run the agent without one (docs/docker.md).
 */
static void add_userns(const struct dk_client *d, cJSON *host, unsigned uid, unsigned gid)
{
	char mode[96];
	/* uid 0 would map the namespace's root to the host's */
	if (!d->podman || !uid || !gid || !has_containers_range("/etc/subuid") || !has_containers_range("/etc/subgid"))
		return;
	snprintf(mode, sizeof mode, "auto:uidmapping=%u:%u:1,gidmapping=%u:%u:1", uid, uid, gid, gid);
	cJSON_AddStringToObject(host, "UsernsMode", mode);
}

/* Memory and process limits (HostConfig.Memory, PidsLimit): < 0 none, else that many. */
static void add_limits(cJSON *host, long long mem, long pids)
{
	if (mem > 0) {
		cJSON_AddNumberToObject(host, "Memory", (double)mem);
		cJSON_AddNumberToObject(host, "MemorySwap", (double)mem); /* no swap beyond it */
	}
	if (pids > 0)
		cJSON_AddNumberToObject(host, "PidsLimit", (double)pids);
}

/* Create a container named name from body; its id into id (72 bytes). */
static int create_container(const struct dk_client *d, const char *name, cJSON *body, char id[72], struct bb_err *e)
{
	char path[256], *js = cJSON_PrintUnformatted(body);
	cJSON *r;
	const char *v;
	if (!js)
		return bb_errno(e, ENOMEM, "docker: container %s", name);
	snprintf(path, sizeof path, "/containers/create?name=%s", name);
	r = dk_get_json(d, "POST", path, js, e);
	explicit_bzero(js, strlen(js)); /* the sidecar's holds the tokens */
	free(js);
	if (!r)
		return -1;
	v = cJSON_GetStringValue(cJSON_GetObjectItem(r, "Id"));
	if (!v || strlen(v) >= 72 || strspn(v, "0123456789abcdef") != strlen(v)) {
		cJSON_Delete(r);
		return bb_errf(e, BB_ELIB, "docker: POST %s: no container id in the reply", path);
	}
	memcpy(id, v, strlen(v) + 1);
	cJSON_Delete(r);
	return 0;
}

/* The last lines of a container's output, for an error message. */
static void container_tail(const struct dk_client *d, const char *id, char *out, size_t cap)
{
	struct dk_reply r;
	struct bb_err e2 = { 0 };
	struct dk_demux m = { 0 };
	char path[160];
	size_t o = 0, at = 0;
	out[0] = 0;
	snprintf(path, sizeof path, "/containers/%s/logs?stdout=1&stderr=1&tail=5", id);
	if (dk_call(d, "GET", path, NULL, NULL, 0, -1, &r, &e2) == 0 && r.body.len) {
		while (at < r.body.len) {
			size_t used, n, i;
			int stream;
			const char *data;
			if (dk_demux_feed(&m, r.body.p + at, r.body.len - at, &used, &stream, &data, &n) < 0)
				break;
			for (i = 0; i < n && o + 1 < cap; i++)
				out[o++] = data[i] == '\n' ? ' ' : (unsigned char)data[i] < 0x20 ? '?' : data[i];
			at += used;
		}
		out[o] = 0;
	}
	buf_free(&r.body);
}

/* Whether TCP ip:port accepts now. */
static int tcp_accepts(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
	if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Open the agent's attach stream (before it starts, so no output is lost).
 * The socket, with bytes already read past the 101 head in *early.
 */
static int attach_open(const struct dk_client *d, const char *id, struct buf *early, struct bb_err *e)
{
	char path[200], head[8192];
	size_t have = 0, end = 0;
	struct http1_response *r;
	struct http1_error he;
	int fd = dk_dial(d, e);
	if (fd < 0)
		return bb_err_wrap(e, "attach");
	snprintf(path, sizeof path, "/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1", id);
	if (send_head(fd, d, "POST", path, NULL, -1, "Connection: Upgrade\r\nUpgrade: tcp\r\n", e) < 0) {
		close(fd);
		return -1;
	}
	while (!end) {
		ssize_t n = recv(fd, head + have, sizeof head - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (have += (size_t)n, end = http1_head_end(head, have, 0), !end && have == sizeof head)) {
			bb_errf(e, BB_ELIB, "docker: POST %s: no answer", path);
			close(fd);
			return -1;
		}
	}
	r = malloc(sizeof *r);
	if (!r || http1_response_parse(head, end, NULL, sv_from("POST"), r, &he) <= 0 ||
	    (r->status != 101 && r->status != 200)) {
		char msg[1024];
		dk_error_text(head + end, have - end, msg, sizeof msg);
		bb_errf(e, BB_ELIB, "docker: POST %s: %s (HTTP %d)", path, msg, r ? r->status : 0);
		free(r);
		close(fd);
		return -1;
	}
	free(r);
	if (buf_append(early, head + end, have - end, e) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Write out a demultiplexed span to the host's stdout / stderr. */
static int demux_out(struct dk_demux *m, const char *p, size_t len)
{
	while (len) {
		size_t used, n;
		int stream;
		const char *data;
		if (dk_demux_feed(m, p, len, &used, &stream, &data, &n) < 0)
			return -1;
		if (n)
			(void)fd_write_all(stream == 2 ? 2 : 1, data, n);
		p += used;
		len -= used;
	}
	return 0;
}

/* Stdin to the container until EOF (then half-close), its output to ours until it closes. */
static int attach_pump(int sock, struct buf *early, struct bb_err *e)
{
	struct dk_demux m = { 0 };
	struct pollfd p[2];
	int in_open = fcntl(0, F_GETFD) >= 0;
	char b[65536];
	if (demux_out(&m, early->p, early->len) < 0)
		return bb_errf(e, BB_ELIB, "docker: attach stream: not a multiplexed stream");
	for (;;) {
		int np = 0;
		p[np++] = (struct pollfd){ .fd = sock, .events = POLLIN };
		if (in_open)
			p[np++] = (struct pollfd){ .fd = 0, .events = POLLIN };
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			return bb_errno(e, errno, "docker: attach poll");
		}
		if (np > 1 && p[1].revents) {
			ssize_t n = read(0, b, sizeof b);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0 || send_all(sock, b, (size_t)n) < 0) {
				in_open = 0;
				shutdown(sock, SHUT_WR); /* the agent sees EOF on its stdin */
			}
		}
		if (p[0].revents) {
			ssize_t n = recv(sock, b, sizeof b, 0);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				return 0;
			if (demux_out(&m, b, (size_t)n) < 0)
				return bb_errf(e, BB_ELIB, "docker: attach stream: not a multiplexed stream");
		}
	}
}

/* What docker_run made, to undo in reverse order. */
struct made {
	char image[128];
	char net_int[96];
	char sidecar[72], agent[72];
};

static void undo(const struct dk_client *d, const struct made *m)
{
	char path[200];
	if (m->agent[0]) {
		snprintf(path, sizeof path, "/containers/%s?force=1&v=1", m->agent);
		dk_do(d, "DELETE", path, NULL, NULL);
	}
	if (m->sidecar[0]) {
		snprintf(path, sizeof path, "/containers/%s/stop?t=2", m->sidecar); /* SIGTERM: daemons flush their logs */
		dk_do(d, "POST", path, NULL, NULL);
		snprintf(path, sizeof path, "/containers/%s?force=1&v=1", m->sidecar);
		dk_do(d, "DELETE", path, NULL, NULL);
	}
	if (m->net_int[0]) {
		snprintf(path, sizeof path, "/networks/%s", m->net_int);
		dk_do(d, "DELETE", path, NULL, NULL);
	}
	if (m->image[0]) {
		snprintf(path, sizeof path, "/images/%s", m->image);
		dk_do(d, "DELETE", path, NULL, NULL);
	}
}

/* The test hook: fail at step n (BB_RT_FAULT). */
#define FAULT(n)                                                                         \
	do {                                                                             \
		if (c->fault == (n)) {                                                   \
			bb_errf(e, BB_ELIB, "docker: injected fault at step %d", (n));  \
			goto out;                                                        \
		}                                                                        \
	} while (0)

int docker_run(const struct rt_config *c, int *exit_code, struct bb_err *e)
{
	static const char *const sidecar_caps[] = { "SETUID", "SETGID", "SETPCAP", "KILL", "NET_BIND_SERVICE", "CHOWN",
						    "DAC_OVERRIDE", "FOWNER", NULL };
	static const char *const agent_caps[] = { "SETUID", "SETGID", "SETPCAP", "KILL", "CHOWN", "DAC_OVERRIDE",
						  "FOWNER", NULL };
	struct dk_client d;
	struct made m = { 0 };
	struct buf early = BUF_INIT(1u << 20), bundle = BUF_INIT(RT_CA_BUNDLE_MAX);
	char slug[64], pid[16], path[PATH_MAX + 64], ip[32], gateway[32], rundir[PATH_MAX + 16], slog[PATH_MAX + 16], uid[16],
		gid[16], image_ref[96] = "";
	char *sargv[] = { "/bb", "init", "--sidecar", "--log", slog, NULL };
	char **aargv = NULL;
	cJSON *body = NULL, *host, *mounts, *env;
	const char *base;
	int rc = -1, sock = -1, n, seccomp_fd = -1;
	long long mem;
	long pids;

	base = strrchr(c->state_dir, '/');
	snprintf(slug, sizeof slug, "%.60s", base ? base + 1 : c->state_dir);
	for (n = 0; slug[n]; n++)
		if (!((slug[n] >= 'a' && slug[n] <= 'z') || (slug[n] >= '0' && slug[n] <= '9') || slug[n] == '-'))
			slug[n] = '-'; /* names and tags take [a-z0-9-] */
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(slog, sizeof slog, "%s/init.log", c->state_dir);
	snprintf(rundir, sizeof rundir, "%s/agent-run", c->state_dir);
	if (rt_agent_limits(c, &mem, &pids, e) < 0)
		return -1;
	aargv = rt_agent_argv(c, "/bb", uid, gid, 0);
	if (!aargv)
		return bb_errno(e, ENOMEM, "docker");

	if (dk_client_init(&d, getenv("DOCKER_HOST"), e) < 0 || dk_connect(&d, e) < 0)
		goto out;
	FAULT(1);

	/* The sidecar image: this binary alone (lib/image.h), loaded under a per-bottle tag. */
	{
		char tag[96], image_id[72];
		struct stat st;
		struct dk_reply r;
		int img = memfd_create("bb-sidecar.tar", MFD_CLOEXEC);
		snprintf(tag, sizeof tag, "%s-p%s", slug, pid);
		if (img < 0) {
			bb_errno(e, errno, "docker: memfd for the sidecar image");
			goto out;
		}
		if (img_sidecar_archive(c->bb_path, img, tag, image_id, e) < 0) {
			close(img);
			goto out;
		}
		if (fstat(img, &st) < 0 || lseek(img, 0, SEEK_SET) < 0) {
			bb_errno(e, errno, "docker: the sidecar image");
			close(img);
			goto out;
		}
		snprintf(m.image, sizeof m.image, "bb-sidecar:%s", tag);
		n = dk_call(&d, "POST", "/images/load?quiet=1", "application/x-tar", NULL, (size_t)st.st_size, img, &r, e);
		close(img);
		/* The engine may answer 200 and put the failure in the progress stream. */
		if (n == 0 && r.body.p && strstr(r.body.p, "\"error")) {
			char msg[1024];
			dk_error_text(r.body.p, r.body.len, msg, sizeof msg);
			bb_errf(e, BB_ELIB, "docker: POST /images/load: %s", msg);
			n = -1;
		}
		buf_free(&r.body);
		if (n < 0)
			goto out;
		snprintf(image_ref, sizeof image_ref, "%s", image_id);
	}
	FAULT(2);

	/* The internal network: a /24 of our choosing, so the sidecar's address is known before anything runs. */
	for (n = 0; n < DK_SUBNET_TRIES; n++) {
		unsigned net = 1 + ((unsigned)getpid() + (unsigned)n) % 250;
		char js[768];
		snprintf(ip, sizeof ip, "10.231.%u.2", net);
		snprintf(gateway, sizeof gateway, "10.231.%u.1", net);
		snprintf(m.net_int, sizeof m.net_int, "bb-%s-int", slug);
		snprintf(js, sizeof js,
			 "{\"Name\":\"%s\",\"CheckDuplicate\":true,\"Driver\":\"bridge\",\"Internal\":true,"
			 "\"Labels\":{\"" DK_LABEL "\":\"%s\",\"" DK_LABEL_PID "\":\"%s\"},"
			 "\"IPAM\":{\"Driver\":\"default\",\"Config\":[{\"Subnet\":\"10.231.%u.0/24\",\"Gateway\":\"%s\"}]}}",
			 m.net_int, slug, pid, net, gateway);
		if (dk_do(&d, "POST", "/networks/create", js, e) == 0)
			break;
		m.net_int[0] = 0;
	}
	if (!m.net_int[0])
		goto out;
	FAULT(3);

	/*
	 * The sidecar: bb init --sidecar, only on the internal network (no route out). Egress and
	 * git-gate dial upstreams through the host's dialer (--dialer STATE/dial.sock in their
	 * arguments), whose socket it reaches through the state directory bound below.
	 */
	env = dk_env_for_container(c->sidecar_env, ip);
	if (!env) {
		bb_errno(e, ENOMEM, "docker: the sidecar's environment");
		goto out;
	}
	body = container_base(image_ref, sargv, env, slug, pid, sidecar_caps, &host);
	cJSON_AddStringToObject(body, "Hostname", "bb-sidecar");
	add_limits(host, RT_SIDECAR_MEMORY_DEFAULT, RT_SIDECAR_PIDS_DEFAULT);
	cJSON_AddStringToObject(body, "WorkingDir", c->state_dir);
	cJSON_AddStringToObject(host, "NetworkMode", m.net_int);
	mounts = cJSON_AddArrayToObject(host, "Mounts");
	/* Logs, the supervise queue, and plan.json, which supervise widens when the operator approves a route. */
	add_bind(mounts, c->state_dir, c->state_dir, 0);
	add_bind(mounts, c->ca_dir, c->ca_dir, 1);
	add_tmpfs(mounts, "/tmp", 64ll << 20, 01777, 0);
	if (c->hosts_path)
		add_bind(mounts, c->hosts_path, "/etc/hosts", 1);
	{
		/* Upstream trust: the system roots, or what SSL_CERT_FILE / SSL_CERT_DIR name, at the same paths. */
		const char *f = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
		struct stat st;
		if (stat("/etc/ssl/certs", &st) == 0)
			add_bind(mounts, "/etc/ssl/certs", "/etc/ssl/certs", 1);
		if (f && f[0] == '/' && stat(f, &st) == 0 && strncmp(f, "/etc/ssl/certs/", 15))
			add_bind(mounts, f, f, 1);
		if (dir && dir[0] == '/' && stat(dir, &st) == 0 && strcmp(dir, "/etc/ssl/certs"))
			add_bind(mounts, dir, dir, 1);
	}
	{
		cJSON *nc = cJSON_AddObjectToObject(body, "NetworkingConfig");
		cJSON *ep = cJSON_AddObjectToObject(cJSON_AddObjectToObject(nc, "EndpointsConfig"), m.net_int);
		cJSON_AddStringToObject(cJSON_AddObjectToObject(ep, "IPAMConfig"), "IPv4Address", ip);
	}
	snprintf(path, sizeof path, "bb-%s-sidecar", slug);
	n = create_container(&d, path, body, m.sidecar, e);
	cJSON_Delete(body);
	body = NULL;
	if (n < 0)
		goto out;
	snprintf(path, sizeof path, "/containers/%s/start", m.sidecar);
	if (dk_do(&d, "POST", path, NULL, e) < 0)
		goto out;
	FAULT(4);

	/*
	 * Ready when egress accepts on the sidecar's internal address: the host reaches it through
	 * the bridge's gateway address, which is still there (isolate_bridge takes it off next).
	 */
	{
		long long until = now_ms() + DK_READY_MS;
		while (!tcp_accepts(ip, 9099)) {
			if (now_ms() > until) {
				char tail[300];
				container_tail(&d, m.sidecar, tail, sizeof tail);
				bb_errf(e, BB_ELIB, "docker: the sidecar's egress did not listen within %d s; its last output: %s",
					DK_READY_MS / 1000, tail[0] ? tail : "(none)");
				goto out;
			}
			usleep(50000);
		}
	}
	if (isolate_bridge(gateway, e) < 0)
		goto out;
	FAULT(5);

	/* The agent's /run/bb: CA bundle and a resolv.conf naming the sidecar. */
	if (mkdir(rundir, 0755) < 0 && errno != EEXIST) {
		bb_errno(e, errno, "docker: stage %s", rundir);
		goto out;
	}
	if (rt_agent_ca_bundle(c, &bundle, e) < 0)
		goto out;
	{
		char f[PATH_MAX + 32], resolv[128];
		int rl = snprintf(resolv, sizeof resolv, "nameserver %s\noptions timeout:2 attempts:2\n", ip);
		snprintf(f, sizeof f, "%s/ca-bundle.crt", rundir);
		if (fd_write_file_atomic(f, bundle.p, bundle.len, 0644, e) < 0)
			goto out;
		snprintf(f, sizeof f, "%s/resolv.conf", rundir);
		if (fd_write_file_atomic(f, resolv, (size_t)rl, 0644, e) < 0)
			goto out;
		snprintf(f, sizeof f, "%s/bin", rundir);
		if (rt_make_bin_links(c, f) < 0) {
			bb_errno(e, errno, "docker: link the agent program in %s", f);
			goto out;
		}
		snprintf(f, sizeof f, "%s/empty", rundir);
		if (mkdir(f, 0555) < 0 && errno != EEXIST) {
			bb_errno(e, errno, "docker: stage %s", f);
			goto out;
		}
		/* HOME (/tmp/home): the caller's directory, else an empty one the agent owns. */
		snprintf(f, sizeof f, "%s/home", rundir);
		if (!c->home_dir && ((mkdir(f, 0700) < 0 && errno != EEXIST) || chown(f, c->uid, c->gid) < 0)) {
			bb_errno(e, errno, "docker: stage %s", f);
			goto out;
		}
	}
	chmod(c->state_dir, 0711); /* the engine's runtime must reach the bind sources under it */

	/* The agent: the host's directories read-only, its workspace read-write, only the internal network. */
	env = dk_env_for_container(c->agent_env, ip);
	if (!env) {
		bb_errno(e, ENOMEM, "docker: the agent's environment");
		goto out;
	}
	body = container_base(image_ref, aargv, env, slug, pid, agent_caps, &host);
	cJSON_AddStringToObject(body, "Hostname", "bb-agent");
	if (add_seccomp(&d, host, &seccomp_fd, e) < 0)
		goto out;
	add_userns(&d, host, (unsigned)c->uid, (unsigned)c->gid);
	add_limits(host, mem == 0 ? RT_AGENT_MEMORY_DEFAULT : mem, pids == 0 ? RT_AGENT_PIDS_DEFAULT : pids);
	cJSON_AddStringToObject(body, "WorkingDir", c->workspace);
	cJSON_AddBoolToObject(body, "AttachStdin", 1);
	cJSON_AddBoolToObject(body, "AttachStdout", 1);
	cJSON_AddBoolToObject(body, "AttachStderr", 1);
	cJSON_AddBoolToObject(body, "OpenStdin", 1);
	cJSON_AddBoolToObject(body, "StdinOnce", 1);
	cJSON_AddBoolToObject(body, "Tty", 0);
	cJSON_AddStringToObject(host, "NetworkMode", m.net_int);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(host, "Sysctls"), "net.ipv6.conf.all.disable_ipv6", "1");
	mounts = cJSON_AddArrayToObject(host, "Mounts");
	if (c->rootfs) {
		/*
		 * The engine binds its own /etc/hosts, hostname, resolv.conf (and podman passwd, group) over files that must
		 * exist: the image's /etc is bound read-only, so they are made (empty) in the imported root
		 * first, beneath it without following a link.
		 */
		static const char *const mp[] = { "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/passwd", "etc/group" };
		int rfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		for (n = 0; rfd >= 0 && n < (int)(sizeof mp / sizeof *mp); n++) {
			struct bb_err e2 = { 0 };
			int f = fd_open_beneath(rfd, mp[n], O_WRONLY | O_CREAT | O_NOCTTY | O_NONBLOCK, 0644, &e2);
			fd_close(f);
		}
		fd_close(rfd);
	}
	{
		struct dk_walk w = { mounts, c->rootfs };
		if (rootfs_walk(c->rootfs ? c->rootfs : "/", c->rootfs ? ROOTFS_AGENT_IMAGE : ROOTFS_AGENT_HOST, docker_entry,
				&w) < 0) {
			bb_errno(e, errno, "docker: the agent's root %s", c->rootfs ? c->rootfs : "/");
			goto out;
		}
	}
	{
		/*
		 * Scratch space of its own. Podman fills a tmpfs with what lies
		 * beneath it ("tmpcopyup": here the host's /var/tmp) unless told
		 * not to, and Docker refuses that option, so it is added for podman.
		 */
		const char *nocopy = d.podman ? ",notmpcopyup" : "", *hidden;
		cJSON *t = cJSON_AddObjectToObject(host, "Tmpfs");
		snprintf(path, sizeof path, "rw,nosuid,nodev,size=512m,mode=1777%s", nocopy);
		cJSON_AddStringToObject(t, "/tmp", path);
		cJSON_AddStringToObject(t, "/var/tmp", path);
		snprintf(path, sizeof path, "rw,nosuid,nodev,size=16m,mode=755%s", nocopy);
		cJSON_AddStringToObject(t, "/run", path);
		snprintf(path, sizeof path, "rw,nosuid,nodev,noexec,size=64k,mode=755%s", nocopy);
		for (n = 0; (hidden = rootfs_hidden(c->rootfs ? ROOTFS_AGENT_IMAGE : ROOTFS_AGENT_HOST, (size_t)n)) != NULL;
		     n++) {
			char at[64];
			snprintf(at, sizeof at, "/%s", hidden);
			cJSON_AddStringToObject(t, at, path);
		}
	}
	add_bind(mounts, rundir, "/run/bb", 1);
	snprintf(path, sizeof path, "%s/resolv.conf", rundir);
	add_bind(mounts, path, "/etc/resolv.conf", 1);
	add_bind(mounts, c->workspace, c->workspace, 0);
	if (c->home_dir) {
		add_bind(mounts, c->home_dir, "/tmp/home", 0);
	} else {
		snprintf(path, sizeof path, "%s/home", rundir);
		add_bind(mounts, path, "/tmp/home", 0);
	}
	/*
	 * The bottle's state (plan, logs) and the CA key live under the host's
	 * read-only view: an empty directory is bound over each (a tmpfs would
	 * be filled with them by podman's tmpcopyup).
	 */
	snprintf(path, sizeof path, "%s/empty", rundir);
	add_bind(mounts, path, c->state_dir, 1);
	add_bind(mounts, path, c->ca_dir, 1);
	{
		/* What the agent program needs of a hidden place (an npm prefix in a home): just that, read-only. */
		const char *const *rp;
		for (rp = c->ro_paths; rp && *rp; rp++)
			if (rt_path_hidden(c, *rp))
				add_bind(mounts, *rp, *rp, 1);
	}
	snprintf(path, sizeof path, "bb-%s-agent", slug);
	n = create_container(&d, path, body, m.agent, e);
	cJSON_Delete(body);
	body = NULL;
	if (n < 0)
		goto out;
	FAULT(6);

	sock = attach_open(&d, m.agent, &early, e);
	if (sock < 0)
		goto out;
	snprintf(path, sizeof path, "/containers/%s/start", m.agent);
	if (dk_do(&d, "POST", path, NULL, e) < 0)
		goto out;
	if (c->agent_pid) {
		/* bb bottle stop signals this pid: the agent's init, as the host sees it (the engine is local). */
		cJSON *ins;
		const cJSON *p;
		snprintf(path, sizeof path, "/containers/%s/json", m.agent);
		ins = dk_get_json(&d, "GET", path, NULL, e);
		if (!ins)
			goto out;
		p = cJSON_GetObjectItem(cJSON_GetObjectItem(ins, "State"), "Pid");
		if (cJSON_IsNumber(p) && p->valuedouble > 1)
			*c->agent_pid = (pid_t)p->valuedouble;
		cJSON_Delete(ins);
	}
	{
		/* A closed stdout on the host (| head) must not kill bb before it tears down. */
		struct sigaction ign = { .sa_handler = SIG_IGN }, old;
		sigaction(SIGPIPE, &ign, &old);
		n = attach_pump(sock, &early, e);
		sigaction(SIGPIPE, &old, NULL);
	}
	if (c->agent_pid)
		*c->agent_pid = 0;
	if (n < 0)
		goto out;
	{
		cJSON *w;
		const cJSON *code;
		snprintf(path, sizeof path, "/containers/%s/wait", m.agent);
		w = dk_get_json(&d, "POST", path, NULL, e);
		if (!w)
			goto out;
		code = cJSON_GetObjectItem(w, "StatusCode");
		if (!cJSON_IsNumber(code)) {
			cJSON_Delete(w);
			bb_errf(e, BB_ELIB, "docker: POST %s: no StatusCode in the reply", path);
			goto out;
		}
		*exit_code = (int)code->valuedouble;
		cJSON_Delete(w);
	}
	rc = 0;
out:
	if (sock >= 0)
		close(sock);
	fd_close(seccomp_fd);
	cJSON_Delete(body);
	undo(&d, &m);
	buf_free(&early);
	buf_free(&bundle);
	free(aargv);
	return rc;
}

/* ---------- cleanup ---------- */

/* Whether the object's labels say it belongs to a run whose host process is gone (or all). */
static int orphaned(const cJSON *labels, int all)
{
	const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(labels, DK_LABEL_PID));
	long v;
	char *end;
	if (!cJSON_GetObjectItem(labels, DK_LABEL))
		return 0;
	if (all)
		return 1;
	if (!p)
		return 1;
	v = strtol(p, &end, 10);
	if (*end || v <= 0)
		return 1;
	return kill((pid_t)v, 0) < 0 && errno == ESRCH;
}

int docker_cleanup(int all, int *removed, struct bb_err *e)
{
	struct dk_client d;
	cJSON *list, *it;
	char path[256];
	*removed = 0;
	if (dk_client_init(&d, getenv("DOCKER_HOST"), e) < 0)
		return -1;
	if (dk_connect(&d, e) < 0) {
		if (e->code != ENOENT && e->code != ECONNREFUSED)
			return -1;
		bb_err_clear(e); /* no engine here: nothing of ours can be on it */
		return 0;
	}
	/* filters={"label":["bb.bottle"]}, URL-encoded */
	list = dk_get_json(&d, "GET", "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22" DK_LABEL "%22%5D%7D", NULL, e);
	if (!list)
		return -1;
	cJSON_ArrayForEach(it, list)
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(it, "Id"));
		if (id && strlen(id) < 80 && orphaned(cJSON_GetObjectItem(it, "Labels"), all)) {
			snprintf(path, sizeof path, "/containers/%s?force=1&v=1", id);
			if (dk_do(&d, "DELETE", path, NULL, e) == 0)
				(*removed)++;
		}
	}
	cJSON_Delete(list);
	list = dk_get_json(&d, "GET", "/networks?filters=%7B%22label%22%3A%5B%22" DK_LABEL "%22%5D%7D", NULL, e);
	if (!list)
		return -1;
	cJSON_ArrayForEach(it, list)
	{
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(it, "Name"));
		if (name && strlen(name) < 120 && orphaned(cJSON_GetObjectItem(it, "Labels"), all)) {
			snprintf(path, sizeof path, "/networks/%s", name);
			if (dk_do(&d, "DELETE", path, NULL, e) == 0)
				(*removed)++;
		}
	}
	cJSON_Delete(list);
	/* Images carry no labels: their tag is bb-sidecar:SLUG-pPID. */
	list = dk_get_json(&d, "GET", "/images/json", NULL, e);
	if (!list)
		return -1;
	cJSON_ArrayForEach(it, list)
	{
		const cJSON *tag;
		cJSON_ArrayForEach(tag, cJSON_GetObjectItem(it, "RepoTags"))
		{
			const char *t = cJSON_GetStringValue(tag), *colon, *dash;
			long v;
			char *end;
			if (!t || strlen(t) > 200 || !(colon = strstr(t, "bb-sidecar:")) || !(dash = strstr(colon, "-p")))
				continue;
			while (strstr(dash + 2, "-p"))
				dash = strstr(dash + 2, "-p");
			v = strtol(dash + 2, &end, 10);
			if (all || *end || v <= 0 || (kill((pid_t)v, 0) < 0 && errno == ESRCH)) {
				snprintf(path, sizeof path, "/images/%s", t);
				if (dk_do(&d, "DELETE", path, NULL, e) == 0)
					(*removed)++;
			}
		}
	}
	cJSON_Delete(list);
	bb_err_clear(e);
	return 0;
}

/* ---------- the backend table's entry (host/backend.h) ---------- */

static int docker_backend_run(struct bk_run *r, int *exit_code, struct bb_err *e)
{
	return docker_run(r->c, exit_code, e);
}

static void docker_inspect(const struct bk_bottle *b, bk_line_fn line, void *arg)
{
	char text[300];
	if (!b->running)
		return;
	snprintf(text, sizeof text, "bb-%s-sidecar, bb-%s-agent (label " DK_LABEL "=%s)", b->slug, b->slug, b->slug);
	line(arg, "containers", text);
}

static int docker_backend_cleanup(bk_line_fn line, void *arg, struct bb_err *e)
{
	int removed = 0;
	char text[120];
	if (docker_cleanup(0, &removed, e) < 0)
		return -1;
	if (removed > 0) {
		snprintf(text, sizeof text, "%d docker object(s) of bottles whose host process is gone", removed);
		line(arg, "removed", text);
	}
	return removed;
}

const struct backend backend_docker = {
	.name = "docker",
	.isolates = "Docker or Podman (the Engine API socket): containers, an internal network",
	.flags = BK_ROOT,
	.run = docker_backend_run,
	.inspect = docker_inspect,
	.cleanup = docker_backend_cleanup,
};
