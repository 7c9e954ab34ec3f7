#!/usr/bin/env bash
# docker.sh - bb bottle run --backend docker against a real `podman system service`: exit codes, egress, isolation, nothing left behind.
# The podman service runs in the test's temp dir with its own storage and network config, so it touches nothing of the host's.
# The user-namespace case binds a copy of /etc (with subordinate id ranges) over the host's: in a mount
# namespace of the test's own, which the podman service and bb share and nothing else sees.
if [ -z "${BB_DK_MOUNTNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	exec env BB_DK_MOUNTNS=1 unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { skip "docker" "needs root (rootful podman, the bridge address bb removes)"; exit 0; }
for tool in podman runc iptables curl openssl python3 ip; do
	command -v $tool >/dev/null || { skip "docker" "$tool not installed (apt-get install podman runc iptables)"; exit 0; }
done
# The sidecar image holds bb alone: a dynamically linked build (the ASan one) cannot run in it.
if head -c 8192 "$BB" | grep -qa 'ld-linux'; then skip "docker" "$BB is dynamically linked (the sidecar image holds only bb)"; exit 0; fi
[ -x /usr/lib/podman/netavark ] || { skip "docker" "netavark not installed (apt-get install netavark)"; exit 0; }

SOCK=$T/podman.sock
PODMAN=(podman --root "$T/storage" --runroot "$T/run" --storage-driver vfs --network-config-dir "$T/net"
	--tmpdir "$T/ptmp" --events-backend file --cgroup-manager=cgroupfs --runtime runc)
mkdir -p "$T/net" "$T/ptmp"
"${PODMAN[@]}" system service --time=0 "unix://$SOCK" >"$T/podman.log" 2>&1 &
PODMAN_PID=$!
# Containers a failed case left running go first, then the service; its storage is under $T.
on_exit "kill_tree $PODMAN_PID"
on_exit "${PODMAN[*]} rm -a -f -t 0"
on_exit "${PODMAN[*]} network prune -f"
api() { curl -s --max-time 30 --unix-socket "$SOCK" "http://d/v1.41$1"; }
for _ in $(seq 100); do [ "$(api /_ping 2>/dev/null)" = OK ] && break; sleep 0.1; done
if [ "$(api /_ping)" != OK ]; then
	fail "podman service starts" "$(tail -n 5 "$T/podman.log")"
	exit 0
fi
ok "podman system service answers the Engine API on a unix socket"
export DOCKER_HOST=unix://$SOCK

# The upstream: the containers cannot reach 127.0.0.x (each has its own loopback), so it listens on
# 198.18.N.1 on an interface of the test's own (a veth pair: no dummy driver everywhere), which the
# egress network reaches through its bridge gateway (the host delivers it locally).
UPIF=bbdk$$
UPADDR=198.18.$((RANDOM % 200 + 20)).1
ip link add "$UPIF" type veth peer name "${UPIF}p" && on_exit "ip link del $UPIF" &&
	ip addr add "$UPADDR/32" dev "$UPIF" && ip link set "${UPIF}p" up && ip link set "$UPIF" up ||
	{ fail "upstream address" "cannot add a veth pair"; exit 0; }
UP=$(free_port "$UPADDR")
TOKEN="sk-dk-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# The bottle's state and CA under /var/lib, not /tmp: the agent sees the host's /var read-only, so the
# test proves they are hidden (the agent's /tmp, and under podman /var/tmp, are tmpfs of its own).
BB_HOME=$(mktemp -d /var/lib/bb-docker-test.XXXXXX) || { fail "BB_HOME" "mktemp in /var/lib"; exit 0; }
export BB_HOME
on_exit "rm -rf $BB_HOME"
mkdir -p "$BB_HOME/.bb/bottles" "$T/ws"
chown 65534:65534 "$T/ws"
upstream_cert api.test denied.test
python3 "$TESTS/peers/http_upstream.py" "$UPADDR" "$UP" "$T/up.log" "$T/up.crt" "$T/up.key" 2>"$T/up.err" &
on_exit "kill_tree $!"
wait_port "$UPADDR" "$UP" || { fail "upstream starts" "$(cat "$T/up.err")"; exit 0; }
printf '%s api.test denied.test\n' "$UPADDR" >"$T/hosts"
cat >"$BB_HOME/.bb/bottles/dev.md" <<EOF
---
egress:
  routes:
    - host: api.test
      auth: {scheme: Bearer, token_ref: DK_TEST_TOKEN}
      pipelock: {ssrf_ip_allowlist: ["$UPADDR/32"]}
---
EOF

bbrun() { # run CMD in a docker-backed bottle; output in $T/out, $T/err; status returned
	(cd "$T/ws" && DK_TEST_TOKEN=$TOKEN SSL_CERT_FILE=$T/upca.crt timeout 120 "$BB" bottle run dev --backend docker \
		--hosts "$T/hosts" -- "$@") >"$T/out" 2>"$T/err" </dev/null
}
leftovers() { # what bb left on the engine or in the state dir, one line each; empty when nothing
	api '/containers/json?all=1' | python3 -c 'import json,sys; [print("container", c["Names"]) for c in json.load(sys.stdin)]'
	api '/networks' | python3 -c 'import json,sys; [print("network", n["Name"]) for n in json.load(sys.stdin) if n["Name"] != "podman" and n["Name"] != "bridge"]'
	api '/images/json' | python3 -c 'import json,sys; [print("image", i.get("RepoTags")) for i in json.load(sys.stdin)]'
	ls -A "$BB_HOME/.bb/state" 2>/dev/null | grep -v '^meta$' | sed 's/^/state /'
}
wait_running() { # ROLE (agent, sidecar): until a bottle's container of that role runs, at most 20 s
	for _ in $(seq 200); do
		api '/containers/json?filters=%7B%22status%22%3A%5B%22running%22%5D%7D' | grep -q -- "-$1\"" && return 0
		sleep 0.1
	done
	return 1
}
nothing_left() { # NAME
	local l
	l=$(leftovers)
	if [ -z "$l" ]; then ok "$1"; else fail "$1" "$(echo "$l" | head -n 5 | tr '\n' ' ')"; fi
}

# --- exit codes and streams ---
bbrun sh -c 'echo to-out; echo to-err >&2; exit 7'
rc=$?
if [ "$rc" = 7 ] && [ "$(cat "$T/out")" = to-out ] && grep -q '^to-err$' "$T/err"; then
	ok "the command's exit status, stdout and stderr come back separately"
else
	fail "exit status and streams" "rc=$rc out=$(head -c 300 "$T/out") err=$(tail -n 3 "$T/err")"
fi
nothing_left "nothing is left on the engine or in the state dir after a run"
(cd "$T/ws" && echo from-stdin | DK_TEST_TOKEN=$TOKEN timeout 120 "$BB" bottle run dev --backend docker -- \
	sh -c 'read l; echo "got $l"') >"$T/out" 2>"$T/err"
if [ "$(cat "$T/out")" = "got from-stdin" ]; then ok "the agent reads the host's stdin (attach)"; else fail "stdin" "$(cat "$T/out" "$T/err" | tail -n 3)"; fi

# --- egress ---
bbrun sh -c "curl -sS --max-time 20 https://api.test:$UP/v1/in -H 'Authorization: Bearer placeholder'"
if grep -q '"path": "/v1/in"' "$T/out" && grep -q "Bearer $TOKEN" "$T/up.log"; then
	ok "an allowed route reaches the host's upstream through the sidecar; the token is injected there"
else
	fail "allowed route" "$(cat "$T/out" "$T/err" | tail -n 5)"
fi
# The provider's program where the container hides it (/tmp): bound read-only and linked by name.
named_program_bottle
out=$(cd "$T/ws" && timeout 120 "$BB" bottle run named --backend docker -- claude 2>&1 </dev/null)
grep -q "named program ran from /run/bb/bin/claude" <<<"$out" &&
	ok "docker backend: the provider's program (under /tmp, hidden) is bound and linked" || fail "docker program" "$out"
bbrun sh -c "curl -s -o /dev/null -w '%{http_connect}' --max-time 20 https://denied.test:$UP/x"
if [ "$(cat "$T/out")" = 403 ] && ! grep -q '"/x"' "$T/up.log"; then
	ok "a host the manifest does not name is refused by egress (403)"
else
	fail "denied host" "got $(cat "$T/out"): $(tail -n 3 "$T/err")"
fi

# --- isolation, each probe runs inside the bottle ---
# python3 comes from the host's /usr, mounted read-only. A probe prints one word per target.
cat >"$T/ws/probe.py" <<'EOF'
import os, socket, sys, re
sidecar = re.search(r"//([0-9.]+):", os.environ["HTTPS_PROXY"]).group(1)
gw = sidecar.rsplit(".", 1)[0] + ".1"
def tcp(host, port):
    s = socket.socket(); s.settimeout(4)
    try:
        s.connect((host, port)); return "open"
    except ConnectionRefusedError:
        return "refused"  # something answered: the host is reachable
    except OSError as e:
        return "unreachable"
def dns(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(4)
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
    try:
        s.sendto(q, (server, 53)); s.recv(512); return "answered"
    except OSError:
        return "silent"
print("sidecar-proxy", tcp(sidecar, 9099))
print("gateway-tcp", tcp(gw, int(sys.argv[1])))
print("gateway-dns", dns(gw))
print("upstream-direct", tcp(sys.argv[2], int(sys.argv[1])))
EOF
bbrun python3 probe.py "$UP" "$UPADDR"
if grep -q '^sidecar-proxy open$' "$T/out" && grep -q '^gateway-tcp unreachable$' "$T/out" &&
	grep -q '^gateway-dns silent$' "$T/out" && grep -q '^upstream-direct unreachable$' "$T/out"; then
	ok "the agent reaches the sidecar and nothing else: not the host's bridge address, its DNS, nor the upstream"
else
	fail "agent isolation" "$(cat "$T/out" "$T/err" | tr '\n' ' ' | tail -c 400)"
fi
# bb makes these 0700; opened up here so that only the hiding keeps the agent (uid 65534) out of them.
chmod 755 "$BB_HOME" "$BB_HOME/.bb" "$BB_HOME/.bb/state" "$BB_HOME/.bb/ca"
bbrun sh -c "touch /x 2>/dev/null && echo rootfs-writable; touch /usr/x 2>/dev/null && echo usr-writable
	ls -d $BB_HOME/.bb/state/*/ >/dev/null 2>&1 || echo no-state-dir
	for f in $BB_HOME/.bb/state/*/plan.json; do [ -e \$f ] && echo state-visible; done
	ls -A $BB_HOME/.bb/ca | grep -q . && echo ca-visible
	grep -q '^CapEff:	0000000000000000' /proc/self/status || echo has-caps
	grep -q '^NoNewPrivs:	1' /proc/self/status || echo no-nnp
	[ -n \"\$(ls -A /root 2>/dev/null)\$(ls -A /home 2>/dev/null)\" ] && echo homes-visible
	[ \$(id -u) = 0 ] && echo root; touch ws-ok; env"
if [ -e "$T/ws/ws-ok" ] && [ -e "$BB_HOME/.bb/ca/ca.key" ] &&
	! grep -qE '^(rootfs-writable|usr-writable|no-state-dir|state-visible|ca-visible|homes-visible|has-caps|no-nnp|root)$' "$T/out" &&
	! grep -q "$TOKEN" "$T/out" && grep -q '^HTTPS_PROXY=http://10\.231\.[0-9]*\.2:9099$' "$T/out"; then
	ok "the agent: read-only root and host dirs, workspace writable, state, CA and people's homes hidden, no caps, no_new_privs, not root, no token"
else
	fail "agent confinement" "$(grep -E '^(rootfs|usr|no-|state|ca-|homes|has|root|HTTPS)' "$T/out" | tr '\n' ' ') $(tail -n 2 "$T/err")"
fi
rm -f "$T/ws/ws-ok"

# --- the sidecar: only on the internal network (no route out); egress dials through the host's dialer ---
# Probed from the sidecar's own network namespace (its image holds only bb): a direct connect to the
# upstream finds no route, a request through egress there reaches it.
(cd "$T/ws" && DK_TEST_TOKEN=$TOKEN SSL_CERT_FILE=$T/upca.crt exec timeout 120 "$BB" bottle run dev --backend docker \
	--hosts "$T/hosts" -- sleep 60) >"$T/out" 2>"$T/err" </dev/null &
SC_RUN=$!
on_exit "kill -KILL $SC_RUN"
wait_running agent
SPID=$(api '/containers/json' | python3 -c 'import json,sys; print([c["Id"] for c in json.load(sys.stdin) if any(n.endswith("-sidecar") for n in c["Names"])][0])' |
	while read -r id; do api "/containers/$id/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["State"]["Pid"])'; done)
if [ -n "$SPID" ] && [ "$SPID" -gt 1 ]; then
	direct=$(nsenter -t "$SPID" -n curl -sS --noproxy '*' -k --max-time 4 "https://$UPADDR:$UP/direct" 2>&1; echo "rc=$?")
	routes=$(nsenter -t "$SPID" -n ip -4 route show default)
	via=$(nsenter -t "$SPID" -n curl -sS --max-time 20 --proxy http://127.0.0.1:9099 --cacert "$BB_HOME/.bb/ca/ca.crt" \
		-H 'Authorization: Bearer placeholder' "https://api.test:$UP/v1/via-sidecar" 2>&1)
fi
kill -TERM "$SC_RUN"
wait "$SC_RUN"
if [ -n "$SPID" ] && ! grep -q "rc=0" <<<"$direct" && [ -z "$routes" ] && ! grep -q '"/direct"' "$T/up.log" &&
	grep -q '"path": "/v1/via-sidecar"' <<<"$via"; then
	ok "the sidecar has no route out (a direct connect to the upstream fails); egress there reaches it through the host's dialer"
else
	fail "sidecar without a route out" "pid=$SPID direct: $(tail -c 200 <<<"$direct") default route: $routes via: $(tail -c 200 <<<"$via") $(tail -n 2 "$T/err")"
fi
nothing_left "nothing is left after the sidecar probe"

# --- the agent's escape attempts (tests/sh/escapes.inc), all in one bottle; its seccomp filter is bb's list ---
A=$UPADDR
. "$(dirname "$0")/escapes.inc"
escapes_outside_host
escapes_batch "docker: "
nothing_left "nothing is left after the escape attempts"
# Calls the engine's default profile lets through (podman's allows unshare and name_to_handle_at) and bb's list refuses.
bbrun python3 -c 'import ctypes,os
l = ctypes.CDLL(None, use_errno=True)
for name, call in (("unshare(CLONE_NEWUSER)", lambda: l.unshare(0x10000000)),
                   ("name_to_handle_at", lambda: l.name_to_handle_at(-100, b"/", None, None, 0)),
                   ("syslog(READ_ALL)", lambda: l.klogctl(3, None, 0))):
    ctypes.set_errno(0)
    print(name, "allowed" if call() >= 0 else os.strerror(ctypes.get_errno()))'
if [ "$(grep -c ' Operation not permitted$' "$T/out")" = 3 ]; then
	ok "docker: bb's seccomp list is the agent's filter (unshare of a user namespace, name_to_handle_at, syslog: EPERM)"
else
	fail "docker: seccomp list" "$(tr '\n' ' ' <"$T/out") $(tail -n 2 "$T/err")"
fi
nothing_left "nothing is left after the seccomp probe"

# --- the agent in a user namespace: podman's UsernsMode auto, when /etc/subuid and /etc/subgid give "containers" ids ---
bbrun sh -c 'head -n 1 /proc/self/uid_map'
if [ "$(awk '{print $1 ":" $2}' "$T/out")" = 0:0 ]; then
	ok "docker: without subordinate ids for containers the agent's namespace is the host's (podman cannot make one)"
else
	fail "docker: no userns" "$(cat "$T/out" "$T/err" | tail -n 3)"
fi
if [ -n "${BB_DK_MOUNTNS:-}" ] && cp -a /etc "$T/etc" && echo containers:1800000000:65536 >>"$T/etc/subuid" &&
	echo containers:1800000000:65536 >>"$T/etc/subgid" && mount --bind "$T/etc" /etc; then
	bbrun sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; touch userns-file'
	umount /etc
	if awk '$1 == 0 && $2 >= 1800000000 && $2 < 1800065536 {r++} $1 == 65534 && $2 == 65534 && $3 == 1 {w++} END {exit !(r == 2 && w == 2)}' "$T/out" &&
		grep -qx 65534 "$T/out" && [ "$(stat -c %u:%g "$T/ws/userns-file" 2>/dev/null)" = 65534:65534 ]; then
		ok "docker: with them the agent runs in a user namespace: its root is a subordinate id, the workspace owner maps 1:1"
	else
		fail "docker: userns" "$(cat "$T/out" "$T/err" | tail -n 6 | tr '\n' ' ')"
	fi
	rm -f "$T/ws/userns-file"
	nothing_left "nothing is left after the user-namespace run"
else
	skip "docker: userns" "no mount namespace of the test's own to bind /etc with subordinate ids in"
fi

# --- two bottles at once: their own networks and containers, no crosstalk ---
for i in 1 2; do
	(cd "$T/ws" && DK_TEST_TOKEN=$TOKEN timeout 120 "$BB" bottle run dev --backend docker -- \
		sh -c "echo bottle-$i \$HTTPS_PROXY; sleep 2; exit 1$i") >"$T/out$i" 2>"$T/err$i" </dev/null &
	eval "PAR$i=\$!"
done
wait "$PAR1"; rc1=$?
wait "$PAR2"; rc2=$?
p1=$(sed -n 's/^bottle-1 //p' "$T/out1"); p2=$(sed -n 's/^bottle-2 //p' "$T/out2")
if [ "$rc1" = 11 ] && [ "$rc2" = 12 ] && [ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != "$p2" ] && [ -z "$(leftovers)" ]; then
	ok "two bottles at once: each its own sidecar ($p1, $p2) and status; nothing left"
else
	grep -i -E "image|untag|remov" "$T/podman.log" | tail -n 20 >&2
	fail "two bottles" "rc=$rc1/$rc2 proxies=$p1/$p2 $(tail -n 2 "$T/err1" "$T/err2") left: $(leftovers | tr '\n' ' ')"
fi
# The host's stdout closing early (| head) must not kill bb before it tears down.
(cd "$T/ws" && DK_TEST_TOKEN=$TOKEN timeout 120 "$BB" bottle run dev --backend docker -- \
	sh -c 'i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done' </dev/null 2>"$T/err" | head -n 1 >"$T/out")
if [ "$(cat "$T/out")" = "line 0" ] && [ -z "$(leftovers)" ]; then
	ok "a reader that stops early (| head) still gets a full teardown"
else
	fail "stdout closed early" "$(cat "$T/out") $(tail -n 2 "$T/err") left: $(leftovers | tr '\n' ' ')"
fi

# --- stop: SIGTERM to the host process (what bb bottle stop sends) reaches the agent through its init ---
(cd "$T/ws" && DK_TEST_TOKEN=$TOKEN exec timeout 120 "$BB" bottle run dev --backend docker -- sleep 60) \
	>"$T/out" 2>"$T/err" </dev/null &
RUN_PID=$!
on_exit "kill -KILL $RUN_PID"
wait_running agent
sleep 0.5
started=$(date +%s)
kill -TERM "$RUN_PID"
wait "$RUN_PID"
rc=$?
took=$(($(date +%s) - started))
if [ "$rc" = 143 ] && [ "$took" -lt 15 ] && [ -z "$(leftovers)" ]; then
	ok "SIGTERM to bb stops the agent (status 143) in ${took}s and leaves nothing behind"
else
	fail "stop" "rc=$rc took=${took}s $(tail -n 2 "$T/err") left: $(leftovers | tr '\n' ' ')"
fi

# --- failures: fail closed, say which call failed, leave nothing ---
for step in 2 4 5 6; do
	BB_RT_FAULT=$step bbrun true
	rc=$?
	if [ "$rc" != 0 ] && grep -q "injected fault at step $step" "$T/err" && [ -z "$(leftovers)" ]; then
		ok "a failure at step $step stops the run and leaves nothing behind"
	else
		fail "failure at step $step" "rc=$rc $(tail -n 2 "$T/err") left: $(leftovers | tr '\n' ' ')"
	fi
done
DOCKER_HOST=unix://$T/no-such.sock bbrun true
rc=$?
if [ "$rc" != 0 ] && grep -q "no-such.sock" "$T/err" && [ -z "$(leftovers)" ]; then
	ok "no engine: the run stops with the socket named"
else
	fail "no engine" "rc=$rc $(tail -n 2 "$T/err")"
fi
DOCKER_HOST=tcp://127.0.0.1:2375 bbrun true
if [ $? != 0 ] && grep -q "only unix" "$T/err"; then ok "a tcp:// DOCKER_HOST is refused"; else fail "tcp DOCKER_HOST" "$(tail -n 2 "$T/err")"; fi

# --- the lifecycle on this backend: start, list, inspect, logs, a live approval, stop, resume, kill -9, cleanup ---
cat >"$BB_HOME/.bb/bottles/life.md" <<EOF
---
agent_provider: {template: command, command: [sh, ./agent.sh]}
egress:
  routes:
    - host: api.test
      path_allowlist: [/v1/]
      pipelock: {ssrf_ip_allowlist: ["$UPADDR/32"]}
supervise: true
---
EOF
# The agent: counts its runs in its home (kept across resume); on its first run asks over MCP for /v2/ and
# shows the path refused, then allowed once the operator (this test) approves; then waits to be stopped.
cat >"$T/ws/agent.sh" <<EOF
n=\$(cat \$HOME/runs 2>/dev/null || echo 0); n=\$((n+1)); echo \$n >\$HOME/runs; echo "agent run \$n"
if [ \$n = 1 ]; then
	H='-H Content-Type:application/json -H Accept:application/json,text/event-stream'
	before=\$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 https://api.test:$UP/v2/x)
	curl -sS -D /tmp/h -o /dev/null \$H "\$MCP_SUPERVISE_URL" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
	SID=\$(grep -i '^mcp-session-id' /tmp/h | cut -d' ' -f2 | tr -d '\r')
	curl -sS --max-time 90 \$H -H "Mcp-Session-Id: \$SID" -H "MCP-Protocol-Version: 2025-06-18" "\$MCP_SUPERVISE_URL" \
		-d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"api.test","paths":["/v2/"],"reason":"test"}}}' | grep -o '"status":"[a-z]*"'
	sleep 1
	echo "before=\$before after=\$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 https://api.test:$UP/v2/x)"
fi
exec sleep 3595
EOF
lifeslug() { "$BB" bottle list --json | python3 -c "import json,sys; b=[x for x in json.load(sys.stdin) if x['agent']=='life']; print(b[-1]['slug'] + ' ' + b[-1]['status'] if b else '')"; }
(cd "$T/ws" && SSL_CERT_FILE=$T/upca.crt exec "$BB" bottle start life --backend docker --hosts "$T/hosts" -y) \
	>"$T/life.out" 2>"$T/life.err" </dev/null &
LIFE=$!
on_exit "kill -KILL $LIFE"
approved=""
for _ in $(seq 300); do
	id=$("$BB" bottle proposals life --json 2>/dev/null | python3 -c 'import json,sys
try:
    d = json.load(sys.stdin)
    print([p["id"] for p in (d if isinstance(d, list) else d.get("proposals", [])) if p.get("status") == "pending"][0])
except Exception:
    pass')
	[ -n "$id" ] && { "$BB" bottle approve "$id" --note "ok from the test" >/dev/null && approved=$id; break; }
	sleep 0.2
done
wait_until 60 grep -q "^before=" "$T/life.out"
read -r SLUG STATUS <<<"$(lifeslug)"
if grep -q "agent run 1" "$T/life.out" && grep -q '"status":"approved"' "$T/life.out" && grep -q "before=403 after=200" "$T/life.out"; then
	ok "docker: start runs the agent; it asks over MCP, the operator approves live, the route works at once"
else
	fail "docker: start and a live approval" "approved='$approved' $(tail -n 5 "$T/life.out" "$T/life.err" | tr '\n' ' ')"
fi
if [ "$STATUS" = running ] && "$BB" bottle list | grep -Eq "^$SLUG +life +running +docker" &&
	"$BB" bottle inspect "$SLUG" --json | grep -q '"backend":"docker"' && "$BB" bottle logs "$SLUG" --daemon egress | grep -q '"verdict"'; then
	ok "docker: list, inspect and logs show the running bottle and its egress decisions"
else
	fail "docker: list/inspect/logs" "$SLUG $STATUS: $("$BB" bottle list 2>&1)"
fi
"$BB" bottle stop "$SLUG" >"$T/stop.out" 2>&1
wait "$LIFE"
if "$BB" bottle list | grep -Eq "^$SLUG +life +stopped" && [ -z "$(leftovers | grep -v "^state $SLUG\$")" ]; then
	ok "docker: stop ends the bottle; its containers and networks are gone, its state kept"
else
	fail "docker: stop" "$(cat "$T/stop.out") left: $(leftovers | tr '\n' ' ')"
fi
("$BB" bottle resume "$SLUG" -y) >"$T/res.out" 2>"$T/res.err" </dev/null &
RES=$!
on_exit "kill -KILL $RES"
if wait_until 60 grep -q "agent run 2" "$T/res.out"; then
	ok "docker: resume starts the same bottle again with the agent's home kept"
else
	fail "docker: resume" "$(tail -n 5 "$T/res.out" "$T/res.err")"
fi
HOSTPID=$("$BB" bottle inspect "$SLUG" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["meta"]["host_pid"])')
kill -KILL "$HOSTPID"
wait "$RES" 2>/dev/null
wait_until 5 sh -c "'$BB' bottle list | grep -Eq '^$SLUG +life +dead'"
"$BB" bottle cleanup >"$T/clean.out" 2>&1
if grep -q "removed .*$SLUG" "$T/clean.out" && grep -q "docker object" "$T/clean.out" && [ -z "$(leftovers)" ]; then
	ok "docker: after kill -9 of the host process, cleanup removes the containers, networks, image and state"
else
	fail "docker: cleanup after kill -9" "$(cat "$T/clean.out") left: $(leftovers | tr '\n' ' ')"
fi

# --- agent_provider.dockerfile on this backend: built by the same engine, imported, bound as the agent's root.
# The image's top-level links resolve inside the image: /hostetc -> /etc is the image's /etc, never the host's.
mkdir -p "$T/ictx/root/etc" "$T/ictx/root/usr/bin"
cp "$BB" "$T/ictx/bb"
echo '{"from":"image-etc"}' >"$T/ictx/root/etc/marker.json"
echo '{"from":"image-usr-bin"}' >"$T/ictx/root/usr/bin/m.json"
ln -s usr/bin "$T/ictx/root/bin"
ln -s /etc "$T/ictx/root/hostetc"
printf 'FROM scratch\nCOPY bb /bb\nCOPY root/ /\n' >"$T/ictx/Dockerfile"
printf -- '---\nagent_provider: {dockerfile: %s}\n---\n' "$T/ictx/Dockerfile" >"$BB_HOME/.bb/bottles/img.md"
irun() { (cd "$T/ws" && timeout 120 "$BB" bottle run img --backend docker -- "$@") 2>&1 </dev/null; }
o1=$(irun /bb probe json /hostetc/marker.json)
o2=$(irun /bb probe json /bin/m.json)
o3=$(irun /bb probe json /hostetc/os-release)
if grep -q '"from":"image-etc"' <<<"$o1" && grep -q "built now from" <<<"$o1" && grep -q '"from":"image-usr-bin"' <<<"$o2" &&
	grep -qi "no such file" <<<"$o3"; then
	ok "docker: agent_provider.dockerfile is built and is the agent's root; its links resolve inside the image (not the host's /etc)"
else
	fail "docker: dockerfile image" "$(printf "%s | " "$o1" "$o2" "$o3" | tr "\n" " ")"
fi
o4=$(irun /bin/sh -c true)
[ $? = 127 ] && ok "docker: the host's /bin/sh is not in the image's root" || fail "docker: image root holds the host" "$(tr "\n" " " <<<"$o4")"
exit 0
