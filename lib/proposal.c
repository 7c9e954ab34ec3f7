/* proposal.c - the supervise queue directory: proposal files, request checks, decisions and egress route merges. */
#include "proposal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"
#include "http1.h"
#include "json.h"
#include "netaddr.h"
#include "planfile.h"
#include "route.h"
#include "utf8.h"

#define REASON_MAX 2000
#define QUESTION_MAX 4000
#define PATH_ENTRY_MAX 512
#define LIST_MAX 32
#define METHOD_MAX 16
#define LIST_FILES_MAX 10000

static const char *const tools[] = { PROPOSAL_TOOL_EGRESS, PROPOSAL_TOOL_CRED, PROPOSAL_TOOL_DLP,
				     PROPOSAL_TOOL_CAPABILITY, PROPOSAL_TOOL_QUESTION };

int proposal_id_valid(const char *s, size_t n)
{
	size_t i;
	if (!s || n == 0 || n >= PROPOSAL_ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
		if (!ok)
			return 0;
	}
	return 1;
}

int proposal_id_new(char out[PROPOSAL_ID_MAX], struct bb_err *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[12];
	size_t i;
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return bb_errno(e, errno, "getrandom");
	for (i = 0; i < sizeof r; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[2 * sizeof r] = 0;
	return 0;
}

int proposal_tool_known(const char *tool)
{
	size_t i;
	for (i = 0; tool && i < sizeof tools / sizeof tools[0]; i++)
		if (!strcmp(tool, tools[i]))
			return 1;
	return 0;
}

void proposal_timestamp(time_t t, char *out, size_t cap)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, cap, "1970-01-01T00:00:00Z");
}

/* ---- checking what the agent asked ---------------------------------------------------------- */

/* Refuse members the tool does not know: a typo must not silently ask for less. */
static int only_keys(const cJSON *args, const char *const *keys, struct bb_err *e)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, args)
	{
		size_t k;
		for (k = 0; keys[k] && strcmp(keys[k], it->string); k++)
			;
		if (!keys[k]) {
			char known[200] = "";
			size_t used = 0;
			for (k = 0; keys[k]; k++)
				used += (size_t)snprintf(known + used, used < sizeof known ? sizeof known - used : 0, "%s%s",
							 k ? ", " : "", keys[k]);
			return bb_errf(e, BB_EINVAL, "unknown argument '%.60s' (known: %s)", it->string, known);
		}
	}
	return 0;
}

/*
 * Text the operator will read in a terminal: nothing that drives it or
 * changes what a line seems to say (lib/utf8: C0 and C1 controls, bidi
 * controls, invisible and format characters); tabs and newlines allowed
 * when multiline. Invalid UTF-8 is refused too.
 */
static int text_ok(const char *s, int multiline)
{
	return utf8_text_safe(s, strlen(s), multiline);
}

static int blank(const char *s)
{
	for (; *s; s++)
		if (!strchr(" \t\r\n", *s))
			return 0;
	return 1;
}

/* A string argument: required or not, at most max bytes; *out NULL when absent. */
static int get_text(const cJSON *args, const char *key, int required, size_t max, int multiline, const char **out,
		    struct bb_err *e)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(args, key);
	*out = NULL;
	if (!j || cJSON_IsNull(j)) {
		if (required)
			return bb_errf(e, BB_EINVAL, "%s is required", key);
		return 0;
	}
	if (!cJSON_IsString(j))
		return bb_errf(e, BB_EINVAL, "%s must be a string", key);
	if (strlen(j->valuestring) > max)
		return bb_errf(e, BB_EINVAL, "%s is longer than %zu bytes", key, max);
	if (!text_ok(j->valuestring, multiline))
		return bb_errf(e, BB_EINVAL, "%s holds control characters", key);
	if (required && blank(j->valuestring))
		return bb_errf(e, BB_EINVAL, "%s must not be empty", key);
	*out = j->valuestring;
	return 0;
}

/* host: a DNS name egress could route (no IP literal, no port), lower-cased into out. */
static int get_host(const cJSON *args, char *out, size_t cap, struct bb_err *e)
{
	const char *h;
	size_t n, i;
	if (get_text(args, "host", 1, 253, 0, &h, e) < 0)
		return -1;
	n = strlen(h);
	if (!http1_host_valid(sv_of(h, n)) || n >= cap)
		return bb_errf(e, BB_EINVAL, "host: '%.80s' is not a DNS name like api.example.com (no scheme, port or path)",
			       h);
	if (netaddr_host_is_ip(h, n))
		return bb_errf(e, BB_EINVAL, "host: '%.80s' is an IP address; egress routes only name hosts", h);
	if (!strchr(h, '.'))
		return bb_errf(e, BB_EINVAL, "host: '%.80s' is not a fully qualified name like api.example.com", h);
	for (i = 0; i < n; i++)
		out[i] = (char)(h[i] >= 'A' && h[i] <= 'Z' ? h[i] - 'A' + 'a' : h[i]);
	out[n] = 0;
	return 0;
}

static int in_array(const cJSON *a, const char *s)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, a)
	if (cJSON_IsString(it) && !strcmp(it->valuestring, s))
		return 1;
	return 0;
}

