/* test_json.c - unit tests of lib/json: cJSON round trip, positioned errors, limits. */
#include <cjson/cJSON.h>

#include "json.h"
#include "t.h"

static void round_trip(void)
{
	static const char doc[] = "{\n  \"routes\": [ {\"host\": \"api.example.com\", \"port\": 443},\n"
				  "  {\"host\": \"h\\u00e9\", \"ok\": true, \"n\": null} ]\n}\n";
	struct buf out = BUF_INIT(4096), again = BUF_INIT(4096);
	cJSON *d = json_parse("doc", doc, sizeof doc - 1, NULL), *d2;

	T_CHECK(d != NULL);
	T_CHECK(json_print(d, &out, NULL) == 0);
	T_STREQ(out.p, "{\"routes\":[{\"host\":\"api.example.com\",\"port\":443},"
		       "{\"host\":\"h\xc3\xa9\",\"ok\":true,\"n\":null}]}");
	d2 = json_parse("again", out.p, out.len, NULL);
	T_CHECK(d2 && json_print(d2, &again, NULL) == 0 && strcmp(out.p, again.p) == 0);
	T_CHECK(cJSON_Compare(d, d2, 1));
	cJSON_Delete(d);
	cJSON_Delete(d2);
	buf_free(&out);
	buf_free(&again);
}

static void error_positions(void)
{
	struct bb_err e = { 0 };
	static const char bad[] = "{\n  \"a\": 1,\n  \"b\": tru\n}";

	T_CHECK(json_parse("policy.json", bad, sizeof bad - 1, &e) == NULL);
	T_CHECK(strstr(e.msg, "policy.json: invalid JSON at line 3") != NULL);
	T_CHECK(json_parse("p", "{} {}", 5, &e) == NULL);
	T_STREQ(e.msg, "p: unexpected data after the document at line 1 column 4");
	T_CHECK(json_parse("p", "{\"a\":\"x\0y\"}", 11, &e) == NULL);
	T_STREQ(e.msg, "p: NUL byte at line 1 column 8");
	T_CHECK(json_parse("p", "", 0, &e) == NULL);
}

static void depth_limit(void)
{
	char deep[200];
	struct bb_err e = { 0 };
	cJSON *d;
	int i;

	for (i = 0; i < 64; i++)
		deep[i] = '[';
	for (i = 0; i < 64; i++)
		deep[64 + i] = ']';
	d = json_parse("p", deep, 128, &e);
	T_CHECK(d != NULL);
	cJSON_Delete(d);
	memmove(deep + 1, deep, 128);
	deep[0] = '[';
	deep[129] = ']';
	T_CHECK(json_parse("p", deep, 130, &e) == NULL);
	T_CHECK(strstr(e.msg, "nesting deeper than 64") != NULL);
	/* Brackets inside strings do not count. */
	memset(deep, '[', sizeof deep);
	deep[1] = '"';
	deep[150] = '"';
	deep[151] = ']';
	T_CHECK((d = json_parse("p", deep, 152, &e)) != NULL);
	cJSON_Delete(d);
}

int main(void)
{
	T_RUN(round_trip);
	T_RUN(error_positions);
	T_RUN(depth_limit);
	T_END();
}
