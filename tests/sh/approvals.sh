#!/usr/bin/env bash
# approvals.sh - approvals that take effect: an agent in a real bottle asks over MCP, the operator approves from the
# host, the effect is observed (cred-block: the upstream gets the credential; dlp-block: that rule passes on that
# route only; capability-block: there after resume, not before), and the refusals change nothing.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { skip "approvals" "needs root (the embedded runtime)"; exit 0; }
unshare --net --mount true 2>/dev/null || { skip "approvals" "namespaces are not available here"; exit 0; }
for tool in curl openssl python3; do
	command -v $tool >/dev/null || { skip "approvals" "$tool not installed"; exit 0; }
done

A=$(test_addr)
UP=$(free_port "$A")
CRED="sk-approved-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export BB_HOME=$T/home
mkdir -p "$BB_HOME/.bb/bottles" "$T/ws" "$T/tools"
chown 65534:65534 "$T/ws"
echo "the tools the agent asked for" >"$T/tools/marker"
chmod 755 "$T" "$T/tools"

upstream_cert api.test other.test
python3 "$TESTS/peers/http_upstream.py" "$A" "$UP" "$T/up.log" "$T/up.crt" "$T/up.key" 2>"$T/up.err" &
on_exit "kill_tree $!"
wait_port "$A" "$UP" || { fail "upstream starts" "$(cat "$T/up.err")"; exit 0; }
printf '%s api.test\n%s other.test\n' "$A" "$A" >"$T/hosts"

cat >"$BB_HOME/.bb/bottles/ask.md" <<'EOF'
---
agent_provider: {template: command, command: [sh, ./agent.sh]}
egress:
  routes:
    - host: api.test
      pipelock: {ssrf_ip_allowlist: ["127.0.0.0/8"]}
    - host: other.test
      path_allowlist: [/cred/, /dlp/]
      pipelock: {ssrf_ip_allowlist: ["127.0.0.0/8"]}
supervise: true
---
EOF
# The agent: its first run asks for a credential, a DLP allowance and a capability, each over MCP, and shows what
# changes; its second run (after resume) shows what the approvals left.
AWS=AKIAQWERTYUIOPASDFGH
cat >"$T/ws/agent.sh" <<EOF
H='-H Content-Type:application/json -H Accept:application/json,text/event-stream'
U=https://api.test:$UP
O=https://other.test:$UP
code() { curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "\$@"; }
call() { # TOOL ARGS: the answer's status and applied lines
	curl -sS --max-time 90 \$H -H "Mcp-Session-Id: \$SID" -H "MCP-Protocol-Version: 2025-06-18" "\$MCP_SUPERVISE_URL" \
		-d "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"\$1\",\"arguments\":\$2}}" >/tmp/ans
	echo "\$1 \$(grep -o '"status":"[a-z]*"' /tmp/ans | head -n 1) \$(grep -o 'applied: [^"]*' /tmp/ans | head -n 1)"
}
n=\$(cat \$HOME/runs 2>/dev/null || echo 0); n=\$((n+1)); echo \$n > \$HOME/runs
if [ -e "$T/tools/marker" ]; then echo "run \$n capability=yes"; else echo "run \$n capability=no"; fi
if [ \$n = 1 ]; then
	curl -sS -D /tmp/h -o /dev/null \$H "\$MCP_SUPERVISE_URL" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
	SID=\$(grep -i '^mcp-session-id' /tmp/h | cut -d' ' -f2 | tr -d '\r')
	echo "route before \$(code \$O/new/before)"
	call egress-block '{"host":"other.test","paths":["/new/"],"reason":"the new API"}'
	echo "route after \$(code \$O/new/after)"
	echo "cred before \$(code \$U/cred/before)"
	call cred-block '{"host":"api.test","reason":"401 from the API"}'
	echo "cred after \$(code \$U/cred/after) other \$(code \$O/cred/other) leak \$(code -X POST --data-binary 'k=$CRED' \$O/cred/leak)"
	call cred-block '{"host":"other.test","reason":"me too"}'
	echo "cred rejected \$(code \$O/cred/rejected)"
	echo "dlp before \$(code -X POST --data-binary 'id $AWS' \$U/dlp/before)"
	call dlp-block '{"host":"api.test","rule":"aws-access-key-id","reason":"a documented example key"}'
	echo "dlp after \$(code -X POST --data-binary 'id $AWS' \$U/dlp/after) other \$(code -X POST --data-binary 'id $AWS' \$O/dlp/other) rule2 \$(code -X POST --data-binary 'x=glpat-abcdefghij0123456789' \$U/dlp/rule2)"
	call capability-block '{"capability":"the tools directory","reason":"to build"}'
	if [ -e "$T/tools/marker" ]; then echo "after approval capability=yes"; else echo "after approval capability=no"; fi
	env | grep -c "$CRED" | sed 's/^/agent env holds the credential: /'
