#!/usr/bin/env bash
# egress.sh - bb egress against real clients (curl, python requests, openssl s_client) and a real HTTPS upstream on 127.0.0.x.
. "$(dirname "$0")/lib.sh"

for tool in curl openssl python3 zstd brotli; do
	command -v $tool >/dev/null || { skip "egress" "$tool not installed"; exit 0; }
done

A=$(test_addr)
UP_TLS=$(free_port "$A")
UP_PLAIN=$(free_port "$A")
EGP=$(free_port "$A")
TOKEN="sk-live-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SECRET_ENV="dbpw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export BB_HOME=$T/home
mkdir -p "$BB_HOME"

# The upstream's own CA and certificate (names api.test and other.test).
upstream_cert api.test other.test private.test fetch.test git.test nofetch.test # not wrongname.test

python3 "$TESTS/peers/http_upstream.py" "$A" "$UP_TLS" "$T/up-tls.log" "$T/up.crt" "$T/up.key" 2>"$T/up-tls.err" &
on_exit "kill_tree $!"
python3 "$TESTS/peers/http_upstream.py" "$A" "$UP_PLAIN" "$T/up-plain.log" 2>"$T/up-plain.err" &
on_exit "kill_tree $!"
wait_port "$A" "$UP_TLS" && wait_port "$A" "$UP_PLAIN" || { fail "upstreams start" "$(cat "$T"/up-*.err)"; exit 0; }
UP_GIT=$(free_port "$A")
mkdir -p "$T/git"
git init -q --bare "$T/git/app.git"
git -C "$T/git/app.git" config http.receivepack true
git -C "$T/git/app.git" symbolic-ref HEAD refs/heads/main
git init -q "$T/work" && git -C "$T/work" -c user.name=t -c user.email=t@t commit -q --allow-empty -m first &&
	git -C "$T/work" push -q "$T/git/app.git" HEAD:refs/heads/main 2>/dev/null
python3 "$TESTS/peers/git_http_upstream.py" "$A" "$UP_GIT" "$T/git" "$T/up.crt" "$T/up.key" 2>"$T/up-git.err" &
on_exit "kill_tree $!"
wait_port "$A" "$UP_GIT" || { fail "git upstream starts" "$(cat "$T/up-git.err")"; exit 0; }
printf '%s api.test other.test plain.test private.test fetch.test git.test nofetch.test wrongname.test tunnel.test\n169.254.169.254 metadata.test\n' "$A" >"$T/hosts"

write_policy() { # extra route JSON appended
	cat >"$T/policy.json" <<EOF
{"schema":"bb.plan/1","egress":{"routes":[
 {"host":"api.test","auth":{"scheme":"Bearer","token_slot":"BB_EGRESS_TOKEN_0","token_ref":"T"},
  "path_allowlist":["/v1/","/inject","/big"],"ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"plain.test","ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"private.test"},
 {"host":"other.test","ssrf_ip_allowlist":["127.0.0.0/8"],"dlp":{"outbound":false,"inbound":false}},
 {"host":"git.test","git_fetch":true,"ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"nofetch.test","ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"metadata.test","ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"wrongname.test","ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"tunnel.test","tls_passthrough":true,"ssrf_ip_allowlist":["127.0.0.0/8"]}$1
]}}
EOF
}
write_policy ""

"$BB" bottle ca init >/dev/null 2>&1 || { fail "bottle ca init" "could not create the CA"; exit 0; }
CA=$BB_HOME/.bb/ca/ca.crt

start_egress() {
	BB_EGRESS_TOKEN_0=$TOKEN SECRET_ENV=$SECRET_ENV SSL_CERT_FILE=$T/upca.crt \
		"$BB" egress --policy "$T/policy.json" --listen "$A:$EGP" --hosts "$T/hosts" --known SECRET_ENV \
		--log "$T/audit.log" --head-timeout 2 "$@" 2>"$T/egress.err" &
	EG_PID=$!
	on_exit "kill_tree $EG_PID"
	wait_port "$A" "$EGP" || { fail "egress starts" "$(cat "$T/egress.err")"; exit 0; }
	P=http://$A:$EGP
}
start_egress
ucurl() { curl -sS --max-time 10 -x "$P" --cacert "$CA" "$@"; }
last_up() { tail -n 1 "$T/$1"; }
# up_port PATH: the client port of the upstream connection the last request for PATH came over.
up_port() { grep "\"path\": \"$1\"" "$T/up-tls.log" | tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["peer_port"])'; }
audit_has() { grep -q "$1" "$T/audit.log"; }

# --- allowed traffic and credential injection ---
out=$(ucurl "https://api.test:$UP_TLS/v1/hello?x=1" -H 'Authorization: Bearer egress-placeholder' -H 'X-Api-Key: agentkey')
rec=$(last_up up-tls.log)
if [[ "$rec" == *"\"Authorization\": \"Bearer $TOKEN\""* && "$rec" != *egress-placeholder* && "$rec" != *agentkey* ]]; then
	ok "HTTPS via CONNECT: the upstream sees only the injected token"
else
	fail "HTTPS via CONNECT: token injection" "$rec $out"
fi
if [[ "$out" == *'"path": "/v1/hello?x=1"'* ]]; then ok "HTTPS via CONNECT: the agent gets the upstream's answer"; else fail "MITM answer" "$out"; fi
if grep -q "$TOKEN" "$T/audit.log" "$T/egress.err"; then fail "token never logged" "found in the log"; else ok "the token never appears in the logs"; fi

