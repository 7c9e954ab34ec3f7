/* jsonrpc.c - JSON-RPC 2.0 message validation (MCP's narrowing of it) and response writers. */
#include "jsonrpc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

#define ID_INT_MAX 9007199254740992.0 /* 2^53: integers a double holds exactly */

static int fail_with(struct jsonrpc_fail *f, int code, const char *msg)
{
	if (f) {
		f->code = code;
		snprintf(f->message, sizeof f->message, "%s", msg);
	}
	return -1;
}

/*
 * cJSON decodes "\u0000" into a NUL and then treats the string as ending
 * there, so "tools/list\u0000x" would read as "tools/list". Refuse the
 * escape outright: no MCP field has a use for it.
 */
static int has_escaped_nul(const char *s, size_t n)
{
	size_t i;
	int in_str = 0;
	for (i = 0; i < n; i++) {
		if (!in_str) {
			if (s[i] == '"')
				in_str = 1;
			continue;
		}
		if (s[i] == '"') {
			in_str = 0;
		} else if (s[i] == '\\' && i + 1 < n) {
			if (s[i + 1] == 'u' && i + 5 < n && !memcmp(s + i + 2, "0000", 4))
				return 1;
			i++; /* skip the escaped character */
		}
	}
	return 0;
}

int jsonrpc_id_valid(const cJSON *j)
{
	double d;
	if (!j)
		return 0;
	if (cJSON_IsString(j))
		return 1;
	if (!cJSON_IsNumber(j))
		return 0;
	d = j->valuedouble;
	return isfinite(d) && d == floor(d) && fabs(d) <= ID_INT_MAX;
}

void jsonrpc_id_text(const cJSON *id, char *out, size_t cap)
{
	if (!cap)
		return;
	if (!id)
		snprintf(out, cap, "null");
	else if (cJSON_IsString(id))
		snprintf(out, cap, "%s", id->valuestring);
	else if (cJSON_IsNumber(id))
		snprintf(out, cap, "%.0f", id->valuedouble);
	else
		snprintf(out, cap, "?");
}

