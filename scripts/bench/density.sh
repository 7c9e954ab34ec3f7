#!/usr/bin/env bash
# density.sh - a host full of bottles: N bottles on the embedded runtime, each agent making one allowed request a
# second; memory per idle bottle (PSS of its bb processes: host process, dialer, both inits, the sidecar's daemons),
# start latency (p50/p95, launch to the agent's first answered request) while the others run, and the host
# dialer's CPU per upstream connection. Reports how each grows with N.
# Usage: sudo scripts/bench/density.sh [N...]   (default: 1 10 50; needs root, curl, python3)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BB=${BB:-$top/bb}
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 10 50)
[ "$(id -u)" = 0 ] || { echo "density.sh: needs root (the embedded runtime)" >&2; exit 1; }
for t in curl python3; do command -v $t >/dev/null || { echo "density.sh: needs $t" >&2; exit 1; }; done
T=$(mktemp -d /tmp/bb-bench-density.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -n "${UPPID:-}" ] && kill "$UPPID" 2>/dev/null
	BB_HOME=$T/home "$BB" bottle cleanup --all >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT

A=127.0.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 2))
UP=$((RANDOM % 20000 + 30000))
python3 -m http.server "$UP" --bind "$A" --directory "$T" >/dev/null 2>&1 &
UPPID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://$A:$UP/" && break; sleep 0.05; done
printf '%s up.test\n' "$A" >"$T/hosts"
export BB_HOME=$T/home
mkdir -p "$BB_HOME/.bb/bottles"
# The agent: one allowed request a second; its first answered one is marked in its workspace (the start latency).
cat >"$BB_HOME/.bb/bottles/dense.md" <<EOF
---
agent_provider:
  template: command
  command: [sh, -c, 'while :; do curl -s -o /dev/null -w "%{http_code}\n" http://up.test:$UP/ >>req.log; [ -e first ] || { date +%s%N >first.tmp && mv first.tmp first; }; sleep 1; done']
egress:
  routes:
    - host: up.test
      pipelock: {ssrf_ip_allowlist: ["127.0.0.0/8"]}
---
EOF

# pss_kb PID...: the sum of their PSS (kB).
pss_kb() { local p s=0 v; for p in "$@"; do v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0); s=$((s + ${v:-0})); done; echo $s; }
# descendants PID: every process below PID (host pids), through ppid links.
descendants() {
	ps -e -o pid=,ppid= | awk -v root="$1" '{ kids[$2] = kids[$2] " " $1 } END {
		n = split(root, q, " "); while (n) { p = q[n--]; m = split(kids[p], k, " "); for (i = 1; i <= m; i++) { print k[i]; q[++n] = k[i] } } }'
}
# bb_procs HOSTPID: the host process and its descendants that are bb (not the agent's sh, curl, sleep).
bb_procs() {
	local p c
	echo "$1"
	for p in $(descendants "$1"); do
		c=$(cat "/proc/$p/comm" 2>/dev/null) || continue
		case "$c" in sh | curl | sleep | date | mv) ;; *) echo "$p" ;; esac
	done
}
cpu_ns() { awk '{print $1}' "/proc/$1/schedstat" 2>/dev/null || echo 0; } # time on a CPU, ns

echo "density: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), bb $("$BB" --version 2>&1 | head -n 1)"
printf '%-6s %-22s %-26s %-22s %s\n' bottles "PSS per bottle (MiB)" "start p50 / p95 (ms)" "lone start (ms)" "dialer CPU per conn (us)"
lone_ms=""
for n in "${counts[@]}"; do
	pids=()
	starts=()
	rm -rf "$T/ws" && mkdir -p "$T/ws"
	for i in $(seq "$n"); do
		mkdir -p "$T/ws/$i" && chown 65534:65534 "$T/ws/$i"
		t0=$(date +%s%N)
		(cd "$T/ws/$i" && exec "$BB" bottle start dense -y --hosts "$T/hosts") >"$T/ws/$i.out" 2>"$T/ws/$i.err" &
		pids+=($!)
		starts+=("$t0")
		# Each bottle starts while the ones before it run: wait for its first answered request.
		for _ in $(seq 600); do [ -e "$T/ws/$i/first" ] && break; kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.05; done
		[ -e "$T/ws/$i/first" ] || { echo "density.sh: bottle $i did not come up: $(tail -n 3 "$T/ws/$i.err")" >&2; exit 1; }
	done
	lat=()
	for i in $(seq "$n"); do lat+=($((($(cat "$T/ws/$i/first") - ${starts[$((i - 1))]}) / 1000000))); done
	sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
	p50=$(sed -n "$(((n + 1) / 2))p" <<<"$sorted")
	p95=$(sed -n "$(((n * 95 + 99) / 100))p" <<<"$sorted")
	[ -n "$lone_ms" ] || lone_ms=${lat[0]}
	# Idle memory and the dialers' CPU over 10 s of one request a second per bottle.
	sleep 2
	all=()
	dialers=()
	for p in "${pids[@]}"; do
		mapfile -t mine < <(bb_procs "$p")
		all+=("${mine[@]}")
	done
	# The dialers: the processes listening on a bottle's dial.sock (a child of each host process).
	mapfile -t dialers < <(ss -xlpH | grep -F "$BB_HOME/.bb/state/" | grep -F '/dial.sock' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
	[ "${#dialers[@]}" = "$n" ] || echo "density.sh: found ${#dialers[@]} dialers for $n bottles" >&2
	req0=$(cat "$T"/ws/*/req.log | wc -l)
	c0=0; for d in "${dialers[@]}"; do c0=$((c0 + $(cpu_ns "$d"))); done
	sleep 10
	c1=0; for d in "${dialers[@]}"; do c1=$((c1 + $(cpu_ns "$d"))); done
	req1=$(cat "$T"/ws/*/req.log | wc -l)
	pss=$(pss_kb "${all[@]}")
	conns=$((req1 - req0))
	cpu_us=$([ "$conns" -gt 0 ] && echo $(((c1 - c0) / 1000 / conns)) || echo "?")
	bad=$(cat "$T"/ws/*/req.log | grep -vc '^200$' || true)
	[ "$bad" != 0 ] || bad=
	printf '%-6s %-22s %-26s %-22s %s\n' "$n" "$(awk -v k="$pss" -v n="$n" 'BEGIN{printf "%.1f", k / n / 1024}')" \
		"$p50 / $p95 ($(awk -v a="$p95" -v b="$lone_ms" 'BEGIN{printf "%.2f", a / b}')x lone)" "$lone_ms" \
		"$cpu_us over $conns requests${bad:+, $bad not 200}"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	"$BB" bottle cleanup --all >/dev/null 2>&1 || true
done