out=$(curl -sS --max-time 10 "http://$A:$EGP/v1/direct" -H "Host: api.test:$UP_TLS")
if [[ "$out" == *'"path": "/v1/direct"'* && "$(last_up up-tls.log)" == *"Bearer $TOKEN"* ]]; then
	ok "direct mode: Host names the route, upstream over HTTPS with the token"
else
	fail "direct mode" "$out"
fi

out=$(curl -sS --max-time 10 -x "$P" "http://plain.test:$UP_PLAIN/anything" -H 'Authorization: Basic YWdlbnQ6cHc=')
if [[ "$out" == *'"path": "/anything"'* && "$(last_up up-plain.log)" != *Authorization* ]]; then
	ok "plain HTTP proxying; the agent's Authorization is stripped"
	if [[ "$(last_up up-plain.log)" == *"\"Host\": \"plain.test:$UP_PLAIN\""* ]]; then ok "absolute-form: Host keeps the URI's explicit port"; else fail "Host port" "$(last_up up-plain.log)"; fi
else
	fail "plain HTTP proxying" "$out"
fi

# keep-alive: two requests, one agent connection (one conn id in the audit log for both)
curl -sS --max-time 10 -x "$P" "http://plain.test:$UP_PLAIN/ka1" "http://plain.test:$UP_PLAIN/ka2" >/dev/null
ids=$(grep -E '"path":"/ka[12]"' "$T/audit.log" | grep -o '"conn":"[0-9]*"' | sort -u | wc -l)
if [ "$ids" = 1 ]; then ok "keep-alive: both requests on one connection"; else fail "keep-alive" "conn ids: $ids"; fi

out=$(ucurl -X POST --data-binary @- "https://api.test:$UP_TLS/v1/upload" < <(head -c 300000 /dev/zero | tr '\0' 'a'))
if [[ "$(last_up up-tls.log)" == *'"method": "POST"'* ]] && [ "$(last_up up-tls.log | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["body"]))')" = 300000 ]; then
	ok "a 300 KB request body arrives whole"
else
	fail "large request body" "$(last_up up-tls.log | head -c 200)"
fi
n=$(ucurl "https://api.test:$UP_TLS/big/chunked?n=250000" | wc -c)
if [ "$n" = 250000 ]; then ok "a 250 KB chunked response arrives whole"; else fail "chunked response" "got $n bytes"; fi
# Long bodies through interception: egress moves a buffer's worth per round and must come back for the rest
# itself, since bytes already inside its TLS engine wake no epoll (it stalled at about 2 MB).
for i in 1 2 3; do
	n=$(ucurl --max-time 20 "https://api.test:$UP_TLS/big/chunked?n=3000000" 2>/dev/null | wc -c)
	[ "$n" = 3000000 ] || break
done
if [ "$n" = 3000000 ]; then ok "3 MB chunked responses through interception arrive whole (three in a row)"; else fail "3 MB chunked through interception" "got $n bytes"; fi
# An agent that hangs up in the middle of an intercepted answer: its connection is freed, egress does not spin.
cpu() { awk '{print $14 + $15}' "/proc/$EG_PID/stat"; }
ucurl --max-time 1 --limit-rate 200k -o /dev/null "https://api.test:$UP_TLS/big/chunked?n=20000000" 2>/dev/null
t0=$(cpu)
sleep 1
used=$(( $(cpu) - t0 ))
if [ "$used" -le 20 ] && grep '/big/chunked' "$T/audit.log" | tail -n 1 | grep -q '"verdict":"abort"'; then
	ok "an agent hanging up mid-answer: connection closed, egress idle ($used ticks in the next second)"
else
	fail "agent hangs up mid-answer" "egress used $used clock ticks in the second after; last line: $(grep '/big/chunked' "$T/audit.log" | tail -n 1)"
fi
out=$(ucurl -H 'Transfer-Encoding: chunked' --data-binary 'chunked body here' "https://api.test:$UP_TLS/v1/chunked")
if [[ "$(last_up up-tls.log)" == *'"body": "chunked body here"'* ]]; then ok "chunked request body forwarded"; else fail "chunked request" "$out"; fi
out=$(ucurl -H 'Expect: 100-continue' --data-binary 'after continue' "https://api.test:$UP_TLS/v1/expect")
if [[ "$out" == *'after continue'* ]]; then ok "Expect: 100-continue"; else fail "100-continue" "$out"; fi

# --- denials, with a reason the agent can act on ---
deny_check() { # NAME RULE CURL-ARGS...
	local name=$1 rule=$2 out code; shift 2
	out=$(curl -sS --max-time 10 -o "$T/body" -w '%{http_code}' "$@" 2>&1)
	code=$out
	if [ "$code" = 403 ] && grep -q "rule: $rule" "$T/body" && grep -q supervise "$T/body"; then
		ok "$name"
	else
		fail "$name" "status $code: $(head -c 300 "$T/body" 2>/dev/null)"
	fi
}
deny_check "no route: 403 names the rule and the supervise tool" no-route -x "$P" "http://evil.test:$UP_PLAIN/x"
deny_check "raw IP refused" raw-ip -x "$P" "http://$A:$UP_PLAIN/x"
deny_check "path outside path_allowlist" path-allowlist -x "$P" --cacert "$CA" "https://api.test:$UP_TLS/admin"
code=$(ucurl -o "$T/body" -w '%{http_code}' --path-as-is "https://api.test:$UP_TLS/v1/../admin")
if [[ "$code" == 40[03] ]] && grep -q 'dot-segment\|bad-path' "$T/body"; then ok "dot segments cannot escape the allowlist"; else fail "dot segments" "$code $(cat "$T/body")"; fi
deny_check "a name resolving to loopback is refused" private-address -x "$P" "http://private.test:$UP_PLAIN/x"
deny_check "credentials are never injected over plain HTTP" auth-over-http -x "$P" "http://api.test:$UP_PLAIN/v1/x"
deny_check "DNS over HTTPS refused" doh -x "$P" -H 'Content-Type: application/dns-message' --data-binary x "http://plain.test:$UP_PLAIN/q"
deny_check "git push over HTTP refused" git-push -x "$P" "http://plain.test:$UP_PLAIN/r.git/info/refs?service=git-receive-pack"

