#!/usr/bin/env bash
# runtime.sh - bb bottle run on the embedded runtime: the agent reaches only the sidecar, escapes fail, nothing is left behind.
# Every escape attempt runs inside the bottle under test, never on the host.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { skip "runtime" "needs root (namespaces, mounts, veth)"; exit 0; }
unshare --net --mount true 2>/dev/null || { skip "runtime" "namespaces are not available here"; exit 0; }
for tool in curl openssl python3 ip; do
	command -v $tool >/dev/null || { skip "runtime" "$tool not installed"; exit 0; }
done

. "$(dirname "$0")/escapes.inc"
escapes_setup || exit 0

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
escapes_each

# --- user namespace, pivot_root, /dev (docs/runtime.md) ---
bbrun sh -c 'cat /proc/self/uid_map; echo gid; cat /proc/self/gid_map'
# The agent's root is an unprivileged host uid (2^31 + 2*PID + 1); the workspace owner (65534 here) maps 1:1; nothing else.
if awk 'NR==1 && $1==0 && $2>=2147483648 && $3==1 {a=1} NR==2 && $1==65534 && $2==65534 && $3==1 {b=1} END {exit !(a && b && NR==5)}' "$T/out" &&
	! grep -qE '^ +0 +0 ' "$T/out"; then
	ok "user namespace: the agent's root is an unprivileged host uid, the workspace owner maps 1:1, host root is unmapped"
else
	fail "agent uid_map" "$(cat "$T/out" "$T/err")"
fi
check_dev_minimal
check_root_staged

# --- an image's rootfs instead of the host's: read-only, the workspace at /workspace ---
IMG=$T/img/rootfs
if ldd "$BB" >/dev/null 2>&1; then
	skip "image rootfs" "this bb is dynamically linked (a sanitizer build): bb init cannot run in a rootfs without its libraries"
