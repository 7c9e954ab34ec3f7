/* proposals.c - `bb bottle proposals|approve|reject`: the operator's side of the supervise queue. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "applet.h"
#include "bottle.h"
#include "buf.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "opt.h"
#include "fd.h"
#include "proposal.h"
#include "route.h"
#include "tui.h"
#include "utf8.h"

static const char usage_list[] =
	"usage: bb bottle proposals [BOTTLE] [--dir DIR] [--all] [--json]\n"
	"What agents asked their operator through supervise: one line per proposal\n"
	"(id, bottle, tool, age, what) and the agent's reason. Pending ones only, unless --all.\n"
	"  -d, --dir DIR   a queue directory (default: $BB_HOME/.bb/state/BOTTLE/supervise,\n"
	"                  every bottle's when BOTTLE is not given; BB_HOME defaults to HOME)\n"
	"  -a, --all       also approved and rejected proposals\n"
	"  -j, --json      the proposal documents as a JSON array (docs/supervise.md)\n"
	"Decide with `bb bottle approve ID` or `bb bottle reject ID`.";

static const char usage_decide[] =
	"usage: bb bottle approve ID [--note TEXT] [--token-env NAME] [--image NAME] [--mount PATH]... [--dir DIR]\n"
	"       bb bottle reject ID [--note TEXT] [--dir DIR]\n"
	"Decide a pending proposal. The agent's waiting call gets the answer (or its next\n"
	"proposal-status does). What an approval does (docs/supervise.md):\n"
	"  egress-block      the route is merged into the bottle's egress policy; egress reloads\n"
	"  cred-block        needs --token-env NAME: egress injects that host variable's value on\n"
	"                    the route (handed to the running bottle in memory; never on disk)\n"
	"  dlp-block         that rule's findings pass on that route only\n"
	"  capability-block  needs --image and/or --mount: applied at the bottle's next resume\n"
	"  -n, --note TEXT       the reply the agent reads (a reason, or the answer to a question)\n"
	"  -t, --token-env NAME  cred-block: the host variable holding the credential\n"
	"  -i, --image NAME      capability-block: the agent's root becomes this imported image\n"
	"  -m, --mount PATH      capability-block: a host path the agent sees read-only (repeatable)\n"
	"  -d, --dir DIR         the queue directory (default: search every bottle's queue for ID)\n"
	"Exit: 0 decided, 1 refused (not found, already decided, an approval that cannot take\n"
	"effect: nothing was decided), 2 usage, 111 system error.";

#define MAX_DIRS 64

static char qdirs[MAX_DIRS][PATH_MAX]; /* the queue directories one command looks in */

/* The queue directories to look in: one given, one bottle's, or every bottle's under the state root. */
static int queue_dirs(const char *dir, const char *bottle, char dirs[][PATH_MAX], size_t *n, struct bb_err *e)
{
	char root[PATH_MAX];
	DIR *d;
	struct dirent *de;

	*n = 0;
	if (dir) {
		snprintf(dirs[(*n)++], PATH_MAX, "%s", dir);
		return 0;
	}
	if (bottle && proposal_host_dir(bottle, dirs[0], PATH_MAX, e) < 0)
		return -1; /* not a bottle name */
	if (proposal_host_dir(NULL, root, sizeof root, e) < 0)
		return -1;
	d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : bb_errno(e, errno, "%s", root);
	while ((de = readdir(d)) && *n < MAX_DIRS) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		/* A bottle's state is its slug, NAME-<6 hex> (older bb: NAME-PID); a named query takes NAME, its slugs, a slug. */
		if (bottle) {
			size_t bl = strlen(bottle);
			const char *rest = de->d_name + bl;
			if (strncmp(de->d_name, bottle, bl) || (*rest && (*rest != '-' || !rest[1] ||
									  strspn(rest + 1, "0123456789abcdef") != strlen(rest + 1))))
				continue;
		}
		if (proposal_host_dir(de->d_name, dirs[*n], PATH_MAX, NULL) < 0)
			continue; /* not a bottle name */
		if (stat(dirs[*n], &st) == 0 && S_ISDIR(st.st_mode))
			++*n;
	}
	closedir(d);
	return 0;
}

/*
 * What the agent wrote is cut to the terminal's width, so no line of the
 * listing soft-wraps into something that starts at column 0 and passes for
 * a proposal of its own (a reason padded with spaces, then a fake id and
 * host). Without a terminal, lines are still cut at LINE_MAX_COLS.
 */
