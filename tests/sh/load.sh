#!/usr/bin/env bash
# load.sh - bb egress under bounded load on 127.0.0.x: 1,000 held connections (RSS per connection), a short soak (no RSS/fd growth), slowloris clients, and an upstream that is down, slow, resetting or garbled.
# CI-sized (about a minute); scripts/bench/load.sh is the full-size run. LOAD_SOAK_SECS (default 30) sets the soak.
# Peers: scripts/bench/load/upstream.py (asyncio HTTP/1.1 upstream, HTTP and HTTPS), scripts/bench/load/slowclient.py,
# and egload (scripts/bench/egress/egload.c, built here with cc and OpenSSL as the egress benchmark builds it).
. "$(dirname "$0")/lib.sh"

for tool in curl openssl python3 cc; do
	command -v $tool >/dev/null || { skip "load" "$tool not installed"; exit 0; }
done
LOAD=$TESTS/../scripts/bench/load
if ! cc -O2 -o "$T/egload" "$TESTS/../scripts/bench/egress/egload.c" -lssl -lcrypto 2>"$T/cc.err"; then
	skip "load" "cannot build egload (apt-get install libssl-dev): $(head -c 200 "$T/cc.err")"
	exit 0
fi
# Each held connection costs egress two descriptors (agent side, upstream side), the upstream one.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge 4200 ] || { skip "load" "cannot raise the open-file limit to 4200 (have $(ulimit -n))"; exit 0; }
SANITIZED=0
[ "${MODE:-musl}" = asan ] && SANITIZED=1 # ASan's shadow memory and quarantine make RSS meaningless

A=$(test_addr)
DOWN=$(test_addr) # an address where nothing listens
while [ "$DOWN" = "$A" ]; do DOWN=$(test_addr); done
BH=$(test_addr) # a listener whose accept queue is full: SYNs are dropped, connects hang
while [ "$BH" = "$A" ] || [ "$BH" = "$DOWN" ]; do BH=$(test_addr); done
UP=$(free_port "$A")
UPS=$(free_port "$A")
export BB_HOME=$T/home
mkdir -p "$BB_HOME"
"$BB" bottle ca init >/dev/null 2>&1 || { fail "bottle ca init" "could not create the CA"; exit 0; }
CA=$BB_HOME/.bb/ca/ca.crt
upstream_cert up.test

python3 "$LOAD/upstream.py" "$A" "$UP" "$T/up.log" >"$T/up.out" 2>&1 &
on_exit "kill_tree $!"
python3 "$LOAD/upstream.py" "$A" "$UPS" - "$T/up.crt" "$T/up.key" >"$T/ups.out" 2>&1 &
on_exit "kill_tree $!"
wait_port "$A" "$UP" && wait_port "$A" "$UPS" || { fail "upstreams start" "$(cat "$T"/up*.out)"; exit 0; }
BHP=$(free_port "$BH")
python3 - "$BH" "$BHP" <<'EOF' >"$T/bh.out" 2>&1 &
import socket, sys, time
s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(0)
held = []
for _ in range(3):  # fill the accept queue (backlog 0 holds one); later SYNs are dropped
    c = socket.socket(); c.setblocking(False)
    try: c.connect((sys.argv[1], int(sys.argv[2])))
    except BlockingIOError: pass
    held.append(c)
print("full", flush=True)
while True:  # until the test ends (on_exit kills it): a run slower than any fixed time must still find it full
    time.sleep(3600)
EOF
on_exit "kill_tree $!"

printf '%s up.test\n%s down.test\n%s blackhole.test\n' "$A" "$DOWN" "$BH" >"$T/hosts"
cat >"$T/policy.json" <<EOF
{"schema":"bb.plan/1","egress":{"routes":[
 {"host":"up.test","path_allowlist":["/ok","/slow","/hang","/reset","/close","/garbage"],"ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"down.test","ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"blackhole.test","ssrf_ip_allowlist":["127.0.0.0/8"]}
]}}
EOF

