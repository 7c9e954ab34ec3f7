#!/usr/bin/env bash
# dns.sh - bb dns under dig, with dnsmasq as the upstream on 127.0.0.x: allow list, tunnelling shapes, TCP, truncation, malformed packets, reload.
. "$(dirname "$0")/lib.sh"

for tool in dig dnsmasq python3; do
	command -v $tool >/dev/null || { skip "dns" "$tool not installed (apt: bind9-dnsutils dnsmasq-base python3)"; exit 0; }
done

A=$(test_addr)
UP=$(test_addr)
while [ "$UP" = "$A" ]; do UP=$(test_addr); done
UPP=$(free_port "$UP")
P=$(free_port "$A")

# The upstream answers everything below, so every refusal seen here is bb dns's own.
many=()
for i in $(seq 1 40); do many+=("--host-record=many.test,10.0.0.$i"); done
dnsmasq -k --conf-file=/dev/null --pid-file= --no-resolv --no-hosts --bind-interfaces --listen-address="$UP" \
	--port="$UPP" --address=/allowed.test/10.1.2.3 --address=/wild.test/10.9.9.9 --address=/other.test/10.7.7.7 \
	--txt-record=allowed.test,hello "${many[@]}" 2>"$T/dnsmasq.err" &
on_exit "kill_tree $!"
for _ in $(seq 50); do
	[ "$(dig @"$UP" -p "$UPP" +short +time=1 +tries=1 allowed.test 2>/dev/null)" = 10.1.2.3 ] && break
	sleep 0.1
done
[ "$(dig @"$UP" -p "$UPP" +short +time=1 +tries=1 x.allowed.test)" = 10.1.2.3 ] ||
	{ fail "dnsmasq upstream starts" "$(cat "$T/dnsmasq.err")"; exit 0; }

cat >"$T/policy.json" <<'EOF'
{"schema":"bb.plan/1","egress":{"routes":[]},"git_gate":{"repos":[{"host":"git.other.test"}]},
 "dns":{"allow":["allowed.test","many.test","*.wild.test"]}}
EOF

# start_dns NAME PORT ARGS...: a bb dns on $A:PORT logging to $T/NAME.log.
start_dns() {
	local name=$1 port=$2
	shift 2
	"$BB" dns --policy "$T/policy.json" --listen "$A:$port" --log "$T/$name.log" "$@" 2>"$T/$name.err" &
	eval "${name}_PID=$!"
	on_exit "kill_tree $!"
	wait_port "$A" "$port" || { fail "bb dns ($name) starts" "$(cat "$T/$name.err" "$T/$name.log" 2>/dev/null)"; exit 0; }
}
start_dns main "$P" --upstream "$UP:$UPP"

