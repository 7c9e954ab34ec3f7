#!/usr/bin/env bash
# net.sh - the agent aims egress at addresses policy never named: raw IPs in every spelling, private and metadata
# addresses directly and behind allowed names, DNS rebinding, CONNECT elsewhere, SNI/Host/URI disagreements, DoH.
. "$(dirname "$0")/../sh/lib.sh"
. "$(dirname "$0")/lib_attack.inc"
attack_egress_setup

# --- raw IPs, every spelling, as absolute URIs and as CONNECT targets (bytes sent as-is: curl would normalise) ---
n=0
for host in "$A" 2130706433 0177.0.0.1 0x7f.0.0.1 0x7f000001 127.1 017700000001 "[::ffff:$A]" "[::ffff:7f00:1]" \
	"[::1]" "[fd00::1]" 169.254.169.254 "[::ffff:169.254.169.254]" 10.0.0.1 "[fe80::1]" 0 "127.0.0.1." ; do
	n=$((n + 1))
	# 403 raw-ip for what parses as an address; 400 for spellings that are neither an address nor a host name.
	raw_refused "raw IP $host (absolute URI) refused" "/rawip$n" \
		"GET http://$host:$UP_PLAIN/rawip$n HTTP/1.1\r\nHost: $host:$UP_PLAIN\r\n\r\n" '403|400' 'raw-ip|bad-request'
	raw_refused "raw IP $host (CONNECT) refused" "/nothing-sent" \
		"CONNECT $host:$UP_TLS HTTP/1.1\r\nHost: $host:$UP_TLS\r\n\r\n" '403|400' 'raw-ip|bad-request' 
done
# direct mode: the Host header names an address
raw_refused "raw IP in the Host header (direct mode) refused" "/rawhost" \
	"GET /rawhost HTTP/1.1\r\nHost: $A:$UP_TLS\r\n\r\n" 403 raw-ip

# --- allowed names that resolve to private and metadata addresses ---
for name in metadata.test loop.test ten.test; do
	acurl "http://$name:$UP_PLAIN/priv-$name" >"$T/code"
	refused "$name (allowed name, private answer) refused" "/priv-$name" private-address ""
done
# Egress asks for IPv4 only (the bottle has no IPv6 route): an IPv6 answer is never dialled, private or not.
for name in ula.test mapped.test; do
	acurl "http://$name:$UP_PLAIN/priv-$name" >"$T/code"
	refused "$name (allowed name, only an IPv6 private answer) refused" "\"host\":\"$name\"" resolve "" 502
done
acurl "https://metadata.test/latest/meta-data/" >"$T/code"
refused "CONNECT to an allowed name resolving to the metadata address" '"host":"metadata.test"' private-address ""

# --- DNS rebinding: a resolver whose answer flips on every query (TTL 0) between an allowed address ($A, the
# route's ssrf_ip_allowlist) and a forbidden one ($B, where an "internal" recorder listens). Egress checks the
# address it connects to (one lookup per request), so $B never gets a byte whichever answer came when.
B=$(test_addr)
while [ "$B" = "$A" ]; do B=$(test_addr); done
BP=$UP_PLAIN
python3 "$ATTACKS/recorder.py" "$B" "$BP" "$T/raw-internal" 2>"$T/up-internal.err" &
on_exit "kill_tree $!"
NS_PORT=$(free_port "$A")
cat >"$T/flipdns.py" <<'PY'
import socket, struct, sys
addr, port, good, bad, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
n = 0
while True:
    q, peer = s.recvfrom(512)
    qid, = struct.unpack(">H", q[:2])
    end = 12
    while q[end]:
        end += q[end] + 1
    question = q[12:end + 5]
    qtype, = struct.unpack(">H", q[end + 1:end + 3])
    ans = b""
    if qtype == 1:
        n += 1
        ip = good if n % 2 else bad
        with open(log, "a") as f:
            f.write("%d %s\n" % (n, ip))
        ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + socket.inet_aton(ip)
    hdr = struct.pack(">HHHHHH", qid, 0x8180, 1, 1 if ans else 0, 0, 0)
    s.sendto(hdr + question + ans, peer)
PY
python3 "$T/flipdns.py" "$A" "$NS_PORT" "$A" "$B" "$T/flip.log" 2>"$T/flip.err" &
on_exit "kill_tree $!"
wait_port "$B" "$BP" || fail "internal recorder starts" "$(cat "$T/up-internal.err")"
sleep 0.2
cat >"$T/policy-rebind.json" <<JSON
{"schema":"bb.plan/1","egress":{"routes":[{"host":"rebind.test","ssrf_ip_allowlist":["$A/32"]}]}}
JSON
# rebind_run NAME EGRESS-ARGS...: six requests through a fresh egress; codes, queries and refusals in $codes
# $queries $denied (the flip resolver's count starts again).
rebind_run() {
	local name=$1 port i
	shift
	port=$(free_port "$A")
	: >"$T/flip.log"
	"$BB" egress --policy "$T/policy-rebind.json" --listen "$A:$port" --hosts /dev/null --nameserver "$A:$NS_PORT" \
		--log "$T/rebind-$name.log" "$@" 2>"$T/rebind.err" &
	on_exit "kill_tree $!"
	wait_port "$A" "$port" || fail "egress (rebinding, $name) starts" "$(cat "$T/rebind.err")"
	codes=""
	for i in 1 2 3 4 5 6; do
		codes="$codes $(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -x "http://$A:$port" "http://rebind.test:$UP_PLAIN/rebind$i" 2>/dev/null)"
	done
	queries=$(wc -l <"$T/flip.log" 2>/dev/null || echo 0)
	denied=$(grep -c '"rule":"private-address"' "$T/rebind-$name.log")
}
# Every agent connection dialled afresh (--upstream-idle 0): one lookup each, half of them refused.
rebind_run fresh --upstream-idle 0
if [ -s "$T/raw-internal" ]; then
	fail "DNS rebinding: the forbidden address never gets a byte" "it received $(wc -c <"$T/raw-internal") bytes"
