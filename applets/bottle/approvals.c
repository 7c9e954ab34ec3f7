/* approvals.c - what an operator's approval changes: the host's dialer policy, a credential handed to the running bottle, the host record a resume applies. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "applet.h"
#include "bottle.h"
#include "buf.h"
#include "dial.h"
#include "fd.h"
#include "image.h"
#include "json.h"
#include "log.h"
#include "planfile.h"
#include "proposal.h"
#include "route.h"
#include "scan.h"

#define APPROVALS_FILE "approvals.json"
#define APPROVALS_SCHEMA "bb.approvals/1"
#define APPROVALS_MAX_BYTES (1u << 20)
#define APPROVALS_MAX 256

int bottle_control_socket(const char *slug, char *out, size_t cap, struct bb_err *e)
{
	char dir[4096];
	int n;
	if (bottle_host_dir(slug, 0, dir, sizeof dir, e) < 0)
		return -1;
	n = snprintf(out, cap, "%s/ctl.sock", dir);
	if (n < 0 || (size_t)n >= cap || (size_t)n >= 108) /* sun_path */
		return bb_errf(e, BB_ETOOBIG, "%s/ctl.sock is too long for a unix socket", dir);
	return 0;
}

/* The bottle a queue directory belongs to: STATE_ROOT/SLUG/supervise, when this bb runs it (its dialer.json exists). */
static int queue_bottle(const char *qdir, char slug[BOTTLE_SLUG_MAX], char *dialer, size_t cap)
{
	char state[PATH_MAX], root[PATH_MAX], *slash;
	struct bb_err ignore;
	struct stat st;

	snprintf(state, sizeof state, "%s", qdir);
	slash = strrchr(state, '/');
	if (!slash || strcmp(slash, "/supervise"))
		return 0;
	*slash = 0;
	slash = strrchr(state, '/');
	if (!slash || bottle_state_root(root, sizeof root, 0, &ignore) < 0 || strlen(slash + 1) >= BOTTLE_SLUG_MAX)
		return 0;
	snprintf(slug, BOTTLE_SLUG_MAX, "%s", slash + 1);
	if (bottle_dialer_policy(slug, 0, dialer, cap, &ignore) < 0 || stat(dialer, &st) < 0)
		return 0;
	return 1;
}

/* ---- the host record: $BB_HOME/.bb/host/SLUG/approvals.json ------------------------------------- */

/*
 * The host record's directory, opened without following a link (it is host-only, but nothing below $BB_HOME is
 * trusted to be what its path says): the fd, or -1 with e set.
 */
static int record_dir(const char *slug, struct bb_err *e)
{
	char dir[4096];
	int fd;
	if (bottle_host_dir(slug, 0, dir, sizeof dir, e) < 0)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bb_errno(e, errno, "%s", dir);
	return fd;
}

static cJSON *record_read(const char *slug, struct bb_err *e)
{
	struct buf b = BUF_INIT(APPROVALS_MAX_BYTES);
	cJSON *doc;
	int dfd = record_dir(slug, e);

	if (dfd < 0)
		return NULL;
	if (fd_read_file_beneath(dfd, APPROVALS_FILE, APPROVALS_MAX_BYTES, &b, e) < 0) {
		close(dfd);
		buf_free(&b);
		if (e && e->code == ENOENT) {
			doc = cJSON_CreateObject();
			cJSON_AddStringToObject(doc, "schema", APPROVALS_SCHEMA);
			cJSON_AddArrayToObject(doc, "approvals");
			return doc;
		}
		return NULL;
	}
	close(dfd);
	doc = json_parse(APPROVALS_FILE, b.p ? b.p : "", b.len, e);
	buf_free(&b);
	if (doc && (strcmp(proposal_get(doc, "schema"), APPROVALS_SCHEMA) ||
		    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "approvals")))) {
		cJSON_Delete(doc);
		bb_errf(e, BB_EINVAL, "bottle %s: %s is not a %s document", slug, APPROVALS_FILE, APPROVALS_SCHEMA);
		return NULL;
	}
	return doc;
}

static int record_write(const char *slug, const cJSON *doc, struct bb_err *e)
{
	struct buf b = BUF_INIT(APPROVALS_MAX_BYTES);
	int rc, dfd = record_dir(slug, e);
	if (dfd < 0)
		return -1;
	rc = json_print(doc, &b, e) < 0 || buf_append_byte(&b, '\n', e) < 0 ||
			     fd_write_file_at(dfd, APPROVALS_FILE, b.p, b.len, 0600, (uid_t)-1, (gid_t)-1, 1, e) < 0
		     ? -1
		     : 0;
	close(dfd);
	buf_free(&b);
	return rc;
}

