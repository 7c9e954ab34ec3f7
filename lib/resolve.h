/* resolve.h - asynchronous name resolution on the event loop: /etc/hosts, then resolv.conf's nameservers over UDP (TCP on truncation). */
#ifndef BB_RESOLVE_H
#define BB_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "loop.h"
#include "netaddr.h"

/*
 * How the daemons find upstream addresses without blocking their loop
 * (musl's getaddrinfo blocks). As the system does it: the hosts file
 * first, then the nameservers of resolv.conf in order, each tried for
 * `timeout` before the next, the whole list `attempts` times. Names are
 * queried as given (no search list: policy names are fully qualified).
 * A UDP answer must come from the server asked (connected socket, random
 * source port from the kernel), carry the query's random id and repeat its
 * question; anything else is ignored as a possible spoof. A truncated
 * answer is asked again over TCP. CNAME chains inside one answer are
 * followed (bounded). Positive answers are cached for min(TTL, cap).
 *
 * This module does not decide what may be connected to: the caller
 * classifies each address it actually connects to (netaddr_is_public),
 * which closes the DNS-rebinding gap whatever the cache holds.
 */

#define RESOLVE_MAX_ADDRS 16  /* addresses kept per answer */
#define RESOLVE_MAX_SERVERS 3 /* nameservers used, as MAXNS in resolv.h */
#define RESOLVE_NAME_MAX 253  /* text length of a name, without a trailing dot */

/* A nameserver: address and port (53 unless a test or --upstream says otherwise). */
struct resolve_server {
	struct netaddr addr;
	uint16_t port;
};

/*
 * Parse "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT" (port defaults to 53;
 * the address strict as netaddr_parse). For --upstream options and tests.
 */
int resolve_server_parse(const char *s, size_t len, struct resolve_server *out, struct bb_err *e);

/* What resolv.conf says (the parts bb uses). */
struct resolve_conf {
	struct resolve_server servers[RESOLVE_MAX_SERVERS];
	size_t nservers;
	unsigned timeout_ms; /* "options timeout:N" (seconds, capped at 30), default 5000 */
	unsigned attempts;   /* "options attempts:N" (capped at 5), default 2 */
};

/*
 * Parse resolv.conf text: "nameserver ADDR" lines (the first
 * RESOLVE_MAX_SERVERS valid ones; a scoped or malformed address is
 * skipped, as libc does), "options timeout:N attempts:N"; comments (# ;)
 * and other keywords ignored. No nameserver line means 127.0.0.1, as in
 * libc. Never fails on content; -1 only for bad arguments.
 */
int resolve_conf_parse(const char *text, size_t len, struct resolve_conf *out, struct bb_err *e);

/* Where an answer came from. */
enum resolve_source {
	RESOLVE_FROM_LITERAL, /* the name was an IP literal */
	RESOLVE_FROM_HOSTS,   /* the hosts file */
	RESOLVE_FROM_CACHE,   /* a cached DNS answer */
	RESOLVE_FROM_DNS      /* a nameserver, just now */
};

/* A successful lookup: IPv4 addresses first, in the server's order, then IPv6. */
struct resolve_result {
	size_t naddrs; /* >= 1 */
	struct netaddr addrs[RESOLVE_MAX_ADDRS];
	uint32_t ttl_s; /* seconds the answer may be reused (0 for hosts and literals) */
	enum resolve_source source;
};

/*
 * Look name up in a hosts file ("ADDR NAME ALIAS... # comment" lines,
 * names matched case-insensitively, a trailing dot ignored). Collects the
 * addresses of every matching line, IPv6 ones only when want_ipv6.
 * Returns 1 when found (out filled), 0 when not, -1 when the file exists
 * but cannot be read. A missing file is "not found".
 */
int resolve_hosts_lookup(const char *path, const char *name, size_t len, int want_ipv6,
			 struct resolve_result *out, struct bb_err *e);

struct resolve_config {
	const char *hosts_path;       /* NULL: /etc/hosts */
	const char *resolv_conf_path; /* NULL: /etc/resolv.conf (re-read when it changes) */
	/*
	 * nservers > 0: ask these instead of resolv.conf's nameservers (tests
	 * on 127.0.0.x with a port; bb dns --upstream).
	 */
	struct resolve_server servers[RESOLVE_MAX_SERVERS];
	size_t nservers;
	unsigned timeout_ms;      /* per try; 0: resolv.conf's (default 5000) */
	unsigned attempts;        /* rounds over the server list; 0: resolv.conf's (default 2) */
	int want_ipv6;            /* also ask AAAA (in parallel with A) */
	unsigned max_lookups;     /* lookups querying nameservers at once; 0: 256. More fail at once with BB_ETOOBIG */
	unsigned cache_entries;   /* 0: 256; the least recently used entry is dropped */
	unsigned cache_ttl_max_s; /* cap on a cached answer's life; 0: 300. Zero-TTL answers are not cached */
	int no_cache;             /* 1: never cache */
};

struct resolver;
struct resolve_lookup;

/*
 * The answer to one lookup: exactly one of res (success) and err (failure,
 * a message naming the name and the reason: "no such domain", "no address
 * records", "timed out (2 tries on 1 nameserver)", "server failure",
 * "refused", "not a canonical IPv4 address", ...) is non-NULL. Both are
 * valid only during the call. The lookup handle is gone when it runs; the
 * callback may start new lookups and cancel other ones.
 */
typedef void (*resolve_fn)(void *arg, const struct resolve_result *res, const struct bb_err *err);

/*
 * Make a resolver on loop l. Everything it will use (lookup slots, cache,
 * receive buffer, one eventfd for its run queue) is allocated here,
 * bounded by cfg; cfg is copied (the path strings must outlive the
 * resolver). Reads resolv.conf now (a missing file means 127.0.0.1, as in
 * libc). The hosts file and resolv.conf are re-read when stat() shows a
 * change, so a bind mount or an edit takes effect at the next lookup.
 */
int resolver_new(struct resolver **out, struct loop *l, const struct resolve_config *cfg, struct bb_err *e);

/* Cancel every lookup in flight (their callbacks never run) and free r. Not from inside a callback. */
void resolver_free(struct resolver *r);

/*
 * Start resolving name (len bytes, a host name or an IP literal; a
 * trailing dot is allowed). fn(arg, ...) runs exactly once, always from
 * the loop, never from inside this call (even for hosts, cache and
 * literal answers, which come on the next loop turn; a lookup started from
 * a callback waits for the turn after, so chains cannot starve other I/O),
 * unless the lookup is cancelled first. *handle (may be
 * NULL) identifies the lookup for resolve_cancel and is valid until fn
 * runs or resolve_cancel returns. Returns -1 without calling fn when name
 * is not a valid host name, is a non-canonical IPv4 form, or
 * max_lookups are querying nameservers (BB_ETOOBIG; answers from the hosts
 * file, the cache or a literal send nothing and are never refused so).
 */
int resolve_start(struct resolver *r, const char *name, size_t len, resolve_fn fn, void *arg,
		  struct resolve_lookup **handle, struct bb_err *e);

/* Abandon a lookup (its client went away): sockets closed, fn never called. */
void resolve_cancel(struct resolver *r, struct resolve_lookup *handle);

/* Lookups in flight (for tests and limits). */
size_t resolve_in_flight(const struct resolver *r);

/* Drop every cached answer (e.g. on SIGHUP). */
void resolve_cache_clear(struct resolver *r);

#endif
