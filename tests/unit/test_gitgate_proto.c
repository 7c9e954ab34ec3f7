/* test_gitgate_proto.c - unit tests of lib/gitgate_proto (request, want/have, commands, caps, filter specs), the Git-Protocol header, and lib/gitgate_pack (pack end framer). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gitgate_http.h"
#include "gitgate_pack.h"
#include "gitgate_proto.h"
#include "t.h"

#define OID_A "0123456789abcdef0123456789abcdef01234567"
#define OID_B "89abcdef0123456789abcdef0123456789abcdef"

static void parses_daemon_requests(void)
{
	static const char v0[] = "git-upload-pack /app.git\0host=gate:9418\0";
	static const char v2[] = "git-receive-pack /app\0host=gate\0\0version=2\0";
	static const char old[] = "git-upload-pack /app.git\n";
	struct gitgate_request r;
	struct bb_err e = { 0 };

	T_CHECK(gitgate_request_parse(sv_of(v0, sizeof v0 - 1), &r, &e) == 0);
	T_CHECK(r.service == GITGATE_UPLOAD_PACK && sv_eq_str(r.path, "/app.git") && sv_eq_str(r.host, "gate:9418"));
	T_CHECK(r.version == 0);
	T_CHECK(gitgate_request_parse(sv_of(v2, sizeof v2 - 1), &r, &e) == 0);
	T_CHECK(r.service == GITGATE_RECEIVE_PACK && sv_eq_str(r.path, "/app") && sv_eq_str(r.host, "gate"));
	T_CHECK(r.version == 2);
	T_CHECK(gitgate_request_parse(sv_of(old, sizeof old - 1), &r, &e) == 0);
	T_CHECK(sv_eq_str(r.path, "/app.git") && r.host.len == 0);
	T_STREQ(gitgate_service_name(GITGATE_RECEIVE_PACK), "git-receive-pack");
}

static void refuses_bad_requests(void)
{
	static const char *const bad[] = {
		"git-upload-archive /app.git", "git-upload-pack", "git-upload-pack app.git", "git-upload-pack /a/../b",
		"git-upload-pack /a\tb", "git-upload-pack /x y", "git-upload-pack /..",
	};
	static const char unterminated[] = "git-upload-pack /a\0host=x";
	static const char nothost[] = "git-upload-pack /a\0user=x\0";
	static const char badver[] = "git-upload-pack /a\0host=x\0\0version=99\0";
	struct gitgate_request r;
	struct bb_err e = { 0 };
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e.code = 0;
		T_CHECK(gitgate_request_parse(sv_from(bad[i]), &r, &e) == -1 && e.code == BB_EINVAL);
	}
	T_CHECK(gitgate_request_parse(sv_of(unterminated, sizeof unterminated - 1), &r, &e) == -1);
	T_CHECK(gitgate_request_parse(sv_of(nothost, sizeof nothost - 1), &r, &e) == -1);
	T_CHECK(gitgate_request_parse(sv_of(badver, sizeof badver - 1), &r, &e) == -1);
}

static void parses_want_have(void)
{
	char oid[41];
	struct sv rest;
	struct bb_err e = { 0 };

	T_CHECK(gitgate_oid_line_parse(sv_from("want " OID_A " multi_ack_detailed side-band-64k\n"), "want", oid, &rest,
				       &e) == 0);
	T_STREQ(oid, OID_A);
	T_CHECK(sv_eq_str(rest, "multi_ack_detailed side-band-64k"));
	T_CHECK(gitgate_oid_line_parse(sv_from("have " OID_B "\n"), "have", oid, &rest, &e) == 0);
	T_STREQ(oid, OID_B);
	T_CHECK(rest.len == 0);
	T_CHECK(gitgate_oid_line_parse(sv_from("have " OID_B), "want", oid, &rest, &e) == -1);
	T_CHECK(gitgate_oid_line_parse(sv_from("want " OID_A "x"), "want", oid, &rest, &e) == -1);
	T_CHECK(gitgate_oid_line_parse(sv_from("want 0123"), "want", oid, &rest, &e) == -1);
	T_CHECK(gitgate_oid_line_parse(sv_from("want 0123456789ABCDEF0123456789abcdef01234567"), "want", oid, &rest,
				       &e) == -1);
	T_CHECK(gitgate_oid_line_parse(sv_from("wanted " OID_A), "want", oid, &rest, &e) == -1);
}

static void parses_push_commands(void)
{
	static const char first[] = GITGATE_ZERO_OID " " OID_A " refs/heads/main\0report-status side-band-64k\n";
	struct gitgate_command c;
	struct bb_err e = { 0 };

	T_CHECK(gitgate_command_parse(sv_of(first, sizeof first - 1), &c, &e) == 0);
	T_CHECK(gitgate_oid_is_zero(c.old_oid) && !gitgate_oid_is_zero(c.new_oid));
	T_STREQ(c.new_oid, OID_A);
	T_CHECK(sv_eq_str(c.ref, "refs/heads/main"));
	T_CHECK(gitgate_caps_has(c.caps, "report-status") && gitgate_caps_has(c.caps, "side-band-64k"));
	T_CHECK(!gitgate_caps_has(c.caps, "report"));
	T_CHECK(gitgate_command_parse(sv_from(OID_A " " GITGATE_ZERO_OID " refs/tags/v1"), &c, &e) == 0);
	T_CHECK(c.caps.len == 0 && gitgate_oid_is_zero(c.new_oid));
	/* Refusals. */
	T_CHECK(gitgate_command_parse(sv_from(GITGATE_ZERO_OID " " GITGATE_ZERO_OID " refs/heads/x"), &c, &e) == -1);
	T_CHECK(gitgate_command_parse(sv_from(OID_A " " OID_B " HEAD"), &c, &e) == -1);
	T_CHECK(gitgate_command_parse(sv_from(OID_A " " OID_B " refs/"), &c, &e) == -1);
	T_CHECK(gitgate_command_parse(sv_from(OID_A " " OID_B " refs/heads/a b"), &c, &e) == -1);
	T_CHECK(gitgate_command_parse(sv_from(OID_A " " OID_B), &c, &e) == -1);
	T_CHECK(gitgate_command_parse(sv_from(OID_A "  " OID_B " refs/heads/x"), &c, &e) == -1);
}