code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -x "$P" --cacert "$CA" "https://evil.test:443/" 2>&1)
if [[ "$code" == *403* ]] && audit_has '"host":"evil.test".*"rule":"no-route"'; then
	ok "CONNECT to a host without a route: 403 before any TLS"
else
	fail "CONNECT without route" "$code"
fi

deny_check "a name resolving to the cloud metadata address is refused" private-address -x "$P" "http://metadata.test/latest/meta-data/"
if grep -q 'cloud metadata' "$T/body"; then ok "the refusal names the metadata address class"; else fail "metadata reason" "$(cat "$T/body")"; fi
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -x "$P" "https://[::1]:443/" 2>&1)
if [[ "$code" == *403* ]]; then ok "CONNECT to an IPv6 literal refused"; else fail "IPv6 literal" "$code"; fi
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -x "$P" "http://2130706433/" 2>&1)
if [[ "$code" == *403* ]] && audit_has '"rule":"raw-ip"'; then ok "a decimal IPv4 host (2130706433) is a raw IP"; else fail "decimal IP" "$code"; fi

# --- git over HTTPS through egress: fetch only where git.fetch allows it, never push ---
gitx() { GIT_SSL_CAINFO=$CA git -c http.proxy="$P" -c protocol.version=2 "$@"; }
if out=$(gitx clone -q "https://git.test:$UP_GIT/app.git" "$T/clone" 2>&1) && [ -n "$(git -C "$T/clone" log --oneline 2>/dev/null)" ]; then
	ok "git clone over HTTPS through egress (git.fetch: true)"
else
	fail "git clone" "$out"
fi
if out=$(gitx clone -q "https://nofetch.test:$UP_GIT/app.git" "$T/clone2" 2>&1); then
	fail "git clone without git.fetch" "it worked"
else
	[[ "$out" == *403* ]] && ok "git clone refused on a route without git.fetch" || fail "git clone without git.fetch" "$out"
fi
if [ -d "$T/clone" ]; then
	git -C "$T/clone" -c user.name=t -c user.email=t@t commit -q --allow-empty -m second
	if out=$(gitx -C "$T/clone" push -q origin HEAD:refs/heads/main 2>&1); then
		fail "git push over HTTPS" "it worked"
	else
		[[ "$out" == *403* ]] && ok "git push over HTTPS refused (git-gate is the way)" || fail "git push refused" "$out"
	fi
fi

code=$(ucurl -o "$T/body" -w '%{http_code}' "https://wrongname.test:$UP_TLS/" 2>&1)
if [ "$code" = 502 ] && grep -qi 'certificate' "$T/body"; then ok "an upstream certificate not valid for the host: 502 with the reason"; else fail "upstream cert check" "$code $(cat "$T/body")"; fi

# --- DLP: the secret never reaches the upstream ---
before=$(wc -l <"$T/up-tls.log")
fake_gh="ghp_$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)"
dlp_check() { # NAME CURL-ARGS...
	local name=$1 code; shift
	code=$(ucurl -o "$T/body" -w '%{http_code}' "$@" 2>&1)
	if [ "$code" = 403 ] && grep -q 'rule: dlp' "$T/body" && ! grep -q "$fake_gh\|$TOKEN\|$SECRET_ENV" "$T/body"; then
		ok "$name"
	else
		fail "$name" "status $code: $(head -c 300 "$T/body")"
	fi
}
dlp_check "DLP: a GitHub token in the query" "https://api.test:$UP_TLS/v1/x?token=$fake_gh"
dlp_check "DLP: a GitHub token in a header" -H "X-Note: $fake_gh" "https://api.test:$UP_TLS/v1/x"
dlp_check "DLP: a GitHub token in the body" --data-binary "{\"k\":\"$fake_gh\"}" "https://api.test:$UP_TLS/v1/x"
dlp_check "DLP: a token in a chunked body" -H 'Transfer-Encoding: chunked' --data-binary "pad $fake_gh pad" "https://api.test:$UP_TLS/v1/x"
big_pad=$(head -c 40000 /dev/zero | tr '\0' 'x')
dlp_check "DLP: a token deep in a 80 KB body" --data-binary "$big_pad $fake_gh $big_pad" "https://api.test:$UP_TLS/v1/x"
dlp_check "DLP: the bottle's own token, echoed back by the agent" --data-binary "the token is $TOKEN" "https://api.test:$UP_TLS/v1/x"
dlp_check "DLP: a known secret env value, base64-encoded" --data-binary "v=$(printf %s "$SECRET_ENV" | base64)" "https://api.test:$UP_TLS/v1/x"
dlp_check "DLP: a known secret, hex-encoded in the URL" "https://api.test:$UP_TLS/v1/x?h=$(printf %s "$SECRET_ENV" | od -An -tx1 | tr -d ' \n')"
# A body too big to hold is streamed with a hold-back: the upstream may see its start, never the secret.
if grep -q "$fake_gh\|the token is\|$SECRET_ENV" "$T/up-tls.log"; then fail "DLP leak" "a secret reached the upstream"; else ok "DLP: no blocked secret reached the upstream"; fi
# A body that came with its head is scanned before the head leaves, even to a pooled upstream that is
# ready at once: only the 80 KB one, too big to hold, may show the upstream its start; none arrives whole.
seen=$(tail -n +$((before + 1)) "$T/up-tls.log" | wc -l)
[ "$seen" -le 1 ] && ok "DLP: a blocked request whose body came with its head never reaches the upstream, pooled or not" ||
	fail "DLP requests seen" "$seen blocked requests reached the upstream (at most the 80 KB one may)"
