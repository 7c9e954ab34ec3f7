# lib.sh - helpers for shell tests: results in the runner's format, temp dirs, addresses, cleanup.
# Each test script sources this, then calls ok/fail/skip once per case:
#   ok NAME | fail NAME WHY | skip NAME WHY     (tests/run.sh counts these lines)
# Everything a test starts or creates belongs in $T (removed on exit) or is
# undone by a function registered with on_exit.

set -u
: "${BB:?BB must name the bb binary (run through make check)}"
TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/bb-test.XXXXXX")
_cleanups=()

on_exit() { _cleanups+=("$*"); }
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[i]}" >/dev/null 2>&1 || true; done
	rm -rf "$T"
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

ok() { printf 'ok - %s\n' "$1"; }
fail() { printf 'not ok - %s: %s\n' "$1" "${2:-}"; }
skip() { printf 'skip - %s: %s\n' "$1" "$2"; }

# check NAME CMD... : ok when CMD succeeds, else fail with its output.
check() {
	local name=$1 out; shift
	if out=$("$@" 2>&1); then ok "$name"; else fail "$name" "$(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"; fi
}

# A loopback address of our own (127.0.0.2-254), so tests do not clash on 127.0.0.1.
# wait_until SECONDS CMD...: until CMD succeeds (tried every 0.1 s); 1 when the time is up.
wait_until() {
	local n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
test_addr() { printf '127.0.%d.%d\n' $((RANDOM % 200 + 20)) $((RANDOM % 250 + 2)); }

# A TCP port free on ADDR right now.
free_port() {
	local addr=${1:-127.0.0.1} p
	for _ in $(seq 50); do
		p=$((RANDOM % 20000 + 30000))
		if ! (exec 3<>"/dev/tcp/$addr/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	return 1
}

# wait_port ADDR PORT [SECONDS]: until something listens there.
wait_port() {
	local i
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# kill_tree PID: stop a process we started, and wait for it.
kill_tree() {
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 40); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
	kill -9 "$1" 2>/dev/null
}

# named_program_bottle: a bottle "named" whose agent_provider.program is a stand-in script under $T (a
# place the bottle hides): it says the name it ran by.
named_program_bottle() {
	mkdir -p "$T/opt/claude-x" "$BB_HOME/.bb/bottles"
	printf '#!/bin/sh\necho "named program ran from $0"\n' >"$T/opt/claude-x/claude-code" && chmod 755 "$T/opt/claude-x/claude-code"
	printf -- '---\nagent_provider: {template: claude, program: %s}\n---\n' "$T/opt/claude-x/claude-code" >"$BB_HOME/.bb/bottles/named.md"
}

# upstream_cert NAME...: a throwaway CA ($T/upca.crt) and an ECDSA server certificate for the
# names ($T/up.crt, $T/up.key), for the HTTPS upstreams tests start; the first name is the CN.
upstream_cert() { sh "$TESTS/peers/upstream_cert.sh" "$T" "$@"; }

# mini_rootfs DIR PROG...: a root filesystem holding the host's programs named (sh is dash) and the libraries
# they load, at the same paths: enough for an agent's command in an image (bb init comes from the runtime).
mini_rootfs() {
	local dir=$1 p src lib; shift
	mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/home"
	for p in "$@"; do
		src=$(command -v "$p") || return 1
		[ "$p" = sh ] && src=$(command -v dash)
		cp "$src" "$dir/bin/$p" || return 1
		for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*lib[^ ]*' | sort -u); do
			mkdir -p "$dir$(dirname "$lib")" && cp -L "$lib" "$dir$lib" || return 1
		done
	done
}