static void caps_values(void)
{
	struct sv v;
	struct sv caps = sv_from("multi_ack_detailed agent=git/2.39.5 symref=HEAD:refs/heads/main ofs-delta");

	T_CHECK(gitgate_caps_value(caps, "agent", &v) == 1 && sv_eq_str(v, "git/2.39.5"));
	T_CHECK(gitgate_caps_value(caps, "symref", &v) == 1 && sv_eq_str(v, "HEAD:refs/heads/main"));
	T_CHECK(gitgate_caps_value(caps, "ofs-delta", &v) == 1 && v.len == 0);
	T_CHECK(gitgate_caps_value(caps, "multi_ack", &v) == 0);
	T_CHECK(gitgate_caps_value(sv_from(""), "x", &v) == 0);
}

static void filter_specs(void)
{
	struct gitgate_filter f;
	struct bb_err e = { 0 };
	static const char *const bad[] = { "",	       "blob:nothing",	  "blob:limit=",     "blob:limit=-1", "blob:limit=1x",
					   "tree:",    "tree:a",	  "object:type=foo", "combine:",      "combine:blob:none+",
					   "combine:%zz", "combine:combine%3Ablob:none", "sparse:path=x", "blob:none\n" };
	size_t i;

	T_CHECK(gitgate_filter_parse(sv_from("blob:none"), &f, &e) == 0 && f.n == 1 && f.f[0].kind == GITGATE_FILTER_BLOB_NONE);
	T_CHECK(gitgate_filter_parse(sv_from("blob:limit=1k"), &f, &e) == 0 && f.f[0].kind == GITGATE_FILTER_BLOB_LIMIT &&
		f.f[0].value == 1024);
	T_CHECK(gitgate_filter_parse(sv_from("blob:limit=2M"), &f, &e) == 0 && f.f[0].value == 2u << 20);
	T_CHECK(gitgate_filter_parse(sv_from("blob:limit=0"), &f, &e) == 0 && f.f[0].value == 0);
	T_CHECK(gitgate_filter_parse(sv_from("tree:0"), &f, &e) == 0 && f.f[0].kind == GITGATE_FILTER_TREE_DEPTH &&
		f.f[0].value == 0);
	T_CHECK(gitgate_filter_parse(sv_from("object:type=tag"), &f, &e) == 0 && f.f[0].kind == GITGATE_FILTER_OBJECT_TYPE &&
		f.f[0].value == 4);
	/* combine: each part %-encoded (git encodes the reserved characters, such as ':' in "tree:3" when it wants to). */
	T_CHECK(gitgate_filter_parse(sv_from("combine:blob:none+tree%3A3+blob:limit=7"), &f, &e) == 0 && f.n == 3 &&
		f.f[1].kind == GITGATE_FILTER_TREE_DEPTH && f.f[1].value == 3 && f.f[2].value == 7);
	T_CHECK(gitgate_filter_parse(sv_from("sparse:oid=main:sparse"), &f, &e) == -1 && strstr(e.msg, "sparse:oid") &&
		strstr(e.msg, "not supported"));
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		T_CHECK(gitgate_filter_parse(sv_from(bad[i]), &f, &e) == -1);
	T_CHECK(gitgate_filter_parse(sv_from("combine:tree:1+tree:2+tree:3+tree:4+tree:5+tree:6+tree:7+tree:8+tree:9"), &f, &e) ==
		-1);
}

