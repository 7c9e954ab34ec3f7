/* test_docker.c - unit tests of host/docker: response parsing, API error text, the attach stream demuxer, DOCKER_HOST, env rewriting, calls to a fake engine. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "docker.h"
#include "fd.h"
#include "t.h"

/* Parse a literal response; status and body come back through the globals. */
static struct dk_reply rep;
static int st;
static struct buf body;
static struct bb_err err;
static int parse(const char *raw, size_t len, const char *method)
{
	int rc;
	buf_free(&rep.body);
	buf_init(&rep.body, 1u << 20);
	memset(&err, 0, sizeof err);
	rc = dk_response_parse(raw, len, method, &rep, &err);
	st = rep.status;
	body = rep.body;
	return rc;
}
#define PARSE(lit, m) parse((lit), sizeof(lit) - 1, (m))
static int body_is(const char *s)
{
	return body.len == strlen(s) && (!body.len || memcmp(body.p, s, body.len) == 0);
}

static void response_with_length(void)
{
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET") == 0);
	T_CHECK(st == 200 && body_is("hello"));
	/* bytes after the declared length are not part of the body */
	T_CHECK(PARSE("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}xx", "POST") == 0);
	T_CHECK(st == 201 && body_is("{}"));
}

static void response_engine_headers(void)
{
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nLibpod-Api-Version: 4.3.1\r\nContent-Length: 2\r\n\r\nOK",
		      "GET") == 0);
	T_STREQ(rep.api_version, "1.41");
	T_CHECK(rep.podman == 1 && body_is("OK"));
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nServer: Docker/26.1.0 (linux)\r\nContent-Length: 2\r\n\r\nOK",
		      "GET") == 0);
	T_STREQ(rep.api_version, "1.45");
	T_CHECK(rep.podman == 0);
	/* not digits and dots, or too long: not used as a path prefix */
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nApi-Version: 1.4/../x\r\nContent-Length: 0\r\n\r\n", "GET") == 0);
	T_STREQ(rep.api_version, "");
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nApi-Version: 1.111111111111111111\r\nContent-Length: 0\r\n\r\n", "GET") == 0);
	T_STREQ(rep.api_version, "");
}

static void response_chunked(void)
{
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\n\r\n", "GET") ==
		0);
	T_CHECK(st == 200 && body_is("abcdefg"));
}

static void response_until_close(void)
{
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest of it", "GET") == 0);
	T_CHECK(st == 200 && body_is("rest of it"));
}

static void response_without_body(void)
{
	T_CHECK(PARSE("HTTP/1.1 204 No Content\r\n\r\n", "POST") == 0);
	T_CHECK(st == 204 && body.len == 0);
	T_CHECK(PARSE("HTTP/1.1 304 Not Modified\r\n\r\n", "POST") == 0);
	T_CHECK(st == 304 && body.len == 0);
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD") == 0 && body.len == 0);
}

