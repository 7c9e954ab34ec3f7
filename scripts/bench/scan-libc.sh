#!/usr/bin/env bash
# scan-libc.sh - lib/re against the C library's regcomp/regexec (musl's in the static build): the numbers of docs/decisions/0002-regex-engine.md.
# Usage: scripts/bench/scan-libc.sh   (env: BB=path/to/bb, default ./bb; RE_TOOL=path/to/test_re, default build/musl/tests/test_re)
# Prints (1) pathological patterns on growing subjects, (2) the built-in rules translated to ERE, first match
# of each in each 10 KB body of 2 MB of traffic-like text, no keyword prefilter on either side, (3) the rules
# over 64 KiB of 'a'. A libc run that passes 20 s is stopped and shown as "> 20 s".
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bb=${BB:-$top/bb}
tool=${RE_TOOL:-$top/build/musl/tests/test_re}
[ -x "$tool" ] && [ -x "$bb" ] || { echo "build first: make check (or set BB and RE_TOOL)" >&2; exit 1; }
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
"$bb" scan --list-rules --json >"$t/rules.json"
python3 "$top/scripts/bench/scan-corpus.py" ere "$t/rules.json" "$t/rules.ere" "$t/rules.tsv"
python3 "$top/scripts/bench/scan-corpus.py" traffic "$t/bodies.txt" 2
"$tool" --vs-libc "$t/rules.tsv" "$t/bodies.txt" 10240
