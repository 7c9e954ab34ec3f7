#!/usr/bin/env bash
# faults.sh - faults around the sidecar daemons: kill -9 of egress, dns and supervise under bb init --sidecar (restarted, nothing unchecked meanwhile), and a full disk under egress's audit log and supervise's queue (a tmpfs inside a private mount namespace).
# Everything listens on 127.0.0.x; the tmpfs mounts exist only in the namespaces `unshare -m` makes here
# (the test reads them through /proc/PID/root). Peers: scripts/bench/load/upstream.py records every
# request it gets; dnsmasq records every query it gets (--log-queries).
. "$(dirname "$0")/lib.sh"

for tool in curl python3 dig dnsmasq unshare; do
	command -v $tool >/dev/null || { skip "faults" "$tool not installed"; exit 0; }
done
LOAD=$TESTS/../scripts/bench/load

A=$(test_addr)
UPD=$(test_addr) # dnsmasq, the dns daemon's upstream
while [ "$UPD" = "$A" ]; do UPD=$(test_addr); done
UP=$(free_port "$A")
EP=$(free_port "$A")
DP=$(free_port "$A")
SP=$(free_port "$A")
UPDP=$(free_port "$UPD")
python3 "$LOAD/upstream.py" "$A" "$UP" "$T/up.log" >"$T/up.out" 2>&1 &
on_exit "kill_tree $!"
dnsmasq -k --conf-file=/dev/null --pid-file= --no-resolv --no-hosts --bind-interfaces --listen-address="$UPD" \
	--port="$UPDP" --address=/up.test/10.1.2.3 --address=/denied.test/10.6.6.6 --log-queries \
	--log-facility="$T/dnsmasq.log" 2>"$T/dnsmasq.err" &
on_exit "kill_tree $!"
wait_port "$A" "$UP" || { fail "upstream starts" "$(cat "$T/up.out")"; exit 0; }
for _ in $(seq 50); do
	[ "$(dig @"$UPD" -p "$UPDP" +short +time=1 +tries=1 up.test 2>/dev/null)" = 10.1.2.3 ] && break
	sleep 0.1
done

printf '%s up.test\n' "$A" >"$T/hosts"
cat >"$T/plan.json" <<EOF
{"schema":"bb.plan/1","bottle":{"name":"dev"},
 "egress":{"routes":[{"host":"up.test","path_allowlist":["/ok"],"ssrf_ip_allowlist":["127.0.0.0/8"]}]},
 "supervise":{"enabled":true},"dns":{"allow":["up.test"]}}
EOF
mkdir -p "$T/queue"
chmod 700 "$T/queue"

# --- the sidecar: egress, dns and supervise under bb init ----------------------------------------
BB_SIDECAR_DAEMONS=egress,dns,supervise \
	BB_EGRESS_ARGS="--policy $T/plan.json --listen $A:$EP --hosts $T/hosts --log $T/egress.log --ca $T/noca" \
	BB_DNS_ARGS="--policy $T/plan.json --listen $A:$DP --upstream $UPD:$UPDP --log $T/dns.log" \
	BB_SUPERVISE_ARGS="--policy $T/plan.json --queue $T/queue --listen $A:$SP --log $T/supervise.log --response-timeout 1" \
	"$BB" init --sidecar --log "$T/init.log" 2>"$T/init.err" &
INIT=$!
on_exit "kill_tree $INIT"
if ! { wait_port "$A" "$EP" && wait_port "$A" "$DP" && wait_port "$A" "$SP"; }; then
	fail "the sidecar starts" "$(tail -n 5 "$T/init.log" "$T/init.err" "$T"/*.log)"
	exit 0
fi
ok "bb init --sidecar runs egress, dns and supervise"

# daemon_pid NAME: the pid of NAME's latest start.  starts NAME: how many times it was started.
daemon_pid() { grep '"event":"start"' "$T/init.log" | grep "\"daemon\":\"$1\"" | tail -n 1 | sed 's/.*"pid":"\([0-9]*\)".*/\1/'; }
starts() { grep '"event":"start"' "$T/init.log" | grep -c "\"daemon\":\"$1\""; }
now_ms() { date +%s%3N; }

