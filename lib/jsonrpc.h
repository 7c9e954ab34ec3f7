/* jsonrpc.h - JSON-RPC 2.0 messages as MCP carries them: strict parsing and validation, response building. */
#ifndef BB_JSONRPC_H
#define BB_JSONRPC_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct cJSON;

/*
 * Pure functions over caller bytes (no I/O). The rules are JSON-RPC 2.0
 * narrowed the way MCP narrows it (docs/supervise.md):
 *  - one message per body: a batch (a JSON array) is an invalid request,
 *    since MCP 2025-06-18 removed batching;
 *  - "jsonrpc" is exactly "2.0";
 *  - an id is a string or an integer, never null and never a fraction;
 *  - "method" is a non-empty string; "params", when present, an object;
 *  - a response has exactly one of "result" (any value) and "error" (an
 *    object with an integer code and a string message), and an id; an
 *    error response may have id null or none (its request was unreadable).
 * Members not named here are ignored, as JSON-RPC allows.
 */

/* The JSON-RPC 2.0 error codes. */
#define JSONRPC_PARSE_ERROR (-32700)
#define JSONRPC_INVALID_REQUEST (-32600)
#define JSONRPC_METHOD_NOT_FOUND (-32601)
#define JSONRPC_INVALID_PARAMS (-32602)
#define JSONRPC_INTERNAL_ERROR (-32603)
/* Implementation-defined server error (-32000..-32099): MCP SDKs use it for transport refusals. */
#define JSONRPC_SERVER_ERROR (-32000)

#define JSONRPC_MAX_BYTES (1u << 20) /* a larger body is refused before parsing (reference cap: 1 MiB) */
#define JSONRPC_ID_TEXT_MAX 80       /* jsonrpc_id_text output, NUL included */

enum jsonrpc_kind {
	JSONRPC_REQUEST = 1, /* method + id: needs an answer */
	JSONRPC_NOTIFICATION, /* method, no id: never answered */
	JSONRPC_RESPONSE      /* result or error + id: an answer to us */
};

/* A parsed message. Pointers point into doc, which the message owns. */
struct jsonrpc_msg {
	struct cJSON *doc;          /* the whole parsed body; freed by jsonrpc_msg_free */
	enum jsonrpc_kind kind;     /* valid only when jsonrpc_parse returned 0 */
	const struct cJSON *id;     /* request/response id; NULL for a notification, an id-less error, or unknown */
	const char *method;         /* requests and notifications */
	const struct cJSON *params; /* an object, or NULL when absent */
	const struct cJSON *result; /* responses */
	const struct cJSON *error;  /* responses */
};

/* Why a body is not a valid message: the error code and message to answer with. */
struct jsonrpc_fail {
	int code;            /* JSONRPC_PARSE_ERROR or JSONRPC_INVALID_REQUEST */
	char message[160];   /* short, no input echoed beyond a field name */
};

/*
 * Parse and validate one message from body[0..len). Returns 0 and fills
 * *m, or -1 with *fail filled. On -1, m->id is still set when the body
 * was an object with a usable id (so the error answer can carry it; else
 * the answer's id is null), and m->doc is set when the JSON parsed:
 * call jsonrpc_msg_free either way.
 */
int jsonrpc_parse(const char *body, size_t len, struct jsonrpc_msg *m, struct jsonrpc_fail *fail);

/* Release what jsonrpc_parse kept; safe on a zeroed or already freed message. */
void jsonrpc_msg_free(struct jsonrpc_msg *m);

/* Whether j is a valid id: a string, or a number that is an integer within ±2^53. */
int jsonrpc_id_valid(const struct cJSON *j);

/*
 * Write a compact text form of an id into out (cap bytes, always
 * NUL-terminated): the integer in decimal or the string as it is, cut to
 * fit. For logs and for matching cancellations; "null" when id is NULL.
 */
void jsonrpc_id_text(const struct cJSON *id, char *out, size_t cap);

/*
 * Append {"jsonrpc":"2.0","id":ID,"result":RESULT} to out. id NULL
 * writes null; result NULL writes {}. -1 when out's cap is hit.
 */
int jsonrpc_write_result(struct buf *out, const struct cJSON *id, const struct cJSON *result, struct bb_err *e);

/* As jsonrpc_write_result, with the result given as JSON text (result[0..len), not checked: the caller's own). */
int jsonrpc_write_result_text(struct buf *out, const struct cJSON *id, const char *result, size_t len, struct bb_err *e);

/*
 * Append {"jsonrpc":"2.0","id":ID,"error":{"code":C,"message":M[,"data":D]}}
 * to out. id NULL writes null; data NULL leaves "data" out.
 */
int jsonrpc_write_error(struct buf *out, const struct cJSON *id, int code, const char *message,
			const struct cJSON *data, struct bb_err *e);

#endif
