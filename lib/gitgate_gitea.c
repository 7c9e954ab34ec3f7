/* gitgate_gitea.c - the gitea key provider: an ECDSA P-256 deploy key made here, added to and revoked from a repo via the Gitea API. */
#include "gitgate_gitea.h"

#include <bearssl.h>
#include <cjson/cJSON.h>
#include <sodium/crypto_sign_ed25519.h>
#include <sys/random.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "b64.h"
#include "buf.h"
#include "fd.h"
#include "http1.h"
#include "json.h"

#define RESPONSE_MAX (1024 * 1024)

static void put_string(unsigned char *out, size_t *off, const void *p, size_t n)
{
	out[(*off)++] = (unsigned char)(n >> 24);
	out[(*off)++] = (unsigned char)(n >> 16);
	out[(*off)++] = (unsigned char)(n >> 8);
	out[(*off)++] = (unsigned char)n;
	memcpy(out + *off, p, n);
	*off += n;
}

int gitgate_keygen_p256(struct gitgate_keypair *kp, const char *comment, struct bb_err *e)
{
	br_hmac_drbg_context rng;
	br_prng_seeder seeder = br_prng_seeder_system(NULL);
	br_ec_private_key sk;
	br_ec_public_key pk;
	unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pbuf[BR_EC_KBUF_PUB_MAX_SIZE], der[256], blob[128];
	const br_ec_impl *ec = br_ec_get_default();
	size_t dlen, off = 0, n;
	int rc = -1;

	memset(kp, 0, sizeof *kp);
	br_hmac_drbg_init(&rng, &br_sha256_vtable, NULL, 0);
	if (!seeder || !seeder(&rng.vtable))
		return bb_errf(e, BB_ELIB, "no system random source to make a key");
	if (br_ec_keygen(&rng.vtable, ec, &sk, kbuf, BR_EC_secp256r1) == 0 || br_ec_compute_pub(ec, &pk, pbuf, &sk) != 65) {
		bb_errf(e, BB_ELIB, "ECDSA P-256 key generation failed");
		goto out;
	}
	dlen = br_encode_ec_raw_der(der, &sk, &pk);
	if (dlen == 0 || dlen > sizeof der) {
		bb_errf(e, BB_ELIB, "encoding the private key failed");
		goto out;
	}
	n = br_pem_encode(NULL, der, dlen, "EC PRIVATE KEY", BR_PEM_LINE64);
	if (n + 1 > sizeof kp->priv_pem) {
		bb_errf(e, BB_ETOOBIG, "private key PEM too long");
		goto out;
	}
	kp->priv_len = br_pem_encode(kp->priv_pem, der, dlen, "EC PRIVATE KEY", BR_PEM_LINE64);
	/* The SSH public blob (RFC 5656 3.1): type, curve name, the uncompressed point. */
	put_string(blob, &off, "ecdsa-sha2-nistp256", 19);
	put_string(blob, &off, "nistp256", 8);
	put_string(blob, &off, pk.q, pk.qlen);
	memcpy(kp->pub_line, "ecdsa-sha2-nistp256 ", 20);
	if (b64_encode(blob, off, B64_PAD, kp->pub_line + 20, sizeof kp->pub_line - 20, &n, e) < 0)
		goto out;
	if (comment && *comment)
		snprintf(kp->pub_line + 20 + n, sizeof kp->pub_line - 20 - n, " %s", comment);
	rc = 0;
out:
	/* The secret scalar does not outlive this call anywhere but in the PEM. */
	memset(kbuf, 0, sizeof kbuf);
	memset(der, 0, sizeof der);
	memset(&rng, 0, sizeof rng);
	if (rc < 0)
		memset(kp, 0, sizeof *kp);
	return rc;
}

static void put_u32(unsigned char *out, size_t *off, uint32_t v)
{
	out[(*off)++] = (unsigned char)(v >> 24);
	out[(*off)++] = (unsigned char)(v >> 16);
	out[(*off)++] = (unsigned char)(v >> 8);
	out[(*off)++] = (unsigned char)v;
}

