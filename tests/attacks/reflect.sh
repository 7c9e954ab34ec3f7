#!/usr/bin/env bash
# reflect.sh - the agent makes an upstream send the injected credential back (echo, header, error page, redirect,
# reason phrase, SSE), in every coding, framing and encoding, through egress plain and intercepted: it never sees it.
. "$(dirname "$0")/../sh/lib.sh"
. "$(dirname "$0")/lib_attack.inc"
need_tools curl openssl python3 zstd brotli

A=$(test_addr)
UP_TLS=$(free_port "$A")
UP_PLAIN=$(free_port "$A")
EGP=$(free_port "$A")
# Characters a URL must escape, so the percent-encoded form differs from the token itself.
TOKEN="sk-live-$(rand_hex 12)/+$(rand_hex 8)="
AUDIT=$T/audit.log
export BB_HOME=$T/home
mkdir -p "$BB_HOME"
upstream_cert api.test
python3 "$TESTS/peers/reflect_upstream.py" "$A" "$UP_TLS" "$T/up.crt" "$T/up.key" 2>"$T/up-tls.err" &
on_exit "kill_tree $!"
REFLECT_LEAK=$TOKEN python3 "$TESTS/peers/reflect_upstream.py" "$A" "$UP_PLAIN" 2>"$T/up-plain.err" &
on_exit "kill_tree $!"
wait_port "$A" "$UP_TLS" && wait_port "$A" "$UP_PLAIN" || { fail "reflecting upstreams start" "$(cat "$T"/up-*.err)"; exit 0; }
printf '%s api.test plain.test\n' "$A" >"$T/hosts"
cat >"$T/policy.json" <<JSON
{"schema":"bb.plan/1","egress":{"routes":[
 {"host":"api.test","auth":{"scheme":"Bearer","token_slot":"BB_EGRESS_TOKEN_0","token_ref":"T"},"ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"plain.test","ssrf_ip_allowlist":["127.0.0.0/8"]}
]}}
JSON
"$BB" bottle ca init >/dev/null 2>&1 || { fail "bottle ca init" "could not create the CA"; exit 0; }
CA=$BB_HOME/.bb/ca/ca.crt
BB_EGRESS_TOKEN_0=$TOKEN SSL_CERT_FILE=$T/upca.crt "$BB" egress --policy "$T/policy.json" --listen "$A:$EGP" \
	--hosts "$T/hosts" --log "$AUDIT" 2>"$T/egress.err" &
on_exit "kill_tree $!"
wait_port "$A" "$EGP" || { fail "egress starts" "$(cat "$T/egress.err")"; exit 0; }
P=http://$A:$EGP

# The oracle: the token, each encoding of it, or any base64/hex run in the text that decodes to something holding it.
cat >"$T/leaks.py" <<'PY'
import base64, binascii, re, sys, urllib.parse
tok = sys.argv[1].encode()
data = open(sys.argv[2], "rb").read()
forms = [tok, base64.b64encode(tok), base64.urlsafe_b64encode(tok).rstrip(b"="), binascii.hexlify(tok),
         binascii.hexlify(tok).upper(), urllib.parse.quote(tok, safe="").encode(), urllib.parse.quote(tok, safe="").lower().encode()]
found = [f for f in forms if f in data]
for run in re.findall(rb"[A-Za-z0-9+/_=-]{16,}", data):
    for dec in (lambda r: base64.b64decode(r + b"=" * (-len(r) % 4)), lambda r: base64.urlsafe_b64decode(r + b"=" * (-len(r) % 4)),
                binascii.unhexlify):
        try:
            if tok in dec(run):
                found.append(b"decoded run " + run[:20])
        except Exception:
            pass
if found:
    print("leaked: " + ", ".join(f[:24].decode("latin1") for f in found))
    sys.exit(1)
PY

# seen NAME MARK: the agent's view ($T/out: status line, headers, decoded body) shows no form of the token, the
# reflection did happen (the marker is there), and the audit line of the request says it was scrubbed.
seen() {
	local name=$1 mark=$2 why
	if ! why=$(python3 "$T/leaks.py" "$TOKEN" "$T/out"); then
		fail "$name" "the agent saw the token: $why"
	elif ! grep -q '\[bb:scrubbed\|\*\*\*\*\*\*\*\*' "$T/out"; then
		fail "$name" "no reflection arrived at all: $(head -c 300 "$T/out" | tr '\r\n' '  ') $(cat "$T/curl.err" 2>/dev/null)"
	elif ! audit_has "$mark" '"rule":"scrub".*response scrubbed'; then
		fail "$name" "the audit line does not say the response was scrubbed: $(grep -F -- "$mark" "$AUDIT" | tail -n 1)"
	else
		ok "$name"
	fi
}
# get MODE PATH?QUERY: the agent's request, as curl sees the answer (--compressed: decoded as a client would).
get() {
	local mode=$1 pq=$2
	if [ "$mode" = mitm ]; then
		curl -sS -i --compressed --max-time 20 -x "$P" --cacert "$CA" "https://api.test:$UP_TLS$pq" >"$T/out" 2>"$T/curl.err"
	else # direct: plain HTTP to egress, Host names the route; egress speaks TLS upstream and injects the token
		curl -sS -i --compressed --max-time 20 -H "Host: api.test:$UP_TLS" "http://$A:$EGP$pq" >"$T/out" 2>"$T/curl.err"
	fi
}

n=0
for mode in mitm direct; do
	for coding in identity gzip deflate rawdeflate zstd br; do
		for frame in length chunked close; do
			n=$((n + 1))
			get $mode "/echo$n?coding=$coding&frame=$frame&chunk=7&delay=2"
			seen "$mode: the request echoed back ($coding, $frame)" "/echo$n"
		done
	done
	for form in b64 b64url hex HEX pct auth64; do
		n=$((n + 1))
		get $mode "/form$n?form=$form&frame=chunked&chunk=3"
		seen "$mode: the token echoed $form-encoded, 3-byte chunks" "/form$n"
	done
	n=$((n + 1))
	get $mode "/hdr$n?where=header"
	seen "$mode: the token in a response header (X-Echo-Auth)" "/hdr$n"
	n=$((n + 1))
	get $mode "/hdr$n?where=header&form=b64"
	seen "$mode: the token base64-encoded in a response header" "/hdr$n"
	n=$((n + 1))
	get $mode "/loc$n?where=location&form=pct"
	seen "$mode: the token URL-encoded in a redirect's Location" "/loc$n"
	n=$((n + 1))
	get $mode "/err$n?where=error&coding=gzip"
	seen "$mode: an error page quoting the Authorization header (gzip)" "/err$n"
	n=$((n + 1))
	get $mode "/st$n?where=status"
	seen "$mode: the token in the status line's reason phrase" "/st$n"
done

# An upstream that learnt the token elsewhere, over plain HTTP through the forward proxy (no injection there).
n=$((n + 1))
curl -sS -i --compressed --max-time 20 -x "$P" "http://plain.test:$UP_PLAIN/leak$n?where=leak&coding=br&frame=chunked&chunk=5" >"$T/out" 2>"$T/curl.err"
seen "plain proxy: an upstream serving the token (br, chunked)" "/leak$n"
n=$((n + 1))
curl -sS -i --max-time 20 -x "$P" "http://plain.test:$UP_PLAIN/leak$n?where=header" >"$T/out" 2>"$T/curl.err"
seen "plain proxy: an upstream serving the token in a header" "/leak$n"

# A HEAD answer and a 304 carry no body: their heads are still scrubbed.
n=$((n + 1))
curl -sS -I --max-time 20 -x "$P" --cacert "$CA" "https://api.test:$UP_TLS/head$n?where=header" >"$T/out" 2>"$T/curl.err"
seen "mitm: HEAD, the token in a header" "/head$n"

# SSE: the deltas still arrive as the upstream sends them (no buffering), and the one carrying the token is scrubbed.
n=$((n + 1))
out=$(python3 - "$A" "$EGP" "$UP_TLS" "$CA" "/sse$n?where=sse&events=6&gap=300" <<'PY' 2>&1
import http.client, json, ssl, sys, time
a, p, up, ca, path = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
c = http.client.HTTPSConnection(a, int(p), context=ctx, timeout=20)
c.set_tunnel("api.test", int(up))
c.request("GET", path)
r = c.getresponse()
buf, lags, texts = b"", [], []
while True:
    chunk = r.read1(65536)
    if not chunk:
        break
    buf += chunk
    while b"\n\n" in buf:
        ev, buf = buf.split(b"\n\n", 1)
        data = ev.split(b"data: ", 1)[1]
        if data == b"[DONE]":
            continue
        d = json.loads(data)
        lags.append(time.time() - d["t"])
        texts.append(d["delta"])
print("%d events, lag max %.3f s" % (len(lags), max(lags)))
print(" | ".join(texts))
PY
)
printf '%s\n' "$out" >"$T/out"
if [[ "$out" != *"6 events"* ]]; then
	fail "SSE through interception" "$out"
else
	lag=$(sed -n 's/.*lag max \([0-9.]*\) s/\1/p' <<<"$out")
	seen "SSE: the delta carrying the token is scrubbed" "/sse$n"
	if awk -v l="$lag" 'BEGIN{exit !(l < 0.25)}'; then
		ok "SSE: each delta arrives as it is sent (largest lag $lag s; events 0.3 s apart)"
	else
		fail "SSE streaming" "a delta arrived $lag s after it was sent: egress buffers the stream"
	fi
fi

# Never in egress's own output either.
if grep -qF -- "$TOKEN" "$AUDIT" "$T/egress.err"; then fail "the token never appears in egress's logs" "it does"; else ok "the token never appears in egress's logs"; fi
# Controls: an answer without the token passes unchanged, compressed ones decoded, and its audit line is an ordinary allow.
out=$(curl -sS --max-time 20 -x "$P" --cacert "$CA" "https://api.test:$UP_TLS/control?where=none&coding=gzip")
if [[ "$out" == '{"ok": true, "nothing": "reflected"}' ]] && audit_has /control '"rule":"mitm"'; then
	ok "control: a gzip answer without the token arrives decoded, unchanged, not marked scrubbed"
else
	fail "control" "$out $(grep -F /control "$AUDIT")"
fi