q() { dig @"$A" -p "$P" +time=2 +tries=1 "$@" 2>&1; }
status_of() { sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$1" | head -n 1; }
# expect_status NAME WANT DIG-ARGS...
expect_status() {
	local name=$1 want=$2 out st
	shift 2
	out=$(q "$@")
	st=$(status_of "$out")
	[ "$st" = "$want" ] && ok "$name" || fail "$name" "status '$st', want $want: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
}
log_has() { grep -q -- "$1" "$T/${2:-main}.log"; }

# --- the allow list ---
out=$(q +short allowed.test)
[ "$out" = 10.1.2.3 ] && ok "allowed name is forwarded and answered" || fail "allowed name is forwarded and answered" "$out"
log_has '"name":"allowed.test","type":"A","verdict":"allow"' && ok "the allowed query is logged" ||
	fail "the allowed query is logged" "$(tail -n 2 "$T/main.log")"
out=$(q ALLOWED.Test)
[[ $out == *"ALLOWED.Test."*"10.1.2.3"* && $out != *mismatch* ]] && ok "any case is allowed; the answer keeps the client's spelling" ||
	fail "any case is allowed; the answer keeps the client's spelling" "$out"
out=$(q +short git.other.test)
[ "$out" = 10.7.7.7 ] && ok "a git upstream host of the plan is allowed" || fail "a git upstream host of the plan is allowed" "$out"
expect_status "a name not in the policy is REFUSED (upstream would answer it)" REFUSED other.test
log_has '"name":"other.test","type":"A","verdict":"deny","reason":"not in the allow list"' &&
	ok "the refusal is logged with its reason" || fail "the refusal is logged with its reason" "$(tail -n 2 "$T/main.log")"
expect_status "a subdomain of an exact name is REFUSED" REFUSED x.allowed.test
log_has '"name":"x.allowed.test".*only that exact name' && ok "the subdomain refusal says why" ||
	fail "the subdomain refusal says why" "$(tail -n 1 "$T/main.log")"
out=$(q +short cdn.wild.test)
[ "$out" = 10.9.9.9 ] && log_has '"name":"cdn.wild.test",.*"rule":"\*\.wild\.test"' && ok "a name under a *.zone entry is allowed" ||
	fail "a name under a *.zone entry is allowed" "$out"
expect_status "*.zone does not allow zone itself" REFUSED wild.test

# --- tunnelling shapes ---
expect_status "TXT on an allowed name is REFUSED" REFUSED allowed.test TXT
expect_status "ANY is REFUSED" REFUSED allowed.test ANY
expect_status "NULL is REFUSED" REFUSED allowed.test TYPE10
out=$(q +short allowed.test AAAA)
[ -z "$out" ] && ok "AAAA is allowed (forwarded; no record upstream)" || fail "AAAA is allowed (forwarded; no record upstream)" "$out"
expect_status "a base32 label under a wildcard zone is REFUSED" REFUSED mzxw6ytboi2dgnzrgq3tqojqgi2dgnzr.wild.test
log_has 'mzxw6ytboi2dgnzrgq3tqojqgi2dgnzr.wild.test.*encoded data' && ok "the encoded label refusal is logged" ||
	fail "the encoded label refusal is logged" "$(tail -n 1 "$T/main.log")"
expect_status "a hex label under a wildcard zone is REFUSED" REFUSED 3f9a0c7be41d52a8e3b0c442.wild.test
expect_status "a label over 40 bytes under a wildcard zone is REFUSED" REFUSED \
	"this-label-is-longer-than-forty-bytes-for-sure.wild.test"
expect_status "more than 4 labels under a wildcard zone is REFUSED" REFUSED a.b.c.d.e.wild.test
long=$(printf 'label-of-words-number-%s-here.' one two three)
expect_status "over 100 bytes under a wildcard zone is REFUSED" REFUSED "${long}and-one-more.wild.test"
max=$(printf '%.0sabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghi.' 1 2 3)abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz.wild.test
expect_status "a 253-byte name is REFUSED" REFUSED "$max"

# Names dig cannot send: a 64-byte label (its length byte is a reserved label type) and a 256-byte name.
cat >"$T/raw.py" <<'EOF'
import socket, struct, sys
addr, port = sys.argv[1], int(sys.argv[2])
def ask(pkt, wait=0.6):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    s.sendto(pkt, (addr, port))
    try:
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()
hdr = lambda i: struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0)
def query(i, wire): return hdr(i) + wire + b"\0\1\0\1"
label64 = bytes([64]) + b"a" * 64 + b"\4wild\4test\0"
long_name = (bytes([63]) + b"b" * 63) * 4 + b"\4wild\4test\0"
which = sys.argv[3]
if which == "label64":
    print("answered" if ask(query(1, label64)) else "dropped")
elif which == "name256":
    print("answered" if ask(query(2, long_name)) else "dropped")