static void git_protocol_header(void)
{
	T_CHECK(gitgate_http_wants_v2(sv_from("version=2")));
	T_CHECK(gitgate_http_wants_v2(sv_from("object-format=sha1:version=2")));
	T_CHECK(gitgate_http_wants_v2(sv_from(" version=2 ")));
	T_CHECK(!gitgate_http_wants_v2(sv_from("version=1")));
	T_CHECK(!gitgate_http_wants_v2(sv_from("version=20")));
	T_CHECK(!gitgate_http_wants_v2(sv_from("")));
}

/* Append one object (type, raw content) to a pack under construction; deltas get a fake base. */
static void add_object(unsigned char **p, size_t *len, unsigned type, const void *content, size_t n)
{
	unsigned char hdr[32];
	size_t h = 0, zlen = compressBound(n);
	uint64_t size = n;

	hdr[h] = (unsigned char)(type << 4 | (size & 15));
	size >>= 4;
	while (size) {
		hdr[h++] |= 0x80;
		hdr[h] = size & 0x7f;
		size >>= 7;
	}
	h++;
	if (type == 6) {
		hdr[h++] = 0x81; /* a two-byte offset */
		hdr[h++] = 0x05;
	} else if (type == 7) {
		memset(hdr + h, 0xab, 20);
		h += 20;
	}
	*p = realloc(*p, *len + h + zlen);
	memcpy(*p + *len, hdr, h);
	*len += h;
	compress2(*p + *len, &zlen, content, n, 6);
	*len += zlen;
}

/* A pack of a blob, a big commit-shaped object, an ofs-delta and a ref-delta; then the trailer and junk after it. */
static unsigned char *make_pack(size_t *len, size_t *pack_len)
{
	unsigned char *p = malloc(12);
	char *big = malloc(100000);
	size_t i;

	memcpy(p, "PACK\0\0\0\2\0\0\0\4", 12);
	*len = 12;
	for (i = 0; i < 100000; i++)
		big[i] = (char)('a' + (i * 31 % 26));
	add_object(&p, len, 3, "hello\n", 6);
	add_object(&p, len, 1, big, 100000);
	add_object(&p, len, 6, "delta", 5);
	add_object(&p, len, 7, "", 0);
	p = realloc(p, *len + 20 + 7);
	memset(p + *len, 0x5a, 20);
	*len += 20;
	*pack_len = *len;
	memcpy(p + *len, "0000XYZ", 7); /* what follows the pack on the wire is not the pack's */
	*len += 7;
	free(big);
	return p;
}