whole=$(tail -n +$((before + 1)) "$T/up-tls.log" | python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    d = json.loads(line)
    if len(d["body"]) == int(d["headers"].get("Content-Length", -1)):
        n += 1
print(n)')
if [ "$whole" = 0 ]; then ok "DLP: no blocked request reached the upstream whole"; else fail "DLP requests" "$whole arrived whole"; fi
printf '{"key": "%s"}' "$fake_gh" | gzip -c >"$T/secret.gz"
dlp_check "DLP: a token inside a gzip-compressed body" -H 'Content-Encoding: gzip' --data-binary @"$T/secret.gz" "https://api.test:$UP_TLS/v1/x"
printf 'nothing to see here' | gzip -c >"$T/clean.gz"
code=$(ucurl -o /dev/null -w '%{http_code}' -H 'Content-Encoding: gzip' --data-binary @"$T/clean.gz" "https://api.test:$UP_TLS/v1/gz")
if [ "$code" = 200 ]; then ok "a clean gzip body is forwarded as sent"; else fail "clean gzip" "$code"; fi
python3 -c 'import gzip,sys; sys.stdout.buffer.write(gzip.compress(b"a" * (20 << 20)))' >"$T/bomb.gz"
code=$(ucurl -o "$T/body" -w '%{http_code}' -H 'Content-Encoding: gzip' --data-binary @"$T/bomb.gz" "https://api.test:$UP_TLS/v1/x")
if [ "$code" = 413 ]; then ok "a gzip bomb (20 KB to 20 MB) is refused with 413"; else fail "gzip bomb" "$code $(head -c 200 "$T/body")"; fi
# zstd (Codex's sign-in flow) and br bodies are decoded and scanned like gzip, never refused for their coding.
printf '{"key": "%s"}' "$fake_gh" | zstd -q -c >"$T/secret.zst"
dlp_check "DLP: a token inside a zstd-compressed body" -H 'Content-Encoding: zstd' --data-binary @"$T/secret.zst" "https://api.test:$UP_TLS/v1/x"
printf '{"key": "%s"}' "$fake_gh" | brotli -c >"$T/secret.br"
dlp_check "DLP: a token inside a br-compressed body" -H 'Content-Encoding: br' --data-binary @"$T/secret.br" "https://api.test:$UP_TLS/v1/x"
for enc in zstd br; do
	if [ $enc = zstd ]; then printf '{"input": "nothing to see here"}' | zstd -q -c >"$T/clean.$enc"; else printf '{"input": "nothing to see here"}' | brotli -c >"$T/clean.$enc"; fi
	code=$(ucurl -o /dev/null -w '%{http_code}' -H "Content-Encoding: $enc" --data-binary @"$T/clean.$enc" "https://api.test:$UP_TLS/v1/$enc")
	if [ "$code" = 200 ] && cmp -s <(last_up up-tls.log | python3 -c 'import json,sys; sys.stdout.buffer.write(json.load(sys.stdin)["body"].encode("latin1"))') "$T/clean.$enc"; then
		ok "a clean $enc body is forwarded as sent"
	else
		fail "clean $enc body" "status $code"
	fi
done
python3 -c 'import sys; sys.stdout.buffer.write(b"a" * (20 << 20))' | zstd -q -c >"$T/bomb.zst"
code=$(ucurl -o "$T/body" -w '%{http_code}' -H 'Content-Encoding: zstd' --data-binary @"$T/bomb.zst" "https://api.test:$UP_TLS/v1/x")
if [ "$code" = 413 ]; then ok "a zstd bomb (20 MB) is refused with 413"; else fail "zstd bomb" "$code $(head -c 200 "$T/body")"; fi
head -c -4 "$T/clean.zstd" >"$T/cut.zst"
code=$(ucurl -o "$T/body" -w '%{http_code}' -H 'Content-Encoding: zstd' --data-binary @"$T/cut.zst" "https://api.test:$UP_TLS/v1/x")
if [ "$code" = 400 ] && grep -q 'ends before its compressed stream' "$T/body"; then ok "a zstd body cut short is refused"; else fail "truncated zstd" "$code $(head -c 200 "$T/body")"; fi
code=$(ucurl -D "$T/head" -o "$T/body" -w '%{http_code}' -H 'Content-Encoding: compress' --data-binary 'xx' "https://api.test:$UP_TLS/v1/x")
if [ "$code" = 415 ] && grep -q "coding 'compress'" "$T/body" && grep -q '^HTTP/1.1 415 Unsupported Media Type' "$T/head"; then
	ok "a coding egress cannot decode (compress) is refused with 415 Unsupported Media Type, naming it"
else
	fail "compress body" "$code $(head -n 1 "$T/head") $(head -c 200 "$T/body")"
fi
code=$(ucurl -o "$T/body" -w '%{http_code}' -H 'Content-Encoding: gzip, br' --data-binary 'xx' "https://api.test:$UP_TLS/v1/x")
if [ "$code" = 415 ] && grep -q 'gzip, br' "$T/body"; then ok "two stacked codings are refused with 415, naming them"; else fail "stacked codings" "$code"; fi
out=$(ucurl --data-binary "k=$fake_gh" "https://other.test:$UP_TLS/v1/x")
if [[ "$out" == *'"method": "POST"'* ]]; then ok "DLP off on a route with outbound_detectors: false"; else fail "dlp false" "$out"; fi

# --- inbound prompt injection: annotated (logged) by default ---
out=$(ucurl "https://api.test:$UP_TLS/inject")
if [[ "$out" == *"Ignore all previous"* ]] && grep -q '"event":"injection"' "$T/egress.err" "$T/audit.log"; then
	ok "inbound injection logged (annotate mode)"
else
	fail "inbound injection" "$out"
fi

# --- TLS: SNI and Host must name the CONNECT host ---
out=$(printf 'GET /v1/x HTTP/1.1\r\nHost: api.test\r\n\r\n' | timeout 10 openssl s_client -quiet -proxy "$A:$EGP" \
	-connect "api.test:$UP_TLS" -servername other.test -CAfile "$CA" 2>&1)
if [[ "$out" != *'"path"'* ]] && audit_has 'sni-mismatch'; then ok "SNI differing from the CONNECT host is refused"; else fail "SNI mismatch" "$out"; fi
code=$(ucurl -o "$T/body" -w '%{http_code}' -H 'Host: other.test' "https://api.test:$UP_TLS/v1/x")
if [ "$code" = 403 ] && grep -q host-mismatch "$T/body"; then ok "Host differing from the CONNECT host is refused (domain fronting)"; else fail "Host mismatch" "$code"; fi
out=$(curl -sS --max-time 10 -x "$P" "https://api.test:$UP_TLS/v1/x" 2>&1)
if [[ "$out" == *"certificate"* || "$out" == *"SSL"* ]]; then ok "the agent without the bottle CA does not trust the interception"; else fail "CA trust" "$out"; fi

# --- smuggling and malformed requests, raw on the socket ---
raw() { # send bytes, print the status line
	exec 3<>"/dev/tcp/$A/$EGP" || return 1
	printf '%b' "$1" >&3
	timeout 5 head -n 1 <&3 | tr -d '\r'
	exec 3<&-
}
raw_check() { # NAME EXPECTED-STATUS BYTES
	local got
	got=$(raw "$3")
	if [[ "$got" == *" $2 "* ]]; then ok "$1"; else fail "$1" "got '$got'"; fi
}
H="Host: plain.test:$UP_PLAIN"
U="http://plain.test:$UP_PLAIN"
raw_check "smuggling: Content-Length with Transfer-Encoding" 400 "POST $U/ HTTP/1.1\r\n$H\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
raw_check "smuggling: duplicate Content-Length" 400 "POST $U/ HTTP/1.1\r\n$H\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd"
raw_check "smuggling: obs-fold" 400 "GET $U/ HTTP/1.1\r\n$H\r\nX-A: b\r\n c\r\n\r\n"
raw_check "smuggling: space before the colon" 400 "GET $U/ HTTP/1.1\r\n$H\r\nTransfer-Encoding : chunked\r\n\r\n"
raw_check "smuggling: bare CR" 400 "GET $U/ HTTP/1.1\r\n$H\r\nX-A: b\rc\r\n\r\n"
raw_check "chunked not the final coding" 400 "POST $U/ HTTP/1.1\r\n$H\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
raw_check "a transfer coding egress does not know: 501" 501 "POST $U/ HTTP/1.1\r\n$H\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
raw_check "oversized head: 431" 431 "GET $U/ HTTP/1.1\r\n$H\r\nX-Big: $(head -c 17000 /dev/zero | tr '\0' a)\r\n\r\n"
raw_check "Host differing from the absolute URI" 400 "GET $U/ HTTP/1.1\r\nHost: other.test\r\n\r\n"
raw_check "h2c upgrade refused" 501 "GET $U/ HTTP/1.1\r\n$H\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
got=$(python3 - "$A" "$EGP" "$U" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(("GET %s/slow HTTP/1.1\r\nHost: plain" % sys.argv[3]).encode())
s.settimeout(6)
print(s.recv(100).split(b"\r\n")[0].decode())
PY
)
if [[ "$got" == *" 408 "* ]]; then ok "slowloris: a head that trickles is answered 408"; else fail "head timeout" "got '$got'"; fi

# pipelining: two requests in one write, answered in order
got=$(raw "GET $U/p1 HTTP/1.1\r\n$H\r\n\r\nGET $U/p2 HTTP/1.1\r\n$H\r\nConnection: close\r\n\r\n" >/dev/null; \
	exec 3<>"/dev/tcp/$A/$EGP"; printf "GET $U/p1 HTTP/1.1\r\n$H\r\n\r\nGET $U/p2 HTTP/1.1\r\n$H\r\nConnection: close\r\n\r\n" >&3; timeout 5 cat <&3 | grep -o '"path": "/p[12]"' | tr '\n' ' ')
if [ "$got" = '"path": "/p1" "path": "/p2" ' ]; then ok "pipelined requests answered in order"; else fail "pipelining" "$got"; fi

# --- python requests with REQUESTS_CA_BUNDLE ---
if python3 -c 'import requests' 2>/dev/null; then
	out=$(REQUESTS_CA_BUNDLE=$CA HTTPS_PROXY=$P python3 -c "import requests; r = requests.get('https://api.test:$UP_TLS/v1/py'); print(r.status_code, r.json()['path'])" 2>&1)
	if [ "$out" = "200 /v1/py" ]; then ok "python requests through egress with REQUESTS_CA_BUNDLE"; else fail "python requests" "$out"; fi
else
	skip "python requests" "python3-requests not installed"
fi

# --- Node: CONNECT then TLS with NODE_EXTRA_CA_CERTS (Node's fetch has no proxy support of its own) ---
if command -v node >/dev/null; then
	out=$(NODE_EXTRA_CA_CERTS=$CA timeout 20 node - "$A" "$EGP" "$UP_TLS" 2>&1 <<'JS'
const http = require("http"), https = require("https");
const [addr, port, upPort] = process.argv.slice(2);
http.request({ host: addr, port, method: "CONNECT", path: `api.test:${upPort}` })
  .on("connect", (res, socket) => {
    if (res.statusCode !== 200) { console.log("CONNECT", res.statusCode); process.exit(1); }
    https.get({ host: "api.test", path: "/v1/node", socket, agent: false, servername: "api.test" }, (r) => {
      let body = ""; r.on("data", (d) => (body += d));
      r.on("end", () => { console.log(r.statusCode, JSON.parse(body).path); process.exit(0); });
    }).on("error", (e) => { console.log("error", e.message); process.exit(1); });
  }).on("error", (e) => { console.log("error", e.message); process.exit(1); }).end();
JS
)
	if [ "$out" = "200 /v1/node" ]; then ok "Node https through egress with NODE_EXTRA_CA_CERTS"; else fail "Node client" "$out"; fi
else
	skip "Node client" "node not installed"
fi

# --- reload: SIGHUP adds a route; a broken policy keeps the old one ---
ucurl "https://api.test:$UP_TLS/v1/prereload" >/dev/null
reloaded() { grep -h -c '"event":"reload"' "$T/audit.log" "$T/egress.err" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
reloads=$(reloaded)
write_policy ',{"host":"fetch.test","ssrf_ip_allowlist":["127.0.0.0/8"]}'
kill -HUP "$EG_PID"
sleep 0.3
out=$(curl -sS --max-time 10 -x "$P" "http://fetch.test:$UP_PLAIN/new")
if [[ "$out" == *'"path": "/new"'* ]]; then ok "SIGHUP reload: a new route works"; else fail "reload" "$out"; fi
# (an idle connection is kept 4 s: the reload must be seen well before that, or this proves nothing)
for _ in $(seq 40); do [ "$(reloaded)" -gt "$reloads" ] && break; sleep 0.05; done
ucurl "https://api.test:$UP_TLS/v1/postreload" >/dev/null
p1=$(up_port /v1/prereload) p2=$(up_port /v1/postreload)
if [ "$(reloaded)" -gt "$reloads" ] && [ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != "$p2" ]; then
	ok "idle upstream: a connection dialed under the old policy does not serve the reloaded one"
else
	fail "idle upstream across a reload" "client ports $p1 then $p2; reload lines $reloads then $(reloaded)"
fi
echo '{"egress":{"routes":[{"host":' >"$T/policy.json"
kill -HUP "$EG_PID"
sleep 0.3
out=$(curl -sS --max-time 10 -x "$P" "http://fetch.test:$UP_PLAIN/still")
if [[ "$out" == *'"path": "/still"'* ]] && grep -q '"result":"refused"' "$T/audit.log" "$T/egress.err"; then
	ok "a broken policy on reload is refused and the old one kept"
else
	fail "bad reload" "$out"
fi

# --- reload under load: requests keep succeeding while the policy is reloaded again and again ---
(
	fails=0
	for i in $(seq 60); do
		curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' -x "$P" "http://plain.test:$UP_PLAIN/load$i" 2>/dev/null | grep -q '^200$' || fails=$((fails + 1))
	done
	echo "$fails" >"$T/load.fails"
) &
loader=$!
for _ in $(seq 20); do kill -HUP "$EG_PID"; sleep 0.05; done
wait "$loader"
reloads=$(grep -c '"event":"reload"' "$T/audit.log" "$T/egress.err" 2>/dev/null | awk -F: '{s += $NF} END {print s}')
if [ "$(cat "$T/load.fails")" = 0 ] && [ "$reloads" -ge 20 ] && kill -0 "$EG_PID"; then
	ok "reload under load: 60 requests during 20 reloads, none failed"
else
	fail "reload under load" "failed requests: $(cat "$T/load.fails"), reloads logged: $reloads"
fi

# --- the audit trail ---
if python3 - "$T/audit.log" <<'PY'; then ok "audit: every line is JSON with the decision fields"; else fail "audit format" "$(head -n 3 "$T/audit.log")"; fi
import json, sys
need = {"conn", "host", "method", "path", "verdict", "rule", "status", "bytes_up", "bytes_down", "ms"}
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("event") == "request":
        n += 1
        assert need <= set(d), d
sys.exit(0 if n > 10 else 1)
PY

# --- idle upstream connections: reused by later agent connections, for the same route and credential only ---
ucurl "https://api.test:$UP_TLS/v1/pool1" >/dev/null
ucurl "https://api.test:$UP_TLS/v1/pool2" >/dev/null
ucurl "https://other.test:$UP_TLS/pool3" >/dev/null
p1=$(up_port /v1/pool1) p2=$(up_port /v1/pool2) p3=$(up_port /pool3)
if [ -n "$p1" ] && [ "$p1" = "$p2" ]; then
	ok "idle upstream: a second agent connection reuses the first one's upstream connection"
else
	fail "idle upstream reuse" "client ports $p1 then $p2"
fi
if [ -n "$p3" ] && [ "$p3" != "$p2" ]; then
	ok "idle upstream: never handed to another route (same upstream address, another name and credential)"
else
	fail "idle upstream across routes" "api.test's connection ($p2) served other.test ($p3)"
fi
# A CONNECT tunnel needs a connection of its own: never an idle one that plain proxying left.
curl -sS --max-time 10 -x "$P" "http://tunnel.test:$UP_PLAIN/t1" >/dev/null
out=$(curl -sS --max-time 10 -p -x "$P" "http://tunnel.test:$UP_PLAIN/t2" 2>&1)
if [[ "$out" == *'"path": "/t2"'* ]]; then
	ok "idle upstream: a CONNECT tunnel gets a fresh connection, not one plain proxying left idle"
else
	fail "tunnel after plain proxying to the same host" "$out"
fi

# --- TLS session resumption, both sides ---
# openssl s_server -www is an upstream that says whether it resumed ("Reused," on its status page).
UP_RS=$(free_port "$A")
openssl s_server -www -accept "$A:$UP_RS" -cert "$T/up.crt" -key "$T/up.key" >"$T/up-rs.log" 2>&1 </dev/null &
on_exit "kill_tree $!"
if wait_port "$A" "$UP_RS"; then
	# Two requests on one agent connection: s_server -www answers HTTP/1.0 and closes, so the second
	# goes over a new upstream connection, which should resume the first one's session.
	out=$(ucurl "https://other.test:$UP_RS/" "https://other.test:$UP_RS/" 2>&1)
	if [ "$(grep -c '^New, TLSv1.2' <<<"$out")" = 1 ] && [ "$(grep -c '^Reused, TLSv1.2' <<<"$out")" = 1 ]; then
		ok "upstream TLS: the second connection to the same host resumes the first one's session"
	else
		fail "upstream TLS resumption" "$(grep -E '^(New|Reused),' <<<"$out" | tr '\n' ' ') $(head -c 300 <<<"$out")"
	fi
	# sclient NAME CONNECT-HOST [s_client args...]: a handshake and a GET through egress, until egress
	# closes; the output in $T/NAME.out, the handshake's summary ("New, ..." or "Reused, ...") printed.
	sclient() {
		local name=$1 host=$2; shift 2
		printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" |
			timeout 10 openssl s_client -proxy "$A:$EGP" -connect "$host:$UP_RS" -CAfile "$CA" \
				-verify_return_error -ign_eof "$@" >"$T/$name.out" 2>&1
		grep -E '^(New|Reused),' "$T/$name.out" | head -n 1
	}
	first=$(sclient rs1 other.test -servername other.test -sess_out "$T/other.sess")
	second=$(sclient rs2 other.test -servername other.test -sess_in "$T/other.sess")
	if [[ "$first" == New,* && "$second" == Reused,* ]]; then
		ok "agent TLS: a session the agent kept is resumed (s_client -sess_out, then -sess_in: Reused)"
	else
		fail "agent TLS resumption" "first '$first' second '$second' $(tail -n 5 "$T/rs2.out" | tr '\n' ' ')"
	fi
	# A session made for other.test offered on a CONNECT and SNI for api.test: a full handshake.
	cross=$(sclient rs3 api.test -servername api.test -sess_in "$T/other.sess")
	if [[ "$cross" == New,* ]] && grep -q 'subject=CN = api.test' "$T/rs3.out"; then
		ok "agent TLS: a session made for one host never resumes for another (full handshake, that host's leaf)"
	else
		fail "agent TLS cross-host session" "'$cross' $(grep subject= "$T/rs3.out")"
	fi
	# The same session without SNI on the host it was made for: refused after the handshake, as is
	# an SNI naming another host (domain fronting).
	before=$(grep -c '"sni-mismatch"' "$T/audit.log")
	sclient rs4 other.test -noservername -sess_in "$T/other.sess" >/dev/null
	sclient rs5 other.test -servername api.test -sess_in "$T/other.sess" >/dev/null
	after=$(grep -c '"sni-mismatch"' "$T/audit.log")
	if [ "$((after - before))" = 2 ] && grep -q 'resumed under a server name (none)' "$T/audit.log"; then
		ok "agent TLS: a session resumed under another SNI (or none) is refused"
	else
		fail "agent TLS session under another SNI" "$((after - before)) sni-mismatch lines: $(grep sni-mismatch "$T/audit.log" | tail -n 2)"
	fi
else
	fail "s_server upstream starts" "$(tail -n 3 "$T/up-rs.log")"
fi

kill -TERM "$EG_PID"
for _ in $(seq 100); do kill -0 "$EG_PID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$EG_PID" 2>/dev/null; then
	fail "SIGTERM stops egress" "still running"
else
	wait "$EG_PID"
	rc=$?
	# Under ASan this is also the leak check: LeakSanitizer fails the exit status.
	if [ "$rc" = 0 ]; then ok "SIGTERM stops egress with status 0 (no leaks under ASan)"; else fail "SIGTERM exit" "status $rc: $(tail -n 20 "$T/egress.err")"; fi
fi

# --- tokens from a file instead of the environment: private or refused ---
write_policy ""
printf 'BB_EGRESS_TOKEN_0=%s\n' "$TOKEN" >"$T/tokens"
chmod 644 "$T/tokens"
if SSL_CERT_FILE=$T/upca.crt "$BB" egress --policy "$T/policy.json" --listen "$A:$(free_port "$A")" --token-file "$T/tokens" \
	--hosts "$T/hosts" >/dev/null 2>"$T/tf.err"; then
	fail "token file mode" "a world-readable token file was accepted"
else
	grep -q "mode 0644" "$T/tf.err" && ok "a token file others can read is refused, naming its mode" || fail "token file mode" "$(cat "$T/tf.err")"
fi
chmod 600 "$T/tokens"
EGP=$(free_port "$A")
SSL_CERT_FILE=$T/upca.crt "$BB" egress --policy "$T/policy.json" --listen "$A:$EGP" --token-file "$T/tokens" \
	--hosts "$T/hosts" --log "$T/tf.log" 2>"$T/tf.err" &
TF_PID=$!
on_exit "kill_tree $TF_PID"
wait_port "$A" "$EGP"
curl -sS --max-time 10 -x "http://$A:$EGP" --cacert "$CA" "https://api.test:$UP_TLS/v1/tokenfile" >/dev/null
if [[ "$(last_up up-tls.log)" == *'"/v1/tokenfile"'*"Bearer $TOKEN"* ]]; then ok "--token-file: the token comes from a 0600 file"; else fail "--token-file" "$(last_up up-tls.log)"; fi
kill_tree "$TF_PID"

# --- the host dialer: the sidecar resolves and connects nothing itself ---
kill_tree "$EG_PID"
write_policy ""
"$BB" bottle dialer --policy "$T/policy.json" --socket "$T/dial.sock" --hosts "$T/hosts" 2>"$T/dialer.err" &
DIALER_PID=$!
on_exit "kill_tree $DIALER_PID"
for _ in $(seq 50); do [ -S "$T/dial.sock" ] && break; sleep 0.05; done
EGP=$(free_port "$A")
BB_EGRESS_TOKEN_0=$TOKEN SSL_CERT_FILE=$T/upca.crt "$BB" egress --policy "$T/policy.json" --listen "$A:$EGP" \
	--dialer "$T/dial.sock" --hosts /dev/null --log "$T/audit.log" 2>"$T/egress.err" &
EG_PID=$!
on_exit "kill_tree $EG_PID"
wait_port "$A" "$EGP"
P=http://$A:$EGP
out=$(ucurl "https://api.test:$UP_TLS/v1/dialed")
if [[ "$out" == *'"path": "/v1/dialed"'* && "$(last_up up-tls.log)" == *"Bearer $TOKEN"* ]]; then
	ok "dialer: HTTPS through an upstream socket the host connected"
else
	fail "dialer: MITM" "$out $(cat "$T/dialer.err")"
fi
deny_check "dialer: the host refuses a name resolving to loopback" private-address -x "$P" "http://private.test:$UP_PLAIN/x"
dial() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b"\n"); print(s.recv(300).decode().strip())' "$T/dial.sock" "$1"; }
out=$(dial "DIAL evil.test 443")
if [[ "$out" == "ERR no-route "* ]]; then ok "dialer: a compromised sidecar cannot dial a host outside the policy"; else fail "dialer no-route" "$out"; fi
out=$(dial "DIAL metadata.test 80")
if [[ "$out" == "ERR private-address "*metadata* ]]; then ok "dialer: nor the metadata address behind an allowed name"; else fail "dialer metadata" "$out"; fi
out=$(dial "DIAL $A $UP_PLAIN")
if [[ "$out" == "ERR no-route "* ]]; then ok "dialer: nor a raw address"; else fail "dialer raw ip" "$out"; fi
out=$(dial "GET / HTTP/1.1")
if [[ "$out" == "ERR bad-request "* ]]; then ok "dialer: garbage gets an error line"; else fail "dialer garbage" "$out"; fi
kill_tree "$EG_PID"
kill_tree "$DIALER_PID"

# --- inbound injection in block mode: the response is cut ---
EGP=$(free_port "$A")
write_policy ""
start_egress --inbound block
out=$(ucurl "https://api.test:$UP_TLS/inject" 2>&1)
if [[ "$out" != *"Ignore all previous"* ]] && audit_has '"rule":"injection"'; then ok "inbound injection in block mode: the agent never sees it"; else fail "inbound block" "$out $(tail -n 3 "$T/egress.err")"; fi
kill_tree "$EG_PID"

# --- limits ---
EGP=$(free_port "$A")
write_policy ""
start_egress --max-conns 2
sleep 0.3 # wait_port's probe connection must be gone first
exec 5<>"/dev/tcp/$A/$EGP" 6<>"/dev/tcp/$A/$EGP"
sleep 0.2
got=$(raw "GET http://plain.test:$UP_PLAIN/ HTTP/1.1\r\n$H\r\n\r\n")
exec 5<&- 6<&-
if [[ "$got" == *" 503 "* ]]; then ok "over --max-conns: 503, no crash"; else fail "max conns" "got '$got'"; fi
if kill -0 "$EG_PID" 2>/dev/null; then ok "egress survives every test above"; else fail "egress alive" "it died"; fi