else
	echo "resumed route \$(code \$O/new/resumed)"
	echo "resumed cred \$(code \$U/cred/resumed) dlp \$(code -X POST --data-binary 'id $AWS' \$U/dlp/resumed) other \$(code -X POST --data-binary 'id $AWS' \$O/dlp/resumed)"
fi
echo "run \$n done"
exec sleep 3597
EOF
chown 65534:65534 "$T/ws/agent.sh"

pending() { # TOOL HOST|-: the id of a pending proposal of that tool (and host) in bottle $ASKER's queue
	"$BB" bottle proposals "${ASKER:-ask}" --json 2>/dev/null | python3 -c 'import json,sys
for p in json.load(sys.stdin):
    if p["status"] == "pending" and p["tool"] == sys.argv[1] and sys.argv[2] in ("-", p["request"].get("host")):
        print(p["id"]); break' "$1" "$2"
}
has_pending() { [ -n "$(pending "$@")" ]; }
# The operator: decides each proposal as it comes, trying the refusals first. Results in $T/op.
operator() {
	local id out rc
	wait_until 60 has_pending egress-block other.test || return
	"$BB" bottle approve "$(pending egress-block other.test)" >>"$T/op" 2>&1; echo "route approve rc=$?" >>"$T/op"
	wait_until 60 has_pending cred-block api.test || return
	id=$(pending cred-block api.test)
	out=$("$BB" bottle approve "$id" 2>&1); echo "cred no-env rc=$?: $out" >>"$T/op"
	out=$(env -u BB_TEST_NO_SUCH_VAR "$BB" bottle approve "$id" --token-env BB_TEST_NO_SUCH_VAR 2>&1); echo "cred unset rc=$?: $out" >>"$T/op"
	out=$("$BB" bottle approve "$id" --token-env CRED_TOKEN --image x 2>&1); echo "cred image rc=$?: $out" >>"$T/op"
	echo "still $("$BB" bottle proposals ask --json | python3 -c 'import json,sys; print([p["status"] for p in json.load(sys.stdin) if p["id"]==sys.argv[1]][0])' "$id")" >>"$T/op"
	out=$(CRED_TOKEN=$CRED "$BB" bottle approve "$id" --token-env CRED_TOKEN --note "added" 2>&1); echo "cred approve rc=$?: $out" >>"$T/op"
	wait_until 60 has_pending cred-block other.test || return
	"$BB" bottle reject "$(pending cred-block other.test)" --note no >>"$T/op" 2>&1
	wait_until 60 has_pending dlp-block - || return
	id=$(pending dlp-block -)
	"$BB" bottle approve "$id" >>"$T/op" 2>&1; echo "dlp approve rc=$?" >>"$T/op"
	wait_until 60 has_pending capability-block - || return
	id=$(pending capability-block -)
	out=$("$BB" bottle approve "$id" 2>&1); echo "cap nothing rc=$?: $out" >>"$T/op"
	out=$("$BB" bottle approve "$id" --mount / 2>&1); echo "cap root rc=$?: $out" >>"$T/op"
	out=$("$BB" bottle approve "$id" --mount "$T/tools" 2>&1); echo "cap approve rc=$?: $out" >>"$T/op"
}

