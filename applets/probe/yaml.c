/* yaml.c - `bb probe yaml FILE`: parse a Markdown file's YAML frontmatter and print it as JSON. */
#include <string.h>

#include "applet.h"
#include "err.h"
#include "fd.h"
#include "log.h"
#include "opt.h"
#include "probe.h"
#include "yml.h"

#define MANIFEST_MAX (1024 * 1024)

static const char usage[] =
	"usage: bb probe yaml FILE\n"
	"Parses the YAML frontmatter of a Markdown file (between the first two '---'\n"
	"lines) and prints it as one line of JSON, then the body's size in bytes.";

int probe_yaml(int argc, char **argv)
{
	struct buf text = BUF_INIT(MANIFEST_MAX), out = BUF_INIT(16 * 1024 * 1024);
	struct bb_err e = { 0 };
	struct ydoc doc;
	struct sv yaml, body;
	struct opt o;
	unsigned line;
	int c, rc = BB_EXIT_FAIL;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)", usage, &rc)) != -1)
		if (c == APPLET_OPT_EXIT)
			return rc;
	if (argc - o.ind != 1) {
		err_printf("expected one FILE\n%s", usage);
		return BB_EXIT_USAGE;
	}
	if (fd_read_file(argv[o.ind], MANIFEST_MAX, &text, &e) < 0) {
		err_printf("%s", e.msg);
		buf_free(&text);
		return e.code == BB_ETOOBIG || e.code == BB_EINVAL ? BB_EXIT_FAIL : BB_EXIT_SYSTEM;
	}
	if (yml_split_frontmatter(text.p, text.len, &yaml, &body, &line, &e) < 0) {
		err_printf("%s: %s", argv[o.ind], e.msg);
		goto done;
	}
	if (yml_parse(argv[o.ind], yaml.p, yaml.len, line, &doc, &e) < 0) {
		err_printf("%s", e.msg);
		goto done;
	}
	if (yml_to_json(doc.root, &out, &e) < 0) {
		err_printf("%s: %s", argv[o.ind], e.msg);
	} else {
		out_printf("%s\nbody: %zu bytes\n", out.p, body.len);
		rc = BB_EXIT_OK;
	}
	yml_free(&doc);
done:
	buf_free(&out);
	buf_free(&text);
	return rc;
}
