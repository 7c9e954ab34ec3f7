#!/usr/bin/env bash
# valgrind.sh - each sidecar daemon under valgrind memcheck, driven by real clients, stopped with SIGTERM: fails on leaks or memory errors.
#
# Usage: scripts/valgrind.sh [egress|dns|supervise|git-gate|git-http ...]   (default: all five)
# Env:   VG_BB  a glibc build without sanitizers (valgrind cannot follow musl's
#               static malloc, and ASan's shadow memory clashes with it);
#               default build/valgrind/bb, built here when missing.
#        VG_LOGS  a directory to copy every valgrind log into (CI artifacts).
#
# Each daemon runs as `valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
# --error-exitcode=99 bb APPLET ...`, serves a few real requests (curl, dig, git), then gets
# SIGTERM. A case fails on a non-zero exit, on any "definitely lost"/"indirectly lost" block,
# invalid read/write, use of uninitialised values, or when the daemon does not stop.
# Output is in the tests' format (ok/not ok/skip lines); exit 1 when a case failed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 111
VG_BB=${VG_BB:-$ROOT/build/valgrind/bb}
command -v valgrind >/dev/null || { echo "skip - valgrind: not installed (apt: valgrind)"; exit 0; }
if [ ! -x "$VG_BB" ]; then
	# MODE=asan gives the glibc/Debian -dev library flags; the compiler and flags are replaced
	# so that no sanitizer is linked in.
	make -s MODE=asan CC=gcc CFLAGS='-std=c11 -g -O1 -Wall -Wextra -Wno-unused-parameter' LDFLAGS= \
		O=build/valgrind BB=build/valgrind/bb -j2 build/valgrind/bb >&2 || { echo "not ok - valgrind build: make failed"; exit 1; }
	VG_BB=$ROOT/build/valgrind/bb
fi
export BB=$VG_BB
. "$ROOT/tests/sh/lib.sh"

want=" ${*:-egress dns supervise git-gate git-http} "
FAILED=0
bad() { fail "$@"; FAILED=1; }

# Leaks inside Debian's libgit2 1.5 / libssh2 1.10 (the same ones tests/sh/gitsshd.inc tells LSan about): theirs, not ours.
cat >"$T/vg.supp" <<'EOF'
{
   libgit2-remote-connect
   Memcheck:Leak
   match-leak-kinds: definite,indirect
   ...
   fun:git_remote_connect_ext
}
{
   libgit2-remote-create
   Memcheck:Leak
   match-leak-kinds: definite,indirect
   ...
   fun:git_remote_create_with_opts
}
{
   libssh2
   Memcheck:Leak
   match-leak-kinds: definite,indirect
   ...
   obj:*libssh2*
}
EOF

# vg_start NAME APPLET ARGS...: the daemon under memcheck, in the background; sets VG_PID.
# Forked children (if any) log to their own file: %p is the pid.
vg_start() {
	local name=$1
	shift
	valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30 \
		--suppressions="$T/vg.supp" --log-file="$T/vg-$name.%p.log" "$BB" "$@" 2>"$T/$name.err" &
	VG_PID=$!
	on_exit "vg_kill $VG_PID"
}

# At exit, kill what vg_stop did not already reap (its pid may belong to someone else by then).
STOPPED=" "
vg_kill() { [[ $STOPPED == *" $1 "* ]] || kill -9 "$1"; }

# vg_stop NAME PID DRIVEN: SIGTERM, wait (leak checking at exit takes a while), then judge the logs.
vg_stop() {
	local name=$1 pid=$2 driven=$3 rc i log errs=""
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 1200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		STOPPED+="$pid "
		bad "$name stops on SIGTERM under valgrind" "still running after 120 s"
		return
	fi
	wait "$pid"
	rc=$?
	STOPPED+="$pid "
	for log in "$T"/vg-"$name".*.log; do
		[ -e "$log" ] || continue
		[ -z "${VG_LOGS:-}" ] || { mkdir -p "$VG_LOGS" && cp "$log" "$VG_LOGS/"; }
		if ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
			errs+="$(grep -E -m 3 -A 8 'Invalid (read|write|free)|uninitialised|definitely lost in|indirectly lost in|Mismatched|overlap' "$log" | head -n 24 | tr '\n' ' ')"
			cp "$log" "$ROOT/build/valgrind-$name-$(basename "$log")" 2>/dev/null
		fi
	done
	if [ "$rc" -eq 0 ] && [ -z "$errs" ]; then
		ok "$name under valgrind: $driven; exit 0, no leak, no memory error"
	else
		bad "$name under valgrind" "exit $rc; $errs (full log copied to build/valgrind-$name-*)"
	fi
}