int gitgate_keygen_ed25519(struct gitgate_keypair *kp, const char *comment, struct bb_err *e)
{
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n", end[] = "-----END OPENSSH PRIVATE KEY-----\n";
	unsigned char seed[32], pk[32], sk[64], pubblob[64], priv[512], file[768];
	char b64[1100];
	size_t publen = 0, privlen = 0, flen = 0, clen = comment ? strlen(comment) : 0, blen = 0, i, n;
	uint32_t check;
	int rc = -1;

	memset(kp, 0, sizeof *kp);
	if (clen > 128)
		return bb_errf(e, BB_ETOOBIG, "key comment too long");
	if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed || getrandom(&check, sizeof check, 0) != (ssize_t)sizeof check)
		return bb_errno(e, errno, "no system random source to make a key");
	if (crypto_sign_ed25519_seed_keypair(pk, sk, seed) != 0) {
		bb_errf(e, BB_ELIB, "Ed25519 key generation failed");
		goto out;
	}
	/* The public blob (RFC 8709 4): type, the 32-byte key. */
	put_string(pubblob, &publen, "ssh-ed25519", 11);
	put_string(pubblob, &publen, pk, sizeof pk);
	/* OpenSSH's key format (PROTOCOL.key), unencrypted: the private section is two equal check words, the key
	 * (type, public, seed||public), the comment, padded 1, 2, 3... to the cipher block size (8 for "none"). */
	put_u32(priv, &privlen, check);
	put_u32(priv, &privlen, check);
	put_string(priv, &privlen, "ssh-ed25519", 11);
	put_string(priv, &privlen, pk, sizeof pk);
	put_string(priv, &privlen, sk, sizeof sk);
	put_string(priv, &privlen, comment ? comment : "", clen);
	for (i = 1; privlen % 8; i++)
		priv[privlen++] = (unsigned char)i;
	memcpy(file, "openssh-key-v1", 15); /* with its NUL */
	flen = 15;
	put_string(file, &flen, "none", 4);
	put_string(file, &flen, "none", 4);
	put_string(file, &flen, "", 0);
	put_u32(file, &flen, 1);
	put_string(file, &flen, pubblob, publen);
	put_string(file, &flen, priv, privlen);
	if (b64_encode(file, flen, B64_PAD, b64, sizeof b64, &blen, e) < 0)
		goto out;
	/* PEM-style armour, 70 characters a line as ssh-keygen writes it. */
	if (sizeof begin - 1 + blen + blen / 70 + 1 + sizeof end > sizeof kp->priv_pem) {
		bb_errf(e, BB_ETOOBIG, "private key too long");
		goto out;
	}
	memcpy(kp->priv_pem, begin, sizeof begin - 1);
	kp->priv_len = sizeof begin - 1;
	for (i = 0; i < blen; i += n) {
		n = blen - i < 70 ? blen - i : 70;
		memcpy(kp->priv_pem + kp->priv_len, b64 + i, n);
		kp->priv_len += n;
		kp->priv_pem[kp->priv_len++] = '\n';
	}
	memcpy(kp->priv_pem + kp->priv_len, end, sizeof end - 1);
	kp->priv_len += sizeof end - 1;
	memcpy(kp->pub_line, "ssh-ed25519 ", 12);
	if (b64_encode(pubblob, publen, B64_PAD, kp->pub_line + 12, sizeof kp->pub_line - 12, &n, e) < 0)
		goto out;
	if (clen)
		snprintf(kp->pub_line + 12 + n, sizeof kp->pub_line - 12 - n, " %s", comment);
	rc = 0;
out:
	explicit_bzero(seed, sizeof seed);
	explicit_bzero(sk, sizeof sk);
	explicit_bzero(priv, sizeof priv);
	explicit_bzero(file, sizeof file);
	explicit_bzero(b64, sizeof b64);
	if (rc < 0)
		explicit_bzero(kp, sizeof *kp);
	return rc;
}

int gitgate_keypair_write(const struct gitgate_keypair *kp, const char *path, struct bb_err *e)
{
	char pub[4096], line[GITGATE_KEY_PUB_MAX + 2];
	int n;

	if (fd_write_file_atomic(path, kp->priv_pem, kp->priv_len, 0600, e) < 0)
		return -1;
	n = snprintf(pub, sizeof pub, "%s.pub", path);
	if (n < 0 || (size_t)n >= sizeof pub)
		return bb_errf(e, BB_ETOOBIG, "key path too long");
	n = snprintf(line, sizeof line, "%s\n", kp->pub_line);
	return fd_write_file_atomic(pub, line, (size_t)n, 0644, e);
}

int gitgate_gitea_repo(const char *path, char *owner, size_t ocap, char *repo, size_t rcap, struct bb_err *e)
{
	struct sv p = sv_from(path), o, r;

	while (p.len && p.p[0] == '/')
		p = sv_of(p.p + 1, p.len - 1);
	while (p.len && p.p[p.len - 1] == '/')
		p.len--;
	if (!sv_split(p, '/', &o, &r) || o.len == 0 || r.len == 0 || sv_index(r, '/') >= 0)
		return bb_errf(e, BB_EINVAL, "'%s' is not OWNER/REPO (a Gitea repository path)", path);
	if (sv_ends_with(r, SV_LIT(".git")))
		r.len -= 4;
	if (r.len == 0 || sv_copy(o, owner, ocap) < 0 || sv_copy(r, repo, rcap) < 0)
		return bb_errf(e, BB_EINVAL, "'%s': bad owner or repository name", path);
	return 0;
}

