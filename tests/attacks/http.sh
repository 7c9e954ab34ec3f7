#!/usr/bin/env bash
# http.sh - the agent crafts requests egress and the upstream could read differently: smuggling (CL.TE, TE.CL,
# TE.TE), malformed framing, header injection, path tricks against a path allowlist, method override headers.
. "$(dirname "$0")/../sh/lib.sh"
. "$(dirname "$0")/lib_attack.inc"
attack_egress_setup
U=http://plain.test:$UP_PLAIN
H="Host: plain.test:$UP_PLAIN"
# A request hidden in a body: if any hop split the stream differently, the upstream would see /smuggled-N.
hidden() { printf 'GET /smuggled-%s HTTP/1.1\\r\\nHost: plain.test\\r\\n\\r\\n' "$1"; }

# --- request smuggling ---
raw_refused "CL.TE: Content-Length then Transfer-Encoding" /smuggled-1 \
	"POST $U/clte HTTP/1.1\r\n$H\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$(hidden 1)" 400 bad-request
raw_refused "TE.CL: Transfer-Encoding then Content-Length" /smuggled-2 \
	"POST $U/tecl HTTP/1.1\r\n$H\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n$(hidden 2)" 400 bad-request
raw_refused "TE.TE: 'chunked' and 'identity' in two Transfer-Encoding headers" /smuggled-3 \
	"POST $U/tete HTTP/1.1\r\n$H\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n$(hidden 3)" '400|501' 'bad-request'
raw_refused "TE.TE: 'xchunked'" /smuggled-4 \
	"POST $U/tete HTTP/1.1\r\n$H\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n$(hidden 4)" '400|501' 'bad-request'
raw_refused "TE.TE: 'chunked' with Content-Length, TE obfuscated by a tab" /smuggled-5 \
	"POST $U/tete HTTP/1.1\r\n$H\r\nContent-Length: 5\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n$(hidden 5)" 400 bad-request
raw_refused "TE.TE: 'chunked, chunked'" /smuggled-6 \
	"POST $U/tete HTTP/1.1\r\n$H\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n$(hidden 6)" '400|501' 'bad-request'
raw_refused "TE.TE: a space before the colon" /smuggled-7 \
	"POST $U/tete HTTP/1.1\r\n$H\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$(hidden 7)" 400 bad-request
raw_refused "TE.TE: Transfer-Encoding folded onto the next line (obs-fold)" /smuggled-8 \
	"POST $U/tete HTTP/1.1\r\n$H\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$(hidden 8)" 400 bad-request
raw_refused "TE.TE: a vertical tab in the value" /smuggled-9 \
	"POST $U/tete HTTP/1.1\r\n$H\r\nTransfer-Encoding: chunked\x0b\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$(hidden 9)" '400|501' bad-request
raw_refused "TE on HTTP/1.0 with Content-Length" /smuggled-10 \
	"POST $U/tete HTTP/1.0\r\n$H\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$(hidden 10)" 400 bad-request
raw_refused "duplicate Content-Length with different values" /smuggled-11 \
	"POST $U/dupcl HTTP/1.1\r\n$H\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n$(hidden 11)" 400 bad-request
raw_refused "Content-Length list '0, 44'" /smuggled-12 \
	"POST $U/dupcl HTTP/1.1\r\n$H\r\nContent-Length: 0, 44\r\n\r\n$(hidden 12)" 400 bad-request
raw_refused "Content-Length with a sign" /smuggled-13 \
	"POST $U/dupcl HTTP/1.1\r\n$H\r\nContent-Length: +44\r\n\r\n$(hidden 13)" 400 bad-request
raw_refused "chunk size with an overflow" /smuggled-14 \
	"POST $U/chunk HTTP/1.1\r\n$H\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n$(hidden 14)" 400 bad-request
raw_refused "obs-fold in an ordinary header" /obsfold \
	"GET $U/obsfold HTTP/1.1\r\n$H\r\nX-A: b\r\n X-Injected: 1\r\n\r\n" 400 bad-request
raw_refused "a bare CR inside a header value" /bare-cr \
	"GET $U/bare-cr HTTP/1.1\r\n$H\r\nX-A: b\rX-Injected: 1\r\n\r\n" 400 bad-request
raw_refused "a NUL inside a header value" /nul \
	"GET $U/nul HTTP/1.1\r\n$H\r\nX-A: b\x00X-Injected: 1\r\n\r\n" 400 bad-request

