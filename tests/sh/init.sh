#!/usr/bin/env bash
# init.sh - bb init in real pid/net/mount/user namespaces made here: reaping, signals, exit codes, grace, sidecar restarts, agent privileges and network.
. "$(dirname "$0")/lib.sh"

have_ns=1
unshare --pid --fork --mount-proc true 2>/dev/null || have_ns=0
am_root=0
[ "$(id -u)" = 0 ] && am_root=1

# The pid of PID 1 inside the namespace an `unshare --fork` (pid $1) made.
ns_init() {
	local i c
	for i in $(seq 100); do
		c=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
		[ -n "$c" ] && { echo "${c%% *}"; return 0; }
		sleep 0.05
	done
	return 1
}
# wait_file FILE [SECONDS]: until FILE exists and is not empty.
wait_file() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do [ -s "$1" ] && return 0; sleep 0.05; done
	return 1
}
# wait_gone PID [SECONDS]: until PID has exited.
wait_gone() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
	return 1
}
now_ms() { date +%s%3N; }
# Processes in state Z whose parent is $1 (or any, if $1 is empty).
zombies_of() {
	local f n=0
	for f in /proc/[0-9]*/status; do
		awk -v want="$1" '/^State:/{s=$2} /^PPid:/{p=$2} END{exit !(s=="Z" && (want=="" || p==want))}' "$f" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}
export -f zombies_of

# --- help and usage ---
out=$("$BB" init --help); rc=$?
if [ $rc -eq 0 ] && [[ $out == *"usage: bb init"* && $out == *"--sidecar"* && $out == *"--agent"* && $out == *"BB_SIDECAR_DAEMONS"* ]]; then
	ok "--help describes the three modes"
else
	fail "--help" "rc=$rc"
fi
bad=""
for args in "" "--sidecar --agent -- true" "--agent --uid 0 -- true" "--agent --gid 5 -- true" "--dns 1.1.1.1 -- true" \
	"--sidecar -- true" "--max-failures 3 -- true" "--grace x -- true" "--agent"; do
	# shellcheck disable=SC2086
	"$BB" init $args >/dev/null 2>&1 </dev/null
	rc=$?
	[ $rc -eq 2 ] || bad="$bad [$args]=$rc"
done
[ -z "$bad" ] && ok "usage errors exit 2 (no command, --uid 0, mode-only options, both modes)" || fail "usage errors" "$bad"

# --- exit codes (not PID 1) ---
"$BB" init -- sh -c 'exit 7'; a=$?
"$BB" init -- sh -c 'kill -9 $$'; b=$?
"$BB" init -- /nonexistent/cmd 2>"$T/enoent.err"; c=$?
if [ $a -eq 7 ] && [ $b -eq 137 ] && [ $c -eq 127 ] && grep -q "cannot run /nonexistent/cmd" "$T/enoent.err"; then
	ok "exit code propagated: 7, SIGKILL death 137, missing command 127"
else
	fail "exit codes" "exit7=$a kill9=$b enoent=$c"
fi

if [ $have_ns = 0 ]; then
	skip "PID 1 cases" "cannot create pid namespaces here (unshare --pid failed)"
