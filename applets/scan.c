/* scan.c - `bb scan`: the scanning engine on files, directories or stdin; exit 1 on findings. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applet.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "opt.h"
#include "scan.h"
#include "secrets.h"

BB_APPLET(scan, "scan files or stdin for secrets and prompt injection")

static const char usage[] =
	"usage: bb scan [OPTIONS] PATH...|-\n"
	"Scans files (directories recursively, skipping .git) or stdin with the engine\n"
	"egress and git-gate use. Prints each finding as PATH:LINE: RULE: EXCERPT, or\n"
	"PATH:LINE: RULE (in ENCODING): EXCERPT for one found decoded (the secret itself\n"
	"is never printed). Exit 1 on findings, or when encodings nest deeper than the\n"
	"scanner decodes (it says so), 0 on none.\n"
	"  -r, --rules FILE     add rules and allowlists from a YAML file (docs/scanning.md)\n"
	"  -k, --known VAR      treat the value of environment variable VAR as a known secret\n"
	"                       (also finds its base64, hex and percent-encoded forms)\n"
	"  -i, --injection      also look for prompt-injection patterns\n"
	"  -n, --no-rules       skip the credential rules (known secrets / injection only)\n"
	"  -D, --no-decode      do not look inside percent-escapes, base64 and hex runs,\n"
	"                       and tokens split across two lines (on by default)\n"
	"  -o, --only ID        run only this rule (repeatable)\n"
	"  -l, --list-rules     print the rules (id and description) and exit\n"
	"  -j, --json           one JSON document with every finding\n"
	"  -q, --quiet          print nothing, only the exit status";

struct run {
	struct scan_stream *st;
	const char *path;
	int json, quiet;
	cJSON *arr;
	size_t findings, files, incomplete;
	uint64_t bytes;
};

static const char *kind_name(enum scan_kind k)
{
	return k == SCAN_KIND_KNOWN ? "known" : k == SCAN_KIND_INJECTION ? "injection" : "rule";
}

static int on_finding(const struct scan_finding *f, void *arg)
{
	struct run *r = arg;

	r->findings++;
	if (r->quiet)
		return 0;
	if (r->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "path", r->path);
		cJSON_AddNumberToObject(o, "line", f->line);
		cJSON_AddNumberToObject(o, "offset", (double)f->offset);
		cJSON_AddNumberToObject(o, "length", (double)f->length);
		cJSON_AddStringToObject(o, "kind", kind_name(f->kind));
		cJSON_AddStringToObject(o, "id", f->id);
		cJSON_AddStringToObject(o, "description", f->description);
		if (f->decoded)
			cJSON_AddStringToObject(o, "decoded", f->decoded);
		if (f->kind == SCAN_KIND_INJECTION)
			cJSON_AddNumberToObject(o, "score", f->score);
		cJSON_AddStringToObject(o, "excerpt", f->excerpt);
		cJSON_AddItemToArray(r->arr, o);
	} else {
		out_printf("%s:%u: %s%s%s%s: %s\n", r->path, f->line, f->id, f->decoded ? " (in " : "",
			   f->decoded ? f->decoded : "", f->decoded ? ")" : "", f->excerpt);
	}
	return 0;
}

/* Scan one open fd; 0, or an exit code on a read error. */
static int scan_fd(struct run *r, int fd)
{
	char buf[65536];

	scan_stream_reset(r->st);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_printf("%s: %s", r->path, strerror(errno));
			return BB_EXIT_SYSTEM;
		}
		if (n == 0)
			break;
		r->bytes += (uint64_t)n;
		scan_feed(r->st, buf, (size_t)n, on_finding, r);
	}
	scan_end(r->st, on_finding, r);
	r->files++;
	if (scan_stream_incomplete(r->st)) {
		/* What could not be read is not called clean. */
		err_printf("%s: not scanned whole: %s", r->path, scan_stream_incomplete(r->st));
		r->incomplete++;
	}
	return 0;
}

static int scan_path(struct run *r, const struct scan_engine *eng, const char *path, int depth)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0) {
		err_printf("%s: %s", path, strerror(errno));
		return BB_EXIT_SYSTEM;
	}
	if (S_ISLNK(st.st_mode))
		return 0; /* never follow links out of the tree being scanned */
	if (scan_path_allowed(eng, path, strlen(path)))
		return 0;
	if (S_ISDIR(st.st_mode)) {
		DIR *d;
		struct dirent *de;
		char sub[PATH_MAX];
		int worst = 0;

		if (depth > 64) {
			err_printf("%s: directories nested too deep", path);
			return BB_EXIT_SYSTEM;
		}
		if (!(d = opendir(path))) {
			err_printf("%s: %s", path, strerror(errno));
			return BB_EXIT_SYSTEM;
		}
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".git"))
				continue;
			if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) >= sizeof sub)
				continue;
			rc = scan_path(r, eng, sub, depth + 1);
			if (rc > worst)
				worst = rc;
		}
		closedir(d);
		return worst;
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err_printf("%s: %s", path, strerror(errno));
		return BB_EXIT_SYSTEM;
	}
	r->path = path;
	rc = scan_fd(r, fd);
	close(fd);
	return rc;
}

