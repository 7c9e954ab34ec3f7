/* fuzz_gitio.c - fuzzer for the git protocol's input side: lib/gitgate_io's buffered pkt-line reader fed in pieces, and the request/command/want/have lines on each packet. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gitgate_io.h"
#include "gitgate_proto.h"
#include "pktline.h"

struct src {
	const uint8_t *p;
	size_t n, off, step;
};

/* A client that sends its bytes in pieces of `step`. */
static ssize_t src_read(void *arg, void *p, size_t n, int timeout_ms, struct bb_err *e)
{
	struct src *s = arg;
	size_t k = s->n - s->off;

	if (k > n)
		k = n;
	if (k > s->step)
		k = s->step;
	memcpy(p, s->p + s->off, k);
	s->off += k;
	return (ssize_t)k;
}

static int sink_write(void *arg, const void *p, size_t n, int timeout_ms, struct bb_err *e)
{
	*(size_t *)arg += n;
	return 0;
}

/*
 * What a session does with its packets: the first is the daemon request,
 * then push commands (the first with capabilities) or want/have lines up
 * to a flush, then (receive-pack) the raw pack bytes.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s;
	struct gitgate_io io;
	struct pkt p;
	struct bb_err e;
	size_t written = 0, npkt = 0, consumed = 0;
	int rc, flushed = 0;
	char raw[4096];

	if (size < 1)
		return 0;
	s = (struct src){ data + 1, size - 1, 0, (size_t)data[0] * 13 + 1 };
	gitgate_io_init(&io, -1, -1, 1000);
	io.read_fn = src_read;
	io.read_arg = &s;
	io.write_fn = sink_write;
	io.write_arg = &written;
	io.sideband = data[0] & 1 ? 2 : 0;
	while ((rc = gitgate_io_read_pkt(&io, &p, &e)) == 1) {
		struct sv t = pkt_text(&p);

		CHECK(p.len <= PKT_DATA_MAX);
		consumed += p.wire_len;
		if (p.kind == PKT_FLUSH) {
			flushed = 1;
			break;
		}
		if (p.kind != PKT_DATA)
			continue;
		CHECK(t.len <= p.len && (t.len == p.len || t.len + 1 == p.len));
		if (npkt++ == 0) {
			struct gitgate_request r;

			if (gitgate_request_parse(sv_of(p.data, p.len), &r, NULL) == 0)
				CHECK(r.path.len > 0 && r.path.p[0] == '/' && !memchr(r.path.p, '\n', r.path.len));
		}
		{
			struct gitgate_command c;
			char oid[GITGATE_OID_HEX + 1];
			struct sv rest, v;

			if (gitgate_command_parse(sv_of(p.data, p.len), &c, NULL) == 0) {
				CHECK(gitgate_oid_hex_ok(sv_from(c.old_oid)) && gitgate_oid_hex_ok(sv_from(c.new_oid)));
				CHECK(!(gitgate_oid_is_zero(c.old_oid) && gitgate_oid_is_zero(c.new_oid)));
				CHECK(c.ref.len > 5 && !memcmp(c.ref.p, "refs/", 5) && !memchr(c.ref.p, ' ', c.ref.len));
				/* a bare word has an empty value; any other lies inside the capabilities */
				if (gitgate_caps_value(c.caps, "agent", &v) && v.len)
					CHECK(v.p > c.caps.p && v.p + v.len <= c.caps.p + c.caps.len);
				(void)gitgate_caps_has(c.caps, "report-status");
			}
			if (gitgate_oid_line_parse(t, "want", oid, &rest, NULL) == 0 ||
			    gitgate_oid_line_parse(t, "have", oid, &rest, NULL) == 0 ||
			    gitgate_oid_line_parse(t, "shallow", oid, &rest, NULL) == 0) {
				CHECK(gitgate_oid_hex_ok(sv_from(oid)));
				(void)gitgate_caps_has(rest, "side-band-64k");
			}
		}
		/* messages to the client on a side band, as errors are reported */
		CHECK(gitgate_io_say(&io, &e, "%.*s", (int)(t.len > 300 ? 300 : t.len), t.p) == 0);
	}
	if (rc < 0)
		CHECK(e.msg[0] != 0);
	/* after the commands: the pack, read raw, buffered bytes first */
	if (flushed) {
		ssize_t r;

		while ((r = gitgate_io_read_raw(&io, raw, sizeof raw, &e)) > 0)
			consumed += (size_t)r;
		CHECK(r == 0 && consumed == s.n);
	}
	CHECK(gitgate_io_flush(&io, &e) == 0);
	gitgate_io_free(&io);
	return 0;
}
