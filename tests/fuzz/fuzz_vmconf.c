/* fuzz_vmconf.c - fuzzer for lib/vmconf: whatever parses is within its limits and writes back to what parses the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "vmconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_conf c, r;
	struct buf b = BUF_INIT(4u << 20);
	struct bb_err e = { 0 };
	size_t i;
	if (vm_conf_parse((const char *)data, size, &c, &e) < 0)
		return 0;
	CHECK(c.argv && c.argv[0] && c.env && c.workspace[0] == '/' && c.prefix >= 1 && c.prefix <= 30);
	CHECK(vm_conf_write(&c, &b, &e) == 0);
	CHECK(vm_conf_parse(b.p, b.len, &r, &e) == 0);
	for (i = 0; c.argv[i]; i++)
		CHECK(r.argv[i] && !strcmp(c.argv[i], r.argv[i]));
	CHECK(!r.argv[i]);
	for (i = 0; c.env[i]; i++)
		CHECK(r.env[i] && !strcmp(c.env[i], r.env[i]));
	CHECK(!r.env[i] && r.uid == c.uid && r.gid == c.gid && !strcmp(r.workspace, c.workspace) && r.grace_ms == c.grace_ms);
	vm_conf_free(&c);
	vm_conf_free(&r);
	buf_free(&b);
	return 0;
}
