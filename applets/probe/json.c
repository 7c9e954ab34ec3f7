/* json.c - `bb probe json [FILE|-]`: parse a JSON document with cJSON and print it back compact. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

#include "applet.h"
#include "err.h"
#include "fd.h"
#include "json.h"
#include "log.h"
#include "opt.h"
#include "probe.h"

#define JSON_INPUT_MAX (16 * 1024 * 1024)

static const char usage[] =
	"usage: bb probe json [FILE|-]\n"
	"Parses one JSON document (stdin by default) and prints it back compact:\n"
	"a round trip through the cJSON linked into this binary.";

int probe_json(int argc, char **argv)
{
	struct buf in = BUF_INIT(JSON_INPUT_MAX), out = BUF_INIT(2 * JSON_INPUT_MAX);
	struct bb_err e = { 0 };
	const char *path = "-";
	struct opt o;
	cJSON *doc;
	int c, rc;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)", usage, &rc)) != -1)
		if (c == APPLET_OPT_EXIT)
			return rc;
	if (argc - o.ind > 1) {
		err_printf("expected at most one FILE\n%s", usage);
		return BB_EXIT_USAGE;
	}
	if (argc - o.ind == 1)
		path = argv[o.ind];
	rc = strcmp(path, "-") == 0 ? fd_read_all(0, &in, &e) : fd_read_file(path, JSON_INPUT_MAX, &in, &e);
	if (rc < 0) {
		err_printf("%s", e.msg);
		buf_free(&in);
		return e.code == BB_ETOOBIG ? BB_EXIT_FAIL : BB_EXIT_SYSTEM;
	}
	doc = json_parse(strcmp(path, "-") == 0 ? "stdin" : path, in.p ? in.p : "", in.len, &e);
	buf_free(&in);
	if (!doc) {
		err_printf("%s", e.msg);
		return BB_EXIT_FAIL;
	}
	rc = json_print(doc, &out, &e);
	cJSON_Delete(doc);
	if (rc < 0) {
		err_printf("%s", e.msg);
		buf_free(&out);
		return BB_EXIT_FAIL;
	}
	out_printf("%s\n", out.p);
	buf_free(&out);
	return BB_EXIT_OK;
}