/* ---- checking what the operator gave -------------------------------------------------------------- */

static int env_name_ok(const char *s)
{
	size_t i;
	if (!s || !*s || strlen(s) > 128 || (*s >= '0' && *s <= '9'))
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return 0;
	return 1;
}

/* The credential's value from this process's environment: set, long enough to be a known secret, one header line. */
static const char *cred_value(const char *name, struct bb_err *e)
{
	const char *v;
	size_t n;
	if (!env_name_ok(name))
		return bb_errf(e, BB_EINVAL, "--token-env '%.60s' is not an environment variable name", name ? name : ""),
		       NULL;
	v = getenv(name);
	if (!v || !*v)
		return bb_errf(e, BB_EINVAL,
			       "host variable %s is not set in this environment: nothing was approved (set it, or reject)", name),
		       NULL;
	n = strlen(v);
	if (n < SCAN_KNOWN_MIN || n > DIAL_TOKEN_MAX || strpbrk(v, "\r\n"))
		return bb_errf(e, BB_EINVAL, "host variable %s does not hold a credential egress can inject (%d to %u bytes, one line)",
			       name, SCAN_KNOWN_MIN, DIAL_TOKEN_MAX),
		       NULL;
	return v;
}

/* A rule egress knows for that direction: credential rules outbound, injection patterns inbound. */
static int dlp_rule_known(const char *rule, int inbound, struct bb_err *e)
{
	struct scan_engine *eng = NULL;
	struct scan_rule_info ri;
	size_t i, n;
	int found = 0;
	if (scan_engine_new(&eng, e) < 0)
		return -1;
	n = scan_engine_rule_total(eng);
	for (i = 0; i < n && !found; i++)
		if (scan_engine_rule_info(eng, i, &ri) == 0 && !strcmp(ri.id, rule) && !!ri.injection == !!inbound)
			found = 1;
	scan_engine_free(eng);
	if (!found)
		return bb_errf(e, BB_EINVAL,
			       "rule '%.120s' is not one of egress's %s (bb scan --list-rules%s): a known secret or the "
			       "credential itself is never allowlisted",
			       rule, inbound ? "injection patterns" : "credential rules", inbound ? " --injection" : "");
	return 0;
}

/* A host path to bind read-only: canonical, existing, not the root, nothing of bb's own records. */
static int mount_check(const char *path, char *out, size_t cap, struct bb_err *e)
{
	char real[PATH_MAX], bbdir[PATH_MAX + 8];
	const char *home = getenv("BB_HOME");
	size_t bl;
	if (!home || !*home)
		home = getenv("HOME");
	if (!path || path[0] != '/' || !realpath(path, real))
		return bb_errf(e, BB_EINVAL, "--mount %s: want an absolute path that exists", path ? path : "");
	if (!strcmp(real, "/"))
		return bb_errf(e, BB_EINVAL, "--mount /: the whole host is not a capability");
	snprintf(bbdir, sizeof bbdir, "%s/.bb", home ? home : "/");
	bl = strlen(real);
	if (!strncmp(real, bbdir, strlen(bbdir)) || (!strncmp(bbdir, real, bl) && (bbdir[bl] == '/' || !bbdir[bl])))
		return bb_errf(e, BB_EINVAL, "--mount %s: bb's own records (%s: the CA key, the host records) stay out of bottles",
			       real, bbdir);
	if (strlen(real) >= cap)
		return bb_errf(e, BB_ETOOBIG, "--mount %s: path too long", real);
	memcpy(out, real, strlen(real) + 1);
	return 0;
}

/* ---- deciding -------------------------------------------------------------------------------------- */

struct decision {
	const char *qdir, *id, *note;
	const struct approval_change *ch;
	cJSON *doc;               /* the proposal as read (pending) */
	const char *tool;
	int have_bottle;          /* the queue is the supervise dir of a bottle this bb runs */
	char slug[BOTTLE_SLUG_MAX];
	char dialer[PATH_MAX];
	struct buf dialer_old;    /* dialer.json before, to put back if the decision cannot be written */
	cJSON *record_old;        /* the host record before */
	char mounts[APPROVAL_MOUNTS_MAX][PATH_MAX];
	char applied[1100];       /* what the host did, stamped into the proposal (capability) */
};

static int need_bottle(struct decision *d, struct bb_err *e)
{
	if (d->have_bottle)
		return 0;
	return bb_errf(e, BB_EINVAL,
		       "%s: %s is not the queue of a bottle this bb runs: an approved %s would have nowhere to take effect "
		       "(reject it, or decide it from the bottle's own queue)",
		       d->id, d->qdir, d->tool);
}

