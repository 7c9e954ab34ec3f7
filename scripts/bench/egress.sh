#!/usr/bin/env bash
# egress.sh - bb egress against squid, tinyproxy and mitmdump (plain proxying, TLS interception, CONNECT tunnels) and its RSS, one run, ratios printed.
# Usage: scripts/bench/egress.sh      (root; BB=path/to/bb, default ./bb)
#   EGRESS_BENCH_SECS=5  measured seconds per run (plus 1 s warm-up)
#   EGRESS_BENCH_CONNS=50  concurrent client connections per run
#   EGRESS_BENCH_HOLD=1000  connections held open for the RSS figures
#   EGRESS_BENCH_RAW=DIR  keep every client's raw output and the proxies' logs there
# Everything listens on one random 127.0.x.y; names resolve through a hosts file bind-mounted on
# /etc/hosts inside a private mount namespace (the script re-executes itself under unshare -m).
# Upstream: nginx (one worker) serving a 1 KB text file over HTTP and HTTPS (its own test CA).
# Clients: wrk -t1 for plain HTTP (scripts/bench/egress/request.lua), and egload (a C/OpenSSL
# load generator, scripts/bench/egress/egload.c) for everything TLS and for the held connections.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/scripts/bench/egress
bb=${BB:-$top/bb}
case $bb in /*) ;; *) bb=$PWD/$bb ;; esac

if [ -z "${EGRESS_BENCH_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "egress.sh: needs root (a private mount namespace for /etc/hosts)" >&2; exit 1; }
	exec unshare -m --propagation private env EGRESS_BENCH_NS=1 BB="$bb" bash "$0" "$@"
fi

SECS=${EGRESS_BENCH_SECS:-5}
CONNS=${EGRESS_BENCH_CONNS:-50}
HOLD=${EGRESS_BENCH_HOLD:-1000}
[ -x "$bb" ] || { echo "egress.sh: no bb at $bb (make first, or set BB)" >&2; exit 1; }
for tool in nginx wrk openssl curl cc; do
	command -v $tool >/dev/null || { echo "egress.sh: $tool is required" >&2; exit 1; }
done

T=$(mktemp -d /tmp/bb-bench-egress.XXXXXX)
chmod 755 "$T" # the peers drop to nobody/proxy and must read their files here
pids=()
cleanup() {
	local p i
	exec 2>/dev/null # no job-control notices for what is killed here
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		p=${pids[i]}
		kill "$p" 2>/dev/null || continue
		for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ -n "${EGRESS_BENCH_RAW:-}" ]; then
		mkdir -p "$EGRESS_BENCH_RAW" && cp -r "$T/raw" "$T"/bb*.err "$T/squid" "$T/tinyproxy" "$T/mitm/out" "$EGRESS_BENCH_RAW/"
	fi
	umount /etc/hosts 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

A=127.0.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 2))
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((RANDOM % 20000 + 30000))
		if ! (exec 3<>"/dev/tcp/$A/$p") 2>/dev/null && ! grep -q ":$p\b" "$T/ports" 2>/dev/null; then
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
# The resident set of a process and its descendants, in KiB (field VmRSS or VmHWM).
mem_kb() {
	local pid=$1 field=${2:-VmRSS} sum=0 k
	for k in $pid $(ps -o pid= --ppid "$pid" 2>/dev/null); do
		sum=$((sum + $(awk -v f="$field:" '$1 == f {print $2}' "/proc/$k/status" 2>/dev/null || echo 0)))
	done
	echo $sum
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= t) print "met"; else print "MISSED" }'; }

NG_HTTP=$(free_port)
NG_TLS=$(free_port)
BB_PORT=$(free_port)
BB_RSS_PORT=$(free_port)
SQ_PORT=$(free_port)
TP_PORT=$(free_port)
MD_PORT=$(free_port)

# Names: bench.test (plain and intercepted) and tunnel.test (bb passes its CONNECT through).
{ cat /etc/hosts; echo "$A bench.test tunnel.test"; } >"$T/hosts"
chmod 644 "$T/hosts"
mount --bind "$T/hosts" /etc/hosts

# ---- the upstream: nginx, HTTP and HTTPS, a 1 KB text body ----
openssl ecparam -name prime256v1 -genkey -noout -out "$T/upca.key" 2>/dev/null
openssl req -x509 -new -key "$T/upca.key" -subj /CN=bb-bench-upstream-ca -days 2 -out "$T/upca.crt" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/up.key" 2>/dev/null
openssl req -new -key "$T/up.key" -subj /CN=bench.test -out "$T/up.csr" 2>/dev/null
printf 'subjectAltName=DNS:bench.test,DNS:tunnel.test\n' >"$T/ext"
openssl x509 -req -in "$T/up.csr" -CA "$T/upca.crt" -CAkey "$T/upca.key" -CAcreateserial -days 2 \
	-extfile "$T/ext" -out "$T/up.crt" 2>/dev/null
chmod 644 "$T"/*.crt "$T"/*.key

NG=$T/nginx
mkdir -p "$NG/www" "$NG/tmp"
head -c 2000 /dev/urandom | base64 -w 63 | head -c 1023 >"$NG/www/1k"
echo >>"$NG/www/1k"
cat >"$NG/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $NG/tmp/body; proxy_temp_path $NG/tmp/proxy; fastcgi_temp_path $NG/tmp/fcgi;
  uwsgi_temp_path $NG/tmp/uwsgi; scgi_temp_path $NG/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  default_type text/plain;
  server {
    listen $A:$NG_HTTP;
    listen $A:$NG_TLS ssl;
    server_name bench.test tunnel.test;
    ssl_certificate $T/up.crt;
    ssl_certificate_key $T/up.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    # As production servers run: session IDs kept (nginx's default keeps none, offering only tickets,
    # which BearSSL 0.6 lacks), so the proxies can resume their upstream sessions.
    ssl_session_cache shared:bench:1m;
    root $NG/www;
  }
}
EOF
chown -R nobody "$NG"
setpriv --reuid=nobody --regid=nogroup --clear-groups nginx -p "$NG" -e "$NG/error.log" -c "$NG/nginx.conf" &
pids+=($!)
wait_port "$NG_HTTP" && wait_port "$NG_TLS" || { echo "nginx did not start: $(cat "$NG/error.log")" >&2; exit 1; }

# ---- the load generator ----
if ! cc -O2 -o "$T/egload" "$here/egload.c" -lssl -lcrypto 2>"$T/cc.err"; then
	echo "egress.sh: cannot build egload (apt-get install libssl-dev): $(head -c 400 "$T/cc.err")" >&2
	exit 1
fi

# ---- bb egress ----
cat >"$T/policy.json" <<EOF
{"schema":"bb.plan/1","egress":{"routes":[
 {"host":"bench.test","ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"tunnel.test","tls_passthrough":true,"ssrf_ip_allowlist":["127.0.0.0/8"]}
]}}
EOF
export BB_HOME=$T/bbhome
mkdir -p "$BB_HOME"
"$bb" bottle ca init >/dev/null
BBCA=$BB_HOME/.bb/ca/ca.crt
start_bb() { # PORT LOG
	SSL_CERT_FILE=$T/upca.crt "$bb" egress --policy "$T/policy.json" --listen "$A:$1" --hosts "$T/hosts" \
		--log "$2" 2>>"$T/bb.err" &
	pids+=($!)
	wait_port "$1" || { echo "bb egress did not start: $(cat "$T/bb.err")" >&2; exit 1; }
}
start_bb "$BB_PORT" "$T/bb-audit.log"
BB_PID=${pids[-1]}

# ---- squid: one process (-N), no cache, no access log ----
SQ_PID=
if command -v squid >/dev/null; then
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
	wait_port "$SQ_PORT" 15 || { echo "squid did not start (skipped): $(tail -n 3 "$T/squid/cache.log" 2>/dev/null)" >&2; SQ_PID=; }
fi

# ---- tinyproxy ----
TP_PID=
if command -v tinyproxy >/dev/null; then
	mkdir -p "$T/tinyproxy"
	cat >"$T/tinyproxy/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port $TP_PORT
Listen $A
Timeout 600
MaxClients 2048
LogFile "$T/tinyproxy/tinyproxy.log"
LogLevel Warning
PidFile "$T/tinyproxy/tinyproxy.pid"
DisableViaHeader Yes
EOF
	chown -R nobody "$T/tinyproxy"
	tinyproxy -d -c "$T/tinyproxy/tinyproxy.conf" 2>>"$T/tinyproxy/stderr" &
	pids+=($!)
	TP_PID=$!
	wait_port "$TP_PORT" || { echo "tinyproxy did not start (skipped)" >&2; TP_PID=; }
fi

# ---- mitmdump: its own CA, trusting the upstream's CA ----
MD_PID=
if command -v mitmdump >/dev/null; then
	mkdir -p "$T/mitm"
	mitmdump -q --listen-host "$A" -p "$MD_PORT" --set confdir="$T/mitm" \
		--set ssl_verify_upstream_trusted_ca="$T/upca.crt" >"$T/mitm/out" 2>&1 &
	pids+=($!)
	MD_PID=$!
	wait_port "$MD_PORT" 30 || { echo "mitmdump did not start (skipped): $(tail -n 3 "$T/mitm/out")" >&2; MD_PID=; }
fi
MDCA=$T/mitm/mitmproxy-ca-cert.pem

# ---- every path answers the real file before anything is measured ----
want=$(sha256sum <"$NG/www/1k")
sane() { # NAME CURL-ARGS...
	local name=$1; shift
	if [ "$(curl -sS --max-time 10 "$@" 2>"$T/curl.err" | sha256sum)" = "$want" ]; then return 0; fi
	echo "sanity: $name does not return the 1 KB file ($(head -c 200 "$T/curl.err")); its rows are skipped" >&2
	return 1
}
U=http://bench.test:$NG_HTTP/1k
S=https://bench.test:$NG_TLS/1k
# nginx and bb must work; a peer that does not is left out.
sane "nginx http" "$U" || exit 1
sane "nginx https" --cacert "$T/upca.crt" "$S" || exit 1
sane "bb plain" -x "http://$A:$BB_PORT" "$U" || exit 1
sane "bb mitm" -x "http://$A:$BB_PORT" --cacert "$BBCA" "$S" || exit 1
sane "bb tunnel" -x "http://$A:$BB_PORT" --cacert "$T/upca.crt" "https://tunnel.test:$NG_TLS/1k" || exit 1
[ -n "$SQ_PID" ] && { sane "squid plain" -x "http://$A:$SQ_PORT" "$U" && sane "squid tunnel" -x "http://$A:$SQ_PORT" --cacert "$T/upca.crt" "$S" || SQ_PID=; }
[ -n "$TP_PID" ] && { sane "tinyproxy plain" -x "http://$A:$TP_PORT" "$U" || TP_PID=; }
[ -n "$MD_PID" ] && { sane "mitmdump plain" -x "http://$A:$MD_PORT" "$U" && sane "mitmdump mitm" -x "http://$A:$MD_PORT" --cacert "$MDCA" "$S" || MD_PID=; }

# ---- measuring ----
# Each run records requests/s and the CPU the proxy itself spent per request (utime+stime of its
# process tree over the measured run): throughput on a shared machine moves with the neighbours'
# load, CPU per request much less.
declare -A RPS ERR CPU
mkdir -p "$T/raw"
cpu_ticks() { # PID: utime+stime of the process and its children, in clock ticks
	local sum=0 k
	for k in $1 $(ps -o pid= --ppid "$1" 2>/dev/null); do
		sum=$((sum + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$k/stat" 2>/dev/null || echo 0)))
	done
	echo $sum
}
HZ=$(getconf CLK_TCK)
cpu_per_req() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "" }'; }
# wrk_run KEY PID TARGET-ADDR:PORT REQUEST-TARGET CLOSE(0|1)
wrk_run() {
	local key=$1 pid=$2 addr=$3 rtarget=$4 close=$5 out c0 c1 n f=$T/raw/${1//\//_}
	export EG_TARGET=$rtarget EG_HOST=bench.test:$NG_HTTP EG_CLOSE=$close
	timeout 30 wrk -t1 -c"$CONNS" -d1s -s "$here/request.lua" "http://$addr/" >/dev/null 2>&1 || true
	c0=$(cpu_ticks "$pid")
	out=$(timeout 60 wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$here/request.lua" "http://$addr/" 2>&1) || true
	c1=$(cpu_ticks "$pid")
	printf '%s\n' "$out" >"$f"
	RPS[$key]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	CPU[$key]=$(cpu_per_req $((c1 - c0)) "${n:-0}")
	# wrk counts a connection the server closes after a complete response as a "read" error;
	# those are reported apart from failures (non-2xx, connect, write, timeout).
	ERR[$key]=$(awk '/Non-2xx/ {f += $NF} /Socket errors/ {gsub(",", ""); f += $4 + $8 + $10; r = $6}
		END { if (f) printf "%d failed", f; if (r) printf "%s%d closed by server", f ? ", " : "", r; if (!f && !r) print 0 }' <<<"$out")
	[ -n "${RPS[$key]}" ] || { RPS[$key]=0; ERR[$key]="wrk failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"; }
}
# egload_run KEY PID ADDR:PORT HOST:PORT MODE CAFILE NEW(0|1) [RESUME(0|1)]
egload_run() {
	local key=$1 pid=$2 out c0 c1 n f=$T/raw/${1//\//_}
	local args=(-t "$3" -H "$4" -m "$5" -C "$6" -c "$CONNS" -d "$SECS" -w 1)
	[ "$7" = 1 ] && args+=(-n)
	[ "${8:-0}" = 1 ] && args+=(-r)
	c0=$(cpu_ticks "$pid")
	out=$(timeout 60 "$T/egload" "${args[@]}" 2>&1) || true
	c1=$(cpu_ticks "$pid")
	printf '%s\n' "$out" >"$f"
	RPS[$key]=$(awk '/^requests/ {print $8}' <<<"$out")
	ERR[$key]=$(awk '/^requests/ {print $4}' <<<"$out")
	n=$(awk '/^requests/ {print $10}' <<<"$out")
	CPU[$key]=$(cpu_per_req $((c1 - c0)) "${n:-0}")
	[ -n "${RPS[$key]}" ] || { RPS[$key]=0; ERR[$key]="egload failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"; }
}
NG_PID=${pids[0]}

echo "bb egress benchmark: $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bb: $bb ($(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$top" diff --quiet 2>/dev/null || echo '+dirty'))"
echo "$CONNS connections, ${SECS} s per run after 1 s warm-up, 1 KB text body; nginx 1 worker; address $A"
echo

for new in 0 1; do
	sfx=$([ $new = 1 ] && echo new || echo ka)
	wrk_run "nginx/plain/$sfx" "$NG_PID" "$A:$NG_HTTP" /1k $new
	wrk_run "bb/plain/$sfx" "$BB_PID" "$A:$BB_PORT" "$U" $new
	[ -n "$SQ_PID" ] && wrk_run "squid/plain/$sfx" "$SQ_PID" "$A:$SQ_PORT" "$U" $new
	[ -n "$TP_PID" ] && wrk_run "tinyproxy/plain/$sfx" "$TP_PID" "$A:$TP_PORT" "$U" $new
	[ -n "$MD_PID" ] && wrk_run "mitmdump/plain/$sfx" "$MD_PID" "$A:$MD_PORT" "$U" $new
	egload_run "nginx/tls/$sfx" "$NG_PID" "$A:$NG_TLS" "bench.test:$NG_TLS" tls "$T/upca.crt" $new
	egload_run "bb/mitm/$sfx" "$BB_PID" "$A:$BB_PORT" "bench.test:$NG_TLS" connect-tls "$BBCA" $new
	[ -n "$MD_PID" ] && egload_run "mitmdump/mitm/$sfx" "$MD_PID" "$A:$MD_PORT" "bench.test:$NG_TLS" connect-tls "$MDCA" $new
	if [ $new = 1 ]; then # agents that resume their TLS sessions (curl, Node): egload -r
		egload_run "bb/mitmr/new" "$BB_PID" "$A:$BB_PORT" "bench.test:$NG_TLS" connect-tls "$BBCA" 1 1
		[ -n "$MD_PID" ] && egload_run "mitmdump/mitmr/new" "$MD_PID" "$A:$MD_PORT" "bench.test:$NG_TLS" connect-tls "$MDCA" 1 1
	fi
	egload_run "bb/tunnel/$sfx" "$BB_PID" "$A:$BB_PORT" "tunnel.test:$NG_TLS" connect-tls "$T/upca.crt" $new
	[ -n "$SQ_PID" ] && egload_run "squid/tunnel/$sfx" "$SQ_PID" "$A:$SQ_PORT" "bench.test:$NG_TLS" connect-tls "$T/upca.crt" $new
done

row() { # LABEL KEY-PREFIX
	local ka=${RPS[$2/ka]:-} nw=${RPS[$2/new]:-}
	[ -n "$ka$nw" ] || { printf '  %-22s %11s %11s\n' "$1" skipped skipped; return; }
	printf '  %-22s %11s %11s %11s %11s' "$1" "${ka:--}" "${nw:--}" "${CPU[$2/ka]:--}" "${CPU[$2/new]:--}"
	local e1=${ERR[$2/ka]:-0} e2=${ERR[$2/new]:-0}
	[ "$e1$e2" = 00 ] || printf '   (ka: %s; new: %s)' "$e1" "$e2"
	echo
}
hdr() { printf '%s\n  %-22s %11s %11s %11s %11s\n' "$1" "" "ka req/s" "new req/s" "ka us/req" "new us/req"; }
echo "(ka = keepalive, new = a new connection per request; us/req = CPU of the server named, per request)"
hdr "== plain HTTP proxying (wrk -t1 -c$CONNS, absolute-form requests)"
row "nginx direct (ceiling)" nginx/plain
row "bb egress" bb/plain
row squid squid/plain
row tinyproxy tinyproxy/plain
row mitmdump mitmdump/plain
hdr "== HTTPS with interception (egload: CONNECT, then TLS to the proxy's CA)"
row "nginx direct TLS" nginx/tls
row "bb egress MITM" bb/mitm
row "mitmdump MITM" mitmdump/mitm
row "bb MITM, agent resumes" bb/mitmr
row "mitmdump, agent resumes" mitmdump/mitmr
hdr "== CONNECT tunnel, TLS end to end (egload)"
row "nginx direct TLS" nginx/tls
row "bb egress tunnel" bb/tunnel
row "squid tunnel" squid/tunnel

# ---- memory: a fresh bb, idle, then holding connections ----
hold_rss() { # PID ADDR:PORT HOST:PORT MODE CAFILE [N] -> "rss hwm held"
	local pid=$1 n=${6:-$HOLD}
	local args=(-t "$2" -H "$3" -m "$4" -c "$n" -d 60 -w 0 --hold)
	[ -z "$5" ] || args+=(-C "$5")
	[ "$4" != plain ] || args+=(-A)
	"$T/egload" "${args[@]}" \
		>"$T/hold.out" 2>&1 &
	local lp=$!
	pids+=("$lp")
	for _ in $(seq 600); do grep -q '^ready' "$T/hold.out" && break; kill -0 $lp 2>/dev/null || break; sleep 0.1; done
	sleep 0.5 # idle connections give their buffer pages back 100 ms (EG_PARK_MS) after their last byte
	if grep -q '^ready' "$T/hold.out"; then echo "$(mem_kb "$pid") $(mem_kb "$pid" VmHWM) $n"; else echo "0 0 0"; fi
	kill $lp 2>/dev/null || true
	wait $lp 2>/dev/null || true
	sleep 0.5
}
start_bb "$BB_RSS_PORT" "$T/bb-rss-audit.log"
BB_RSS_PID=${pids[-1]}
sleep 0.5
bb_idle=$(mem_kb "$BB_RSS_PID")
hold_rss "$BB_RSS_PID" "$A:$BB_RSS_PORT" "bench.test:$NG_HTTP" plain "" >"$T/hr"
read -r bb_plain_rss bb_plain_hwm bb_plain_n <"$T/hr"
hold_rss "$BB_RSS_PID" "$A:$BB_RSS_PORT" "bench.test:$NG_TLS" connect-tls "$BBCA" >"$T/hr"
read -r bb_mitm_rss bb_mitm_hwm bb_mitm_n <"$T/hr"
sq_idle=0 sq_plain_rss=0 sq_plain_n=0 md_idle=0 md_mitm_rss=0 md_mitm_n=0 tp_idle=0
if [ -n "$SQ_PID" ]; then
	sq_idle=$(mem_kb "$SQ_PID")
	hold_rss "$SQ_PID" "$A:$SQ_PORT" "bench.test:$NG_HTTP" plain "" >"$T/hr"
	read -r sq_plain_rss _ sq_plain_n <"$T/hr"
fi
[ -n "$TP_PID" ] && tp_idle=$(mem_kb "$TP_PID")
if [ -n "$MD_PID" ]; then
	md_idle=$(mem_kb "$MD_PID")
	# mitmdump accepts ~25 intercepted connections a second here: 200 is enough for a per-connection figure.
	hold_rss "$MD_PID" "$A:$MD_PORT" "bench.test:$NG_TLS" connect-tls "$MDCA" 200 >"$T/hr"
	read -r md_mitm_rss _ md_mitm_n <"$T/hr"
fi
per_conn() { [ "$3" -gt 0 ] && awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f KiB/conn", (a - b) / n }' || echo "n/a"; }
echo "== memory (VmRSS of the process tree; bb: a fresh instance, after the traffic above for the peers)"
printf '  %-34s %s\n' "bb egress idle" "$(mib "$bb_idle")"
printf '  %-34s %s, peak %s (%s)\n' "bb egress, $bb_plain_n plain keepalive" "$(mib "$bb_plain_rss")" "$(mib "$bb_plain_hwm")" "$(per_conn "$bb_plain_rss" "$bb_idle" "$bb_plain_n")"
printf '  %-34s %s, peak %s (%s)\n' "bb egress, $bb_mitm_n MITM keepalive" "$(mib "$bb_mitm_rss")" "$(mib "$bb_mitm_hwm")" "$(per_conn "$bb_mitm_rss" "$bb_idle" "$bb_mitm_n")"
[ -n "$SQ_PID" ] && printf '  %-34s %s; %s plain keepalive: %s (%s)\n' "squid idle" "$(mib "$sq_idle")" "$sq_plain_n" "$(mib "$sq_plain_rss")" "$(per_conn "$sq_plain_rss" "$sq_idle" "$sq_plain_n")"
[ -n "$TP_PID" ] && printf '  %-34s %s\n' "tinyproxy idle" "$(mib "$tp_idle")"
[ -n "$MD_PID" ] && printf '  %-34s %s; %s MITM keepalive: %s (%s)\n' "mitmdump idle" "$(mib "$md_idle")" "$md_mitm_n" "$(mib "$md_mitm_rss")" "$(per_conn "$md_mitm_rss" "$md_idle" "$md_mitm_n")"

# ---- ratios and the issue's targets ----
echo "== ratios (req/s bb / peer, same run)"
rline() { # LABEL BBKEY PEERKEY TARGET: throughput ratio, and the peer's CPU per request over bb's
	local r c; r=$(ratio "${RPS[$2]:-0}" "${RPS[$3]:-0}") c=$(ratio "${CPU[$3]:-0}" "${CPU[$2]:-0}")
	printf '  %-40s %6s' "$1" "$r"
	[[ $3 == nginx/* ]] || printf '   (CPU/req peer/bb %6s)' "$c"
	[ -z "${4:-}" ] || printf '   target >= %s: %s' "$4" "$(verdict "$r" "$4")"
	echo
}
rline "plain keepalive, bb / squid" bb/plain/ka squid/plain/ka 3
rline "plain new-conn, bb / squid" bb/plain/new squid/plain/new 3
rline "plain keepalive, bb / tinyproxy" bb/plain/ka tinyproxy/plain/ka
rline "plain new-conn, bb / tinyproxy" bb/plain/new tinyproxy/plain/new
rline "plain keepalive, bb / mitmdump" bb/plain/ka mitmdump/plain/ka
rline "plain new-conn, bb / mitmdump" bb/plain/new mitmdump/plain/new
rline "MITM keepalive, bb / mitmdump" bb/mitm/ka mitmdump/mitm/ka 10
rline "MITM new-conn, bb / mitmdump" bb/mitm/new mitmdump/mitm/new 5
rline "MITM new-conn resumed, bb / mitmdump" bb/mitmr/new mitmdump/mitmr/new 5
rline "CONNECT tunnel keepalive, bb / squid" bb/tunnel/ka squid/tunnel/ka
rline "CONNECT tunnel new-conn, bb / squid" bb/tunnel/new squid/tunnel/new
rline "plain keepalive, bb / nginx direct" bb/plain/ka nginx/plain/ka
rline "MITM keepalive, bb / nginx direct TLS" bb/mitm/ka nginx/tls/ka
printf '  %-40s %6s   target <= 4 MiB: %s\n' "idle RSS, bb" "$(mib "$bb_idle")" "$([ "$bb_idle" -le 4096 ] && echo met || echo MISSED)"
echo "(whole run: ${SECONDS} s)"
