#!/usr/bin/env bash
# manifest.sh - times `bb bottle validate` on 1,000 bottles in extends chains of depth 10 (plus 100 agents).
# Usage: scripts/bench/manifest.sh [BB]   (prints the median of 5 runs)
set -euo pipefail
bb=${1:-$(dirname "$0")/../../bb}
bb=$(cd "$(dirname "$bb")" && pwd)/$(basename "$bb")
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
mkdir -p "$t/.bb/bottles" "$t/.bb/agents"
for c in $(seq 0 99); do
	for d in $(seq 0 9); do
		f=$t/.bb/bottles/c$c-d$d.md
		{
			echo ---
			[ "$d" -gt 0 ] && echo "extends: c$c-d$((d - 1))"
			echo "env: {VAR_$d: value-$d, SHARED: level-$d}"
			echo "egress:"
			echo "  routes:"
			echo "    - {host: api$d.example.com, auth: {scheme: Bearer, token_ref: TOKEN_$d}, path_allowlist: [/v$d/]}"
			echo "    - host: h$d.example.com"
			echo "      matches: [{paths: [{type: regex, value: \"^/items/[0-9]+\$\"}], methods: [GET]}]"
			echo "git-gate:"
			echo "  repos:"
			echo "    r$d: {url: \"ssh://git@git$d.example.com/o/r.git\", key: {provider: static, path: /dev/null}}"
			echo ---
		} >"$f"
	done
	printf -- '---\nbottle: c%d-d9\nskills: [a, b]\n---\nprompt %d\n' "$c" "$c" >"$t/.bb/agents/a$c.md"
done
runs=()
for _ in 1 2 3 4 5; do
	s=$(date +%s%N)
	(cd "$t" && BB_HOME=$t "$bb" bottle validate >/dev/null)
	runs+=($(( ($(date +%s%N) - s) / 1000000 )))
done
sorted=$(printf '%s\n' "${runs[@]}" | sort -n)
echo "validate 1000 bottles (100 chains of depth 10) + 100 agents: median $(sed -n 3p <<<"$sorted") ms (runs: ${runs[*]} ms)"