/* methods: HTTP method tokens, upper-cased, deduplicated; absent = any method. */
static int get_methods(const cJSON *args, cJSON *req, struct bb_err *e)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(args, "methods"), *it;
	cJSON *out = cJSON_AddArrayToObject(req, "methods");
	if (!out)
		return bb_errf(e, ENOMEM, "out of memory");
	if (!j || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) > LIST_MAX)
		return bb_errf(e, BB_EINVAL, "methods must be a list of at most %d method names", LIST_MAX);
	cJSON_ArrayForEach(it, j)
	{
		char m[METHOD_MAX + 1];
		size_t n, i;
		if (!cJSON_IsString(it))
			return bb_errf(e, BB_EINVAL, "methods must hold only strings");
		n = strlen(it->valuestring);
		if (n == 0 || n > METHOD_MAX || !http1_is_token(sv_of(it->valuestring, n)))
			return bb_errf(e, BB_EINVAL, "methods: '%.40s' is not an HTTP method", it->valuestring);
		for (i = 0; i < n; i++) {
			char c = it->valuestring[i];
			m[i] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
		}
		m[n] = 0;
		if (!in_array(out, m) && !cJSON_AddItemToArray(out, cJSON_CreateString(m)))
			return bb_errf(e, ENOMEM, "out of memory");
	}
	return 0;
}

/* paths: origin-form prefixes ("/v1/repos/"), no query, no dot segments; absent = every path. */
static int path_ok(const char *p)
{
	const char *s;
	if (p[0] != '/')
		return 0;
	for (s = p; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '?' || *s == '#' || *s == '\\')
			return 0;
	for (s = p; (s = strchr(s, '/')); s++) {
		if (s[1] == '.' && (s[2] == '/' || !s[2]))
			return 0;
		if (s[1] == '.' && s[2] == '.' && (s[3] == '/' || !s[3]))
			return 0;
	}
	return 1;
}

static int get_paths(const cJSON *args, cJSON *req, struct bb_err *e)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(args, "paths"), *it;
	cJSON *out = cJSON_AddArrayToObject(req, "paths");
	if (!out)
		return bb_errf(e, ENOMEM, "out of memory");
	if (!j || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) > LIST_MAX)
		return bb_errf(e, BB_EINVAL, "paths must be a list of at most %d path prefixes", LIST_MAX);
	cJSON_ArrayForEach(it, j)
	{
		if (!cJSON_IsString(it))
			return bb_errf(e, BB_EINVAL, "paths must hold only strings");
		if (strlen(it->valuestring) > PATH_ENTRY_MAX || !path_ok(it->valuestring))
			return bb_errf(e, BB_EINVAL,
				       "paths: '%.80s' is not a path prefix like /v1/repos/ (starts with '/', no "
				       "spaces, query, fragment or dot segments)",
				       it->valuestring);
		if (!in_array(out, it->valuestring) && !cJSON_AddItemToArray(out, cJSON_CreateString(it->valuestring)))
			return bb_errf(e, ENOMEM, "out of memory");
	}
	return 0;
}

static int add_str(cJSON *o, const char *key, const char *val, struct bb_err *e)
{
	if (!cJSON_AddStringToObject(o, key, val))
		return bb_errf(e, ENOMEM, "out of memory");
	return 0;
}

static int check_egress(const cJSON *args, cJSON *req, struct bb_err *e)
{
	static const char *const keys[] = { "host", "methods", "paths", "reason", NULL };
	char host[256];
	const char *reason;
	if (only_keys(args, keys, e) < 0 || get_host(args, host, sizeof host, e) < 0 ||
	    get_text(args, "reason", 1, REASON_MAX, 1, &reason, e) < 0)
		return -1;
	if (add_str(req, "host", host, e) < 0 || get_methods(args, req, e) < 0 || get_paths(args, req, e) < 0)
		return -1;
	return add_str(req, "reason", reason, e);
}

static int check_cred(const cJSON *args, cJSON *req, struct bb_err *e)
{
	static const char *const keys[] = { "host", "scheme", "reason", NULL };
	char host[256];
	const char *reason, *scheme;
	if (only_keys(args, keys, e) < 0 || get_host(args, host, sizeof host, e) < 0 ||
	    get_text(args, "scheme", 0, 16, 0, &scheme, e) < 0 || get_text(args, "reason", 1, REASON_MAX, 1, &reason, e) < 0)
		return -1;
	if (!scheme)
		scheme = "Bearer";
	if (strcmp(scheme, "Bearer") && strcmp(scheme, "token"))
		return bb_errf(e, BB_EINVAL, "scheme must be Bearer or token");
	if (add_str(req, "host", host, e) < 0 || add_str(req, "scheme", scheme, e) < 0)
		return -1;
	return add_str(req, "reason", reason, e);
}

static int check_dlp(const cJSON *args, cJSON *req, struct bb_err *e)
{
	static const char *const keys[] = { "host", "rule", "direction", "reason", NULL };
	char host[256];
	const char *rule, *dir, *reason;
	if (only_keys(args, keys, e) < 0 || get_host(args, host, sizeof host, e) < 0 ||
	    get_text(args, "rule", 1, 120, 0, &rule, e) < 0 || get_text(args, "direction", 0, 16, 0, &dir, e) < 0 ||
	    get_text(args, "reason", 1, REASON_MAX, 1, &reason, e) < 0)
		return -1;
	if (!dir)
		dir = "outbound";
	if (strcmp(dir, "outbound") && strcmp(dir, "inbound"))
		return bb_errf(e, BB_EINVAL, "direction must be outbound or inbound");
	if (add_str(req, "host", host, e) < 0 || add_str(req, "rule", rule, e) < 0 ||
	    add_str(req, "direction", dir, e) < 0)
		return -1;
	return add_str(req, "reason", reason, e);
}

static int check_capability(const cJSON *args, cJSON *req, struct bb_err *e)
{
	static const char *const keys[] = { "capability", "reason", NULL };
	const char *cap, *reason;
	if (only_keys(args, keys, e) < 0 || get_text(args, "capability", 1, 200, 0, &cap, e) < 0 ||
	    get_text(args, "reason", 1, REASON_MAX, 1, &reason, e) < 0)
		return -1;
	if (add_str(req, "capability", cap, e) < 0)
		return -1;
	return add_str(req, "reason", reason, e);
}

