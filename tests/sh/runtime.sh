#!/usr/bin/env bash
# runtime.sh - bb bottle run on the embedded runtime: the agent reaches only the sidecar, escapes fail, nothing is left behind.
# Every escape attempt runs inside the bottle under test, never on the host.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { skip "runtime" "needs root (namespaces, mounts, veth)"; exit 0; }
unshare --net --mount true 2>/dev/null || { skip "runtime" "namespaces are not available here"; exit 0; }
for tool in curl openssl python3 ip; do
	command -v $tool >/dev/null || { skip "runtime" "$tool not installed"; exit 0; }
done

A=$(test_addr)
UP=$(free_port "$A")
TOKEN="sk-run-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export BB_HOME=$T/home
mkdir -p "$BB_HOME/.bb/bottles" "$T/ws"
chown 65534:65534 "$T/ws" # the agent runs as the workspace's owner

upstream_cert api.test
python3 "$TESTS/peers/http_upstream.py" "$A" "$UP" "$T/up.log" "$T/up.crt" "$T/up.key" 2>"$T/up.err" &
on_exit "kill_tree $!"
wait_port "$A" "$UP" || { fail "upstream starts" "$(cat "$T/up.err")"; exit 0; }
printf '%s api.test\n' "$A" >"$T/hosts"

cat >"$BB_HOME/.bb/bottles/dev.md" <<'EOF'
---
egress:
  routes:
    - host: api.test
      auth: {scheme: Bearer, token_ref: RUN_TEST_TOKEN}
      pipelock: {ssrf_ip_allowlist: ["127.0.0.0/8"]}
---
EOF

# A host that exists but that nothing in the bottle may reach: a listener in a namespace of the test's own.
OUTNS=bbtest-out-$$
ip netns add "$OUTNS" && on_exit "ip netns del $OUTNS"
ip -n "$OUTNS" link add out0 type veth peer name out1 && ip -n "$OUTNS" addr add 198.51.100.7/24 dev out0 &&
	ip -n "$OUTNS" link set out0 up && ip -n "$OUTNS" link set out1 up && ip -n "$OUTNS" link set lo up
ip netns exec "$OUTNS" python3 -m http.server 8080 --bind 198.51.100.7 >/dev/null 2>&1 &
on_exit "kill_tree $!"
for _ in $(seq 40); do ip netns exec "$OUTNS" curl -s -o /dev/null --max-time 1 http://198.51.100.7:8080/ && break; sleep 0.1; done
if ip netns exec "$OUTNS" curl -s -o /dev/null --max-time 2 http://198.51.100.7:8080/; then
	ok "the outside test host answers in its own namespace"
else
	fail "outside test host" "not answering; the escape tests below would prove nothing"
fi

bbrun() { # run CMD in the bottle; output in $T/out, status returned
	(cd "$T/ws" && RUN_TEST_TOKEN=$TOKEN SSL_CERT_FILE=$T/upca.crt timeout 60 "$BB" bottle run dev \
		--hosts "$T/hosts" --log "$T/audit.log" -- "$@") >"$T/out" 2>"$T/err"
}

# --- what the agent may do ---
bbrun sh -c "curl -sS --max-time 10 https://api.test:$UP/v1/in -H 'Authorization: Bearer placeholder'"
if grep -q '"path": "/v1/in"' "$T/out" && grep -q "Bearer $TOKEN" "$T/up.log"; then
	ok "the agent reaches an allowed route through the sidecar; the token is injected outside it"
else
	fail "allowed route" "$(cat "$T/out" "$T/err" | tail -n 5)"
fi
bbrun sh -c 'exit 7'
rc=$?
if [ "$rc" = 7 ]; then ok "the command's exit status comes back"; else fail "exit status" "got $rc: $(tail -n 3 "$T/err")"; fi
bbrun sh -c 'echo made > inside.txt'
if [ "$(cat "$T/ws/inside.txt" 2>/dev/null)" = made ]; then ok "the workspace is writable from inside"; else fail "workspace" "$(cat "$T/err")"; fi
bbrun sh -c 'env'
if grep -q "$TOKEN" "$T/out"; then fail "agent env" "the token is in the agent's environment"; else ok "the token is not in the agent's environment"; fi
if grep -q '^HTTPS_PROXY=http://10.231.0.1:9099$' "$T/out" && grep -q '^SSL_CERT_FILE=/run/bb/ca-bundle.crt$' "$T/out"; then
	ok "the agent's environment points at the sidecar and its CA bundle"