static void response_truncated_or_bad(void)
{
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "GET") < 0);
	T_CHECK(strstr(err.msg, "truncated") != NULL);
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "GET") < 0);
	T_CHECK(strstr(err.msg, "truncated") != NULL);
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "GET") < 0);
	T_CHECK(strstr(err.msg, "chunked") != NULL);
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nContent-Le", "GET") < 0);
	T_CHECK(strstr(err.msg, "before a whole response head") != NULL);
	T_CHECK(PARSE("", "GET") < 0);
	T_CHECK(PARSE("SSH-2.0-OpenSSH\r\n\r\n", "GET") < 0);
	T_CHECK(strstr(err.msg, "malformed") != NULL);
	T_CHECK(PARSE("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "GET") < 0);
}

static void error_text(void)
{
	char out[64];
	static const char docker[] = "{\"message\":\"No such container: abc\"}\n";
	static const char podman[] = "{\"cause\":\"network already exists\",\"message\":\"network name bb-x-int already used: "
				     "network already exists\",\"response\":409}";
	static const char plain[] = "page not found\n";
	static const char ctl[] = "a\tb\x01" "c";
	dk_error_text(docker, sizeof docker - 1, out, sizeof out);
	T_STREQ(out, "No such container: abc");
	dk_error_text(podman, sizeof podman - 1, out, sizeof out);
	T_STREQ(out, "network name bb-x-int already used: network already exists");
	dk_error_text(podman, sizeof podman - 1, out, 35); /* cut to fit */
	T_STREQ(out, "network name bb-x-int already used");
	dk_error_text(plain, sizeof plain - 1, out, sizeof out);
	T_STREQ(out, "page not found");
	dk_error_text(ctl, sizeof ctl - 1, out, sizeof out);
	T_STREQ(out, "a?b?c");
	dk_error_text("", 0, out, sizeof out);
	T_STREQ(out, "(no message)");
	dk_error_text("{\"message\":42}", 14, out, sizeof out); /* not a string: the body as text */
	T_STREQ(out, "{\"message\":42}");
}

/* Demultiplex in[0..len) fed in pieces of step bytes; stdout and stderr collected. */
static int demux_all(const char *in, size_t len, size_t step, char *out1, char *out2)
{
	struct dk_demux m = { 0 };
	size_t at = 0, o1 = 0, o2 = 0;
	while (at < len) {
		size_t piece = len - at < step ? len - at : step, off = 0;
		while (off < piece) {
			size_t used, n;
			int stream;
			const char *data;
			if (dk_demux_feed(&m, in + at + off, piece - off, &used, &stream, &data, &n) < 0)
				return -1;
			if (n && stream == 1)
				memcpy(out1 + o1, data, n), o1 += n;
			else if (n && stream == 2)
				memcpy(out2 + o2, data, n), o2 += n;
			off += used;
		}
		at += piece;
	}
	out1[o1] = out2[o2] = 0;
	return 0;
}

static void demux_frames(void)
{
	static const char s[] = "\x01\0\0\0\0\0\0\x06hello\n"
				"\x02\0\0\0\0\0\0\x04oops"
				"\x01\0\0\0\0\0\0\0"
				"\x01\0\0\0\0\0\0\x03" "bye";
	char o1[64], o2[64];
	size_t step;
	for (step = 1; step <= sizeof s; step++) {
		T_CHECK(demux_all(s, sizeof s - 1, step, o1, o2) == 0);
		T_STREQ(o1, "hello\nbye");
		T_STREQ(o2, "oops");
	}
}

static void demux_refuses_non_frames(void)
{
	char o1[64], o2[64];
	T_CHECK(demux_all("\x03\0\0\0\0\0\0\x01x", 9, 9, o1, o2) < 0);   /* stream 3 */
	T_CHECK(demux_all("\x01\0\x01\0\0\0\0\x01x", 9, 9, o1, o2) < 0); /* padding */
	T_CHECK(demux_all("hello, world", 12, 12, o1, o2) < 0);            /* a TTY stream */
}

static void docker_host_parsing(void)
{
	struct dk_client d;
	struct bb_err e = { 0 };
	T_CHECK(dk_client_init(&d, NULL, &e) == 0);
	T_STREQ(d.socket_path, DK_DEFAULT_SOCKET);
	T_STREQ(d.api_version, DK_API_DEFAULT);
	T_CHECK(dk_client_init(&d, "", &e) == 0);
	T_STREQ(d.socket_path, DK_DEFAULT_SOCKET);
	T_CHECK(dk_client_init(&d, "unix:///run/podman/podman.sock", &e) == 0);
	T_STREQ(d.socket_path, "/run/podman/podman.sock");
	T_CHECK(dk_client_init(&d, "tcp://127.0.0.1:2375", &e) < 0 && strstr(e.msg, "only unix"));
	T_CHECK(dk_client_init(&d, "ssh://host", &e) < 0);
	T_CHECK(dk_client_init(&d, "unix://relative.sock", &e) < 0 && strstr(e.msg, "absolute"));
	{
		char longp[200];
		memset(longp, 'a', sizeof longp);
		memcpy(longp, "unix:///", 8);
		longp[sizeof longp - 1] = 0;
		T_CHECK(dk_client_init(&d, longp, &e) < 0 && strstr(e.msg, "too long"));
	}
}

static const char *env_item(cJSON *a, int i)
{
	return cJSON_GetStringValue(cJSON_GetArrayItem(a, i));
}

static void env_rewriting(void)
{
	char *env[] = { "HTTPS_PROXY=http://" RT_SIDECAR_ADDR ":9099",
			"NO_PROXY=localhost," RT_SIDECAR_ADDR "," RT_SIDECAR_ADDR "0",
			"BB_EGRESS_ARGS=--policy /s/plan.json --listen 0.0.0.0:9099 --dialer /s/dial.sock --ca /c --log /s/e.log",
			"BB_GIT_GATE_ARGS=--policy /p --dialer /s/dial.sock",
			"BB_DNS_ARGS=--answer " RT_SIDECAR_ADDR,
			NULL };
	cJSON *a = dk_env_for_container(env, "10.231.7.2");
	T_CHECK(a && cJSON_GetArraySize(a) == 5);
	T_STREQ(env_item(a, 0), "HTTPS_PROXY=http://10.231.7.2:9099");
	T_STREQ(env_item(a, 1), "NO_PROXY=localhost,10.231.7.2," RT_SIDECAR_ADDR "0");
	/* The sidecar dials through the host's dialer here too: --dialer stays. */
	T_STREQ(env_item(a, 2), "BB_EGRESS_ARGS=--policy /s/plan.json --listen 0.0.0.0:9099 --dialer /s/dial.sock --ca /c --log /s/e.log");
	T_STREQ(env_item(a, 3), "BB_GIT_GATE_ARGS=--policy /p --dialer /s/dial.sock");
	T_STREQ(env_item(a, 4), "BB_DNS_ARGS=--answer 10.231.7.2");
	cJSON_Delete(a);
	a = dk_env_for_container(NULL, "x");
	T_CHECK(a && cJSON_GetArraySize(a) == 0);
	cJSON_Delete(a);
}

/*
 * A fake engine: answers each connection on path with the next canned
 * response and records the request heads, one per line, into log.
 */
static pid_t fake_engine(const char *path, const char *log, const char *const *answers)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;
	if (strlen(path) >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 8) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		FILE *f = fopen(log, "w");
		for (; *answers; answers++) {
			char req[8192];
			size_t have = 0;
			int c = accept(l, NULL, NULL);
			if (c < 0)
				_exit(1);
			while (have < sizeof req - 1) {
				ssize_t n = read(c, req + have, sizeof req - 1 - have);
				if (n <= 0)
					break;
				have += (size_t)n;
				req[have] = 0;
				if (strstr(req, "\r\n\r\n")) {
					const char *cl = strstr(req, "Content-Length: ");
					size_t want = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
					if (have - (size_t)(strstr(req, "\r\n\r\n") + 4 - req) >= want)
						break;
				}
			}
			req[have] = 0;
			*strchr(req, '\r') = 0; /* the request line */
			fprintf(f, "%s|%s\n", req, strstr(req + strlen(req) + 1, "Connection: close") ? "close" : "");
			fflush(f);
			(void)!write(c, *answers, strlen(*answers));
			close(c);
		}
		_exit(0);
	}
	close(l);
	return pid;
}

