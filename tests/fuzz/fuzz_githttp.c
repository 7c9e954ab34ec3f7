/* fuzz_githttp.c - fuzzer for git-http's request side: the plan's git_gate part (gitgate_policy_parse), smart-HTTP routes, and gitgate_serve_http answering a request over a socketpair. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "gitgate.h"
#include "gitgate_http.h"
#include "gitgate_policy.h"
#include "http1.h"

static const char plan[] = "{\"schema\":\"bb.plan/1\",\"git_gate\":{\"repos\":[{\"name\":\"app\",\"url\":"
			   "\"ssh://git@gitea.test:2222/org/app.git\",\"key\":{\"provider\":\"static\",\"path\":\"k\"}},"
			   "{\"name\":\"lib.x\",\"url\":\"ssh://git@gitea.test/org/lib.git\"}]}}";

/* Route a request line's method and target; a routed path names a repo the way the policy looks it up. */
static void route(const struct gitgate_policy *pol, const char *s, size_t n)
{
	static struct http1_request req;
	struct http1_error herr;
	struct gitgate_http_route r;
	const char *why = NULL;
	int st;

	if (http1_request_parse(s, n, NULL, &req, &herr) <= 0)
		return;
	st = gitgate_http_route(req.method, req.path, req.query, &r, &why);
	if (st) {
		CHECK(why != NULL && (st == 403 || st == 404 || st == 405));
		return;
	}
	CHECK(r.repo_path.p == req.path.p && r.repo_path.len < req.path.len);
	CHECK(r.kind == GITGATE_HTTP_RPC ? sv_eq_str(req.method, "POST") :
					   sv_eq_str(req.method, "GET") || sv_eq_str(req.method, "HEAD"));
	(void)gitgate_policy_find(pol, r.repo_path);
}

/* The whole request through the server, with no repos: it must answer (404 at best) and not hang or crash. */
static void serve(const char *s, size_t n)
{
	static const struct gitgate_policy none = { NULL, 0 };
	struct gitgate_server srv = { .policy = &none, .mirrors_dir = "/nonexistent", .timeout_ms = 1000,
				      .max_pack_bytes = 1 << 20, .agent = "bb/fuzz", .peer = "fuzz" };
	struct bb_err e;
	char resp[512];
	int sv[2];
	ssize_t got;

	if (n > 60000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	if (write(sv[0], s, n) != (ssize_t)n)
		abort();
	shutdown(sv[0], SHUT_WR);
	if (gitgate_serve_http(&srv, sv[1], 1 << 20, &e) < 0)
		CHECK(e.msg[0] != 0);
	shutdown(sv[1], SHUT_WR);
	got = read(sv[0], resp, sizeof resp - 1);
	/* either nothing (the client sent nothing) or a status line */
	if (got > 0)
		CHECK(got >= 12 && !memcmp(resp, "HTTP/1.1 ", 9) && resp[9] >= '1' && resp[9] <= '5');
	close(sv[0]);
	close(sv[1]);
}

/* Input: [plan JSON "\n--\n"] HTTP request. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *sep = size >= 4 ? memmem(s, size, "\n--\n", 4) : NULL;
	const char *req = sep ? sep + 4 : s;
	size_t rn = size - (size_t)(req - s), i;
	struct gitgate_policy pol;
	struct bb_err e;

	memset(&pol, 0, sizeof pol);
	if (gitgate_policy_parse(sep ? s : plan, sep ? (size_t)(sep - s) : sizeof plan - 1, "/nonexistent-bb-fuzz",
				 "/nonexistent-bb-fuzz", &pol, &e) == 0) {
		CHECK(pol.nrepos <= GITGATE_REPOS_MAX);
		for (i = 0; i < pol.nrepos; i++) {
			CHECK(pol.repos[i].name[0] && !memcmp(pol.repos[i].url, "ssh://", 6));
			CHECK(gitgate_policy_find(&pol, sv_from(pol.repos[i].name)) != NULL);
		}
		route(&pol, req, rn);
		gitgate_policy_free(&pol);
	} else {
		CHECK(e.msg[0] != 0);
	}
	serve(req, rn);
	return 0;
}