/* What the options ask of this tool, checked before anything is changed. */
static int check_change(struct decision *d, struct bb_err *e)
{
	const struct approval_change *ch = d->ch;
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(d->doc, "request");
	int cred = !strcmp(d->tool, PROPOSAL_TOOL_CRED), cap = !strcmp(d->tool, PROPOSAL_TOOL_CAPABILITY);
	size_t i;

	if (ch->token_env && !cred)
		return bb_errf(e, BB_EINVAL, "--token-env is for cred-block proposals; %s is a %s", d->id, d->tool);
	if ((ch->image || ch->nmounts) && !cap)
		return bb_errf(e, BB_EINVAL, "--image and --mount are for capability-block proposals; %s is a %s", d->id, d->tool);
	if (cred) {
		if (!ch->token_env)
			return bb_errf(e, BB_EINVAL,
				       "%s asks for a credential on %s: approve it with --token-env NAME, the host variable "
				       "holding it (egress injects its value; the agent never sees it)",
				       d->id, proposal_get(req, "host"));
		if (need_bottle(d, e) < 0 || !cred_value(ch->token_env, e))
			return -1;
	}
	if (!strcmp(d->tool, PROPOSAL_TOOL_DLP) &&
	    dlp_rule_known(proposal_get(req, "rule"), !strcmp(proposal_get(req, "direction"), "inbound"), e) < 0)
		return -1;
	if (cap) {
		char root[PATH_MAX];
		if (!ch->image && !ch->nmounts)
			return bb_errf(e, BB_EINVAL,
				       "%s asks for '%s': approve it with what changes at the next resume: --image NAME "
				       "(the agent's root), --mount PATH (a host path, read-only)",
				       d->id, proposal_get(req, "capability"));
		if (need_bottle(d, e) < 0)
			return -1;
		if (ch->image && img_rootfs_path(ch->image, root, sizeof root, e) < 0)
			return -1;
		if (ch->nmounts > APPROVAL_MOUNTS_MAX)
			return bb_errf(e, BB_EINVAL, "at most %d --mount", APPROVAL_MOUNTS_MAX);
		for (i = 0; i < ch->nmounts; i++)
			if (mount_check(ch->mounts[i], d->mounts[i], sizeof d->mounts[i], e) < 0)
				return -1;
	}
	return 0;
}

/* Merge the change into the host's dialer policy (egress, cred, dlp); the old text kept for a rollback. */
static int dialer_merge(struct decision *d, struct bb_err *e)
{
	struct buf out = BUF_INIT(POLICY_MAX_BYTES);
	cJSON *plan = NULL;
	char what[700];
	int rc = -1, changed;

	d->dialer_old = (struct buf)BUF_INIT(POLICY_MAX_BYTES);
	if (fd_read_file(d->dialer, POLICY_MAX_BYTES, &d->dialer_old, e) < 0 ||
	    !(plan = json_parse(d->dialer, d->dialer_old.p, d->dialer_old.len, e)))
		goto done;
	changed = proposal_policy_apply(plan, d->doc, what, sizeof what, e);
	if (changed < 0)
		goto done;
	if (changed && (json_print(plan, &out, e) < 0 || buf_append_byte(&out, '\n', e) < 0 ||
			fd_write_file_atomic(d->dialer, out.p, out.len, 0600, e) < 0))
		goto done;
	rc = 0;
done:
	cJSON_Delete(plan);
	buf_free(&out);
	return rc;
}

/* Append the approval to the host record a resume applies. */
static int record_add(struct decision *d, struct bb_err *e)
{
	cJSON *rec = record_read(d->slug, e), *list, *it;
	const struct approval_change *ch = d->ch;
	char slot[PROPOSAL_ID_MAX + 32];
	size_t i;
	int rc;

	if (!rec)
		return -1;
	d->record_old = cJSON_Duplicate(rec, 1);
	list = cJSON_GetObjectItemCaseSensitive(rec, "approvals");
	if (cJSON_GetArraySize(list) >= APPROVALS_MAX) {
		cJSON_Delete(rec);
		return bb_errf(e, BB_ETOOBIG, "bottle %s holds %d approvals already", d->slug, APPROVALS_MAX);
	}
	it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "id", d->id);
	cJSON_AddStringToObject(it, "tool", d->tool);
	cJSON_AddItemToObject(it, "request", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(d->doc, "request"), 1));
	if (ch->token_env) {
		proposal_cred_slot(d->id, slot, sizeof slot);
		cJSON_AddStringToObject(it, "token_env", ch->token_env);
		cJSON_AddStringToObject(it, "token_slot", slot);
	}
	if (ch->image)
		cJSON_AddStringToObject(it, "image", ch->image);
	if (ch->nmounts) {
		cJSON *m = cJSON_AddArrayToObject(it, "mounts");
		for (i = 0; i < ch->nmounts; i++)
			cJSON_AddItemToArray(m, cJSON_CreateString(d->mounts[i]));
	}
	cJSON_AddItemToArray(list, it);
	rc = record_write(d->slug, rec, e);
	cJSON_Delete(rec);
	return rc;
}