static int check_question(const cJSON *args, cJSON *req, struct bb_err *e)
{
	static const char *const keys[] = { "question", NULL };
	const char *q;
	if (only_keys(args, keys, e) < 0 || get_text(args, "question", 1, QUESTION_MAX, 1, &q, e) < 0)
		return -1;
	return add_str(req, "question", q, e);
}

int proposal_request_check(const char *tool, const cJSON *args, cJSON **out, struct bb_err *e)
{
	cJSON *req, *empty = NULL;
	int rc;
	*out = NULL;
	if (!proposal_tool_known(tool))
		return bb_errf(e, BB_EINVAL, "unknown tool '%.60s'", tool ? tool : "");
	if (args && !cJSON_IsObject(args))
		return bb_errf(e, BB_EINVAL, "arguments must be an object");
	if (!args)
		args = empty = cJSON_CreateObject(); /* absent arguments are empty ones */
	req = cJSON_CreateObject();
	if (!req || !args) {
		cJSON_Delete(req);
		cJSON_Delete(empty);
		return bb_errf(e, ENOMEM, "out of memory");
	}
	if (!strcmp(tool, PROPOSAL_TOOL_EGRESS))
		rc = check_egress(args, req, e);
	else if (!strcmp(tool, PROPOSAL_TOOL_CRED))
		rc = check_cred(args, req, e);
	else if (!strcmp(tool, PROPOSAL_TOOL_DLP))
		rc = check_dlp(args, req, e);
	else if (!strcmp(tool, PROPOSAL_TOOL_CAPABILITY))
		rc = check_capability(args, req, e);
	else
		rc = check_question(args, req, e);
	cJSON_Delete(empty);
	if (rc < 0) {
		cJSON_Delete(req);
		return -1;
	}
	*out = req;
	return 0;
}

/* ---- documents and files ---------------------------------------------------------------------- */

cJSON *proposal_create(const char *id, const char *bottle, const char *tool, const cJSON *request, time_t now,
		       struct bb_err *e)
{
	char ts[32];
	cJSON *doc = cJSON_CreateObject(), *req = cJSON_Duplicate(request, 1);
	if (!proposal_id_valid(id, strlen(id)) || !proposal_tool_known(tool)) {
		cJSON_Delete(doc);
		cJSON_Delete(req);
		bb_errf(e, BB_EINVAL, "proposal: bad id or tool");
		return NULL;
	}
	proposal_timestamp(now, ts, sizeof ts);
	if (!doc || !req || !cJSON_AddStringToObject(doc, "schema", PROPOSAL_SCHEMA) ||
	    !cJSON_AddStringToObject(doc, "id", id) || !cJSON_AddStringToObject(doc, "bottle", bottle ? bottle : "") ||
	    !cJSON_AddStringToObject(doc, "tool", tool) || !cJSON_AddStringToObject(doc, "created", ts) ||
	    !cJSON_AddStringToObject(doc, "status", "pending")) {
		cJSON_Delete(doc);
		cJSON_Delete(req);
		bb_errf(e, ENOMEM, "out of memory");
		return NULL;
	}
	cJSON_AddItemToObject(doc, "request", req);
	return doc;
}

int proposal_path(const char *dir, const char *id, char *out, size_t cap, struct bb_err *e)
{
	if (!proposal_id_valid(id, strlen(id)))
		return bb_errf(e, BB_EINVAL, "'%.70s' is not a proposal id", id);
	if ((size_t)snprintf(out, cap, "%s/%s.json", dir, id) >= cap)
		return bb_errf(e, ENAMETOOLONG, "%s: path too long", dir);
	return 0;
}

const char *proposal_get(const cJSON *doc, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, key));
	return s ? s : "";
}

/*
 * The queue directory is the sidecar's to write (the host reads and decides
 * there): it is opened without following a link at its last component, and
 * every file in it is reached through that fd, nothing followed.
 */
static int queue_open(const char *dir, struct bb_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bb_errno(e, errno == ELOOP || errno == ENOTDIR ? ELOOP : errno, "%s%s", dir,
				errno == ELOOP || errno == ENOTDIR ? " is not a directory (a link?): refused" : "");
	return fd;
}

int proposal_write(const char *dir, const cJSON *doc, struct bb_err *e)
{
	struct buf b = BUF_INIT(PROPOSAL_MAX_BYTES);
	char path[PATH_MAX], name[PROPOSAL_ID_MAX + 8];
	int rc = -1, qfd;
	if (proposal_path(dir, proposal_get(doc, "id"), path, sizeof path, e) < 0)
		return -1;
	if (json_print(doc, &b, e) < 0 || buf_append_byte(&b, '\n', e) < 0) {
		buf_free(&b);
		return bb_err_wrap(e, "%s", path);
	}
	snprintf(name, sizeof name, "%s.json", proposal_get(doc, "id"));
	if ((qfd = queue_open(dir, e)) >= 0) {
		rc = fd_write_file_at(qfd, name, b.p, b.len, 0600, (uid_t)-1, (gid_t)-1, 1, e);
		if (rc < 0)
			bb_err_wrap(e, "%s", dir);
		close(qfd);
	}
	buf_free(&b);
	return rc;
}

static int is_str(const cJSON *doc, const char *key, int required)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(doc, key);
	return j ? cJSON_IsString(j) : !required;
}

/* "2025-01-02T03:04:05Z", as proposal_timestamp writes it. */
static int timestamp_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;
	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return 0;
	return s[i] == 0;
}