(cd "$T/ws" && SSL_CERT_FILE=$T/upca.crt exec "$BB" bottle start ask -y --hosts "$T/hosts") >"$T/start.out" 2>"$T/start.err" &
START=$!
on_exit "kill -9 $START 2>/dev/null"
operator &
OPER=$!
on_exit "kill $OPER 2>/dev/null"
wait_until 150 grep -q "run 1 done" "$T/start.out" || fail "the agent's first run" "$(tail -n 12 "$T/start.out" "$T/start.err" "$T/op" 2>&1)"
wait $OPER
SLUG=$("$BB" bottle list --json | python3 -c 'import json,sys; print([b["slug"] for b in json.load(sys.stdin) if b["agent"]=="ask"][-1])')
auth_of() { # PATH: the Authorization header the upstream got for it ("none")
	python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["path"] == sys.argv[2]:
        print(r["headers"].get("Authorization", "none")); break
else:
    print("missing")' "$T/up.log" "$1"
}

# --- egress-block ---
if grep -q "route before 403" "$T/start.out" && grep -q "route approve rc=0" "$T/op" &&
	grep -q 'egress-block "status":"approved" applied: .*egress loaded it' "$T/start.out" && grep -q "route after 200" "$T/start.out" &&
	grep -q '"path": "/new/after"' "$T/up.log"; then
	ok "egress-block approved: the widened route works at once, without a restart (refused before)"
else
	fail "egress-block" "$(grep -E 'route|egress-block' "$T/start.out" "$T/op")"
fi
# --- cred-block ---
grep -q "cred no-env rc=1: .*approve it with --token-env NAME" "$T/op" && grep -q "cred unset rc=1: .*BB_TEST_NO_SUCH_VAR is not set" "$T/op" &&
	grep -q "cred image rc=1: .*--image and --mount are for capability-block" "$T/op" && grep -q "^still pending" "$T/op" &&
	ok "cred-block: an approval without --token-env, with an unset variable or a capability option is refused; the proposal stays pending" ||
	fail "cred-block refusals" "$(cat "$T/op")"
if grep -q "cred approve rc=0: approved" "$T/op" && grep -q 'cred-block "status":"approved" applied: credential (Bearer) added to route api.test;.*egress loaded it' "$T/start.out" &&
	[ "$(auth_of /cred/before)" = none ] && [ "$(auth_of /cred/after)" = "Bearer $CRED" ] && [ "$(auth_of /cred/other)" = none ] &&
	grep -q "leak 403" "$T/start.out" && [ "$(auth_of /cred/leak)" = missing ]; then
	ok "cred-block approved with --token-env: the upstream gets the credential on that route from the next request, not before, not elsewhere; sent elsewhere, it is a known secret (403)"
else
	fail "cred-block" "before=$(auth_of /cred/before) after=$(auth_of /cred/after) other=$(auth_of /cred/other); $(grep -E 'cred' "$T/start.out" "$T/op")"
fi
grep -q 'cred-block "status":"rejected"' "$T/start.out" && [ "$(auth_of /cred/rejected)" = none ] &&
	ok "a rejected cred-block adds nothing" || fail "rejected cred-block" "$(auth_of /cred/rejected); $(grep cred "$T/start.out")"
if grep -q "agent env holds the credential: 0" "$T/start.out" && ! grep -rq "$CRED" "$BB_HOME" "$T/start.out" "$T/start.err" "$T/op"; then
	ok "the credential is in no file: not the plan, the dialer's policy, the host record, the queue, the logs; not in the agent's env"
else
	fail "credential leaked" "$(grep -rl "$CRED" "$BB_HOME" "$T/start.out" "$T/start.err" "$T/op" 2>&1; grep 'agent env' "$T/start.out")"
fi
out=$(python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"TOKEN BB_EGRESS_TOKEN_APPROVED_000000000000000000000000\n"); print(s.recv(300).decode().strip())' \
	"$BB_HOME/.bb/state/$SLUG/dial.sock" 2>&1)
[[ "$out" == "ERR no-token "* ]] && ok "the dialer gives out no value for a slot it was not handed" || fail "dialer TOKEN" "$out"