/* The change in words: "image NAME; mount /p (read-only)". */
static void capability_words(const struct decision *d, char *out, size_t cap)
{
	size_t i, used = 0;
	out[0] = 0;
	if (d->ch->image)
		used += (size_t)snprintf(out, cap, "image %s as the agent's root", d->ch->image);
	for (i = 0; i < d->ch->nmounts && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%shost path %s, read-only", used ? "; " : "", d->mounts[i]);
}

int bottle_decide(const char *qdir, const char *id, const char *status, const char *note,
		  const struct approval_change *ch, cJSON **out, char *msg, size_t cap, struct bb_err *e)
{
	static const struct approval_change none = { 0 };
	struct decision d = { .qdir = qdir, .id = id, .note = note, .ch = ch ? ch : &none };
	struct bottle_meta meta;
	int approve = !strcmp(status, "approved"), rc = -1, dialer_written = 0, recorded = 0;
	const char *applied = NULL;

	*out = NULL;
	msg[0] = 0;
	if (proposal_read(qdir, id, &d.doc, e) < 0)
		return -1;
	d.tool = proposal_get(d.doc, "tool");
	if (strcmp(proposal_get(d.doc, "status"), "pending")) {
		bb_errf(e, BB_EINVAL, "proposal %s is already %s", id, proposal_get(d.doc, "status"));
		goto done;
	}
	d.have_bottle = queue_bottle(qdir, d.slug, d.dialer, sizeof d.dialer);
	if (!approve) {
		if (d.ch->token_env || d.ch->image || d.ch->nmounts) {
			bb_errf(e, BB_EINVAL, "a rejection changes nothing: --token-env, --image and --mount go with approve");
			goto done;
		}
		rc = proposal_decide(qdir, id, status, note, time(NULL), out, e);
		goto done;
	}
	if (check_change(&d, e) < 0)
		goto done;
	/* A credential for a running bottle goes to its host process now, in memory; a stopped one's at resume. */
	if (d.ch->token_env && bottle_meta_read(d.slug, &meta, NULL) == 0 && !strcmp(meta.status, "running")) {
		char ctl[PATH_MAX], slot[PROPOSAL_ID_MAX + 32];
		const char *v = getenv(d.ch->token_env);
		proposal_cred_slot(id, slot, sizeof slot);
		if (bottle_control_socket(d.slug, ctl, sizeof ctl, e) < 0 || dial_token_push(ctl, slot, v, strlen(v), 5000, e) < 0) {
			bb_err_wrap(e, "%s: the credential could not be handed to bottle %s (nothing was approved)", id, d.slug);
			goto done;
		}
		snprintf(msg, cap, "the value of %s is with bottle %s's host process (in memory, never on disk); supervise puts "
				   "it on route %s and egress takes it when it reloads",
			 d.ch->token_env, d.slug, proposal_get(cJSON_GetObjectItemCaseSensitive(d.doc, "request"), "host"));
	} else if (d.ch->token_env) {
		snprintf(msg, cap, "bottle %s is not running: at its next resume egress injects the value of %s (read from "
				   "that environment) on route %s",
			 d.slug, d.ch->token_env, proposal_get(cJSON_GetObjectItemCaseSensitive(d.doc, "request"), "host"));
	}
	if (d.have_bottle && strcmp(d.tool, PROPOSAL_TOOL_CAPABILITY) && strcmp(d.tool, PROPOSAL_TOOL_QUESTION)) {
		if (dialer_merge(&d, e) < 0)
			goto done;
		dialer_written = 1;
	}
	if (d.have_bottle && strcmp(d.tool, PROPOSAL_TOOL_QUESTION)) {
		if (record_add(&d, e) < 0)
			goto done;
		recorded = 1;
	}
	if (!strcmp(d.tool, PROPOSAL_TOOL_CAPABILITY)) {
		char words[900];
		capability_words(&d, words, sizeof words);
		snprintf(d.applied, sizeof d.applied,
			 "recorded for bottle %s: %s; takes effect when the operator stops and resumes it (this run is unchanged)",
			 d.slug, words);
		applied = d.applied;
		snprintf(msg, cap, "recorded: %s; it takes effect at the next resume (bb bottle stop %s; bb bottle resume %s)",
			 words, d.slug, d.slug);
	} else if (!strcmp(d.tool, PROPOSAL_TOOL_EGRESS)) {
		snprintf(msg, cap, "supervise merges the route into the bottle's egress policy and reloads egress");
	} else if (!strcmp(d.tool, PROPOSAL_TOOL_DLP)) {
		const cJSON *req = cJSON_GetObjectItemCaseSensitive(d.doc, "request");
		snprintf(msg, cap, "supervise lets %s findings of rule %s pass on route %s only, and reloads egress",
			 proposal_get(req, "direction"), proposal_get(req, "rule"), proposal_get(req, "host"));
	}
	if (proposal_decide_applied(qdir, id, status, note, applied, time(NULL), out, e) < 0) {
		struct bb_err ignore;
		/* Decided meanwhile (another approver): what was changed for this decision is put back. */
		if (dialer_written)
			fd_write_file_atomic(d.dialer, d.dialer_old.p, d.dialer_old.len, 0600, &ignore);
		if (recorded && d.record_old)
			record_write(d.slug, d.record_old, &ignore);
		goto done;
	}
	rc = 0;
done:
	cJSON_Delete(d.doc);
	cJSON_Delete(d.record_old);
	buf_free(&d.dialer_old);
	return rc;
}

/* ---- resume: the record applied to a fresh plan ------------------------------------------------------ */

int bottle_approvals_resume(struct bottle_meta *meta, cJSON *plan, struct approved_caps *caps, struct bb_err *e)
{
	cJSON *rec = record_read(meta->slug, e), *it;
	char what[700];

	memset(caps, 0, sizeof *caps);
	if (!rec)
		return -1;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rec, "approvals"))
	{
		const char *id = proposal_get(it, "id"), *tool = proposal_get(it, "tool");
		struct bb_err ae = { 0 };
		int rc;

		if (!strcmp(tool, PROPOSAL_TOOL_CAPABILITY)) {
			const char *img = proposal_get(it, "image");
			const cJSON *m;
			char root[PATH_MAX];
			if (img[0] && img_rootfs_path(img, root, sizeof root, &ae) < 0) {
				cJSON_Delete(rec);
				return bb_errf(e, BB_EINVAL, "%s: the capability approved in proposal %s: %s", meta->slug, id, ae.msg);
			}
			if (img[0]) {
				snprintf(caps->image, sizeof caps->image, "%s", img);
				err_printf("%s: approved in proposal %s: image %s is the agent's root from this run", meta->slug, id, img);
			}
			cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(it, "mounts"))
			{
				struct stat st;
				const char *p = cJSON_GetStringValue(m);
				if (!p || p[0] != '/' || caps->nmounts == APPROVED_MOUNTS_MAX || stat(p, &st) < 0) {
					err_printf("%s: approved in proposal %s: host path %s is gone; not mounted", meta->slug, id,
						   p ? p : "?");
					continue;
				}
				snprintf(caps->mounts[caps->nmounts++], PATH_MAX, "%s", p);
				err_printf("%s: approved in proposal %s: host path %s, read-only, from this run", meta->slug, id, p);
			}
			continue;
		}
		if (!strcmp(tool, PROPOSAL_TOOL_CRED)) {
			const char *name = proposal_get(it, "token_env"), *v = getenv(name);
			cJSON *slots = planfile_json_token_slots(plan), *sl;
			if (!v || !*v) {
				err_printf("%s: the credential approved in proposal %s (host variable %s) is not set here: route %s "
					   "goes without it this run",
					   meta->slug, id, name, proposal_get(cJSON_GetObjectItemCaseSensitive(it, "request"), "host"));
				continue;
			}
			rc = proposal_policy_apply(plan, it, what, sizeof what, &ae);
			if (rc > 0 && slots && (sl = cJSON_CreateObject())) {
				/* The session gives egress this slot's value from the host variable, as a manifest token's. */
				cJSON_AddStringToObject(sl, "slot", proposal_get(it, "token_slot"));
				cJSON_AddStringToObject(sl, "ref", name);
				cJSON_AddStringToObject(sl, "source", "approval");
				cJSON_AddBoolToObject(sl, "present", 1);
				cJSON_AddItemToArray(slots, sl);
			}
		} else {
			rc = proposal_policy_apply(plan, it, what, sizeof what, &ae);
		}
		if (rc < 0)
			err_printf("%s: approved in proposal %s (%s) no longer applies: %s", meta->slug, id, tool, ae.msg);
	}
	cJSON_Delete(rec);
	return 0;
}
