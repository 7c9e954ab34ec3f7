#!/usr/bin/env bash
# scan-speed.sh - `bb scan` on 64 MiB of keyword-dense clean text with every rule (issue 16), beside ripgrep with the same rules.
# Usage: scripts/bench/scan-speed.sh   (after make and make unit)
#   BB=path/to/bb (default ./bb), SCAN_BENCH_TOOL=path/to/test_scan (default build/musl/tests/test_scan)
#   BB_BEFORE=path/to/an/older/bb: also times it, and compares its findings with BB's (they must be identical)
#   SCAN_BENCH_TOOL_BEFORE=path/to/an/older/test_scan: its engine rows too (without the decoders: older ones lack them)
#   ROUNDS=N (default 3): best of N
# Figures are CPU time (user + system) of one core: a shared machine steals wall time, not this.
# Rows:
#   whole program: `bb scan -q FILE` (decoders on, the default) and --no-decode; MB/s of the file's bytes over the
#     whole run, engine build included; "startup" is `bb scan -q /dev/null` (building the engine, freeing it).
#   engine: test_scan --bench (the library alone, 64 KiB bodies each its own stream; 10 KB bodies as egress sees them).
#   ripgrep: `rg -U -c -f RULES` with the same 210 regexes `bb scan --list-rules --json` prints (multiline, as bb
#     scans streams; size limits raised, as the defaults refuse the set); its startup is the same on /dev/null.
#     rg only counts matches of the regexes: no keywords, groups, entropy, allowlists or decoding.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bb=${BB:-$top/bb}
tool=${SCAN_BENCH_TOOL:-$top/build/musl/tests/test_scan}
before=${BB_BEFORE:-}
tool_before=${SCAN_BENCH_TOOL_BEFORE:-}
rounds=${ROUNDS:-3}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
[ -x "$bb" ] || { echo "build first: make (or set BB)" >&2; exit 1; }
[ -x "$tool" ] || { echo "build first: make unit (or set SCAN_BENCH_TOOL)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (scripts/setup.sh bench installs it)" >&2; exit 1; }
command -v rg >/dev/null || { echo "needs ripgrep (scripts/setup.sh bench installs it)" >&2; exit 1; }

python3 "$top/scripts/bench/scan-corpus.py" dense "$t/dense.txt" 68 # 68 MB: just over 64 MiB
bytes=$(stat -c %s "$t/dense.txt")
"$bb" scan --list-rules --json | python3 -c '
import json, sys
print("\n".join(r["regex"] for r in json.load(sys.stdin) if r.get("kind") != "injection"))' >"$t/rules.rx"

ms() { /usr/bin/time -f '%U %S' -o "$t/time" "$@" >/dev/null 2>&1 || true; tail -n 1 "$t/time" | awk '{printf "%d\n", ($1 + $2) * 1000}'; }
best() { local b=999999999 i v; for ((i = 0; i < rounds; i++)); do v=$(ms "$@"); [ "$v" -lt "$b" ] && b=$v; done; echo "$b"; }
rate() { python3 -c "print(round($bytes / 1e6 / max($1, 1) * 1000))"; }

echo "== $bytes bytes of keyword-dense text ($(wc -l <"$t/rules.rx") rules; CPU ms, best of $rounds)"
for b in ${before:+"$before"} "$bb"; do
	start=$(best "$b" scan -q /dev/null)
	dec=$(best "$b" scan -q "$t/dense.txt")
	nodec=$(best "$b" scan -q --no-decode "$t/dense.txt")
	echo "$b: startup ${start} ms; decoders on ${dec} ms = $(rate "$dec") MB/s ($(rate $((dec - start))) MB/s past startup);" \
		"--no-decode ${nodec} ms = $(rate "$nodec") MB/s ($(rate $((nodec - start))) MB/s past startup)"
done
echo "== engine alone (test_scan --bench, all rules)"
for b in ${tool_before:+"$tool_before"} "$tool"; do
	echo "$b:"
	[ "$b" = "$tool" ] && "$b" --bench "$t/dense.txt" 65536 0 decode
	"$b" --bench "$t/dense.txt" 65536 0
	"$b" --bench "$t/dense.txt" 10240 0
done
echo "== ripgrep $(rg --version 2>/dev/null | awk 'NR == 1 { print $2 }'), the same rules"
rgo=(-U --regex-size-limit 2G --dfa-size-limit 2G -c -f "$t/rules.rx")
rstart=$(best rg "${rgo[@]}" /dev/null)
rfull=$(best rg "${rgo[@]}" "$t/dense.txt")
# rg compiles the 200 regexes into one automaton for seconds; its search is lost in that unless it takes a tenth more
past="within the noise of its startup"
[ $((rfull - rstart)) -gt $((rstart / 10)) ] && past="$(rate $((rfull - rstart))) MB/s past startup"
echo "rg: startup ${rstart} ms; ${rfull} ms = $(rate "$rfull") MB/s ($past)"

if [ -n "$before" ]; then
	# The same findings, in full, on text that has some: the fuzz corpus (secrets of every shape), the test suite's
	# sources, and the dense text with them appended.
	cat "$top"/tests/fuzz/corpus/scan/* >"$t/secrets.txt"
	cat "$t/dense.txt" "$t/secrets.txt" "$t/dense.txt" >"$t/mixed.txt"
	for f in "$t/mixed.txt" "$top/tests" "$top/tests/fuzz/corpus/scan"; do
		"$before" scan --json "$f" >"$t/a.json" 2>/dev/null || true
		"$bb" scan --json "$f" >"$t/b.json" 2>/dev/null || true
		n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$t/b.json" 2>/dev/null || echo "?")
		if cmp -s "$t/a.json" "$t/b.json"; then
			echo "findings identical on ${f#"$t"/}: $n"
		else
			echo "FINDINGS DIFFER on ${f#"$t"/}"; diff "$t/a.json" "$t/b.json" | head -n 20; exit 1
		fi
	done
fi