# --- dlp-block ---
if grep -q "dlp before 403" "$T/start.out" && grep -q "dlp after 200 other 403 rule2 403" "$T/start.out" && grep -q "dlp approve rc=0" "$T/op" &&
	grep -q 'dlp-block "status":"approved" applied: rule aws-access-key-id allowed outbound on route api.test only;.*egress loaded it' "$T/start.out" &&
	grep -q '"path": "/dlp/after"' "$T/up.log" && ! grep -q '"path": "/dlp/other"' "$T/up.log"; then
	ok "dlp-block approved: that rule's finding passes on that route only; other routes and other rules are still blocked"
else
	fail "dlp-block" "$(grep dlp "$T/start.out" "$T/op")"
fi

# --- capability-block ---
grep -q "cap nothing rc=1: .*approve it with what changes at the next resume: --image NAME" "$T/op" &&
	grep -q "cap root rc=1: .*the whole host is not a capability" "$T/op" &&
	ok "capability-block: an approval that names no change, or the host's root, is refused" || fail "capability refusals" "$(grep cap "$T/op")"
if grep -q "cap approve rc=0: approved" "$T/op" &&
	grep -q "^recorded: host path $T/tools, read-only; it takes effect at the next resume (bb bottle stop $SLUG; bb bottle resume $SLUG)" "$T/op" &&
	grep -q 'capability-block "status":"approved" applied: recorded for bottle .*takes effect when the operator stops and resumes it' "$T/start.out" &&
	grep -q "run 1 capability=no" "$T/start.out" && grep -q "after approval capability=no" "$T/start.out"; then
	ok "capability-block approved: recorded for the next resume, the agent and the operator are told when; not there in this run"
else
	fail "capability approval" "$(grep -i cap "$T/start.out" "$T/op")"
fi

# --- stop, resume: what was approved is there ---
"$BB" bottle stop "$SLUG" >/dev/null 2>&1
wait $START 2>/dev/null
(cd "$T/ws" && CRED_TOKEN=$CRED SSL_CERT_FILE=$T/upca.crt exec "$BB" bottle resume "$SLUG" -y --hosts "$T/hosts") >"$T/res.out" 2>"$T/res.err" &
RES=$!
on_exit "kill -9 $RES 2>/dev/null"
if wait_until 60 grep -q "run 2 done" "$T/res.out" && grep -q "run 2 capability=yes" "$T/res.out" &&
	grep -q "approved in proposal [0-9a-f]*: host path $T/tools, read-only, from this run" "$T/res.err"; then
	ok "capability-block: after resume the approved host path is there (and the resume says it applies)"
else
	fail "capability after resume" "$(tail -n 6 "$T/res.out" "$T/res.err")"
fi
grep -q "resumed route 200" "$T/res.out" && ok "after resume the approved route is still there (from the host record)" ||
	fail "route after resume" "$(grep resumed "$T/res.out")"
if grep -q "resumed cred 200 dlp 200 other 403" "$T/res.out" && [ "$(auth_of /cred/resumed)" = "Bearer $CRED" ]; then
	ok "after resume the approved credential (from the resuming environment) and the DLP allowance still apply, on their route only"
else
	fail "approvals after resume" "$(auth_of /cred/resumed); $(grep resumed "$T/res.out")"
fi
"$BB" bottle stop "$SLUG" >/dev/null 2>&1
wait $RES 2>/dev/null
(cd "$T/ws" && SSL_CERT_FILE=$T/upca.crt exec "$BB" bottle resume "$SLUG" -y --hosts "$T/hosts") >"$T/res2.out" 2>"$T/res2.err" &
RES=$!
if wait_until 60 grep -q "run 3 done" "$T/res2.out" && grep -q "(host variable CRED_TOKEN) is not set here: route api.test goes without it" "$T/res2.err"; then
	ok "a resume without the credential's host variable says so and goes without it (nothing injected)"
else
	fail "resume without the variable" "$(tail -n 6 "$T/res2.out" "$T/res2.err")"
fi
"$BB" bottle stop "$SLUG" >/dev/null 2>&1
wait $RES 2>/dev/null

# --- capability-block with an image: the agent's root from the next resume ---
if ldd "$BB" >/dev/null 2>&1; then
	skip "capability: an image" "this bb is dynamically linked (a sanitizer build): bb init cannot run in an image without its libraries"