/* Feed in chunks of step bytes; returns the bytes the framer claimed, or (size_t)-1 on error or no end. */
static size_t frame(const unsigned char *p, size_t len, size_t step)
{
	struct gitgate_pack pk;
	struct bb_err e = { 0 };
	size_t off = 0, used;
	int rc = 0;

	if (gitgate_pack_init(&pk, &e) < 0)
		return (size_t)-1;
	while (off < len && rc == 0) {
		size_t n = len - off < step ? len - off : step;

		rc = gitgate_pack_feed(&pk, p + off, n, &used, &e);
		if (rc < 0)
			break;
		off += used;
		if (rc == 0 && used != n)
			rc = -1;
	}
	if (rc == 1 && gitgate_pack_objects(&pk) != 4)
		rc = -1;
	gitgate_pack_free(&pk);
	return rc == 1 ? off : (size_t)-1;
}

static void pack_end_found_at_any_split(void)
{
	size_t len, pack_len, step;
	unsigned char *p = make_pack(&len, &pack_len);
	int all = 1;

	for (step = 1; step < 300; step += 7)
		if (frame(p, len, step) != pack_len)
			all = 0;
	T_CHECK(all);
	T_CHECK(frame(p, len, len) == pack_len);
	T_CHECK(frame(p, len, 65536) == pack_len);
	/* Cut short: never complete. */
	T_CHECK(frame(p, pack_len - 1, 1000) == (size_t)-1);
	free(p);
}

static void pack_refusals(void)
{
	size_t len, pack_len, used;
	unsigned char *p = make_pack(&len, &pack_len);
	struct gitgate_pack pk;
	struct bb_err e = { 0 };
	unsigned char bad[64];

	/* Wrong signature, version. */
	memcpy(bad, p, 12);
	bad[0] = 'X';
	T_CHECK(gitgate_pack_init(&pk, &e) == 0);
	T_CHECK(gitgate_pack_feed(&pk, bad, 12, &used, &e) == -1 && e.code == BB_EINVAL);
	gitgate_pack_free(&pk);
	memcpy(bad, p, 12);
	bad[7] = 4;
	T_CHECK(gitgate_pack_init(&pk, &e) == 0);
	T_CHECK(gitgate_pack_feed(&pk, bad, 12, &used, &e) == -1 && strstr(e.msg, "version") != NULL);
	gitgate_pack_free(&pk);
	/* Object type 5 is reserved. */
	memcpy(bad, p, 12);
	bad[12] = 0x50;
	T_CHECK(gitgate_pack_init(&pk, &e) == 0);
	T_CHECK(gitgate_pack_feed(&pk, bad, 13, &used, &e) == -1 && strstr(e.msg, "type") != NULL);
	gitgate_pack_free(&pk);
	/* The blob claims 7 bytes but inflates to 6. */
	memcpy(bad, p, 40);
	bad[12] = (unsigned char)((3 << 4) | 7);
	T_CHECK(gitgate_pack_init(&pk, &e) == 0);
	T_CHECK(gitgate_pack_feed(&pk, bad, 40, &used, &e) == -1 && strstr(e.msg, "inflates") != NULL);
	gitgate_pack_free(&pk);
	/* Corrupt zlib: a bad header byte. */
	memcpy(bad, p, 40);
	bad[13] = 0xff;
	T_CHECK(gitgate_pack_init(&pk, &e) == 0);
	T_CHECK(gitgate_pack_feed(&pk, bad, 40, &used, &e) == -1 && strstr(e.msg, "zlib") != NULL);
	gitgate_pack_free(&pk);
	free(p);
}

static void empty_pack(void)
{
	static const unsigned char pk0[32] = "PACK\0\0\0\2\0\0\0\0";
	struct gitgate_pack pk;
	struct bb_err e = { 0 };
	size_t used;

	T_CHECK(gitgate_pack_init(&pk, &e) == 0);
	T_CHECK(gitgate_pack_feed(&pk, pk0, 31, &used, &e) == 0 && used == 31);
	T_CHECK(gitgate_pack_feed(&pk, pk0 + 31, 1, &used, &e) == 1 && used == 1);
	gitgate_pack_free(&pk);
}

int main(void)
{
	T_RUN(parses_daemon_requests);
	T_RUN(refuses_bad_requests);
	T_RUN(parses_want_have);
	T_RUN(parses_push_commands);
	T_RUN(caps_values);
	T_RUN(filter_specs);
	T_RUN(git_protocol_header);
	T_RUN(pack_end_found_at_any_split);
	T_RUN(pack_refusals);
	T_RUN(empty_pack);
	T_END();
}
