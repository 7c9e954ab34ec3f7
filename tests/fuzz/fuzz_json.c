/* fuzz_json.c - fuzzer for bounded JSON parsing and printing (lib/json) and string escaping. */
#include <cjson/cJSON.h>
#include <stdint.h>

#include "fuzz.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT(1 << 24);
	cJSON *doc = json_parse("fuzz", (const char *)data, size, NULL);

	if (doc) {
		json_print(doc, &out, NULL);
		cJSON_Delete(doc);
	}
	buf_reset(&out);
	json_escape(&out, (const char *)data, size, NULL);
	buf_free(&out);
	return 0;
}
