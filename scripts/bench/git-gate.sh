#!/usr/bin/env bash
# git-gate.sh - push and clone of a generated ~100 MB repository through bb git-gate (scan included) vs straight to the peers, same run.
# Usage (root: it runs its own sshd on 127.0.0.x):  scripts/bench/git-gate.sh
#   BB=path/to/bb (default ./bb)   BENCH_MB=size of the repository (default 100)   BENCH_RUNS=runs per figure (default 3)
# Peers measured in the same run:
#   push  - git push over OpenSSH straight to the upstream bare repository (what the agent would do without the gate);
#   clone - git clone from `git daemon` serving the upstream repository (the reference's gate was git daemon).
# The gate's push is: receive + index into the quarantine, scan of every added line, libgit2 push upstream over SSH.
# The gate's clone is: refresh from upstream over SSH, then a pack written from the mirror's own packs (each entry
# copied as it is, deltas included). scripts/bench/git-clone.sh measures clones alone (many packs, shallow, partial).
# The gate's push forwards the client's own pack when every ref is clean and the pack holds nothing else.
# Scan throughput: the push-scanned log event (added bytes / scan ms, diffs included), and `bb scan` on the
# added lines alone (the rule engine), one core.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
source "$top/scripts/bench/gitbench.inc"
bench_repo
size=$(du -sm "$T/src/.git" | cut -f1)
echo "repository: $(git -C "$T/src" rev-list --count HEAD) commits, .git ${size} MB" >&2

write_plan "$T/plan.json" "$HOSTKEY_PUB" app="$T/up.git"
GA=$(test_addr)
GP=$(free_port "$GA")
start_gate gate --policy "$T/plan.json" --mirrors "$T/mirrors" --listen "$GA:$GP"
wait_port "$GA" "$GP" 10
DP=$(free_port "$GA")
git daemon --reuseaddr --listen="$GA" --port="$DP" --base-path="$T" --export-all "$T" >/dev/null 2>&1 &
on_exit kill_tree $!
wait_port "$GA" "$DP" 10
SSH="ssh -i $DEPLOY_KEY -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR"

push_direct=() push_gate=() clone_direct=() clone_gate=()
for r in $(seq 1 "$RUNS"); do
	# A fresh, empty upstream each run: the whole history is new to it (and to the gate's mirror).
	rm -rf "$T/up.git" "$T/mirrors/"*
	git init -q --bare -b main "$T/up.git"
	push_direct+=("$(ms env GIT_SSH_COMMAND="$SSH" git -C "$T/src" push -q "$UP_URL_BASE$T/up.git" main)")
	rm -rf "$T/up.git"
	git init -q --bare -b main "$T/up.git"
	push_gate+=("$(ms git -C "$T/src" push -q "git://$GA:$GP/app.git" main)")
	[ "$(git --git-dir="$T/up.git" rev-parse main)" = "$(git -C "$T/src" rev-parse main)" ] ||
		{ echo "the push through the gate did not land: $(tail -n 3 "$T/gate.log")" >&2; exit 1; }
	rm -rf "$T/cd" "$T/cg"
	clone_direct+=("$(ms git clone -q "git://$GA:$DP/up.git" "$T/cd")")
	clone_gate+=("$(ms git clone -q "git://$GA:$GP/app.git" "$T/cg")")
	[ "$(git -C "$T/cg" rev-parse HEAD)" = "$(git -C "$T/src" rev-parse main)" ] || { echo "the clone through the gate differs" >&2; exit 1; }
done
pd=$(median "${push_direct[@]}") pg=$(median "${push_gate[@]}")
cd_=$(median "${clone_direct[@]}") cg=$(median "${clone_gate[@]}")
echo "== ${size} MB repository, ${RUNS} runs, median wall time"
echo "push:  direct over ssh ${pd} ms, through bb git-gate ${pg} ms, gate/direct = $(ratio "$pg" "$pd")   (runs: ${push_direct[*]} / ${push_gate[*]})"
echo "clone: git daemon ${cd_} ms, bb git-gate ${cg} ms, gate/daemon = $(ratio "$cg" "$cd_")   (runs: ${clone_direct[*]} / ${clone_gate[*]})"

# A mirror that holds several packs (after a fetch brought more).
(cd "$T/src" && echo more >>f1.txt.1 && git commit -qam more && GIT_SSH_COMMAND="$SSH" git push -q "$UP_URL_BASE$T/up.git" main)
rm -rf "$T/cg"
git ls-remote -q "git://$GA:$GP/app.git" >/dev/null
cb=$(ms git clone -q "git://$GA:$GP/app.git" "$T/cg")
rm -rf "$T/cd"
cdb=$(ms git clone -q "git://$GA:$DP/up.git" "$T/cd")
echo "clone, mirror in several packs: git daemon ${cdb} ms, bb git-gate ${cb} ms, gate/daemon = $(ratio "$cb" "$cdb")"

# Where the gate's push time goes (the last run), from its log.
python3 - "$T/gate.log" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def last(name):
    for e in reversed(ev):
        if e.get("event") == name:
            return e
    return {}
rcvs = [e for e in ev if e.get("event") == "push-received"]
scns = [e for e in ev if e.get("event") == "push-scanned"]
ups = [e for e in ev if e.get("event") == "upstream-push"]
for rcv, scn, up in zip(rcvs, scns, ups):
    print("gate push: receive+index %s ms (%s MB; the client's pack-objects runs meanwhile), scan %s ms, upstream push (%s pack) %s ms" % (
        rcv.get("ms"), round(int(rcv.get("bytes", 0)) / 1e6, 1), scn.get("ms"), up.get("pack"), up.get("ms")))
scn = last("push-scanned")
b, m = int(scn.get("added_bytes", 0)), int(scn.get("ms", 1))
print("push scan: %s commits, %.1f MB of added lines in %d ms: %.0f MB/s (diffs included)" % (
    scn.get("commits"), b / 1e6, m, b / 1e6 / max(m, 1) * 1000))
for f in ev:
    if f.get("event") == "fetch":
        print("gate clone: %s objects, %s entries copied (%s deltas), %s compressed again, in %s ms" % (
            f.get("objects"), f.get("reused"), f.get("reused_deltas"), f.get("compressed"), f.get("ms")))
EOF

# The rule engine alone on the same added lines.
git -C "$T/src" log -p --format= --no-color | sed -n 's/^+//p' >"$T/added.txt"
bytes=$(stat -c %s "$T/added.txt")
best=999999999
for i in 1 2 3; do v=$(ms "$BB" scan -q "$T/added.txt" || true); [ "$v" -lt "$best" ] && best=$v; done
echo "rule engine (bb scan on the added lines, one core): $((bytes / 1000000)) MB in ${best} ms = $(python3 -c "print(round($bytes/1e6/max($best,1)*1000))") MB/s"
