#!/usr/bin/env bash
# scan.sh - scanning throughput: 10 KB bodies (traffic-like and keyword-dense) and a source tree, rule count 10..all, beside grep -E.
# Usage: scripts/bench/scan.sh   (after make and the unit tests are built)
#   BB=path/to/bb (default ./bb), SCAN_BENCH_TOOL=path/to/test_scan (default build/musl/tests/test_scan)
# Engine rows: test_scan --bench (the library alone, each body its own stream, CPU time of one core, best of 5).
# Whole-program rows: CPU time (user + system) of `bb scan` and of `grep -E -i -c -f` over the same file with the
# same patterns (bb's includes building its engine, about 20 ms).
# grep is a floor, not a peer: it only counts lines matching any pattern (no keywords, groups, entropy,
# allowlists or findings), and the patterns are translated to ERE as far as they go.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bb=${BB:-$top/bb}
tool=${SCAN_BENCH_TOOL:-$top/build/musl/tests/test_scan}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
[ -x "$tool" ] || { echo "build first: make check (or set SCAN_BENCH_TOOL)" >&2; exit 1; }
[ -x "$bb" ] || { echo "build first: make (or set BB)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

# The bodies (scripts/bench/scan-corpus.py says what is in them; docs/benchmarks.md too).
python3 "$top/scripts/bench/scan-corpus.py" traffic "$t/traffic.txt"
python3 "$top/scripts/bench/scan-corpus.py" dense "$t/dense.txt"

# A large source tree: the system headers, concatenated for the engine, as a tree for bb scan and grep.
src=/usr/include
find "$src" -type f -name '*.h' -print0 | sort -z | xargs -0 cat >"$t/tree.txt"

# The built-in patterns, translated to ERE for grep as far as the syntax allows.
"$bb" scan --list-rules --json >"$t/rules.json"
python3 "$top/scripts/bench/scan-corpus.py" ere "$t/rules.json" "$t/patterns.ere"

# CPU milliseconds (user + system) of a command: on a busy shared machine wall time is mostly waiting.
# (time puts "Command exited with non-zero status" first when it did: bb scan and grep -c exit 1 by design.)
ms() { /usr/bin/time -f '%U %S' -o "$t/time" "$@" >/dev/null 2>&1 || true; tail -n 1 "$t/time" | awk '{printf "%d\n", ($1 + $2) * 1000}'; }
mb() { echo $(( $(stat -c %s "$1") / 1000000 )); }

for corpus in traffic dense; do
	echo "== $corpus: 10 KB bodies ($(mb "$t/$corpus.txt") MB), each its own stream"
	for n in 10 25 50 100 0; do "$tool" --bench "$t/$corpus.txt" 10240 "$n"; done
done
echo "== source tree ($(mb "$t/tree.txt") MB of headers) in 64 KB bodies"
for n in 10 100 0; do "$tool" --bench "$t/tree.txt" 65536 "$n"; done

echo "== whole programs on the same input, CPU time (best of 3), grep -E -i -c -f as the floor"
best() { local b=999999999 i v; for i in 1 2 3; do v=$(ms "$@"); [ "$v" -lt "$b" ] && b=$v; done; echo "$b"; }
for corpus in traffic dense; do
	bbms=$(best "$bb" scan -q "$t/$corpus.txt")
	grepms=$(best grep -E -i -c -f "$t/patterns.ere" "$t/$corpus.txt")
	echo "$corpus: bb scan ${bbms} ms, grep ${grepms} ms, grep/bb = $(python3 -c "print(round($grepms/max($bbms,1),2))")"
done
bbms=$(best "$bb" scan -q "$src")
grepms=$(ms grep -r -E -i -c -f "$t/patterns.ere" --include='*.h' "$src") # minutes of CPU: one run
echo "tree:    bb scan ${bbms} ms, grep -r ${grepms} ms, grep/bb = $(python3 -c "print(round($grepms/max($bbms,1),2))")"

echo "== hostile input: 1 MiB of 'a', one stream"
head -c 1048576 /dev/zero | tr '\0' a >"$t/aaaa"
for n in 10 100 0; do "$tool" --bench "$t/aaaa" 1048576 "$n"; done
