/* test_jsonrpc.c - unit tests for lib/jsonrpc: what is a valid message, the error codes, the response writers. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "t.h"

/* Parse s; returns the jsonrpc_parse result, fills *m (caller frees) and *f. */
static int parse(const char *s, struct jsonrpc_msg *m, struct jsonrpc_fail *f)
{
	memset(f, 0, sizeof *f);
	return jsonrpc_parse(s, strlen(s), m, f);
}

/* s must fail with code; the answer's id text must be want_id. */
static void refuse(const char *s, int code, const char *want_id)
{
	struct jsonrpc_msg m;
	struct jsonrpc_fail f;
	char id[JSONRPC_ID_TEXT_MAX];
	int rc = parse(s, &m, &f);
	T_CHECK(rc == -1);
	if (rc == -1 && f.code != code)
		printf("#   %s: code %d, want %d (%s)\n", s, f.code, code, f.message);
	T_CHECK(f.code == code);
	T_CHECK(f.message[0] != 0);
	jsonrpc_id_text(m.id, id, sizeof id);
	T_STREQ(id, want_id);
	jsonrpc_msg_free(&m);
}

static void request_with_integer_id(void)
{
	struct jsonrpc_msg m;
	struct jsonrpc_fail f;
	char id[JSONRPC_ID_TEXT_MAX];
	T_CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/list\",\"params\":{\"cursor\":\"x\"}}", &m, &f) == 0);
	T_CHECK(m.kind == JSONRPC_REQUEST);
	T_STREQ(m.method, "tools/list");
	T_CHECK(cJSON_IsObject(m.params));
	jsonrpc_id_text(m.id, id, sizeof id);
	T_STREQ(id, "42");
	jsonrpc_msg_free(&m);
	T_CHECK(m.doc == NULL);
}

static void request_with_string_id_and_no_params(void)
{
	struct jsonrpc_msg m;
	struct jsonrpc_fail f;
	T_CHECK(parse(" {\"method\":\"ping\",\"id\":\"abc\",\"jsonrpc\":\"2.0\",\"extra\":[1]}\n", &m, &f) == 0);
	T_CHECK(m.kind == JSONRPC_REQUEST);
	T_CHECK(cJSON_IsString(m.id));
	T_CHECK(m.params == NULL);
	jsonrpc_msg_free(&m);
}

static void notification_has_no_id(void)
{
	struct jsonrpc_msg m;
	struct jsonrpc_fail f;
	T_CHECK(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &m, &f) == 0);
	T_CHECK(m.kind == JSONRPC_NOTIFICATION);
	T_CHECK(m.id == NULL);
	jsonrpc_msg_free(&m);
}

static void responses(void)
{
	struct jsonrpc_msg m;
	struct jsonrpc_fail f;
	T_CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}", &m, &f) == 0);
	T_CHECK(m.kind == JSONRPC_RESPONSE && m.result && !m.error);
	jsonrpc_msg_free(&m);
	T_CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-32601,\"message\":\"no\"}}", &m, &f) == 0);
	T_CHECK(m.kind == JSONRPC_RESPONSE && m.error && !m.result);
	jsonrpc_msg_free(&m);
	T_CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}", &m, &f) == 0);
	T_CHECK(m.kind == JSONRPC_RESPONSE && m.error && !m.id);
	jsonrpc_msg_free(&m);
	refuse("{\"jsonrpc\":\"2.0\",\"result\":{}}", JSONRPC_INVALID_REQUEST, "null");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}", JSONRPC_INVALID_REQUEST, "null");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1,\"message\":\"m\"}}", JSONRPC_INVALID_REQUEST, "1");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.5,\"message\":\"m\"}}", JSONRPC_INVALID_REQUEST, "1");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}", JSONRPC_INVALID_REQUEST, "1");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"bad\"}", JSONRPC_INVALID_REQUEST, "1");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"result\":1}", JSONRPC_INVALID_REQUEST, "1");
}

static void parse_errors(void)
{
	refuse("", JSONRPC_PARSE_ERROR, "null");
	refuse("{\"jsonrpc\":\"2.0\",", JSONRPC_PARSE_ERROR, "null");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} {}", JSONRPC_PARSE_ERROR, "null");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xc3\x28\"}", JSONRPC_PARSE_ERROR, "null");   /* bad UTF-8 */
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xed\xa0\x80\"}", JSONRPC_PARSE_ERROR, "null"); /* a surrogate */
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\\u0000x\"}", JSONRPC_PARSE_ERROR, "null");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":\"\\u0000\"}}", JSONRPC_PARSE_ERROR, "null");
}

static void nesting_is_bounded(void)
{
	char s[600];
	size_t i, n = 0;
	n += (size_t)snprintf(s, sizeof s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":");
	for (i = 0; i < 100; i++)
		s[n++] = '[';
	for (i = 0; i < 100; i++)
		s[n++] = ']';
	s[n++] = '}';
	s[n++] = '}';
	s[n] = 0;
	refuse(s, JSONRPC_PARSE_ERROR, "null");
}

static void escaped_backslash_before_u0000_is_text(void)
{
	struct jsonrpc_msg m;
	struct jsonrpc_fail f;
	/* "a\\u0000" is the six characters a \ u 0 0 0 0: legal, not a NUL */
	T_CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\\\\u0000\"}", &m, &f) == 0);
	T_STREQ(m.method, "a\\u0000");
	jsonrpc_msg_free(&m);
}