else
mkdir -p "$IMG/bin" "$IMG/etc" "$IMG/lib/x86_64-linux-gnu" "$IMG/lib64" "$IMG/home"
cp /bin/dash "$IMG/bin/sh" && cp /bin/cat "$IMG/bin/cat" && echo "from the image" >"$IMG/etc/marker"
for lib in $(ldd /bin/dash /bin/cat | grep -o '/lib[^ ]*' | sort -u); do cp "$lib" "$IMG$lib" 2>/dev/null || cp "$lib" "$IMG/lib64/"; done
(cd "$T/ws" && BB_RT_ROOTFS=$IMG RUN_TEST_TOKEN=$TOKEN timeout 60 "$BB" bottle run dev --hosts "$T/hosts" -- sh -c \
	'cat /etc/marker; echo "pwd=$PWD"; echo img >/workspace/from-image; ! echo x >/bin/new 2>/dev/null && ! echo x >/etc/marker 2>/dev/null && echo ro;
	[ ! -e /usr ] && [ ! -e /root ] && [ ! -e /etc/passwd ] && echo only-image; cat /run/bb/resolv.conf >/dev/null && [ -c /dev/null ] && echo runtime-files') >"$T/out" 2>"$T/err"
if grep -q '^from the image$' "$T/out" && grep -q '^pwd=/workspace$' "$T/out" && [ "$(cat "$T/ws/from-image" 2>/dev/null)" = img ] &&
	grep -q '^ro$' "$T/out" && grep -q '^only-image$' "$T/out" && grep -q '^runtime-files$' "$T/out"; then
	ok "an image's rootfs (BB_RT_ROOTFS): only its files, read-only, the workspace at /workspace, /dev and /run/bb added"
else
	fail "image rootfs" "$(cat "$T/out" "$T/err")"
fi
rm -f "$T/ws/from-image"
fi
(cd "$T/ws" && BB_RT_ROOTFS=relative/dir RUN_TEST_TOKEN=$TOKEN timeout 30 "$BB" bottle run dev --hosts "$T/hosts" -- true) >"$T/out" 2>"$T/err"
if [ $? != 0 ] && grep -q "BB_RT_ROOTFS=relative/dir" "$T/err"; then ok "a rootfs that is not an absolute directory is refused"; else fail "bad rootfs" "$(cat "$T/err")"; fi

# --- cgroups: a fork bomb and a memory hog inside the agent are stopped by the bottle's limits ---
cg_writable() { # CONTROLLER: a v1 or v2 hierarchy we can make a cgroup in
	local d
	for d in /sys/fs/cgroup/$1 /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -w "$d" ] || continue
		[ "$d" = /sys/fs/cgroup/$1 ] && return 0
		grep -qw "$1" "$d/cgroup.controllers" 2>/dev/null && return 0
	done
	return 1
}
if cg_writable pids; then
	(cd "$T/ws" && BB_PIDS_MAX=40 RUN_TEST_TOKEN=$TOKEN timeout 60 "$BB" bottle run dev --hosts "$T/hosts" -- sh -c \
		'sleep 3 & s=$!; bomb() { bomb & bomb & wait; }; bomb 2>/dev/null & wait $s; set -- /proc/[0-9]*; echo "procs=$#"
		cg=; while IFS=: read -r n c p; do [ "$c" = pids ] && cg=$p; done </proc/self/cgroup
		for f in /sys/fs/cgroup/pids$cg/pids.events /sys/fs/cgroup/unified$cg/pids.events; do [ -r "$f" ] && read -r ev <"$f" && echo "events=$ev"; done
		kill -9 -1 2>/dev/null; exit 0') >"$T/out" 2>"$T/err"
	rc=$?
	n=$(sed -n 's/^procs=//p' "$T/out")
	refused=$(sed -n 's/^events=max //p' "$T/out")
	if [ "$rc" = 0 ] && [ -n "$n" ] && [ "$n" -le 42 ] && [ "${refused:-0}" -gt 0 ]; then
		ok "a fork bomb in the agent is held at pids.max (BB_PIDS_MAX=40: $refused forks refused, $n processes left) and the bottle still ends"
	else
		fail "fork bomb" "rc $rc, procs '$n', refused '$refused': $(cat "$T/out") $(tail -n 3 "$T/err")"
	fi
else
	skip "fork bomb" "no writable pids cgroup hierarchy here"
fi
if cg_writable memory; then
	(cd "$T/ws" && BB_MEMORY_MAX=64M RUN_TEST_TOKEN=$TOKEN timeout 60 "$BB" bottle run dev --hosts "$T/hosts" -- \
		python3 -c 'b = bytearray(400 << 20); print("survived")') >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = 137 ] && ! grep -q survived "$T/out"; then
		ok "a memory hog in the agent is killed at memory.max (BB_MEMORY_MAX=64M, 400 MB asked): status 137"
	else
		fail "memory hog" "rc $rc: $(cat "$T/out") $(tail -n 3 "$T/err")"
	fi
	(cd "$T/ws" && BB_MEMORY_MAX=lots RUN_TEST_TOKEN=$TOKEN timeout 60 "$BB" bottle run dev --hosts "$T/hosts" -- true) >"$T/out" 2>"$T/err"
	if [ $? != 0 ] && grep -q "BB_MEMORY_MAX=lots" "$T/err"; then ok "a malformed limit is refused and named"; else fail "bad limit" "$(cat "$T/err")"; fi
else
	skip "memory hog" "no writable memory cgroup hierarchy here"
fi
# The cgroups of a bottle that ended are gone (other sessions' bottles may have theirs: only this one's are looked for).
(cd "$T/ws" && RUN_TEST_TOKEN=$TOKEN exec "$BB" bottle run dev --hosts "$T/hosts" -- sh -c 'grep -q ":/.*bb-[0-9]*-agent$" /proc/self/cgroup') >"$T/out" 2>&1 &
cgpid=$!
wait "$cgpid"
cgrc=$?
if ! cg_writable pids && ! cg_writable memory; then
	skip "cgroup removal" "no writable cgroup hierarchy here"
elif [ "$cgrc" != 0 ]; then
	fail "cgroup" "the agent was not in a bb-PID-agent cgroup: $(cat "$T/out")"
elif ls -d /sys/fs/cgroup/*/bb-$cgpid-* /sys/fs/cgroup/*/*/*/bb-$cgpid-* 2>/dev/null | grep -q .; then
	fail "cgroups left" "$(ls -d /sys/fs/cgroup/*/bb-$cgpid-* /sys/fs/cgroup/*/*/*/bb-$cgpid-* 2>/dev/null)"
else
	ok "the agent runs in its bottle's cgroup, removed when the bottle ends"