#define LINE_MAX_COLS 400

static int listing_width(void)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return LINE_MAX_COLS;
}

/* Print prefix then text[0..n) cut to fit cols columns in all, marked "... [+N bytes]" when cut; a newline. */
static void print_cut(const char *prefix, const char *text, size_t n, int cols)
{
	static const char mark[] = " ... [+%zu bytes]";
	struct buf b = BUF_INIT(4 * LINE_MAX_COLS + 64);
	int room = cols - (int)tui_text_width(prefix, strlen(prefix)) - 1, used;

	if (tui_text_width(text, n) > (size_t)(room > 0 ? room : 0))
		room -= (int)sizeof mark + 4; /* the mark and its number */
	if (room < 8)
		room = 8;
	buf_append_str(&b, prefix, NULL);
	used = tui_put_text(&b, text, n, room, 0, NULL);
	if (used >= 0 && tui_text_width(text, n) > (size_t)used) {
		size_t shown = 0, cols_seen = 0; /* bytes that made up the columns shown */
		while (shown < n && cols_seen < (size_t)used) {
			uint32_t cp = '?';
			size_t k = utf8_decode((const unsigned char *)text + shown, n - shown, &cp);
			cols_seen += (size_t)tui_cp_width(k ? cp : '?');
			shown += k ? k : 1;
		}
		buf_printf(&b, NULL, mark, n - shown);
	}
	buf_append_byte(&b, '\n', NULL);
	out_write(1, b.p ? b.p : "", b.len);
	buf_free(&b);
}

/* "    label: text", later lines of text indented under it, so no line of it can pass for a proposal's. */
static void print_field(const char *label, const char *text, int cols)
{
	char prefix[64];
	const char *nl;
	snprintf(prefix, sizeof prefix, "    %s: ", label);
	while ((nl = strchr(text, '\n'))) {
		print_cut(prefix, text, (size_t)(nl - text), cols);
		snprintf(prefix, sizeof prefix, "      ");
		text = nl + 1;
	}
	print_cut(prefix, text, strlen(text), cols);
}

static void print_one(const cJSON *doc, time_t now, int cols)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(doc, "request");
	const cJSON *applied = cJSON_GetObjectItemCaseSensitive(doc, "applied");
	const char *reason = proposal_get(req, "reason"), *note = proposal_get(doc, "note");
	char what[400], a[24], head[160];

	proposal_summary(doc, what, sizeof what);
	bottle_age(proposal_get(doc, "created"), now, a, sizeof a);
	/* The id first: the agent cannot choose it (supervise makes it), so every listing line starts unforgeably. */
	snprintf(head, sizeof head, "%s  %-12.40s %-16s %-8s %5s  ", proposal_get(doc, "id"), proposal_get(doc, "bottle"),
		 proposal_get(doc, "tool"), proposal_get(doc, "status"), a);
	print_cut(head, what, strlen(what), cols);
	if (reason[0])
		print_field("reason", reason, cols);
	if (!strcmp(proposal_get(doc, "tool"), PROPOSAL_TOOL_QUESTION) && strchr(proposal_get(req, "question"), '\n'))
		print_field("question", proposal_get(req, "question"), cols);
	if (note[0])
		print_field("note", note, cols);
	if (applied) {
		char d[1100];
		snprintf(d, sizeof d, "%s (%s)", proposal_get(applied, "detail"), proposal_get(applied, "result"));
		print_cut("    applied: ", d, strlen(d), cols);
	}
}

