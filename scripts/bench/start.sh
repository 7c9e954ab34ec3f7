#!/usr/bin/env bash
# start.sh - bottle start-to-exit time (bb bottle run NAME -- true) against `runc run` of a trivial bundle, same run.
# Usage: sudo scripts/bench/start.sh [RUNS]   (needs root, runc and hyperfine; builds nothing)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BB=${BB:-$top/bb}
runs=${1:-20}
for t in runc hyperfine; do command -v $t >/dev/null || { echo "start.sh: needs $t (apt-get install -y $t)" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "start.sh: needs root" >&2; exit 1; }
T=$(mktemp -d /tmp/bb-bench-start.XXXXXX)
trap 'runc delete -f bbbench-$$ >/dev/null 2>&1; rm -rf "$T"' EXIT

export BB_HOME=$T/home
mkdir -p "$BB_HOME/.bb/bottles" "$T/ws"
printf -- '---\negress:\n  routes: []\n---\n' >"$BB_HOME/.bb/bottles/bench.md"

# The smallest honest runc bundle: bb itself as the rootfs's one file, run as `bb --version`.
mkdir -p "$T/bundle/rootfs"
cp "$BB" "$T/bundle/rootfs/bb"
(cd "$T/bundle" && runc spec)
python3 - "$T/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bb", "--version"]
json.dump(c, open(p, "w"))
PY

echo "bb:   bb bottle run bench -- true   (two sandboxes, each: user/mount/pid/net/uts/ipc namespaces, staged root +"
echo "      pivot_root, minimal /dev, cgroup; sidecar sockets made in advance (no wait for egress); veth; dialer; teardown)"
echo "runc: runc run (one container: namespaces, pivot_root, cgroup, seccomp; no network beyond lo)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
hyperfine -N -w 3 -r "$runs" --export-json "$T/h.json" \
	"sh -c 'cd $T/ws && $BB bottle run bench -- true'" \
	"runc run --bundle $T/bundle bbbench-$$" >/dev/null
python3 - "$T/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
bb, rc = r[0], r[1]
print("bb bottle run : median %6.1f ms (min %.1f, max %.1f)" % (bb["median"] * 1e3, bb["min"] * 1e3, bb["max"] * 1e3))
print("runc run      : median %6.1f ms (min %.1f, max %.1f)" % (rc["median"] * 1e3, rc["min"] * 1e3, rc["max"] * 1e3))
print("ratio bb/runc : %.2fx  (target <= 1.0x)" % (bb["median"] / rc["median"]))
PY