static void calls_to_a_fake_engine(void)
{
	char dir[] = "/tmp/bb-test-docker.XXXXXX", sock[128], log[128], host[160];
	static const char *const answers[] = {
		"HTTP/1.1 200 OK\r\nApi-Version: 1.40\r\nLibpod-Api-Version: 4.3.1\r\nContent-Length: 2\r\n\r\nOK",
		"HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
		"25\r\n{\"message\":\"name bb-x-int is in use\"}\r\n0\r\n\r\n",
		"HTTP/1.1 201 Created\r\nContent-Length: 12\r\n\r\n{\"Id\":\"ab\"}\n",
		"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 50\r\n\r\n{\"message\":\"cut short",
		NULL
	};
	struct dk_client d;
	struct dk_reply r;
	struct bb_err e = { 0 };
	struct buf lb = BUF_INIT(1u << 16);
	pid_t pid;
	int wst;
	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof sock, "%s/engine.sock", dir);
	snprintf(log, sizeof log, "%s/requests", dir);
	pid = fake_engine(sock, log, answers);
	T_CHECK(pid > 0);
	snprintf(host, sizeof host, "unix://%s", sock);
	T_CHECK(dk_client_init(&d, host, &e) == 0);
	T_CHECK(dk_connect(&d, &e) == 0);
	T_STREQ(d.api_version, "1.40");
	T_CHECK(d.podman == 1);
	T_CHECK(dk_call_json(&d, "POST", "/networks/create", "{\"Name\":\"bb-x-int\"}", &r, &e) < 0);
	T_STREQ(e.msg, "docker: POST /networks/create: name bb-x-int is in use (HTTP 409)");
	T_CHECK(r.status == 409);
	buf_free(&r.body);
	T_CHECK(dk_call(&d, "POST", "/containers/create?name=x", "application/json", "{}", 2, -1, &r, &e) == 0);
	T_CHECK(r.status == 201 && r.body.len == 12);
	buf_free(&r.body);
	T_CHECK(dk_call_json(&d, "DELETE", "/containers/ab", NULL, &r, &e) < 0);
	T_CHECK(strstr(e.msg, "DELETE /containers/ab") && strstr(e.msg, "truncated"));
	buf_free(&r.body);
	waitpid(pid, &wst, 0);
	T_CHECK(fd_read_file(log, 1u << 16, &lb, &e) == 0);
	T_CHECK(lb.p && !strcmp(lb.p, "GET /v1.41/_ping HTTP/1.1|close\n"
				      "POST /v1.40/networks/create HTTP/1.1|close\n"
				      "POST /v1.40/containers/create?name=x HTTP/1.1|close\n"
				      "DELETE /v1.40/containers/ab HTTP/1.1|close\n"));
	buf_free(&lb);
	/* nobody listening: the socket is named */
	T_CHECK(dk_connect(&d, &e) < 0 && strstr(e.msg, sock));
	unlink(sock);
	unlink(log);
	rmdir(dir);
}