# Agent-side probes, each printing "MS OUTCOME" per attempt (OUTCOME: an HTTP status, 000 when the
# connection was refused; for DNS the dig status or "noanswer").
probe_http() { # URL
	curl -s -m 2 -o /dev/null -w '%{http_code}' -x "http://$A:$EP" "$1" 2>/dev/null
}
probe_dns() { # NAME
	local out
	out=$(dig @"$A" -p "$DP" +time=1 +tries=1 "$1" 2>&1)
	sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out" | head -n 1 | grep . || echo noanswer
}
HDRS=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
mcp_init() { # prints the session id (empty when supervise is not there)
	curl -s -m 2 -D - -o /dev/null "${HDRS[@]}" --data-binary \
		'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"faults","version":"1"}}}' \
		"http://$A:$SP/" 2>/dev/null | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p'
}
mcp_call() { # SID BODY: prints body then " [status]"
	curl -s -m 5 -w ' [%{http_code}]' "${HDRS[@]}" ${1:+-H "Mcp-Session-Id: $1"} --data-binary "$2" "http://$A:$SP/" 2>/dev/null
}

# kill9 NAME PORT PROBE-FN: kill -9 the daemon while PROBE-FN runs in a loop; sets KILL_OLD KILL_NEW,
# KILL_T0 (the kill) and KILL_T1 (listening again), KILL_GAP_MS. The probe loop's lines ("START OUTCOME...
# END", times in ms before the probe is sent and after its answer) go to $T/probe.NAME. Event-driven: probing has begun before
# the kill, and goes on until two probes have started after the restart, however slow the machine is.
kill9() {
	local name=$1 port=$2 fn=$3 n0 i
	KILL_OLD=$(daemon_pid "$name") n0=$(starts "$name")
	rm -f "$T/probe.stop"
	( while [ ! -e "$T/probe.stop" ]; do echo "$(now_ms) $($fn) $(now_ms)"; sleep 0.02; done ) >"$T/probe.$name" &
	local prober=$!
	for i in $(seq 400); do [ -s "$T/probe.$name" ] && break; sleep 0.05; done
	KILL_T0=$(now_ms)
	kill -9 "$KILL_OLD"
	for i in $(seq 400); do [ "$(starts "$name")" -gt "$n0" ] && break; sleep 0.05; done
	wait_port "$A" "$port" 20
	KILL_T1=$(now_ms)
	KILL_GAP_MS=$((KILL_T1 - KILL_T0))
	KILL_NEW=$(daemon_pid "$name")
	for i in $(seq 600); do [ "$(awk -v t="$KILL_T1" '$1 > t' "$T/probe.$name" | wc -l)" -ge 2 ] && break; sleep 0.05; done
	touch "$T/probe.stop"
	wait $prober
}
# in_window NAME: how many probes were under way at some moment between the kill and the restart.
in_window() { awk -v a="$KILL_T0" -v b="$KILL_T1" '$1 <= b && $NF >= a' "$T/probe.$1" | wc -l; }
restarted() { # NAME: an exit line with signal KILL and a restart line for NAME, new pid alive
	grep '"event":"exit"' "$T/init.log" | grep "\"daemon\":\"$1\"" | grep -q '"signal":"KILL"' &&
		grep '"event":"restart"' "$T/init.log" | grep -q "\"daemon\":\"$1\"" &&
		[ -n "$KILL_NEW" ] && [ "$KILL_NEW" != "$KILL_OLD" ] && kill -0 "$KILL_NEW" 2>/dev/null
}

# --- kill -9 egress: requests during the restart window are refused, never forwarded --------------
others="$(daemon_pid dns) $(daemon_pid supervise)"
probe_egress() { # alternate an allowed and a refused path; print both outcomes
	echo "$(probe_http "http://up.test:$UP/ok") $(probe_http "http://up.test:$UP/forbidden")"
}
kill9 egress "$EP" probe_egress
if restarted egress; then
	ok "kill -9 egress: init restarts it (pid $KILL_OLD -> $KILL_NEW, listening again after ${KILL_GAP_MS} ms)"