/*
 * What the host reads from the queue was written by the sidecar: every
 * field is checked again as supervise checked the agent's arguments (the
 * request re-normalised by proposal_request_check, texts free of controls
 * and invisible characters), so a compromised sidecar cannot put raw bytes
 * in front of the operator. 1 when it is a document supervise could write.
 */
static int doc_valid(const cJSON *doc)
{
	const cJSON *applied = cJSON_GetObjectItemCaseSensitive(doc, "applied");
	const char *bottle = proposal_get(doc, "bottle"), *decided = proposal_get(doc, "decided_at");
	cJSON *norm = NULL;
	size_t i;

	if (proposal_request_check(proposal_get(doc, "tool"), cJSON_GetObjectItemCaseSensitive(doc, "request"), &norm,
				   NULL) < 0)
		return 0;
	cJSON_Delete(norm);
	if (!*bottle || strlen(bottle) > 128)
		return 0;
	for (i = 0; bottle[i]; i++)
		if (!((bottle[i] >= 'a' && bottle[i] <= 'z') || (bottle[i] >= '0' && bottle[i] <= '9') || bottle[i] == '-' ||
		      bottle[i] == '_' || bottle[i] == '.'))
			return 0;
	if (!timestamp_ok(proposal_get(doc, "created")) || (*decided && !timestamp_ok(decided)))
		return 0;
	if (strlen(proposal_get(doc, "note")) > PROPOSAL_NOTE_MAX || !text_ok(proposal_get(doc, "note"), 1))
		return 0;
	if (applied) {
		const char *r = proposal_get(applied, "result"), *d = proposal_get(applied, "detail");
		if ((strcmp(r, "ok") && strcmp(r, "error")) || !timestamp_ok(proposal_get(applied, "at")) ||
		    strlen(d) > 1024 || !text_ok(d, 0))
			return 0;
	}
	return 1;
}

int proposal_read(const char *dir, const char *id, cJSON **out, struct bb_err *e)
{
	struct buf b = BUF_INIT(PROPOSAL_MAX_BYTES);
	char path[PATH_MAX], name[PROPOSAL_ID_MAX + 8];
	const char *status;
	const cJSON *applied;
	cJSON *doc;
	int qfd, rc;

	*out = NULL;
	if (proposal_path(dir, id, path, sizeof path, e) < 0)
		return -1;
	snprintf(name, sizeof name, "%s.json", id);
	if ((qfd = queue_open(dir, e)) < 0)
		return -1;
	rc = fd_read_file_beneath(qfd, name, PROPOSAL_MAX_BYTES, &b, e);
	close(qfd);
	if (rc < 0) {
		buf_free(&b);
		return bb_err_wrap(e, "%s", dir);
	}
	doc = json_parse(path, b.p, b.len, e);
	buf_free(&b);
	if (!doc)
		return -1;
	status = proposal_get(doc, "status");
	applied = cJSON_GetObjectItemCaseSensitive(doc, "applied");
	if (!cJSON_IsObject(doc) || strcmp(proposal_get(doc, "schema"), PROPOSAL_SCHEMA) ||
	    strcmp(proposal_get(doc, "id"), id) || !proposal_tool_known(proposal_get(doc, "tool")) ||
	    (strcmp(status, "pending") && strcmp(status, "approved") && strcmp(status, "rejected")) ||
	    !is_str(doc, "bottle", 1) || !is_str(doc, "created", 1) || !is_str(doc, "note", 0) ||
	    !is_str(doc, "decided_at", 0) || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "request")) ||
	    (applied && !cJSON_IsObject(applied)) || !doc_valid(doc)) {
		cJSON_Delete(doc);
		return bb_errf(e, BB_EINVAL, "%s: not a %s document with this id, a known tool, a status and checked fields",
			       path, PROPOSAL_SCHEMA);
	}
	*out = doc;
	return 0;
}

/* flock on DIR/.lock; returns the fd to close, or -1. */
static int queue_lock(const char *dir, struct bb_err *e)
{
	int fd, qfd = queue_open(dir, e);
	if (qfd < 0)
		return -1;
	fd = openat(qfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	close(qfd);
	if (fd < 0)
		return bb_errno(e, errno, "%s/.lock", dir);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int err = errno;
			close(fd);
			return bb_errno(e, err, "lock %s/.lock", dir);
		}
	}
	return fd;
}

static int set_str(cJSON *doc, const char *key, const char *val, struct bb_err *e)
{
	cJSON *s = cJSON_CreateString(val);
	if (!s)
		return bb_errf(e, ENOMEM, "out of memory");
	if (cJSON_GetObjectItemCaseSensitive(doc, key))
		cJSON_ReplaceItemInObjectCaseSensitive(doc, key, s);
	else
		cJSON_AddItemToObject(doc, key, s);
	return 0;
}

static cJSON *applied_obj(int ok, const char *detail, const char *ts)
{
	cJSON *ap = cJSON_CreateObject();
	if (!ap || !cJSON_AddStringToObject(ap, "at", ts) || !cJSON_AddStringToObject(ap, "result", ok ? "ok" : "error") ||
	    !cJSON_AddStringToObject(ap, "detail", detail ? detail : "")) {
		cJSON_Delete(ap);
		return NULL;
	}
	return ap;
}

int proposal_decide(const char *dir, const char *id, const char *status, const char *note, time_t now, cJSON **out,
		    struct bb_err *e)
{
	return proposal_decide_applied(dir, id, status, note, NULL, now, out, e);
}

