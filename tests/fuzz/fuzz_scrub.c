/* fuzz_scrub.c - fuzzer for lib/scrub: any text, fed in pieces of any size, gives the whole-text result; no form of the secret survives; released bytes never change. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "scan.h"
#include "scrub.h"

static const char SECRET[] = "sk-live-fuzz/+secret=01";

struct forms {
	char f[32][96];
	size_t n[32], count;
};

static int collect(const char *p, size_t n, void *arg, struct bb_err *e)
{
	struct forms *fs = arg;
	(void)e;
	if (fs->count < 32 && n < 96) {
		memcpy(fs->f[fs->count], p, n);
		fs->n[fs->count++] = n;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scrub_set *set;
	static struct forms fs;
	unsigned char *whole, *buf, *out;
	struct scrub_stream st;
	size_t n, step, held = 0, given = 0, outn = 0, i;

	if (!set) {
		struct bb_err e;
		if (scrub_set_new(&set, &e) < 0 || scrub_set_add(set, SECRET, strlen(SECRET), "fuzz", &e) < 0 ||
		    scrub_set_finish(set, &e) < 0 || secrets_forms(SECRET, strlen(SECRET), collect, &fs, &e) < 0)
			abort();
	}
	if (size < 1 || size > 65536)
		return 0;
	step = (size_t)data[0] % 61 + 1;
	data++;
	n = size - 1;
	whole = malloc(n + 1);
	buf = malloc(n + 1);
	out = malloc(n + 1);
	CHECK(whole && buf && out);
	memcpy(whole, data, n);
	scrub_all(set, whole, n);
	/* no form of the secret is left */
	for (i = 0; i < fs.count; i++)
		CHECK(!memmem(whole, n, fs.f[i], fs.n[i]));
	/* in pieces: the same bytes, and each released byte is already final */
	scrub_stream_init(&st);
	while (given < n) {
		size_t k = n - given < step ? n - given : step, rel;
		memcpy(buf + held, data + given, k);
		given += k;
		rel = scrub_feed(set, &st, buf, held, held + k);
		CHECK(rel <= held + k);
		memcpy(out + outn, buf, rel);
		outn += rel;
		CHECK(!memcmp(out, whole, outn));
		held = held + k - rel;
		CHECK(held <= scrub_set_max_form(set)); /* a form just replaced is still held: another may overlap it */
		memmove(buf, buf + rel, held);
	}
	scrub_end(&st);
	memcpy(out + outn, buf, held);
	outn += held;
	CHECK(outn == n && !memcmp(out, whole, n));
	free(whole);
	free(buf);
	free(out);
	return 0;
}
