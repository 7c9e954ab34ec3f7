#!/usr/bin/env bash
# load.sh - bb egress at full size: memory per connection at 100 and 1,000 held connections (plain and MITM) against squid, 1,000 connections held for 60 s beside active traffic, and a 10-minute soak with RSS/fd sampled from /proc; one run, ratios printed.
# Usage: scripts/bench/load.sh     (BB=path/to/bb, default ./bb; run it under nice -n 10 on a shared machine)
#   LOAD_BENCH_HOLD_SECS=60   how long the 1,000 connections are held
#   LOAD_BENCH_SOAK_SECS=600  the soak
# Everything listens on one random 127.0.x.y. Upstream: scripts/bench/load/upstream.py (asyncio, HTTP and
# HTTPS with its own test CA); names resolve through egress's --hosts file and squid's hosts_file.
# Clients: egload (scripts/bench/egress/egload.c, built here with cc and OpenSSL), curl for refusals.
# tests/sh/load.sh is the CI-sized version of the same measurements.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/scripts/bench/load
bb=${BB:-$top/bb}
case $bb in /*) ;; *) bb=$PWD/$bb ;; esac
HOLD_SECS=${LOAD_BENCH_HOLD_SECS:-60}
SOAK=${LOAD_BENCH_SOAK_SECS:-600}
[ -x "$bb" ] || { echo "load.sh: no bb at $bb (make first, or set BB)" >&2; exit 1; }
for tool in python3 openssl curl cc; do
	command -v $tool >/dev/null || { echo "load.sh: $tool is required" >&2; exit 1; }
done
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 8200 ] || { echo "load.sh: need 8200 open files (ulimit -n is $(ulimit -n))" >&2; exit 1; }

T=$(mktemp -d /tmp/bb-bench-load.XXXXXX)
chmod 755 "$T" # squid drops to proxy and reads its files here
pids=()
cleanup() {
	local i p
	exec 2>/dev/null
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		p=${pids[i]}
		kill "$p" 2>/dev/null || continue
		for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

A=127.0.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 2))
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((RANDOM % 20000 + 30000))
		if ! (exec 3<>"/dev/tcp/$A/$p") 2>/dev/null && ! grep -q ":$p\$" "$T/ports" 2>/dev/null; then
			echo ":$p" >>"$T/ports"
			echo "$p"
			return 0
		fi
	done
	return 1
}
wait_port() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		(exec 3<>"/dev/tcp/$A/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# The resident set of a process and its descendants, in KiB.
rss_kb() {
	local sum=0 k
	for k in $1 $(ps -o pid= --ppid "$1" 2>/dev/null); do
		sum=$((sum + $(awk '$1 == "VmRSS:" {print $2}' "/proc/$k/status" 2>/dev/null || echo 0)))
	done
	echo $sum
}
fd_count() { local fds=(/proc/"$1"/fd/*); echo ${#fds[@]}; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
per_conn() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (n > 0) printf "%.1f", (a - b) / n; else printf "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "n/a") printf "%.2f", a / b; else printf "n/a" }'; }

UP=$(free_port)
UPS=$(free_port)
printf '%s up.test\n' "$A" >"$T/hosts"
chmod 644 "$T/hosts"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/upca.key" 2>/dev/null
openssl req -x509 -new -key "$T/upca.key" -subj /CN=bb-bench-load-ca -days 2 -out "$T/upca.crt" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/up.key" 2>/dev/null
openssl req -new -key "$T/up.key" -subj /CN=up.test -out "$T/up.csr" 2>/dev/null
printf 'subjectAltName=DNS:up.test\n' >"$T/ext"
openssl x509 -req -in "$T/up.csr" -CA "$T/upca.crt" -CAkey "$T/upca.key" -CAcreateserial -days 2 \
	-extfile "$T/ext" -out "$T/up.crt" 2>/dev/null
python3 "$here/upstream.py" "$A" "$UP" - >"$T/up.out" 2>&1 &
pids+=($!)
python3 "$here/upstream.py" "$A" "$UPS" - "$T/up.crt" "$T/up.key" >"$T/ups.out" 2>&1 &
pids+=($!)
wait_port "$UP" && wait_port "$UPS" || { echo "load.sh: upstream did not start: $(cat "$T"/up*.out)" >&2; exit 1; }
cc -O2 -o "$T/egload" "$top/scripts/bench/egress/egload.c" -lssl -lcrypto 2>"$T/cc.err" ||
	{ echo "load.sh: cannot build egload (apt-get install libssl-dev): $(head -c 300 "$T/cc.err")" >&2; exit 1; }

cat >"$T/policy.json" <<EOF
{"schema":"bb.plan/1","egress":{"routes":[{"host":"up.test","path_allowlist":["/ok","/reset"],"ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"down.test","ssrf_ip_allowlist":["127.0.0.0/8"]}]}}
EOF
export BB_HOME=$T/bbhome
mkdir -p "$BB_HOME"
"$bb" bottle ca init >/dev/null
BBCA=$BB_HOME/.bb/ca/ca.crt
start_bb() { # NAME: a fresh egress; port in PORT_NAME, pid in PID_NAME
	local port
	port=$(free_port)
	SSL_CERT_FILE=$T/upca.crt "$bb" egress --policy "$T/policy.json" --listen "$A:$port" --hosts "$T/hosts" \
		--ca "$BB_HOME/.bb/ca" --max-conns 2100 --log "$T/$1.log" 2>>"$T/bb.err" &
	pids+=($!)
	wait_port "$port" || { echo "load.sh: bb egress did not start: $(cat "$T/bb.err")" >&2; exit 1; }
	eval "PORT_$1=$port PID_$1=$!"
}

SQ_PID=
if command -v squid >/dev/null; then
	SQ_PORT=$(free_port)
	mkdir -p "$T/squid"
	cat >"$T/squid/squid.conf" <<EOF
http_port $A:$SQ_PORT
http_access allow all
cache deny all
cache_mem 8 MB
access_log none
cache_log $T/squid/cache.log
pid_filename $T/squid/squid.pid
coredump_dir $T/squid
hosts_file $T/hosts
netdb_filename none
pinger_enable off
udp_incoming_address $A
udp_outgoing_address $A
shutdown_lifetime 0 seconds
cache_effective_user proxy
max_filedescriptors 8192
EOF
	chown -R proxy "$T/squid"
	squid -N -f "$T/squid/squid.conf" 2>>"$T/squid/stderr" &
	pids+=($!)
	SQ_PID=$!
	wait_port "$SQ_PORT" 15 || { echo "squid did not start (left out): $(tail -n 3 "$T/squid/cache.log")" >&2; SQ_PID=; }
	if [ -n "$SQ_PID" ] && [ "$(curl -s -m 5 -x "http://$A:$SQ_PORT" "http://up.test:$UP/ok")" != ok ]; then
		echo "squid does not proxy to the upstream (left out)" >&2
		SQ_PID=
	fi
fi

# hold PORT HOST:PORT MODE N: egload processes of at most 200 connections each (under egress's 256
# lookups in flight: a burst above that is answered 502, see docs/benchmarks.md), each one request
# then idle. Their pids go to HOLDERS; returns 1 if some never got all their connections.
HOLDERS=()
hold() {
	local left=$4 n i=0 args
	while [ "$left" -gt 0 ]; do
		n=$((left > 200 ? 200 : left))
		args=(-t "$A:$1" -H "$2" -p /ok -m "$3" -c "$n" -d 100000 -w 0 --hold)
		[ "$3" = plain ] && args+=(-A) || args+=(-C "$BBCA")
		"$T/egload" "${args[@]}" >"$T/hold.$i" 2>&1 &
		pids+=($!)
		HOLDERS+=($!)
		for _ in $(seq 600); do grep -q '^ready' "$T/hold.$i" && break; kill -0 $! 2>/dev/null || return 1; sleep 0.1; done
		grep -q '^ready' "$T/hold.$i" || return 1
		left=$((left - n)) i=$((i + 1))
	done
}
release() { # stop the holders; RELEASED: how many connections were still held (from their own count)
	local p
	for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	HOLDERS=()
	RELEASED=$(cat "$T"/hold.* | awk '/^held/ {n += $2} END {print n + 0}')
	rm -f "$T"/hold.*
	sleep 1
}
# memory PID PORT HOST:PORT MODE N -> "idle rss open held": open is how many agent connections the
# proxy had established on its port when RSS was read, held how many egload still had at release.
# A holder that never got all its connections is waited for 60 s.
memory() {
	local idle rss open
	idle=$(rss_kb "$1")
	hold "$2" "$3" "$4" "$5"
	sleep 0.5
	rss=$(rss_kb "$1") open=$(ss -Htn state established "( sport = :$2 )" | wc -l)
	release
	echo "$idle $rss $open $RELEASED"
}

echo "bb load benchmark: $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bb: $bb ($(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$top" diff --quiet 2>/dev/null || echo '+dirty'))"
echo "upstream: scripts/bench/load/upstream.py on $A; held connections made one request each and stay idle"
echo

# ---- memory per connection (a fresh process for each N) ----
echo "== memory per held connection (VmRSS; a fresh process for each row)"
declare -A PER
for n in 100 1000; do
	start_bb plain$n
	read -r idle rss open held < <(memory "$(eval echo \$PID_plain$n)" "$(eval echo \$PORT_plain$n)" "up.test:$UP" plain $n)
	PER[bb/plain/$n]=$(per_conn "$rss" "$idle" "$open")
	printf '  %-26s idle %-9s with %4d open: %-9s %6s KiB/conn (held at release: %d)\n' "bb egress plain" "$(mib "$idle")" "$open" "$(mib "$rss")" "${PER[bb/plain/$n]}" "$held"
	start_bb mitm$n
	read -r idle rss open held < <(memory "$(eval echo \$PID_mitm$n)" "$(eval echo \$PORT_mitm$n)" "up.test:$UPS" connect-tls $n)
	PER[bb/mitm/$n]=$(per_conn "$rss" "$idle" "$open")
	printf '  %-26s idle %-9s with %4d open: %-9s %6s KiB/conn (held at release: %d)\n' "bb egress MITM" "$(mib "$idle")" "$open" "$(mib "$rss")" "${PER[bb/mitm/$n]}" "$held"
	if [ -n "$SQ_PID" ]; then
		read -r idle rss open held < <(memory "$SQ_PID" "$SQ_PORT" "up.test:$UP" plain $n)
		PER[squid/plain/$n]=$(per_conn "$rss" "$idle" "$open")
		printf '  %-26s idle %-9s with %4d open: %-9s %6s KiB/conn (held at release: %d)\n' "squid plain (one process)" "$(mib "$idle")" "$open" "$(mib "$rss")" "${PER[squid/plain/$n]}" "$held"
	fi
done
for n in 100 1000; do kill "$(eval echo \$PID_plain$n)" "$(eval echo \$PID_mitm$n)" 2>/dev/null; done

# ---- 1,000 held for HOLD_SECS beside active traffic ----
echo "== 1000 plain connections held ${HOLD_SECS} s, 20 more connections of keepalive traffic beside them"
start_bb hold
base_fd=$(fd_count "$PID_hold")
t0=$SECONDS
hold "$PORT_hold" "up.test:$UP" plain 1000 || echo "  (some holders never got all their connections)"
echo "  1000 connections open after $((SECONDS - t0)) s (batches of 200)"
"$T/egload" -t "$A:$PORT_hold" -H "up.test:$UP" -p /ok -m plain -A -c 20 -d "$HOLD_SECS" -w 0 >"$T/active.out" 2>&1 &
act=$!
pids+=("$act")
rmin=0 rmax=0 fmax=0
for ((i = 0; i < HOLD_SECS; i += 5)); do
	sleep 5
	r=$(rss_kb "$PID_hold") f=$(fd_count "$PID_hold")
	[ $rmin = 0 ] || [ "$r" -lt $rmin ] && rmin=$r
	[ "$r" -gt $rmax ] && rmax=$r
	[ "$f" -gt $fmax ] && fmax=$f
done
wait $act
release
held=$RELEASED
echo "  RSS $(mib $rmin) .. $(mib $rmax) while held; at most $fmax descriptors; still held at the end: $held of 1000"
echo "  active traffic beside them: $(cat "$T/active.out")"
sleep 1
echo "  descriptors after release: $(fd_count "$PID_hold") (idle: $base_fd)"
kill "$PID_hold" 2>/dev/null

# ---- the soak ----
echo "== soak: ${SOAK} s of mixed traffic on a fresh egress, RSS and descriptors sampled every 10 s"
start_bb soak
s_fd=$(fd_count "$PID_soak")
s_idle=$(rss_kb "$PID_soak")
"$T/egload" -t "$A:$PORT_soak" -H "up.test:$UP" -p /ok -m plain -A -c 16 -d "$SOAK" -w 0 >"$T/soak.ka" 2>&1 &
l1=$!
"$T/egload" -t "$A:$PORT_soak" -H "up.test:$UP" -p /ok -m plain -A -n -c 4 -d "$SOAK" -w 0 >"$T/soak.new" 2>&1 &
l2=$!
"$T/egload" -t "$A:$PORT_soak" -H "up.test:$UPS" -p /ok -m connect-tls -C "$BBCA" -n -c 2 -d "$SOAK" -w 0 >"$T/soak.mitm" 2>&1 &
l3=$!
( end=$((SECONDS + SOAK)); i=0
while [ $SECONDS -lt $end ]; do
	case $((i % 4)) in
	0) curl -s -m 3 -o /dev/null -x "http://$A:$PORT_soak" "http://nowhere.test/x" ;;
	1) curl -s -m 3 -o /dev/null -x "http://$A:$PORT_soak" "http://up.test:$UP/forbidden" ;;
	2) curl -s -m 3 -o /dev/null -x "http://$A:$PORT_soak" "http://up.test:$UP/reset" ;;
	3) curl -s -m 3 -o /dev/null -x "http://$A:$PORT_soak" --data-binary "key=ghp_$(printf 'a%.0s' $(seq 36))" "http://up.test:$UP/ok" ;;
	esac
	i=$((i + 1)); sleep 0.05
done ) &
l4=$!
pids+=("$l1" "$l2" "$l3" "$l4")
samples=()
while kill -0 $l1 2>/dev/null; do
	sleep 10
	kill -0 $l1 2>/dev/null && samples+=("$(rss_kb "$PID_soak"):$(fd_count "$PID_soak")")
done
wait $l1 $l2 $l3 $l4 2>/dev/null
sleep 2
warm=$((${#samples[@]} / 10)) # the first tenth is warm-up
rss_warm=${samples[warm]%%:*}
rmax=0
for s in "${samples[@]:warm}"; do r=${s%%:*}; [ "$r" -gt $rmax ] && rmax=$r; done
rss_end=${samples[-1]%%:*}
read -r nreq nerr < <(cat "$T"/soak.* | awk '/^requests/ {n += $2; e += $4} END {print n + 0, e + 0}')
echo "  samples (RSS KiB:fds): ${samples[*]}"
echo "  requests by egload: $nreq ($nerr errors: $(for f in ka new mitm; do printf '%s %s; ' $f "$(awk '/^requests/ {print $4}' "$T/soak.$f")"; done)); refusals/upstream errors by curl beside"
echo "  RSS idle $(mib "$s_idle"), after warm-up ($(((warm + 1) * 10)) s) $(mib "$rss_warm"), max after $(mib $rmax), end $(mib "$rss_end"): growth $((rmax - rss_warm)) KiB"
awk -v g=$((rmax - rss_warm)) -v n="$nreq" 'BEGIN { if (n > 0) printf "  growth per request after warm-up: %.4f bytes\n", g * 1024 / n }'
echo "  descriptors after the soak: $(fd_count "$PID_soak") (before: $s_fd); audit lines: $(wc -l <"$T/soak.log")"

echo "== ratios (same run)"
for n in 100 1000; do
	printf '  %-44s %s\n' "squid / bb KiB per plain connection, $n" "$(ratio "${PER[squid/plain/$n]:-n/a}" "${PER[bb/plain/$n]}")"
done
printf '  %-44s %s\n' "bb MITM / bb plain KiB per connection, 1000" "$(ratio "${PER[bb/mitm/1000]}" "${PER[bb/plain/1000]}")"
echo "(whole run: ${SECONDS} s)"
