/* audit.c - egress's audit log read back: refused requests grouped by host and rule for the end-of-run summary. */
#include "audit.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

#define GROUPS_MAX 256 /* distinct (host, rule) pairs kept; more are counted as "other" */

struct group {
	char host[256], rule[64], reason[200];
	long count;
};

static const char *member(const cJSON *o, const char *k)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
	return v ? v : "";
}

static int by_count(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : strcmp(x->host, y->host);
}

/* s made safe and cut to cols, padded when pad. */
static int cell(struct buf *out, const char *s, int cols, int pad, struct bb_err *e)
{
	return tui_put_text(out, s, strlen(s), cols, pad, e) < 0 ? -1 : 0;
}

long audit_refused_summary(const char *log, size_t n, int width, struct buf *out, long *scrubbed, struct bb_err *e)
{
	struct group *g = calloc(GROUPS_MAX, sizeof *g);
	size_t ng = 0, i, off = 0;
	long total = 0, other = 0;
	int rc = 0;

	*scrubbed = 0;
	if (!g)
		return bb_errf(e, 12, "out of memory");
	while (off < n) {
		const char *line = log + off, *nl = memchr(line, '\n', n - off);
		size_t len = nl ? (size_t)(nl - line) : n - off;
		cJSON *o;
		const char *host, *rule, *verdict;

		off += len + (nl ? 1 : 0);
		o = cJSON_ParseWithLength(line, len);
		if (!cJSON_IsObject(o) || strcmp(member(o, "event"), "request") || !*(verdict = member(o, "verdict")) ||
		    !strcmp(verdict, "abort") || (!strcmp(verdict, "allow") && strcmp(member(o, "rule"), "scrub"))) {
			cJSON_Delete(o);
			continue;
		}
		host = member(o, "host");
		rule = member(o, "rule");
		if (!strcmp(verdict, "allow"))
			(*scrubbed)++;
		else
			total++;
		for (i = 0; i < ng; i++)
			if (!strncmp(g[i].host, host, sizeof g[i].host - 1) && !strncmp(g[i].rule, rule, sizeof g[i].rule - 1))
				break;
		if (i == ng && ng < GROUPS_MAX) {
			snprintf(g[i].host, sizeof g[i].host, "%s", *host ? host : "(no host)");
			snprintf(g[i].rule, sizeof g[i].rule, "%s", *rule ? rule : verdict);
			snprintf(g[i].reason, sizeof g[i].reason, "%s", member(o, "reason"));
			ng++;
		}
		if (i < ng)
			g[i].count++;
		else
			other++;
		cJSON_Delete(o);
	}
	qsort(g, ng, sizeof *g, by_count);
	for (i = 0; i < ng && i < AUDIT_SUMMARY_ROWS && rc == 0; i++) {
		char num[24];
		int left = width - 2 - 30 - 1 - 16 - 1 - 6 - 1;

		snprintf(num, sizeof num, "%6ld ", g[i].count);
		rc = buf_append_str(out, "  ", e) < 0 || cell(out, g[i].host, 30, 1, e) < 0 || buf_append_byte(out, ' ', e) < 0 ||
				     cell(out, g[i].rule, 16, 1, e) < 0 || buf_append_byte(out, ' ', e) < 0 ||
				     buf_append_str(out, num, e) < 0 || cell(out, g[i].reason, left > 10 ? left : 10, 0, e) < 0 ||
				     buf_append_byte(out, '\n', e) < 0
			     ? -1
			     : 0;
	}
	for (; i < ng; i++)
		other += g[i].count;
	if (rc == 0 && other) {
		char more[96];
		snprintf(more, sizeof more, "  ... and %ld more to other hosts or rules\n", other);
		rc = buf_append_str(out, more, e);
	}
	free(g);
	return rc < 0 ? -1 : total;
}