int proposal_decide_applied(const char *dir, const char *id, const char *status, const char *note, const char *applied,
			    time_t now, cJSON **out, struct bb_err *e)
{
	cJSON *doc = NULL;
	char ts[32];
	int lk, rc = -1;

	if (out)
		*out = NULL;
	if (strcmp(status, "approved") && strcmp(status, "rejected"))
		return bb_errf(e, BB_EINVAL, "a decision is approved or rejected, not '%.20s'", status);
	if (note && (strlen(note) > PROPOSAL_NOTE_MAX || !text_ok(note, 1)))
		return bb_errf(e, BB_EINVAL, "the note must be at most %d bytes of text without control characters",
			       PROPOSAL_NOTE_MAX);
	if (applied && (strlen(applied) > 1024 || !text_ok(applied, 0)))
		return bb_errf(e, BB_EINVAL, "what was applied must be one line of at most 1024 bytes");
	if (!proposal_id_valid(id, strlen(id)))
		return bb_errf(e, BB_EINVAL, "'%.70s' is not a proposal id", id);
	lk = queue_lock(dir, e);
	if (lk < 0)
		return -1;
	if (proposal_read(dir, id, &doc, e) < 0)
		goto out;
	if (strcmp(proposal_get(doc, "status"), "pending")) {
		bb_errf(e, BB_EINVAL, "proposal %s is already %s", id, proposal_get(doc, "status"));
		goto out;
	}
	proposal_timestamp(now, ts, sizeof ts);
	if (set_str(doc, "status", status, e) < 0 || set_str(doc, "note", note ? note : "", e) < 0 ||
	    set_str(doc, "decided_at", ts, e) < 0)
		goto out;
	if (applied) { /* what the host did, in the same write: the agent's answer says it at once */
		cJSON *ap = applied_obj(1, applied, ts);
		if (!ap) {
			bb_errf(e, ENOMEM, "out of memory");
			goto out;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "applied");
		cJSON_AddItemToObject(doc, "applied", ap);
	}
	if (proposal_write(dir, doc, e) < 0)
		goto out;
	rc = 0;
out:
	close(lk);
	if (rc == 0 && out)
		*out = doc;
	else
		cJSON_Delete(doc);
	return rc;
}

int proposal_mark_applied(const char *dir, const char *id, int ok, const char *detail, time_t now, struct bb_err *e)
{
	cJSON *doc = NULL, *ap;
	char ts[32];
	int lk, rc = -1;

	lk = queue_lock(dir, e);
	if (lk < 0)
		return -1;
	if (proposal_read(dir, id, &doc, e) < 0)
		goto out;
	proposal_timestamp(now, ts, sizeof ts);
	ap = applied_obj(ok, detail, ts);
	if (!ap) {
		bb_errf(e, ENOMEM, "out of memory");
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(doc, "applied"))
		cJSON_ReplaceItemInObjectCaseSensitive(doc, "applied", ap);
	else
		cJSON_AddItemToObject(doc, "applied", ap);
	rc = proposal_write(dir, doc, e);
out:
	close(lk);
	cJSON_Delete(doc);
	return rc;
}

static int by_created(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	int c = strcmp(proposal_get(x, "created"), proposal_get(y, "created"));
	return c ? c : strcmp(proposal_get(x, "id"), proposal_get(y, "id"));
}

int proposal_list_read(const char *dir, struct proposal_list *out, struct bb_err *e)
{
	DIR *d;
	struct dirent *de;
	size_t cap = 0;

	memset(out, 0, sizeof *out);
	{
		int qfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (qfd < 0 && errno == ENOENT)
			return 0;
		if (qfd < 0)
			return queue_open(dir, e);
		if (!(d = fdopendir(qfd))) {
			close(qfd);
			return bb_errno(e, errno, "%s", dir);
		}
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char id[PROPOSAL_ID_MAX];
		cJSON *doc;
		if (n <= 5 || strcmp(de->d_name + n - 5, ".json") || !proposal_id_valid(de->d_name, n - 5))
			continue;
		if (out->n + out->skipped >= LIST_FILES_MAX)
			break;
		memcpy(id, de->d_name, n - 5);
		id[n - 5] = 0;
		if (proposal_read(dir, id, &doc, NULL) < 0) {
			out->skipped++;
			continue;
		}
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			cJSON **nd = realloc(out->docs, nc * sizeof *nd);
			if (!nd) {
				cJSON_Delete(doc);
				closedir(d);
				proposal_list_free(out);
				return bb_errf(e, ENOMEM, "out of memory");
			}
			out->docs = nd;
			cap = nc;
		}
		out->docs[out->n++] = doc;
	}
	closedir(d);
	if (out->n)
		qsort(out->docs, out->n, sizeof *out->docs, by_created);
	return 0;
}

void proposal_list_free(struct proposal_list *l)
{
	size_t i;
	for (i = 0; i < l->n; i++)
		cJSON_Delete(l->docs[i]);
	free(l->docs);
	memset(l, 0, sizeof *l);
}

/* ---- descriptions ---------------------------------------------------------------------------- */

static void join(const cJSON *arr, const char *sep, char *out, size_t cap)
{
	const cJSON *it;
	size_t used = 0;
	out[0] = 0;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || used >= cap)
			continue;
		used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? sep : "", it->valuestring);
	}
}

