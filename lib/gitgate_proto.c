/* gitgate_proto.c - the git protocol's text lines, parsed as pure functions: daemon request, want/have, push commands, capabilities. */
#include "gitgate_proto.h"
#include "hex.h"

#include <string.h>

int gitgate_service_parse(struct sv name, enum gitgate_service *out, struct bb_err *e)
{
	if (sv_eq_str(name, "git-upload-pack")) {
		*out = GITGATE_UPLOAD_PACK;
		return 0;
	}
	if (sv_eq_str(name, "git-receive-pack")) {
		*out = GITGATE_RECEIVE_PACK;
		return 0;
	}
	return bb_errf(e, BB_EINVAL, "unknown service '%.*s' (git-upload-pack and git-receive-pack are served)",
		       (int)(name.len > 40 ? 40 : name.len), name.p);
}

const char *gitgate_service_name(enum gitgate_service s)
{
	return s == GITGATE_RECEIVE_PACK ? "git-receive-pack" : "git-upload-pack";
}

static int has_ctl(struct sv s)
{
	size_t i;

	for (i = 0; i < s.len; i++)
		if ((unsigned char)s.p[i] < 0x20 || s.p[i] == 0x7f)
			return 1;
	return 0;
}

/* Whether a path has a ".." component. */
static int has_dotdot(struct sv p)
{
	size_t i = 0;

	while (i < p.len) {
		size_t j = i;

		while (j < p.len && p.p[j] != '/')
			j++;
		if (j - i == 2 && p.p[i] == '.' && p.p[i + 1] == '.')
			return 1;
		i = j + 1;
	}
	return 0;
}

int gitgate_request_parse(struct sv payload, struct gitgate_request *r, struct bb_err *e)
{
	struct sv head, rest, svc, path, field;
	long nul, sp;

	memset(r, 0, sizeof *r);
	r->host = sv_of("", 0);
	nul = sv_index(payload, '\0');
	head = nul < 0 ? payload : sv_of(payload.p, (size_t)nul);
	rest = nul < 0 ? sv_of("", 0) : sv_of(payload.p + nul + 1, payload.len - (size_t)nul - 1);
	if (head.len && head.p[head.len - 1] == '\n')
		head.len--;
	sp = sv_index(head, ' ');
	if (sp < 0)
		return bb_errf(e, BB_EINVAL, "request names no repository (expected 'git-upload-pack /REPO')");
	svc = sv_of(head.p, (size_t)sp);
	path = sv_of(head.p + sp + 1, head.len - (size_t)sp - 1);
	if (gitgate_service_parse(svc, &r->service, e) < 0)
		return -1;
	if (path.len == 0 || path.p[0] != '/')
		return bb_errf(e, BB_EINVAL, "repository path must start with '/'");
	if (has_ctl(path) || sv_index(path, ' ') >= 0)
		return bb_errf(e, BB_EINVAL, "repository path has spaces or control characters");
	if (has_dotdot(path))
		return bb_errf(e, BB_EINVAL, "repository path has a '..' component");
	r->path = path;
	if (nul < 0)
		return 0;
	/* Optional "host=..." then NUL. */
	if (rest.len && rest.p[0] != '\0') {
		nul = sv_index(rest, '\0');
		if (nul < 0)
			return bb_errf(e, BB_EINVAL, "request: host parameter is not NUL-terminated");
		field = sv_of(rest.p, (size_t)nul);
		if (!sv_starts_with(field, SV_LIT("host=")) || has_ctl(field))
			return bb_errf(e, BB_EINVAL, "request: expected host=HOST after the path");
		r->host = sv_of(field.p + 5, field.len - 5);
		rest = sv_of(rest.p + nul + 1, rest.len - (size_t)nul - 1);
	}
	if (rest.len == 0)
		return 0;
	/* Extra parameters: an empty field, then "key[=value]\0" fields. */
	if (rest.p[0] != '\0')
		return bb_errf(e, BB_EINVAL, "request: junk after the host parameter");
	rest = sv_of(rest.p + 1, rest.len - 1);
	while (rest.len) {
		nul = sv_index(rest, '\0');
		if (nul < 0)
			return bb_errf(e, BB_EINVAL, "request: extra parameter is not NUL-terminated");
		field = sv_of(rest.p, (size_t)nul);
		if (has_ctl(field))
			return bb_errf(e, BB_EINVAL, "request: control characters in an extra parameter");
		if (sv_starts_with(field, SV_LIT("version="))) {
			uint64_t v;

			if (sv_to_u64(sv_of(field.p + 8, field.len - 8), 9, &v, NULL) < 0)
				return bb_errf(e, BB_EINVAL, "request: bad version parameter");
			r->version = (unsigned)v;
		}
		rest = sv_of(rest.p + nul + 1, rest.len - (size_t)nul - 1);
	}
	return 0;
}

