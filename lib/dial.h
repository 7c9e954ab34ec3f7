/* dial.h - the dial protocol: the sidecar asks the host for a connected upstream socket over a unix socket (SCM_RIGHTS). */
#ifndef BB_DIAL_H
#define BB_DIAL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/*
 * The sidecar's network namespace has no route out. When egress needs an
 * upstream it connects to the host's dialer (a unix socket the runtime
 * bind-mounts into the sidecar) and sends one line:
 *     "DIAL <host> <port>\n"
 * The dialer re-checks the host against the bottle's policy and every
 * resolved address against the private-address rule, connects, and
 * answers one line, with the connected socket attached on success:
 *     "OK <address>\n"                 (+ SCM_RIGHTS: one fd)
 *     "ERR <rule> <reason...>\n"
 * So a compromised sidecar can reach nothing the policy does not name.
 */

#define DIAL_LINE_MAX 512

struct dial_request {
	char host[256];
	uint16_t port;
};

/* Format a request line into out (cap >= DIAL_LINE_MAX). Returns its length, or -1 (bad host/port). */
int dial_request_format(const struct dial_request *r, char *out, size_t cap);
/* Parse a request line (with or without the newline). 0, or -1 with e saying what is wrong. */
int dial_request_parse(const char *line, size_t len, struct dial_request *r, struct bb_err *e);

/* Send one line, with fd attached when fd >= 0. 0, or -1 (errno). */
int dial_send(int sock, const char *line, size_t len, int fd);
/*
 * Receive one answer line into buf (cap bytes, NUL-terminated, newline
 * stripped) and the attached fd (or -1) into *fd. Returns the line length,
 * 0 when nothing is there yet (non-blocking socket), or -1 (errno; EPROTO
 * for a line without a newline or too long). A received fd is closed on
 * any error so none leaks.
 */
ssize_t dial_recv(int sock, char *buf, size_t cap, int *fd);

/*
 * The blocking client, for code that waits anyway (git-gate's upstream
 * SSH): connect to the dialer's unix socket at sock_path, ask for
 * host:port, and wait at most timeout_ms (0: 10 s) for the answer. Returns
 * the connected socket (blocking mode, close-on-exec), or -1 with e: the
 * dialer's own "ERR rule reason" as "RULE: REASON" (code EACCES for
 * no-route/private-address: policy said no; EIO otherwise), or why the dialer could
 * not be asked (errno).
 */
int dial_connect(const char *sock_path, const char *host, uint16_t port, int timeout_ms, struct bb_err *e);

/*
 * Token slot values (docs/supervise.md, cred-block). A credential the
 * operator approves while a bottle runs reaches its egress this way, in
 * memory only:
 *   the approver (bb bottle approve --token-env NAME) -> the dialer's
 *   control socket (in the host-only record of the bottle):
 *       "TOKEN <slot>\n" + SCM_RIGHTS: a sealed memfd holding the value
 *       answer "OK\n" or "ERR <rule> <reason>\n";
 *   egress (a slot its environment lacks) -> the dialer's socket:
 *       "TOKEN <slot>\n"
 *       answer "OK\n" + a sealed memfd holding the value, or "ERR no-token <reason>\n".
 * Slots are [A-Z0-9_], at most DIAL_SLOT_MAX bytes; values 1 to
 * DIAL_TOKEN_MAX bytes without NUL, CR or LF (they go into a header).
 */
#define DIAL_SLOT_MAX 120
#define DIAL_TOKEN_MAX (64u << 10)

struct buf;

/* Whether slot[0..n) is a token slot name. */
int dial_token_slot_ok(const char *slot, size_t n);
/* 1 and the slot in slot (cap bytes) when line is "TOKEN <slot>"; 0 when it is not a TOKEN line; -1 malformed (e). */
int dial_token_parse(const char *line, size_t len, char *slot, size_t cap, struct bb_err *e);
/* A sealed memfd (no write, grow, shrink) holding value[0..len). The fd, or -1 with e set. */
int dial_token_memfd(const void *value, size_t len, struct bb_err *e);
/* The value in a token memfd into out (NUL-terminated; the caller wipes it). Refuses anything but a sealed memfd. */
int dial_token_read_fd(int fd, struct buf *out, struct bb_err *e);
/* Egress: ask the dialer at sock_path for slot's value into out. 0, or -1 with e (code EACCES: the host has none). */
int dial_token_fetch(const char *sock_path, const char *slot, int timeout_ms, struct buf *out, struct bb_err *e);
/* The approver: hand slot's value to the dialer's control socket at sock_path. 0, or -1 with e set. */
int dial_token_push(const char *sock_path, const char *slot, const char *value, size_t vlen, int timeout_ms,
		    struct bb_err *e);

#endif
