#!/usr/bin/env bash
# git-clone.sh - clones through bb git-gate against git daemon serving the same upstream, same run: a mirror in one pack, in many packs, shallow and partial clones.
# Usage (root: it runs its own sshd on 127.0.0.x):  scripts/bench/git-clone.sh
#   BB=path/to/bb (default ./bb)   BENCH_MB=size of the repository (default 100)   BENCH_RUNS=runs per figure (default 3)
#   BENCH_PACKS=refreshes that each add a pack to the mirror (default 10)
# Each figure is the median of BENCH_RUNS clones, gate and daemon alternating, protocol v2 (git's default)
# unless said. The gate's clone includes its refresh from upstream over SSH (an ls-remote's worth when
# nothing changed); git daemon serves the upstream repository directly.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
PACKS=${BENCH_PACKS:-10}
source "$top/scripts/bench/gitbench.inc"
bench_repo
git init -q --bare -b main "$T/up.git"
git -C "$T/src" push -q "$T/up.git" main
git -C "$T/up.git" config uploadpack.allowFilter true
echo "repository: 100 commits, .git $(du -sm "$T/up.git" | cut -f1) MB" >&2

write_plan "$T/plan.json" "$HOSTKEY_PUB" app="$T/up.git"
GA=$(test_addr)
GP=$(free_port "$GA")
start_gate gate --policy "$T/plan.json" --mirrors "$T/mirrors" --listen "$GA:$GP"
DP=$(free_port "$GA")
git daemon --reuseaddr --listen="$GA" --port="$DP" --base-path="$T" --export-all "$T" >/dev/null 2>&1 &
on_exit kill_tree $!
wait_port "$GA" "$GP" 10
wait_port "$GA" "$DP" 10
GATE="git://$GA:$GP/app.git" DAEMON="git://$GA:$DP/up.git"

# figure NAME CLONE-ARGS...: median clone time through the gate and from git daemon, and the ratio.
figure() {
	local name=$1 g=() d=() r
	shift
	for r in $(seq 1 "$RUNS"); do
		rm -rf "$T/cg" "$T/cd"
		g+=("$(ms git clone -q "$@" "$GATE" "$T/cg")")
		d+=("$(ms git clone -q "$@" "$DAEMON" "$T/cd")")
		[ "$(git -C "$T/cg" rev-parse HEAD)" = "$(git -C "$T/cd" rev-parse HEAD)" ] || { echo "$name: the clones differ" >&2; exit 1; }
	done
	printf '%-34s git daemon %6s ms, bb git-gate %6s ms, gate/daemon = %s   (runs: %s / %s)\n' "$name:" \
		"$(median "${d[@]}")" "$(median "${g[@]}")" "$(ratio "$(median "${g[@]}")" "$(median "${d[@]}")")" "${d[*]}" "${g[*]}"
}

git ls-remote -q "$GATE" >/dev/null # the first refresh: the mirror is upstream's pack
echo "== mirror: $(ls "$T/mirrors/app.git/objects/pack/"*.pack | wc -l) pack(s)"
figure "clone, one pack"
figure "clone --depth 1, one pack" --depth 1
figure "clone, one pack, protocol v0" -c protocol.version=0

# More packs: upstream gets a commit changing a little of a big file, the gate refreshes (one thin pack each).
for i in $(seq 1 "$PACKS"); do
	(cd "$T/src" && sed -i "1s/.*/change $i/" f1.txt.1 && echo "$i" >>"f2.txt.2" && git commit -qam "more $i" &&
		git push -q "$T/up.git" main)
	git ls-remote -q "$GATE" >/dev/null
done
echo "== mirror: $(ls "$T/mirrors/app.git/objects/pack/"*.pack | wc -l) pack(s)"
figure "clone, many packs"
figure "clone --depth 1, many packs" --depth 1
figure "clone --filter=blob:none, many packs" --filter=blob:none --no-checkout
python3 - "$T/gate.log" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{") and '"event":"fetch"' in l]
ev = [e for e in ev if e.get("depth") == "0" and e.get("filter") == "no"]
if ev:
    f = ev[-1]
    print("gate pack (many packs, full clone): %s objects, %s copied as they are (%s of them deltas), %s compressed again, %.1f MB in %s ms"
          % (f["objects"], f["reused"], f["reused_deltas"], f["compressed"], int(f["bytes"]) / 1e6, f["ms"]))
EOF