/* The file's whole content into b (reset first); 0 or -1. */
static int file_content(int fd, struct buf *b)
{
	struct bb_err e = { 0 };
	buf_reset(b);
	return lseek(fd, 0, SEEK_SET) < 0 ? -1 : fd_read_all(fd, b, &e);
}

/* dk_call_to_fd: an export streamed to a file whatever its framing, chunk size lines split across reads included. */
static void calls_streamed_to_a_file(void)
{
	char dir[] = "/tmp/bb-test-docker.XXXXXX", sock[128], log[128], path[160], host[160];
	static char payload[200000], chunked[260000];
	char lenans[256], closeans[256];
	const char *answers[8];
	struct dk_client d;
	struct bb_err e = { 0 };
	struct buf got = BUF_INIT(1u << 20);
	size_t i, o = 0, at = 0, step = 1;
	pid_t pid;
	int fd, wst;

	for (i = 0; i < sizeof payload; i++)
		payload[i] = (char)('a' + (i * 7) % 26);
	o = (size_t)snprintf(chunked, sizeof chunked,
			     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-tar\r\n\r\n");
	{
		/* The first chunk ends where the client's first 64 KiB read does, minus 2: the next size line is split. */
		size_t first = 65536 - 2 - o - 6 - 2;
		o += (size_t)snprintf(chunked + o, sizeof chunked - o, "%zx\r\n", first);
		memcpy(chunked + o, payload, first);
		o += first;
		memcpy(chunked + o, "\r\n", 2);
		o += 2;
		at = first;
	}
	while (at < sizeof payload) { /* chunks of 1, 4, 13 ... bytes: size lines land anywhere */
		size_t n = step < sizeof payload - at ? step : sizeof payload - at;
		o += (size_t)snprintf(chunked + o, sizeof chunked - o, "%zx\r\n", n);
		memcpy(chunked + o, payload + at, n);
		o += n;
		memcpy(chunked + o, "\r\n", 2);
		o += 2;
		at += n;
		step = step * 3 + 1;
	}
	o += (size_t)snprintf(chunked + o, sizeof chunked - o, "0\r\n\r\n");
	chunked[o] = 0;
	snprintf(lenans, sizeof lenans, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello worldEXTRA");
	snprintf(closeans, sizeof closeans, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
	answers[0] = chunked;
	answers[1] = lenans;
	answers[2] = closeans;
	answers[3] = "HTTP/1.1 404 Not Found\r\nContent-Length: 33\r\n\r\n{\"message\":\"no such image: nope\"}";
	answers[4] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"; /* cut short */
	answers[5] = chunked; /* over the cap */
	answers[6] = NULL;
	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof sock, "%s/engine.sock", dir);
	snprintf(log, sizeof log, "%s/requests", dir);
	snprintf(path, sizeof path, "%s/out", dir);
	pid = fake_engine(sock, log, answers);
	T_CHECK(pid > 0);
	snprintf(host, sizeof host, "unix://%s", sock);
	T_CHECK(dk_client_init(&d, host, &e) == 0);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	T_CHECK(fd >= 0);
	T_CHECK(dk_call_to_fd(&d, "GET", "/images/x/get", fd, 0, &e) == 0);
	T_CHECK(file_content(fd, &got) == 0 && got.len == sizeof payload && !memcmp(got.p, payload, sizeof payload));
	T_CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	T_CHECK(dk_call_to_fd(&d, "GET", "/images/x/get", fd, 0, &e) == 0);
	T_CHECK(file_content(fd, &got) == 0 && got.len == 11 && !memcmp(got.p, "hello world", 11));
	T_CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	T_CHECK(dk_call_to_fd(&d, "GET", "/images/x/get", fd, 0, &e) == 0);
	T_CHECK(file_content(fd, &got) == 0 && got.len == 13 && !memcmp(got.p, "until the end", 13));
	T_CHECK(dk_call_to_fd(&d, "GET", "/images/nope/get", fd, 0, &e) < 0);
	T_STREQ(e.msg, "docker: GET /images/nope/get: no such image: nope (HTTP 404)");
	T_CHECK(dk_call_to_fd(&d, "GET", "/images/x/get", fd, 0, &e) < 0 && strstr(e.msg, "cut short"));
	T_CHECK(dk_call_to_fd(&d, "GET", "/images/x/get", fd, 1000, &e) < 0 && strstr(e.msg, "larger than 1000 bytes"));
	waitpid(pid, &wst, 0);
	close(fd);
	buf_free(&got);
	unlink(path);
	unlink(sock);
	unlink(log);
	rmdir(dir);
}

/* docker_cleanup removes what belongs to dead host processes only, and reports how much. */
static void cleanup_removes_orphans_only(void)
{
	char dir[] = "/tmp/bb-test-docker.XXXXXX", sock[128], log[128], host[160], alive[16], dead[16];
	char list_c[512], list_n[512], list_i[512], ans_c[640], ans_n[640], ans_i[640], expect[1024];
	const char *answers[9];
	struct buf lb = BUF_INIT(1u << 16);
	struct bb_err e = { 0 };
	pid_t pid, gone;
	int wst, removed = -1;
	gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, &wst, 0); /* a pid nobody has now */
	snprintf(alive, sizeof alive, "%d", (int)getpid());
	snprintf(dead, sizeof dead, "%d", (int)gone);
	snprintf(list_c, sizeof list_c,
		 "[{\"Id\":\"aaa\",\"Labels\":{\"bb.bottle\":\"x-1\",\"bb.pid\":\"%s\"}},"
		 "{\"Id\":\"bbb\",\"Labels\":{\"bb.bottle\":\"x-2\",\"bb.pid\":\"%s\"}}]",
		 alive, dead);
	snprintf(list_n, sizeof list_n,
		 "[{\"Name\":\"bb-x-2-int\",\"Labels\":{\"bb.bottle\":\"x-2\",\"bb.pid\":\"%s\"}},"
		 "{\"Name\":\"bb-x-1-int\",\"Labels\":{\"bb.bottle\":\"x-1\",\"bb.pid\":\"%s\"}},"
		 "{\"Name\":\"other\",\"Labels\":{}}]",
		 dead, alive);
	snprintf(list_i, sizeof list_i,
		 "[{\"RepoTags\":[\"localhost/bb-sidecar:x-1-p%s\"]},{\"RepoTags\":[\"localhost/bb-sidecar:x-2-p%s\"]},"
		 "{\"RepoTags\":[\"debian:12\"]}]",
		 alive, dead);
	snprintf(ans_c, sizeof ans_c, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(list_c), list_c);
	snprintf(ans_n, sizeof ans_n, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(list_n), list_n);
	snprintf(ans_i, sizeof ans_i, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(list_i), list_i);
	answers[0] = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK";
	answers[1] = ans_c;
	answers[2] = "HTTP/1.1 204 No Content\r\n\r\n";
	answers[3] = ans_n;
	answers[4] = "HTTP/1.1 204 No Content\r\n\r\n";
	answers[5] = ans_i;
	answers[6] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]";
	answers[7] = NULL;
	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof sock, "%s/engine.sock", dir);
	snprintf(log, sizeof log, "%s/requests", dir);
	pid = fake_engine(sock, log, answers);
	T_CHECK(pid > 0);
	snprintf(host, sizeof host, "unix://%s", sock);
	setenv("DOCKER_HOST", host, 1);
	T_CHECK(docker_cleanup(0, &removed, &e) == 0);
	unsetenv("DOCKER_HOST");
	T_CHECK(removed == 3);
	waitpid(pid, &wst, 0);
	T_CHECK(fd_read_file(log, 1u << 16, &lb, &e) == 0);
	snprintf(expect, sizeof expect,
		 "GET /v1.41/_ping HTTP/1.1|close\n"
		 "GET /v1.41/containers/json?all=1&filters=%%7B%%22label%%22%%3A%%5B%%22bb.bottle%%22%%5D%%7D HTTP/1.1|close\n"
		 "DELETE /v1.41/containers/bbb?force=1&v=1 HTTP/1.1|close\n"
		 "GET /v1.41/networks?filters=%%7B%%22label%%22%%3A%%5B%%22bb.bottle%%22%%5D%%7D HTTP/1.1|close\n"
		 "DELETE /v1.41/networks/bb-x-2-int HTTP/1.1|close\n"
		 "GET /v1.41/images/json HTTP/1.1|close\n"
		 "DELETE /v1.41/images/localhost/bb-sidecar:x-2-p%s HTTP/1.1|close\n",
		 dead);
	T_STREQ(lb.p, expect);
	buf_free(&lb);
	/* no engine: nothing to remove, not an error */
	setenv("DOCKER_HOST", "unix:///nonexistent/bb-test.sock", 1);
	removed = -1;
	T_CHECK(docker_cleanup(0, &removed, &e) == 0 && removed == 0);
	unsetenv("DOCKER_HOST");
	unlink(sock);
	unlink(log);
	rmdir(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	T_RUN(response_with_length);
	T_RUN(response_engine_headers);
	T_RUN(response_chunked);
	T_RUN(response_until_close);
	T_RUN(response_without_body);
	T_RUN(response_truncated_or_bad);
	T_RUN(error_text);
	T_RUN(demux_frames);
	T_RUN(demux_refuses_non_frames);
	T_RUN(docker_host_parsing);
	T_RUN(env_rewriting);
	T_RUN(calls_to_a_fake_engine);
	T_RUN(calls_streamed_to_a_file);
	T_RUN(cleanup_removes_orphans_only);
	buf_free(&rep.body);
	T_END();
}