else
	fail "kill -9 egress: restart" "old=$KILL_OLD new=$KILL_NEW $(tail -n 4 "$T/init.log")"
fi
refused=$(awk '$2 == "000" && $3 == "000"' "$T/probe.egress" | wc -l)
bad=$(awk '$3 != "403" && $3 != "000"' "$T/probe.egress" | wc -l)
badok=$(awk '$2 != "200" && $2 != "000"' "$T/probe.egress" | wc -l)
total=$(wc -l <"$T/probe.egress")
during=$(in_window egress)
if [ "$during" -gt 0 ] && [ "$bad" = 0 ] && [ "$badok" = 0 ] && ! grep -q forbidden "$T/up.log"; then
	ok "during the egress restart: $during probes under way in the window ($refused of $total refused), the refused path never reached the upstream, no other outcome"
else
	fail "egress restart window" "in window=$during refused=$refused bad=$bad badok=$badok total=$total; upstream saw: $(grep -c forbidden "$T/up.log") /forbidden"
fi
after=$(probe_egress)
[ "$after" = "200 403" ] && ok "after the restart egress serves and refuses by policy again (200, 403)" || fail "egress after restart" "$after"
[ "$(daemon_pid dns) $(daemon_pid supervise)" = "$others" ] && ok "the other daemons were not restarted" || fail "others untouched" "$others -> $(daemon_pid dns) $(daemon_pid supervise)"

# --- kill -9 dns: queries during the window get no answer; denied names never reach the upstream ---
probe_dnsq() { echo "$(probe_dns up.test) $(probe_dns denied.test)"; }
kill9 dns "$DP" probe_dnsq
if restarted dns; then
	ok "kill -9 dns: init restarts it (pid $KILL_OLD -> $KILL_NEW, listening again after ${KILL_GAP_MS} ms)"
else
	fail "kill -9 dns: restart" "old=$KILL_OLD new=$KILL_NEW $(tail -n 4 "$T/init.log")"
fi
gaps=$(awk '$2 == "noanswer"' "$T/probe.dns" | wc -l)
bad=$(awk '$3 == "NOERROR"' "$T/probe.dns" | wc -l)
during=$(in_window dns)
if [ "$during" -gt 0 ] && [ "$bad" = 0 ] && ! grep -q 'query.*denied\.test' "$T/dnsmasq.log"; then
	ok "during the dns restart: $during probes under way in the window ($gaps unanswered), denied.test never answered nor forwarded upstream"
else
	fail "dns restart window" "in window=$during gaps=$gaps denied-answered=$bad upstream saw denied: $(grep -c 'denied\.test' "$T/dnsmasq.log")"
fi
after="$(probe_dns up.test) $(dig @"$A" -p "$DP" +short +time=2 +tries=1 up.test 2>&1) $(probe_dns denied.test)"
[[ "$after" == "NOERROR 10.1.2.3 "* && "$after" != *NOERROR ]] && ok "after the restart dns answers allowed names and refuses others ($after)" ||
	fail "dns after restart" "$after"

# --- kill -9 supervise: queued proposals survive; the window is refused; sessions start over -------
SID=$(mcp_init)
mcp_call "$SID" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
out=$(mcp_call "$SID" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"pypi.org","reason":"pip install"}}}')
PID_Q=$(sed -n 's/.*id: \([0-9a-f]*\).*/\1/p' <<<"$out" | head -n 1)
[ -n "$PID_Q" ] && [ -f "$T/queue/$PID_Q.json" ] && ok "a proposal is queued before the kill ($PID_Q)" || fail "proposal before kill" "$out"
probe_sup() { local s; s=$(mcp_init); [ -n "$s" ] && echo up || echo refused; }
kill9 supervise "$SP" probe_sup
if restarted supervise; then
	ok "kill -9 supervise: init restarts it (pid $KILL_OLD -> $KILL_NEW, listening again after ${KILL_GAP_MS} ms)"