else
	# --- exit codes as PID 1 ---
	unshare --pid --fork --mount-proc "$BB" init -- sh -c 'ulimit -c 0; kill -SEGV $$'; a=$?
	unshare --pid --fork --mount-proc "$BB" init -- sh -c '[ $PPID = 1 ] && exit 5'; b=$?
	[ $a -eq 139 ] && [ $b -eq 5 ] && ok "PID 1: SIGSEGV death is 139, exit 5 is 5 (the command's parent is pid 1)" ||
		fail "PID 1 exit codes" "segv=$a exit5=$b"

	# --- zombies: orphans adopted by PID 1 are reaped ---
	# Each (sleep &) subshell exits at once, so its sleep is orphaned to PID 1 and dies 0.1 s later. The
	# script waits on events, each with a generous deadline (a loaded machine is slow, never wrong): the
	# long-lived orphan's PPid turning 1, then the short sleeps gone, then the zombie count it expects
	# ($1: "none" under a reaping PID 1, "some" under one that never reaps).
	script='for i in 1 2 3 4 5 6; do (sleep 0.1 &); done; (sleep 60 & echo $! >"$0.orphan")
		o=$(cat "$0.orphan"); for i in $(seq 400); do [ "$(awk "/^PPid:/{print \$2}" /proc/$o/status)" = 1 ] && break; sleep 0.05; done
		awk "/^PPid:/{print \$2}" /proc/$o/status >"$0.ppid"
		for i in $(seq 400); do pgrep -x -f "sleep 0.1" >/dev/null || break; sleep 0.05; done
		for i in $(seq 400); do n=$(zombies_of ""); { [ "$1" = none ] && [ "$n" = 0 ]; } || { [ "$1" = some ] && [ "$n" -ge 6 ]; } && break; sleep 0.05; done
		kill $o; echo "$n" >"$0.count.tmp"; mv "$0.count.tmp" "$0.count"'
	unshare --pid --fork --mount-proc "$BB" init -- bash -c "$script" "$T/z" none
	rc=$?
	if [ $rc -eq 0 ] && [ "$(cat "$T/z.ppid" 2>/dev/null)" = 1 ] && [ "$(cat "$T/z.count" 2>/dev/null)" = 0 ]; then
		ok "PID 1: orphans are adopted (PPid 1) and reaped (no Z in /proc)"
	else
		fail "PID 1 reaping" "rc=$rc ppid=$(cat "$T/z.ppid" 2>/dev/null) zombies=$(cat "$T/z.count" 2>/dev/null)"
	fi
	# The same check with a PID 1 that never reaps must see zombies, or the check above proves nothing: python as
	# PID 1 starts the script and waits for its count file without ever calling wait on the orphans.
	unshare --pid --fork --mount-proc python3 -c '
import os, subprocess, sys, time
subprocess.Popen(["bash", "-c", sys.argv[1], sys.argv[2], "some"])
deadline = time.time() + 60
while not os.path.exists(sys.argv[2] + ".count") and time.time() < deadline:
    time.sleep(0.05)' "$script" "$T/c"
	if [ "$(cat "$T/c.count" 2>/dev/null || echo 0)" -ge 6 ]; then
		ok "control: under a PID 1 that does not reap, the same script sees $(cat "$T/c.count") zombies"
	else
		fail "control: zombies under a non-reaping PID 1" "count=$(cat "$T/c.count" 2>/dev/null)"
	fi

	# --- signals forwarded to the command's process group, TERM death propagated ---
	unshare --pid --fork --mount-proc --kill-child "$BB" init -- sh -c '
		for s in USR1 USR2 HUP QUIT INT; do trap "echo $s >>$0.sig" $s; done
		echo ready >$0.ready; while :; do sleep 0.05; done' "$T/s" &
	upid=$!
	on_exit "kill_tree $upid"
	got=""
	if wait_file "$T/s.ready" && ipid=$(ns_init $upid); then
		for s in USR1 USR2 HUP QUIT INT; do
			kill -s "$s" "$ipid"
			for _ in $(seq 60); do grep -qx "$s" "$T/s.sig" 2>/dev/null && break; sleep 0.05; done
			grep -qx "$s" "$T/s.sig" 2>/dev/null && got="$got $s"
		done
	fi
	[ "$got" = " USR1 USR2 HUP QUIT INT" ] && ok "PID 1 forwards USR1 USR2 HUP QUIT INT to the command" ||
		fail "signal forwarding" "trapped:$got"
	t0=$(now_ms)
	kill -TERM "${ipid:-0}" 2>/dev/null
	wait $upid; rc=$?
	t=$(($(now_ms) - t0))
	[ $rc -eq 143 ] && [ $t -lt 2000 ] && ok "SIGTERM forwarded: the command dies of it at once, init exits 143 (${t} ms)" ||
		fail "SIGTERM exit" "rc=$rc after ${t} ms"

	# --- grace period, then SIGKILL, for a command that ignores TERM ---
	unshare --pid --fork --mount-proc --kill-child "$BB" init --grace 1 -- sh -c '
		trap "" TERM; echo ready >$0.ready; while :; do sleep 0.05; done' "$T/g" &
	upid=$!
	on_exit "kill_tree $upid"
	if wait_file "$T/g.ready" && ipid=$(ns_init $upid); then
		t0=$(now_ms)
		kill -TERM "$ipid"
		wait $upid; rc=$?
		t=$(($(now_ms) - t0))
		[ $rc -eq 137 ] && [ $t -ge 950 ] && [ $t -lt 6000 ] &&
			ok "--grace 1: a command ignoring SIGTERM is SIGKILLed after ${t} ms, exit 137" ||
			fail "grace then SIGKILL" "rc=$rc after ${t} ms"
	else
		fail "grace then SIGKILL" "the command did not start"
	fi
