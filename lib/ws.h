/* ws.h - RFC 6455 WebSocket frame headers: parsed, written, and payloads masked. Pure functions, no I/O. */
#ifndef BB_WS_H
#define BB_WS_H
#include <stddef.h>
#include <stdint.h>

enum { WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

#define WS_HDR_MAX 14      /* 2 + 8 (64-bit length) + 4 (mask) */
#define WS_CONTROL_MAX 125 /* a control frame's payload (RFC 6455 §5.5) */

struct ws_hdr {
	unsigned fin, rsv, opcode, masked; /* rsv: the three RSV bits, 0 unless an extension was negotiated */
	uint64_t len;                      /* payload length */
	unsigned char key[4];              /* the masking key when masked */
	size_t size;                       /* header bytes */
};

/*
 * A frame header at p[0..n). 1: complete, h filled; 0: more bytes are
 * needed; -1: not a valid frame header (*why says why): a reserved opcode,
 * a control frame that is fragmented or longer than 125 bytes, a 64-bit
 * length with its top bit set, or a length not in its shortest form.
 */
int ws_hdr_parse(const unsigned char *p, size_t n, struct ws_hdr *h, const char **why);

/* XOR p[0..n) with key, p[0] being payload byte off (masking and unmasking are the same). */
void ws_mask(unsigned char *p, size_t n, const unsigned char key[4], uint64_t off);

/* Write a frame header (FIN set when fin) into out; key NULL: unmasked. Returns its size (at most WS_HDR_MAX). */
size_t ws_hdr_write(unsigned char out[WS_HDR_MAX], int fin, unsigned opcode, uint64_t len, const unsigned char *key);

/*
 * A close frame's payload: a status code and a reason cut to fit 125 bytes
 * (at a UTF-8 boundary). Returns the payload length.
 */
size_t ws_close_payload(unsigned char out[WS_CONTROL_MAX], unsigned code, const char *reason);

/*
 * A client's Sec-WebSocket-Key is base64 of 16 bytes (24 characters): 0 if
 * key[0..n) is one, -1 if not.
 */
int ws_key_valid(const char *key, size_t n);

/* Fill out with a fresh Sec-WebSocket-Key (24 characters and a NUL). 0, or -1 when no random bytes were to be had. */
int ws_key_new(char out[25]);

/* The Sec-WebSocket-Accept answering key[0..n): base64 of SHA-1(key + the RFC's GUID), 28 characters and a NUL. */
void ws_accept_for(const char *key, size_t n, char out[29]);

#endif