else
	fail "kill -9 supervise: restart" "old=$KILL_OLD new=$KILL_NEW $(tail -n 4 "$T/init.log")"
fi
gaps=$(grep -c refused "$T/probe.supervise")
during=$(in_window supervise)
[ "$during" -gt 0 ] && ok "during the supervise restart: $during initialize attempts in the window ($gaps refused)" ||
	fail "supervise window" "$(sort "$T/probe.supervise" | uniq -c)"
old=$(mcp_call "$SID" '{"jsonrpc":"2.0","id":3,"method":"ping"}')
SID2=$(mcp_init)
listed=$("$BB" bottle proposals --dir "$T/queue" --json 2>&1)
if [[ "$old" == *"[404]" ]] && [ -n "$SID2" ] && [[ "$listed" == *"$PID_Q"* ]]; then
	ok "after the restart: the old session gets 404 (the client starts over), a new one works, the queued proposal is still there"
else
	fail "supervise after restart" "old=$old sid2=$SID2 listed=${listed:0:200}"
fi

# --- stopping: the crashes stay visible in init's exit code ----------------------------------------
kill -TERM $INIT
wait $INIT
rc=$?
if [ $rc = 137 ] && grep -q '"event":"stop","reason":"SIGTERM"' "$T/init.log" && ! kill -0 "$(daemon_pid egress)" 2>/dev/null; then
	ok "SIGTERM stops the sidecar; the earlier SIGKILLs make its exit code 137"
else
	fail "sidecar stop" "rc=$rc $(tail -n 3 "$T/init.log")"
fi

if ! unshare -m --propagation private true 2>/dev/null; then
	skip "disk full" "cannot make a private mount namespace here (unshare -m needs root)"
	exit 0
fi

# --- a full disk under egress's audit log ----------------------------------------------------------
# A 8 KiB tmpfs inside `unshare -m`: the mount lives and dies with that namespace. The shell there
# execs egress, so $! is egress itself and /proc/$!/root shows its view of the tmpfs.
mkdir -p "$T/aud"
EP2=$(free_port "$A")
unshare -m --propagation private sh -c 'mount -t tmpfs -o size=8k,mode=0700 bb-faults "$1" && shift && exec "$@"' sh "$T/aud" \
	"$BB" egress --policy "$T/plan.json" --listen "$A:$EP2" --hosts "$T/hosts" --log "$T/aud/audit.log" --ca "$T/noca" \
	2>"$T/egfull.err" &
EGF=$!
on_exit "kill_tree $EGF"
wait_port "$A" "$EP2" || { fail "egress on a tmpfs log starts" "$(cat "$T/egfull.err")"; exit 0; }
AUD=/proc/$EGF/root$T/aud/audit.log
grep -q " $T/aud tmpfs" /proc/$EGF/mounts && ! grep -q " $T/aud " /proc/self/mounts &&
	ok "the 8 KiB tmpfs is mounted only inside egress's mount namespace" || fail "private tmpfs" "$(grep "$T/aud" /proc/$EGF/mounts /proc/self/mounts)"
: >"$T/up.log"
codes=""
for i in $(seq 40); do codes="$codes $(curl -s -o /dev/null -m 5 -w '%{http_code}' -x "http://$A:$EP2" "http://up.test:$UP/ok?n=$i")"; done
size=$(stat -c %s "$AUD")
late=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -x "http://$A:$EP2" "http://up.test:$UP/ok?after=full")
denied=$(curl -s -o "$T/den.body" -m 5 -w '%{http_code}' -x "http://$A:$EP2" "http://up.test:$UP/forbidden?after=full")
if [ "$size" -ge 7000 ] && [ "$denied" = 403 ] && ! grep -q forbidden "$T/up.log" && kill -0 $EGF 2>/dev/null; then
	ok "audit log full ($size bytes on the 8 KiB tmpfs): egress still refuses what policy refuses (403, not forwarded) and does not crash"
else
	fail "audit log full" "size=$size denied=$denied alive=$(kill -0 $EGF 2>/dev/null && echo y) $(cat "$T/egfull.err")"