int gitgate_oid_hex_ok(struct sv s)
{
	size_t i;

	if (s.len != GITGATE_OID_HEX)
		return 0;
	for (i = 0; i < s.len; i++)
		if (!((s.p[i] >= '0' && s.p[i] <= '9') || (s.p[i] >= 'a' && s.p[i] <= 'f')))
			return 0;
	return 1;
}

int gitgate_oid_line_parse(struct sv line, const char *verb, char oid[GITGATE_OID_HEX + 1], struct sv *rest,
			   struct bb_err *e)
{
	size_t vl = strlen(verb);
	struct sv id;

	if (line.len && line.p[line.len - 1] == '\n')
		line.len--;
	if (line.len < vl + 1 || memcmp(line.p, verb, vl) != 0 || line.p[vl] != ' ')
		return bb_errf(e, BB_EINVAL, "expected '%s OID', got '%.*s'", verb, (int)(line.len > 60 ? 60 : line.len),
			       line.p);
	id = sv_of(line.p + vl + 1, line.len - vl - 1);
	if (id.len > GITGATE_OID_HEX) {
		if (id.p[GITGATE_OID_HEX] != ' ')
			return bb_errf(e, BB_EINVAL, "'%s' line: malformed object name", verb);
		*rest = sv_of(id.p + GITGATE_OID_HEX + 1, id.len - GITGATE_OID_HEX - 1);
		id.len = GITGATE_OID_HEX;
	} else {
		*rest = sv_of("", 0);
	}
	if (!gitgate_oid_hex_ok(id))
		return bb_errf(e, BB_EINVAL, "'%s' line: malformed object name", verb);
	memcpy(oid, id.p, GITGATE_OID_HEX);
	oid[GITGATE_OID_HEX] = 0;
	return 0;
}

int gitgate_oid_is_zero(const char *hex)
{
	return strcmp(hex, GITGATE_ZERO_OID) == 0;
}

int gitgate_command_parse(struct sv line, struct gitgate_command *c, struct bb_err *e)
{
	struct sv ref;
	long nul;
	size_t i;

	if (line.len && line.p[line.len - 1] == '\n')
		line.len--;
	nul = sv_index(line, '\0');
	c->caps = sv_of("", 0);
	if (nul >= 0) {
		c->caps = sv_of(line.p + nul + 1, line.len - (size_t)nul - 1);
		line.len = (size_t)nul;
	}
	if (line.len < 2 * GITGATE_OID_HEX + 3 || line.p[GITGATE_OID_HEX] != ' ' ||
	    line.p[2 * GITGATE_OID_HEX + 1] != ' ')
		return bb_errf(e, BB_EINVAL, "push command is not 'OLD NEW REF'");
	if (!gitgate_oid_hex_ok(sv_of(line.p, GITGATE_OID_HEX)) ||
	    !gitgate_oid_hex_ok(sv_of(line.p + GITGATE_OID_HEX + 1, GITGATE_OID_HEX)))
		return bb_errf(e, BB_EINVAL, "push command: malformed object name");
	ref = sv_of(line.p + 2 * GITGATE_OID_HEX + 2, line.len - 2 * GITGATE_OID_HEX - 2);
	for (i = 0; i < ref.len; i++)
		if ((unsigned char)ref.p[i] <= 0x20 || ref.p[i] == 0x7f)
			return bb_errf(e, BB_EINVAL, "push command: ref name has spaces or control characters");
	if (!sv_starts_with(ref, SV_LIT("refs/")) || ref.len == 5)
		return bb_errf(e, BB_EINVAL, "push command: '%.*s' is not under refs/", (int)(ref.len > 80 ? 80 : ref.len),
			       ref.p);
	memcpy(c->old_oid, line.p, GITGATE_OID_HEX);
	c->old_oid[GITGATE_OID_HEX] = 0;
	memcpy(c->new_oid, line.p + GITGATE_OID_HEX + 1, GITGATE_OID_HEX);
	c->new_oid[GITGATE_OID_HEX] = 0;
	if (gitgate_oid_is_zero(c->old_oid) && gitgate_oid_is_zero(c->new_oid))
		return bb_errf(e, BB_EINVAL, "push command: both object names are zero");
	c->ref = ref;
	return 0;
}

int gitgate_caps_value(struct sv caps, const char *name, struct sv *value)
{
	size_t nl = strlen(name), i = 0;

	while (i < caps.len) {
		size_t j = i;
		struct sv w;

		while (j < caps.len && caps.p[j] != ' ')
			j++;
		w = sv_of(caps.p + i, j - i);
		if (w.len >= nl && memcmp(w.p, name, nl) == 0 && (w.len == nl || w.p[nl] == '=')) {
			if (value)
				*value = w.len == nl ? sv_of("", 0) : sv_of(w.p + nl + 1, w.len - nl - 1);
			return 1;
		}
		i = j + 1;
	}
	return 0;
}

int gitgate_caps_has(struct sv caps, const char *name)
{
	return gitgate_caps_value(caps, name, NULL);
}