elif which == "garbage":
    import os, random
    random.seed(7)
    pkts = [b"", b"\0", b"x" * 11, os.urandom(12), b"\xff" * 512, os.urandom(4000), b"A" * 5000,
            hdr(3)[:4] + b"\0\2" + hdr(3)[6:] + b"\1a\0\0\1\0\1" * 2,             # two questions
            hdr(4) + b"\xc0\x0c\0\1\0\1",                                          # pointer loop
            struct.pack(">HHHHHH", 5, 0x8180, 1, 0, 0, 0) + b"\7allowed\4test\0\0\1\0\1",  # a response
            hdr(6) + b"\7allowed\4test\0\0\1",                                     # cut question
            hdr(7) + b"\7allowed\4test\0\0\1\0\1" + b"trailing"]
    for _ in range(200):
        p = bytearray(query(8, b"\7allowed\4test\0"))
        for _ in range(random.randint(1, 4)):
            p[random.randrange(len(p))] = random.randrange(256)
        pkts.append(bytes(p))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for p in pkts:
        s.sendto(p, (addr, port))
    s.close()
    t = socket.create_connection((addr, port), timeout=2)   # TCP: a bogus length, then garbage
    t.sendall(b"\xff\xff" + os.urandom(300))
    t.close()
    t = socket.create_connection((addr, port), timeout=2)
    t.sendall(b"\0\5hello")
    t.close()
    print("sent", len(pkts))
elif which == "pipeline":
    # Three queries in one write, then a half-close: all three answered, in order, then EOF.
    t = socket.create_connection((addr, port), timeout=5)
    msgs = [query(0x100 + i, n) for i, n in enumerate([b"\7allowed\4test\0", b"\5other\4test\0", b"\4many\4test\0"])]
    t.sendall(b"".join(struct.pack(">H", len(m)) + m for m in msgs))
    t.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        c = t.recv(65535)
        if not c:
            break
        data += c
    out, i = [], 0
    while i + 2 <= len(data):
        n = struct.unpack(">H", data[i:i + 2])[0]
        m = data[i + 2:i + 2 + n]
        i += 2 + n
        out.append("%x:%d:%d" % (struct.unpack(">H", m[:2])[0], m[3] & 15, struct.unpack(">H", m[6:8])[0]))
    print(" ".join(out))
EOF
out=$(python3 "$T/raw.py" "$A" "$P" label64)
[ "$out" = dropped ] && ok "a 64-byte label is dropped as malformed" || fail "a 64-byte label is dropped as malformed" "$out"
out=$(python3 "$T/raw.py" "$A" "$P" name256)
[ "$out" = dropped ] && ok "a name over 255 bytes is dropped as malformed" || fail "a name over 255 bytes is dropped as malformed" "$out"
log_has '"event":"drop".*"reason":"malformed"' && ok "malformed packets are logged as drops" ||
	fail "malformed packets are logged as drops" "$(tail -n 2 "$T/main.log")"

# --- TCP and truncation ---
out=$(q +tcp +short allowed.test)
[ "$out" = 10.1.2.3 ] && log_has '"proto":"tcp","client":[^,]*,"name":"allowed.test"' && ok "TCP query" ||
	fail "TCP query" "$out"
out=$(python3 "$T/raw.py" "$A" "$P" pipeline)
[ "$out" = "100:0:1 101:5:0 102:0:40" ] && ok "three pipelined TCP queries, then a half-close: three answers in order" ||
	fail "three pipelined TCP queries, then a half-close: three answers in order" "$out"
out=$(q +bufsize=512 +ignore many.test)
n=$(grep -c 'IN[[:space:]]A[[:space:]]10\.0\.0\.' <<<"$out")
if [[ $out == *"flags: qr"*" tc"* ]] && [ "$n" -gt 0 ] && [ "$n" -lt 40 ] && [[ $out =~ MSG\ SIZE\ +rcvd:\ ([0-9]+) ]] &&
	[ "${BASH_REMATCH[1]}" -le 512 ]; then
	ok "an answer over the client's EDNS size is cut to it with TC ($n of 40 records, ${BASH_REMATCH[1]} bytes)"
else
	fail "an answer over the client's EDNS size is cut to it with TC" "$n records: $(grep -E 'flags|SIZE' <<<"$out" | tr '\n' ' ')"