fi

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
rm -f "$T/ws/release"
bbrun sh -c 'while [ ! -e release ]; do sleep 0.05; done' & # the bottle lives until the checks are done
runpid=$!
spid=""
for _ in $(seq 600); do
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
	# Socket activation: egress got its listening socket from the runtime, made before it started.
	if tr '\0' ' ' <"/proc/$spid/cmdline" | grep -q -- '--listen-fd [0-9]' &&
		[ "$(readlink "/proc/$spid/fd/$(tr '\0' '\n' <"/proc/$spid/cmdline" | sed -n '/^--listen-fd$/{n;p}')")" != "" ]; then
		ok "egress listens on a socket the runtime made in the sidecar's namespace (--listen-fd)"
	else
		fail "socket activation" "$(tr '\0' ' ' <"/proc/$spid/cmdline")"
	fi
else
	fail "sidecar isolation" "could not find the sidecar's egress"
fi
touch "$T/ws/release"
wait "$runpid"
rm -f "$T/ws/release"

# --- nothing left behind; failures fail closed ---
sleep 0.2
if [ -z "$(ls -A "$BB_HOME/.bb/state" 2>/dev/null)" ]; then ok "the state directory (plan, sockets) is removed"; else fail "state left" "$(ls "$BB_HOME/.bb/state")"; fi
if pgrep -f "bb (egress|init).*$BB_HOME" >/dev/null; then fail "processes left" "$(pgrep -af "$BB_HOME")"; else ok "no process of the bottle survives it"; fi
# 1 sidecar namespaces, 2 agent namespaces, 3 network, 4 seccomp, 5 id maps, 6 cgroup, 7 pivot_root, 8 /dev, 9 sockets
for step in 1 2 3 4 5 6 7 8 9; do
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
# The agent's sleep has a length of its own: other tests on this machine sleep too.
SLP="sleep 6$((RANDOM % 10)).$((RANDOM % 900 + 100))"
(cd "$T/ws" && RUN_TEST_TOKEN=$TOKEN SSL_CERT_FILE=$T/upca.crt exec "$BB" bottle run dev --hosts "$T/hosts" -- $SLP) >/dev/null 2>&1 &
hostpid=$!
sd=""
for _ in $(seq 400); do
	sd=$(ls -d "$BB_HOME"/.bb/state/dev-* 2>/dev/null | head -n 1)
	[ -n "$sd" ] && pgrep -f "bb egress --policy $sd" >/dev/null && pgrep -fx "$SLP" >/dev/null && break
	sleep 0.05
done
kill -9 "$hostpid"
wait "$hostpid" 2>/dev/null
# The teardown runs on parent-death signals down the tree: a loaded machine takes a moment.
for _ in $(seq 400); do pgrep -f "$sd/|^$SLP\$" >/dev/null || break; sleep 0.05; done
if [ -z "$sd" ]; then fail "crash" "the bottle's state directory never appeared"
elif pgrep -f "$sd/|^$SLP\$" >/dev/null; then fail "crash: processes" "the bottle (sidecar or agent) outlived its host process by 20 s: $(pgrep -af "$sd/|^$SLP\$")"
else ok "kill -9 of the host process: no process of the bottle survives (sidecar and agent)"; fi
# Its cgroups stay until bb bottle cleanup removes them (rt_cleanup_cgroups); removed here so no test leaves one.
on_exit "rmdir /sys/fs/cgroup/*/bb-$hostpid-* /sys/fs/cgroup/*/*/*/bb-$hostpid-* 2>/dev/null"
if [ -n "$sd" ] && [ -d "$sd" ] && "$BB" bottle cleanup >"$T/out" 2>&1 && [ ! -e "$sd" ] && grep -q "removed .*${sd##*/}" "$T/out"; then
	ok "bb bottle cleanup removes the state (plan, socket) a killed bottle left"
else
	fail "cleanup" "$(cat "$T/out")"
fi
"$BB" bottle cleanup >"$T/out" 2>&1
# Other sessions' leftovers (runc containers) may be found too: only ours must be gone.
! grep -q "state/dev-" "$T/out" && ok "cleanup again: nothing of ours left" || fail "cleanup twice" "$(cat "$T/out")"