elif ! mini_rootfs "$T/capimg" sh cat sleep 2>"$T/img.err" || ! echo "from the approved image" >"$T/capimg/etc/bb-capability-marker" ||
	! python3 "$TESTS/peers/rootfs_image.py" "$T/capimg" "$T/capimg.tar" capimg:latest 2>>"$T/img.err" ||
	! "$BB" bottle image import "$T/capimg.tar" -q >>"$T/img.err" 2>&1; then
	fail "capability: an image" "could not make the test image: $(cat "$T/img.err")"
else
	mkdir -p "$T/ws2" && chown 65534:65534 "$T/ws2"
	sed -e 's/agent.sh/img.sh/' -e '/^egress:/,/^supervise/{/^supervise/!d}' "$BB_HOME/.bb/bottles/ask.md" >"$BB_HOME/.bb/bottles/img.md"
	cat >"$T/ws2/img.sh" <<'EOF'
n=$(cat $HOME/runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > $HOME/runs
echo "img run $n root: $(cat /etc/bb-capability-marker 2>/dev/null || echo the host\'s)"
if [ $n = 1 ]; then
	H='-H Content-Type:application/json -H Accept:application/json,text/event-stream'
	curl -sS -D /tmp/h -o /dev/null $H "$MCP_SUPERVISE_URL" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
	SID=$(grep -i '^mcp-session-id' /tmp/h | cut -d' ' -f2 | tr -d '\r')
	curl -sS --max-time 90 $H -H "Mcp-Session-Id: $SID" -H "MCP-Protocol-Version: 2025-06-18" "$MCP_SUPERVISE_URL" \
		-d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"capability-block","arguments":{"capability":"make in the image","reason":"build"}}}' |
		grep -o '"status":"[a-z]*"' | head -n 1
fi
echo "img run $n done"
exec sleep 3597
EOF
	chown 65534:65534 "$T/ws2/img.sh"
	(cd "$T/ws2" && exec "$BB" bottle start img -y) >"$T/img.out" 2>"$T/img.err" &
	IMGRUN=$!
	ASKER=img
	on_exit "kill -9 $IMGRUN 2>/dev/null"
	wait_until 60 has_pending capability-block - && "$BB" bottle approve "$(pending capability-block -)" --image nosuchimage >"$T/iop" 2>&1
	echo "rc=$?" >>"$T/iop"
	has_pending capability-block - && "$BB" bottle approve "$(pending capability-block -)" --image capimg >>"$T/iop" 2>&1
	wait_until 60 grep -q "img run 1 done" "$T/img.out"
	ISLUG=$("$BB" bottle list --json | python3 -c 'import json,sys; print([b["slug"] for b in json.load(sys.stdin) if b["agent"]=="img"][-1])')
	"$BB" bottle stop "$ISLUG" >/dev/null 2>&1
	wait $IMGRUN 2>/dev/null
	(cd "$T/ws2" && exec "$BB" bottle resume "$ISLUG" -y) >"$T/img2.out" 2>"$T/img2.err" &
	IMGRUN=$!
	on_exit "kill -9 $IMGRUN 2>/dev/null"
	if grep -q "image nosuchimage is not imported" "$T/iop" && grep -q "^rc=1" "$T/iop" &&
		grep -q "img run 1 root: the host's" "$T/img.out" && grep -q '"status":"approved"' "$T/img.out" &&
		wait_until 60 grep -q "img run 2 done" "$T/img2.out" && grep -q "img run 2 root: from the approved image" "$T/img2.out" &&
		grep -q "image capimg is the agent's root from this run" "$T/img2.err" &&
		[ "$("$BB" bottle inspect "$ISLUG" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["meta"]["image"])')" = capimg ]; then
		ok "capability-block with --image: the approved image is the agent's root after resume, not before (an image never imported is refused)"
	else
		fail "capability: an image" "$(cat "$T/iop" "$T/img.out" "$T/img2.out" "$T/img2.err" 2>&1 | tail -n 12)"
	fi
	"$BB" bottle stop "$ISLUG" >/dev/null 2>&1
	wait $IMGRUN 2>/dev/null
fi
"$BB" bottle cleanup --all >/dev/null 2>&1