int scan_main(int argc, char **argv)
{
	struct scan_engine *eng = NULL;
	struct bb_err e = { 0 };
	struct run r;
	struct opt o;
	const char *rules = NULL, *known[32], *only[256];
	int nonly = 0, list = 0;
	unsigned detectors = SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS | SCAN_DECODE;
	int c, rc, i, nknown = 0, worst = 0;

	memset(&r, 0, sizeof r);
	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)r:(rules)k:(known)i(injection)n(no-rules)D(no-decode)o:(only)l(list-rules)j(json)q(quiet)", usage,
			       &rc)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return rc;
		case 'r':
			rules = o.arg;
			break;
		case 'k':
			if (nknown == 32)
				return applet_usage_error(usage, "at most 32 --known variables");
			known[nknown++] = o.arg;
			break;
		case 'i':
			detectors |= SCAN_INJECTION;
			break;
		case 'n':
			detectors &= ~(unsigned)SCAN_TOKEN_PATTERNS;
			break;
		case 'D':
			detectors &= ~(unsigned)SCAN_DECODE;
			break;
		case 'o':
			if (nonly == 256)
				return applet_usage_error(usage, "at most 256 --only rules");
			only[nonly++] = o.arg;
			break;
		case 'l':
			list = 1;
			break;
		case 'j':
			r.json = 1;
			break;
		case 'q':
			r.quiet = 1;
			break;
		}
	}
	if (o.ind == argc && !list)
		return applet_usage_error(usage, "no PATH given (use - for stdin)");
	if (scan_engine_new(&eng, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	if ((rules && scan_engine_load_rules(eng, rules, &e) < 0) ||
	    (nonly && scan_engine_select(eng, only, (size_t)nonly, &e) < 0)) {
		err_printf("%s", e.msg);
		scan_engine_free(eng);
		return BB_EXIT_USAGE;
	}
	if (list) {
		struct scan_rule_info ri;
		cJSON *arr = r.json ? cJSON_CreateArray() : NULL;
		size_t k;

		for (k = 0; scan_engine_rule_info(eng, k, &ri) == 0; k++) {
			if (!arr) {
				out_printf("%-40s %s%s\n", ri.id, ri.injection ? "[injection] " : "", ri.description);
				continue;
			}
			cJSON *jo = cJSON_CreateObject();

			cJSON_AddStringToObject(jo, "id", ri.id);
			cJSON_AddStringToObject(jo, "kind", ri.injection ? "injection" : "rule");
			cJSON_AddStringToObject(jo, "description", ri.description);
			cJSON_AddStringToObject(jo, "regex", ri.regex);
			cJSON_AddStringToObject(jo, "keywords", ri.keywords);
			cJSON_AddNumberToObject(jo, "entropy", ri.entropy);
			if (ri.injection)
				cJSON_AddNumberToObject(jo, "score", ri.score);
			/* how the rule is searched (docs/scanning.md): null when not proved / unbounded */
			if (ri.keyword_bound == SIZE_MAX)
				cJSON_AddNullToObject(jo, "keyword_bound");
			else
				cJSON_AddNumberToObject(jo, "keyword_bound", (double)ri.keyword_bound);
			if (ri.max_length == SIZE_MAX)
				cJSON_AddNullToObject(jo, "max_length");
			else
				cJSON_AddNumberToObject(jo, "max_length", (double)ri.max_length);
			cJSON_AddItemToArray(arr, jo);
		}
		if (arr) {
			struct buf out = BUF_INIT(16u << 20);

			/* out_write, not out_printf: a document can pass the 64 KiB line cap of printf output. */
			if (json_print(arr, &out, NULL) == 0 && buf_append_byte(&out, '\n', NULL) == 0)
				out_write(1, out.p, out.len);
			buf_free(&out);
			cJSON_Delete(arr);
		}
		scan_engine_free(eng);
		return BB_EXIT_OK;
	}
	for (i = 0; i < nknown; i++) {
		const char *v = getenv(known[i]);

		if (!v) {
			err_printf("--known %s: the variable is not set", known[i]);
			scan_engine_free(eng);
			return BB_EXIT_USAGE;
		}
		if (secrets_add(known[i], v, strlen(v), SECRET_DLP, &e) < 0) {
			err_printf("--known %s: %s", known[i], e.msg);
			scan_engine_free(eng);
			return BB_EXIT_USAGE;
		}
	}
	if (scan_engine_use_secrets(eng, &e) < 0 || scan_engine_finish(eng, &e) < 0 ||
	    scan_stream_new(&r.st, eng, detectors, &e) < 0) {
		err_printf("%s", e.msg);
		scan_engine_free(eng);
		return BB_EXIT_SYSTEM;
	}
	if (r.json)
		r.arr = cJSON_CreateArray();
	for (i = o.ind; i < argc; i++) {
		if (!strcmp(argv[i], "-")) {
			r.path = "-";
			rc = scan_fd(&r, 0);
		} else {
			rc = scan_path(&r, eng, argv[i], 0);
		}
		if (rc > worst)
			worst = rc;
	}
	if (r.json) {
		struct buf out = BUF_INIT(256u << 20);
		cJSON *doc = cJSON_CreateObject();

		cJSON_AddItemToObject(doc, "findings", r.arr);
		cJSON_AddNumberToObject(doc, "files", (double)r.files);
		cJSON_AddNumberToObject(doc, "bytes", (double)r.bytes);
		cJSON_AddNumberToObject(doc, "rules", (double)scan_engine_rule_count(eng));
		if (json_print(doc, &out, NULL) == 0 && buf_append_byte(&out, '\n', NULL) == 0) {
			out_write(1, out.p, out.len);
		} else {
			err_printf("the JSON report did not fit in %u MiB", 256u);
			worst = BB_EXIT_SYSTEM;
		}
		buf_free(&out);
		cJSON_Delete(doc);
	}
	scan_stream_free(r.st);
	scan_engine_free(eng);
	if (worst)
		return worst;
	return r.findings || r.incomplete ? BB_EXIT_FAIL : BB_EXIT_OK;
}
