#!/usr/bin/env bash
# scan.sh - scanning throughput: 10 KB bodies and a large source tree, rule count 10..all, beside grep -E over the same patterns.
# Usage: scripts/bench/scan.sh   (after make; uses build/musl/tests/test_scan --bench and ./bb)
# grep -E -c -f is a floor, not a peer: it only counts lines matching any pattern (no keywords,
# groups, entropy, allowlists, or findings), and the patterns are translated to ERE as far as they go.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bb=$top/bb
tool=$top/build/musl/tests/test_scan
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
[ -x "$tool" ] || { echo "build first: make unit" >&2; exit 1; }

# 20 MB of traffic-like text (JSON API bodies, prose, code), made reproducibly.
python3 - "$t/bodies.txt" <<'PY'
import json, random, sys
random.seed(7)
words = "the of and to in is for on that with as build test request response token user agent model file data error value code repo commit branch push config key secret password api client server".split()
out = []
size = 0
while size < 20_000_000:
    kind = random.random()
    if kind < 0.4:
        doc = {"id": random.randrange(1 << 30), "object": "chat.completion", "model": "model-x",
               "choices": [{"index": i, "message": {"role": "assistant", "content": " ".join(random.choices(words, k=60))}} for i in range(3)],
               "usage": {"prompt_tokens": random.randrange(999), "completion_tokens": random.randrange(999)}}
        s = json.dumps(doc, indent=1) + "\n"
    elif kind < 0.7:
        s = "\n".join(" ".join(random.choices(words, k=14)) + "." for _ in range(20)) + "\n"
    else:
        s = "".join(f"    int {random.choice(words)}_{i} = config_get(cfg, \"{random.choice(words)}\", {random.randrange(100)});\n" for i in range(30))
    out.append(s)
    size += len(s)
open(sys.argv[1], "w").write("".join(out))
PY

# A large source tree: the system headers, concatenated for the engine, as a tree for bb scan and grep.
src=/usr/include
find "$src" -type f -name '*.h' -print0 | xargs -0 cat >"$t/tree.txt"

# The built-in patterns, translated to ERE for grep as far as the syntax allows.
"$bb" scan --list-rules --json >"$t/rules.json"
python3 - "$t/rules.json" "$t/patterns.ere" <<'PY'
import json, re, sys
rules = [r for r in json.load(open(sys.argv[1])) if r["kind"] == "rule"]
ok = []
for r in rules:
    p = r["regex"]
    p = p.replace("(?i)", "").replace("(?:", "(").replace("\\s", "[[:space:]]").replace("\\d", "[0-9]").replace("\\w", "[[:alnum:]_]")
    p = re.sub(r"([*+?}])\?", r"\1", p)   # lazy -> greedy
    if "(?" in p or "\\x" in p or "\\Q" in p:
        continue
    ok.append(p)
open(sys.argv[2], "w").write("\n".join(ok) + "\n")
print(f"grep patterns: {len(ok)} of {len(rules)} rules translate to ERE", file=sys.stderr)
PY

time_cmd() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

echo "== 10 KB bodies ($(( $(stat -c %s "$t/bodies.txt") / 1000000 )) MB), each its own stream, best of 5"
for n in 10 25 50 100 0; do "$tool" --bench "$t/bodies.txt" 10240 "$n"; done
echo "== source tree ($(( $(stat -c %s "$t/tree.txt") / 1000000 )) MB of headers) in 64 KB bodies"
for n in 10 100 0; do "$tool" --bench "$t/tree.txt" 65536 "$n"; done

echo "== same input, whole programs (wall time, ms)"
bbms=$(time_cmd "$bb" scan -q "$t/bodies.txt")
grepms=$(time_cmd grep -E -i -c -f "$t/patterns.ere" "$t/bodies.txt")
echo "bodies: bb scan ${bbms} ms, grep -E -i -c -f ${grepms} ms, ratio grep/bb = $(python3 -c "print(round($grepms/max($bbms,1),2))")"
bbms=$(time_cmd "$bb" scan -q "$src")
grepms=$(time_cmd grep -r -E -i -c -f "$t/patterns.ere" --include='*.h' "$src")
echo "tree:   bb scan ${bbms} ms, grep -r -E -i -c -f ${grepms} ms, ratio grep/bb = $(python3 -c "print(round($grepms/max($bbms,1),2))")"

echo "== hostile input: 1 MiB of 'a', every rule"
head -c 1048576 /dev/zero | tr '\0' a >"$t/aaaa"
"$tool" --bench "$t/aaaa" 1048576 0
