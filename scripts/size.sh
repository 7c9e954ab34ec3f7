#!/usr/bin/env bash
# size.sh - how big bb is and what it is made of: per library (from the link map) and per section.
# Usage: scripts/size.sh BINARY BUILD_DIR   (BUILD_DIR holds bb.map from the link)
set -euo pipefail
bin=$1 dir=$2
map=$dir/bb.map
stripped=$(mktemp); trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$bin"
printf 'bb: %d bytes (%d stripped)\n\n' "$(stat -c %s "$bin")" "$(stat -c %s "$stripped")"
size -A "$stripped" | awk 'NR > 2 && $2 > 0 && $1 ~ /^\./ { printf "  %-20s %9d\n", $1, $2 }'
[ -f "$map" ] || { echo "no link map at $map (the asan build has none)"; exit 0; }
echo
echo "by origin (allocated input sections kept by the linker):"
# After "Linker script and memory map", input sections look like
#   " .text.name  0xADDR  0xSIZE  /path/libfoo.a(obj.o)"  (or the name alone on the line before).
awk '
	function hex(s,   i, c, v) {
		v = 0; s = tolower(substr(s, 3))
		for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c }
		return v
	}
	/^Linker script and memory map/ { on = 1; next }
	!on { next }
	/^\.(comment|debug|note|symtab|strtab|shstrtab)/ { skip = 1; next }
	/^\.[a-z]/ { skip = 0 }
	skip { next }
	{
		if ($1 ~ /^\./ && NF >= 4 && $2 ~ /^0x/ && $3 ~ /^0x/) { size = $3; file = $4 }
		else if ($1 ~ /^0x/ && $2 ~ /^0x/ && NF == 3 && prev ~ /^ \./) { size = $2; file = $3 }
		else { prev = $0; next }
		prev = $0
		n = hex(size); if (n == 0) next
		if (file ~ /\.a\(/) { sub(/\(.*/, "", file); sub(/.*\//, "", file) }
		else if (file ~ /applets/) file = "bb-applets"
		else if (file ~ /musl|crt/) file = "musl-crt"
		else sub(/.*\//, "", file)
		total[file] += n
	}
	END { for (f in total) printf "%9d  %s\n", total[f], f }
' "$map" | sort -rn | awk '{ printf "  %-22s %9d\n", $2, $1 }' | head -n 15