# Bare LF line ends: refused (egress waits for CRLF CRLF, so an LF-only head times out: 408), or accepted as line
# ends and forwarded as CRLF lines (never a header the upstream reads while egress did not).
line=$(raw_send "GET $U/bare-lf HTTP/1.1\n$H\nX-A: b\nX-Injected: 1\n\n")
if [[ "$(status_of "$line")" == 40[08] ]] && ! arrived /bare-lf && grep -q '"rule":"timeout"\|"rule":"bad-request"' "$AUDIT"; then
	ok "bare LF line ends refused"
elif python3 -c 'import sys; sys.exit(b"X-A: b\r\nX-Injected: 1\r\n" not in open(sys.argv[1], "rb").read())' "$RAW_PLAIN"; then
	ok "bare LF line ends read as line ends and forwarded as CRLF"
else
	fail "bare LF line ends" "got '$line'"
fi
# A bare LF inside a CRLF-terminated value: the upstream (LF-tolerant) would read a header egress never saw.
raw_refused "a bare LF inside a header value (header injection)" /lf-inject \
	"GET $U/lf-inject HTTP/1.1\r\n$H\r\nX-A: b\nX-Injected: 1\r\n\r\n" 400 bad-request
raw_refused "CR LF in the request target (request splitting)" /split \
	"GET $U/split\r\nX-Injected: 1 HTTP/1.1\r\n$H\r\n\r\n" 400 bad-request
raw_refused "a space in the request target" /space \
	"GET $U/space HTTP/1.1 extra HTTP/1.1\r\n$H\r\n\r\n" 400 bad-request
acurl "$U/enc-crlf%0d%0aX-Injected:%20yes" >"$T/code"
if [ "$(cat "$T/code")" = 200 ] && ! grep -qai '^X-Injected: yes' "$RAW_PLAIN" && grep -qai '/enc-crlf%0d%0aX-Injected' "$RAW_PLAIN"; then
	ok "%0d%0a in the target is forwarded still encoded (no header appears upstream)"
else
	fail "encoded CRLF" "status $(cat "$T/code")"
fi

# --- path tricks against path_allowlist ["/v1/"] on paths.test ---
PU=http://paths.test:$UP_PLAIN
PH="Host: paths.test:$UP_PLAIN"
n=0
for path in '/v1/../admin' '/v1/%2e%2e/admin' '/v1/%2E%2E/admin' '/v1/.%2e/admin' '/v1/..%2fadmin' '/v1%2f..%2fadmin' \
	'/v1/%5c..%5cadmin' '/v1/..\admin' '/v1/%252e%252e/admin' '/v1/%252f..%252fadmin' '/v1/..;/admin' '/v1/.;/..;/admin' \
	'/v1/..%3badmin/../admin' '//v1/../admin' '/v1//..//admin' '/v1/%00/../admin' '/v1/..%00/admin' '/admin' '/admin?/v1/' \
	'/admin#/v1/' '/V1/x' '/v1/./../admin' '/v1/%u002e%u002e/admin' '/v1/..%c0%afadmin'; do
	n=$((n + 1))
	raw_refused "path trick $path" "/adm${n}" \
		"GET $PU${path/admin/adm$n} HTTP/1.1\r\n$PH\r\n\r\n" '400|403' 'path-allowlist|bad-path|bad-request'
done
line=$(raw_send "GET $PU/v1/ok-control HTTP/1.1\r\n$PH\r\n\r\n")
if [ "$(status_of "$line")" = 200 ] && arrived /v1/ok-control; then ok "control: a path under /v1/ is allowed"; else fail "path control" "$line"; fi

# --- method override headers on a route that allows GET only ---
GU=https://getonly.test:$UP_TLS
acurl -X POST --data-binary x "$GU/post-control" >"$T/code"
refused "control: POST refused on a GET-only route" /post-control matches ""
for h in 'X-HTTP-Method-Override: DELETE' 'X-HTTP-Method: DELETE' 'X-Method-Override: DELETE' 'x-http-method-override: PUT'; do
	n=$((n + 1))
	acurl -H "$h" "$GU/override$n" >"$T/code"
	refused "GET with '$h' on a GET-only route" "/override$n" 'method-override' ""
done
acurl "$GU/override-q?_method=DELETE" >"$T/code"
refused "GET with ?_method=DELETE on a GET-only route" /override-q 'method-override' ""
acurl -H 'X-HTTP-Method-Override: GET' "$GU/override-get" >"$T/code"
if [ "$(cat "$T/code")" = 200 ]; then ok "control: an override naming an allowed method (GET) passes"; else fail "override GET" "$(cat "$T/code")"; fi