fi
unlogged=$(grep -c 'ok?n=\|after=full' "$T/up.log")
logged=$(grep -c '"verdict":"allow"' "$AUD")
if [ "$late" != 200 ] && ! grep -q 'after=full' "$T/up.log"; then
	ok "audit log full: allowed requests fail closed ($late) instead of passing unaudited"
else
	fail "audit log full: allowed requests fail closed" "egress forwards allowed requests it cannot audit: $unlogged reached the upstream, $logged allow lines in the log"
fi
if grep -qiE 'no space|audit' "$T/egfull.err"; then
	ok "audit log full: egress reports the write error on stderr"
else
	fail "audit log full: egress reports the write error" "nothing on stderr"
fi
kill_tree $EGF

# --- a full disk under supervise's queue -----------------------------------------------------------
mkdir -p "$T/q2"
SP2=$(free_port "$A")
unshare -m --propagation private sh -c 'mount -t tmpfs -o size=8k,mode=0700 bb-faults "$1" && shift && exec "$@"' sh "$T/q2" \
	"$BB" supervise --policy "$T/plan.json" --queue "$T/q2" --listen "$A:$SP2" --log - --response-timeout 0.5 \
	2>"$T/supfull.err" &
SUF=$!
on_exit "kill_tree $SUF"
wait_port "$A" "$SP2" || { fail "supervise on a tmpfs queue starts" "$(cat "$T/supfull.err")"; exit 0; }
Q2=/proc/$SUF/root$T/q2
SP=$SP2
SID=$(mcp_init)
mcp_call "$SID" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
pending=0 refused=0 other=""
pad=$(head -c 600 /dev/zero | tr '\0' r)
for i in $(seq 6); do
	out=$(mcp_call "$SID" '{"jsonrpc":"2.0","id":'$i',"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"h'$i'.example.com","reason":"'$pad'"}}}')
	case $out in
	*'status: pending'*'[200]') pending=$((pending + 1)) ;;
	*'"code":-32603'*'cannot queue the proposal'*'[200]') refused=$((refused + 1)) ;;
	*) other="$other ${out:0:120}" ;;
	esac
done
files=$(ls "$Q2" | wc -l)
parse=$(python3 -c 'import json,os,sys
d=sys.argv[1]; bad=[f for f in os.listdir(d) if not f.endswith(".json") or not isinstance(json.load(open(os.path.join(d,f))), dict)]
print(" ".join(bad))' "$Q2" 2>&1)
if [ "$pending" -ge 1 ] && [ "$refused" -ge 1 ] && [ -z "$other" ] && [ "$files" = "$pending" ] && [ -z "$parse" ]; then
	ok "queue full: $pending proposals queued, then $refused calls answered -32603 'cannot queue the proposal'; no partial file left"
else
	fail "queue full" "pending=$pending refused=$refused files=$files parse=$parse other=$other"
fi
grep -q '"event":"proposal".*No space left on device' "$T/supfull.err" && ok "queue full: supervise logs the write error (No space left on device)" ||
	fail "queue full logged" "$(tail -n 3 "$T/supfull.err")"
out=$(mcp_call "$SID" '{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"sudo"}}')
if kill -0 $SUF 2>/dev/null && [[ "$out" == *'"code":-32602'* ]]; then
	ok "queue full: supervise stays up and still refuses what it refuses (unknown tool: -32602)"
else
	fail "supervise alive on a full queue" "$out"
fi
rm -f "$Q2"/*.json
out=$(mcp_call "$SID" '{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"again.example.com","reason":"space is back"}}}')
[[ "$out" == *'status: pending'* ]] && ok "queue full: once space is freed, proposals queue again" || fail "queue recovers" "${out:0:200}"
kill_tree $SUF
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/*.err 2>/dev/null; then
	fail "no sanitizer report from the daemons" "$(grep -hE 'Sanitizer|runtime error' "$T"/*.err | head -n 3)"
else
	ok "no sanitizer report in the daemons' stderr"
fi