/* git_parse_ulong's form: decimal, then optionally k, m or g (either case). */
static int scaled_number(struct sv s, uint64_t *out)
{
	uint64_t mult = 1, v;

	if (s.len && (s.p[s.len - 1] | 0x20) == 'k')
		mult = 1024;
	else if (s.len && (s.p[s.len - 1] | 0x20) == 'm')
		mult = 1024 * 1024;
	else if (s.len && (s.p[s.len - 1] | 0x20) == 'g')
		mult = 1024 * 1024 * 1024;
	if (mult != 1)
		s.len--;
	if (sv_to_u64(s, UINT64_MAX / mult, &v, NULL) < 0)
		return -1;
	*out = v * mult;
	return 0;
}

static int filter_one(struct sv spec, struct gitgate_filter *f, struct bb_err *e)
{
	uint64_t v;
	struct sv arg;

	if (f->n == GITGATE_FILTER_MAX)
		return bb_errf(e, BB_EINVAL, "more than %d filters combined", GITGATE_FILTER_MAX);
	if (sv_eq_str(spec, "blob:none")) {
		f->f[f->n].kind = GITGATE_FILTER_BLOB_NONE;
		f->f[f->n++].value = 0;
		return 0;
	}
	if (sv_starts_with(spec, SV_LIT("blob:limit="))) {
		arg = sv_of(spec.p + 11, spec.len - 11);
		if (scaled_number(arg, &v) < 0)
			return bb_errf(e, BB_EINVAL, "invalid filter-spec: bad size in blob:limit");
		f->f[f->n].kind = GITGATE_FILTER_BLOB_LIMIT;
		f->f[f->n++].value = v;
		return 0;
	}
	if (sv_starts_with(spec, SV_LIT("tree:"))) {
		arg = sv_of(spec.p + 5, spec.len - 5);
		if (scaled_number(arg, &v) < 0)
			return bb_errf(e, BB_EINVAL, "invalid filter-spec: bad depth in tree:");
		f->f[f->n].kind = GITGATE_FILTER_TREE_DEPTH;
		f->f[f->n++].value = v;
		return 0;
	}
	if (sv_starts_with(spec, SV_LIT("object:type="))) {
		static const char *const types[] = { "commit", "tree", "blob", "tag" };
		size_t i;

		arg = sv_of(spec.p + 12, spec.len - 12);
		for (i = 0; i < 4; i++)
			if (sv_eq_str(arg, types[i])) {
				f->f[f->n].kind = GITGATE_FILTER_OBJECT_TYPE;
				f->f[f->n++].value = i + 1;
				return 0;
			}
		return bb_errf(e, BB_EINVAL, "invalid filter-spec: '%.*s' is not an object type", (int)(arg.len > 20 ? 20 : arg.len),
			       arg.p);
	}
	if (sv_starts_with(spec, SV_LIT("sparse:")))
		return bb_errf(e, BB_EINVAL, "filter 'sparse:oid' not supported by this gate (blob:none, blob:limit, tree and object:type are)");
	return bb_errf(e, BB_EINVAL, "invalid filter-spec '%.*s'", (int)(spec.len > 60 ? 60 : spec.len), spec.p);
}

int gitgate_filter_parse(struct sv spec, struct gitgate_filter *f, struct bb_err *e)
{
	struct sv rest, sub;

	memset(f, 0, sizeof *f);
	if (has_ctl(spec))
		return bb_errf(e, BB_EINVAL, "invalid filter-spec: control characters");
	if (!sv_starts_with(spec, SV_LIT("combine:")))
		return filter_one(spec, f, e);
	rest = sv_of(spec.p + 8, spec.len - 8);
	if (rest.len == 0 || rest.p[rest.len - 1] == '+')
		return bb_errf(e, BB_EINVAL, "invalid filter-spec: empty part in combine");
	while (rest.len) {
		char dec[256];
		size_t i, n = 0;

		sv_split(rest, '+', &sub, &rest);
		if (sub.len == 0)
			return bb_errf(e, BB_EINVAL, "invalid filter-spec: empty part in combine");
		for (i = 0; i < sub.len; i++) {
			int hi, lo;

			if (n == sizeof dec)
				return bb_errf(e, BB_EINVAL, "invalid filter-spec: combine part too long");
			if (sub.p[i] != '%') {
				dec[n++] = sub.p[i];
				continue;
			}
			if (i + 2 >= sub.len || (hi = hex_val(sub.p[i + 1])) < 0 || (lo = hex_val(sub.p[i + 2])) < 0)
				return bb_errf(e, BB_EINVAL, "invalid filter-spec: bad %%-escape in combine");
			dec[n++] = (char)(hi << 4 | lo);
			i += 2;
		}
		if (sv_starts_with(sv_of(dec, n), SV_LIT("combine:")))
			return bb_errf(e, BB_EINVAL, "invalid filter-spec: combine inside combine");
		if (has_ctl(sv_of(dec, n)))
			return bb_errf(e, BB_EINVAL, "invalid filter-spec: control characters");
		if (filter_one(sv_of(dec, n), f, e) < 0)
			return -1;
	}
	return 0;
}
