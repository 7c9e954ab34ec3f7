#!/usr/bin/env bash
# ws.sh - WebSocket echo through bb egress with interception against the same client straight to the upstream,
# one run, ratios printed (issue 15's figure). The upstream is tests/peers/ws_upstream.py (TLS, a thread per
# connection), the client scripts/bench/ws/client.py (Python's websockets): WS_BENCH_N sequential round trips
# (default 2000) of WS_BENCH_SIZE-byte text messages (default 64 and 1024; the upstream peer, a Python thread reading frames, takes ~44 ms per 16 KiB message itself), best of WS_BENCH_RUNS (3).
# Usage: scripts/bench/ws.sh   (BB=path/to/bb, default ./bb; python3-websockets from scripts/setup.sh test)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bb=${BB:-$top/bb}
case $bb in /*) ;; *) bb=$PWD/$bb ;; esac
N=${WS_BENCH_N:-2000} RUNS=${WS_BENCH_RUNS:-3}
[ -x "$bb" ] || { echo "ws.sh: no bb at $bb (make first, or set BB)" >&2; exit 1; }
PY=
for p in python3 /usr/bin/python3; do "$p" -c 'import websockets' 2>/dev/null && { PY=$p; break; }; done
[ -n "$PY" ] || { echo "ws.sh: python3-websockets is required (scripts/setup.sh test)" >&2; exit 1; }

T=$(mktemp -d /tmp/bb-bench-ws.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do { kill "$p" && wait "$p"; } 2>/dev/null || true; done # set -e: a wait's 143 must not end the cleanup
	rm -rf "$T"
}
trap cleanup EXIT
A=127.0.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))
port() { python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$A"; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/$A/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
UP=$(port) EG=$(port)
sh "$top/tests/peers/upstream_cert.sh" "$T" api.test
python3 "$top/tests/peers/ws_upstream.py" "$A" "$UP" /dev/null "$T/up.crt" "$T/up.key" 2>"$T/up.err" &
pids+=($!)
export BB_HOME=$T/home
mkdir -p "$BB_HOME"
"$bb" bottle ca init >/dev/null
printf '%s api.test\n' "$A" >"$T/hosts"
cat >"$T/policy.json" <<JSON
{"schema":"bb.plan/1","egress":{"routes":[{"host":"api.test","ssrf_ip_allowlist":["127.0.0.0/8"]}]}}
JSON
SSL_CERT_FILE=$T/upca.crt "$bb" egress --policy "$T/policy.json" --listen "$A:$EG" --hosts "$T/hosts" \
	--ca "$BB_HOME/.bb/ca" --log /dev/null 2>"$T/eg.err" &
pids+=($!)
wait_port "$UP" && wait_port "$EG" || { echo "ws.sh: peers did not start: $(cat "$T"/*.err)" >&2; exit 1; }

# best MODE SIZE: the best of RUNS by messages per second
best() {
	local i out bestline="" bestv=0 v
	for ((i = 0; i < RUNS; i++)); do
		if [ "$1" = direct ]; then
			out=$("$PY" "$top/scripts/bench/ws/client.py" direct "$A" "$UP" api.test "$UP" "$T/upca.crt" "$N" "$2")
		else
			out=$("$PY" "$top/scripts/bench/ws/client.py" mitm "$A" "$EG" api.test "$UP" "$BB_HOME/.bb/ca/ca.crt" "$N" "$2")
		fi
		v=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["msgs_per_s"])' "$out")
		[ "$v" -gt "$bestv" ] && bestv=$v bestline=$out
	done
	echo "$bestline"
}
echo "== WebSocket echo, $N sequential round trips, best of $RUNS (bb $("$bb" --version | head -n 1 | cut -d' ' -f2))"
for size in ${WS_BENCH_SIZE:-64 1024}; do
	d=$(best direct "$size")
	m=$(best mitm "$size")
	echo "  direct  $d"
	echo "  egress  $m"
	python3 - "$d" "$m" <<'PY'
import json, sys
d, m = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("  ratio (egress / direct): messages/s %.2f, p50 latency %.2fx (+%d us), p99 %.2fx" % (
    m["msgs_per_s"] / d["msgs_per_s"], m["p50_us"] / d["p50_us"], m["p50_us"] - d["p50_us"], m["p99_us"] / d["p99_us"]))
PY
done