else
	fail "agent env" "$(cat "$T/out")"
fi

# --- escape attempts, each must fail inside the bottle ---
escape() { # NAME SHELL-CODE: the code must exit 0 when the escape was refused
	local name=$1
	bbrun sh -c "$2"
	if [ $? = 0 ]; then ok "escape refused: $name"; else fail "escape: $name" "$(tail -n 5 "$T/out" "$T/err")"; fi
}
escape "a host outside (198.51.100.7, in a namespace of its own)" \
	'! curl -sS --noproxy "*" --max-time 3 http://198.51.100.7:8080/'
escape "the same host through the proxy (no route, raw IP)" \
	'out=$(curl -sS --max-time 5 http://198.51.100.7:8080/ 2>&1); echo "$out" | grep -q "rule: raw-ip"'
escape "a host name without a route" \
	'out=$(curl -sS --max-time 5 -o /dev/null -w "%{http_code}" http://example.com/ 2>&1); [ "$out" = 403 ]'
escape "the host's loopback" "! curl -sS --noproxy '*' --max-time 3 http://$A:$UP/"
escape "IPv6" '! curl -sS -6 --noproxy "*" --max-time 3 "http://[2001:db8::1]/"'
escape "UDP DNS to another resolver" \
	'! python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.sendto(b\"x\"*12, (\"9.9.9.9\", 53)); s.recv(512)"'
escape "a raw socket" \
	'! python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)" 2>/dev/null'
escape "writing outside the workspace" '! touch /etc/bb-escape 2>/dev/null && ! touch /usr/bb-escape 2>/dev/null'
escape "reading the bottle state (tokens, plan)" "! ls '$BB_HOME/.bb/state'/* 2>/dev/null | grep -q plan"
escape "reading the CA key" "! cat '$BB_HOME/.bb/ca/ca.key' 2>/dev/null"
escape "the sidecar's environment through /proc" \
	"! grep -a -r '$TOKEN' /proc/[0-9]*/environ 2>/dev/null"
escape "ptrace of PID 1" '! python3 -c "import ctypes,sys; l=ctypes.CDLL(None); sys.exit(0 if l.ptrace(16, 1, 0, 0) == 0 else 1)"'
escape "mount" '! mount -t tmpfs x /tmp 2>/dev/null'
escape "entering PID 1's namespaces" '! nsenter -t 1 -n -m true 2>/dev/null'
escape "no_new_privs and no capabilities" \
	'grep -q "^NoNewPrivs:[[:space:]]*1" /proc/self/status && grep -q "^CapEff:[[:space:]]*0000000000000000" /proc/self/status && grep -q "^CapBnd:[[:space:]]*0000000000000000" /proc/self/status'
escape "a seccomp filter is on" 'grep -q "^Seccomp:[[:space:]]*2" /proc/self/status'
escape "a new user namespace (unshare -U)" '! unshare -U true 2>/dev/null'
escape "bpf, keyctl and perf_event_open" \
	'python3 -c "import ctypes,os,sys; l=ctypes.CDLL(None, use_errno=True); bad=[n for n in (321, 250, 298) if l.syscall(n, 0, 0, 0, 0, 0) != -1 or ctypes.get_errno() != 1]; sys.exit(1 if bad else 0)"'
escape "git push over HTTPS" \
	'out=$(curl -sS --max-time 5 -o /dev/null -w "%{http_code}" -X POST https://api.test:'"$UP"'/r.git/git-receive-pack 2>&1); [ "$out" = 403 ]'