static void invalid_requests(void)
{
	refuse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", JSONRPC_INVALID_REQUEST, "null");
	refuse("[]", JSONRPC_INVALID_REQUEST, "null");
	refuse("\"ping\"", JSONRPC_INVALID_REQUEST, "null");
	refuse("null", JSONRPC_INVALID_REQUEST, "null");
	refuse("{\"id\":3,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "3");
	refuse("{\"jsonrpc\":\"2.1\",\"id\":3,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "3");
	refuse("{\"jsonrpc\":2.0,\"id\":3,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "3");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "null");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "null");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "null");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "null");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":9007199254740994,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "null");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", JSONRPC_INVALID_REQUEST, "1");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", JSONRPC_INVALID_REQUEST, "1");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1]}", JSONRPC_INVALID_REQUEST, "1");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":\"p\"}", JSONRPC_INVALID_REQUEST, "1");
	refuse("{\"jsonrpc\":\"2.0\",\"id\":1}", JSONRPC_INVALID_REQUEST, "1");
}

static void oversized_body(void)
{
	size_t n = JSONRPC_MAX_BYTES + 1;
	char *s = malloc(n);
	struct jsonrpc_msg m;
	struct jsonrpc_fail f;
	T_CHECK(s != NULL);
	if (!s)
		return;
	memset(s, ' ', n);
	T_CHECK(jsonrpc_parse(s, n, &m, &f) == -1 && f.code == JSONRPC_INVALID_REQUEST);
	jsonrpc_msg_free(&m);
	free(s);
}

static void ids(void)
{
	cJSON *a = cJSON_CreateNumber(-7), *b = cJSON_CreateString("q\"x"), *c = cJSON_CreateNumber(0.25);
	char t[JSONRPC_ID_TEXT_MAX];
	T_CHECK(jsonrpc_id_valid(a) && jsonrpc_id_valid(b) && !jsonrpc_id_valid(c) && !jsonrpc_id_valid(NULL));
	jsonrpc_id_text(a, t, sizeof t);
	T_STREQ(t, "-7");
	jsonrpc_id_text(b, t, sizeof t);
	T_STREQ(t, "q\"x");
	jsonrpc_id_text(NULL, t, sizeof t);
	T_STREQ(t, "null");
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
}

static void write_result(void)
{
	struct buf b = BUF_INIT(4096);
	cJSON *id = cJSON_CreateString("a\"b"), *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "k", "v");
	T_CHECK(jsonrpc_write_result(&b, id, r, NULL) == 0);
	T_STREQ(b.p, "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"result\":{\"k\":\"v\"}}");
	buf_reset(&b);
	T_CHECK(jsonrpc_write_result(&b, NULL, NULL, NULL) == 0);
	T_STREQ(b.p, "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}");
	buf_reset(&b);
	T_CHECK(jsonrpc_write_result_text(&b, id, "{\"tools\":[]}", 12, NULL) == 0);
	T_STREQ(b.p, "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"result\":{\"tools\":[]}}");
	buf_free(&b);
	cJSON_Delete(id);
	cJSON_Delete(r);
}

static void write_error(void)
{
	struct buf b = BUF_INIT(4096);
	cJSON *id = cJSON_CreateNumber(9007199254740992.0), *d = cJSON_CreateArray();
	T_CHECK(jsonrpc_write_error(&b, id, JSONRPC_METHOD_NOT_FOUND, "Method not found: \"x\"\n", NULL, NULL) == 0);
	T_STREQ(b.p, "{\"jsonrpc\":\"2.0\",\"id\":9007199254740992,\"error\":{\"code\":-32601,\"message\":\"Method not "
		     "found: \\\"x\\\"\\n\"}}");
	buf_reset(&b);
	T_CHECK(jsonrpc_write_error(&b, NULL, JSONRPC_PARSE_ERROR, "Parse error", d, NULL) == 0);
	T_STREQ(b.p, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\",\"data\":[]}}");
	buf_free(&b);
	cJSON_Delete(id);
	cJSON_Delete(d);
}

static void writer_respects_the_cap(void)
{
	struct buf b = BUF_INIT(20);
	struct bb_err e;
	T_CHECK(jsonrpc_write_error(&b, NULL, -1, "a message longer than twenty bytes", NULL, &e) == -1);
	T_CHECK(e.code == BB_ETOOBIG);
	buf_free(&b);
}

/* The writers' output parses back as a valid response with the same id. */
static void round_trip(void)
{
	struct buf b = BUF_INIT(4096);
	struct jsonrpc_msg m, m2;
	struct jsonrpc_fail f;
	char t[JSONRPC_ID_TEXT_MAX];
	T_CHECK(parse("{\"jsonrpc\":\"2.0\",\"id\":\"r-1\",\"method\":\"ping\"}", &m, &f) == 0);
	T_CHECK(jsonrpc_write_error(&b, m.id, JSONRPC_INVALID_PARAMS, "bad", NULL, NULL) == 0);
	T_CHECK(jsonrpc_parse(b.p, b.len, &m2, &f) == 0);
	T_CHECK(m2.kind == JSONRPC_RESPONSE && m2.error);
	jsonrpc_id_text(m2.id, t, sizeof t);
	T_STREQ(t, "r-1");
	jsonrpc_msg_free(&m);
	jsonrpc_msg_free(&m2);
	buf_free(&b);
}

int main(void)
{
	T_RUN(request_with_integer_id);
	T_RUN(request_with_string_id_and_no_params);
	T_RUN(notification_has_no_id);
	T_RUN(responses);
	T_RUN(parse_errors);
	T_RUN(nesting_is_bounded);
	T_RUN(escaped_backslash_before_u0000_is_text);
	T_RUN(invalid_requests);
	T_RUN(oversized_body);
	T_RUN(ids);
	T_RUN(write_result);
	T_RUN(write_error);
	T_RUN(writer_respects_the_cap);
	T_RUN(round_trip);
	T_END();
}