# --- dns: dnsmasq upstream, dig over UDP and TCP, a refusal, a tunnelling shape, SIGHUP reload ---
run_dns() {
	command -v dig >/dev/null && command -v dnsmasq >/dev/null || { skip "dns under valgrind" "no dig or dnsmasq"; return; }
	local A UP UPP P out n=0
	A=$(test_addr)
	UP=$(test_addr)
	UPP=$(free_port "$UP")
	P=$(free_port "$A")
	dnsmasq -k --conf-file=/dev/null --pid-file= --no-resolv --no-hosts --bind-interfaces --listen-address="$UP" \
		--port="$UPP" --address=/allowed.test/10.1.2.3 2>"$T/dnsmasq.err" &
	on_exit "kill_tree $!"
	printf '{"schema":"bb.plan/1","egress":{"routes":[]},"dns":{"allow":["allowed.test","*.wild.test"]}}\n' >"$T/dns.json"
	vg_start dns dns --policy "$T/dns.json" --listen "$A:$P" --upstream "$UP:$UPP" --log "$T/dns.log"
	local pid=$VG_PID
	for _ in $(seq 300); do dig @"$A" -p "$P" +time=1 +tries=1 probe.test >/dev/null 2>&1 && break; sleep 0.1; done
	q() { dig @"$A" -p "$P" +time=5 +tries=1 "$@" >"$T/q.out" 2>&1; n=$((n + 1)); }
	q +short allowed.test
	out=$(cat "$T/q.out")
	[ "$out" = 10.1.2.3 ] || bad "dns under valgrind: an allowed name is answered" "$out"
	q +tcp +short allowed.test
	q other.test
	q allowed.test TXT
	q "$(head -c 60 /dev/zero | tr '\0' a).wild.test"
	kill -HUP "$pid"
	sleep 0.5
	q +short allowed.test
	vg_stop dns "$pid" "$n queries (UDP, TCP, refused, TXT, long label, after a reload)"
}

