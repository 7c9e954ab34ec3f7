/* fuzz_pktline.c - fuzzer for pkt-line parsing, side-band, the git protocol's lines (lib/gitgate_proto) and the pack framer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gitgate_pack.h"
#include "gitgate_proto.h"
#include "pktline.h"

/* Every line parser on one payload: none may crash or read outside it. */
static void parse_lines(struct sv line)
{
	struct gitgate_request r;
	struct gitgate_command c;
	char oid[GITGATE_OID_HEX + 1];
	struct sv rest, v;

	if (gitgate_request_parse(line, &r, NULL) == 0 && (r.path.len == 0 || r.path.p[0] != '/'))
		abort();
	if (gitgate_command_parse(line, &c, NULL) == 0 && (!gitgate_oid_hex_ok(sv_from(c.old_oid)) || c.ref.len < 6))
		abort();
	if (gitgate_oid_line_parse(line, "want", oid, &rest, NULL) == 0 && !gitgate_oid_hex_ok(sv_from(oid)))
		abort();
	gitgate_oid_line_parse(line, "have", oid, &rest, NULL);
	gitgate_caps_value(line, "agent", &v);
	gitgate_caps_has(line, "side-band-64k");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt p;
	struct buf out = BUF_INIT(1 << 22);
	struct gitgate_pack pk;
	size_t off = 0, step, used;
	int rc;

	if (size == 0)
		return 0;
	/* The first byte picks how the pack framer gets its chunks. */
	step = (size_t)data[0] * 37 + 1;
	data++;
	size--;
	while (off < size && (rc = pkt_parse(data + off, size - off, &p, NULL)) == 1) {
		int band;
		struct sv d;

		if (p.wire_len < PKT_HDR || p.wire_len > size - off || p.len > PKT_DATA_MAX)
			abort();
		if (p.kind == PKT_DATA) {
			parse_lines(sv_of(p.data, p.len));
			if (pkt_sideband_split(&p, &band, &d, NULL) == 0 && (band < 1 || band > 3))
				abort();
			/* Re-framing what was parsed gives a packet that parses to the same payload. */
			buf_reset(&out);
			if (pkt_append(&out, p.data, p.len, NULL) == 0) {
				struct pkt q;

				if (pkt_parse(out.p, out.len, &q, NULL) != 1 || q.len != p.len || memcmp(q.data, p.data, p.len))
					abort();
			}
		}
		off += p.wire_len;
	}
	buf_reset(&out);
	if (pkt_append_sideband(&out, 1, data, size, step, NULL) == 0 && size && out.len < size)
		abort();
	buf_free(&out);

	if (gitgate_pack_init(&pk, NULL) == 0) {
		off = 0;
		rc = 0;
		while (off < size && rc == 0) {
			size_t n = size - off < step ? size - off : step;

			rc = gitgate_pack_feed(&pk, data + off, n, &used, NULL);
			if (used > n || (rc == 0 && used != n))
				abort();
			off += used;
		}
	}
	gitgate_pack_free(&pk);
	return 0;
}