fi

# --- not PID 1: subreaper adopts and reaps orphans ---
"$BB" init -- bash -c '(sleep 0.4 & echo $! >"$0.orphan"); sleep 0.2
	awk "/^PPid:/{print \$2}" /proc/$(cat "$0.orphan")/status >"$0.ppid"; echo $PPID >"$0.init"
	for i in 1 2 3 4 5; do (sleep 0.1 &); done; sleep 0.5; zombies_of $PPID >"$0.count"' "$T/r"
rc=$?
if [ $rc -eq 0 ] && [ -s "$T/r.init" ] && [ "$(cat "$T/r.ppid")" = "$(cat "$T/r.init")" ] && [ "$(cat "$T/r.count")" = 0 ]; then
	ok "not PID 1: orphans are reparented to bb init (child subreaper) and reaped"
else
	fail "subreaper" "rc=$rc ppid=$(cat "$T/r.ppid" 2>/dev/null) init=$(cat "$T/r.init" 2>/dev/null) zombies=$(cat "$T/r.count" 2>/dev/null)"
fi

# --- not PID 1: leftovers are stopped when the command ends (TERM, then KILL after grace) ---
# The command ends only once the stubborn child ignores TERM (a loaded machine ran init's TERM before its trap).
t0=$(now_ms)
"$BB" init --grace 1 -- sh -c '(trap "" TERM; : >"$0.ready"; exec sleep 30) & echo $! >"$0.left"; sleep 30 & echo $! >"$0.polite"
	while [ ! -e "$0.ready" ]; do sleep 0.01; done; exit 4' "$T/l"
rc=$?
t=$(($(now_ms) - t0))
left=$(cat "$T/l.left" 2>/dev/null) polite=$(cat "$T/l.polite" 2>/dev/null)
if [ $rc -eq 4 ] && [ -n "$left" ] && ! kill -0 "$left" 2>/dev/null && ! kill -0 "$polite" 2>/dev/null && [ $t -ge 950 ] && [ $t -lt 6000 ]; then
	ok "not PID 1: leftovers get SIGTERM, the one ignoring it SIGKILL after the grace (${t} ms); exit 4 kept"
else
	fail "leftovers" "rc=$rc t=${t}ms left=$left alive=$(kill -0 "$left" 2>/dev/null && echo yes)"
	kill -9 "$left" "$polite" 2>/dev/null
fi