static const cJSON *member(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

int jsonrpc_parse(const char *body, size_t len, struct jsonrpc_msg *m, struct jsonrpc_fail *fail)
{
	const cJSON *ver, *id, *method, *params, *result, *error;
	struct bb_err e;

	memset(m, 0, sizeof *m);
	if (len > JSONRPC_MAX_BYTES)
		return fail_with(fail, JSONRPC_INVALID_REQUEST, "message larger than 1 MiB");
	if (utf8_valid_prefix((const unsigned char *)body, len) != len) /* no overlongs, surrogates, past U+10FFFF */
		return fail_with(fail, JSONRPC_PARSE_ERROR, "Parse error: the body is not valid UTF-8");
	if (has_escaped_nul(body, len))
		return fail_with(fail, JSONRPC_PARSE_ERROR, "Parse error: \\u0000 in a string");
	m->doc = json_parse("body", body, len, &e);
	if (!m->doc) {
		char msg[sizeof fail->message];
		snprintf(msg, sizeof msg, "Parse error: %.140s", e.msg);
		return fail_with(fail, JSONRPC_PARSE_ERROR, msg);
	}
	if (cJSON_IsArray(m->doc))
		return fail_with(fail, JSONRPC_INVALID_REQUEST,
				 "Invalid Request: batches are not supported (one message per POST)");
	if (!cJSON_IsObject(m->doc))
		return fail_with(fail, JSONRPC_INVALID_REQUEST, "Invalid Request: a message is a JSON object");

	id = member(m->doc, "id");
	if (jsonrpc_id_valid(id))
		m->id = id;
	ver = member(m->doc, "jsonrpc");
	if (!cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0"))
		return fail_with(fail, JSONRPC_INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
	method = member(m->doc, "method");
	result = member(m->doc, "result");
	error = member(m->doc, "error");
	/* An error answer to a message whose id could not be read carries id null (JSON-RPC 2.0 §5). */
	if (id && !m->id && !(cJSON_IsNull(id) && error && !method && !result))
		return fail_with(fail, JSONRPC_INVALID_REQUEST,
				 "Invalid Request: \"id\" must be a string or an integer (not null)");
	if (method) {
		if (result || error)
			return fail_with(fail, JSONRPC_INVALID_REQUEST,
					 "Invalid Request: a request has no \"result\" or \"error\"");
		if (!cJSON_IsString(method) || !method->valuestring[0])
			return fail_with(fail, JSONRPC_INVALID_REQUEST,
					 "Invalid Request: \"method\" must be a non-empty string");
		params = member(m->doc, "params");
		if (params && !cJSON_IsObject(params))
			return fail_with(fail, JSONRPC_INVALID_REQUEST, "Invalid Request: \"params\" must be an object");
		m->method = method->valuestring;
		m->params = params;
		m->kind = m->id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
		return 0;
	}
	if (!result && !error)
		return fail_with(fail, JSONRPC_INVALID_REQUEST,
				 "Invalid Request: no \"method\" (request) or \"result\"/\"error\" (response)");
	if (result && error)
		return fail_with(fail, JSONRPC_INVALID_REQUEST,
				 "Invalid Request: a response has \"result\" or \"error\", not both");
	if (!m->id && !error)
		return fail_with(fail, JSONRPC_INVALID_REQUEST, "Invalid Request: a response needs an \"id\"");
	if (error) {
		const cJSON *code = member(error, "code"), *msg = member(error, "message");
		if (!cJSON_IsObject(error) || !cJSON_IsNumber(code) || code->valuedouble != floor(code->valuedouble) ||
		    !cJSON_IsString(msg))
			return fail_with(fail, JSONRPC_INVALID_REQUEST,
					 "Invalid Request: \"error\" needs an integer \"code\" and a string \"message\"");
	}
	m->result = result;
	m->error = error;
	m->kind = JSONRPC_RESPONSE;
	return 0;
}

void jsonrpc_msg_free(struct jsonrpc_msg *m)
{
	if (!m)
		return;
	cJSON_Delete(m->doc);
	memset(m, 0, sizeof *m);
}

static int write_id(struct buf *out, const cJSON *id, struct bb_err *e)
{
	if (!id)
		return buf_append_str(out, "null", e);
	if (cJSON_IsString(id))
		return json_escape(out, id->valuestring, strlen(id->valuestring), e);
	return buf_printf(out, e, "%.0f", id->valuedouble);
}

int jsonrpc_write_result(struct buf *out, const cJSON *id, const cJSON *result, struct bb_err *e)
{
	if (buf_append_str(out, "{\"jsonrpc\":\"2.0\",\"id\":", e) < 0 || write_id(out, id, e) < 0 ||
	    buf_append_str(out, ",\"result\":", e) < 0)
		return -1;
	if (!result ? buf_append_str(out, "{}", e) < 0 : json_print(result, out, e) < 0)
		return -1;
	return buf_append_byte(out, '}', e);
}

int jsonrpc_write_result_text(struct buf *out, const cJSON *id, const char *result, size_t len, struct bb_err *e)
{
	if (buf_append_str(out, "{\"jsonrpc\":\"2.0\",\"id\":", e) < 0 || write_id(out, id, e) < 0 ||
	    buf_append_str(out, ",\"result\":", e) < 0 || buf_append(out, result, len, e) < 0)
		return -1;
	return buf_append_byte(out, '}', e);
}

int jsonrpc_write_error(struct buf *out, const cJSON *id, int code, const char *message, const cJSON *data,
			struct bb_err *e)
{
	if (buf_append_str(out, "{\"jsonrpc\":\"2.0\",\"id\":", e) < 0 || write_id(out, id, e) < 0 ||
	    buf_printf(out, e, ",\"error\":{\"code\":%d,\"message\":", code) < 0 ||
	    json_escape(out, message, strlen(message), e) < 0)
		return -1;
	if (data && (buf_append_str(out, ",\"data\":", e) < 0 || json_print(data, out, e) < 0))
		return -1;
	return buf_append_str(out, "}}", e);
}