void proposal_summary(const cJSON *doc, char *out, size_t cap)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(doc, "request");
	const char *tool = proposal_get(doc, "tool");
	char methods[200], paths[400];

	if (!cap)
		return;
	if (!strcmp(tool, PROPOSAL_TOOL_EGRESS)) {
		join(cJSON_GetObjectItemCaseSensitive(req, "methods"), ",", methods, sizeof methods);
		join(cJSON_GetObjectItemCaseSensitive(req, "paths"), " ", paths, sizeof paths);
		snprintf(out, cap, "%s %s %s", proposal_get(req, "host"), methods[0] ? methods : "any-method",
			 paths[0] ? paths : "any-path");
	} else if (!strcmp(tool, PROPOSAL_TOOL_CRED)) {
		snprintf(out, cap, "%s (%s)", proposal_get(req, "host"), proposal_get(req, "scheme"));
	} else if (!strcmp(tool, PROPOSAL_TOOL_DLP)) {
		snprintf(out, cap, "%s rule %s (%s)", proposal_get(req, "host"), proposal_get(req, "rule"),
			 proposal_get(req, "direction"));
	} else if (!strcmp(tool, PROPOSAL_TOOL_CAPABILITY)) {
		snprintf(out, cap, "%s", proposal_get(req, "capability"));
	} else {
		snprintf(out, cap, "%s", proposal_get(req, "question"));
	}
	for (char *p = out; *p; p++) /* one line */
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
}

/* ---- merging an approved route ----------------------------------------------------------------- */

static cJSON *str_array_dup(const cJSON *a)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *it;
	cJSON_ArrayForEach(it, a)
	if (out && cJSON_IsString(it))
		cJSON_AddItemToArray(out, cJSON_CreateString(it->valuestring));
	return out;
}

/* A `matches` entry: the asked paths as prefixes, the asked methods. */
static cJSON *match_entry(const cJSON *methods, const cJSON *paths)
{
	cJSON *m = cJSON_CreateObject(), *ps;
	const cJSON *it;
	if (!m)
		return NULL;
	if (cJSON_GetArraySize(paths)) {
		ps = cJSON_AddArrayToObject(m, "paths");
		cJSON_ArrayForEach(it, paths)
		{
			cJSON *p = cJSON_CreateObject();
			cJSON_AddStringToObject(p, "type", "prefix");
			cJSON_AddStringToObject(p, "value", it->valuestring);
			cJSON_AddItemToArray(ps, p);
		}
	}
	if (cJSON_GetArraySize(methods))
		cJSON_AddItemToObject(m, "methods", str_array_dup(methods));
	return m;
}

static int prefix_covered(const cJSON *prefixes, const char *path)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, prefixes)
	if (cJSON_IsString(it) && !strncmp(path, it->valuestring, strlen(it->valuestring)))
		return 1;
	return 0;
}

/* Does an existing `matches` entry already allow every asked method on every asked path? */
static int match_covers(const cJSON *m, const cJSON *methods, const cJSON *paths)
{
	const cJSON *mp = cJSON_GetObjectItemCaseSensitive(m, "paths");
	const cJSON *mm = cJSON_GetObjectItemCaseSensitive(m, "methods");
	const cJSON *mh = cJSON_GetObjectItemCaseSensitive(m, "headers");
	const cJSON *it;
	if (cJSON_GetArraySize(mh))
		return 0; /* a header condition the agent's request may not meet */
	if (cJSON_GetArraySize(mm)) {
		if (!cJSON_GetArraySize(methods))
			return 0;
		cJSON_ArrayForEach(it, methods)
		if (!in_array(mm, it->valuestring))
			return 0;
	}
	if (cJSON_GetArraySize(mp)) {
		if (!cJSON_GetArraySize(paths))
			return 0;
		cJSON_ArrayForEach(it, paths)
		{
			const cJSON *p;
			int ok = 0;
			cJSON_ArrayForEach(p, mp)
			{
				const char *type = proposal_get(p, "type"), *v = proposal_get(p, "value");
				if (((!type[0] || !strcmp(type, "prefix")) && !strncmp(it->valuestring, v, strlen(v))) ||
				    (!strcmp(type, "exact") && !strcmp(it->valuestring, v)))
					ok = 1;
			}
			if (!ok)
				return 0;
		}
	}
	return 1;
}

static void add_dns_allow(cJSON *plan, const char *host)
{
	cJSON *allow = planfile_json_dns_allow(plan);
	const cJSON *it;
	if (!allow)
		return;
	cJSON_ArrayForEach(it, allow)
	if (cJSON_IsString(it) && !strcasecmp(it->valuestring, host))
		return;
	cJSON_AddItemToArray(allow, cJSON_CreateString(host));
}

static cJSON *new_route(const char *host, const cJSON *methods, const cJSON *paths)
{
	cJSON *r = cJSON_CreateObject(), *dlp, *out, *in, *ms;
	if (!r)
		return NULL;
	cJSON_AddStringToObject(r, "host", host);
	cJSON_AddStringToObject(r, "origin", "supervise");
	cJSON_AddNullToObject(r, "auth");
	cJSON_AddArrayToObject(r, "path_allowlist");
	ms = cJSON_AddArrayToObject(r, "matches");
	if (ms && (cJSON_GetArraySize(methods) || cJSON_GetArraySize(paths)))
		cJSON_AddItemToArray(ms, match_entry(methods, paths));
	dlp = cJSON_AddObjectToObject(r, "dlp");
	out = cJSON_AddArrayToObject(dlp, "outbound");
	cJSON_AddItemToArray(out, cJSON_CreateString("token_patterns"));
	cJSON_AddItemToArray(out, cJSON_CreateString("known_secrets"));
	in = cJSON_AddArrayToObject(dlp, "inbound");
	cJSON_AddItemToArray(in, cJSON_CreateString("naive_injection_detection"));
	cJSON_AddFalseToObject(r, "git_fetch");
	cJSON_AddFalseToObject(r, "tls_passthrough");
	cJSON_AddArrayToObject(r, "ssrf_ip_allowlist");
	cJSON_AddArrayToObject(r, "roles");
	return r;
}