int bottle_proposals(int argc, char **argv)
{
	char(*dirs)[PATH_MAX] = qdirs;
	struct bb_err e;
	struct opt o;
	const char *dir = NULL, *bottle = NULL;
	int c, code, all = 0, json = 0, shown = 0, cols = listing_width();
	size_t nd, i, k;
	cJSON *arr = NULL;
	time_t now = time(NULL);

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)d:(dir)a(all)j(json)", usage_list, &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT: return code;
		case 'd': dir = o.arg; break;
		case 'a': all = 1; break;
		case 'j': json = 1; break;
		default: return applet_usage_error(usage_list, "unexpected option");
		}
	}
	if (o.ind < argc)
		bottle = argv[o.ind++];
	if (o.ind < argc)
		return applet_usage_error(usage_list, "unexpected argument '%s'", argv[o.ind]);
	if (queue_dirs(dir, bottle, dirs, &nd, &e) < 0) {
		err_printf("%s", e.msg);
		return e.code == BB_EINVAL ? BB_EXIT_USAGE : BB_EXIT_SYSTEM;
	}
	if (json && !(arr = cJSON_CreateArray())) {
		err_printf("out of memory");
		return BB_EXIT_SYSTEM;
	}
	for (i = 0; i < nd; i++) {
		struct proposal_list l;
		if (proposal_list_read(dirs[i], &l, &e) < 0) {
			err_printf("%s", e.msg);
			cJSON_Delete(arr);
			return BB_EXIT_SYSTEM;
		}
		if (l.skipped)
			err_printf("%s: %zu file(s) that are not valid proposals were skipped", dirs[i], l.skipped);
		for (k = 0; k < l.n; k++) {
			if (!all && strcmp(proposal_get(l.docs[k], "status"), "pending"))
				continue;
			shown++;
			if (json)
				cJSON_AddItemToArray(arr, cJSON_Duplicate(l.docs[k], 1));
			else
				print_one(l.docs[k], now, cols);
		}
		proposal_list_free(&l);
	}
	if (json) {
		struct buf b = BUF_INIT(64u << 20);
		if (json_print(arr, &b, &e) < 0) {
			err_printf("%s", e.msg);
			buf_free(&b);
			cJSON_Delete(arr);
			return BB_EXIT_SYSTEM;
		}
		out_printf("%s\n", b.p);
		buf_free(&b);
		cJSON_Delete(arr);
	} else if (!shown) {
		out_printf("no %sproposals\n", all ? "" : "pending ");
	}
	return BB_EXIT_OK;
}

static int decide(int argc, char **argv, const char *status)
{
	char(*dirs)[PATH_MAX] = qdirs;
	struct bb_err e;
	struct opt o;
	struct approval_change ch = { 0 };
	const char *dir = NULL, *note = NULL, *id;
	char path[PATH_MAX + 80], what[400], msg[1200];
	int c, code;
	size_t nd, i, found = MAX_DIRS;
	cJSON *doc;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)n:(note)d:(dir)t:(token-env)i:(image)m:(mount)", usage_decide,
			       &code)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT: return code;
		case 'n': note = o.arg; break;
		case 'd': dir = o.arg; break;
		case 't': ch.token_env = o.arg; break;
		case 'i': ch.image = o.arg; break;
		case 'm':
			if (ch.nmounts == APPROVAL_MOUNTS_MAX)
				return applet_usage_error(usage_decide, "at most %d --mount", APPROVAL_MOUNTS_MAX);
			ch.mounts[ch.nmounts++] = o.arg;
			break;
		default: return applet_usage_error(usage_decide, "unexpected option");
		}
	}
	if (o.ind >= argc)
		return applet_usage_error(usage_decide, "missing the proposal ID (see 'bb bottle proposals')");
	id = argv[o.ind++];
	if (o.ind < argc)
		return applet_usage_error(usage_decide, "unexpected argument '%s'", argv[o.ind]);
	if (!proposal_id_valid(id, strlen(id)))
		return applet_usage_error(usage_decide, "'%s' is not a proposal id", id);
	if (queue_dirs(dir, NULL, dirs, &nd, &e) < 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	for (i = 0; i < nd && found == MAX_DIRS; i++) {
		struct stat st;
		if (proposal_path(dirs[i], id, path, sizeof path, NULL) == 0 && stat(path, &st) == 0)
			found = i;
	}
	if (found == MAX_DIRS) {
		err_printf("no proposal %s in %s", id, dir ? dir : "any bottle's queue ($BB_HOME/.bb/state/*/supervise)");
		return BB_EXIT_FAIL;
	}
	if (bottle_decide(dirs[found], id, status, note, &ch, &doc, msg, sizeof msg, &e) < 0) {
		err_printf("%s", e.msg);
		return e.code == BB_EINVAL || e.code == ENOENT || e.code == EACCES ? BB_EXIT_FAIL : BB_EXIT_SYSTEM;
	}
	proposal_summary(doc, what, sizeof what);
	out_printf("%s %s (%s: %s)\n", status, id, proposal_get(doc, "tool"), what);
	if (msg[0])
		out_printf("%s\n", msg);
	cJSON_Delete(doc);
	return BB_EXIT_OK;
}

int bottle_approve(int argc, char **argv)
{
	return decide(argc, argv, "approved");
}

int bottle_reject(int argc, char **argv)
{
	return decide(argc, argv, "rejected");
}