fi
out=$(q +bufsize=512 many.test)
n=$(grep -c 'IN[[:space:]]A[[:space:]]10\.0\.0\.' <<<"$out")
[[ $out == *"Truncated, retrying in TCP mode"* ]] && [ "$n" -eq 40 ] && [[ $out == *"(TCP)"* ]] &&
	ok "dig retries the truncated answer over TCP and gets all 40 records" ||
	fail "dig retries the truncated answer over TCP and gets all 40 records" "$n records: $(grep -E 'Trunc|SERVER' <<<"$out" | tr '\n' ' ')"
out=$(q +noedns +ignore many.test)
[[ $out == *" tc"* && $out != *"OPT PSEUDOSECTION"* ]] && [[ $out =~ MSG\ SIZE\ +rcvd:\ ([0-9]+) ]] &&
	[ "${BASH_REMATCH[1]}" -le 512 ] && ok "without EDNS: 512 bytes, TC, and no OPT record" ||
	fail "without EDNS: 512 bytes, TC, and no OPT record" "$(grep -E 'flags|SIZE|OPT' <<<"$out" | tr '\n' ' ')"
out=$(q +bufsize=4096 many.test)
n=$(grep -c 'IN[[:space:]]A[[:space:]]10\.0\.0\.' <<<"$out")
[ "$n" -eq 40 ] && [[ $out != *" tc"* && $out == *"udp: 1232"* ]] && ok "a large EDNS size gets the whole answer over UDP, OPT says 1232" ||
	fail "a large EDNS size gets the whole answer over UDP, OPT says 1232" "$n records $(grep -E 'flags|udp:' <<<"$out" | tr '\n' ' ')"

# --- malformed packets do not hurt it ---
python3 "$T/raw.py" "$A" "$P" garbage >/dev/null 2>"$T/raw.err"
sleep 0.2
out=$(q +short allowed.test)
kill -0 "$main_PID" 2>/dev/null && [ "$out" = 10.1.2.3 ] && ok "after ~210 malformed packets (UDP and TCP) it still answers" ||
	fail "after ~210 malformed packets (UDP and TCP) it still answers" "$out $(cat "$T/raw.err" "$T/main.err")"
log_has '"event":"drop","suppressed"' && ok "a flood of drops is rate-limited in the log" ||
	{ sleep 1.1; q +short allowed.test >/dev/null; python3 "$T/raw.py" "$A" "$P" label64 >/dev/null
	  log_has '"suppressed"' && ok "a flood of drops is rate-limited in the log" ||
		fail "a flood of drops is rate-limited in the log" "$(grep -c '"drop"' "$T/main.log") drop lines"; }

# --- SIGHUP reload ---
cat >"$T/policy.json" <<'EOF'
{"schema":"bb.plan/1","dns":{"allow":["allowed.test","other.test"],"allow_types":["TXT"]}}
EOF
kill -HUP "$main_PID"
for _ in $(seq 40); do log_has '"event":"reload","result":"ok"' && break; sleep 0.05; done
out=$(q +short other.test)
txt=$(q +short allowed.test TXT)
[ "$out" = 10.7.7.7 ] && [ "$txt" = '"hello"' ] && ok "SIGHUP reloads the policy (new name, TXT allowed)" ||
	fail "SIGHUP reloads the policy (new name, TXT allowed)" "other=$out txt=$txt"
expect_status "names dropped from the policy are refused after reload" REFUSED cdn.wild.test
printf '{"schema":"bb.plan/1","dns":{"allow":["not a name"]}}' >"$T/policy.json"
kill -HUP "$main_PID"
for _ in $(seq 40); do log_has '"result":"refused"' && break; sleep 0.05; done
out=$(q +short other.test)
log_has '"event":"reload","result":"refused".*not a host name' && [ "$out" = 10.7.7.7 ] &&
	ok "a bad policy on reload is refused and the old one kept" || fail "a bad policy on reload is refused and the old one kept" "$out"

