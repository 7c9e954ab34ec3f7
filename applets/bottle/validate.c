/* validate.c - `bb bottle validate [NAME...] [--json]`: every manifest file, ok or its errors. */
#include <cjson/cJSON.h>
#include <string.h>

#include "applet.h"
#include "bottle.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "opt.h"

static const char usage[] =
	"usage: bb bottle validate [NAME...] [--json]\n"
	"Checks every bottle and agent manifest (or those named): prints 'ok FILE' or\n"
	"each problem as 'FILE:LINE: error: ...'. Exit 1 when any manifest is invalid.\n"
	"  -j, --json   one JSON document: files, their errors and warnings";

static int selected(const struct mf_file *f, char **names, int n)
{
	int i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (!strcmp(names[i], f->name))
			return 1;
	return 0;
}

static int same_file(const struct mf_diag *d, const char *path)
{
	return d->file && !strcmp(d->file, path);
}

int bottle_validate(int argc, char **argv)
{
	struct manifest m;
	struct opt o;
	int c, rc, json = 0, i, nnames;
	size_t f, k, nerr = 0, nwarn = 0, nbad = 0, nshown = 0;
	char **names;
	cJSON *doc = NULL, *files = NULL;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)j(json)", usage, &rc)) != -1) {
		if (c == APPLET_OPT_EXIT)
			return rc;
		json = 1;
	}
	names = argv + o.ind;
	nnames = argc - o.ind;
	for (i = 0; i < nnames; i++)
		if (!manifest_name_ok(names[i], strlen(names[i])))
			return applet_usage_error(usage, "'%s' is not a manifest name ([a-z][a-z0-9-]*)", names[i]);
	if ((rc = bottle_load(&m)) != 0)
		return rc;
	for (i = 0; i < nnames; i++) {
		for (f = 0; f < m.nfiles; f++)
			if (!strcmp(m.files[f].name, names[i]))
				break;
		if (f == m.nfiles) {
			err_printf("no bottle or agent named '%s'", names[i]);
			manifest_free(&m);
			return BB_EXIT_FAIL;
		}
	}
	if (json) {
		doc = cJSON_CreateObject();
		files = cJSON_AddArrayToObject(doc, "files");
	}
	/* Problems not tied to a selected file (skipped names, stale JSON) are shown when no name is given. */
	for (f = 0; f <= m.nfiles; f++) {
		const char *path = f < m.nfiles ? m.files[f].path : NULL;
		size_t errs = 0;
		cJSON *fo = NULL, *ea = NULL, *wa = NULL;

		if (f < m.nfiles && !selected(&m.files[f], names, nnames))
			continue;
		if (json && path) {
			fo = cJSON_CreateObject();
			cJSON_AddStringToObject(fo, "file", path);
			cJSON_AddStringToObject(fo, "kind", m.files[f].is_agent ? "agent" : "bottle");
			cJSON_AddStringToObject(fo, "name", m.files[f].name);
			ea = cJSON_CreateArray();
			wa = cJSON_CreateArray();
		}
		for (k = 0; k < m.ndiags; k++) {
			const struct mf_diag *d = &m.diags[k];
			size_t g;
			int other = 0;

			if (path ? !same_file(d, path) : (nnames > 0))
				continue;
			if (!path) {
				/* Only diagnostics whose file is not a loaded manifest. */
				for (g = 0; g < m.nfiles; g++)
					if (same_file(d, m.files[g].path))
						other = 1;
				if (other)
					continue;
			}
			d->warning ? nwarn++ : (nerr++, errs++);
			if (json) {
				cJSON *de = cJSON_CreateObject();

				if (!path)
					cJSON_AddStringToObject(de, "file", d->file ? d->file : "");
				cJSON_AddNumberToObject(de, "line", d->line);
				cJSON_AddStringToObject(de, "message", d->msg);
				if (path)
					cJSON_AddItemToArray(d->warning ? wa : ea, de);
				else {
					if (!cJSON_GetObjectItem(doc, "other"))
						cJSON_AddArrayToObject(doc, "other");
					cJSON_AddBoolToObject(de, "warning", d->warning);
					cJSON_AddItemToArray(cJSON_GetObjectItem(doc, "other"), de);
				}
			} else if (d->line) {
				out_printf("%s:%u: %s: %s\n", d->file ? d->file : "-", d->line, d->warning ? "warning" : "error",
					   d->msg);
			} else {
				out_printf("%s: %s: %s\n", d->file ? d->file : "-", d->warning ? "warning" : "error", d->msg);
			}
		}
		if (!path)
			continue;
		nshown++;
		if (errs)
			nbad++;
		if (json) {
			cJSON_AddBoolToObject(fo, "ok", errs == 0);
			cJSON_AddItemToObject(fo, "errors", ea);
			cJSON_AddItemToObject(fo, "warnings", wa);
			cJSON_AddItemToArray(files, fo);
		} else if (!errs) {
			out_printf("ok %s\n", path);
		}
	}
	if (json) {
		struct buf out = BUF_INIT(64 << 20);

		cJSON_AddNumberToObject(doc, "errors", (double)nerr);
		cJSON_AddNumberToObject(doc, "warnings", (double)nwarn);
		cJSON_AddNumberToObject(doc, "dropped", (double)m.dropped);
		if (json_print(doc, &out, NULL) == 0)
			out_printf("%s\n", out.p);
		buf_free(&out);
		cJSON_Delete(doc);
	} else {
		if (m.dropped)
			out_printf("(%zu more problems not shown)\n", m.dropped);
		out_printf("%zu file%s: %zu ok, %zu with errors; %zu warning%s\n", nshown, nshown == 1 ? "" : "s",
			   nshown - nbad, nbad, nwarn, nwarn == 1 ? "" : "s");
	}
	rc = nerr ? BB_EXIT_FAIL : BB_EXIT_OK;
	manifest_free(&m);
	return rc;
}