# --- supervise inside the bottle: the agent asks, the operator approves from the host, the route works at once ---
cat >"$BB_HOME/.bb/bottles/sup.md" <<'EOF'
---
egress:
  routes:
    - host: api.test
      path_allowlist: [/v1/]
      pipelock: {ssrf_ip_allowlist: ["127.0.0.0/8"]}
supervise: true
---
EOF
cat >"$T/ws/ask.sh" <<EOF
#!/bin/sh
H='-H Content-Type:application/json -H Accept:application/json,text/event-stream'
code=\$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 https://api.test:$UP/v2/x)
curl -sS -D /tmp/h -o /dev/null \$H "\$MCP_SUPERVISE_URL" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
SID=\$(grep -i '^mcp-session-id' /tmp/h | cut -d' ' -f2 | tr -d '\r')
curl -sS --max-time 60 \$H -H "Mcp-Session-Id: \$SID" -H "MCP-Protocol-Version: 2025-06-18" "\$MCP_SUPERVISE_URL" \
	-d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"api.test","paths":["/v2/"],"reason":"test"}}}' | grep -o '"status":"[a-z]*"'
echo "before=\$code after=\$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 https://api.test:$UP/v2/x)"
EOF
(
	for _ in $(seq 120); do
		id=$("$BB" bottle proposals sup --json 2>/dev/null | python3 -c 'import json,sys
try:
    d = json.load(sys.stdin)
    print([p["id"] for p in (d if isinstance(d, list) else d.get("proposals", [])) if p.get("status") == "pending"][0])
except Exception:
    pass')
		[ -n "$id" ] && { "$BB" bottle approve "$id" --note yes >/dev/null; break; }
		sleep 0.25
	done
) &
approver=$!
(cd "$T/ws" && SSL_CERT_FILE=$T/upca.crt timeout 90 "$BB" bottle run sup --hosts "$T/hosts" -- sh ./ask.sh) >"$T/out" 2>"$T/err"
wait "$approver"
if grep -q '"status":"approved"' "$T/out" && grep -q 'before=403 after=200' "$T/out"; then
	ok "supervise in the bottle: asked over MCP, approved from the host, the widened route works at once"
else
	fail "supervise in the bottle" "$(cat "$T/out" "$T/err" | tail -n 8)"
fi

# --- the sidecar itself has no way out ---
bbrun sh -c 'sleep 3' &
runpid=$!
spid=""
for _ in $(seq 60); do
	spid=$(pgrep -f "bb egress --policy $BB_HOME/.bb/state/" | head -n 1)
	[ -n "$spid" ] && break
	sleep 0.05
done
if [ -n "$spid" ]; then
	if nsenter -t "$spid" -n python3 -c "import socket; socket.create_connection(('198.51.100.7', 8080), timeout=2)" 2>/dev/null; then
		fail "sidecar isolation" "the sidecar's namespace reached the outside host"
	elif nsenter -t "$spid" -n ip route | grep -q default; then
		fail "sidecar isolation" "the sidecar has a default route"
	else
		ok "the sidecar's namespace has no route out"
	fi
else
	fail "sidecar isolation" "could not find the sidecar's egress"
fi
wait "$runpid"

# --- nothing left behind; failures fail closed ---
sleep 0.2
if [ -z "$(ls -A "$BB_HOME/.bb/state" 2>/dev/null)" ]; then ok "the state directory (plan, sockets) is removed"; else fail "state left" "$(ls "$BB_HOME/.bb/state")"; fi
if pgrep -f "bb (egress|init).*$BB_HOME" >/dev/null; then fail "processes left" "$(pgrep -af "$BB_HOME")"; else ok "no process of the bottle survives it"; fi
for step in 1 2 3 4; do
	(cd "$T/ws" && BB_RT_FAULT=$step RUN_TEST_TOKEN=$TOKEN timeout 30 "$BB" bottle run dev --hosts "$T/hosts" -- true) >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" != 0 ] && grep -q "fault injected" "$T/err" && [ -z "$(ls -A "$BB_HOME/.bb/state")" ] &&
		! pgrep -f "bb (egress|init).*$BB_HOME" >/dev/null; then
		ok "a failure at isolation step $step stops the bottle, names the step, leaves nothing"
	else
		fail "fault $step" "rc $rc: $(cat "$T/err")"
	fi
done
(cd "$T/ws" && timeout 30 "$BB" bottle run dev --hosts "$T/hosts" -- true) >"$T/out" 2>"$T/err"
if [ $? != 0 ] && grep -q "RUN_TEST_TOKEN" "$T/err"; then ok "a missing token variable stops the start and names it"; else fail "missing token" "$(cat "$T/err")"; fi

# --- kill -9 of the host process: the bottle dies with it; bb bottle cleanup removes what is left ---
(cd "$T/ws" && RUN_TEST_TOKEN=$TOKEN SSL_CERT_FILE=$T/upca.crt exec "$BB" bottle run dev --hosts "$T/hosts" -- sleep 60) >/dev/null 2>&1 &
hostpid=$!
for _ in $(seq 100); do pgrep -f "bb egress --policy $BB_HOME/.bb/state/dev-$hostpid" >/dev/null && break; sleep 0.05; done
sleep 0.3
kill -9 "$hostpid"
wait "$hostpid" 2>/dev/null
for _ in $(seq 40); do pgrep -f "$BB_HOME/.bb/state/dev-$hostpid|sleep 60" >/dev/null || break; sleep 0.05; done
if pgrep -f "$BB_HOME/.bb/state/dev-$hostpid" >/dev/null; then fail "crash: processes" "the bottle outlived its host process"; else ok "kill -9 of the host process: no process of the bottle survives"; fi
if [ -d "$BB_HOME/.bb/state/dev-$hostpid" ] && "$BB" bottle cleanup >"$T/out" 2>&1 && [ ! -e "$BB_HOME/.bb/state/dev-$hostpid" ] &&
	grep -q "removed .*dev-$hostpid" "$T/out"; then
	ok "bb bottle cleanup removes the state (plan, socket) a killed bottle left"
else
	fail "cleanup" "$(cat "$T/out")"
fi
"$BB" bottle cleanup >"$T/out" 2>&1
grep -q "nothing to clean up" "$T/out" && ok "cleanup again: nothing left" || fail "cleanup twice" "$(cat "$T/out")"

# --- the same bundles under installed OCI runtimes (proves config.json is spec-correct) ---
for rt in runc crun; do
	if ! command -v $rt >/dev/null; then
		skip "OCI backend: $rt" "$rt not installed"
		continue
	fi
	bbrun_oci() { (cd "$T/ws" && RUN_TEST_TOKEN=$TOKEN SSL_CERT_FILE=$T/upca.crt timeout 60 "$BB" bottle run dev \
		--backend oci --runtime "$rt" --hosts "$T/hosts" -- "$@") >"$T/out" 2>"$T/err"; }
	bbrun_oci sh -c "curl -sS --max-time 10 https://api.test:$UP/v1/oci-$rt; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; ! touch /etc/oci-escape 2>/dev/null; exit 9"
	rc=$?
	if [ "$rc" = 111 ] && grep -q "cgroup" "$T/err"; then
		skip "OCI backend: $rt" "$rt cannot create containers with this host's cgroup setup: $(grep -m1 cgroup "$T/err")"
		continue
	fi
	if [ "$rc" = 9 ] && grep -q "\"path\": \"/v1/oci-$rt\"" "$T/out" && grep -q 'CapEff:[[:space:]]*0000000000000000' "$T/out" &&
		grep -q 'NoNewPrivs:[[:space:]]*1' "$T/out"; then
		ok "OCI backend ($rt): the bottle runs from our bundles, route allowed, privileges gone, status back"
	else
		fail "OCI backend ($rt)" "rc $rc: $(tail -n 5 "$T/out" "$T/err")"
	fi
	if [ -z "$($rt list -q 2>/dev/null)" ] && [ -z "$(ls -A "$BB_HOME/.bb/state")" ]; then
		ok "OCI backend ($rt): no container and no staged bundle (tokens) left"
	else
		fail "OCI leftovers ($rt)" "$($rt list 2>&1) $(ls "$BB_HOME/.bb/state")"
	fi
done
