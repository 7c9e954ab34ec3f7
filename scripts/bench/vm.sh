#!/usr/bin/env bash
# vm.sh - the vm backend's costs against the embedded runtime, same run: start to the agent's first output (its exec),
# start to exit (teardown included), and the VMM's memory while a bottle idles.
# Usage: sudo scripts/bench/vm.sh [RUNS]   (needs root, qemu-system-x86 and a kernel: scripts/setup.sh test; builds nothing)
# Without a usable /dev/kvm (none, or no vmx/svm) the guest runs emulated (BB_VM_ACCEL=tcg): the figures then say so
# and are not KVM's.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BB=${BB:-$top/bb}
runs=${1:-10}
[ "$(id -u)" = 0 ] || { echo "vm.sh: needs root" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "vm.sh: needs qemu-system-x86_64 (scripts/setup.sh test)" >&2; exit 1; }
T=$(mktemp -d /tmp/bb-bench-vm.XXXXXX)
trap 'rm -rf "$T"' EXIT
export BB_HOME=$T/home
mkdir -p "$BB_HOME/.bb/bottles" "$T/ws"
chown 65534:65534 "$T/ws"
printf -- '---\negress:\n  routes: []\n---\n' >"$BB_HOME/.bb/bottles/bench.md"
accel=kvm
if [ ! -c /dev/kvm ] || ! grep -qwE 'vmx|svm' /proc/cpuinfo; then # no KVM, or one without vmx/svm (PVM): bb refuses it
	accel=tcg
	export BB_VM_ACCEL=tcg
fi

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; vm accel: $accel; guest memory ${BB_MEMORY_MAX:-default}"
python3 - "$BB" "$T" "$runs" <<'PY'
import os, statistics, subprocess, sys, time
bb, tdir, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
ws = os.path.join(tdir, "ws")

def once(backend):
    # start -> the agent's first line (it has been exec'd) -> exit (everything torn down)
    args = [bb, "bottle", "run", "bench"] + (["--backend", backend] if backend != "embedded" else []) + \
        ["--", "sh", "-c", "echo up"]
    t0 = time.monotonic()
    p = subprocess.Popen(args, cwd=ws, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline()
    t1 = time.monotonic()
    p.stdout.read()
    err = p.stderr.read()
    rc = p.wait()
    t2 = time.monotonic()
    if rc != 0 or line.strip() != b"up":
        sys.exit("vm.sh: %s run failed (rc %d): %s" % (backend, rc, err.decode(errors="replace")[-400:]))
    return (t1 - t0) * 1e3, (t2 - t0) * 1e3

res = {}
for backend in ("embedded", "vm"):
    once(backend)  # warm-up (the vm backend unpacks the kernel once into $BB_HOME/.bb/vm)
res = {"embedded": [], "vm": []}
for _ in range(runs):  # interleaved, so load changes hit both alike
    for backend in ("embedded", "vm"):
        res[backend].append(once(backend))
for backend in ("embedded", "vm"):
    ex = [a for a, _ in res[backend]]
    end = [b for _, b in res[backend]]
    print("%-9s: to agent exec median %7.1f ms (min %.1f, max %.1f); to exit median %7.1f ms" %
          (backend, statistics.median(ex), min(ex), max(ex), statistics.median(end)))
e = statistics.median([a for a, _ in res["embedded"]])
v = statistics.median([a for a, _ in res["vm"]])
print("ratio vm/embedded (to agent exec): %.1fx  (target for vm: <= 500 ms with KVM)" % (v / e))
PY

descendant_qemu() { # the qemu among PID's descendants
	local p
	for p in $(pgrep -x qemu-system-x86 ; pgrep -f '^/usr/bin/qemu-system-x86_64 ') ; do
		local a=$p
		while [ -n "$a" ] && [ "$a" -gt 1 ]; do
			[ "$a" = "$1" ] && { echo "$p"; return 0; }
			a=$(awk '{print $4}' "/proc/$a/stat" 2>/dev/null)
		done
	done
	return 1
}

# Memory: the VMM's PSS while a bottle idles (its guest's RAM is only what the guest touched).
(cd "$T/ws" && exec "$BB" bottle run bench --backend vm -- sh -c 'echo up; sleep 600') >"$T/idle.out" 2>&1 </dev/null &
idle=$!
qpid=
for _ in $(seq 600); do
	grep -q '^up$' "$T/idle.out" 2>/dev/null && qpid=$(descendant_qemu "$idle") && [ -n "$qpid" ] && break
	sleep 0.2
done
if [ -n "$qpid" ]; then
	pss=$(awk '/^Pss:/ {print $2}' "/proc/$qpid/smaps_rollup")
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$qpid/status")
	echo "VMM of an idle vm bottle: PSS $((pss / 1024)) MiB, RSS $((rss / 1024)) MiB"
else
	echo "VMM memory: the idle bottle did not come up" >&2
fi
kill "$idle" 2>/dev/null || true
wait "$idle" 2>/dev/null || true
"$BB" bottle cleanup >/dev/null 2>&1 || true