/* One request, one response (Connection: close). status and body out. */
struct api_url {
	int tls;
	char host[256];
	char port[8];
	char prefix[512];
};

static int parse_api_url(const char *url, struct api_url *u, struct bb_err *e)
{
	const char *rest, *slash;
	struct http1_authority a;
	size_t hl;

	memset(u, 0, sizeof *u);
	if (!strncmp(url, "https://", 8)) {
		u->tls = 1;
		rest = url + 8;
	} else if (!strncmp(url, "http://", 7)) {
		rest = url + 7;
	} else {
		return bb_errf(e, BB_EINVAL, "api_url %s is not http(s)://", url);
	}
	slash = strchr(rest, '/');
	hl = slash ? (size_t)(slash - rest) : strlen(rest);
	if (http1_authority_parse(sv_of(rest, hl), 0, &a) < 0 || a.host.len >= sizeof u->host)
		return bb_errf(e, BB_EINVAL, "api_url %s: bad host", url);
	memcpy(u->host, a.host.p, a.host.len);
	u->host[a.host.len] = 0;
	if (a.ip == 6 && a.host.len >= 2) {
		memmove(u->host, u->host + 1, a.host.len - 2);
		u->host[a.host.len - 2] = 0;
	}
	snprintf(u->port, sizeof u->port, "%u", a.port ? a.port : (u->tls ? 443 : 80));
	snprintf(u->prefix, sizeof u->prefix, "%s", slash ? slash : "");
	hl = strlen(u->prefix);
	while (hl && u->prefix[hl - 1] == '/')
		u->prefix[--hl] = 0;
	return 0;
}

static int dial_api(const struct api_url *u, int timeout_ms, struct bb_err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int fd = -1, rc, err = ECONNREFUSED;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc != 0)
		return bb_errf(e, BB_EINVAL, "cannot resolve %s: %s", u->host, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return bb_errno(e, err, "connecting to %s:%s", u->host, u->port);
	return fd;
}

static int api_call(const struct gitgate_gitea *g, const char *method, const char *path, const char *body,
		    int *status, struct buf *resp_body, struct bb_err *e)
{
	struct api_url u;
	struct tls_client *tc = NULL;
	struct buf req = BUF_INIT(64 * 1024), resp = BUF_INIT(RESPONSE_MAX);
	struct http1_response hr;
	struct http1_error herr;
	int fd = -1, rc = -1, to = g->timeout_ms > 0 ? g->timeout_ms : 30000;
	long hl;

	if (parse_api_url(g->api_url, &u, e) < 0)
		return -1;
	if (!g->token || !*g->token)
		return bb_errf(e, BB_EINVAL, "no Gitea API token");
	if (buf_printf(&req, e,
		       "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bb\r\nAccept: application/json\r\n"
		       "Connection: close\r\nContent-Length: %zu\r\n%s",
		       method, u.prefix, path, u.host, body ? strlen(body) : 0,
		       body ? "Content-Type: application/json\r\n" : "") < 0 ||
	    buf_append_str(&req, "Authorization: token ", e) < 0 || buf_append_str(&req, g->token, e) < 0 ||
	    buf_append_str(&req, "\r\n\r\n", e) < 0 || (body && buf_append_str(&req, body, e) < 0))
		goto out;
	fd = dial_api(&u, to, e);
	if (fd < 0)
		goto out;
	if (u.tls) {
		tc = calloc(1, sizeof *tc);
		if (!tc) {
			bb_errno(e, ENOMEM, "TLS client");
			goto out;
		}
		if (!g->trust) {
			bb_errf(e, BB_EINVAL, "https api_url without trust anchors");
			goto out;
		}
		if (tls_client_connect(tc, fd, u.host, g->trust, e) < 0 || tls_client_write_all(tc, req.p, req.len, e) < 0)
			goto out;
	} else if (fd_write_all(fd, req.p, req.len) < 0) {
		bb_errno(e, errno, "sending to %s", u.host);
		goto out;
	}
	for (;;) {
		char chunk[8192];
		ssize_t r = tc ? tls_client_read(tc, chunk, sizeof chunk, e) : read(fd, chunk, sizeof chunk);

		if (r < 0) {
			if (!tc)
				bb_errno(e, errno, "reading from %s", u.host);
			goto out;
		}
		if (r == 0)
			break;
		if (buf_append(&resp, chunk, (size_t)r, e) < 0)
			goto out;
	}
	hl = http1_response_parse(resp.p ? resp.p : "", resp.len, NULL, sv_from(method), &hr, &herr);
	if (hl <= 0) {
		bb_errf(e, BB_EINVAL, "%s: bad HTTP response (%s)", u.host, hl < 0 ? herr.reason : "incomplete");
		goto out;
	}
	*status = hr.status;
	buf_reset(resp_body);
	{
		size_t blen = resp.len - (size_t)hl;

		if (hr.body == HTTP1_BODY_LENGTH && hr.content_length < blen)
			blen = (size_t)hr.content_length;
		if (hr.chunked) {
			struct http1_chunked ch;
			size_t off = (size_t)hl;

			http1_chunked_init(&ch, 0, 0);
			while (off < resp.len && !ch.done) {
				size_t used;
				struct sv d;

				if (http1_chunked_feed(&ch, resp.p + off, resp.len - off, &used, &d, &herr) < 0) {
					bb_errf(e, BB_EINVAL, "%s: bad chunked body", u.host);
					goto out;
				}
				if (d.len && buf_append(resp_body, d.p, d.len, e) < 0)
					goto out;
				off += used;
			}
		} else if (blen && buf_append(resp_body, resp.p + hl, blen, e) < 0) {
			goto out;
		}
	}
	rc = 0;
out:
	if (tc) {
		tls_client_close(tc, NULL);
		free(tc);
	}
	if (fd >= 0)
		close(fd);
	/* The request held the token. */
	if (req.p)
		memset(req.p, 0, req.cap);
	buf_free(&req);
	buf_free(&resp);
	return rc;
}