/* Widen an existing route; returns 1 when something changed. */
static int widen_route(cJSON *r, const cJSON *methods, const cJSON *paths, char *what, size_t cap)
{
	cJSON *pal = cJSON_GetObjectItemCaseSensitive(r, "path_allowlist");
	cJSON *ms = cJSON_GetObjectItemCaseSensitive(r, "matches");
	const cJSON *it;
	size_t used = 0;
	int changed = 0;

	what[0] = 0;
	if (cJSON_GetArraySize(pal)) {
		if (!cJSON_GetArraySize(paths)) {
			cJSON_ReplaceItemInObjectCaseSensitive(r, "path_allowlist", cJSON_CreateArray());
			used += (size_t)snprintf(what + used, used < cap ? cap - used : 0, "; path_allowlist cleared");
			changed = 1;
		} else {
			cJSON_ArrayForEach(it, paths)
			{
				if (prefix_covered(pal, it->valuestring))
					continue;
				cJSON_AddItemToArray(pal, cJSON_CreateString(it->valuestring));
				used += (size_t)snprintf(what + used, used < cap ? cap - used : 0, "; path_allowlist += %s",
							 it->valuestring);
				changed = 1;
			}
		}
	}
	if (cJSON_GetArraySize(ms)) {
		int covered = 0;
		cJSON_ArrayForEach(it, ms)
		if (match_covers(it, methods, paths))
			covered = 1;
		if (!covered) {
			char mtxt[200], ptxt[300];
			join(methods, ",", mtxt, sizeof mtxt);
			join(paths, " ", ptxt, sizeof ptxt);
			cJSON_AddItemToArray(ms, match_entry(methods, paths));
			used += (size_t)snprintf(what + used, used < cap ? cap - used : 0, "; matches += {methods %s; paths %s}",
						 mtxt[0] ? mtxt : "any", ptxt[0] ? ptxt : "any");
			changed = 1;
		}
	}
	return changed;
}

/* The merged plan must still be a policy egress takes. */
static int policy_checked(cJSON *plan, struct bb_err *e)
{
	struct buf b = BUF_INIT(POLICY_MAX_BYTES);
	struct route_policy *pol = NULL;
	int rc = json_print(plan, &b, e) < 0 || route_policy_parse("merged policy", b.p, b.len, &pol, e) < 0 ? -1 : 0;
	route_policy_unref(pol);
	buf_free(&b);
	return rc;
}

int proposal_route_merge(cJSON *plan, const cJSON *request, char *what_changed, size_t cap, struct bb_err *e)
{
	const char *host = proposal_get(request, "host");
	const cJSON *methods = cJSON_GetObjectItemCaseSensitive(request, "methods");
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(request, "paths");
	cJSON *routes = planfile_json_routes(plan), *r = NULL, *it;
	char detail[600];
	int changed;

	if (cap)
		what_changed[0] = 0;
	if (!host[0])
		return bb_errf(e, BB_EINVAL, "the request names no host");
	if (!routes)
		return bb_errf(e, BB_EINVAL, "the policy has no egress.routes list");
	cJSON_ArrayForEach(it, routes)
	if (!strcasecmp(proposal_get(it, "host"), host))
		r = it;
	if (!r) {
		char mtxt[200], ptxt[300];
		cJSON *nr = new_route(host, methods, paths);
		if (!nr)
			return bb_errf(e, ENOMEM, "out of memory");
		cJSON_AddItemToArray(routes, nr);
		join(methods, ",", mtxt, sizeof mtxt);
		join(paths, " ", ptxt, sizeof ptxt);
		snprintf(what_changed, cap, "added route %s (methods %s; paths %s)", host, mtxt[0] ? mtxt : "any",
			 ptxt[0] ? ptxt : "any");
		changed = 1;
	} else {
		changed = widen_route(r, methods, paths, detail, sizeof detail);
		if (changed)
			snprintf(what_changed, cap, "widened route %s%s", host, detail);
		else
			snprintf(what_changed, cap, "route %s already allows this", host);
	}
	if (!changed)
		return 0;
	add_dns_allow(plan, host);
	return policy_checked(plan, e) < 0 ? -1 : 1;
}

void proposal_cred_slot(const char *id, char *out, size_t cap)
{
	size_t i, n = strlen(PROPOSAL_CRED_SLOT_PREFIX);
	snprintf(out, cap, "%s", PROPOSAL_CRED_SLOT_PREFIX);
	for (i = 0; id[i] && n + 1 < cap; i++)
		out[n++] = id[i] >= 'a' && id[i] <= 'z' ? (char)(id[i] - 'a' + 'A') : id[i] == '-' ? '_' : id[i];
	if (cap)
		out[n < cap ? n : cap - 1] = 0;
}

static cJSON *route_of(cJSON *plan, const char *host)
{
	cJSON *it;
	cJSON_ArrayForEach(it, planfile_json_routes(plan))
	if (!strcasecmp(proposal_get(it, "host"), host))
		return it;
	return NULL;
}