# --- the same bundles under installed OCI runtimes (proves config.json is spec-correct) ---
for rt in runc crun; do
	if ! command -v $rt >/dev/null; then
		skip "OCI backend: $rt" "$rt not installed"
		continue
	fi
	bbrun_oci() { (cd "$T/ws" && RUN_TEST_TOKEN=$TOKEN SSL_CERT_FILE=$T/upca.crt timeout 60 "$BB" bottle run dev \
		--backend oci --runtime "$rt" --hosts "$T/hosts" -- "$@") >"$T/out" 2>"$T/err"; }
	bbrun_oci sh -c "curl -sS --max-time 10 https://api.test:$UP/v1/oci-$rt; grep -E '^(CapEff|NoNewPrivs|Seccomp)' /proc/self/status; ! touch /etc/oci-escape 2>/dev/null &&
		! unshare -U true 2>/dev/null && ! unshare -n true 2>/dev/null && ! mount -t tmpfs x /tmp 2>/dev/null && echo refused-ok;
		[ -z \"\$(ls -A /root)\$(ls -A /home)\" ] && echo homes-hidden; cat /proc/self/uid_map; exit 9"
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
	if grep -q 'Seccomp:[[:space:]]*2' "$T/out" && grep -q '^refused-ok$' "$T/out" && grep -qE '^ +0 +0 +1$' "$T/out" &&
		grep -q '^homes-hidden$' "$T/out"; then
		ok "OCI backend ($rt): seccomp from lib/seccomp's list (unshare, mount refused) in a user namespace; /root and /home hidden"
	else
		fail "OCI seccomp ($rt)" "$(cat "$T/out")"
	fi
	# Other sessions may run containers too: ours are the ones whose bundle is under this test's BB_HOME.
	if ! $rt list 2>/dev/null | grep -q "$BB_HOME" && [ -z "$(ls -A "$BB_HOME/.bb/state")" ]; then
		ok "OCI backend ($rt): no container and no staged bundle (tokens) left"
	else
		fail "OCI leftovers ($rt)" "$($rt list 2>&1) $(ls "$BB_HOME/.bb/state")"
	fi
done

# --- rootless: an unprivileged user runs a bottle in user namespaces it owns ---
RL=bbrl$$
if [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ] ||
	[ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" = 0 ]; then
	skip "rootless" "this host forbids user namespaces to unprivileged users"
elif ! useradd -M -s /bin/sh "$RL" 2>/dev/null; then
	skip "rootless" "cannot create a test user"
else
	on_exit "userdel $RL 2>/dev/null"
	R=$(mktemp -d /tmp/bb-rootless.XXXXXX)
	on_exit "rm -rf $R"
	mkdir -p "$R/home/.bb/bottles" "$R/ws"
	cp "$BB" "$R/bb"
	printf -- '---\negress:\n  routes: []\n---\n' >"$R/home/.bb/bottles/solo.md"
	chown -R "$RL:" "$R"
	chmod 755 "$R"
	rlrun() { # [VAR=VALUE...]: the bottle runs $R/ws/cmd.sh as $RL
		printf '%s\n' "$RLCMD" >"$R/ws/cmd.sh"
		(cd "$R/ws" && su "$RL" -s /bin/sh -c "BB_HOME=$R/home $* timeout 60 $R/bb bottle run solo -- sh ./cmd.sh") >"$T/out" 2>"$T/err"
	}
	RLCMD='cat /proc/self/uid_map; id -u; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; echo made >mine; ! curl -sS --noproxy "*" --max-time 3 http://198.51.100.7:8080/ 2>/dev/null && echo no-way-out'
	rlrun
	rc=$?
	# The agent's namespace maps its 0 to the bottle's namespace's 0, which is $RL outside (the file's owner shows it).
	if [ "$rc" = 0 ] && grep -qE "^ +0 +0 +1$" "$T/out" && [ "$(grep -c . "$T/out")" -ge 5 ] && [ "$(stat -c %U "$R/ws/mine" 2>/dev/null)" = "$RL" ] &&
		grep -q 'CapEff:[[:space:]]*0000000000000000' "$T/out" && grep -q 'Seccomp:[[:space:]]*2' "$T/out" && grep -q '^no-way-out$' "$T/out"; then
		ok "rootless: $RL runs a bottle (its uid is 0 inside, its files are its own outside, no capabilities, seccomp, no way out)"
	else
		fail "rootless" "rc $rc: $(cat "$T/out" "$T/err" | tail -n 8)"
	fi
	RLCMD=true
	rlrun BB_PIDS_MAX=50
	if [ $? != 0 ] && grep -q "cgroup limits: a pids limit was asked for but cannot be applied" "$T/err"; then
		ok "rootless: a limit that cannot be applied (no cgroup delegated) stops the start and says why"
	else
		fail "rootless limit" "$(cat "$T/err")"
	fi
	if [ -z "$(ls -A "$R/home/.bb/state" 2>/dev/null)" ] && ! pgrep -u "$RL" >/dev/null; then
		ok "rootless: nothing left (state, processes)"
	else
		fail "rootless leftovers" "$(ls "$R/home/.bb/state") $(pgrep -au "$RL")"
	fi
fi