# --- the log is JSON lines ---
python3 - "$T/main.log" <<'EOF' && ok "every log line is a JSON object with an event" || fail "every log line is a JSON object with an event" "see above"
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    o = json.loads(line)
    assert o["prog"] == "dns" and "event" in o, (n, line)
EOF

# --- NXDOMAIN mode, an upstream that fails, transparent mode ---
cat >"$T/policy.json" <<'EOF'
{"schema":"bb.plan/1","dns":{"allow":["allowed.test"]}}
EOF
DEAD=$(free_port "$UP")
P2=$(free_port "$A")
start_dns nx "$P2" --nxdomain --upstream "$UP:$DEAD" --timeout 300
out=$(dig @"$A" -p "$P2" +time=3 +tries=1 other.test 2>&1)
[ "$(status_of "$out")" = NXDOMAIN ] && ok "--nxdomain answers names not allowed with NXDOMAIN" ||
	fail "--nxdomain answers names not allowed with NXDOMAIN" "$(status_of "$out")"
out=$(dig @"$A" -p "$P2" +time=3 +tries=1 allowed.test TXT 2>&1)
[ "$(status_of "$out")" = REFUSED ] && ok "--nxdomain still REFUSES a type on an allowed name" ||
	fail "--nxdomain still REFUSES a type on an allowed name" "$(status_of "$out")"
start=$(date +%s%N)
out=$(dig @"$A" -p "$P2" +time=4 +tries=1 allowed.test 2>&1)
ms=$((($(date +%s%N) - start) / 1000000))
[ "$(status_of "$out")" = SERVFAIL ] && [ "$ms" -lt 3000 ] && log_has '"rcode":"SERVFAIL".*"detail":"connection refused"' nx &&
	ok "an upstream that refuses gives SERVFAIL after the tries (${ms} ms)" ||
	fail "an upstream that refuses gives SERVFAIL after the tries" "$(status_of "$out") ${ms}ms $(tail -n 1 "$T/nx.log")"
# An upstream that never answers: the per-try timeout, 3 tries.
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], int(sys.argv[2])))
open(sys.argv[3], "w").close()
end = time.time() + 20
while time.time() < end:
    s.settimeout(1)
    try: s.recv(512)
    except socket.timeout: pass
' "$UP" "$DEAD" "$T/silent.ready" &
on_exit "kill_tree $!"
for _ in $(seq 100); do [ -e "$T/silent.ready" ] && break; sleep 0.05; done
start=$(date +%s%N)
out=$(dig @"$A" -p "$P2" +time=4 +tries=1 allowed.test 2>&1)
ms=$((($(date +%s%N) - start) / 1000000))
[ "$(status_of "$out")" = SERVFAIL ] && [ "$ms" -ge 800 ] && [ "$ms" -lt 3000 ] && log_has '"detail":"timed out"' nx &&
	ok "a silent upstream gives SERVFAIL after 3 tries of --timeout (${ms} ms)" ||
	fail "a silent upstream gives SERVFAIL after 3 tries of --timeout" "$(status_of "$out") ${ms}ms"

P3=$(free_port "$A")
start_dns tr "$P3" --answer 10.0.0.53 --answer fd00::53
out=$(dig @"$A" -p "$P3" +short allowed.test)
out6=$(dig @"$A" -p "$P3" +short allowed.test AAAA)
deny=$(dig @"$A" -p "$P3" other.test)
[ "$out" = 10.0.0.53 ] && [ "$out6" = fd00::53 ] && [ "$(status_of "$deny")" = REFUSED ] &&
	ok "transparent mode answers allowed names with the sidecar's address" ||
	fail "transparent mode answers allowed names with the sidecar's address" "A=$out AAAA=$out6 other=$(status_of "$deny")"
out=$(dig @"$A" -p "$P3" +tcp +short allowed.test)
[ "$out" = 10.0.0.53 ] && ok "transparent mode over TCP" || fail "transparent mode over TCP" "$out"

