#!/usr/bin/env bash
# manifest.sh - runs the table-driven manifest cases in tests/manifest/*.cases against `bb bottle`.
# Format (one file holds many cases):
#   === case NAME          starts a case
#   === file PATH          the lines up to the next "===" are a file; PATH is under the
#                          case's home ($BB_HOME), or under its working directory if it starts with cwd/
#   === run ARGS...        the bb command (default: bottle validate)
#   === env VAR=VALUE      set in the command's environment (repeatable)
#   === exit N             expected exit status (default 0)
#   === expect             each following line must appear in the output (stdout+stderr)
#   === reject             no following line may appear in the output
. "$(dirname "$0")/lib.sh"

run_case() {
	[ -n "$name" ] || return 0
	local dir=$T/c$((++ncase)) out rc why=""
	mkdir -p "$dir/home" "$dir/cwd"
	(cd "$T/files.$ncase" 2>/dev/null && find . -type f) | while read -r f; do
		f=${f#./}
		case $f in
		cwd/*) mkdir -p "$dir/$(dirname "$f")" && cp "$T/files.$ncase/$f" "$dir/$f" ;;
		*) mkdir -p "$dir/home/$(dirname "$f")" && cp "$T/files.$ncase/$f" "$dir/home/$f" ;;
		esac
	done
	out=$(cd "$dir/cwd" && eval "env BB_HOME=\"\$dir/home\" HOME=\"\$dir/nohome\" $envs \"\$BB\" $cmd" 2>&1)
	rc=$?
	[ "$rc" = "$want_exit" ] || why="exit $rc, wanted $want_exit;"
	while IFS= read -r l; do
		[ -n "$l" ] || continue
		l=${l//@HOME@/$dir/home}; l=${l//@CWD@/$dir/cwd}
		[[ $out == *"$l"* ]] || why="$why missing: $l;"
	done <<<"$expect"
	while IFS= read -r l; do
		[ -n "$l" ] || continue
		[[ $out != *"$l"* ]] || why="$why unexpected: $l;"
	done <<<"$reject"
	if [ -z "$why" ]; then ok "$src: $name"; else fail "$src: $name" "$why output: $(head -c 1500 <<<"$out" | tr '\n' '|')"; fi
}

ncase=0
for cases in "$TESTS"/manifest/*.cases; do
	src=$(basename "$cases" .cases)
	name="" mode="" cmd="bottle validate" want_exit=0 expect="" reject="" file="" envs=""
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ $line == "=== "* ]]; then
			read -r _ kw arg <<<"$line"
			case $kw in
			case)
				run_case
				name=$arg cmd="bottle validate" want_exit=0 expect="" reject="" mode="" envs=""
				rm -rf "$T/files.$((ncase + 1))"; mkdir -p "$T/files.$((ncase + 1))"
				;;
			file) mode=file file=$T/files.$((ncase + 1))/$arg; mkdir -p "$(dirname "$file")"; : >"$file" ;;
			run) cmd=$arg mode="" ;;
			env) envs="$envs $arg" mode="" ;;
			exit) want_exit=$arg mode="" ;;
			expect) mode=expect ;;
			reject) mode=reject ;;
			*) fail "$src: bad directive" "$line" ;;
			esac
			continue
		fi
		case $mode in
		file) printf '%s\n' "$line" >>"$file" ;;
		expect) expect+=$line$'\n' ;;
		reject) reject+=$line$'\n' ;;
		esac
	done <"$cases"
	run_case
done