# --- a terminal: the command gets the foreground (it can read; Ctrl-C reaches it, not init) ---
if command -v script >/dev/null; then
	out=$( (sleep 0.3; printf 'hello\n') | timeout 10 script -qec "$BB init -- sh -c 'read x; echo got=\$x; ps -o stat=,comm= -p \$\$'" /dev/null 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [[ $out == *"got=hello"* ]] && [[ $out =~ S[a-z]*\+[[:space:]]+sh ]] &&
		ok "tty: the command is the terminal's foreground group and reads from it" || fail "tty handover" "rc=$rc out=$out"
	(sleep 0.3; printf '\003'; sleep 0.5) | timeout 10 script -qec "$BB init -- sleep 10" /dev/null >/dev/null 2>&1
	rc=$?
	[ $rc -eq 130 ] && ok "tty: Ctrl-C interrupts the command, exit 130" || fail "tty Ctrl-C" "rc=$rc"
else
	skip "tty" "script(1) not installed"
fi

# --- sidecar: restart with exponential backoff, give up after N fast failures ---
# A real applet of this binary that fails at once: `bb scan --no-such-option` exits 2.
# init re-executes /proc/self/exe as `bb scan ...`, so the daemon path is the real one.
starts_gaps() { # LOG DAEMON: gaps in ms between successive start events of DAEMON
	python3 - "$1" "$2" <<'PY'
import json, sys, datetime
ts = []
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("prog") == "init" and ev.get("event") == "start" and ev.get("daemon") == sys.argv[2]:
        ts.append(datetime.datetime.strptime(ev["ts"], "%Y-%m-%dT%H:%M:%S.%fZ"))
print(" ".join(str(int((b - a).total_seconds() * 1000)) for a, b in zip(ts, ts[1:])))
PY
}
# within GAPS WANT...: each gap at least its wanted value and at most 1.5 times it plus 250 ms (a loaded machine).
within() {
	local gaps=($1) want=($2) i
	[ ${#gaps[@]} -eq ${#want[@]} ] || return 1
	for i in "${!want[@]}"; do
		[ "${gaps[i]}" -ge $((want[i] - 5)) ] && [ "${gaps[i]}" -le $((want[i] * 3 / 2 + 250)) ] || return 1
	done
}
BB_SIDECAR_DAEMONS=scan BB_SCAN_ARGS=--no-such-option "$BB" init --sidecar --log "$T/side1.log" 2>"$T/side1.err"
rc=$?
gaps=$(starts_gaps "$T/side1.log" scan)
if within "$gaps" "500 1000 2000 4000"; then
	ok "sidecar: a crashing daemon restarts after 0.5, 1, 2, 4 s (measured: $gaps ms)"
else
	fail "sidecar backoff" "gaps: $gaps"
fi
giveup=$(grep '"event":"give-up"' "$T/side1.log")
if [ $rc -eq 2 ] && [[ $giveup == *'"daemon":"scan"'*'"failures":"5"'* ]] && [ "$(grep -c '"event":"start"' "$T/side1.log")" = 5 ] &&
	[ "$(grep -c 'bb scan: unknown option' "$T/side1.err")" = 5 ]; then
	ok "sidecar: gives up after 5 fast failures with a give-up line; the daemon ran as bb scan (re-exec); exit 2"
else
	fail "sidecar give-up" "rc=$rc giveup=$giveup"
fi
BB_SIDECAR_DAEMONS=scan BB_SCAN_ARGS=--no-such-option "$BB" init --sidecar --backoff 0.2 --backoff-max 0.4 --max-failures 6 \
	--log "$T/side2.log" 2>/dev/null
gaps=$(starts_gaps "$T/side2.log" scan)
within "$gaps" "200 400 400 400 400" && ok "sidecar: --backoff-max caps the delay (measured: $gaps ms)" ||
	fail "backoff cap" "gaps: $gaps"

# Defaults: no BB_SCAN_ARGS means --policy $BB_POLICY.
BB_SIDECAR_DAEMONS=" scan ," BB_POLICY="$T/my plan.json" "$BB" init --sidecar --max-failures 1 --log "$T/side3.log" 2>/dev/null
rc=$?
grep -q '"argv":"bb scan --policy '"$T"'/my plan.json"' "$T/side3.log" && [ $rc -eq 2 ] &&
	ok "sidecar: default daemon arguments are --policy \$BB_POLICY" || fail "default args" "rc=$rc $(head -c 300 "$T/side3.log")"

out=$(BB_SIDECAR_DAEMONS=egress,nosuch "$BB" init --sidecar 2>&1); rc=$?
out2=$(BB_SIDECAR_DAEMONS=init "$BB" init --sidecar 2>&1); rc2=$?
out3=$(BB_SIDECAR_DAEMONS=scan,scan "$BB" init --sidecar 2>&1); rc3=$?
if [ $rc -eq 2 ] && [[ $out == *"no applet named 'nosuch'"* ]] && [ $rc2 -eq 2 ] && [[ $out2 == *"itself"* ]] &&
	[ $rc3 -eq 2 ] && [[ $out3 == *"twice"* ]]; then
	ok "sidecar: unknown, recursive or repeated daemon names refused before anything starts"
else
	fail "sidecar names" "$rc:$out | $rc2:$out2 | $rc3:$out3"
fi

# --- sidecar: SIGHUP reloads egress only; SIGTERM stops all, exit 0 ---
A=$(test_addr)
P=$(free_port "$A")
echo '{"schema":"bb.plan/1","egress":{"routes":[{"host":"a.test"}]}}' >"$T/policy.json"
mkfifo "$T/fifo"
exec 7<>"$T/fifo" # a stdin that never ends, so `bb scan -` stays up
BB_SIDECAR_DAEMONS=egress,scan BB_SCAN_ARGS=- \
	BB_EGRESS_ARGS="--policy $T/policy.json --listen $A:$P --ca $T/no-ca --log $T/egress.log" \
	"$BB" init --sidecar --log "$T/side4.log" <"$T/fifo" 2>"$T/side4.err" &
ipid=$!
on_exit "kill_tree $ipid"
if wait_port "$A" "$P" && wait_file "$T/egress.log"; then
	scanpid=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("event")=="start" and e.get("daemon")=="scan": print(e["pid"])' "$T/side4.log")
	egpid=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("event")=="start" and e.get("daemon")=="egress": print(e["pid"])' "$T/side4.log")
	exe=$(readlink "/proc/$egpid/exe")
	kill -HUP $ipid
	for _ in $(seq 60); do grep -q '"event":"reload"' "$T/egress.log" && break; sleep 0.05; done
	sleep 0.2
	if grep -q '"event":"reload","result":"ok"' "$T/egress.log" && kill -0 "$scanpid" 2>/dev/null &&
		! grep -q '"event":"exit"' "$T/side4.log" && [ "$exe" = "$(readlink -f "$BB")" ]; then
		ok "sidecar: SIGHUP reaches egress only (reload logged, scan untouched); daemons are this binary"
	else
		fail "sidecar SIGHUP" "reload=$(grep -c reload "$T/egress.log") scan_alive=$(kill -0 "$scanpid" 2>/dev/null && echo y) exe=$exe"
	fi
	t0=$(now_ms)
	kill -TERM $ipid
	wait $ipid; rc=$?
	t=$(($(now_ms) - t0))
	if [ $rc -eq 0 ] && [ $t -lt 3000 ] && grep -q '"event":"stop","reason":"SIGTERM"' "$T/side4.log" &&
		[ "$(grep -c '"event":"exit"' "$T/side4.log")" = 2 ] && ! grep -q '"event":"restart"' "$T/side4.log"; then
		ok "sidecar: SIGTERM stops every daemon without restarts, exit 0 (${t} ms)"
	else
		fail "sidecar SIGTERM" "rc=$rc t=$t $(grep -v '"start"' "$T/side4.log" | tail -n 4)"
	fi
else
	fail "sidecar with egress" "egress did not start: $(tail -n 5 "$T/side4.err")"
fi

# --- sidecar: other signals go to every daemon; a crash stays visible in the exit code ---
BB_SIDECAR_DAEMONS=scan BB_SCAN_ARGS=- "$BB" init --sidecar --log "$T/side5.log" <"$T/fifo" 2>/dev/null &
ipid=$!
on_exit "kill_tree $ipid"
for _ in $(seq 60); do grep -q '"event":"start"' "$T/side5.log" 2>/dev/null && break; sleep 0.05; done
sleep 0.1
kill -USR1 $ipid
for _ in $(seq 60); do [ "$(grep -c '"event":"start"' "$T/side5.log")" -ge 2 ] && break; sleep 0.05; done
kill -INT $ipid
wait $ipid; rc=$?
if grep -q '"event":"exit","daemon":"scan".*"code":"138","signal":"USR1"' "$T/side5.log" &&
	[ "$(grep -c '"event":"start"' "$T/side5.log")" = 2 ] && grep -q '"event":"stop","reason":"SIGINT"' "$T/side5.log" &&
	[ $rc -eq 138 ]; then
	ok "sidecar: SIGUSR1 forwarded (scan died of it, restarted); SIGINT stops; the earlier crash makes the exit 138"
else
	fail "sidecar USR1" "rc=$rc $(grep -v '"start"' "$T/side5.log" | head -n 4)"
fi
exec 7>&-

# --- agent mode ---
caps_zero() { # FILE: every Cap line zero, NoNewPrivs 1
	[ "$(grep -cE '^Cap(Inh|Prm|Eff|Bnd|Amb):[[:space:]]+0000000000000000$' "$1")" = 5 ] && grep -qE '^NoNewPrivs:[[:space:]]+1$' "$1"
}
if [ $have_ns = 0 ] || [ $am_root = 0 ]; then
	skip "agent privileges" "needs root and namespaces"
else
	# The command reports on stdout: $T is root's 0700 directory, which uid 1000 cannot enter.
	unshare --pid --fork --mount-proc "$BB" init --agent --uid 1000 --gid 1001 -- sh -c '
		cat /proc/self/status; echo "=== init"; cat /proc/1/status
		echo "=== write"; touch "$0/x" 2>/dev/null; echo "rc=$?"' "$T" >"$T/a.out"
	rc=$?
	sed -n '1,/^=== init/p' "$T/a.out" >"$T/a.self"
	sed -n '/^=== init/,/^=== write/p' "$T/a.out" >"$T/a.init"
	if [ $rc -eq 0 ] && caps_zero "$T/a.self" && caps_zero "$T/a.init" &&
		grep -qE '^Uid:[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000[[:space:]]+1000$' "$T/a.self" &&
		grep -qE '^Gid:[[:space:]]+1001[[:space:]]+1001[[:space:]]+1001[[:space:]]+1001$' "$T/a.self" &&
		grep -qE '^Groups:[[:space:]]*$' "$T/a.self" && grep -qE '^Uid:[[:space:]]+1000' "$T/a.init"; then
		ok "agent: CapInh/Prm/Eff/Bnd/Amb all zero, NoNewPrivs 1, uid 1000 gid 1001 no groups (command and PID 1)"
	else
		fail "agent privileges" "rc=$rc $(grep -E '^(Cap|NoNew|Uid|Gid|Groups)' "$T/a.self" 2>/dev/null | tr '\n\t' '  ')"
	fi
	# Control: the same read without bb init shows capabilities, so the check above can fail.
	unshare --pid --fork --mount-proc cat /proc/self/status >"$T/ctl.status"
	caps_zero "$T/ctl.status" && fail "control: root keeps capabilities without bb init" "all zero?" ||
		ok "control: without bb init the namespace's root has capabilities"
	# Root's 0700 directory is closed to the agent: its uid really changed, and no capability overrides it.
	grep -qx "rc=1" "$T/a.out" && [ ! -e "$T/x" ] && ok "agent: the command cannot write into root's 0700 directory" ||
		fail "agent DAC" "$(tail -n 1 "$T/a.out")"

	if unshare --user --map-root-user true 2>/dev/null; then
		unshare --user --map-root-user --pid --fork --mount-proc "$BB" init --agent -- cat /proc/self/status >"$T/u.status"
		rc=$?
		[ $rc -eq 0 ] && caps_zero "$T/u.status" && grep -qE '^Uid:[[:space:]]+0[[:space:]]' "$T/u.status" &&
			ok "agent in a user namespace: root there keeps no capability" || fail "agent userns" "rc=$rc"
	else
		skip "agent in a user namespace" "unshare --user not permitted here"
	fi

	# Fail closed: without the privileges to drop, nothing runs.
	setpriv --reuid 1000 --regid 1000 --clear-groups "$BB" init --agent --uid 1001 -- sh -c 'echo ran >"$0"' "$T/np.ran" 2>"$T/np.err"
	rc=$?
	[ $rc -eq 111 ] && [ ! -e "$T/np.ran" ] && grep -q "agent setup failed at securebits" "$T/np.err" &&
		ok "agent: a step that fails (securebits, unprivileged) is fatal, named, and the command never runs" ||
		fail "agent fail closed" "rc=$rc $(cat "$T/np.err")"
fi

# --- agent network: default route (rtnetlink) and resolv.conf, inside a private net + mount namespace ---
if [ $have_ns = 0 ] || [ $am_root = 0 ] || ! unshare --net true 2>/dev/null; then
	skip "agent route" "needs root and network namespaces"
else
	echo "nameserver 192.0.2.99" >"$T/resolv"
	cp "$T/resolv" "$T/resolv.orig"
	cat >"$T/net.sh" <<'EOF'
set -u
T=$1 BB=$2
ip link add dummy0 type dummy 2>/dev/null || ip link add dummy0 type veth peer name dummy1 || exit 90
ip link set dummy0 up; ip link set dummy1 up 2>/dev/null
ip addr add 10.9.0.2/24 dev dummy0
ip -6 addr add fd00:bb::2/64 dev dummy0 nodad
mount --bind "$T/resolv" /etc/resolv.conf || exit 91
"$BB" init --agent --gateway 10.9.0.1 -- cat /etc/resolv.conf >"$T/n.resolv-untouched"
"$BB" init --agent --uid 1000 --gateway 10.9.0.1 --dns 10.9.0.53 -- sh -c 'ip -4 route show default; cat /etc/resolv.conf' >"$T/n.v4" 2>&1
echo $? >"$T/n.v4.rc"
"$BB" init --agent --gateway fd00:bb::1 -- ip -6 route show default >"$T/n.v6" 2>&1
echo $? >"$T/n.v6.rc"
"$BB" init --agent --gateway 10.77.0.1 --dns 10.9.0.54 -- sh -c 'echo ran >"$0"' "$T/n.unreach.ran" 2>"$T/n.unreach.err"
echo $? >"$T/n.unreach.rc"
ip -4 route show default >"$T/n.after"
EOF
	unshare --pid --fork --mount-proc --net bash "$T/net.sh" "$T" "$BB"
	rc=$?
	if [ $rc -eq 0 ] && [ "$(cat "$T/n.resolv-untouched")" = "nameserver 192.0.2.99" ]; then
		ok "agent: without --dns, resolv.conf is left alone"
	else
		fail "agent resolv untouched" "rc=$rc $(cat "$T/n.resolv-untouched" 2>/dev/null)"
	fi
	if [ "$(cat "$T/n.v4.rc" 2>/dev/null)" = 0 ] && grep -q "^default via 10.9.0.1 dev dummy0" "$T/n.v4" &&
		grep -qx "nameserver 10.9.0.53" "$T/n.v4"; then
		ok "agent: --gateway sets the default route (netlink), --dns writes resolv.conf"
	else
		fail "agent route v4" "$(cat "$T/n.v4" 2>/dev/null)"
	fi
	[ "$(cat "$T/n.v6.rc" 2>/dev/null)" = 0 ] && grep -q "^default via fd00:bb::1 dev dummy0" "$T/n.v6" &&
		ok "agent: an IPv6 --gateway sets the IPv6 default route" || fail "agent route v6" "$(cat "$T/n.v6" 2>/dev/null)"
	if [ "$(cat "$T/n.unreach.rc" 2>/dev/null)" = 111 ] && [ ! -e "$T/n.unreach.ran" ] &&
		grep -qE "agent setup failed at route: default via 10.77.0.1: Network (is )?unreachable" "$T/n.unreach.err" &&
		! grep -q 10.9.0.54 "$T/resolv"; then
		ok "agent: an unreachable gateway is fatal before resolv.conf or the command (fail closed)"
	else
		fail "agent route failure" "rc=$(cat "$T/n.unreach.rc" 2>/dev/null) $(cat "$T/n.unreach.err" 2>/dev/null)"
	fi
	[ "$(cat /etc/resolv.conf)" != "nameserver 10.9.0.53" ] && ! grep -q "10.9.0.53" /etc/resolv.conf &&
		ok "the host's resolv.conf was never touched" || fail "host resolv.conf" "changed!"
	unshare --net "$BB" init --agent --gateway not-an-ip -- true 2>"$T/badip.err"; rc=$?
	unshare --net "$BB" init --agent --dns 1.2.3 -- true 2>>"$T/badip.err"; rc2=$?
	[ $rc -eq 2 ] && [ $rc2 -eq 2 ] && [ "$(grep -c "not an IPv4 or IPv6 address" "$T/badip.err")" = 2 ] &&
		ok "agent: a malformed --gateway or --dns is a usage error" || fail "bad gateway" "rc=$rc rc2=$rc2 $(cat "$T/badip.err")"
fi