# start_egress NAME ARGS...: an egress on $A (port in ${NAME}_PORT, pid in ${NAME}_PID), audit log $T/NAME.log.
start_egress() {
	local name=$1 port pid
	shift
	port=$(free_port "$A")
	SSL_CERT_FILE=$T/upca.crt "$BB" egress --policy "$T/policy.json" --listen "$A:$port" --hosts "$T/hosts" \
		--ca "$BB_HOME/.bb/ca" --log "$T/$name.log" "$@" 2>"$T/$name.err" &
	pid=$!
	on_exit "kill_tree $pid"
	wait_port "$A" "$port" || { fail "egress $name starts" "$(cat "$T/$name.err")"; exit 0; }
	eval "${name}_PORT=$port ${name}_PID=$pid"
}
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# rss_settled PID BASE N BOUND: PID's RSS once it is within BOUND KiB per connection of BASE (an idle
# connection gives its buffer pages back EG_PARK_MS after its last byte: wait for that, up to 10 s),
# else the last sample.
rss_settled() {
	local i r
	[ $SANITIZED = 1 ] && { rss_kb "$1"; return; } # no bound to wait for
	for ((i = 0; i < 100; i++)); do
		r=$(rss_kb "$1")
		[ $(((r - $2) / $3)) -le "$4" ] && break
		sleep 0.1
	done
	echo "$r"
}
# again HOLD_PID OUT N: the held connections each make one more request (egload on SIGUSR1); ok when all N succeed.
again() {
	local name=$4
	kill -USR1 "$1"
	for _ in $(seq 300); do grep -q '^again' "$2" && break; sleep 0.1; done
	if grep -q "^again $3 errors 0\$" "$2"; then
		ok "$name"
	else
		fail "$name" "$(grep '^again' "$2" || echo 'no answer in 30 s')"
	fi
}
fd_count() { local fds=(/proc/"$1"/fd/*); echo ${#fds[@]}; }
# wait_fds PID WANT [SECONDS]: until PID holds WANT descriptors; prints the last count.
wait_fds() {
	local i n
	for ((i = 0; i < ${3:-5} * 10; i++)); do n=$(fd_count "$1"); [ "$n" -le "$2" ] && break; sleep 0.1; done
	echo "$n"
}
# hold PORT HOST:PORT MODE N OUT [CAFILE]: egload holding N connections (one request each, then idle); pid in HOLD_PID.
hold() {
	local args=(-t "$A:$1" -H "$2" -p /ok -m "$3" -c "$4" -d 300 -w 0 --hold)
	[ "$3" = plain ] && args+=(-A) || args+=(-C "$6")
	"$T/egload" "${args[@]}" >"$5" 2>&1 &
	HOLD_PID=$!
	on_exit "kill_tree $HOLD_PID"
	for _ in $(seq 300); do grep -q '^ready' "$5" && return 0; kill -0 $HOLD_PID 2>/dev/null || return 1; sleep 0.1; done
	return 1
}
statuses() { grep -o '"status":"[0-9]*"' "$1" | sort | uniq -c | tr -s ' \n' ' '; }

# ---------------------------------------------------------------------------------------------
# 1,000 concurrent connections: held idle, with active traffic beside them.
# Bound (plain): 16 KiB per connection. A plain connection's state is one mapped struct, 41 KiB of
# it buffers (docs/egress.md "Limits"); RSS counts only the pages touched, the kernel's socket
# buffers are not in RSS, and a connection idle for EG_PARK_MS gives its buffer pages back, leaving
# the page of fields. Measured 8-12 KiB (the figure includes the allocator and the scanner pool);
# 27 KiB before idle connections gave their pages back, so 16 fails if that stops.
# Bound (MITM): 48 KiB per intercepted connection (the issue's target; measured about 40, 64 before
# idle connections gave back their TLS record buffers too).
start_egress H --max-conns 1100
base_rss=$(rss_kb "$H_PID") base_fd=$(fd_count "$H_PID")
holders=() held_ok=1
t0=$SECONDS
for i in 1 2 3 4 5; do # batches of 200: under the resolver's 256 lookups in flight (see the burst case below)
	if hold "$H_PORT" "up.test:$UP" plain 200 "$T/hold$i.out"; then holders+=("$HOLD_PID"); else held_ok=0; break; fi
done
rss1000=$(rss_settled "$H_PID" "$base_rss" 1000 16) fd1000=$(fd_count "$H_PID")
if [ $held_ok = 1 ] && [ "$fd1000" -ge $((base_fd + 2000)) ]; then
	ok "1000 plain keepalive connections held through egress ($((SECONDS - t0)) s; egress holds $fd1000 fds, $base_fd idle)"
else
	fail "1000 held connections" "held_ok=$held_ok fds=$fd1000 base=$base_fd $(cat "$T"/hold*.out | tr '\n' ' ')"
fi
per=$(((rss1000 - base_rss) / 1000))
msg="RSS $((base_rss / 1024)) MiB idle, $((rss1000 / 1024)) MiB with 1000: $(awk -v a="$rss1000" -v b="$base_rss" 'BEGIN{printf "%.1f", (a-b)/1000}') KiB per connection"
if [ $SANITIZED = 1 ]; then
	skip "plain RSS per connection <= 16 KiB" "sanitizer build ($msg)"
elif [ "$per" -le 16 ] && [ "$rss1000" -gt "$base_rss" ]; then
	ok "plain RSS per connection <= 16 KiB ($msg)"
else
	fail "plain RSS per connection <= 16 KiB" "$msg"
fi
# Those idle connections gave their buffer pages back (the first 200 have been idle since the other
# batches opened): each still carries a request.
again "${holders[0]}" "$T/hold1.out" 200 "200 idle plain connections (buffers given back) each serve one more request"
out=$(timeout 20 "$T/egload" -t "$A:$H_PORT" -H "up.test:$UP" -p /ok -m plain -A -c 20 -d 3 -w 0 2>&1)
n=$(awk '/^requests/ {print $2}' <<<"$out") e=$(awk '/^requests/ {print $4}' <<<"$out")
if [ "${n:-0}" -gt 100 ] && [ "$e" = 0 ]; then
	ok "active traffic beside the 1000 held: $n requests in 3 s on 20 more connections, 0 errors"
else
	fail "active traffic beside 1000 held" "$out"
fi
for p in "${holders[@]}"; do
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
done
if grep -h '^held' "$T"/hold*.out | awk '{n += $2} END {exit n != 1000}'; then
	ok "every held connection was still open when released (none dropped by egress)"
else
	fail "held connections survive" "$(grep -h '^held' "$T"/hold*.out | tr '\n' ' ')"
fi
n=$(wait_fds "$H_PID" "$base_fd" 5)
[ "$n" -le "$base_fd" ] && ok "after release egress is back to $n descriptors (no fd leak)" ||
	fail "fds after release" "$n open, $base_fd before"

if [ $SANITIZED = 1 ]; then
	skip "MITM RSS per connection" "sanitizer build"
else
	start_egress M --max-conns 1100
	mbase=$(rss_kb "$M_PID")
	if hold "$M_PORT" "up.test:$UPS" connect-tls 200 "$T/mhold.out" "$CA"; then
		mrss=$(rss_settled "$M_PID" "$mbase" 200 48)
		msg="$(awk -v a="$mrss" -v b="$mbase" 'BEGIN{printf "%.1f", (a-b)/200}') KiB per connection ($((mbase / 1024)) -> $((mrss / 1024)) MiB)"
		[ $(((mrss - mbase) / 200)) -le 48 ] && [ "$mrss" -gt "$mbase" ] && ok "200 intercepted connections held: $msg <= 48 KiB" ||
			fail "MITM RSS per connection <= 48 KiB" "$msg"
		# Both TLS engines of each idle connection had their record buffers given back: they still work.
		again "$HOLD_PID" "$T/mhold.out" 200 "200 idle intercepted connections (TLS buffers given back) each serve one more request"
	else
		# Seen about once per 1,000 intercepted connections opened at once on a loaded machine: egress's
		# upstream TLS handshake stalls until the upstream's handshake timeout (60 s) or --idle-timeout.
		stuck=$(python3 - "$T/M.log" <<'PY'
import json, sys
seen = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "request":
        seen.setdefault(e["conn"], []).append(e["method"])
print(sum(1 for v in seen.values() if v == ["CONNECT"]))
PY
)
		[ -n "${LOAD_KEEP:-}" ] && cp "$T/M.log" "$T/mhold.out" "$LOAD_KEEP/"
		skip "200 intercepted connections held" "NOT FIXED: $stuck connection(s) CONNECTed but never answered within 30 s (upstream TLS handshake stall, reported): $(cat "$T/mhold.out")"
	fi
	kill_tree "$HOLD_PID"
fi

# A burst: 1000 agents connecting at once (no ramp). Every one must be served: up.test is in the
# hosts file, and answers that send no query never count against the resolver's 256 in flight.
hold "$H_PORT" "up.test:$UP" plain 1000 "$T/burst.out"
kill_tree "$HOLD_PID"
nres=$(grep -c '"rule":"resolve"' "$T/H.log")
if [ "$nres" = 0 ]; then
	ok "a burst of 1000 simultaneous new connections: none refused"
else
	fail "a burst of 1000 simultaneous new connections" "$nres answered 502 by the resolver: $(grep -m1 '"rule":"resolve"' "$T/H.log")"
fi
wait_fds "$H_PID" "$base_fd" 5 >/dev/null

# ---------------------------------------------------------------------------------------------
# Upstream down, slow, resetting, garbled, hanging (egress F, 3 s idle timeout). The connect timeout
# (10 s, not an option) needs an idle timeout above it, so that request goes through H, in the
# background while the cases below run.
curl -sS -m 30 -o "$T/bh.body" -w '%{http_code} %{time_total}' -x "http://$A:$H_PORT" "http://blackhole.test:$BHP/x" >"$T/bh.code" 2>&1 &
BH_CURL=$!
start_egress F --idle-timeout 3 --head-timeout 2 --max-conns 64
f_fd=$(fd_count "$F_PID")
ucheck() { # NAME PATH WANT-STATUS BODY-WORDS MAX-SECS
	local out code secs
	out=$(curl -sS -m 20 -o "$T/f.body" -w '%{http_code} %{time_total}' -x "http://$A:$F_PORT" "$2" 2>&1)
	code=${out%% *} secs=${out##* }
	if [ "$code" = "$3" ] && grep -q "$4" "$T/f.body" && awk -v s="$secs" -v m="$5" 'BEGIN{exit !(s <= m)}'; then
		ok "$1 ($code in ${secs}s: $(head -c 90 "$T/f.body" | tr '\n' ' '))"
	else
		fail "$1" "$out $(head -c 200 "$T/f.body")"
	fi
}
ucheck "upstream down: 502 with the reason" "http://down.test:$UP/x" 502 "Bad Gateway" 2
ucheck "upstream resets the connection: 502" "http://up.test:$UP/reset" 502 "closed the connection" 2
ucheck "upstream closes without answering: 502" "http://up.test:$UP/close" 502 "closed the connection" 2
ucheck "upstream answers garbage: 502 invalid status line" "http://up.test:$UP/garbage" 502 "invalid status line" 2
ucheck "slow upstream under the timeout: 200" "http://up.test:$UP/slow?s=1.5" 200 "ok" 4
ucheck "upstream that never answers: 504 after the idle timeout" "http://up.test:$UP/hang" 504 "Gateway Timeout" 5
if grep -q '"host":"down.test".*"status":"502"' "$T/F.log" && grep -q '"path":"/hang".*"rule":"timeout".*"status":"504"' "$T/F.log" &&
	grep -q '"path":"/reset".*"status":"502"' "$T/F.log"; then
	ok "every upstream failure is in the audit log with its rule and status"
else
	fail "upstream failures audited" "$(statuses "$T/F.log")"
fi

# ---------------------------------------------------------------------------------------------
# Slowloris (egress F: head timeout 2 s, idle timeout 3 s, 64 slots).
python3 "$LOAD/slowclient.py" "$A" "$F_PORT" head 10 "up.test:$UP" 10 >"$T/sl.head" 2>&1 &
SLH=$!
python3 "$LOAD/slowclient.py" "$A" "$F_PORT" stall 10 "up.test:$UP" 10 >"$T/sl.stall" 2>&1 &
SLS=$!
on_exit "kill_tree $SLH; kill_tree $SLS"
for _ in $(seq 50); do grep -q ready "$T/sl.head" && grep -q ready "$T/sl.stall" && break; sleep 0.1; done
served=0 slowest=0
for i in $(seq 10); do
	out=$(curl -sS -m 5 -o /dev/null -w '%{http_code} %{time_total}' -x "http://$A:$F_PORT" "http://up.test:$UP/ok" 2>&1)
	[ "${out%% *}" = 200 ] && served=$((served + 1))
	slowest=$(awk -v a="$slowest" -v b="${out##* }" 'BEGIN{print (b > a) ? b : a}')
	sleep 0.1
done
[ $served = 10 ] && awk -v s="$slowest" 'BEGIN{exit !(s < 1)}' &&
	ok "10 slow-head and 10 stalled-body clients: other clients are served meanwhile (10/10, slowest ${slowest}s)" ||
	fail "served beside slowloris" "$served/10 served, slowest $slowest"
wait $SLH $SLS
if [ "$(grep -c '^408 [23]\.' "$T/sl.head")" = 10 ]; then
	ok "slow head: every one answered 408 after the 2 s head timeout"
else
	fail "slow head 408" "$(grep -v ready "$T/sl.head" | sort | uniq -c | tr -s ' \n' ' ')"
fi
# A stalled body: 408 (the agent is the slow side) once the head timeout's grace (2 s) passes without
# the body's minimum rate (a 408 names the body rule: the head was whole, the idle timeout answers 504).
if [ "$(grep -cE '^408 [2-9]\.' "$T/sl.stall")" = 10 ]; then
	ok "stalled body: every one answered 408 (not 504 idle) after the 2 s grace ($(grep -v ready "$T/sl.stall" | cut -d' ' -f1 | sort | uniq -c | tr -s ' \n' ' '))"
else
	fail "stalled body" "$(grep -v ready "$T/sl.stall" | sort | uniq -c | tr -s ' \n' ' ')"
fi
n=$(wait_fds "$F_PID" "$f_fd" 5)
[ "$n" -le "$f_fd" ] && ok "slowloris slots freed: egress back to $n descriptors" || fail "slots freed" "$n fds, $f_fd before"

# Every slot taken by slow heads: the next agent gets 503 at once; once the head timeout frees them, 200.
start_egress L --head-timeout 2 --max-conns 8
python3 "$LOAD/slowclient.py" "$A" "$L_PORT" head 8 "up.test:$UP" 10 >"$T/sl.fill" 2>&1 &
SLF=$!
on_exit "kill_tree $SLF"
for _ in $(seq 50); do grep -q ready "$T/sl.fill" && break; sleep 0.1; done
sleep 0.2
c1=$(curl -sS -m 5 -o "$T/l.body" -w '%{http_code}' -x "http://$A:$L_PORT" "http://up.test:$UP/ok" 2>&1)
wait $SLF
c2=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -x "http://$A:$L_PORT" "http://up.test:$UP/ok" 2>&1)
if [ "$c1" = 503 ] && [ "$c2" = 200 ] && [ "$(grep -c '^408' "$T/sl.fill")" = 8 ]; then
	ok "all slots held by slowloris: 503 at once; after the head timeout (8 x 408) the slots serve again (200)"
else
	fail "slowloris slot exhaustion" "during=$c1 after=$c2 $(grep -v ready "$T/sl.fill" | sort | uniq -c | tr -s ' \n' ' ')"
fi

# A body dribbled one byte per 0.5 s never goes idle long enough for the idle timeout: after the head
# timeout's grace (2 s here) a body must average 500 bytes/s (docs/egress.md "Limits").
python3 "$LOAD/slowclient.py" "$A" "$F_PORT" dribble 2 "up.test:$UP" 8 >"$T/sl.drib" 2>&1
if [ "$(grep -cE '^408 ' "$T/sl.drib")" = 2 ]; then
	ok "dribbled body: 408 before 8 s ($(grep -v ready "$T/sl.drib" | tr '\n' ' '))"
else
	fail "dribbled body (one byte per 0.5 s) times out" "got: $(grep -v ready "$T/sl.drib" | tr '\n' ' ')"
fi

wait $BH_CURL
read -r code secs <"$T/bh.code"
if [ "$code" = 504 ] && grep -q "did not answer the connection in time" "$T/bh.body" && awk -v s="$secs" 'BEGIN{exit !(s >= 9 && s <= 13)}'; then
	ok "upstream that never accepts (SYNs dropped): 504 upstream-timeout after the 10 s connect timeout (${secs}s)"
else
	fail "connect timeout" "$code $secs $(cat "$T/bh.body")"
fi
grep -q '"host":"blackhole.test".*"rule":"upstream-timeout"' "$T/H.log" && ok "the connect timeout is audited (rule upstream-timeout)" ||
	fail "connect timeout audited" "$(grep blackhole "$T/H.log")"

# ---------------------------------------------------------------------------------------------
# Soak: LOAD_SOAK_SECS of mixed traffic on a fresh egress; RSS and fds sampled every second from /proc.
# After a warm-up (the first third), RSS may not grow by more than 1 MiB: at the rates here
# (thousands of requests a second) that catches a leak of a few bytes per request.
SOAK=${LOAD_SOAK_SECS:-30}
start_egress S --max-conns 256
s_fd=$(fd_count "$S_PID")
"$T/egload" -t "$A:$S_PORT" -H "up.test:$UP" -p /ok -m plain -A -c 16 -d "$SOAK" -w 0 >"$T/soak.ka" 2>&1 &
L1=$!
"$T/egload" -t "$A:$S_PORT" -H "up.test:$UP" -p /ok -m plain -A -n -c 4 -d "$SOAK" -w 0 >"$T/soak.new" 2>&1 &
L2=$!
"$T/egload" -t "$A:$S_PORT" -H "up.test:$UPS" -p /ok -m connect-tls -C "$CA" -n -c 2 -d "$SOAK" -w 0 >"$T/soak.mitm" 2>&1 &
L3=$!
on_exit "kill_tree $L1; kill_tree $L2; kill_tree $L3"
( end=$((SECONDS + SOAK)); i=0
while [ $SECONDS -lt $end ]; do # refusals and upstream errors, so their paths are in the soak too
	case $((i % 5)) in
	0) curl -s -m 3 -o /dev/null -x "http://$A:$S_PORT" "http://nowhere.test/x" ;;
	1) curl -s -m 3 -o /dev/null -x "http://$A:$S_PORT" "http://up.test:$UP/forbidden" ;;
	2) curl -s -m 3 -o /dev/null -x "http://$A:$S_PORT" "http://up.test:$UP/reset" ;;
	3) curl -s -m 3 -o /dev/null -x "http://$A:$S_PORT" --data-binary "key=ghp_$(printf 'a%.0s' $(seq 36))" "http://up.test:$UP/ok" ;;
	4) curl -s -m 3 -o /dev/null -x "http://$A:$S_PORT" "http://down.test:$UP/x" ;;
	esac
	i=$((i + 1)); sleep 0.05
done ) &
L4=$!
on_exit "kill_tree $L4"
samples=()
for ((i = 0; i < SOAK; i++)); do
	sleep 1
	samples+=("$(rss_kb "$S_PID"):$(fd_count "$S_PID")")
done
wait $L1 $L2 $L3 $L4 2>/dev/null
warm=$((SOAK / 3))
rss_warm=${samples[warm]%%:*}
rss_max=0
for s in "${samples[@]:warm}"; do r=${s%%:*}; [ "$r" -gt "$rss_max" ] && rss_max=$r; done
rss_end=${samples[-1]%%:*}
reqs=$(cat "$T"/soak.* | awk '/^requests/ {n += $2; e += $4} END {print n + 0, e + 0}')
read -r nreq nerr <<<"$reqs"
echo "# soak ${SOAK}s: $nreq requests by egload ($nerr errors), RSS KiB:fds every second: ${samples[*]}"
if [ "$nreq" -gt $((SOAK * 200)) ] && [ "$(awk '/^requests/ {print $4}' "$T/soak.ka")" = 0 ]; then
	ok "soak: $nreq requests in ${SOAK}s (keepalive, new connections, MITM, refusals, upstream errors); keepalive errors 0"
else
	fail "soak traffic" "$(cat "$T"/soak.* | tr '\n' ' ')"
fi
if [ $SANITIZED = 1 ]; then
	skip "soak: RSS flat after warm-up" "sanitizer build (RSS at warm-up $rss_warm, max $rss_max KiB)"
elif [ $((rss_max - rss_warm)) -le 1024 ]; then
	ok "soak: RSS flat after warm-up ($rss_warm KiB at ${warm}s, max $rss_max, end $rss_end)"
else
	fail "soak: RSS grows" "$rss_warm KiB at ${warm}s, max $rss_max, end $rss_end: ${samples[*]}"
fi
n=$(wait_fds "$S_PID" "$s_fd" 5)
[ "$n" -le "$s_fd" ] && ok "soak: descriptors back to $n after the load (no fd leak)" || fail "soak fds" "$n open, $s_fd before"
if kill -0 "$S_PID" 2>/dev/null && kill -0 "$H_PID" 2>/dev/null && kill -0 "$F_PID" 2>/dev/null; then
	ok "every egress survived"
else
	fail "egress survived" "$(tail -n 3 "$T"/*.err)"
fi
for x in H M F L S; do
	pid=${x}_PID
	[ -n "${!pid:-}" ] && kill_tree "${!pid}"
done
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/*.err 2>/dev/null; then
	fail "no sanitizer report from egress" "$(grep -hE 'Sanitizer|runtime error' "$T"/*.err | head -n 3)"
else
	ok "no sanitizer report in any egress's stderr (after SIGTERM)"
fi