/* cred-block: the route gets the credential's slot (the value reaches egress from the host, never this document). */
static int cred_merge(cJSON *plan, const cJSON *doc, char *what, size_t cap, struct bb_err *e)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(doc, "request");
	const char *host = proposal_get(req, "host"), *scheme = proposal_get(req, "scheme");
	cJSON *r = route_of(plan, host), *auth;
	char slot[PROPOSAL_ID_MAX + 32];

	proposal_cred_slot(proposal_get(doc, "id"), slot, sizeof slot);
	if (!r)
		return bb_errf(e, BB_EINVAL,
			       "no egress route for %s: a credential needs a route to go on (approve an egress-block for it first)",
			       host);
	auth = cJSON_GetObjectItemCaseSensitive(r, "auth");
	if (cJSON_IsObject(auth)) {
		if (!strcmp(proposal_get(auth, "token_slot"), slot)) {
			snprintf(what, cap, "route %s already injects this credential", host);
			return 0;
		}
		return bb_errf(e, BB_EINVAL, "route %s already injects a credential (%s): bb does not replace it", host,
			       proposal_get(auth, "scheme"));
	}
	auth = cJSON_CreateObject();
	if (!auth || !cJSON_AddStringToObject(auth, "scheme", scheme[0] ? scheme : "Bearer") ||
	    !cJSON_AddStringToObject(auth, "token_slot", slot) || !cJSON_AddStringToObject(auth, "origin", "supervise")) {
		cJSON_Delete(auth);
		return bb_errf(e, ENOMEM, "out of memory");
	}
	if (cJSON_GetObjectItemCaseSensitive(r, "auth"))
		cJSON_ReplaceItemInObjectCaseSensitive(r, "auth", auth);
	else
		cJSON_AddItemToObject(r, "auth", auth);
	snprintf(what, cap, "credential (%s) added to route %s", scheme[0] ? scheme : "Bearer", host);
	return 1;
}

/* dlp-block: the rule joins the route's allowlist for that direction, and nothing else changes. */
static int dlp_merge(cJSON *plan, const cJSON *doc, char *what, size_t cap, struct bb_err *e)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(doc, "request");
	const char *host = proposal_get(req, "host"), *rule = proposal_get(req, "rule");
	int inbound = !strcmp(proposal_get(req, "direction"), "inbound");
	const char *key = inbound ? "inbound_allow" : "outbound_allow";
	cJSON *r = route_of(plan, host), *dlp, *allow;

	if (!r)
		return bb_errf(e, BB_EINVAL, "no egress route for %s: there is no DLP finding of it to allow", host);
	dlp = cJSON_GetObjectItemCaseSensitive(r, "dlp");
	if (!dlp || cJSON_IsNull(dlp)) { /* absent means every detector (lib/route.c): say so before adding to it */
		cJSON_DeleteItemFromObjectCaseSensitive(r, "dlp");
		dlp = cJSON_AddObjectToObject(r, "dlp");
		cJSON_AddItemToObject(dlp, "outbound", cJSON_CreateStringArray((const char *[]){ "token_patterns", "known_secrets" }, 2));
		cJSON_AddItemToObject(dlp, "inbound", cJSON_CreateStringArray((const char *[]){ "naive_injection_detection" }, 1));
	}
	if (!cJSON_IsObject(dlp))
		return bb_errf(e, BB_EINVAL, "route %s: dlp is not an object", host);
	allow = cJSON_GetObjectItemCaseSensitive(dlp, key);
	if (!allow && !(allow = cJSON_AddArrayToObject(dlp, key)))
		return bb_errf(e, ENOMEM, "out of memory");
	if (!cJSON_IsArray(allow))
		return bb_errf(e, BB_EINVAL, "route %s: dlp.%s is not a list", host, key);
	if (in_array(allow, rule)) {
		snprintf(what, cap, "route %s already lets %s findings of rule %s pass", host, inbound ? "inbound" : "outbound",
			 rule);
		return 0;
	}
	if (!cJSON_AddItemToArray(allow, cJSON_CreateString(rule)))
		return bb_errf(e, ENOMEM, "out of memory");
	snprintf(what, cap, "rule %s allowed %s on route %s only", rule, inbound ? "inbound" : "outbound", host);
	return 1;
}

int proposal_policy_apply(cJSON *plan, const cJSON *doc, char *what, size_t cap, struct bb_err *e)
{
	const char *tool = proposal_get(doc, "tool");
	int rc;
	if (cap)
		what[0] = 0;
	if (!strcmp(tool, PROPOSAL_TOOL_EGRESS))
		return proposal_route_merge(plan, cJSON_GetObjectItemCaseSensitive(doc, "request"), what, cap, e);
	if (!strcmp(tool, PROPOSAL_TOOL_CRED))
		rc = cred_merge(plan, doc, what, cap, e);
	else if (!strcmp(tool, PROPOSAL_TOOL_DLP))
		rc = dlp_merge(plan, doc, what, cap, e);
	else
		return 0;
	if (rc == 1 && policy_checked(plan, e) < 0)
		return -1;
	return rc;
}

int proposal_host_dir(const char *bottle, char *out, size_t cap, struct bb_err *e)
{
	const char *home = getenv("BB_HOME");
	int n;
	if (!home || !*home)
		home = getenv("HOME");
	if (!home || !*home)
		return bb_errf(e, BB_EINVAL, "neither BB_HOME nor HOME is set");
	if (bottle) {
		size_t i, bl = strlen(bottle);
		for (i = 0; i < bl; i++)
			if (!((bottle[i] >= 'a' && bottle[i] <= 'z') || (bottle[i] >= '0' && bottle[i] <= '9') ||
			      (bottle[i] == '-' && i > 0)))
				return bb_errf(e, BB_EINVAL, "'%.70s' is not a bottle name ([a-z][a-z0-9-]*)", bottle);
		if (!bl || !(bottle[0] >= 'a' && bottle[0] <= 'z'))
			return bb_errf(e, BB_EINVAL, "'%.70s' is not a bottle name ([a-z][a-z0-9-]*)", bottle);
		n = snprintf(out, cap, "%s/.bb/state/%s/supervise", home, bottle);
	} else {
		n = snprintf(out, cap, "%s/.bb/state", home);
	}
	if (n < 0 || (size_t)n >= cap)
		return bb_errf(e, ENAMETOOLONG, "%s: path too long", home);
	return 0;
}