elif [ "$codes" != " 200 403 200 403 200 403" ] || [ "$queries" != 6 ] || [ "$denied" != 3 ]; then
	fail "DNS rebinding: one lookup per request, the address checked is the one dialled" "codes:$codes queries:$queries denied:$denied"
else
	ok "DNS rebinding: one lookup per request, the address checked is the one dialled; the forbidden address got nothing"
fi
# With the idle upstream pool (the default) a later agent reuses the connection made to an address checked
# before (no new lookup; one that comes before the pool has it dials afresh, checked the same way): no
# flipped answer is ever dialled, and each refusal is the check's.
rebind_run pooled
n403=$(tr ' ' '\n' <<<"$codes" | grep -c '^403$')
if [ -s "$T/raw-internal" ]; then
	fail "DNS rebinding, pooled: the forbidden address never gets a byte" "it received $(wc -c <"$T/raw-internal") bytes"
elif tr ' ' '\n' <<<"$codes" | grep -v '^$' | grep -qvE '^(200|403)$' || [ "$queries" -ge 6 ] || [ "$denied" != "$n403" ] ||
	! grep -q ' 200' <<<"$codes"; then
	fail "DNS rebinding, pooled: every request on the connection dialled to the address checked" "codes:$codes queries:$queries denied:$denied"
else
	ok "DNS rebinding, pooled: later agents reuse a connection to an address checked before, never a flipped answer"
fi

# --- CONNECT, SNI, Host and absolute-URI disagreements ---
acurl "https://evil.test:$UP_TLS/x" >"$T/code"
code=$(cat "$T/code")
if [ "$code" = 403 ] || [ "$code" = 000 ]; then
	if logged '"host":"evil.test"' no-route && ! arrived evil.test; then ok "CONNECT to a host without a route"; else fail "CONNECT no route" "not logged"; fi
else
	fail "CONNECT no route" "status $code"
fi
out=$(printf 'GET /sni-mismatch HTTP/1.1\r\nHost: api.test\r\n\r\n' | timeout 10 openssl s_client -quiet -proxy "$A:$EGP" \
	-connect "api.test:$UP_TLS" -servername evil.test -CAfile "$CA" 2>&1)
if ! arrived /sni-mismatch && grep -q sni-mismatch "$AUDIT"; then ok "TLS SNI naming another host than the CONNECT target"; else fail "SNI mismatch" "$out"; fi
acurl -H 'Host: plain.test' "https://api.test:$UP_TLS/fronting" >"$T/code"
refused "inner Host naming another host than the CONNECT target (domain fronting)" '"method":"GET"' host-mismatch "" 403
arrived /fronting && fail "domain fronting" "the request reached an upstream"
raw_refused "absolute URI and Host naming different hosts" /uri-host \
	"GET http://plain.test:$UP_PLAIN/uri-host HTTP/1.1\r\nHost: evil.test\r\n\r\n" 400 host-mismatch
raw_refused "absolute URI with userinfo naming an allowed host (http://plain.test@evil.test)" /userinfo \
	"GET http://plain.test:$UP_PLAIN@evil.test:$UP_PLAIN/userinfo HTTP/1.1\r\nHost: evil.test:$UP_PLAIN\r\n\r\n" '40[03]' 'no-route|bad-request|host-mismatch'
raw_refused "two Host headers" /twohosts \
	"GET /twohosts HTTP/1.1\r\nHost: plain.test\r\nHost: evil.test\r\n\r\n" 400 bad-request

# --- DNS over HTTPS, to an allowed host and to one without a route ---
dnsq=$(printf '\0\1\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\1\0\1' | base64 -w0 | tr '+/' '-_' | tr -d =)
printf '\0\1\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\1\0\1' >"$T/dnsq"
acurl -H 'Content-Type: application/dns-message' --data-binary @"$T/dnsq" "https://doh.test:$UP_TLS/dns-query-post" >"$T/code"
refused "DoH POST application/dns-message to an allowed host" /dns-query-post doh ""
acurl -H 'Accept: application/dns-message' "https://doh.test:$UP_TLS/dns-query?dns=$dnsq" >"$T/code"
refused "DoH GET ?dns= to an allowed host" '"path":"/dns-query"' doh "$dnsq"
acurl "https://doh.test:$UP_TLS/resolve?name=example.com&type=A" >"$T/code"
refused "DoH JSON (/resolve?name=) to an allowed host" '"path":"/resolve"' doh ""
acurl -H 'Content-Type: application/dns-message' --data-binary @"$T/dnsq" "https://dns.google/dns-query" >"$T/code"
code=$(cat "$T/code")
if { [ "$code" = 403 ] || [ "$code" = 000 ]; } && logged '"host":"dns.google"' no-route; then ok "DoH to a host without a route"; else fail "DoH no route" "$code"; fi