/* The forge's own words ({"message": ...}) for an error, else the body's start. */
static void forge_message(const struct buf *b, char *out, size_t cap)
{
	cJSON *doc = b->len ? cJSON_ParseWithLength(b->p, b->len) : NULL;
	const cJSON *m = doc ? cJSON_GetObjectItemCaseSensitive(doc, "message") : NULL;

	if (cJSON_IsString(m))
		snprintf(out, cap, "%s", m->valuestring);
	else
		snprintf(out, cap, "%.*s", (int)(b->len > 200 ? 200 : b->len), b->p ? b->p : "");
	cJSON_Delete(doc);
}

int gitgate_gitea_add_key(const struct gitgate_gitea *g, const char *owner, const char *repo, const char *title,
			  const char *pub_line, long long *id, struct bb_err *e)
{
	struct buf body = BUF_INIT(RESPONSE_MAX);
	char path[600];
	cJSON *req = cJSON_CreateObject(), *doc = NULL;
	const cJSON *jid;
	char *json = NULL;
	int status = 0, rc = -1;

	*id = 0;
	snprintf(path, sizeof path, "/api/v1/repos/%s/%s/keys", owner, repo);
	if (!req || !cJSON_AddStringToObject(req, "title", title) || !cJSON_AddStringToObject(req, "key", pub_line) ||
	    !cJSON_AddFalseToObject(req, "read_only") || !(json = cJSON_PrintUnformatted(req))) {
		bb_errno(e, ENOMEM, "deploy key request");
		goto out;
	}
	if (api_call(g, "POST", path, json, &status, &body, e) < 0) {
		bb_err_wrap(e, "adding a deploy key to %s/%s", owner, repo);
		goto out;
	}
	if (status != 201 && status != 200) {
		char msg[256];

		forge_message(&body, msg, sizeof msg);
		bb_errf(e, BB_EINVAL, "adding a deploy key to %s/%s: the forge answered %d: %s", owner, repo, status, msg);
		goto out;
	}
	doc = body.len ? cJSON_ParseWithLength(body.p, body.len) : NULL;
	jid = doc ? cJSON_GetObjectItemCaseSensitive(doc, "id") : NULL;
	if (!cJSON_IsNumber(jid) || jid->valuedouble < 1) {
		bb_errf(e, BB_EINVAL, "adding a deploy key to %s/%s: the forge's answer has no key id", owner, repo);
		goto out;
	}
	*id = (long long)jid->valuedouble;
	rc = 0;
out:
	cJSON_Delete(doc);
	cJSON_Delete(req);
	free(json);
	buf_free(&body);
	return rc;
}

int gitgate_gitea_delete_key(const struct gitgate_gitea *g, const char *owner, const char *repo, long long id,
			     struct bb_err *e)
{
	struct buf body = BUF_INIT(RESPONSE_MAX);
	char path[600];
	int status = 0, rc = -1;

	snprintf(path, sizeof path, "/api/v1/repos/%s/%s/keys/%lld", owner, repo, id);
	if (api_call(g, "DELETE", path, NULL, &status, &body, e) < 0) {
		bb_err_wrap(e, "revoking deploy key %lld of %s/%s", id, owner, repo);
		goto out;
	}
	if (status != 204 && status != 200 && status != 404) {
		char msg[256];

		forge_message(&body, msg, sizeof msg);
		bb_errf(e, BB_EINVAL, "revoking deploy key %lld of %s/%s: the forge answered %d: %s", id, owner, repo, status,
			msg);
		goto out;
	}
	rc = 0;
out:
	buf_free(&body);
	return rc;
}