# --- egress: an HTTPS upstream, CONNECT with interception, plain proxying, denials, DLP, SIGHUP ---
run_egress() {
	command -v curl >/dev/null && command -v openssl >/dev/null && command -v python3 >/dev/null ||
		{ skip "egress under valgrind" "no curl, openssl or python3"; return; }
	local A UPT UPP EGP P CA n=0 out
	A=$(test_addr)
	UPT=$(free_port "$A")
	UPP=$(free_port "$A")
	EGP=$(free_port "$A")
	export BB_HOME=$T/home
	mkdir -p "$BB_HOME"
	upstream_cert api.test plain.test reflect.test
	python3 "$TESTS/peers/http_upstream.py" "$A" "$UPT" "$T/up-tls.log" "$T/up.crt" "$T/up.key" 2>"$T/up-tls.err" &
	on_exit "kill_tree $!"
	python3 "$TESTS/peers/http_upstream.py" "$A" "$UPP" "$T/up-plain.log" 2>"$T/up-plain.err" &
	on_exit "kill_tree $!"
	UPR=$(free_port "$A")
	python3 "$TESTS/peers/reflect_upstream.py" "$A" "$UPR" "$T/up.crt" "$T/up.key" 2>"$T/up-reflect.err" &
	on_exit "kill_tree $!"
	wait_port "$A" "$UPT" && wait_port "$A" "$UPP" && wait_port "$A" "$UPR" ||
		{ bad "egress under valgrind: upstreams start" "$(cat "$T"/up-*.err)"; return; }
	printf '%s api.test plain.test reflect.test\n' "$A" >"$T/hosts"
	cat >"$T/egress.json" <<EOF
{"schema":"bb.plan/1","egress":{"routes":[
 {"host":"api.test","auth":{"scheme":"Bearer","token_slot":"BB_EGRESS_TOKEN_0","token_ref":"T"},
  "path_allowlist":["/v1/"],"ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"plain.test","ssrf_ip_allowlist":["127.0.0.0/8"]},
 {"host":"reflect.test","auth":{"scheme":"Bearer","token_slot":"BB_EGRESS_TOKEN_0","token_ref":"T"},
  "ssrf_ip_allowlist":["127.0.0.0/8"]}]}}
EOF
	"$BB" bottle ca init >/dev/null 2>&1 || { bad "egress under valgrind: bottle ca init" "no CA"; return; }
	CA=$BB_HOME/.bb/ca/ca.crt
	BB_EGRESS_TOKEN_0=sk-live-valgrindtoken0123456789 SSL_CERT_FILE=$T/upca.crt \
		vg_start egress egress --policy "$T/egress.json" --listen "$A:$EGP" --hosts "$T/hosts" --log "$T/egress.log"
	local pid=$VG_PID
	wait_port "$A" "$EGP" 60 || { bad "egress under valgrind: listens" "$(tail -n 5 "$T/egress.err")"; vg_stop egress "$pid" "nothing"; return; }
	P=http://$A:$EGP
	c() { curl -sS --max-time 60 -x "$P" --cacert "$CA" "$@" >"$T/c.out" 2>&1; n=$((n + 1)); }
	c "https://api.test:$UPT/v1/hello?x=1" -H 'Authorization: Bearer placeholder'
	out=$(cat "$T/c.out")
	[[ $out == *'"path": "/v1/hello?x=1"'* ]] || bad "egress under valgrind: an intercepted HTTPS request passes" "${out:0:200}"
	c "https://api.test:$UPT/v1/second" -d 'a body'
	c "http://plain.test:$UPP/anything"
	c "https://api.test:$UPT/admin"
	c "https://evil.test:443/"
	c "http://plain.test:$UPP/leak" -d "key=AKIAIOSFODNN7EXAMPLE&t=ghp_$(printf 'a%.0s' $(seq 36))"
	c "http://plain.test:$UPP/chunked" -H 'Transfer-Encoding: chunked' -d 'chunk body'
	if command -v zstd >/dev/null && command -v brotli >/dev/null; then
		printf '{"input": "a zstd body"}' | zstd -q -c >"$T/body.zst"
		printf '{"input": "a br body"}' | brotli -c >"$T/body.br"
		c "https://api.test:$UPT/v1/zstd" -H 'Content-Encoding: zstd' --data-binary @"$T/body.zst"
		c "https://api.test:$UPT/v1/br" -H 'Content-Encoding: br' --data-binary @"$T/body.br"
	fi
	# The upstream sends the injected token back: scrubbed in heads and in every coding and framing.
	for q in "coding=gzip&frame=chunked&chunk=7" "coding=zstd" "coding=br&frame=close" "where=location&form=b64" \
		"where=sse&events=3&gap=20" "coding=deflate&frame=chunked&chunk=3"; do
		c --compressed "https://reflect.test:$UPR/echo?$q"
	done
	grep -q 'sk-live-valgrindtoken' "$T/c.out" && bad "egress under valgrind: a reflected token is scrubbed" "$(head -c 200 "$T/c.out")"
	kill -HUP "$pid"
	sleep 1
	c "http://plain.test:$UPP/after-reload"
	vg_stop egress "$pid" "$n requests (MITM, plain, path and host denials, DLP, chunked, zstd and br bodies, reflected tokens scrubbed in every coding, after a reload)"
}

# --- supervise: MCP initialize, tools/list, a proposal that times out as pending, a bad request ---
run_supervise() {
	command -v curl >/dev/null || { skip "supervise under valgrind" "no curl"; return; }
	local A PORT n=0 sid
	A=$(test_addr)
	PORT=$(free_port "$A")
	cat >"$T/sup.json" <<'EOF'
{"schema":"bb.plan/1","bottle":{"name":"dev","file":"x","extends_chain":["dev"]},
 "egress":{"routes":[{"host":"api.example.com","path_allowlist":["/v1/"]}]},"supervise":{"enabled":true}}
EOF
	vg_start supervise supervise --policy "$T/sup.json" --queue "$T/queue" --listen "$A:$PORT" --log "$T/sup.log" \
		--response-timeout 1
	local pid=$VG_PID
	wait_port "$A" "$PORT" 60 || { bad "supervise under valgrind: listens" "$(tail -n 5 "$T/supervise.err")"; vg_stop supervise "$pid" "nothing"; return; }
	post() {
		curl -s -m 30 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
			${sid:+-H "Mcp-Session-Id: $sid"} --data-binary "$1" "http://$A:$PORT/" >"$T/post.out" 2>&1
		n=$((n + 1))
	}
	sid=""
	sid=$(curl -s -m 30 -D - -o /dev/null -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		--data-binary '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"vg","version":"1"}}}' \
		"http://$A:$PORT/" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
	n=1
	[ -n "$sid" ] || bad "supervise under valgrind: initialize gives a session" "no Mcp-Session-Id"
	post '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	post '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
	post '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"new.example.org","methods":["GET"],"paths":["/x/"],"reason":"valgrind"}}}'
	post '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"sudo"}}'
	post '{"jsonrpc":"2.0","id":5,'
	post '[]'
	vg_stop supervise "$pid" "$n MCP requests (initialize, tools/list, a proposal left pending, errors)"
}

# --- git-gate and git-http: a real sshd upstream, clone, a clean push, a push with a secret ---
GIT_READY=""
git_setup() {
	[ -n "$GIT_READY" ] && return "$GIT_READY"
	local cases=("git-gate under valgrind" "git-http under valgrind") c why=""
	# What gitsshd_start would skip on (it exits the script then), checked first so the other daemons still run.
	[ "$(id -u)" -eq 0 ] || why="needs root to run a test sshd"
	[ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null && command -v git-shell >/dev/null ||
		why="no /usr/sbin/sshd, ssh-keygen or git-shell"
	case $(getent shadow root | cut -d: -f2) in '!'*) why="root's account is locked (sshd with UsePAM no refuses it)" ;; esac
	if [ -n "$why" ]; then
		for c in "${cases[@]}"; do [[ $want == *" ${c%% *} "* ]] && skip "$c" "$why"; done
		GIT_READY=1
		return 1
	fi
	. "$TESTS/sh/gitsshd.inc"
	gitsshd_start cases
	git init -q --bare -b main "$T/up.git" && git init -q -b main "$T/seed" &&
		(cd "$T/seed" && echo one >f && git add f && git commit -qm one && git push -q "$T/up.git" main) >"$T/setup.log" 2>&1 ||
		{ bad "git upstream for valgrind" "$(tail -n 3 "$T/setup.log")"; GIT_READY=1; return 1; }
	write_plan "$T/plan.json" "$HOSTKEY_PUB" app="$T/up.git"
	GIT_READY=0
}

# git_drive NAME URL: clone, push a clean commit, push a secret (refused); sets GIT_N (operations done).
git_drive() {
	local name=$1 url=$2 secret
	GIT_N=0
	git clone -q "$url" "$T/$name-c" >"$T/$name-o" 2>&1 || bad "$name under valgrind: clone" "$(tail -n 3 "$T/$name-o")"
	GIT_N=$((GIT_N + 1))
	(cd "$T/$name-c" && echo "$name" >>f && git commit -qam "$name") >/dev/null 2>&1
	git -C "$T/$name-c" push -q origin main >"$T/$name-o" 2>&1 || bad "$name under valgrind: clean push" "$(tail -n 3 "$T/$name-o")"
	GIT_N=$((GIT_N + 1))
	secret="ghp_$(head -c 400 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)"
	(cd "$T/$name-c" && printf 'token: %s\n' "$secret" >ci.yml && git add ci.yml && git commit -qm ci) >/dev/null 2>&1
	if git -C "$T/$name-c" push -q origin main >"$T/$name-o" 2>&1; then
		bad "$name under valgrind: a push with a secret is refused" "it was accepted"
	fi
	GIT_N=$((GIT_N + 1))
}

run_git_gate() {
	git_setup || return
	local A PORT
	A=$(test_addr)
	PORT=$(free_port "$A")
	vg_start git-gate git-gate --policy "$T/plan.json" --mirrors "$T/mirrors-gate" --listen "$A:$PORT" --timeout 30 \
		--log "$T/gate.log"
	local pid=$VG_PID
	wait_port "$A" "$PORT" 60 || { bad "git-gate under valgrind: listens" "$(tail -n 5 "$T/git-gate.err")"; vg_stop git-gate "$pid" "nothing"; return; }
	git_drive git-gate "git://$A:$PORT/app.git"
	vg_stop git-gate "$pid" "$GIT_N git operations (clone, clean push, refused secret push)"
}

run_git_http() {
	git_setup || return
	local A PORT
	A=$(test_addr)
	PORT=$(free_port "$A")
	vg_start git-http git-http --policy "$T/plan.json" --mirrors "$T/mirrors-http" --listen "$A:$PORT" --timeout 30 \
		--log "$T/http.log"
	local pid=$VG_PID
	wait_port "$A" "$PORT" 60 || { bad "git-http under valgrind: listens" "$(tail -n 5 "$T/git-http.err")"; vg_stop git-http "$pid" "nothing"; return; }
	git_drive git-http "http://$A:$PORT/app.git"
	curl -s -m 30 -o /dev/null "http://$A:$PORT/app.git/HEAD"
	curl -s -m 30 -o /dev/null -X POST -H 'Content-Length: x' "http://$A:$PORT/app.git/git-upload-pack"
	vg_stop git-http "$pid" "$((GIT_N + 2)) requests (clone, clean push, refused secret push, dumb HTTP, bad length)"
}

for d in egress dns supervise git-gate git-http; do
	[[ $want == *" $d "* ]] || continue
	"run_${d//-/_}"
done
exit "$FAILED"