# --- usage and startup errors ---
"$BB" dns --policy "$T/policy.json" --answer 10.0.0.1 --upstream 127.0.0.1 >/dev/null 2>&1
[ $? -eq 2 ] && ok "--answer with --upstream is a usage error" || fail "--answer with --upstream is a usage error" "rc=$?"
"$BB" dns --listen "$A:1" >/dev/null 2>&1
[ $? -eq 2 ] && ok "--policy is required" || fail "--policy is required" "rc=$?"
printf '{"schema":"bb.plan/1","dns":{"allow":[1]}}' >"$T/bad.json"
out=$("$BB" dns --policy "$T/bad.json" --listen "$A:1" --upstream 127.0.0.1 2>&1)
[ $? -eq 1 ] && [[ $out == *"dns.allow[0]: must be a string"* ]] && ok "a bad policy stops it with the key path" ||
	fail "a bad policy stops it with the key path" "$out"
out=$("$BB" dns --policy "$T/policy.json" --listen "0.0.0.0:$P" --upstream "127.0.0.1:$P" 2>&1)
[ $? -eq 1 ] && [[ $out == *"queries would loop"* ]] && ok "an upstream that is this server is refused" ||
	fail "an upstream that is this server is refused" "$out"

# --- no --upstream: resolv.conf's nameservers (port 53), seen through a private mount namespace ---
dnsmasq -k --conf-file=/dev/null --pid-file= --no-resolv --no-hosts --bind-interfaces --listen-address="$UP" \
	--port=53 --address=/allowed.test/10.5.5.5 2>"$T/dnsmasq53.err" &
on_exit "kill_tree $!"
for _ in $(seq 30); do dig @"$UP" +short +time=1 +tries=1 allowed.test >/dev/null 2>&1 && break; sleep 0.1; done
if [ "$(dig @"$UP" +short +time=1 +tries=1 allowed.test 2>/dev/null)" != 10.5.5.5 ]; then
	skip "upstream from resolv.conf" "cannot run a server on $UP:53 here"
elif ! unshare -m true 2>/dev/null; then
	skip "upstream from resolv.conf" "no mount namespaces here"
else
	printf '# test\nnameserver %s\noptions timeout:1\n' "$UP" >"$T/resolv.conf"
	P4=$(free_port "$A")
	unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && exec "$2" dns --policy "$3" --listen "$4" --log "$5"' _ \
		"$T/resolv.conf" "$BB" "$T/policy.json" "$A:$P4" "$T/rc.log" 2>"$T/rc.err" &
	on_exit "kill_tree $!"
	wait_port "$A" "$P4" || fail "bb dns with resolv.conf starts" "$(cat "$T/rc.err")"
	out=$(dig @"$A" -p "$P4" +short +time=2 +tries=1 allowed.test)
	[ "$out" = 10.5.5.5 ] && grep -q "\"upstream\":\"$UP:53\"" "$T/rc.log" &&
		ok "without --upstream the nameservers of /etc/resolv.conf are used" ||
		fail "without --upstream the nameservers of /etc/resolv.conf are used" "$out $(cat "$T/rc.err")"
fi

# --- SIGTERM ---
kill -TERM "$main_PID"
for _ in $(seq 60); do kill -0 "$main_PID" 2>/dev/null || break; sleep 0.05; done
wait "$main_PID"
rc=$?
[ $rc -eq 0 ] && log_has '"event":"stop"' && ok "SIGTERM stops it with status 0" || fail "SIGTERM stops it with status 0" "rc=$rc"

# Every daemon's stderr is clean (the sanitizer build reports there).
for f in "$T"/main.err "$T"/nx.err "$T"/tr.err; do
	kill_tree "$(eval echo "\${$(basename "$f" .err)_PID}")"
done
if grep -l -E 'runtime error|AddressSanitizer|LeakSanitizer' "$T"/*.err >/dev/null 2>&1; then
	fail "no sanitizer reports" "$(grep -h -A3 -E 'runtime error|Sanitizer' "$T"/*.err | head -n 8 | tr '\n' ' ')"
else
	ok "no sanitizer reports in any daemon's stderr"
fi
